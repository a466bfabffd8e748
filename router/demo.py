"""`esl-router demo`: the real router routing synthetic calls through the FreeSWITCH simulator.

Everything runs in this process on loopback: the simulator (`router.sim.freeswitch`) listens on a
free port and speaks the Event Socket; the router (`router.routing.CallRouter`) connects to it
exactly as it would to FreeSWITCH; synthetic callers are parked by the simulated dialplan, and
synthetic agent phones answer after a ring, or do not answer, are busy or reject the call.

A day is compressed by `speed` (default 30): every duration of the policy (relaxation steps,
handle times, wrap-up) is divided by it and priority ageing multiplied by it, and the simulator
shrinks its own delays (ring timeouts) the same way, so the demo ends in well under a minute while
the routing decisions are the ones the config makes. Each routing decision is printed with the
core's explanation, with a live line of counts underneath, then a summary.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import gevent  # type: ignore[import-untyped]

from router.config import Config
from router.routing import CallRouter, CsvDirectory
from router.routing.lifecycle import Call
from router.sim.freeswitch import Endpoint, FreeSwitchSim

__all__ = ["DemoCaller", "DemoResult", "compress", "describe", "run_demo"]

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
ARRIVALS_PER_SECOND = 8.0  # real seconds: the wall of calls at the market open
MEAN_PATIENCE = 150.0  # day seconds a caller waits before hanging up, on average
PHONE = {"answer": 0.88, "no_answer": 0.07, "busy": 0.03, "reject": 0.02}
PASSWORD = "demo-only-password"


@dataclass
class DemoCaller:
    """One synthetic caller and what happened to it (times in real seconds from the start)."""

    label: str
    number: str
    queue: str
    cls: str
    home: str
    arrival: float
    talk: float
    patience: float
    uuid: str | None = None
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

    callers: list[DemoCaller]
    seconds: float
    agent_centre: dict[str, str]
    router: CallRouter

    @property
    def answered(self) -> list[DemoCaller]:
        """Callers an agent talked to."""
        return [c for c in self.callers if c.answered_at is not None]

    @property
    def abandoned(self) -> list[DemoCaller]:
        """Callers who hung up before an agent answered."""
        return [c for c in self.callers if c.answered_at is None]


def compress(config: Config, speed: float) -> Config:
    """`config` with every policy duration divided by `speed` (ageing multiplied by it)."""
    classes = tuple(dataclasses.replace(c, ageing=c.ageing * speed) for c in config.classes)
    queues = tuple(
        dataclasses.replace(
            q,
            aht=q.aht / speed,
            steps=tuple(dataclasses.replace(s, after=s.after / speed) for s in q.steps),
        )
        for q in config.queues
    )
    calls = dataclasses.replace(
        config.calls,
        wrap_up=config.calls.wrap_up / speed,
        miss_delay=config.calls.miss_delay / speed,
        hold_music="local_stream://moh",
    )
    return dataclasses.replace(config, classes=classes, queues=queues, calls=calls)


def make_callers(config: Config, n: int, rng: random.Random, speed: float) -> list[DemoCaller]:
    """`n` callers arriving as a Poisson burst, with a seeded mix of classes, queues and homes."""
    classes = [c.name for c in config.classes]
    queues = [q.name for q in config.queues]
    centres = [c.name for c in config.centres]
    weights = [float(c.lines) for c in config.centres]
    if not any(weights):
        weights = [1.0] * len(centres)
    callers, t = [], 0.0
    for i in range(1, n + 1):
        cls = rng.choices(classes, [CLASS_MIX.get(c, DEFAULT_MIX) for c in classes])[0]
        queue = rng.choices(queues, [QUEUE_MIX.get(q, DEFAULT_MIX) for q in queues])[0]
        home = rng.choices(centres, weights)[0] if cls != "other" else config.centre
        mean_talk = config.queue(queue).aht / speed
        callers.append(
            DemoCaller(
                label=f"call-{i:04d}",
                number=f"86138{i:08d}",
                queue=queue,
                cls=cls,
                home=home,
                arrival=t,
                talk=min(2.0 * mean_talk, max(0.5, rng.expovariate(1.0 / mean_talk))),
                patience=min(4 * MEAN_PATIENCE / speed, max(0.5, rng.expovariate(speed / MEAN_PATIENCE))),
            )
        )
        t += rng.expovariate(ARRIVALS_PER_SECOND)
    return callers


def write_directory(callers: list[DemoCaller], path: Path) -> None:
    """The customer directory the demo's callers are known by (`other` callers are not in it)."""
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["number", "class", "home"])
        for c in callers:
            if c.cls != "other":
                out.writerow([c.number, c.cls, c.home])


def phones(config: Config, rng: random.Random, rings: int = 40) -> dict[str, list[Endpoint]]:
    """What each agent's phone does on its successive rings (answer delays in day seconds)."""
    kinds, weights = list(PHONE), list(PHONE.values())
    return {
        agent.id: [
            Endpoint(kind, answer_delay=rng.uniform(2.0, 8.0))
            for kind in rng.choices(kinds, weights, k=rings)
        ]
        for agent in config.agents
    }


