"""Property tests of the Rust core's invariants (the core alone; no reference model).

What must always hold, whatever the operations (`docs/routing-policy.md`):

- a call is never lost or duplicated, and an agent never holds more than `max_calls` calls;
- a decision never gives a call to an agent that lacks a required skill (after relaxation) or is
  outside the call's scope at that moment;
- within one queue and class, calls with the same requirements and home are served oldest first;
- the ageing bound ("The bound we guarantee") holds;
- relaxation never happens before its step's time, and `next_relaxation` is exact;
- decisions do not depend on insertion order;
- `set_policy` applies to calls already waiting;
- after `match_all`, no waiting call has an eligible offerable agent.
"""

from __future__ import annotations

import math
import random
from typing import Any

import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from tests.strategies import (
    AGENT_IDS,
    CALL_IDS,
    CENTRES,
    SKILLS,
    deltas,
    policies,
    preferences,
    requirements,
    skill_maps,
)

_core = pytest.importorskip("router._core")
Core = _core.Core

SCOPE_RANK = {"centre": 0, "region": 1, "any": 2}


# --------------------------------------------------------------------------------------------------
# an independent reading of the policy, enough to check eligibility from the outside


def effective_steps(queue: dict[str, Any]) -> list[dict[str, Any]]:
    """The queue's steps with omitted fields inherited (step 0 from the defaults)."""
    prev = {"after": 0.0, "scope": "centre", "level_delta": 0, "preferred_only": True}
    out = []
    for step in queue.get("steps", [{"after": 0.0}]):
        prev = {**prev, **{k: v for k, v in step.items() if v is not None}}
        out.append(prev)
    return out


def region_of(policy: dict[str, Any], centre: str) -> tuple[str, str]:
    for region, centres in policy.get("regions", {}).items():
        if centre in centres:
            return ("region", region)
    return ("centre", centre)


def step_at(policy: dict[str, Any], call: dict[str, Any], now: float) -> dict[str, Any]:
    queue = next(q for q in policy["queues"] if q["name"] == call["queue"])
    steps = effective_steps(queue)
    k = max(i for i, s in enumerate(steps) if now >= call["enqueued_at"] + s["after"])
    return steps[k]


def eligibility_problems(
    policy: dict[str, Any], call: dict[str, Any], agent: dict[str, Any], now: float
) -> list[str]:
    """Why `agent` (an `agent_info` taken before the decision) may not take `call` at `now`."""
    problems = []
    if agent["state"] != "available" or agent["active"] >= agent["max_calls"]:
        problems.append(f"agent not offerable: {agent['state']} {agent['active']}")
    step = step_at(policy, call, now)
    for skill, level in call["required"]:
        need = max(0, level - step["level_delta"])
        if skill not in agent["skills"] or agent["skills"][skill] < need:
            problems.append(f"{skill}: has {agent['skills'].get(skill)}, needs {need}")
    if call["preferred_agent"] is not None and step["preferred_only"]:
        if agent["id"] != call["preferred_agent"]:
            problems.append(f"waits for {call['preferred_agent']}")
    elif step["scope"] == "centre" and agent["centre"] != call["home"]:
        problems.append("not the home centre")
    elif step["scope"] == "region" and region_of(policy, agent["centre"]) != region_of(
        policy, call["home"]
    ):
        problems.append("not the home region")
    return problems


# --------------------------------------------------------------------------------------------------
# a state machine checking conservation, capacity and eligibility after every step


