"""Load profiles, and the call plan SIPp plays from them.

A load profile is a capacity-simulator profile (`router.sim.profile`: rates in calls per hour from
each time on, class and queue mixes, patience and talk-time distributions, service-level
thresholds) whose times count from the start of the run ("00:00:30" is 30 s in), plus a `[sipp]`
table for what only a SIP load test needs:

    [sipp]
    service = "95555"         the number callers dial (freeswitch_conf's national number)
    ivr_share = 0.8           share of callers who pick their service with IVR digits
    ivr_delay = 3.0           seconds from FreeSWITCH's answer to the first digit (or a table
                              { dist = "lognormal", mean = 3, cv = 0.3 })
    terminator = ""           sent after the digit: "#" if your IVR reads several digits (the
                              shipped dialplan reads one, so none by default)
    ivr_timeout = 0.0         seconds a caller who presses nothing stays in the IVR before it
                              is queued (and its wait and patience start): the shipped dialplan
                              plays its prompt twice with 5 s timeouts, about 12 s on FreeSWITCH
                              1.10.12; 0 counts it as queued at the answer
    max_hold = 3600           a caller whose patience is "none" hangs up after this many seconds
    [sipp.digits]             IVR digits per queue (default: the config's [calls] ivr, inverted;
    trading = "1"             else 1, 2, 3... in queue order)
    [sipp.numbers]            caller numbers per class, first and last of a range: the router
    trading = ["8613800100000", "8613800109999"]   knows a caller's class from its number
    [sipp.agents]             the agent phones
    ring = { dist = "lognormal", mean = 4.0, cv = 0.5 }   seconds of ringing before answering
    no_answer = 0.02          share of agent legs never answered (ring until cancelled)
    busy = 0.01               share answered 486 Busy Here
    talk = { dist = "lognormal", mean = 150, cv = 0.8 }   default: the profile's [handle]

The run lasts from `[sim] start` (default 0) to `[sim] end`, which a load profile must give.
`shape_profile` builds the three standard shapes (steady, ramp, market-open spike) in code.

SIPp places calls evenly spaced at the current rate (not as a Poisson process), so the plan knows
when call k will start; each call's class and queue are drawn from the streams' rates at that time
and written, with its number, digits and patience, to the callers' CSV (one line per call, in
order). A caller who presses no digit is reported in the router's default queue, where it lands. The agents' CSV holds one line per agent leg: answer, no answer or busy, ring and talk.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from router.config import Config
from router.sim.profile import Dist, Profile, ProfileError, Stream, parse_profile, read_toml

__all__ = [
    "DEFAULT_NUMBERS",
    "SHAPES",
    "AgentLine",
    "Agents",
    "CallerLine",
    "LoadProfile",
    "LoadSpec",
    "Plan",
    "default_spec",
    "draw",
    "load_load_profile",
    "make_plan",
    "parse_load_profile",
    "shape_profile",
    "write_csv",
]

DEFAULT_NUMBERS: Mapping[str, tuple[int, int]] = {
    "trading": (8613800100000, 8613800109999),
    "registered": (8613900200000, 8613900209999),
    "other": (8615000300000, 8615000309999),
}
"""Caller numbers per class (documented in bench/sipp/README.md): 10,000 numbers each."""

SHAPES = ("steady", "ramp", "spike")
DEFAULT_CLASSES = {"trading": 0.30, "registered": 0.40, "other": 0.30}
SHAPE_PATIENCE = Dist("exponential", 60.0)
SHAPE_TALK = Dist("exponential", 30.0)


@dataclass(frozen=True)
class Agents:
    """How the agent phones behave (see the module docstring)."""

    ring: Dist = Dist("lognormal", 4.0, 0.5)
    no_answer: float = 0.0
    busy: float = 0.0
    talk: Dist | None = None


@dataclass(frozen=True)
class LoadSpec:
    """The `[sipp]` table of a load profile."""

    service: str = "95555"
    numbers: Mapping[str, tuple[int, int]] = field(default_factory=lambda: dict(DEFAULT_NUMBERS))
    digits: Mapping[str, str] = field(default_factory=dict)
    default_queue: str | None = None  # where callers who press nothing go (the router's default)
    terminator: str = ""
    ivr_share: float = 1.0
    ivr_delay: Dist = Dist("constant", 3.0)
    ivr_timeout: float = 0.0
    max_hold: float = 3600.0
    agents: Agents = Agents()


@dataclass(frozen=True)
class LoadProfile:
    """A traffic profile (times from the start of the run) and its `[sipp]` settings."""

    profile: Profile
    spec: LoadSpec

    @property
    def duration(self) -> float:
        """Seconds of traffic."""
        return self.profile.end - self.profile.start

    def steps(self) -> list[tuple[float, float]]:
        """The calls per second from each time on (seconds from the start of the run), merged
        over all streams; the last step lasts until `duration`."""
        p = self.profile
        times = sorted(
            {p.start} | {t for s in p.streams for t, _ in s.rates if p.start < t < p.end}
        )
        steps: list[tuple[float, float]] = []
        for t in times:
            cps = sum(s.rate_at(t) for s in p.streams) / 3600.0
            if not steps or abs(steps[-1][1] - cps) > 1e-12:
                steps.append((t - p.start, cps))
        return steps

    def expected_calls(self) -> float:
        """Calls SIPp will place over the run."""
        steps = self.steps()
        ends = [t for t, _ in steps[1:]] + [self.duration]
        return sum(cps * (end - t) for (t, cps), end in zip(steps, ends, strict=True))


@dataclass(frozen=True)
class CallerLine:
    """One caller: a line of the callers' CSV (fields in caller.xml's order)."""

    number: str
    cls: str
    queue: str
    ivr_ms: int
    digit1: str  # "-" for none
    digit2: str
    patience_ms: int
    at: float  # planned start, seconds from the start of the run

    def row(self) -> list[object]:
        """The CSV fields."""
        return [
            self.number, self.cls, self.queue, self.ivr_ms, self.digit1, self.digit2,
            self.patience_ms,
        ]  # fmt: skip


@dataclass(frozen=True)
class AgentLine:
    """One agent leg: a line of the agents' CSV (agent.xml's fields)."""

    behaviour: str  # answer | noanswer | busy
    ring_ms: int
    talk_ms: int

    def row(self) -> list[object]:
        """The CSV fields."""
        return [self.behaviour, self.ring_ms, self.talk_ms]


@dataclass(frozen=True)
class Plan:
    """Everything SIPp plays: the rate schedule, one line per caller and per agent leg."""

    load: LoadProfile
    seed: int
    steps: tuple[tuple[float, float], ...]
    callers: tuple[CallerLine, ...]
    agents: tuple[AgentLine, ...]

    @property
    def duration(self) -> float:
        """Seconds of traffic."""
        return self.load.duration

    def peak_cps(self) -> float:
        """The highest rate of the schedule."""
        return max((cps for _, cps in self.steps), default=0.0)


def draw(dist: Dist, rng: random.Random, default_mean: float | None = None) -> float:
    """One sample of `dist` in seconds (inf for "none"); `default_mean` fills a missing mean."""
    if dist.kind == "none":
        return math.inf
    mean = dist.mean if dist.mean is not None else default_mean
    if mean is None:
        raise ValueError("a distribution without a mean")
    if dist.kind == "exponential":
        return rng.expovariate(1.0 / mean)
    if dist.kind == "lognormal":
        sigma2 = math.log1p(dist.cv * dist.cv)
        return rng.lognormvariate(math.log(mean) - sigma2 / 2, math.sqrt(sigma2))
    return float(mean)


def make_plan(load: LoadProfile, seed: int | None = None, *, margin: float = 1.1) -> Plan:
    """Draw every caller and agent leg of the run (`margin` extra callers, in case SIPp runs a
    little fast; agent lines: two per caller, so that retries after a miss have their own)."""
    seed = load.profile.seed if seed is None else seed
    rng = random.Random(seed)
    steps = load.steps()
    spec, p = load.spec, load.profile
    count = max(1, math.ceil(load.expected_calls() * margin))
    counters = dict.fromkeys(spec.numbers, 0)
    callers: list[CallerLine] = []
    for at in _start_times(steps, load.duration, count):
        stream = _pick_stream(p.streams, p.start + at, rng)
        first, last = spec.numbers[stream.cls]
        number = str(first + counters[stream.cls] % (last - first + 1))
        counters[stream.cls] += 1
        digits = spec.digits.get(stream.queue, "")
        pressed = bool(digits) and rng.random() < spec.ivr_share
        queue = stream.queue if pressed else spec.default_queue or stream.queue
        patience = min(draw(p.patience_dist(stream.cls), rng), spec.max_hold)
        callers.append(
            CallerLine(
                number=number,
                cls=stream.cls,
                queue=queue,
                ivr_ms=_ms(draw(spec.ivr_delay, rng)) if pressed else _ms(spec.ivr_timeout),
                digit1=digits if pressed else "-",
                digit2=spec.terminator if pressed and spec.terminator else "-",
                patience_ms=_ms(patience),
                at=at,
            )
        )
    talk_mean = _mean_aht(load)
    agent_spec = spec.agents
    talk = agent_spec.talk or Dist(p.handle.kind, p.handle.mean or talk_mean, p.handle.cv)
    agents: list[AgentLine] = []
    for _ in range(2 * count + 100):
        u = rng.random()
        behaviour = (
            "noanswer"
            if u < agent_spec.no_answer
            else "busy"
            if u < agent_spec.no_answer + agent_spec.busy
            else "answer"
        )
        agents.append(
            AgentLine(behaviour, _ms(draw(agent_spec.ring, rng)), _ms(draw(talk, rng, talk_mean)))
        )
    return Plan(load, seed, tuple(steps), tuple(callers), tuple(agents))


def write_csv(path: Path, rows: Iterable[Sequence[object]]) -> Path:
    """A SIPp injection file: `SEQUENTIAL`, then one `;`-separated line per row."""
    with path.open("w", encoding="ascii", newline="\n") as fh:
        fh.write("SEQUENTIAL\n")
        for row in rows:
            fh.write(";".join(str(v) for v in row) + "\n")
    return path


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


def _start_times(steps: Sequence[tuple[float, float]], duration: float, count: int) -> list[float]:
    """When SIPp starts calls 0..count-1: call k when the expected count (the integral of the rate)
    reaches k, i.e. evenly spaced at each step's rate; calls past the end of the schedule (the
    margin) are placed at its end."""
    out: list[float] = []
    reached = 0.0  # expected calls by the start of the step
    for i, (t0, cps) in enumerate(steps):
        t1 = steps[i + 1][0] if i + 1 < len(steps) else duration
        if cps > 0:
            while len(out) < count:
                at = t0 + max(0.0, len(out) - reached) / cps
                if at >= t1:
                    break
                out.append(at)
        reached += cps * (t1 - t0)
    out.extend([duration] * (count - len(out)))
    return out


def _pick_stream(streams: Sequence[Stream], t: float, rng: random.Random) -> Stream:
    rates = [s.rate_at(t) for s in streams]
    total = sum(rates)
    if total <= 0:  # a margin call past the end: the last rates that were positive
        rates = [max((r for _, r in s.rates), default=0.0) for s in streams]
        total = sum(rates)
    return rng.choices(list(streams), weights=rates)[0]


def _mean_aht(load: LoadProfile) -> float:
    """The talk time the agents see on average: queues' handle means weighted by their calls."""
    p = load.profile
    weights: dict[str, float] = {}
    for s in p.streams:
        weights[s.queue] = weights.get(s.queue, 0.0) + sum(r for _, r in s.rates)
    means = {q: (p.handle_by_queue.get(q, p.handle).mean) for q in weights}
    known = {q: m for q, m in means.items() if m is not None}
    if len(known) == len(means) and sum(weights.values()) > 0:
        return sum(known[q] * w for q, w in weights.items()) / sum(weights.values())
    return p.handle.mean or 180.0


