"""The simulator against queueing theory: with Poisson arrivals, exponential handle times, one queue
and one class (so FIFO), it must reproduce Erlang C (probability of waiting, service level at T,
ASA), and with exponential patience Erlang A, within 99.9 % confidence intervals.

The intervals come from batch means (20 batches after a warm-up batch, Student t with 19 degrees of
freedom); the seeds are fixed, so a run either always passes or always fails, and each run is
100,000 calls (300,000 near saturation), which keeps the whole file at a few seconds while the intervals stay narrow enough
to tell n agents from n +- 1 (checked below, so that the test cannot pass by being vague)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("router._core", reason="the Rust core router._core is not built yet")

from router import erlang
from router.config import Config, load_config
from router.sim.capacity import SimResult, simulate
from router.sim.staffing import (
    Estimate,
    batch_means,
    desk_of,
    desk_staffing,
    roster_for,
    single_queue,
)

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CALLS = 100_000  # per run
BATCHES = 20
T = 20.0


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(EXAMPLES / "single_centre_50.toml")


def run(
    config: Config,
    *,
    n: int,
    load: float,
    aht: float,
    patience: float | None,
    seed: int,
    calls: int = CALLS,
) -> SimResult:
    rate = load / aht
    batch_hours = calls / (BATCHES + 1) / (rate * 3600.0)
    scenario, profile = single_queue(
        config, "trading", agents=n, rate=rate, aht=aht, patience=patience, t=T,
        batches=BATCHES, batch_hours=batch_hours, seed=seed,
    )  # fmt: skip
    return simulate(scenario, profile)


def check(estimate: Estimate, expected: float, name: str, max_half_width: float) -> None:
    assert estimate.contains(expected), f"{name}: formula {expected:.4f} outside sim {estimate}"
    assert estimate.half_width <= max_half_width, f"{name}: interval too wide: {estimate}"


@pytest.mark.parametrize(
    ("load", "n", "aht", "seed", "calls"),
    [
        # 91 % busy: the queue remembers longer, so three times the calls for the same precision
        (10.0, 11, 180.0, 1, 3 * CALLS),
        (10.0, 12, 180.0, 2, CALLS),
        (10.0, 13, 180.0, 3, CALLS),
        (10.0, 14, 180.0, 4, CALLS),
        (10.0, 15, 180.0, 5, CALLS),
        (2.0, 3, 120.0, 6, CALLS),
        (40.0, 44, 180.0, 7, 3 * CALLS),
    ],
)
def test_erlang_c(config: Config, load: float, n: int, aht: float, seed: int, calls: int) -> None:
    result = run(config, n=n, load=load, aht=aht, patience=None, seed=seed, calls=calls)
    formula = erlang.erlang_c_metrics(n, load / aht, aht, T)
    assert result.day().abandoned == 0 and result.partial is None
    check(batch_means(result, lambda s: s.p_wait), formula.p_wait, "P(wait)", 0.06)
    check(batch_means(result, lambda s: s.service_level), formula.service_level, "SL", 0.06)
    # ASA's relative spread grows near saturation (n = 11 is 91 % busy).
    asa = batch_means(result, lambda s: s.asa)
    check(asa, formula.asa, "ASA", 0.5 * formula.asa)


@pytest.mark.parametrize(
    ("load", "n", "patience", "seed"),
    [
        (10.0, 12, 120.0, 11),
        (10.0, 10, 60.0, 12),
        (10.0, 8, 300.0, 13),  # overloaded: only abandonment keeps it stable
        (40.0, 38, 90.0, 14),
    ],
)
def test_erlang_a(config: Config, load: float, n: int, patience: float, seed: int) -> None:
    result = run(config, n=n, load=load, aht=180.0, patience=patience, seed=seed)
    formula = erlang.erlang_a(n, load / 180.0, 180.0, patience, T)
    check(batch_means(result, lambda s: s.p_wait), formula.p_wait, "P(wait)", 0.04)
    check(batch_means(result, lambda s: s.service_level), formula.service_level, "SL", 0.04)
    check(batch_means(result, lambda s: s.abandon_rate), formula.p_abandon, "abandon", 0.03)
    check(batch_means(result, lambda s: s.asa), formula.asa, "ASA", 0.2 * formula.asa)


def test_the_intervals_tell_neighbouring_staff_sizes_apart(config: Config) -> None:
    """The validation has teeth: 13 agents' simulated service level excludes 12's and 14's."""
    result = run(config, n=13, load=10.0, aht=180.0, patience=None, seed=3)
    sl = batch_means(result, lambda s: s.service_level)
    for n in (12, 14):
        assert not sl.contains(erlang.service_level(n, 10.0, 180.0, T))
    assert sl.contains(erlang.service_level(13, 10.0, 180.0, T))


def test_desk_staffing_and_roster(config: Config) -> None:
    """A centre staffed desk by desk by Erlang C, in the config's own mix of agents."""
    rates = {"trading": 346.0 / 3600, "advisory": 83.0 / 3600}
    targets = {"trading": (0.9, 10.0), "advisory": (0.8, 20.0)}
    desks = desk_staffing(config, rates, targets, wrap_up=10.0)
    assert desks == {
        "trading": erlang.agents_needed(346.0 / 3600, 150.0 + 10.0, 0.9, 10.0),
        "advisory": erlang.agents_needed(83.0 / 3600, 300.0 + 10.0, 0.8, 20.0),
    }
    assert [desk_of(config, a) for a in config.agents[:1]] == ["trading"]
    counts = {"trading": 21, "advisory": 11, "hk_stocks": 5, "futures": 6}
    roster = roster_for(config, counts)
    assert len({a.id for a in roster}) == len(roster) == 43
    by_desk: dict[str | None, int] = {}
    for agent in roster:
        by_desk[desk_of(config, agent)] = by_desk.get(desk_of(config, agent), 0) + 1
    assert by_desk == counts
    seniors = sum(a.id.startswith("trd-snr") for a in roster)
    assert seniors == pytest.approx(21 * 6 / 26, abs=1)  # the desk keeps its mix
    with pytest.raises(ValueError, match="has no agent count"):
        roster_for(config, {"trading": 21})
