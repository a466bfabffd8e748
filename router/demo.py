"""A self-contained demo: a burst of simulated calls routed by the real core, on a simulated clock.

This is a small discrete-event loop, not the FreeSWITCH simulator (that comes later): callers of
every class arrive at random (seeded) like the wall of calls at the market open, the core picks an
agent for each, agents talk, wrap up and become available again, impatient callers hang up, and
waiting calls relax into regional and national overflow when `Core.next_relaxation()` says so.
Every routing decision is printed with the core's own explanation of it.
"""

from __future__ import annotations

import functools
import heapq
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from router._core import Core
from router.clock import SimClock
from router.config import Config

__all__ = ["DemoCall", "DemoResult", "run_demo"]

# Relative call volumes by class and queue, for the names the shipped examples use; other names get
# the default weight. Homes are weighted by each centre's trunk lines.
CLASS_MIX = {"trading": 45.0, "registered": 35.0, "other": 20.0}
QUEUE_MIX = {
    "trading": 50.0,
    "advisory": 15.0,
    "hk_stocks": 8.0,
    "futures": 8.0,
    "analyst": 6.0,
    "complaints": 5.0,
}
DEFAULT_MIX = 5.0
BURST_RATE = 2.0  # calls per second at the open
MEAN_PATIENCE = 150.0  # seconds a caller waits before hanging up, on average
WRAP_UP = (5.0, 20.0)  # seconds, uniform
PREFERRED_AGENT_SHARE = 0.05  # callers who ask for "their" agent (escort to any centre)


@dataclass
class DemoCall:
    """One simulated caller and what happened to it."""

    id: str
    queue: str
    cls: str
    home: str
    arrival: float
    talk: float
    patience: float
    preferred: list[tuple[str, float]] = field(default_factory=list)
    preferred_agent: str | None = None
    agent: str | None = None
    answered_at: float | None = None
    abandoned_at: float | None = None

    @property
    def wait(self) -> float | None:
        """Seconds from arrival to answer, None if not answered."""
        return None if self.answered_at is None else self.answered_at - self.arrival


@dataclass
class DemoResult:
    """The outcome of a demo run."""

    calls: list[DemoCall]
    end: float
    agent_centre: dict[str, str]

    @property
    def answered(self) -> list[DemoCall]:
        """Calls an agent took."""
        return [c for c in self.calls if c.answered_at is not None]

    @property
    def abandoned(self) -> list[DemoCall]:
        """Calls whose caller hung up while waiting."""
        return [c for c in self.calls if c.abandoned_at is not None]

    @property
    def waiting(self) -> list[DemoCall]:
        """Calls still waiting when the demo stopped."""
        return [c for c in self.calls if c.answered_at is None and c.abandoned_at is None]


def make_calls(config: Config, n: int, rng: random.Random) -> list[DemoCall]:
    """`n` callers arriving as a Poisson burst, with a seeded mix of classes, queues and homes."""
    classes = [c.name for c in config.classes]
    queues = [q.name for q in config.queues]
    centres = [c.name for c in config.centres]
    dialects = {c.name: c.dialects for c in config.centres}
    by_centre = config.agents_by_centre()
    line_weights = [float(c.lines) for c in config.centres]
    if not any(line_weights):
        line_weights = [1.0] * len(centres)
    calls: list[DemoCall] = []
    t = 0.0
    for i in range(1, n + 1):
        cls = rng.choices(classes, [CLASS_MIX.get(c, DEFAULT_MIX) for c in classes])[0]
        queue = rng.choices(queues, [QUEUE_MIX.get(q, DEFAULT_MIX) for q in queues])[0]
        home = rng.choices(centres, line_weights)[0]
        aht = config.queue(queue).aht
        call = DemoCall(
            id=f"call-{i:04d}",
            queue=queue,
            cls=cls,
            home=home,
            arrival=t,
            talk=round(max(20.0, rng.expovariate(1.0 / aht)), 1),
            patience=round(rng.expovariate(1.0 / MEAN_PATIENCE), 1),
            preferred=[(d, 1.0) for d in dialects[home]],
        )
        if rng.random() < PREFERRED_AGENT_SHARE:
            # "My own agent", who can serve the queue: usually one of the home centre's, sometimes
            # one at headquarters (the router's centre), which the call is escorted to.
            centre = config.centre if rng.random() < 0.3 else home
            spec = config.queue(queue)
            pool = [a for a in by_centre.get(centre, []) if config.can_staff(spec, a)]
            if pool:
                call.preferred_agent = rng.choice(pool).id
        calls.append(call)
        t = round(t + rng.expovariate(BURST_RATE), 1)
    return calls


