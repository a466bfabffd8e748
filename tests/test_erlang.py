"""router.erlang against textbook values and against independent computations done here: direct
summation of the Erlang formulas, and for Erlang A the birth-death chain solved numerically (its
stationary distribution, Little's law, a first-step recursion and uniformization of the waiting
caller's own chain)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from router import erlang

AHT = 180.0
RATE = 10.0 / AHT  # 10 Erlang


def direct_erlang_b(n: int, a: float) -> float:
    """(a^n / n!) / sum_{k<=n} a^k / k!, in log space so that large n is fine."""
    logs = [k * math.log(a) - math.lgamma(k + 1) for k in range(n + 1)]
    top = max(logs)
    return math.exp(logs[-1] - top) / sum(math.exp(v - top) for v in logs)


def direct_erlang_c(n: int, a: float) -> float:
    """(a^n / n! * n / (n - a)) / (sum_{k<n} a^k / k! + a^n / n! * n / (n - a))."""
    logs = [k * math.log(a) - math.lgamma(k + 1) for k in range(n)]
    log_wait = n * math.log(a) - math.lgamma(n + 1) + math.log(n / (n - a))
    top = max([*logs, log_wait])
    waiting = math.exp(log_wait - top)
    return waiting / (sum(math.exp(v - top) for v in logs) + waiting)


# -- Erlang B and C --------------------------------------------------------------------------------


def test_erlang_b_small_values() -> None:
    assert erlang.erlang_b(0, 5.0) == 1.0
    assert erlang.erlang_b(1, 1.0) == pytest.approx(0.5)
    assert erlang.erlang_b(2, 1.0) == pytest.approx(0.2)  # (1/2) / (1 + 1 + 1/2)
    assert erlang.erlang_b(10, 0.0) == 0.0
    for n, a in [(5, 3.0), (30, 25.0), (100, 80.0)]:
        assert erlang.erlang_b(n, a) == pytest.approx(direct_erlang_b(n, a), rel=1e-12)


@pytest.mark.parametrize(
    ("n", "p_wait", "sl", "asa"),
    # Textbook figures for A = 10 Erlang, AHT 180 s, T = 20 s (rounded as tables print them).
    [
        (12, 0.4494, 0.6402, 40.44),
        (13, 0.2853, 0.7956, 17.12),
        (14, 0.1741, 0.8884, 7.84),
        (15, 0.1020, 0.9415, 3.67),
    ],
)
def test_erlang_c_textbook(n: int, p_wait: float, sl: float, asa: float) -> None:
    c = erlang.erlang_c(n, 10.0)
    assert c == pytest.approx(direct_erlang_c(n, 10.0), rel=1e-12)
    assert c == pytest.approx(p_wait, abs=5e-5)
    # Independently: SL = 1 - C e^{-(n-a) T / AHT}, ASA = C AHT / (n - a).
    expected_sl = 1 - direct_erlang_c(n, 10.0) * math.exp(-(n - 10.0) * 20.0 / AHT)
    assert erlang.service_level(n, 10.0, AHT, 20.0) == pytest.approx(expected_sl, rel=1e-12)
    assert erlang.service_level(n, 10.0, AHT, 20.0) == pytest.approx(sl, abs=5e-5)
    assert erlang.asa(n, 10.0, AHT) == pytest.approx(asa, abs=5e-3)
    metrics = erlang.erlang_c_metrics(n, RATE, AHT, 20.0)
    assert metrics.p_wait == c and metrics.p_abandon == 0.0
    assert metrics.occupancy == pytest.approx(10.0 / n)


def test_large_networks_do_not_overflow() -> None:
    for n, a in [(500, 480.0), (1000, 950.0), (5000, 4900.0)]:
        assert erlang.erlang_c(n, a) == pytest.approx(direct_erlang_c(n, a), rel=1e-9)
        assert erlang.erlang_b(n, a) == pytest.approx(direct_erlang_b(n, a), rel=1e-9)
    assert erlang.erlang_b(5000, 10.0) == 0.0  # underflows gracefully
    assert erlang.erlang_c(5000, 10.0) == 0.0
    assert erlang.service_level(5000, 10.0, AHT, 20.0) == 1.0


def test_unstable_queue_is_clearly_so() -> None:
    for n in (0, 5, 10):
        assert erlang.erlang_c(n, 10.0) == 1.0
        assert erlang.service_level(n, 10.0, AHT, 20.0) == 0.0
        assert erlang.asa(n, 10.0, AHT) == math.inf


def test_zero_load() -> None:
    assert erlang.erlang_c(3, 0.0) == 0.0
    assert erlang.service_level(0, 0.0, AHT, 20.0) == 1.0
    assert erlang.asa(0, 0.0, AHT) == 0.0
    assert erlang.agents_needed(0.0, AHT, 0.8, 20.0) == 0


@pytest.mark.parametrize(
    "call",
    [
        lambda: erlang.erlang_c(-1, 3.0),
        lambda: erlang.erlang_c(2.5, 3.0),  # type: ignore[arg-type]
        lambda: erlang.erlang_b(3, -1.0),
        lambda: erlang.erlang_b(3, math.nan),
        lambda: erlang.offered_load(-0.1, AHT),
        lambda: erlang.offered_load(0.1, 0.0),
        lambda: erlang.service_level(12, 10.0, AHT, -1.0),
        lambda: erlang.erlang_a(12, RATE, AHT, 0.0, 20.0),
        lambda: erlang.agents_needed(RATE, AHT, 1.0, 20.0),
        lambda: erlang.agents_needed(RATE, AHT, 0.0, 20.0),
        lambda: erlang.agents_needed(-RATE, AHT, 0.8, 20.0),
    ],
)
def test_bad_input_is_rejected(call: object) -> None:
    assert callable(call)
    with pytest.raises(ValueError, match="must be"):
        call()


def test_agents_needed_textbook() -> None:
    # A = 10, AHT 180, 80 % in 20 s: 13 agents give 79.6 %, 14 give 88.8 %.
    assert erlang.agents_needed(RATE, AHT, 0.80, 20.0) == 14
    assert erlang.agents_needed(RATE, AHT, 0.79, 20.0) == 13
    # With abandonment fewer agents reach the same service level (impatient callers leave).
    assert erlang.agents_needed(RATE, AHT, 0.80, 20.0, patience=120.0) == 12
    # 5,000 agents' worth of load is instant.
    n = erlang.agents_needed(4900.0 / AHT, AHT, 0.8, 20.0)
    assert 4900 < n < 5100
    assert erlang.service_level(n, 4900.0, AHT, 20.0) >= 0.8
    assert erlang.service_level(n - 1, 4900.0, AHT, 20.0) < 0.8


# -- Erlang A against the birth-death chain --------------------------------------------------------


def chain(n: int, rate: float, aht: float, patience: float) -> tuple[float, list[float]]:
    """The M/M/n+M chain: P(fewer than n in system) and P(n + k in system) for k = 0, 1, ...,
    by the product formula normalised by direct summation (small n only)."""
    mu, theta = 1.0 / aht, 1.0 / patience
    weights = [1.0]
    for j in range(1, n + 1):
        weights.append(weights[-1] * rate / (j * mu))
    queue = [weights[-1]]
    while True:
        k = len(queue)
        queue.append(queue[-1] * rate / (n * mu + k * theta))
        if k > 50 and queue[-1] < 1e-18 * max(queue):
            break
    total = sum(weights[:-1]) + sum(queue)
    return sum(weights[:-1]) / total, [q / total for q in queue]


def chain_metrics(n: int, rate: float, aht: float, patience: float, t: float) -> dict[str, float]:
    free, queue = chain(n, rate, aht, patience)
    mu, theta = 1.0 / aht, 1.0 / patience
    p_wait = sum(queue)
    # Little's law on the queue: abandonment rate theta * E[Q] = rate * P(abandon).
    mean_queue = sum(k * q for k, q in enumerate(queue))
    p_abandon = theta * mean_queue / rate
    # First-step recursion for a caller who finds k ahead: s_k = P(answered), m_k = E[W; answered].
    s_prev, m_prev = 1.0, 0.0
    served_wait = 0.0
    for k, q in enumerate(queue):
        out = n * mu + k * theta
        total = out + theta
        s_k = out / total * s_prev
        m_k = s_k / total + out / total * m_prev
        served_wait += q * m_k
        s_prev, m_prev = s_k, m_k
    # Uniformization of the waiting caller's chain (k ahead -> k-1 -> ... -> answered, or hangs up).
    kmax = len(queue) - 1
    big = n * mu + kmax * theta + theta
    probs = [q / p_wait for q in queue]
    answered = 0.0
    dist = probs[:]
    cum_answered = 0.0
    steps = int(big * t + 12 * math.sqrt(big * t + 1) + 30)
    poisson = math.exp(-big * t)
    for step in range(steps + 1):
        if step > 0:
            poisson *= big * t / step
            new = [0.0] * len(dist)
            moved = 0.0
            for k, p in enumerate(dist):
                out = n * mu + k * theta
                stay = 1.0 - (out + theta) / big
                new[k] += p * stay
                if k == 0:
                    moved += p * out / big
                else:
                    new[k - 1] += p * out / big
            dist = new
            cum_answered += moved
        answered += poisson * cum_answered
    return {
        "free": free,
        "p_wait": p_wait,
        "p_abandon": p_abandon,
        "asa": served_wait / (1 - p_abandon),
        "service_level": (1 - p_wait) + p_wait * answered,
    }


@pytest.mark.parametrize(
    ("n", "patience"),
    [(12, 120.0), (13, 120.0), (10, 60.0), (8, 300.0), (15, 30.0), (3, 90.0)],
)
def test_erlang_a_against_the_chain(n: int, patience: float) -> None:
    expected = chain_metrics(n, RATE, AHT, patience, 20.0)
    got = erlang.erlang_a(n, RATE, AHT, patience, 20.0)
    assert got.p_wait == pytest.approx(expected["p_wait"], rel=1e-9)
    assert got.p_abandon == pytest.approx(expected["p_abandon"], rel=1e-9)
    assert got.asa == pytest.approx(expected["asa"], rel=1e-9)
    assert got.service_level == pytest.approx(expected["service_level"], rel=1e-7)
    assert got.occupancy == pytest.approx(10.0 * (1 - expected["p_abandon"]) / n, rel=1e-9)


def test_erlang_a_textbook_case() -> None:
    # A = 10, 12 agents, mean patience 2 minutes: about 6 % abandon and 83 % are answered in 20 s.
    m = erlang.erlang_a(12, RATE, AHT, 120.0, 20.0)
    assert m.p_abandon == pytest.approx(0.0616, abs=1e-4)
    assert m.service_level == pytest.approx(0.8256, abs=1e-4)
    assert m.p_wait == pytest.approx(0.2798, abs=1e-4)


def test_erlang_a_overload_and_size() -> None:
    # Twice as much work as agents: about half the callers must give up, whatever the patience.
    m = erlang.erlang_a(50, 100.0 / AHT, AHT, 60.0, 20.0)
    assert 0.45 < m.p_abandon < 0.55 and m.p_wait > 0.99
    big = erlang.erlang_a(5000, 4900.0 / AHT, AHT, 120.0, 20.0)
    assert 0.0 <= big.p_abandon < 0.01 and big.service_level > 0.95
    assert erlang.erlang_a(0, RATE, AHT, 60.0, 20.0).service_level == 0.0
    assert erlang.erlang_a(4, 0.0, AHT, 60.0, 20.0).service_level == 1.0
    assert erlang.erlang_a(12, RATE, AHT, math.inf, 20.0) == erlang.erlang_c_metrics(
        12, RATE, AHT, 20.0
    )


# -- properties ------------------------------------------------------------------------------------

loads = st.floats(min_value=0.5, max_value=300.0)
ahts = st.floats(min_value=10.0, max_value=900.0)
thresholds = st.floats(min_value=0.0, max_value=120.0)
patiences = st.floats(min_value=5.0, max_value=1200.0)


@given(a=loads, extra=st.integers(1, 40), aht=ahts, t=thresholds)
def test_erlang_c_service_level_grows_with_agents(
    a: float, extra: int, aht: float, t: float
) -> None:
    n = math.floor(a) + extra
    sl, sl_more = (erlang.service_level(k, a, aht, t) for k in (n, n + 1))
    c, c_more = erlang.erlang_c(n, a), erlang.erlang_c(n + 1, a)
    assert 0.0 <= c_more <= c <= 1.0
    assert 0.0 <= sl <= sl_more <= 1.0
    assert erlang.asa(n + 1, a, aht) <= erlang.asa(n, a, aht)


@given(a=loads, n=st.integers(0, 350), aht=ahts, patience=patiences, t=thresholds)
def test_erlang_a_is_a_distribution(
    a: float, n: int, aht: float, patience: float, t: float
) -> None:
    m = erlang.erlang_a(n, a / aht, aht, patience, t)
    more = erlang.erlang_a(n + 1, a / aht, aht, patience, t)
    for p in (m.p_wait, m.p_abandon, m.service_level, m.occupancy):
        assert 0.0 <= p <= 1.0
    assert m.p_abandon <= m.p_wait + 1e-12
    assert m.service_level <= 1.0 - m.p_abandon + 1e-12
    assert more.service_level >= m.service_level - 1e-9
    assert more.p_abandon <= m.p_abandon + 1e-12


@given(
    a=st.floats(min_value=0.5, max_value=100.0), extra=st.integers(1, 20), aht=ahts, t=thresholds
)
def test_erlang_a_tends_to_erlang_c(a: float, extra: int, aht: float, t: float) -> None:
    # Loads up to 97 % (nearer 1 the Erlang C wait itself runs to hours and the limit is slow).
    n = math.floor(a / 0.97) + extra
    c = erlang.erlang_c_metrics(n, a / aht, aht, t)
    # Callers who would wait a thousand years: nobody abandons, and it is Erlang C.
    m = erlang.erlang_a(n, a / aht, aht, 3e10, t)
    # The limit is approached, not reached: the residual is about (mean wait) / patience, up to
    # ~1e-6 of the value at 97 % load with long handle times (hypothesis found a=9.625, n=10,
    # aht=506 s, T=0 at 1.0e-6), hence 1e-5 like the ASA.
    assert m.p_wait == pytest.approx(c.p_wait, rel=1e-5, abs=1e-9)
    assert m.service_level == pytest.approx(c.service_level, rel=1e-5, abs=1e-9)
    assert m.asa == pytest.approx(c.asa, rel=1e-5, abs=1e-9)
    assert m.p_abandon < 1e-5


@given(
    a=st.floats(min_value=0.1, max_value=400.0),
    aht=ahts,
    target=st.floats(min_value=0.05, max_value=0.99),
    t=thresholds,
    patience=st.none() | patiences,
)
def test_agents_needed_is_the_smallest_that_meets_the_target(
    a: float, aht: float, target: float, t: float, patience: float | None
) -> None:
    rate = a / aht
    n = erlang.agents_needed(rate, aht, target, t, patience=patience)

    def sl(k: int) -> float:
        if patience is None:
            return erlang.service_level(k, a, aht, t)
        return erlang.erlang_a(k, rate, aht, patience, t).service_level

    assert sl(n) >= target
    assert n == 0 or sl(n - 1) < target