class _Screen:
    """Decision lines scrolling above one live line of counts (rewritten in place on a tty)."""

    def __init__(self, out: TextIO, started: float) -> None:
        self.out = out
        self.started = started
        self.tty = out.isatty()
        self.status = ""

    def line(self, text: str) -> None:
        clear = "\r\x1b[2K" if self.tty else ""
        print(f"{clear}{time.monotonic() - self.started:6.1f}s  {text}", file=self.out)
        if self.tty and self.status:
            print(self.status, end="", file=self.out, flush=True)

    def show(self, status: str) -> None:
        self.status = status
        if self.tty:
            print(f"\r\x1b[2K{status}", end="", file=self.out, flush=True)
        else:
            print(f"{time.monotonic() - self.started:6.1f}s  -- {status}", file=self.out)


def run_demo(
    config: Config,
    *,
    calls: int,
    seed: int,
    out: TextIO,
    speed: float = 30.0,
    agents: int | None = None,
) -> DemoResult:
    """Start the simulator and the router, log `agents` agents in (default: about a quarter of
    the config's, spread over the centres), route `calls` seeded callers, print each decision and
    a summary to `out`, and return what happened."""
    rng = random.Random(seed)
    day = compress(config, speed)
    callers = make_callers(day, calls, rng, speed)
    by_uuid: dict[str, DemoCaller] = {}
    started = time.monotonic()
    screen = _Screen(out, started)
    sim = FreeSwitchSim(password=PASSWORD, time_scale=1.0 / speed, local_streams=("moh",))
    sim.start()
    for agent, endpoints in phones(day, rng).items():
        sim.add_endpoint(day.calls.agent_endpoint.replace("{agent}", agent), *endpoints)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "customers.csv"
        write_directory(callers, path)
        directory = CsvDirectory.load(path, day)
    router = CallRouter(day, password=PASSWORD, host=sim.host, port=sim.port, directory=directory)
    router.listeners.append(_narrator(router, by_uuid, screen))
    try:
        router.start()
        if not router.wait_ready(10):
            raise RuntimeError("the router did not connect to the simulator")
        on_duty = _staff(router, day, agents, rng)
        print(
            f"demo of {config.path}: the router on a simulated FreeSWITCH at "
            f"{sim.host}:{sim.port}, {on_duty} of {len(day.agents)} agents logged in, "
            f"{calls} callers at about {ARRIVALS_PER_SECOND:g}/s, time x{speed:g} (seed {seed})",
            file=out,
        )
        ticker = gevent.spawn(_tick, screen, router)
        greenlets = [gevent.spawn(_caller, sim, c, by_uuid, started) for c in callers]
        gevent.joinall(greenlets)
        ticker.kill()
        gevent.sleep(0.2)  # let the last hang-ups reach the router
        screen.show(_counts(router))
        if screen.tty:
            print(file=out)
    finally:
        router.stop()
        sim.stop()
    result = DemoResult(callers, time.monotonic() - started, {a.id: a.centre for a in config.agents}, router)
    print_summary(result, config, seed, out)
    return result


def _staff(router: CallRouter, config: Config, agents: int | None, rng: random.Random) -> int:
    """Keep `agents` agents logged in (if there are enough: one per centre and one per queue
    first, so that no call waits for nobody), log the rest out."""
    total = len(config.agents)
    wanted = max(1, min(total, agents if agents is not None else math.ceil(total / 4)))
    chosen: set[str] = set()
    groups = list(config.agents_by_centre().values())
    groups += [[a for a in config.agents if config.can_staff(q, a)] for q in config.queues]
    for group in groups:
        if group and len(chosen) < wanted and not chosen.intersection(a.id for a in group):
            chosen.add(rng.choice(group).id)
    rest = [a.id for a in config.agents if a.id not in chosen]
    chosen.update(rng.sample(rest, max(0, wanted - len(chosen))))
    for agent in config.agents:
        if agent.id not in chosen:
            router.agent_logout(agent.id)
    return len(chosen)


def _caller(sim: FreeSwitchSim, c: DemoCaller, by_uuid: dict[str, DemoCaller], started: float) -> None:
    """One synthetic caller: dials in, waits (patience), talks, hangs up."""
    gevent.sleep(max(0.0, started + c.arrival - time.monotonic()))
    uuid = sim.inbound_call(c.number, f"caller {c.label}", "95555", {"esl_router_queue": c.queue})
    c.uuid = uuid
    by_uuid[uuid] = c
    deadline = time.monotonic() + c.patience
    while True:
        channel = sim.channels.get(uuid)
        if channel is None:
            return
        if channel.bridged_to is not None:
            c.answered_at = time.monotonic() - started
            gevent.sleep(c.talk)
            sim.caller_hangup(uuid)
            return
        if time.monotonic() >= deadline:
            break
        gevent.sleep(0.02)
    c.abandoned_at = time.monotonic() - started
    sim.caller_hangup(uuid)


