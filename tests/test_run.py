"""`esl-router run` as a process: connects with the password from the environment, routes calls,
reloads its config on SIGHUP and drains on SIGTERM, leaving waiting callers parked."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import gevent  # type: ignore[import-untyped]
import pytest

pytest.importorskip("router._core", reason="the Rust core router._core is not built yet")

from router.sim.freeswitch import Endpoint, FreeSwitchSim
from tests.routing_env import BASE_TOML, agents_toml, wait_until

PASSWORD = "not-ClueCon"


def _start(config: Path, log: Path, env_password: str | None) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "ESL_ROUTER_ESL_PASSWORD"}
    if env_password is not None:
        env["ESL_ROUTER_ESL_PASSWORD"] = env_password
    return subprocess.Popen(
        [sys.executable, "-m", "router.cli", "run", "--config", str(config), "--drain-timeout", "2"],
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
        env=env,
    )


def _wait_exit(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> int:
    deadline = time.monotonic() + timeout
    while proc.poll() is None:
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("esl-router run did not exit")
        gevent.sleep(0.05)
    return proc.returncode


def test_run_routes_reloads_and_drains(tmp_path: Path) -> None:
    sim = FreeSwitchSim(password=PASSWORD, time_scale=0.05, local_streams=("moh",))
    sim.start()
    config = tmp_path / "router.toml"
    esl = f'\n[esl]\nhost = "127.0.0.1"\nport = {sim.port}\n'
    config.write_text(BASE_TOML + esl + agents_toml(("a1", "sales = 5")))
    log = tmp_path / "router.log"
    proc = _start(config, log, PASSWORD)
    try:
        sim.add_endpoint("user/a1", Endpoint("answer"))
        sim.add_endpoint("user/adv", Endpoint("answer"))
        wait_until(lambda: sim.listeners, timeout=15, what="the router to connect")
        gevent.sleep(0.3)  # adoption pass and agents logged in
        talking = sim.inbound_call("5551000", variables={"esl_router_queue": "sales"})
        wait_until(lambda: sim.channels[talking].bridged_to, timeout=5, what="bridge")
        waiting = sim.inbound_call("5551001", variables={"esl_router_queue": "advisory"})
        wait_until(lambda: sim.channels[waiting].get_var("esl_router_enqueued_at"), what="queued")
        # SIGHUP: a new advisory agent takes the waiting call
        config.write_text(BASE_TOML + esl + agents_toml(("a1", "sales = 5"), ("adv", "advisory = 8")))
        proc.send_signal(signal.SIGHUP)
        wait_until(lambda: sim.channels[waiting].bridged_to, timeout=5, what="bridge after reload")
        # SIGTERM: a new caller is left parked for the next router
        parked = sim.inbound_call("5551002", variables={"esl_router_queue": "advisory"})
        wait_until(lambda: sim.channels[parked].get_var("esl_router_enqueued_at"), what="queued")
        proc.send_signal(signal.SIGTERM)
        assert _wait_exit(proc) == 0
        assert sim.channels[parked].parked and sim.channels[talking].bridged_to
        text = log.read_text()
        assert "config" in text and "applied" in text and "draining" in text
        assert PASSWORD not in text
    finally:
        if proc.poll() is None:
            proc.kill()
        sim.stop()


def test_run_without_a_password_says_so(tmp_path: Path) -> None:
    config = tmp_path / "router.toml"
    config.write_text(BASE_TOML + agents_toml(("a1", "sales = 5")))
    log = tmp_path / "router.log"
    proc = _start(config, log, None)
    assert _wait_exit(proc) == 1
    assert "ESL_ROUTER_ESL_PASSWORD" in log.read_text()


def test_run_keeps_retrying_an_unreachable_freeswitch(tmp_path: Path) -> None:
    config = tmp_path / "router.toml"
    config.write_text(BASE_TOML + '\n[esl]\nport = 9\n' + agents_toml(("a1", "sales = 5")))
    log = tmp_path / "router.log"
    proc = _start(config, log, PASSWORD)
    try:
        wait_until(lambda: "unreachable" in log.read_text(), timeout=10, what="the retry log line")
        assert proc.poll() is None  # still running, retrying
        proc.send_signal(signal.SIGTERM)
        assert _wait_exit(proc) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