class _Loop:
    """The discrete-event loop: a heap of (time, seq, action) on a simulated clock."""

    def __init__(self, core: Core, clock: SimClock, rng: random.Random, out: TextIO) -> None:
        self.core = core
        self.rng = rng
        self.clock = clock
        self.out = out
        self.events: list[tuple[float, int, Callable[[], None]]] = []
        self.seq = 0
        self.calls: dict[str, DemoCall] = {}
        self.relax_at: set[float] = set()
        self.unresolved = 0  # calls neither answered nor abandoned yet

    def at(self, t: float, action: Callable[[], None]) -> None:
        self.seq += 1
        heapq.heappush(self.events, (t, self.seq, action))

    def say(self, text: str) -> None:
        print(f"{self.clock.now():8.1f}s  {text}", file=self.out)

    def run(self, calls: list[DemoCall]) -> float:
        """Run until every call is answered or abandoned; return the time it stopped at."""
        for call in calls:
            self.calls[call.id] = call
            self.at(call.arrival, functools.partial(self.arrive, call))
        self.unresolved = len(calls)
        while self.events and self.unresolved:
            t, _, action = heapq.heappop(self.events)
            self.clock.advance_to(t)
            action()
            self.schedule_relaxation()
        return self.clock.now()

    # -- events ----------------------------------------------------------------------------------

    def arrive(self, call: DemoCall) -> None:
        now = self.clock.now()
        self.core.enqueue(
            call.id,
            call.queue,
            call.cls,
            call.home,
            now,
            preferred=call.preferred,
            preferred_agent=call.preferred_agent,
        )
        agent = self.core.dispatch_call(call.id, now)
        if agent is not None:
            self.connect(call, agent)
            return
        position, ewt = self.core.call_position(call.id, now)
        ewt_text = "unknown (nobody staffed)" if ewt is None else f"{ewt:.0f}s"
        self.say(
            f"{call.id} {call.cls:<10} {call.queue:<10} home={call.home:<14} waits: "
            f"position {position} in {call.queue}, expected wait {ewt_text}"
            + (f", asks for agent {call.preferred_agent}" if call.preferred_agent else "")
        )
        self.at(now + call.patience, lambda: self.abandon(call))

    def abandon(self, call: DemoCall) -> None:
        if call.answered_at is not None:
            return
        now = self.clock.now()
        self.core.remove_call(call.id, now)
        call.abandoned_at = now
        self.unresolved -= 1
        self.say(
            f"{call.id} {call.cls:<10} {call.queue:<10} hangs up after {now - call.arrival:.0f}s"
        )

    def relax(self) -> None:
        now = self.clock.now()
        for call_id, agent in self.core.match_all(now):
            self.connect(self.calls[call_id], agent)

    def hang_up(self, call: DemoCall, agent: str) -> None:
        now = self.clock.now()
        self.core.finish(call.id, now, call.talk)
        self.core.set_agent_state(agent, "wrap_up", now)
        self.at(now + self.rng.uniform(*WRAP_UP), lambda: self.ready(agent))

    def ready(self, agent: str) -> None:
        now = self.clock.now()
        self.core.set_agent_state(agent, "available", now)
        call_id = self.core.dispatch_agent(agent, now)
        if call_id is not None:
            self.connect(self.calls[call_id], agent)

    # -- helpers ---------------------------------------------------------------------------------

    def connect(self, call: DemoCall, agent: str) -> None:
        """The core assigned `agent` to `call`: say why, then simulate the conversation."""
        now = self.clock.now()
        why = self.core.explain(call.id, agent, now)
        call.agent, call.answered_at = agent, now
        self.unresolved -= 1
        centre = self.core.agent_info(agent)["centre"]
        self.say(
            f"{call.id} {call.cls:<10} {call.queue:<10} home={call.home:<14} -> {agent} ({centre}) "
            f"after {now - call.arrival:.0f}s: {describe(why)}"
        )
        # The demo skips ringing: the agent answers at once and talks for the call's talk time.
        self.core.set_agent_state(agent, "on_call", now)
        self.at(now + call.talk, lambda: self.hang_up(call, agent))

    def schedule_relaxation(self) -> None:
        t = self.core.next_relaxation()
        if t is not None and t not in self.relax_at:
            self.relax_at.add(t)
            self.at(t, self.relax)


