"""Opt-in: the router and the SIPp harness against a REAL FreeSWITCH (1.10.12 built from source).

Set ``ESL_ROUTER_FREESWITCH`` to the install prefix that holds ``bin/freeswitch`` (how to build
one: bench/sipp/README.md, "A real FreeSWITCH for the tests"). Without it these tests skip: CI has
no FreeSWITCH and relies on the simulator (tests/test_sim_freeswitch.py holds the conformance
checks taken from what these runs showed).

Each test module run starts its own FreeSWITCH (`router.loadtest.realfs`) with the project's
freeswitch_conf/ on free loopback ports and a random event socket password, starts the real
``esl-router run`` against it, plays a short bounded SIPp load through ``bench/sipp_run.py`` and
checks that the calls were parked, routed, rung and bridged; then it stops the router and
FreeSWITCH it started, by their PIDs.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PREFIX = os.environ.get("ESL_ROUTER_FREESWITCH", "")

pytestmark = [
    pytest.mark.skipif(
        not PREFIX,
        reason="no real FreeSWITCH: set ESL_ROUTER_FREESWITCH to an install prefix with "
        "bin/freeswitch (bench/sipp/README.md) to run these",
    ),
    pytest.mark.skipif(shutil.which("sipp") is None, reason="SIPp (Debian sip-tester) is not installed"),
]

pytest.importorskip("router._core", reason="the Rust core router._core is not built yet")

from router.config import load_config  # noqa: E402
from router.fsconf import agents_xml  # noqa: E402
from router.loadtest.realfs import (  # noqa: E402
    FreeSwitch,
    LabPorts,
    build_conf,
    free_tcp_port,
    free_udp_port,
    start,
)

AGENT_PASSWORD = "lab-agent-1234"

PROFILE = """
# 2 calls/s for 10 s, short calls: every caller picks a queue by IVR digit (a caller who presses
# nothing waits out the shipped IVR's two 5 s timeouts before it parks)
[sim]
end = "00:00:10"
interval = 5
seed = 3
sl_t = 20.0

[arrivals]
rates = [["00:00", 7200]]
classes = { trading = 0.30, registered = 0.40, other = 0.30 }
queues = { trading = 0.55, advisory = 0.15, hk_stocks = 0.15, futures = 0.15 }

[handle]
dist = "lognormal"
mean = 3.0
cv = 0.3

[patience]
dist = "exponential"
mean = 600.0

[sipp]
service = "95555"
ivr_share = 1.0
ivr_delay = { dist = "lognormal", mean = 1.5, cv = 0.3 }
max_hold = 120

