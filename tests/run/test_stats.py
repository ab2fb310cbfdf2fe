"""Latency statistics: summaries, percentiles, the Mann-Whitney U test and bootstrap ratios."""

from __future__ import annotations

import math
import random
from itertools import combinations

import pytest

from chainmagic.run import stats


def test_summaries_of_known_samples():
    assert stats.median([3.0, 1.0, 2.0]) == 2.0
    assert stats.median([4.0, 1.0, 3.0, 2.0]) == 2.5
    assert stats.median([7.0]) == 7.0
    assert stats.mean([1.0, 2.0, 6.0]) == 3.0
    # Sample (n - 1) standard deviation: sqrt(32 / 7) for this classic sample.
    assert stats.stdev([2, 4, 4, 4, 5, 5, 7, 9]) == pytest.approx(math.sqrt(32 / 7))
    assert stats.stdev([1.5]) == 0.0
    assert stats.stdev([]) == 0.0


def test_percentiles_interpolate_between_order_statistics():
    xs = [float(x) for x in range(20, 0, -1)]  # 1..20, unsorted
    assert stats.percentile(xs, 0) == 1.0
    assert stats.percentile(xs, 100) == 20.0
    assert stats.percentile(xs, 50) == 10.5
    assert stats.percentile(xs, 95) == pytest.approx(19.05)  # (20 - 1) * 0.95 = 18.05
    assert stats.percentile([1.0, 2.0, 3.0, 4.0], 25) == pytest.approx(1.75)
    assert stats.percentile([0.3], 95) == 0.3
    assert stats.P95_MIN_RUNS == 20


def exact_p(a, b):
    """Two-sided exact Mann-Whitney p-value by listing every split of the pooled values."""
    pooled = a + b
    n1 = len(a)

    def u_of(group):
        return sum((x > y) + 0.5 * (x == y) for x in group for y in pooled if y not in group)

    observed = u_of(a)
    centre = n1 * len(b) / 2
    splits = [list(c) for c in combinations(pooled, n1)]
    extreme = sum(abs(u_of(s) - centre) >= abs(observed - centre) for s in splits)
    return extreme / len(splits)


def test_fully_separated_samples_are_as_unlikely_as_can_be():
    fast = [0.10, 0.11, 0.12, 0.13, 0.14]
    slow = [0.20, 0.21, 0.22, 0.23, 0.24]
    assert stats.mann_whitney_u(slow, fast) == pytest.approx(2 / 252)
    assert stats.mann_whitney_u(fast, slow) == pytest.approx(2 / 252)


def test_the_exact_test_matches_a_brute_force_count():
    rng = random.Random(7)
    for n1, n2 in [(3, 4), (5, 5), (4, 6), (6, 3)]:
        for _ in range(5):
            values = rng.sample(range(1000), n1 + n2)
            a, b = [float(v) for v in values[:n1]], [float(v) for v in values[n1:]]
            assert stats.mann_whitney_u(a, b) == pytest.approx(exact_p(a, b)), (a, b)


def test_the_exact_test_matches_scipys_documented_example():
    # scipy.stats.mannwhitneyu's docstring: ages of male and female workers, exact p = 0.1111.
    males = [19, 22, 16, 29, 24]
    females = [20, 11, 17, 12]
    assert stats.mann_whitney_u(males, females) == pytest.approx(0.1111, abs=1e-4)


def test_identical_samples_are_not_different():
    same = [0.1, 0.2, 0.3, 0.4]
    assert stats.mann_whitney_u(same, list(same)) == 1.0
    assert stats.mann_whitney_u([0.5] * 6, [0.5] * 6) == 1.0  # all tied: no spread at all
    assert stats.mann_whitney_u([], [1.0]) == 1.0


def test_ties_use_the_normal_approximation_with_tie_correction():
    a, b = [1.0, 2.0, 2.0], [2.0, 3.0, 4.0]
    # Ranks 1, 3, 3 | 3, 5, 6: U = 1; sigma² = 9/12 * (7 - 24/30) = 4.65; z = (3.5 - 0.5) / sigma.
    expected = math.erfc(3 / math.sqrt(4.65) / math.sqrt(2))
    assert expected == pytest.approx(0.1642, abs=1e-4)  # R: wilcox.test(exact=FALSE) p = 0.1642
    assert stats.mann_whitney_u(a, b) == pytest.approx(expected)
    assert stats.mann_whitney_u(b, a) == pytest.approx(expected)


def test_against_scipy_when_it_is_installed():
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = random.Random(3)
    for _ in range(10):
        a = [round(rng.gauss(1.0, 0.2), 1) for _ in range(12)]  # rounded: plenty of ties
        b = [round(rng.gauss(1.2, 0.2), 1) for _ in range(15)]
        expected = scipy_stats.mannwhitneyu(a, b, method="asymptotic").pvalue
        assert stats.mann_whitney_u(a, b) == pytest.approx(expected)


def test_large_untied_samples_approximate_the_exact_distribution():
    rng = random.Random(11)
    values = rng.sample(range(10_000), 50)
    a = [float(v) for v in values[:25]]
    b = [float(v) + 1500 for v in values[25:]]
    u1 = sum(x > y for x in a for y in b)
    counts = stats._u_counts(25, 25)
    tail = sum(counts[: min(u1, 625 - u1) + 1]) / sum(counts)
    assert stats.mann_whitney_u(a, b) == pytest.approx(min(1.0, 2 * tail), abs=0.005)


def test_clearly_different_latencies_are_significant_and_similar_ones_are_not():
    rng = random.Random(5)
    fast = [rng.gauss(0.10, 0.005) for _ in range(10)]
    slow = [rng.gauss(0.15, 0.005) for _ in range(10)]
    also_fast = [rng.gauss(0.10, 0.005) for _ in range(10)]
    assert stats.mann_whitney_u(slow, fast) < 0.001
    assert stats.mann_whitney_u(also_fast, fast) > 0.05


def test_the_ratio_interval_contains_the_true_ratio_and_is_seeded():
    rng = random.Random(1)
    slow = [0.2 * rng.uniform(0.95, 1.05) for _ in range(9)]
    fast = [0.1 * rng.uniform(0.95, 1.05) for _ in range(9)]

    low, high = stats.ratio_interval(slow, fast)

    assert low < 2.0 < high
    assert 1.8 < low and high < 2.2
    assert stats.ratio_interval(slow, fast) == (low, high)
    assert stats.ratio_interval(slow, fast, seed=1) != (low, high)
    for stat in ("mean", "min"):
        low, high = stats.ratio_interval(slow, fast, stat=stat)
        assert 1.8 < low <= high < 2.2


def test_the_ratio_interval_narrows_with_less_confidence():
    rng = random.Random(2)
    slow = [rng.uniform(0.2, 0.3) for _ in range(15)]
    fast = [rng.uniform(0.1, 0.15) for _ in range(15)]
    wide = stats.ratio_interval(slow, fast, confidence=0.99)
    narrow = stats.ratio_interval(slow, fast, confidence=0.5)
    assert wide[0] <= narrow[0] <= narrow[1] <= wide[1]


def test_a_ratio_over_zero_latencies_has_no_interval():
    low, high = stats.ratio_interval([0.1, 0.2], [0.0, 0.0])
    assert math.isnan(low) and math.isnan(high)
