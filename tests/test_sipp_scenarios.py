"""The SIPp scenarios of bench/sipp: SIPp loads every one, and each branch of the caller, the
agent phone and the registration runs against its loopback stand-in (bench/sipp/standin), on
127.0.0.1 only, a few seconds each."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from router.loadtest.results import parse_log
from router.loadtest.sipp import SCENARIOS, free_udp_port, validate_scenario

SIPP = shutil.which("sipp")
pytestmark = pytest.mark.skipif(
    SIPP is None, reason="sipp is not installed (Debian's sip-tester; scripts/setup.sh installs it)"
)

SAMPLES = {
    "caller.xml": "8613800100000;trading;trading;3000;1;#;60000",
    "agent.xml": "answer;2000;30000",
    "agent_register.xml": "1001;127.0.0.1;[authentication username=1001 password=x];5090",
    "standin/fs_callers.xml": "connect;1000;5000;agent-1",
    "standin/fs_agents.xml": "8613800100000;agent-1;60000",
    "standin/registrar.xml": None,
}


def csv(path: Path, lines: Sequence[str]) -> Path:
    path.write_text("SEQUENTIAL\n" + "".join(f"{line}\n" for line in lines), encoding="ascii")
    return path


def test_every_scenario_loads(tmp_path: Path) -> None:
    assert SIPP is not None
    assert {str(p.relative_to(SCENARIOS)) for p in SCENARIOS.rglob("*.xml")} == set(SAMPLES)
    extra = {"agent_register.xml": ("-key", "agent_host", "127.0.0.1", "-key", "expires", "60")}

    def check(name: str) -> str | None:
        line = SAMPLES[name]
        path = None if line is None else csv(tmp_path / f"{name.replace('/', '_')}.csv", [line])
        assert SIPP is not None
        return validate_scenario(SIPP, SCENARIOS / name, csv=path, extra=extra.get(name, ()))

    with ThreadPoolExecutor(len(SAMPLES)) as pool:
        errors = dict(zip(SAMPLES, pool.map(check, SAMPLES), strict=True))
    assert errors == dict.fromkeys(SAMPLES)


def test_a_broken_scenario_is_reported(tmp_path: Path) -> None:
    assert SIPP is not None
    bad = tmp_path / "bad.xml"
    bad.write_text('<?xml version="1.0"?>\n<scenario name="x"><recv request="INVITE"/>'
                   '<pause milliseconds="10"/><nop next="nowhere"/></scenario>\n')  # fmt: skip
    error = validate_scenario(SIPP, bad)
    assert error is not None and "nowhere" in error


def pair(
    tmp: Path,
    uas: str,
    uas_lines: Sequence[str] | None,
    uac: str,
    uac_lines: Sequence[str],
    *,
    uas_args: Sequence[str] = (),
    uac_args: Sequence[str] = (),
    timeout: float = 15.0,
) -> dict[str, list[tuple[str, int, list[str]]]]:
    """Run scenario `uac` (one call per line, 10 calls/s) against `uas` on loopback; both log
    with -trace_logs. Returns the events of each side: {"uas": [...], "uac": [...]}."""
    assert SIPP is not None
    port, uac_port = free_udp_port(), free_udp_port()
    base = ["-i", "127.0.0.1", "-nostdin", "-ci", "127.0.0.1", "-trace_logs", "-trace_err"]
    uas_cmd = [SIPP, "-sf", str(SCENARIOS / uas), "-p", str(port), "-cp", str(free_udp_port()),
               *base, "-log_file", "uas_logs.log", "-error_file", "uas_errors.log", *uas_args]  # fmt: skip
    if uas_lines is not None:
        uas_cmd += ["-inf", str(csv(tmp / "uas.csv", uas_lines))]
    uac_cmd = [SIPP, "-sf", str(SCENARIOS / uac), "-p", str(uac_port), "-cp", str(free_udp_port()),
               *base, "-log_file", "uac_logs.log", "-error_file", "uac_errors.log",
               "-inf", str(csv(tmp / "uac.csv", uac_lines)), "-m", str(len(uac_lines)),
               "-r", "10", *uac_args, f"127.0.0.1:{port}"]  # fmt: skip
    server = subprocess.Popen(uas_cmd, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        client = subprocess.run(
            uac_cmd, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout,
            check=False,
        )  # fmt: skip
    finally:
        server.send_signal(10)  # SIGUSR1: finish the calls in progress, then exit
        try:
            server.wait(5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    assert client.returncode in (0, 1), client.stderr
    out: dict[str, list[tuple[str, int, list[str]]]] = {}
    for side in ("uas", "uac"):
        path = tmp / f"{side}_logs.log"
        lines = path.read_text().splitlines() if path.exists() else []
        out[side] = [(event, n, rest) for _, event, n, rest in parse_log(lines)]
    return out


def by_call(events: list[tuple[str, int, list[str]]]) -> dict[int, list[str]]:
    calls: dict[int, list[str]] = {}
    for event, n, rest in events:
        calls.setdefault(n, []).append(":".join([event, *rest]) if event != "invite" else event)
    return calls


def test_caller_branches(tmp_path: Path) -> None:
    """Connected after its IVR digits (the stand-in's display update, then FreeSWITCH's BYE),
    abandoned (patience shorter than the wait), released by FreeSWITCH, refused with 503."""
    callers = [
        "8613800100001;trading;trading;100;1;#;5000",
        "8613900200001;registered;advisory;0;-;-;300",
        "8615000300001;other;trading;0;-;-;5000",
        "8613800100002;trading;trading;0;-;-;5000",
    ]
    standin = ["connect;900;200;agent-7", "connect;3000;100;agent-8", "release;200;0;x",
               "refuse;0;0;x"]  # fmt: skip
    logs = pair(tmp_path, "standin/fs_callers.xml", standin, "caller.xml", callers,
                uas_args=["-aa", "-trace_msg", "-message_file", "uas_msgs.log"],
                uac_args=["-s", "9010"])  # fmt: skip
    calls = by_call(logs["uac"])
    assert calls[1] == ["invite", "answered", "digits:1#", "queued", "connected:agent-7", "fs_bye"]
    assert calls[2] == ["invite", "answered", "queued", "abandon"]
    assert calls[3] == ["invite", "answered", "queued", "fs_bye"]
    assert calls[4] == ["invite", "refused:503 Maximum Calls In Progress"]
    messages = (tmp_path / "uas_msgs.log").read_text()
    assert "Signal=1" in messages and "Signal=#" in messages  # SIP INFO dtmf-relay, as captured
    assert "X-FS-Support: update_display" in messages
    assert "From: <sip:8613800100001@" in messages  # the caller number the router classifies by


def test_agent_phone_branches(tmp_path: Path) -> None:
    """Answers and hangs up after its talk time; answers and the caller hangs up first; busy
    (486); never answers (cancelled by FreeSWITCH's ring timeout); rings longer than the ring
    timeout (cancelled while it rings)."""
    phones = ["answer;100;300", "answer;100;5000", "busy;0;0", "noanswer;0;0", "answer;3000;100"]
    legs = ["8613800100001;trd-1;5000", "8613900200001;trd-2;500", "8615000300001;adv-1;5000",
            "8613800100002;hk-1;5000", "8613800100003;fut-1;5000"]  # fmt: skip
    logs = pair(tmp_path, "agent.xml", phones, "standin/fs_agents.xml", legs)
    calls = by_call(logs["uas"])
    assert calls[1] == ["invite", "answered", "agent_bye"]
    assert calls[2] == ["invite", "answered", "fs_bye"]
    assert calls[3] == ["invite", "busy"]
    assert calls[4] == ["invite", "cancelled"]
    assert calls[5] == ["invite", "cancelled"]
    invites = [rest for event, _, rest in logs["uas"] if event == "invite"]
    assert invites[0] == ["trd-1", "8613800100001", "answer"]  # agent, caller number, behaviour


def test_agent_registration(tmp_path: Path) -> None:
    register = [
        "1001;127.0.0.1;[authentication username=1001 password=secret1];5090",
        "1002;127.0.0.1;[authentication username=1002 password=secret2];5091",
    ]
    logs = pair(tmp_path, "standin/registrar.xml", None, "agent_register.xml", register,
                uac_args=["-key", "agent_host", "127.0.0.1", "-key", "expires", "60"])  # fmt: skip
    assert [(e, rest) for e, _, rest in logs["uac"]] == [
        ("registered", ["1001"]),
        ("registered", ["1002"]),
    ]
    auths = [rest[0] for e, _, rest in logs["uas"] if e == "authorization"]
    assert len(auths) == 2 and 'username="1001"' in auths[0] and "response=" in auths[0]
