"""The command line of bench/sipp_run.py (see `python bench/sipp_run.py --help` and
bench/sipp/README.md). The report goes to stdout and into the output directory; its last line is
one JSON object. Progress and errors go to stderr. Exit status: 0 done, 1 partial results (the run
was cut short: FreeSWITCH refused or never answered, Ctrl-C, SIPp died), 2 bad input."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from router.config import Config, ConfigError, load_config
from router.loadtest.figures import Figures, format_report
from router.loadtest.plan import (
    SHAPES,
    LoadProfile,
    Plan,
    load_load_profile,
    make_plan,
    shape_profile,
)
from router.loadtest.run import (
    RunOptions,
    command_lines,
    dry_run_text,
    execute,
    prepare,
    write_outputs,
)
from router.loadtest.sipp import SCENARIOS, SippError, find_sipp, validate_scenario

__all__ = ["main", "write_directory"]

ROOT = Path(__file__).resolve().parents[2]
PASSWORD_ENV = "ESL_ROUTER_AGENT_PASSWORD"


class UsageError(ValueError):
    """A bad argument (exit status 2)."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="sipp_run.py",
        description="Drive FreeSWITCH + esl-router with SIPp callers and agent phones and report "
        "BHCA, answer rate, service level per class, ASA, abandonment and routing latency.",
    )
    p.add_argument(
        "--config",
        default=str(ROOT / "examples" / "single_centre_50.toml"),
        help="the router's config: classes, queues, agents (default: %(default)s)",
    )
    traffic = p.add_argument_group("traffic (a profile file, or a standard shape)")
    traffic.add_argument("--profile", help="a load profile (TOML; bench/sipp/profiles/*.toml)")
    traffic.add_argument(
        "--shape",
        choices=SHAPES,
        help="steady, ramp (10 steps up to --cps) or "
        "spike (x5 for a sixth of the run: the market open)",
    )
    traffic.add_argument("--cps", type=float, default=5.0, help="peak calls per second of --shape")
    traffic.add_argument("--duration", type=float, default=120.0, help="seconds of --shape traffic")
    traffic.add_argument(
        "--seed", type=int, help="random seed of the plan (default: the profile's)"
    )
    where = p.add_argument_group("where")
    where.add_argument(
        "--target",
        default="127.0.0.1:5060",
        help="FreeSWITCH's SIP address, host[:port] (default %(default)s)",
    )
    where.add_argument("--service", help="the number callers dial (default: the profile's)")
    where.add_argument(
        "--phones",
        default="5090",
        help="UDP ports of the agent-phone SIPp instances, comma-separated (default %(default)s)",
    )
    where.add_argument(
        "--local-ip",
        help="this machine's address as FreeSWITCH reaches it "
        "(default: the one routed towards --target)",
    )
    where.add_argument(
        "--register",
        metavar="DOMAIN",
        help="register the config's agents as "
        f"directory users of DOMAIN first (password: ${PASSWORD_ENV})",
    )
    where.add_argument("--expires", type=int, default=3600, help="registration lifetime, seconds")
    where.add_argument(
        "--metrics-url", help="the router's Prometheus metrics, read before and after"
    )
    run = p.add_argument_group("run")
    run.add_argument("--out", default="sipp-out", help="output directory (default %(default)s)")
    run.add_argument(
        "--drain",
        type=float,
        default=120.0,
        help="seconds to let calls end after the traffic (default %(default)s)",
    )
    run.add_argument(
        "--answer-timeout",
        type=float,
        default=15.0,
        help="give up when FreeSWITCH answers no call in this many seconds (default %(default)s)",
    )
    run.add_argument("--sipp", help="the sipp executable (default: sipp on PATH)")
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="write the injection files and print the exact sipp commands, run nothing",
    )
    run.add_argument(
        "--loopback",
        action="store_true",
        help="self-test without FreeSWITCH: SIPp stand-ins answer the callers and ring the phones",
    )
    run.add_argument(
        "--sim",
        action="store_true",
        help="no SIP: the same plan through esl-router on the project's FreeSWITCH simulator (ESL)",
    )
    run.add_argument("--validate", action="store_true", help="check that SIPp loads every scenario")
    run.add_argument(
        "--write-directory",
        metavar="CSV",
        help="write a customer directory "
        "(number,class) of the caller-number ranges for the router, and exit",
    )
    return p  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.validate:
            return _validate(args)
        config = load_config(args.config)
        if args.write_directory:
            n = write_directory(Path(args.write_directory), config, args)
            print(json.dumps({"directory": args.write_directory, "customers": n}))
            return 0
        load = _load(args, config)
        plan = make_plan(load, args.seed)
        if args.sim:
            return _simulated(args, config, plan)
        options = _options(args, config)
        exe = args.sipp or "sipp"
        if not args.dry_run:
            exe = find_sipp(args.sipp)
        prep = prepare(plan, options, exe)
        if args.dry_run:
            print(dry_run_text(prep))
            print(json.dumps({"dry_run": True, "calls": len(plan.callers), "steps": len(plan.steps),
                              "commands": len(prep.commands())}))  # fmt: skip
            return 0
        find_sipp(args.sipp)
        fig = execute(prep, say=lambda text: print(text, file=sys.stderr, flush=True))
    except (ConfigError, UsageError, SippError) as exc:
        print(f"sipp_run: error: {exc}", file=sys.stderr)
        return 2
    return _finish(fig, write_outputs(fig, options.out, command_lines(prep)))


