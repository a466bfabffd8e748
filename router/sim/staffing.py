"""How many agents does a queue need? Answered by formula (Erlang C, or Erlang A with abandonment)
and by simulating the queue through the real routing core, side by side.

The simulation is a single-queue scenario built from the router's config: `n` identical agents with
exactly the queue's required skills in one centre with no line limit and no admission, overflow or
callbacks (every caller waits for an agent), callers of one class, Poisson arrivals at a
constant rate, exponential handle times, and optionally exponential patience: the model the
formulas assume, run through the production matching code. Its figures come with confidence
intervals from batch means: the run is cut into equal intervals after a warm-up, each interval is
one batch, and the half-width is Student's t times the standard error of the batch averages.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from router import erlang
from router.config import Agent, CallSettings, Centre, Config
from router.sim.capacity import SimResult, Stats, scaled_agents, simulate
from router.sim.profile import Dist, Profile, Stream

__all__ = [
    "Estimate",
    "StaffingRow",
    "batch_means",
    "desk_of",
    "desk_staffing",
    "roster_for",
    "single_queue",
    "staffing_table",
    "t_quantile",
]

# Two-sided Student t quantiles: T_TABLE[confidence][degrees of freedom].
T_TABLE = {
    0.95: {9: 2.262, 19: 2.093, 29: 2.045, 39: 2.023},
    0.99: {9: 3.250, 19: 2.861, 29: 2.756, 39: 2.708},
    0.999: {9: 4.781, 19: 3.883, 29: 3.659, 39: 3.558},
}


def t_quantile(confidence: float, df: int) -> float:
    """Student's t quantile for a two-sided interval (batch counts 10, 20, 30 and 40)."""
    try:
        return T_TABLE[confidence][df]
    except KeyError:
        raise ValueError(
            f"no t quantile for confidence {confidence} with {df} degrees of freedom; use "
            f"confidence in {sorted(T_TABLE)} and 10, 20, 30 or 40 batches"
        ) from None


@dataclass(frozen=True)
class Estimate:
    """A simulated figure: the mean of the batch values and the half-width of its interval."""

    mean: float
    half_width: float

    def contains(self, value: float) -> bool:
        """Whether `value` lies in the confidence interval."""
        return abs(value - self.mean) <= self.half_width

    def __str__(self) -> str:
        return f"{self.mean:.4g} ± {self.half_width:.2g}"


def batch_means(
    result: SimResult,
    metric: Callable[[Stats], float | None],
    *,
    warmup: int = 1,
    confidence: float = 0.999,
) -> Estimate:
    """The mean of `metric` over the run's intervals after the first `warmup` ones (the batches),
    with a Student-t confidence interval. Batches without a value (e.g. no call answered) are an
    error: make the intervals longer."""
    stats = result.stats("all")
    values: list[float] = []
    for iv in range(warmup, len(result.intervals)):
        value = metric(stats.get((iv, 0), Stats()))
        if value is None:
            raise ValueError(f"batch {iv} has no value; lengthen the intervals")
        values.append(value)
    if len(values) < 2:
        raise ValueError("need at least two batches after the warm-up")
    half = (
        t_quantile(confidence, len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))
    )
    return Estimate(statistics.fmean(values), half)


def single_queue(
    config: Config,
    queue: str,
    *,
    agents: int,
    rate: float,
    aht: float,
    patience: float | None,
    t: float,
    batches: int = 20,
    batch_hours: float = 10.0,
    seed: int = 1,
    cls: str | None = None,
) -> tuple[Config, Profile]:
    """A config and profile for the textbook queue: `agents` agents able to take `queue` and
    nothing else distinguishing them, callers of one class (`cls`, default the config's first)
    arriving at `rate` calls per second, exponential handle times of mean `aht` and exponential
    patience of mean `patience` (None: nobody hangs up). The run is one warm-up interval (to be
    discarded: the queue starts empty) and then `batches` intervals of `batch_hours` each."""
    spec = config.queue(queue)
    cls = cls or config.classes[0].name
    centre = config.centres[0]
    skills = {skill: level for skill, level in spec.required}
    roster = tuple(Agent(f"agent-{k + 1:05d}", centre.name, skills) for k in range(agents))
    one_centre = Centre(centre.name, None, 0, {}, ())  # 0 lines: not managed, nobody refused
    scenario = dataclasses.replace(
        config, centres=(one_centre,), regions={}, agents=roster, calls=CallSettings()
    )
    interval = batch_hours * 3600.0
    profile = Profile(
        streams=(Stream(cls, queue, ((0.0, rate * 3600.0),), {centre.name: 1.0}),),
        path=config.path.with_name(f"{queue}-{agents}-agents.profile"),
        start=0.0,
        end=interval * (batches + 1),
        interval=interval,
        seed=seed,
        sl_t=t,
        sl_t_by_class={},
        dialect_preference=0.0,
        handle=Dist("exponential", aht),
        patience=Dist("none") if patience is None else Dist("exponential", patience),
    )
    return scenario, profile


