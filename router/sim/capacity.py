"""The capacity simulator: a discrete-event simulation of a day of traffic through the real routing
core (`router.Core`) on a simulated clock, so that a planner can ask "how many agents do we need at
the market open?" and get the answer the production router would give.

Events, each handled the way the router handles it:

- a call arrives         -> `enqueue` + `dispatch_call` (answered at once if an agent is free);
- an agent is free again -> `dispatch_agent` (after the call's talk time and the wrap-up);
- a caller's patience runs out while waiting -> `remove_call` (abandoned);
- a relaxation time (`next_relaxation()`) passes -> `match_all`, so that calls overflow to their
  region and the whole network exactly when the policy says;
- shifts start and end   -> agents log in (`available`) and out (after their current call).

Calls arrive as a Poisson process whose rate is piecewise constant (see `router.sim.profile`); talk
and patience times are drawn when the call arrives, from one random stream, so that two runs with
the same profile and seed see exactly the same callers whatever the routing policy (common random
numbers: policy comparisons are not blurred by noise). The loop itself is a heap of plain tuples;
call facts go into typed arrays and are only aggregated at the end.
"""

from __future__ import annotations

import functools
import heapq
import math
import random
import time
from array import array
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path
from typing import Any

from router._core import Core
from router.config import Agent, Config
from router.sim.profile import Dist, Profile, check_profile, clock_text

__all__ = [
    "Progress",
    "SimResult",
    "Stats",
    "baseline_policy",
    "plan_shifts",
    "scaled_agents",
    "simulate",
]

DRAIN_LIMIT = 4 * 3600.0  # after the last arrival, waiting calls get this long to be resolved
SAMPLE_EVERY = 60.0  # seconds between queue-length samples
WAITING, ANSWERED, ABANDONED = 0, 1, 2
_ARRIVE, _END, _READY, _ABANDON, _RELAX, _ON, _OFF = range(7)


@dataclass(frozen=True)
class Progress:
    """What the simulator reports while it runs."""

    now: float  # simulated time
    start: float
    end: float
    calls: int
    waiting: int
    wall: float  # seconds since the run started


@dataclass
class Stats:
    """Counts for one group of calls (a class, queue or home centre, in one interval or the day),
    and agent time for a centre."""

    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    within_t: int = 0  # answered within the class's service-level threshold
    waited: int = 0  # found no agent free on arrival (answered later or abandoned)
    wait_sum: float = 0.0  # seconds waited by the answered calls
    busy: float = 0.0  # agent-seconds on calls and wrap-up
    staffed: float = 0.0  # agent-seconds logged in

    @property
    def unresolved(self) -> int:
        """Calls neither answered nor abandoned when the run stopped."""
        return self.offered - self.answered - self.abandoned

    @property
    def service_level(self) -> float | None:
        """Share of offered calls answered within T (None without calls)."""
        return self.within_t / self.offered if self.offered else None

    @property
    def p_wait(self) -> float | None:
        """Share of offered calls that found no agent free and had to wait."""
        return self.waited / self.offered if self.offered else None

    @property
    def abandon_rate(self) -> float | None:
        """Share of offered calls whose caller hung up while waiting."""
        return self.abandoned / self.offered if self.offered else None

    @property
    def answer_rate(self) -> float | None:
        """Share of offered calls answered."""
        return self.answered / self.offered if self.offered else None

    @property
    def asa(self) -> float | None:
        """Average speed of answer of the answered calls, seconds."""
        return self.wait_sum / self.answered if self.answered else None

    @property
    def occupancy(self) -> float | None:
        """Busy agent time over logged-in agent time."""
        return self.busy / self.staffed if self.staffed > 0 else None

    def add(self, other: Stats) -> None:
        """Accumulate another group into this one."""
        self.offered += other.offered
        self.answered += other.answered
        self.abandoned += other.abandoned
        self.within_t += other.within_t
        self.waited += other.waited
        self.wait_sum += other.wait_sum
        self.busy += other.busy
        self.staffed += other.staffed


