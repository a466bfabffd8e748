"""The market-open surge: arrivals x5 for 15 minutes (09:30-09:45) with fixed staff, simulated
through the routing core on the same callers under four set-ups in one run, all on the config's
trunk (60 lines: a caller who finds no line for them gets a busy message and is lost, unless the
set-up calls them back):

- **policy**: esl-router as a centre would run it for the open: the config's class policy, and
  the router's admission (router/routing/admission.py) on the config's trunk lines and line
  shares plus ``[calls] max_expected_wait`` (60 s), ``exempt_classes`` (trading) and
  ``refuse_action = "callback"``: a caller (not trading) whose queue's expected wait is over a
  minute, or whose class is over its line share, and any caller (trading too) who finds no line
  for them, is called back instead of holding. The config gets a class ``callback`` 900 s below
  the lowest class (bases must be >= 0, so the config's classes are all raised by 900: only
  differences count) and ``[calls.callback] class = "callback"``: a callback moves into that
  class keeping its enqueue time, so among callbacks it keeps its place, and it overtakes a live
  caller only after waiting 15 minutes longer than them (a callback never hangs up; in the
  caller's class, with the policy's ageing, it would overtake a trading caller who arrives more
  than 200 s after it: docs/routing-policy.md, "The bound we guarantee"). Before an agent is
  rung for a callback, the router checks that a line is free for the callback's class (the
  ``callback`` class has no line share: it may use the lines no other class has reserved); if
  none is, the agent is free at once and the callback waits 5 s out of the queue, then returns
  in its place. All of it goes through the router's own config parser.
- **policy_ownclass**: the same config without ``[calls.callback] class`` (the router's default):
  a callback waits in the caller's own class.
- **priority**: the class policy alone (the trunk lines, no admission, no callbacks).
- **fifo**: the FIFO / longest-idle baseline (what FreeSWITCH's mod_callcenter does: one priority
  for everyone, the longest-idle agent takes the call) on the same trunk lines.

Definitions (the day = every call offered 07:30-21:00, pooled over the seeds):

- *offered*: every caller who rang, including those refused a line;
- *answered*: an agent answered while the caller held (**live**), or an agent's callback reached
  the customer (**via callback**, counted as answered; its *delay* is from the call to the
  callback's connection); *lost*: hung up on hold, refused and not called back, callback given up;
- *answer rate* = answered (live + via callback) / offered;
- *SL* of a class = calls of the class answered **live** within T / **offered** calls of the class
  (T = 10 s for trading callers, 20 s for the others): a callback, an abandoned or a refused caller
  counts against it.

Target (issue 4): trading SL >= 90 % within 10 s under the policy while the day's answer rate stays
>= 96 % (``target_met`` in the JSON line: the policy run, pooled over the seeds).

Staffing (fixed all day, 07:45-20:15): each desk (the agents who can take a queue at its configured
level, in the config's mix) staffed by Erlang C for the base day's busiest rate (520 calls/h, 13:00
-15:00, no surge), handle time = the queue's aht + 10 s wrap-up, at 90 % in 10 s for the trading
desk and 80 % in 20 s for the others: what a planner staffs for an ordinary day, chosen before
and without looking at the surge. `--staffing config` uses the config's own roster instead (the
brief's 50-agent centre).

Callers: Poisson arrivals, log-normal talk times (cv 0.8), exponential patience (trading 90 s,
registered 150 s, other 120 s). Callbacks: 90 % of the callers offered one have a usable number
(the rest are lost), the customer answers a try with probability 0.75 after 8 s; the router's side
comes from the config's ``[calls.callback]``, or the router's defaults when it has none (an
unanswered try rings 30 s, 3 tries, 300 s apart), plus the ``class`` above. Several seeds: pooled
figures, and each figure's spread over the seeds (min, max, standard deviation). Then a staffing
sweep: the smallest fixed staff (the same desks, scaled; the trunk grown with it at the config's
1.2 lines an agent) with which each set-up meets the target. The last line of output is one JSON
object.

What it found (seeds 1-10, 43 agents by Erlang C): the target is **not** met by any set-up. The
policy gives trading SL 85.4 % (seeds 82.4-87.5 %) and an answer rate of 95.7 % (95.3-96.3 %);
callbacks in the caller's class 81.3 % and 94.5 %; the class policy alone 88.6 % and 91.7 %;
FIFO 84.7 % and 91.5 %. The sweep needs 52 agents under the policy, 67 with callbacks in the
caller's class, 75 with the class policy alone and 89 under FIFO. The ``callback`` class, with
no line share, may use only lines no other class holds in reserve (at most 21 of the 60 while
few trading and registered callers hold lines), so after the surge callbacks wait for a line (a
mean 1,059 s from the call to the connection) while agents are free, and a free agent is offered
a blocked callback every 5 s (``callback_line_waits_per_day_policy``, about 28,000 a day); a line
share for the class is a config choice this study does not make.

    python bench/surge.py                # 10 seeds and the staffing sweep, about 1.5 minutes
    python bench/surge.py --no-sweep     # 10 seeds only, about 30 s
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import statistics
import sys
import tomllib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from router.config import Agent, Config, load_config, parse_config
from router.sim.capacity import (
    SimResult,
    Stats,
    baseline_policy,
    scaled_agents,
    simulate,
)
from router.sim.profile import CallbackModel, Dist, Profile, Stream, clock_text
from router.sim.staffing import desk_staffing, roster_for

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "examples" / "single_centre_50.toml"
H = 3600.0
SURGE_START, SURGE_END = 9.5 * H, 9.75 * H
SURGE_FACTOR = 5.0
WRAP_UP = 10.0

# The centre's ordinary day, calls per hour from each time on (about 4,200 calls). The market opens
# at 09:30; the afternoon session starts at 13:00; the line closes to agents at 20:00.
BASE_DAY = [
    (8.0, 165.0), (9.0, 365.0), (9.5, 440.0), (9.75, 510.0), (10.5, 475.0), (11.5, 255.0),
    (13.0, 520.0), (15.0, 330.0), (16.0, 220.0), (18.0, 120.0), (20.0, 0.0),
]  # fmt: skip
# Who calls about what: trading customers mostly about their orders (the trading desk),
# registered customers also about advice and the HK / futures markets.
CLASSES = {"trading": 0.30, "registered": 0.40, "other": 0.30}
QUEUES_BY_CLASS = {
    "trading": {"trading": 0.85, "hk_stocks": 0.05, "futures": 0.10},
    "registered": {"trading": 0.50, "advisory": 0.25, "hk_stocks": 0.12, "futures": 0.13},
    "other": {"trading": 0.70, "advisory": 0.20, "hk_stocks": 0.05, "futures": 0.05},
}
PATIENCE = {"trading": 90.0, "registered": 150.0, "other": 120.0}  # mean seconds, exponential
SL_T = {"trading": 10.0, "registered": 20.0, "other": 20.0}
# Erlang C staffing targets per desk (share answered, within seconds), for the base day.
DESK_TARGETS = {
    "trading": (0.90, 10.0),
    "advisory": (0.80, 20.0),
    "hk_stocks": (0.80, 20.0),
    "futures": (0.80, 20.0),
}
CALLBACK = CallbackModel(accept=0.9, answer=0.75, pickup=8.0)
MAX_EXPECTED_WAIT = 60.0
TARGET_SL, TARGET_ANSWER_RATE = 0.90, 0.96
RUNS = ("policy", "policy_ownclass", "priority", "fifo")
TITLES = {
    "policy": "policy: priority + admission + callbacks in their class",
    "policy_ownclass": "the same, callbacks in the caller's class",
    "priority": "class policy, trunk only",
    "fifo": "FIFO / longest idle, trunk only",
}
CALLBACK_CLASS, CALLBACK_BELOW = "callback", 900.0
DEFAULT_DIAL = "sofia/gateway/pstn/{number}"


def rates_with_surge(factor: float) -> tuple[tuple[float, float], ...]:
    """BASE_DAY with the 09:30-09:45 rate multiplied by `factor`."""
    out: list[tuple[float, float]] = []
    for hour, rate in BASE_DAY:
        t = hour * H
        out.append((t, rate * factor if SURGE_START <= t < SURGE_END else rate))
    return tuple(out)


def queue_share(queue: str) -> float:
    """The share of all calls that go to `queue`."""
    return sum(share * QUEUES_BY_CLASS[cls].get(queue, 0.0) for cls, share in CLASSES.items())


def surge_profile(seed: int, factor: float = SURGE_FACTOR) -> Profile:
    """The day, as a profile: every agent on duty 07:45-20:15 (fixed staff), 15-minute intervals."""
    day = rates_with_surge(factor)
    streams = tuple(
        Stream(cls, queue, tuple((t, r * share * q_share) for t, r in day), {"main": 1.0})
        for cls, share in CLASSES.items()
        for queue, q_share in QUEUES_BY_CLASS[cls].items()
    )
    return Profile(
        streams=streams,
        path=Path("bench/surge.py"),
        start=7.5 * H,
        end=21.0 * H,
        interval=900.0,
        seed=seed,
        wrap_up=WRAP_UP,
        sl_t=20.0,
        sl_t_by_class={"trading": SL_T["trading"]},
        dialect_preference=0.0,
        handle=Dist("lognormal", None, 0.8),
        patience=Dist("exponential", PATIENCE["other"]),
        patience_by_class={c: Dist("exponential", m) for c, m in PATIENCE.items()},
        callback=CALLBACK,
    )


def erlang_desks(config: Config) -> dict[str, int]:
    """Agents per desk by Erlang C for the base day's busiest rate (see the module docstring)."""
    peak = max(rate for _, rate in BASE_DAY) / H
    rates = {q: peak * queue_share(q) for q in DESK_TARGETS}
    return desk_staffing(config, rates, DESK_TARGETS, wrap_up=WRAP_UP)


