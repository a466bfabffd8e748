"""The ESL parser and serializers against the real FreeSWITCH captures, plus malformed input and
hostile values for the command builders."""

from __future__ import annotations

import functools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router.esl import protocol as p
from router.esl.protocol import (
    ApiResponse,
    AuthRequest,
    CommandReply,
    DisconnectNotice,
    ESLProtocolError,
    Event,
    Message,
    Parser,
    UnsafeValueError,
)
from router.sim.captures import (
    capture_names,
    received,
    recv_raw,
    wire,
)
from tests.captures import require_or_skip

CAPTURES = capture_names()

_KIND = {
    "auth/request": AuthRequest,
    "command/reply": CommandReply,
    "api/response": ApiResponse,
    "text/event-plain": Event,
    "text/event-json": Event,
    "text/disconnect-notice": DisconnectNotice,
}


@functools.cache
def parsed(name: str) -> tuple[Message, ...]:
    return tuple(p.parse_stream(recv_raw(name)))


def _one(data: bytes) -> Message:
    parser = Parser()
    parser.feed(data)
    msg = parser.next_message()
    assert msg is not None
    assert parser.buffered == 0  # the message is exactly as long as the capture says
    assert parser.next_message() is None
    parser.feed_eof()
    return msg


def _content_type(data: bytes) -> str:
    m = re.search(rb"^Content-Type: ([^\n]*)$", data.split(b"\n\n", 1)[0], re.M)
    assert m is not None
    return m.group(1).decode()


@pytest.fixture(autouse=True)
def _skip_without_captures() -> None:
    require_or_skip()


def test_captures_present() -> None:
    assert len(CAPTURES) >= 26


@pytest.mark.parametrize("name", CAPTURES)
def test_every_capture_parses_into_its_messages(name: str) -> None:
    """The whole .recv.raw parses into exactly the .jsonl's messages: count, kind and length."""
    msgs = parsed(name)
    expected = received(name)
    assert len(msgs) == len(expected)
    for msg, wm in zip(msgs, expected, strict=True):
        assert isinstance(msg, _KIND[_content_type(wm.data)])
        assert _one(wm.data) == msg  # stream parse == parse of the message alone, same length


@pytest.mark.parametrize("name", CAPTURES)
def test_every_event_reserializes_byte_exact(name: str) -> None:
    """Serializing a parsed message gives FreeSWITCH's bytes back (url-encoding, JSON, bodies)."""
    for msg, wm in zip(parsed(name), received(name), strict=True):
        if isinstance(msg, Event) and msg.format == "plain":
            assert p.serialize_event_plain(msg.items, msg.body) == wm.data
        elif isinstance(msg, Event) and msg.format == "json":
            assert p.serialize_event_json(msg.items, msg.body) == wm.data
        elif isinstance(msg, ApiResponse):
            assert p.serialize_api_response(msg.body) == wm.data
        elif isinstance(msg, AuthRequest):
            assert p.serialize_auth_request() == wm.data
        elif isinstance(msg, CommandReply) and "Event-Name" not in msg.headers:
            extra = [(k, v) for k, v in msg.headers.items() if k not in ("Content-Type", "Reply-Text")]
            assert p.serialize_command_reply(msg.reply_text, extra) == wm.data
        elif isinstance(msg, DisconnectNotice) and "Content-Disposition" not in msg.headers:
            assert p.serialize_disconnect_notice() == wm.data


@settings(max_examples=60)
@given(
    name=st.sampled_from(CAPTURES or ["none"]),
    cuts=st.lists(st.floats(min_value=0.0, max_value=1.0), max_size=40),
)
def test_chunked_feed_gives_the_same_messages(name: str, cuts: list[float]) -> None:
    """Split at random points (inside headers, bodies, the blank line...) nothing changes."""
    data = recv_raw(name)
    points = sorted({int(c * len(data)) for c in cuts})
    parser = Parser()
    got: list[Message] = []
    last = 0
    for point in [*points, len(data)]:
        parser.feed(data[last:point])
        last = point
        got.extend(parser)
    parser.feed_eof()
    assert tuple(got) == parsed(name)