def _narrator(router: CallRouter, by_uuid: dict[str, DemoCaller], screen: _Screen) -> Callable[..., None]:
    def label(call: Call) -> str:
        c = by_uuid.get(call.uuid)
        return c.label if c is not None else call.uuid[:8]

    def on_step(kind: str, d: dict[str, Any]) -> None:
        call: Call | None = d.get("call")
        if call is not None:
            info = call.info
            who = f"{label(call)} {info.cls:<10} {info.queue:<10} home={info.home:<14}"
        if kind == "queued" and call is not None:
            ewt = "unknown (nobody staffed)" if d["ewt"] is None else f"{d['ewt']:.1f}s"
            screen.line(f"{who} waits: position {d['position']}, expected wait {ewt}")
        elif kind == "ringing" and call is not None:
            agent = d["agent"]
            why = router.core.explain(call.uuid, agent, router.now())
            centre = router.core.agent_info(agent)["centre"]
            waited = router.now() - call.enqueued_at
            screen.line(f"{who} -> {agent} ({centre}) after {waited:.1f}s: {describe(why)}")
        elif kind == "bridged" and call is not None and call.uuid in by_uuid:
            by_uuid[call.uuid].agent = d["agent"]
        elif kind == "missed" and call is not None:
            screen.line(f"{who} {d['agent']} did not take it ({d['cause']}): back in the queue")
        elif kind == "abandoned" and call is not None:
            state = "while the agent's phone rang" if d["ringing"] else "while queued"
            screen.line(f"{who} hung up after {d['wait']:.1f}s {state}")
        elif kind == "agent" and d["state"] == "break":
            screen.line(f"agent {d['agent']} on break: {d['reason']}")

    return on_step


def _counts(router: CallRouter) -> str:
    calls = Counter(c.state for c in router.calls.values())
    agents = Counter(router.core.agent_info(a)["state"] for a in router.phones)
    s = router.stats
    return (
        f"waiting {calls['waiting'] + calls['new']:3d}  ringing {calls['ringing']:3d}  "
        f"talking {calls['talking']:3d} | answered {s.answered:4d}  abandoned {s.abandoned:3d}  "
        f"re-queued {s.requeued:3d} | agents free {agents['available']:3d}  "
        f"busy {agents['ringing'] + agents['on_call'] + agents['reserved']:3d}  "
        f"wrap-up {agents['wrap_up']:3d}  break {agents['break']:2d}"
    )


def _tick(screen: _Screen, router: CallRouter) -> None:
    every = 0.25 if screen.tty else 3.0
    while True:
        gevent.sleep(every)
        screen.show(_counts(router))


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
    ]
    return ", ".join(parts)


def _num(value: Any) -> str:
    if isinstance(value, int | float) and math.isfinite(value):
        return f"{value:.1f}".removesuffix(".0")
    return str(value)


def print_summary(result: DemoResult, config: Config, seed: int, out: TextIO) -> None:
    """Answered / abandoned by class and by queue, waits, misses and routing latency."""
    total = len(result.callers)
    answered = result.answered
    waits = [c.wait for c in answered if c.wait is not None]
    stats = result.router.stats
    pct = 100.0 * len(answered) / total if total else 0.0
    print(f"\nsummary after {result.seconds:.1f}s (seed {seed}): {total} calls", file=out)
    print(f"  answered {len(answered)} ({pct:.1f}%), abandoned {len(result.abandoned)}", file=out)
    if waits:
        away = sum(1 for c in answered if c.agent and result.agent_centre[c.agent] != c.home)
        print(
            f"  average wait {statistics.fmean(waits):.2f}s, longest {max(waits):.2f}s "
            f"(real seconds); answered outside the caller's home centre: {away}",
            file=out,
        )
    if stats.misses:
        misses = ", ".join(f"{cause} {n}" for cause, n in stats.misses.most_common())
        print(f"  rings not taken (re-queued, place kept): {misses}", file=out)
    latency = sorted(stats.dispatch_latency)
    if latency:
        p50 = latency[len(latency) // 2] * 1000
        p99 = latency[min(len(latency) - 1, int(len(latency) * 0.99))] * 1000
        print(
            f"  routing latency (event -> originate on the socket): p50 {p50:.2f} ms, "
            f"p99 {p99:.2f} ms over {len(latency)} decisions",
            file=out,
        )
    for title, key, names in (
        ("by class", "cls", [c.name for c in config.classes]),
        ("by queue", "queue", [q.name for q in config.queues]),
    ):
        print(f"  {title}:", file=out)
        for name in names:
            group = [c for c in result.callers if getattr(c, key) == name]
            if not group:
                continue
            got = [c.wait for c in group if c.wait is not None]
            avg = f"average wait {statistics.fmean(got):5.2f}s" if got else "average wait     -"
            print(
                f"    {name:<12} {len(group):4d} calls  {len(got):4d} answered  {avg}  "
                f"{len(group) - len(got):3d} abandoned",
                file=out,
            )


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use: esl-router demo")