# -- parsing ------------------------------------------------------------------------------------


def load_load_profile(path: str | Path, config: Config) -> LoadProfile:
    """Read a load profile file (ProfileError naming the file, key and fix on any mistake)."""
    file = Path(path)
    data = read_toml(file)
    return parse_load_profile(data, file, config)


def parse_load_profile(data: Mapping[str, Any], path: Path, config: Config) -> LoadProfile:
    """Validate parsed TOML: the profile part by `router.sim.profile`, then `[sipp]`."""
    rest = {k: v for k, v in data.items() if k != "sipp"}
    problems: list[tuple[str, str]] = []
    sim = rest.get("sim")
    if not (isinstance(sim, dict) and "end" in sim):
        problems.append(("sim.end", 'missing; give the length of the run, e.g. end = "00:05:00"'))
    profile = None
    try:
        profile = _with_queue_means(parse_profile(rest, path, config), config)
    except ProfileError as exc:
        problems.extend(exc.problems)
    spec = _SpecParser(config, problems).parse(data.get("sipp", {}))
    if problems or profile is None:
        raise ProfileError(path, problems)
    return _checked(LoadProfile(profile, spec), path)


def _checked(load: LoadProfile, path: Path) -> LoadProfile:
    """Whole-profile checks: numbers for every class that calls, and some traffic at all."""
    problems: list[tuple[str, str]] = []
    for cls in sorted({s.cls for s in load.profile.streams}):
        if cls not in load.spec.numbers:
            problems.append(
                (f"sipp.numbers.{cls}", 'missing; give its range, e.g. ["8613800100000", ...]')
            )
    if load.expected_calls() < 1:
        problems.append(("arrivals", "no call would be placed: give a rate above 0"))
    if problems:
        raise ProfileError(path, problems)
    return load


