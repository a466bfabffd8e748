"""The FreeSWITCH Event Socket wire protocol: an exact, incremental parser and the serializers.

One ESL message is a header block ended by the first blank line (``\\n\\n``), then exactly
``Content-Length`` bytes of body (no body when the header is absent). What the body means depends on
``Content-Type`` (all of this is checked against ``../shared/esl-captures/``):

* ``auth/request``: the banner, no body.
* ``command/reply``: ``Reply-Text`` (``+OK ...`` / ``-ERR ...``); a ``bgapi`` reply adds ``Job-UUID``.
  The outbound-mode ``connect`` reply is a whole serialized ``CHANNEL_DATA`` event *in the envelope*
  (it starts with ``Event-Name``, its values are url-encoded, even ``Reply-Text: %2BOK%0A``):
  see `CommandReply.channel_data`.
* ``api/response``: the body is the command's output, which may be ``-ERR ...`` or ``-USAGE ...``.
* ``text/event-plain``: the body is itself a header block of url-encoded ``Name: value`` lines, then
  a blank line, then, when the event has a ``Content-Length`` header (BACKGROUND_JOB, some CUSTOM),
  that many bytes of event body.
* ``text/event-json``: the body is one JSON object; the event body is its ``_body`` key. Values are
  strings, except multi-valued variables, which are JSON arrays of strings.
* ``text/disconnect-notice``: with or without a body; outbound mode adds ``Content-Disposition``
  (``linger`` / ``disconnect``), ``Controlled-Session-UUID`` and ``Linger-Time``.

**Url-decoding is per header value, never on the whole block**: a decoded ``%0A`` inside a value
must not be able to split it into two headers. Envelope values are decoded only when the envelope
is itself a serialized event (it has ``Event-Name``), because mod_event_socket writes ordinary
``Reply-Text`` values raw: decoding those would turn a literal ``%41`` into ``A``.

**Errors and the recovery rule.** Malformed input raises `ESLProtocolError`, naming what was wrong
and where. The parser stays usable afterwards:

* an oversize or unusable body whose length *is* known (``Content-Length`` too large, a JSON body
  that does not parse) is skipped exactly, so framing is never lost;
* otherwise (a bad header block: binary junk, a line without ``": "``, a missing, non-numeric or
  negative ``Content-Length``) the bad block is dropped and the parser resynchronises at the next
  line that starts an envelope the way FreeSWITCH writes them (``Content-Type: type/subtype`` or
  ``Content-Length: n`` directly followed by ``Content-Type:``). Anything before it is discarded,
  so a message whose body was unframed may be lost, but not the well-formed ones after it;
* ``feed_eof()`` raises if the stream ended inside a message (a truncated header or body).

A client that depends on replies arriving in order should treat any error as fatal for the
connection (a dropped reply would shift every later one); `router.esl.connection` does that.
"""

from __future__ import annotations

import json
import re
import uuid as uuid_mod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

__all__ = [
    "DEFAULT_MAX_BODY",
    "DEFAULT_MAX_HEADER",
    "ApiResponse",
    "AuthRequest",
    "CommandReply",
    "DisconnectNotice",
    "ESLProtocolError",
    "Event",
    "EventValue",
    "Message",
    "Parser",
    "UnknownMessage",
    "UnsafeValueError",
    "api",
    "auth",
    "bgapi",
    "check_token",
    "check_uuid",
    "decode_message",
    "dial_string",
    "event",
    "exit_",
    "filter_",
    "filter_delete",
    "new_uuid",
    "parse_stream",
    "sendmsg_execute",
    "serialize_api_response",
    "serialize_auth_request",
    "serialize_command_reply",
    "serialize_disconnect_notice",
    "serialize_event_json",
    "serialize_event_plain",
    "url_encode",
]

DEFAULT_MAX_HEADER = 64 * 1024
"""Largest header block accepted (real envelopes are under 200 bytes; CHANNEL_DATA about 10 KB)."""
DEFAULT_MAX_BODY = 16 * 1024 * 1024
"""Largest body accepted; a ``show channels`` of 4,000 calls is about 6 MB."""

EventValue = str | list[str]
"""A JSON event value: a string, or a list of strings for a multi-valued channel variable."""