def test_byte_by_byte() -> None:
    data = recv_raw("c3_error_replies")
    parser = Parser()
    got: list[Message] = []
    for i in range(len(data)):
        parser.feed(data[i : i + 1])
        got.extend(parser)
    assert tuple(got) == parsed("c3_error_replies")


# --- facts from the captures' README ----------------------------------------------------------


def _events(name: str) -> list[Event]:
    return [m for m in parsed(name) if isinstance(m, Event)]


def test_json_array_values_and_plain_array_encoding() -> None:
    """variable_transfer_history is a JSON array once it has two entries; ARRAY::a|:b in plain."""
    arrays = [
        e for e in _events("d11_uuid_transfer_json")
        if isinstance(e.headers.get("variable_transfer_history"), list)
    ]
    assert arrays
    history = arrays[0].get_list("variable_transfer_history")
    assert len(history) >= 2 and any(":uuid_br:" in h for h in history)
    plain = [
        e for e in _events("d11_uuid_transfer_plain")
        if e.get("variable_transfer_history").startswith("ARRAY::")
    ]
    assert plain and len(plain[0].get_list("variable_transfer_history")) >= 2


def test_api_error_bodies() -> None:
    bodies = [m.body for m in parsed("c3_error_replies") if isinstance(m, ApiResponse)]
    assert "-ERR nosuchcommand Command not found!\n" in bodies
    assert "-ERR Invalid uuid\n" in bodies
    assert "-USAGE: <uuid> <other_uuid>\n" in bodies
    assert "-ERR No such channel!\n" in bodies
    assert "-ERR NORMAL_TEMPORARY_FAILURE\n" in bodies
    assert [b for b in bodies if not b.startswith(("-ERR", "-USAGE"))] == ["+OK\n"]
    for m in parsed("c3_error_replies"):
        if isinstance(m, ApiResponse):
            assert m.ok == (m.body == "+OK\n")
    replies = [m.reply_text for m in parsed("c3_error_replies") if isinstance(m, CommandReply)]
    assert "-ERR invalid session id [00000000-0000-0000-0000-000000000000]" in replies
    assert "+OK event listener enabled plain" in replies


def test_bgapi_reply_and_background_job_bodies() -> None:
    msgs = parsed("c3_error_replies")
    jobs = [m for m in msgs if isinstance(m, CommandReply) and m.job_uuid]
    assert len(jobs) == 2 and jobs[0].reply_text == f"+OK Job-UUID: {jobs[0].job_uuid}"
    bg = [e for e in _events("c3_error_replies") if e.name == "BACKGROUND_JOB"]
    assert [e.get("Job-UUID") for e in bg] == [j.job_uuid for j in jobs]
    assert [e.body for e in bg] == ["-ERR nosuchcommand Command not found!\n", "-ERR No such channel!\n"]
    (a1,) = [e for e in _events("a1_inbound_router_plain") if e.name == "BACKGROUND_JOB"]
    assert a1.body is not None and a1.body.startswith("+OK ") and a1.body.endswith("\n")
    assert a1.get("Job-Command") == "originate"
    assert a1.get("Job-Command-Arg").startswith("{origination_uuid=")  # url-decoded per value
    (d2,) = [e for e in _events("d2_agent_no_answer_json") if e.name == "BACKGROUND_JOB"]
    assert d2.body == "-ERR NO_ANSWER\n" and d2.get("Content-Length") == "15"


