"""SIPp command lines and processes.

Every SIPp instance of a run writes into the run's output directory, under its own name
(`callers`, `phones-5090`, ...): `<name>_logs.log` (the scenario's per-call log lines),
`<name>_stat.csv` (statistics every second), `<name>_screen.log` (the final screens),
`<name>_errors.log` (unexpected messages) and `<name>.stderr`; the callers also write SIPp's
response times, `caller_<pid>_rtt.csv`. Each instance listens for remote-control commands on its
own UDP port (`-cp`): the harness changes the call rate with `cset rate X` while it runs, and
stops instances with SIGUSR1 (once: finish the calls in progress; twice more: abort them).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import socket
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "SCENARIOS",
    "Command",
    "SippError",
    "SippProcess",
    "caller_command",
    "find_sipp",
    "free_udp_port",
    "local_ip_towards",
    "phone_command",
    "register_command",
    "validate_scenario",
]

SCENARIOS = Path(__file__).resolve().parents[2] / "bench" / "sipp"
"""The scenario files (bench/sipp in the repository)."""


class SippError(RuntimeError):
    """SIPp is missing, or an instance could not start or run."""


def find_sipp(path: str | None = None) -> str:
    """The sipp executable (SippError with what to do when there is none)."""
    exe = shutil.which(path or "sipp")
    if exe is None:
        where = f"{path!r} is not an executable" if path else "no `sipp` on PATH"
        raise SippError(
            f"SIPp not found ({where}): install Debian's sip-tester (scripts/setup.sh does: "
            "apt-get install sip-tester) or pass --sipp /path/to/sipp"
        )
    return exe


def free_udp_port(ip: str = "0.0.0.0") -> int:
    """A UDP port free right now on `ip` (the kernel's pick; by default free on every address)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((ip, 0))
        port: int = s.getsockname()[1]
        return port


def local_ip_towards(host: str, port: int) -> str:
    """The local address this machine would use to reach host:port (what SIPp must put in
    Via and Contact so that FreeSWITCH's requests come back)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect((host, port))  # UDP: picks a route, sends nothing
        ip: str = s.getsockname()[0]
        return ip


@dataclass(frozen=True)
class Command:
    """One SIPp instance to start: its name, its argument vector and where it writes."""

    name: str
    argv: tuple[str, ...]
    cwd: Path
    control_port: int
    control_ip: str = "127.0.0.1"

    def text(self) -> str:
        """The exact shell command (for --dry-run and the report)."""
        return f"cd {shlex.quote(str(self.cwd))} && {shlex.join(self.argv)}"


def _common(
    exe: str,
    scenario: Path,
    name: str,
    *,
    csv: Path | None,
    local_ip: str,
    port: int,
    control_port: int,
) -> list[str]:
    argv = [exe, "-sf", str(scenario)]
    if csv is not None:
        argv += ["-inf", str(csv)]
    argv += ["-i", local_ip, "-p", str(port), "-cp", str(control_port), "-ci", "127.0.0.1"]
    argv += ["-nostdin", "-trace_logs", "-log_file", f"{name}_logs.log"]
    argv += ["-trace_err", "-error_file", f"{name}_errors.log"]
    argv += ["-trace_stat", "-stf", f"{name}_stat.csv", "-fd", "1"]
    argv += ["-trace_screen", "-screen_file", f"{name}_screen.log"]
    return argv


def caller_command(
    exe: str,
    out: Path,
    *,
    target: str,
    service: str,
    csv: Path,
    rate: float,
    limit: int,
    local_ip: str,
    port: int,
    control_port: int,
    scenario: Path = SCENARIOS / "caller.xml",
    name: str = "callers",
) -> Command:
    """The callers (UAC): `rate` calls per second to start with, at most `limit` at once."""
    argv = _common(
        exe, scenario, name, csv=csv, local_ip=local_ip, port=port, control_port=control_port
    )
    argv += ["-s", service, "-r", f"{rate:g}", "-l", str(limit), "-trace_rtt", "-rtt_freq", "1"]
    argv.append(target)
    return Command(name, tuple(argv), out, control_port)


def phone_command(
    exe: str,
    out: Path,
    *,
    csv: Path | None,
    local_ip: str,
    port: int,
    control_port: int,
    scenario: Path = SCENARIOS / "agent.xml",
    name: str | None = None,
    extra: Sequence[str] = (),
) -> Command:
    """An agent-phone instance (UAS) answering every INVITE that reaches `port`.

    ``-aa`` answers 200 to the NOTIFY, OPTIONS, INFO and UPDATE that come outside a call: a
    real FreeSWITCH sends every phone that registers a message-summary NOTIFY (mod_voicemail's
    MWI), which the scenario would otherwise abort on ("unexpected message"), leaving
    FreeSWITCH to retransmit it nine times per phone."""
    name = name or f"phones-{port}"
    argv = _common(
        exe, scenario, name, csv=csv, local_ip=local_ip, port=port, control_port=control_port
    )
    return Command(name, (*argv, "-aa", *extra), out, control_port)


def register_command(
    exe: str,
    out: Path,
    *,
    target: str,
    csv: Path,
    count: int,
    expires: int,
    local_ip: str,
    port: int,
    control_port: int,
    rate: float = 50.0,
) -> Command:
    """Registers `count` agents (one REGISTER per CSV line), then exits."""
    argv = _common(
        exe,
        SCENARIOS / "agent_register.xml",
        "register",
        csv=csv,
        local_ip=local_ip,
        port=port,
        control_port=control_port,
    )
    argv += ["-key", "agent_host", local_ip, "-key", "expires", str(expires)]
    argv += ["-m", str(count), "-r", f"{rate:g}", target]
    return Command("register", tuple(argv), out, control_port)


class SippProcess:
    """A running SIPp instance."""

    def __init__(self, command: Command) -> None:
        self.command = command
        self.stderr_path = command.cwd / f"{command.name}.stderr"
        with self.stderr_path.open("wb") as err:
            try:
                self.proc = subprocess.Popen(
                    command.argv,
                    cwd=command.cwd,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,  # the live screen: -trace_screen keeps the last one
                    stderr=err,
                    start_new_session=True,  # a Ctrl-C in the terminal is the harness's to handle
                )
            except OSError as exc:
                raise SippError(f"cannot start SIPp ({command.argv[0]}): {exc}") from exc
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    @property
    def name(self) -> str:
        """The instance's name."""
        return self.command.name

    @property
    def pid(self) -> int:
        """Its process id."""
        return self.proc.pid

    def alive(self) -> bool:
        """Whether it still runs."""
        return self.proc.poll() is None

    def control(self, text: str) -> None:
        """Send a remote-control command (e.g. "cset rate 12.5")."""
        self._sock.sendto(
            text.encode() + b"\n", (self.command.control_ip, self.command.control_port)
        )

    def set_rate(self, cps: float) -> None:
        """Change the call rate (calls per second) at once."""
        self.control(f"cset rate {cps:g}")

    def quit(self) -> None:
        """Place no more calls; exit once the calls in progress have ended."""
        self._signal(signal.SIGUSR1)

    def abort(self) -> None:
        """End the calls in progress now (BYE or CANCEL) and exit."""
        self._signal(signal.SIGUSR1)
        self._signal(signal.SIGUSR1)

    def wait(self, timeout: float) -> int | None:
        """The exit code, or None if still running after `timeout` seconds."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, grace: float = 5.0) -> int:
        """Abort, wait up to `grace` seconds, then kill: always returns an exit code."""
        if self.alive():
            self.abort()
            code = self.wait(grace)
            if code is not None:
                return code
            self.proc.kill()
        return self.proc.wait()

    def stderr_text(self) -> str:
        """What it wrote to stderr (its errors), trimmed."""
        try:
            return self.stderr_path.read_text(errors="replace").strip()
        except OSError:
            return ""

    def close(self) -> None:
        """Release the control socket (the process must have ended)."""
        self._sock.close()

    def _signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, sig)


def validate_scenario(
    exe: str, scenario: Path, *, csv: Path | None = None, extra: Sequence[str] = ()
) -> str | None:
    """Let SIPp load `scenario` and exit without placing a call: None if it parsed, else SIPp's
    error. (SIPp has no parse-only flag: it runs for one second at rate 0 on a free port.)"""
    argv = [exe, "-sf", str(scenario), "-nostdin", "-r", "0", "-timeout", "1s"]
    argv += ["-i", "127.0.0.1", "-p", str(free_udp_port()), "-cp", str(free_udp_port())]
    argv += ["-ci", "127.0.0.1", *extra]
    if csv is not None:
        argv += ["-inf", str(csv)]
    argv.append(f"127.0.0.1:{free_udp_port()}")
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
    except subprocess.TimeoutExpired:
        return "SIPp did not exit within 20 s"
    if done.returncode == 97:  # "exit on internal command": the timeout, so it ran
        return None
    lines = [ln for ln in done.stderr.splitlines() if "Resolving remote host" not in ln]
    return f"exit code {done.returncode}: " + (" ".join(lines).strip() or "no message")
