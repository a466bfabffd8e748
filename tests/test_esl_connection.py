"""The inbound ESL client against scripted servers on loopback: the real captures replayed byte for
byte (events interleaved with replies exactly as FreeSWITCH sent them), reconnects, bad input,
slow handlers."""

from __future__ import annotations

import logging
import re
import socket
import time
from collections.abc import Callable, Iterator

import gevent  # type: ignore[import-untyped]
import gevent.server  # type: ignore[import-untyped]
import pytest

from router.esl import protocol as p
from router.esl.connection import (
    PASSWORD_ENV,
    ConnectionLost,
    ESLConnection,
    ESLError,
    NotConnected,
    esl_password,
)
from router.esl.protocol import Event
from router.sim.captures import wire
from tests.captures import require_or_skip

Handler = Callable[[object], None]

EVENTS = ["CHANNEL_CREATE", "CHANNEL_PARK", "CHANNEL_EXECUTE_COMPLETE", "BACKGROUND_JOB"]


class Server:
    """A loopback TCP server running `handler(sock)` for each connection."""

    def __init__(self, handler: Handler, port: int = 0) -> None:
        self.connections = 0

        def handle(sock: object, _addr: object) -> None:
            self.connections += 1
            handler(sock)

        self.server = gevent.server.StreamServer(("127.0.0.1", port), handle)
        self.server.start()
        self.port: int = self.server.server_port

    def stop(self) -> None:
        self.server.stop(timeout=1)


def read_command(sock: object, buf: bytearray) -> str | None:
    """One client command (up to the blank line), or None at EOF."""
    while b"\n\n" not in buf:
        data = sock.recv(65536)  # type: ignore[attr-defined]
        if not data:
            return None
        buf += data
    end = buf.index(b"\n\n")
    cmd = buf[:end].decode()
    del buf[: end + 2]
    return cmd


def handshake(sock: object, buf: bytearray, log: list[str] | None = None) -> None:
    sock.sendall(p.serialize_auth_request())  # type: ignore[attr-defined]
    while True:
        cmd = read_command(sock, buf)
        assert cmd is not None
        if log is not None:
            log.append(cmd)
        if cmd.startswith("auth"):
            sock.sendall(p.serialize_command_reply("+OK accepted"))  # type: ignore[attr-defined]
        elif cmd.startswith("event"):
            sock.sendall(p.serialize_command_reply("+OK event listener enabled json"))  # type: ignore[attr-defined]
            return
        else:
            sock.sendall(p.serialize_command_reply("+OK filter added."))  # type: ignore[attr-defined]


def ev(name: str, uuid: str, **extra: str) -> bytes:
    headers = [("Event-Name", name), ("Unique-ID", uuid), *extra.items()]
    return p.serialize_event_json(headers, None)


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    made: list[Server] = []
    yield made
    for s in made:
        s.stop()


@pytest.fixture
def conns() -> Iterator[list[ESLConnection]]:
    made: list[ESLConnection] = []
    yield made
    for c in made:
        c.stop(timeout=0.5)


def connect(conns: list[ESLConnection], port: int, **kw: object) -> ESLConnection:
    c = ESLConnection("127.0.0.1", port, "ClueCon", events=EVENTS, backoff_initial=0.02, **kw)  # type: ignore[arg-type]
    conns.append(c)
    c.start()
    return c


# --- replaying real FreeSWITCH bytes ------------------------------------------------------------


def replay_handler(name: str) -> Handler:
    """Serve a capture: answer each client command with what FreeSWITCH sent after it.

    The client's own Job-UUID replaces FreeSWITCH's (same length, so Content-Length holds)."""
    msgs = wire(name)
    turns: list[tuple[bytes | None, list[bytes]]] = [(None, [])]
    for m in msgs:
        if m.dir == "C->S":
            turns.append((m.data, []))
        else:
            turns[-1][1].append(m.data)

    def handler(sock: object) -> None:
        buf = bytearray()
        subst: dict[bytes, bytes] = {}
        for expected, answer in turns:
            if expected is not None:
                cmd = read_command(sock, buf)
                if cmd is None:
                    return
                first = expected.split(b"\n")[0].decode()
                assert cmd.split("\n")[0] == first, (cmd, first)
                ours = re.search(r"Job-UUID: (\S+)", cmd)
                for data in answer:
                    theirs = re.search(rb"Job-UUID: ([0-9a-f-]{36})", data)
                    if ours and theirs:
                        subst[theirs.group(1)] = ours.group(1).encode()
                        break
            for data in answer:
                for old, new in subst.items():
                    data = data.replace(old, new)
                sock.sendall(data)  # type: ignore[attr-defined]
        read_command(sock, buf)

    return handler


