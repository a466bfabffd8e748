"""The FreeSWITCH simulator: conformance with the real captures (the same commands give the same
messages, events in the same order, with the same header names), the Event Socket's error replies,
and the scripted call flows driven through our own ESL client and through greenswitch."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import gevent  # type: ignore[import-untyped]
import gevent.queue  # type: ignore[import-untyped]
import gevent.socket  # type: ignore[import-untyped]
import pytest

from router.esl import protocol as p
from router.esl.connection import ESLConnection
from router.esl.protocol import ApiResponse, CommandReply, DisconnectNotice, Event, Message
from router.sim.captures import wire
from router.sim.freeswitch import Endpoint, FreeSwitchSim
from tests.captures import require_or_skip

AGENT = "sofia/internal/agent@127.0.0.1:5091"


@pytest.fixture
def sim() -> Iterator[FreeSwitchSim]:
    s = FreeSwitchSim(time_scale=0.05)
    s.start()
    yield s
    s.stop()


# --- replaying a capture's commands against the simulator ---------------------------------------


@dataclass
class Scenario:
    """How to make the simulator behave like the capture's real callers and phones."""

    caller: dict[str, object]
    endpoints: list[Endpoint] = field(default_factory=list)


def _kind(m: Message) -> str:
    if isinstance(m, Event):
        return f"event:{m.name}"
    return type(m).__name__


def replay(sim: FreeSwitchSim, name: str, scenario: Scenario) -> tuple[list[Message], list[Message]]:
    """Send the capture's commands to the simulator, each once the simulator has sent as many
    messages as FreeSWITCH had by then; trigger the capture's spontaneous events (an inbound
    call, DTMF) at the same points. Returns (what FreeSWITCH sent, what the simulator sent)."""
    if scenario.endpoints:
        sim.add_endpoint(AGENT, *scenario.endpoints)
    msgs = wire(name)
    real = [m for wm in msgs if wm.dir == "S->C" for m in p.parse_stream(wm.data)]
    sock = gevent.socket.create_connection(("127.0.0.1", sim.port))
    parser = p.Parser()
    got: list[Message] = []

    def reader() -> None:
        while True:
            data = sock.recv(65536)
            if not data:
                return
            parser.feed(data)
            got.extend(parser)

    rd = gevent.spawn(reader)

    def wait_for(n: int, timeout: float = 3.0) -> None:
        deadline = time.monotonic() + timeout
        while len(got) < n and time.monotonic() < deadline:
            gevent.sleep(0.002)

    caller_uuid: str | None = None
    index = 0
    for wm in msgs:
        if wm.dir == "C->S":
            wait_for(index)
            sock.sendall(wm.data)
            continue
        (m,) = p.parse_stream(wm.data)
        if isinstance(m, Event) and m.name == "CHANNEL_CREATE" and m.get("Call-Direction") == "inbound":
            wait_for(index)
            caller_uuid = m.unique_id
            gevent.spawn(sim.inbound_call, uuid=caller_uuid, **scenario.caller)
        elif isinstance(m, Event) and m.name == "DTMF":
            wait_for(index)
            assert caller_uuid is not None
            sim.send_dtmf(caller_uuid, m.get("DTMF-Digit"))
        index += 1
    wait_for(len(real))
    gevent.sleep(0.05)
    rd.kill()
    sock.close()
    return real, got


def _roles(msgs: list[Message]) -> list[tuple[str, int | None]]:
    order: list[str] = []
    out = []
    for m in msgs:
        uid = m.unique_id if isinstance(m, Event) else None
        if uid is not None and uid not in order:
            order.append(uid)
        out.append((_kind(m), order.index(uid) if uid is not None else None))
    return out


