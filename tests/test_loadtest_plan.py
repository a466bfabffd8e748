"""The load harness's plan: load profiles (rates, mixes, [sipp]), the standard shapes, the call
schedule SIPp plays, and the injection files."""

from __future__ import annotations

import math
import tomllib
from collections import Counter
from pathlib import Path

import pytest

from router.config import Config, load_config
from router.loadtest.plan import (
    DEFAULT_NUMBERS,
    LoadProfile,
    load_load_profile,
    make_plan,
    parse_load_profile,
    shape_profile,
    write_csv,
)
from router.sim.profile import ProfileError

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "examples" / "single_centre_50.toml"
PROFILES = ROOT / "bench" / "sipp" / "profiles"


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(CONFIG)


BASE = """
[sim]
end = "00:01:00"
[arrivals]
rates = [["00:00", 3600], ["00:00:30", 7200]]
classes = { trading = 1, registered = 1, other = 2 }
queues = { trading = 1 }
[patience]
dist = "none"
"""


def load_text(text: str, config: Config) -> LoadProfile:
    return parse_load_profile(tomllib.loads(text), Path("load.toml"), config)


def problems(text: str, config: Config) -> str:
    with pytest.raises(ProfileError) as exc:
        load_text(text, config)
    return str(exc.value)


def test_steps_merge_the_streams_into_calls_per_second(config: Config) -> None:
    load = load_text(BASE, config)
    assert load.steps() == [(0.0, 1.0), (30.0, 2.0)]
    assert load.expected_calls() == pytest.approx(90.0)
    assert load.duration == 60.0


def test_the_plan_places_calls_evenly_at_each_rate_with_the_class_mix(config: Config) -> None:
    plan = make_plan(load_text(BASE, config), seed=7)
    times = [c.at for c in plan.callers]
    assert len(plan.callers) == math.ceil(90 * 1.1)
    assert times[:3] == [0.0, 1.0, 2.0]
    assert times[30:33] == pytest.approx([30.0, 30.5, 31.0])
    assert all(t == 60.0 for t in times[90:])  # the margin, in case SIPp runs a little fast
    mix = Counter(c.cls for c in plan.callers)
    assert mix["other"] > mix["trading"] and mix["other"] > mix["registered"]
    # Numbers come from each class's range, one after the other.
    trading = [int(c.number) for c in plan.callers if c.cls == "trading"]
    first, _ = DEFAULT_NUMBERS["trading"]
    assert trading == list(range(first, first + len(trading)))
    # No patience: callers hold until max_hold (default one hour).
    assert {c.patience_ms for c in plan.callers} == {3_600_000}
    # Every caller presses the trading queue's digit (no terminator by default).
    assert {(c.digit1, c.digit2, c.ivr_ms) for c in plan.callers} == {("1", "-", 3000)}
    # Two agent lines per caller (retries after a miss), all answering by default.
    assert len(plan.agents) == 2 * len(plan.callers) + 100
    assert {a.behaviour for a in plan.agents} == {"answer"}


def test_sipp_table_sets_digits_numbers_ivr_and_agents(config: Config) -> None:
    text = (
        BASE
        + """
[sipp]
service = "95555"
ivr_share = 0.0
terminator = ""
max_hold = 30
[sipp.digits]
trading = "7"
[sipp.numbers]
trading = ["100", "101"]
[sipp.agents]
ring = 2.5
no_answer = 0.5
busy = 0.5
talk = { dist = "constant", mean = 42 }
"""
    )
    load = load_text(text, config)
    assert load.spec.service == "95555" and load.spec.digits["trading"] == "7"
    plan = make_plan(load, seed=1)
    assert {(c.digit1, c.digit2, c.ivr_ms) for c in plan.callers} == {("-", "-", 0)}
    assert {c.number for c in plan.callers if c.cls == "trading"} == {"100", "101"}
    assert {c.patience_ms for c in plan.callers} == {30_000}
    assert {a.behaviour for a in plan.agents} == {"noanswer", "busy"}
    assert {(a.ring_ms, a.talk_ms) for a in plan.agents} == {(2500, 42_000)}


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ('[sipp]\nsrvice = "1"\n', "load.toml: sipp.srvice: unknown key"),
        ('[sipp]\nservice = "9 0"\n', "sipp.service: must be the number callers dial"),
        ('[sipp.numbers]\ntrading = ["200", "100"]\n', "sipp.numbers.trading: must be"),
        (
            '[sipp.numbers]\ntrading = ["100", "200"]\nregistered = ["150", "300"]\n',
            "the ranges of trading and registered overlap",
        ),
        ('[sipp.digits]\ntrading = "12"\n', "sipp.digits.trading: must be one key"),
        ('[sipp.digits]\nsales = "1"\n', "sipp.digits.sales: unknown queue"),
        ("[sipp.agents]\nno_answer = 0.7\nbusy = 0.6\n", "no_answer + busy must be at most 1"),
        ('[sipp.agents]\nring = { dist = "gamma", mean = 1 }\n', "sipp.agents.ring.dist"),
        ("[sipp]\nivr_share = 2\n", "sipp.ivr_share: must be a share between 0 and 1"),
        ("[sipp]\nmax_hold = -5\n", "sipp.max_hold: must be > 0 seconds"),
        ("[sipp]\nivr_timeout = -1\n", "sipp.ivr_timeout: must be >= 0 seconds"),
    ],
)
def test_sipp_table_mistakes_name_the_key(config: Config, extra: str, expected: str) -> None:
    assert expected in problems(BASE + extra, config)