def test_replay_d2_no_answer(servers: list[Server], conns: list[ESLConnection]) -> None:
    """d2: api reply, bgapi Job-UUID matched to its BACKGROUND_JOB among interleaved events."""
    require_or_skip()
    sent = [m.data.decode() for m in wire("d2_agent_no_answer_json") if m.dir == "C->S"]
    events = sent[1].split()[2:]
    srv = Server(replay_handler("d2_agent_no_answer_json"))
    servers.append(srv)
    seen: list[str] = []
    c = ESLConnection("127.0.0.1", srv.port, "ClueCon", events=events)
    conns.append(c)
    c.on("*", lambda e: seen.append(e.name))
    c.start()
    assert c.wait_connected(5)
    caller = sent[2].split()[2]
    assert c.api("uuid_getvar", caller, "esl_router_queue").body == "sales"
    job = c.bgapi(*sent[3].split()[1:])
    assert job.result(timeout=5) == "-ERR NO_ANSWER\n"
    agent = re.search(r"origination_uuid=([0-9a-f-]+)", sent[3])
    assert agent is not None
    r = c.api("uuid_exists", agent.group(1))
    assert r.body == "false" and r.ok
    r = c.api("uuid_kill", agent.group(1))
    assert r.body == "-ERR No such channel!\n" and not r.ok
    assert c.api("uuid_kill", caller).body == "+OK\n"
    # Handlers run on per-channel lanes, so BACKGROUND_JOB (no channel) may be handled before or
    # after the caller's last events, as on real FreeSWITCH; wait for the lanes to drain.
    channel_events = [e for e in seen if e != "BACKGROUND_JOB"]
    for _ in range(500):
        channel_events = [e for e in seen if e != "BACKGROUND_JOB"]
        if channel_events and channel_events[-1] == "CHANNEL_DESTROY" and "BACKGROUND_JOB" in seen:
            break
        gevent.sleep(0.01)
    assert seen[:2] == ["CHANNEL_CREATE", "CHANNEL_EXECUTE"]
    assert seen.count("BACKGROUND_JOB") == 1 and channel_events[-1] == "CHANNEL_DESTROY"


def test_replay_a1_plain_reply_after_the_events_it_caused(
    servers: list[Server], conns: list[ESLConnection]
) -> None:
    """a1 (event plain): uuid_bridge's api/response comes after the events it caused; replies
    still go to the right commands, events to the handlers, in wire order."""
    require_or_skip()
    sent = [m.data.decode() for m in wire("a1_inbound_router_plain") if m.dir == "C->S"]
    srv = Server(replay_handler("a1_inbound_router_plain"))
    servers.append(srv)
    seen: list[Event] = []
    c = ESLConnection(
        "127.0.0.1", srv.port, "ClueCon", events=sent[1].split()[2:], event_format="plain"
    )
    conns.append(c)
    c.on("*", seen.append)
    c.start()
    assert c.wait_connected(5)
    replies: list[str] = []
    for cmd in sent[2:-1]:
        verb, _, rest = cmd.partition(" ")
        if verb == "api":
            replies.append(c.api(*rest.split()).body)
        elif verb == "bgapi":
            job = c.bgapi(*rest.split())
            replies.append(job.result(timeout=5))
        else:  # the captured sendmsg had no Event-UUID: send it as it was
            replies.append(c.command(cmd.encode()).reply_text)
    assert replies[0].startswith("UP ") and replies[1] == "\n0 total.\n"
    assert "+OK" in replies[-3] or replies[-3].startswith("uuid,")
    bridge = [r for r, cmd in zip(replies, sent[2:-1], strict=True) if "uuid_bridge" in cmd]
    assert bridge == ["+OK\n"] or bridge[0].startswith("+OK")
    names = [e.name for e in seen]
    assert names.count("CHANNEL_BRIDGE") == 1 and names.count("DTMF") == 1
    assert names.count("BACKGROUND_JOB") == 1 and names[-1] == "CHANNEL_DESTROY"
    assert all(e.format == "plain" for e in seen)


# --- scripted servers ------------------------------------------------------------------------


