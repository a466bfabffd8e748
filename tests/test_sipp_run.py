"""bench/sipp_run.py: the dry run, the clear errors (missing SIPp, bad profile, negative rate), a
whole run on loopback against the SIPp stand-ins, and a FreeSWITCH that refuses or never answers
(partial results, marked as such). Loopback only, bounded in time."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from router.loadtest.cli import main
from router.loadtest.sipp import SCENARIOS, free_udp_port

ROOT = Path(__file__).resolve().parent.parent
SMOKE = ROOT / "tests" / "data" / "sipp" / "smoke.toml"
SIPP = shutil.which("sipp")
needs_sipp = pytest.mark.skipif(
    SIPP is None, reason="sipp is not installed (Debian's sip-tester; scripts/setup.sh installs it)"
)


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_dry_run_prints_the_exact_sipp_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        ["--shape", "spike", "--cps", "10", "--duration", "60", "--target", "10.0.0.5",
         "--local-ip", "10.0.0.9", "--phones", "5090,5091", "--service", "95555",
         "--dry-run", "--out", str(tmp_path)],
        capsys,
    )  # fmt: skip
    assert code == 0
    lines = out.splitlines()
    result = json.loads(lines[-1])
    assert result == {"dry_run": True, "calls": _lines(tmp_path), "steps": 3, "commands": 3}
    commands = [ln for ln in lines if ln.startswith("cd ")]
    assert len(commands) == 3
    phones, caller = commands[:2], commands[2]
    assert f"-sf {SCENARIOS / 'agent.xml'}" in phones[0] and "-p 5090" in phones[0]
    assert "-p 5091" in phones[1] and "-i 10.0.0.9" in phones[1]
    assert f"-sf {SCENARIOS / 'caller.xml'}" in caller
    assert "-s 95555 -r 2 " in caller and caller.endswith("10.0.0.5:5060")
    assert f"-inf {tmp_path / 'callers.csv'}" in caller
    assert any("cset rate 10" in ln for ln in lines) and any("cset rate 2" in ln for ln in lines)
    assert (tmp_path / "phones-5091.csv").read_text().startswith("SEQUENTIAL\n")


def _lines(path: Path) -> int:
    return len((path / "callers.csv").read_text().splitlines()) - 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--shape", "steady", "--cps", "-3"], "--cps must be a rate above 0 calls per second"),
        (["--shape", "steady", "--duration", "0"], "--duration must be above 0 seconds"),
        (["--phones", "5090,x"], "--phones must be UDP ports"),
        (["--target", "fs:99999"], "--target must be host[:port]"),
        (["--service", "9 0"], "--service must be the number callers dial"),
        (["--register", "example.org"], "--register needs the agents' SIP password"),
        (["--target", "no-such-host.invalid:5060"], "cannot reach --target no-such-host.invalid"),
    ],
)
def test_bad_arguments(
    args: list[str],
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ESL_ROUTER_AGENT_PASSWORD", raising=False)
    code, _, err = run([*args, "--dry-run", "--out", str(tmp_path)], capsys)
    assert code == 2 and message in err


def test_bad_profiles_name_the_file_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    negative = tmp_path / "negative.toml"
    negative.write_text(SMOKE.read_text().replace("18000]", "-18000]"))
    code, _, err = run(["--profile", str(negative), "--dry-run", "--out", str(tmp_path)], capsys)
    assert code == 2
    assert "negative.toml: arrivals.rates[0]: the rate must be >= 0 calls per hour" in err
    broken = tmp_path / "broken.toml"
    broken.write_text("[sim\n")
    code, _, err = run(["--profile", str(broken), "--dry-run", "--out", str(tmp_path)], capsys)
    assert code == 2 and "broken.toml: TOML syntax error" in err


def test_missing_sipp_says_how_to_install_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        ["--shape", "steady", "--duration", "5", "--sipp", str(tmp_path / "no-sipp"),
         "--out", str(tmp_path)],
        capsys,
    )  # fmt: skip
    assert code == 2
    assert "SIPp not found" in err and "sip-tester" in err and "--sipp" in err


def test_write_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "customers.csv"
    code, out, _ = run(["--write-directory", str(path)], capsys)
    assert code == 0 and json.loads(out)["customers"] == 20_000
    lines = path.read_text().splitlines()
    assert lines[:2] == ["number,class", "8613800100000,trading"]
    assert "8613900200000,registered" in lines
    assert not any(line.endswith(",other") for line in lines)


class _Metrics(http.server.BaseHTTPRequestHandler):
    """A router's /metrics stand-in: every read finds 7 more calls routed."""

    reads = 0

    def do_GET(self) -> None:
        type(self).reads += 1
        body = (
            f"# TYPE esl_router_calls_total counter\nesl_router_calls_total {7 * self.reads}\n"
            f"esl_router_dispatch_seconds_sum {0.002 * self.reads}\n"
            f"esl_router_dispatch_seconds_count {4 * self.reads}\n"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@needs_sipp
def test_loopback_run_end_to_end(tmp_path: Path) -> None:
    """The whole harness as a load tester runs it, against the stand-ins: agents registered
    first, the router's metrics read before and after, the last line the JSON summary, the files
    written, and figures that hold together."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Metrics)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        done = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "sipp_run.py"), "--profile", str(SMOKE),
             "--loopback", "--register", "127.0.0.1", "--drain", "10", "--out", str(tmp_path),
             "--metrics-url", f"http://127.0.0.1:{server.server_port}/metrics"],
            capture_output=True, text=True, timeout=60, check=False, cwd=ROOT,
            env={**os.environ, "ESL_ROUTER_AGENT_PASSWORD": "s3cret"},
        )  # fmt: skip
    finally:
        server.shutdown()
        server.server_close()
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["partial"] is None
    assert 40 <= summary["offered"] <= 50  # about 45 calls in 6 s
    outcomes = ("answered", "abandoned", "released", "refused", "failed", "unresolved")
    assert sum(summary[o] for o in outcomes) == summary["offered"]
    assert summary["sipp"]["callers"]["created"] == summary["offered"]
    assert summary["answered"] > summary["offered"] / 2
    for cls in ("trading", "registered", "other"):
        assert 0 <= summary[f"sl_{cls}"] <= summary[f"answer_rate_{cls}"] <= 1
    assert summary["fs_answer_p50_ms"] < 100
    assert "SL" in done.stdout and "by class:" in done.stdout
    for name in ("report.txt", "summary.json", "calls.csv", "legs.csv", "commands.txt"):
        assert (tmp_path / name).exists(), name
    # Every agent of the config registered first (digest challenge answered), Contact at a phone.
    registered = (tmp_path / "register_logs.log").read_text().count(";registered;")
    assert registered == 50 and "registering 50 agent phones" in done.stderr
    assert "password=s3cret]" in (tmp_path / "register.csv").read_text()
    metrics = summary["router_metrics"]
    assert metrics["esl_router_calls_total"] == 7  # read twice: the change over the run
    assert metrics["esl_router_dispatch_seconds_mean"] == pytest.approx(0.0005)


@needs_sipp
def test_freeswitch_refusing_every_call_gives_partial_results(tmp_path: Path) -> None:
    """A 'FreeSWITCH' (the stand-in) that answers every INVITE with 503: the run stops early with
    a clear reason, keeps what it measured, and marks every file partial."""
    assert SIPP is not None
    port = free_udp_port()
    refusals = tmp_path / "refuse.csv"
    refusals.write_text("SEQUENTIAL\nrefuse;0;0;x\n")
    fs = subprocess.Popen(
        [SIPP, "-sf", str(SCENARIOS / "standin" / "fs_callers.xml"), "-inf", str(refusals),
         "-i", "127.0.0.1", "-p", str(port), "-cp", str(free_udp_port()), "-nostdin"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        done = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "sipp_run.py"), "--shape", "steady", "--cps",
             "20", "--duration", "20", "--target", f"127.0.0.1:{port}", "--local-ip", "127.0.0.1",
             "--phones", str(free_udp_port()), "--out", str(tmp_path / "out")],
            capture_output=True, text=True, timeout=60, check=False, cwd=ROOT,
        )  # fmt: skip
    finally:
        fs.kill()
        fs.wait()
    assert done.returncode == 1, done.stderr
    assert "refuses the calls" in done.stderr and "503 Maximum Calls In Progress" in done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["partial"].startswith(f"FreeSWITCH at 127.0.0.1:{port} refuses the calls")
    assert summary["refused"] >= 10 and summary["answered"] == 0
    assert summary["offered"] < 400  # stopped long before the 20 s were over
    assert done.stdout.startswith("PARTIAL RESULTS")
    assert (tmp_path / "out" / "summary.partial.json").exists()
    assert not (tmp_path / "out" / "summary.json").exists()


@needs_sipp
def test_freeswitch_that_never_answers_gives_partial_results(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "sipp_run.py"), "--shape", "steady", "--cps", "5",
         "--duration", "30", "--target", f"127.0.0.1:{free_udp_port()}", "--answer-timeout", "1",
         "--local-ip", "127.0.0.1", "--phones", str(free_udp_port()), "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=60, check=False, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert "answered none of" in summary["partial"] and summary["failed"] == summary["offered"] > 0
    assert (tmp_path / "report.partial.txt").read_text().startswith("PARTIAL RESULTS")


def test_sim_mode_routes_the_plan_through_the_router_on_the_simulator(tmp_path: Path) -> None:
    """--sim: no SIPp; the plan's callers and agent phones on the FreeSWITCH simulator, routed by
    the real esl-router over ESL, reported with the same figures."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "sipp_run.py"), "--profile", str(SMOKE), "--sim",
         "--drain", "20", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=60, check=False, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["partial"] is None and 40 <= summary["offered"] <= 50
    outcomes = ("answered", "abandoned", "released", "refused", "failed", "unresolved")
    assert sum(summary[o] for o in outcomes) == summary["offered"]
    router = summary["router_metrics"]
    assert router["router_offered"] == summary["offered"]
    assert router["router_answered"] == summary["answered"] > 0
    assert router["routing_latency_p50_ms"] < 50
    agents = summary["agents"]
    assert agents["paired"] == agents["legs"] > 0  # the router presents the caller's number
    assert summary["fs_answer_p50_ms"] is None  # no SIP in this mode
    assert (tmp_path / "summary.json").exists() and not (tmp_path / "commands.txt").exists()


def test_agent_password_must_fit_sipp_syntax(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ESL_ROUTER_AGENT_PASSWORD", "a]b")
    code, _, err = run(["--register", "example.org", "--dry-run", "--out", str(tmp_path)], capsys)
    assert code == 2 and "must be one word without ';' or ']'" in err


def test_sim_mode_runs_no_sipp(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["--sim", "--loopback", "--out", str(tmp_path)], capsys)
    assert code == 2 and "--sim runs no SIPp" in err
