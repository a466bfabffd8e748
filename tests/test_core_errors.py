"""Bad input to the Rust core: the right exception class, a message naming the offending item, and
the state exactly as it was (compared through every observable: agents, calls, next relaxation,
queue statistics)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import given

from tests.strategies import bad_policies

_core = pytest.importorskip("router._core")

POLICY: dict[str, Any] = {
    "classes": [
        {"name": "trading", "base": 200.0, "ageing": 1.0},
        {"name": "registered", "base": 100.0, "ageing": 1.0},
        {"name": "other", "base": 0.0, "ageing": 1.0},
    ],
    "queues": [
        {
            "name": "trading",
            "weight": 0.0,
            "aht": 180.0,
            "required": [["trading", 1]],
            "steps": [
                {"after": 0.0, "scope": "centre", "level_delta": 0, "preferred_only": True},
                {"after": 30.0, "scope": "region"},
                {"after": 60.0, "scope": "any", "level_delta": 2, "preferred_only": False},
            ],
        },
        {"name": "hk", "weight": 10.0, "aht": 240.0, "required": [["hk", 5]]},
    ],
    "regions": {"north": ["bj", "tj"], "south": ["gz", "sz"]},
    "skill_weights": {"trading": 1.0},
    "selection": {"strategy": "weighted", "idle": 1.0, "talk": 0.0, "skill": 10.0, "home": 50.0},
}
NOW = 100.0
CALLS = ["w1", "w2", "busy"]


def populated() -> Any:
    """A core at time NOW with agents in several states and calls waiting and assigned."""
    core = _core.Core(POLICY)
    core.add_agent("ann", "bj", {"trading": 8, "hk": 6}, max_calls=2)
    core.add_agent("bob", "gz", {"trading": 3})
    core.add_agent("cat", "tj", {"hk": 9})
    core.set_agent_state("ann", "available", 10.0)
    core.set_agent_state("bob", "break", 20.0, reason="lunch")
    core.set_agent_state("cat", "available", 30.0)
    core.enqueue("busy", "trading", "trading", "bj", 40.0)
    assert core.dispatch_call("busy", 40.0) == "ann"
    core.enqueue("w1", "trading", "other", "sz", 50.0, enqueued_at=45.0)
    core.enqueue("w2", "hk", "registered", "gz", NOW, preferred_agent="cat")
    return core


def snapshot(core: Any) -> dict[str, Any]:
    """Everything observable without moving the clock past NOW."""
    return {
        "agents": {a: core.agent_info(a) for a in core.agent_ids()},
        "calls": {c: core.call_info(c) for c in CALLS},
        "waiting": core.waiting_calls(),
        "next_relaxation": core.next_relaxation(),
        "stats": {q: core.queue_stats(q, NOW) for q in ("trading", "hk")},
        "positions": {c: core.call_position(c, NOW) for c in core.waiting_calls()},
    }


@contextmanager
def refused(core: Any, error: type[Exception], *names: str) -> Iterator[None]:
    """The block raises `error` whose message names every one of `names`; the state is as it was."""
    before = snapshot(core)
    with pytest.raises(error) as caught:
        yield
    message = str(caught.value.args[0]) if caught.value.args else ""
    for name in names:
        assert name in message, f"{name!r} not named in {message!r}"
    assert snapshot(core) == before


@pytest.fixture
def core() -> Any:
    return populated()


def test_the_hierarchy() -> None:
    for name in (
        "UnknownIdError",
        "DuplicateIdError",
        "InvalidStateError",
        "InvalidTimeError",
        "PolicyError",
        "InvalidInputError",
        "InternalError",
    ):
        assert issubclass(getattr(_core, name), _core.CoreError)
    assert issubclass(_core.CoreError, ValueError)
    assert issubclass(_core.UnknownIdError, KeyError)


# --- unknown and duplicate ids -------------------------------------------------------------------

UNKNOWN: list[tuple[str, Callable[[Any], Any]]] = [
    ("zed", lambda c: c.update_agent("zed", max_calls=2)),
    ("zed", lambda c: c.remove_agent("zed")),
    ("zed", lambda c: c.set_agent_state("zed", "available", NOW)),
    ("zed", lambda c: c.agent_info("zed")),
    ("zed", lambda c: c.best_call("zed", NOW)),
    ("zed", lambda c: c.dispatch_agent("zed", NOW)),
    ("zed", lambda c: c.assign("w1", "zed", NOW)),
    ("zed", lambda c: c.explain("w1", "zed", NOW)),
    ("nope", lambda c: c.remove_call("nope", NOW)),
    ("nope", lambda c: c.requeue("nope", NOW)),
    ("nope", lambda c: c.finish("nope", NOW, 10.0)),
    ("nope", lambda c: c.call_info("nope")),
    ("nope", lambda c: c.best_agent("nope", NOW)),
    ("nope", lambda c: c.dispatch_call("nope", NOW)),
    ("nope", lambda c: c.assign("nope", "ann", NOW)),
    ("nope", lambda c: c.call_position("nope", NOW)),
    ("nope", lambda c: c.explain("nope", "ann", NOW)),
    ("futures", lambda c: c.enqueue("new", "futures", "trading", "bj", NOW)),
    ("vip", lambda c: c.enqueue("new", "trading", "vip", "bj", NOW)),
    ("futures", lambda c: c.expected_wait("futures", "trading", NOW)),
    ("vip", lambda c: c.expected_wait("trading", "vip", NOW)),
    ("futures", lambda c: c.queue_stats("futures", NOW)),
]


@pytest.mark.parametrize(("name", "op"), UNKNOWN)
def test_unknown_ids(core: Any, name: str, op: Callable[[Any], Any]) -> None:
    with refused(core, _core.UnknownIdError, name):
        op(core)


@pytest.mark.parametrize(
    ("name", "op"),
    [
        ("ann", lambda c: c.add_agent("ann", "bj", {"trading": 5})),
        ("w1", lambda c: c.enqueue("w1", "trading", "trading", "bj", NOW)),
        ("busy", lambda c: c.enqueue("busy", "hk", "other", "gz", NOW)),  # assigned, still live
    ],
)
def test_duplicate_ids(core: Any, name: str, op: Callable[[Any], Any]) -> None:
    with refused(core, _core.DuplicateIdError, name):
        op(core)


def test_an_id_is_free_again_once_its_call_is_gone(core: Any) -> None:
    core.finish("busy", NOW, 60.0)
    core.enqueue("busy", "trading", "trading", "bj", NOW)
    assert core.call_info("busy")["state"] == "waiting"


# --- bad input -----------------------------------------------------------------------------------

BAD_LEVELS = [11, -1, 2.5, "5", None]


@pytest.mark.parametrize("level", BAD_LEVELS)
def test_agent_skill_levels_out_of_range(core: Any, level: Any) -> None:
    with refused(core, _core.InvalidInputError, "futures"):
        core.add_agent("dan", "bj", {"trading": 5, "futures": level})
    with refused(core, _core.InvalidInputError, "futures"):
        core.update_agent("ann", skills={"futures": level})


def test_agent_skill_names_must_be_strings(core: Any) -> None:
    with refused(core, _core.InvalidInputError, "1"):
        core.add_agent("dan", "bj", {1: 5})


@pytest.mark.parametrize("level", [11, -1, 2.5])
def test_required_levels_out_of_range(core: Any, level: Any) -> None:
    with refused(core, _core.InvalidInputError, "hk"):
        core.enqueue(
            "new", "trading", "trading", "bj", NOW, required=[("trading", 1), ("hk", level)]
        )


@pytest.mark.parametrize(
    ("names", "op"),
    [
        (
            ("hk",),
            lambda c: c.enqueue("n", "hk", "other", "bj", NOW, required=[("hk", 1), ("hk", 2)]),
        ),
        (("hk",), lambda c: c.enqueue("n", "hk", "other", "bj", NOW, preferred=[("hk", -1.0)])),
        (("hk",), lambda c: c.enqueue("n", "hk", "other", "bj", NOW, preferred=[("hk", math.nan)])),
        (("hk",), lambda c: c.enqueue("n", "hk", "other", "bj", NOW, preferred=[("hk", math.inf)])),
        ((), lambda c: c.enqueue("", "hk", "other", "bj", NOW)),
        ((), lambda c: c.add_agent("", "bj", {})),
        ((), lambda c: c.add_agent("dan", "", {})),
        (("max_calls",), lambda c: c.add_agent("dan", "bj", {}, max_calls=0)),
        (("max_calls",), lambda c: c.update_agent("ann", max_calls=-1)),
        (("calls_taken",), lambda c: c.add_agent("dan", "bj", {}, calls_taken=-1)),
        (("talk_time",), lambda c: c.add_agent("dan", "bj", {}, talk_time=-0.5)),
        (("talk_time",), lambda c: c.update_agent("ann", talk_time=math.nan)),
        (("talk_seconds",), lambda c: c.finish("busy", NOW, -1.0)),
        (("talk_seconds",), lambda c: c.finish("busy", NOW, math.inf)),
        (("bogus",), lambda c: c.set_agent_state("ann", "bogus", NOW)),
        (("reserved",), lambda c: c.set_agent_state("cat", "reserved", NOW)),
    ],
)
def test_bad_input(core: Any, names: tuple[str, ...], op: Callable[[Any], Any]) -> None:
    with refused(core, _core.InvalidInputError, *names):
        op(core)


# --- time --------------------------------------------------------------------------------------

TIMED: list[Callable[[Any, float], Any]] = [
    lambda c, t: c.set_policy(POLICY, t),
    lambda c, t: c.set_agent_state("cat", "break", t),
    lambda c, t: c.enqueue("new", "trading", "trading", "bj", t),
    lambda c, t: c.remove_call("w1", t),
    lambda c, t: c.requeue("busy", t),
    lambda c, t: c.finish("busy", t, 10.0),
    lambda c, t: c.best_agent("w1", t),
    lambda c, t: c.best_call("cat", t),
    lambda c, t: c.assign("w2", "cat", t),
    lambda c, t: c.dispatch_call("w2", t),
    lambda c, t: c.dispatch_agent("cat", t),
    lambda c, t: c.match_all(t),
    lambda c, t: c.call_position("w1", t),
    lambda c, t: c.expected_wait("trading", "trading", t),
    lambda c, t: c.queue_stats("trading", t),
    lambda c, t: c.explain("w1", "ann", t),
]


@pytest.mark.parametrize("op", TIMED)
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, -1.0, NOW - 0.001])
def test_bad_times(core: Any, op: Callable[[Any, float], Any], bad: float) -> None:
    with refused(core, _core.InvalidTimeError, "now"):
        op(core, bad)


@pytest.mark.parametrize("at", [NOW + 0.001, math.nan, math.inf, -1.0])
def test_bad_enqueued_at(core: Any, at: float) -> None:
    with refused(core, _core.InvalidTimeError, "enqueued_at"):
        core.enqueue("new", "trading", "trading", "bj", NOW, enqueued_at=at)


# --- operations that do not fit the state ---------------------------------------------------------


@pytest.mark.parametrize(
    ("names", "op"),
    [
        (("w1",), lambda c: c.requeue("w1", NOW)),
        (("w1",), lambda c: c.finish("w1", NOW, 10.0)),
        (("busy",), lambda c: c.assign("busy", "cat", NOW)),
        (("busy",), lambda c: c.best_agent("busy", NOW)),
        (("busy",), lambda c: c.dispatch_call("busy", NOW)),
        (("busy",), lambda c: c.call_position("busy", NOW)),
        (("ann",), lambda c: c.remove_agent("ann")),
        (("bob",), lambda c: c.best_call("bob", NOW)),  # on break: not offerable
        (("bob",), lambda c: c.dispatch_agent("bob", NOW)),
        (("ann", "w1"), lambda c: c.assign("w1", "ann", NOW)),  # w1 waits for its home centre sz
    ],
)
def test_invalid_state(core: Any, names: tuple[str, ...], op: Callable[[Any], Any]) -> None:
    with refused(core, _core.InvalidStateError, *names):
        op(core)


# --- policies ----------------------------------------------------------------------------------


@given(bad=bad_policies())
def test_bad_policies_are_refused_and_named(bad: tuple[dict[str, Any], str, str]) -> None:
    policy, kind, fragment = bad
    with pytest.raises(_core.PolicyError) as caught:
        _core.Core(policy)
    assert fragment in str(caught.value), (kind, str(caught.value))
    core = populated()
    with refused(core, _core.PolicyError, fragment):
        core.set_policy(policy, NOW)


@pytest.mark.parametrize(
    ("fragment", "change"),
    [
        (
            "queues[0].steps[1].scope",
            {"steps": [{"scope": "any"}, {"after": 5.0, "scope": "centre"}]},
        ),
        (
            "queues[0].steps[2].level_delta",
            {"steps": [{}, {"after": 5.0, "level_delta": 3}, {"after": 9.0, "level_delta": 2}]},
        ),
        (
            "queues[0].steps[1].preferred_only",
            {"steps": [{"preferred_only": False}, {"after": 5.0, "preferred_only": True}]},
        ),
        ("queues[0].steps[1].after", {"steps": [{"after": 0.0}, {"after": 0.0, "scope": "any"}]}),
        (
            "queues[0].steps[2].after",
            {"steps": [{}, {"after": 9.0}, {"after": 5.0, "scope": "any"}]},
        ),
        ("queues[0].steps[0].after", {"steps": [{"after": 1.0}]}),
        ("queues[0].steps", {"steps": []}),
        ("queues[0].aht", {"aht": -5.0}),
        ("queues[0].weight", {"weight": math.inf}),
        ("queues[0].required[0]", {"required": [["trading", 11]]}),
    ],
)
def test_contradictory_or_invalid_queues(core: Any, fragment: str, change: dict[str, Any]) -> None:
    policy = {**POLICY, "queues": [{**POLICY["queues"][0], **change}, POLICY["queues"][1]]}
    with refused(core, _core.PolicyError, fragment):
        core.set_policy(policy, NOW)


@pytest.mark.parametrize(
    ("fragment", "policy"),
    [
        (
            "classes[1].ageing",
            {**POLICY, "classes": [POLICY["classes"][0], {"name": "registered", "ageing": 0.0}]},
        ),
        ("classes[0].ageing", {**POLICY, "classes": [{"name": "trading", "ageing": -1.0}]}),
        ("classes[0].base", {**POLICY, "classes": [{"name": "trading", "base": math.nan}]}),
        ("selection.strategy", {**POLICY, "selection": {"strategy": "round_robin"}}),
        ("selection.idle", {**POLICY, "selection": {"strategy": "weighted", "idle": -1.0}}),
        ("tj", {**POLICY, "regions": {"north": ["bj", "tj"], "south": ["tj", "gz"]}}),
        ("classes", {**POLICY, "classes": []}),
        ("queues", {**POLICY, "queues": []}),
    ],
)
def test_invalid_policies(core: Any, fragment: str, policy: dict[str, Any]) -> None:
    with refused(core, _core.PolicyError, fragment):
        core.set_policy(policy, NOW)


@pytest.mark.parametrize("missing", ["queues", "classes"])
def test_a_policy_that_drops_a_waiting_calls_queue_or_class_is_refused(
    core: Any, missing: str
) -> None:
    if missing == "queues":
        policy = {**POLICY, "queues": [POLICY["queues"][0]]}  # w2 waits in hk
        names = ("hk", "w2")
    else:
        policy = {**POLICY, "classes": POLICY["classes"][:2]}  # w1 is of class other
        names = ("other", "w1")
    with refused(core, _core.PolicyError, *names):
        core.set_policy(policy, NOW)


# --- panics ------------------------------------------------------------------------------------


def test_a_panic_is_an_internal_error_and_the_core_still_works(core: Any) -> None:
    with refused(core, _core.InternalError):
        core._panic_for_test()
    with refused(core, _core.InternalError):
        core._panic_for_test()
    core.set_agent_state("bob", "available", NOW)
    assert core.match_all(NOW + 60.0) == [("w2", "cat"), ("w1", "ann")]
    assert core.waiting_calls() == []