def assert_conforms(real: list[Message], got: list[Message], *, per_channel_order: bool = False) -> None:
    """Same message kinds, same event order (per channel, if asked), same header names."""
    r, g = _roles(real), _roles(got)
    if per_channel_order:
        for role in {x[1] for x in r}:
            assert [k for k, x in r if x == role] == [k for k, x in g if x == role], role
        assert sorted(r, key=str) == sorted(g, key=str)
    else:
        assert g == r
    pairs = sorted(enumerate(r), key=lambda t: str(t[1]))  # stable: n-th with n-th of a kind
    gpairs = sorted(enumerate(g), key=lambda t: str(t[1]))
    for (ri, _), (gi, _) in zip(pairs, gpairs, strict=True):
        a, b = real[ri], got[gi]
        if isinstance(a, Event) and isinstance(b, Event):
            ra, gb = {k for k, _ in a.items}, {k for k, _ in b.items}
            assert ra == gb, (a.name, sorted(ra - gb), sorted(gb - ra))
            # and in the same order, for the headers FreeSWITCH itself lays out (channel
            # variables follow the order they were set in, which each call's history decides)
            fixed_a = [k for k, _ in a.items if not k.startswith("variable_")]
            fixed_b = [k for k, _ in b.items if not k.startswith("variable_")]
            assert fixed_a == fixed_b, (a.name, fixed_a, fixed_b)
        elif isinstance(a, CommandReply) and isinstance(b, CommandReply):
            assert set(a.headers) == set(b.headers)
            assert a.reply_text.split(" ")[0] == b.reply_text.split(" ")[0]


CALLER_9010: dict[str, object] = {"dest": "9010", "variables": {"esl_router_queue": "sales", "park_timeout": "20"}}


def test_conformance_d2_agent_no_answer(sim: FreeSwitchSim) -> None:
    require_or_skip()
    real, got = replay(sim, "d2_agent_no_answer_json", Scenario(CALLER_9010, [Endpoint("no_answer")]))
    assert_conforms(real, got)
    bodies = [m.body for m in got if isinstance(m, ApiResponse)]
    assert bodies == ["sales", "false", "-ERR No such channel!\n", "+OK\n"]
    (job,) = [m for m in got if isinstance(m, Event) and m.name == "BACKGROUND_JOB"]
    assert job.body == "-ERR NO_ANSWER\n"


def test_conformance_d3_agent_busy_rejected(sim: FreeSwitchSim) -> None:
    require_or_skip()
    eps = [Endpoint("busy"), Endpoint("reject"), Endpoint("busy")]
    real, got = replay(sim, "d3_agent_busy_rejected_plain", Scenario(CALLER_9010, eps))
    assert_conforms(real, got)
    jobs = [m.body for m in got if isinstance(m, Event) and m.name == "BACKGROUND_JOB"]
    assert jobs == ["-ERR USER_BUSY\n", "-ERR CALL_REJECTED\n"]
    hangups = [m for m in got if isinstance(m, Event) and m.name == "CHANNEL_HANGUP"]
    assert hangups[0].get("variable_sip_term_status") == "486"
    assert hangups[1].get("variable_proto_specific_hangup_cause") == "sip:603"


def test_conformance_a1_router_flow(sim: FreeSwitchSim) -> None:
    """a1: park, broadcast, sendmsg playback, DTMF, originate, bridge, kill (event plain).
    FreeSWITCH itself orders the two legs' UNPARKs differently in a1 and d7, so the order is
    compared per channel here."""
    require_or_skip()
    caller = {"dest": "9000", "ack_before_park": False}
    real, got = replay(sim, "a1_inbound_router_plain", Scenario(caller, [Endpoint("answer")]))
    assert_conforms(real, got, per_channel_order=True)


@pytest.mark.parametrize(
    "name", ["c1_auth_wrong_password", "c2_command_before_auth", "c3_error_replies"]
)
def test_conformance_error_replies(sim: FreeSwitchSim, name: str) -> None:
    """The c-captures' exact replies: wrong password, commands before auth, every error reply."""
    require_or_skip()
    real, got = replay(sim, name, Scenario({}))
    assert_conforms(real, got)
    for a, b in zip(real, got, strict=True):
        if isinstance(a, ApiResponse) and isinstance(b, ApiResponse):
            assert a.body == b.body
        elif isinstance(a, CommandReply) and isinstance(b, CommandReply) and "Job-UUID" not in a.reply_text:
            assert a.reply_text == b.reply_text
        elif isinstance(a, DisconnectNotice) and isinstance(b, DisconnectNotice):
            assert a.body == b.body and a.headers == b.headers
        elif isinstance(a, Event) and isinstance(b, Event):
            assert a.body == b.body


# --- the simulator through our own client --------------------------------------------------------


@pytest.fixture
def client(sim: FreeSwitchSim) -> Iterator[ESLConnection]:
    c = ESLConnection("127.0.0.1", sim.port, "ClueCon", backoff_initial=0.02)
    c.start()
    assert c.wait_connected(5)
    yield c
    c.stop(timeout=0.5)


def _waiter(c: ESLConnection, name: str) -> Callable[..., Event]:
    q: gevent.queue.Queue = gevent.queue.Queue()
    c.on(name, q.put)

    def get(timeout: float = 3.0) -> Event:
        ev: Event = q.get(timeout=timeout)
        return ev

    return get


