"""Benchmark of the routing core through its Python binding, against the reference model.

Builds a 27+1 network (HQ + 27 provincial centres) with a realistic skill mix, fills the queue with
waiting calls, then measures *decisions*: one call that picks a pair and commits it (the call leaves
the queue, the agent is reserved), in both directions:

- agent frees up -> ``dispatch_agent``: best waiting call for the agent;
- call arrives   -> ``dispatch_call``:  best available agent for the call.

Between timed batches the state is restored outside the timing (the call is finished and a fresh call
enqueued, so the queue size stays steady; the agent goes back to its previous state). The same
workload runs through the plain-Python reference model (tests/reference_model.py) in the same run,
on a sample of decisions because it scans everything. The last line of output is one JSON object.

    python bench/core_bench.py            # 10,000 agents, 50,000 waiting calls
    python bench/core_bench.py --scale 10 # 100,000 agents, 500,000 waiting calls
    python bench/core_bench.py --quick    # small, under 30 s
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from router import Core

PROVINCES = [
    "beijing",
    "tianjin",
    "hebei",
    "shanxi",
    "neimenggu",
    "liaoning",
    "jilin",
    "heilongjiang",
    "shanghai",
    "jiangsu",
    "zhejiang",
    "anhui",
    "fujian",
    "jiangxi",
    "shandong",
    "henan",
    "hubei",
    "hunan",
    "guangdong",
    "guangxi",
    "hainan",
    "chongqing",
    "sichuan",
    "guizhou",
    "yunnan",
    "shaanxi",
    "gansu",
]
REGIONS = {
    "north": ["hq", "beijing", "tianjin", "hebei", "shanxi", "neimenggu", "shandong"],
    "northeast": ["liaoning", "jilin", "heilongjiang"],
    "east": ["shanghai", "jiangsu", "zhejiang", "anhui", "fujian", "jiangxi"],
    "central": ["henan", "hubei", "hunan"],
    "south": ["guangdong", "guangxi", "hainan"],
    "west": ["chongqing", "sichuan", "guizhou", "yunnan", "shaanxi", "gansu"],
}
CENTRES = ["hq", *PROVINCES]
# queue -> (share of calls, share of agents whose main skill it is)
QUEUES = {
    "trading": (0.55, 0.50),
    "advisory": (0.12, 0.15),
    "hk_stocks": (0.08, 0.10),
    "futures": (0.08, 0.10),
    "analyst": (0.05, 0.05),
    "complaints": (0.12, 0.10),
}
DIALECTS = {
    "guangdong": "cantonese",
    "guangxi": "cantonese",
    "fujian": "minnan",
    "shanghai": "shanghainese",
    "sichuan": "sichuanese",
    "chongqing": "sichuanese",
}
CLASSES = [("trading", 0.5), ("registered", 0.3), ("other", 0.2)]


class CoreLike(Protocol):
    """What the benchmark needs of the core (the Rust core and the reference model share it)."""

    def add_agent(self, agent_id: str, centre: str, skills: dict[str, int]) -> None: ...
    def set_agent_state(self, agent_id: str, state: str, now: float) -> None: ...
    def enqueue(
        self,
        call_id: str,
        queue: str,
        cls: str,
        home: str,
        now: float,
        *,
        required: list[tuple[str, int]] | None = ...,
        preferred: list[tuple[str, float]] = ...,
        enqueued_at: float | None = ...,
    ) -> None: ...
    def dispatch_agent(self, agent_id: str, now: float) -> str | None: ...
    def dispatch_call(self, call_id: str, now: float) -> str | None: ...
    def finish(self, call_id: str, now: float, talk_seconds: float) -> None: ...


def policy() -> dict[str, Any]:
    steps = [
        {"after": 0.0, "scope": "centre", "level_delta": 0, "preferred_only": True},
        {"after": 20.0, "scope": "region"},
        {"after": 60.0, "scope": "any", "level_delta": 2, "preferred_only": False},
    ]
    return {
        "classes": [
            {"name": "trading", "base": 200.0, "ageing": 1.0},
            {"name": "registered", "base": 100.0, "ageing": 1.0},
            {"name": "other", "base": 0.0, "ageing": 1.0},
        ],
        "queues": [
            {"name": q, "weight": 0.0, "aht": 180.0, "required": [[q, 3]], "steps": steps}
            for q in QUEUES
        ],
        "regions": REGIONS,
        "selection": {"strategy": "weighted", "idle": 1.0, "talk": 0.1, "skill": 5.0, "home": 30.0},
    }


@dataclass
class Workload:
    agents: list[tuple[str, str, dict[str, int]]]
    calls: list[tuple[str, str, str, str, list[tuple[str, int]], list[tuple[str, float]], float]]
    rng: random.Random
    next_call: int = 0

    def new_call(
        self, now: float, age: float
    ) -> tuple[str, str, str, str, list[tuple[str, int]], list[tuple[str, float]], float]:
        rng = self.rng
        self.next_call += 1
        queue = rng.choices(list(QUEUES), [s for s, _ in QUEUES.values()])[0]
        cls = rng.choices([c for c, _ in CLASSES], [w for _, w in CLASSES])[0]
        home = "hq" if rng.random() < 0.2 else rng.choice(PROVINCES)
        required = [(queue, rng.choice((3, 3, 5, 7)))]
        dialect = DIALECTS.get(home)
        if dialect and rng.random() < 0.2:
            required.append((dialect, 5))
        preferred = [(rng.choice(list(QUEUES)), 0.5)] if rng.random() < 0.3 else []
        return (f"call-{self.next_call:08d}", queue, cls, home, required, preferred, now - age)


def build_workload(n_agents: int, n_calls: int, seed: int) -> Workload:
    rng = random.Random(seed)
    agents = []
    weights = [a for _, a in QUEUES.values()]
    for i in range(n_agents):
        centre = "hq" if rng.random() < 0.2 else rng.choice(PROVINCES)
        main = rng.choices(list(QUEUES), weights)[0]
        skills = {main: rng.choice((4, 6, 8, 10))}
        if rng.random() < 0.35:
            other = rng.choice(list(QUEUES))
            skills.setdefault(other, rng.choice((3, 5)))
        dialect = DIALECTS.get(centre)
        if dialect and rng.random() < 0.6:
            skills[dialect] = rng.choice((6, 10))
        agents.append((f"agent-{i:06d}", centre, skills))
    w = Workload(agents, [], rng)
    w.calls = [w.new_call(1000.0, rng.uniform(0.0, 300.0)) for _ in range(n_calls)]
    return w


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def load(core: CoreLike, w: Workload, now: float) -> None:
    for agent_id, centre, skills in w.agents:
        core.add_agent(agent_id, centre, skills)
        core.set_agent_state(agent_id, "on_call", now)
    for cid, q, cls, home, req, pref, t in w.calls:
        core.enqueue(cid, q, cls, home, now, required=req, preferred=pref, enqueued_at=t)


@dataclass
class Measure:
    decisions: int = 0
    seconds: float = 0.0


def decide(
    decision: Callable[[str, float], str | None],
    ids: list[str],
    now: float,
    m: Measure,
    samples: list[float] | None,
) -> list[str | None]:
    """Runs one decision per id: the whole batch timed at once, or (with `samples`) one by one."""
    got: list[str | None]
    if samples is None:
        t0 = time.perf_counter()
        got = [decision(i, now) for i in ids]
        m.seconds += time.perf_counter() - t0
    else:
        got = []
        for i in ids:
            t0 = time.perf_counter_ns()
            got.append(decision(i, now))
            samples.append((time.perf_counter_ns() - t0) / 1000.0)
    m.decisions += len(ids)
    return got


def agent_frees(
    core: CoreLike,
    w: Workload,
    now: float,
    batches: int,
    batch: int,
    m: Measure,
    samples: list[float] | None,
) -> float:
    """Agents become available (untimed); each is dispatched (timed); state restored (untimed)."""
    rng = w.rng
    for _ in range(batches):
        now += 0.001
        group = [a for a, _, _ in rng.sample(w.agents, batch)]
        for a in group:
            core.set_agent_state(a, "available", now)
        got = decide(core.dispatch_agent, group, now, m, samples)
        for a, c in zip(group, got, strict=True):
            if c is not None:
                core.finish(c, now, 120.0)
                cid, q, cls, home, req, pref, t = w.new_call(now, 0.0)
                core.enqueue(cid, q, cls, home, now, required=req, preferred=pref, enqueued_at=t)
            core.set_agent_state(a, "on_call", now)
    return now


def call_arrives(
    core: CoreLike,
    w: Workload,
    now: float,
    batches: int,
    batch: int,
    m: Measure,
    samples: list[float] | None,
) -> float:
    """A pool of agents is available; new calls arrive (untimed) and are dispatched (timed)."""
    rng = w.rng
    pool = [a for a, _, _ in rng.sample(w.agents, len(w.agents) // 2)]
    for a in pool:
        core.set_agent_state(a, "available", now)
    for _ in range(batches):
        now += 0.001
        arrivals = [w.new_call(now, 0.0) for _ in range(batch)]
        for cid, q, cls, home, req, pref, t in arrivals:
            core.enqueue(cid, q, cls, home, now, required=req, preferred=pref, enqueued_at=t)
        ids = [c[0] for c in arrivals]
        got = decide(core.dispatch_call, ids, now, m, samples)
        for c, agent in zip(ids, got, strict=True):
            if agent is not None:
                core.finish(c, now, 120.0)
                core.set_agent_state(agent, "wrap_up", now)
                core.set_agent_state(agent, "available", now)
    for a in pool:
        core.set_agent_state(a, "on_call", now)
    return now


def run(
    core: CoreLike, w: Workload, batches: int, batch: int, sample: bool
) -> tuple[Measure, Measure, list[float]]:
    now = 1000.0
    frees, arrives = Measure(), Measure()
    now = agent_frees(core, w, now, batches, batch, frees, None)
    now = call_arrives(core, w, now, batches, batch, arrives, None)
    samples: list[float] = []
    if sample:
        now = agent_frees(core, w, now, max(1, batches // 4), batch, Measure(), samples)
        now = call_arrives(core, w, now, max(1, batches // 4), batch, Measure(), samples)
    return frees, arrives, samples


def rate(*ms: Measure) -> float:
    return sum(m.decisions for m in ms) / max(sum(m.seconds for m in ms), 1e-12)


def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="a small run, under 30 seconds")
    ap.add_argument(
        "--scale", type=float, default=1.0, help="multiply agents and calls (default 1)"
    )
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--no-reference", action="store_true", help="skip the reference model")
    args = ap.parse_args()

    n_agents, n_calls = int(10_000 * args.scale), int(50_000 * args.scale)
    batches, batch, ref_decisions = 200, 1000, 40
    if args.quick:
        n_agents, n_calls, batches, ref_decisions = 2_000, 10_000, 40, 20
    w = build_workload(n_agents, n_calls, args.seed)

    core = Core(policy())
    t0 = time.perf_counter()
    load(core, w, 1000.0)
    load_s = time.perf_counter() - t0
    frees, arrives, samples = run(core, w, batches, batch, sample=True)

    # Memory per waiting call alone: a second core with the calls and no agents.
    calls_only = Core(policy())
    before = rss_bytes()
    for cid, q, cls, home, req, pref, t in w.calls:
        calls_only.enqueue(cid, q, cls, home, 1000.0, required=req, preferred=pref, enqueued_at=t)
    rss_per_call = (rss_bytes() - before) / n_calls
    del calls_only

    ref_rate = None
    if not args.no_reference:
        from tests.reference_model import Core as ReferenceCore  # the plain-Python oracle

        wr = build_workload(n_agents, n_calls, args.seed)
        ref = ReferenceCore(policy())
        load(ref, wr, 1000.0)
        rf, ra, _ = run(ref, wr, 1, ref_decisions, sample=False)
        ref_rate = rate(rf, ra)

    dps = rate(frees, arrives)
    print(f"agents={n_agents} waiting={n_calls} load={load_s:.2f}s")
    print(f"agent frees -> best call: {rate(frees):,.0f} decisions/s over {frees.decisions:,}")
    print(
        f"call arrives -> best agent: {rate(arrives):,.0f} decisions/s over {arrives.decisions:,}"
    )
    if ref_rate is not None:
        print(
            f"reference model: {ref_rate:,.1f} decisions/s over {2 * ref_decisions} sampled decisions"
        )
    print(
        f"latency per decision (timed one by one, timer included): p50={percentile(samples, 0.5):.2f}us "
        f"p99={percentile(samples, 0.99):.2f}us max={max(samples):.1f}us mean={statistics.fmean(samples):.2f}us"
    )
    print(
        json.dumps(
            {
                "agents": n_agents,
                "waiting": n_calls,
                "decisions_per_s": round(dps),
                "agent_frees_decisions_per_s": round(rate(frees)),
                "call_arrives_decisions_per_s": round(rate(arrives)),
                "reference_decisions_per_s": None if ref_rate is None else round(ref_rate, 2),
                "speedup": None if ref_rate is None else round(dps / ref_rate, 1),
                "p50_decision_us": round(percentile(samples, 0.5), 3),
                "p99_decision_us": round(percentile(samples, 0.99), 3),
                "rss_bytes_per_waiting_call": round(rss_per_call),
                "quick": args.quick,
                "scale": args.scale,
            }
        )
    )


if __name__ == "__main__":
    main()
