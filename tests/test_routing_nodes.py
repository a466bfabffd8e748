"""Several FreeSWITCH nodes per router: one queue and one set of agents across all of them."""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from router.config import ConfigError, parse_config
from router.sim.freeswitch import Endpoint, FreeSwitchSim
from tests.routing_env import BASE_TOML, TIME_SCALE, agents_toml, make_config, wait_until


def test_nodes_are_parsed_and_checked() -> None:
    def esl(text: str) -> tuple[tuple[str, int], ...]:
        config = parse_config(tomllib.loads(BASE_TOML + "\n[esl]\n" + text), Path("/tmp/nodes.toml"))
        return config.esl.addresses()

    assert esl('host = "10.0.0.1"\nport = 8022\n') == (("10.0.0.1", 8022),)
    assert esl('nodes = ["10.0.0.1:8021", "fs2.example.com:8021"]\n') == (
        ("10.0.0.1", 8021),
        ("fs2.example.com", 8021),
    )
    for bad, where in (
        ('nodes = ["10.0.0.1"]\n', "is not host:port"),
        ('nodes = ["10.0.0.1:0"]\n', "is not host:port"),
        ('nodes = ["a b:8021"]\n', "is not host:port"),
        ('nodes = ["10.0.0.1:8021", "10.0.0.1:8021"]\n', "listed twice"),
        ('nodes = ["10.0.0.1:8021"]\nhost = "10.0.0.2"\n', "not both"),
    ):
        with pytest.raises(ConfigError, match=where):
            esl(bad)


pytest.importorskip("router._core", reason="the Rust core router._core is not built yet")

from router.routing import CallRouter  # noqa: E402


@contextmanager
def _two_nodes() -> Iterator[tuple[FreeSwitchSim, FreeSwitchSim, CallRouter]]:
    sims = [FreeSwitchSim(time_scale=TIME_SCALE, local_streams=("moh",)) for _ in range(2)]
    for sim in sims:
        sim.start()
    config = make_config(agents_toml(("a1", "sales = 5"), ("a2", "sales = 5")))
    nodes = tuple(("127.0.0.1", sim.port) for sim in sims)
    config = dataclasses.replace(config, esl=dataclasses.replace(config.esl, nodes=nodes))
    router = CallRouter(config, password="ClueCon")
    try:
        router.start()
        assert router.wait_ready(5)
        wait_until(lambda: all(c.connected for c in router.nodes), what="both nodes connected")
        yield sims[0], sims[1], router
    finally:
        router.stop()
        for sim in sims:
            sim.stop()


def test_calls_of_two_nodes_share_one_queue_and_each_agent_is_rung_on_the_callers_node() -> None:
    with _two_nodes() as (fs1, fs2, router):
        assert len(router.nodes) == 2
        for agent in ("a1", "a2"):
            router.agent_logout(agent)
        first = fs2.inbound_call("5551001", variables={"esl_router_queue": "sales"})
        wait_until(lambda: first in router.core.waiting_calls(), what="node 2's call queued")
        second = fs1.inbound_call("5551002", variables={"esl_router_queue": "sales"})
        wait_until(lambda: len(router.core.waiting_calls()) == 2, what="both queued")
        for sim in (fs1, fs2):
            sim.add_endpoint("user/a1", Endpoint("answer"))
        router.agent_ready("a1")  # one agent: the older call, on node 2, comes first
        wait_until(lambda: fs2.channels[first].bridged_to, what="node 2's caller bridged")
        leg = fs2.channels[first].bridged_to
        assert leg in fs2.channels and leg not in fs1.channels  # the agent leg is on node 2
        assert router.core.waiting_calls() == [second]


def test_a_node_that_drops_does_not_disturb_the_other_nodes_calls() -> None:
    with _two_nodes() as (fs1, fs2, router):
        for agent in ("a1", "a2"):
            router.agent_logout(agent)
        on1 = fs1.inbound_call("5551001", variables={"esl_router_queue": "sales"})
        on2 = fs2.inbound_call("5551002", variables={"esl_router_queue": "sales"})
        wait_until(lambda: len(router.core.waiting_calls()) == 2, what="both queued")
        flow2 = router.calls[on2].flow
        node1 = router.calls[on1].conn
        for lst in list(fs1.listeners):  # node 1 drops the socket
            lst.sock.close()  # type: ignore[attr-defined]
        wait_until(lambda: node1.connects == 2, timeout=5, what="node 1 reconnected")
        wait_until(lambda: len(router.core.waiting_calls()) == 2, timeout=5, what="node 1's call re-adopted")
        assert router.calls[on2].flow is flow2  # untouched
        assert router.calls[on1].conn is node1 and router.stats.lost == 0
