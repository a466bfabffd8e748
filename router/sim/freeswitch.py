"""A FreeSWITCH simulator that speaks the Event Socket the way FreeSWITCH 1.10.12 does.

It listens on loopback like ``mod_event_socket`` (inbound mode), keeps channels with their
variables, and emits the same events, with the same headers in the same order, as the captures in
``../shared/esl-captures`` show for: a call that the dialplan parks (``set``..., ``answer``,
``park``), ``sendmsg`` executions (Event-UUID echoed as Application-UUID), ``uuid_broadcast``,
``play_and_get_digits`` with DTMF, ``originate`` to agents (answer, no answer, busy, rejected,
unregistered, unreachable), ``uuid_bridge``, the hangups of bridged and parked calls, ``park_timeout``.
The SIP/RTP variables that sofia adds at each step come from `router.sim.fs_profiles`, generated
from the captures.

Tests drive it with a scripted API: `FreeSwitchSim.inbound_call` (a caller the simulated dialplan
parks), `FreeSwitchSim.add_endpoint` (an agent phone that answers after a delay, rings out, is
busy, rejects, is unregistered or unreachable), `FreeSwitchSim.send_dtmf`, `FreeSwitchSim.caller_hangup`.
``time_scale`` shrinks every simulated delay (ring timeouts, playback lengths, park_timeout) so
that tests run fast.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import time
import uuid as uuid_mod
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

import gevent  # type: ignore[import-untyped]
import gevent.event  # type: ignore[import-untyped]
import gevent.lock  # type: ignore[import-untyped]
import gevent.queue  # type: ignore[import-untyped]
import gevent.server  # type: ignore[import-untyped]
import greenlet  # type: ignore[import-untyped]

from router.esl import protocol
from router.sim.fs_profiles import PROFILES

__all__ = ["Channel", "Endpoint", "FreeSwitchSim"]

log = logging.getLogger("router.sim")

Header = tuple[str, str]

_VAR_EVENTS = frozenset(
    {
        "CHANNEL_CREATE", "CHANNEL_PROGRESS", "CHANNEL_ANSWER", "CHANNEL_EXECUTE",
        "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_PARK", "CHANNEL_UNPARK", "CHANNEL_BRIDGE",
        "CHANNEL_UNBRIDGE", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY",
        "PLAYBACK_START", "PLAYBACK_STOP",
    }
)
_ALL_EVENTS = _VAR_EVENTS | {
    "DTMF", "BACKGROUND_JOB", "HEARTBEAT", "CUSTOM", "API", "CHANNEL_STATE", "CHANNEL_CALLSTATE",
    "CHANNEL_OUTGOING", "CHANNEL_ORIGINATE", "CODEC", "RECV_INFO", "COMMAND", "PRIVATE_COMMAND",
    "CALL_UPDATE", "RE_SCHEDULE", "PRESENCE_IN", "MESSAGE_WAITING",
}
_CALLING = {
    "CHANNEL_CREATE": ("switch_core_state_machine.c", "switch_core_session_run", "626"),
    "CHANNEL_PROGRESS": ("switch_channel.c", "switch_channel_perform_mark_ring_ready_value", "1140"),
    "CHANNEL_ANSWER": ("switch_channel.c", "switch_channel_perform_mark_answered", "3990"),
    "CHANNEL_EXECUTE": ("switch_core_session.c", "switch_core_session_exec", "2976"),
    "CHANNEL_EXECUTE_COMPLETE": ("switch_core_session.c", "switch_core_session_exec", "3026"),
    "CHANNEL_PARK": ("switch_ivr.c", "switch_ivr_park", "1014"),
    "CHANNEL_UNPARK": ("switch_ivr.c", "switch_ivr_park", "1230"),
    "CHANNEL_BRIDGE": ("switch_ivr_bridge.c", "audio_bridge_on_exchange_media", "1042"),
    "CHANNEL_UNBRIDGE": ("switch_ivr_bridge.c", "audio_bridge_on_exchange_media", "1115"),
    "CHANNEL_HANGUP": ("switch_channel.c", "switch_channel_perform_hangup", "3268"),
    "CHANNEL_HANGUP_COMPLETE": ("switch_core_state_machine.c", "switch_core_session_reporting_state", "943"),
    "CHANNEL_DESTROY": ("switch_core_session.c", "switch_core_session_perform_destroy", "1761"),
    "PLAYBACK_START": ("switch_ivr_play_say.c", "switch_ivr_play_file", "1573"),
    "PLAYBACK_STOP": ("switch_ivr_play_say.c", "switch_ivr_play_file", "2055"),
    "DTMF": ("switch_channel.c", "switch_channel_dequeue_dtmf", "692"),
    "BACKGROUND_JOB": ("mod_event_socket.c", "api_exec", "1572"),
    "HEARTBEAT": ("switch_core.c", "send_heartbeat", "83"),
}
_Q850 = {
    "NORMAL_CLEARING": "16", "USER_BUSY": "17", "NO_ANSWER": "19", "CALL_REJECTED": "21",
    "NORMAL_TEMPORARY_FAILURE": "41", "ORIGINATOR_CANCEL": "487", "ALLOTTED_TIMEOUT": "602",
    "USER_NOT_REGISTERED": "606", "SUBSCRIBER_ABSENT": "20", "RECOVERY_ON_TIMER_EXPIRE": "102",
}
_SIP_STATUS = {"USER_BUSY": ("486", "Busy Here", "17"), "CALL_REJECTED": ("603", "Decline", "21"),
               "NORMAL_TEMPORARY_FAILURE": ("503", "Service Unavailable", "41")}
_PROFILE_ORDER = {
    f"Caller-{k}": i
    for i, k in enumerate(
        "Direction Logical-Direction Username Dialplan Caller-ID-Name Caller-ID-Number "
        "Orig-Caller-ID-Name Orig-Caller-ID-Number Callee-ID-Name Callee-ID-Number Network-Addr "
        "ANI ANI-II Destination-Number Unique-ID Source Transfer-Source Context RDNIS Channel-Name "
        "Profile-Index".split()
    )
}
"""The caller-profile headers in FreeSWITCH's order (the times and flags come after them)."""
_FRAME = 0.02
"""One media frame: how long a channel takes to notice a uuid_break."""
_DISCONNECT = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"


@dataclass
class Endpoint:
    """A simulated phone that `originate` can ring.

    `behaviour`: ``answer`` (after `answer_delay` s), ``no_answer`` (rings until the originate
    timeout), ``busy`` (486), ``reject`` (603), ``unreachable`` (503, nothing listening),
    ``unregistered`` (a directory user that is not registered: no channel at all).
    """

    behaviour: str = "answer"
    answer_delay: float = 0.0
    ring_delay: float = 0.0


@dataclass
class Channel:
    """One call leg: its state, caller profile and variables (ordered; setting moves to the end)."""

    uuid: str
    direction: str
    name: str
    profile: list[Header]
    variables: dict[str, str | list[str]] = field(default_factory=dict)
    state: str = "CS_INIT"
    state_number: str = "2"
    call_state: str = "DOWN"
    answer_state: str = "ringing"
    codecs: bool = True
    dest: str = ""
    created: float = 0.0
    application: str = ""
    application_data: str = ""
    parked: bool = False
    park_app_uuid: str = ""
    bridged_to: str | None = None
    bridge_a: bool = False  # the first leg of uuid_bridge (the one CHANNEL_BRIDGE names)
    other_leg: list[Header] | None = None  # the other leg's caller profile, as of the bridge
    playback: gevent.Greenlet | None = None
    timers: list[gevent.Greenlet] = field(default_factory=list)
    last_response: str = "_none_"
    gone: bool = False
    answered: bool = False
    hangup_cause: str | None = None
    ack_pending: bool = False
    wake: gevent.event.Event = field(default_factory=gevent.event.Event)

    def set_var(self, name: str, value: str | list[str]) -> None:
        """Set a variable the way FreeSWITCH does: a re-set moves it to the end."""
        self.variables.pop(name, None)
        self.variables[name] = value

    def get_var(self, name: str) -> str | None:
        """A variable as a string (arrays as ``ARRAY::a|:b``)."""
        value = self.variables.get(name)
        if isinstance(value, list):
            return "ARRAY::" + "|:".join(value)
        return value

    def profile_value(self, name: str) -> str:
        return next((v for k, v in self.profile if k == name), "")

    def set_profile(self, name: str, value: str) -> None:
        """Set a caller-profile header; a new one goes where FreeSWITCH lays it out
        (switch_caller_profile_event_set_data), not at the end."""
        for i, (k, _) in enumerate(self.profile):
            if k == name:
                self.profile[i] = (k, value)
                return
        rank = _PROFILE_ORDER.get(name)
        if rank is not None:
            for i, (k, _) in enumerate(self.profile):
                if _PROFILE_ORDER.get(k, len(_PROFILE_ORDER)) > rank:
                    self.profile.insert(i, (name, value))
                    return
        self.profile.append((name, value))


