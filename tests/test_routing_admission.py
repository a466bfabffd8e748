"""Admission / line allocation: the decision alone, then end to end against the simulator."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

from router.config import Config, ConfigError, parse_config
from router.config.model import Centre, LineShare
from router.routing.admission import decide
from router.routing.directory import CsvDirectory, Customer
from tests.routing_env import BASE_TOML, agents_toml, make_config, routing_env, wait_until

TRADER, MEMBER = "8613800000001", "8613900000002"
DIRECTORY = CsvDirectory([Customer(TRADER, "trading", "main"), Customer(MEMBER, "registered", "main")])


def _centre(lines: int, **shares: tuple[float, float]) -> Centre:
    return Centre("main", None, lines, {k: LineShare(*v) for k, v in shares.items()}, ())


# --- the decision --------------------------------------------------------------------------------


def test_free_lines_admit_and_full_lines_refuse() -> None:
    centre = _centre(2)
    assert decide(centre, {}, "other", 1.0) is None
    assert decide(centre, {"other": 1}, "other", 1.0) is None
    assert decide(centre, {"other": 1, "trading": 1}, "trading", 1.0, exempt=["trading"]) == "lines_full"


def test_max_share_refuses_only_non_exempt_classes() -> None:
    centre = _centre(10, other=(0.0, 0.3), trading=(0.0, 0.3))
    assert decide(centre, {"other": 2}, "other", None) is None
    assert decide(centre, {"other": 3}, "other", None) == "class_max"
    assert decide(centre, {"trading": 5}, "trading", None, exempt=["trading"]) is None


def test_reserved_minimum_is_held_back_for_its_class() -> None:
    centre = _centre(4, trading=(0.5, 1.0))  # 2 lines kept for trading
    assert decide(centre, {"other": 2}, "other", None) == "lines_reserved"
    assert decide(centre, {"other": 2}, "trading", None) is None
    assert decide(centre, {"other": 1, "trading": 2}, "other", None) is None
    # a class below its own minimum takes a line even when other minimums are unmet
    both = _centre(4, trading=(0.5, 1.0), registered=(0.25, 1.0))
    assert decide(both, {"other": 1}, "registered", None) is None
    assert decide(both, {"other": 1, "registered": 1}, "registered", None) == "lines_reserved"


def test_expected_wait_threshold_spares_exempt_classes() -> None:
    centre = _centre(0)  # lines not managed: only the expected wait counts
    assert decide(centre, {"other": 99}, "other", 30.0, max_expected_wait=60.0) is None
    assert decide(centre, {}, "other", 61.0, max_expected_wait=60.0) == "expected_wait"
    assert decide(centre, {}, "other", None, max_expected_wait=60.0) == "expected_wait"  # nobody staffed
    assert decide(centre, {}, "trading", None, max_expected_wait=60.0, exempt=["trading"]) is None
    assert decide(centre, {}, "other", 1e9) is None  # threshold off


# --- config --------------------------------------------------------------------------------------


def test_refuse_settings_are_parsed_and_checked() -> None:
    def parse(extra: str) -> Config:
        toml = BASE_TOML.replace("[calls]\n", "[calls]\n" + extra, 1)
        return parse_config(tomllib.loads(toml), Path("/tmp/admission.toml"))

    calls = parse(
        'max_expected_wait = 90\nrefuse_action = "transfer"\nrefuse_extension = "voicemail"\n'
        'exempt_classes = ["trading", "registered"]\n'
    ).calls
    assert (calls.max_expected_wait, calls.refuse_action, calls.refuse_extension) == (90, "transfer", "voicemail")
    assert calls.exempt_classes == ("trading", "registered")
    assert parse("").calls.refuse_action == "hangup"
    with pytest.raises(ConfigError) as err:
        parse('refuse_action = "transfer"\n')
    assert "calls.refuse_extension" in str(err.value)
    with pytest.raises(ConfigError) as err:
        parse('refuse_action = "transfer"\nrefuse_extension = "1000 XML x"\n')
    assert "calls.refuse_extension" in str(err.value)
    with pytest.raises(ConfigError) as err:
        parse('refuse_action = "voicemail"\n')
    assert "calls.refuse_action" in str(err.value)


# --- end to end ----------------------------------------------------------------------------------

pytest.importorskip("router._core", reason="the Rust core router._core is not built yet")


def _with_lines(config: Config, lines: int, **shares: tuple[float, float]) -> Config:
    return dataclasses.replace(config, centres=(_centre(lines, **shares),))


def test_a_class_over_its_max_share_hears_the_message_and_is_hung_up_traders_get_through() -> None:
    config = _with_lines(make_config(agents_toml(("a1", "sales = 5"))), 3, other=(0.0, 0.34), trading=(0.3, 1.0))
    with routing_env(config, directory=DIRECTORY) as env:
        env.router.agent_logout("a1")  # nobody answers: every admitted call holds its line
        first = env.call("5551001")
        wait_until(lambda: env.router.core.waiting_calls() == [first], what="first caller queued")
        second = env.call("5551002")
        (refused,) = wait_until(lambda: env.kinds("refused"), what="refusal")
        assert (refused["uuid"], refused["reason"]) == (second, "class_max")
        wait_until(lambda: second not in env.sim.channels, timeout=5.0, what="refused caller hung up")
        playback = env.sent(f"sendmsg {second}")
        assert "execute-app-arg: ivr/ivr-all_circuits_busy.wav" in playback[0]
        assert "execute-app-name: hangup" in playback[1] and "event-lock: true" in playback[1]
        trader = env.call(TRADER)
        wait_until(lambda: trader in env.router.core.waiting_calls(), what="trader queued")
        stats = env.router.stats
        assert stats.refused == {"class_max": 1} and stats.refused_classes == {"other": 1}
        assert stats.admitted == {"other": 1, "trading": 1}
        assert set(env.router.core.waiting_calls()) == {trader, first}


def test_a_long_expected_wait_transfers_to_the_configured_extension() -> None:
    config = make_config(
        agents_toml(("a1", "sales = 5")),
        max_expected_wait=30.0,
        refuse_action="transfer",
        refuse_extension="voicemail",
    )
    with routing_env(config, directory=DIRECTORY) as env:
        env.router.agent_logout("a1")  # nobody staffed: no expected wait at all
        caller = env.call("5551001")
        (refused,) = wait_until(lambda: env.kinds("refused"), what="refusal")
        assert refused["reason"] == "expected_wait"
        wait_until(lambda: env.sent(f"api uuid_transfer {caller} voicemail"), what="transfer")
        wait_until(lambda: env.sim.channels[caller].dest == "voicemail", what="caller at voicemail")
        assert env.sim.channels[caller].get_var("esl_router_queue") is None
        assert env.sim.channels[caller].get_var("esl_router_refused") == "expected_wait"
        trader = env.call(TRADER)
        wait_until(lambda: env.router.core.waiting_calls() == [trader], what="trader queued")
        # the transferred channel parked again at voicemail (simulator): it is not taken again
        assert caller not in env.router.calls and env.router.stats.offered == 1
        assert env.router.stats.refused == {"expected_wait": 1}


def test_reserved_lines_stay_free_for_traders() -> None:
    config = _with_lines(make_config(agents_toml(("a1", "sales = 5"))), 2, trading=(0.5, 1.0))
    with routing_env(config, directory=DIRECTORY) as env:
        env.router.agent_logout("a1")
        member = env.call(MEMBER)
        wait_until(lambda: env.router.core.waiting_calls() == [member])
        env.call("5551002")
        (refused,) = wait_until(lambda: env.kinds("refused"), what="refusal")
        assert refused["reason"] == "lines_reserved"
        trader = env.call(TRADER)
        wait_until(lambda: trader in env.router.core.waiting_calls(), what="trader on the reserved line")
        second_trader = env.call(TRADER)
        (_, full) = wait_until(lambda: env.kinds("refused")[1:] and env.kinds("refused"), what="no line left")
        assert (full["uuid"], full["reason"]) == (second_trader, "lines_full")
