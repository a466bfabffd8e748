"""One load-test run: write the injection files, start the agent phones (and register them if
asked), play the callers at the plan's rate schedule, watch for a FreeSWITCH that refuses or never
answers, let the calls drain, stop everything, read SIPp's output and compute the figures.

`loopback` replaces FreeSWITCH and the router by two SIPp stand-ins (bench/sipp/standin): one
answers the callers and bridges them to a pretend agent after the plan's ring delay, the other
rings the agent phones with the callers' numbers. Nothing is routed; it checks the scenarios, the
harness and the figures end to end on one machine, without FreeSWITCH.
"""

from __future__ import annotations

import csv
import json
import random
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from router.loadtest import metrics as metrics_mod
from router.loadtest.figures import Figures, answer_time, compute, format_report, outcome
from router.loadtest.plan import Plan, write_csv
from router.loadtest.results import (
    AgentLeg,
    CallerCall,
    SippStats,
    pair_legs,
    parse_log,
    read_agent_log,
    read_caller_log,
    read_rtt,
    read_stat,
)
from router.loadtest.sipp import (
    SCENARIOS,
    Command,
    SippError,
    SippProcess,
    caller_command,
    free_udp_port,
    local_ip_towards,
    phone_command,
    register_command,
)

__all__ = [
    "Prepared",
    "RunOptions",
    "command_lines",
    "dry_run_text",
    "execute",
    "prepare",
    "write_outputs",
]

Say = Callable[[str], None]


@dataclass(frozen=True)
class RunOptions:
    """Where to send the calls and how to run (see bench/sipp_run.py --help)."""

    target: str = "127.0.0.1:5060"
    out: Path = Path("sipp-out")
    phones: tuple[int, ...] = (5090,)
    local_ip: str | None = None
    drain: float = 120.0
    answer_timeout: float = 15.0
    register_domain: str | None = None
    register_password: str | None = None
    register_expires: int = 3600
    agents: tuple[str, ...] = ()
    loopback: bool = False
    metrics_url: str | None = None


@dataclass
class Prepared:
    """The files written and the SIPp commands of a run, in start order."""

    plan: Plan
    options: RunOptions
    target: str
    local_ip: str
    standins: list[Command] = field(default_factory=list)
    phones: list[Command] = field(default_factory=list)
    register: Command | None = None
    callers: Command | None = None
    agent_standin: Command | None = None

    def commands(self) -> list[Command]:
        """Every command, in the order they start."""
        cmds = [*self.standins, *self.phones]
        cmds += [c for c in (self.register, self.callers, self.agent_standin) if c is not None]
        return cmds

    def schedule(self) -> list[str]:
        """The rate changes sent to the callers while they run."""
        assert self.callers is not None
        port = self.callers.control_port
        return [
            f"at +{t:g} s: echo 'cset rate {cps:g}' > /dev/udp/127.0.0.1/{port}"
            for t, cps in self.plan.steps[1:]
        ] + [f"at +{self.plan.duration:g} s: kill -USR1 <callers' pid>  (stop placing calls)"]


