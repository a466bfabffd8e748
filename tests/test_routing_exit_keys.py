"""A waiting caller presses a key to leave the queue for voicemail (or a callback offer)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from router.config import ConfigError, parse_config
from tests.routing_env import BASE_TOML, agents_toml, make_config, routing_env, wait_until


def test_exit_keys_are_parsed_and_checked() -> None:
    def parse(extra: str) -> dict[str, str]:
        toml = BASE_TOML.replace("[calls]\n", "[calls]\n" + extra, 1)
        return dict(parse_config(tomllib.loads(toml), Path("/tmp/keys.toml")).calls.exit_keys)

    assert parse('exit_keys = { "1" = "voicemail", "#" = "callback" }\n') == {"1": "voicemail", "#": "callback"}
    for bad in ('exit_keys = { "12" = "voicemail" }\n', 'exit_keys = { "1" = "voice mail" }\n'):
        with pytest.raises(ConfigError, match="calls.exit_keys"):
            parse(bad)


pytest.importorskip("router._core", reason="the Rust core router._core is not built yet")


def test_a_waiting_caller_presses_the_exit_key_and_reaches_voicemail() -> None:
    config = make_config(agents_toml(("a1", "sales = 5")), exit_keys={"1": "voicemail"})
    with routing_env(config) as env:
        env.router.agent_logout("a1")
        caller = env.call()
        other = env.call("5551002")
        wait_until(lambda: len(env.router.core.waiting_calls()) == 2, what="both queued")
        env.sim.send_dtmf(caller, "5")  # not an exit key: nothing happens
        env.sim.send_dtmf(caller, "1")
        wait_until(lambda: env.sent(f"api uuid_transfer {caller} voicemail"), timeout=5.0, what="transfer")
        wait_until(lambda: caller not in env.router.calls, what="the call forgotten")
        assert env.sent(f"api uuid_break {caller} all")
        assert env.router.core.waiting_calls() == [other]
        (left,) = env.kinds("left")
        assert left["to"] == "voicemail" and left["why"] == "pressed 1"
        assert env.router.stats.key_exits == {"voicemail": 1} and env.router.stats.abandoned == 0
        wait_until(lambda: env.sim.channels[caller].dest == "voicemail", what="caller at voicemail")