class CoreInvariants(RuleBasedStateMachine):
    """Random operations on the core; bookkeeping kept by the test, checked after every step."""

    def __init__(self) -> None:
        super().__init__()
        self.core: Any = None
        self.policy: dict[str, Any] = {}
        self.now = 0.0
        self.live: set[str] = set()  # enqueued and neither finished nor removed
        self.held_over: dict[str, int] = {}  # active calls of an agent when max_calls was changed

    def snapshot(self) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
        agents = {a: self.core.agent_info(a) for a in self.core.agent_ids()}
        calls = {c: self.core.call_info(c) for c in self.live}
        return agents, calls

    def check_decision(
        self,
        pairs: list[tuple[str, str]],
        before: tuple[dict[str, Any], dict[str, Any]],
        now: float,
    ) -> None:
        """Every pair was eligible in the state before the decision, and no agent overfilled."""
        agents, calls = before
        taken: dict[str, int] = {}
        for call, agent in pairs:
            assert calls[call]["state"] == "waiting", (call, calls[call])
            a = dict(agents[agent])
            a["active"] += taken.get(agent, 0)  # earlier pairs of the same batch
            if a["active"] >= a["max_calls"]:
                a["state"] = "reserved"
            problems = eligibility_problems(self.policy, calls[call], a, now)
            assert not problems, (call, agent, problems)
            taken[agent] = taken.get(agent, 0) + 1
            info = self.core.call_info(call)
            assert info["state"] == "assigned" and info["agent"] == agent

    @initialize(policy=policies(all_queues=True, all_classes=True), start=st.floats(0, 1e6))
    def build(self, policy: dict[str, Any], start: float) -> None:
        self.core = Core(policy)
        self.policy = policy
        self.now = start

    @rule(
        agent=st.sampled_from(AGENT_IDS),
        centre=st.sampled_from(CENTRES),
        skills=skill_maps(1),
        max_calls=st.integers(1, 3),
        dt=deltas(),
    )
    def add_agent(
        self, agent: str, centre: str, skills: dict[str, int], max_calls: int, dt: float
    ) -> None:
        if agent not in self.core.agent_ids():
            self.core.add_agent(agent, centre, skills, max_calls=max_calls)
            self.now += dt
            self.core.set_agent_state(agent, "available", self.now)

    @rule(
        agent=st.sampled_from(AGENT_IDS),
        state=st.sampled_from(["available", "available", "on_call", "wrap_up", "break"]),
        dt=deltas(),
    )
    def set_state(self, agent: str, state: str, dt: float) -> None:
        if agent in self.core.agent_ids():
            self.now += dt
            self.core.set_agent_state(agent, state, self.now)

    @rule(agent=st.sampled_from(AGENT_IDS), skills=skill_maps(), max_calls=st.integers(1, 3))
    def update_agent(self, agent: str, skills: dict[str, int], max_calls: int) -> None:
        if agent in self.core.agent_ids():
            # Lowering max_calls below the calls an agent holds is allowed (the spec is silent; the
            # core and the model agree): the agent keeps them but gets no more until below.
            self.held_over[agent] = self.core.agent_info(agent)["active"]
            self.core.update_agent(agent, skills=skills, max_calls=max_calls)

    @rule(agent=st.sampled_from(AGENT_IDS))
    def remove_agent(self, agent: str) -> None:
        if agent in self.core.agent_ids() and self.core.agent_info(agent)["active"] == 0:
            self.core.remove_agent(agent)

    @rule(
        call=st.sampled_from(CALL_IDS),
        queue=st.integers(0, 2),
        cls=st.integers(0, 2),
        home=st.sampled_from(CENTRES),
        required=st.one_of(st.none(), requirements()),
        preferred=preferences(),
        preferred_agent=st.sampled_from([None, None, *AGENT_IDS]),
        waited=deltas(),
        dt=deltas(),
    )
    def enqueue(
        self,
        call: str,
        queue: int,
        cls: int,
        home: str,
        required: list[tuple[str, int]] | None,
        preferred: list[tuple[str, float]],
        preferred_agent: str | None,
        waited: float,
        dt: float,
    ) -> None:
        if call in self.live:
            with pytest.raises(_core.DuplicateIdError):
                self.core.enqueue(call, "q_trading", "trading", home, self.now)
            return
        self.now += dt
        self.core.enqueue(
            call,
            self.policy["queues"][queue]["name"],
            self.policy["classes"][cls]["name"],
            home,
            self.now,
            required=required,
            preferred=preferred,
            preferred_agent=preferred_agent,
            enqueued_at=max(0.0, self.now - waited),
        )
        self.live.add(call)

    @rule(call=st.sampled_from(CALL_IDS), how=st.sampled_from(["remove", "requeue", "finish"]))
    def end(self, call: str, how: str) -> None:
        if call not in self.live:
            return
        assigned = self.core.call_info(call)["state"] == "assigned"
        if how == "remove":
            self.core.remove_call(call, self.now)
            self.live.discard(call)
        elif assigned and how == "requeue":
            self.core.requeue(call, self.now)
        elif assigned:
            self.core.finish(call, self.now, 60.0)
            self.live.discard(call)

    @rule(call=st.sampled_from(CALL_IDS), dt=deltas())
    def dispatch_call(self, call: str, dt: float) -> None:
        if call in self.core.waiting_calls():
            self.now += dt
            before = self.snapshot()
            agent = self.core.dispatch_call(call, self.now)
            self.check_decision([] if agent is None else [(call, agent)], before, self.now)

    @rule(agent=st.sampled_from(AGENT_IDS), dt=deltas())
    def dispatch_agent(self, agent: str, dt: float) -> None:
        if agent in self.core.agent_ids():
            info = self.core.agent_info(agent)
            if info["state"] == "available" and info["active"] < info["max_calls"]:
                self.now += dt
                before = self.snapshot()
                call = self.core.dispatch_agent(agent, self.now)
                self.check_decision([] if call is None else [(call, agent)], before, self.now)

    @rule(dt=deltas())
    def match_all(self, dt: float) -> None:
        self.now += dt
        before = self.snapshot()
        pairs = self.core.match_all(self.now)
        self.check_decision(pairs, before, self.now)
        assert len({c for c, _ in pairs}) == len(pairs), pairs

    @rule()
    def match_at_next_relaxation(self) -> None:
        t = self.core.next_relaxation()
        if t is not None:
            assert t > self.now
            self.now = t
            before = self.snapshot()
            self.check_decision(self.core.match_all(t), before, t)

    @invariant()
    def conservation_and_capacity(self) -> None:
        if self.core is None:
            return
        agents, calls = self.snapshot()
        waiting = set(self.core.waiting_calls())
        assigned = {c for c, info in calls.items() if info["state"] == "assigned"}
        assert waiting | assigned == self.live, "a call was lost or appeared"
        assert not waiting & assigned
        assert waiting == {c for c, info in calls.items() if info["state"] == "waiting"}
        held: dict[str, int] = {}
        for c in assigned:
            agent = calls[c]["agent"]
            assert agent in agents, f"call {c} assigned to missing agent {agent}"
            held[agent] = held.get(agent, 0) + 1
        for agent, info in agents.items():
            assert info["active"] == held.get(agent, 0), (agent, info, held)
            assert info["active"] <= max(info["max_calls"], self.held_over.get(agent, 0)), info
            self.held_over[agent] = min(self.held_over.get(agent, 0), info["active"])
        for c in CALL_IDS:
            if c not in self.live:
                with pytest.raises(_core.UnknownIdError):
                    self.core.call_info(c)

    @invariant()
    def next_relaxation_is_exact(self) -> None:
        """The earliest step boundary after the last `now`, over waiting calls, or None."""
        if self.core is None or not self.live:
            return
        boundaries = [
            info["enqueued_at"] + step["after"]
            for info in (self.core.call_info(c) for c in self.core.waiting_calls())
            for queue in self.policy["queues"]
            if queue["name"] == info["queue"]
            for step in effective_steps(queue)
        ]
        assert self.core.next_relaxation() == min(
            (b for b in boundaries if b > self.now), default=None
        )