def test_call_flow_park_ivr_originate_bridge_kill(sim: FreeSwitchSim, client: ESLConnection) -> None:
    parks = _waiter(client, "CHANNEL_PARK")
    bridges = _waiter(client, "CHANNEL_BRIDGE")
    destroys = _waiter(client, "CHANNEL_DESTROY")
    sim.add_endpoint("user/1001", Endpoint("answer", answer_delay=0.2))
    caller = sim.inbound_call("5551000", "caller", "9010", {"esl_router_queue": "sales"})
    assert parks().unique_id == caller
    assert client.api("uuid_getvar", caller, "esl_router_queue").body == "sales"
    assert client.api("uuid_getvar", caller, "nope").body == "_undef_"
    assert client.api("uuid_setvar", caller, "esl_router_enqueued_at", "1763740000.123").body == "+OK\n"
    dump = json.loads(client.api("uuid_dump", caller, "json").body)
    assert dump["variable_esl_router_enqueued_at"] == "1763740000.123"
    # IVR: play_and_get_digits completes with the digits in the variable, by our Event-UUID
    ivr = client.execute(
        caller, "play_and_get_digits",
        "1 5 1 8000 # tone_stream://%(300,0,440) silence_stream://250 esl_router_digits \\d+ 3000",
    )
    gevent.sleep(0.05)
    sim.send_dtmf(caller, "42#")
    done = ivr.complete(timeout=3)
    assert done.get("Application-UUID") == ivr.event_uuid
    assert done.get("variable_esl_router_digits") == "42"
    assert client.api("uuid_getvar", caller, "read_result").body == "success"
    # originate the agent, bridge
    agent = p.new_uuid()
    job = client.bgapi("originate", p.dial_string("user/1001", {"origination_uuid": agent}), "&park()")
    assert job.result(timeout=3) == f"+OK {agent}\n"
    assert parks().unique_id == agent
    assert client.api("uuid_bridge", caller, agent).body == f"+OK {agent}\n"
    bridge = bridges()
    assert (bridge.get("Bridge-A-Unique-ID"), bridge.get("Bridge-B-Unique-ID")) == (caller, agent)
    calls = json.loads(client.api("show", "calls", "as", "json").body)
    assert calls["row_count"] == 1 and calls["rows"][0]["b_uuid"] == agent
    assert client.api("uuid_kill", caller).body == "+OK\n"
    gone = {destroys().unique_id, destroys().unique_id}
    assert gone == {caller, agent}
    assert client.api("uuid_exists", caller).body == "false"
    assert client.api("show", "channels", "as", "json").body == '{"row_count": 0}\n'


@pytest.mark.parametrize(
    ("behaviour", "body"),
    [
        ("no_answer", "-ERR NO_ANSWER\n"),
        ("busy", "-ERR USER_BUSY\n"),
        ("reject", "-ERR CALL_REJECTED\n"),
        ("unreachable", "-ERR NORMAL_TEMPORARY_FAILURE\n"),
        ("unregistered", "-ERR USER_NOT_REGISTERED\n"),
    ],
)
def test_agent_failures(sim: FreeSwitchSim, client: ESLConnection, behaviour: str, body: str) -> None:
    sim.add_endpoint("user/1002", Endpoint(behaviour))
    creates = _waiter(client, "CHANNEL_CREATE")
    agent = p.new_uuid()
    job = client.bgapi(
        "originate", p.dial_string("user/1002", {"origination_uuid": agent, "originate_timeout": "3"}),
        "&park()",
    )
    assert job.result(timeout=3) == body
    if behaviour == "unregistered":  # d4: no channel at all
        with pytest.raises(gevent.queue.Empty):
            creates(0.1)
    assert client.api("uuid_exists", agent).body == "false"


def test_caller_hangup_while_agent_rings_leaves_the_agent_leg(
    sim: FreeSwitchSim, client: ESLConnection
) -> None:
    """d5: FreeSWITCH does not cancel our originate when the caller hangs up; we must kill it."""
    sim.add_endpoint("user/1003", Endpoint("no_answer"))
    parks = _waiter(client, "CHANNEL_PARK")
    caller = sim.inbound_call()
    parks()
    agent = p.new_uuid()
    job = client.bgapi(
        "originate", p.dial_string("user/1003", {"origination_uuid": agent, "originate_timeout": "20"}),
        "&park()",
    )
    gevent.sleep(0.05)
    sim.caller_hangup(caller)
    gevent.sleep(0.05)
    assert client.api("uuid_exists", agent).body == "true" and not job.done
    assert client.api("uuid_kill", agent).body == "+OK\n"
    assert job.result(timeout=3) == "-ERR NORMAL_CLEARING\n"