[sipp.agents]
ring = { dist = "lognormal", mean = 1.0, cv = 0.3 }
no_answer = 0.1
busy = 0.05
"""


@dataclass
class Lab:
    """A FreeSWITCH this module started, and what a router needs to reach it."""

    fs: FreeSwitch
    dir: Path
    password: str
    phone_port: int

    def api(self, command: str) -> str:
        """One ``api`` command over a fresh event socket connection; the body of the reply."""
        with socket.create_connection(("127.0.0.1", self.fs.ports.esl), timeout=5) as s:
            f = s.makefile("rb")
            _message(f)
            s.sendall(f"auth {self.password}\n\n".encode())
            _message(f)
            s.sendall(f"api {command}\n\n".encode())
            return _message(f)[1].decode()


def _message(f: object) -> tuple[dict[str, str], bytes]:
    headers: dict[str, str] = {}
    while True:
        line = f.readline().decode()  # type: ignore[attr-defined]
        if not line:
            raise OSError("event socket closed")
        if line == "\n":
            if headers:
                break
            continue
        k, _, v = line.rstrip("\n").partition(": ")
        headers[k] = v
    n = int(headers.get("Content-Length", "0"))
    return headers, f.read(n) if n else b""  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    base = tmp_path_factory.mktemp("realfs")
    rtp = 20000 + 2 * secrets.randbelow(10000)
    ports = LabPorts(sip=free_udp_port(), esl=free_tcp_port(), rtp_start=rtp, rtp_end=rtp + 2000)
    password, phone_port = secrets.token_hex(12), free_udp_port()
    config = load_config(_router_config(base, ports, phone_port))
    build_conf(base, ports, esl_password=password, agents_xml=agents_xml(config, AGENT_PASSWORD))
    fs = start(PREFIX, base, ports, esl_password=password)
    try:
        yield Lab(fs, base, password, phone_port)
    finally:
        fs.stop()


def _router_config(base: Path, ports: LabPorts, phone_port: int) -> Path:
    """The 50-agent example centre, its agents rung straight at the SIPp phones, short wrap-up."""
    text = (ROOT / "examples" / "single_centre_50.toml").read_text()
    text = text.replace('file = "customers_single_centre.csv"', f'file = "{base / "customers.csv"}"')
    text = re.sub(r"port = 8021", f"port = {ports.esl}", text)
    text = text.replace('agent_endpoint = "user/{agent}"', f'agent_endpoint = "sofia/internal/{{agent}}@127.0.0.1:{phone_port}"')
    text = re.sub(r"wrap_up = [0-9.]+", "wrap_up = 1.0", text)
    text = re.sub(r"miss_delay = [0-9.]+", "miss_delay = 2.0", text)
    text = re.sub(r"ring_timeout = [0-9]+", "ring_timeout = 5", text)
    path = base / "router.toml"
    path.write_text(text)
    subprocess.run(
        [sys.executable, str(ROOT / "bench" / "sipp_run.py"), "--config", str(path),
         "--write-directory", str(base / "customers.csv")],
        check=True, capture_output=True, cwd=ROOT,
    )
    return path


@pytest.fixture
def router(lab: Lab) -> Iterator[subprocess.Popen[bytes]]:
    exe = Path(sys.executable).with_name("esl-router")
    log = (lab.dir / "router.log").open("ab")
    env = dict(os.environ, ESL_ROUTER_ESL_PASSWORD=lab.password)
    proc = subprocess.Popen(
        [str(exe), "run", "--config", str(lab.dir / "router.toml"), "--log-level", "INFO"],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=lab.dir,
    )
    try:
        deadline = time.monotonic() + 30
        while b"connected to FreeSWITCH" not in (lab.dir / "router.log").read_bytes():
            assert proc.poll() is None, (lab.dir / "router.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the router did not connect to FreeSWITCH in 30 s"
            time.sleep(0.2)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        log.close()


def _harness(lab: Lab, out: Path, *args: str) -> dict[str, object]:
    cmd = [
        sys.executable, str(ROOT / "bench" / "sipp_run.py"),
        "--config", str(lab.dir / "router.toml"),
        "--target", f"127.0.0.1:{lab.fs.ports.sip}", "--local-ip", "127.0.0.1",
        "--phones", str(lab.phone_port), "--out", str(out), *args,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    assert last.startswith("{"), f"harness said:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    summary: dict[str, object] = json.loads(last)
    return summary


def test_freeswitch_runs_the_projects_conf_as_its_readme_says(lab: Lab) -> None:
    assert "is ready" in lab.api("status")
    moh = lab.api("local_stream show moh")
    assert not moh.startswith("-ERR"), moh
    assert "esl_router_national_number" in lab.api("xml_locate dialplan")
    assert "RUNNING" in lab.api("sofia status")
    assert "Total items returned: 0" in lab.api("sofia status profile internal reg")


def test_callers_are_parked_routed_rung_and_bridged(lab: Lab, router: subprocess.Popen[bytes]) -> None:
    profile = lab.dir / "profile.toml"
    profile.write_text(PROFILE)
    summary = _harness(lab, lab.dir / "steady", "--profile", str(profile), "--drain", "40")
    offered = int(summary["offered"])  # type: ignore[call-overload]
    assert offered >= 15
    assert summary["refused"] == 0 and summary["failed"] == 0, summary
    assert int(summary["answered"]) >= 0.8 * offered, summary  # type: ignore[call-overload]
    assert summary["answers_from"] == "display updates", summary
    agents = summary["agents"]
    assert isinstance(agents, dict) and agents["answered"] >= summary["answered"]
    log = (lab.dir / "router.log").read_text()
    assert "Traceback" not in log, log[-3000:]
    assert router.poll() is None
    # every call ended: nothing left parked or bridged
    deadline = time.monotonic() + 20
    while '"row_count": 0' not in lab.api("show channels as json"):
        assert time.monotonic() < deadline, lab.api("show channels")
        time.sleep(0.5)


def test_without_a_router_callers_fall_back_to_voicemail(lab: Lab) -> None:
    """No router: the dialplan's sched_transfer sends a parked caller of the trading line
    (955551, no IVR) to the voicemail extension after 20 s, and FreeSWITCH ends the call."""
    profile = lab.dir / "fallback.toml"
    text = PROFILE.replace('end = "00:00:10"', 'end = "00:00:04"').replace('"95555"', '"955551"')
    profile.write_text(text.replace("ivr_share = 1.0", "ivr_share = 0.0").replace("7200", "1800"))
    summary = _harness(lab, lab.dir / "fallback", "--profile", str(profile), "--drain", "40")
    assert int(summary["offered"]) >= 1  # type: ignore[call-overload]
    assert summary["released"] == summary["offered"], summary
    log = (lab.dir / "log" / "freeswitch.log").read_text(errors="replace")
    assert "Transfer" in log and "esl_router_voicemail" in log