class _Listener:
    """One ESL client connection: its auth state, subscriptions, filters and writer queue."""

    def __init__(self, sim: FreeSwitchSim, sock: object) -> None:
        self.sim = sim
        self.sock = sock
        self.authed = False
        self.format: str | None = None
        self.events: set[str] = set()
        self.subclasses: set[str] = set()
        self.all_events = False
        self.filters: list[tuple[str, str]] = []
        self.out: gevent.queue.Queue = gevent.queue.Queue()
        self.closed = False

    def send(self, data: bytes) -> None:
        if not self.closed:
            self.out.put(data)

    def wants(self, name: str, subclass: str | None, headers: list[Header]) -> bool:
        if self.format is None:
            return False
        if not (self.all_events or name in self.events or (name == "CUSTOM" and subclass in self.subclasses)):
            return False
        if not self.filters:
            return True
        values: dict[str, str] = {}
        for k, v in headers:
            values.setdefault(k, v)
        positive = [(h, v) for h, v in self.filters if not v.startswith("-")]
        negative = [(h, v[1:]) for h, v in self.filters if v.startswith("-")]
        # d1: filters are OR-ed; with only negative filters nothing is delivered
        if not any(_filter_match(values.get(h), v) for h, v in positive):
            return False
        return not any(_filter_match(values.get(h), v) for h, v in negative)


def _filter_match(actual: str | None, wanted: str) -> bool:
    if actual is None:
        return False
    if len(wanted) > 1 and wanted.startswith("/") and wanted.endswith("/"):
        return re.search(wanted[1:-1], actual) is not None
    return actual == wanted


