"""The SIPp load harness (its command line is `bench/sipp_run.py`): it turns a traffic profile into
SIPp injection files and a rate schedule (`plan`), runs the SIPp callers and agent phones
(`sipp`, `run`), reads what SIPp wrote (`results`) and reports the figures a contact centre is
judged by (`figures`): BHCA, answer rate, service level per class, ASA, abandonment and routing
latency. `esl_sim` plays the same plan through the router on the FreeSWITCH simulator instead
(ESL, no SIP). The scenarios themselves are in `bench/sipp/`, with a README for load testers."""
