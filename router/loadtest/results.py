"""Reading what SIPp wrote: the per-call logs of the caller and agent scenarios (`-trace_logs`),
the statistics CSV (`-trace_stat`) and the response times (`-trace_rtt`), and pairing agent legs
with the callers they were rung for.

A log line is "<date>\t<time>\t<epoch>;<event>;<call number>;<details>" (SIPp's `[timestamp]`
keyword, then the scenario's fields); see bench/sipp/caller.xml and agent.xml for the events.
A line that does not parse (a half-written last line while SIPp still runs) is skipped.
"""

from __future__ import annotations

import bisect
import csv
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "AgentLeg",
    "CallerCall",
    "SippStats",
    "pair_legs",
    "parse_log",
    "read_agent_log",
    "read_caller_log",
    "read_rtt",
    "read_stat",
]


@dataclass
class AgentLeg:
    """One agent leg the router originated, as the agent phone saw it (epoch seconds)."""

    phone: str  # which agent SIPp instance (its port)
    id: int
    agent: str
    caller: str  # the From user: the caller's number
    behaviour: str
    invite: float
    answered: float | None = None
    ended: float | None = None
    end: str | None = None  # agent_bye | fs_bye | cancelled | busy | timeout


@dataclass
class CallerCall:
    """One caller, as SIPp saw it (epoch seconds)."""

    id: int
    number: str
    cls: str
    queue: str
    invite: float
    answered: float | None = None  # FreeSWITCH's 200 OK
    digits: str | None = None
    queued: float | None = None  # after the IVR digits: in the queue
    connected: float | None = None  # bridged to an agent (INFO update_display)
    agent: str | None = None
    ended: float | None = None
    end: str | None = None  # abandon | fs_bye | refused
    status: str | None = None  # the refusal's status line
    legs: list[AgentLeg] = field(default_factory=list)

    @property
    def entered(self) -> float:
        """When the caller started waiting for an agent: after the IVR digits, else at the
        answer, else (never answered) at the INVITE."""
        return self.queued or self.answered or self.invite


def parse_log(lines: Iterable[str]) -> Iterator[tuple[float, str, int, list[str]]]:
    """(epoch, event, call number, details) for every well-formed log line."""
    for line in lines:
        parts = line.rstrip("\r\n").split(";")
        if len(parts) < 3:
            continue
        try:
            epoch = float(parts[0].rsplit("\t", 1)[-1])
            number = int(parts[2])
        except ValueError:
            continue
        if math.isfinite(epoch):
            yield epoch, parts[1], number, parts[3:]


def read_caller_log(path: Path) -> dict[int, CallerCall]:
    """The callers of one caller.xml log, by SIPp call number. When an event comes twice (a
    second display update after a transfer, a BYE race) the first one counts."""
    calls: dict[int, CallerCall] = {}
    with path.open(encoding="utf-8", errors="replace") as fh:
        for t, event, n, rest in parse_log(fh):
            if event == "invite":
                if len(rest) >= 3:
                    calls[n] = CallerCall(n, rest[0], rest[1], rest[2], t)
                continue
            call = calls.get(n)
            if call is None:
                continue
            if event == "answered" and call.answered is None:
                call.answered = t
            elif event == "digits" and call.digits is None:
                call.digits = "".join(rest).replace("-", "")
            elif event == "queued" and call.queued is None:
                call.queued = t
            elif event == "connected" and call.connected is None and call.end is None:
                call.connected = t
                call.agent = rest[0] if rest and rest[0] else None
            elif event in ("abandon", "fs_bye", "refused") and call.end is None:
                call.ended, call.end = t, event
                if event == "refused" and rest:
                    call.status = rest[0]
    return calls


def read_agent_log(path: Path, phone: str) -> list[AgentLeg]:
    """The agent legs of one agent.xml log."""
    legs: dict[int, AgentLeg] = {}
    with path.open(encoding="utf-8", errors="replace") as fh:
        for t, event, n, rest in parse_log(fh):
            if event == "invite":
                if len(rest) >= 3:
                    legs[n] = AgentLeg(phone, n, rest[0], rest[1], rest[2], t)
                continue
            leg = legs.get(n)
            if leg is None:
                continue
            if event == "answered" and leg.answered is None:
                leg.answered = t
            elif (
                event in ("agent_bye", "fs_bye", "cancelled", "busy", "timeout") and leg.end is None
            ):
                leg.ended, leg.end = t, event
    return list(legs.values())