class FreeSwitchSim:
    """The simulated switch: an Event Socket server plus channels. See the module docstring."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        password: str = "ClueCon",
        time_scale: float = 1.0,
        show_channels_lag: float = 0.0,
        local_streams: Collection[str] = (),
        files: Collection[str] = (),
    ) -> None:
        self.password = password
        self.time_scale = time_scale
        self.show_channels_lag = show_channels_lag
        self.local_streams = frozenset(local_streams)
        """Names of the ``local_stream://NAME`` sources defined (mod_local_stream); any other
        stream gives ``FILE NOT FOUND``, as the lab's FreeSWITCH without the module did (d6)."""
        self.files = frozenset(files)
        """Paths for which ``file_exists`` says ``true``. Real FreeSWITCH tests the path as given
        (an absolute path, or one relative to its working directory): a sound path relative to
        ``sounds_dir`` that ``playback`` would find, e.g. ``ivr/ivr-welcome.wav``, is ``false``."""
        self.scheduled: dict[int, gevent.Greenlet] = {}
        self._sched_ids = 0
        self.core_uuid = str(uuid_mod.uuid4())
        self.channels: dict[str, Channel] = {}
        self._exec_locks: dict[str, gevent.lock.Semaphore] = {}
        self._flushes: dict[str, int] = {}
        self.endpoints: dict[str, Endpoint] = {}
        self._next_endpoints: dict[str, list[Endpoint]] = {}
        self.listeners: list[_Listener] = []
        self.sequence = 1000
        self.sessions = 0
        self.started = time.time()
        self._server = gevent.server.StreamServer((host, port), self._handle)
        self.host = host
        self.port = 0

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Listen (on a free port when `port` was 0; see `port`)."""
        self._server.start()
        self.port = self._server.server_port
        log.info("FreeSWITCH simulator listening on %s:%d", self.host, self.port)

    def stop(self) -> None:
        """Close every connection and stop listening."""
        for lst in list(self.listeners):
            lst.closed = True
            try:
                lst.sock.close()  # type: ignore[attr-defined]
            except OSError:
                pass
        for ch in self.channels.values():
            for t in ch.timers:
                t.kill(block=False)
        self._server.stop(timeout=1)

    def __enter__(self) -> FreeSwitchSim:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _sleep(self, seconds: float) -> None:
        gevent.sleep(max(0.0, seconds * self.time_scale))

    # --- scripted API --------------------------------------------------------------------------

    def add_endpoint(self, dial: str, *endpoints: Endpoint) -> None:
        """Make `dial` (e.g. ``sofia/internal/agent@127.0.0.1:5091`` or ``user/1001``) ringable.

        With several endpoints, successive originates meet them in turn (the last one stays)."""
        self.endpoints[dial] = endpoints[0]
        self._next_endpoints[dial] = list(endpoints[1:])

    def inbound_call(
        self,
        cid_num: str = "5551000",
        cid_name: str = "sipp caller",
        dest: str = "9010",
        variables: dict[str, str] | None = None,
        *,
        uuid: str | None = None,
        answer: bool = True,
        ack_before_park: bool = True,
        apps: Sequence[tuple[str, str]] = (),
    ) -> str:
        """A SIP caller reaches the dialplan, which runs ``set`` for each of `variables`, then
        each of `apps` (``(name, arg)``, e.g. ``("sched_transfer", "+20 voicemail XML default")``,
        ``("set", "fallback=${last_sched_id}")``), ``answer`` and ``park``; returns the channel
        uuid. ``park_timeout`` is honoured.

        The caller's SIP ACK (``sip_to_tag``, ``sip_cseq``) races the dialplan in FreeSWITCH: in
        the d-captures it landed by CHANNEL_PARK, in a1 only at the next application;
        `ack_before_park` picks which."""
        ch = self._new_inbound(uuid or str(uuid_mod.uuid4()), cid_num, cid_name, dest)
        ch.ack_pending = not ack_before_park
        self.emit("CHANNEL_CREATE", ch)
        ch.state, ch.state_number = "CS_EXECUTE", "4"
        ch.call_state = "RINGING"
        for name, value in (variables or {}).items():
            self._run_app(ch, "set", f"{name}={value}", str(uuid_mod.uuid4()))
        for app, arg in apps:
            self._run_app(ch, app, arg, str(uuid_mod.uuid4()))
            if app in ("playback", "play_and_get_digits") and ch.playback is not None:
                ch.playback.join()  # the dialplan goes on when the application is done
        if answer:
            self._run_app(ch, "answer", None, str(uuid_mod.uuid4()))
        self._park(ch, str(uuid_mod.uuid4()))
        return ch.uuid

    def send_dtmf(self, channel: str, digits: str, duration: int = 1280) -> None:
        """The caller presses keys (SIP INFO): one DTMF event per digit."""
        ch = self.channels[channel]
        for digit in digits:
            self.emit(
                "DTMF", ch,
                tail=[("DTMF-Digit", digit), ("DTMF-Duration", str(duration)), ("DTMF-Source", "ENDPOINT")],
            )
            collector = getattr(ch, "_digits", None)
            if collector is not None:
                collector.put(digit)

    def caller_hangup(self, channel: str, cause: str = "NORMAL_CLEARING") -> None:
        """The far end sends BYE."""
        ch = self.channels.get(channel)
        if ch is not None:
            self._hangup(ch, cause, disposition="recv_bye")

    # --- channels ------------------------------------------------------------------------------

    def _now_us(self) -> str:
        return str(int(time.time() * 1_000_000))

    def _new_inbound(self, uuid: str, cid_num: str, cid_name: str, dest: str) -> Channel:
        name = f"sofia/internal/{cid_num}@127.0.0.1:5070"
        now = self._now_us()
        subst = {
            "Channel-Name": name, "Unique-ID": uuid, "Channel-Call-UUID": uuid,
            "Caller-Username": cid_num, "Caller-Caller-ID-Name": cid_name,
            "Caller-Caller-ID-Number": cid_num, "Caller-Orig-Caller-ID-Name": cid_name,
            "Caller-Orig-Caller-ID-Number": cid_num, "Caller-ANI": cid_num,
            "Caller-Destination-Number": dest, "Caller-Unique-ID": uuid, "Caller-Channel-Name": name,
            "Caller-Profile-Created-Time": now, "Caller-Channel-Created-Time": now,
        }
        basic = [(k, subst.get(k, v)) for k, v in PROFILES["in.create.basic"]]
        profile = [(k, v) for k, v in basic if k.startswith("Caller-")]
        ch = Channel(uuid, "inbound", name, profile, dest=dest, created=time.time())
        self.sessions += 1
        var_subst = {
            "variable_uuid": uuid, "variable_call_uuid": uuid, "variable_channel_name": name,
            "variable_sip_from_user": cid_num, "variable_sip_from_user_stripped": cid_num,
            "variable_sip_from_display": cid_name, "variable_sip_contact_user": cid_num,
            "variable_sip_req_user": dest, "variable_sip_to_user": dest,
            "variable_session_id": str(self.sessions), "variable_sip_call_id": f"{uuid}@127.0.0.1",
            "variable_sip_from_uri": f"{cid_num}@127.0.0.1:5070",
            "variable_sip_req_uri": f"{dest}@127.0.0.1:5060", "variable_sip_to_uri": f"{dest}@127.0.0.1:5060",
            "variable_sip_full_to": f"<sip:{dest}@127.0.0.1:5060>",
            "variable_sip_full_from": f'"{cid_name}" <sip:{cid_num}@127.0.0.1:5070>;tag={uuid[:8]}',
        }
        for k, v in PROFILES["in.create"]:
            ch.set_var(k[len("variable_") :], var_subst.get(k, v))
        self.channels[uuid] = ch
        return ch

    def _new_outbound(self, uuid: str, dial: str, vars_: dict[str, str]) -> Channel:
        name = dial if dial.startswith("sofia/") else f"sofia/internal/{dial.split('/', 1)[1]}"
        user = name.rsplit("/", 1)[-1].split("@")[0]
        cid_num = vars_.get("origination_caller_id_number", "0000000000")
        cid_name = vars_.get("origination_caller_id_name")
        now = self._now_us()
        subst = {
            "Channel-Name": name, "Unique-ID": uuid, "Channel-Call-UUID": uuid,
            "Caller-Caller-ID-Number": cid_num, "Caller-Orig-Caller-ID-Number": cid_num,
            "Caller-Callee-ID-Number": user, "Caller-ANI": cid_num, "Caller-Destination-Number": user,
            "Caller-Unique-ID": uuid, "Caller-Channel-Name": name,
            "Caller-Profile-Created-Time": now, "Caller-Channel-Created-Time": now,
        }
        profile: list[Header] = []
        for k, v in PROFILES["out.create.basic"]:
            if not k.startswith("Caller-"):
                continue
            if cid_name is not None and k == "Caller-Caller-ID-Number":
                profile.append(("Caller-Caller-ID-Name", cid_name))
            if cid_name is not None and k == "Caller-Orig-Caller-ID-Number":
                profile.append(("Caller-Orig-Caller-ID-Name", cid_name))
            profile.append((k, subst.get(k, v)))
        ch = Channel(uuid, "outbound", name, profile, codecs=False, dest=user, created=time.time())
        self.sessions += 1
        var_subst = {
            "variable_uuid": uuid, "variable_call_uuid": uuid, "variable_channel_name": name,
            "variable_session_id": str(self.sessions), "variable_sip_destination_url": f"sip:{user}@127.0.0.1",
            "variable_sip_req_uri": name.rsplit("/", 1)[-1],
        }
        for k, v in PROFILES["out.create"]:
            if k == "variable_origination_uuid":
                break
            ch.set_var(k[len("variable_") :], var_subst.get(k, v))
        for k2, v2 in vars_.items():
            ch.set_var(k2, v2)
        tail = [kv for kv in PROFILES["out.create"] if kv[0] == "variable_originate_early_media"]
        start = PROFILES["out.create"].index(tail[0])
        for k, v in PROFILES["out.create"][start:]:
            ch.set_var(k[len("variable_") :], var_subst.get(k, v))
        self.channels[uuid] = ch
        return ch

    def _add_stack(self, ch: Channel, profile: str, skip: tuple[str, ...] = ()) -> None:
        for k, v in PROFILES[profile]:
            name = k[len("variable_") :]
            if name not in skip:
                ch.set_var(name, v)

    # --- events --------------------------------------------------------------------------------

    def emit(
        self,
        name: str,
        ch: Channel | None = None,
        *,
        lead: list[Header] | None = None,
        tail: list[Header] | None = None,
        body: str | None = None,
        subclass: str | None = None,
        only: _Listener | None = None,
    ) -> None:
        """Build one event (FreeSWITCH's header layout) and send it to every interested listener."""
        self.sequence += 1
        now = time.time()
        fn = _CALLING.get(name, ("switch_event.c", "switch_event_fire_detailed", "0"))
        headers: list[Header] = [
            ("Event-Name", name), ("Core-UUID", self.core_uuid), ("FreeSWITCH-Hostname", "sim"),
            ("FreeSWITCH-Switchname", "sim"), ("FreeSWITCH-IPv4", "127.0.0.1"), ("FreeSWITCH-IPv6", "::1"),
            ("Event-Date-Local", time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))),
            ("Event-Date-GMT", time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now))),
            ("Event-Date-Timestamp", str(int(now * 1_000_000))), ("Event-Calling-File", fn[0]),
            ("Event-Calling-Function", fn[1]), ("Event-Calling-Line-Number", fn[2]),
            ("Event-Sequence", str(self.sequence)),
        ]
        if subclass:
            headers.insert(1, ("Event-Subclass", subclass))
        if name == "CHANNEL_HANGUP_COMPLETE" and ch is not None and ch.hangup_cause is not None:
            # fired with the cause first, then the channel data repeats it after Answer-State:
            # the header comes twice, in plain and in JSON alike (every capture)
            headers.append(("Hangup-Cause", ch.hangup_cause))
        headers += lead or []
        if ch is not None:
            headers += [
                ("Channel-State", ch.state), ("Channel-Call-State", ch.call_state),
                ("Channel-State-Number", ch.state_number), ("Channel-Name", ch.name),
                ("Unique-ID", ch.uuid), ("Call-Direction", ch.direction),
                ("Presence-Call-Direction", ch.direction),
                ("Channel-HIT-Dialplan", "true" if ch.direction == "inbound" else "false"),
                ("Channel-Call-UUID", ch.uuid), ("Answer-State", ch.answer_state),
            ]
            if ch.hangup_cause is not None:  # right after Answer-State, as FreeSWITCH sends it
                headers.append(("Hangup-Cause", ch.hangup_cause))
            if ch.codecs:
                headers += [
                    ("Channel-Read-Codec-Name", "PCMU"), ("Channel-Read-Codec-Rate", "8000"),
                    ("Channel-Read-Codec-Bit-Rate", "64000"), ("Channel-Write-Codec-Name", "PCMU"),
                    ("Channel-Write-Codec-Rate", "8000"), ("Channel-Write-Codec-Bit-Rate", "64000"),
                ]
            headers += ch.profile
            if ch.other_leg is not None:
                headers.append(("Other-Type", "originatee" if ch.direction == "inbound" else "originator"))
                headers += [
                    ("Other-Leg-" + k[len("Caller-") :], v)
                    for k, v in ch.other_leg
                    if k not in ("Caller-Profile-Index", "Caller-Transfer-Source")
                ]
            if name in _VAR_EVENTS:
                headers += [(f"variable_{k}", v) for k, v in ch.variables.items()]  # type: ignore[misc]
        headers += tail or []
        self._deliver(name, subclass, headers, body, only)

    def _deliver(
        self, name: str, subclass: str | None, headers: list[Header], body: str | None, only: _Listener | None
    ) -> None:
        plain = json_ = None
        for lst in [only] if only is not None else list(self.listeners):
            if lst.closed or not lst.wants(name, subclass, headers):
                continue
            if lst.format == "json":
                json_ = json_ or protocol.serialize_event_json(headers, body)
                lst.send(json_)
            else:
                plain = plain or protocol.serialize_event_plain(headers, body)
                lst.send(plain)

    # --- applications --------------------------------------------------------------------------

    def _app_headers(self, app: str, arg: str | None, app_uuid: str, response: str | None = None) -> list[Header]:
        out: list[Header] = [("Application", app)]
        if arg is not None:
            out.append(("Application-Data", arg))
        if response is not None:
            out.append(("Application-Response", response))
        out.append(("Application-UUID", app_uuid))
        return out

    def _exec_start(self, ch: Channel, app: str, arg: str | None, app_uuid: str) -> None:
        ch.set_var("current_application", app)
        if arg is not None:
            ch.set_var("current_application_data", arg)
        else:
            ch.variables.pop("current_application_data", None)
        ch.application, ch.application_data = app, arg or ""
        self.emit("CHANNEL_EXECUTE", ch, tail=self._app_headers(app, arg, app_uuid))

    def _exec_complete(self, ch: Channel, app: str, arg: str | None, app_uuid: str, response: str = "_none_") -> None:
        ch.last_response = response
        self.emit("CHANNEL_EXECUTE_COMPLETE", ch, tail=self._app_headers(app, arg, app_uuid, response))

    def _run_app(self, ch: Channel, app: str, arg: str | None, app_uuid: str) -> None:
        """Run one dialplan/sendmsg application to completion (in the caller's greenlet)."""
        if ch.gone:
            return
        if app == "park":
            self._park(ch, app_uuid)
            return
        if app in ("playback", "play_and_get_digits"):
            ch.playback = gevent.spawn(self._play, ch, app, arg or "", app_uuid)
            return
        self._exec_start(ch, app, arg, app_uuid)
        if app == "set" and arg and "=" in arg:
            name, _, value = arg.partition("=")
            ch.set_var(name, self._expand(ch, value))
        elif app == "unset" and arg:
            ch.variables.pop(arg, None)
        elif app == "sched_transfer" and arg:
            self._sched_transfer(ch, arg)
        elif app == "answer":
            self._answer(ch)
        elif app == "hangup":
            self._exec_complete(ch, app, arg, app_uuid)
            self._hangup(ch, arg or "NORMAL_CLEARING")
            return
        self._exec_complete(ch, app, arg, app_uuid)

    def _expand(self, ch: Channel, value: str) -> str:
        """``${name}`` channel-variable expansion, as the dialplan does when an app runs."""
        return re.sub(r"\$\{([A-Za-z0-9_]+)\}", lambda m: ch.get_var(m.group(1)) or "", value)

    def _sched_transfer(self, ch: Channel, arg: str) -> None:
        # mod_dptools: "+secs ext [dialplan] [context]"; the task id goes into last_sched_id,
        # and `sched_del <id>` (or the channel uuid, the task's group) cancels it.
        when, _, rest = arg.partition(" ")
        dest = rest.split(" ")[0]
        try:
            delay = float(when.lstrip("+"))
        except ValueError:
            return
        self._sched_ids += 1
        task = self._sched_ids
        ch.set_var("last_sched_id", str(task))

        def fire() -> None:
            self._sleep(delay)
            self.scheduled.pop(task, None)
            if not ch.gone:
                self._transfer(ch, dest)

        greenlet = gevent.spawn(fire)
        greenlet.sched_group = ch.uuid
        self.scheduled[task] = greenlet
        ch.timers.append(greenlet)

    def _answer(self, ch: Channel) -> None:
        if ch.answer_state == "answered":
            return
        ch.answer_state = "answered"
        ch.answered = True
        ch.set_profile("Caller-Channel-Answered-Time", self._now_us())
        if ch.direction == "inbound":
            self._add_stack(ch, "in.answer")
            ch.set_var("remote_media_ip", ch.variables.pop("remote_media_ip", "127.0.0.1"))
            ch.set_var("remote_media_port", ch.variables.pop("remote_media_port", "6000"))
        else:
            ch.codecs = True
            self._add_stack(ch, "out.answer")
        self.emit("CHANNEL_ANSWER", ch)
        ch.call_state = "ACTIVE"
        ch.set_var("endpoint_disposition", ch.variables.pop("endpoint_disposition", "ANSWER"))

    def _park(self, ch: Channel, app_uuid: str) -> None:
        if ch.direction == "outbound":
            self._add_stack(ch, "out.park.execute", skip=("current_application",))
        self._exec_start(ch, "park", None, app_uuid)
        ch.park_app_uuid = app_uuid
        ch.parked = True
        if ch.direction == "inbound" and not ch.ack_pending and "sip_to_tag" not in ch.variables:
            self._add_stack(ch, "in.park")
        timeout = ch.variables.pop("park_timeout", None)
        self.emit("CHANNEL_PARK", ch)
        if ch.direction == "inbound" and ch.ack_pending:
            ch.ack_pending = False
            self._add_stack(ch, "in.park")
        if isinstance(timeout, str) and timeout:
            secs, _, cause = timeout.partition(":")
            try:
                delay = float(secs)
            except ValueError:
                return
            # park_timeout has whole-second resolution and fires up to a second early (d10c)
            ch.timers.append(gevent.spawn(self._park_timeout, ch, max(0.0, delay - 0.8), cause or "NORMAL_CLEARING"))

    def _park_timeout(self, ch: Channel, delay: float, cause: str) -> None:
        self._sleep(delay)
        if ch.parked and not ch.gone:
            self._hangup(ch, cause)

    def _unpark(self, ch: Channel, response: str | None = None) -> None:
        if not ch.parked:
            return
        ch.parked = False
        self.emit("CHANNEL_UNPARK", ch)
        self._exec_complete(ch, "park", None, ch.park_app_uuid, response or ch.last_response)

    def _play(self, ch: Channel, app: str, arg: str, app_uuid: str) -> None:
        loops = re.search(r"loops=(-?\d+)", arg)
        ch.variables.pop("current_application_response", None)
        if app == "playback":
            ch.set_var("current_loop", "1")
            ch.set_var("total_loops", loops.group(1) if loops else "1")
        self._exec_start(ch, app, arg, app_uuid)
        path = arg.split(" ")[5] if app == "play_and_get_digits" and len(arg.split(" ")) > 5 else arg
        if path.startswith("local_stream://") and path[len("local_stream://") :] not in self.local_streams:
            self._exec_complete(ch, app, arg, app_uuid, "FILE NOT FOUND")
            return
        kind = path.split("://", 1)[0] if "://" in path else "file"
        self.emit("PLAYBACK_START", ch, tail=[("Playback-File-Type", kind), ("Playback-File-Path", path)])
        status, response = "done", "FILE PLAYED"
        try:
            forever = (loops is not None and loops.group(1) == "-1") or path.startswith("local_stream://")
            self._sleep(3600 if forever else 0.3)
        except _Break:
            status = "break"
        except _Gone as exc:  # hung up, or bridged away (uuid_bridge) while playing
            status, response = "done", "PLAYBACK ERROR"
            bridged = isinstance(exc, _Bridged)
        else:
            bridged = False
        ch.set_var("playback_last_offset_pos", "0")
        ch.set_var("playback_seconds", "0")
        ch.set_var("playback_ms", "300")
        ch.set_var("playback_samples", "2400")
        self.emit(
            "PLAYBACK_STOP", ch,
            tail=[("Playback-File-Type", kind), ("Playback-File-Path", path), ("Playback-Status", status)],
        )
        if app == "play_and_get_digits" and status != "break" and not ch.gone and not bridged:
            response = self._collect_digits(ch, arg)
        ch.set_var("current_application_response", response)
        self._exec_complete(ch, app, arg, app_uuid, response)
        ch.variables.pop("current_loop", None)
        ch.variables.pop("total_loops", None)
        if ch.playback is gevent.getcurrent():
            ch.playback = None

    def _collect_digits(self, ch: Channel, arg: str) -> str:
        parts = arg.split(" ")
        try:
            max_digits, timeout_ms, terminators = int(parts[1]), int(parts[3]), parts[4]
            var, regex = parts[7], parts[8]
        except (IndexError, ValueError):
            return "_none_"
        q: gevent.queue.Queue = gevent.queue.Queue()
        ch._digits = q  # type: ignore[attr-defined]
        got = ""
        try:
            while len(got) < max_digits:
                try:
                    d = q.get(timeout=timeout_ms / 1000 * self.time_scale)
                except gevent.queue.Empty:
                    break
                if d in terminators:
                    break
                got += d
        finally:
            del ch._digits  # type: ignore[attr-defined]
        ok = bool(got) and re.fullmatch(regex, got) is not None
        ch.set_var(var, got if ok else "")
        ch.set_var("read_result", "success" if ok else "failure")
        return "_none_"

    def _hangup(self, ch: Channel, cause: str, disposition: str = "send_bye") -> None:
        if ch.gone:
            return
        peer = self.channels.get(ch.bridged_to) if ch.bridged_to else None
        if peer is not None and not peer.gone:
            if ch.bridge_a:
                self._hangup_bridged(ch, peer, cause)
            else:
                self._hangup_b_leg(ch, peer, cause, disposition)
            return
        self._mark_hangup(ch, cause)
        self._finish(ch, cause, disposition)

    def _mark_hangup(self, ch: Channel, cause: str) -> None:
        ch.gone = True
        ch.wake.set()
        for t in ch.timers:
            t.kill(block=False)
        ch.answer_state = "hangup"
        ch.set_profile("Caller-Channel-Hangup-Time", self._now_us())
        if ch.bridged_to is not None:
            self._add_stack(ch, "bridge.hangup.a" if ch.direction == "inbound" else "bridge.hangup.b")
        ch.hangup_cause = cause
        self.emit("CHANNEL_HANGUP", ch)
        ch.call_state = "HANGUP"
        if ch.playback is not None:
            self._stop_playback(ch, _Gone(), block=True)

    def _hangup_bridged(self, a: Channel, b: Channel, cause: str) -> None:
        # The order real FreeSWITCH gave for uuid_kill of a bridged leg (a1, d7, d12): a HANGUP,
        # b HANGUP, b HANGUP_COMPLETE, a UNBRIDGE, b DESTROY, a HANGUP_COMPLETE, a DESTROY.
        self._mark_hangup(a, cause)
        self._mark_hangup(b, cause)
        self._finish(b, cause, "recv_bye", destroy=False)
        self._add_stack(a, "bridge.unbridge.a")
        a.variables.pop("bridge_to", None)
        self.emit("CHANNEL_UNBRIDGE", a, lead=[("Bridge-A-Unique-ID", a.uuid), ("Bridge-B-Unique-ID", b.uuid)])
        b.set_var("bridge_hangup_cause", cause)
        self.emit("CHANNEL_DESTROY", b)
        self._finish(a, cause, "send_bye")

    def _hangup_b_leg(self, b: Channel, a: Channel, cause: str, disposition: str) -> None:
        # The bridge's other leg (the agent, for the router's uuid_bridge <caller> <agent>) hangs
        # up first. Real FreeSWITCH: b HANGUP, b HANGUP_COMPLETE, a UNBRIDGE, b DESTROY; then
        # the caller goes back to its dialplan after park: with nothing left it is hung up
        # (NORMAL_CLEARING, whatever b's cause), or parks again with park_after_bridge=true.
        self._mark_hangup(b, cause)
        self._finish(b, cause, disposition, destroy=False)
        self._add_stack(a, "bridge.unbridge.a")
        a.variables.pop("bridge_to", None)
        a.set_var("bridge_hangup_cause", cause)
        a.set_var("last_bridge_hangup_cause", cause)
        self.emit("CHANNEL_UNBRIDGE", a, lead=[("Bridge-A-Unique-ID", a.uuid), ("Bridge-B-Unique-ID", b.uuid)])
        self.emit("CHANNEL_DESTROY", b)
        a.bridged_to = b.bridged_to = None
        a.bridge_a = False  # other_leg stays: the caller's later events still carry Other-Leg-*
        if a.get_var("park_after_bridge") == "true":
            a.state, a.state_number = "CS_EXECUTE", "4"
            a.parked = True
            self.emit("CHANNEL_PARK", a)
        else:
            a.state, a.state_number = "CS_EXECUTE", "4"
            self._hangup(a, "NORMAL_CLEARING")

    def _finish(self, ch: Channel, cause: str, disposition: str, *, destroy: bool = True) -> None:
        if ch.parked:
            self._unpark(ch)
        ch.state, ch.state_number = "CS_REPORTING", "11"
        if ch.bridged_to is not None:
            key = "bridge.hangup_complete.a" if ch.direction == "inbound" else "bridge.hangup_complete.b"
        elif ch.direction == "inbound":
            key = "in.hangup_complete"
        elif "sip_term_status" in ch.variables:
            key = "out.refuse.hangup_complete"
        elif not ch.answered:
            key = "out.noanswer.hangup_complete"
        else:
            key = "in.hangup_complete"
        for k, v in PROFILES[key]:
            ch.set_var(k[len("variable_") :], v)
        ch.set_var("hangup_cause", cause)
        ch.set_var("hangup_cause_q850", _Q850.get(cause, "16"))
        if "sip_hangup_disposition" in ch.variables:
            ch.set_var("sip_hangup_disposition", disposition)
        self.emit("CHANNEL_HANGUP_COMPLETE", ch)
        self.channels.pop(ch.uuid, None)
        if not destroy:
            return
        if ch.direction == "outbound" and not ch.answered:
            # d3/d5: a failed leg's BACKGROUND_JOB comes before its DESTROY
            gevent.spawn(self.emit, "CHANNEL_DESTROY", ch)
        else:
            self.emit("CHANNEL_DESTROY", ch)

    # --- the Event Socket ----------------------------------------------------------------------

    def _handle(self, sock: object, _addr: object) -> None:
        # mod_event_socket sets TCP_NODELAY on every inbound listener's socket
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # type: ignore[attr-defined]
        lst = _Listener(self, sock)
        self.listeners.append(lst)
        writer = gevent.spawn(self._writer, lst)
        lst.send(protocol.serialize_auth_request())
        buf = bytearray()
        try:
            while not lst.closed:
                data = sock.recv(65536)  # type: ignore[attr-defined]
                if not data:
                    break
                buf += data
                while (end := buf.find(b"\n\n")) >= 0:
                    raw = bytes(buf[:end]).decode("utf-8", "replace")
                    del buf[: end + 2]
                    self._command(lst, raw)
        except OSError:
            pass
        finally:
            lst.closed = True
            if lst in self.listeners:
                self.listeners.remove(lst)
            gevent.sleep(0)
            writer.kill(block=False)

    def _writer(self, lst: _Listener) -> None:
        while True:
            data = lst.out.get()
            if data is None:
                try:
                    lst.sock.close()  # type: ignore[attr-defined]
                except OSError:
                    pass
                lst.closed = True
                return
            try:
                lst.sock.sendall(data)  # type: ignore[attr-defined]
            except OSError:
                lst.closed = True
                return

    def _disconnect(self, lst: _Listener) -> None:
        lst.send(protocol.serialize_disconnect_notice(_DISCONNECT))
        lst.out.put(None)

    def _reply(self, lst: _Listener, text: str, extra: list[Header] | None = None) -> None:
        lst.send(protocol.serialize_command_reply(text, extra or []))

    def _command(self, lst: _Listener, raw: str) -> None:
        line, *header_lines = raw.lstrip("\n").split("\n")
        headers = dict(h.split(": ", 1) for h in header_lines if ": " in h)
        verb, _, rest = line.partition(" ")
        if not lst.authed:
            if verb == "auth":
                if rest == self.password:
                    lst.authed = True
                    self._reply(lst, "+OK accepted")
                else:
                    self._reply(lst, "-ERR invalid")
                    self._disconnect(lst)
            elif verb == "exit":
                self._reply(lst, "+OK bye")
                self._disconnect(lst)
            else:
                self._reply(lst, "-ERR command not found")
            return
        if verb == "api":
            lst.send(protocol.serialize_api_response(self.api(rest)))
        elif verb == "bgapi":
            job = headers.get("Job-UUID") or str(uuid_mod.uuid4())
            self._reply(lst, f"+OK Job-UUID: {job}", [("Job-UUID", job)])
            gevent.spawn(self._bgapi, rest, job)
        elif verb == "event":
            self._event_cmd(lst, rest)
        elif verb in ("nixevent", "noevents"):
            lst.events.clear()
            lst.all_events = False
            self._reply(lst, "+OK events nixed" if verb == "nixevent" else "+OK no longer listening for events")
        elif verb == "filter" and rest:
            self._filter_cmd(lst, rest)
        elif verb == "sendmsg":
            self._sendmsg(lst, rest.strip(), headers)
        elif verb == "exit":
            self._reply(lst, "+OK bye")
            self._disconnect(lst)
        elif verb == "linger":
            self._reply(lst, "-ERR not controlling a session")
        else:
            self._reply(lst, "-ERR command not found")

    def _event_cmd(self, lst: _Listener, rest: str) -> None:
        fmt, _, names = rest.partition(" ")
        if fmt not in ("plain", "json", "xml"):
            fmt, names = "plain", rest if fmt in _ALL_EVENTS or fmt == "ALL" else names
        words = names.split()
        known = False
        custom = False
        for word in words:
            if custom:
                lst.subclasses.add(word)
                known = True
            elif word == "ALL":
                lst.all_events = known = True
            elif word == "CUSTOM":
                custom = True
                lst.events.add(word)
            elif word in _ALL_EVENTS:
                lst.events.add(word)
                known = True
        if not known:
            self._reply(lst, "-ERR no keywords supplied")
            return
        lst.format = fmt
        self._reply(lst, f"+OK event listener enabled {fmt}")

    def _filter_cmd(self, lst: _Listener, rest: str) -> None:
        words = rest.split(" ", 2)
        if words[0] == "delete":
            header = words[1] if len(words) > 1 else ""
            value = words[2] if len(words) > 2 else ""
            if header == "all":
                lst.filters.clear()
            else:
                lst.filters = [
                    (h, v) for h, v in lst.filters if not (h == header and (not value or v == value))
                ]
            self._reply(lst, f"+OK filter deleted. [{header}][{value}]")
            return
        if words[0] == "add":
            words = words[1:]
        if len(words) < 2 or not words[1]:
            self._reply(lst, "-ERR invalid syntax")
            return
        header, value = words[0], " ".join(words[1:])
        lst.filters.append((header, value))
        self._reply(lst, f"+OK filter added. [{header}]=[{value}]")

    def _sendmsg(self, lst: _Listener, target: str, headers: dict[str, str]) -> None:
        ch = self.channels.get(target)
        if ch is None or ch.gone:
            self._reply(lst, f"-ERR invalid session id [{target}]")
            return
        self._reply(lst, "+OK")
        command = headers.get("call-command", "")
        if command == "execute":
            app = headers.get("execute-app-name", "")
            arg = headers.get("execute-app-arg")
            app_uuid = headers.get("Event-UUID") or str(uuid_mod.uuid4())
            if headers.get("event-lock") == "true":
                gevent.spawn(self._sendmsg_locked, ch, app, arg, app_uuid, self._flushes.get(ch.uuid, 0))
            else:
                gevent.spawn(self._sendmsg_execute, ch, app, arg, app_uuid)
        elif command == "hangup":
            gevent.spawn(self._hangup, ch, headers.get("hangup-cause", "NORMAL_CLEARING"))

    def _sendmsg_locked(self, ch: Channel, app: str, arg: str | None, app_uuid: str, flushes: int) -> None:
        """``event-lock: true``: the channel runs the application to its end before the next
        locked one (a playback then a hangup is heard whole, as in FreeSWITCH). ``uuid_break
        <uuid> all`` flushes those still queued; a bridged channel runs none."""
        lock = self._exec_locks.setdefault(ch.uuid, gevent.lock.Semaphore())
        with lock:
            if self._flushes.get(ch.uuid, 0) != flushes or ch.bridged_to is not None:
                return
            self._sendmsg_execute(ch, app, arg, app_uuid)
            if app in ("playback", "play_and_get_digits") and ch.playback is not None:
                ch.playback.join()
        if ch.gone:
            self._exec_locks.pop(ch.uuid, None)
            self._flushes.pop(ch.uuid, None)

    def _sendmsg_execute(self, ch: Channel, app: str, arg: str | None, app_uuid: str) -> None:
        if app == "park":
            if not ch.parked:
                self._park(ch, app_uuid)
            return
        self._run_app(ch, app, arg, app_uuid)

    def _bgapi(self, command: str, job: str) -> None:
        body = self.api(command, background=True)
        name, _, arg = command.partition(" ")
        self.emit(
            "BACKGROUND_JOB",
            tail=[("Job-UUID", job), ("Job-Command", name), ("Job-Command-Arg", arg)] if arg
            else [("Job-UUID", job), ("Job-Command", name)],
            body=body,
        )

    # --- api -----------------------------------------------------------------------------------

    def api(self, command: str, background: bool = False) -> str:
        """Run one api command and return its output exactly as FreeSWITCH words it."""
        name, _, arg = command.strip().partition(" ")
        args = arg.split()
        handler: Callable[[list[str], str], str] | None = getattr(self, f"_api_{name}", None)
        if handler is None or not re.fullmatch(r"[a-z_]+", name):
            return f"-ERR {name} Command not found!\n"
        if name == "originate":
            return self._api_originate(args, arg, background=background)
        return handler(args, arg)

    def _api_status(self, args: list[str], arg: str) -> str:
        up = int(time.time() - self.started)
        return (
            f"UP 0 years, 0 days, 0 hours, {up // 60} minutes, {up % 60} seconds, 0 milliseconds, "
            "0 microseconds\nFreeSWITCH (Version 1.10.12-release  64bit) is ready\n"
            f"{self.sessions} session(s) since startup\n{len(self.channels)} session(s) - peak 1, "
            "last 5min 1 \n0 session(s) per Sec out of max 1000, peak 1, last 5min 1 \n"
            "4000 session(s) max\nmin idle cpu 0.00/99.00\nCurrent Stack Size/Max 240K/8192K\n"
        )

    def _api_callcenter_config(self, args: list[str], arg: str) -> str:
        # only what c3 shows: there are no queues or agents in the simulator
        if args[:2] == ["agent", "get"]:
            return "-ERR Agent not found!\n"
        return "+OK\n"

    def _row(self, ch: Channel) -> dict[str, str]:
        return {
            "uuid": ch.uuid, "direction": ch.direction,
            "created": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ch.created)),
            "created_epoch": str(int(ch.created)), "name": ch.name, "state": ch.state,
            "cid_name": ch.profile_value("Caller-Caller-ID-Name"),
            "cid_num": ch.profile_value("Caller-Caller-ID-Number"), "ip_addr": "127.0.0.1",
            "dest": ch.dest, "application": ch.application, "application_data": ch.application_data,
            "dialplan": "XML", "context": "default", "read_codec": "PCMU", "read_rate": "8000",
            "read_bit_rate": "64000", "write_codec": "PCMU", "write_rate": "8000",
            "write_bit_rate": "64000", "secure": "", "hostname": "sim", "presence_id": "",
            "presence_data": "", "accountcode": "", "callstate": ch.call_state, "callee_name": "",
            "callee_num": "", "callee_direction": "", "call_uuid": ch.uuid, "sent_callee_name": "",
            "sent_callee_num": "", "initial_cid_name": ch.profile_value("Caller-Caller-ID-Name"),
            "initial_cid_num": ch.profile_value("Caller-Caller-ID-Number"),
            "initial_ip_addr": "127.0.0.1", "initial_dest": ch.dest, "initial_dialplan": "XML",
            "initial_context": "default",
        }

    def _api_show(self, args: list[str], arg: str) -> str:
        if not args or args[0] not in ("channels", "calls"):
            return "-USAGE: show ...\n"
        now = time.time()
        chans = [
            c for c in self.channels.values() if not c.gone and now - c.created >= self.show_channels_lag
        ]
        if "like" in args:
            needle = args[args.index("like") + 1] if len(args) > args.index("like") + 1 else ""
            chans = [c for c in chans if needle in f"{c.uuid} {c.name} {c.profile_value('Caller-Caller-ID-Name')} {c.profile_value('Caller-Caller-ID-Number')}"]
        rows = [self._row(c) for c in chans]
        if args[0] == "calls":
            calls = []
            for c in chans:
                peer = self.channels.get(c.bridged_to) if c.bridged_to else None
                if peer is not None and (c.direction == "inbound" or c.uuid < peer.uuid and peer.direction != "inbound"):
                    row = self._row(c) | {f"b_{k}": v for k, v in self._row(peer).items()}
                    row["call_created_epoch"] = str(int(c.created))
                    calls.append(row)
            rows = calls
        if args[-2:] == ["as", "json"]:
            if not rows:
                return '{"row_count": 0}\n'
            return json.dumps({"row_count": len(rows), "rows": rows}, separators=(",", ":"))
        if not rows:
            return "\n0 total.\n"
        keys = list(rows[0])
        lines = [",".join(keys)] + [",".join(r[k] for k in keys) for r in rows]
        return "\n".join(lines) + f"\n\n{len(rows)} total.\n"

    def _chan(self, args: list[str]) -> Channel | None:
        ch = self.channels.get(args[0]) if args else None
        return None if ch is None or ch.gone else ch

    def _api_uuid_exists(self, args: list[str], arg: str) -> str:
        return "true" if self._chan(args) else "false"

    def _api_uuid_getvar(self, args: list[str], arg: str) -> str:
        ch = self._chan(args)
        if ch is None:
            return "-ERR No such channel!\n"
        if len(args) < 2:
            return "-USAGE: <uuid> <var>\n"
        value = ch.get_var(args[1])
        return "_undef_" if value is None else value

    def _api_uuid_setvar(self, args: list[str], arg: str) -> str:
        ch = self._chan(args)
        if ch is None:
            return "-ERR No such channel!\n"
        if len(args) < 2:
            return "-USAGE: <uuid> <var> [value]\n"
        value = arg.split(" ", 2)[2] if len(args) > 2 else None
        if value is None:
            ch.variables.pop(args[1], None)
        else:
            ch.set_var(args[1], value)
        return "+OK\n"

    def _api_uuid_dump(self, args: list[str], arg: str) -> str:
        ch = self._chan(args)
        if ch is None:
            return "-ERR No such channel!\n"
        data: dict[str, str | list[str]] = {"Event-Name": "CHANNEL_DATA", "Unique-ID": ch.uuid}
        data.update({k: v for k, v in ch.profile})
        data.update({f"variable_{k}": v for k, v in ch.variables.items()})
        if args[1:2] == ["json"]:
            return json.dumps(data, separators=(",", ":"))
        return "".join(f"{k}: {protocol.url_encode(str(v))}\n" for k, v in data.items())

    def _api_uuid_kill(self, args: list[str], arg: str) -> str:
        ch = self._chan(args)
        if ch is None:
            return "-ERR No such channel!\n"
        gevent.spawn(self._hangup, ch, args[1] if len(args) > 1 else "NORMAL_CLEARING")
        return "+OK\n"

    def _api_uuid_break(self, args: list[str], arg: str) -> str:
        ch = self._chan(args)
        if ch is None:
            return "-ERR No such channel!\n"
        if len(args) > 1 and args[1] == "all":
            self._flushes[ch.uuid] = self._flushes.get(ch.uuid, 0) + 1
        playback = ch.playback
        if playback is not None and not greenlet.greenlet.__bool__(playback):
            self._stop_playback(ch, _Break(), block=False)  # queued, not begun: flushed now
        elif playback is not None:
            # The channel sees the break at its next media frame (20 ms): a uuid_bridge sent
            # right after it usually wins, and the playback ends as bridged (done, PLAYBACK
            # ERROR), as on real FreeSWITCH (93 of 100 calls of the router's break + bridge).
            gevent.spawn(self._break_later, ch, playback)
        return "+OK\n"

    def _break_later(self, ch: Channel, playback: gevent.Greenlet) -> None:
        gevent.sleep(_FRAME)
        if ch.playback is playback and not ch.gone:
            self._stop_playback(ch, _Break(), block=False)

    def _stop_playback(self, ch: Channel, exc: Exception, *, block: bool) -> None:
        playback, ch.playback = ch.playback, None
        assert playback is not None
        if not greenlet.greenlet.__bool__(playback):
            # queued but not begun: `uuid_break all` flushes it, a hangup drops it; no events
            playback.kill(block=False)
        else:
            playback.kill(exc, block=block)

    def _api_uuid_broadcast(self, args: list[str], arg: str) -> str:
        ch = self._chan(args)
        if ch is None or len(args) < 2:
            return "-ERR Invalid uuid\n" if len(args) >= 2 else "-USAGE: <uuid> <path> [aleg|bleg|both]\n"
        gevent.spawn(self._run_app, ch, "playback", args[1], str(uuid_mod.uuid4()))
        return "+OK Message sent\n"

    def _api_uuid_transfer(self, args: list[str], arg: str) -> str:
        ch = self._chan(args)
        if ch is None or len(args) < 2:
            return "-ERR No such channel!\n" if args else "-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n"
        gevent.spawn(self._transfer, ch, args[1])
        return "+OK\n"

    def _transfer(self, ch: Channel, dest: str) -> None:
        peer = self.channels.get(ch.bridged_to) if ch.bridged_to else None
        if ch.parked:
            self._unpark(ch)
        if peer is not None:
            ch.bridged_to = peer.bridged_to = None
            self.emit("CHANNEL_UNBRIDGE", peer)
            if peer.get_var("park_after_bridge") == "true":
                peer.parked = True
                self.emit("CHANNEL_PARK", peer)
            else:
                self._hangup(peer, "NORMAL_CLEARING")
        ch.dest = dest
        ch.set_profile("Caller-Destination-Number", dest)
        history = ch.variables.get("transfer_history")
        entry = f"{int(time.time())}:{uuid_mod.uuid4()}:bl_xfer:{dest}/default/XML"
        ch.set_var("transfer_history", entry if history is None else [*([history] if isinstance(history, str) else history), entry])
        self._run_app(ch, "answer", None, str(uuid_mod.uuid4()))
        self._park(ch, str(uuid_mod.uuid4()))

    def _api_local_stream(self, args: list[str], arg: str) -> str:
        # mod_local_stream; without any stream defined the module counts as not loaded, as in
        # the lab of the captures (d6)
        if not self.local_streams:
            return "-ERR local_stream Command not found!\n"
        if args[:1] != ["show"]:
            return "-USAGE: <show|start|reload|stop|hup> <local_stream_name>\n"
        if len(args) == 1:
            return "".join(f"{name},/usr/share/freeswitch/sounds/music\n" for name in sorted(self.local_streams))
        if args[1] not in self.local_streams:
            return f"-ERR Cannot locate local_stream {args[1]}!\n"
        return (
            f"{args[1]}\n  location: /usr/share/freeswitch/sounds/music\n  channels: 1\n"
            "  rate:     8000\n  interval: 20\n  samples:  160\n  prebuf:   65536\n"
            "  timer:    soft\n  total:    0\n  shuffle:  true\n  ready:    true\n"
            "  stopped:  false\n  reloading: false\n"
        )

    def _api_file_exists(self, args: list[str], arg: str) -> str:
        # mod_commands: "true" / "false" with no newline; the argument is taken whole
        return "true" if arg.strip() and arg.strip() in self.files else "false"

    def _api_sched_del(self, args: list[str], arg: str) -> str:
        # mod_commands: a number is a task id, anything else a task group (a channel's uuid)
        if not args:
            return "-ERR Invalid syntax\n"
        if args[0].isdigit():
            tasks = [int(args[0])] if int(args[0]) in self.scheduled else []
        else:
            tasks = [t for t, g in self.scheduled.items() if getattr(g, "sched_group", None) == args[0]]
        for task in tasks:
            self.scheduled.pop(task).kill(block=False)
        return f"+OK Deleted: {len(tasks)}\n"

    def _api_uuid_bridge(self, args: list[str], arg: str) -> str:
        if len(args) < 2:
            return "-USAGE: <uuid> <other_uuid>\n"
        a, b = self.channels.get(args[0]), self.channels.get(args[1])
        if a is None or b is None or a.gone or b.gone:
            return "-ERR Invalid uuid\n"
        gevent.spawn(self._bridge, a, b)
        return f"+OK {b.uuid}\n"

    def _bridge(self, a: Channel, b: Channel) -> None:
        a.other_leg, b.other_leg = list(b.profile), list(a.profile)
        for ch, other, key in ((a, b, "bridge.unpark.a"), (b, a, "bridge.unpark.b")):
            if ch.direction == "inbound":
                ch.set_profile("Caller-Callee-ID-Name", other.profile_value("Caller-Caller-ID-Name") or "Outbound Call")
                ch.set_profile("Caller-Callee-ID-Number", other.profile_value("Caller-Caller-ID-Number"))
            ch.set_profile("Caller-Transfer-Source", f"{int(time.time())}:{uuid_mod.uuid4()}:uuid_br:{other.uuid}")
            for k, v in PROFILES[key]:
                ch.set_var(k[len("variable_") :], v)
            ch.set_var("bridge_uuid", other.uuid)
            ch.set_var("bridge_channel", other.name)
            ch.set_var("signal_bond", other.uuid)
            history = ch.variables.get("transfer_history")
            entry = f"{int(time.time())}:{uuid_mod.uuid4()}:uuid_br:{other.uuid}"
            ch.set_var("transfer_history", entry if history is None else [*([history] if isinstance(history, str) else history), entry])
            if ch.playback is not None:
                # a playback still running (music not broken yet) ends as the bridge takes the
                # channel: PLAYBACK_STOP done, EXECUTE_COMPLETE "PLAYBACK ERROR", before UNPARK
                self._stop_playback(ch, _Bridged(), block=True)
            self._unpark(ch)
        for ch in (a, b):
            ch.variables.pop("uuid_bridge", None)
            ch.state, ch.state_number = "CS_SOFT_EXECUTE", "5"
            ch.application, ch.application_data = "uuid_bridge", (b if ch is a else a).uuid
            self.emit("CHANNEL_EXECUTE", ch, tail=[("Application", "uuid_bridge"), ("Application-Data", ch.application_data)])
        a.bridged_to, b.bridged_to = b.uuid, a.uuid
        a.bridge_a, b.bridge_a = True, False
        self.emit("CHANNEL_BRIDGE", a, lead=[("Bridge-A-Unique-ID", a.uuid), ("Bridge-B-Unique-ID", b.uuid)])

    def _api_originate(self, args: list[str], arg: str, *, background: bool = False) -> str:
        if len(args) < 2:
            return "-USAGE: <call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] [<cid_name>] [<cid_num>] [<timeout_sec>]\n"
        url = args[0]
        vars_: dict[str, str] = {}
        m = re.fullmatch(r"\{([^}]*)\}(.*)", url)
        if m:
            for part in m.group(1).split(","):
                k, _, v = part.partition("=")
                vars_[k] = v
            url = m.group(2)
        endpoint = self.endpoints.get(url)
        if self._next_endpoints.get(url):
            self.endpoints[url] = self._next_endpoints[url].pop(0)
        if url.startswith("user/") and (endpoint is None or endpoint.behaviour == "unregistered"):
            return "-ERR SUBSCRIBER_ABSENT\n" if endpoint is None and "@" in url else "-ERR USER_NOT_REGISTERED\n"
        if endpoint is None:
            endpoint = Endpoint("unreachable")
        uuid = vars_.get("origination_uuid") or str(uuid_mod.uuid4())
        if uuid in self.channels:
            return "-ERR Duplicate UUID\n"
        ch = self._new_outbound(uuid, url, vars_)
        timeout = float(vars_.get("originate_timeout") or vars_.get("leg_timeout") or 60)
        if not background:
            # d3: a synchronous originate's reply came before the leg's events
            result = gevent.event.AsyncResult()
            gevent.spawn(self._originate, ch, endpoint, timeout, result, args[1])
            return str(result.get())
        return self._originate(ch, endpoint, timeout, None, args[1])

    def _originate(self, ch: Channel, ep: Endpoint, timeout: float, early: object, app: str) -> str:
        refused = {"busy": "USER_BUSY", "reject": "CALL_REJECTED", "unreachable": "NORMAL_TEMPORARY_FAILURE"}
        if early is not None and ep.behaviour in refused:
            early.set(f"-ERR {refused[ep.behaviour]}\n")  # type: ignore[attr-defined]
            gevent.sleep(0)  # let the api reply go out first, as it did in d3
        result = self._ring(ch, ep, timeout, app)
        if early is not None and not early.ready():  # type: ignore[attr-defined]
            early.set(result)  # type: ignore[attr-defined]
        return result

    def _ring(self, ch: Channel, ep: Endpoint, timeout: float, app: str) -> str:
        self.emit("CHANNEL_CREATE", ch)
        ch.state, ch.state_number = "CS_CONSUME_MEDIA", "7"
        ch.wake.wait(ep.ring_delay * self.time_scale)
        if ep.behaviour in ("busy", "reject", "unreachable"):
            cause = {"busy": "USER_BUSY", "reject": "CALL_REJECTED"}.get(ep.behaviour, "NORMAL_TEMPORARY_FAILURE")
            ch.set_profile("Caller-Network-Addr", "127.0.0.1")
            self._add_stack(ch, "out.refuse.hangup")
            status, phrase, term = _SIP_STATUS[cause]
            ch.set_var("sip_invite_failure_status", status)
            ch.set_var("sip_invite_failure_phrase", phrase)
            ch.set_var("sip_term_status", status)
            ch.set_var("proto_specific_hangup_cause", f"sip:{status}")
            ch.set_var("sip_term_cause", term)
            self._hangup(ch, cause, disposition="recv_refuse")
            return f"-ERR {cause}\n"
        ch.set_profile("Caller-Network-Addr", "127.0.0.1")
        self._add_stack(ch, "out.progress")
        if "origination_caller_id_name" in ch.variables:
            ch.set_var("sip_from_display", ch.variables["origination_caller_id_name"])
        self.emit("CHANNEL_PROGRESS", ch)
        wait = timeout if ep.behaviour == "no_answer" else min(timeout, ep.answer_delay)
        ch.wake.wait(wait * self.time_scale)
        if ch.gone:  # killed while ringing (d5): the job reports the kill's cause
            return f"-ERR {ch.get_var('hangup_cause') or 'NORMAL_CLEARING'}\n"
        ch.call_state = "RINGING"
        if ep.behaviour == "no_answer" or ep.answer_delay >= timeout:
            self._mark_hangup(ch, "NO_ANSWER")
            # d2: BACKGROUND_JOB comes between the leg's HANGUP and its HANGUP_COMPLETE
            gevent.spawn(self._finish, ch, "NO_ANSWER", "send_cancel")
            return "-ERR NO_ANSWER\n"
        self._answer(ch)
        gevent.spawn(self._after_answer, ch, app)
        return f"+OK {ch.uuid}\n"

    def _after_answer(self, ch: Channel, app: str) -> None:
        ch.state, ch.state_number = "CS_EXECUTE", "4"
        if app.startswith("&park"):
            self._park(ch, str(uuid_mod.uuid4()))
        elif app.startswith("&"):
            name, _, rest = app[1:].partition("(")
            self._run_app(ch, name, rest.rstrip(")") or None, str(uuid_mod.uuid4()))


class _Break(Exception):
    """uuid_break: stop the current playback."""


class _Gone(Exception):
    """The channel hung up during a playback."""


class _Bridged(_Gone):
    """uuid_bridge took the channel during a playback (ends it as a hangup would)."""