def test_park_timeout_hangs_up(sim: FreeSwitchSim, client: ESLConnection) -> None:
    hangups = _waiter(client, "CHANNEL_HANGUP")
    caller = sim.inbound_call(variables={"park_timeout": "4:ALLOTTED_TIMEOUT"})
    ev = hangups(timeout=3)
    assert ev.unique_id == caller and ev.get("Hangup-Cause") == "ALLOTTED_TIMEOUT"


def test_filters_follow_d1(sim: FreeSwitchSim) -> None:
    """Filters are OR-ed, a negative filter only vetoes, a variable filter drops BACKGROUND_JOB."""
    seen: list[Event] = []
    c = ESLConnection(
        "127.0.0.1", sim.port, "ClueCon", filters=[("variable_esl_router_queue", "/.+/")]
    )
    c.on("*", seen.append)
    c.start()
    try:
        assert c.wait_connected(5)
        a = sim.inbound_call(variables={"esl_router_queue": "sales"})
        b = sim.inbound_call(dest="9000")
        gevent.sleep(0.1)
        assert {e.unique_id for e in seen} == {a}
        job = c.bgapi("status")
        with pytest.raises(TimeoutError):
            job.result(timeout=0.2)  # BACKGROUND_JOB has no variables: filtered out
        assert c.command(p.filter_delete("all")).reply_text == "+OK filter deleted. [all][]"
        assert c.command(p.filter_("Unique-ID", "-" + a)).ok
        seen.clear()
        c.api("uuid_broadcast", b, "tone_stream://%(100,50,440);loops=1", "aleg")
        gevent.sleep(0.1)
        assert seen == []  # only a negative filter: nothing at all
        assert c.command(p.filter_("Unique-ID", b)).ok
        c.api("uuid_broadcast", b, "tone_stream://%(100,50,440);loops=1", "aleg")
        gevent.sleep(0.1)
        assert [e.name for e in seen][:2] == ["CHANNEL_EXECUTE", "PLAYBACK_START"]
    finally:
        c.stop(timeout=0.5)


def test_greenswitch_client_talks_to_the_simulator(sim: FreeSwitchSim) -> None:
    """greenswitch, the design card's ESL library, as a reference client of the simulator."""
    from greenswitch import InboundESL  # type: ignore[import-untyped]

    esl = InboundESL("127.0.0.1", sim.port, "ClueCon")
    with gevent.Timeout(5):
        esl.connect()
        reply = esl.send("api status")
        assert reply.data.startswith("UP ")
        esl.stop()


def test_unreachable_port_is_free_after_stop() -> None:
    s = FreeSwitchSim()
    s.start()
    port = s.port
    s.stop()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=0.5)


# --- what a real FreeSWITCH 1.10.12 did in the lab (tests/test_real_freeswitch.py) ---------------
#
# Observed on 2026-11-21 with FreeSWITCH 1.10.12 built from source, the project's freeswitch_conf/
# and SIPp phones on loopback; the event orders below are the real ones, per channel.

_STEPS = {
    "PLAYBACK_STOP": "Playback-Status", "CHANNEL_EXECUTE_COMPLETE": "Application-Response",
    "CHANNEL_HANGUP": "Hangup-Cause", "CHANNEL_EXECUTE": "Application",
}


def _recorder(c: ESLConnection) -> list[Event]:
    """Every event in wire order (our client's handlers run per channel, so across channels
    they may run in another order): a second, raw connection subscribed to everything."""
    sim_port = c.port
    sock = gevent.socket.create_connection(("127.0.0.1", sim_port))
    sock.sendall(p.auth("ClueCon") + b"event plain ALL\n\n")
    parser = p.Parser()
    seen: list[Event] = []
    replies: list[Message] = []

    def reader() -> None:
        while True:
            data = sock.recv(65536)
            if not data:
                return
            parser.feed(data)
            for m in parser:
                if isinstance(m, Event):
                    seen.append(m)
                else:
                    replies.append(m)

    gevent.spawn(reader)
    deadline = time.monotonic() + 3
    while len(replies) < 3:  # banner, auth, event
        assert time.monotonic() < deadline
        gevent.sleep(0.002)
    return seen