def prepare(plan: Plan, options: RunOptions, exe: str) -> Prepared:
    """Write the injection files into `options.out` and build every SIPp command."""
    out = options.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    if options.loopback:
        target = f"127.0.0.1:{free_udp_port()}"
        local_ip = "127.0.0.1"
        phones = tuple(free_udp_port() for _ in options.phones)
    else:
        target = options.target
        host, _, sip_port = target.rpartition(":")
        try:
            local_ip = options.local_ip or local_ip_towards(host or target, int(sip_port or 5060))
        except OSError as exc:
            raise SippError(
                f"cannot reach --target {target} ({exc}); check it or give --local-ip"
            ) from exc
        phones = options.phones
    prep = Prepared(plan, options, target, local_ip)
    callers_csv = write_csv(out / "callers.csv", (c.row() for c in plan.callers))
    for i, port in enumerate(phones):
        lines = plan.agents[i :: len(phones)]
        csv_path = write_csv(out / f"phones-{port}.csv", (a.row() for a in lines))
        prep.phones.append(
            phone_command(
                exe, out, csv=csv_path, local_ip=local_ip, port=port, control_port=free_udp_port()
            )
        )
    if options.register_domain and options.agents:
        registrar = target
        if options.loopback:  # a stand-in registrar that challenges once, then accepts
            registrar = f"127.0.0.1:{free_udp_port()}"
            prep.standins.append(
                phone_command(
                    exe,
                    out,
                    csv=None,
                    local_ip="127.0.0.1",
                    port=int(registrar.rpartition(":")[2]),
                    control_port=free_udp_port(),
                    scenario=SCENARIOS / "standin" / "registrar.xml",
                    name="standin-registrar",
                )
            )
        reg_csv = write_csv(
            out / "register.csv",
            (
                [
                    agent,
                    options.register_domain,
                    f"[authentication username={agent} password={options.register_password or ''}]",
                    phones[i % len(phones)],
                ]
                for i, agent in enumerate(options.agents)
            ),
        )
        prep.register = register_command(
            exe,
            out,
            target=registrar,
            csv=reg_csv,
            count=len(options.agents),
            expires=options.register_expires,
            local_ip=local_ip,
            port=free_udp_port(),
            control_port=free_udp_port(),
        )
    prep.callers = caller_command(
        exe,
        out,
        target=target,
        service=plan.load.spec.service,
        csv=callers_csv,
        rate=plan.steps[0][1] if plan.steps else 0.0,
        limit=max(1000, len(plan.callers)),
        local_ip=local_ip,
        port=free_udp_port(),
        control_port=free_udp_port(),
    )
    if options.loopback:
        _loopback(prep, exe, out, phones)
    return prep


def _loopback(prep: Prepared, exe: str, out: Path, phones: Sequence[int]) -> None:
    """The two stand-ins: FreeSWITCH+router for the callers, and for the agent legs."""
    plan, rng = prep.plan, random.Random(prep.plan.seed + 1)
    rows: list[list[object]] = []
    for i, agent in enumerate(plan.agents[: len(plan.callers)]):
        u = rng.random()
        what = "refuse" if u < 0.04 else "release" if u < 0.10 else "connect"
        rows.append([what, agent.ring_ms, agent.talk_ms, f"loop-{i}"])
    host, _, port = prep.target.rpartition(":")
    fs_csv = write_csv(out / "standin-callers.csv", rows)
    prep.standins.append(
        phone_command(
            exe,
            out,
            csv=fs_csv,
            local_ip=host,
            port=int(port),
            control_port=free_udp_port(),
            scenario=SCENARIOS / "standin" / "fs_callers.xml",
            name="standin-callers",
            extra=("-aa",),
        )
    )
    legs_csv = write_csv(
        out / "standin-agents.csv",
        ([c.number, f"agent-{i % 50}", c.patience_ms] for i, c in enumerate(plan.callers)),
    )
    prep.agent_standin = caller_command(
        exe,
        out,
        target=f"127.0.0.1:{phones[0]}",
        service="agent",
        csv=legs_csv,
        rate=plan.steps[0][1] if plan.steps else 0.0,
        limit=max(1000, len(plan.callers)),
        local_ip="127.0.0.1",
        port=free_udp_port(),
        control_port=free_udp_port(),
        scenario=SCENARIOS / "standin" / "fs_agents.xml",
        name="standin-agents",
    )


# -- running --------------------------------------------------------------------------------------