def test_slow_handler_delays_only_its_own_channel(
    servers: list[Server], conns: list[ESLConnection]
) -> None:
    def handler(sock: object) -> None:
        buf = bytearray()
        handshake(sock, buf)
        for i in range(3):
            sock.sendall(ev("CHANNEL_PARK", "A", Seq=str(i)) + ev("CHANNEL_PARK", "B", Seq=str(i)))  # type: ignore[attr-defined]
        read_command(sock, buf)

    srv = Server(handler)
    servers.append(srv)
    c = connect(conns, srv.port)
    done: dict[str, list[float]] = {"A": [], "B": []}
    start = time.monotonic()

    def on_park(e: Event) -> None:
        if e.unique_id == "A":
            gevent.sleep(0.3)
        done[e.unique_id or ""].append(time.monotonic() - start)

    c.on("CHANNEL_PARK", on_park)
    assert c.wait_connected(5)
    gevent.sleep(1.2)
    assert len(done["B"]) == 3 and max(done["B"]) < 0.2  # B is not held up by A
    assert len(done["A"]) == 3 and done["A"] == sorted(done["A"])  # A's events stay in order


def test_reconnect_reauths_resubscribes_and_calls_the_hook(
    servers: list[Server], conns: list[ESLConnection]
) -> None:
    commands: list[str] = []

    def handler(sock: object) -> None:
        buf = bytearray()
        handshake(sock, buf, commands)
        cmd = read_command(sock, buf)  # the filter
        assert cmd is not None
        commands.append(cmd)
        sock.sendall(p.serialize_command_reply("+OK filter added."))  # type: ignore[attr-defined]
        gevent.sleep(0.05)
        sock.close()  # type: ignore[attr-defined]  # FreeSWITCH restarts

    srv = Server(handler)
    servers.append(srv)
    hooks: list[int] = []
    c = connect(
        conns, srv.port, filters=[("Event-Name", "BACKGROUND_JOB")],
        on_connect=lambda conn: hooks.append(conn.connects),
    )
    deadline = time.monotonic() + 5
    while c.connects < 3 and time.monotonic() < deadline:
        gevent.sleep(0.02)
    assert c.connects >= 3 and hooks[:3] == [1, 2, 3]
    subscribe = "event json " + " ".join(EVENTS)
    assert commands[:6] == ["auth ClueCon", subscribe, "filter Event-Name BACKGROUND_JOB"] * 2
    assert commands.count("auth ClueCon") >= 3
    assert commands.count("event json " + " ".join(EVENTS)) >= 3
    assert commands.count("filter Event-Name BACKGROUND_JOB") >= 3


