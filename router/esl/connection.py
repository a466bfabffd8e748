"""The inbound ESL client: one connection to one FreeSWITCH event socket, on gevent.

**Why our own parser over a gevent socket rather than greenswitch's InboundESL.** greenswitch gets
the wire wrong in ways a subclass cannot fix in one place: it url-decodes the whole header block
(a ``%0A`` in a value becomes a header break), folds event bodies into the headers, matches every
reply to the oldest waiting command whatever its kind, spins on EOF and never reconnects, and runs
all handlers in one greenlet that a slow handler stalls. Its reading loop is the part that is
wrong, so overriding it would leave nothing of greenswitch in use. This module keeps greenswitch's
shape (gevent socket, a reader greenlet, `AsyncResult` per command) and puts `protocol.Parser`
underneath; greenswitch itself stays a dependency as a reference client that the simulator is
checked against (`tests/test_sim_freeswitch.py`).

How it works:

* **Writes** go out with ``sendall`` under a lock, and the request is queued in the same critical
  section, so the queue order is the wire order.
* **Replies** (``api/response``, ``command/reply``) answer commands strictly in order on one socket:
  that is how mod_event_socket works, and it is the only correlation the protocol has for them. The
  kind is checked (an ``api`` must get an ``api/response``); a mismatch means the stream is out of
  step and the connection is dropped. Events interleave freely with replies and are never used as
  replies.
* **bgapi** carries our own ``Job-UUID``; its BACKGROUND_JOB is matched by that uuid alone. Pending
  jobs survive a reconnect (FreeSWITCH sends BACKGROUND_JOB to every subscribed listener), each
  with its own timeout.
* **sendmsg execute** carries our own ``Event-UUID``; the CHANNEL_EXECUTE_COMPLETE whose
  ``Application-UUID`` equals it completes the `Execution`.
* **Events** are handed to handlers on per-channel lanes (keyed by ``Unique-ID``): events of one
  channel stay in order, a slow handler delays only its own channel, and the reader never waits
  for a handler. The backlog is bounded; past the bound the connection is dropped and re-made (the
  reconnect hook then reconciles), because silently dropping events would lose calls and blocking
  the reader would make FreeSWITCH drop us anyway at 100,000 queued events.
* **Reconnect** with exponential backoff and jitter; every attempt that fails logs one clear line
  (``FreeSWITCH at host:port unreachable: ...; retrying in 2.0s``). After each (re)connect: auth,
  ``event <format> <events>``, the filters, then the ``on_connect`` hook (in its own greenlet, so
  it may itself call `api`) for reconciliation.
* **Malformed input** (`ESLProtocolError`) is logged with what was wrong, and the connection is
  re-made: a dropped reply would shift every later one, so resynchronising in place is unsafe.

The password is passed in by the caller (from the config or the environment); it is never logged.
"""

from __future__ import annotations

import collections
import logging
import os
import random
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import gevent  # type: ignore[import-untyped]
import gevent.event  # type: ignore[import-untyped]
import gevent.lock  # type: ignore[import-untyped]
import gevent.socket  # type: ignore[import-untyped]

from router.esl import protocol
from router.esl.protocol import (
    ApiResponse,
    AuthRequest,
    CommandReply,
    DisconnectNotice,
    ESLProtocolError,
    Event,
    Message,
)

__all__ = [
    "PASSWORD_ENV",
    "BackgroundJob",
    "ConnectionLost",
    "ESLConnection",
    "ESLError",
    "EventHandler",
    "Execution",
    "NotConnected",
    "esl_password",
]

log = logging.getLogger("router.esl")

EventHandler = Callable[[Event], None]

PASSWORD_ENV = "ESL_ROUTER_ESL_PASSWORD"
"""The environment variable that overrides the configured ESL password."""


