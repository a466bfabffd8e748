"""The call lifecycle end to end: the router against the FreeSWITCH simulator over real sockets.

Each test drives callers and agent phones through the simulator and checks what the router did
on the wire (the commands it sent) and in the core (queue, agent states).
"""

from __future__ import annotations

import json

import gevent  # type: ignore[import-untyped]
import pytest

pytest.importorskip("router._core", reason="the Rust core router._core is not built yet")

from router.sim.freeswitch import Endpoint
from tests.routing_env import agents_toml, make_config, routing_env, wait_until

ONE_AGENT = agents_toml(("a1", "sales = 5"))


def test_park_ring_bridge_hangup_wrap_up_available() -> None:
    with routing_env(make_config(ONE_AGENT)) as env:
        env.agent("a1", Endpoint("answer", answer_delay=0.5))
        caller = env.call("5551000")
        leg = wait_until(lambda: env.bridged(caller), what="bridge")
        wait_until(lambda: env.state("a1") == "on_call", what="agent on call")
        (originate,) = env.sent("bgapi originate")
        assert originate.startswith("bgapi originate {origination_uuid=" + leg + ",originate_timeout=2,")
        assert f"esl_router_caller_uuid={caller}" in originate and "esl_router_agent=a1" in originate
        assert "origination_caller_id_number=5551000" in originate
        assert originate.split("\n")[0].endswith("}user/a1 &park()")
        assert "Job-UUID: " in originate
        # the place in the queue is kept on the channel, the caller hears the hold music
        assert env.sim.channels[caller].get_var("esl_router_enqueued_at")
        assert any("execute-app-arg: local_stream://moh" in c for c in env.sent("sendmsg " + caller))
        # music stopped before the bridge (captures d7)
        assert env.sent(f"api uuid_break {caller} all") and env.sent(f"api uuid_bridge {caller} {leg}")
        gevent.sleep(0.05)
        env.sim.caller_hangup(caller)
        wait_until(lambda: env.state("a1") == "wrap_up", what="wrap-up")
        wait_until(lambda: env.state("a1") == "available", what="available after wrap-up")
        info = env.router.core.agent_info("a1")
        assert info["calls_taken"] == 1 and info["talk_time"] > 0
        stats = env.router.stats
        assert (stats.offered, stats.answered, stats.finished, stats.abandoned) == (1, 1, 1, 0)
        assert env.router.calls == {} and env.router.legs == {} and env.router.jobs == {}


def test_agent_hangs_up_first() -> None:
    with routing_env(make_config(ONE_AGENT)) as env:
        env.agent("a1", Endpoint("answer"))
        caller = env.call()
        leg = wait_until(lambda: env.bridged(caller))
        env.sim.caller_hangup(leg)  # the agent's phone sends BYE: one bridge ends both legs
        wait_until(lambda: env.router.stats.finished == 1)
        assert caller not in env.sim.channels
        wait_until(lambda: env.state("a1") == "available")


def test_next_caller_waits_and_gets_the_agent_after_wrap_up() -> None:
    with routing_env(make_config(ONE_AGENT)) as env:
        env.agent("a1", Endpoint("answer"))
        first = env.call("5551001")
        wait_until(lambda: env.bridged(first))
        second = env.call("5551002")
        wait_until(lambda: env.kinds("queued"))
        assert env.kinds("queued")[0]["position"] == 1
        assert env.router.core.waiting_calls() == [second]
        env.sim.caller_hangup(first)
        wait_until(lambda: env.bridged(second), what="second caller bridged after wrap-up")
        assert len(env.sent("bgapi originate")) == 2


def test_missing_hold_music_falls_back_to_the_tone() -> None:
    """d6: an undefined local_stream gives FILE NOT FOUND; the router plays its fallback."""
    with routing_env(make_config(ONE_AGENT), local_streams=()) as env:
        env.router.agent_logout("a1")
        caller = env.call()
        wait_until(lambda: any("tone_stream://" in c for c in env.sent("sendmsg " + caller)))
        assert env.sim.channels[caller].playback is not None


def test_ivr_digits_and_customer_directory_route_the_call(tmp_path: object) -> None:
    import pathlib

    assert isinstance(tmp_path, pathlib.Path)
    (tmp_path / "customers.csv").write_text("number,class,home\n8613800000001,trading,main\n")
    extra = '[customers]\nfile = "customers.csv"\n' + agents_toml(("adv1", "advisory = 7"))
    config = make_config(extra, tmp_path / "router.toml")
    with routing_env(config) as env:
        env.agent("adv1", Endpoint("answer"))
        caller = env.call("+8613800000001", queue="auto", variables={"esl_router_digits": "2"})
        wait_until(lambda: env.bridged(caller))
        (ringing,) = env.kinds("ringing")
        assert ringing["call"].info.queue == "advisory" and ringing["call"].info.cls == "trading"


def test_calls_without_the_queue_variable_are_not_ours() -> None:
    with routing_env(make_config(ONE_AGENT)) as env:
        env.sim.inbound_call(dest="9000")
        gevent.sleep(0.1)
        assert env.router.calls == {} and env.sent("bgapi") == []


def test_show_channels_json_shape_unchanged() -> None:
    """Guards the adoption code's assumptions about `show channels as json` rows."""
    with routing_env(make_config(ONE_AGENT)) as env:
        env.router.agent_logout("a1")
        caller = env.call()
        wait_until(lambda: env.sim.channels[caller].get_var("esl_router_enqueued_at"))
        rows = json.loads(env.router.conn.api("show", "channels", "as", "json").body)["rows"]
        assert [(r["uuid"], r["direction"]) for r in rows] == [(caller, "inbound")]