CoreInvariants.TestCase.settings = settings(stateful_step_count=40)
TestCoreInvariants = CoreInvariants.TestCase


# --------------------------------------------------------------------------------------------------
# first come, first served within one queue and class


ONE_QUEUE: dict[str, Any] = {
    "classes": [{"name": "trading", "base": 200.0, "ageing": 1.0}],
    "queues": [{"name": "q", "aht": 60.0, "required": [["trading", 3]], "steps": [{"after": 0.0}]}],
    "selection": {"strategy": "longest_idle"},
}


@given(
    times=st.lists(
        st.sampled_from([0.0, 1.0, 2.5, 3.0, 10.0]) | st.floats(0, 50), min_size=2, max_size=8
    ),
    by_agent=st.booleans(),
    data=st.data(),
)
def test_same_queue_class_requirements_and_home_are_served_oldest_first(
    times: list[float], by_agent: bool, data: st.DataObject
) -> None:
    core = Core(ONE_QUEUE)
    ids = [f"c{i}" for i in range(len(times))]
    order = data.draw(st.permutations(list(range(len(times)))), label="enqueue order")
    for i in order:
        core.enqueue(ids[i], "q", "trading", "bj", 60.0, enqueued_at=times[i])
    core.add_agent("a", "bj", {"trading": 5})
    served = []
    now = 60.0
    for _ in ids:
        now += data.draw(deltas(), label="dt")
        core.set_agent_state("a", "available", now)
        call = core.dispatch_agent("a", now) if by_agent else core.match_all(now)[0][0]
        served.append(call)
        core.finish(call, now, 30.0)
    assert served == sorted(ids, key=lambda c: (times[ids.index(c)], c))


