"""freeswitch_conf/: well-formed, safe defaults, and the dialplan's actions, run verbatim through
the simulator, give the router everything it needs (queue marker, IVR digits, cancellable
voicemail fallback, park)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import gevent  # type: ignore[import-untyped]
import pytest

pytest.importorskip("router._core", reason="the Rust core router._core is not built yet")

from router.config import CallSettings, load_config
from router.fsconf import agents_xml
from router.routing import CallRouter
from router.sim.freeswitch import Endpoint, FreeSwitchSim
from tests.routing_env import wait_until

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "freeswitch_conf"
SINGLE = ROOT / "examples" / "single_centre_50.toml"
TIME_SCALE = 0.05


def _actions(extension: str) -> list[tuple[str, str]]:
    tree = ET.parse(CONF / "dialplan" / "default" / "00_esl_router.xml")
    (ext,) = [e for e in tree.getroot().iter("extension") if e.get("name") == extension]
    return [(a.get("application", ""), a.get("data", "")) for a in ext.iter("action")]


def test_every_file_is_well_formed_xml() -> None:
    files = sorted(CONF.rglob("*.xml"))
    assert len(files) >= 6
    for path in files:
        ET.parse(path)
    assert (CONF / "README.md").is_file()


def test_event_socket_is_loopback_with_a_password_of_your_own_and_an_acl() -> None:
    root = ET.parse(CONF / "autoload_configs" / "event_socket.conf.xml").getroot()
    params = {p.get("name"): p.get("value") for p in root.iter("param")}
    assert params["listen-ip"] == "127.0.0.1"
    assert params["password"] and params["password"] != "ClueCon"
    assert params["apply-inbound-acl"]


def test_hold_music_stream_is_the_routers_default() -> None:
    root = ET.parse(CONF / "autoload_configs" / "local_stream.conf.xml").getroot()
    names = {d.get("name") for d in root.iter("directory")}
    assert f"local_stream://{names.pop()}" == CallSettings().hold_music


def test_agents_xml_lists_every_agent_of_a_config() -> None:
    config = load_config(SINGLE)
    root = ET.fromstring(agents_xml(config))
    ids = [u.get("id") for u in root.iter("user")]
    assert ids[:-1] == [a.id for a in config.agents] and ids[-1] == "queue-voicemail"


def test_dialplan_fallback_goes_to_voicemail_when_no_router_takes_the_call() -> None:
    sim = FreeSwitchSim(time_scale=TIME_SCALE)
    sim.start()
    try:
        apps = [a for a in _actions("esl_router_trading_line") if a[0] != "park"]
        caller = sim.inbound_call("5551000", dest="955551", apps=apps, answer=False)
        wait_until(lambda: sim.channels[caller].dest == "esl_router_voicemail", timeout=3)
    finally:
        sim.stop()


def test_the_national_number_dialplan_drives_the_router_end_to_end() -> None:
    config = load_config(SINGLE)
    sim = FreeSwitchSim(time_scale=TIME_SCALE, local_streams=("moh",))
    sim.start()
    for agent in config.agents:
        sim.add_endpoint(f"user/{agent.id}", Endpoint("answer"))
    commands: list[str] = []
    original = sim._command

    def record(lst: Any, raw: str) -> None:
        commands.append(raw)
        original(lst, raw)

    sim._command = record  # type: ignore[method-assign]
    router = CallRouter(config, password="ClueCon", port=sim.port)
    try:
        router.start()
        assert router.wait_ready(5)
        apps = [a for a in _actions("esl_router_national_number") if a[0] != "park"]
        assert ("set", "esl_router_fallback=${last_sched_id}") in apps
        caller = gevent.spawn(sim.inbound_call, "8613800000005", dest="95555", apps=apps, answer=False)
        wait_until(lambda: sim.channels, what="the caller in the IVR")
        (uuid,) = sim.channels
        gevent.sleep(0.05)
        sim.send_dtmf(uuid, "2")  # advisory, by [calls] ivr of the example config
        caller.join(timeout=3)
        leg = wait_until(lambda: sim.channels[uuid].bridged_to, what="bridge")
        answered_by = sim.channels[leg].get_var("esl_router_agent")
        assert answered_by == "adv-0003"  # the customer's own agent, from the example directory
        task = sim.channels[uuid].get_var("esl_router_fallback")
        assert f"api sched_del {task}" in commands
        gevent.sleep(20 * TIME_SCALE + 0.1)  # when the fallback would have fired
        assert sim.channels[uuid].dest == "95555" and sim.channels[uuid].bridged_to == leg
    finally:
        router.stop()
        sim.stop()


def test_readme_checks_pass_the_event_socket_password() -> None:
    """Once event_socket.conf.xml has its own password, a bare ``fs_cli -x`` cannot connect (real
    FreeSWITCH 1.10.12: ``Error Connecting []``): every check of the README passes ``-p``."""
    text = (CONF / "README.md").read_text()
    calls = [line for line in text.splitlines() if line.lstrip().startswith("fs_cli ")]
    assert calls and all(" -p " in line for line in calls), calls
