"""TimingResult: rows relative to a reference, ratios with intervals, significance, exports."""

from __future__ import annotations

import csv
import io
import json
import math
import random
import sys

import pytest

from chainmagic.run.timing import BranchRun, ChainTiming, RunRecord
from chainmagic.run.timing_result import (
    TIMING_MIME,
    TimingResult,
    TimingRow,
)


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
    assert data["rows"][0]["ratio"] == round(row(three, "slow").ratio, 4)
    assert data["rows"][0]["median"] == round(row(three, "slow").median, 6)
    assert set(data["rows"][0]) >= {"median", "ratio_low", "ratio_high", "p_value", "significant"}
    assert data["all_runs"] == {k: [round(t, 6) for t in v] for k, v in three.all_runs.items()}


def test_rows_are_computed_once(three, monkeypatch):
    from chainmagic.run import stats

    calls = []
    real = stats.ratio_interval
    monkeypatch.setattr(stats, "ratio_interval", lambda *a, **k: calls.append(1) or real(*a, **k))
    three.__dict__.pop("_rows", None)
    for _ in range(5):
        three.rows, three.to_dict(), three.summary()
    assert len(calls) == 2  # one interval per chain compared with the reference, once
    three.stat = "mean"  # what the rows depend on changed: computed again
    three.rows
    assert len(calls) == 4


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


def recorded(label: str, totals: list[float], **extra) -> ChainTiming:
    """A chain timed in rounds 0..n-1 (what time_chains leaves), one record per run."""
    timing = ChainTiming(label)
    for i, total in enumerate(totals):
        timing.add(RunRecord(round=i, total=total, ttft=total / 2, **extra))
    return timing


def test_rows_carry_percentiles_only_when_the_runs_support_them():
    few = TimingResult({"c": recorded("c", [0.1 * (i + 1) for i in range(9)])}).rows[0]
    assert few.p50 == pytest.approx(0.5) and few.p90 is None and few.p99 is None
    ten = TimingResult({"c": recorded("c", [0.1 * (i + 1) for i in range(10)])})
    assert ten.rows[0].p90 == pytest.approx(0.91)
    assert ten.percentile_note == "percentiles: p95 needs 20, p99 needs 100 runs"
    hundred = TimingResult({"c": recorded("c", [float(i) for i in range(100)])})
    assert hundred.rows[0].p99 == pytest.approx(98.01)
    assert hundred.percentile_note is None


def test_rows_carry_ttft_itl_tpot_tokens_per_s_and_error_rate():
    timing = recorded("c", [1.0, 2.0, 3.0], itl=0.01, tpot=0.02, output_tokens=10)
    timing.add(RunRecord(round=3, total=9.0, status="error", error_kind="TimeoutError"))
    r = TimingResult({"c": timing}).rows[0]
    assert (r.runs, r.failures, r.error_rate) == (3, 1, 0.25)
    assert r.ttft == 1.0 and r.itl == 0.01 and r.tpot == 0.02
    assert r.tokens_per_s == pytest.approx(5.0)  # median of 10/1, 10/2, 10/3


def test_chains_timed_in_the_same_rounds_are_compared_round_by_round():
    rng = random.Random(5)
    drift = [rng.uniform(0.5, 2.0) for _ in range(10)]
    result = TimingResult(
        {
            "fast": recorded("fast", [0.1 * d for d in drift]),
            "slow": recorded("slow", [0.2 * d * rng.uniform(0.98, 1.02) for d in drift]),
            "twin": recorded("twin", [0.1 * d * rng.uniform(0.98, 1.02) for d in drift]),
        },
        baseline="fast",
    )
    slow, twin = row(result, "slow"), row(result, "twin")
    assert slow.paired and slow.ratio_low <= 2.0 <= slow.ratio_high
    assert slow.ratio_high - slow.ratio_low < 0.1
    assert slow.significant is True
    assert twin.paired and twin.ratio_low <= 1.0 <= twin.ratio_high
    assert twin.significant is False
    assert any(line.endswith("twin (not significant)") for line in result.summary().splitlines())


