"""Parked calls outlive the router: restart, reconnection, drain, reload, and hostile input.

The router is stopped and started (or its socket is dropped) while calls wait, ring or talk on the
simulator, and the successor must adopt them: waiting callers keep their place, conversations go
on, agent legs nobody waits for are hung up.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import gevent  # type: ignore[import-untyped]
import pytest

pytest.importorskip("router._core", reason="the Rust core router._core is not built yet")

from router._core import PolicyError
from router.routing import CallRouter
from router.sim.freeswitch import Endpoint
from tests.routing_env import Env, agents_toml, make_config, routing_env, wait_until

ONE_AGENT = agents_toml(("a1", "sales = 5"))


def _successor(env: Env, extra: str = ONE_AGENT, **calls: Any) -> CallRouter:
    """A second router on the same simulator (the first one is stopped)."""
    router = CallRouter(make_config(extra, **calls), password="ClueCon", port=env.sim.port)
    router.listeners.append(lambda kind, details: env.steps.append((kind, details)))
    return router


def test_restarted_router_adopts_waiting_calls_with_their_place() -> None:
    with routing_env(make_config(ONE_AGENT)) as env:
        env.router.agent_logout("a1")
        first = env.call("5551001")
        gevent.sleep(0.05)
        second = env.call("5551002")
        wait_until(lambda: all(env.sim.channels[c].get_var("esl_router_enqueued_at") for c in (first, second)))
        at = {c: float(env.sim.channels[c].get_var("esl_router_enqueued_at") or 0) for c in (first, second)}
        env.router.stop()
        gevent.sleep(0.1)
        assert first in env.sim.channels and env.sim.channels[first].parked  # still parked (d10)
        env.agent("a1", Endpoint("answer"))
        successor = _successor(env)
        try:
            successor.start()
            assert successor.wait_ready(5)
            assert successor.stats.adopted == 2
            wait_until(lambda: env.bridged(first), what="the older call is answered first")
            assert successor.core.waiting_calls() == [second]
            assert successor.core.call_info(second)["enqueued_at"] == pytest.approx(at[second], abs=1e-3)
        finally:
            successor.stop()


def test_restarted_router_adopts_a_conversation_and_kills_orphan_agent_legs() -> None:
    config = agents_toml(("a1", "sales = 5"), ("a2", "sales = 5"))
    with routing_env(make_config(config, ring_timeout=60)) as env:
        env.agent("a1", Endpoint("answer"))
        env.agent("a2", Endpoint("answer", answer_delay=40))  # rings for 2 s (time scale)
        talking = env.call("5551001")
        talking_leg = wait_until(lambda: env.bridged(talking))
        ringing = env.call("5551002")
        (_, second) = wait_until(lambda: len(env.kinds("ringing")) == 2 and env.kinds("ringing"))
        orphan = second["call"].leg
        wait_until(lambda: orphan in env.sim.channels)
        env.router.stop()
        env.agent("a2", Endpoint("answer"))
        successor = _successor(env, config, ring_timeout=60)
        try:
            successor.start()
            assert successor.wait_ready(5)
            # the conversation goes on, its agent is busy; the old ring is hung up; the caller
            # who was waiting for it is queued again and answered by a2
            assert successor.core.agent_info("a1")["state"] == "on_call"
            wait_until(lambda: orphan not in env.sim.channels, timeout=1, what="orphan leg killed")
            assert env.sent(f"api uuid_kill {orphan}")
            wait_until(lambda: env.bridged(ringing), what="re-adopted caller answered")
            assert env.bridged(talking) == talking_leg
            env.sim.caller_hangup(talking)
            wait_until(lambda: env.agent_states("a1")[-2:] == ["wrap_up", "available"])
        finally:
            successor.stop()


def test_dropped_connection_reconnects_and_reconciles() -> None:
    with routing_env(make_config(ONE_AGENT)) as env:
        env.router.agent_logout("a1")
        waiting = env.call("5551001")
        wait_until(lambda: env.sim.channels[waiting].get_var("esl_router_enqueued_at"))
        gone = env.call("5551002")
        wait_until(lambda: len(env.router.core.waiting_calls()) == 2)
        for lst in list(env.sim.listeners):  # FreeSWITCH drops the socket
            lst.sock.close()  # type: ignore[attr-defined]
        wait_until(lambda: not env.router.conn.connected, what="disconnect noticed")
        env.sim.caller_hangup(gone)  # while we are away: its HANGUP is never seen
        wait_until(lambda: env.router.conn.connects == 2, timeout=5, what="reconnection")
        wait_until(lambda: env.router.stats.lost == 1, what="the vanished call closed out")
        assert env.router.core.waiting_calls() == [waiting]
        env.agent("a1", Endpoint("answer"))
        env.router.agent_ready("a1")
        wait_until(lambda: env.bridged(waiting), what="adopted call answered")


def test_drain_lets_rings_finish_and_leaves_waiting_callers_parked() -> None:
    with routing_env(make_config(ONE_AGENT)) as env:
        env.agent("a1", Endpoint("answer", answer_delay=1.8))  # 90 ms of ringing
        ringing = env.call("5551001")
        wait_until(lambda: env.kinds("ringing"))
        waiting = env.call("5551002")
        wait_until(lambda: env.router.core.waiting_calls() == [waiting])
        env.router.drain(timeout=3)
        assert env.bridged(ringing) is not None  # the ring was allowed to finish
        assert env.sim.channels[waiting].parked and not env.router.conn.connected
        late = env.call("5551003")
        gevent.sleep(0.05)
        assert late not in env.router.calls


def test_reload_applies_new_agents_and_policy_to_waiting_calls() -> None:
    with routing_env(make_config(ONE_AGENT)) as env:
        env.router.agent_logout("a1")
        caller = env.call(queue="advisory")
        wait_until(lambda: env.router.core.waiting_calls() == [caller])
        env.agent("adv", Endpoint("answer"))
        env.router.reload(make_config(ONE_AGENT + agents_toml(("adv", "advisory = 9"))))
        wait_until(lambda: env.bridged(caller), what="the new agent takes the waiting call")
        assert env.router.phones.keys() == {"a1", "adv"}


def test_reload_that_would_orphan_waiting_calls_is_refused() -> None:
    with routing_env(make_config(ONE_AGENT)) as env:
        env.router.agent_logout("a1")
        caller = env.call(queue="advisory")
        wait_until(lambda: env.router.core.waiting_calls() == [caller])
        config = make_config(ONE_AGENT)
        without_advisory = dataclasses.replace(config, queues=config.queues[:1])
        with pytest.raises(PolicyError):
            env.router.reload(without_advisory)
        assert env.router.config.queues == config.queues  # the old config stays


def test_dialplan_voicemail_fallback_is_cancelled_when_the_router_takes_the_call() -> None:
    apps = [("sched_transfer", "+10 voicemail XML default"), ("set", "esl_router_fallback=${last_sched_id}")]
    with routing_env(make_config(ONE_AGENT)) as env:
        env.router.agent_logout("a1")
        caller = env.call(apps=apps)
        task = wait_until(lambda: env.sim.channels[caller].get_var("esl_router_fallback"))
        wait_until(lambda: env.sent(f"api sched_del {task}"), what="sched_del")
        gevent.sleep(0.6)  # 10 s at the time scale: the fallback would have fired by now
        assert env.sim.channels[caller].dest == "9010" and env.sim.channels[caller].parked


@pytest.mark.parametrize(
    "hostile",
    ["555\r\nbgapi originate user/x &park()", "555%0Aapi", '"; api uuid_kill all', "1,a=b}x{", "5\n\nexit"],
)
def test_hostile_caller_data_never_reaches_a_command(hostile: str) -> None:
    with routing_env(make_config(ONE_AGENT)) as env:
        env.agent("a1", Endpoint("answer"))
        caller = env.sim.inbound_call(
            hostile,
            hostile,
            variables={"esl_router_queue": "sales", "esl_router_digits": hostile[:30]},
        )
        wait_until(lambda: env.bridged(caller))
        sent = "\n".join(env.commands)
        assert hostile not in sent and "uuid_kill all" not in sent
        (originate,) = env.sent("bgapi originate")
        assert "origination_caller_id_number" not in originate  # not a number: not passed on
        assert env.kinds("ringing")[0]["call"].info.cls == "other"


def test_reconnection_while_an_agent_rings_hangs_up_the_ring_and_requeues() -> None:
    with routing_env(make_config(ONE_AGENT, ring_timeout=60)) as env:
        env.agent("a1", Endpoint("answer", answer_delay=40), Endpoint("answer"))  # 2 s, then at once
        caller = env.call()
        (ringing,) = wait_until(lambda: env.kinds("ringing"))
        leg = ringing["call"].leg
        wait_until(lambda: leg in env.sim.channels)
        for lst in list(env.sim.listeners):
            lst.sock.close()  # type: ignore[attr-defined]
        wait_until(lambda: env.router.conn.connects == 2, timeout=5, what="reconnection")
        wait_until(lambda: leg not in env.sim.channels, timeout=1, what="old ring hung up")
        new_leg = wait_until(lambda: env.bridged(caller), timeout=3, what="caller answered again")
        assert new_leg != leg and env.router.stats.adopted == 1
        wait_until(lambda: env.state("a1") == "on_call")


def test_adoption_second_pass_catches_calls_show_channels_did_not_list_yet() -> None:
    """d9: `show channels` lags the events by about a second; a caller parked just before the
    router connected is missing from the first listing and adopted by the second pass."""
    with routing_env(make_config(ONE_AGENT), start=False) as env:
        env.sim.show_channels_lag = 1.0
        env.agent("a1", Endpoint("answer"))
        caller = env.call()  # parked while no router listens: its CHANNEL_PARK is seen by nobody
        env.router.start()
        assert env.router.wait_ready(5)
        assert caller not in env.router.calls  # not listed yet
        wait_until(lambda: env.bridged(caller), timeout=3, what="adopted by the second pass")


def test_a_command_freeswitch_answers_too_late_retakes_the_call_and_frees_the_agent() -> None:
    """Seen on a real FreeSWITCH 1.10.12 at 60 calls/s: api replies came after 10 s on a live
    connection; calls and agents must not stay "ringing" for good."""
    with routing_env(make_config(ONE_AGENT)) as env:
        env.router.command_timeout = 0.3
        env.agent("a1", Endpoint("answer"), Endpoint("answer"))
        slow = env.sim._command
        stalled: list[str] = []

        def stall_first_originate(lst: Any, raw: str) -> None:
            if raw.startswith("bgapi originate") and not stalled:
                stalled.append(raw)
                gevent.sleep(0.6)  # FreeSWITCH busy: this connection's replies wait
            slow(lst, raw)

        env.sim._command = stall_first_originate  # type: ignore[method-assign]
        caller = env.call("5551001")
        wait_until(lambda: stalled, what="the originate stalled")
        wait_until(lambda: env.bridged(caller), timeout=5.0, what="taken afresh and bridged")
        assert env.router.calls[caller].agent == "a1"
        assert len(env.sent("bgapi originate")) == 2  # the late ring's leg was hung up, rung again
        assert env.router.stats.adopted == 1 and env.router.stats.lost == 0