def test_profile_mistakes_are_reported_with_the_sipp_ones(config: Config) -> None:
    text = BASE.replace('end = "00:01:00"', "").replace("3600]", "-5]") + "[sipp]\nbusy = 1\n"
    message = problems(text, config)
    assert "sim.end: missing; give the length of the run" in message
    assert "arrivals.rates[0]: the rate must be >= 0 calls per hour, not -5" in message
    assert "sipp.busy: unknown key" in message


def test_a_profile_with_no_calls_is_refused(config: Config) -> None:
    assert "no call would be placed" in problems(
        BASE.replace("3600]", "0]").replace("7200]", "0]"), config
    )


def test_unreadable_profiles_name_the_file(tmp_path: Path, config: Config) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[sim\nend = 1\n")
    with pytest.raises(ProfileError, match=r"bad\.toml: TOML syntax error"):
        load_load_profile(bad, config)
    with pytest.raises(ProfileError, match="no such file"):
        load_load_profile(tmp_path / "missing.toml", config)


@pytest.mark.parametrize("name", ["steady", "ramp", "market_open", "lab_short_calls"])
def test_example_profiles_load(name: str, config: Config) -> None:
    load = load_load_profile(PROFILES / f"{name}.toml", config)
    assert load.expected_calls() > 100
    assert make_plan(load).callers


def test_shapes(config: Config) -> None:
    steady = shape_profile("steady", 10, 60, config)
    assert len(steady.steps()) == 1 and steady.steps()[0][1] == pytest.approx(10.0)
    ramp = shape_profile("ramp", 10, 100, config)
    assert [round(c, 6) for _, c in ramp.steps()] == [float(i) for i in range(1, 11)]
    spike = shape_profile("spike", 10, 60, config)
    assert [(t, round(c, 6)) for t, c in spike.steps()] == [(0.0, 2.0), (20.0, 10.0), (30.0, 2.0)]
    assert spike.profile.sl_threshold("trading") == 10.0
    with pytest.raises(ValueError, match="the rate must be > 0"):
        shape_profile("steady", -1, 60, config)
    with pytest.raises(ValueError, match="unknown shape"):
        shape_profile("square", 1, 60, config)


def test_injection_file_format(tmp_path: Path, config: Config) -> None:
    plan = make_plan(shape_profile("steady", 1, 5, config), seed=2)
    path = write_csv(tmp_path / "callers.csv", (c.row() for c in plan.callers))
    lines = path.read_text().splitlines()
    assert lines[0] == "SEQUENTIAL"
    first = plan.callers[0]
    assert lines[1] == ";".join(
        str(v)
        for v in (first.number, first.cls, first.queue, first.ivr_ms, first.digit1, first.digit2,
                  first.patience_ms)
    )  # fmt: skip
    assert all(len(line.split(";")) == 7 for line in lines[1:])


def test_callers_who_press_nothing_are_reported_in_the_default_queue(config: Config) -> None:
    text = BASE.replace("queues = { trading = 1 }", "queues = { trading = 1, advisory = 1 }")
    everyone = make_plan(load_text(text, config), seed=3)
    assert {c.queue for c in everyone.callers} == {"trading", "advisory"}
    assert {c.digit1 for c in everyone.callers if c.queue == "advisory"} == {"2"}
    nobody = make_plan(load_text(text + "[sipp]\nivr_share = 0.0\n", config), seed=3)
    assert {c.queue for c in nobody.callers} == {"trading"}  # single_centre_50's default_queue
    no_key = make_plan(load_text(text + '[sipp.digits]\nadvisory = ""\n', config), seed=3)
    assert {c.queue for c in no_key.callers} == {"trading"}


def test_ivr_timeout_holds_callers_who_press_nothing_before_they_queue(config: Config) -> None:
    """On real FreeSWITCH the shipped IVR keeps a caller who presses nothing ~12 s (two prompts
    and 5 s timeouts) before it parks: `ivr_timeout` puts that into the plan (caller.xml's
    field3), so that their wait and patience start in the queue; callers with digits keep theirs."""
    text = BASE.replace("queues = { trading = 1 }", "queues = { trading = 1, advisory = 1 }")
    plan = make_plan(load_text(text + "[sipp]\nivr_share = 0.5\nivr_timeout = 12\nivr_delay = 2\n", config), seed=5)
    assert {c.ivr_ms for c in plan.callers if c.digit1 == "-"} == {12_000}
    assert {c.ivr_ms for c in plan.callers if c.digit1 != "-"} == {2_000}
    assert {c.ivr_ms for c in make_plan(load_text(text + "[sipp]\nivr_share = 0.0\n", config)).callers} == {0}