def _steps(seen: list[Event], uuid: str, since: int = 0) -> list[tuple[str, str]]:
    return [
        (e.name, e.get(_STEPS[e.name]) if e.name in _STEPS else "")
        for e in seen[since:]
        if e.unique_id == uuid and e.name.startswith(("CHANNEL_", "PLAYBACK_"))
    ]


def _parked_pair(sim: FreeSwitchSim, client: ESLConnection, seen: list[Event]) -> tuple[str, str]:
    """A parked caller (9010) and an answered agent leg parked by ``&park()``."""
    parks = _waiter(client, "CHANNEL_PARK")
    sim.add_endpoint("user/1010", Endpoint("answer"))
    caller = sim.inbound_call("5551000", "caller", "9010", {"esl_router_queue": "sales"})
    assert parks().unique_id == caller
    agent = p.new_uuid()
    job = client.bgapi("originate", p.dial_string("user/1010", {"origination_uuid": agent}), "&park()")
    assert job.result(timeout=3) == f"+OK {agent}\n"
    assert parks().unique_id == agent
    return caller, agent


def _wait_for(seen: list[Event], name: str, uuid: str, timeout: float = 3.0, since: int = 0) -> None:
    deadline = time.monotonic() + timeout
    while not any(e.name == name and e.unique_id == uuid for e in seen[since:]):
        assert time.monotonic() < deadline, f"no {name} for {uuid}"
        gevent.sleep(0.005)


def test_real_fs_uuid_bridge_during_hold_music_ends_the_playback(
    sim: FreeSwitchSim, client: ESLConnection
) -> None:
    """uuid_bridge while a uuid_broadcast (loops=-1) plays, with no uuid_break: the bridge takes
    the caller; the playback ends "done" with "PLAYBACK ERROR", then UNPARK (real: probe of the
    lab, the same for the router's own sendmsg music)."""
    seen = _recorder(client)
    caller, agent = _parked_pair(sim, client, seen)
    assert client.api("uuid_broadcast", caller, "tone_stream://%(1000,3000,440);loops=-1", "aleg").body == (
        "+OK Message sent\n"
    )
    _wait_for(seen, "PLAYBACK_START", caller)
    mark = len(seen)
    assert client.api("uuid_bridge", caller, agent).body == f"+OK {agent}\n"
    _wait_for(seen, "CHANNEL_BRIDGE", caller)
    assert _steps(seen, caller, mark) == [
        ("PLAYBACK_STOP", "done"),
        ("CHANNEL_EXECUTE_COMPLETE", "PLAYBACK ERROR"),
        ("CHANNEL_UNPARK", ""),
        ("CHANNEL_EXECUTE_COMPLETE", "PLAYBACK ERROR"),  # park's, the last app's response
        ("CHANNEL_EXECUTE", "uuid_bridge"),
        ("CHANNEL_BRIDGE", ""),
    ]
    assert _steps(seen, agent, mark) == [
        ("CHANNEL_UNPARK", ""), ("CHANNEL_EXECUTE_COMPLETE", "_none_"), ("CHANNEL_EXECUTE", "uuid_bridge"),
    ]


@pytest.mark.parametrize(("bridge", "status", "response"), [(True, "done", "PLAYBACK ERROR"), (False, "break", "FILE PLAYED")])
def test_real_fs_uuid_break_lands_a_frame_later(
    sim: FreeSwitchSim, client: ESLConnection, bridge: bool, status: str, response: str
) -> None:
    """The router sends ``uuid_break <caller> all`` and at once ``uuid_bridge``: on the real
    switch the bridge usually wins (93 of 100 calls at 5 calls/s: PLAYBACK_STOP "done", "PLAYBACK
    ERROR"); a break on its own gives "break" and "FILE PLAYED" (captures d7)."""
    seen = _recorder(client)
    caller, agent = _parked_pair(sim, client, seen)
    sim.local_streams = frozenset({"moh"})
    music = client.execute(caller, "playback", "local_stream://moh")
    _wait_for(seen, "PLAYBACK_START", caller)
    assert client.api("uuid_break", caller, "all").body == "+OK\n"
    if bridge:
        assert client.api("uuid_bridge", caller, agent).body == f"+OK {agent}\n"
    done = music.complete(timeout=3)
    assert done.get("Application-Response") == response
    _wait_for(seen, "PLAYBACK_STOP", caller)
    (stop,) = [e for e in seen if e.name == "PLAYBACK_STOP" and e.unique_id == caller]
    assert stop.get("Playback-Status") == status


