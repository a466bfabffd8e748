"""The capacity simulator drives the real core: relaxation, shifts, abandonment, determinism, common
random numbers across policies, partial runs, and the report, CSV and plots."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("router._core", reason="the Rust core router._core is not built yet")

from router.config import Config, load_config, parse_config
from router.sim.capacity import (
    ANSWERED,
    F_RELAXED,
    Progress,
    SimResult,
    baseline_policy,
    simulate,
)
from router.sim.profile import Dist, Profile, Shift, Stream, load_profile
from router.sim.report import format_report, write_outputs

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def tiny_config(tmp_path: Path, agents: dict[str, int]) -> Config:
    """Two classes, one queue that waits 30 s for the home centre and then takes anyone."""
    data: dict[str, Any] = {
        "router": {"centre": "a"},
        "classes": [
            {"name": "trading", "base": 200.0, "ageing": 1.0},
            {"name": "other", "base": 0.0, "ageing": 1.0},
        ],
        "queues": [
            {
                "name": "q",
                "aht": 100.0,
                "required": {"s": 1},
                "steps": [{"after": 0.0, "scope": "centre"}, {"after": 30.0, "scope": "any"}],
            }
        ],
        "centres": [{"name": name, "lines": 10} for name in ("a", "b")],
        "rosters": [
            {"centre": centre, "prefix": centre, "count": n, "skills": {"s": 5}}
            for centre, n in agents.items()
        ],
    }
    return parse_config(data, tmp_path / "tiny.toml")


def test_calls_overflow_exactly_when_the_policy_relaxes(tmp_path: Path) -> None:
    config = tiny_config(tmp_path, {"b": 2})  # nobody at home centre a
    profile = Profile(
        streams=(Stream("trading", "q", ((0.0, 20.0),), {"a": 1.0}),),
        end=4 * 3600.0,
        interval=3600.0,
        handle=Dist("constant", 60.0),
    )
    result = simulate(config, profile)
    assert result.calls > 40 and result.partial is None
    waits = [ans - arr for ans, arr in zip(result.answered_at, result.arrival, strict=True)]
    assert all(state == ANSWERED for state in result.state)
    assert min(waits) == pytest.approx(30.0)  # not a moment before the "any" step
    day = result.day()
    assert day.service_level == 0.0 and day.answer_rate == 1.0
    assert result.day("centre", "b").occupancy is not None


def test_home_agents_answer_at_once(tmp_path: Path) -> None:
    config = tiny_config(tmp_path, {"a": 3})
    profile = Profile(streams=(Stream("other", "q", ((0.0, 5.0),), {"a": 1.0}),), end=7200.0)
    result = simulate(config, profile)
    assert result.day().service_level == 1.0 and result.day().p_wait == 0.0


def test_shifts_and_abandonment(tmp_path: Path) -> None:
    config = tiny_config(tmp_path, {"a": 2})
    profile = Profile(
        streams=(Stream("other", "q", ((0.0, 60.0),), {"a": 1.0}),),
        end=4 * 3600.0,
        interval=3600.0,
        patience=Dist("exponential", 60.0),
        handle=Dist("constant", 50.0),
        shifts=(Shift(3600.0, 7200.0, 1.0),),
    )
    result = simulate(config, profile)
    answered = [t for t, s in zip(result.answered_at, result.state, strict=True) if s == ANSWERED]
    assert answered and min(answered) >= 3600.0 and max(answered) < 7200.0
    first_hour = result.stats("all")[(0, 0)]
    # Before the shift nobody answers: callers hang up, except the last few still waiting at 01:00.
    assert first_hour.offered > 30 and first_hour.answered <= 3
    assert result.day().abandoned + result.day().answered == result.calls
    # Agent time counts while logged in: 2 agents x 1 h, plus the last call of the shift.
    assert 7200.0 <= result.day("centre", "a").staffed <= 7200.0 + 2 * 50.0
    occupancy = result.stats("centre")[(1, 0)].occupancy
    assert occupancy is not None and 0.25 < occupancy <= 60 * 50 / 3600 / 2  # offered load / 2


@pytest.fixture(scope="module")
def national() -> Config:
    return load_config(EXAMPLES / "national_27plus1.toml")


@pytest.fixture(scope="module")
def day(national: Config) -> Profile:
    return load_profile(EXAMPLES / "trading_day.toml", national)


@pytest.fixture(scope="module")
def national_run(national: Config, day: Profile) -> SimResult:
    return simulate(national, day)


def test_a_national_day(national_run: SimResult) -> None:
    r = national_run
    assert r.partial is None and r.agents == 412 and 25_000 < r.calls < 35_000
    day = r.day()
    assert day.offered == day.answered + day.abandoned + day.unresolved and day.unresolved == 0
    assert sum(r.day("class", c).offered for c in r.classes) == day.offered
    assert sum(r.day("queue", q).offered for q in r.queues) == day.offered
    assert sum(r.day("centre", c).offered for c in r.centres) == day.offered
    # No agent is ever booked twice: a centre is never more than 100 % busy in any interval.
    for (iv, _), st in r.stats("centre").items():
        if iv >= 0 and st.staffed:
            assert st.busy <= st.staffed * (1 + 1e-9)
    assert len(r.intervals) == 48 and len(r.samples) == 24 * 60
    assert r.wall < 20.0
    # Relaxation is by time only: some callers wait for the next step while the agent who then
    # takes them (another centre's) is already free; never longer than they waited in all.
    assert day.relaxed > 0 and 0 < day.relax_wait / day.relaxed < 60.0
    for arr, ans, flags, idle in zip(r.arrival, r.answered_at, r.flags, r.idle_wait, strict=True):
        assert 0.0 <= idle <= (ans - arr if flags & F_RELAXED else 0.0)
    assert r.refusals == {}  # 5,000 lines for 412 agents: nobody refused


def test_runs_are_deterministic_and_policies_see_the_same_callers(
    national: Config, day: Profile, national_run: SimResult
) -> None:
    again = simulate(national, day)
    assert again.summary() | {"wall_seconds": 0} == national_run.summary() | {"wall_seconds": 0}
    fifo = simulate(national, day, policy=baseline_policy(national), label="fifo")
    assert fifo.arrival == national_run.arrival and fifo.stream == national_run.stream
    assert fifo.answered_at != national_run.answered_at  # same callers, different decisions
    other_seed = simulate(national, dataclasses.replace(day, seed=2))
    assert other_seed.arrival != national_run.arrival


def test_baseline_policy_is_fifo_longest_idle(national: Config) -> None:
    policy = baseline_policy(national)
    assert {c["base"] for c in policy["classes"]} == {0.0}
    assert {q["weight"] for q in policy["queues"]} == {0.0}
    assert policy["selection"] == {"strategy": "longest_idle"}
    assert policy["queues"] == [
        q | {"weight": 0.0} for q in national.policy()["queues"]
    ]  # same skills and relaxation steps


def test_time_limit_and_interrupt_give_partial_results(
    national: Config, day: Profile, tmp_path: Path
) -> None:
    stopped = simulate(national, day, time_limit=0.0)
    assert stopped.partial is not None and "time limit" in stopped.partial
    assert stopped.until < day.end and stopped.calls < 1000

    def interrupt(p: Progress) -> None:
        raise KeyboardInterrupt

    scaled = dataclasses.replace(day, scale=3.0)
    interrupted = simulate(national, scaled, progress=interrupt)
    assert interrupted.partial is not None and interrupted.partial.startswith("interrupted at")
    paths = write_outputs(stopped, tmp_path, plots=False)
    assert {p.name for p in paths} == {"intervals.partial.csv", "summary.partial.json",
                                       "report.partial.txt"}  # fmt: skip
    assert json.loads((tmp_path / "summary.partial.json").read_text())["partial"]
    assert (tmp_path / "report.partial.txt").read_text().startswith("PARTIAL RESULTS")
    assert ",yes\n" in (tmp_path / "intervals.partial.csv").read_text()


def test_report_csv_and_plots(national_run: SimResult, tmp_path: Path) -> None:
    paths = write_outputs(national_run, tmp_path)
    names = {p.name for p in paths}
    assert names == {"intervals.csv", "summary.json", "report.txt", "service_level.png",
                     "queue_length.png"}  # fmt: skip
    for png in ("service_level.png", "queue_length.png"):
        data = (tmp_path / png).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 20_000
    rows = (tmp_path / "intervals.csv").read_text().splitlines()
    assert rows[0].startswith("period,start,end,dimension,key,offered")
    assert rows[1].startswith("day,00:00,24:00,all,all,")
    assert any(r.startswith("interval,09:30,10:00,class,trading,") for r in rows)
    assert any(r.startswith("interval,09:30,10:00,centre,guangdong,") for r in rows)
    text = (tmp_path / "report.txt").read_text()
    for word in ("by class:", "by queue:", "by home centre:", "09:30-10:00", "trading SL",
                 "relaxation:"):  # fmt: skip
        assert word in text
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["partial"] is None and summary["calls"] == national_run.calls
    assert math.isclose(summary["answer_rate"], national_run.day().answer_rate or 0)


def test_report_of_a_tiny_run(tmp_path: Path) -> None:
    config = tiny_config(tmp_path, {"a": 1})
    profile = Profile(streams=(Stream("other", "q", ((0.0, 1.0),)),), end=3600.0, seed=3)
    result = simulate(config, profile)

    class Out:
        text = ""

        def write(self, s: str) -> int:
            self.text += s
            return len(s)

    out = Out()
    format_report(result, out, intervals=True)  # type: ignore[arg-type]
    assert "all calls" in out.text and "00:00-00:30" in out.text
