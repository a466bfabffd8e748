"""Traffic profiles: the examples load, and every mistake names the file, the key and the fix."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

pytest.importorskip("router._core", reason="the Rust core router._core is not built yet")

from router.config import Agent, Config, load_config
from router.sim.capacity import plan_shifts, scaled_agents
from router.sim.profile import (
    CallbackModel,
    Profile,
    ProfileError,
    Shift,
    Stream,
    check_profile,
    clock_text,
    load_profile,
)

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="module")
def national() -> Config:
    return load_config(EXAMPLES / "national_27plus1.toml")


@pytest.fixture(scope="module")
def single() -> Config:
    return load_config(EXAMPLES / "single_centre_50.toml")


GOOD = """
[sim]
start = "08:00"
end = "18:00"
[arrivals]
rates = [["08:00", 100], ["09:30", 500]]
classes = { trading = 1, other = 1 }
queues = { trading = 3, advisory = 1 }
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "day.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_examples_load(national: Config, single: Config) -> None:
    day = load_profile(EXAMPLES / "trading_day.toml", national)
    assert (day.start, day.end, day.interval) == (0.0, 86400.0, 1800.0)
    assert len(day.streams) == 3 * 6  # classes x queues
    assert day.sl_threshold("trading") == 10.0 and day.sl_threshold("other") == 20.0
    assert day.patience_dist("trading").mean == 90.0
    assert day.patience_dist("other").mean == 120.0
    assert day.handle_dist(national.queue("advisory")).mean == 300.0  # the queue's aht
    total_at_open = sum(s.rate_at(9.5 * 3600) for s in day.streams)
    assert total_at_open == pytest.approx(5400.0)
    assert len(day.shifts) == 5
    load_profile(EXAMPLES / "single_centre_day.toml", single)


def test_mix_and_streams(tmp_path: Path, single: Config) -> None:
    profile = load_profile(
        write(
            tmp_path,
            GOOD
            + """
[[arrivals.streams]]
class = "registered"
queue = "futures"
rates = [["10:00", 30], ["11:00", 0]]
""",
        ),
        single,
    )
    rates = {(s.cls, s.queue): s.rate_at(10 * 3600) for s in profile.streams}
    assert rates[("trading", "trading")] == pytest.approx(500 * 0.5 * 0.75)
    assert rates[("other", "advisory")] == pytest.approx(500 * 0.5 * 0.25)
    assert rates[("registered", "futures")] == 30.0
    assert profile.start == 8 * 3600 and profile.patience.kind == "none"
    assert profile.callback == CallbackModel()  # everyone reachable at once unless told


def test_callback_behaviour(tmp_path: Path, single: Config) -> None:
    text = (
        GOOD
        + """
[callback]
accept = 0.9
answer = 0.75
pickup = 6
ring_timeout = 25
attempts = 2
retry_after = 120
"""
    )
    cb = load_profile(write(tmp_path, text), single).callback
    assert cb == CallbackModel(0.9, 0.75, 6.0, 25.0, 2, 120.0)


@pytest.mark.parametrize(
    ("text", "key", "fix"),
    [
        (GOOD.replace("500]]", "-5]]"), "arrivals.rates[1]", "must be >= 0 calls per hour"),
        (GOOD.replace('"09:30"', '"9h30"'), "arrivals.rates[1]", 'write "HH:MM"'),
        (GOOD.replace('"09:30"', '"07:00"'), "arrivals.rates[1]", "sort the rates"),
        (GOOD.replace("trading = 1,", "tradng = 1,"), "arrivals.classes.tradng", "'trading'?"),
        (GOOD.replace("advisory = 1", "advisroy = 1"), "arrivals.queues.advisroy", "'advisory'"),
        (GOOD.replace("[sim]", "[sim]\nintervl = 60"), "sim.intervl", "did you mean 'interval'"),
        (GOOD.replace('end = "18:00"', 'end = "07:00"'), "sim.end", "must be after sim.start"),
        (GOOD + '[patience]\ndist = "weibull"\n', "patience.dist", "not one of exponential"),
        (GOOD + '[patience]\ndist = "exponential"\n', "patience.mean", "give the mean"),
        (GOOD + '[handle]\ndist = "none"\n', "handle.dist", "not one of"),
        (GOOD + "[handle.queues.nope]\nmean = 3\n", "handle.queues.nope", "unknown queue"),
        (GOOD + '[[shifts]]\nstart = "17:00"\nend = "09:00"\n', "shifts[0].end", "midnight"),
        (GOOD + '[[shifts]]\nstart = "08:00"\nend = "09:00"\nshare = 2\n', "shifts[0].share", ""),
        (GOOD.replace("queues = { trading = 3, advisory = 1 }", ""), "arrivals.queues", "share"),
        ("[sim]\nseed = 3\n", "arrivals", "add an [arrivals] table"),
        (GOOD + "[callback]\naccept = 1.5\n", "callback.accept", "a share in [0, 1]"),
        (GOOD + "[callback]\nanswer = -1\n", "callback.answer", "must be >= 0"),
        (GOOD + "[callback]\nattempts = 0\n", "callback.attempts", "whole number >= 1"),
        (GOOD + "[callback]\nring_timeout = 0\n", "callback.ring_timeout", "must be > 0"),
        (GOOD + '[callback]\nclass = "other"\n', "callback.class", "under [calls.callback]"),
        (GOOD + "[callback]\nacept = 1\n", "callback.acept", "did you mean 'accept'"),
    ],
)
def test_mistakes_name_file_and_key(
    tmp_path: Path, single: Config, text: str, key: str, fix: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ProfileError) as info:
        load_profile(path, single)
    message = str(info.value)
    assert f"{path}: {key}: " in message, message
    assert fix in message