def test_warnings_cold_start_cache_spread_and_failures():
    cold = recorded("cold", [0.1] * 5, output="same")
    cold.warmup_runs = [0.5]
    cache = recorded("cache", [0.001] * 5, output="same")
    cache.warmup_runs = [0.5]
    wild = recorded("wild", [0.1, 0.3, 0.1, 0.3, 0.1], output="varies")
    wild.records[1].output = "other"
    wild.add(RunRecord(round=5, total=1.0, status="error", error_kind="X"))
    warnings = TimingResult({"cold": cold, "cache": cache, "wild": wild}).warnings
    assert warnings[0] == "cold: the first warm-up run took 500 ms, 5.0× the median (cold start)"
    assert warnings[1].startswith(
        "cache: every run gave the same output, 500× faster than the first"
    )
    assert "wild: 1 of 6 runs failed and are left out" in warnings
    assert any(w.startswith("wild: high spread (std is ") for w in warnings)
    assert TimingResult({"calm": recorded("calm", [0.1] * 5)}).warnings == []


def test_goodput_is_the_share_of_runs_meeting_every_bound():
    timing = recorded("c", [0.5, 1.0, 3.0])  # ttft 0.25, 0.5, 1.5
    timing.add(RunRecord(round=3, total=0.1, status="error"))
    result = TimingResult({"c": timing}, slo={"ttft": 0.5, "total": 2.0})
    assert result.rows[0].goodput == 0.5  # two of four met both; the failure did not
    assert TimingResult({"c": timing}).rows[0].goodput is None


def test_what_stopped_the_measurement_is_said():
    base = {"c": recorded("c", [0.1] * 8)}
    assert TimingResult(base, orders=[["c"]] * 8).stopping == "8 rounds, as asked"
    auto = TimingResult(base, orders=[["c"]] * 8, stopped_by="rel-ci", rel_ci=0.05)
    assert auto.stopping == "-n auto: every median known within 5% (95 % interval) after 8 rounds"
    early = TimingResult(base, orders=[["c"]] * 8, stopped_early=True, runs_requested=50)
    assert early.stopped_by == "max-time"
    assert early.stopping == "--max-time ended the measurement after 8 of 50 rounds"


@pytest.fixture
def measured() -> TimingResult:
    """A real measurement: a plain chain, a map, a failing chain, load levels and an SLO."""
    from chainmagic.core import FakeChatModel, RunnableParallel
    from chainmagic.run.load import run_load
    from chainmagic.run.timing import time_chains

    chains = {
        "one": FakeChatModel(latency=0.01, token_delay=0.001),
        "map": RunnableParallel(a=FakeChatModel(latency=0.01), b=FakeChatModel(latency=0.02)),
        "bad": FakeChatModel(fail_rate=1.0),
    }
    session = time_chains(chains, "two words", runs=6, warmup=1)
    load = run_load({"one": chains["one"]}, "two words", [1, 2], runs=2, slo={"total": 1.0})
    return TimingResult(
        session.timings,
        input={"topic": "bear", "n": 1.5},
        orders=session.orders,
        runs_requested=6,
        warmup=1,
        stopped_by=session.stopped_by,
        slo={"total": 1.0},
        load=load,
        columns=["median", "p50", "ttft", "error_rate", "goodput", "ratio"],
    )


