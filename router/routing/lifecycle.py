"""The call lifecycle for one centre: park -> classify -> queue -> ring -> bridge -> wrap-up.

`CallRouter` connects to FreeSWITCH as an inbound ESL client and takes every call the dialplan
parks with ``esl_router_queue`` set. Each call then runs as one greenlet that reads top to bottom
(`CallRouter._flow`):

    admit             a new caller gets a line unless its class is over its share of the
                      centre's lines or its queue's expected wait is too long
                      (`router.routing.admission`); a refused caller is transferred or hears a
                      message and is hung up, as configured
    take the call     classify, enqueue in the core (keeping an earlier enqueue time if the
                      channel carries one), ask the core for an agent at once; then, beside the
                      flow, cancel the dialplan's voicemail fallback, note the enqueue time on the
                      channel and start the hold music
    wait for an agent the core assigns one: now, when an agent becomes free (`dispatch_agent`),
                      or when a relaxation step lets a busy queue overflow (`match_all`)
    ring              ``bgapi originate {origination_uuid=...,originate_timeout=N}<phone> &park()``;
                      the caller keeps hearing music. The outcome is correlated by the leg's uuid
                      and the job's uuid, never by order: the leg parks (answered), or the job
                      says ``-ERR <cause>`` or the leg hangs up (missed: back to the queue with
                      the same place, the agent pauses, and goes on break after N misses in a row)
    bridge            ``uuid_bridge`` caller and agent (it ends the music itself: a ``uuid_break``
                      first would cost a round trip and land a frame after the bridge anyway)
    talk              until either side hangs up; `finish` in the core, wrap-up, then the agent is
                      available and takes the best waiting call

and, at any point before the bridge, the caller may hang up: the call leaves the core (abandon,
recorded with its wait) and an agent leg still ringing is killed by us, because FreeSWITCH does not
cancel it (captures d5).

Everything a flow waits for arrives in its inbox: the caller's events, its agent leg's events, its
job's result, and a wake-up when the core assigns an agent. Events of one channel stay in order,
events of different channels may not (FreeSWITCH does not order them causally either), so every
wait accepts its events in any order.

Reconnection: parked calls outlive us. Whenever the connection is (re)made, calls of the previous
connection are closed in the core and everything FreeSWITCH still holds is adopted again
(`router.routing.adopt`): waiting callers with their original enqueue time (so with their place),
bridged calls as conversations in progress; agent legs nobody tracks any more are killed.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import gevent  # type: ignore[import-untyped]
import gevent.event  # type: ignore[import-untyped]
import gevent.queue  # type: ignore[import-untyped]

from router._core import Core, CoreError
from router.clock import Clock, SystemClock
from router.config import Centre, Config, ConfigError
from router.config.model import Overflow
from router.esl import protocol
from router.esl.connection import ConnectionLost, ESLConnection, ESLError, NotConnected
from router.esl.protocol import ApiResponse, Event, EventValue, UnsafeValueError
from router.routing import admission, callback_store
from router.routing.callback_store import StoredCallback
from router.routing.classify import Classification, classify, dialect_preferences, unknown_class
from router.routing.directory import Directory, load_directory
from router.routing.stats import Stats

__all__ = ["EVENTS", "FILTERS", "Call", "CallRouter", "Listener"]

log = logging.getLogger("router.routing")

EVENTS = ("CHANNEL_PARK", "CHANNEL_HANGUP", "BACKGROUND_JOB", "DTMF")
"""The events the router subscribes to: all it needs, nothing more (every event costs a parse;
five per call: two parks, two hangups, one job result; DTMF only when a caller presses a key, for
exit keys and callbacks, subscribed always so that a reload can add keys)."""

FILTERS = (
    ("variable_esl_router_queue", "/.+/"),
    ("Event-Name", "BACKGROUND_JOB"),
    ("Event-Name", "DTMF"),
)
"""Only events of our calls and agent legs (both carry ``esl_router_queue``), plus job results
and DTMF, which carry no variables (captures d1, a2: a variable filter alone would drop them)."""

LINE_WAIT = 5.0
"""Seconds a callback waits out of the queue when no line is free to call the customer on."""

UNREGISTERED = frozenset({"USER_NOT_REGISTERED", "SUBSCRIBER_ABSENT"})
"""Causes that mean the agent has no phone at all: break at once rather than after N misses."""

Listener = Callable[[str, dict[str, Any]], None]
"""Called with (kind, details) for every step of every call, e.g. ("bridged", {...})."""


def check_names(config: Config) -> None:
    """Queue names and agent ids travel in channel variables of the originate command: they must
    be plain tokens (letters, digits, ``_.-``). Raises ConfigError naming the offender."""
    problems = []
    for i, q in enumerate(config.queues):
        if not _NAME.fullmatch(q.name):
            problems.append((f"queues[{i}].name", f"{q.name!r}: use letters, digits, _ . - only"))
    for a in config.agents:
        if not _NAME.fullmatch(a.id):
            problems.append((a.origin or a.id, f"agent id {a.id!r}: use letters, digits, _ . - only"))
    if problems:
        raise ConfigError(config.path, problems)


_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class _Stop(Exception):
    """The flow must end now without touching the core or FreeSWITCH (reset, drain)."""


class _CallerGone(Exception):
    """The caller hung up before an agent answered."""


class _Retake(Exception):
    """FreeSWITCH did not answer a command in time although connected (overloaded): the call is
    dropped by us (legs killed, agent freed) and taken afresh from the channel, keeping its place."""


_WAKE = "wake"  # inbox message: the core assigned an agent to the call
_STOP = "stop"  # inbox message: end the flow (see _Stop)


@dataclass
class CallbackRequest:
    """A caller who asked to be (or was offered to be) called back, keeping their place."""

    number: str
    why: str
    tries: int = 0
    """Times the customer's phone was rung."""
    connected: bool = False
    retry_at: float | None = None
    """While set, the call is out of the core until this clock time (after an unanswered try)."""


@dataclass(eq=False)
class Call:
    """One caller, from the park to the end of the conversation."""

    uuid: str
    info: Classification
    enqueued_at: float
    epoch: int
    """The connection number it was taken on (calls of older connections are adopted afresh)."""
    conn: ESLConnection = field(repr=False)
    """The FreeSWITCH node the call is on: every command for it (and its legs) goes there."""
    inbox: gevent.queue.Queue = field(default_factory=gevent.queue.Queue, repr=False)
    state: str = "new"  # new, waiting, ringing, talking, done
    agent: str | None = None
    leg: str | None = None
    job: str | None = None
    in_core: bool = True
    """False for a conversation adopted after a restart (the core never queued it)."""
    bridged_at: float | None = None
    trigger: float | None = None
    """perf_counter() of the event that made the current match possible (dispatch latency)."""
    stale: bool = False
    visited: set[str] = field(default_factory=set)
    """Queues the call overflowed out of (never overflowed back into)."""
    announce_at: float | None = None
    """When the next position announcement is due (clock time)."""
    transfer: tuple[str, str | None] | None = None
    """(queue, agent) while an agent-initiated transfer is under way."""
    callback: CallbackRequest | None = None
    """Set once the caller is to be called back: the caller's channel is gone (or going), the
    call keeps its place in the core, and the customer is reached on `cust_leg`."""
    cust_leg: str | None = None
    cust_job: str | None = None
    line: bool = False
    """Whether the call is counted as holding one of the centre's lines (`CallRouter.lines`)."""
    flow: gevent.Greenlet | None = field(default=None, repr=False)
    side: gevent.Greenlet | None = field(default=None, repr=False)