def study_data(path: Path, *, max_expected_wait: float, refuse: str) -> dict[str, Any]:
    """The config file's TOML with the study's settings, as an operator would write them:
    ``[calls] max_expected_wait`` and ``refuse_action``; with callbacks, ``[calls.callback]`` (the
    router's defaults, dialling through a gateway, when the file has none) with ``class =
    "callback"``, and that class ``CALLBACK_BELOW`` s below the file's lowest (the file's classes
    raised by as much, since bases are >= 0)."""
    data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    calls = data.setdefault("calls", {})
    calls["max_expected_wait"] = max_expected_wait
    calls["refuse_action"] = refuse
    if refuse == "callback":
        lowest = min(float(c["base"]) for c in data["classes"])
        raise_by = max(0.0, CALLBACK_BELOW - lowest)
        for cls in data["classes"]:
            cls["base"] = float(cls["base"]) + raise_by
        data["classes"].append(
            {"name": CALLBACK_CLASS, "base": lowest + raise_by - CALLBACK_BELOW, "ageing": 1.0}
        )
        callback = calls.setdefault("callback", {"dial": DEFAULT_DIAL})
        callback["class"] = CALLBACK_CLASS
    return data


def study_config(path: Path, *, max_expected_wait: float, refuse: str) -> Config:
    """The study's config (`study_data`), through the router's own parser and checks."""
    data = study_data(path, max_expected_wait=max_expected_wait, refuse=refuse)
    config = parse_config(data, path)
    config.build_core()  # the core's own checks, as load_config
    return config


