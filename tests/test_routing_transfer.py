"""Agent-initiated transfer to another queue or a named agent, end to end: the caller stays."""

from __future__ import annotations

import pytest

pytest.importorskip("router._core", reason="the Rust core router._core is not built yet")

from router.sim.freeswitch import Endpoint
from tests.routing_env import agents_toml, make_config, routing_env, wait_until

AGENTS = agents_toml(("a1", "sales = 5"), ("a2", "sales = 5"), ("v1", "advisory = 7"))


def test_agent_transfers_the_caller_to_another_queue_keeping_the_enqueue_time() -> None:
    with routing_env(make_config(AGENTS)) as env:
        for agent in ("a1", "a2", "v1"):
            env.agent(agent, Endpoint("answer"))
        env.router.agent_logout("a2")
        caller = env.call()
        first_leg = wait_until(lambda: env.bridged(caller), what="bridged to a1")
        wait_until(lambda: env.kinds("bridged"), what="the router saw the bridge")
        enqueued = float(wait_until(lambda: env.sim.channels[caller].get_var("esl_router_enqueued_at")))
        assert env.kinds("ringing")[0]["agent"] == "a1"
        env.router.transfer("a1", queue="advisory")
        wait_until(lambda: env.sent(f"api uuid_transfer {caller} park inline"), what="transfer")
        leg = wait_until(lambda: (b := env.bridged(caller)) and b != first_leg and b, timeout=5.0, what="bridged to v1")
        wait_until(lambda: len(env.kinds("bridged")) == 2, what="the router saw the second bridge")
        assert env.kinds("ringing")[-1]["agent"] == "v1" and leg
        assert caller in env.sim.channels and first_leg not in env.sim.channels
        (requeued,) = env.kinds("requeued")
        assert requeued["queue"] == "advisory" and requeued["call"].enqueued_at == pytest.approx(enqueued, abs=1e-3)
        assert env.sim.channels[caller].get_var("esl_router_queue") == "advisory"
        wait_until(lambda: env.agent_states("a1")[-2:] == ["wrap_up", "available"], timeout=5.0, what="a1 wrap-up")
        stats = env.router.stats
        assert (stats.answered, stats.finished, stats.transferred, stats.abandoned) == (2, 1, 1, 0)
        env.sim.caller_hangup(caller)
        wait_until(lambda: env.router.stats.finished == 2, what="the second conversation ends")
        wait_until(lambda: env.router.calls == {}, what="call forgotten")


def test_agent_transfers_the_caller_to_a_named_agent() -> None:
    with routing_env(make_config(AGENTS)) as env:
        for agent in ("a1", "a2"):
            env.agent(agent, Endpoint("answer"))
        env.router.agent_logout("a2")
        env.call()
        wait_until(lambda: env.kinds("bridged"), what="bridged to a1 (as the router sees it)")
        env.router.agent_ready("a2")
        env.router.transfer("a1", to_agent="a2")
        wait_until(lambda: len(env.kinds("bridged")) == 2, timeout=5.0, what="bridged again")
        assert [d["agent"] for d in env.kinds("bridged")] == ["a1", "a2"]
        (requeued,) = env.kinds("requeued")
        assert (requeued["queue"], requeued["agent"]) == ("sales", "a2")
        assert requeued["call"].info.preferred_agent == "a2"
        caller = requeued["call"].uuid
        assert env.sim.channels[caller].get_var("esl_router_preferred_agent") == "a2"  # for a restart


def test_what_a_restarted_router_must_know_is_read_back_from_the_channel() -> None:
    from router.routing.classify import classify
    from router.routing.directory import EmptyDirectory

    config = make_config(AGENTS)
    headers = {
        "Caller-Caller-ID-Number": "5550000",
        "variable_esl_router_queue": "sales",
        "variable_esl_router_preferred_agent": "a2",
        "variable_esl_router_visited": "advisory+nosuch",
    }
    info = classify(headers, config, EmptyDirectory())
    assert info.preferred_agent == "a2" and info.visited == ("advisory",)
    info = classify({**headers, "variable_esl_router_preferred_agent": "a9\r\n"}, config, EmptyDirectory())
    assert info.preferred_agent is None and any("no such agent" in n for n in info.notes)


def test_transfer_is_refused_without_a_call_or_with_an_unknown_target() -> None:
    with routing_env(make_config(AGENTS)) as env:
        env.agent("a1", Endpoint("answer"))
        env.router.agent_logout("a2")
        with pytest.raises(ValueError, match="no call"):
            env.router.transfer("a1", queue="advisory")
        caller = env.call()
        wait_until(lambda: env.kinds("bridged"), what="bridged to a1 (as the router sees it)")
        for kwargs, match in (
            ({"queue": "nope"}, "unknown queue"),
            ({"to_agent": "zz"}, "unknown agent"),
            ({"to_agent": "a1"}, "themselves"),
            ({}, "name a queue"),
        ):
            with pytest.raises(ValueError, match=match):
                env.router.transfer("a1", **kwargs)
        assert env.bridged(caller) and not env.sent("api uuid_transfer")