@dataclass(eq=False)
class _Phone:
    """The router's side of an agent: how to ring them, misses in a row, a pending timer."""

    agent: str
    endpoint: str
    max_calls: int = 1
    misses: int = 0
    timer: gevent.Greenlet | None = None


class CallRouter:
    """Routes the calls of one centre over one FreeSWITCH event socket; see the module docstring.

    `start()` connects (and keeps reconnecting), `drain()` stops taking calls and leaves parked
    callers parked for a successor, `reload(config)` applies a new config to calls already waiting.
    Every configured agent is logged in (available) once the first connection is made; `agent_*`
    methods change an agent's state (the agent console will call them).
    """

    def __init__(
        self,
        config: Config,
        *,
        password: str,
        host: str | None = None,
        port: int | None = None,
        clock: Clock | None = None,
        directory: Directory | None = None,
        core: Core | None = None,
    ) -> None:
        self.config = config
        self.settings = config.calls
        self.clock: Clock = clock or SystemClock()
        self.directory = directory if directory is not None else load_directory(config)
        self.core = core or config.build_core()
        self.stats = Stats()
        self.listeners: list[Listener] = []
        self.calls: dict[str, Call] = {}
        self.lines: collections.Counter[str] = collections.Counter()
        """Lines held, by caller class: every call with a channel up (kept as calls come and go,
        so that admission costs the same with 10 or 10,000 calls in progress)."""
        self.legs: dict[str, Call] = {}
        self.jobs: dict[str, Call] = {}
        check_names(config)
        self.phones = {a.id: self._phone(a.id, a.max_calls) for a in config.agents}
        self.draining = False
        self.command_timeout = 10.0
        """Seconds a call's command may wait for FreeSWITCH's reply before the call is taken
        afresh (a busy FreeSWITCH answers one connection's ``api`` commands one at a time)."""
        self.ready = gevent.event.Event()
        """Set once the first connection is made, existing calls adopted and agents logged in."""
        self._last_now = 0.0
        self._music: dict[ESLConnection, str] = {}
        """What each node plays as hold music (`check_music`)."""
        self._kick = gevent.event.Event()
        self._relaxer: gevent.Greenlet | None = None
        self._retired: set[str] = set()
        self._refusing: set[str] = set()
        addresses = ((host or config.esl.host, port or config.esl.port),) if host or port else config.esl.addresses()
        self.nodes: list[ESLConnection] = []
        for node_host, node_port in addresses:
            conn = ESLConnection(
                node_host,
                node_port,
                password,
                events=EVENTS,
                filters=FILTERS,
                on_connect=self._on_connect,
                name=f"FreeSWITCH {node_host}:{node_port}",
            )
            conn.on("CHANNEL_PARK", functools.partial(self._on_park, conn))
            conn.on("CHANNEL_HANGUP", self._route)
            conn.on("BACKGROUND_JOB", self._route_job)
            conn.on("DTMF", self._route)  # exit keys and the callback key
            self.nodes.append(conn)
        self.conn = self.nodes[0]
        """The first node (the only one unless ``[esl] nodes`` lists several)."""

    # --- running ------------------------------------------------------------------------------

    def start(self) -> None:
        """Connect to FreeSWITCH (retrying until it answers) and start routing."""
        for conn in self.nodes:
            conn.start()
        if self._relaxer is None:
            self._relaxer = gevent.spawn(self._relaxation_loop)

    def stop(self) -> None:
        """Disconnect at once. Calls stay on FreeSWITCH as they are (parked or bridged)."""
        if self._relaxer is not None:
            self._relaxer.kill(block=False)
            self._relaxer = None
        for call in list(self.calls.values()):
            self._stop_flow(call)
        for conn in self.nodes:
            conn.stop(timeout=1.0)

    def drain(self, timeout: float = 10.0) -> None:
        """Stop taking calls, let agents that are ringing answer (up to `timeout` s), then stop.

        Waiting callers stay parked with their hold music and their enqueue time on the channel;
        a successor router adopts them with their place. Bridged calls go on without us.
        """
        self.draining = True
        log.info("draining: taking no new calls; %d call(s) in hand", len(self.calls))
        pending = sum(1 for c in self.calls.values() if c.callback is not None and not c.callback.connected)
        if pending and (self.settings.callback is None or self.settings.callback.state_file is None):
            log.warning("%d pending callback(s) are lost: set [calls.callback] state_file to keep them", pending)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(c.state == "ringing" for c in self.calls.values()):
            gevent.sleep(0.05)
        for call in list(self.calls.values()):
            if call.state == "ringing" and call.leg is not None:
                self._kill_leg(call.conn, call.leg)
        self.stop()

    def now(self) -> float:
        """The clock's time, never going backwards (the core refuses time that does)."""
        t = self.clock.now()
        if t < self._last_now:
            t = self._last_now
        self._last_now = t
        return t

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until connected, adopted and agents logged in (True), or `timeout` (False)."""
        return bool(self.ready.wait(timeout))

    def _emit(self, kind: str, **details: Any) -> None:
        for listener in self.listeners:
            try:
                listener(kind, details)
            except Exception:
                log.exception("listener failed on %s", kind)

    # --- events in ------------------------------------------------------------------------------

    def _on_park(self, conn: ESLConnection, ev: Event) -> None:
        t0 = time.perf_counter()
        uid = ev.unique_id or ""
        owner = self.calls.get(uid) or self.legs.get(uid)
        if owner is not None:
            owner.inbox.put(ev)
            return
        if ev.get("Call-Direction") == "outbound":
            if ev.get("variable_esl_router_agent") or ev.get("variable_esl_router_callback"):
                # a leg nobody waits for any more (answered just as we gave up on it)
                log.info("leg %s parked with no call waiting for it: hanging it up", uid)
                gevent.spawn(self._kill_leg, conn, uid)
            return
        if self.draining or not ev.get("variable_esl_router_queue"):
            return
        self.take(conn, ev.headers, uid, trigger=t0)

    def _route(self, ev: Event) -> None:
        uid = ev.unique_id or ""
        owner = self.calls.get(uid) or self.legs.get(uid)
        if owner is not None:
            owner.inbox.put(ev)

    def _route_job(self, ev: Event) -> None:
        owner = self.jobs.get(ev.get("Job-UUID"))
        if owner is not None:
            owner.inbox.put(ev)

    def take(
        self,
        conn: ESLConnection,
        headers: Mapping[str, EventValue],
        uuid: str,
        *,
        trigger: float | None = None,
        adopted: bool = False,
    ) -> Call | None:
        """Take a parked caller (from its CHANNEL_PARK headers or its ``uuid_dump``)."""
        try:
            protocol.check_uuid(uuid)
        except UnsafeValueError:
            log.warning("ignoring a channel with an unusable uuid %r", uuid[:60])
            return None
        if uuid in self.calls:
            return None
        if uuid in self._refusing:
            return None
        info = classify(headers, self.config, self.directory)
        now = self.now()
        call_back: str | None = None  # why the caller is called back instead of given a line
        if not adopted:
            reason = self._admission(info, now)
            if reason is None:
                self.stats.admitted[info.cls] += 1
            else:
                self.stats.refused[reason] += 1
                self.stats.refused_classes[info.cls] += 1
                if self.settings.refuse_action == "callback" and info.caller:
                    call_back = f"no line ({reason})"
                else:
                    self._refusing.add(uuid)
                    log.info("call %s (%s, %s): no line (%s)", uuid, info.cls, info.queue, reason)
                    self._emit("refused", uuid=uuid, info=info, reason=reason)
                    gevent.spawn(self._refuse, conn, uuid, info, reason)
                    return None
        enqueued_at = now if info.enqueued_at is None else min(info.enqueued_at, now)
        call = Call(uuid, info, enqueued_at, conn.connects, conn, trigger=trigger, visited=set(info.visited))
        self.calls[uuid] = call
        self.hold_line(call, True)
        if adopted:
            self.stats.adopted += 1
        else:
            self.stats.offered += 1
        for note in info.notes:
            log.info("call %s: %s", uuid, note)
        if call_back is not None:
            self._become_callback(call, "no line", call_back, queued=False)
        call.flow = gevent.spawn(self._flow, call)
        return call

    # --- admission (router.routing.admission) ---------------------------------------------------

    def _centre(self) -> Centre | None:
        """The centre this router serves (its lines and line shares)."""
        return next((c for c in self.config.centres if c.name == self.config.centre), None)

    def _admission(self, info: Classification, now: float) -> str | None:
        """None to give the caller a line, else why not (see `admission.decide`)."""
        centre = self._centre()
        used = self.lines
        ewt: float | None = None
        if self.settings.max_expected_wait > 0:
            try:
                ewt = self.core.expected_wait(info.queue, info.cls, now)
            except CoreError as exc:
                log.warning("expected wait of %s unknown: %s", info.queue, exc)
        return admission.decide(
            centre,
            used,
            info.cls,
            ewt,
            max_expected_wait=self.settings.max_expected_wait,
            exempt=self.settings.exempt_classes,
        )

    def _refuse(self, conn: ESLConnection, uuid: str, info: Classification, reason: str) -> None:
        """Offer a caller refused a line the configured alternative (transfer, or a message and
        hangup). The queue variable is unset first, so that the channel is never taken again."""
        settings = self.settings
        try:
            if info.fallback_task is not None:
                conn.api("sched_del", info.fallback_task)
            conn.api("uuid_setvar", uuid, "esl_router_queue")
            conn.api("uuid_setvar", uuid, "esl_router_refused", reason)
            if settings.refuse_action == "transfer" and settings.refuse_extension is not None:
                reply: ApiResponse = conn.api("uuid_transfer", uuid, settings.refuse_extension)
                if not reply.ok:
                    log.warning("call %s: transfer refused: %s", uuid, reply.body.strip())
            else:
                if settings.refuse_message:
                    conn.command(
                        protocol.sendmsg_execute(
                            uuid, "playback", settings.refuse_message,
                            event_uuid=protocol.new_uuid(), event_lock=True,
                        )
                    )
                conn.command(
                    protocol.sendmsg_execute(
                        uuid, "hangup", "NORMAL_CIRCUIT_CONGESTION",
                        event_uuid=protocol.new_uuid(), event_lock=True,
                    )
                )
        except (ESLError, TimeoutError, UnsafeValueError) as exc:
            log.warning("call %s: offering the alternative failed: %s", uuid, exc)
        finally:
            self._refusing.discard(uuid)

    # --- one call, top to bottom ----------------------------------------------------------------

    def _flow(self, call: Call) -> None:
        try:
            if call.callback is None or call.callback.retry_at is None:
                self._enqueue(call, music=call.callback is None)
            while True:
                self._await_retry(call)
                agent = self._wait_for_agent(call)
                if agent is None:  # overflowed to an extension: no longer ours
                    self._forget(call)
                    return
                if call.callback is not None and not self._line_for_callback(call, agent):
                    continue
                if not self._ring(call, agent):
                    if call.state == "done":  # a callback given up
                        break
                    continue
                if not self._talk(call):
                    break
                self._requeue_transferred(call)
        except _CallerGone:
            self._caller_gone(call)
        except _Stop:
            return  # the call stays registered: a reset or a successor takes it from here
        except _Retake:
            self._retake(call)
            return
        except Exception:
            log.exception("call %s: flow failed; taking the call afresh", call.uuid)
            self._retake(call)
            return
        self._forget(call)

    def _retake(self, call: Call) -> None:
        from router.routing.adopt import readopt

        self._drop(call)
        if call.callback is not None and not call.callback.connected:
            self.resume_callback(call)  # no channel to read it back from
        else:
            gevent.spawn(readopt, self, call.conn, call.uuid)

    def _adopted_talk(self, call: Call) -> None:
        """The flow of a conversation found in progress (re-adoption): its end, then wrap-up."""
        try:
            self._talk(call)
        except _Stop:
            return
        self._forget(call)

    def _drop(self, call: Call) -> None:
        """Forget a call whose flow failed: out of the core and the maps; its agent freed."""
        call.stale = True
        for leg in (call.leg, call.cust_leg):
            if leg is not None:
                gevent.spawn(self._kill_leg, call.conn, leg)
        self._forget(call)
        if call.in_core:
            try:
                self.core.remove_call(call.uuid, self.now())
            except CoreError:
                pass
        if call.agent is not None and call.agent in self.phones:
            self._agent_ready(call.agent)

    def _enqueue(self, call: Call, *, music: bool = True) -> None:
        info = call.info
        now = self.now()
        self.core.enqueue(
            call.uuid,
            info.queue,
            info.cls,
            info.home,
            now,
            preferred=list(info.preferred),
            preferred_agent=info.preferred_agent,
            enqueued_at=call.enqueued_at,
        )
        call.state = "waiting"
        agent = None if self.draining else self.core.dispatch_call(call.uuid, now)
        if agent is not None:
            call.agent = agent
        else:
            position, ewt = self.core.call_position(call.uuid, self.now())
            self._emit("queued", call=call, position=position, ewt=ewt)
        self._kick.set()
        # Beside the flow, so that a ring decided just now goes out first.
        if music:
            call.side = gevent.spawn(self._settle, call)

    def _settle(self, call: Call) -> None:
        """Cancel the dialplan's voicemail fallback, note the enqueue time, start hold music."""
        try:
            if call.info.fallback_task is not None:
                call.conn.api("sched_del", call.info.fallback_task)
            if call.info.enqueued_at is None:
                call.conn.api("uuid_setvar", call.uuid, "esl_router_enqueued_at", f"{call.enqueued_at:.3f}")
            self._start_music(call)
        except (ESLError, TimeoutError) as exc:
            log.warning("call %s: setting up the wait failed: %s", call.uuid, exc)

    def _start_music(self, call: Call) -> None:
        # A plain sendmsg: its completion is not awaited (it ends when the music is broken).
        command = protocol.sendmsg_execute(
            call.uuid, "playback", self.music(call.conn), event_uuid=protocol.new_uuid()
        )
        reply = call.conn.command(command)
        if not reply.ok:
            log.info("call %s: hold music refused: %s", call.uuid, reply.reply_text)

    def music(self, conn: ESLConnection) -> str:
        """The hold music `conn`'s FreeSWITCH has (`hold_music` until checked)."""
        return self._music.get(conn, self.settings.hold_music)

    def check_music(self, conn: ESLConnection) -> None:
        """Play `hold_music` if FreeSWITCH has it, else `fallback_music` (asked once per
        connection: ``local_stream show <name>``, or ``file_exists <path>`` for an absolute path;
        a missing source would otherwise play nothing, captures d6). A path relative to the
        sounds directory is not checked: ``file_exists`` says false for it although ``playback``
        finds it (seen on FreeSWITCH 1.10.12)."""
        music = self.settings.hold_music
        if music.startswith("local_stream://"):
            reply = conn.api("local_stream", "show", music[len("local_stream://") :])
        elif music.startswith("/"):
            reply = conn.api("file_exists", music)
            reply = reply if reply.body.strip() == "true" else ApiResponse({}, "-ERR no such file")
        else:
            reply = ApiResponse({}, "+OK")  # tone_stream:// and the like need no source
        if reply.ok:
            self._music[conn] = music
        else:
            log.warning(
                "hold music %s is not available on FreeSWITCH (%s): playing %s instead; "
                "see freeswitch_conf/README.md",
                music,
                reply.body.strip(),
                self.settings.fallback_music,
            )
            self._music[conn] = self.settings.fallback_music

    def _wait_for_agent(self, call: Call) -> str | None:
        """The agent the core assigns; None when the call overflowed out of our hands."""
        while call.agent is None:
            rule = self.settings.overflow_for(call.info.queue, call.info.cls)
            if rule is not None and rule.to is not None and rule.to in call.visited:
                rule = None
            if rule is not None and (call.callback is not None or (rule.callback and not call.info.caller)):
                rule = None  # a callback has no channel to move; a caller with no number none
            every = self.settings.announce_every if call.callback is None else 0
            if every > 0 and call.announce_at is None:
                call.announce_at = self.now() + every
            deadlines = [call.enqueued_at + rule.after] if rule is not None else []
            if every > 0 and call.announce_at is not None:
                deadlines.append(call.announce_at)
            timeout = max(0.0, min(deadlines) - self.now()) if deadlines else None
            msg = self._next(call, timeout=timeout)
            if isinstance(msg, Event) and msg.name == "DTMF" and call.agent is None and call.callback is None:
                digit = msg.get("DTMF-Digit")
                extension = self.settings.exit_keys.get(digit)
                callback = self.settings.callback
                if callback is not None and callback.key is not None and digit == callback.key:
                    if call.info.caller:
                        self._become_callback(call, f"pressed {digit}", f"pressed {digit}")
                    else:
                        log.info("call %s: pressed %s for a callback, but has no number", call.uuid, digit)
                        self._emit("callback_refused", call=call, why="no caller number")
                elif extension is not None:
                    self.stats.key_exits[extension] += 1
                    self._leave(call, extension, f"pressed {msg.get('DTMF-Digit')}")
                    return None
            if msg is not None or call.agent is not None:
                continue
            now = self.now()
            if rule is not None and now >= call.enqueued_at + rule.after:
                if self._overflow(call, rule):
                    return None
            elif every > 0 and call.announce_at is not None and now >= call.announce_at:
                call.announce_at = now + every
                self._announce(call)
        return call.agent

    def _announce(self, call: Call) -> None:
        """Tell a waiting caller their position and expected wait (`core.call_position`), then
        the music again: ``uuid_break`` of the music, then event-locked ``sendmsg``s that run in
        order (playback, ``say``, playback, ``say``, music). Beside the flow: a ring decided
        meanwhile is not delayed, and the bridge waits for it (`_bridge`)."""
        try:
            position, ewt = self.core.call_position(call.uuid, self.now())
        except CoreError:
            return
        if call.side is not None and not call.side.ready():
            return  # the previous announcement (or the first music) is still being sent
        self._emit("announce", call=call, position=position, ewt=ewt)
        call.side = gevent.spawn(self._send_announcement, call, position, ewt)

    def _send_announcement(self, call: Call, position: int, ewt: float | None) -> None:
        s = self.settings
        say = f"{s.announce_language} number pronounced {position}"
        steps: list[tuple[str, str]] = [("playback", s.announce_position), ("say", say)]
        if ewt is not None:
            wait = f"{s.announce_language} time_measurement pronounced {max(0, round(ewt))}"
            steps += [("playback", s.announce_wait), ("say", wait)]
        steps.append(("playback", self.music(call.conn)))
        try:
            call.conn.api("uuid_break", call.uuid)
            for i, (app, arg) in enumerate(steps):
                if call.state in ("talking", "done"):
                    return
                if call.state != "waiting" and i < len(steps) - 1:
                    continue  # an agent rings: straight back to the music (a miss may follow)
                call.conn.command(
                    protocol.sendmsg_execute(
                        call.uuid, app, arg, event_uuid=protocol.new_uuid(), event_lock=True
                    )
                )
        except (ESLError, TimeoutError, UnsafeValueError) as exc:
            log.warning("call %s: announcement failed: %s", call.uuid, exc)

    def _overflow(self, call: Call, rule: Overflow) -> bool:
        """Maximum wait reached: to another queue keeping the enqueue time (False, the flow goes
        on waiting), or transferred to an extension (True: the call leaves the router)."""
        now = self.now()
        old = call.info.queue
        self.stats.overflowed[f"{old}->{rule.to or rule.extension or 'callback'}"] += 1
        if rule.callback:
            self._emit("overflow", call=call, queue=old, to="callback", wait=now - call.enqueued_at)
            self._become_callback(call, "maximum wait", "maximum wait")
            return False
        if rule.to is not None:
            call.visited.add(old)
            self.core.remove_call(call.uuid, now)
            call.info = dataclasses.replace(call.info, queue=rule.to)
            log.info("call %s: waited %.1fs in %s: now in %s", call.uuid, now - call.enqueued_at, old, rule.to)
            self._esl(call, call.conn.api, "uuid_setvar", call.uuid, "esl_router_queue", rule.to)
            # kept on the channel, so that a restarted router never overflows it back
            visited = "+".join(sorted(call.visited))
            self._esl(call, call.conn.api, "uuid_setvar", call.uuid, "esl_router_visited", visited)
            self._emit("overflow", call=call, queue=old, to=rule.to, wait=now - call.enqueued_at)
            self._enqueue(call, music=False)
            return False
        assert rule.extension is not None
        self._emit("overflow", call=call, queue=old, to=rule.extension, wait=now - call.enqueued_at)
        self._leave(call, rule.extension, "maximum wait")
        return True

    def _leave(self, call: Call, extension: str, why: str) -> None:
        """A waiting caller leaves the queue for a dialplan extension (voicemail, callback...):
        out of the core, the music stopped, ``uuid_transfer``; the router forgets the call."""
        now = self.now()
        self.core.remove_call(call.uuid, now)
        call.state = "done"
        log.info("call %s: %s after %.1fs in %s: to %s", call.uuid, why, now - call.enqueued_at,
                 call.info.queue, extension)
        self._emit("left", call=call, to=extension, why=why, wait=now - call.enqueued_at)
        if call.side is not None:
            call.side.join(timeout=5.0)  # an announcement being sent
        self._esl(call, call.conn.api, "uuid_setvar", call.uuid, "esl_router_queue")
        self._esl(call, call.conn.api, "uuid_break", call.uuid, "all")
        reply: ApiResponse = self._esl(call, call.conn.api, "uuid_transfer", call.uuid, extension)
        if not reply.ok:
            log.warning("call %s: transfer to %s failed: %s", call.uuid, extension, reply.body.strip())

    # --- callbacks: the caller hangs up and keeps their place; agent first, then customer ---

    def _become_callback(self, call: Call, kind: str, why: str, *, queued: bool = True) -> None:
        """The caller will be called back: the call keeps its place (its enqueue time) in the
        core, in the callback class if one is set; beside the flow, the caller hears `confirm`
        and is hung up."""
        assert call.info.caller is not None and self.settings.callback is not None
        call.callback = CallbackRequest(call.info.caller, why)
        self.stats.callbacks[kind] += 1
        log.info("call %s: to be called back on %s (%s)", call.uuid, call.info.caller, why)
        self.hold_line(call, False)  # the caller is hung up: the line is free
        cls = self.settings.callback.cls
        if cls is not None and cls != call.info.cls:
            if queued:
                self.core.remove_call(call.uuid, self.now())
            call.info = dataclasses.replace(call.info, cls=cls)
            if queued:
                self._enqueue(call, music=False)
        self._emit("callback", call=call, why=why, number=call.info.caller)
        self._save_callbacks()
        call.side = gevent.spawn(self._send_goodbye, call, call.side)

    def _send_goodbye(self, call: Call, previous: gevent.Greenlet | None) -> None:
        settings = self.settings.callback
        assert settings is not None
        try:
            if previous is not None:
                previous.join(timeout=5.0)  # the music or an announcement being sent
            elif call.info.fallback_task is not None:
                call.conn.api("sched_del", call.info.fallback_task)
            # unset first: the channel is no longer a waiting caller, whatever happens next
            call.conn.api("uuid_setvar", call.uuid, "esl_router_queue")
            call.conn.api("uuid_break", call.uuid, "all")
            steps = [("playback", settings.confirm)] if settings.confirm else []
            for app, arg in [*steps, ("hangup", "NORMAL_CLEARING")]:
                call.conn.command(
                    protocol.sendmsg_execute(call.uuid, app, arg, event_uuid=protocol.new_uuid(), event_lock=True)
                )
        except (ESLError, TimeoutError, UnsafeValueError) as exc:
            log.warning("call %s: hanging up the caller to call back failed: %s", call.uuid, exc)

    def resume_callback(self, old: Call) -> Call:
        """A callback of an earlier connection (it has no channel to adopt) waits again in its
        place, with its tries so far."""
        assert old.callback is not None
        request = dataclasses.replace(old.callback, connected=False)
        call = Call(old.uuid, old.info, old.enqueued_at, old.conn.connects, old.conn, callback=request)
        self.calls[call.uuid] = call
        call.flow = gevent.spawn(self._flow, call)
        return call

    def _save_callbacks(self) -> None:
        """Write the pending callbacks to ``[calls.callback] state_file`` (if configured)."""
        settings = self.settings.callback
        if settings is None or settings.state_file is None:
            return
        pending = [
            StoredCallback(
                c.uuid, c.info.queue, c.info.cls, c.info.home, c.callback.number, c.callback.why,
                c.callback.tries, c.enqueued_at, c.callback.retry_at, c.info.preferred_agent,
            )
            for c in self.calls.values()
            if c.callback is not None and not c.callback.connected and c.state != "done"
        ]
        try:
            callback_store.save(settings.state_file, pending)
        except OSError as exc:
            log.error("could not save %d pending callback(s) to %s: %s", len(pending), settings.state_file, exc)

    def restore_callbacks(self, conn: ESLConnection) -> int:
        """Queue again, in their places, the callbacks a previous router left in `state_file`."""
        settings = self.settings.callback
        if settings is None or settings.state_file is None:
            return 0
        restored = 0
        queues = [q.name for q in self.config.queues]
        for stored in callback_store.load(settings.state_file):
            if stored.uuid in self.calls:
                continue
            queue = stored.queue if stored.queue in queues else (self.settings.default_queue or queues[0])
            cls = stored.cls if any(c.name == stored.cls for c in self.config.classes) else unknown_class(self.config)
            home = stored.home if any(c.name == stored.home for c in self.config.centres) else self.config.centre
            if (queue, cls, home) != (stored.queue, stored.cls, stored.home):
                log.warning("callback %s: %s/%s/%s no longer configured: now %s/%s/%s", stored.uuid,
                            stored.queue, stored.cls, stored.home, queue, cls, home)
            agent = stored.preferred_agent if stored.preferred_agent in self.phones else None
            info = Classification(queue, cls, home, stored.number, preferred=dialect_preferences(self.config, home),
                                  preferred_agent=agent, enqueued_at=stored.enqueued_at)
            request = CallbackRequest(stored.number, stored.why, stored.tries, retry_at=stored.retry_at)
            call = Call(stored.uuid, info, stored.enqueued_at, conn.connects, conn, callback=request)
            self.calls[call.uuid] = call
            call.flow = gevent.spawn(self._flow, call)
            restored += 1
        if restored:
            log.info("restored %d pending callback(s) from %s", restored, settings.state_file)
        return restored

    def _await_retry(self, call: Call) -> None:
        """After an unanswered callback: out of the core until `retry_at`, then back in its place."""
        if call.callback is None or call.callback.retry_at is None:
            return
        while (left := call.callback.retry_at - self.now()) > 0:
            self._next(call, timeout=left)  # stray events of the legs we hung up
        call.callback.retry_at = None
        call.trigger = time.perf_counter()
        self._enqueue(call, music=False)

    def _line_for_callback(self, call: Call, agent: str) -> bool:
        """Whether a line is free for the callback (the same line shares as a new caller of its
        class, `admission.decide`): if so it is held from now, so that no caller takes it while
        the agent and the customer ring; if not, the agent is freed and the callback waits
        `LINE_WAIT` seconds out of the queue, keeping its place."""
        reason = admission.decide(self._centre(), self.lines, call.info.cls, None)
        if reason is None:
            self.hold_line(call, True)
            return True
        assert call.callback is not None
        now = self.now()
        self.core.remove_call(call.uuid, now)
        call.agent, call.callback.retry_at = None, now + LINE_WAIT
        self.stats.callback_misses["NO_LINE"] += 1
        self._emit("callback_deferred", call=call, agent=agent, reason=reason)
        self._agent_ready(agent)
        return False

    def _dial_customer(self, call: Call, agent: str) -> bool:
        """The agent answered a callback: ring the customer (the agent hears ringback) and bridge
        the two when the customer answers; see `_callback_missed` for when they do not."""
        cb, settings = call.callback, self.settings.callback
        assert cb is not None and settings is not None and call.leg is not None
        cb.tries += 1
        cust, job = protocol.new_uuid(), protocol.new_uuid()
        variables = {
            "origination_uuid": cust,
            "originate_timeout": str(settings.ring_timeout),
            "esl_router_queue": call.info.queue,
            "esl_router_callback": call.uuid,
        }
        if settings.caller_id is not None:
            variables["origination_caller_id_number"] = settings.caller_id
        try:
            dial = protocol.dial_string(settings.dial.replace("{number}", cb.number), variables)
        except UnsafeValueError as exc:  # cannot happen: a number is digits, the dial string checked
            log.error("call %s: cannot dial %s back: %s", call.uuid, cb.number, exc)
            cb.tries = settings.attempts
            return self._callback_missed(call, agent, "BAD_NUMBER")
        call.cust_leg, call.cust_job = cust, job
        self.legs[cust], self.jobs[job] = call, call
        self._esl(
            call, call.conn.command,
            protocol.sendmsg_execute(call.leg, "playback", settings.agent_tone, event_uuid=protocol.new_uuid()),
        )
        try:
            self._esl(call, call.conn.bgapi, "originate", dial, "&park()", job_uuid=job)
        except ESLError as exc:
            log.error("call %s: originate to the customer refused: %s", call.uuid, exc)
            return self._callback_missed(call, agent, "ORIGINATE_REFUSED")
        self._emit("calling_back", call=call, agent=agent, attempt=cb.tries)
        deadline = time.monotonic() + settings.ring_timeout + 10.0
        while True:
            msg = self._next(call, timeout=max(0.0, deadline - time.monotonic()))
            if msg is None:
                return self._callback_missed(call, agent, "NO_ANSWER")
            if not isinstance(msg, Event):
                continue
            if msg.name == "BACKGROUND_JOB" and msg.get("Job-UUID") == job:
                result = msg.body or ""
                if result.startswith("-"):
                    return self._callback_missed(call, agent, result[4:].strip() or "UNKNOWN")
            elif msg.unique_id == cust and msg.name == "CHANNEL_PARK":
                return self._bridge_callback(call, agent)
            elif msg.unique_id == cust and msg.name == "CHANNEL_HANGUP":
                return self._callback_missed(call, agent, msg.get("Hangup-Cause") or "UNKNOWN")
            elif msg.unique_id == call.leg and msg.name == "CHANNEL_HANGUP":
                return self._callback_missed(call, agent, "AGENT_HUNG_UP", agent_gone=True)

    def _bridge_callback(self, call: Call, agent: str) -> bool:
        cb = call.callback
        assert cb is not None and call.leg is not None and call.cust_leg is not None
        # the agent's ringback ends with the bridge, as the hold music does (`_bridge`)
        reply: ApiResponse = self._esl(call, call.conn.api, "uuid_bridge", call.cust_leg, call.leg)
        if not reply.ok:
            log.info("call %s: uuid_bridge of the callback failed: %s", call.uuid, reply.body.strip())
            return self._callback_missed(call, agent, "BRIDGE_FAILED")
        now = self.now()
        call.state, call.bridged_at, cb.connected = "talking", now, True
        self.hold_line(call, True)
        self._on_call(agent, now)
        self.phones[agent].misses = 0
        self.stats.answered += 1
        self.stats.callbacks_connected += 1
        self.stats.callback_delays.append(now - call.enqueued_at)
        self._save_callbacks()
        log.info("call %s: called back on %s, bridged to %s", call.uuid, cb.number, agent)
        self._emit("bridged", call=call, agent=agent, wait=now - call.enqueued_at, callback=True)
        return True

    def _callback_missed(self, call: Call, agent: str, cause: str, *, agent_gone: bool = False) -> bool:
        """The customer did not answer (or the agent hung up first). Both legs are hung up; the
        agent is free at once (no fault of theirs) or wraps up (they hung up). The call goes back
        to its place at once (the agent's doing), after `retry_after` (another try is left), or
        is given up (state ``done``)."""
        cb, settings = call.callback, self.settings.callback
        assert cb is not None and settings is not None
        for leg in (call.leg, call.cust_leg):
            if leg is not None and not (agent_gone and leg == call.leg):
                gevent.spawn(self._kill_leg, call.conn, leg)
        self._forget_leg(call)
        self.hold_line(call, False)
        now = self.now()
        call.agent, call.state = None, "waiting"
        self.stats.callback_misses[cause] += 1
        self._emit("callback_missed", call=call, agent=agent, cause=cause, attempt=cb.tries)
        if agent_gone:
            cb.tries -= 1  # the customer's ring was cut short: not a try
            self.core.requeue(call.uuid, now)
            self._agent_after(agent, "wrap_up", self.settings.wrap_up)
            other = None if self.draining else self.core.dispatch_call(call.uuid, self.now())
            if other is not None:
                call.agent, call.trigger = other, time.perf_counter()
            return False
        self.core.remove_call(call.uuid, now)
        if cb.tries >= settings.attempts:
            call.state = "done"
            self.stats.callbacks_failed += 1
            log.info("call %s: callback to %s given up after %d tries (%s)", call.uuid, cb.number, cb.tries, cause)
            self._emit("callback_failed", call=call, tries=cb.tries, cause=cause)
        else:
            cb.retry_at = now + settings.retry_after
        self._save_callbacks()
        self._agent_ready(agent)
        return False

    def _ring(self, call: Call, agent: str) -> bool:
        """Ring `agent` for `call`; True once bridged, False when the agent did not take it."""
        phone = self.phones[agent]
        leg, job = protocol.new_uuid(), protocol.new_uuid()
        variables = {
            "origination_uuid": leg,
            "originate_timeout": str(self.settings.ring_timeout),
            "esl_router_queue": call.info.queue,
            "esl_router_caller_uuid": call.uuid,
            "esl_router_agent": agent,
        }
        if call.info.caller is not None:
            variables["origination_caller_id_number"] = call.info.caller
        if call.callback is not None:
            variables["origination_caller_id_name"] = "callback"  # the agent's phone says so (d12)
        try:
            dial = protocol.dial_string(phone.endpoint.replace("{agent}", agent), variables)
        except UnsafeValueError as exc:
            log.error("agent %s cannot be dialled: %s", agent, exc)
            return self._missed(call, agent, "BAD_ENDPOINT", penalty=False, brk=f"cannot dial: {exc}")
        call.state, call.leg, call.job = "ringing", leg, job
        self.legs[leg], self.jobs[job] = call, call
        self.core.set_agent_state(agent, "ringing", self.now())
        if call.trigger is not None:
            self.stats.dispatch_latency.append(time.perf_counter() - call.trigger)
            call.trigger = None
        try:
            self._esl(call, call.conn.bgapi, "originate", dial, "&park()", job_uuid=job)
        except ESLError as exc:  # refused outright (not a ring outcome): pause the agent
            log.error("call %s: originate to %s refused: %s", call.uuid, agent, exc)
            return self._missed(call, agent, "ORIGINATE_REFUSED")
        self._emit("ringing", call=call, agent=agent)
        # FreeSWITCH ends the ring itself after originate_timeout; this guard only covers a
        # result that never comes (a lost event), with room for SIP timers (captures d4).
        deadline = time.monotonic() + self.settings.ring_timeout + 10.0
        while True:
            msg = self._next(call, timeout=max(0.0, deadline - time.monotonic()))
            if msg is None:
                log.warning("call %s: no outcome for agent %s's leg; hanging it up", call.uuid, agent)
                self._kill_leg(call.conn, leg)
                return self._missed(call, agent, "NO_ANSWER")
            if not isinstance(msg, Event):
                continue
            if msg.name == "BACKGROUND_JOB" and msg.get("Job-UUID") == job:
                result = msg.body or ""
                if result.startswith("-"):  # "-ERR NO_ANSWER\n", "-ERR USER_BUSY\n", ...
                    return self._missed(call, agent, result[4:].strip() or "UNKNOWN")
            elif msg.unique_id == leg and msg.name == "CHANNEL_PARK":
                if call.callback is not None:
                    return self._dial_customer(call, agent)
                return self._bridge(call, agent)
            elif msg.unique_id == leg and msg.name == "CHANNEL_HANGUP":
                return self._missed(call, agent, msg.get("Hangup-Cause") or "UNKNOWN")

    def _bridge(self, call: Call, agent: str) -> bool:
        assert call.leg is not None
        if call.side is not None:
            call.side.join(timeout=5.0)  # the music is queued before the bridge ends it
        # No uuid_break first: on real FreeSWITCH uuid_bridge stops the playback itself, and a
        # break sent just before it lands a frame later (after the bridge) in most calls.
        reply: ApiResponse = self._esl(call, call.conn.api, "uuid_bridge", call.uuid, call.leg)
        if not reply.ok:
            log.info("call %s: uuid_bridge failed: %s", call.uuid, reply.body.strip())
            self._kill_leg(call.conn, call.leg)
            exists: ApiResponse = self._esl(call, call.conn.api, "uuid_exists", call.uuid)
            if exists.body.strip() != "true":
                raise _CallerGone
            return self._missed(call, agent, "BRIDGE_FAILED", penalty=False)
        now = self.now()
        call.state, call.bridged_at = "talking", now
        self._on_call(agent, now)
        self.phones[agent].misses = 0
        self.stats.answered += 1
        self.stats.answer_waits.append(now - call.enqueued_at)
        self._emit("bridged", call=call, agent=agent, wait=now - call.enqueued_at)
        return True

    def _talk(self, call: Call) -> bool:
        """Until either side hangs up (FreeSWITCH then hangs up the other: one bridge ends both).
        True when the agent transferred the caller (`transfer`): the caller waits again."""
        transferred = False
        while True:
            msg = self._next(call, caller_gone_raises=False)
            if isinstance(msg, Event) and msg.name == "CHANNEL_HANGUP":
                if msg.unique_id in (call.uuid if call.callback is None else call.cust_leg, call.leg):
                    transferred = call.transfer is not None and msg.unique_id == call.leg
                    break
        now = self.now()
        agent = call.agent
        talk = now - (call.bridged_at or now)
        call.state = "done"
        if call.in_core:
            self.core.finish(call.uuid, now, talk)
        self.stats.finished += 1
        self._emit("finished", call=call, agent=agent, talk=talk)
        phone = self.phones.get(agent) if agent is not None else None
        if phone is not None and phone.max_calls > 1 and self.core.agent_info(phone.agent)["active"] > 0:
            self._on_call(phone.agent, now)  # still on another call
        elif agent is not None:
            self._agent_after(agent, "wrap_up", self.settings.wrap_up)
        return transferred

    def _requeue_transferred(self, call: Call) -> None:
        """The caller an agent transferred (now parked again) waits in the target queue, keeping
        the enqueue time, with the named agent (if any) preferred."""
        assert call.transfer is not None
        queue, to_agent = call.transfer
        self._forget_leg(call)
        call.agent, call.bridged_at, call.transfer, call.announce_at = None, None, None, None
        call.info = dataclasses.replace(
            call.info,
            queue=queue,
            preferred_agent=to_agent or call.info.preferred_agent,
            enqueued_at=call.enqueued_at,
            fallback_task=None,
        )
        call.visited.clear()
        call.trigger = time.perf_counter()
        self.stats.transferred += 1
        self._emit("requeued", call=call, queue=queue, agent=to_agent)
        self._enqueue(call)

    def transfer(self, agent: str, *, queue: str | None = None, to_agent: str | None = None) -> None:
        """Agent-initiated transfer of `agent`'s caller to `queue` (default: the same queue) and/or
        to the named agent `to_agent` of this centre (preferred in the queue), without dropping
        the caller: the caller is parked again (``uuid_transfer <uuid> park inline``, which ends
        the agent's leg), then waits with their original enqueue time. Raises ValueError."""
        call = next((c for c in self.calls.values() if c.agent == agent and c.state == "talking"), None)
        if call is None or not call.in_core:
            raise ValueError(f"agent {agent} has no call to transfer")
        if call.callback is not None:
            raise ValueError(f"agent {agent} is on a callback, which cannot be transferred")
        if queue is None and to_agent is None:
            raise ValueError("name a queue or an agent to transfer to")
        names = [q.name for q in self.config.queues]
        target = queue or call.info.queue
        if target not in names:
            raise ValueError(f"unknown queue {target!r}")
        if to_agent is not None:
            spec = next((a for a in self.config.agents if a.id == to_agent), None)
            if spec is None or spec.centre != self.config.centre or to_agent not in self.phones:
                raise ValueError(f"unknown agent {to_agent!r} in centre {self.config.centre}")
            if to_agent == agent:
                raise ValueError("an agent cannot transfer a call to themselves")
        call.transfer = (target, to_agent)
        try:
            call.conn.api("uuid_setvar", call.uuid, "esl_router_queue", target)
            call.conn.api("uuid_setvar", call.uuid, "esl_router_visited")
            if to_agent is not None:  # kept on the channel for a restarted router
                call.conn.api("uuid_setvar", call.uuid, "esl_router_preferred_agent", to_agent)
            reply: ApiResponse = call.conn.api("uuid_transfer", call.uuid, "park", "inline")
        except (ESLError, TimeoutError) as exc:
            call.transfer = None
            raise ValueError(f"transfer failed: {exc}") from exc
        if not reply.ok:
            call.transfer = None
            raise ValueError(f"transfer failed: {reply.body.strip()}")
        log.info("call %s: agent %s transfers it to %s%s", call.uuid, agent, target,
                 f" (agent {to_agent})" if to_agent else "")

    def _caller_gone(self, call: Call) -> None:
        now = self.now()
        agent, leg, ringing = call.agent, call.leg, call.state == "ringing"
        call.state = "done"
        if leg is not None:
            gevent.spawn(self._kill_leg, call.conn, leg)  # FreeSWITCH does not cancel our originate (d5)
        try:
            self.core.remove_call(call.uuid, now)
        except CoreError:
            pass
        wait = now - call.enqueued_at
        self.stats.abandoned += 1
        self.stats.abandon_waits.append(wait)
        self._emit("abandoned", call=call, wait=wait, ringing=ringing)
        log.info("call %s: caller hung up after %.1fs%s", call.uuid, wait, " while ringing" if ringing else "")
        if agent is not None:
            self._agent_ready(agent)

    def _missed(
        self, call: Call, agent: str, cause: str, *, penalty: bool = True, brk: str | None = None
    ) -> bool:
        """The agent did not take the call: back to the queue with its place; the agent pauses."""
        trigger = time.perf_counter()
        self._forget_leg(call)
        if call.callback is not None:
            self.hold_line(call, False)  # held for it since `_line_for_callback`
        now = self.now()
        self.core.requeue(call.uuid, now)
        call.agent, call.state = None, "waiting"
        self.stats.requeued += 1
        self.stats.misses[cause] += 1
        self._emit("missed", call=call, agent=agent, cause=cause)
        if brk is not None:
            self.agent_break(agent, brk)
        elif not penalty:
            self._agent_ready(agent)
        elif cause in UNREGISTERED:
            self.agent_break(agent, f"phone not registered ({cause})")
        else:
            phone = self.phones[agent]
            phone.misses += 1
            if phone.misses >= self.settings.max_misses:
                self.agent_break(agent, f"missed {phone.misses} calls in a row (last: {cause})")
            else:
                self._agent_after(agent, "wrap_up", self.settings.miss_delay)
        if not self.draining and call.agent is None:
            other = self.core.dispatch_call(call.uuid, self.now())
            if other is not None:
                call.agent, call.trigger = other, trigger
        self._kick.set()
        return False

    # --- waiting: the inbox and the socket ------------------------------------------------------

    def _next(
        self, call: Call, timeout: float | None = None, *, caller_gone_raises: bool = True
    ) -> Event | str | None:
        """The next inbox message (None on timeout). Handles what any step would: a stop, the
        caller hanging up (raises `_CallerGone` unless told not to)."""
        try:
            msg: Event | str = call.inbox.get(timeout=timeout)
        except gevent.queue.Empty:
            return None
        if (isinstance(msg, str) and msg == _STOP) or call.stale:
            raise _Stop
        if not isinstance(msg, Event):
            return msg
        if (
            msg.unique_id == call.uuid
            and msg.name == "CHANNEL_HANGUP"
            and caller_gone_raises
            and call.callback is None  # the caller we call back was hung up by us
        ):
            raise _CallerGone
        return msg

    def _esl(self, call: Call, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run an ESL command for a call; a lost connection ends the flow (the reset that follows
        the reconnection adopts the call again)."""
        kwargs.setdefault("timeout", self.command_timeout)
        try:
            result = method(*args, **kwargs)
        except TimeoutError as exc:
            if call.conn.connected:  # no reconnection will come to adopt it again
                log.warning("call %s: %s; taking the call afresh", call.uuid, exc)
                raise _Retake from None
            log.warning("call %s: %s; it will be adopted again on reconnection", call.uuid, exc)
            raise _Stop from None
        except (NotConnected, ConnectionLost) as exc:
            log.warning("call %s: %s; it will be adopted again on reconnection", call.uuid, exc)
            raise _Stop from None
        if call.stale:
            raise _Stop
        return result

    def _safe(self, fn: Callable[..., Any], *args: Any) -> None:
        try:
            fn(*args)
        except (ESLError, TimeoutError) as exc:
            log.warning("%s failed: %s", getattr(fn, "__name__", fn), exc)

    def _kill_leg(self, conn: ESLConnection, leg: str) -> None:
        try:
            conn.api("uuid_kill", leg)
        except (ESLError, TimeoutError) as exc:
            log.warning("could not hang up agent leg %s: %s", leg, exc)

    def _forget_leg(self, call: Call) -> None:
        for leg in (call.leg, call.cust_leg):
            if leg is not None:
                self.legs.pop(leg, None)
        for job in (call.job, call.cust_job):
            if job is not None:
                self.jobs.pop(job, None)
        call.leg = call.job = call.cust_leg = call.cust_job = None

    def hold_line(self, call: Call, hold: bool) -> None:
        """Count `call` as holding a line of its class, or not."""
        if call.line != hold:
            call.line = hold
            self.lines[call.info.cls] += 1 if hold else -1

    def _forget(self, call: Call) -> None:
        self.hold_line(call, False)
        self._forget_leg(call)
        if self.calls.get(call.uuid) is call:
            del self.calls[call.uuid]

    def _stop_flow(self, call: Call) -> None:
        call.stale = True
        call.inbox.put(_STOP)

    # --- agents ---------------------------------------------------------------------------------

    def _phone(self, agent: str, max_calls: int) -> _Phone:
        return _Phone(agent, self.settings.agent_endpoint, max_calls)

    def _assign(self, call_id: str, agent: str, trigger: float) -> None:
        """The core gave `agent` the waiting call `call_id`: wake its flow."""
        call = self.calls.get(call_id)
        if call is None:  # cannot happen: every call in the core has a flow
            log.error("the core assigned unknown call %s to %s; dropping it", call_id, agent)
            self.core.remove_call(call_id, self.now())
            return
        call.agent, call.trigger = agent, trigger
        call.inbox.put(_WAKE)

    def _cancel_timer(self, phone: _Phone) -> None:
        if phone.timer is not None:
            phone.timer.kill(block=False)
            phone.timer = None

    def _agent_ready(self, agent: str) -> None:
        """The agent is available: offer them the best waiting call at once."""
        trigger = time.perf_counter()
        phone = self.phones.get(agent)
        if phone is None:
            return
        self._cancel_timer(phone)
        now = self.now()
        if agent in self._retired:
            self._retire(agent)
            return
        self.core.set_agent_state(agent, "available", now)
        self._emit("agent", agent=agent, state="available", reason=None)
        if self.draining:
            return
        call_id = self.core.dispatch_agent(agent, self.now())
        if call_id is not None:
            self._assign(call_id, agent, trigger)

    def _agent_after(self, agent: str, state: str, seconds: float) -> None:
        """`state` (wrap-up, or the pause after a miss) for `seconds`, then available."""
        phone = self.phones[agent]
        self._cancel_timer(phone)
        self.core.set_agent_state(agent, state, self.now())
        self._emit("agent", agent=agent, state=state, reason=None)
        phone.timer = gevent.spawn_later(seconds, self._agent_ready, agent)

    def _on_call(self, agent: str, now: float) -> None:
        """The agent is in a conversation: ``on_call`` when that is all they take (`max_calls`),
        else still ``available`` for another call, offered one at once."""
        phone = self.phones.get(agent)
        if phone is not None and phone.max_calls > 1:  # only then is the core asked (hot path)
            active = self.core.agent_info(agent)["active"]
            if 0 < active < phone.max_calls:
                self._agent_ready(agent)
                return
        self.core.set_agent_state(agent, "on_call", now)

    def agent_ready(self, agent: str) -> None:
        """Make an agent available (back from break, logged in); refused while on a call."""
        state = self.core.agent_info(agent)["state"]
        if state in ("reserved", "ringing", "on_call"):
            raise ValueError(f"agent {agent} is {state}")
        self.phones[agent].misses = 0
        self._agent_ready(agent)

    def agent_break(self, agent: str, reason: str) -> None:
        """Put an agent on break with a reason (they are offered no calls until ready again)."""
        phone = self.phones[agent]
        self._cancel_timer(phone)
        self.core.set_agent_state(agent, "break", self.now(), reason)
        log.info("agent %s on break: %s", agent, reason)
        self._emit("agent", agent=agent, state="break", reason=reason)

    def agent_logout(self, agent: str) -> None:
        """Log an agent out (refused while on a call)."""
        info = self.core.agent_info(agent)
        state = info["state"]
        if state in ("reserved", "ringing", "on_call") or info["active"] > 0:
            raise ValueError(f"agent {agent} is {state} with {info['active']} call(s)")
        self._cancel_timer(self.phones[agent])
        self.core.set_agent_state(agent, "logged_out", self.now())
        self._emit("agent", agent=agent, state="logged_out", reason=None)

    def _retire(self, agent: str) -> None:
        self._retired.discard(agent)
        self.phones.pop(agent, None)
        try:
            self.core.remove_agent(agent)
        except CoreError as exc:
            log.warning("could not remove agent %s: %s", agent, exc)

    # --- time-driven relaxation -----------------------------------------------------------------

    def _relaxation_loop(self) -> None:
        """Run `match_all` whenever a waiting call reaches its next relaxation step."""
        while True:
            self._kick.clear()
            due = self.core.next_relaxation()
            delay = None if due is None else max(0.0, due - self.now()) + 0.001
            self._kick.wait(delay)
            if due is None or self.draining or self.now() < due:
                continue
            trigger = time.perf_counter()
            try:
                for call_id, agent in self.core.match_all(self.now()):
                    self._assign(call_id, agent, trigger)
            except Exception:  # the loop must outlive any one failure, or relaxation stops
                log.exception("relaxation step failed")

    # --- reconnection and config reload (see router.routing.adopt) ------------------------------

    def _on_connect(self, conn: ESLConnection) -> None:
        from router.routing.adopt import reconcile

        reconcile(self, conn)

    def reload(self, config: Config, directory: Directory | None = None) -> None:
        """Apply a new config to the running router (SIGHUP); raises ConfigError/CoreError and
        changes nothing if the new config cannot be applied."""
        from router.routing.adopt import apply_config

        apply_config(self, config, directory)
