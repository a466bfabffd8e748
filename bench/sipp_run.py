"""The SIPp load harness: callers of every class and agent phones against FreeSWITCH + esl-router,
reporting BHCA, answer rate, service level per class, ASA, abandonment and routing latency.

    python bench/sipp_run.py --shape steady --cps 5 --duration 120 --target 10.0.0.5:5060
    python bench/sipp_run.py --profile bench/sipp/profiles/market_open.toml --target ...
    python bench/sipp_run.py --shape spike --cps 10 --duration 60 --dry-run   # the sipp commands
    python bench/sipp_run.py --shape steady --cps 5 --duration 20 --loopback  # no FreeSWITCH
    python bench/sipp_run.py --validate                                       # scenarios load

Everything is explained in bench/sipp/README.md. The last line of output is one JSON object.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from router.loadtest.cli import main

if __name__ == "__main__":
    sys.exit(main())
