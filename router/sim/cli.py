"""The planners' subcommands of `esl-router`: `sim` (a day of traffic through the routing core) and
`staffing` (agents needed for a service level, by formula and by simulation). `router.cli`
registers them with `add_commands`."""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from collections.abc import Callable
from pathlib import Path

from router.config import Config, load_config
from router.sim.profile import Dist, Profile, ProfileError, Stream, load_profile

__all__ = ["add_commands", "default_profile"]

Handler = Callable[[argparse.Namespace], int]

# The shape of a trading day (relative call rates from each hour on; 1.0 = the market-open peak),
# used when no profile is given.
DAY_SHAPE = (
    ("00:00", 0.03), ("07:00", 0.08), ("08:00", 0.2), ("09:00", 0.45), ("09:15", 0.6),
    ("09:30", 1.0), ("09:45", 0.8), ("10:30", 0.65), ("11:30", 0.3), ("13:00", 0.75),
    ("13:15", 0.6), ("15:00", 0.4), ("16:00", 0.25), ("18:00", 0.12), ("21:00", 0.06),
)  # fmt: skip
CLASS_MIX = {"trading": 0.45, "registered": 0.35, "other": 0.2}


def _number(
    kind: type[float] | type[int], *, minimum: float, strict: bool
) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not math.isfinite(value) or value < minimum or (strict and value == minimum):
            raise argparse.ArgumentTypeError(
                f"must be {'>' if strict else '>='} {minimum:g}, not {text}"
            )
        return value

    return parse


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be a share strictly between 0 and 1, not {text}")
    return value


def add_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], default_config: str
) -> None:
    """Add `sim` and `staffing` to the `esl-router` subparsers; each sets `run` to its handler."""
    positive = _number(float, minimum=0, strict=True)
    sim = sub.add_parser(
        "sim",
        help="simulate a day of traffic through the routing core (capacity planning)",
        description="Run a day of simulated calls through the real routing core on a simulated "
        "clock: arrivals by class and queue from a traffic profile, talk and patience times, "
        "shifts. Prints a table by class, queue, centre and interval and writes a CSV, a JSON "
        "summary and PNG plots of the service level and queue lengths into --out.",
    )
    sim.add_argument(
        "--config",
        metavar="FILE",
        type=Path,
        default=None,
        help=f"the router's TOML config (default: examples/{default_config})",
    )
    sim.add_argument(
        "--profile",
        metavar="FILE",
        type=Path,
        default=None,
        help="traffic profile TOML (default: a built-in trading day scaled to the "
        "config's agents; see examples/trading_day.toml)",
    )
    sim.add_argument(
        "--out",
        metavar="DIR",
        type=Path,
        default=Path("sim-out"),
        help="where to write the CSV, summary and plots (default: sim-out)",
    )
    sim.add_argument(
        "--scale",
        metavar="X",
        type=positive,
        default=None,
        help="multiply the agents and the arrival rates (e.g. 12.14: 412 -> 5,000)",
    )
    sim.add_argument("--seed", metavar="S", type=int, default=None, help="override the seed")
    sim.add_argument(
        "--baseline",
        action="store_true",
        help="route FIFO to the longest-idle agent (mod_callcenter) instead of the "
        "config's class policy",
    )
    sim.add_argument(
        "--admission",
        choices=("router", "lines", "none"),
        default=None,
        help="router: the config's line allocation ([[centres]] lines, line_shares; [calls] "
        "max_expected_wait, exempt_classes, refuse_action), overflow rules and callbacks; "
        "lines: the trunk lines only, a caller who finds them all busy is lost; none: every "
        "caller gets a line (default: router, or lines with --baseline)",
    )
    sim.add_argument(
        "--time-limit",
        metavar="SEC",
        type=positive,
        default=None,
        help="stop after SEC wall-clock seconds (results are marked partial)",
    )
    sim.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    sim.add_argument("--brief", action="store_true", help="print the day only, no intervals")  # fmt: skip

    staff = sub.add_parser(
        "staffing",
        help="agents needed for a service level: Erlang formula and simulation side by side",
        description="How many agents does QUEUE need so that a share SL of calls is answered "
        "within T seconds? Answers by formula (Erlang C, or Erlang A with --patience) and by "
        "simulating the queue through the routing core around that answer, with 99.9 %% "
        "confidence intervals from batch means.",
    )
    staff.add_argument(
        "--config",
        metavar="FILE",
        type=Path,
        default=None,
        help=f"the router's TOML config (default: examples/{default_config})",
    )
    staff.add_argument("--queue", metavar="Q", required=True, help="queue name from the config")
    staff.add_argument(
        "--rate", metavar="R", type=positive, required=True, help="offered calls per hour"
    )
    staff.add_argument(
        "--aht",
        metavar="S",
        type=positive,
        default=None,
        help="average handle time, seconds (default: the queue's aht)",
    )
    staff.add_argument(
        "--sl",
        metavar="X",
        type=_share,
        default=0.8,
        help="service-level target, a share (default 0.8)",
    )
    staff.add_argument(
        "--t",
        metavar="T",
        type=_number(float, minimum=0, strict=False),
        default=20.0,
        help="service-level threshold, seconds (default 20)",
    )
    staff.add_argument(
        "--patience",
        metavar="S",
        type=positive,
        default=None,
        help="mean caller patience, seconds: Erlang A (default: nobody hangs up)",
    )
    staff.add_argument(
        "--batches",
        metavar="N",
        type=int,
        choices=(10, 20, 30, 40),
        default=20,
        help="simulation batches (10, 20, 30 or 40; default 20)",
    )
    staff.add_argument(
        "--batch-hours",
        metavar="H",
        type=positive,
        default=None,
        help="simulated hours per batch (default: about 100,000 calls per staff size)",
    )
    staff.add_argument("--seed", metavar="S", type=int, default=1, help="random seed")  # fmt: skip
    sim.set_defaults(run=_sim)
    staff.set_defaults(run=_staffing)