# --------------------------------------------------------------------------------------------------
# the ageing bound


@given(
    bases=st.lists(
        st.sampled_from([0.0, 50.0, 100.0, 200.0]) | st.floats(-300, 300), min_size=1, max_size=3
    ),
    weights=st.lists(
        st.sampled_from([0.0, 10.0, 25.5]) | st.floats(-50, 50), min_size=1, max_size=2
    ),
    rate=st.sampled_from([0.5, 1.0, 2.0]) | st.floats(0.05, 5),
    arrivals=st.lists(
        st.tuples(
            st.integers(0, 2),
            st.integers(0, 1),
            st.sampled_from([0.0, 1.0, 30.0, 100.0]) | st.floats(0, 500),
        ),
        min_size=2,
        max_size=10,
    ),
    gaps=st.lists(deltas(), min_size=10, max_size=10),
)
def test_no_call_is_overtaken_by_a_call_arriving_more_than_d_later(
    bases: list[float],
    weights: list[float],
    rate: float,
    arrivals: list[tuple[int, int, float]],
    gaps: list[float],
) -> None:
    """With one ageing rate r, `x` is never overtaken by a `y` with `t_y - t_x > D(x)`."""
    policy = {
        "classes": [{"name": f"k{i}", "base": b, "ageing": rate} for i, b in enumerate(bases)],
        "queues": [{"name": f"q{i}", "weight": w, "aht": 60.0} for i, w in enumerate(weights)],
        "selection": {"strategy": "longest_idle"},
    }
    core = Core(policy)
    core.add_agent("a", "bj", {})
    top = max(b + w for b in bases for w in weights)  # B
    calls = {}
    for n, (k, q, t) in enumerate(sorted(arrivals, key=lambda a: a[2])):
        k, q = k % len(bases), q % len(weights)
        cid = f"c{n:02}"
        core.enqueue(cid, f"q{q}", f"k{k}", "bj", t)
        calls[cid] = (t, (top - bases[k] - weights[q]) / rate)
    now = max(t for t, _ in calls.values())
    for gap in gaps:
        if not calls:
            break
        now += gap
        core.set_agent_state("a", "available", now)
        y = core.dispatch_agent("a", now)
        assert y is not None
        t_y = calls.pop(y)[0]
        for x, (t_x, d) in calls.items():
            # a margin keeps arbitrary floats clear of rounding at the exact boundary
            margin = 1e-9 * max(1.0, abs(t_y), abs(t_x), abs(d), abs(top))
            assert not t_y - t_x > d + margin, f"{y} (t={t_y}) overtook {x} (t={t_x}, D={d})"
        core.finish(y, now, 10.0)


# --------------------------------------------------------------------------------------------------
# relaxation happens exactly at its time


