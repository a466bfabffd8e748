"""Traffic profiles for the capacity simulator: when calls arrive, of which class and queue, from
which centre, how long they talk and wait, and who is on shift.

A profile is a small TOML file beside the router's own config (the config says who the agents are
and how calls are routed; the profile says what traffic they face). Times are "HH:MM" (or
"HH:MM:SS", or seconds since midnight); rates are calls per hour, piecewise constant from each time
on. Every field is optional except `[arrivals]`:

    [sim]
    start = "00:00"          end = "24:00"         the simulated period (arrivals stop at `end`)
    interval = 1800          reporting interval, seconds
    seed = 1                 scale = 1.0           scale multiplies agents and arrival rates
    wrap_up = 10.0           seconds of after-call work before an agent takes the next call
    sl_t = 20.0              service-level threshold T, seconds; sl_t_by_class = { trading = 10 }

    [arrivals]               the whole network's calls per hour, split by class x queue mix
    rates = [["00:00", 120], ["09:00", 2400], ["09:30", 9000], ...]
    classes = { trading = 0.45, registered = 0.35, other = 0.20 }
    queues = { trading = 0.6, advisory = 0.2, ... }
    homes = "lines"          caller's home centre by trunk lines, or { hq = 2, beijing = 1, ... }
    dialect_preference = 1.0 weight of the home centre's dialects as preferred skills (0: none)

    [[arrivals.streams]]     extra traffic with its own rates: class, queue, rates, homes

    [handle]                 talk time: dist = "exponential" | "lognormal" | "constant",
    dist = "lognormal"       mean (default: the queue's aht), cv (lognormal, default 1)
    cv = 0.8
    [handle.queues.complaints]  per-queue override (same keys)

    [patience]               how long a caller waits before hanging up: as [handle] plus
    dist = "exponential"     dist = "none" (never hangs up); mean is required
    mean = 120
    [patience.classes.trading]  per-class override

    [callback]               callers' side of callbacks (the router's side is [calls] in the config:
    accept = 0.9             refuse_action = "callback", overflow rules with callback = true):
    answer = 0.75            accept: share of callers offered a callback who get one (a usable
    pickup = 8.0             number); answer: chance the customer answers one try; pickup: seconds
                             their phone rings first. Stand-ins used while the config has no
    ring_timeout = 30        [calls.callback]: ring_timeout (seconds an unanswered try rings),
    attempts = 3             attempts (tries before giving up), retry_after (seconds between
    retry_after = 300        tries). The class a callback waits in is the router's too:
                             [calls.callback] class in the config.

    [[shifts]]               who works when: of every group of identical agents (same centre and
    start = "08:30"          skills), `share` work this shift (largest remainder); filters
    end = "17:00"            centres = [...] and prefix = "hq-" narrow the agents it applies to.
    share = 0.5              Agents on no shift are off; with no [[shifts]] everyone works all day.

Everything is validated against the config: a mistake names the file, the key and the fix.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from router.config import Config, ConfigError, QueueSpec
from router.config.checks import choices

__all__ = [
    "DAY",
    "CallbackModel",
    "Dist",
    "Profile",
    "ProfileError",
    "Shift",
    "Stream",
    "check_profile",
    "clock_text",
    "load_profile",
    "parse_profile",
]

DAY = 86400.0
DISTS = ("exponential", "lognormal", "constant", "none")


class ProfileError(ConfigError):
    """A traffic profile is unreadable or invalid (same shape as ConfigError: file, key, message)."""


@dataclass(frozen=True)
class Dist:
    """A distribution of durations in seconds. `mean` None means "the queue's aht" (handle times);
    kind "none" is forever (a caller who never hangs up)."""

    kind: str = "exponential"
    mean: float | None = None
    cv: float = 1.0


@dataclass(frozen=True)
class Stream:
    """Calls of one class to one queue, at `rates` calls per hour from each time on; homes weighted
    by `homes` (None: by the centres' trunk lines)."""

    cls: str
    queue: str
    rates: tuple[tuple[float, float], ...]
    homes: Mapping[str, float] | None = None

    def rate_at(self, t: float) -> float:
        """Calls per hour at time `t` (0 before the first entry)."""
        rate = 0.0
        for start, value in self.rates:
            if start > t:
                break
            rate = value
        return rate


@dataclass(frozen=True)
class CallbackModel:
    """How callers behave when offered a callback, and stand-ins for the router's callback
    settings (`[calls.callback]` ring_timeout, attempts, retry_after) for configs without them."""

    accept: float = 1.0  # share of callers offered a callback who get one (usable number)
    answer: float = 1.0  # chance the customer answers one try
    pickup: float = 8.0  # seconds the customer's phone rings before they answer
    ring_timeout: float = 30.0
    attempts: int = 3
    retry_after: float = 300.0


@dataclass(frozen=True)
class Shift:
    """A working period for `share` of every group of identical agents the filters select."""

    start: float
    end: float
    share: float
    centres: tuple[str, ...] | None = None
    prefix: str | None = None
    name: str = ""

    def applies_to(self, agent_id: str, centre: str) -> bool:
        """Whether this shift's filters select the agent."""
        if self.centres is not None and centre not in self.centres:
            return False
        return self.prefix is None or agent_id.startswith(self.prefix)


@dataclass(frozen=True)
class Profile:
    """A validated traffic profile (see the module docstring for the meaning of each field)."""

    streams: tuple[Stream, ...]
    path: Path = Path("<profile>")
    start: float = 0.0
    end: float = DAY
    interval: float = 1800.0
    seed: int = 1
    scale: float = 1.0
    wrap_up: float = 0.0
    sl_t: float = 20.0
    sl_t_by_class: Mapping[str, float] = field(default_factory=dict)
    dialect_preference: float = 1.0
    handle: Dist = Dist("exponential")
    handle_by_queue: Mapping[str, Dist] = field(default_factory=dict)
    patience: Dist = Dist("none")
    patience_by_class: Mapping[str, Dist] = field(default_factory=dict)
    shifts: tuple[Shift, ...] = ()
    callback: CallbackModel = CallbackModel()

    def sl_threshold(self, cls: str) -> float:
        """The service-level threshold T of a class, seconds."""
        return self.sl_t_by_class.get(cls, self.sl_t)

    def handle_dist(self, queue: QueueSpec) -> Dist:
        """The handle-time distribution of a queue, with its mean filled in."""
        dist = self.handle_by_queue.get(queue.name, self.handle)
        return dist if dist.mean is not None else Dist(dist.kind, queue.aht, dist.cv)

    def patience_dist(self, cls: str) -> Dist:
        """The patience distribution of a class."""
        return self.patience_by_class.get(cls, self.patience)


def clock_text(t: float) -> str:
    """Seconds since midnight as "HH:MM" (or "HH:MM:SS" when not on a minute)."""
    whole = int(round(t))
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    return f"{h:02d}:{m:02d}" + (f":{s:02d}" if s else "")


def load_profile(path: str | Path, config: Config) -> Profile:
    """Read, parse and validate a profile file against `config` (ProfileError on any mistake)."""
    file = Path(path)
    return parse_profile(read_toml(file), file, config)


def read_toml(file: Path) -> dict[str, Any]:
    """A profile file's TOML data; ProfileError naming the file on any mistake (also used for
    the load tester's rate profiles)."""
    try:
        text = file.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ProfileError(file, [("", "no such file; check the path")]) from None
    except OSError as exc:
        raise ProfileError(file, [("", f"cannot read: {exc.strerror}")]) from exc
    except UnicodeDecodeError as exc:
        raise ProfileError(file, [("", f"not UTF-8 text (byte {exc.start})")]) from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(file, [("", f"TOML syntax error: {exc}")]) from exc


def parse_profile(data: Mapping[str, Any], path: Path, config: Config) -> Profile:
    """Validate already-parsed TOML data (see the module docstring) against `config`."""
    profile = _Parser(path, config).parse(data)
    check_profile(profile, config)
    return profile


def check_profile(profile: Profile, config: Config) -> None:
    """Check a profile (parsed, or built in code) against the config: every class, queue and centre
    exists and every queue that gets calls has agents who can take it, on some shift."""
    problems: list[tuple[str, str]] = []
    classes = [c.name for c in config.classes]
    queues = {q.name: q for q in config.queues}
    centres = [c.name for c in config.centres]
    if not profile.end > profile.start:
        problems.append(("sim.end", "must be after sim.start"))
    for key, value in (("sim.interval", profile.interval), ("sim.scale", profile.scale)):
        if not (math.isfinite(value) and value > 0):
            problems.append((key, f"must be > 0, not {value:g}"))
    for i, stream in enumerate(profile.streams):
        key = f"arrivals.streams[{i}]"
        if stream.cls not in classes:
            problems.append(
                (f"{key}.class", f"unknown class {stream.cls!r}; {choices(stream.cls, classes)}")
            )
        if stream.queue not in queues:
            problems.append(
                (f"{key}.queue", f"unknown queue {stream.queue!r}; {choices(stream.queue, queues)}")
            )
        for j, (t, rate) in enumerate(stream.rates):
            if not (math.isfinite(rate) and rate >= 0):
                problems.append(
                    (f"{key}.rates[{j}]", f"a rate must be >= 0 calls per hour, not {rate:g}")
                )
            if j and t <= stream.rates[j - 1][0]:
                problems.append((f"{key}.rates[{j}]", "times must increase; sort the entries"))
        for centre in stream.homes or {}:
            if centre not in centres:
                problems.append(
                    (f"{key}.homes.{centre}", f"unknown centre; {choices(centre, centres)}")
                )
    if problems:
        raise ProfileError(profile.path, problems)
    # A queue that is offered calls must have someone who can take it (at its most relaxed step),
    # and, when there are shifts, someone on a shift.
    busy = {s.queue for s in profile.streams if any(rate > 0 for _, rate in s.rates)}
    for name in sorted(busy):
        queue = queues[name]
        able = [a for a in config.agents if config.can_staff(queue, a, relaxed=True)]
        needs = ", ".join(f"{s} >= {lvl}" for s, lvl in queue.required) or "no skill"
        if not able:
            problems.append(
                (
                    "arrivals",
                    f"queue {name!r} is offered calls but no agent of {config.path.name} "
                    f"can take it (it needs {needs}); add agents with that skill to the config or "
                    "give the queue no calls",
                )
            )
        elif profile.shifts and not any(
            s.applies_to(a.id, a.centre) for s in profile.shifts for a in able
        ):
            problems.append(
                (
                    "shifts",
                    f"queue {name!r} is offered calls but none of the {len(able)} agents "
                    f"who can take it (needs {needs}) is on any shift; add a shift for them",
                )
            )
    if problems:
        raise ProfileError(profile.path, problems)


class _Parser:
    """Walks the TOML data once, collecting every problem before raising."""

    def __init__(self, path: Path, config: Config) -> None:
        self.path = path
        self.config = config
        self.problems: list[tuple[str, str]] = []

    def error(self, key: str, message: str) -> None:
        self.problems.append((key, message))

    def parse(self, data: Mapping[str, Any]) -> Profile:
        top = self.table(data, "", ("sim", "arrivals", "handle", "patience", "shifts", "callback"))
        sim = self.table(
            top.get("sim", {}),
            "sim",
            ("start", "end", "interval", "seed", "scale", "wrap_up", "sl_t", "sl_t_by_class"),
        )
        start = self.time(sim, "sim", "start", 0.0)
        end = self.time(sim, "sim", "end", DAY)
        if start is not None and end is not None and end <= start:
            self.error("sim.end", f"must be after sim.start ({clock_text(start)})")
        interval = self.number(sim, "sim", "interval", 1800.0, positive=True)
        seed = sim.get("seed", 1)
        if isinstance(seed, bool) or not isinstance(seed, int):
            self.error("sim.seed", f"must be an integer, not {seed!r}")
            seed = 1
        scale = self.number(sim, "sim", "scale", 1.0, positive=True)
        wrap_up = self.number(sim, "sim", "wrap_up", 0.0)
        sl_t = self.number(sim, "sim", "sl_t", 20.0)
        sl_by_class = self.named_numbers(sim.get("sl_t_by_class", {}), "sim.sl_t_by_class", "class")

        if "arrivals" not in top:
            self.error("arrivals", "missing; add an [arrivals] table with rates and mixes")
        arrivals = self.table(
            top.get("arrivals", {}),
            "arrivals",
            ("rates", "classes", "queues", "homes", "dialect_preference", "streams"),
        )
        streams = self.arrivals(arrivals)
        dialect = self.number(arrivals, "arrivals", "dialect_preference", 1.0)

        handle, handle_by = self.dists(
            top.get("handle", {}), "handle", "queues", mean_required=False
        )
        patience, patience_by = self.dists(
            top.get("patience", {"dist": "none"}), "patience", "classes", mean_required=True
        )
        shifts = self.shifts(top.get("shifts", []))
        callback = self.callback(top.get("callback", {}))
        if self.problems:
            raise ProfileError(self.path, self.problems)
        assert start is not None and end is not None and interval is not None and scale is not None
        assert wrap_up is not None and sl_t is not None and dialect is not None
        return Profile(
            streams=tuple(streams),
            path=self.path,
            start=start,
            end=end,
            interval=interval,
            seed=seed,
            scale=scale,
            wrap_up=wrap_up,
            sl_t=sl_t,
            sl_t_by_class=sl_by_class,
            dialect_preference=dialect,
            handle=handle,
            handle_by_queue=handle_by,
            patience=patience,
            patience_by_class=patience_by,
            shifts=tuple(shifts),
            callback=callback,
        )

    # -- sections ---------------------------------------------------------------------------------

    def arrivals(self, tbl: Mapping[str, Any]) -> list[Stream]:
        streams: list[Stream] = []
        if "rates" in tbl:
            rates = self.rates(tbl["rates"], "arrivals.rates")
            classes = self.mix(tbl.get("classes"), "arrivals.classes", "class")
            queues = self.mix(tbl.get("queues"), "arrivals.queues", "queue")
            homes = self.homes(tbl.get("homes", "lines"), "arrivals.homes")
            if rates is not None and classes and queues:
                for cls, c_share in classes.items():
                    for queue, q_share in queues.items():
                        share = c_share * q_share
                        if share > 0:
                            scaled = tuple((t, r * share) for t, r in rates)
                            streams.append(Stream(cls, queue, scaled, homes))
        elif "streams" not in tbl:
            self.error("arrivals.rates", "missing; give rates (with classes and queues) or streams")
        for key, item in self.array(tbl.get("streams", []), "arrivals.streams"):
            st = self.table(item, key, ("class", "queue", "rates", "homes"))
            for name in ("class", "queue", "rates"):
                if name not in st:
                    self.error(f"{key}.{name}", "missing; add it")
            s_cls, s_queue = st.get("class"), st.get("queue")
            s_rates = self.rates(st["rates"], f"{key}.rates") if "rates" in st else None
            s_homes = self.homes(st.get("homes", "lines"), f"{key}.homes")
            if isinstance(s_cls, str) and isinstance(s_queue, str) and s_rates is not None:
                streams.append(Stream(s_cls, s_queue, s_rates, s_homes))
            elif "class" in st and not isinstance(s_cls, str):
                self.error(f"{key}.class", f"must be a class name, not {s_cls!r}")
            elif "queue" in st and not isinstance(s_queue, str):
                self.error(f"{key}.queue", f"must be a queue name, not {s_queue!r}")
        return streams

    def rates(self, value: Any, key: str) -> tuple[tuple[float, float], ...] | None:
        if not isinstance(value, list) or not value:
            self.error(key, 'must be a non-empty list of ["HH:MM", calls per hour] pairs')
            return None
        result: list[tuple[float, float]] = []
        ok = True
        for i, item in enumerate(value):
            ikey = f"{key}[{i}]"
            if not (isinstance(item, list) and len(item) == 2):
                self.error(ikey, f'must be a ["HH:MM", calls per hour] pair, not {item!r}')
                ok = False
                continue
            t = self.parse_time(item[0], ikey)
            rate = item[1]
            if (
                isinstance(rate, bool)
                or not isinstance(rate, int | float)
                or not math.isfinite(rate)
            ):
                self.error(ikey, f"the rate must be a number of calls per hour, not {rate!r}")
                ok = False
            elif rate < 0:
                self.error(ikey, f"the rate must be >= 0 calls per hour, not {rate:g}")
                ok = False
            if t is None:
                ok = False
            elif result and t <= result[-1][0]:
                self.error(ikey, f"{clock_text(t)} is not after the previous entry; sort the rates")
                ok = False
            if ok:
                result.append((t, float(rate)))  # type: ignore[arg-type]
        return tuple(result) if ok else None

    def mix(self, value: Any, key: str, what: str) -> dict[str, float]:
        if value is None:
            self.error(key, f"missing; give the share of each {what}, e.g. {{ name = 0.5, ... }}")
            return {}
        shares = self.named_numbers(value, key, what)
        if shares and sum(shares.values()) <= 0:
            self.error(key, "the shares add up to 0; give at least one a positive share")
            return {}
        total = sum(shares.values())
        return {name: share / total for name, share in shares.items()}

    def homes(self, value: Any, key: str) -> dict[str, float] | None:
        if value == "lines":
            return None
        shares = self.named_numbers(value, key, "centre")
        if shares and sum(shares.values()) <= 0:
            self.error(key, 'the weights add up to 0; give one a positive weight or use "lines"')
        return shares

    def named_numbers(self, value: Any, key: str, what: str) -> dict[str, float]:
        """A { name = number >= 0 } table whose names are classes, queues or centres."""
        if not isinstance(value, dict):
            self.error(key, f"must be a table {{ {what} = number, ... }}, not {value!r}")
            return {}
        known = {
            "class": [c.name for c in self.config.classes],
            "queue": [q.name for q in self.config.queues],
            "centre": [c.name for c in self.config.centres],
        }[what]
        result: dict[str, float] = {}
        for name, number in value.items():
            nkey = f"{key}.{name}"
            if name not in known:
                self.error(nkey, f"unknown {what} {name!r}; {choices(name, known)}")
            elif isinstance(number, bool) or not isinstance(number, int | float):
                self.error(nkey, f"must be a number, not {number!r}")
            elif not math.isfinite(number) or number < 0:
                self.error(nkey, f"must be >= 0, not {number!r}")
            else:
                result[name] = float(number)
        return result

    def dists(
        self, value: Any, key: str, by: str, *, mean_required: bool
    ) -> tuple[Dist, dict[str, Dist]]:
        tbl = self.table(value, key, ("dist", "mean", "cv", by))
        default = self.dist(tbl, key, mean_required=mean_required)
        overrides: dict[str, Dist] = {}
        what = "queue" if by == "queues" else "class"
        known = (
            [q.name for q in self.config.queues]
            if by == "queues"
            else [c.name for c in self.config.classes]
        )
        sub = self.table(tbl.get(by, {}), f"{key}.{by}", None)
        for name, item in sub.items():
            ikey = f"{key}.{by}.{name}"
            if name not in known:
                self.error(ikey, f"unknown {what} {name!r}; {choices(name, known)}")
                continue
            itbl = self.table(item, ikey, ("dist", "mean", "cv"))
            merged = {"dist": default.kind, "cv": default.cv, **itbl}
            if "mean" not in itbl and default.mean is not None and merged["dist"] != "none":
                merged["mean"] = default.mean
            overrides[name] = self.dist(merged, ikey, mean_required=mean_required)
        return default, overrides

    def dist(self, tbl: Mapping[str, Any], key: str, *, mean_required: bool) -> Dist:
        kind = tbl.get("dist", "exponential")
        if kind not in DISTS or (kind == "none" and not mean_required):
            options = DISTS if mean_required else DISTS[:-1]
            self.error(f"{key}.dist", f"{kind!r} is not one of {', '.join(options)}")
            return Dist()
        if kind == "none":
            return Dist("none")
        mean = self.number(tbl, key, "mean", None, positive=True)
        if mean is None and mean_required and "mean" not in tbl:
            self.error(f"{key}.mean", "missing; give the mean in seconds")
        cv = self.number(tbl, key, "cv", 1.0, positive=True)
        return Dist(kind, mean, cv if cv is not None else 1.0)

    def callback(self, value: Any) -> CallbackModel:
        names = ("accept", "answer", "pickup", "ring_timeout", "attempts", "retry_after", "class")
        tbl = self.table(value, "callback", names)
        d = CallbackModel()
        shares = {}
        for name in ("accept", "answer"):
            share = self.number(tbl, "callback", name, getattr(d, name))
            if share is not None and share > 1:
                self.error(f"callback.{name}", f"must be a share in [0, 1], not {share:g}")
                share = None
            shares[name] = share if share is not None else getattr(d, name)
        pickup = self.number(tbl, "callback", "pickup", d.pickup)
        ring = self.number(tbl, "callback", "ring_timeout", d.ring_timeout, positive=True)
        retry = self.number(tbl, "callback", "retry_after", d.retry_after)
        attempts = tbl.get("attempts", d.attempts)
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
            self.error("callback.attempts", f"must be a whole number >= 1, not {attempts!r}")
            attempts = d.attempts
        if "class" in tbl:  # the router's setting, no longer a what-if of the profile's
            self.error(
                "callback.class",
                "the class a callback waits in is the router's: set class under [calls.callback] "
                "in the config, and remove it here",
            )
        return CallbackModel(
            shares["accept"],
            shares["answer"],
            d.pickup if pickup is None else pickup,
            d.ring_timeout if ring is None else ring,
            attempts,
            d.retry_after if retry is None else retry,
        )

    def shifts(self, value: Any) -> list[Shift]:
        result: list[Shift] = []
        centres = [c.name for c in self.config.centres]
        for key, item in self.array(value, "shifts"):
            tbl = self.table(item, key, ("name", "start", "end", "share", "centres", "prefix"))
            start = self.time(tbl, key, "start", None)
            end = self.time(tbl, key, "end", None)
            share = self.number(tbl, key, "share", 1.0)
            for name in ("start", "end"):
                if name not in tbl:
                    self.error(f"{key}.{name}", 'missing; give a time such as "08:30"')
            if start is not None and end is not None and end <= start:
                self.error(
                    f"{key}.end",
                    f"{clock_text(end)} is not after start {clock_text(start)}; "
                    "split a shift that crosses midnight into two",
                )
                continue
            if share is not None and not 0 < share <= 1:
                self.error(f"{key}.share", f"must be a share in (0, 1], not {share:g}")
                continue
            names = tbl.get("centres")
            if names is not None:
                if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                    self.error(f"{key}.centres", "must be a list of centre names")
                    continue
                for j, name in enumerate(names):
                    if name not in centres:
                        self.error(f"{key}.centres[{j}]", f"unknown centre; {choices(name, centres)}")
            prefix = tbl.get("prefix")
            if prefix is not None and not isinstance(prefix, str):
                self.error(f"{key}.prefix", "must be a string (the start of agent ids)")
                continue
            if start is None or end is None or share is None:
                continue
            result.append(
                Shift(
                    start,
                    end,
                    share,
                    None if names is None else tuple(names),
                    prefix,
                    str(tbl.get("name", key)),
                )
            )
        return result

    # -- typed getters ------------------------------------------------------------------------------

    def table(self, value: Any, key: str, allowed: Iterable[str] | None) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.error(key or "(top level)", f"must be a table, not {value!r}")
            return {}
        if allowed is not None:
            names = list(allowed)
            for name in value:
                if name not in names:
                    where = f"{key}.{name}" if key else name
                    self.error(where, f"unknown key; {choices(name, names)}")
        return value

    def array(self, value: Any, key: str) -> list[tuple[str, Any]]:
        if not isinstance(value, list):
            self.error(key, f"must be an array of tables ([[{key}]])")
            return []
        return [(f"{key}[{i}]", item) for i, item in enumerate(value)]

    def number(
        self,
        tbl: Mapping[str, Any],
        key: str,
        name: str,
        default: float | None,
        *,
        positive: bool = False,
    ) -> float | None:
        if name not in tbl:
            return default
        v = tbl[name]
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            self.error(f"{key}.{name}", f"must be a finite number, not {v!r}")
            return None
        if v < 0 or (positive and v == 0):
            self.error(f"{key}.{name}", f"must be {'> 0' if positive else '>= 0'}, not {v:g}")
            return None
        return float(v)

    def time(
        self, tbl: Mapping[str, Any], key: str, name: str, default: float | None
    ) -> float | None:
        if name not in tbl:
            return default
        return self.parse_time(tbl[name], f"{key}.{name}")

    def parse_time(self, value: Any, key: str) -> float | None:
        """ "HH:MM", "HH:MM:SS" (hours may exceed 24 for a second day) or seconds."""
        if isinstance(value, int | float) and not isinstance(value, bool):
            if math.isfinite(value) and value >= 0:
                return float(value)
        elif isinstance(value, str):
            match = re.fullmatch(r"(\d{1,3}):([0-5]\d)(?::([0-5]\d))?", value.strip())
            if match:
                h, m, s = match.group(1), match.group(2), match.group(3) or "0"
                return int(h) * 3600.0 + int(m) * 60.0 + int(s)
        self.error(key, f'{value!r} is not a time; write "HH:MM" (e.g. "09:30") or seconds')
        return None