def test_disconnect_notices() -> None:
    (c1,) = [m for m in parsed("c1_auth_wrong_password") if isinstance(m, DisconnectNotice)]
    assert c1.disposition is None and c1.body.startswith("Disconnected, goodbye.")
    assert [m.reply_text for m in parsed("c1_auth_wrong_password") if isinstance(m, CommandReply)] == [
        "-ERR invalid"
    ]
    b1 = [m for m in parsed("b1_outbound_async_full_linger") if isinstance(m, DisconnectNotice)]
    assert [n.disposition for n in b1] == ["linger", "disconnect"]
    assert b1[0].body == "" and b1[0].headers["Linger-Time"] == "-1"
    assert b1[1].body.startswith("Disconnected, goodbye.")
    b3 = [m for m in parsed("b3_outbound_async_full_linger2s") if isinstance(m, DisconnectNotice)]
    assert b3[0].headers["Linger-Time"] == "2"


@pytest.mark.parametrize("name", [n for n in CAPTURES if n.startswith("b")])
def test_outbound_connect_reply_is_channel_data(name: str) -> None:
    reply = parsed(name)[0]
    assert isinstance(reply, CommandReply) and reply.ok and reply.reply_text == "+OK\n"
    first = reply.channel_data()
    assert first is not None and first.name == "CHANNEL_DATA"
    assert first.get("Content-Type") == "command/reply"
    assert first.get("Reply-Text") == "+OK\n"  # url-decoded per value: %2BOK%0A
    assert first.get("Socket-Mode") == "async" and first.get("Control") == "full"
    assert first.get("Channel-Name") == "sofia/internal/sipp@127.0.0.1:5070"


def test_getvar_bodies_have_no_trailing_newline() -> None:
    bodies = [m.body for m in parsed("d2_agent_no_answer_json") if isinstance(m, ApiResponse)]
    assert bodies[0] == "sales" and "false" in bodies


def test_repeated_headers_first_wins_like_freeswitch() -> None:
    (cmd,) = [e for e in _events("a2_inbound_observer_event_json_ALL") if e.name == "COMMAND"]
    names = [k for k, _ in cmd.items]
    assert names.count("Event-Name") == 2  # the sendmsg's own Event-Name is repeated inside
    hangups = [e for e in _events("a1_inbound_router_plain") if e.name == "CHANNEL_HANGUP_COMPLETE"]
    assert any([k for k, _ in h.items].count("Hangup-Cause") == 2 for h in hangups)


def test_plain_values_decoded_per_value_not_per_block() -> None:
    # A %0A inside a value stays inside that value: it cannot become a new header.
    inner = b"Event-Name: CUSTOM\nEvent-Subclass: x%3A%3Ay\nX-Evil: a%0AUnique-ID%3A%20hijack\n\n"
    raw = b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(inner) + inner
    (ev,) = p.parse_stream(raw)
    assert isinstance(ev, Event)
    assert ev.subclass == "x::y"
    assert ev.get("X-Evil") == "a\nUnique-ID: hijack" and ev.unique_id is None


def test_reply_text_is_not_url_decoded() -> None:
    (reply,) = p.parse_stream(b"Content-Type: command/reply\nReply-Text: +OK [x]=[%41]\n\n")
    assert isinstance(reply, CommandReply) and reply.reply_text == "+OK [x]=[%41]"


# --- malformed input ----------------------------------------------------------------------------

GOOD = b"Content-Type: api/response\nContent-Length: 4\n\n+OK\n"


