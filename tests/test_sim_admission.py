"""The capacity simulator's admission, callbacks and overflow rules, on cases small enough to work
out by hand (scripted arrivals, constant talk times, callers who never hang up), plus the guarantee
that without admission it is exactly the model it was before."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("router._core", reason="the Rust core router._core is not built yet")

from router.config import Config, load_config, parse_config
from router.config.model import Overflow
from router.sim.capacity import (
    ABANDONED,
    ANSWERED,
    CALLBACK_FAILED,
    CALLED_BACK,
    F_CALLBACK,
    F_REFUSED,
    OVERFLOWED,
    REFUSED,
    SimResult,
    baseline_policy,
    simulate,
)
from router.sim.profile import CallbackModel, Dist, Profile, Stream

ROOT = Path(__file__).resolve().parent.parent


def config(
    tmp_path: Path,
    *,
    lines: int = 0,
    calls: dict[str, Any] | None = None,
    agents: int = 1,
    queues: tuple[str, ...] = ("q",),
    line_shares: dict[str, Any] | None = None,
    classes: dict[str, float] | None = None,
) -> Config:
    """One centre, `agents` agents who can take every queue, classes trading (exempt by default)
    and other (or `classes`: name -> base), ageing 1, FIFO within a class."""
    bases = classes or {"trading": 200.0, "other": 0.0}
    data: dict[str, Any] = {
        "router": {"centre": "a"},
        "classes": [{"name": n, "base": b, "ageing": 1.0} for n, b in bases.items()],
        "queues": [
            {"name": q, "aht": 100.0, "required": {"s": 1}, "steps": [{"after": 0.0}]}
            for q in queues
        ],
        "centres": [{"name": "a", "lines": lines, "line_shares": line_shares or {}}],
        "rosters": [{"centre": "a", "prefix": "ag", "count": agents, "skills": {"s": 5}}],
    }
    if calls:
        data["calls"] = calls
    return parse_config(data, tmp_path / "admission.toml")


def profile(callback: CallbackModel | None = None, **kw: Any) -> Profile:
    """Streams 0: other -> q, 1: trading -> q (rates only say which streams exist: arrivals are
    scripted); talk 100 s, no wrap-up, nobody hangs up."""
    streams = (
        Stream("other", "q", ((0.0, 1.0),), {"a": 1.0}),
        Stream("trading", "q", ((0.0, 1.0),), {"a": 1.0}),
    )
    base: dict[str, Any] = {
        "streams": streams,
        "end": 3600.0,
        "interval": 3600.0,
        "handle": Dist("constant", 100.0),
        "dialect_preference": 0.0,
        "callback": callback or CallbackModel(),
    }
    return Profile(**(base | kw))


def outcome(result: SimResult) -> list[tuple[int, float | None]]:
    """(state, answered_at or None) of each call, in arrival order."""
    return [
        (s, None if a != a else round(a, 6))
        for s, a in zip(result.state, result.answered_at, strict=True)
    ]


def callback_config(tmp_path: Path, lines: int, agents: int = 1) -> Config:
    """`lines` lines; a caller refused one is called back (``refuse_action = "callback"``; the
    router's side of callbacks from the profile, as this config has no ``[calls.callback]``)."""
    cfg = config(tmp_path, lines=lines, agents=agents)
    return dataclasses.replace(cfg, calls=dataclasses.replace(cfg.calls, refuse_action="callback"))


def test_a_callback_keeps_its_place_and_holds_no_line(tmp_path: Path) -> None:
    # 1 agent, 2 lines. A (t=0) is answered at once; B (t=1) holds the second line; C (t=2) and
    # D (t=3) find both lines used and are called back. A hangs up at 100, B talks from 100, so E
    # (t=150) finds a free line (the two callbacks hold none while they wait) and holds.
    cfg = callback_config(tmp_path, lines=2)
    prof = profile(CallbackModel(accept=1.0, answer=1.0, pickup=8.0))
    result = simulate(cfg, prof, arrivals=[(0, 0), (1, 0), (2, 0), (3, 0), (150, 0)])
    # A 0-100; B 100-200; C (enqueued at 2) before E (150): the agent rings C at 200, C answers
    # at 208 and talks to 308; then D (3) rings at 308, answers at 316, talks to 416; then E.
    assert outcome(result) == [
        (ANSWERED, 0.0),
        (ANSWERED, 100.0),
        (CALLED_BACK, 208.0),
        (CALLED_BACK, 316.0),
        (ANSWERED, 416.0),
    ]
    assert [f & (F_REFUSED | F_CALLBACK) for f in result.flags] == [0, 0, 3, 3, 0]
    day = result.day()
    assert (day.answered, day.called_back, day.answered_live, day.refused) == (5, 2, 3, 2)
    assert day.refused_lost == 0 and day.lost == 0 and day.unresolved == 0
    assert day.callback_delay == pytest.approx((208 - 2) + (316 - 3))
    assert day.mean_callback_delay == pytest.approx(259.5)
    assert day.answer_rate == 1.0
    # SL counts only live answers within T (20 s): A alone; ASA is over the live answers.
    assert day.within_t == 1 and day.service_level == pytest.approx(1 / 5)
    assert day.asa == pytest.approx((0 + 99 + 266) / 3)
    assert result.refusals == {"lines_full": 2}
    # The agent was busy from 0 to 516 without a break (the rings of 8 s included).
    assert day.busy == pytest.approx(516.0)


def test_a_callback_holds_a_line_once_connected_as_the_router_counts(tmp_path: Path) -> None:
    # 1 agent, 1 line. A talks 0-100; C (2) is refused and called back. The agent rings C at 100;
    # G (104) finds the line free (C is not connected yet) and holds; C connects at 108 and holds
    # a line too; H (150) finds none and is called back. At 208 G (enqueued 104) goes before H
    # (150); H is rung at 308 and answers at 316.
    cfg = callback_config(tmp_path, lines=1)
    prof = profile(CallbackModel(pickup=8.0))
    result = simulate(cfg, prof, arrivals=[(0, 0), (2, 0), (104, 0), (150, 0)])
    assert outcome(result) == [
        (ANSWERED, 0.0),
        (CALLED_BACK, 108.0),
        (ANSWERED, 208.0),
        (CALLED_BACK, 316.0),
    ]
    assert result.refusals == {"lines_full": 2}


def test_callbacks_wait_in_the_configs_callback_class(tmp_path: Path) -> None:
    # As the first case, with [calls.callback] class = "callback", 900 below "other" (bases are
    # >= 0, so the others are raised by 900: only differences count), as the router.
    calls = {
        "refuse_action": "callback",
        "callback": {"dial": "sofia/gateway/pstn/{number}", "class": "callback"},
    }
    cfg = config(
        tmp_path, lines=2, calls=calls,
        classes={"trading": 1100.0, "other": 900.0, "callback": 0.0},
    )  # fmt: skip
    assert cfg.calls.callback is not None and cfg.calls.callback.cls == "callback"
    result = simulate(cfg, profile(), arrivals=[(0, 0), (1, 0), (2, 0), (3, 0), (150, 0)])
    # As there until 200; then E (other, priority 900 + 50) outranks C and D (0 + ~200), which
    # still keep their order among themselves. E hangs up at 300, freeing its line: C rings.
    assert outcome(result) == [
        (ANSWERED, 0.0),
        (ANSWERED, 100.0),
        (CALLED_BACK, 308.0),
        (CALLED_BACK, 416.0),
        (ANSWERED, 200.0),
    ]
    assert result.callback_line_waits == 0
    # Without the key, a callback waits in the caller's class: C and D before E (first case).
    own = dataclasses.replace(cfg.calls.callback, cls=None)
    plain = dataclasses.replace(cfg, calls=dataclasses.replace(cfg.calls, callback=own))
    result = simulate(plain, profile(), arrivals=[(0, 0), (1, 0), (2, 0), (3, 0), (150, 0)])
    assert [a for _, a in outcome(result)] == [0.0, 100.0, 208.0, 316.0, 416.0]


def test_a_callback_moved_into_its_class_keeps_its_enqueue_time(tmp_path: Path) -> None:
    # 1 agent, lines unmanaged. Classes trading and other base 50, callback base 0, ageing 1: a
    # call's priority is base + (now - enqueue time) (+ 50 for all but callbacks below). An "other" caller waiting 30 s becomes a
    # callback (an overflow rule). A (0, other) talks 0-100. B (5, other) becomes a callback at
    # 35 and moves into the callback class keeping its enqueue time 5. G (50) and E (80) are
    # trading callers. At 100: G 50, B -50 + 95 = 45, E 20: G talks 100-200. At 200: B 145,
    # E 120: B is rung, answers at 208, talks to 308; then E at 308.
    calls = {
        "overflow": [{"after": 30.0, "queue": "q", "class": "other", "callback": True}],
        "callback": {"dial": "sofia/gateway/pstn/{number}", "class": "callback"},
    }
    cfg = config(tmp_path, calls=calls, classes={"trading": 50.0, "other": 50.0, "callback": 0.0})
    arrivals = [(0, 0), (5, 0), (50, 1), (80, 1)]
    result = simulate(cfg, profile(), arrivals=arrivals)
    assert outcome(result) == [
        (ANSWERED, 0.0),
        (CALLED_BACK, 208.0),
        (ANSWERED, 100.0),
        (ANSWERED, 308.0),
    ]
    assert list(result.flags) == [0, F_CALLBACK, 0, 0]
    assert cfg.calls.callback is not None
    # Had B's enqueue time become 35, E (20) would outrank it at 100 (15) after G, and at 200
    # (115 against 120) too; in its own class (base 0, 95 at 100) it would go before G.
    own = dataclasses.replace(cfg.calls.callback, cls=None)
    plain = dataclasses.replace(cfg, calls=dataclasses.replace(cfg.calls, callback=own))
    assert [a for _, a in outcome(simulate(plain, profile(), arrivals=arrivals))] == [
        0.0, 108.0, 208.0, 308.0,
    ]  # fmt: skip


def test_a_callback_is_not_connected_while_no_line_is_free(tmp_path: Path) -> None:
    # 1 agent, 2 lines, 10 s wrap-up. A (0, other) talks 0-100; B (1, other) holds the second
    # line; C (2, trading) finds none and is to be called back. A's line is free at 100, but D
    # (105, other) takes it while the agent wraps up. At 110 the agent is offered C (trading: 200
    # + 108) first, but no line is free for it: the agent is free at once and takes B (live,
    # 110-210); C waits out of the queue until 115, then in its place. B's line is free at 210;
    # at 220 C (200 + 218) before D (115): a line is free, C answers at 228 and talks to 328;
    # D is answered at 338.
    cfg = callback_config(tmp_path, lines=2)
    prof = profile(wrap_up=10.0)
    result = simulate(cfg, prof, arrivals=[(0, 0), (1, 0), (2, 1), (105, 0)])
    assert outcome(result) == [
        (ANSWERED, 0.0),
        (ANSWERED, 110.0),
        (CALLED_BACK, 228.0),
        (ANSWERED, 338.0),
    ]
    assert result.callback_line_waits == 1 and result.refusals == {"lines_full": 1}
    assert result.summary()["callback_line_waits"] == 1
    # No try was made and the agent lost no time: A, B, C (with its 8 s ring) and D, each with
    # its wrap-up, back to back from 0 to 448.
    assert result.day().busy == pytest.approx(448.0)
    assert result.day().callbacks == 1 and result.day().called_back == 1


def test_a_callback_retries_every_line_wait_until_a_line_is_free(tmp_path: Path) -> None:
    # 2 agents, 1 line. A (0) holds it, talking 0-100. C (2) is refused and called back; the
    # idle agent is offered it at 2, 7, ..., 97 (20 times) with no line free; at 100 A's line is
    # free but C is out of the queue until 102, and B (101, live) takes the line and an agent;
    # C is offered again at 102, ..., 197 (20 times); B hangs up at 201: at 202 C is connected
    # (210).
    cfg = callback_config(tmp_path, lines=1, agents=2)
    result = simulate(cfg, profile(), arrivals=[(0, 0), (2, 0), (101, 0)])
    assert outcome(result) == [(ANSWERED, 0.0), (CALLED_BACK, 210.0), (ANSWERED, 101.0)]
    assert result.callback_line_waits == 40


def test_the_line_wait_is_the_routers() -> None:
    from router.routing.lifecycle import LINE_WAIT as ROUTERS
    from router.sim.capacity import LINE_WAIT

    assert LINE_WAIT == ROUTERS


def test_unanswered_callbacks_retry_out_of_the_queue_then_give_up(tmp_path: Path) -> None:
    # 1 agent, 1 line. A (0) talks to 100; C (2) is refused and called back, but never answers:
    # try 1 rings 100-130, then C is out of the queue until 230. F (140) gets the free line and
    # the idle agent at once (140-240). C is back at 230, waits for the agent;
    # try 2 rings 240-270; two tries were allowed: given up.
    cfg = callback_config(tmp_path, lines=1)
    cb = CallbackModel(answer=0.0, ring_timeout=30.0, attempts=2, retry_after=100.0)
    result = simulate(cfg, profile(cb), arrivals=[(0, 0), (2, 0), (140, 0)])
    assert outcome(result) == [(ANSWERED, 0.0), (CALLBACK_FAILED, None), (ANSWERED, 140.0)]
    day = result.day()
    assert (day.callbacks, day.called_back, day.callback_failed, day.lost) == (1, 0, 1, 1)
    assert day.answer_rate == pytest.approx(2 / 3)
    assert day.busy == pytest.approx(100 + 30 + 100 + 30)


def test_callers_without_a_usable_number_are_lost(tmp_path: Path) -> None:
    cfg = callback_config(tmp_path, lines=1)
    result = simulate(cfg, profile(CallbackModel(accept=0.0)), arrivals=[(0, 0), (2, 0)])
    assert outcome(result) == [(ANSWERED, 0.0), (REFUSED, None)]
    assert result.day().refused_lost == 1 and result.day().answer_rate == 0.5


def test_refused_callers_hang_up_without_callbacks(tmp_path: Path) -> None:
    cfg = config(tmp_path, lines=1)  # refuse_action "hangup", the default
    result = simulate(cfg, profile(), arrivals=[(0, 0), (2, 1), (150, 0)])
    assert outcome(result) == [(ANSWERED, 0.0), (REFUSED, None), (ANSWERED, 150.0)]
    # The trunk only (the FIFO baseline's centre) refuses the same caller, for the same reason.
    lines_only = simulate(cfg, profile(), arrivals=[(0, 0), (2, 1), (150, 0)], admission="lines")
    assert outcome(lines_only) == outcome(result)
    assert lines_only.refusals == result.refusals == {"lines_full": 1}
    # Without admission everyone holds: the trading caller (priority) is answered first.
    none = simulate(cfg, profile(), arrivals=[(0, 0), (2, 1), (150, 0)], admission="none")
    assert outcome(none) == [(ANSWERED, 0.0), (ANSWERED, 100.0), (ANSWERED, 200.0)]


def test_expected_wait_refuses_others_but_not_trading(tmp_path: Path) -> None:
    # max_expected_wait 150 s with 1 agent and aht 100: the core's expected wait of a newcomer is
    # position * 100. At t=1 (A talking, nobody waiting) position 1: 100 s, admitted. At t=2 an
    # "other" caller would be second: 200 s > 150: refused; a trading caller is exempt.
    cfg = config(tmp_path, calls={"max_expected_wait": 150.0})
    arrivals = [(0, 0), (1, 0), (2, 0), (3, 1)]
    result = simulate(cfg, profile(), arrivals=arrivals)
    assert result.refusals == {"expected_wait": 1}
    assert outcome(result) == [
        (ANSWERED, 0.0),
        (ANSWERED, 200.0),  # the trading caller (t=3) outranks it
        (REFUSED, None),
        (ANSWERED, 100.0),
    ]
    # The FIFO baseline's centre has no expected-wait check.
    lines_only = simulate(cfg, profile(), arrivals=arrivals, admission="lines")
    assert not lines_only.refusals


def test_line_shares_follow_the_router(tmp_path: Path) -> None:
    # 4 lines; "other" may use at most 25 % (1 line): the second "other" caller is refused
    # (class_max) although lines are free; trading callers are exempt from the maximum.
    cfg = config(tmp_path, lines=4, agents=4, line_shares={"other": {"max": 0.25}})
    result = simulate(cfg, profile(), arrivals=[(0, 0), (1, 0), (2, 1), (3, 1)])
    assert result.refusals == {"class_max": 1}
    assert [s for s, _ in outcome(result)] == [ANSWERED, REFUSED, ANSWERED, ANSWERED]


def test_overflow_to_an_extension_and_to_another_queue(tmp_path: Path) -> None:
    calls = {"overflow": [{"after": 30.0, "queue": "q", "to": "q2"},
                          {"after": 50.0, "queue": "q2", "extension": "voicemail"}]}  # fmt: skip
    cfg = config(tmp_path, calls=calls, queues=("q", "q2"))
    # A talks 0-100. B (5) waits in q; at 35 it moves to q2 keeping its enqueue time (5); at 55
    # (5 + 50) the q2 rule sends it to voicemail. Without the rules it is answered at 100.
    result = simulate(cfg, profile(), arrivals=[(0, 0), (5, 0)])
    assert outcome(result) == [(ANSWERED, 0.0), (OVERFLOWED, None)]
    assert result.day().overflowed == 1 and result.day().lost == 1
    plain = simulate(cfg, profile(), arrivals=[(0, 0), (5, 0)], admission="lines")
    assert outcome(plain) == [(ANSWERED, 0.0), (ANSWERED, 100.0)]


def test_overflow_to_another_queue_keeps_the_enqueue_time(tmp_path: Path) -> None:
    calls = {"overflow": [{"after": 30.0, "queue": "q", "to": "q2"}]}
    cfg = config(tmp_path, calls=calls, queues=("q", "q2"))
    # B (5, other) moves to q2 at 35 and keeps its enqueue time 5; C (20, other) stays in q
    # until 50, then moves too. The agent frees at 100 and takes B (older) first, then C.
    result = simulate(cfg, profile(), arrivals=[(0, 0), (5, 0), (20, 0)])
    assert outcome(result) == [(ANSWERED, 0.0), (ANSWERED, 100.0), (ANSWERED, 200.0)]
    assert result.day("queue", "q").offered == 3  # counted in the queue they called


def test_overflow_to_a_callback_keeps_the_place_and_frees_the_line(tmp_path: Path) -> None:
    cfg = config(tmp_path, lines=2)
    rule = Overflow(after=30.0, queue="q", callback=True)
    cfg = dataclasses.replace(cfg, calls=dataclasses.replace(cfg.calls, overflow=(rule,)))
    # A talks 0-100. B (5) holds the second line until 35, then becomes a callback and hangs up:
    # E (40) gets that line, holds, and at 70 becomes a callback too. At 100 the agent rings B
    # (enqueued at 5) before E (40): B answers at 108 and talks to 208; E answers at 216.
    result = simulate(cfg, profile(), arrivals=[(0, 0), (5, 0), (40, 0)])
    assert outcome(result) == [(ANSWERED, 0.0), (CALLED_BACK, 108.0), (CALLED_BACK, 216.0)]
    assert list(result.flags) == [0, F_CALLBACK, F_CALLBACK] and not result.refusals
    # A caller with no usable number keeps holding, and keeps the line: E finds none.
    kept = simulate(cfg, profile(CallbackModel(accept=0.0)), arrivals=[(0, 0), (5, 0), (40, 0)])
    assert outcome(kept) == [(ANSWERED, 0.0), (ANSWERED, 100.0), (REFUSED, None)]


def test_abandonment_still_applies_to_callers_on_hold(tmp_path: Path) -> None:
    cfg = callback_config(tmp_path, lines=2)
    prof = profile(patience=Dist("constant", 50.0))
    result = simulate(cfg, prof, arrivals=[(0, 0), (1, 0), (2, 0)])
    # B holds and hangs up at 51; C, a callback, has no patience to run out: rung at 100.
    assert outcome(result) == [(ANSWERED, 0.0), (ABANDONED, None), (CALLED_BACK, 108.0)]


# -- without admission, the model is the one validated before ------------------------------------


def _digest(result: SimResult) -> str:
    data = result.answered_at.tobytes() + result.arrival.tobytes() + bytes(result.state)
    return hashlib.sha256(data).hexdigest()[:16]


def test_no_admission_reproduces_the_previous_model_exactly() -> None:
    """Figures of bench/surge.py's day (seed 1, the 50-agent centre) recorded with the simulator
    before admission was modelled: same arrivals, same decisions, bit for bit."""
    import sys

    sys.path.insert(0, str(ROOT / "bench"))
    from surge import surge_profile

    cfg = load_config(ROOT / "examples" / "single_centre_50.toml")
    expected = {
        "policy": (4154, 3866, 288, 3606, 22051.639273, "8a902489cd272a4d"),
        "fifo": (4154, 3866, 288, 3570, 25714.856078, "c844d72cfdab3d4a"),
    }
    for label, policy in (("policy", None), ("fifo", baseline_policy(cfg))):
        r = simulate(cfg, surge_profile(1), policy=policy, admission="none")
        d = r.day()
        got = (r.calls, d.answered, d.abandoned, d.within_t, round(d.wait_sum, 6), _digest(r))
        assert got == expected[label], label
        # Unmanaged lines and no expected-wait check: the router's admission admits everyone.
        unmanaged = dataclasses.replace(
            cfg, centres=tuple(dataclasses.replace(c, lines=0) for c in cfg.centres)
        )
        routed = simulate(unmanaged, surge_profile(1), policy=policy, admission="router")
        assert _digest(routed) == expected[label][-1] and not routed.refusals


def test_unknown_admission_mode_and_bad_scripts(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    with pytest.raises(ValueError, match="admission must be one of"):
        simulate(cfg, profile(), admission="sometimes")
    with pytest.raises(ValueError, match="outside the simulated period"):
        simulate(cfg, profile(), arrivals=[(7200.0, 0)])
