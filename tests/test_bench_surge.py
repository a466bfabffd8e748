"""bench/surge.py: a quick run ends with its JSON line; the staffing is Erlang C's for the base day
(not fitted to the surge); answered = live + callbacks, and the figures hang together."""

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
    "trading_sl_priority",
    "answer_rate_priority",
    "trading_sl_policy_cbclass",
    "answer_rate_policy_cbclass",
    "trading_sl_surge_policy",
    "trading_sl_surge_fifo",
    "trading_sl_surge_priority",
    "live_answer_rate_policy",
    "callback_answer_rate_policy",
    "callbacks_requested_policy",
    "callbacks_failed_policy",
    "refused_lost_policy",
}


def test_surge_quick_prints_its_json_line() -> None:
    result, out = run_bench("surge.py", "--seeds", "2", "--no-sweep")
    assert KEYS <= result.keys()
    assert all(0.0 <= result[k] <= 1.0 for k in KEYS)
    assert result["seeds"] == 2
    assert 3800 < result["calls_per_day"] < 4600  # the brief's 4,200 calls a day
    # Staffed by Erlang C for the base day, desk by desk, before looking at the surge.
    assert result["agents_by_desk"] == {"trading": 21, "advisory": 11, "hk_stocks": 5,
                                        "futures": 6}  # fmt: skip
    assert result["agents"] == 43 and result["staffing_basis"].startswith("Erlang C per desk")
    # Answered = live + via callback, both over the calls offered.
    assert result["answer_rate_policy"] == pytest.approx(
        result["live_answer_rate_policy"] + result["callback_answer_rate_policy"], abs=2e-4
    )
    assert result["callbacks_requested_policy"] >= result["callback_answer_rate_policy"] > 0
    assert result["callback_delay_mean_s"] > 0
    # Same callers, so the comparisons are fair: class priority helps trading callers over FIFO,
    # most of all in the surge; callbacks recover callers who would be lost.
    assert result["trading_sl_priority"] > result["trading_sl_fifo"]
    assert result["trading_sl_surge_priority"] > result["trading_sl_surge_fifo"] + 0.05
    assert result["answer_rate_policy"] > result["answer_rate_priority"] + 0.01
    assert result["answer_rate_policy_cbclass"] > result["answer_rate_priority"] + 0.01
    for key in ("target_met_policy", "target_met_policy_cbclass", "target_met_priority",
                "target_met_fifo"):  # fmt: skip
        assert isinstance(result[key], bool)
    spread = result["spread_policy"]["trading_sl"]
    assert spread["min"] <= result["trading_sl_policy"] <= spread["max"] and spread["sd"] >= 0
    assert "answered live within T / offered" in out and "FIFO/idle" in out


def test_surge_with_the_configs_own_roster() -> None:
    result, _ = run_bench(
        "surge.py", "--seeds", "1", "--no-sweep", "--staffing", "config", "--refuse", "hangup"
    )
    assert result["agents"] == 50 and result["agents_by_desk"] is None
    assert result["refuse_action"] == "hangup" and result["callback_answer_rate_policy"] == 0.0
