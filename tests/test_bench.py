"""The core benchmark runs and ends with its JSON line (figures are reported, not asserted)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEYS = {
    "agents",
    "waiting",
    "decisions_per_s",
    "reference_decisions_per_s",
    "speedup",
    "p50_decision_us",
    "p99_decision_us",
    "rss_bytes_per_waiting_call",
}


def test_core_bench_quick_prints_its_json_line() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "core_bench.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=ROOT,
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert KEYS <= result.keys()
    assert result["agents"] == 2000 and result["waiting"] == 10000
    assert result["decisions_per_s"] > 0 and result["reference_decisions_per_s"] > 0
    assert 0 < result["p50_decision_us"] <= result["p99_decision_us"]
