"""bench/surge.py: a quick run ends with its JSON line; the staffing is Erlang C's for the base day
(not fitted to the surge); the policy's config has a callback class the router's parser accepted;
answered = live + callbacks, and the figures hang together."""

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
    "trading_sl_policy_ownclass",
    "answer_rate_policy_ownclass",
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
    assert result["answer_rate_policy_ownclass"] > result["answer_rate_priority"] + 0.01
    # The policy's callbacks wait in [calls.callback] class, dialled only with a line free.
    assert result["callback_class"] == "callback"
    assert result["callback_line_waits_per_day_policy"] >= 0
    for key in ("target_met_policy", "target_met_policy_ownclass", "target_met_priority",
                "target_met_fifo", "target_met"):  # fmt: skip
        assert isinstance(result[key], bool)
    assert result["target_met"] == result["target_met_policy"]
    spread = result["spread_policy"]["trading_sl"]
    assert spread["min"] <= result["trading_sl_policy"] <= spread["max"] and spread["sd"] >= 0
    assert "answered live within T / offered" in out and "FIFO/idle" in out


def test_surge_with_the_configs_own_roster() -> None:
    result, _ = run_bench(
        "surge.py", "--seeds", "1", "--no-sweep", "--staffing", "config", "--refuse", "hangup"
    )
    assert result["agents"] == 50 and result["agents_by_desk"] is None
    assert result["refuse_action"] == "hangup" and result["callback_answer_rate_policy"] == 0.0
    assert result["callback_class"] is None  # no callbacks, no callback class


def test_the_study_config_goes_through_the_routers_parser() -> None:
    import sys

    from tests.benchrun import ROOT

    sys.path.insert(0, str(ROOT / "bench"))
    from surge import CONFIG, own_class, study_config

    config = study_config(CONFIG, max_expected_wait=60.0, refuse="callback")
    bases = {c.name: c.base for c in config.classes}
    # The file's classes raised by 900 (bases are >= 0), the callback class 900 below the lowest.
    assert bases == {"trading": 1100.0, "registered": 1000.0, "other": 900.0, "callback": 0.0}
    assert config.calls.callback is not None and config.calls.callback.cls == "callback"
    assert config.calls.refuse_action == "callback" and config.calls.max_expected_wait == 60.0
    own = own_class(config).calls.callback
    assert own is not None and own.cls is None
    plain = study_config(CONFIG, max_expected_wait=60.0, refuse="hangup")
    assert [c.name for c in plain.classes] == ["trading", "registered", "other"]