def _with_queue_means(profile: Profile, config: Config) -> Profile:
    """Fill the talk-time means the profile left to the queues' aht (so plans need no config)."""
    queues = {q.name: q for q in config.queues}
    by_queue = dict(profile.handle_by_queue)
    for s in profile.streams:
        if s.queue not in by_queue:
            by_queue[s.queue] = profile.handle_dist(queues[s.queue])
        elif by_queue[s.queue].mean is None:
            by_queue[s.queue] = profile.handle_dist(queues[s.queue])
    return dataclasses.replace(profile, handle_by_queue=by_queue)


class _SpecParser:
    """Reads `[sipp]`, adding (key, message) problems to the shared list."""

    KEYS = (
        "service", "ivr_share", "ivr_delay", "ivr_timeout", "terminator", "max_hold", "digits",
        "numbers",
    )  # fmt: skip

    def __init__(self, config: Config, problems: list[tuple[str, str]]) -> None:
        self.config = config
        self.problems = problems

    def error(self, key: str, message: str) -> None:
        self.problems.append((key, message))

    def parse(self, tbl: Any) -> LoadSpec:
        if not isinstance(tbl, dict):
            self.error("sipp", f"must be a table, not {tbl!r}")
            return default_spec(self.config)
        for key in tbl:
            if key not in (*self.KEYS, "agents"):
                self.error(f"sipp.{key}", f"unknown key; expected one of {', '.join(self.KEYS)}")
        spec = default_spec(self.config)
        service = tbl.get("service", spec.service)
        if not (isinstance(service, str) and service and service.isalnum()):
            self.error("sipp.service", f"must be the number callers dial, not {service!r}")
        terminator = tbl.get("terminator", spec.terminator)
        if terminator not in ("", "#", "*"):
            self.error("sipp.terminator", f'must be "#", "*" or "", not {terminator!r}')
        return LoadSpec(
            service=str(service),
            numbers=self.numbers(tbl.get("numbers")),
            digits=self.digits(tbl.get("digits")),
            default_queue=spec.default_queue,
            terminator=str(terminator),
            ivr_share=self.share(tbl, "sipp", "ivr_share", spec.ivr_share),
            ivr_delay=self.dist(tbl.get("ivr_delay", spec.ivr_delay), "sipp.ivr_delay"),
            ivr_timeout=self.seconds(tbl, "sipp", "ivr_timeout", spec.ivr_timeout, zero=True),
            max_hold=self.seconds(tbl, "sipp", "max_hold", spec.max_hold),
            agents=self.agents(tbl.get("agents", {})),
        )

    def numbers(self, value: Any) -> dict[str, tuple[int, int]]:
        classes = [c.name for c in self.config.classes]
        result = {c: r for c, r in DEFAULT_NUMBERS.items() if c in classes}
        if value is None:
            return result
        if not isinstance(value, dict):
            self.error("sipp.numbers", "must be a table { class = [first, last] }")
            return result
        for cls, item in value.items():
            key = f"sipp.numbers.{cls}"
            if cls not in classes:
                self.error(key, f"unknown class; expected one of {', '.join(classes)}")
                continue
            ok = isinstance(item, list) and len(item) == 2
            ok = ok and all(isinstance(n, str) and n.isdigit() and 3 <= len(n) <= 20 for n in item)
            if not ok or int(item[0]) > int(item[1]):
                self.error(
                    key, f'must be ["first", "last"], digit strings first <= last; not {item!r}'
                )
                continue
            result[cls] = (int(item[0]), int(item[1]))
        ranges = sorted((r, c) for c, r in result.items())
        for (a, ca), (b, cb) in zip(ranges, ranges[1:], strict=False):
            if b[0] <= a[1]:
                self.error("sipp.numbers", f"the ranges of {ca} and {cb} overlap")
        return result

    def digits(self, value: Any) -> dict[str, str]:
        result = default_digits(self.config)
        if value is None:
            return result
        if not isinstance(value, dict):
            self.error("sipp.digits", 'must be a table { queue = "digits" }')
            return result
        queues = [q.name for q in self.config.queues]
        for queue, digits in value.items():
            key = f"sipp.digits.{queue}"
            if queue not in queues:
                self.error(key, f"unknown queue; expected one of {', '.join(queues)}")
            elif not (isinstance(digits, str) and len(digits) <= 1 and digits in "0123456789*"):
                self.error(key, f'must be one key 0-9 or "*" (or "" for none), not {digits!r}')
            else:
                result[queue] = digits
        return result

    def agents(self, value: Any) -> Agents:
        if not isinstance(value, dict):
            self.error("sipp.agents", f"must be a table, not {value!r}")
            return Agents()
        keys = ("ring", "no_answer", "busy", "talk")
        for key in value:
            if key not in keys:
                self.error(f"sipp.agents.{key}", f"unknown key; expected one of {', '.join(keys)}")
        base = Agents()
        no_answer = self.share(value, "sipp.agents", "no_answer", base.no_answer)
        busy = self.share(value, "sipp.agents", "busy", base.busy)
        if no_answer + busy > 1:
            self.error("sipp.agents", "no_answer + busy must be at most 1")
        talk = self.dist(value["talk"], "sipp.agents.talk") if "talk" in value else None
        return Agents(
            self.dist(value.get("ring", base.ring), "sipp.agents.ring"), no_answer, busy, talk
        )

    def dist(self, value: Any, key: str) -> Dist:
        if isinstance(value, Dist):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            if math.isfinite(value) and value >= 0:
                return Dist("constant", float(value))
            self.error(key, f"must be >= 0 seconds, not {value!r}")
            return Dist("constant", 0.0)
        if not isinstance(value, dict):
            self.error(key, 'must be seconds or a table { dist = "lognormal", mean = 3, cv = 0.5 }')
            return Dist("constant", 0.0)
        kind = value.get("dist", "exponential")
        mean: Any = value.get("mean")
        cv: Any = value.get("cv", 1.0)
        extra = set(value) - {"dist", "mean", "cv"}
        if extra:
            self.error(f"{key}.{sorted(extra)[0]}", "unknown key; expected dist, mean, cv")
        if kind not in ("exponential", "lognormal", "constant"):
            self.error(f"{key}.dist", f"{kind!r} is not one of exponential, lognormal, constant")
            return Dist("constant", 0.0)
        if not _positive(mean):
            self.error(f"{key}.mean", f"must be > 0 seconds, not {mean!r}")
            return Dist("constant", 0.0)
        if not _positive(cv):
            self.error(f"{key}.cv", f"must be > 0, not {cv!r}")
            return Dist("constant", 0.0)
        return Dist(kind, float(mean), float(cv))

    def share(self, tbl: Mapping[str, Any], where: str, key: str, default: float) -> float:
        value = tbl.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            self.error(f"{where}.{key}", f"must be a share between 0 and 1, not {value!r}")
            return default
        return float(value)

    def seconds(
        self, tbl: Mapping[str, Any], where: str, key: str, default: float, *, zero: bool = False
    ) -> float:
        value = tbl.get(key, default)
        if zero and value == 0 and not isinstance(value, bool):
            return 0.0
        if not _positive(value):
            self.error(f"{where}.{key}", f"must be {'>= 0' if zero else '> 0'} seconds, not {value!r}")
            return default
        return float(value)


