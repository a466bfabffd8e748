"""The FreeSWITCH side: the ESL wire protocol (`protocol`) and the inbound client (`connection`)."""