@dataclass
class SimResult:
    """Everything a run produced: per-call facts, agent time, queue samples, and whether it is
    complete. `partial` is None for a complete run, otherwise the reason it stopped early."""

    label: str
    config_path: Path
    profile: Profile
    classes: list[str]
    queues: list[str]
    centres: list[str]
    agents: int
    sub_cls: list[int]  # per sub-stream: class, queue, home centre indices
    sub_queue: list[int]
    sub_home: list[int]
    sub_t: list[float]  # service-level threshold of the sub-stream's class
    arrival: array[float]
    stream: array[int]
    answered_at: array[float]
    state: array[int]
    busy: list[float]  # [interval * n_centres + centre] agent-seconds busy
    staffed: list[float]  # same shape, agent-seconds logged in
    sample_times: list[float]
    samples: list[tuple[int, ...]]  # waiting calls per queue at each sample time
    until: float  # simulated time reached
    wall: float  # seconds the run took
    events: int
    partial: str | None = None
    _cache: dict[str, dict[tuple[int, int], Stats]] = field(default_factory=dict, repr=False)

    @property
    def intervals(self) -> list[tuple[float, float]]:
        """The reporting intervals (start, end) of the simulated period."""
        p = self.profile
        n = math.ceil((p.end - p.start) / p.interval - 1e-9)
        return [
            (p.start + i * p.interval, min(p.end, p.start + (i + 1) * p.interval)) for i in range(n)
        ]

    @property
    def calls(self) -> int:
        """Calls offered."""
        return len(self.arrival)

    def names(self, dim: str) -> list[str]:
        """The keys of a dimension: "class", "queue", "centre" or "all"."""
        return {"class": self.classes, "queue": self.queues, "centre": self.centres}.get(
            dim, ["all"]
        )

    def stats(self, dim: str) -> dict[tuple[int, int], Stats]:
        """Stats by (interval index, key index) for `dim` ("class", "queue", "centre" = the caller's
        home centre for calls and the agent's centre for agent time, or "all"); interval index -1
        is the whole day. Calls count in the interval they arrived in."""
        if dim not in self._cache:
            self._cache[dim] = self._aggregate(dim)
        return self._cache[dim]

    def day(self, dim: str = "all", key: str = "all") -> Stats:
        """The whole day's stats of one key."""
        return self.stats(dim).get((-1, self.names(dim).index(key)), Stats())

    def _aggregate(self, dim: str) -> dict[tuple[int, int], Stats]:
        base = self._by_stream()
        key_of = {"class": self.sub_cls, "queue": self.sub_queue, "centre": self.sub_home}.get(
            dim, [0] * len(self.sub_cls)
        )
        out: dict[tuple[int, int], Stats] = {}
        for (iv, sub), st in base.items():
            for idx in (iv, -1):
                out.setdefault((idx, key_of[sub]), Stats()).add(st)
        n_centres = len(self.centres)
        for iv in range(len(self.intervals)):
            for c in range(n_centres):
                busy, staffed = self.busy[iv * n_centres + c], self.staffed[iv * n_centres + c]
                if not staffed and not busy:
                    continue
                key = c if dim == "centre" else 0
                if dim in ("centre", "all"):
                    for idx in (iv, -1):
                        st = out.setdefault((idx, key), Stats())
                        st.busy += busy
                        st.staffed += staffed
        return out

    def _by_stream(self) -> dict[tuple[int, int], Stats]:
        if "_stream" in self._cache:
            return self._cache["_stream"]
        start, interval = self.profile.start, self.profile.interval
        last = len(self.intervals) - 1
        n_sub = len(self.sub_cls)
        size = (last + 1) * n_sub
        offered, answered, abandoned = [0] * size, [0] * size, [0] * size
        within, waited = [0] * size, [0] * size
        wait = [0.0] * size
        sub_t = self.sub_t
        for arr, sub, ans, state in zip(
            self.arrival, self.stream, self.answered_at, self.state, strict=True
        ):
            k = min(last, int((arr - start) // interval)) * n_sub + sub
            offered[k] += 1
            if state == ANSWERED:
                w = ans - arr
                answered[k] += 1
                if w > 0:
                    waited[k] += 1
                    wait[k] += w
                if w <= sub_t[sub]:
                    within[k] += 1
            elif state == ABANDONED:
                abandoned[k] += 1
                waited[k] += 1
            else:
                waited[k] += 1
        result = {
            divmod(k, n_sub): Stats(
                offered[k], answered[k], abandoned[k], within[k], waited[k], wait[k]
            )
            for k in range(size)
            if offered[k]
        }
        self._cache["_stream"] = result
        return result

    def summary(self) -> dict[str, Any]:
        """The day in a few numbers (JSON-ready), by class as well."""
        day = self.day()
        out: dict[str, Any] = {
            "label": self.label,
            "partial": self.partial,
            "calls": self.calls,
            "agents": self.agents,
            "answer_rate": day.answer_rate,
            "service_level": day.service_level,
            "asa": day.asa,
            "p_wait": day.p_wait,
            "abandoned": day.abandoned,
            "occupancy": day.occupancy,
            "wall_seconds": round(self.wall, 3),
        }
        for cls in self.classes:
            st = self.day("class", cls)
            out[f"{cls}_sl"] = st.service_level
            out[f"{cls}_answer_rate"] = st.answer_rate
            out[f"{cls}_asa"] = st.asa
        return out


def scaled_agents(agents: Sequence[Agent], scale: float) -> list[Agent]:
    """The roster times `scale`: agent j gets floor(scale*(j+1)) - floor(scale*j) copies (so the
    total is floor(scale * len(agents)) and every group keeps its proportions); copies after the
    first are named `<id>.2`, `<id>.3`, ..."""
    if scale == 1.0:
        return list(agents)
    result: list[Agent] = []
    for j, agent in enumerate(agents):
        copies = math.floor(scale * (j + 1) + 1e-9) - math.floor(scale * j + 1e-9)
        for k in range(copies):
            name = agent.id if k == 0 else f"{agent.id}.{k + 1}"
            result.append(Agent(name, agent.centre, agent.skills, agent.max_calls, agent.origin))
    return result


def plan_shifts(agents: Sequence[Agent], profile: Profile) -> list[tuple[float, float] | None]:
    """The (login, logout) time of each agent, or None for a day off.

    Without shifts everyone works the whole period. Otherwise each group of identical agents (same
    centre and skills) is split between the shifts that apply to it in proportion to their shares,
    by largest remainder, in roster order."""
    if not profile.shifts:
        return [(profile.start, profile.end)] * len(agents)
    groups: dict[tuple[str, tuple[tuple[str, int], ...], tuple[int, ...]], list[int]] = {}
    for i, agent in enumerate(agents):
        applies = tuple(
            k for k, s in enumerate(profile.shifts) if s.applies_to(agent.id, agent.centre)
        )
        key = (agent.centre, tuple(sorted(agent.skills.items())), applies)
        groups.setdefault(key, []).append(i)
    plan: list[tuple[float, float] | None] = [None] * len(agents)
    for (_, _, applies), members in groups.items():
        shares = [profile.shifts[k].share for k in applies]
        if sum(shares) > 1 + 1e-9:
            scale = 1 / sum(shares)  # overlapping filters: normalise rather than overbook
            shares = [s * scale for s in shares]
        quotas = [s * len(members) for s in shares]
        counts = [math.floor(q + 1e-9) for q in quotas]
        spare = min(len(members), round(sum(quotas))) - sum(counts)
        by_remainder = sorted(range(len(quotas)), key=lambda k: counts[k] - quotas[k])
        for k in by_remainder[: max(0, spare)]:
            counts[k] += 1
        pos = 0
        for k, count in zip(applies, counts, strict=True):
            shift = profile.shifts[k]
            for i in members[pos : pos + count]:
                plan[i] = (max(shift.start, profile.start), min(shift.end, profile.end))
            pos += count
    return plan


def baseline_policy(config: Config) -> dict[str, Any]:
    """What FreeSWITCH's mod_callcenter does, as a policy for the same core: one priority for every
    caller (so each queue is served first come, first served) and the longest-idle agent. Queues,
    skills and relaxation steps stay as configured, so only the class policy differs."""
    policy = config.policy()
    for cls in policy["classes"]:
        cls["base"], cls["ageing"] = 0.0, 1.0
    for queue in policy["queues"]:
        queue["weight"] = 0.0
    policy["selection"] = {"strategy": "longest_idle"}
    return policy


def _sampler(dist: Dist, rng: random.Random) -> Callable[[], float]:
    """A function drawing from `dist` with `rng` (mean already filled in)."""
    if dist.kind == "none":
        return functools.partial(float, "inf")
    mean = float(dist.mean or 0.0)
    if dist.kind == "exponential":
        return functools.partial(rng.expovariate, 1.0 / mean)
    if dist.kind == "lognormal":
        sigma2 = math.log1p(dist.cv * dist.cv)
        return functools.partial(rng.lognormvariate, math.log(mean) - sigma2 / 2, math.sqrt(sigma2))
    return functools.partial(float, mean)


def simulate(
    config: Config,
    profile: Profile,
    *,
    policy: Mapping[str, Any] | None = None,
    label: str = "policy",
    progress: Callable[[Progress], None] | None = None,
    time_limit: float | None = None,
) -> SimResult:
    """Run the profile's day through a fresh core with the config's agents and policy (or `policy`,
    e.g. `baseline_policy(config)`). Stops early, with `partial` set, on Ctrl-C or after
    `time_limit` wall-clock seconds; `progress` is called about twice a second."""
    check_profile(profile, config)
    wall0 = time.perf_counter()
    rng = random.Random(profile.seed)
    classes = [c.name for c in config.classes]
    queue_specs = list(config.queues)
    queues = [q.name for q in queue_specs]
    centres = [c.name for c in config.centres]
    dialects = {c.name: c.dialects for c in config.centres}
    lines = {c.name: float(c.lines) for c in config.centres}

    # -- sub-streams (class, queue, home) and the piecewise-constant rate segments -----------------
    sub_cls: list[int] = []
    sub_queue: list[int] = []
    sub_home: list[int] = []
    sub_t: list[float] = []
    sub_args: list[tuple[str, str, str, list[tuple[str, float]]]] = []
    sub_handle: list[Callable[[], float]] = []
    sub_patience: list[Callable[[], float]] = []
    sub_relax: list[float] = []
    sub_rates: list[tuple[Any, float]] = []  # (stream, home share)
    for stream in profile.streams:
        weights = dict(stream.homes) if stream.homes is not None else lines
        total = sum(weights.values())
        if total <= 0:
            weights, total = {c: 1.0 for c in centres}, float(len(centres))
        q = queues.index(stream.queue)
        draw_handle = _sampler(profile.handle_dist(queue_specs[q]), rng)
        draw_patience = _sampler(profile.patience_dist(stream.cls), rng)
        steps = queue_specs[q].steps
        for home, weight in weights.items():
            if weight <= 0:
                continue
            sub_cls.append(classes.index(stream.cls))
            sub_queue.append(q)
            sub_home.append(centres.index(home))
            sub_t.append(profile.sl_threshold(stream.cls))
            weight_d = profile.dialect_preference
            sub_args.append(
                (
                    stream.queue,
                    stream.cls,
                    home,
                    [(d, weight_d) for d in dialects[home]] if weight_d else [],
                )
            )
            sub_handle.append(draw_handle)
            sub_patience.append(draw_patience)
            sub_relax.append(steps[1].after if len(steps) > 1 else math.inf)
            sub_rates.append((stream, weight / total))
    cuts = sorted(
        {profile.start, profile.end}
        | {t for s in profile.streams for t, _ in s.rates if profile.start < t < profile.end}
    )
    segments: list[tuple[float, float, float, list[float], list[int]]] = []
    for t0, t1 in zip(cuts, cuts[1:], strict=False):
        rates = [s.rate_at(t0) * share * profile.scale / 3600.0 for s, share in sub_rates]
        live = [i for i, r in enumerate(rates) if r > 0]
        if live:
            cum = list(accumulate(rates[i] for i in live))
            segments.append((t0, t1, cum[-1], cum, live))

    # -- agents and the core ----------------------------------------------------------------------
    agents = scaled_agents(config.agents, profile.scale)
    core = Core(policy if policy is not None else config.policy())
    agent_index: dict[str, int] = {}
    for i, agent in enumerate(agents):
        core.add_agent(agent.id, agent.centre, dict(agent.skills), max_calls=agent.max_calls)
        agent_index[agent.id] = i
    agent_ids = [a.id for a in agents]
    agent_centre = [centres.index(a.centre) for a in agents]
    multi = [a.max_calls > 1 for a in agents]
    max_calls = [a.max_calls for a in agents]
    active = [0] * len(agents)
    wrapping = [False] * len(agents)
    leaving = [False] * len(agents)
    login_at = [math.nan] * len(agents)

    n_centres = len(centres)
    start, end, interval = profile.start, profile.end, profile.interval
    n_intervals = math.ceil((end - start) / interval - 1e-9)
    busy = [0.0] * (n_intervals * n_centres)
    staffed = [0.0] * (n_intervals * n_centres)

    def add_time(acc: list[float], centre: int, a: float, b: float) -> None:
        """Add the agent time [a, b) of a centre to the intervals it spans (within the period)."""
        a, b = max(a, start), min(b, end)
        if a >= b:
            return
        iv = min(n_intervals - 1, int((a - start) // interval))
        while True:
            # Interval edges by multiplication, never by repeated addition, and always moving on:
            # rounding must not make an edge at or before `a` (that would loop forever).
            edge = start + (iv + 1) * interval
            if iv == n_intervals - 1 or edge >= b:
                acc[iv * n_centres + centre] += b - a
                return
            if edge > a:
                acc[iv * n_centres + centre] += edge - a
                a = edge
            iv += 1

    # -- per-call facts ----------------------------------------------------------------------------
    arrival: array[float] = array("d")
    stream_of: array[int] = array("i")
    handle_of: array[float] = array("d")
    answered_at: array[float] = array("d")
    state: array[int] = array("b")
    agent_of: array[int] = array("i")
    waiting_q = [0] * len(queues)
    sample_times: list[float] = []
    samples: list[tuple[int, ...]] = []
    wrap_up = profile.wrap_up

    heap: list[tuple[float, int, int, int]] = []
    push, pop = heapq.heappush, heapq.heappop
    seq = 0
    for i, slot in enumerate(plan_shifts(agents, profile)):
        if slot is None or slot[1] <= slot[0]:
            continue
        push(heap, (slot[0], seq, _ON, i))
        seq += 1
        if slot[1] < end:
            push(heap, (slot[1], seq, _OFF, i))
            seq += 1

    seg_index = 0

    def next_arrival(t: float) -> float | None:
        """The next arrival time after t (memoryless within a segment: redraw at each edge)."""
        nonlocal seg_index
        while seg_index < len(segments):
            t0, t1, total_rate, _, _ = segments[seg_index]
            t = max(t, t0)
            t_next = t + rng.expovariate(total_rate)
            if t_next < t1:
                return t_next
            seg_index += 1
            t = t1
        return None

    first = next_arrival(start)
    if first is not None:
        push(heap, (first, seq, _ARRIVE, 0))
        seq += 1

    relax_at = math.inf
    unresolved = 0  # calls waiting
    events = 0
    next_sample = start
    next_check = 4096
    last_report = wall0
    partial: str | None = None
    horizon = end + DRAIN_LIMIT
    t = start

    def answer(i: int, a: int, now: float) -> None:
        """Call i was assigned agent a at `now`: talk, then free the agent."""
        nonlocal seq
        answered_at[i] = now
        state[i] = ANSWERED
        active[a] += 1
        done = now + handle_of[i]
        push(heap, (done, seq, _END, i))
        seq += 1
        add_time(busy, agent_centre[a], now, done + (0.0 if multi[a] else wrap_up))
        agent_of[i] = a

    def free(a: int, now: float) -> None:
        """Agent a may take calls again (or leaves, if the shift is over)."""
        if leaving[a] and active[a] == 0:
            core.set_agent_state(agent_ids[a], "logged_out", now)
            leaving[a] = False
            add_time(staffed, agent_centre[a], login_at[a], now)
            login_at[a] = math.nan
            return
        if leaving[a]:
            return
        aid = agent_ids[a]
        core.set_agent_state(aid, "available", now)
        while active[a] < max_calls[a]:
            cid = core.dispatch_agent(aid, now)
            if cid is None:
                return
            i = int(cid)
            waiting_q[sub_queue[stream_of[i]]] -= 1
            take(i, a, now)

    def take(i: int, a: int, now: float) -> None:
        nonlocal unresolved
        unresolved -= 1
        answer(i, a, now)

    try:
        if progress is not None:
            progress(Progress(start, start, end, 0, 0, 0.0))
        while heap:
            t, _, kind, x = pop(heap)
            if t > horizon or (t >= end and unresolved == 0 and kind != _ARRIVE):
                break
            while t >= next_sample and next_sample < end:
                sample_times.append(next_sample)
                samples.append(tuple(waiting_q))
                next_sample += SAMPLE_EVERY
            events += 1
            if kind == _ARRIVE:
                i = len(arrival)
                seg = segments[seg_index]
                sub = seg[4][bisect_right(seg[3], rng.random() * seg[2])]
                arrival.append(t)
                stream_of.append(sub)
                handle_of.append(sub_handle[sub]())
                patience = sub_patience[sub]()
                answered_at.append(math.nan)
                state.append(WAITING)
                agent_of.append(-1)
                cid = str(i)
                qname, cname, home, pref = sub_args[sub]
                core.enqueue(cid, qname, cname, home, t, preferred=pref)
                got = core.dispatch_call(cid, t)
                if got is not None:
                    answer(i, agent_index[got], t)
                else:
                    unresolved += 1
                    waiting_q[sub_queue[sub]] += 1
                    if patience < math.inf:
                        push(heap, (t + patience, seq, _ABANDON, i))
                        seq += 1
                    r = t + sub_relax[sub]
                    if r < relax_at:
                        relax_at = r
                        push(heap, (r, seq, _RELAX, 0))
                        seq += 1
                nxt = next_arrival(t)
                if nxt is not None:
                    push(heap, (nxt, seq, _ARRIVE, 0))
                    seq += 1
            elif kind == _END:
                a = agent_of[x]
                core.finish(str(x), t, handle_of[x])
                active[a] -= 1
                if multi[a] or wrap_up <= 0:
                    free(a, t)
                else:
                    core.set_agent_state(agent_ids[a], "wrap_up", t)
                    wrapping[a] = True
                    push(heap, (t + wrap_up, seq, _READY, a))
                    seq += 1
            elif kind == _READY:
                wrapping[x] = False
                free(x, t)
            elif kind == _ABANDON:
                if state[x] == WAITING:
                    core.remove_call(str(x), t)
                    state[x] = ABANDONED
                    unresolved -= 1
                    waiting_q[sub_queue[stream_of[x]]] -= 1
            elif kind == _RELAX:
                if t != relax_at:
                    continue  # superseded by an earlier relaxation
                for cid, aid in core.match_all(t):
                    i = int(cid)
                    waiting_q[sub_queue[stream_of[i]]] -= 1
                    take(i, agent_index[aid], t)
                nxt_relax = core.next_relaxation()
                relax_at = math.inf if nxt_relax is None else nxt_relax
                if nxt_relax is not None:
                    push(heap, (nxt_relax, seq, _RELAX, 0))
                    seq += 1
            elif kind == _ON:
                login_at[x] = t
                leaving[x] = False
                free(x, t)
            elif kind == _OFF:
                leaving[x] = True
                if active[x] == 0 and not wrapping[x]:
                    free(x, t)
            if events >= next_check:
                next_check = events + 4096
                wall = time.perf_counter()
                if time_limit is not None and wall - wall0 > time_limit:
                    partial = f"stopped by the time limit of {time_limit:g} s at {clock_text(t)}"
                    break
                if progress is not None and wall - last_report >= 0.5:
                    last_report = wall
                    progress(Progress(t, start, end, len(arrival), unresolved, wall - wall0))
    except KeyboardInterrupt:
        partial = f"interrupted at {clock_text(t)}"
    until = t if partial else max(t, end)
    if progress is not None and partial is None:
        progress(Progress(until, start, end, len(arrival), unresolved, time.perf_counter() - wall0))
    if partial is None and unresolved and heap:
        partial = f"{unresolved} calls still waiting {DRAIN_LIMIT / 3600:g} h after the end"
    for a, since in enumerate(login_at):
        if not math.isnan(since):
            add_time(staffed, agent_centre[a], since, until)
    while next_sample < min(end, until):
        sample_times.append(next_sample)
        samples.append(tuple(waiting_q))
        next_sample += SAMPLE_EVERY
    return SimResult(
        label=label,
        config_path=config.path,
        profile=profile,
        classes=classes,
        queues=queues,
        centres=centres,
        agents=len(agents),
        sub_cls=sub_cls,
        sub_queue=sub_queue,
        sub_home=sub_home,
        sub_t=sub_t,
        arrival=arrival,
        stream=stream_of,
        answered_at=answered_at,
        state=state,
        busy=busy,
        staffed=staffed,
        sample_times=sample_times,
        samples=samples,
        until=until,
        wall=time.perf_counter() - wall0,
        events=events,
        partial=partial,
    )