def _drain(parser: Parser) -> tuple[list[Message], list[str]]:
    msgs: list[Message] = []
    errors: list[str] = []
    while True:
        try:
            msg = parser.next_message()
        except ESLProtocolError as exc:
            errors.append(str(exc))
            continue
        if msg is None:
            return msgs, errors
        msgs.append(msg)


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        (b"Content-Type: api/response\n\n+OK\n", "without Content-Length"),
        (b"Content-Type: api/response\nContent-Length: abc\n\n", "non-numeric Content-Length"),
        (b"Content-Type: api/response\nContent-Length: -5\n\n", "negative Content-Length"),
        (b"Content-Type: command/reply\nno colon here\n\n", "without ': '"),
        (b"\xff\xfe\x00junk\x80\n\n", "not text"),
        (b"Content-Length: 11\nContent-Type: text/event-json\n\n{\"a\": \"1\"}\n", "no Event-Name"),
        (b"Content-Length: 8\nContent-Type: text/event-json\n\n{\"a\": 1}", "neither string"),
        (b"Content-Length: 5\nContent-Type: text/event-json\n\n[1,2]", "not a JSON object"),
        (b"Content-Length: 3\nContent-Type: text/event-plain\n\nx\n\n", "without ': '"),
    ],
)
def test_malformed_message_is_reported_and_the_next_one_survives(bad: bytes, says: str) -> None:
    parser = Parser()
    parser.feed(GOOD + bad + GOOD)
    msgs, errors = _drain(parser)
    assert len(errors) == 1 and says in errors[0], errors
    good = ApiResponse({"Content-Type": "api/response", "Content-Length": "4"}, "+OK\n")
    assert msgs == [good, good]


def test_oversize_body_is_skipped_exactly() -> None:
    body = (b"\n\nContent-Type: api/response\nContent-Length: 1\n\n" * 200)[:5000]
    big = b"Content-Type: api/response\nContent-Length: 5000\n\n" + body
    parser = Parser(max_body=1000)
    parser.feed(big[:3000])
    msgs, errors = _drain(parser)
    assert msgs == [] and "exceeds the limit of 1000" in errors[0]
    parser.feed(big[3000:] + GOOD)
    msgs, errors = _drain(parser)
    assert len(msgs) == 1 and errors == []


def test_junk_without_blank_line_hits_the_header_limit() -> None:
    parser = Parser(max_header=100)
    parser.feed(b"\x00\x01junk" * 50)
    _, errors = _drain(parser)
    assert errors and "no end of header block within 100 bytes" in errors[0]
    parser.feed(b"\n\n" + GOOD)
    msgs, _ = _drain(parser)
    assert len(msgs) == 1


def test_truncated_body_at_eof() -> None:
    parser = Parser()
    parser.feed(GOOD[:-2])
    assert parser.next_message() is None
    with pytest.raises(ESLProtocolError, match="body truncated at 2 of 4 bytes"):
        parser.feed_eof()


def test_truncated_header_at_eof() -> None:
    parser = Parser()
    parser.feed(b"Content-Type: api/resp")
    assert parser.next_message() is None
    with pytest.raises(ESLProtocolError, match="inside a header block"):
        parser.feed_eof()


@given(junk=st.binary(max_size=300))
def test_random_junk_never_breaks_the_parser(junk: bytes) -> None:
    """Whatever precedes it, a well-formed message after a blank line is still delivered."""
    parser = Parser(max_header=1024)
    parser.feed(junk + b"\n\n" + GOOD + GOOD)
    msgs, _ = _drain(parser)
    assert msgs[-1:] == [ApiResponse({"Content-Type": "api/response", "Content-Length": "4"}, "+OK\n")]


# --- command builders ------------------------------------------------------------------------