def describe(why: dict[str, Any]) -> str:
    """One readable phrase from `Core.explain`'s dict."""
    scope = why.get("scope")
    where = {
        "centre": "home-centre agent",
        "region": "regional overflow",
        "any": "national overflow",
        "agent": "the caller's own agent" + ("" if why.get("home") else ", escorted"),
    }.get(str(scope), str(scope))
    parts = [
        f"step {why.get('step')} ({where})",
        f"priority {_num(why.get('priority'))}",
        f"skill score {_num(why.get('skill_score'))}",
        "same centre" if why.get("home") else "other centre",
        f"idle {_num(why.get('idle'))}s",
        f"score {_num(why.get('score'))}",
    ]
    return ", ".join(parts)


def _num(value: Any) -> str:
    if isinstance(value, int | float) and math.isfinite(value):
        return f"{value:.1f}".removesuffix(".0")
    return str(value)


def run_demo(
    config: Config,
    *,
    calls: int,
    seed: int,
    out: TextIO,
    clock: SimClock | None = None,
) -> DemoResult:
    """Log every configured agent in, route a burst of `calls` seeded callers, print each decision
    and a summary to `out`, and return what happened."""
    rng = random.Random(seed)
    clock = clock or SimClock()
    core = config.build_core()
    for agent in config.agents:
        core.set_agent_state(agent.id, "available", clock.now())
    loop = _Loop(core, clock, rng, out)
    print(
        f"demo of {config.path}: {len(config.agents)} agents in {len(config.centres)} centres "
        "logged in; "
        f"{calls} callers arriving at about {BURST_RATE:g} per second (seed {seed})",
        file=out,
    )
    demo_calls = make_calls(config, calls, rng)
    end = loop.run(demo_calls)
    result = DemoResult(demo_calls, end, {a.id: a.centre for a in config.agents})
    print_summary(result, config, seed, out)
    return result


def print_summary(result: DemoResult, config: Config, seed: int, out: TextIO) -> None:
    """Answered / abandoned / waiting, by class and by queue, with average waits."""
    total = len(result.calls)
    answered = result.answered
    waits = [c.wait for c in answered if c.wait is not None]
    away = sum(1 for c in answered if c.agent and result.agent_centre[c.agent] != c.home)
    pct = 100.0 * len(answered) / total if total else 0.0
    print(
        f"\nsummary after {result.end:.1f} simulated seconds (seed {seed}): {total} calls", file=out
    )
    print(
        f"  answered {len(answered)} ({pct:.1f}%), abandoned {len(result.abandoned)}, "
        f"still waiting {len(result.waiting)}",
        file=out,
    )
    if waits:
        print(
            f"  average wait {sum(waits) / len(waits):.1f}s, longest {max(waits):.1f}s; "
            f"answered outside the caller's home centre: {away}",
            file=out,
        )
    for title, key, names in (
        ("by class", "cls", [c.name for c in config.classes]),
        ("by queue", "queue", [q.name for q in config.queues]),
    ):
        print(f"  {title}:", file=out)
        for name in names:
            group = [c for c in result.calls if getattr(c, key) == name]
            if not group:
                continue
            got = [c.wait for c in group if c.wait is not None]
            avg = f"average wait {sum(got) / len(got):6.1f}s" if got else "average wait      -"
            print(
                f"    {name:<12} {len(group):4d} calls  {len(got):4d} answered  {avg}  "
                f"{sum(1 for c in group if c.abandoned_at is not None):3d} abandoned",
                file=out,
            )
