"""Maximum wait per queue and class, then the overflow action, end to end and in the config."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from router.config import Config, ConfigError, parse_config
from router.config.model import Overflow
from router.routing.directory import CsvDirectory, Customer
from router.sim.freeswitch import Endpoint
from tests.routing_env import BASE_TOML, agents_toml, make_config, routing_env, wait_until

TRADER = "8613800000001"
DIRECTORY = CsvDirectory([Customer(TRADER, "trading", "main")])


def _parse(extra: str) -> Config:
    return parse_config(tomllib.loads(BASE_TOML + extra), Path("/tmp/overflow.toml"))


def test_overflow_rules_are_parsed_in_order_and_checked() -> None:
    calls = _parse(
        '\n[[calls.overflow]]\nqueue = "sales"\nclass = "trading"\nafter = 300\nto = "advisory"\n'
        '\n[[calls.overflow]]\nqueue = "sales"\nafter = 120\nextension = "voicemail"\n'
    ).calls
    assert calls.overflow == (
        Overflow(300, "sales", "trading", "advisory", None),
        Overflow(120, "sales", None, None, "voicemail"),
    )
    assert calls.overflow_for("sales", "trading") == calls.overflow[0]
    assert calls.overflow_for("sales", "other") == calls.overflow[1]
    assert calls.overflow_for("advisory", "other") is None
    for bad, where in (
        ('queue = "sale"\nafter = 1\nto = "advisory"\n', "calls.overflow[0].queue: unknown queue 'sale'"),
        ('class = "gold"\nafter = 1\nto = "advisory"\n', "calls.overflow[0].class: unknown class 'gold'"),
        ('after = 1\nto = "advisory"\nextension = "vm"\n', "exactly one of to"),
        ('after = 1\n', "exactly one of to"),
        ('queue = "sales"\nafter = 1\nto = "sales"\n', "its own queue"),
        ('after = -1\nto = "sales"\n', "calls.overflow[0].after"),
        ('to = "sales"\n', "after"),
    ):
        with pytest.raises(ConfigError) as err:
            _parse("\n[[calls.overflow]]\n" + bad)
        assert where in str(err.value), (bad, str(err.value))


pytest.importorskip("router._core", reason="the Rust core router._core is not built yet")

AGENTS = agents_toml(("s1", "sales = 5"), ("v1", "advisory = 7"))


def test_max_wait_moves_the_call_to_another_queue_keeping_its_enqueue_time() -> None:
    rules = (Overflow(0.4, "sales", None, "advisory", None),)
    config = make_config(AGENTS, overflow=rules)
    with routing_env(config) as env:
        env.router.agent_logout("s1")
        env.router.agent_logout("v1")
        caller = env.call()
        wait_until(lambda: env.router.core.waiting_calls() == [caller])
        enqueued = env.router.core.call_info(caller)["enqueued_at"]
        (moved,) = wait_until(lambda: env.kinds("overflow"), timeout=5.0, what="overflow")
        assert (moved["queue"], moved["to"]) == ("sales", "advisory") and moved["wait"] >= 0.4
        info = env.router.core.call_info(caller)
        assert info["queue"] == "advisory" and info["enqueued_at"] == pytest.approx(enqueued)
        wait_until(lambda: env.sim.channels[caller].get_var("esl_router_queue") == "advisory")
        wait_until(lambda: env.sim.channels[caller].get_var("esl_router_visited") == "sales", what="history kept")
        assert env.router.stats.overflowed == {"sales->advisory": 1}
        env.agent("v1", Endpoint("answer"))
        env.router.agent_ready("v1")
        wait_until(lambda: env.bridged(caller), timeout=5.0, what="bridged in the new queue")
        assert len(env.kinds("overflow")) == 1  # no rule for advisory: it stays there


def test_max_wait_per_class_transfers_to_voicemail_other_classes_keep_waiting() -> None:
    rules = (Overflow(0.3, "sales", "other", None, "voicemail"),)
    config = make_config(AGENTS, overflow=rules)
    with routing_env(config, directory=DIRECTORY) as env:
        env.router.agent_logout("s1")
        trader = env.call(TRADER)
        caller = env.call("5551001")
        (moved,) = wait_until(lambda: env.kinds("overflow"), timeout=5.0, what="overflow")
        assert moved["call"].uuid == caller and moved["to"] == "voicemail"
        wait_until(lambda: env.sent(f"api uuid_transfer {caller} voicemail"), what="transfer")
        wait_until(lambda: env.sim.channels[caller].dest == "voicemail", what="caller at voicemail")
        assert env.sent(f"api uuid_break {caller} all")
        wait_until(lambda: caller not in env.router.calls, what="the call forgotten")
        assert env.router.core.waiting_calls() == [trader]
        assert env.router.stats.overflowed == {"sales->voicemail": 1}
        assert env.router.stats.abandoned == 0


def test_a_reloaded_max_wait_applies_to_calls_already_waiting() -> None:
    config = make_config(AGENTS)
    with routing_env(config) as env:
        env.router.agent_logout("s1")
        caller = env.call()
        wait_until(lambda: env.router.core.waiting_calls() == [caller])
        env.router.reload(make_config(AGENTS, overflow=(Overflow(0.2, None, None, None, "voicemail"),)))
        wait_until(lambda: env.sent(f"api uuid_transfer {caller} voicemail"), timeout=5.0, what="transfer")
        wait_until(lambda: env.router.calls == {}, what="the call forgotten")
        assert env.router.core.waiting_calls() == []
