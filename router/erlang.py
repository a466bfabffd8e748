"""Queueing formulas for staffing: Erlang B, Erlang C and Erlang A (Palm's queue with abandonment).

Units: arrival `rate` in calls per second, `aht` (average handle time), `patience` (mean time a
caller waits before hanging up) and the service-level threshold `t` in seconds. The offered load is
`a = rate * aht` Erlang. `n` is the number of agents.

Definitions (the simulator in `router.sim.capacity` reports the same quantities):

- `p_wait`: share of calls that find every agent busy and have to wait;
- `p_abandon`: share of calls that hang up before an agent answers;
- `service_level`: share of *offered* calls answered within `t` seconds (so abandoned calls count
  against it);
- `asa`: average speed of answer, the mean wait of the calls that are answered (zero waits included).

Numerics: Erlang B by its recursion kept in log space (so thousands of agents neither overflow nor
underflow); Erlang A by summing the stationary distribution of the queue in log space, plus the
regularised incomplete gamma function for the service level (Mandelbaum & Zeltyn, "The Palm/Erlang-A
queue, with applications to call centers", 2007). Erlang C with `n <= a` is unstable (the queue grows
without bound): `p_wait` is 1, the service level 0 and the ASA infinite.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "QueueMetrics",
    "agents_needed",
    "asa",
    "erlang_a",
    "erlang_b",
    "erlang_c",
    "erlang_c_metrics",
    "offered_load",
    "service_level",
]

# Terms of a sum below exp(-_CUTOFF) of its largest term are dropped (relative error < 1e-17).
_CUTOFF = 40.0
# Erlang A sums over the queue length; past this many terms the inputs are not a sensible call
# centre (e.g. a patience of years on an overloaded queue) and we say so instead of looping.
_MAX_TERMS = 5_000_000


@dataclass(frozen=True)
class QueueMetrics:
    """What a caller experiences in steady state, for `n` agents (see the module docstring)."""

    n: int
    load: float  # offered load a = rate * aht, Erlang
    p_wait: float
    p_abandon: float
    service_level: float
    asa: float  # seconds; math.inf when calls are never answered
    occupancy: float  # carried load / n: the share of agent time spent on calls


def offered_load(rate: float, aht: float) -> float:
    """The offered load in Erlang: `rate` (calls/s) times `aht` (s)."""
    _check_nonneg("rate", rate)
    _check_positive("aht", aht)
    return rate * aht


def erlang_b(n: int, a: float) -> float:
    """Erlang B: the probability that a call finds all `n` servers busy in a loss system (M/M/n/n)
    with offered load `a` Erlang."""
    return math.exp(-_log_inv_erlang_b(n, a))


def erlang_c(n: int, a: float) -> float:
    """Erlang C: the probability that a call has to wait (M/M/n, infinite patience) at load `a`.

    1.0 when `n <= a` (unstable: every call eventually waits)."""
    _check_n(n)
    _check_nonneg("a", a)
    if a == 0:
        return 0.0
    if n <= a:
        return 1.0
    # C = n / ((n - a) / B + a), with 1/B = exp(L) possibly astronomically large.
    log_inv_b = _log_inv_erlang_b(n, a)
    return math.exp(math.log(n) - log_inv_b - math.log((n - a) + a * math.exp(-log_inv_b)))


def service_level(n: int, a: float, aht: float, t: float) -> float:
    """Erlang C service level: the share of calls answered within `t` seconds,
    `1 - C(n, a) * exp(-(n - a) * t / aht)`; 0.0 when `n <= a`."""
    _check_positive("aht", aht)
    _check_nonneg("t", t)
    c = erlang_c(n, a)
    if n <= a and a > 0:
        return 0.0
    return 1.0 - c * math.exp(-(n - a) * t / aht)


def asa(n: int, a: float, aht: float) -> float:
    """Erlang C average speed of answer in seconds, `C(n, a) * aht / (n - a)`; inf when `n <= a`."""
    _check_positive("aht", aht)
    c = erlang_c(n, a)
    if a == 0:
        return 0.0
    if n <= a:
        return math.inf
    return c * aht / (n - a)


def erlang_c_metrics(n: int, rate: float, aht: float, t: float) -> QueueMetrics:
    """All Erlang C figures for `n` agents, `rate` calls/s, handle time `aht` s, threshold `t` s."""
    a = offered_load(rate, aht)
    return QueueMetrics(
        n=n,
        load=a,
        p_wait=erlang_c(n, a),
        p_abandon=0.0,
        service_level=service_level(n, a, aht, t),
        asa=asa(n, a, aht),
        occupancy=min(1.0, a / n) if n > 0 else (0.0 if a == 0 else 1.0),
    )


def erlang_a(n: int, rate: float, aht: float, patience: float, t: float) -> QueueMetrics:
    """Erlang A (M/M/n+M): `n` agents, Poisson arrivals at `rate` calls/s, exponential handle times
    with mean `aht` s and exponential patience with mean `patience` s, FIFO. Stable at any load.

    A `patience` of math.inf is Erlang C."""
    _check_n(n)
    a = offered_load(rate, aht)
    _check_nonneg("t", t)
    if math.isnan(patience) or patience <= 0:
        raise ValueError(f"patience must be > 0 seconds (math.inf for none), not {patience}")
    if math.isinf(patience):
        return erlang_c_metrics(n, rate, aht, t)
    if a == 0:
        return QueueMetrics(n, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0)
    if n == 0:
        return QueueMetrics(n, a, 1.0, 1.0, 0.0, math.inf, 0.0)

    theta = 1.0 / patience
    x = n / aht / theta  # n * mu / theta
    y = rate / theta  # lambda / theta
    log_y = math.log(y)

    # An arriving call finds all n agents busy and k callers queued with probability pi_n * w_k,
    # w_k = prod_{i=1..k} y / (x + i): the queue is a birth-death chain with death rate
    # n*mu + k*theta. It waits; it is answered with probability x / (x + k + 1) (it must outlast
    # the k+1 "departures" ahead of it, each racing its own patience), and when answered it waited
    # on average H_k / theta, H_k = sum_{i=0..k} 1 / (x + 1 + i).
    peak = max(0, math.floor(y - x))
    log_peak = peak * log_y - (math.lgamma(x + peak + 1) - math.lgamma(x + 1))
    s = s_abandon = s_served_wait = 0.0
    log_w = 0.0
    harmonic = 0.0
    k = 0
    while True:
        harmonic += 1.0 / (x + 1 + k)
        rel = log_w - log_peak
        if rel > -_CUTOFF:
            term = math.exp(rel)
            s += term
            s_abandon += term * (k + 1) / (x + k + 1)
            s_served_wait += term * x / (x + k + 1) * harmonic
        elif k > peak:
            break
        k += 1
        if k > _MAX_TERMS:
            raise ValueError(
                f"Erlang A does not converge for n={n}, load {a:g} Erlang, patience {patience:g} s "
                "(the queue would hold millions of callers); use Erlang C or a shorter patience"
            )
        log_w += log_y - math.log(x + k)
    log_s = log_peak + math.log(s)
    # pi_n = 1 / (1/B - 1 + S): the states with fewer than n busy weigh (1/B - 1) relative to pi_n.
    log_pi_n = -_logaddexp(_log_expm1(_log_inv_erlang_b(n, a)), log_s)
    p_wait = min(1.0, math.exp(log_pi_n + log_s))
    p_abandon = min(1.0, math.exp(log_pi_n + log_peak + math.log(s_abandon)))
    served_wait = math.exp(log_pi_n + log_peak + math.log(s_served_wait)) / theta  # E[W; answered]
    p_served = 1.0 - p_abandon
    # Answered after waiting at most t: pi_n * x e^y y^-(x+1) (gamma(x+1, y) - gamma(x+1, y e^-θt)),
    # the waiting-time density pi_n x e^{-xs} e^{y(1 - e^{-s})} (s in units of 1/theta) times the
    # caller's own survival e^{-s}, integrated over (0, theta*t].
    waited_ok = 0.0
    if t > 0:
        # e^y y^-(x+1) gamma(x+1, z) for z = y and z = y e^-θt, kept as ratios to avoid the
        # cancellation of the huge y and (x+1) ln y when the patience is long.
        log_all = _log_scaled_lower_gamma(x + 1, y)
        log_late = (
            -(x + 1) * theta * t
            - y * math.expm1(-theta * t)
            + _log_scaled_lower_gamma(x + 1, y * math.exp(-theta * t))
        )
        share = -math.expm1(log_late - log_all)  # 1 - late/all, exact for tiny t
        if share > 0:
            waited_ok = math.exp(log_pi_n + math.log(x) + log_all + math.log(share))
    sl = min(p_served, max(0.0, (1.0 - p_wait) + waited_ok))
    return QueueMetrics(
        n=n,
        load=a,
        p_wait=p_wait,
        p_abandon=p_abandon,
        service_level=sl,
        asa=served_wait / p_served if p_served > 0 else math.inf,
        occupancy=min(1.0, a * p_served / n),
    )


def agents_needed(
    rate: float,
    aht: float,
    sl_target: float,
    t: float,
    *,
    patience: float | None = None,
    max_agents: int = 1_000_000,
) -> int:
    """The smallest number of agents whose service level (share of calls answered within `t`
    seconds) reaches `sl_target`: by Erlang C, or by Erlang A when a mean `patience` is given.

    `rate` is in calls per second, `aht`, `t` and `patience` in seconds; `sl_target` in (0, 1).
    """
    a = offered_load(rate, aht)
    _check_nonneg("t", t)
    if not 0.0 < sl_target < 1.0:
        raise ValueError(f"sl_target must be a share strictly between 0 and 1, not {sl_target}")
    if a == 0:
        return 0
    if patience is not None and not math.isinf(patience):
        # Erlang A is evaluated from scratch for each n; bracket by doubling, then bisect
        # (the service level grows with n).
        def ok(n: int) -> bool:
            return erlang_a(n, rate, aht, patience, t).service_level >= sl_target

        lo, hi = 0, max(1, math.ceil(a))  # ok(0) is false: nobody answers
        while not ok(hi):
            lo, hi = hi, hi * 2
            if hi > max_agents:
                raise ValueError(f"more than {max_agents} agents needed")
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if ok(mid) else (mid, hi)
        return hi
    # Erlang C: walk n up from the first stable size, carrying the Erlang B recursion along.
    n = math.floor(a) + 1
    log_inv_b = _log_inv_erlang_b(n, a)
    while True:
        c = math.exp(math.log(n) - log_inv_b - math.log((n - a) + a * math.exp(-log_inv_b)))
        if 1.0 - c * math.exp(-(n - a) * t / aht) >= sl_target:
            return n
        n += 1
        if n > max_agents:
            raise ValueError(f"more than {max_agents} agents needed")
        log_inv_b = _next_log_inv_b(log_inv_b, n, a)


# -- helpers ---------------------------------------------------------------------------------------


def _check_n(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"the number of agents must be an integer >= 0, not {n!r}")


def _check_nonneg(name: str, value: float) -> None:
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be finite and >= 0, not {value}")


def _check_positive(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be finite and > 0, not {value}")


def _log_inv_erlang_b(n: int, a: float) -> float:
    """ln(1 / B(n, a)) by the recursion 1/B_k = 1 + (k / a) / B_{k-1}, B_0 = 1, in log space."""
    _check_n(n)
    _check_nonneg("a", a)
    if a == 0:
        return 0.0 if n == 0 else math.inf
    log_inv = 0.0
    for k in range(1, n + 1):
        log_inv = _next_log_inv_b(log_inv, k, a)
    return log_inv


def _next_log_inv_b(prev: float, k: int, a: float) -> float:
    """ln(1/B_k) from ln(1/B_{k-1}): ln(1 + (k/a) e^prev), without overflow."""
    log_term = math.log(k / a) + prev
    if log_term > 0:
        return log_term + math.log1p(math.exp(-log_term))
    return math.log1p(math.exp(log_term))


def _log_expm1(v: float) -> float:
    """ln(e^v - 1) for v >= 0 (-inf at 0)."""
    if v == 0:
        return -math.inf
    if v > 30:
        return v + math.log1p(-math.exp(-v))
    return math.log(math.expm1(v))


def _logaddexp(u: float, v: float) -> float:
    if u == -math.inf:
        return v
    if v == -math.inf:
        return u
    hi, lo = (u, v) if u >= v else (v, u)
    return hi + math.log1p(math.exp(lo - hi))


def _log_scaled_lower_gamma(a: float, z: float) -> float:
    """ln(gamma(a, z) * e^z * z^-a), where gamma(a, z) = int_0^z s^(a-1) e^-s ds is the lower
    incomplete gamma function (a > 0, z >= 0).

    The series sum_k z^k / (a (a+1) ... (a+k)) for z < a + 1 (no cancellation at all), Lentz's
    continued fraction of the upper function otherwise (Numerical Recipes, 6.2); both converge in
    O(sqrt(a)) steps."""
    if z <= 0:
        return -math.log(a)
    if z < a + 1:
        term = total = 1.0 / a
        d = a
        while True:
            d += 1.0
            term *= z / d
            total += term
            if term < total * 1e-17:
                break
        return math.log(total)
    tiny = 1e-300
    b = z + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    i = 1
    while True:
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-16 or i > 100_000:
            break
        i += 1
    log_z = math.log(z)
    log_upper = a * log_z - z + math.log(h)  # ln Gamma(a, z)
    log_full = math.lgamma(a)
    log_lower = log_full + math.log1p(-math.exp(min(0.0, log_upper - log_full)))
    return log_lower + z - a * log_z