def execute(prep: Prepared, say: Say = print) -> Figures:
    """Run the test (Ctrl-C stops it early: the figures are then marked partial)."""
    procs: list[SippProcess] = []
    partial: str | None = None
    metrics_before: dict[str, float] | None = None
    metrics_after: dict[str, float] | None = None
    started = time.time()
    try:
        for cmd in [*prep.standins, *prep.phones]:
            procs.append(_start_listening(cmd))
        if prep.register is not None:
            _register(prep.register, len(prep.options.agents), say)
        if prep.options.metrics_url:
            metrics_before = _try_scrape(prep.options.metrics_url, say)
        assert prep.callers is not None
        expected = round(prep.plan.load.expected_calls())
        say(f"calling {prep.target}: {prep.plan.duration:g} s, about {expected:,} calls")
        started = time.time()
        callers = SippProcess(prep.callers)
        procs.append(callers)
        drivers = [callers]
        if prep.agent_standin is not None:
            drivers.append(SippProcess(prep.agent_standin))
            procs.append(drivers[-1])
        partial = _play(prep, drivers, started, say)
        if partial is None:
            for proc in drivers:
                proc.quit()
            _drain(drivers, prep.options.drain, say)
    except KeyboardInterrupt:
        partial = "interrupted (Ctrl-C)"
        say("interrupted: stopping SIPp, keeping what was measured")
    finally:
        for proc in reversed(procs):
            proc.stop(grace=2.0 if partial else 5.0)
            proc.close()
    if prep.options.metrics_url and metrics_before is not None:
        metrics_after = _try_scrape(prep.options.metrics_url, say)
    return _collect(prep, procs, started, partial, metrics_before, metrics_after)


def _start_listening(cmd: Command) -> SippProcess:
    """Start a listening instance and wait until its SIP port is bound (or it died)."""
    proc = SippProcess(cmd)
    ip, port = cmd.argv[cmd.argv.index("-i") + 1], int(cmd.argv[cmd.argv.index("-p") + 1])
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        if not proc.alive():
            raise SippError(f"SIPp {cmd.name} exited at once: {proc.stderr_text() or 'no message'}")
        if _bound(ip, port):
            return proc
        time.sleep(0.05)
    proc.stop()
    raise SippError(f"SIPp {cmd.name} did not bind UDP {ip}:{port} within 5 s")