def test_real_fs_agent_hangs_up_first_then_the_caller_is_hung_up(
    sim: FreeSwitchSim, client: ESLConnection
) -> None:
    """The agent (uuid_bridge's second leg) sends BYE: agent HANGUP, agent HANGUP_COMPLETE,
    caller UNBRIDGE, agent DESTROY, then the caller, back in its dialplan after park with
    nothing left, is hung up with NORMAL_CLEARING (real switch, 100 of 100 calls)."""
    seen = _recorder(client)
    caller, agent = _parked_pair(sim, client, seen)
    assert client.api("uuid_bridge", caller, agent).body == f"+OK {agent}\n"
    _wait_for(seen, "CHANNEL_BRIDGE", caller)
    mark = len(seen)
    sim.caller_hangup(agent, "NORMAL_CLEARING")
    _wait_for(seen, "CHANNEL_DESTROY", caller)
    order = [(e.name, "caller" if e.unique_id == caller else "agent") for e in seen[mark:] if e.unique_id in (caller, agent)]
    assert order == [
        ("CHANNEL_HANGUP", "agent"),
        ("CHANNEL_HANGUP_COMPLETE", "agent"),
        ("CHANNEL_UNBRIDGE", "caller"),
        ("CHANNEL_DESTROY", "agent"),
        ("CHANNEL_HANGUP", "caller"),
        ("CHANNEL_HANGUP_COMPLETE", "caller"),
        ("CHANNEL_DESTROY", "caller"),
    ]
    unbridge = next(e for e in seen[mark:] if e.name == "CHANNEL_UNBRIDGE")
    assert unbridge.get("variable_bridge_hangup_cause") == "NORMAL_CLEARING"
    hangup = next(e for e in seen[mark:] if e.name == "CHANNEL_HANGUP" and e.unique_id == caller)
    assert hangup.get("Hangup-Cause") == "NORMAL_CLEARING"


def test_real_fs_agent_hangs_up_first_with_park_after_bridge_parks_the_caller(
    sim: FreeSwitchSim, client: ESLConnection
) -> None:
    """With park_after_bridge=true on the caller, the agent's hangup parks the caller again
    (CHANNEL_PARK with no CHANNEL_EXECUTE park, as in captures d11)."""
    seen = _recorder(client)
    caller, agent = _parked_pair(sim, client, seen)
    assert client.api("uuid_setvar", caller, "park_after_bridge", "true").body == "+OK\n"
    assert client.api("uuid_bridge", caller, agent).body == f"+OK {agent}\n"
    _wait_for(seen, "CHANNEL_BRIDGE", caller)
    mark = len(seen)
    sim.caller_hangup(agent)
    _wait_for(seen, "CHANNEL_PARK", caller, since=mark)
    assert [n for n, _ in _steps(seen, caller, mark)] == ["CHANNEL_UNBRIDGE", "CHANNEL_PARK"]
    assert client.api("uuid_exists", caller).body == "true"


def test_real_fs_file_exists_takes_the_path_as_given(client: ESLConnection) -> None:
    """``file_exists`` answers "true"/"false" (no newline) for the path as given: a sound that
    playback finds under sounds_dir is "false" when named relatively."""
    sim = FreeSwitchSim(files=("/usr/share/freeswitch/sounds/music/8000/hold.wav",))
    sim.start()
    try:
        c = ESLConnection("127.0.0.1", sim.port, "ClueCon", backoff_initial=0.02)
        c.start()
        assert c.wait_connected(5)
        assert c.api("file_exists", "/usr/share/freeswitch/sounds/music/8000/hold.wav").body == "true"
        assert c.api("file_exists", "music/8000/hold.wav").body == "false"
        assert c.api("file_exists").body == "false"
        c.stop(timeout=0.5)
    finally:
        sim.stop()


def test_real_fs_local_stream_show_lists_every_field() -> None:
    sim = FreeSwitchSim(local_streams=("moh",))
    body = sim.api("local_stream show moh")
    keys = [line.split(":")[0].strip() for line in body.splitlines()[1:]]
    assert body.startswith("moh\n") and keys == [
        "location", "channels", "rate", "interval", "samples", "prebuf", "timer", "total",
        "shuffle", "ready", "stopped", "reloading",
    ]
    assert sim.api("local_stream show nosuch") == "-ERR Cannot locate local_stream nosuch!\n"
