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
        # uuid_bridge ends the music itself (real FreeSWITCH 1.10.12): no uuid_break round trip
        assert env.sent(f"api uuid_bridge {caller} {leg}") and not env.sent(f"api uuid_break {caller}")
        gevent.sleep(0.05)
        env.sim.caller_hangup(caller)
        wait_until(lambda: env.agent_states("a1")[-2:] == ["wrap_up", "available"], what="wrap-up")
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


# --- the agent does not take the call -------------------------------------------------------------

TWO_AGENTS = agents_toml(("a1", "sales = 5"), ("a2", "sales = 5"))


@pytest.mark.parametrize(
    ("behaviour", "cause"),
    [("no_answer", "NO_ANSWER"), ("busy", "USER_BUSY"), ("reject", "CALL_REJECTED"),
     ("unreachable", "NORMAL_TEMPORARY_FAILURE")],
)
def test_missed_ring_requeues_and_the_next_agent_answers(behaviour: str, cause: str) -> None:
    with routing_env(make_config(TWO_AGENTS, miss_delay=0.5)) as env:
        env.router.agent_logout("a2")
        env.agent("a1", Endpoint(behaviour))
        env.agent("a2", Endpoint("answer"))
        caller = env.call()
        enqueued = wait_until(lambda: env.sim.channels[caller].get_var("esl_router_enqueued_at"))
        (missed,) = wait_until(lambda: env.kinds("missed"), what="miss")
        assert (missed["agent"], missed["cause"]) == ("a1", cause)
        assert env.agent_states("a1")[1] == "wrap_up"  # the pause after a miss (miss_delay)
        assert env.router.core.call_info(caller)["state"] == "waiting"
        env.router.agent_ready("a2")
        leg = wait_until(lambda: env.bridged(caller), what="bridge to a2")
        assert env.kinds("ringing")[-1]["agent"] == "a2"
        assert leg in env.sent("bgapi originate")[-1]
        # the call kept its place: same enqueue time in the core as on the channel
        assert env.router.core.call_info(caller)["enqueued_at"] == pytest.approx(float(enqueued), abs=1e-3)
        wait_until(lambda: env.state("a1") == "available", what="a1 back after the pause")
        assert env.router.stats.misses[cause] == 1 and env.router.stats.requeued == 1


def test_unregistered_phone_puts_the_agent_on_break_at_once() -> None:
    """d4: USER_NOT_REGISTERED comes only as the job result, with no channel at all."""
    with routing_env(make_config(TWO_AGENTS)) as env:
        env.router.agent_logout("a2")
        env.agent("a1", Endpoint("unregistered"))
        caller = env.call()
        wait_until(lambda: env.state("a1") == "break", what="break")
        reason = env.router.core.agent_info("a1")["reason"]
        assert "not registered" in reason and "USER_NOT_REGISTERED" in reason
        assert env.router.core.call_info(caller)["state"] == "waiting"
        gevent.sleep(0.3)
        assert env.state("a1") == "break"  # stays on break until made ready


def test_consecutive_misses_put_the_agent_on_break() -> None:
    with routing_env(make_config(ONE_AGENT)) as env:
        env.agent("a1", Endpoint("busy"))  # max_misses = 2 in the test config
        caller = env.call()
        wait_until(lambda: env.state("a1") == "break", what="break after two misses")
        assert env.router.core.agent_info("a1")["reason"] == "missed 2 calls in a row (last: USER_BUSY)"
        assert len(env.sent("bgapi originate")) == 2
        env.agent("a1", Endpoint("answer"))
        env.router.agent_ready("a1")
        wait_until(lambda: env.bridged(caller), what="bridge once back from break")


def test_a_requeued_call_keeps_its_place_ahead_of_later_callers() -> None:
    with routing_env(make_config(ONE_AGENT)) as env:
        env.agent("a1", Endpoint("no_answer"), Endpoint("answer"))
        first = env.call("5551001")
        wait_until(lambda: env.kinds("missed"))
        second = env.call("5551002")
        wait_until(lambda: len(env.router.core.waiting_calls()) == 2)
        assert env.router.core.call_position(first, env.router.now())[0] == 1
        assert env.router.core.call_position(second, env.router.now())[0] == 2
        wait_until(lambda: env.bridged(first), what="the first caller gets the agent back")
        assert env.router.core.waiting_calls() == [second]


