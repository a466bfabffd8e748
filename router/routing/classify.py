"""Classification: which queue, caller class and home centre a parked call gets, and why.

The inputs are the channel's headers as FreeSWITCH reports them (a CHANNEL_PARK event, or a
``uuid_dump`` when a call is re-adopted): the caller ID, the variables the dialplan set
(``esl_router_queue``, ``esl_router_digits`` from an IVR) and the router's own variables
(``esl_router_enqueued_at``). All of them come from outside (the caller controls the caller ID and
the digits), so each is checked against a strict pattern before it is used, and what fails is
treated as absent and reported in `Classification.notes`. Nothing here ever reaches an ESL
command except through `router.esl.protocol`'s builders.

Rules, in order:

* queue: ``esl_router_queue`` if it names a configured queue; else (``auto``, or an unknown name)
  the IVR digits mapped by ``[calls] ivr``; else ``[calls] default_queue`` (the first queue);
* caller: the customer directory by caller number: class, home centre, own agent. An unknown or
  unusable number is class ``other`` (the lowest class if the config has no ``other``) at the
  router's own centre;
* trusted SIP headers: a call whose INVITE came from a ``[[calls.trusted_trunks]]`` address may
  carry the customer's number (looked up instead of the caller ID), class and home centre in SIP
  headers (``variable_sip_h_<name>``); each must be valid (a configured class or centre, a phone
  number). From any other address these headers are ignored and noted: a caller can put anything
  in an INVITE;
* preferred skills: the home centre's dialects (so that a caller is answered in their dialect
  when such an agent is free).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from router.config import Config
from router.esl.protocol import EventValue
from router.routing.directory import Customer, Directory, normalise_number

__all__ = ["Classification", "classify", "dialect_preferences", "header", "unknown_class"]

_QUEUE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_DIGITS = re.compile(r"[0-9*#]{1,16}")
_SCHED_ID = re.compile(r"[0-9]{1,10}")


@dataclass(frozen=True)
class Classification:
    """What the router decided about a call, with the reasons (for logs and the agent's screen)."""

    queue: str
    cls: str
    home: str
    caller: str | None
    """The caller's number, normalised (digits only), or None when it was missing or unusable."""
    customer: Customer | None = None
    preferred: tuple[tuple[str, float], ...] = ()
    preferred_agent: str | None = None
    enqueued_at: float | None = None
    """From ``esl_router_enqueued_at``: the call was queued before (restart, transfer back)."""
    fallback_task: str | None = None
    """From ``esl_router_fallback``: the dialplan's scheduled voicemail fallback, to cancel."""
    visited: tuple[str, ...] = ()
    """From ``esl_router_visited``: queues the call already overflowed out of (restart)."""
    notes: tuple[str, ...] = field(default_factory=tuple)


def header(headers: Mapping[str, EventValue], name: str) -> str:
    """One header as a string ("" when absent; a list value counts as absent)."""
    value = headers.get(name)
    return value if isinstance(value, str) else ""


def unknown_class(config: Config) -> str:
    """The class of unknown callers: ``other`` if configured, else the lowest base priority."""
    names = [c.name for c in config.classes]
    if "other" in names:
        return "other"
    return min(config.classes, key=lambda c: (c.base, c.name)).name


def dialect_preferences(config: Config, home: str) -> tuple[tuple[str, float], ...]:
    """The preferred skills of a caller from `home`: its centre's dialects."""
    dialects = next((c.dialects for c in config.centres if c.name == home), ())
    return tuple((d, 1.0) for d in dialects)


def classify(headers: Mapping[str, EventValue], config: Config, directory: Directory) -> Classification:
    """Classify one call from its channel headers; see the module docstring for the rules."""
    notes: list[str] = []
    queues = [q.name for q in config.queues]
    queue = _queue(headers, config, queues, notes)

    trusted = _trusted(headers, config, notes)
    raw_number = header(headers, "Caller-Caller-ID-Number")
    if trusted.get("number"):
        raw_number = trusted["number"]
    number = normalise_number(raw_number)
    if number is None and raw_number:
        notes.append(f"caller ID {_show(raw_number)} is not a phone number: treated as unknown")
    customer = directory.lookup(number) if number is not None else None
    if customer is not None:
        cls, home, agent = customer.cls, customer.home, customer.agent
        notes.append(f"customer {number}: {cls}, home centre {home}")
    else:
        cls, home, agent = unknown_class(config), config.centre, None
        if number is not None:
            notes.append(f"caller {number} is not in the customer directory: {cls}")
    names = {"class": [c.name for c in config.classes], "home centre": [c.name for c in config.centres]}
    for what, key in (("class", "class"), ("home centre", "home")):
        value = trusted.get(key)
        if value and value in names[what]:
            cls, home = (value, home) if key == "class" else (cls, value)
            notes.append(f"{what} {value} from a trusted trunk")
        elif value:
            notes.append(f"ignored {what} {_show(value)} from a trusted trunk: not a configured {what}")

    enqueued_at = None
    raw_at = header(headers, "variable_esl_router_enqueued_at")
    if raw_at:
        try:
            enqueued_at = float(raw_at)
        except ValueError:
            enqueued_at = None
        if enqueued_at is None or not math.isfinite(enqueued_at) or enqueued_at < 0:
            notes.append(f"ignored esl_router_enqueued_at {_show(raw_at)}")
            enqueued_at = None

    wanted_agent = header(headers, "variable_esl_router_preferred_agent")
    if wanted_agent and any(a.id == wanted_agent for a in config.agents):
        agent = wanted_agent  # an agent-initiated transfer to a named agent, before a restart
    elif wanted_agent:
        notes.append(f"ignored esl_router_preferred_agent {_show(wanted_agent)}: no such agent")
    raw_visited = header(headers, "variable_esl_router_visited")
    visited = tuple(q for q in raw_visited.split("+") if q in queues) if raw_visited else ()

    fallback = header(headers, "variable_esl_router_fallback") or None
    if fallback is not None and not _SCHED_ID.fullmatch(fallback):
        notes.append(f"ignored esl_router_fallback {_show(fallback)} (not a task id)")
        fallback = None

    return Classification(
        queue=queue,
        cls=cls,
        home=home,
        caller=number,
        customer=customer,
        preferred=dialect_preferences(config, home),
        preferred_agent=agent,
        enqueued_at=enqueued_at,
        fallback_task=fallback,
        visited=visited,
        notes=tuple(notes),
    )


def _trusted(headers: Mapping[str, EventValue], config: Config, notes: list[str]) -> dict[str, str]:
    """The classification headers of the trusted trunk the call came from ({} if none)."""
    trunks = config.calls.trusted_trunks
    if not trunks:
        return {}
    source = header(headers, "variable_sip_network_ip")
    trunk = next((t for t in trunks if t.admits(source)), None)
    fields = {"class": "class_header", "home": "home_header", "number": "number_header"}
    if trunk is None:
        named = {getattr(t, f) for t in trunks for f in fields.values()} - {None}
        sent = sorted(n for n in named if header(headers, f"variable_sip_h_{n}"))
        if sent:
            notes.append(f"ignored {', '.join(sent)} from {_show(source) if source else 'an unknown source'}: not a trusted trunk")
        return {}
    found = {}
    for name, attr in fields.items():
        sip_header = getattr(trunk, attr)
        value = header(headers, f"variable_sip_h_{sip_header}") if sip_header else ""
        if value:
            found[name] = value
    return found


def _queue(
    headers: Mapping[str, EventValue], config: Config, queues: list[str], notes: list[str]
) -> str:
    default = config.calls.default_queue or queues[0]
    wanted = header(headers, "variable_esl_router_queue")
    if wanted and _QUEUE_NAME.fullmatch(wanted) and wanted in queues:
        return wanted
    if wanted and wanted != "auto":
        notes.append(f"unknown queue {_show(wanted)}")
    digits = header(headers, "variable_esl_router_digits")
    if digits and _DIGITS.fullmatch(digits):
        mapped = config.calls.ivr.get(digits)
        if mapped is not None:
            notes.append(f"IVR digits {digits}: queue {mapped}")
            return mapped
        notes.append(f"IVR digits {digits} map to no queue")
    elif digits:
        notes.append(f"ignored IVR digits {_show(digits)}")
    notes.append(f"default queue {default}")
    return default


def _show(value: str) -> str:
    """A caller-supplied value made safe for a log line: repr (escapes CR/LF), truncated."""
    return repr(value[:40]) + ("..." if len(value) > 40 else "")