UUID = "47eabb66-0a00-425e-bac0-5fc4a7aa475f"
HOSTILE = [
    "5551000\r\napi uuid_kill all",
    "x\nContent-Length: 10",
    "5551000%0Aexit",
    "5551000%0d%0abgapi",
    "a,origination_uuid=evil",
    "a}sofia/internal/evil@x {b=",
    "'quoted'",
    '"dq"',
    "with space",
    "",
    "tab\there",
    "nul\0byte",
    "x|y^z",
    "[bracket]",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_are_refused_as_tokens_uuids_and_variables(value: str) -> None:
    with pytest.raises(UnsafeValueError):
        p.check_token(value)
    with pytest.raises(UnsafeValueError):
        p.dial_string("sofia/internal/agent@127.0.0.1:5091", {"origination_caller_id_number": value})
    with pytest.raises(UnsafeValueError):
        p.check_uuid(value)


@pytest.mark.parametrize("value", [v for v in HOSTILE if re.search(r"[\s\0]|%0|^$", v)])
def test_line_breaking_values_are_refused_by_every_builder(value: str) -> None:
    with pytest.raises(UnsafeValueError):
        p.api("uuid_setvar", UUID, "esl_router_cid", value)
    with pytest.raises(UnsafeValueError):
        p.bgapi("uuid_kill", value, job_uuid=UUID)
    with pytest.raises(UnsafeValueError):
        p.filter_("Unique-ID", value)
    with pytest.raises(UnsafeValueError):
        p.auth(value)
    with pytest.raises(UnsafeValueError):
        p.sendmsg_execute(value, "park", None, event_uuid=UUID)


@pytest.mark.parametrize("arg", ["x\nexecute-app-name: hangup", "x\r", "a%0Ab", "a%7f", "a\0"])
def test_sendmsg_arg_cannot_inject_headers(arg: str) -> None:
    with pytest.raises(UnsafeValueError):
        p.sendmsg_execute(UUID, "playback", arg, event_uuid=p.new_uuid())


def test_builders_produce_exact_commands() -> None:
    assert p.auth("ClueCon") == b"auth ClueCon\n\n"
    assert p.api("uuid_getvar", UUID, "esl_router_queue") == (
        f"api uuid_getvar {UUID} esl_router_queue\n\n".encode()
    )
    assert p.bgapi("status", job_uuid=UUID) == f"bgapi status\nJob-UUID: {UUID}\n\n".encode()
    assert p.sendmsg_execute(
        UUID, "playback", "tone_stream://%(1000,3000,440);loops=-1", event_uuid=UUID
    ) == (
        f"sendmsg {UUID}\ncall-command: execute\nexecute-app-name: playback\n"
        f"execute-app-arg: tone_stream://%(1000,3000,440);loops=-1\nEvent-UUID: {UUID}\n\n"
    ).encode()
    assert p.event("json", ["CHANNEL_PARK", "CUSTOM", "callcenter::info"]) == (
        b"event json CHANNEL_PARK CUSTOM callcenter::info\n\n"
    )
    assert p.filter_("Unique-ID", "-" + UUID) == f"filter Unique-ID -{UUID}\n\n".encode()
    assert p.filter_delete("all") == b"filter delete all\n\n"
    assert p.exit_() == b"exit\n\n"
    assert p.dial_string("user/1001", {"origination_uuid": UUID, "originate_timeout": "3"}) == (
        f"{{origination_uuid={UUID},originate_timeout=3}}user/1001"
    )
    with pytest.raises(UnsafeValueError):
        p.auth("pass word")
    with pytest.raises(UnsafeValueError):
        p.event("xml", ["ALL"])


@given(value=st.text(max_size=40))
def test_whatever_passes_check_token_is_one_harmless_word(value: str) -> None:
    try:
        p.check_token(value)
    except UnsafeValueError:
        return
    assert value and not set(value) & set(" \t\r\n,{}[]'\"%^|\\<>;&()$!`~?")
    cmd = p.api("uuid_setvar", UUID, "v", value)
    assert cmd.count(b"\n") == 2 and cmd.endswith(b"\n\n") and len(cmd.split(b" ")) == 5
    line = p.dial_string("user/1001", {"a": value, "b": "1"})
    assert line.count("{") == 1 and line.count("}") == 1 and line.count(",") == 1


def test_captured_client_commands_are_what_the_builders_make() -> None:
    """The a1 router's sends (auth, event, api...) are byte-identical to our builders' output."""
    sends = [m.data for m in wire("d2_agent_no_answer_json") if m.dir == "C->S"]
    assert sends[0] == p.auth("ClueCon")
    assert sends[1] == p.event("json", sends[1].decode().split()[2:])
    assert sends[2] == p.api("uuid_getvar", *sends[2].decode().split()[2:])
    assert sends[-1] == p.exit_()