def own_class(config: Config) -> Config:
    """`config` without ``[calls.callback] class``: callbacks wait in the caller's class."""
    callback = config.calls.callback
    if callback is None or callback.cls is None:
        return config
    calls = dataclasses.replace(config.calls, callback=dataclasses.replace(callback, cls=None))
    return dataclasses.replace(config, calls=calls)


def with_agents(config: Config, agents: Sequence[Agent]) -> Config:
    """`config` with another roster."""
    return dataclasses.replace(config, agents=tuple(agents))


def day_runs(config: Config, seeds: Sequence[int], run: str) -> list[SimResult]:
    """The surge day of each seed under one set-up (one of RUNS)."""
    policy = baseline_policy(config) if run == "fifo" else None
    admission = "router" if run.startswith("policy") else "lines"
    if run == "policy_ownclass":
        config = own_class(config)
    profiles = [surge_profile(s) for s in seeds]
    return [simulate(config, p, policy=policy, label=run, admission=admission) for p in profiles]


def pooled(results: Sequence[SimResult], dim: str, key: str, interval: int = -1) -> Stats:
    """One key's stats summed over runs (for the day, or one interval)."""
    total = Stats()
    for r in results:
        index = r.names(dim).index(key)
        total.add(r.stats(dim).get((interval, index), Stats()))
    return total


