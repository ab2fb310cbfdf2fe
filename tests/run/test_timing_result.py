"""TimingResult: rows relative to a reference, ratios with intervals, significance, exports."""

from __future__ import annotations

import math
import random
import sys

import pytest

from chainmagic.run.timing import ChainTiming
from chainmagic.run.timing_result import TimingResult, TimingRow


def spread(centre: float, n: int, seed: int, width: float = 0.02) -> list[float]:
    rng = random.Random(seed)
    return [centre * rng.uniform(1 - width, 1 + width) for _ in range(n)]


def timings(**runs: list[float]) -> dict[str, ChainTiming]:
    return {label: ChainTiming(label, all_runs=list(r), ttfts=list(r)) for label, r in runs.items()}


@pytest.fixture
def three() -> TimingResult:
    return TimingResult(
        timings(
            slow=spread(0.3, 9, seed=1),
            fast=spread(0.1, 9, seed=2),
            twin=spread(0.1, 9, seed=3),
        )
    )


def row(result: TimingResult, label: str) -> TimingRow:
    return next(r for r in result.rows if r.label == label)


def test_the_fastest_chain_is_the_reference(three):
    assert three.reference in {"fast", "twin"}
    assert [r.label for r in three.rows] == ["slow", "fast", "twin"]  # in the order given
    ref = row(three, three.reference)
    assert ref.reference
    assert (ref.ratio, ref.ratio_low, ref.ratio_high) == (1.0, 1.0, 1.0)
    assert ref.p_value is None and ref.significant is None
    assert sum(r.reference for r in three.rows) == 1


def test_a_named_baseline_is_the_reference(three):
    three.baseline = "slow"
    assert three.reference == "slow"
    fast = row(three, "fast")
    assert fast.ratio == pytest.approx(1 / 3, rel=0.05)
    assert fast.ratio_low <= fast.ratio <= fast.ratio_high < 1
    assert fast.significant is True


def test_ratios_carry_an_interval_around_the_truth(three):
    slow = row(three, "slow")
    assert slow.ratio == pytest.approx(3.0, rel=0.05)
    assert slow.ratio_low < 3.0 < slow.ratio_high
    assert slow.ratio_low < slow.ratio < slow.ratio_high


def test_clearly_different_chains_differ_significantly_and_twins_do_not(three):
    slow = row(three, "slow")
    assert slow.p_value < 0.001
    assert slow.significant is True
    other_twin = row(three, "twin" if three.reference == "fast" else "fast")
    assert other_twin.p_value > 0.05
    assert other_twin.significant is False
    assert other_twin.ratio == pytest.approx(1.0, abs=0.03)


def test_the_statistic_can_be_the_mean_or_the_minimum():
    result = TimingResult(timings(a=[0.1, 0.1, 0.5], b=[0.2, 0.2, 0.2]))
    assert result.reference == "a"
    result.stat = "mean"
    assert result.reference == "b"
    assert row(result, "a").ratio == pytest.approx((0.7 / 3) / 0.2)
    result.stat = "min"
    assert result.reference == "a"
    assert row(result, "b").ratio == pytest.approx(2.0)


def test_row_summaries_of_known_runs():
    result = TimingResult(timings(c=[0.4, 0.1, 0.3, 0.2]))
    r = result.rows[0]
    assert (r.runs, r.failures, r.min, r.max) == (4, 0, 0.1, 0.4)
    assert r.median == pytest.approx(0.25)
    assert r.mean == pytest.approx(0.25)
    assert r.stdev == pytest.approx(0.1290994)
    assert r.ttft == pytest.approx(0.25)
    assert r.branches == {} and r.speedup is None


def test_p95_needs_twenty_runs():
    nineteen = TimingResult(timings(c=[float(i) for i in range(1, 20)]))
    twenty = TimingResult(timings(c=[float(i) for i in range(1, 21)]))
    assert nineteen.rows[0].p95 is None
    assert twenty.rows[0].p95 == pytest.approx(19.05)


def test_a_map_row_shows_branch_medians_and_speedup():
    timing = ChainTiming(
        "map",
        all_runs=[0.30, 0.31, 0.32],
        branches={"joke": [0.30, 0.29, 0.31], "poem": [0.28, 0.30, 0.29], "idle": []},
    )
    r = TimingResult({"map": timing}).rows[0]
    assert r.branches == {"joke": pytest.approx(0.30), "poem": pytest.approx(0.29)}
    assert r.speedup == pytest.approx(0.59 / 0.31)