def test_unreachable_freeswitch_is_logged_and_retried(
    servers: list[Server], conns: list[ESLConnection], caplog: pytest.LogCaptureFixture
) -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    caplog.set_level(logging.WARNING, logger="router.esl")
    c = connect(conns, port)
    gevent.sleep(0.3)
    lines = [r.getMessage() for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(lines) >= 2 and f"127.0.0.1:{port}" in lines[0] and "retrying in" in lines[0]
    with pytest.raises(NotConnected):
        c.api("status")

    def handler(sock: object) -> None:
        buf = bytearray()
        handshake(sock, buf)
        while read_command(sock, buf) is not None:
            sock.sendall(p.serialize_api_response("UP\n"))  # type: ignore[attr-defined]

    servers.append(Server(handler, port))
    assert c.wait_connected(5)
    assert c.api("status").body == "UP\n"


def test_wrong_password_is_reported(
    servers: list[Server], conns: list[ESLConnection], caplog: pytest.LogCaptureFixture
) -> None:
    def handler(sock: object) -> None:
        buf = bytearray()
        sock.sendall(p.serialize_auth_request())  # type: ignore[attr-defined]
        read_command(sock, buf)
        sock.sendall(p.serialize_command_reply("-ERR invalid") + p.serialize_disconnect_notice())  # type: ignore[attr-defined]
        sock.close()  # type: ignore[attr-defined]

    srv = Server(handler)
    servers.append(srv)
    caplog.set_level(logging.ERROR, logger="router.esl")
    c = connect(conns, srv.port)
    gevent.sleep(0.2)
    assert not c.connected
    assert any("authentication refused (-ERR invalid)" in r.getMessage() for r in caplog.records)
    assert all("ClueCon" not in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    "junk",
    [
        b"Content-Type: api/response\nContent-Length: nope\n\n",
        b"\x00\xff\xfe binary junk\n\n",
        p.serialize_command_reply("+OK unexpected"),  # a reply with no command waiting
        p.serialize_event_json([("Event-Name", "CHANNEL_PARK")], None)[:-5],  # then EOF
    ],
)
def test_malformed_input_drops_and_remakes_the_connection(
    junk: bytes,
    servers: list[Server],
    conns: list[ESLConnection],
    caplog: pytest.LogCaptureFixture,
) -> None:
    def handler(sock: object) -> None:
        buf = bytearray()
        handshake(sock, buf)
        if srv.connections == 1:
            sock.sendall(junk)  # type: ignore[attr-defined]
            sock.close()  # type: ignore[attr-defined]
            return
        while read_command(sock, buf) is not None:
            sock.sendall(p.serialize_api_response("+OK\n"))  # type: ignore[attr-defined]

    srv = Server(handler)
    servers.append(srv)
    caplog.set_level(logging.INFO, logger="router.esl")
    c = connect(conns, srv.port)
    deadline = time.monotonic() + 5
    while c.connects < 2 and time.monotonic() < deadline:
        gevent.sleep(0.02)
    assert c.connects == 2 and c.wait_connected(1)
    assert c.api("status").ok
    text = " ".join(r.getMessage() for r in caplog.records)
    assert "malformed" in text or "no command waiting" in text


def test_pending_command_fails_when_the_connection_drops(
    servers: list[Server], conns: list[ESLConnection]
) -> None:
    def handler(sock: object) -> None:
        buf = bytearray()
        handshake(sock, buf)
        read_command(sock, buf)  # never answers the api
        sock.close()  # type: ignore[attr-defined]

    srv = Server(handler)
    servers.append(srv)
    c = connect(conns, srv.port)
    assert c.wait_connected(5)
    with pytest.raises(ConnectionLost):
        c.api("status", timeout=5)


def test_backlog_overflow_resyncs_instead_of_stalling(
    servers: list[Server], conns: list[ESLConnection], caplog: pytest.LogCaptureFixture
) -> None:
    def handler(sock: object) -> None:
        buf = bytearray()
        handshake(sock, buf)
        if srv.connections == 1:
            sock.sendall(b"".join(ev("CHANNEL_PARK", "A") for _ in range(50)))  # type: ignore[attr-defined]
        read_command(sock, buf)

    srv = Server(handler)
    servers.append(srv)
    caplog.set_level(logging.ERROR, logger="router.esl")
    c = connect(conns, srv.port, max_backlog=10)
    c.on("CHANNEL_PARK", lambda e: gevent.sleep(0.01))
    deadline = time.monotonic() + 5
    while c.connects < 2 and time.monotonic() < deadline:
        gevent.sleep(0.02)
    assert c.connects == 2
    assert any("backlog exceeded 10" in r.getMessage() for r in caplog.records)


def test_execute_is_completed_by_its_application_uuid(
    servers: list[Server], conns: list[ESLConnection]
) -> None:
    def handler(sock: object) -> None:
        buf = bytearray()
        handshake(sock, buf)
        while (cmd := read_command(sock, buf)) is not None:
            m = re.search(r"Event-UUID: (\S+)", cmd)
            assert m is not None
            sock.sendall(p.serialize_command_reply("+OK"))  # type: ignore[attr-defined]
            # a completion of someone else's playback first: must not be taken for ours
            sock.sendall(ev("CHANNEL_EXECUTE_COMPLETE", "C", **{"Application": "playback", "Application-UUID": "other"}))  # type: ignore[attr-defined]
            sock.sendall(ev("CHANNEL_EXECUTE_COMPLETE", "C", **{"Application": "playback", "Application-UUID": m.group(1), "Application-Response": "FILE PLAYED"}))  # type: ignore[attr-defined]

    srv = Server(handler)
    servers.append(srv)
    c = connect(conns, srv.port)
    assert c.wait_connected(5)
    execution = c.execute("C", "playback", "tone_stream://%(100,0,440)")
    done = execution.complete(timeout=5)
    assert done.get("Application-UUID") == execution.event_uuid
    assert done.get("Application-Response") == "FILE PLAYED"


def test_password_comes_from_env_or_config_only() -> None:
    assert esl_password("from-config", {}) == "from-config"
    assert esl_password("from-config", {PASSWORD_ENV: "from-env"}) == "from-env"
    with pytest.raises(ESLError, match=PASSWORD_ENV):
        esl_password(None, {})
    with pytest.raises(ValueError):
        esl_password("two words", {})
    c = ESLConnection("127.0.0.1", 1, "s3cret")
    assert "s3cret" not in repr(c)