def _positive(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


def default_spec(config: Config) -> LoadSpec:
    """The `[sipp]` defaults for `config`: its IVR digits and default queue."""
    default_queue = config.calls.default_queue or (config.queues[0].name if config.queues else None)
    return LoadSpec(digits=default_digits(config), default_queue=default_queue)


def default_digits(config: Config) -> dict[str, str]:
    """IVR digits per queue: the config's `[calls] ivr` inverted where it has one (one key per
    queue), else 1, 2, 3... in queue order (up to 9 queues)."""
    digits = {queue: key for key, queue in config.calls.ivr.items() if len(key) == 1}
    if digits:
        return digits
    return {q.name: str(i + 1) for i, q in enumerate(config.queues[:9])}


# -- the three standard shapes --------------------------------------------------------------------


def shape_profile(
    shape: str,
    cps: float,
    duration: float,
    config: Config,
    *,
    spec: LoadSpec | None = None,
    patience: Dist = SHAPE_PATIENCE,
    talk: Dist = SHAPE_TALK,
    sl_t: float = 20.0,
    seed: int = 1,
) -> LoadProfile:
    """A load profile in one of the `SHAPES`, peaking at `cps` calls per second:

    - steady: `cps` for the whole run;
    - ramp: ten equal steps from cps/10 up to cps;
    - spike: cps/5 (the "ordinary" load), then `cps` (x5, the market open) from a third of the
      run for a sixth of it, then cps/5 again.

    Classes mix as 30 % trading, 40 % registered, 30 % other (the classes the config has); queues
    share the calls equally. Trading callers are judged on 10 s, the others on `sl_t`."""
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}; expected one of {', '.join(SHAPES)}")
    if not (math.isfinite(cps) and cps > 0):
        raise ValueError(f"the rate must be > 0 calls per second, not {cps:g}")
    if not (math.isfinite(duration) and duration > 0):
        raise ValueError(f"the duration must be > 0 seconds, not {duration:g}")
    if shape == "steady":
        points = [(0.0, cps)]
    elif shape == "ramp":
        points = [(duration * i / 10, cps * (i + 1) / 10) for i in range(10)]
    else:
        base = cps / 5
        points = [(0.0, base), (duration / 3, cps), (duration / 2, base)]
    rates = [(t, r * 3600.0) for t, r in points]
    classes = {c.name: DEFAULT_CLASSES.get(c.name, 0.1) for c in config.classes}
    total = sum(classes.values())
    queues = [q.name for q in config.queues]
    streams = tuple(
        Stream(cls, queue, tuple((t, r * share / total / len(queues)) for t, r in rates))
        for cls, share in classes.items()
        for queue in queues
    )
    sl_by_class = {"trading": 10.0} if "trading" in classes else {}
    profile = Profile(
        streams=streams,
        path=Path(f"<{shape} {cps:g} cps, {duration:g} s>"),
        start=0.0,
        end=float(duration),
        interval=max(1.0, duration / 10),
        seed=seed,
        sl_t=sl_t,
        sl_t_by_class=sl_by_class,
        handle=talk,
        patience=patience,
    )
    return _checked(LoadProfile(profile, spec or default_spec(config)), profile.path)
