"""The router's TOML configuration: loaded, validated, and turned into the core's policy dict.

A config file describes one routing domain (the whole 27+1 network) as seen by one router:

    [router]            centre = "hq"                       this router's own centre
    [[classes]]         name, base, ageing                  caller classes
    [[queues]]          name, weight, aht, required = { skill = level }
      [[queues.steps]]  after, scope, level_delta, preferred_only   relaxation steps
    [regions]           region = ["centre", ...]
    [skill_weights]     skill = weight
    [selection]         strategy = "weighted", idle, talk, skill, home
    [[centres]]         name, region, lines, dialects, [centres.line_shares] class = { min, max }
    [[agents]]          id, centre, skills = { skill = level }, max_calls
    [[rosters]]         centre, prefix, count, skills, max_calls   (agents prefix-0001, ...)
                        or centres = [...]: each centre gets <centre>-prefix-0001, ...
    [customers]         file = "customers.csv"              the customer directory (CSV)
    [esl]               host, port, password                FreeSWITCH's event socket
    [calls]             agent_endpoint, ring_timeout, wrap_up, miss_delay, max_misses,
                        hold_music, fallback_music, default_queue, ivr = { digits = queue }

The routing semantics of every field are in `docs/routing-policy.md`. Every problem is reported with
the file, the key (e.g. `queues[2].steps[1].scope`), what is wrong and how to fix it; unknown keys
are errors, so a typo never passes silently.
"""

from router.config.model import (
    Agent,
    CallSettings,
    Centre,
    ClassSpec,
    Config,
    ConfigError,
    EslSettings,
    LineShare,
    QueueSpec,
    Selection,
    Step,
)
from router.config.parse import load_config, parse_config

__all__ = [
    "Agent",
    "CallSettings",
    "Centre",
    "ClassSpec",
    "Config",
    "ConfigError",
    "EslSettings",
    "LineShare",
    "QueueSpec",
    "Selection",
    "Step",
    "load_config",
    "parse_config",
]
