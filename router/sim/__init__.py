"""Simulation: a FreeSWITCH that speaks the Event Socket (`freeswitch`), and the captures of the
real one it is checked against (`captures`)."""