def test_json_round_trips_exactly_and_redraws_without_rerunning(measured):
    text = measured.to_json()
    again = TimingResult.from_json(text)
    assert again.to_json() == text
    assert repr(again.rows) == repr(measured.rows)  # (nan != nan, so compared as text)
    assert again.warnings == measured.warnings
    assert again.summary() == measured.summary()
    assert again.to_csv() == measured.to_csv()
    assert [lv.mean_in_flight for lv in again.load] == [lv.mean_in_flight for lv in measured.load]
    assert repr(again) == repr(measured)  # the text view re-drawn from the data alone
    assert TimingResult.from_json(json.loads(text)).to_json() == text


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("[1, 2]", "not a chainmagic timing result"),
        ('{"format": "chainmagic.timing", "version": 99}', "version 99 is not supported"),
        ('{"format": "chainmagic.timing", "version": 1}', "not a complete chainmagic timing"),
    ],
)
def test_from_json_names_what_is_wrong(data, message):
    with pytest.raises(ValueError, match=message):
        TimingResult.from_json(data)


def test_an_input_json_cannot_keep_is_stored_as_its_repr():
    result = TimingResult({"c": recorded("c", [0.1])}, input={1, 2})
    assert json.loads(result.to_json())["input"] == "{1, 2}"


def test_csv_has_one_line_per_run_with_load_levels_after(measured):
    rows = list(csv.DictReader(io.StringIO(measured.to_csv())))
    plain = [r for r in rows if not r["concurrency"]]
    assert len(plain) == 18  # 3 chains × 6 rounds
    assert {r["status"] for r in plain if r["chain"] == "bad"} == {"error"}
    assert {r["error_kind"] for r in plain if r["chain"] == "bad"} == {"FakeModelError"}
    assert {r["critical"] for r in plain if r["chain"] == "map"} == {"b"}
    loaded = [r for r in rows if r["concurrency"]]
    assert [r["concurrency"] for r in loaded] == ["1", "1", "2", "2", "2", "2"]
    one = next(r for r in plain if r["chain"] == "one")
    assert float(one["total"]) == measured["one"].records[0].total


def test_hyperfine_export_has_hyperfines_fields(measured):
    results = json.loads(measured.to_hyperfine())["results"]
    assert [r["command"] for r in results] == ["one", "map", "bad"]
    one = results[0]
    assert set(one) == {"command", "mean", "stddev", "median", "min", "max", "times", "exit_codes"}
    assert one["times"] == measured["one"].all_runs
    assert one["median"] == measured["one"].median and one["stddev"] == measured["one"].stdev
    assert results[2]["times"] == [] and results[2]["exit_codes"] == [1] * 6
    assert results[2]["mean"] is None


def test_markdown_follows_the_chosen_columns(measured):
    lines = measured.to_markdown().splitlines()
    assert lines[0] == "| chain | median | p50 | ttft | errors | goodput | ratio |"
    bad = next(line for line in lines if line.startswith("| bad |"))
    assert "| 100% | 0% | — |" in bad


def test_the_display_bundle_carries_the_raw_runs(measured):
    from chainmagic.display.bundle import bundle

    data = bundle(measured)
    assert TimingResult.from_json(data[TIMING_MIME]).to_json() == measured.to_json()
    json.dumps(data[TIMING_MIME], allow_nan=False)  # valid JSON for the notebook file


def test_json_stores_each_distinct_output_once_and_never_a_key():
    timing = ChainTiming("c")
    for i in range(50):
        timing.add(RunRecord(round=i, total=0.1, output="the same long answer " * 20))
    result = TimingResult({"c": timing}, input={"q": "use sk-proj-abcdefghijklmnop"})
    text = result.to_json()
    assert text.count("the same long answer") == 20
    assert "sk-proj-abcd" not in text
    assert TimingResult.from_json(text)["c"].outputs == timing.outputs


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


def streamed_map(label: str, one_at_a_time: bool, chunks: int = 10) -> ChainTiming:
    """A map of two branches that streamed together or one after the other."""
    timing = ChainTiming(label, branches={"joke": [], "poem": []})
    for i in range(3):
        joke = BranchRun(start=0.0, end=0.05, ttft=0.01, chunks=chunks, status="ok")
        if one_at_a_time:  # the poem waited for the joke, then streamed
            poem = BranchRun(start=0.0, end=0.10, ttft=0.06, chunks=chunks, status="ok")
        else:
            poem = BranchRun(start=0.0, end=0.055, ttft=0.012, chunks=chunks, status="ok")
        total = max(joke.end or 0, poem.end or 0)
        timing.add(RunRecord(round=i, total=total, branches={"joke": joke, "poem": poem}))
    return timing