def surge_interval(result: SimResult) -> int:
    """The index of the 09:30-09:45 interval."""
    return [t0 for t0, _ in result.intervals].index(SURGE_START)


def figures(results: Sequence[SimResult]) -> dict[str, Any]:
    """The figures of a set of runs, pooled."""
    iv = surge_interval(results[0])
    day = pooled(results, "all", "all")
    out: dict[str, Any] = {
        "answer_rate": day.answer_rate,
        "live_answer_rate": day.live_answer_rate,
        "sl": day.service_level,
        "abandon_rate": day.abandon_rate,
        "refused": day.refused / day.offered,
        "refused_lost": day.refused_lost / day.offered,
        "callbacks": day.callbacks / day.offered,
        "called_back": day.called_back / day.offered,
        "callback_failed": day.callback_failed / day.offered,
        "callback_delay": day.mean_callback_delay,
        "unresolved": day.unresolved,
        "occupancy": day.occupancy,
    }
    for cls in CLASSES:
        st = pooled(results, "class", cls)
        surge = pooled(results, "class", cls, iv)
        out[f"{cls}_sl"] = st.service_level
        out[f"{cls}_answer_rate"] = st.answer_rate
        out[f"{cls}_asa"] = st.asa
        out[f"{cls}_called_back"] = st.called_back / st.offered if st.offered else None
        out[f"{cls}_sl_surge"] = surge.service_level
        out[f"{cls}_answer_rate_surge"] = surge.answer_rate
    return out


def meets_target(f: Mapping[str, Any]) -> bool:
    """Trading SL >= 90 % within 10 s and the day's answer rate >= 96 %."""
    return bool(
        (f["trading_sl"] or 0) >= TARGET_SL and (f["answer_rate"] or 0) >= TARGET_ANSWER_RATE
    )


def spread(results: Sequence[SimResult], key: str) -> dict[str, float]:
    """A figure's spread over the seeds: min, max and standard deviation of the per-seed values."""
    values = [figures([r])[key] or 0.0 for r in results]
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return {"min": round(min(values), 4), "max": round(max(values), 4), "sd": round(sd, 4)}


def with_staff(config: Config, n: int, lines_per_agent: float) -> Config:
    """`config` with its roster scaled to `n` agents and every centre's trunk grown (never shrunk)
    to `lines_per_agent` lines an agent: a centre that adds agents adds lines."""
    centres = tuple(
        dataclasses.replace(c, lines=max(c.lines, math.ceil(lines_per_agent * n - 1e-9)))
        for c in config.centres
    )
    agents = scaled_agents(config.agents, n / len(config.agents))
    return dataclasses.replace(config, agents=tuple(agents), centres=centres)


def staff_needed(
    config: Config, seeds: Sequence[int], run: str, *, lines_per_agent: float, upto: int
) -> tuple[int | None, dict[str, Any]]:
    """The smallest fixed staff (`config`'s roster, scaled; the trunk grown with it) that meets
    the target under `run`, searched from the roster's size up in steps of 4, then back down;
    with its pooled figures."""

    def attempt(n: int) -> dict[str, Any] | None:
        f = figures(day_runs(with_staff(config, n, lines_per_agent), seeds, run))
        return f if meets_target(f) else None

    start = n = len(config.agents)
    fig = attempt(n)
    while fig is None and n + 4 <= upto:
        n += 4
        fig = attempt(n)
    if fig is None:
        return None, {}
    best = n
    for smaller in range(n - 1, max(start - 1, n - 4), -1):
        f = attempt(smaller)
        if f is None:
            break
        best, fig = smaller, f
    return best, fig


def pct(v: float | None) -> str:
    return "     -" if v is None else f"{100 * v:5.1f}%"


def secs(v: float | None) -> str:
    return "     -" if v is None else f"{v:5.0f} s"