RELAXING: dict[str, Any] = {
    "classes": [{"name": "trading", "base": 0.0, "ageing": 1.0}],
    "queues": [
        {
            "name": "q",
            "aht": 60.0,
            "required": [["trading", 8]],
            "steps": [
                {"after": 0.0, "scope": "centre", "level_delta": 0, "preferred_only": True},
                {"after": 30.0, "scope": "region"},
                {"after": 45.5, "preferred_only": False},
                {"after": 60.0, "scope": "any", "level_delta": 2},
            ],
        }
    ],
    "regions": {"north": ["bj", "tj"], "south": ["gz"]},
    "selection": {"strategy": "longest_idle"},
}

# (agent, centre, level): the call below has home bj (region north), requires trading 8
RELAXING_AGENTS = [
    ("a_pref", "gz", 8),  # the preferred agent when there is one, in the other region
    ("a_home", "bj", 8),
    ("a_region", "tj", 8),  # same region as home
    ("a_far", "gz", 8),  # other region
    ("a_weak", "bj", 6),  # 6 < 8 until level_delta 2
    ("a_weaker", "bj", 5),  # never enough
]
# the steps at which each agent is eligible, with and without a preferred agent
ELIGIBLE_AT: dict[bool, dict[str, set[int]]] = {
    True: {
        "a_pref": {0, 1, 3},
        "a_home": {2, 3},
        "a_region": {2, 3},
        "a_far": {3},
        "a_weak": {3},
        "a_weaker": set(),
    },
    False: {
        "a_pref": {3},
        "a_home": {0, 1, 2, 3},
        "a_region": {1, 2, 3},
        "a_far": {3},
        "a_weak": {3},
        "a_weaker": set(),
    },
}


@given(
    t0=st.sampled_from([0.0, 7.25, 1000.0]) | st.floats(0, 1e6),
    present=st.lists(st.sampled_from(RELAXING_AGENTS), min_size=1, unique=True),
    pref=st.booleans(),
)
def test_relaxation_happens_exactly_at_each_step(
    t0: float, present: list[tuple[str, str, int]], pref: bool
) -> None:
    """Just before a step's time the call is still at the previous step; at that time, at it."""
    core = Core(RELAXING)
    core.enqueue("c", "q", "trading", "bj", t0, preferred_agent="a_pref" if pref else None)
    for agent, centre, level in present:
        core.add_agent(agent, centre, {"trading": level})
        core.set_agent_state(agent, "available", t0)
    steps = [t0 + s["after"] for s in effective_steps(RELAXING["queues"][0])]
    now = t0
    for k, boundary in enumerate(steps):
        # `next_relaxation` names exactly the next boundary after the last `now` seen
        assert core.next_relaxation() == next((b for b in steps if b > now), None)
        for t in (math.nextafter(boundary, -math.inf), boundary):
            if t < now:
                continue
            now = t
            step = k if t == boundary else k - 1
            for agent, _, _ in present:
                explained = core.explain("c", agent, t)
                assert explained["step"] == step
                assert explained["eligible"] == (step in ELIGIBLE_AT[pref][agent]), (agent, t)
            best = core.best_agent("c", t)
            assert (best is None) == all(step not in ELIGIBLE_AT[pref][a] for a, _, _ in present)
    assert core.next_relaxation() is None


def test_next_relaxation_is_the_earliest_boundary_over_all_waiting_calls() -> None:
    core = Core(RELAXING)
    core.enqueue("c1", "q", "trading", "bj", 100.0, enqueued_at=80.0)  # boundaries 110, 125.5, 140
    core.enqueue("c2", "q", "trading", "bj", 100.0, enqueued_at=95.0)  # 125, 140.5, 155
    assert core.next_relaxation() == 110.0
    core.queue_stats("q", 110.0)
    assert core.next_relaxation() == 125.0
    core.remove_call("c2", 125.0)
    assert core.next_relaxation() == 125.5
    core.add_agent("a", "bj", {"trading": 9})
    core.set_agent_state("a", "available", 125.5)
    assert core.dispatch_call("c1", 125.5) == "a"
    assert core.next_relaxation() is None  # assigned calls do not relax
    core.requeue("c1", 126.0)
    assert core.next_relaxation() == 140.0