def test_unparseable_and_missing_files(tmp_path: Path, single: Config) -> None:
    with pytest.raises(ProfileError, match="TOML syntax error"):
        load_profile(write(tmp_path, "[arrivals\nrates = 3"), single)
    with pytest.raises(ProfileError, match="no such file"):
        load_profile(tmp_path / "nope.toml", single)


def test_a_queue_nobody_staffs_is_an_error(national: Config) -> None:
    no_analysts = dataclasses.replace(
        national, agents=tuple(a for a in national.agents if "analyst" not in a.skills)
    )
    profile = Profile(streams=(Stream("trading", "analyst", ((0.0, 10.0),)),))
    with pytest.raises(ProfileError) as info:
        check_profile(profile, no_analysts)
    assert "queue 'analyst' is offered calls but no agent" in str(info.value)
    assert "needs analyst >= 6" in str(info.value)
    # Staffed in the config but nobody on shift is an error too.
    shifts = (Shift(0.0, 3600.0, 1.0, prefix="hq-trd"),)
    with pytest.raises(ProfileError, match="is on any shift"):
        check_profile(dataclasses.replace(profile, shifts=shifts), national)
    # A queue with no calls needs nobody.
    check_profile(Profile(streams=(Stream("trading", "analyst", ((0.0, 0.0),)),)), no_analysts)


def test_unknown_names_in_code_built_profiles(single: Config) -> None:
    profile = Profile(streams=(Stream("vip", "trading", ((0.0, -1.0),), {"mars": 1.0}),))
    with pytest.raises(ProfileError) as info:
        check_profile(profile, single)
    text = str(info.value)
    assert "arrivals.streams[0].class: unknown class 'vip'" in text
    assert "arrivals.streams[0].rates[0]: a rate must be >= 0" in text
    assert "arrivals.streams[0].homes.mars: unknown centre" in text


def test_scaled_agents_keep_proportions(national: Config) -> None:
    agents = scaled_agents(national.agents, 12.14)
    assert len(agents) == 5001
    assert len({a.id for a in agents}) == len(agents)
    hq = sum(a.centre == "hq" for a in agents)
    assert hq == pytest.approx(12.14 * sum(a.centre == "hq" for a in national.agents), abs=2)
    assert scaled_agents(national.agents, 1.0) == list(national.agents)
    assert len(scaled_agents(national.agents, 0.5)) == 206


def test_shifts_split_groups_by_largest_remainder() -> None:
    agents = [Agent(f"a{i}", "x", {"trading": 5}) for i in range(10)]
    agents += [Agent("b0", "y", {"trading": 5})]
    shifts = (Shift(0.0, 100.0, 0.25), Shift(50.0, 200.0, 0.45), Shift(150.0, 300.0, 0.1))
    profile = Profile(streams=(), start=0.0, end=250.0, shifts=shifts)
    plan = plan_shifts(agents, profile)
    group = [plan[i] for i in range(10)]
    # quotas 2.5, 4.5, 1.0 -> 8 of 10 work: 2 + 1 extra by remainder, 4 + 1, 1 (order is stable)
    assert sum(p == (0.0, 100.0) for p in group) + sum(p == (50.0, 200.0) for p in group) == 7
    assert sum(p == (150.0, 250.0) for p in group) == 1  # clipped to the period
    assert sum(p is None for p in group) == 2
    assert plan[10] in ((50.0, 200.0), None)  # one agent: the biggest remainder wins
    no_shifts = plan_shifts(agents, Profile(streams=(), start=10.0, end=20.0))
    assert no_shifts == [(10.0, 20.0)] * 11


def test_clock_text() -> None:
    assert clock_text(0) == "00:00"
    assert clock_text(9.5 * 3600) == "09:30"
    assert clock_text(86400) == "24:00"
    assert clock_text(3661) == "01:01:01"