def print_table(figs: Mapping[str, Mapping[str, Any]]) -> None:
    """The three set-ups side by side."""
    print(f"  {'':<38} {'policy':>9} {'own class':>9} {'priority':>9} {'FIFO/idle':>9}")
    rows: list[tuple[str, str, Callable[[Any], str]]] = [
        ("answer rate, day (live + callback)", "answer_rate", pct),
        ("  answered live", "live_answer_rate", pct),
        ("  answered via callback", "called_back", pct),
        ("abandoned on hold", "abandon_rate", pct),
        ("refused a line", "refused", pct),
        ("  of them lost (no callback)", "refused_lost", pct),
        ("callbacks requested", "callbacks", pct),
        ("  given up after 3 tries", "callback_failed", pct),
        ("  mean delay to connection", "callback_delay", secs),
        ("service level, day", "sl", pct),
    ]
    for cls in CLASSES:
        rows += [
            (f"{cls}: SL (T {SL_T[cls]:g} s), day", f"{cls}_sl", pct),
            (f"{cls}: SL, surge 15 min", f"{cls}_sl_surge", pct),
            (f"{cls}: answer rate, day", f"{cls}_answer_rate", pct),
        ]
    rows.append(("agent occupancy, day", "occupancy", pct))
    for title, key, fmt in rows:
        print(f"  {title:<38} " + " ".join(f"{fmt(figs[r][key]):>9}" for r in RUNS))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10, help="days simulated per set-up")
    parser.add_argument("--first-seed", type=int, default=1, help="seeds first-seed, +1, ...")
    parser.add_argument("--config", type=Path, default=CONFIG)
    parser.add_argument(
        "--staffing",
        choices=("erlang", "config"),
        default="erlang",
        help="erlang: each desk by Erlang C for the base day (default); config: the config's roster",
    )
    parser.add_argument(
        "--max-expected-wait",
        type=float,
        default=MAX_EXPECTED_WAIT,
        help="[calls] max_expected_wait of the policy run, seconds (0: no expected-wait check)",
    )
    parser.add_argument(
        "--refuse",
        choices=("callback", "hangup"),
        default="callback",
        help='[calls] refuse_action of the policy run (default "callback")',
    )
    parser.add_argument("--no-sweep", action="store_true", help="skip the staffing sweep")
    args = parser.parse_args(argv)
    base = load_config(args.config)
    config = study_config(args.config, max_expected_wait=args.max_expected_wait, refuse=args.refuse)
    if args.staffing == "erlang":
        desks = erlang_desks(config)
        config = with_agents(config, roster_for(config, desks))
        targets = ", ".join(
            f"{q} {n} ({100 * DESK_TARGETS[q][0]:g} % in {DESK_TARGETS[q][1]:g} s)"
            for q, n in desks.items()
        )
        basis = (
            f"Erlang C per desk for the base day's busiest rate ({max(r for _, r in BASE_DAY):g} "
            f"calls/h, no surge), handle = queue aht + {WRAP_UP:g} s wrap-up: {targets}"
        )
    else:
        desks = {}
        basis = f"the roster of {base.path.name} as configured"
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    runs = {run: day_runs(config, seeds, run) for run in RUNS}
    for run in RUNS[1:]:
        for a, b in zip(runs["policy"], runs[run], strict=True):
            assert a.arrival == b.arrival, "every set-up must see the same callers"
    figs = {run: figures(results) for run, results in runs.items()}
    p, o, q, f = (figs[run] for run in RUNS)
    calls = sum(r.calls for r in runs["policy"]) / len(seeds)
    surge_calls = pooled(
        runs["policy"], "all", "all", surge_interval(runs["policy"][0])
    ).offered / len(seeds)
    wall = sum(r.wall for results in runs.values() for r in results)
    lines = next(c.lines for c in config.centres)
    print(
        f"market-open surge: {base.path.name}, {len(config.agents)} agents on duty all day "
        f"({basis}); {lines} trunk lines; {calls:,.0f} calls a day, of which {surge_calls:,.0f} "
        f"in {clock_text(SURGE_START)}-{clock_text(SURGE_END)} (x{SURGE_FACTOR:g}); "
        f"{len(seeds)} seeds pooled, {wall:.1f} s"
    )
    print(
        f"policy = class policy + admission (max_expected_wait {args.max_expected_wait:g} s, "
        f"exempt {', '.join(config.calls.exempt_classes)}, refuse_action {args.refuse!r}), "
        f"[calls.callback] class {CALLBACK_CLASS!r} ({CALLBACK_BELOW:g} s below the lowest "
        "class): a callback waits there in its place, and is dialled only when a line is free "
        "for it; own class = the same, callbacks in the caller's class; priority = class policy, "
        "trunk only; FIFO/idle = mod_callcenter, trunk only"
    )
    print(
        "SL = answered live within T / offered; answer rate = (answered live + callbacks that "
        "reached the customer) / offered\n"
    )
    print_table(figs)
    met = {run: meets_target(figs[run]) for run in RUNS}
    seeds_met = sum(meets_target(figures([r])) for r in runs["policy"])
    print(
        f"\ntarget (trading SL >= {100 * TARGET_SL:g} % in 10 s, day answer rate >= "
        f"{100 * TARGET_ANSWER_RATE:g} %) with {len(config.agents)} agents: "
        + ", ".join(f"{run} {'met' if met[run] else 'NOT met'}" for run in RUNS)
        + f" (policy: met on {seeds_met} of {len(seeds)} seeds)"
    )
    keys = ("trading_sl", "answer_rate", "other_sl", "trading_sl_surge")
    summary: dict[str, Any] = {
        "trading_sl_policy": round(p["trading_sl"], 4),
        "trading_sl_fifo": round(f["trading_sl"], 4),
        "answer_rate_policy": round(p["answer_rate"], 4),
        "answer_rate_fifo": round(f["answer_rate"], 4),
        "other_sl_policy": round(p["other_sl"], 4),
        "other_sl_fifo": round(f["other_sl"], 4),
        "registered_sl_policy": round(p["registered_sl"], 4),
        "trading_sl_priority": round(q["trading_sl"], 4),
        "answer_rate_priority": round(q["answer_rate"], 4),
        "trading_sl_policy_ownclass": round(o["trading_sl"], 4),
        "answer_rate_policy_ownclass": round(o["answer_rate"], 4),
        "other_sl_policy_ownclass": round(o["other_sl"], 4),
        "trading_sl_surge_policy": round(p["trading_sl_surge"], 4),
        "trading_sl_surge_fifo": round(f["trading_sl_surge"], 4),
        "trading_sl_surge_priority": round(q["trading_sl_surge"], 4),
        "live_answer_rate_policy": round(p["live_answer_rate"], 4),
        "callback_answer_rate_policy": round(p["called_back"], 4),
        "callbacks_requested_policy": round(p["callbacks"], 4),
        "callbacks_failed_policy": round(p["callback_failed"], 4),
        "callback_delay_mean_s": p["callback_delay"] and round(p["callback_delay"], 1),
        "refused_lost_policy": round(p["refused_lost"], 4),
        "callback_line_waits_per_day_policy": round(
            sum(r.callback_line_waits for r in runs["policy"]) / len(seeds), 1
        ),
        "callback_class": config.calls.callback and config.calls.callback.cls,
        "calls_per_day": round(calls),
        "surge_calls": round(surge_calls),
        "agents": len(config.agents),
        "agents_by_desk": desks or None,
        "staffing_basis": basis,
        "max_expected_wait": args.max_expected_wait,
        "refuse_action": args.refuse,
        "seeds": len(seeds),
        "first_seed": seeds[0],
        "spread_policy": {k: spread(runs["policy"], k) for k in keys},
        "spread_policy_ownclass": {k: spread(runs["policy_ownclass"], k) for k in keys[:2]},
        "spread_fifo": {k: spread(runs["fifo"], k) for k in keys[:2]},
        "target_met_policy": met["policy"],
        "target_met_policy_ownclass": met["policy_ownclass"],
        "target_met_priority": met["priority"],
        "target_met_fifo": met["fifo"],
        "target_met_seeds_policy": seeds_met,
        "target_met": met["policy"],
    }
    if not args.no_sweep:
        upto = 3 * len(config.agents)
        ratio = next(c.lines for c in base.centres) / len(base.agents)
        print(
            "\nfixed staff needed for the target (the same desks, scaled; the trunk grown to "
            f"{ratio:g} lines an agent as in {base.path.name}, never below {lines}):"
        )
        for run in RUNS:
            name = TITLES[run]
            n, fig = staff_needed(config, seeds, run, lines_per_agent=ratio, upto=upto)
            summary[f"agents_needed_{run}"] = n
            if n is None:
                print(f"  {name:<56} more than {upto} agents")
            else:
                print(
                    f"  {name:<56} {n} agents: trading SL {pct(fig['trading_sl'])} (surge "
                    f"{pct(fig['trading_sl_surge'])}), answer rate {pct(fig['answer_rate'])}, "
                    f"other SL {pct(fig['other_sl'])}"
                )
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