# --------------------------------------------------------------------------------------------------
# insertion order does not matter


@st.composite
def populations(draw: st.DrawFn) -> dict[str, Any]:
    """A policy, agents (with the time each became available) and calls (with enqueued_at)."""
    agents = draw(
        st.lists(
            st.tuples(
                st.sampled_from(AGENT_IDS),
                st.sampled_from(CENTRES),
                skill_maps(1),
                st.integers(1, 2),
                st.sampled_from([0.0, 5.0, 10.0]),  # available since: ties on purpose
                st.sampled_from([0.0, 100.0]),  # talk time
            ),
            unique_by=lambda a: a[0],
            max_size=5,
        )
    )
    calls = draw(
        st.lists(
            st.tuples(
                st.sampled_from(CALL_IDS),
                st.sampled_from(["q_trading", "q_hk", "q_futures"]),
                st.sampled_from(["trading", "registered", "other"]),
                st.sampled_from(CENTRES),
                requirements(),
                preferences(),
                st.sampled_from([None, None, *AGENT_IDS]),
                st.sampled_from([0.0, 3.0, 10.0]) | st.floats(0, 20),
            ),
            unique_by=lambda c: c[0],
            max_size=8,
        )
    )
    return {
        "policy": draw(policies(all_queues=True, all_classes=True)),
        "agents": agents,
        "calls": calls,
        "now": draw(st.sampled_from([20.0, 45.0, 100.0])),
    }


def build(population: dict[str, Any], rng: random.Random) -> Any:
    """The population's state, built in an order drawn from `rng`, with noise that changes slots."""
    core = Core(population["policy"])
    agents = list(population["agents"])
    rng.shuffle(agents)
    for i, (agent, centre, skills, max_calls, _, talk) in enumerate(agents):
        if rng.random() < 0.5:
            core.add_agent(f"noise{i}", "gz", {"hk": 3})
        core.add_agent(agent, centre, skills, max_calls=max_calls, talk_time=talk)
    for i in range(len(agents)):
        if f"noise{i}" in core.agent_ids():
            core.remove_agent(f"noise{i}")
    # availability must follow time; agents that became available at the same time in any order
    for agent, *_, since, _ in sorted(agents, key=lambda a: a[4]):
        core.set_agent_state(agent, "available", since)
    calls = list(population["calls"])
    rng.shuffle(calls)
    now = population["now"]
    for i, (call, queue, cls, home, required, preferred, pref_agent, at) in enumerate(calls):
        if rng.random() < 0.5:
            core.enqueue(f"noise{i}", queue, cls, home, now)
        core.enqueue(
            call,
            queue,
            cls,
            home,
            now,
            required=required,
            preferred=preferred,
            preferred_agent=pref_agent,
            enqueued_at=at,
        )
    for i in range(len(calls)):
        if f"noise{i}" in core.waiting_calls():
            core.remove_call(f"noise{i}", now)
    return core


@given(population=populations(), seeds=st.tuples(st.integers(), st.integers()))
def test_decisions_do_not_depend_on_insertion_order(
    population: dict[str, Any], seeds: tuple[int, int]
) -> None:
    one, two = (build(population, random.Random(seed)) for seed in seeds)
    now = population["now"]
    assert one.waiting_calls() == two.waiting_calls()
    for call in one.waiting_calls():
        assert one.best_agent(call, now) == two.best_agent(call, now), call
        assert one.call_position(call, now) == two.call_position(call, now), call
    for agent in one.agent_ids():
        info = one.agent_info(agent)
        if info["state"] == "available" and info["active"] < info["max_calls"]:
            assert one.best_call(agent, now) == two.best_call(agent, now), agent
    assert one.next_relaxation() == two.next_relaxation()
    assert one.match_all(now) == two.match_all(now)
    later = now + 61.0  # some calls have relaxed further by then
    assert one.match_all(later) == two.match_all(later)


