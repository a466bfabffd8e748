"""Differential test: the Rust core and the reference model must agree on everything.

A hypothesis state machine drives random operation sequences (valid and invalid) through both and
demands, after every step, identical results: returned values, the class of every exception, and a
full snapshot of the observable state (agents, calls, decisions, positions, EWT, statistics,
explanations, the next relaxation time). Floats are compared exactly: the spec fixes the evaluation
order so that both agree bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from tests import reference_model as ref
from tests.strategies import (
    AGENT_IDS,
    CALL_IDS,
    CENTRES,
    STATES,
    bad_policies,
    deltas,
    gridded,
    policies,
    preferences,
    requirements,
    skill_maps,
)

_core = pytest.importorskip("router._core")

Outcome = tuple[str, Any]


def same(x: Any, y: Any) -> bool:
    """Equal values of the same types, recursively; floats bit for bit (up to the sign of 0)."""
    if type(x) is not type(y):
        return False
    if isinstance(x, float):
        return x == y or (math.isnan(x) and math.isnan(y))
    if isinstance(x, (list, tuple)):
        return len(x) == len(y) and all(same(a, b) for a, b in zip(x, y, strict=True))
    if isinstance(x, dict):
        return x.keys() == y.keys() and all(same(x[k], y[k]) for k in x)
    return bool(x == y)


def outcome(f: Callable[[], Any]) -> Outcome:
    """("ok", result) or ("error", exception class name)."""
    try:
        return ("ok", f())
    except Exception as e:  # any exception is an outcome to compare
        return ("error", type(e).__name__)


def show(method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """`method(args, key=value)`, for failure messages."""
    parts = [*map(repr, args), *(f"{k}={v!r}" for k, v in kwargs.items())]
    return f"{method}({', '.join(parts)})"


BAD_AGENT_INPUT: list[dict[str, Any]] = [
    {"skills": {"trading": 11}},
    {"skills": {"trading": -1}},
    {"skills": {"": 3}},
    {"max_calls": 0},
    {"talk_time": -1.0},
    {"talk_time": math.inf},
    {"calls_taken": -1},
    {"centre": ""},
]
BAD_ENQUEUE_INPUT: list[dict[str, Any]] = [
    {"required": [("trading", 11)]},
    {"required": [("trading", -1)]},
    {"required": [("trading", 3), ("trading", 4)]},
    {"required": [("", 3)]},
    {"preferred": [("hk", -1.0)]},
    {"preferred": [("hk", math.nan)]},
    {"enqueued_at": math.nan},
    {"enqueued_at": 1e12},
    {"enqueued_at": -1.0},
]


class CoreVersusModel(RuleBasedStateMachine):
    """Random operations on both implementations; every answer must agree."""

    def __init__(self) -> None:
        super().__init__()
        self.core: Any = None
        self.model: Any = None
        self.now = 0.0
        self.queues: list[str] = []
        self.classes: list[str] = []
        self.steps = 0

    # --- plumbing ----------------------------------------------------------------------------------

    def both(self, method: str, *args: Any, **kwargs: Any) -> Outcome:
        """Run one operation on both; require the same outcome; return it."""
        got = outcome(lambda: getattr(self.core, method)(*args, **kwargs))
        want = outcome(lambda: getattr(self.model, method)(*args, **kwargs))
        assert same(got, want), f"{show(method, args, kwargs)}: core {got!r}, model {want!r}"
        return want

    def timed(self, method: str, *args: Any, now: float, **kwargs: Any) -> Outcome:
        """An operation whose last positional argument is `now`; time advances if it succeeds."""
        result = self.both(method, *args, now, **kwargs)
        if result[0] == "ok":
            self.now = now
            event(f"{method}: {'ok' if result[1] not in (None, []) else 'ok, empty'}")
        else:
            event(f"{method}: {result[1]}")  # --hypothesis-show-statistics shows the mix
        return result

    def live_calls(self) -> list[str]:
        """Waiting and assigned calls (read from the model: the core lists waiting ones only)."""
        return sorted(self.model._calls)

    def pick_call(self, data: st.DataObject) -> str:
        """Mostly a live call, sometimes any id (unknown ones included)."""
        live = self.live_calls()
        if live and data.draw(st.integers(0, 4), label="live?") > 0:
            return data.draw(st.sampled_from(live), label="call")
        return data.draw(st.sampled_from(CALL_IDS), label="call")

    def pick_agent(self, data: st.DataObject) -> str:
        """Mostly an existing agent, sometimes any id."""
        live: list[str] = self.model.agent_ids()
        if live and data.draw(st.integers(0, 4), label="live?") > 0:
            return data.draw(st.sampled_from(live), label="agent")
        return data.draw(st.sampled_from(AGENT_IDS), label="agent")

    def pick(self, data: st.DataObject, known: list[str], unknown: str) -> str:
        """Mostly a name of the current policy, sometimes an unknown one."""
        return data.draw(st.sampled_from([*known * (9 // len(known) + 1), unknown]))

    def adopt(self, policy: dict[str, Any]) -> None:
        self.queues = [q["name"] for q in policy["queues"]]
        self.classes = [c["name"] for c in policy["classes"]]

    # --- setup -------------------------------------------------------------------------------------

    @initialize(
        policy=policies(all_queues=True, all_classes=True),
        start=st.one_of(st.just(0.0), st.sampled_from([100.0, 1e6]), st.floats(0.0, 1e7)),
        agents=st.lists(
            st.tuples(st.sampled_from(AGENT_IDS), st.sampled_from(CENTRES), skill_maps(2)),
            max_size=4,
            unique_by=lambda t: t[0],
        ),
        calls=st.lists(
            st.tuples(
                st.sampled_from(CENTRES),
                st.one_of(st.none(), requirements()),
                st.sampled_from([0.0, 1.0, 7.5, 30.0, 60.0]),
            ),
            max_size=5,
        ),
    )
    def build(
        self,
        policy: dict[str, Any],
        start: float,
        agents: list[tuple[str, str, dict[str, int]]],
        calls: list[tuple[str, list[tuple[str, int]] | None, float]],
    ) -> None:
        self.core = _core.Core(policy)
        self.model = ref.Core(policy)
        self.adopt(policy)
        self.now = start
        for agent, centre, skills in agents:
            self.both("add_agent", agent, centre, skills)
            self.timed("set_agent_state", agent, "available", now=start)
        for i, (home, required, waited) in enumerate(calls):
            queue = self.queues[i % len(self.queues)]
            cls = self.classes[i % len(self.classes)]
            at = max(0.0, start - waited)
            self.timed(
                "enqueue",
                CALL_IDS[i],
                queue,
                cls,
                home,
                now=start,
                required=required,
                enqueued_at=at,
            )

    # --- policy ------------------------------------------------------------------------------------

    @rule(
        policy=st.one_of(policies(all_queues=True, all_classes=True), policies()),
        dt=deltas(),
    )
    def set_policy(self, policy: dict[str, Any], dt: float) -> None:
        if self.timed("set_policy", policy, now=self.now + dt)[0] == "ok":
            self.adopt(policy)

    # --- agents ------------------------------------------------------------------------------------

    @rule(
        agent=st.sampled_from(AGENT_IDS),
        centre=st.sampled_from(CENTRES),
        skills=skill_maps(1),
        max_calls=st.integers(1, 3),
        calls_taken=st.integers(0, 5),
        talk_time=gridded([0.0, 100.0, 250.5], 0.0, 1e4),
        available=st.booleans(),
        dt=deltas(),
    )
    def add_agent(
        self,
        agent: str,
        centre: str,
        skills: dict[str, int],
        max_calls: int,
        calls_taken: int,
        talk_time: float,
        available: bool,
        dt: float,
    ) -> None:
        kw = {"max_calls": max_calls, "calls_taken": calls_taken, "talk_time": talk_time}
        if self.both("add_agent", agent, centre, skills, **kw)[0] == "ok" and available:
            self.timed("set_agent_state", agent, "available", now=self.now + dt)

    @rule(
        data=st.data(),
        fields=st.fixed_dictionaries(
            {},
            optional={
                "centre": st.sampled_from(CENTRES),
                "skills": skill_maps(),
                "max_calls": st.integers(1, 3),
                "calls_taken": st.integers(0, 5),
                "talk_time": gridded([0.0, 100.0], 0.0, 1e4),
            },
        ),
    )
    def update_agent(self, data: st.DataObject, fields: dict[str, Any]) -> None:
        self.both("update_agent", self.pick_agent(data), **fields)

    @rule(data=st.data())
    def remove_agent(self, data: st.DataObject) -> None:
        self.both("remove_agent", self.pick_agent(data))

    @rule(
        data=st.data(),
        state=st.sampled_from([*STATES, "available", "available", "available", "bogus"]),
        reason=st.sampled_from([None, "lunch"]),
        dt=deltas(),
    )
    def set_agent_state(
        self, data: st.DataObject, state: str, reason: str | None, dt: float
    ) -> None:
        agent = self.pick_agent(data)
        self.timed("set_agent_state", agent, state, now=self.now + dt, reason=reason)

    # --- calls -------------------------------------------------------------------------------------

    @rule(
        data=st.data(),
        calls=st.lists(
            st.tuples(
                st.sampled_from(CENTRES),
                st.one_of(st.none(), requirements()),
                preferences(),
                st.sampled_from([None, None, None, "ghost", *AGENT_IDS]),
                st.one_of(st.none(), deltas()),
            ),
            min_size=1,
            max_size=3,
        ),
        dt=deltas(),
    )
    def enqueue(self, data: st.DataObject, calls: list[tuple[Any, ...]], dt: float) -> None:
        """One to three calls at the same `now`, with new ids mostly; some waited already."""
        now = self.now + dt
        for home, required, preferred, preferred_agent, waited in calls:
            free = [c for c in CALL_IDS if c not in self.model._calls]
            if free and data.draw(st.integers(0, 4), label="new id?") > 0:
                call = data.draw(st.sampled_from(free), label="call")
            else:
                call = data.draw(st.sampled_from(CALL_IDS), label="call")
            self.timed(
                "enqueue",
                call,
                self.pick(data, self.queues, "q_nope"),
                self.pick(data, self.classes, "vip"),
                home,
                now=now,
                required=required,
                preferred=preferred,
                preferred_agent=preferred_agent,
                enqueued_at=None if waited is None else now - waited,
            )

    @rule(
        data=st.data(),
        home=st.sampled_from(CENTRES),
        required=st.one_of(st.none(), requirements()),
        dt=deltas(),
    )
    def arrival(
        self, data: st.DataObject, home: str, required: list[tuple[str, int]] | None, dt: float
    ) -> None:
        """The router's flow for a new call: enqueue, then look for an agent at once."""
        free = [c for c in CALL_IDS if c not in self.model._calls]
        if free:
            call = data.draw(st.sampled_from(free), label="call")
            queue = data.draw(st.sampled_from(self.queues), label="queue")
            cls = data.draw(st.sampled_from(self.classes), label="cls")
            now = self.now + dt
            if self.timed("enqueue", call, queue, cls, home, now=now, required=required)[0] == "ok":
                self.timed("dispatch_call", call, now=now)

    @rule(data=st.data(), dt=deltas())
    def agent_ready(self, data: st.DataObject, dt: float) -> None:
        """The router's flow for an agent: available again, then look for a call at once."""
        agent = self.pick_agent(data)
        now = self.now + dt
        if self.timed("set_agent_state", agent, "available", now=now)[0] == "ok":
            self.timed("dispatch_agent", agent, now=now)

    @rule(data=st.data(), dt=deltas())
    def remove_call(self, data: st.DataObject, dt: float) -> None:
        self.timed("remove_call", self.pick_call(data), now=self.now + dt)

    @rule(data=st.data(), dt=deltas())
    def requeue(self, data: st.DataObject, dt: float) -> None:
        self.timed("requeue", self.pick_call(data), now=self.now + dt)

    @rule(data=st.data(), talk=gridded([0.0, 30.0, 120.5], 0.0, 1000.0), dt=deltas())
    def finish(self, data: st.DataObject, talk: float, dt: float) -> None:
        now = self.now + dt
        if self.both("finish", self.pick_call(data), now, talk)[0] == "ok":
            self.now = now

    # --- decisions ---------------------------------------------------------------------------------

    @rule(data=st.data(), dt=deltas())
    def assign(self, data: st.DataObject, dt: float) -> None:
        self.timed("assign", self.pick_call(data), self.pick_agent(data), now=self.now + dt)

    @rule(data=st.data(), dt=deltas())
    def dispatch_call(self, data: st.DataObject, dt: float) -> None:
        self.timed("dispatch_call", self.pick_call(data), now=self.now + dt)

    @rule(data=st.data(), dt=deltas())
    def dispatch_agent(self, data: st.DataObject, dt: float) -> None:
        self.timed("dispatch_agent", self.pick_agent(data), now=self.now + dt)

    @rule(dt=deltas())
    def match_all(self, dt: float) -> None:
        self.timed("match_all", now=self.now + dt)

    @rule()
    def match_at_next_relaxation(self) -> None:
        """Exactly at a relaxation boundary, where `>=` versus `>` matters."""
        t = self.model.next_relaxation()
        if t is not None:
            self.timed("match_all", now=t)

    @rule(
        data=st.data(),
        op=st.sampled_from(
            ["best_agent", "best_call", "explain", "call_position", "expected_wait", "queue_stats"]
        ),
        dt=deltas(),
    )
    def query(self, data: st.DataObject, op: str, dt: float) -> None:
        """A read-only operation at a later time (it still moves the core's clock)."""
        args: tuple[Any, ...]
        if op in ("best_agent", "call_position"):
            args = (self.pick_call(data),)
        elif op == "best_call":
            args = (self.pick_agent(data),)
        elif op == "explain":
            args = (self.pick_call(data), self.pick_agent(data))
        elif op == "expected_wait":
            args = (self.pick(data, self.queues, "q_nope"), self.pick(data, self.classes, "vip"))
        else:
            args = (self.pick(data, self.queues, "q_nope"),)
        self.timed(op, *args, now=self.now + dt)

    # --- invalid operations: both refuse with the same error and change nothing ---------------------

    @rule(data=st.data(), kind=st.integers(0, 4), dt=deltas())
    def invalid(self, data: st.DataObject, kind: int, dt: float) -> None:
        now = self.now + dt
        if kind == 0:
            policy, what, _ = data.draw(bad_policies(), label="bad policy")
            assert self.timed("set_policy", policy, now=now) == ("error", "PolicyError"), what
        elif kind == 1:
            case = data.draw(st.sampled_from(BAD_AGENT_INPUT), label="bad agent input")
            agent = self.pick_agent(data)
            if data.draw(st.booleans(), label="add?"):
                skills = case.get("skills", {"trading": 5})
                rest = {k: v for k, v in case.items() if k not in ("skills", "centre")}
                result = self.both("add_agent", agent, case.get("centre", "bj"), skills, **rest)
            else:
                result = self.both("update_agent", agent, **case)
            assert result[0] == "error"
        elif kind == 2:
            case = data.draw(st.sampled_from(BAD_ENQUEUE_INPUT), label="bad enqueue")
            call = self.pick_call(data)
            result = self.timed(
                "enqueue", call, self.queues[0], self.classes[0], "bj", now=now, **case
            )
            assert result[0] == "error"
        elif kind == 3:
            bad = data.draw(st.sampled_from([math.nan, math.inf, -1.0, -0.5]), label="bad time")
            t = self.now + bad if bad == -0.5 and self.now >= 0.5 else bad
            op = data.draw(
                st.sampled_from(
                    [
                        "match_all",
                        "best_agent",
                        "enqueue",
                        "set_agent_state",
                        "queue_stats",
                        "finish",
                    ]
                )
            )
            call, agent = self.pick_call(data), self.pick_agent(data)
            args: dict[str, tuple[Any, ...]] = {
                "match_all": (t,),
                "best_agent": (call, t),
                "enqueue": ("c_new", self.queues[0], self.classes[0], "bj", t),
                "set_agent_state": (agent, "available", t),
                "queue_stats": (self.queues[0], t),
                "finish": (call, t, 10.0),
            }
            result = self.both(op, *args[op])
            assert result[0] == "error"
        else:
            call = self.pick_call(data)
            talk = data.draw(st.sampled_from([-1.0, math.nan, math.inf]), label="bad talk")
            assert self.both("finish", call, now, talk)[0] == "error"

    @rule()
    def panic(self) -> None:
        assert self.both("_panic_for_test") == ("error", "InternalError")

    # --- the snapshot compared after every step ----------------------------------------------------

    def teardown(self) -> None:
        if self.model is not None:
            event(f"steps: {self.steps // 10 * 10}+")
            event(f"calls at end: {len(self.live_calls())}")

    @invariant()
    def same_observable_state(self) -> None:
        if self.core is None:
            return
        self.steps += 1
        for method in ("waiting_calls", "agent_ids", "next_relaxation"):
            self.both(method)
        for agent in AGENT_IDS:
            self.both("agent_info", agent)
        for call in CALL_IDS:
            self.both("call_info", call)
        now = self.now
        for queue in self.queues:
            self.both("queue_stats", queue, now)
            for cls in self.classes:
                self.both("expected_wait", queue, cls, now)
        agents = self.model.agent_ids()
        for call in self.live_calls():
            self.both("call_position", call, now)
            self.both("best_agent", call, now)
            for agent in agents:
                self.both("explain", call, agent, now)
        for agent in agents:
            self.both("best_call", agent, now)


