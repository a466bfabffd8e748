"""Hypothesis strategies shared by the core's property and differential tests.

The universes are small on purpose (4 centres in 2 regions plus one on its own, 4 skills, 3 queues,
3 classes, a handful of ids) so that collisions, ties and relaxation boundaries happen often. Values
come from coarse grids part of the time (to force exact ties) and are arbitrary floats otherwise.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

CENTRES = ["bj", "tj", "gz", "north"]  # "north" is also a region name: it must not be confused
REGIONS = ["north", "south"]
SKILLS = ["trading", "hk", "futures", "cantonese"]
QUEUES = ["q_trading", "q_hk", "q_futures"]
CLASSES = ["trading", "registered", "other"]
AGENT_IDS = ["a0", "a1", "a2", "a3", "a4"]
CALL_IDS = ["c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7"]
STATES = ["logged_out", "available", "reserved", "ringing", "on_call", "wrap_up", "break"]


def gridded(grid: list[float], lo: float, hi: float) -> st.SearchStrategy[float]:
    """A value from `grid` half of the time, an arbitrary finite float in [lo, hi] otherwise."""
    return st.one_of(
        st.sampled_from(grid), st.floats(lo, hi, allow_nan=False, allow_infinity=False)
    )


def deltas() -> st.SearchStrategy[float]:
    """A time step: zero, a round number, or any float (fractional included)."""
    return st.one_of(
        st.just(0.0),
        st.sampled_from([0.5, 1.0, 5.0, 10.0, 30.0, 60.0]),
        st.floats(0.0, 120.0, allow_nan=False, allow_infinity=False),
    )


# Agents' levels lean high and requirements lean low, so that matches are frequent.
agent_levels: st.SearchStrategy[int] = st.one_of(st.sampled_from([5, 8, 10]), st.integers(0, 10))
required_levels: st.SearchStrategy[int] = st.one_of(st.sampled_from([0, 3, 5]), st.integers(0, 10))


def skill_maps(min_size: int = 0) -> st.SearchStrategy[dict[str, int]]:
    """An agent's skills."""
    return st.dictionaries(st.sampled_from(SKILLS), agent_levels, min_size=min_size, max_size=4)


def requirements(max_size: int = 2) -> st.SearchStrategy[list[tuple[str, int]]]:
    """Required skills, unique, in a random order."""
    return st.lists(
        st.tuples(st.sampled_from(SKILLS), required_levels),
        max_size=max_size,
        unique_by=lambda p: p[0],
    )


def preferences() -> st.SearchStrategy[list[tuple[str, float]]]:
    """Preferred skills with weights."""
    return st.lists(
        st.tuples(st.sampled_from(SKILLS), gridded([0.0, 0.5, 1.0, 2.0], 0.0, 5.0)), max_size=2
    )


@st.composite
def steps(draw: st.DrawFn) -> list[dict[str, Any]]:
    """1–3 relaxation steps that only relax; fields equal to the previous step are often omitted."""
    scope_rank = 0
    delta = 0
    preferred_only = True
    after = 0.0
    out: list[dict[str, Any]] = []
    for i in range(draw(st.integers(1, 3))):
        prev = (scope_rank, delta, preferred_only)  # step 0 inherits the defaults, equal to these
        if i > 0:
            after += draw(gridded([5.0, 10.0, 30.0, 60.0], 0.01, 100.0))
            scope_rank = draw(st.integers(scope_rank, 2))
            delta = draw(st.integers(delta, min(delta + 3, 10)))
            preferred_only = preferred_only and draw(st.booleans())
        step: dict[str, Any] = {"after": after}
        if scope_rank != prev[0] or draw(st.booleans()):
            step["scope"] = ["centre", "region", "any"][scope_rank]
        if delta != prev[1] or draw(st.booleans()):
            step["level_delta"] = delta
        if preferred_only != prev[2] or draw(st.booleans()):
            step["preferred_only"] = preferred_only
        out.append(step)
    return out