def _bound(ip: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind((ip, port))
        except OSError:
            return True
        return False


def _register(cmd: Command, count: int, say: Say) -> None:
    say(f"registering {count} agent phones")
    proc = SippProcess(cmd)
    code = proc.wait(max(30.0, count / 20))
    if code is None:
        proc.stop()
    proc.close()
    done = {n for _, event, n, _ in _events(cmd.cwd / "register_logs.log") if event == "registered"}
    if len(done) < count:
        raise SippError(
            f"only {len(done)} of {count} agent phones registered with {cmd.argv[-1]}: check the "
            "domain, the agents' passwords and the directory (register_errors.log has the replies)"
        )


def _events(path: Path) -> list[tuple[float, str, int, list[str]]]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8", errors="replace") as fh:
        return list(parse_log(fh))


def _play(prep: Prepared, drivers: Sequence[SippProcess], started: float, say: Say) -> str | None:
    """Follow the rate schedule until the end of the traffic; a reason if it had to stop early."""
    steps = list(prep.plan.steps[1:])
    log = prep.options.out.resolve() / "callers_logs.log"
    watch = _Watch(log, prep.target, prep.plan.load.spec.service, prep.options.answer_timeout)
    last_report = 0.0
    while True:
        now = time.time() - started
        if now >= prep.plan.duration:
            return None
        while steps and steps[0][0] <= now:
            _, cps = steps.pop(0)
            for proc in drivers:
                proc.set_rate(cps)
        for proc in drivers:
            if not proc.alive():
                return f"SIPp {proc.name} stopped by itself: {proc.stderr_text()[-300:] or 'no message'}"
        problem = watch.check(time.time())
        if problem:
            say(problem)
            return problem
        if now - last_report >= 10:
            last_report = now
            say(watch.progress(now))
        time.sleep(0.2)


class _Watch:
    """Reads the callers' log as it grows, to see a FreeSWITCH that refuses or never answers."""

    def __init__(self, path: Path, target: str, service: str, answer_timeout: float) -> None:
        self.path, self.target, self.service = path, target, service
        self.answer_timeout = answer_timeout
        self.offset = 0
        self.invites = 0
        self.first_invite: float | None = None
        self.answered = 0
        self.refused: dict[str, int] = {}

    def check(self, now: float) -> str | None:
        self._read()
        if self.first_invite is None:
            return None
        if not self.answered and not self.refused and now - self.first_invite > self.answer_timeout:
            return (
                f"FreeSWITCH at {self.target} answered none of {self.invites} calls in "
                f"{self.answer_timeout:g} s: is it running, listening for SIP on that address, "
                f"and does its dialplan take {self.service!r}?"
            )
        refused = sum(self.refused.values())
        if refused >= 10 and not self.answered:
            top = max(self.refused, key=lambda s: self.refused[s])
            return (
                f"FreeSWITCH at {self.target} refuses the calls: {refused} of {self.invites} "
                f"refused ({top}); see bench/sipp/README.md (sessions-per-second, max-sessions, "
                "dialplan)"
            )
        return None

    def progress(self, now: float) -> str:
        refused = sum(self.refused.values())
        return f"  +{now:.0f} s: {self.invites:,} calls placed, {self.answered:,} answered by FreeSWITCH, {refused:,} refused"

    def _read(self) -> None:
        if not self.path.exists():
            return
        with self.path.open("rb") as fh:
            fh.seek(self.offset)
            data = fh.read()
        end = data.rfind(b"\n") + 1  # only whole lines
        self.offset += end
        for t, event, _, rest in parse_log(data[:end].decode("utf-8", "replace").splitlines()):
            if event == "invite":
                self.invites += 1
                if self.first_invite is None:
                    self.first_invite = t
            elif event == "answered":
                self.answered += 1
            elif event == "refused":
                status = rest[0] if rest else "?"
                self.refused[status] = self.refused.get(status, 0) + 1


def _drain(drivers: Sequence[SippProcess], drain: float, say: Say) -> None:
    say(f"traffic done: waiting up to {drain:g} s for the calls in progress to end")
    deadline = time.monotonic() + drain
    for proc in drivers:
        remaining = max(0.0, deadline - time.monotonic())
        if proc.wait(remaining) is None:
            say(f"  {proc.name}: calls still in progress after {drain:g} s: ending them")
            proc.stop()


def _try_scrape(url: str, say: Say) -> dict[str, float] | None:
    try:
        return metrics_mod.scrape(url)
    except metrics_mod.MetricsError as exc:
        say(f"warning: {exc}")
        return None


def _collect(
    prep: Prepared,
    procs: Sequence[SippProcess],
    started: float,
    partial: str | None,
    before: dict[str, float] | None,
    after: dict[str, float] | None,
) -> Figures:
    out = prep.options.out.resolve()
    calls: dict[int, CallerCall] = {}
    legs: list[AgentLeg] = []
    stats: dict[str, SippStats | None] = {}
    rtt: list[float] = []
    for proc in procs:
        name = proc.name
        stat_path = out / f"{name}_stat.csv"
        stats[name] = read_stat(stat_path) if stat_path.exists() else None
    log = out / "callers_logs.log"
    if log.exists():
        calls = read_caller_log(log)
    for cmd in prep.phones:
        path = out / f"{cmd.name}_logs.log"
        if path.exists():
            legs += read_agent_log(path, cmd.name)
    callers = next((p for p in procs if prep.callers and p.command is prep.callers), None)
    if callers is not None:
        for path in out.glob(f"caller_{callers.pid}_rtt.csv"):
            rtt = read_rtt(path)
    pair_legs(calls.values(), legs)
    profile = prep.plan.load.profile
    classes = {s.cls for s in profile.streams}
    label = (
        "loopback self-test (SIPp stand-ins, no FreeSWITCH)"
        if prep.options.loopback
        else (f"SIPp load test ({profile.path.name})")
    )
    notes = []
    if prep.options.loopback:
        notes.append(
            "loopback: the stand-in rings the phones on its own, not when a caller queues, so "
            "'queue -> agent rings' means nothing here"
        )
    return compute(
        calls.values(),
        legs,
        label=label,
        target=prep.target,
        duration=prep.plan.duration,
        interval=profile.interval,
        sl_t={c: profile.sl_threshold(c) for c in classes},
        sl_default=profile.sl_t,
        started=started,
        partial=partial,
        planned_calls=round(prep.plan.load.expected_calls()),
        peak_cps=prep.plan.peak_cps(),
        sipp={k: v for k, v in stats.items() if not k.startswith("standin")},
        rtt_ms=rtt,
        metrics=metrics_mod.delta(before, after)
        if before is not None and after is not None
        else None,
        notes=notes,
        pairing_note=not prep.options.loopback,
    )


# -- output files ---------------------------------------------------------------------------------


def write_outputs(fig: Figures, out: Path, commands: Sequence[str] = ()) -> list[Path]:
    """report.txt, summary.json, calls.csv and legs.csv in `out` (`.partial` before the extension
    when the run was cut short), and commands.txt when there are `commands`."""
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    suffix = ".partial" if fig.partial else ""
    report = out / f"report{suffix}.txt"
    with report.open("w", encoding="utf-8") as fh:
        format_report(fig, fh)
    summary = out / f"summary{suffix}.json"
    summary.write_text(json.dumps(fig.summary(), indent=2) + "\n", encoding="utf-8")
    paths = [report, summary]
    paths += [
        _calls_csv(fig, out / f"calls{suffix}.csv"),
        _legs_csv(fig, out / f"legs{suffix}.csv"),
    ]
    if commands:
        paths.append(out / "commands.txt")
        paths[-1].write_text("\n".join(commands) + "\n", encoding="utf-8")
    return paths


def _calls_csv(fig: Figures, path: Path) -> Path:
    def rel(t: float | None) -> str:
        return "" if t is None else f"{t - fig.started:.3f}"

    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(
            ["call", "number", "class", "queue", "outcome", "invite", "answered", "queued",
             "bridged", "ended", "wait_s", "agent", "agent_legs", "status"]
        )  # fmt: skip
        for c in fig.calls:
            bridged = answer_time(c, legs_count=fig.legs_count)
            wait = "" if bridged is None else f"{bridged - c.entered:.3f}"
            w.writerow(
                [c.id, c.number, c.cls, c.queue, outcome(c, legs_count=fig.legs_count),
                 rel(c.invite), rel(c.answered), rel(c.queued), rel(bridged), rel(c.ended), wait,
                 c.agent or "", len(c.legs), c.status or ""]
            )  # fmt: skip
    return path


def _legs_csv(fig: Figures, path: Path) -> Path:
    def rel(t: float | None) -> str:
        return "" if t is None else f"{t - fig.started:.3f}"

    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(
            ["phone", "leg", "agent", "caller", "behaviour", "invite", "answered", "ended", "end"]
        )
        for leg in fig.legs:
            w.writerow(
                [leg.phone, leg.id, leg.agent, leg.caller, leg.behaviour, rel(leg.invite),
                 rel(leg.answered), rel(leg.ended), leg.end or ""]
            )  # fmt: skip
    return path


def command_lines(prep: Prepared) -> list[str]:
    """The SIPp commands in start order, then the callers' rate schedule."""
    return [c.text() for c in prep.commands()] + prep.schedule()


def dry_run_text(prep: Prepared) -> str:
    """What --dry-run prints: the files, the commands in start order and the rate schedule."""
    lines = [f"# files written in {prep.options.out.resolve()}; commands in start order:"]
    lines += [c.text() for c in prep.commands()]
    lines.append("# rate schedule of the callers (the harness sends these while they run):")
    lines += prep.schedule()
    return "\n".join(lines)