# --------------------------------------------------------------------------------------------------
# a new policy applies to calls already waiting


@given(population=populations(), new_policy=policies(all_queues=True, all_classes=True))
def test_set_policy_applies_to_waiting_calls(
    population: dict[str, Any], new_policy: dict[str, Any]
) -> None:
    """Switching policy gives the same decisions as a core built under the new policy."""
    switched = build(population, random.Random(0))
    now = population["now"]
    switched.set_policy(new_policy, now)
    fresh = build({**population, "policy": new_policy}, random.Random(0))
    assert fresh.waiting_calls() == switched.waiting_calls()
    for call in fresh.waiting_calls():
        assert switched.call_info(call) == fresh.call_info(call)
        assert switched.best_agent(call, now) == fresh.best_agent(call, now), call
        # positions agree; the EWT may not, since a surviving queue keeps its learned AHT
        assert switched.call_position(call, now)[0] == fresh.call_position(call, now)[0], call
        for agent in fresh.agent_ids():
            assert switched.explain(call, agent, now) == fresh.explain(call, agent, now)
    assert switched.next_relaxation() == fresh.next_relaxation()
    assert switched.match_all(now) == fresh.match_all(now)


# --------------------------------------------------------------------------------------------------
# match_all is maximal


@given(population=populations(), dt=deltas())
def test_match_all_leaves_no_waiting_call_with_an_eligible_agent(
    population: dict[str, Any], dt: float
) -> None:
    core = build(population, random.Random(1))
    now = population["now"] + dt
    pairs = core.match_all(now)
    note(f"pairs: {pairs}")
    assert len({a for a in core.agent_ids()}) == len(core.agent_ids())
    for call in core.waiting_calls():
        assert core.best_agent(call, now) is None, call
        for agent in core.agent_ids():
            assert not core.explain(call, agent, now)["eligible"], (call, agent)
    for agent in core.agent_ids():
        info = core.agent_info(agent)
        if info["state"] == "available" and info["active"] < info["max_calls"]:
            assert core.best_call(agent, now) is None, agent


@given(skills=st.dictionaries(st.sampled_from(SKILLS), st.integers(0, 10)), data=st.data())
def test_an_agent_with_max_calls_one_never_holds_two_calls(
    skills: dict[str, int], data: st.DataObject
) -> None:
    core = Core(ONE_QUEUE)
    core.add_agent("a", "bj", {**skills, "trading": 5})
    now = 0.0
    for i in range(4):
        core.enqueue(f"c{i}", "q", "trading", "bj", now)
    for _ in range(6):
        now += data.draw(deltas(), label="dt")
        core.set_agent_state("a", "available", now)
        op = data.draw(st.sampled_from(["match_all", "dispatch_agent", "dispatch_call"]))
        waiting = core.waiting_calls()
        if op == "match_all":
            pairs = core.match_all(now)
        elif op == "dispatch_agent":
            call = core.dispatch_agent("a", now)
            pairs = [] if call is None else [(call, "a")]
        elif waiting:
            agent = core.dispatch_call(waiting[0], now)
            pairs = [] if agent is None else [(waiting[0], agent)]
        else:
            pairs = []
        assert len(pairs) == (1 if waiting else 0)
        info = core.agent_info("a")
        assert info["active"] == len(pairs)
        if pairs:
            assert info["state"] == "reserved"
            # no route gives it a second call while it holds one
            for c in core.waiting_calls():
                with pytest.raises(_core.InvalidStateError):
                    core.assign(c, "a", now)
                assert core.best_agent(c, now) is None
                assert core.dispatch_call(c, now) is None
            assert core.match_all(now) == []
            with pytest.raises(_core.InvalidStateError):
                core.dispatch_agent("a", now)
            held = pairs[0][0]
            end = data.draw(st.sampled_from(["requeue", "remove_call", "finish"]), label="end")
            if end == "finish":
                core.finish(held, now, 30.0)
            else:
                getattr(core, end)(held, now)
            assert core.agent_info("a")["active"] == 0
