"""The figures of a load test, from the calls SIPp logged: what a contact centre is judged by.

Each caller ends one way (`OUTCOMES`):

    answered     bridged to an agent: FreeSWITCH's display update reached the caller (or, where
                 FreeSWITCH sends none, an agent leg rung for this caller answered before the
                 caller hung up)
    abandoned    the caller's patience ran out first and they hung up
    released     FreeSWITCH hung up with no agent (voicemail, callback, overflow, park_timeout)
    refused      FreeSWITCH answered the INVITE with an error (e.g. 503 past sessions-per-second)
    failed       no final answer to the INVITE at all (FreeSWITCH down, unreachable, overloaded)
    unresolved   still waiting when the run stopped

The definitions follow the capacity simulator (`router.sim.capacity.Stats`): the answer rate and
the service level are shares of *offered* calls (every INVITE), the SL counts calls answered
within the class's threshold T, and ASA is the mean wait of answered calls. A caller's wait runs
from the moment it enters the queue (after its IVR digits, else FreeSWITCH's answer) to the
bridge. BHCA is the call attempts of the busiest hour; a run shorter than an hour projects it
from its busiest minute (x60), and says so.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from router.loadtest.results import AgentLeg, CallerCall, SippStats
from router.sim.capacity import Stats
from router.sim.profile import clock_text

__all__ = [
    "OUTCOMES",
    "Figures",
    "Percentiles",
    "answer_time",
    "bhca",
    "compute",
    "format_report",
    "outcome",
    "percentiles",
]

OUTCOMES = ("answered", "abandoned", "released", "refused", "failed", "unresolved")


def answer_time(call: CallerCall, *, legs_count: bool = False) -> float | None:
    """When the caller was bridged to an agent: the display update; with `legs_count` (FreeSWITCH
    sends no display updates) the answer of an agent leg rung for it, before the caller left."""
    if call.connected is not None:
        return call.connected
    if legs_count:
        for leg in call.legs:
            if leg.answered is not None and (call.ended is None or leg.answered <= call.ended):
                return leg.answered
    return None


def outcome(call: CallerCall, *, legs_count: bool = False) -> str:
    """How the call ended, one of `OUTCOMES` (see the module docstring)."""
    if call.end == "refused":
        return "refused"
    if answer_time(call, legs_count=legs_count) is not None:
        return "answered"
    if call.end == "abandon":
        return "abandoned"
    if call.end == "fs_bye":
        return "released"
    if call.answered is None:
        return "failed"
    return "unresolved"


@dataclass(frozen=True)
class Percentiles:
    """A distribution of latencies, in milliseconds."""

    n: int
    mean: float
    p50: float
    p95: float
    p99: float
    max: float


def percentiles(values_ms: Iterable[float]) -> Percentiles | None:
    """Nearest-rank percentiles (None without values)."""
    xs = sorted(v for v in values_ms if math.isfinite(v))
    if not xs:
        return None

    def rank(q: float) -> float:
        return xs[min(len(xs) - 1, max(0, math.ceil(q * len(xs)) - 1))]

    return Percentiles(len(xs), sum(xs) / len(xs), rank(0.50), rank(0.95), rank(0.99), xs[-1])


def bhca(times: Sequence[float], duration: float) -> tuple[int, str]:
    """Busy-hour call attempts from the attempts' times (seconds) and how it was obtained:
    the busiest 3,600 s window when the run lasted an hour, else the busiest 60 s x 60 (or,
    for a run under a minute, its rate x 3,600)."""
    xs = sorted(times)
    if not xs:
        return 0, "no call attempts"
    if duration >= 3600:
        return _busiest(xs, 3600.0), "measured: the busiest hour"
    if duration >= 60:
        minute = _busiest(xs, 60.0)
        return minute * 60, f"projected from the busiest minute ({minute:,} attempts) x 60"
    return round(
        len(xs) / duration * 3600
    ), f"projected from {len(xs):,} attempts in {duration:g} s"


def _busiest(xs: Sequence[float], window: float) -> int:
    best, lo = 0, 0
    for hi, t in enumerate(xs):
        while t - xs[lo] >= window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


@dataclass
class Figures:
    """Everything the report shows; `summary()` is its JSON form."""

    label: str
    target: str
    duration: float  # seconds of planned traffic
    interval: float
    sl_t: Mapping[str, float]
    calls: list[CallerCall]
    legs: list[AgentLeg]
    started: float  # epoch of the run's start
    partial: str | None = None
    sl_default: float = 20.0  # T of a class that `sl_t` does not name
    planned_calls: int = 0
    peak_cps: float = 0.0
    sipp: Mapping[str, SippStats | None] = field(default_factory=dict)
    rtt_ms: Sequence[float] = ()
    metrics: Mapping[str, float] | None = None
    sip: bool = True  # False: the ESL mode, where SIP-side latencies are not measured
    notes: list[str] = field(default_factory=list)

    @property
    def legs_count(self) -> bool:
        """Whether answers come from the agent legs: FreeSWITCH sent no display update at all
        although agents answered (send-display-update off)."""
        return not any(c.connected for c in self.calls) and any(leg.answered for leg in self.legs)

    def threshold(self, cls: str) -> float:
        """The service-level threshold T of a class, seconds."""
        return self.sl_t.get(cls, self.sl_default)

    def outcomes(self, calls: Iterable[CallerCall] | None = None) -> Counter[str]:
        """How many calls ended each way."""
        return Counter(
            outcome(c, legs_count=self.legs_count) for c in (self.calls if calls is None else calls)
        )

    def stats(self, calls: Iterable[CallerCall]) -> Stats:
        """Offered, answered, abandoned, SL and ASA of some calls (capacity-simulator Stats)."""
        st = Stats()
        legs_count = self.legs_count
        for c in calls:
            st.offered += 1
            answered = answer_time(c, legs_count=legs_count)
            if answered is not None:
                wait = max(0.0, answered - c.entered)
                st.answered += 1
                st.wait_sum += wait
                st.within_t += wait <= self.threshold(c.cls)
            elif c.end == "abandon":
                st.abandoned += 1
        return st

    def by(self, key: str) -> dict[str, list[CallerCall]]:
        """The calls grouped by "cls" or "queue", in first-seen order."""
        groups: dict[str, list[CallerCall]] = {}
        for c in self.calls:
            groups.setdefault(getattr(c, key), []).append(c)
        return groups

    def intervals(self) -> list[tuple[float, float, list[CallerCall]]]:
        """(start, end, calls) per reporting interval, by when the call was placed."""
        n = max(1, math.ceil(self.duration / self.interval))
        slots: list[list[CallerCall]] = [[] for _ in range(n)]
        for c in self.calls:
            slots[min(n - 1, max(0, int((c.invite - self.started) // self.interval)))].append(c)
        return [
            (i * self.interval, min(self.duration, (i + 1) * self.interval), s)
            for i, s in enumerate(slots)
        ]

    def latencies(self) -> dict[str, Percentiles | None]:
        """Milliseconds: FreeSWITCH's answer, queue -> first agent ring (routing decision plus any
        wait for a free agent), agent answer -> caller bridged, and agent ring time."""
        fs_answer = [
            (c.answered - c.invite) * 1000 for c in self.calls if c.answered is not None
        ] or list(self.rtt_ms)
        to_ring, to_bridge = [], []
        for c in self.calls:
            if c.legs:
                to_ring.append((min(leg.invite for leg in c.legs) - c.entered) * 1000)
            answered_legs = [leg.answered for leg in c.legs if leg.answered is not None]
            if c.connected is not None and answered_legs:
                to_bridge.append((c.connected - max(answered_legs)) * 1000)
        ring = [(leg.answered - leg.invite) * 1000 for leg in self.legs if leg.answered is not None]
        return {
            "fs_answer": percentiles(fs_answer) if self.sip else None,
            "queue_to_ring": percentiles(to_ring),
            "answer_to_bridge": percentiles(to_bridge) if self.sip else None,
            "agent_ring": percentiles(ring),
        }

    def agent_summary(self) -> dict[str, Any]:
        """What happened to the agent legs."""
        ends = Counter(leg.end or "in progress" for leg in self.legs)
        answered = sum(1 for leg in self.legs if leg.answered is not None)
        talks = [
            leg.ended - leg.answered
            for leg in self.legs
            if leg.answered is not None and leg.ended is not None
        ]
        paired = sum(len(c.legs) for c in self.calls)
        calls_answered = self.outcomes()["answered"]
        return {
            "legs": len(self.legs),
            "answered": answered,
            "not_answered": ends["cancelled"] + ends["timeout"],
            "busy": ends["busy"],
            "hung_up_by_agent": ends["agent_bye"],
            "hung_up_by_caller": ends["fs_bye"],
            "paired": paired,
            "legs_per_answered_call": round(len(self.legs) / calls_answered, 3)
            if calls_answered
            else None,
            "mean_talk_s": round(sum(talks) / len(talks), 2) if talks else None,
        }

    def summary(self) -> dict[str, Any]:
        """The figures as one JSON-able dict (the harness's last line)."""
        st = self.stats(self.calls)
        out = self.outcomes()
        attempts = [c.invite - self.started for c in self.calls]
        value, basis = bhca(attempts, self.duration)
        lat = self.latencies()
        result: dict[str, Any] = {
            "label": self.label,
            "target": self.target,
            "partial": self.partial,
            "duration_s": self.duration,
            "planned_calls": self.planned_calls,
            "peak_cps": round(self.peak_cps, 3),
            "offered": st.offered,
            **{o: out[o] for o in OUTCOMES},
            "answer_rate": _round(st.answer_rate),
            "abandon_rate": _round(st.abandon_rate),
            "service_level": _round(st.service_level),
            "asa_s": _round(st.asa),
            "bhca": value,
            "bhca_basis": basis,
            "answers_from": "agent legs" if self.legs_count else "display updates",
        }
        for cls, calls in self.by("cls").items():
            cst = self.stats(calls)
            result[f"sl_{cls}"] = _round(cst.service_level)
            result[f"answer_rate_{cls}"] = _round(cst.answer_rate)
            result[f"asa_{cls}_s"] = _round(cst.asa)
        for name, p in lat.items():
            result[f"{name}_p50_ms"] = None if p is None else round(p.p50, 1)
            result[f"{name}_p95_ms"] = None if p is None else round(p.p95, 1)
        result["agents"] = self.agent_summary()
        result["sipp"] = {name: _sipp_summary(s) for name, s in self.sipp.items()}
        if self.metrics is not None:
            result["router_metrics"] = dict(self.metrics)
        result["notes"] = list(self.notes)
        return result


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def _sipp_summary(stats: SippStats | None) -> dict[str, Any] | None:
    if stats is None:
        return None
    return {
        "created": stats.count("TotalCallCreated"),
        "successful": stats.count("SuccessfulCall"),
        "failed": stats.count("FailedCall"),
        "failures": stats.failures(),
        "retransmissions": stats.count("Retransmissions"),
        "dead_call_msgs": stats.count("DeadCallMsgs"),
        "out_of_call_msgs": stats.count("OutOfCallMsgs"),
        "watchdog_major": stats.count("WatchdogMajor"),
    }


def compute(
    calls: Iterable[CallerCall],
    legs: Iterable[AgentLeg],
    *,
    label: str,
    target: str,
    duration: float,
    interval: float,
    sl_t: Mapping[str, float],
    started: float | None = None,
    pairing_note: bool = True,
    **extra: Any,
) -> Figures:
    """The figures of a run (`extra`: the other `Figures` fields). `started` defaults to the
    first INVITE; `pairing_note` notes agent legs that found no caller (not in loopback, where
    the stand-in rings the phones on its own)."""
    call_list = sorted(calls, key=lambda c: c.invite)
    if started is None:
        started = call_list[0].invite if call_list else 0.0
    fig = Figures(
        label=label,
        target=target,
        duration=duration,
        interval=interval,
        sl_t=sl_t,
        calls=call_list,
        legs=list(legs),
        started=started,
        **extra,
    )
    out = fig.outcomes()
    if fig.legs_count:
        fig.notes.append(
            "FreeSWITCH sent no display update (INFO message/update_display) to any caller: "
            "answers are taken from the agent legs, paired with callers by number; set "
            "send-display-update to true on the SIP profile for exact bridge times"
        )
    if out["unresolved"]:
        fig.notes.append(f"{out['unresolved']} calls were still waiting when the run stopped")
    unpaired = sum(1 for leg in fig.legs) - sum(len(c.legs) for c in fig.calls)
    if fig.legs and unpaired and pairing_note:
        fig.notes.append(
            f"{unpaired} of {len(fig.legs)} agent legs carried no caller number of this run "
            "(the router should present the caller's number: origination_caller_id_number)"
        )
    return fig


# -- the report -----------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


def _row(name: str, st: Stats, t: str) -> str:
    return (
        f"  {name:<16} {st.offered:>8,} {st.answered:>9,} {st.abandoned:>9,} "
        f"{_pct(st.answer_rate):>7} {_pct(st.abandon_rate):>7} {_pct(st.service_level):>7} "
        f"{t:>5} {_secs(st.asa):>7}"
    )


def format_report(fig: Figures, out: TextIO) -> None:
    """The run as text: outcome, tables by class, queue and interval, latencies, SIPp counters."""
    if fig.partial:
        print(f"PARTIAL RESULTS ({fig.partial}): figures cover only what ran", file=out)
    summary = fig.summary()
    print(
        f"{fig.label} -> {fig.target}: {fig.duration:g} s of traffic, peak {fig.peak_cps:g} "
        f"calls/s, {fig.planned_calls:,} calls planned",
        file=out,
    )
    print(f"BHCA {summary['bhca']:,} ({summary['bhca_basis']})", file=out)
    outs = fig.outcomes()
    refusals = Counter(c.status or "?" for c in fig.calls if c.end == "refused")
    print(
        "outcome: "
        + ", ".join(f"{o} {outs[o]:,}" for o in OUTCOMES)
        + ("; refused with " + ", ".join(f"{s} x{n}" for s, n in refusals.most_common(3)))
        * bool(refusals),
        file=out,
    )
    header = (
        f"  {'':<16} {'offered':>8} {'answered':>9} {'abandoned':>9} {'ans%':>7} {'aband%':>7} "
        f"{'SL':>7} {'T':>5} {'ASA':>7}"
    )
    print(f"\n{header}", file=out)
    print(_row("all calls", fig.stats(fig.calls), ""), file=out)
    print(" by class:", file=out)
    for cls, calls in fig.by("cls").items():
        print(_row(cls, fig.stats(calls), f"{fig.threshold(cls):g}s"), file=out)
    print(" by queue:", file=out)
    for queue, calls in fig.by("queue").items():
        print(_row(queue, fig.stats(calls), ""), file=out)
    print(" by interval (when placed):", file=out)
    for t0, t1, calls in fig.intervals():
        print(_row(f"{clock_text(t0)}-{clock_text(t1)}", fig.stats(calls), ""), file=out)

    print(f"\n  {'latency, ms':<36} {'n':>7} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8}", file=out)
    titles = {
        "fs_answer": "FreeSWITCH answer (INVITE -> 200)",
        "queue_to_ring": "queue -> agent rings (routing+wait)",
        "answer_to_bridge": "agent answers -> caller bridged",
        "agent_ring": "agent ring time",
    }
    for name, p in fig.latencies().items():
        if p is None:
            print(f"  {titles[name]:<36} {'-':>7}", file=out)
        else:
            print(
                f"  {titles[name]:<36} {p.n:>7,} {p.p50:>8.1f} {p.p95:>8.1f} {p.p99:>8.1f} "
                f"{p.max:>8.1f}",
                file=out,
            )
    ag = summary["agents"]
    print(
        f"\nagent legs: {ag['legs']:,} rung ({ag['paired']:,} paired with their caller), "
        f"{ag['answered']:,} answered, {ag['not_answered']:,} not answered, {ag['busy']:,} busy; "
        f"{ag['legs_per_answered_call'] or '-'} legs per answered call, mean talk "
        f"{_secs(ag['mean_talk_s'])}",
        file=out,
    )
    for name, s in summary["sipp"].items():
        if s is None:
            print(f"SIPp {name}: no statistics written", file=out)
            continue
        fails = ", ".join(f"{k} {v}" for k, v in s["failures"].items()) or "none"
        print(
            f"SIPp {name}: {s['created']:,} calls, {s['failed']:,} failed ({fails}), "
            f"{s['retransmissions']:,} retransmissions, {s['dead_call_msgs']:,} dead-call messages",
            file=out,
        )
    if fig.metrics:
        print("router metrics (change over the run):", file=out)
        for key, value in sorted(fig.metrics.items()):
            print(f"  {key} {value:g}", file=out)
    for note in fig.notes:
        print(f"note: {note}", file=out)