def pair_legs(calls: Iterable[CallerCall], legs: Iterable[AgentLeg], slack: float = 1.0) -> int:
    """Attach each agent leg to the caller it was rung for: the caller with the leg's From number
    who called last before the leg's INVITE (and had not hung up more than `slack` seconds
    before it). Returns how many legs found their caller."""
    by_number: dict[str, list[CallerCall]] = {}
    for call in sorted(calls, key=lambda c: c.invite):
        call.legs.clear()
        by_number.setdefault(call.number, []).append(call)
    starts = {n: [c.invite for c in cs] for n, cs in by_number.items()}
    paired = 0
    for leg in sorted(legs, key=lambda leg: leg.invite):
        candidates = by_number.get(leg.caller)
        if not candidates:
            continue
        i = bisect.bisect_right(starts[leg.caller], leg.invite) - 1
        if i < 0:
            continue
        call = candidates[i]
        if call.ended is not None and leg.invite > call.ended + slack:
            continue
        call.legs.append(leg)
        paired += 1
    return paired


@dataclass(frozen=True)
class SippStats:
    """The cumulative counters of one SIPp instance (the last row of its `-trace_stat` CSV) and
    its call rate per reporting period."""

    values: Mapping[str, str]
    rates: tuple[tuple[float, float], ...] = ()  # (elapsed seconds, calls per second)

    def count(self, name: str) -> int:
        """A cumulative counter, e.g. count("FailedCall") reads "FailedCall(C)" (0 if absent)."""
        raw = self.values.get(f"{name}(C)", self.values.get(name, ""))
        try:
            return int(float(raw))
        except ValueError:
            return 0

    def failures(self) -> dict[str, int]:
        """Every non-zero "Failed..." counter, e.g. {"FailedMaxUDPRetrans": 3}."""
        out: dict[str, int] = {}
        for key in self.values:
            if key.startswith("Failed") and key.endswith("(C)") and key != "FailedCall(C)":
                n = self.count(key[:-3])
                if n:
                    out[key[:-3]] = n
        return out


def read_stat(path: Path) -> SippStats | None:
    """The statistics CSV of one SIPp instance (None when SIPp wrote no data row)."""
    with path.open(encoding="utf-8", errors="replace", newline="") as fh:
        rows = [r for r in csv.reader(fh, delimiter=";") if r]
    if len(rows) < 2:
        return None
    header = rows[0]
    records = [dict(zip(header, r, strict=False)) for r in rows[1:] if len(r) >= len(header) - 1]
    if not records:
        return None
    rates: list[tuple[float, float]] = []
    for rec in records:
        elapsed = _hms(rec.get("ElapsedTime(C)", ""))
        try:
            rate = float(rec.get("CallRate(P)", ""))
        except ValueError:
            continue
        if elapsed is not None:
            rates.append((elapsed, rate))
    return SippStats(records[-1], tuple(rates))


def _hms(text: str) -> float | None:
    """SIPp's "HH:MM:SS" (or "HH:MM:SS:uuuuuu") as seconds."""
    parts = text.split(":")
    try:
        h, m, s = (int(p) for p in parts[:3])
    except ValueError:
        return None
    frac = int(parts[3]) / 1e6 if len(parts) > 3 and parts[3].isdigit() else 0.0
    return h * 3600 + m * 60 + s + frac


def read_rtt(path: Path) -> list[float]:
    """INVITE -> 200 response times in ms from a `-trace_rtt` file ("Date_ms;response_time_ms;
    rtd_no" rows)."""
    out: list[float] = []
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            parts = line.strip().split(";")
            if len(parts) >= 2:
                try:
                    out.append(float(parts[1]))
                except ValueError:
                    continue
    return out
