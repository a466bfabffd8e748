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

Admission, overflow and callbacks (`admission="router"`, the default) follow the router's own
config and code: a new caller is given a line or refused by `router.routing.admission.decide` on
the centre's `lines` / `line_shares` and `[calls] max_expected_wait` / `exempt_classes` (the
caller's home centre is the centre they rang; a line is held by every caller waiting or talking,
and by a callback from the moment the customer answers, in the class it holds it in, as the router
counts them). A refused caller is lost (`refuse_action` "hangup" or "transfer": a busy message,
voicemail or self-service, never an agent) unless `refuse_action = "callback"`: then, if the
caller accepts (`Profile.callback.accept`, the share with a usable number), the call keeps its
place in the core (its enqueue time) with no line and no patience, in the class `[calls.callback]
class` names (the caller's own without it). When an agent is given a callback, the router first
checks that a line is free for the callback's class (`decide` with no expected-wait check and no
exemption); if none is, the agent is free again at once (no try, no penalty) and the callback
leaves the core for `LINE_WAIT` (5) seconds, then returns in its place. Otherwise the agent rings
the customer, who answers a try with probability `callback.answer` after `callback.pickup`
seconds; an unanswered try costs the agent `ring_timeout` seconds and the call leaves the core for
`retry_after` seconds, then returns in its place; after `attempts` tries it is given up.
`[[calls.overflow]]` rules move a waiting caller to another queue (keeping the enqueue time), to
an extension (lost to the agents: voicemail) or, with `callback = true`, to a callback (a caller
with no usable number keeps holding). The router's side of callbacks (class, ring_timeout,
attempts, retry_after) comes from `[calls.callback]` when the config has it, else from the
profile's stand-ins (and callbacks wait in the caller's class). `admission="lines"` is the trunk
only (a caller who finds every line busy gets the busy tone; no shares, no expected-wait check, no
overflow, no callbacks: the FIFO baseline's centre); `admission="none"` gives every caller a line
(the textbook queue of the Erlang validation).

Calls arrive as a Poisson process whose rate is piecewise constant (see `router.sim.profile`); talk
and patience times are drawn when the call arrives, from one random stream, so that two runs with
the same profile and seed see exactly the same callers whatever the routing policy (common random
numbers: policy comparisons are not blurred by noise); whether a caller would accept a callback
and on which try they would answer it come from a second stream, drawn for every caller in every
mode, so that adding admission changes no other draw. The loop itself is a heap of plain tuples;
call facts go into typed arrays and are only aggregated at the end.
"""

from __future__ import annotations

import dataclasses
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

from router._core import Core, CoreError
from router.config import Agent, Config
from router.config.model import Overflow
from router.routing.admission import decide
from router.sim.profile import Dist, Profile, check_profile, clock_text

__all__ = [
    "ADMISSION_MODES",
    "LINE_WAIT",
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
ADMISSION_MODES = ("router", "lines", "none")
# A call's outcome. WAITING: not known when the run stopped (on hold, or a callback not yet made);
# ANSWERED: an agent answered it live; CALLED_BACK: an agent reached the customer by a callback;
# the rest are lost: ABANDONED (hung up on hold), REFUSED (refused a line and not called back),
# CALLBACK_FAILED (given up after `attempts` tries), OVERFLOWED (sent to an extension by a rule).
WAITING, ANSWERED, ABANDONED, CALLED_BACK, REFUSED, CALLBACK_FAILED, OVERFLOWED = range(7)
# Per-call flags.
F_REFUSED, F_CALLBACK, F_RELAXED = 1, 2, 4  # refused a line; a callback; taken when a step opened
_ARRIVE, _END, _READY, _ABANDON, _RELAX, _ON, _OFF = range(7)
_OVERFLOW, _CB_CONNECT, _CB_FAIL, _CB_RETRY = range(7, 11)
MAX_TRIES = 1_000_000
LINE_WAIT = 5.0  # router.routing.lifecycle.LINE_WAIT (not imported: that module needs gevent)


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
    and agent time for a centre.

    Every offered call ends in exactly one of: answered (live or by a callback), abandoned, refused
    and lost, callback given up, overflowed to an extension, or unresolved. The service level is
    over *offered* calls and counts only calls answered live within T (a callback never counts
    within T, an abandoned or refused caller counts against it); the answer rate counts callbacks
    that reached the customer as answered."""

    offered: int = 0
    answered: int = 0  # live or by a callback
    abandoned: int = 0
    within_t: int = 0  # answered live within the class's service-level threshold
    waited: int = 0  # given a line but found no agent free (answered later, or not at all)
    wait_sum: float = 0.0  # seconds waited by the calls answered live
    busy: float = 0.0  # agent-seconds on calls, callback tries and wrap-up
    staffed: float = 0.0  # agent-seconds logged in
    refused: int = 0  # refused a line on arrival (then called back or lost)
    refused_lost: int = 0  # refused and not called back (busy message, voicemail, declined...)
    callbacks: int = 0  # callback requests (refused callers who accepted, overflow rules)
    called_back: int = 0  # callbacks that reached the customer (also in `answered`)
    callback_failed: int = 0  # callbacks given up after every try
    callback_delay: float = 0.0  # seconds from the call to the callback's connection, summed
    overflowed: int = 0  # sent to an extension (voicemail) by an overflow rule
    relaxed: int = 0  # answered live the moment a relaxation step let more agents take it
    # Seconds those calls waited while the agent who took them at the step was already free (the
    # cost of relaxing on time alone, e.g. waiting for an empty home centre).
    relax_wait: float = 0.0

    @property
    def answered_live(self) -> int:
        """Calls an agent answered while the caller held."""
        return self.answered - self.called_back

    @property
    def lost(self) -> int:
        """Calls never answered: abandoned, refused and not called back, callbacks given up,
        overflowed to an extension."""
        return self.abandoned + self.refused_lost + self.callback_failed + self.overflowed

    @property
    def unresolved(self) -> int:
        """Calls neither answered nor lost when the run stopped."""
        return self.offered - self.answered - self.lost

    @property
    def service_level(self) -> float | None:
        """Share of offered calls answered live within T (None without calls)."""
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
        """Share of offered calls answered, live or by a callback."""
        return self.answered / self.offered if self.offered else None

    @property
    def live_answer_rate(self) -> float | None:
        """Share of offered calls answered live."""
        return self.answered_live / self.offered if self.offered else None

    @property
    def asa(self) -> float | None:
        """Average speed of answer of the calls answered live, seconds."""
        return self.wait_sum / self.answered_live if self.answered_live else None

    @property
    def mean_callback_delay(self) -> float | None:
        """Mean seconds from a call to its callback's connection (callbacks that connected)."""
        return self.callback_delay / self.called_back if self.called_back else None

    @property
    def occupancy(self) -> float | None:
        """Busy agent time over logged-in agent time."""
        return self.busy / self.staffed if self.staffed > 0 else None

    def add(self, other: Stats) -> None:
        """Accumulate another group into this one."""
        for f in dataclasses.fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


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
    answered_at: array[float]  # when an agent answered (live) or the callback connected
    state: array[int]  # WAITING, ANSWERED, ...
    flags: array[int]  # F_REFUSED | F_CALLBACK | F_RELAXED
    idle_wait: array[float]  # per call: see Stats.relax_wait
    busy: list[float]  # [interval * n_centres + centre] agent-seconds busy
    staffed: list[float]  # same shape, agent-seconds logged in
    sample_times: list[float]
    samples: list[tuple[int, ...]]  # callers on hold per queue at each sample time
    until: float  # simulated time reached
    wall: float  # seconds the run took
    events: int
    partial: str | None = None
    admission: str = "router"
    refusals: dict[str, int] = field(default_factory=dict)  # the day's refusals by reason
    callback_samples: list[int] = field(default_factory=list)  # callbacks pending, per sample
    # Times a callback was given an agent while no line was free for it (it then waited
    # LINE_WAIT s out of the queue): the router's ``callback_misses["NO_LINE"]``.
    callback_line_waits: int = 0
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
        result: dict[int, Stats] = {}
        sub_t = self.sub_t
        for arr, sub, ans, state, flags, idle in zip(
            self.arrival,
            self.stream,
            self.answered_at,
            self.state,
            self.flags,
            self.idle_wait,
            strict=True,
        ):
            k = min(last, int((arr - start) // interval)) * n_sub + sub
            st = result.get(k)
            if st is None:
                st = result[k] = Stats()
            st.offered += 1
            refused = flags & F_REFUSED
            if refused:
                st.refused += 1
            if flags & F_CALLBACK:
                st.callbacks += 1
            if state == ANSWERED:
                w = ans - arr
                st.answered += 1
                st.wait_sum += w
                if w > 0:
                    st.waited += 1
                if w <= sub_t[sub]:
                    st.within_t += 1
                if flags & F_RELAXED:
                    st.relaxed += 1
                    st.relax_wait += idle
                continue
            if not refused:
                st.waited += 1
            if state == CALLED_BACK:
                st.answered += 1
                st.called_back += 1
                st.callback_delay += ans - arr
            elif state == ABANDONED:
                st.abandoned += 1
            elif state == REFUSED:
                st.refused_lost += 1
            elif state == CALLBACK_FAILED:
                st.callback_failed += 1
            elif state == OVERFLOWED:
                st.overflowed += 1
        by_key = {divmod(k, n_sub): st for k, st in result.items()}
        self._cache["_stream"] = by_key
        return by_key

    def summary(self) -> dict[str, Any]:
        """The day in a few numbers (JSON-ready), by class as well."""
        day = self.day()
        out: dict[str, Any] = {
            "label": self.label,
            "partial": self.partial,
            "calls": self.calls,
            "agents": self.agents,
            "admission": self.admission,
            "answer_rate": day.answer_rate,
            "live_answer_rate": day.live_answer_rate,
            "service_level": day.service_level,
            "asa": day.asa,
            "p_wait": day.p_wait,
            "abandoned": day.abandoned,
            "refused": day.refused,
            "refused_lost": day.refused_lost,
            "refusals": dict(self.refusals),
            "callbacks": day.callbacks,
            "called_back": day.called_back,
            "callback_failed": day.callback_failed,
            "mean_callback_delay": day.mean_callback_delay,
            "callback_line_waits": self.callback_line_waits,
            "overflowed": day.overflowed,
            "relaxed": day.relaxed,
            "relaxed_mean_wait": day.relax_wait / day.relaxed if day.relaxed else None,
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
    first are named `<id>.2`, `<id>.3`, ... (skipping names the roster already has, so that a
    scaled roster can be scaled again)."""
    if scale == 1.0:
        return list(agents)
    taken = {a.id for a in agents}
    result: list[Agent] = []
    for j, agent in enumerate(agents):
        copies = math.floor(scale * (j + 1) + 1e-9) - math.floor(scale * j + 1e-9)
        suffix = 1
        for k in range(copies):
            name = agent.id
            if k:
                while name in taken:
                    suffix += 1
                    name = f"{agent.id}.{suffix}"
                taken.add(name)
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
    admission: str = "router",
    arrivals: Sequence[tuple[float, int]] | None = None,
    progress: Callable[[Progress], None] | None = None,
    time_limit: float | None = None,
) -> SimResult:
    """Run the profile's day through a fresh core with the config's agents and policy (or `policy`,
    e.g. `baseline_policy(config)`). `admission` is "router" (the config's line allocation,
    overflow rules and callbacks), "lines" (the trunk lines only) or "none" (every caller gets a
    line); see the module docstring. `arrivals` replaces the Poisson arrivals by a script of
    (time, index of the profile's stream) pairs (a replay, or a case worked out by hand; a
    stream's first home centre). Stops early, with `partial` set, on Ctrl-C or after
    `time_limit` wall-clock seconds; `progress` is called about twice a second."""
    if admission not in ADMISSION_MODES:
        raise ValueError(
            f"admission must be one of {', '.join(ADMISSION_MODES)}, not {admission!r}"
        )
    check_profile(profile, config)
    wall0 = time.perf_counter()
    rng = random.Random(profile.seed)
    cb_rng = random.Random(f"{profile.seed}:callbacks")  # its own stream: see the docstring
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

    # -- admission, overflow and callbacks: the router's config, the callers' behaviour ----------
    calls = config.calls
    routed = admission == "router"
    centre_specs = list(config.centres)
    line_cap = [c.lines if admission != "none" else 0 for c in centre_specs]
    max_ewt = calls.max_expected_wait if routed else 0.0
    exempt = tuple(calls.exempt_classes)
    has_overflow = routed and bool(calls.overflow)
    refuse_callback = routed and calls.refuse_action == "callback"
    behaviour = profile.callback
    router_cb = calls.callback  # [calls.callback], when the config has it
    cb_ring = float(router_cb.ring_timeout) if router_cb is not None else behaviour.ring_timeout
    cb_attempts = int(router_cb.attempts) if router_cb is not None else behaviour.attempts
    cb_retry = float(router_cb.retry_after) if router_cb is not None else behaviour.retry_after
    cb_pickup = min(behaviour.pickup, cb_ring)
    # [calls.callback] class: the class a callback waits in (None: the caller's own), as the router
    cb_cls = router_cb.cls if router_cb is not None else None
    class_index = {name: k for k, name in enumerate(classes)}
    used: list[dict[str, int]] = [dict.fromkeys(classes, 0) for _ in centres]
    used_total = [0] * len(centres)
    sub_cls_name = [classes[c] for c in sub_cls]
    refusals: dict[str, int] = {}
    line_waits = 0  # callbacks an agent was given while no line was free for them
    pending_overflow: dict[int, Overflow] = {}
    visited: dict[int, set[str]] = {}

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
    flags: array[int] = array("b")
    agent_of: array[int] = array("i")
    cur_queue: array[int] = array("i")  # the queue the call waits in (an overflow may move it)
    holds: array[int] = array("i")  # 1 + the class index while the call holds one of its lines
    accepts: array[int] = array("b")  # 1 if the caller takes a callback when offered one
    reach_try: array[int] = array("i")  # the callback try the customer would answer
    tries: array[int] = array("i")  # callback tries made
    idle_wait: array[float] = array("d")  # see Stats.relax_wait
    waiting_q = [0] * len(queues)  # callers on hold per queue
    waiting_cb = 0  # callbacks requested and not being dialled (in the core or between tries)
    sample_times: list[float] = []
    samples: list[tuple[int, ...]] = []
    callback_samples: list[int] = []
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
    script: list[tuple[float, int]] = []  # (time, sub-stream) of scripted arrivals, latest first
    if arrivals is not None:
        first_sub = {id(s): k for k, (s, _) in reversed(list(enumerate(sub_rates)))}
        for when, k in arrivals:
            if not profile.start <= when < profile.end:
                raise ValueError(f"arrival at {when:g} s is outside the simulated period")
            stream = profile.streams[k]
            if id(stream) not in first_sub:
                raise ValueError(f"stream {k} of the profile has no home centre with calls")
            script.append((when, first_sub[id(stream)]))
        script.sort(reverse=True)

    def next_arrival(t: float) -> float | None:
        """The next arrival time after t (memoryless within a segment: redraw at each edge)."""
        nonlocal seg_index
        if arrivals is not None:
            return script[-1][0] if script else None
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
    unresolved = 0  # calls whose outcome is not known yet
    events = 0
    next_sample = start
    next_check = 4096
    last_report = wall0
    partial: str | None = None
    horizon = end + DRAIN_LIMIT
    t = start

    def line_class(i: int) -> str:
        """The class call i counts in: a callback's class once it is one, else the caller's."""
        if cb_cls is not None and flags[i] & F_CALLBACK:
            return cb_cls
        return sub_cls_name[stream_of[i]]

    def line(i: int, hold: bool) -> None:
        """Call i takes (True) or gives back (False) a line of its centre, counted in its class
        (the one it took the line in, as the router's `hold_line`)."""
        if (holds[i] > 0) == hold:
            return
        h = sub_home[stream_of[i]]
        if hold:
            k = class_index[line_class(i)]
            holds[i] = k + 1
            used[h][classes[k]] += 1
            used_total[h] += 1
        else:
            used[h][classes[holds[i] - 1]] -= 1
            used_total[h] -= 1
            holds[i] = 0

    def refusal(sub: int, now: float) -> str | None:
        """Why a new caller of sub-stream `sub` gets no line (None: they get one)."""
        h = sub_home[sub]
        if not routed:
            return "lines_full" if 0 < line_cap[h] <= used_total[h] else None
        ewt: float | None = None
        if max_ewt > 0:
            try:
                ewt = core.expected_wait(queues[sub_queue[sub]], sub_cls_name[sub], now)
            except CoreError:
                ewt = None  # as the router: unknown counts as nobody staffed
        return decide(
            centre_specs[h], used[h], sub_cls_name[sub], ewt,
            max_expected_wait=max_ewt, exempt=exempt,
        )  # fmt: skip

    def note_relax(r: float) -> None:
        """A waiting call relaxes at `r`: make sure a relaxation event comes then."""
        nonlocal relax_at, seq
        if r < relax_at:
            relax_at = r
            push(heap, (r, seq, _RELAX, 0))
            seq += 1

    def enqueue(i: int, now: float) -> str | None:
        """Put call i (back) in the core in its place (its arrival time); the agent it gets."""
        qname, _, home, pref = sub_args[stream_of[i]]
        cid = str(i)
        if cur_queue[i] != sub_queue[stream_of[i]]:
            qname = queues[cur_queue[i]]
        cname = line_class(i)
        core.enqueue(cid, qname, cname, home, now, preferred=pref, enqueued_at=arrival[i])
        return core.dispatch_call(cid, now)

    def schedule_overflow(i: int, now: float) -> None:
        """The first `[[calls.overflow]]` rule for call i where it waits now, as the router."""
        nonlocal seq
        rule = calls.overflow_for(queues[cur_queue[i]], sub_cls_name[stream_of[i]])
        if rule is None or (rule.to is not None and rule.to in visited.get(i, ())):
            return
        if rule.callback and not accepts[i]:
            return  # no usable number: the caller keeps holding
        pending_overflow[i] = rule
        push(heap, (max(now, arrival[i] + rule.after), seq, _OVERFLOW, i))
        seq += 1

    def assign(i: int, a: int, now: float) -> bool:
        """The core gave waiting call i to agent a at `now`: talk (or ring the customer back),
        then free the agent. False when the agent does not take it: a callback with no line free
        for its class (`admission.decide` with the router's arguments: the lines its centre's
        calls hold, no expected-wait check, no exemption) leaves the core for `LINE_WAIT`
        seconds, keeping its place, and the agent is free at once (no try, no penalty)."""
        nonlocal seq, unresolved, waiting_cb, line_waits
        if flags[i] & F_CALLBACK:
            h = sub_home[stream_of[i]]
            if decide(centre_specs[h], used[h], line_class(i), None) is not None:
                core.remove_call(str(i), now)  # the agent is released in the core
                line_waits += 1
                push(heap, (now + LINE_WAIT, seq, _CB_RETRY, i))
                seq += 1
                return False
        agent_of[i] = a
        active[a] += 1
        if flags[i] & F_CALLBACK:
            waiting_cb -= 1
            tries[i] += 1
            if tries[i] == reach_try[i]:
                connect = now + cb_pickup
                answered_at[i] = connect
                state[i] = CALLED_BACK
                unresolved -= 1
                done = connect + handle_of[i]
                push(heap, (connect, seq, _CB_CONNECT, i))
                push(heap, (done, seq + 1, _END, i))
                seq += 1
                add_time(busy, agent_centre[a], now, done + (0.0 if multi[a] else wrap_up))
            else:
                push(heap, (now + cb_ring, seq, _CB_FAIL, i))
                add_time(busy, agent_centre[a], now, now + cb_ring)
            seq += 1
            return True
        waiting_q[cur_queue[i]] -= 1
        unresolved -= 1
        answered_at[i] = now
        state[i] = ANSWERED
        done = now + handle_of[i]
        push(heap, (done, seq, _END, i))
        seq += 1
        add_time(busy, agent_centre[a], now, done + (0.0 if multi[a] else wrap_up))
        return True

    def take(i: int, a: int, now: float) -> None:
        """`assign`, and if the agent did not take the call, the agent is free again."""
        if not assign(i, a, now):
            free(a, now)

    def place(i: int, now: float) -> bool:
        """`enqueue` call i again in its place: taken by an agent at once (True), or left waiting
        with the core's next relaxation step noted (False)."""
        got = enqueue(i, now)
        if got is not None:
            take(i, agent_index[got], now)
            return True
        nr = core.next_relaxation()
        if nr is not None:
            note_relax(nr)
        return False

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
            assign(int(cid), a, now)  # False: the agent is free, and offered the next call

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
                callback_samples.append(waiting_cb)
                next_sample += SAMPLE_EVERY
            events += 1
            if kind == _ARRIVE:
                i = len(arrival)
                if arrivals is not None:
                    sub = script.pop()[1]
                else:
                    seg = segments[seg_index]
                    sub = seg[4][bisect_right(seg[3], rng.random() * seg[2])]
                arrival.append(t)
                stream_of.append(sub)
                handle_of.append(sub_handle[sub]())
                patience = sub_patience[sub]()
                answered_at.append(math.nan)
                state.append(WAITING)
                flags.append(0)
                agent_of.append(-1)
                cur_queue.append(sub_queue[sub])
                holds.append(0)
                accepts.append(cb_rng.random() < behaviour.accept)
                reach_try.append(_answering_try(cb_rng.random(), behaviour.answer))
                tries.append(0)
                idle_wait.append(0.0)
                reason = refusal(sub, t) if admission != "none" else None
                unresolved += 1
                if reason is not None:
                    refusals[reason] = refusals.get(reason, 0) + 1
                    flags[i] = F_REFUSED
                    if refuse_callback and accepts[i]:
                        flags[i] |= F_CALLBACK
                        waiting_cb += 1
                        got = enqueue(i, t)
                        if got is not None:
                            take(i, agent_index[got], t)
                        else:
                            note_relax(t + sub_relax[sub])
                    else:
                        state[i] = REFUSED
                        unresolved -= 1
                else:
                    line(i, True)
                    waiting_q[sub_queue[sub]] += 1
                    got = enqueue(i, t)
                    if got is not None:
                        take(i, agent_index[got], t)
                    else:
                        if patience < math.inf:
                            push(heap, (t + patience, seq, _ABANDON, i))
                            seq += 1
                        note_relax(t + sub_relax[sub])
                        if has_overflow:
                            schedule_overflow(i, t)
                nxt = next_arrival(t)
                if nxt is not None:
                    push(heap, (nxt, seq, _ARRIVE, 0))
                    seq += 1
            elif kind == _END:
                a = agent_of[x]
                core.finish(str(x), t, handle_of[x])
                line(x, False)
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
                if state[x] == WAITING and not flags[x] & F_CALLBACK:
                    core.remove_call(str(x), t)
                    state[x] = ABANDONED
                    unresolved -= 1
                    waiting_q[cur_queue[x]] -= 1
                    line(x, False)
            elif kind == _RELAX:
                if t != relax_at:
                    continue  # superseded by an earlier relaxation
                for cid, aid in core.match_all(t):
                    i, a = int(cid), agent_index[aid]
                    if not flags[i] & F_CALLBACK:
                        # Kept waiting by time-only relaxation while this agent was free.
                        since = float(core.agent_info(aid)["available_since"])
                        flags[i] |= F_RELAXED
                        idle_wait[i] = t - max(arrival[i], since)
                    take(i, a, t)
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
            elif kind == _OVERFLOW:
                rule = pending_overflow.pop(x, None)
                if rule is None or state[x] != WAITING or flags[x] & F_CALLBACK:
                    continue
                q = cur_queue[x]
                if rule.callback:  # keeps its place in the core
                    flags[x] |= F_CALLBACK
                    waiting_q[q] -= 1
                    waiting_cb += 1
                    line(x, False)
                    if cb_cls is not None and cb_cls != sub_cls_name[stream_of[x]]:
                        core.remove_call(str(x), t)  # the same place, in the callbacks' class
                        place(x, t)
                elif rule.to is not None:  # to another queue, keeping the enqueue time
                    core.remove_call(str(x), t)
                    visited.setdefault(x, set()).add(queues[q])
                    waiting_q[q] -= 1
                    cur_queue[x] = queues.index(rule.to)
                    waiting_q[cur_queue[x]] += 1
                    if not place(x, t):
                        schedule_overflow(x, t)
                else:  # to an extension (voicemail): no agent will answer it
                    core.remove_call(str(x), t)
                    state[x] = OVERFLOWED
                    unresolved -= 1
                    waiting_q[q] -= 1
                    line(x, False)
            elif kind == _CB_CONNECT:  # as the router: a callback holds a line once connected
                line(x, True)
            elif kind == _CB_FAIL:  # the customer did not answer this try
                a = agent_of[x]
                core.remove_call(str(x), t)
                agent_of[x] = -1
                active[a] -= 1
                if tries[x] < cb_attempts:
                    waiting_cb += 1
                    push(heap, (t + cb_retry, seq, _CB_RETRY, x))
                    seq += 1
                else:
                    state[x] = CALLBACK_FAILED
                    unresolved -= 1
                free(a, t)
            elif kind == _CB_RETRY:  # back in the core, in its place
                place(x, t)
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
        partial = f"{unresolved} calls still unresolved {DRAIN_LIMIT / 3600:g} h after the end"
    for a, since in enumerate(login_at):
        if not math.isnan(since):
            add_time(staffed, agent_centre[a], since, until)
    while next_sample < min(end, until):
        sample_times.append(next_sample)
        samples.append(tuple(waiting_q))
        callback_samples.append(waiting_cb)
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
        flags=flags,
        idle_wait=idle_wait,
        busy=busy,
        staffed=staffed,
        sample_times=sample_times,
        samples=samples,
        until=until,
        wall=time.perf_counter() - wall0,
        events=events,
        partial=partial,
        admission=admission,
        refusals=refusals,
        callback_samples=callback_samples,
        callback_line_waits=line_waits,
    )


def _answering_try(u: float, answer: float) -> int:
    """The try (1, 2, ...) on which a customer who answers each try with probability `answer`
    picks up, from a uniform draw `u` in [0, 1) (geometric by inversion)."""
    if answer >= 1.0:
        return 1
    if answer <= 0.0:
        return MAX_TRIES
    return min(MAX_TRIES, 1 + int(math.log1p(-u) / math.log1p(-answer)))