_DISCONNECT_BODY = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
# Where to resynchronise after a bad header block: a line that starts an envelope the way
# FreeSWITCH writes them (Content-Type first for replies, Content-Length then Content-Type for
# events). The inner "Content-Length: n" of a plain event body is not followed by Content-Type.
_ENVELOPE_START = re.compile(
    rb"^(?:Content-Type: [a-z]+/[a-z-]+\n|Content-Length: [0-9]+\nContent-Type: [a-z]+/)", re.M
)
_BODY_REQUIRED = frozenset({"api/response", "text/event-plain", "text/event-json", "log/data"})


class ESLProtocolError(Exception):
    """The bytes from the peer are not a well-formed ESL message; the text says what was wrong."""


class UnsafeValueError(ValueError):
    """A value that would change the meaning of an ESL command (CR/LF, separators, quotes...)."""


# --- messages -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuthRequest:
    """The banner FreeSWITCH sends on connect: ``Content-Type: auth/request``."""

    headers: dict[str, str]


@dataclass(frozen=True, slots=True)
class CommandReply:
    """A ``command/reply``: the answer to ``auth``, ``event``, ``filter``, ``sendmsg``, ``bgapi``..."""

    headers: dict[str, str]

    @property
    def reply_text(self) -> str:
        """The ``Reply-Text`` value (empty when absent)."""
        return self.headers.get("Reply-Text", "")

    @property
    def ok(self) -> bool:
        """True for a ``+OK`` reply."""
        return self.reply_text.startswith("+OK")

    @property
    def job_uuid(self) -> str | None:
        """The ``Job-UUID`` of a ``bgapi`` reply."""
        return self.headers.get("Job-UUID")

    def channel_data(self) -> Event | None:
        """The CHANNEL_DATA event of an outbound ``connect`` reply (None for other replies)."""
        if "Event-Name" not in self.headers:
            return None
        return Event(dict(self.headers), None, "envelope", tuple(self.headers.items()))


@dataclass(frozen=True, slots=True)
class ApiResponse:
    """An ``api/response``: the output of an ``api`` command, errors included."""

    headers: dict[str, str]
    body: str

    @property
    def ok(self) -> bool:
        """False when FreeSWITCH reported an error (``-ERR ...`` or ``-USAGE ...``)."""
        return not self.body.startswith(("-ERR", "-USAGE"))


@dataclass(frozen=True, slots=True)
class Event:
    """A ``text/event-plain`` or ``text/event-json`` event (or the outbound CHANNEL_DATA reply).

    `headers` hold the event's own headers, decoded (the first value of a repeated name, as
    FreeSWITCH's own lookup does); `body` is the event body (BACKGROUND_JOB's job result, ...), or
    None when the event has none.
    """

    headers: dict[str, EventValue]
    body: str | None
    format: str  # "plain", "json" or "envelope"
    items: tuple[tuple[str, EventValue], ...] = ()
    """Every header in wire order, repeats included (`headers` keeps the first of each name)."""

    @property
    def name(self) -> str:
        """``Event-Name`` (e.g. ``CHANNEL_PARK``, ``CUSTOM``)."""
        return self.get("Event-Name")

    @property
    def subclass(self) -> str | None:
        """``Event-Subclass`` of a CUSTOM event."""
        return self.get("Event-Subclass") or None

    @property
    def unique_id(self) -> str | None:
        """``Unique-ID``, the channel the event is about (None for non-channel events)."""
        return self.get("Unique-ID") or None

    def get(self, name: str, default: str = "") -> str:
        """A header as one string; a list value is joined the way plain events write it."""
        value = self.headers.get(name)
        if value is None:
            return default
        if isinstance(value, list):
            return "ARRAY::" + "|:".join(value)
        return value

    def get_list(self, name: str) -> list[str]:
        """A multi-valued header as a list, from JSON arrays or plain ``ARRAY::a|:b`` alike."""
        value = self.headers.get(name)
        if value is None:
            return []
        if isinstance(value, list):
            return list(value)
        if value.startswith("ARRAY::"):
            return value[len("ARRAY::") :].split("|:")
        return [value]


@dataclass(frozen=True, slots=True)
class DisconnectNotice:
    """``text/disconnect-notice``: the peer is about to close (or linger, in outbound mode)."""

    headers: dict[str, str]
    body: str

    @property
    def disposition(self) -> str | None:
        """``Content-Disposition`` (``linger`` / ``disconnect``); absent in inbound mode."""
        return self.headers.get("Content-Disposition")