@dataclass(frozen=True)
class StaffingRow:
    """One candidate staff size: the formula's figures and the simulated ones."""

    agents: int
    formula: erlang.QueueMetrics
    service_level: Estimate
    asa: Estimate
    p_wait: Estimate
    abandon_rate: Estimate
    calls: int


def staffing_table(
    config: Config,
    queue: str,
    *,
    rate: float,
    aht: float,
    sl_target: float,
    t: float,
    patience: float | None = None,
    candidates: Sequence[int] | None = None,
    batches: int = 20,
    batch_hours: float | None = None,
    calls: int = 100_000,
    seed: int = 1,
    progress: Callable[[int], None] | None = None,
) -> tuple[int, list[StaffingRow]]:
    """The formula's answer (agents needed for `sl_target` within `t` s) and, for each candidate
    staff size (default: the formula's answer and two either side), the formula's and the
    simulation's figures. `rate` in calls per second, times in seconds. Each simulation has a
    warm-up batch and `batches` batches of `batch_hours` (default: about `calls` calls in all)."""
    needed = erlang.agents_needed(rate, aht, sl_target, t, patience=patience)
    if batch_hours is None:
        batch_hours = calls / (batches + 1) / (rate * 3600.0)
    if candidates is None:
        candidates = [n for n in range(needed - 2, needed + 3) if n >= 1]
    rows: list[StaffingRow] = []
    for n in candidates:
        if progress is not None:
            progress(n)
        if patience is None:
            formula = erlang.erlang_c_metrics(n, rate, aht, t)
        else:
            formula = erlang.erlang_a(n, rate, aht, patience, t)
        scenario, profile = single_queue(
            config, queue, agents=n, rate=rate, aht=aht, patience=patience, t=t,
            batches=batches, batch_hours=batch_hours, seed=seed,
        )  # fmt: skip
        result = simulate(scenario, profile, label=f"{n} agents", admission="none")
        rows.append(
            StaffingRow(
                agents=n,
                formula=formula,
                service_level=batch_means(result, lambda s: s.service_level),
                asa=batch_means(result, lambda s: s.asa),
                p_wait=batch_means(result, lambda s: s.p_wait),
                abandon_rate=batch_means(result, lambda s: s.abandon_rate),
                calls=result.calls,
            )
        )
    return needed, rows


# -- staffing a whole centre, desk by desk ---------------------------------------------------------


def desk_staffing(
    config: Config,
    rates: Mapping[str, float],
    targets: Mapping[str, tuple[float, float]],
    *,
    wrap_up: float = 0.0,
) -> dict[str, int]:
    """Agents per queue ("desk") by Erlang C: queue `q` gets `rates[q]` calls per second with a
    handle time of its configured aht plus `wrap_up`, and must answer the share `targets[q][0]`
    within `targets[q][1]` seconds. Each desk on its own: no help from other desks, nobody hangs
    up (both make the answer conservative)."""
    return {
        q: erlang.agents_needed(rate, config.queue(q).aht + wrap_up, *targets[q])
        for q, rate in rates.items()
    }


def desk_of(config: Config, agent: Agent) -> str | None:
    """An agent's desk: the first queue (config order) whose required skills it has at the
    configured level, or None."""
    return next((q.name for q in config.queues if config.can_staff(q, agent)), None)


def roster_for(config: Config, desks: Mapping[str, int]) -> tuple[Agent, ...]:
    """The config's roster with each desk's agents scaled to `desks[q]` (keeping the desk's own
    mix, e.g. of senior and junior agents, by `scaled_agents`). A desk with no configured agent,
    or an agent on a desk not named, is an error."""
    by_desk: dict[str, list[Agent]] = {}
    for agent in config.agents:
        desk = desk_of(config, agent)
        if desk is None or desk not in desks:
            raise ValueError(f"agent {agent.id} staffs desk {desk!r}, which has no agent count")
        by_desk.setdefault(desk, []).append(agent)
    roster: list[Agent] = []
    for desk, n in desks.items():
        members = by_desk.get(desk)
        if not members:
            raise ValueError(f"no agent of {config.path.name} can staff desk {desk!r}")
        roster.extend(scaled_agents(members, n / len(members)))
    return tuple(roster)
