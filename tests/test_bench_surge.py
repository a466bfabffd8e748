"""bench/surge.py: a quick run ends with its JSON line, and the class policy beats FIFO for trading
callers on the same callers."""

from __future__ import annotations

import pytest

from tests.benchrun import run_bench

pytest.importorskip("router._core", reason="the Rust core router._core is not built yet")

KEYS = {
    "trading_sl_policy",
    "trading_sl_fifo",
    "answer_rate_policy",
    "answer_rate_fifo",
    "other_sl_policy",
    "trading_sl_surge_policy",
    "trading_sl_surge_fifo",
}


def test_surge_quick_prints_its_json_line() -> None:
    result, out = run_bench("surge.py", "--seeds", "2", "--no-sweep")
    assert KEYS <= result.keys()
    assert all(0.0 <= result[k] <= 1.0 for k in KEYS)
    assert result["agents"] == 50 and result["seeds"] == 2
    assert 3800 < result["calls_per_day"] < 4600  # the brief's 4,200 calls a day
    # Same callers, so the comparison is fair: priority helps trading callers, most of all in the
    # surge, at the expense of the others' answer rate.
    assert result["trading_sl_policy"] > result["trading_sl_fifo"]
    assert result["trading_sl_surge_policy"] > result["trading_sl_surge_fifo"] + 0.05
    assert "class policy" in out and "FIFO/idle" in out
