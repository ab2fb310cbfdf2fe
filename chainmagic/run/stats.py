"""Statistics for latencies: robust summaries, ratios with uncertainty, and significance.

LLM latencies are skewed and noisy and runs are few (each costs money), so the summaries lean on
medians, a seeded bootstrap for the uncertainty of a ratio, and the Mann-Whitney U test (exact for
small samples) for "is this difference real". Pure Python: no numpy import for seven numbers.

Interleaved rounds pair the runs of two chains (both met the same moment of the server), so a
comparison can use each round's own ratio: a slow round slows both sides and cancels out. The
paired interval is the distribution-free interval of the median of per-round log ratios (the sign
test inverted), whose coverage is at least the nominal level for any symmetric noise; it needs
six pairs for 95 %. The same order-statistic interval bounds a median for ``-n auto``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from functools import lru_cache

__all__ = [
    "P95_MIN_RUNS",
    "PERCENTILE_MIN_RUNS",
    "mann_whitney_u",
    "mean",
    "median",
    "median_interval",
    "paired_ratio",
    "percentile",
    "ratio_interval",
    "sign_test",
    "stdev",
]

P95_MIN_RUNS = 20  # below this a 95th percentile is just the maximum with a new name
# A q-th percentile means something once at least one run lies beyond it: n * (1 - q) >= 1.
PERCENTILE_MIN_RUNS = {50: 1, 90: 10, 95: P95_MIN_RUNS, 99: 100}


def mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs)


def median(xs: Sequence[float]) -> float:
    s = sorted(xs)
    n = len(s)
    mid = n // 2
    return s[mid] if n % 2 else (s[mid - 1] + s[mid]) / 2


def stdev(xs: Sequence[float]) -> float:
    """Sample standard deviation (n - 1), 0 for a single run, as %timeit reports it."""
    n = len(xs)
    if n < 2:
        return 0.0
    m = mean(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / (n - 1))


def percentile(xs: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between order statistics."""
    s = sorted(xs)
    if len(s) == 1:
        return s[0]
    pos = (len(s) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def ratio_interval(
    slow: Sequence[float],
    fast: Sequence[float],
    *,
    stat: str = "median",
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """A bootstrap interval for ``stat(slow) / stat(fast)`` (seeded: the same data, the same answer)."""
    summary = _STATS[stat]
    rng = random.Random(seed)
    ratios = []
    for _ in range(resamples):
        a = [slow[rng.randrange(len(slow))] for _ in slow]
        b = [fast[rng.randrange(len(fast))] for _ in fast]
        denominator = summary(b)
        if denominator > 0:
            ratios.append(summary(a) / denominator)
    if not ratios:
        return (math.nan, math.nan)
    tail = (1 - confidence) / 2 * 100
    return percentile(ratios, tail), percentile(ratios, 100 - tail)


def _binom_half_cdf(k: int, n: int) -> float:
    """P(B <= k) for B ~ Binomial(n, 1/2), exactly (n is a run count: small)."""
    if k < 0:
        return 0.0
    return sum(math.comb(n, i) for i in range(min(k, n) + 1)) / 2**n


def median_interval(xs: Sequence[float], confidence: float = 0.95) -> tuple[float, float] | None:
    """A distribution-free interval for the median: order statistics chosen by the binomial.

    ``[x(k), x(n-k+1)]`` covers the true median unless at least ``n-k+1`` runs fall on one side
    of it, which has probability ``2 P(B <= k-1)``; k is the largest that keeps this within
    ``1 - confidence``. None when the runs are too few for that confidence (under 6 for 95 %).
    """
    n = len(xs)
    alpha = 1 - confidence
    k = 0
    while k + 1 <= (n + 1) // 2 and 2 * _binom_half_cdf(k, n) <= alpha:
        k += 1
    if k == 0:
        return None
    s = sorted(xs)
    return s[k - 1], s[n - k]


def sign_test(diffs: Sequence[float]) -> float:
    """Two-sided exact p-value of the sign test that the median of ``diffs`` is 0 (zeros dropped)."""
    pos = sum(d > 0 for d in diffs)
    neg = sum(d < 0 for d in diffs)
    n = pos + neg
    if n == 0:
        return 1.0
    return min(1.0, 2 * _binom_half_cdf(min(pos, neg), n))


def paired_ratio(
    slow: Sequence[float], fast: Sequence[float], *, confidence: float = 0.95
) -> tuple[float, float, float, float] | None:
    """``(ratio, low, high, p)`` from runs paired by round: the median per-round ratio.

    ``slow[i]`` and ``fast[i]`` are the same round. The interval is that of the median of
    ``log(slow[i] / fast[i])`` (see :func:`median_interval`), mapped back; ``p`` is the sign
    test's. None when a time is not positive or the pairs are too few for ``confidence``.
    """
    if len(slow) != len(fast) or any(x <= 0 for x in slow) or any(x <= 0 for x in fast):
        return None
    logs = [math.log(a / b) for a, b in zip(slow, fast)]
    interval = median_interval(logs, confidence)
    if interval is None:
        return None
    return (
        math.exp(median(logs)),
        math.exp(interval[0]),
        math.exp(interval[1]),
        sign_test(logs),
    )


def mann_whitney_u(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided p-value of the Mann-Whitney U test that ``a`` and ``b`` come from one distribution.

    Exact (by counting arrangements) when both samples are small and untied; otherwise the normal
    approximation with the tie correction.
    """
    n1, n2 = len(a), len(b)
    if not n1 or not n2:
        return 1.0
    ranked = sorted([(x, 0) for x in a] + [(x, 1) for x in b])
    ranks = [0.0] * len(ranked)
    ties = 0.0
    i = 0
    while i < len(ranked):
        j = i
        while j + 1 < len(ranked) and ranked[j + 1][0] == ranked[i][0]:
            j += 1
        rank = (i + j) / 2 + 1
        for k in range(i, j + 1):
            ranks[k] = rank
        t = j - i + 1
        ties += t**3 - t
        i = j + 1
    r1 = sum(r for r, (_, group) in zip(ranks, ranked) if group == 0)
    u1 = r1 - n1 * (n1 + 1) / 2
    u = min(u1, n1 * n2 - u1)
    if ties == 0 and n1 + n2 <= 40:
        counts = _u_counts(n1, n2)
        total = sum(counts)
        tail = sum(counts[: math.floor(u) + 1]) / total
        return min(1.0, 2 * tail)
    mu = n1 * n2 / 2
    n = n1 + n2
    sigma = math.sqrt(n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1))))
    if sigma == 0:
        return 1.0
    z = (abs(u1 - mu) - 0.5) / sigma  # continuity correction
    return min(1.0, math.erfc(max(z, 0.0) / math.sqrt(2)))


@lru_cache(maxsize=256)
def _u_counts(n1: int, n2: int) -> tuple[int, ...]:
    """How many arrangements of n1 + n2 untied values give each U (0 .. n1*n2)."""
    # f(i, j)[u]: arrangements of i values of sample 1 and j of sample 2 with U = u.
    table: dict[tuple[int, int], list[int]] = {}
    for i in range(n1 + 1):
        for j in range(n2 + 1):
            if i == 0 or j == 0:
                table[i, j] = [1] + [0] * (i * j)
                continue
            size = i * j + 1
            row = [0] * size
            # The largest value is from sample 1 (adds j to U) or from sample 2 (adds nothing).
            for u, c in enumerate(table[i - 1, j]):
                row[u + j] += c
            for u, c in enumerate(table[i, j - 1]):
                row[u] += c
            table[i, j] = row
    return tuple(table[n1, n2])


def _min(xs: Sequence[float]) -> float:
    return min(xs)


_STATS = {"median": median, "mean": mean, "min": _min}