def esl_password(configured: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The ESL password: `PASSWORD_ENV` if set, else the configured one; never a built-in default
    (FreeSWITCH's ``ClueCon`` must not be what a deployment runs with by accident)."""
    env = os.environ if environ is None else environ
    password = env.get(PASSWORD_ENV) or configured
    if not password:
        raise ESLError(f"no ESL password: set {PASSWORD_ENV} or the event socket password in the config")
    protocol.auth(password)  # refuses whitespace and control characters
    return password


class ESLError(Exception):
    """Base class of this module's errors."""


class NotConnected(ESLError):
    """No authenticated connection to FreeSWITCH right now (it reconnects by itself)."""


class ConnectionLost(ESLError):
    """The connection dropped before the reply arrived; the command may or may not have run."""


@dataclass(slots=True)
class _Pending:
    expect: type[ApiResponse] | type[CommandReply]
    result: gevent.event.AsyncResult = field(default_factory=gevent.event.AsyncResult)


@dataclass(slots=True)
class BackgroundJob:
    """A ``bgapi`` in flight: `result()` waits for its BACKGROUND_JOB body (``+OK ...``/``-ERR ...``)."""

    job_uuid: str
    command: str
    started: float
    _done: gevent.event.AsyncResult = field(default_factory=gevent.event.AsyncResult)

    def result(self, timeout: float | None = None) -> str:
        """The job's output; raises `TimeoutError` if it did not arrive in `timeout` seconds."""
        try:
            body: str = self._done.get(timeout=timeout)
        except gevent.Timeout:
            raise TimeoutError(f"no BACKGROUND_JOB for {self.command} ({self.job_uuid})") from None
        return body

    @property
    def done(self) -> bool:
        """True once the result (or an error) arrived."""
        return bool(self._done.ready())


@dataclass(slots=True)
class Execution:
    """A ``sendmsg execute`` in flight, completed by the CHANNEL_EXECUTE_COMPLETE that carries our
    ``Event-UUID`` as ``Application-UUID``."""

    channel: str
    app: str
    event_uuid: str
    _done: gevent.event.AsyncResult = field(default_factory=gevent.event.AsyncResult)

    def complete(self, timeout: float | None = None) -> Event:
        """The EXECUTE_COMPLETE event (``Application-Response`` tells the outcome)."""
        try:
            ev: Event = self._done.get(timeout=timeout)
        except gevent.Timeout:
            raise TimeoutError(f"{self.app} on {self.channel} did not complete") from None
        return ev


class ESLConnection:
    """An inbound Event Socket client for one FreeSWITCH node; see the module docstring."""

    def __init__(
        self,
        host: str,
        port: int,
        password: str,
        *,
        events: Sequence[str] = ("ALL",),
        filters: Sequence[tuple[str, str]] = (),
        event_format: str = "json",
        on_connect: Callable[[ESLConnection], None] | None = None,
        connect_timeout: float = 3.0,
        backoff_initial: float = 0.1,
        backoff_max: float = 5.0,
        max_backlog: int = 50_000,
        name: str | None = None,
    ) -> None:
        protocol.auth(password)  # validate now: a bad password is a config error, not a retry
        self.host, self.port = host, port
        self.name = name or f"{host}:{port}"
        self._password = password
        self._events = list(events)
        self._filters = list(filters)
        self._format = event_format
        self._on_connect = on_connect
        self._connect_timeout = connect_timeout
        self._backoff_initial, self._backoff_max = backoff_initial, backoff_max
        self._max_backlog = max_backlog
        self._handlers: dict[str, list[EventHandler]] = {}
        self._sock: object | None = None
        self._connected = gevent.event.Event()
        self._write_lock = gevent.lock.Semaphore()
        self._pending: collections.deque[_Pending] = collections.deque()
        self._jobs: dict[str, BackgroundJob] = {}
        # By channel, then Event-UUID: a channel's end fails its executions without a scan.
        self._executions: dict[str, dict[str, Execution]] = {}
        self._lanes: dict[str, collections.deque[Event]] = {}
        self._backlog = 0
        self._supervisor: gevent.Greenlet | None = None
        self._running = False
        self._banner: gevent.event.AsyncResult = gevent.event.AsyncResult()
        self.job_ttl = 600.0
        """Seconds a bgapi waits for its BACKGROUND_JOB before it is forgotten."""
        self.connects = 0
        """How many times an authenticated, subscribed connection was made."""

    def __repr__(self) -> str:
        return f"ESLConnection({self.name}, connected={self.connected})"

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start connecting (and reconnecting) in the background."""
        if self._supervisor is None:
            self._running = True
            self._supervisor = gevent.spawn(self._supervise)

    def stop(self, timeout: float = 2.0) -> None:
        """Say ``exit``, close, and stop reconnecting."""
        self._running = False
        if self.connected:
            try:
                self._request(protocol.exit_(), CommandReply, timeout=timeout)
            except (ESLError, TimeoutError, OSError):
                pass
        self._close()
        if self._supervisor is not None:
            self._supervisor.kill(timeout=timeout)
            self._supervisor = None

    @property
    def connected(self) -> bool:
        """True while authenticated and subscribed."""
        return bool(self._connected.is_set())

    def wait_connected(self, timeout: float | None = None) -> bool:
        """Block until connected (True) or `timeout` passes (False)."""
        return bool(self._connected.wait(timeout))

    # --- handlers -----------------------------------------------------------------------------

    def on(self, event_name: str, handler: EventHandler) -> None:
        """Call `handler` for every event named `event_name` (``"*"``: every event; a CUSTOM
        event is also looked up by its subclass)."""
        self._handlers.setdefault(event_name, []).append(handler)

    # --- commands -----------------------------------------------------------------------------

    def api(self, command: str, *args: str, timeout: float = 10.0) -> ApiResponse:
        """``api <command> <args>``; the response body may be ``-ERR ...`` (check ``.ok``)."""
        reply = self._request(protocol.api(command, *args), ApiResponse, timeout=timeout)
        assert isinstance(reply, ApiResponse)
        return reply

    def bgapi(
        self, command: str, *args: str, timeout: float = 10.0, job_uuid: str | None = None
    ) -> BackgroundJob:
        """``bgapi`` with our own Job-UUID; wait for the outcome with ``job.result()``.

        Pass `job_uuid` to know it before the command is written (a caller that correlates the
        BACKGROUND_JOB event itself must register it first: the event may reach the handlers
        before this method returns)."""
        job = BackgroundJob(job_uuid or protocol.new_uuid(), command, time.monotonic())
        self._expire_jobs(job.started)
        self._jobs[job.job_uuid] = job
        try:
            reply = self._request(
                protocol.bgapi(command, *args, job_uuid=job.job_uuid), CommandReply, timeout=timeout
            )
        except BaseException:
            self._jobs.pop(job.job_uuid, None)
            raise
        assert isinstance(reply, CommandReply)
        if not reply.ok or reply.job_uuid != job.job_uuid:
            self._jobs.pop(job.job_uuid, None)
            raise ESLError(f"bgapi {command} refused: {reply.reply_text}")
        return job

    def _expire_jobs(self, now: float) -> None:
        # A job whose BACKGROUND_JOB never came (e.g. filtered out) must not be kept for ever.
        if len(self._jobs) < 1000:
            return
        for key, job in list(self._jobs.items()):
            if now - job.started > self.job_ttl:
                del self._jobs[key]
                job._done.set_exception(TimeoutError(f"no BACKGROUND_JOB for {job.command}"))

    def execute(
        self,
        channel: str,
        app: str,
        arg: str | None = None,
        *,
        timeout: float = 10.0,
        event_uuid: str | None = None,
    ) -> Execution:
        """``sendmsg <channel>`` execute `app` `arg` with our own Event-UUID (pass `event_uuid` to
        know it before the command is written, as for `bgapi`)."""
        execution = Execution(channel, app, event_uuid or protocol.new_uuid())
        self._executions.setdefault(channel, {})[execution.event_uuid] = execution
        data = protocol.sendmsg_execute(channel, app, arg, event_uuid=execution.event_uuid)
        try:
            reply = self._request(data, CommandReply, timeout=timeout)
        except BaseException:
            self._forget(execution)
            raise
        assert isinstance(reply, CommandReply)
        if not reply.ok:
            self._forget(execution)
            raise ESLError(f"sendmsg {app} on {channel} refused: {reply.reply_text}")
        return execution

    def _forget(self, execution: Execution) -> None:
        running = self._executions.get(execution.channel)
        if running is not None:
            running.pop(execution.event_uuid, None)
            if not running:
                del self._executions[execution.channel]

    def command(self, data: bytes, timeout: float = 10.0) -> CommandReply:
        """Send one pre-built non-api command (``filter``, ``event``...) and return its reply."""
        reply = self._request(data, CommandReply, timeout=timeout)
        assert isinstance(reply, CommandReply)
        return reply

    def _request(
        self, data: bytes, expect: type[ApiResponse] | type[CommandReply], *, timeout: float
    ) -> Message:
        sock = self._sock
        if sock is None or not self.connected:
            raise NotConnected(f"not connected to FreeSWITCH at {self.name}")
        return self._send_on(sock, data, expect, timeout)

    def _send_on(
        self, sock: object, data: bytes, expect: type[ApiResponse] | type[CommandReply], timeout: float
    ) -> Message:
        pending = _Pending(expect)
        with self._write_lock:
            self._pending.append(pending)
            try:
                sock.sendall(data)  # type: ignore[attr-defined]
            except OSError as exc:
                self._pending.remove(pending)
                raise ConnectionLost(f"write to {self.name} failed: {exc}") from exc
        try:
            msg: Message = pending.result.get(timeout=timeout)
        except gevent.Timeout:
            # the reply may still come; its slot stays queued so later replies still line up
            raise TimeoutError(f"no reply from {self.name} within {timeout}s") from None
        return msg

    # --- the connection loop ------------------------------------------------------------------

    def _supervise(self) -> None:
        delay = self._backoff_initial
        while self._running:
            try:
                sock = gevent.socket.create_connection(
                    (self.host, self.port), timeout=self._connect_timeout
                )
            except OSError as exc:
                wait = delay * (1 + random.random() / 4)
                log.warning(
                    "FreeSWITCH at %s unreachable: %s; retrying in %.1fs", self.name, exc, wait
                )
                gevent.sleep(wait)
                delay = min(delay * 2, self._backoff_max)
                continue
            sock.settimeout(None)
            # Commands are small and each waits for its reply: without this, Nagle's algorithm
            # and the peer's delayed ACK hold a command back by up to 40 ms.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                ok = self._session(sock)
            finally:
                self._close()
            if ok:
                delay = self._backoff_initial
            if self._running:
                wait = delay * (1 + random.random() / 4)
                log.warning("lost FreeSWITCH at %s; reconnecting in %.1fs", self.name, wait)
                gevent.sleep(wait)
                delay = min(delay * 2, self._backoff_max)

    def _session(self, sock: object) -> bool:
        """Run one connection until it ends; True if it got as far as being subscribed."""
        self._sock = sock
        self._banner = gevent.event.AsyncResult()
        reader = gevent.spawn(self._read, sock, protocol.Parser())
        try:
            try:
                self._handshake(sock)
            except (ESLError, TimeoutError, OSError) as exc:
                log.error("FreeSWITCH at %s: set-up failed: %s", self.name, exc)
                return False
            self.connects += 1
            self._connected.set()
            log.info("connected to FreeSWITCH at %s (connection %d)", self.name, self.connects)
            if self._on_connect is not None:
                gevent.spawn(self._run_hook)
            reader.join()
            return True
        finally:
            reader.kill()

    def _handshake(self, sock: object) -> None:
        try:
            banner = self._banner.get(timeout=self._connect_timeout)
        except gevent.Timeout:
            raise ESLError("no auth/request banner") from None
        if not isinstance(banner, AuthRequest):
            raise ESLError(f"expected auth/request, got {banner!r}")
        reply = self._send_on(sock, protocol.auth(self._password), CommandReply, self._connect_timeout)
        assert isinstance(reply, CommandReply)
        if not reply.ok:
            raise ESLError(f"authentication refused ({reply.reply_text}): check the ESL password")
        reply = self._send_on(
            sock, protocol.event(self._format, self._events), CommandReply, self._connect_timeout
        )
        assert isinstance(reply, CommandReply)
        if not reply.ok:
            raise ESLError(f"event subscription refused: {reply.reply_text}")
        for header, value in self._filters:
            reply = self._send_on(
                sock, protocol.filter_(header, value), CommandReply, self._connect_timeout
            )
            assert isinstance(reply, CommandReply)
            if not reply.ok:
                raise ESLError(f"filter {header} {value} refused: {reply.reply_text}")

    def _run_hook(self) -> None:
        assert self._on_connect is not None
        try:
            self._on_connect(self)
        except Exception:
            log.exception("on_connect hook failed for %s", self.name)

    def _read(self, sock: object, parser: protocol.Parser) -> None:
        try:
            while True:
                data = sock.recv(65536)  # type: ignore[attr-defined]
                if not data:
                    parser.feed_eof()
                    log.info("FreeSWITCH at %s closed the connection", self.name)
                    return
                parser.feed(data)
                while (msg := parser.next_message()) is not None:
                    self._deliver(msg)
        except ESLProtocolError as exc:
            log.error("malformed data from FreeSWITCH at %s: %s; reconnecting", self.name, exc)
        except OSError as exc:
            log.warning("connection to FreeSWITCH at %s failed: %s", self.name, exc)
        except _Desync as exc:
            log.error("FreeSWITCH at %s: %s; reconnecting", self.name, exc)
        finally:
            # Wake whoever waits on this socket now (the handshake included), not at a timeout.
            if self._sock is sock:
                self._fail_pending()

    def _deliver(self, msg: Message) -> None:
        if isinstance(msg, Event):
            self._on_event(msg)
        elif isinstance(msg, (ApiResponse, CommandReply)):
            if not self._pending:
                raise _Desync(f"unexpected {type(msg).__name__} with no command waiting")
            pending = self._pending.popleft()
            if not isinstance(msg, pending.expect):
                raise _Desync(f"got {type(msg).__name__} for a command expecting {pending.expect.__name__}")
            pending.result.set(msg)
        elif isinstance(msg, AuthRequest):
            if not self._banner.ready():
                self._banner.set(msg)
        elif isinstance(msg, DisconnectNotice):
            log.info("FreeSWITCH at %s sent a disconnect notice", self.name)
        else:
            log.debug("ignoring %s from %s", msg.content_type, self.name)

    def _on_event(self, ev: Event) -> None:
        name = ev.name
        if name == "BACKGROUND_JOB":
            job = self._jobs.pop(ev.get("Job-UUID"), None)
            if job is not None:
                job._done.set(ev.body or "")
        elif name == "CHANNEL_EXECUTE_COMPLETE":
            running = self._executions.get(ev.get("Unique-ID"))
            execution = running.get(ev.get("Application-UUID")) if running else None
            if execution is not None:
                self._forget(execution)
                execution._done.set(ev)
        elif name == "CHANNEL_DESTROY":
            uuid = ev.get("Unique-ID")
            for execution in self._executions.pop(uuid, {}).values():
                execution._done.set_exception(ESLError(f"channel {uuid} is gone"))
        if not self._handlers:
            return
        if self._backlog >= self._max_backlog:
            raise _Desync(f"event backlog exceeded {self._max_backlog} events (handlers too slow)")
        key = ev.unique_id or ev.get("Job-UUID") or "-"
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = collections.deque()
            gevent.spawn(self._drain_lane, key, lane)
        lane.append(ev)
        self._backlog += 1

    def _drain_lane(self, key: str, lane: collections.deque[Event]) -> None:
        while lane:
            ev = lane.popleft()
            self._backlog -= 1
            handlers = self._handlers.get(ev.name, [])
            if ev.name == "CUSTOM" and ev.subclass:
                handlers = handlers + self._handlers.get(ev.subclass, [])
            for handler in handlers + self._handlers.get("*", []):
                try:
                    handler(ev)
                except Exception:
                    log.exception("handler %r failed on %s of %s", handler, ev.name, key)
        del self._lanes[key]

    def _close(self) -> None:
        self._connected.clear()
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.close()  # type: ignore[attr-defined]
            except OSError:
                pass
        self._fail_pending()
        executions, self._executions = self._executions, {}
        for execution in (e for running in executions.values() for e in running.values()):
            execution._done.set_exception(ConnectionLost(f"connection to {self.name} lost"))


    def _fail_pending(self) -> None:
        pending, self._pending = self._pending, collections.deque()
        for p in pending:
            if not p.result.ready():
                p.result.set_exception(ConnectionLost(f"connection to {self.name} lost"))


class _Desync(Exception):
    """The stream no longer lines up with our requests: drop the connection."""