def _config(path: Path | None) -> Config:
    from router.cli import default_config_path

    config = load_config(path or default_config_path())
    for warning in config.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return config


def default_profile(config: Config) -> Profile:
    """A trading day for any config: DAY_SHAPE, callers of every class, each queue's calls in
    proportion to the agents who can take it, and a market-open peak of 90 % of the agents' work;
    everyone on duty all day, exponential times, patience 2 minutes."""
    classes = {c.name: CLASS_MIX.get(c.name, 1.0 / len(config.classes)) for c in config.classes}
    staff = {q.name: sum(config.can_staff(q, a) for a in config.agents) for q in config.queues}
    total_staff = sum(staff.values()) or 1
    mean_aht = sum(staff[q.name] * q.aht for q in config.queues) / total_staff
    peak = 0.9 * len(config.agents) * 3600.0 / mean_aht  # calls per hour at the open
    class_total = sum(classes.values())
    streams = []
    for cls, c_share in classes.items():
        for queue, n in staff.items():
            share = c_share / class_total * n / total_staff
            if share > 0:
                rates = tuple((_hhmm(t), peak * share * f) for t, f in DAY_SHAPE)
                streams.append(Stream(cls, queue, rates))
    return Profile(
        streams=tuple(streams),
        path=Path("<built-in trading day>"),
        sl_t_by_class={"trading": 10.0} if "trading" in classes else {},
        patience=Dist("exponential", 120.0),
        wrap_up=10.0,
    )


def _hhmm(text: str) -> float:
    h, m = text.split(":")
    return int(h) * 3600.0 + int(m) * 60.0


