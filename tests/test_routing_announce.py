"""Periodic position and expected-wait announcements to waiting callers, end to end."""

from __future__ import annotations

import gevent  # type: ignore[import-untyped]
import pytest

pytest.importorskip("router._core", reason="the Rust core router._core is not built yet")

from router.sim.freeswitch import Endpoint
from tests.routing_env import Env, agents_toml, make_config, routing_env, wait_until

AGENTS = agents_toml(("a1", "sales = 5"))


def _apps(env: Env, uuid: str) -> list[tuple[str, str]]:
    """(application, argument) of every event-locked sendmsg to `uuid`, in order."""
    out = []
    for c in env.sent(f"sendmsg {uuid}"):
        if "event-lock: true" not in c:
            continue
        fields = dict(line.split(": ", 1) for line in c.split("\n")[1:] if ": " in line)
        out.append((fields["execute-app-name"], fields.get("execute-app-arg", "")))
    return out


def test_waiting_callers_hear_their_position_and_expected_wait_then_the_music() -> None:
    with routing_env(make_config(AGENTS, announce_every=0.3)) as env:
        env.agent("a1", Endpoint("answer"))
        first = env.call("5551001")
        wait_until(lambda: env.bridged(first), what="first caller bridged")
        second = env.call("5551002")
        third = env.call("5551003")
        (said,) = wait_until(
            lambda: [d for d in env.kinds("announce") if d["call"].uuid == third][:1], timeout=5.0, what="announcement"
        )
        assert said["position"] == 2 and said["ewt"] == pytest.approx(120.0)  # 2 x aht 60 / 1 staffed
        wait_until(lambda: len(_apps(env, third)) >= 5, timeout=5.0, what="the announcement's commands")
        assert any(c.strip() == f"api uuid_break {third}" for c in env.commands)  # the music only
        assert _apps(env, third)[:5] == [
            ("playback", "ivr/ivr-you_are_number.wav"),
            ("say", "en number pronounced 2"),
            ("playback", "ivr/ivr-hold_time_is.wav"),
            ("say", "en time_measurement pronounced 120"),
            ("playback", "local_stream://moh"),
        ]
        # the music plays again after the announcement, and the queue logic was not disturbed
        wait_until(lambda: (env.sim.channels[third].playback is not None), timeout=5.0, what="music again")
        env.sim.caller_hangup(first)
        wait_until(lambda: env.bridged(second), timeout=5.0, what="second caller bridged")
        assert env.router.core.call_position(third, env.router.now())[0] == 1
        wait_until(
            lambda: any(d["position"] == 1 for d in env.kinds("announce") if d["call"].uuid == third),
            timeout=5.0,
            what="the new position announced",
        )
        env.sim.caller_hangup(second)
        leg = wait_until(lambda: env.bridged(third), timeout=5.0, what="third caller bridged")
        assert env.sim.channels[third].playback is None and leg


def test_no_announcements_by_default() -> None:
    with routing_env(make_config(AGENTS)) as env:
        env.router.agent_logout("a1")
        caller = env.call()
        wait_until(lambda: env.router.core.waiting_calls() == [caller])
        gevent.sleep(0.3)
        assert env.kinds("announce") == [] and _apps(env, caller) == []