@st.composite
def policies(
    draw: st.DrawFn, all_queues: bool = False, all_classes: bool = False
) -> dict[str, Any]:
    """A valid policy over the small universe, with any of the four strategies."""
    class_names = (
        CLASSES
        if all_classes
        else draw(st.lists(st.sampled_from(CLASSES), min_size=1, max_size=3, unique=True))
    )
    shared_rate = draw(st.booleans())
    rate = draw(gridded([1.0, 0.5, 2.0], 0.01, 10.0))
    classes = [
        {
            "name": name,
            "base": draw(gridded([0.0, 100.0, 200.0], -500.0, 500.0)),
            "ageing": rate if shared_rate else draw(gridded([1.0, 0.5, 2.0], 0.01, 10.0)),
        }
        for name in class_names
    ]
    queue_names = (
        QUEUES
        if all_queues
        else draw(st.lists(st.sampled_from(QUEUES), min_size=1, max_size=3, unique=True))
    )
    queues = [
        {
            "name": name,
            "weight": draw(gridded([0.0, 10.0, 50.0], -100.0, 100.0)),
            "aht": draw(gridded([60.0, 180.0], 1.0, 600.0)),
            "required": [list(p) for p in draw(requirements())],
            "steps": draw(steps()),
        }
        for name in queue_names
    ]
    regions: dict[str, list[str]] = {}
    for centre in CENTRES:
        region = draw(st.sampled_from([*REGIONS, None]))
        if region is not None:
            regions.setdefault(region, []).append(centre)
    strategy = draw(
        st.sampled_from(["longest_idle", "least_occupied", "highest_proficiency", "weighted"])
    )
    selection: dict[str, Any] = {"strategy": strategy}
    keys = ["idle", "talk", "skill", "home"] if strategy == "weighted" else ["home"]
    for key in keys:
        if draw(st.booleans()):
            selection[key] = draw(gridded([0.0, 1.0, 10.0, 50.0], 0.0, 100.0))
    policy: dict[str, Any] = {"classes": classes, "queues": queues, "selection": selection}
    keep_empty = draw(st.booleans())  # an empty "regions" table is valid too
    if regions or keep_empty:
        policy["regions"] = regions
    skill_weights = draw(
        st.dictionaries(st.sampled_from(SKILLS), gridded([0.0, 0.5, 1.0, 2.0], 0.0, 5.0))
    )
    keep_empty = draw(st.booleans())
    if skill_weights or keep_empty:
        policy["skill_weights"] = skill_weights
    return policy


CORRUPTIONS = [
    "narrow_scope",
    "decrease_delta",
    "preferred_back",
    "after_equal",
    "after_decreasing",
    "first_after",
    "zero_ageing",
    "negative_ageing",
    "bad_strategy",
    "two_regions",
    "zero_aht",
    "nan_base",
    "level_11",
    "delta_11",
    "no_steps",
]


@st.composite
def bad_policies(draw: st.DrawFn) -> tuple[dict[str, Any], str, str]:
    """(an invalid policy, the kind of corruption, a fragment its error message must contain)."""
    policy = draw(policies())
    kind = draw(st.sampled_from(CORRUPTIONS))
    qi = draw(st.integers(0, len(policy["queues"]) - 1))
    ci = draw(st.integers(0, len(policy["classes"]) - 1))
    queue = policy["queues"][qi]
    q = f"queues[{qi}]"
    t = draw(st.sampled_from([5.0, 10.0, 30.0]))
    fragment: str
    if kind == "narrow_scope":
        queue["steps"] = [{"after": 0.0, "scope": "region"}, {"after": t, "scope": "centre"}]
        fragment = f"{q}.steps[1].scope"
    elif kind == "decrease_delta":
        queue["steps"] = [{"after": 0.0, "level_delta": 2}, {"after": t, "level_delta": 1}]
        fragment = f"{q}.steps[1].level_delta"
    elif kind == "preferred_back":
        queue["steps"] = [
            {"after": 0.0, "preferred_only": False},
            {"after": t, "scope": "any"},
            {"after": 2 * t, "preferred_only": True},
        ]
        fragment = f"{q}.steps[2].preferred_only"
    elif kind == "after_equal":
        queue["steps"] = [{"after": 0.0}, {"after": t}, {"after": t, "scope": "any"}]
        fragment = f"{q}.steps[2].after"
    elif kind == "after_decreasing":
        queue["steps"] = [{"after": 0.0}, {"after": t}, {"after": t / 2, "scope": "any"}]
        fragment = f"{q}.steps[2].after"
    elif kind == "first_after":
        queue["steps"] = [{"after": t, "scope": "centre"}]
        fragment = f"{q}.steps[0].after"
    elif kind == "zero_ageing":
        policy["classes"][ci]["ageing"] = 0.0
        fragment = f"classes[{ci}].ageing"
    elif kind == "negative_ageing":
        policy["classes"][ci]["ageing"] = -1.0
        fragment = f"classes[{ci}].ageing"
    elif kind == "bad_strategy":
        policy["selection"] = {"strategy": "random"}
        fragment = "selection.strategy"
    elif kind == "two_regions":
        policy["regions"] = {"north": ["bj", "tj"], "south": ["gz", "tj"]}
        fragment = "tj"
    elif kind == "zero_aht":
        queue["aht"] = 0.0
        fragment = f"{q}.aht"
    elif kind == "nan_base":
        policy["classes"][ci]["base"] = float("nan")
        fragment = f"classes[{ci}].base"
    elif kind == "level_11":
        queue["required"] = [["trading", 11]]
        fragment = f"{q}.required[0]"
    elif kind == "delta_11":
        queue["steps"] = [{"after": 0.0}, {"after": t, "level_delta": 11}]
        fragment = f"{q}.steps[1].level_delta"
    else:
        queue["steps"] = []
        fragment = f"{q}.steps"
    return policy, kind, fragment
