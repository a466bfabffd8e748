"""A router wired to the FreeSWITCH simulator over real loopback sockets, for end-to-end tests.

`Env` owns a `FreeSwitchSim` (delays scaled by `TIME_SCALE`, so a 2 s ring timeout lasts 0.1 s)
and a `CallRouter` connected to it, and records every command the router sends and every step the
router reports, so that tests can assert on what went over the wire.
"""

from __future__ import annotations

import dataclasses
import time
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent  # type: ignore[import-untyped]

from router.config import Config, parse_config
from router.routing import CallRouter
from router.routing.directory import Directory
from router.sim.freeswitch import Endpoint, FreeSwitchSim

TIME_SCALE = 0.05

BASE_TOML = """
[router]
centre = "main"

[[classes]]
name = "trading"
base = 200.0
ageing = 1.0

[[classes]]
name = "registered"
base = 100.0
ageing = 1.0

[[classes]]
name = "other"
base = 0.0
ageing = 1.0

[[queues]]
name = "sales"
aht = 60.0
required = { sales = 1 }
[[queues.steps]]
after = 0.0
preferred_only = false

[[queues]]
name = "advisory"
aht = 60.0
required = { advisory = 5 }
[[queues.steps]]
after = 0.0
preferred_only = false
[[queues.steps]]
after = 0.6
level_delta = 3

[[centres]]
name = "main"
lines = 10
dialects = ["cantonese"]

[calls]
ring_timeout = 2
wrap_up = 0.15
miss_delay = 0.15
max_misses = 2
hold_music = "local_stream://moh"
ivr = { "1" = "sales", "2" = "advisory" }
"""


def agents_toml(*specs: tuple[str, str]) -> str:
    """``[[agents]]`` tables from (id, skills) pairs, e.g. ("a1", "sales = 5")."""
    return "".join(
        f'\n[[agents]]\nid = "{agent}"\ncentre = "main"\nskills = {{ {skills} }}\n'
        for agent, skills in specs
    )


def make_config(extra: str, path: Path | None = None, **calls: Any) -> Config:
    """The base config plus `extra` TOML (agents, customers...); `calls` overrides [calls] keys."""
    config = parse_config(tomllib.loads(BASE_TOML + extra), path or Path("/tmp/routing-test.toml"))
    if calls:
        config = dataclasses.replace(config, calls=dataclasses.replace(config.calls, **calls))
    return config


def wait_until(pred: Callable[[], Any], timeout: float = 3.0, what: str = "condition") -> Any:
    """Poll `pred` (yielding to gevent) until it is truthy; fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        gevent.sleep(0.005)


@dataclass
class Env:
    """The simulator, the router, and what they said."""

    sim: FreeSwitchSim
    router: CallRouter
    commands: list[str] = field(default_factory=list)
    steps: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def call(self, cid: str = "5551000", queue: str | None = "sales", **kwargs: Any) -> str:
        """A caller the dialplan parks with `esl_router_queue` (or other variables)."""
        variables = dict(kwargs.pop("variables", {}))
        if queue is not None:
            variables["esl_router_queue"] = queue
        uuid: str = self.sim.inbound_call(cid, variables=variables, **kwargs)
        return uuid

    def agent(self, agent: str, *endpoints: Endpoint) -> None:
        """What `agent`'s phone does on successive rings."""
        self.sim.add_endpoint(f"user/{agent}", *endpoints)

    def state(self, agent: str) -> str:
        return str(self.router.core.agent_info(agent)["state"])

    def agent_states(self, agent: str) -> list[str]:
        """The states `agent` went through, in order, as the router reported them."""
        return [d["state"] for k, d in self.steps if k == "agent" and d["agent"] == agent]

    def kinds(self, kind: str) -> list[dict[str, Any]]:
        """Every reported step of one kind ("ringing", "missed", "bridged", ...)."""
        return [d for k, d in self.steps if k == kind]

    def bridged(self, caller: str) -> str | None:
        ch = self.sim.channels.get(caller)
        return ch.bridged_to if ch is not None else None

    def sent(self, prefix: str) -> list[str]:
        """Commands the router sent that start with `prefix` (e.g. "bgapi originate")."""
        return [c for c in self.commands if c.startswith(prefix)]


@contextmanager
def routing_env(
    config: Config,
    *,
    directory: Directory | None = None,
    local_streams: tuple[str, ...] = ("moh",),
    start: bool = True,
) -> Iterator[Env]:
    """A started simulator and router (agents logged in), stopped afterwards."""
    sim = FreeSwitchSim(time_scale=TIME_SCALE, local_streams=local_streams)
    sim.start()
    router = CallRouter(config, password="ClueCon", port=sim.port, directory=directory)
    env = Env(sim, router)
    original = sim._command

    def record(lst: Any, raw: str) -> None:
        env.commands.append(raw)
        original(lst, raw)

    sim._command = record  # type: ignore[method-assign]
    router.listeners.append(lambda kind, details: env.steps.append((kind, details)))
    try:
        if start:
            router.start()
            assert router.wait_ready(5), "router did not connect to the simulator"
        yield env
    finally:
        router.stop()
        sim.stop()
