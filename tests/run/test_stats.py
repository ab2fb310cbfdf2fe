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


def test_the_median_interval_is_the_binomial_order_statistics():
    xs = [float(x) for x in range(1, 21)]
    # n = 20: P(B <= 5) = 0.0207, so [x(6), x(15)] covers with 95.9 %; [x(7), x(14)] would not.
    assert stats.median_interval(xs) == (6.0, 15.0)
    assert stats.median_interval(xs[:6]) == (1.0, 6.0)  # 6 runs: min and max cover 96.9 %
    assert stats.median_interval(xs[:5]) is None  # 5 runs cannot give 95 %
    assert stats.median_interval(xs[:5], confidence=0.9) == (1.0, 5.0)


def test_the_sign_test_against_a_direct_count():
    assert stats.sign_test([1.0] * 6) == pytest.approx(2 / 64)
    assert stats.sign_test([1.0, -1.0] * 5) == 1.0
    assert stats.sign_test([0.0, 0.0]) == 1.0
    diffs = [1.0] * 8 + [-1.0] * 2
    assert stats.sign_test(diffs) == pytest.approx(2 * (1 + 10 + 45) / 1024)


def test_paired_ratio_cancels_what_both_sides_of_a_round_share():
    rng = random.Random(7)
    drift = [rng.uniform(0.5, 3.0) for _ in range(12)]  # a server that slows and speeds up
    fast = [d * 0.1 * rng.uniform(0.99, 1.01) for d in drift]
    slow = [d * 0.2 * rng.uniform(0.99, 1.01) for d in drift]

    ratio, low, high, p = stats.paired_ratio(slow, fast)

    assert low <= ratio <= high and low < 2.0 < high
    assert high - low < 0.05  # the drift cancels; unpaired, it would swamp the ratio
    unpaired = stats.ratio_interval(slow, fast)
    assert unpaired[1] - unpaired[0] > 10 * (high - low)
    assert p == pytest.approx(2 / 2**12)
    assert stats.paired_ratio(slow[:5], fast[:5]) is None  # too few pairs for 95 %
    assert stats.paired_ratio([0.0] * 8, fast[:8]) is None


def coverage(interval_of, trials: int, n: int, seed: int) -> float:
    """How often an interval covers the true ratio 1.5 on lognormal runs with round drift."""
    rng = random.Random(seed)
    true = 1.5
    hits = 0
    for _ in range(trials):
        drift = [math.exp(rng.gauss(0, 0.3)) for _ in range(n)]
        fast = [0.2 * d * math.exp(rng.gauss(0, 0.1)) for d in drift]
        slow = [true * 0.2 * d * math.exp(rng.gauss(0, 0.1)) for d in drift]
        low, high = interval_of(slow, fast)
        hits += low <= true <= high
    return hits / trials


def test_the_paired_interval_covers_the_true_ratio_at_its_nominal_level():
    # Fixed seed: the same 1,000 synthetic comparisons every time.
    for n in (7, 20):
        covered = coverage(lambda a, b: stats.paired_ratio(a, b)[1:3], 1000, n, seed=n)
        assert covered >= 0.93


def test_the_bootstrap_interval_covers_the_true_ratio_without_drift():
    def no_drift(a, b):
        return stats.ratio_interval(a, b, resamples=400)

    rng = random.Random(3)
    hits = 0
    trials = 300
    for _ in range(trials):
        fast = [0.2 * math.exp(rng.gauss(0, 0.1)) for _ in range(20)]
        slow = [0.3 * math.exp(rng.gauss(0, 0.1)) for _ in range(20)]
        low, high = no_drift(slow, fast)
        hits += low <= 1.5 <= high
    assert hits / trials >= 0.93