CoreVersusModel.TestCase.settings = settings(stateful_step_count=60)
TestCoreVersusModel = CoreVersusModel.TestCase


# Regressions: the first two disagreements the differential test found (both in the core, fixed).


def test_explain_of_assigned_call_lists_every_reason() -> None:
    """The spec asks for every reason, in order, also when the call is already assigned."""
    policy = {"classes": [{"name": "trading"}], "queues": [{"name": "q_trading"}]}
    core = _core.Core(policy)
    for agent, centre in (("a0", "tj"), ("a1", "bj")):
        core.add_agent(agent, centre, {"trading": 5})
        core.set_agent_state(agent, "available", 0.0)
    core.enqueue("c0", "q_trading", "trading", "bj", 0.0, required=[("hk", 1)])
    core.update_agent("a1", skills={"trading": 5, "hk": 5})
    assert core.dispatch_call("c0", 0.0) == "a1"
    assert core.explain("c0", "a0", 0.0)["reasons"] == [
        "call c0 is assigned",
        "lacks skill hk",
        "centre tj is not home centre bj",
    ]


def test_refused_assign_leaves_the_clock_alone() -> None:
    """A failed operation leaves the state (the clock included) exactly as it was."""
    policy = {"classes": [{"name": "trading"}], "queues": [{"name": "q_trading"}]}
    core = _core.Core(policy)
    core.add_agent("a0", "bj", {"trading": 5})
    core.set_agent_state("a0", "available", 0.0)
    core.enqueue("c0", "q_trading", "trading", "tj", 0.0)
    with pytest.raises(_core.InvalidStateError):
        core.assign("c0", "a0", 0.5)  # a0 is in bj, the call waits for its home centre tj
    core.queue_stats("q_trading", 0.0)  # the core used to raise InvalidTimeError here
