"""The core benchmark runs and ends with its JSON line (figures are reported, not asserted)."""

from tests.benchrun import run_bench

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
    result, _ = run_bench("core_bench.py", "--quick")
    assert KEYS <= result.keys()
    assert result["agents"] == 2000 and result["waiting"] == 10000
    assert result["decisions_per_s"] > 0 and result["reference_decisions_per_s"] > 0
    assert 0 < result["p50_decision_us"] <= result["p99_decision_us"]