def _finish(fig: Figures, paths: Sequence[Path]) -> int:
    format_report(fig, sys.stdout)
    print(f"\nfiles: {', '.join(str(p) for p in paths)}")
    print(json.dumps(fig.summary()))
    return 1 if fig.partial else 0


def _simulated(args: argparse.Namespace, config: Config, plan: Plan) -> int:
    """--sim: the plan through the router on the FreeSWITCH simulator."""
    if args.loopback or args.register or args.dry_run:
        raise UsageError(
            "--sim runs no SIPp: it does not go with --loopback, --register, --dry-run"
        )
    if not (math.isfinite(args.drain) and args.drain > 0):
        raise UsageError(f"--drain must be above 0 seconds, not {args.drain:g}")
    from router.loadtest.esl_sim import run_on_simulator  # gevent and the router: only here

    fig = run_on_simulator(
        plan, config, drain=args.drain, say=lambda text: print(text, file=sys.stderr, flush=True)
    )
    return _finish(fig, write_outputs(fig, Path(args.out)))


def _load(args: argparse.Namespace, config: Config) -> LoadProfile:
    if args.profile and args.shape:
        raise UsageError("give --profile or --shape, not both")
    if args.profile:
        load = load_load_profile(args.profile, config)
    else:
        if not (math.isfinite(args.cps) and args.cps > 0):
            raise UsageError(f"--cps must be a rate above 0 calls per second, not {args.cps:g}")
        if not (math.isfinite(args.duration) and args.duration > 0):
            raise UsageError(f"--duration must be above 0 seconds, not {args.duration:g}")
        load = shape_profile(args.shape or "steady", args.cps, args.duration, config)
    if args.service:
        if not args.service.isalnum():
            raise UsageError(f"--service must be the number callers dial, not {args.service!r}")
        load = dataclasses.replace(load, spec=dataclasses.replace(load.spec, service=args.service))
    return load


def _options(args: argparse.Namespace, config: Config) -> RunOptions:
    try:
        phones = tuple(int(p) for p in args.phones.split(","))
    except ValueError:
        raise UsageError(
            f"--phones must be UDP ports separated by commas, not {args.phones!r}"
        ) from None
    if not phones or not all(0 < p < 65536 for p in phones):
        raise UsageError(f"--phones must be UDP ports (1-65535), not {args.phones!r}")
    host, _, port = args.target.partition(":")
    if not host or (port and not (port.isdigit() and 0 < int(port) < 65536)):
        raise UsageError(f"--target must be host[:port], not {args.target!r}")
    for name in ("drain", "answer_timeout"):
        value = getattr(args, name)
        if not (math.isfinite(value) and value > 0):
            raise UsageError(f"--{name.replace('_', '-')} must be above 0 seconds, not {value:g}")
    password = os.environ.get(PASSWORD_ENV)
    if args.register and password is None:
        raise UsageError(f"--register needs the agents' SIP password in ${PASSWORD_ENV}")
    if args.register and (not password or any(ch in password for ch in " ;]\t\r\n")):
        raise UsageError(f"${PASSWORD_ENV} must be one word without ';' or ']' (SIPp's syntax)")
    return RunOptions(
        target=f"{host}:{port or 5060}",
        out=Path(args.out),
        phones=phones,
        local_ip=args.local_ip,
        drain=args.drain,
        answer_timeout=args.answer_timeout,
        register_domain=args.register,
        register_password=password,
        register_expires=args.expires,
        agents=tuple(a.id for a in config.agents) if args.register else (),
        loopback=args.loopback,
        metrics_url=args.metrics_url,
    )


def write_directory(path: Path, config: Config, args: argparse.Namespace) -> int:
    """The router's customer directory (`number,class`) for every number of the caller ranges,
    except those of class `other`: an unknown caller is `other` anyway."""
    if args.profile:
        numbers = load_load_profile(args.profile, config).spec.numbers
    else:
        numbers = shape_profile("steady", 1.0, 60.0, config).spec.numbers
    n = 0
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        fh.write("number,class\n")
        for cls, (first, last) in numbers.items():
            if cls == "other":
                continue
            for number in range(first, last + 1):
                fh.write(f"{number},{cls}\n")
                n += 1
    return n


def _validate(args: argparse.Namespace) -> int:
    exe = find_sipp(args.sipp)
    samples = {
        "caller.xml": "8613800100000;trading;trading;3000;1;#;60000",
        "agent.xml": "answer;2000;30000",
        "agent_register.xml": "1001;127.0.0.1;[authentication username=1001 password=x];5090",
        "standin/fs_callers.xml": "connect;1000;5000;agent-1",
        "standin/fs_agents.xml": "8613800100000;agent-1;60000",
        "standin/registrar.xml": None,
    }
    extra = {"agent_register.xml": ("-key", "agent_host", "127.0.0.1", "-key", "expires", "60")}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for name, line in samples.items():
        csv = None
        if line is not None:
            csv = out / f"validate-{name.replace('/', '-')}.csv"
            csv.write_text(f"SEQUENTIAL\n{line}\n", encoding="ascii")
        error = validate_scenario(exe, SCENARIOS / name, csv=csv, extra=extra.get(name, ()))
        print(f"{name}: {'ok' if error is None else error}")
        failed += error is not None
    return 1 if failed else 0