def test_no_runs_no_reference():
    result = TimingResult({"a": ChainTiming("a", failures=3)})
    assert result.reference is None
    r = result.rows[0]
    assert r.runs == 0 and r.failures == 3 and r.ratio is None
    assert math.isnan(r.median) and math.isnan(r.mean)
    assert result.summary() == "no chain finished a run"


def test_dicts_of_every_chain(three):
    assert three["slow"] is three.chains["slow"]
    assert three.best == {k: min(v.all_runs) for k, v in three.chains.items()}
    assert three.average["fast"] == pytest.approx(sum(three["fast"].all_runs) / 9)
    assert set(three.stdev) == {"slow", "fast", "twin"}
    runs = three.all_runs
    assert runs["twin"] == three["twin"].all_runs
    runs["twin"].append(99.0)  # a copy
    assert 99.0 not in three["twin"].all_runs


def test_to_dict(three):
    three.stopped_early = True
    data = three.to_dict()
    assert data["stat"] == "median"
    assert data["reference"] == three.reference
    assert data["stopped_early"] is True
    assert [r["label"] for r in data["rows"]] == ["slow", "fast", "twin"]
    assert data["rows"][0]["ratio"] == row(three, "slow").ratio
    assert set(data["rows"][0]) >= {"median", "ratio_low", "ratio_high", "p_value", "significant"}
    assert data["all_runs"] == three.all_runs


def test_to_markdown_is_a_table_with_one_line_per_chain(three):
    lines = three.to_markdown().splitlines()
    assert lines[0].startswith("| chain | runs | median |")
    assert lines[1].startswith("| --- |")
    assert len(lines) == 5
    slow = next(line for line in lines if line.startswith("| slow |"))
    assert "| 9 |" in slow
    assert " ms" in slow
    assert f"{row(three, 'slow').ratio:.2f}×" in slow
    ref = next(line for line in lines if line.startswith(f"| {three.reference} |"))
    assert ref.endswith("| 1.00× |")


def test_the_summary_names_the_fastest_and_how_much_the_others_lag(three):
    ref = three.reference
    other = "twin" if ref == "fast" else "fast"
    lines = three.summary().splitlines()
    assert lines[0].startswith(f"{ref} is the fastest (median ")
    assert len(lines) == 3
    # Least slower first; only the significant difference goes without a caveat.
    assert lines[1].endswith(f" slower: {other} (not significant)")
    slow = row(three, "slow")
    assert lines[2] == (
        f"  {slow.ratio:.2f}× [{slow.ratio_low:.2f}, {slow.ratio_high:.2f}] slower: slow"
    )


def test_the_summary_says_faster_against_a_slower_baseline(three):
    three.baseline = "slow"
    lines = three.summary().splitlines()
    assert lines[0].startswith("slow is the baseline (median ")
    assert all(" faster: " in line for line in lines[1:])
    assert len(lines) == 3
    # A faster chain reads as 1/ratio, its interval flipped to match: low <= factor <= high.
    fast = row(three, "fast")
    factor, low, high = 1 / fast.ratio, 1 / fast.ratio_high, 1 / fast.ratio_low
    line = next(line for line in lines if line.endswith("faster: fast"))
    assert line == f"  {factor:.2f}× [{low:.2f}, {high:.2f}] faster: fast"
    assert low <= factor <= high


def test_to_dataframe_without_pandas_says_how_to_install_it(three, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # makes `import pandas` fail
    with pytest.raises(ImportError, match="pip install pandas"):
        three.to_dataframe()


def test_to_dataframe_with_pandas(three):
    pytest.importorskip("pandas")
    frame = three.to_dataframe()
    assert list(frame.index) == ["slow", "fast", "twin"]
    assert frame.loc["slow", "runs"] == 9


def test_a_map_that_cost_the_sum_of_its_branches_did_not_overlap():
    serial = ChainTiming(
        "map", all_runs=[0.095, 0.10, 0.105], branches={"joke": [0.04] * 3, "poem": [0.055] * 3}
    )
    parallel = ChainTiming(
        "map", all_runs=[0.055, 0.056, 0.06], branches={"joke": [0.04] * 3, "poem": [0.055] * 3}
    )
    assert TimingResult({"map": serial}).rows[0].overlapped is False
    assert TimingResult({"map": parallel}).rows[0].overlapped is True
    plain = TimingResult(timings(c=[0.1, 0.1])).rows[0]
    assert plain.overlapped is None  # not a map: nothing to say
    assert TimingResult({"map": serial}).rows[0].to_dict()["overlapped"] is False