def _sim(args: argparse.Namespace) -> int:
    from router.sim.capacity import baseline_policy, simulate
    from router.sim.report import format_report, progress_printer, write_outputs

    config = _config(args.config)
    try:
        profile = load_profile(args.profile, config) if args.profile else default_profile(config)
    except ProfileError as exc:
        print(f"esl-router: error: invalid traffic profile\n{exc}", file=sys.stderr)
        return 1
    if args.profile is None:
        print(f"no --profile: {profile.path} for {len(config.agents)} agents", file=sys.stderr)
    if args.scale is not None:
        profile = dataclasses.replace(profile, scale=args.scale)
    if args.seed is not None:
        profile = dataclasses.replace(profile, seed=args.seed)
    policy = baseline_policy(config) if args.baseline else None
    label = "FIFO / longest idle (baseline)" if args.baseline else "class policy"
    admission = args.admission or ("lines" if args.baseline else "router")
    show = progress_printer(sys.stderr)
    try:
        result = simulate(
            config, profile, policy=policy, label=label, admission=admission, progress=show,
            time_limit=args.time_limit,
        )  # fmt: skip
    except ProfileError as exc:
        print(f"esl-router: error: invalid traffic profile\n{exc}", file=sys.stderr)
        return 1
    if sys.stderr.isatty():
        print(file=sys.stderr)
    format_report(result, sys.stdout, intervals=not args.brief)
    paths = write_outputs(result, args.out, plots=not args.no_plots)
    print(f"\nwrote {', '.join(str(p) for p in paths)}")
    if result.partial:
        print(f"esl-router: warning: PARTIAL results: {result.partial}", file=sys.stderr)
        return 1
    return 0


def _staffing(args: argparse.Namespace) -> int:
    from router.sim.staffing import staffing_table

    config = _config(args.config)
    try:
        spec = config.queue(args.queue)
    except KeyError:
        names = ", ".join(q.name for q in config.queues)
        print(f"esl-router: error: no queue {args.queue!r} in {config.path}; queues: {names}",
              file=sys.stderr)  # fmt: skip
        return 1
    aht = args.aht or spec.aht
    rate = args.rate / 3600.0
    model = "Erlang C" if args.patience is None else f"Erlang A, patience {args.patience:g} s"
    print(
        f"queue {spec.name}: {args.rate:g} calls/h x AHT {aht:g} s = {rate * aht:.2f} Erlang; "
        f"target {100 * args.sl:g} % answered within {args.t:g} s"
    )

    def progress(n: int) -> None:
        print(f"  simulating {n} agents...", file=sys.stderr, flush=True)

    needed, rows = staffing_table(
        config, spec.name, rate=rate, aht=aht, sl_target=args.sl, t=args.t,
        patience=args.patience, batches=args.batches, batch_hours=args.batch_hours,
        seed=args.seed, progress=progress,
    )  # fmt: skip
    print(f"by formula ({model}): {needed} agents")
    meets = [r.agents for r in rows if r.service_level.mean >= args.sl]
    if meets:
        sim_needed = f"{min(meets)} agents"
    else:
        sim_needed = f"more than {max(r.agents for r in rows)} agents"
    print(
        f"by simulation through the routing core: {sim_needed} (the fewest whose simulated SL "
        f"reaches the target; {args.batches} batches after a warm-up, {rows[0].calls:,} calls "
        "each run, ± = 99.9 % interval)"
    )
    print(
        f"\n  {'agents':>6}  {'SL formula':>10}  {'SL simulated':>16}  {'ASA formula':>11}  "
        f"{'ASA simulated':>16}  {'P(wait) f.':>10}  {'P(wait) sim':>15}  {'abandon f.':>10}  "
        f"{'abandon sim':>15}"
    )
    for r in rows:
        f = r.formula
        print(
            f"  {r.agents:>6}  {100 * f.service_level:>9.1f}%  "
            f"{_pm(r.service_level.mean, r.service_level.half_width, 100, '%'):>16}  "
            f"{_s(f.asa):>11}  {_pm(r.asa.mean, r.asa.half_width, 1, 's'):>16}  "
            f"{100 * f.p_wait:>9.1f}%  {_pm(r.p_wait.mean, r.p_wait.half_width, 100, '%'):>15}  "
            f"{100 * f.p_abandon:>9.1f}%  "
            f"{_pm(r.abandon_rate.mean, r.abandon_rate.half_width, 100, '%'):>15}"
            + ("   <- formula" if r.agents == needed else "")
        )
    return 0


def _s(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value:.1f}s"


def _pm(mean: float, half: float, factor: float, unit: str) -> str:
    return f"{factor * mean:.1f}{unit} ± {factor * half:.1f}"