# --- the caller hangs up -------------------------------------------------------------------------


def test_caller_hangs_up_while_queued_is_an_abandon_with_its_wait() -> None:
    with routing_env(make_config(ONE_AGENT)) as env:
        env.router.agent_logout("a1")
        caller = env.call()
        wait_until(lambda: env.router.core.waiting_calls() == [caller])
        gevent.sleep(0.2)
        env.sim.caller_hangup(caller)
        (abandoned,) = wait_until(lambda: env.kinds("abandoned"), what="abandon")
        assert abandoned["wait"] >= 0.2 and not abandoned["ringing"]
        assert env.router.stats.abandoned == 1 and list(env.router.stats.abandon_waits)[0] >= 0.2
        assert env.router.core.waiting_calls() == [] and env.router.calls == {}


def test_caller_hangs_up_while_the_agent_rings_we_kill_the_leg() -> None:
    """d5: FreeSWITCH keeps ringing the agent after the caller is gone; the router hangs it up."""
    with routing_env(make_config(ONE_AGENT)) as env:
        env.agent("a1", Endpoint("answer", answer_delay=1.5))  # rings for 75 ms (time scale)
        caller = env.call()
        (ringing,) = wait_until(lambda: env.kinds("ringing"))
        leg = ringing["call"].leg
        wait_until(lambda: leg in env.sim.channels)
        env.sim.caller_hangup(caller)
        wait_until(lambda: env.sent(f"api uuid_kill {leg}"), what="uuid_kill of the agent leg")
        wait_until(lambda: leg not in env.sim.channels, what="agent leg gone")
        (abandoned,) = env.kinds("abandoned")
        assert abandoned["ringing"]
        wait_until(lambda: env.state("a1") == "available")
        assert env.router.stats.misses == {} and env.router.core.waiting_calls() == []


# --- time-driven relaxation ----------------------------------------------------------------------


def test_relaxation_step_lets_a_less_skilled_agent_take_the_call() -> None:
    """advisory needs level 5, and accepts 2 (level_delta 3) after 0.6 s: match_all then."""
    with routing_env(make_config(agents_toml(("jr", "advisory = 3")))) as env:
        env.agent("jr", Endpoint("answer"))
        caller = env.call(queue="advisory")
        wait_until(lambda: env.kinds("queued"))
        gevent.sleep(0.3)
        assert env.bridged(caller) is None and env.state("jr") == "available"
        wait_until(lambda: env.bridged(caller), timeout=2.0, what="relaxed match")
        wait_until(lambda: env.kinds("bridged"))
        assert env.kinds("bridged")[0]["wait"] >= 0.6


def test_an_agent_of_max_calls_two_takes_a_second_call_and_wraps_up_after_the_last() -> None:
    agent = '\n[[agents]]\nid = "a1"\ncentre = "main"\nskills = { sales = 5 }\nmax_calls = 2\n'
    with routing_env(make_config(agent)) as env:
        env.agent("a1", Endpoint("answer"), Endpoint("answer"))
        first = env.call("5551001")
        wait_until(lambda: env.router.stats.answered == 1, what="first call bridged")
        assert env.state("a1") == "available"  # one call of two: still offered
        second = env.call("5551002")
        wait_until(lambda: env.router.stats.answered == 2, what="second call bridged to the same agent")
        assert env.state("a1") == "on_call" and env.bridged(first) and env.bridged(second)
        with pytest.raises(ValueError, match="on_call"):
            env.router.agent_logout("a1")
        env.sim.caller_hangup(first)
        wait_until(lambda: env.router.stats.finished == 1, what="first call over")
        assert env.state("a1") == "available" and "wrap_up" not in env.agent_states("a1")
        env.sim.caller_hangup(second)
        wait_until(lambda: env.router.stats.finished == 2, what="second call over")
        assert env.agent_states("a1")[-1] == "wrap_up"
