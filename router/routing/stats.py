"""Counters of what happened to calls, for the demo, the benchmark and (later) /metrics."""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

__all__ = ["Stats"]

_KEEP = 100_000  # samples kept per distribution (the most recent)


@dataclass
class Stats:
    """Since the router started. Waits and latencies are in seconds."""

    offered: int = 0
    """Calls taken from the dialplan (CHANNEL_PARK)."""
    adopted: int = 0
    """Calls found already waiting or talking on FreeSWITCH (router restart, reconnect)."""
    answered: int = 0
    """Calls bridged to an agent."""
    finished: int = 0
    """Bridged calls that ended."""
    abandoned: int = 0
    """Callers who hung up before an agent answered (while queued or while an agent rang)."""
    requeued: int = 0
    """Times a call went back to the queue because the agent did not take it."""
    lost: int = 0
    """Calls that vanished while the router was not connected (their end was not seen)."""
    admitted: collections.Counter[str] = field(default_factory=collections.Counter)
    """New calls given a line, by caller class (adopted calls are not counted again)."""
    refused: collections.Counter[str] = field(default_factory=collections.Counter)
    """New calls refused a line, by reason (router.routing.admission.REASONS)."""
    refused_classes: collections.Counter[str] = field(default_factory=collections.Counter)
    """New calls refused a line, by caller class."""
    overflowed: collections.Counter[str] = field(default_factory=collections.Counter)
    """Calls that reached their maximum wait, by "queue->destination" (queue or extension)."""
    transferred: int = 0
    """Calls an agent transferred to a queue or a named agent (the caller waited again)."""
    key_exits: collections.Counter[str] = field(default_factory=collections.Counter)
    """Waiting callers who pressed an exit key, by the extension they went to."""
    callbacks: collections.Counter[str] = field(default_factory=collections.Counter)
    """Callers to be called back, by why: "pressed N", "maximum wait", "no line"."""
    callbacks_connected: int = 0
    """Callbacks bridged to an agent (counted in `answered` too)."""
    callbacks_failed: int = 0
    """Callbacks given up after every try."""
    callback_misses: collections.Counter[str] = field(default_factory=collections.Counter)
    """Tries that did not reach the customer, by cause (NO_ANSWER, USER_BUSY, AGENT_HUNG_UP...)."""
    misses: collections.Counter[str] = field(default_factory=collections.Counter)
    """Agent legs that did not answer, by FreeSWITCH cause (NO_ANSWER, USER_BUSY, ...)."""
    answer_waits: collections.deque[float] = field(
        default_factory=lambda: collections.deque(maxlen=_KEEP)
    )
    abandon_waits: collections.deque[float] = field(
        default_factory=lambda: collections.deque(maxlen=_KEEP)
    )
    callback_delays: collections.deque[float] = field(
        default_factory=lambda: collections.deque(maxlen=_KEEP)
    )
    """From the caller's enqueue time to the bridge with the customer called back."""
    dispatch_latency: collections.deque[float] = field(
        default_factory=lambda: collections.deque(maxlen=_KEEP)
    )
    """From the event that made a match possible (a park, an agent becoming free, a relaxation
    step, a miss) to the moment the originate for the chosen agent is handed to the socket."""