@dataclass(frozen=True, slots=True)
class UnknownMessage:
    """A message of a content type this module does not interpret (``log/data``, ...)."""

    headers: dict[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        """The ``Content-Type`` value."""
        return self.headers.get("Content-Type", "")


Message = AuthRequest | CommandReply | ApiResponse | Event | DisconnectNotice | UnknownMessage


# --- parsing --------------------------------------------------------------------------------


def _parse_header_pairs(block: str, *, decode: bool, where: str) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for line in block.split("\n"):
        if not line:
            continue
        name, sep, value = line.partition(": ")
        if not sep:
            if line.endswith(":"):  # "Name:" with an empty value
                name, value = line[:-1], ""
            else:
                raise ESLProtocolError(f"{where}: header line without ': ': {line[:80]!r}")
        if not name or any(c in name for c in " \t\r"):
            raise ESLProtocolError(f"{where}: bad header name {name[:80]!r}")
        pairs.append((name, unquote(value) if decode else value))
    return pairs


def _first_wins(pairs: Iterable[tuple[str, EventValue]]) -> dict[str, EventValue]:
    # Events may repeat a header (a COMMAND event carries the sendmsg's own Event-Name, a
    # HANGUP event has Hangup-Cause twice); FreeSWITCH's switch_event_get_header returns the first.
    out: dict[str, EventValue] = {}
    for name, value in pairs:
        out.setdefault(name, value)
    return out


def _content_length(headers: Mapping[str, str], where: str) -> int | None:
    raw = headers.get("Content-Length")
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit():
        kind = "negative" if raw.strip().startswith("-") else "non-numeric"
        raise ESLProtocolError(f"{where}: {kind} Content-Length {raw[:40]!r}")
    return int(raw)


def _decode_plain_event(body: bytes) -> Event:
    text = body.decode("utf-8")
    block, sep, rest = text.partition("\n\n")
    if not sep:
        block, rest = text, ""
    pairs = _parse_header_pairs(block, decode=True, where="text/event-plain body")
    headers = {k: v for k, v in reversed(pairs)}  # first occurrence wins
    event_body: str | None = None
    length = _content_length(headers, "text/event-plain body")
    if length is not None:
        rest_bytes = rest.encode("utf-8")
        if len(rest_bytes) != length:
            raise ESLProtocolError(
                f"text/event-plain body: inner Content-Length {length} but {len(rest_bytes)} "
                "bytes follow the event headers"
            )
        event_body = rest
    elif rest:
        raise ESLProtocolError("text/event-plain body: data after the headers but no Content-Length")
    if "Event-Name" not in headers:
        raise ESLProtocolError("text/event-plain body: no Event-Name header")
    return Event(_first_wins(pairs), event_body, "plain", tuple(pairs))


def _str_list(value: list[object]) -> bool:
    return all(isinstance(v, str) for v in value)


class _Pairs(list[tuple[str, object]]):
    """A JSON object as its members in order (repeated names kept)."""


def _decode_json_event(body: bytes) -> Event:
    try:
        pairs = json.loads(body, object_pairs_hook=_Pairs)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ESLProtocolError(f"text/event-json body is not JSON: {exc}") from None
    if not isinstance(pairs, _Pairs):
        raise ESLProtocolError("text/event-json body is not a JSON object")
    # The usual case, at C speed: every value a string and no name repeated (events of a busy
    # switch are parsed by the thousand per second; the general loop below costs ~10x more).
    fast: dict[str, Any] = dict(pairs)
    types = {type(v) for _, v in pairs}
    if (
        len(fast) == len(pairs)
        and types <= {str, list}
        and type(fast.get("_body", "")) is str
        and (list not in types or all(_str_list(v) for _, v in pairs if type(v) is list))
    ):
        body_value = fast.pop("_body", None)
        if "Event-Name" not in fast:
            raise ESLProtocolError("text/event-json body: no Event-Name")
        kept = pairs if body_value is None else [p for p in pairs if p[0] != "_body"]
        return Event(fast, body_value, "json", tuple(kept))  # type: ignore[arg-type]
    items: list[tuple[str, EventValue]] = []
    event_body: str | None = None
    for key, value in pairs:
        if key == "_body":
            if not isinstance(value, str):
                raise ESLProtocolError("text/event-json: _body is not a string")
            event_body = value
        elif isinstance(value, str):
            items.append((key, value))
        elif type(value) is list and all(isinstance(v, str) for v in value):
            items.append((key, list(value)))
        else:
            raise ESLProtocolError(f"text/event-json: value of {key!r} is neither string nor list")
    headers = _first_wins(items)
    if "Event-Name" not in headers:
        raise ESLProtocolError("text/event-json body: no Event-Name")
    return Event(headers, event_body, "json", tuple(items))


def decode_message(headers: dict[str, str], body: bytes) -> Message:
    """Interpret one framed message (its envelope headers and body bytes) by Content-Type."""
    ctype = headers.get("Content-Type", "")
    try:
        if ctype == "auth/request":
            return AuthRequest(headers)
        if ctype == "command/reply":
            return CommandReply(headers)
        if ctype == "api/response":
            return ApiResponse(headers, body.decode("utf-8"))
        if ctype == "text/event-plain":
            return _decode_plain_event(body)
        if ctype == "text/event-json":
            return _decode_json_event(body)
        if ctype == "text/disconnect-notice":
            return DisconnectNotice(headers, body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ESLProtocolError(f"{ctype} body is not UTF-8: {exc}") from None
    return UnknownMessage(headers, body)


@dataclass(slots=True)
class Parser:
    """Incremental ESL parser: `feed` bytes as they arrive, pull messages with `next_message`.

    ``parser.feed(data); while (m := parser.next_message()) is not None: ...`` and call
    `feed_eof` when the peer closes. `next_message` raises `ESLProtocolError` for a malformed
    message and can be called again to continue after it (see the module docstring).
    """

    max_header: int = DEFAULT_MAX_HEADER
    max_body: int = DEFAULT_MAX_BODY
    _buf: bytearray = field(default_factory=bytearray, init=False)
    _pos: int = field(default=0, init=False)
    # the envelope of a message waiting for its body
    _pending: tuple[dict[str, str], int] | None = field(default=None, init=False)
    _skip: int = field(default=0, init=False)  # bytes of a known-length bad body to discard
    _resync: bool = field(default=False, init=False)  # discard up to the next envelope start

    def feed(self, data: bytes) -> None:
        """Append bytes received from the peer."""
        if self._pos > 65536 and self._pos * 2 > len(self._buf):
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += data

    @property
    def buffered(self) -> int:
        """Bytes received but not yet consumed."""
        return len(self._buf) - self._pos

    def __iter__(self) -> Iterator[Message]:
        """Messages available so far (raises `ESLProtocolError` like `next_message`)."""
        while (msg := self.next_message()) is not None:
            yield msg

    def next_message(self) -> Message | None:
        """The next complete message, or None when more bytes are needed."""
        if self._skip and not self._do_skip():
            return None
        if self._resync and not self._do_resync():
            return None
        if self._pending is None:
            end = self._buf.find(b"\n\n", self._pos)
            if end < 0:
                if self.buffered > self.max_header:
                    self._pos = len(self._buf) - 1  # keep a possible "\n" of the next "\n\n"
                    self._resync = True
                    raise ESLProtocolError(
                        f"no end of header block within {self.max_header} bytes (binary junk?)"
                    )
                return None
            block = bytes(self._buf[self._pos : end])
            self._pos = end + 2
            if len(block) > self.max_header:
                self._resync = True
                raise ESLProtocolError(f"header block of {len(block)} bytes > {self.max_header}")
            self._pending = self._parse_envelope(block)
        headers, length = self._pending
        if self.buffered < length:
            return None
        body = bytes(self._buf[self._pos : self._pos + length])
        self._pos += length
        self._pending = None
        return decode_message(headers, body)

    def feed_eof(self) -> None:
        """The peer closed: raise if the stream ended inside a message."""
        if self._pending is not None:
            headers, length = self._pending
            got = self.buffered
            self._pending = None
            self._pos = len(self._buf)
            raise ESLProtocolError(
                f"connection closed inside a {headers.get('Content-Type', '?')} message: "
                f"body truncated at {got} of {length} bytes"
            )
        if self._skip:
            self._skip = 0
            raise ESLProtocolError("connection closed inside a skipped oversize body")
        rest = self._buf[self._pos :]
        self._pos = len(self._buf)
        if rest.strip(b"\n") and not self._resync:
            raise ESLProtocolError(f"connection closed inside a header block: {bytes(rest[:80])!r}")

    def _parse_envelope(self, block: bytes) -> tuple[dict[str, str], int]:
        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError:
            self._resync = True
            raise ESLProtocolError(f"header block is not text (binary junk?): {block[:40]!r}") from None
        try:
            raw = dict(_parse_header_pairs(text, decode=False, where="header block"))
            decode = "Event-Name" in raw
            headers = {k: unquote(v) for k, v in raw.items()} if decode else raw
            if "Content-Type" not in headers and "Content-Length" not in headers:
                raise ESLProtocolError(f"header block without Content-Type: {text[:80]!r}")
            ctype = headers.get("Content-Type", "")
            length = _content_length(headers, f"{ctype or 'message'} envelope")
            if length is None:
                if ctype in _BODY_REQUIRED:
                    raise ESLProtocolError(f"{ctype} without Content-Length")
                length = 0
        except ESLProtocolError:
            self._resync = True
            raise
        if length > self.max_body:
            self._skip = length
            raise ESLProtocolError(
                f"{ctype} body of {length} bytes exceeds the limit of {self.max_body}; skipped"
            )
        return headers, length

    def _do_skip(self) -> bool:
        take = min(self._skip, self.buffered)
        self._pos += take
        self._skip -= take
        return self._skip == 0

    def _do_resync(self) -> bool:
        match = _ENVELOPE_START.search(self._buf, self._pos)
        if match:  # (at a line start: ^ in MULTILINE mode)
            self._pos = match.start()
            self._resync = False
            return True
        # keep a tail that may be the start of the next envelope
        self._pos = max(self._pos, len(self._buf) - 64)
        return False


def parse_stream(data: bytes) -> list[Message]:
    """Parse a complete byte stream (e.g. a capture); raises on the first malformed message."""
    parser = Parser()
    parser.feed(data)
    out = list(parser)
    parser.feed_eof()
    return out


# --- serializing (what FreeSWITCH sends: used by the simulator and the tests) ---------------

_URL_UNSAFE = frozenset(b"\r\n \"#%&+:;<=>?@[\\]^`{|}")


def url_encode(value: str) -> str:
    """Encode a header value exactly as FreeSWITCH's ``switch_url_encode`` does."""
    out = []
    for byte in value.encode("utf-8"):
        if byte in _URL_UNSAFE or byte < 32 or byte > 126:
            out.append(f"%{byte:02X}")
        else:
            out.append(chr(byte))
    return "".join(out)


def serialize_auth_request() -> bytes:
    """The banner: ``Content-Type: auth/request``."""
    return b"Content-Type: auth/request\n\n"


def serialize_command_reply(reply_text: str, extra: Sequence[tuple[str, str]] = ()) -> bytes:
    """A ``command/reply`` with `reply_text` (written raw, as mod_event_socket does)."""
    lines = ["Content-Type: command/reply", f"Reply-Text: {reply_text}"]
    lines += [f"{k}: {v}" for k, v in extra]
    return ("\n".join(lines) + "\n\n").encode("utf-8")


def serialize_api_response(body: str) -> bytes:
    """An ``api/response`` carrying `body`."""
    data = body.encode("utf-8")
    return b"Content-Type: api/response\nContent-Length: %d\n\n" % len(data) + data


def serialize_disconnect_notice(body: str = _DISCONNECT_BODY) -> bytes:
    """The inbound-mode ``text/disconnect-notice`` (no Content-Disposition)."""
    data = body.encode("utf-8")
    return b"Content-Type: text/disconnect-notice\nContent-Length: %d\n\n" % len(data) + data


def _plain_value(value: EventValue) -> str:
    if isinstance(value, list):
        value = "ARRAY::" + "|:".join(value)
    return url_encode(value)


def serialize_event_plain(headers: Iterable[tuple[str, EventValue]], body: str | None) -> bytes:
    """A ``text/event-plain`` event; `body` (if any) gets the inner Content-Length."""
    skip = "Content-Length" if body is not None else None
    lines = [f"{name}: {_plain_value(value)}" for name, value in headers if name != skip]
    if body is not None:
        data = body.encode("utf-8")
        lines.append(f"Content-Length: {len(data)}")
        inner = ("\n".join(lines) + "\n\n").encode("utf-8") + data
    else:
        inner = ("\n".join(lines) + "\n\n").encode("utf-8")
    return b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(inner) + inner


def serialize_event_json(headers: Iterable[tuple[str, EventValue]], body: str | None) -> bytes:
    """A ``text/event-json`` event; `body` (if any) goes into ``_body`` after ``Content-Length``.

    Written member by member (not through a dict) so that repeated header names survive.
    """
    dump = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    members = []
    length_done = False
    blen = str(len(body.encode("utf-8"))) if body is not None else None
    for name, value in headers:
        if name == "Content-Length" and blen is not None:
            if length_done:
                continue
            value, length_done = blen, True
        members.append(f"{dump(name)}:{dump(value)}")
    if blen is not None:
        if not length_done:
            members.append(f'"Content-Length":{dump(blen)}')
        members.append(f'"_body":{dump(body)}')
    inner = ("{" + ",".join(members) + "}").encode("utf-8")
    return b"Content-Length: %d\nContent-Type: text/event-json\n\n" % len(inner) + inner


# --- command builders -----------------------------------------------------------------------
#
# Every builder validates what it splices in. A command is one line (plus sendmsg headers), so a
# CR or LF in any value would end it early and start a command of the caller's choosing; values
# that FreeSWITCH may url-decode (`%0A`) or that separate fields (space, comma, braces, quotes)
# are refused too. Values from callers must be checked with `check_token` or built from
# whitelisted characters before they reach a builder.

_UUID_RE = re.compile(r"[0-9A-Za-z][0-9A-Za-z-]{0,63}")
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,127}")
_EVENT_RE = re.compile(r"[A-Za-z0-9_]+(::[A-Za-z0-9_.-]+)?")
_TOKEN_RE = re.compile(r"[A-Za-z0-9_.:@+*#/=-]{1,512}")
_ENCODED_CTRL = re.compile(r"%(0[0-9A-Fa-f]|1[0-9A-Fa-f]|7[Ff])")
_SPACE = re.compile(r"\s")  # what str.isspace() calls whitespace (Unicode too)


def _check_line(value: str, what: str) -> str:
    if any(c in value for c in "\r\n\0"):
        raise UnsafeValueError(f"{what} contains CR, LF or NUL: {value[:60]!r}")
    if _ENCODED_CTRL.search(value):
        raise UnsafeValueError(f"{what} contains a url-encoded control character: {value[:60]!r}")
    return value


def check_uuid(value: str) -> str:
    """A channel or job UUID (letters, digits, ``-``); raises `UnsafeValueError` otherwise."""
    if not _UUID_RE.fullmatch(value):
        raise UnsafeValueError(f"not a uuid: {value[:60]!r}")
    return value


def check_token(value: str, what: str = "value") -> str:
    """A single command word safe anywhere in a command: letters, digits and ``_.:@+*#/=-``.

    No space, comma, quote, brace, bracket, ``%``, ``^``, ``|`` or control character can pass, so a
    token can neither split an argument list nor a ``{var=value,...}`` block.
    """
    if not _TOKEN_RE.fullmatch(value):
        raise UnsafeValueError(f"{what} is not a safe token: {value[:60]!r}")
    return value


def new_uuid() -> str:
    """A fresh random UUID (for Job-UUID, Event-UUID and origination_uuid)."""
    return str(uuid_mod.uuid4())


def _cmd(line: str, headers: Sequence[tuple[str, str]] = ()) -> bytes:
    _check_line(line, "command")
    parts = [line]
    for name, value in headers:
        if not _NAME_RE.fullmatch(name):
            raise UnsafeValueError(f"bad header name {name[:60]!r}")
        parts.append(f"{name}: {_check_line(value, name)}")
    return ("\n".join(parts) + "\n\n").encode("utf-8")


def _api_line(command: str, args: Sequence[str]) -> str:
    if not _NAME_RE.fullmatch(command):
        raise UnsafeValueError(f"bad api command name {command[:60]!r}")
    for arg in args:
        _check_line(arg, f"argument of {command}")
        if not arg or _SPACE.search(arg):
            raise UnsafeValueError(f"argument of {command} is empty or has spaces: {arg[:60]!r}")
    return " ".join([command, *args])


def auth(password: str) -> bytes:
    """``auth <password>``."""
    if not password or any(c.isspace() for c in password):
        raise UnsafeValueError("ESL password is empty or contains whitespace")
    return _cmd(f"auth {password}")


def api(command: str, *args: str) -> bytes:
    """``api <command> <args...>``; each argument is one space-free word."""
    return _cmd("api " + _api_line(command, args))


def bgapi(command: str, *args: str, job_uuid: str) -> bytes:
    """``bgapi <command> <args...>`` with our own ``Job-UUID`` (so the result can be matched)."""
    return _cmd("bgapi " + _api_line(command, args), [("Job-UUID", check_uuid(job_uuid))])


def sendmsg_execute(
    channel: str, app: str, arg: str | None, *, event_uuid: str, event_lock: bool = False
) -> bytes:
    """``sendmsg <uuid>`` executing `app` with `arg`; ``Event-UUID`` comes back as
    ``Application-UUID`` on the CHANNEL_EXECUTE / CHANNEL_EXECUTE_COMPLETE of this execution."""
    if not _NAME_RE.fullmatch(app):
        raise UnsafeValueError(f"bad application name {app[:60]!r}")
    headers = [("call-command", "execute"), ("execute-app-name", app)]
    if arg is not None:
        headers.append(("execute-app-arg", arg))
    headers.append(("Event-UUID", check_uuid(event_uuid)))
    if event_lock:
        headers.append(("event-lock", "true"))
    return _cmd(f"sendmsg {check_uuid(channel)}", headers)


def event(fmt: str, names: Sequence[str]) -> bytes:
    """``event plain|json <names...>`` (CUSTOM subclasses as ``CUSTOM sub::class``)."""
    if fmt not in ("plain", "json"):
        raise UnsafeValueError(f"event format must be plain or json, not {fmt[:20]!r}")
    if not names:
        raise UnsafeValueError("event needs at least one event name")
    for name in names:
        if not _EVENT_RE.fullmatch(name):
            raise UnsafeValueError(f"bad event name {name[:60]!r}")
    return _cmd(f"event {fmt} " + " ".join(names))


def filter_(header: str, value: str) -> bytes:
    """``filter <header> <value>`` (a value ``-x`` is a negative filter; ``/re/`` a regex)."""
    if not _NAME_RE.fullmatch(header):
        raise UnsafeValueError(f"bad filter header {header[:60]!r}")
    if not value or any(c.isspace() for c in value):
        raise UnsafeValueError(f"filter value empty or with spaces: {value[:60]!r}")
    return _cmd(f"filter {header} {_check_line(value, 'filter value')}")


def filter_delete(header: str, value: str | None = None) -> bytes:
    """``filter delete <header> [<value>]``; ``filter_delete("all")`` removes every filter."""
    if not _NAME_RE.fullmatch(header):
        raise UnsafeValueError(f"bad filter header {header[:60]!r}")
    if value is None:
        return _cmd(f"filter delete {header}")
    if not value or any(c.isspace() for c in value):
        raise UnsafeValueError(f"filter value empty or with spaces: {value[:60]!r}")
    return _cmd(f"filter delete {header} {value}")


def exit_() -> bytes:
    """``exit``: FreeSWITCH replies ``+OK bye`` and a disconnect notice, then closes."""
    return _cmd("exit")


def dial_string(endpoint: str, variables: Mapping[str, str]) -> str:
    """``{var=value,...}endpoint`` for ``originate``; every name and value must be a token.

    Values are validated with `check_token`, so a comma, brace, quote or space from a caller
    cannot add a variable or end the block.
    """
    parts = []
    for name, value in variables.items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise UnsafeValueError(f"bad channel variable name {name[:60]!r}")
        parts.append(f"{name}={check_token(value, f'value of {name}')}")
    if not re.fullmatch(r"[A-Za-z0-9_./@:+*#=-]+", endpoint):
        raise UnsafeValueError(f"bad endpoint {endpoint[:60]!r}")
    return "{" + ",".join(parts) + "}" + endpoint if parts else endpoint
