"""The end-to-end benchmark runs (router and simulator processes on loopback) and ends with its
JSON line; figures are reported, not asserted, apart from "no call lost" at a gentle rate."""

import pytest

from tests.benchrun import run_bench

pytest.importorskip("router._core", reason="the Rust core router._core is not built yet")

KEYS = {
    "offered_cps",
    "sustained_cps",
    "lost_calls",
    "dispatch_p50_ms",
    "dispatch_p99_ms",
    "router_cpu_pct",
}


def test_e2e_bench_prints_its_json_line() -> None:
    result, _ = run_bench("e2e_bench.py", "--rates", "10,30", "--seconds", "1")
    assert KEYS <= result.keys()
    assert result["lost_calls"] == 0 and result["sustained_cps"] == 30.0
    assert 0 < result["dispatch_p50_ms"] <= result["dispatch_p99_ms"]
    assert result["router_cpu_pct"] > 0
