"""The load harness's reading of SIPp output and its figures, on SIPp files recorded on loopback
(tests/data/sipp, see its README) and on hand-made calls whose figures are known."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from router.loadtest.figures import bhca, compute, outcome, percentiles
from router.loadtest.metrics import delta, parse
from router.loadtest.results import (
    AgentLeg,
    CallerCall,
    pair_legs,
    parse_log,
    read_agent_log,
    read_caller_log,
    read_rtt,
    read_stat,
)

DATA = Path(__file__).resolve().parent / "data" / "sipp"
LOOP = DATA / "loopback"


def test_log_lines_parse_and_half_written_ones_are_skipped() -> None:
    lines = [
        "2026-11-21\t20:17:33.636501\t1795292253.636501;invite;1;8613800100001;trading;trading\n",
        "2026-11-21\t20:17:33.641210\t1795292253.641210;answered;1\n",
        "garbage\n",
        "2026-11-21\t20:17:3",  # still being written
    ]
    events = list(parse_log(lines))
    assert events == [
        (1795292253.636501, "invite", 1, ["8613800100001", "trading", "trading"]),
        (1795292253.64121, "answered", 1, []),
    ]


def recorded() -> tuple[dict[int, CallerCall], list[AgentLeg]]:
    calls = read_caller_log(LOOP / "callers_logs.log")
    legs = read_agent_log(LOOP / "phones_logs.log", "phones")
    return calls, legs


def test_recorded_callers_match_what_the_stand_in_did_to_them() -> None:
    """Ground truth: the stand-in answered call k with line k of standin-callers.csv (refuse,
    release after a delay, or connect after a delay), and caller k's own line of callers.csv says
    when it presses digits and how patient it is. Every outcome follows from the two, except
    where connect and patience end within 0.3 s of each other."""
    calls, _ = recorded()
    standin = [ln.split(";") for ln in (LOOP / "standin-callers.csv").read_text().splitlines()[1:]]
    plan = [ln.split(";") for ln in (LOOP / "callers.csv").read_text().splitlines()[1:]]
    checked = 0
    for n, call in calls.items():
        what, delay_ms = standin[n - 1][0], int(standin[n - 1][1])
        number, cls, _, ivr_ms, digit1, digit2, patience_ms = plan[n - 1]
        assert (call.number, call.cls) == (number, cls)
        ivr = (int(ivr_ms) + (400 if digit2 != "-" else 0)) / 1000 if digit1 != "-" else 0.0
        gives_up = ivr + int(patience_ms) / 1000
        if what == "refuse":
            expected = "refused"
        elif abs(delay_ms / 1000 - gives_up) < 0.3:
            continue
        elif delay_ms / 1000 > gives_up:
            expected = "abandoned"
        else:
            expected = "answered" if what == "connect" else "released"
        assert outcome(call) == expected, (n, call)
        if digit1 != "-" and expected != "refused" and call.digits is not None:
            assert call.digits == digit1 + (digit2 if digit2 != "-" else "")
        checked += 1
    assert checked >= 35
    assert {outcome(c) for c in calls.values()} == {"answered", "abandoned", "released", "refused"}


def test_recorded_figures() -> None:
    calls, legs = recorded()
    assert pair_legs(calls.values(), legs) == len(legs) == 44
    fig = compute(
        calls.values(),
        legs,
        label="sample",
        target="loopback",
        duration=6.0,
        interval=2.0,
        sl_t={"trading": 1.0},
        sl_default=2.0,
    )
    out = fig.outcomes()
    assert sum(out.values()) == len(calls) == 44
    assert out == {"answered": 29, "abandoned": 12, "released": 2, "refused": 1}
    summary = fig.summary()
    # The recorded run's own summary, computed live by the harness, agrees.
    live = json.loads((LOOP / "summary.json").read_text())
    for key in ("offered", "answered", "abandoned", "released", "refused", "answer_rate"):
        assert summary[key] == live[key], key
    assert summary["service_level"] == pytest.approx(live["service_level"], abs=1e-4)
    assert summary["asa_s"] == pytest.approx(live["asa_s"], abs=1e-3)
    # Per-class figures add up to the whole.
    assert sum(len(cs) for cs in fig.by("cls").values()) == 44
    per_class = [fig.stats(cs) for cs in fig.by("cls").values()]
    assert sum(st.answered for st in per_class) == 29
    assert sum(st.within_t for st in per_class) == round(summary["service_level"] * 44)
    assert summary["bhca"] == 44 * 600  # 44 attempts in 6 s, x3600/6
    assert summary["agents"]["legs"] == 44
    lat = fig.latencies()
    fs = lat["fs_answer"]
    assert fs is not None and fs.n == 43 and 0 < fs.p50 < 50  # one call was refused


def test_recorded_sipp_statistics_agree_with_the_logs() -> None:
    stats = read_stat(LOOP / "callers_stat.csv")
    assert stats is not None
    assert stats.count("TotalCallCreated") == 44
    assert stats.count("SuccessfulCall") + stats.count("FailedCall") == 44
    assert stats.count("Retransmissions") == 0
    assert stats.rates and stats.rates[-1][0] >= 6
    rtt = read_rtt(LOOP / "callers_rtt.csv")
    assert len(rtt) == 43  # every call FreeSWITCH (the stand-in) answered with 200


def test_anchor_statistics_of_a_real_freeswitch_run() -> None:
    """SIPp's files from the mod_callcenter anchor at 40 calls/s (real FreeSWITCH 1.10): the
    figures the anchor publishes come out of our readers."""
    stats = read_stat(DATA / "anchor_cc_r040" / "callers_uac_stat.csv")
    assert stats is not None
    assert stats.count("TotalCallCreated") == 2400
    assert stats.count("SuccessfulCall") == 2400 and stats.failures() == {}
    assert max(rate for _, rate in stats.rates) == pytest.approx(40, abs=1)
    p = percentiles(read_rtt(DATA / "anchor_cc_r040" / "callers_uac_rtt.csv"))
    assert p is not None
    assert (p.n, round(p.mean, 1), p.p95, p.max) == (2400, 6.7, 16.0, 32.0)


def call(
    n: int,
    cls: str,
    *,
    wait: float | None = None,
    end: str | None = None,
    number: str = "1",
    invite: float = 1000.0,
) -> CallerCall:
    c = CallerCall(n, number, cls, "q", invite, answered=invite + 0.01, queued=invite + 1.0)
    if wait is not None:
        c.connected = c.entered + wait
    if end is not None:
        c.end, c.ended = end, invite + 30
    return c


def test_service_level_asa_and_answer_rate_by_class() -> None:
    calls = [
        call(1, "trading", wait=2.0, end="fs_bye"),
        call(2, "trading", wait=12.0, end="fs_bye"),  # answered, but after T = 10 s
        call(3, "trading", end="abandon"),
        call(4, "other", wait=19.0, end="fs_bye"),
        call(5, "other", end="refused"),
        call(6, "other", end="fs_bye"),  # released: voicemail
        call(7, "other"),  # still waiting
    ]
    calls[4].answered = None
    fig = compute(
        calls, [], label="t", target="t", duration=60, interval=30,
        sl_t={"trading": 10.0}, sl_default=20.0,
    )  # fmt: skip
    trading = fig.stats(fig.by("cls")["trading"])
    assert (trading.offered, trading.answered, trading.abandoned, trading.within_t) == (3, 2, 1, 1)
    assert trading.service_level == pytest.approx(1 / 3)
    assert trading.asa == pytest.approx(7.0)
    other = fig.stats(fig.by("cls")["other"])
    assert (other.offered, other.answered, other.within_t) == (4, 1, 1)
    s = fig.summary()
    assert (s["answered"], s["abandoned"], s["released"], s["refused"], s["unresolved"]) == (
        3, 1, 1, 1, 1,
    )  # fmt: skip
    assert s["answer_rate"] == pytest.approx(3 / 7, abs=1e-4)
    assert s["sl_trading"] == pytest.approx(1 / 3, abs=1e-4)
    assert s["asa_s"] == pytest.approx(11.0)
    assert any("still waiting" in note for note in s["notes"])


def test_without_display_updates_answers_come_from_the_agent_legs() -> None:
    c1 = call(1, "trading", number="100", end="fs_bye")
    c2 = call(2, "trading", number="200", end="abandon")
    legs = [
        AgentLeg("p", 1, "a1", "100", "answer", 1003.0, answered=1005.0, ended=1020.0),
        AgentLeg("p", 2, "a2", "200", "answer", 1002.0, answered=1040.0),  # after the caller left
        AgentLeg("p", 3, "a3", "999", "answer", 1002.0, answered=1003.0),  # nobody's
    ]
    assert pair_legs([c1, c2], legs) == 2
    fig = compute([c1, c2], legs, label="t", target="t", duration=60, interval=60, sl_t={})
    assert fig.legs_count
    assert fig.outcomes() == {"answered": 1, "abandoned": 1}
    assert fig.stats([c1]).asa == pytest.approx(4.0)  # entered at 1001, agent answered at 1005
    notes = " ".join(fig.notes)
    assert "send-display-update" in notes and "1 of 3 agent legs" in notes


def test_legs_pair_with_the_latest_call_from_their_number() -> None:
    first = call(1, "other", number="555", invite=1000.0, end="abandon")  # ended at 1030
    second = call(2, "other", number="555", invite=1100.0)
    legs = [
        AgentLeg("p", 1, "a", "555", "answer", 1010.0),
        AgentLeg("p", 2, "a", "555", "answer", 1105.0),
        AgentLeg("p", 3, "a", "555", "answer", 1050.0),  # after the first left, before the second
    ]
    assert pair_legs([first, second], legs) == 2
    assert [leg.id for leg in first.legs] == [1] and [leg.id for leg in second.legs] == [2]


def test_bhca() -> None:
    assert bhca([], 60) == (0, "no call attempts")
    value, basis = bhca([float(i) for i in range(120)], 120)  # 1 call a second
    assert value == 3600 and "busiest minute (60 attempts) x 60" in basis
    hour = [i * 0.1 for i in range(40_000)]  # 10 a second for 4,000 s
    assert bhca(hour, 4000) == (36_000, "measured: the busiest hour")
    assert bhca([0.0, 1.0], 10)[0] == 720


def test_percentiles_are_nearest_rank() -> None:
    p = percentiles([float(i) for i in range(1, 101)])
    assert p is not None and (p.p50, p.p95, p.p99, p.max, p.mean) == (50, 95, 99, 100, 50.5)
    assert percentiles([]) is None


def test_router_metrics_delta() -> None:
    before = parse(
        "# HELP x\nesl_calls_total 10\nesl_wait_seconds_sum 4\nesl_wait_seconds_count 2\n"
    )
    after = parse(
        'esl_calls_total 25\nesl_wait_seconds_sum 10\nesl_wait_seconds_count 5\nup{job="r"} 1\n'
    )
    d = delta(before, after)
    assert d["esl_calls_total"] == 15 and d["esl_wait_seconds_mean"] == pytest.approx(2.0)
    assert d['up{job="r"}'] == 1