def test_overlap_is_derived_from_the_records_and_survives_json():
    serial, parallel = streamed_map("serial", True), streamed_map("parallel", False)
    result = TimingResult(
        {"serial": serial, "parallel": parallel}, orders=[["serial", "parallel"]] * 3
    )
    assert serial.overlaps == [0.0] * 3 and min(parallel.overlaps) > 0.9
    assert (row(result, "serial").overlapped, row(result, "parallel").overlapped) == (False, True)
    again = TimingResult.from_json(result.to_json())
    assert again["serial"].overlaps == serial.overlaps
    assert [r.overlapped for r in again.rows] == [r.overlapped for r in result.rows]
    # the poem's latency includes its wait: without streams, the medians call the serial map parallel
    unstreamed = TimingResult({"serial": streamed_map("serial", True, chunks=1)})
    assert unstreamed["serial"].overlaps == [] and unstreamed.rows[0].overlapped is True


def test_a_branch_that_sent_its_answer_at_once_does_not_count_for_overlap():
    whole = BranchRun(start=0.0, end=0.05, ttft=0.049, chunks=2, status="ok")  # 2 % of its time
    streamed = BranchRun(start=0.0, end=0.05, ttft=0.01, chunks=10, status="ok")
    record = RunRecord(round=0, total=0.05, branches={"a": whole, "b": streamed})
    assert whole.streaming is None and record.overlap is None
    one_chunk = BranchRun(start=0.0, end=0.05, ttft=0.01, chunks=1, status="ok")
    assert one_chunk.streaming is None


def test_a_quick_branch_done_before_a_slow_one_starts_streaming_says_nothing_of_overlap():
    # a small model's few tokens stream in 13 ms after a 50 ms wait; a large model's first token
    # comes at 150 ms: apart however they were served, so this run cannot tell
    quick = BranchRun(start=0.0, end=0.063, ttft=0.05, chunks=7, status="ok")
    slow = BranchRun(start=0.0, end=0.21, ttft=0.15, chunks=12, status="ok")
    assert quick.streaming is not None and slow.streaming is not None
    assert RunRecord(round=0, total=0.21, branches={"s": quick, "l": slow}).overlap is None


def test_streams_judge_overlap_only_when_most_runs_could_be_judged_by_them():
    timing = ChainTiming("m", branches={"s": [], "l": []})
    for i in range(7):
        # in two runs the quick branch's stream, slowed down, is long enough to count
        end = 0.11 if i < 2 else 0.063
        quick = BranchRun(start=0.0, end=end, ttft=0.05, chunks=7, status="ok")
        slow = BranchRun(start=0.0, end=0.21, ttft=0.15, chunks=12, status="ok")
        timing.add(RunRecord(round=i, total=0.212, branches={"s": quick, "l": slow}))
    assert timing.overlaps == [0.0, 0.0]  # two runs of seven: not enough to say
    assert TimingResult({"m": timing}).rows[0].overlapped is True  # the medians judge: it saved


def test_without_streams_a_map_is_judged_by_what_it_saved_of_what_it_could():
    def map_of(own: float, a: float, b: float) -> ChainTiming:
        return ChainTiming("m", all_runs=[own] * 3, branches={"a": [a] * 3, "b": [b] * 3})

    assert TimingResult({"m": map_of(0.22, 0.065, 0.218)}).rows[0].overlapped is True  # 1.29×
    assert TimingResult({"m": map_of(0.28, 0.065, 0.218)}).rows[0].overlapped is False
    assert TimingResult({"m": map_of(0.21, 0.002, 0.2)}).rows[0].overlapped is None  # too lopsided
