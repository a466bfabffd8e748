"""The `esl-router` command line.

    esl-router check-config FILE        validate a config file and summarise it
    esl-router run --config FILE        route the calls of one centre's FreeSWITCH (production)
    esl-router agents-xml --config FILE the agents as FreeSWITCH directory users
    esl-router demo [--config FILE]     the router, a simulated FreeSWITCH and synthetic callers
                                        and agents on loopback, with live counts
    esl-router sim [--config FILE] [--profile FILE] [--out DIR]
                                        simulate a day of traffic (capacity planning)
    esl-router staffing --queue Q --rate R [--sl X --t T]
                                        agents needed: Erlang formula and simulation

Exit codes: 0 success, 1 invalid config or failed command, 2 bad command-line usage.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from router.config import Config, ConfigError, Step, load_config
from router.sim.cli import add_commands as add_planning_commands

__all__ = ["default_config_path", "main"]

DEFAULT_EXAMPLE = "national_27plus1.toml"


def default_config_path() -> Path:
    """examples/national_27plus1.toml of the source tree this package runs from."""
    return Path(__file__).resolve().parent.parent / "examples" / DEFAULT_EXAMPLE


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with all subcommands."""
    parser = argparse.ArgumentParser(
        prog="esl-router",
        description="FreeSWITCH ESL call-routing engine with a Rust queue and scoring core.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    check = sub.add_parser(
        "check-config",
        help="validate a TOML config file and print a summary",
        description="Validate a TOML config file (also through the routing core) and print a "
        "one-screen summary. Exit code 0 when valid, 1 with the problems on stderr otherwise.",
    )
    check.add_argument("file", metavar="FILE", type=Path, help="the TOML config file")

    run = sub.add_parser(
        "run",
        help="connect to FreeSWITCH and route its calls until SIGTERM",
        description="Connect to FreeSWITCH's event socket ([esl] in the config; the password from "
        "ESL_ROUTER_ESL_PASSWORD or [esl] password) and route every call the dialplan parks. "
        "SIGHUP reloads the config; SIGTERM drains (waiting callers stay parked for the next "
        "router) and exits.",
    )
    run.add_argument("--config", metavar="FILE", type=Path, required=True, help="TOML config file")
    run.add_argument("--host", help="event socket host (default: [esl] host)")
    run.add_argument("--port", type=int, help="event socket port (default: [esl] port)")
    run.add_argument(
        "--drain-timeout",
        metavar="S",
        type=float,
        default=10.0,
        help="on SIGTERM, seconds to let ringing agents answer (default: 10)",
    )
    run.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )

    agents_xml = sub.add_parser(
        "agents-xml",
        help="print the FreeSWITCH directory users of a config's agents",
        description="Print a FreeSWITCH directory include with one user per agent of the config, "
        "named by agent id (what the router rings with user/{agent}); see freeswitch_conf/.",
    )
    agents_xml.add_argument("--config", metavar="FILE", type=Path, required=True)

    demo = sub.add_parser(
        "demo",
        help="the router against a simulated FreeSWITCH, with synthetic callers and agents",
        description="Start the FreeSWITCH simulator on loopback, connect the real router to it, "
        "log agents in, and send a seeded burst of synthetic callers of every class; every "
        "routing decision is printed with the core's explanation under a live line of counts, "
        "then a summary. Time is compressed (--speed) so that it ends in well under a minute.",
    )
    demo.add_argument(
        "--config",
        metavar="FILE",
        type=Path,
        default=None,
        help=f"TOML config file (default: examples/{DEFAULT_EXAMPLE})",
    )
    demo.add_argument(
        "--calls", metavar="N", type=_positive, default=120, help="callers (default: 120)"
    )
    demo.add_argument("--seed", metavar="S", type=int, default=1, help="random seed (default: 1)")
    demo.add_argument(
        "--speed",
        metavar="X",
        type=float,
        default=30.0,
        help="time compression: policy durations divided by X (default: 30)",
    )
    demo.add_argument(
        "--agents",
        metavar="N",
        type=_positive,
        default=None,
        help="agents logged in (default: a quarter of the config's)",
    )
    add_planning_commands(sub, DEFAULT_EXAMPLE)  # sim, staffing: they set their own `run`
    return parser


def summarise(config: Config, out: TextIO) -> None:
    """The one-screen summary `check-config` prints."""
    by_centre = config.agents_by_centre()
    lines = sum(c.lines for c in config.centres)
    print(f"config {config.path}", file=out)
    print(f"  this router's centre: {config.centre}", file=out)
    n_regions = len(config.regions) + sum(1 for c in config.centres if c.region is None)
    print(
        f"  centres: {len(config.centres)} in {n_regions} region(s), "
        f"{lines:,} trunk lines, {len(config.agents):,} agents",
        file=out,
    )
    grouped: dict[str, list[str]] = {}
    for centre in config.centres:
        region = centre.region or "(own region)"
        grouped.setdefault(region, []).append(f"{centre.name} {len(by_centre[centre.name])}")
    for region, names in grouped.items():
        print(f"    {region}: {', '.join(names)}", file=out)
    classes = ", ".join(
        f"{c.name} (base {c.base:g}, ageing {c.ageing:g}/s)" for c in config.classes
    )
    print(f"  classes: {classes}", file=out)
    print(
        f"  queues: {len(config.queues)} (steps: after, scope, -level_delta, /own agent first)",
        file=out,
    )
    for q in config.queues:
        needs = ", ".join(f"{s}>={lvl}" for s, lvl in q.required) or "no skill"
        staffed = sum(1 for a in config.agents if config.can_staff(q, a))
        steps = ", ".join(_step_text(s) for s in q.steps)
        print(
            f"    {q.name:<11} needs {needs:<16} aht {q.aht:>3g}s  staffed {staffed:>4}  steps {steps}",
            file=out,
        )
    print(f"  selection: {config.selection.strategy}", file=out)
    for warning in config.warnings:
        print(f"  warning: {warning}", file=out)
    print("OK", file=out)


def _step_text(step: Step) -> str:
    """e.g. "0s centre/own agent", "150s any-1" (level_delta 1)."""
    text = f"{step.after:g}s {step.scope}"
    if step.level_delta:
        text += f"-{step.level_delta}"
    return text + ("/own agent" if step.preferred_only else "")


def _check_config(args: argparse.Namespace) -> int:
    config = load_config(args.file)
    summarise(config, sys.stdout)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from router.demo import run_demo  # imported here: only the demo needs it

    path = args.config or default_config_path()
    if args.config is None and not path.exists():
        print(
            f"esl-router: error: the default example {path} is not there (installed without the "
            "source tree?); pass --config FILE",
            file=sys.stderr,
        )
        return 1
    config = load_config(path)
    for warning in config.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if not args.speed > 0:
        print("esl-router: error: --speed must be > 0", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    run_demo(
        config,
        calls=args.calls,
        seed=args.seed,
        out=sys.stdout,
        speed=args.speed,
        agents=args.agents,
    )
    return 0


def _agents_xml(args: argparse.Namespace) -> int:
    from router.fsconf import agents_xml

    sys.stdout.write(agents_xml(load_config(args.config)))
    return 0


def _run(args: argparse.Namespace) -> int:
    from router.run import run

    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return run(args.config, host=args.host, port=args.port, drain_timeout=args.drain_timeout)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    commands = {"check-config": _check_config, "demo": _demo, "run": _run, "agents-xml": _agents_xml}
    handler = commands.get(args.command)
    handler = handler or args.run
    try:
        return handler(args)
    except ConfigError as exc:
        print(f"esl-router: error: invalid config\n{exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # e.g. `esl-router demo | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
