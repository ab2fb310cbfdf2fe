"""time_chains: interleaved rounds, warmup, failures, early stops, captured output, accuracy."""

from __future__ import annotations

import itertools
import math
import threading
import time

import pytest

from chainmagic.core import FakeChatModel, RunnableLambda, RunnableParallel
from chainmagic.errors import ChainRunError
from chainmagic.run.timing import ChainTiming, RunRecord, overlap_share, rel_ci_of, time_chains
from chainmagic.run.timing_result import TimingResult


class Counter:
    """A step that counts its calls (thread-safe: sync lambdas run on pool threads)."""

    def __init__(self, fail_every: int = 0) -> None:
        self.calls = 0
        self.fail_every = fail_every
        self.lock = threading.Lock()

    def __call__(self, x):
        with self.lock:
            self.calls += 1
            n = self.calls
        if self.fail_every and n % self.fail_every == 0:
            raise ValueError(f"call {n} fails")
        return x


def test_every_round_runs_each_chain_once_in_a_seeded_order():
    chains = {name: RunnableLambda(str) for name in "abcd"}

    timings, orders, stopped = time_chains(chains, "x", runs=6, warmup=0, seed=42)

    assert not stopped
    assert len(orders) == 6
    assert all(sorted(order) == ["a", "b", "c", "d"] for order in orders)
    assert len({tuple(order) for order in orders}) > 1  # shuffled anew every round
    assert all(t.runs == 6 for t in timings.values())
    again = time_chains(chains, "x", runs=6, warmup=0, seed=42)[1]
    other = time_chains(chains, "x", runs=6, warmup=0, seed=43)[1]
    assert again == orders
    assert other != orders


def test_runs_follow_the_order_of_their_round():
    log: list[str] = []
    chains = {name: RunnableLambda(lambda x, name=name: log.append(name)) for name in "abc"}

    _, orders, _ = time_chains(chains, None, runs=4, warmup=0, seed=1)

    assert log == list(itertools.chain.from_iterable(orders))


def test_warmup_runs_are_made_but_not_counted():
    counter = Counter()

    timings, orders, _ = time_chains({"c": RunnableLambda(counter)}, 1, runs=3, warmup=2)

    assert counter.calls == 5
    assert timings["c"].runs == 3
    assert len(orders) == 3


def test_failed_runs_are_counted_apart_and_left_out_of_the_statistics():
    counter = Counter(fail_every=3)  # calls 3, 6 fail; warmup is call 1
    progress: list[tuple[int, int]] = []

    timings, _, _ = time_chains(
        {"flaky": RunnableLambda(counter)},
        1,
        runs=6,
        warmup=1,
        on_progress=lambda t, done, total: progress.append((done, total)),
    )

    flaky = timings["flaky"]
    assert counter.calls == 7
    assert flaky.failures == 2
    assert flaky.runs == len(flaky.ttfts) == 4
    assert isinstance(flaky.last_error, ChainRunError)
    assert flaky.last_error.path == ["flaky"]
    assert progress == [(i, 6) for i in range(1, 7)]  # every attempt reports progress


def test_a_chain_that_always_fails_has_no_statistics():
    timings, _, _ = time_chains(
        {"bad": FakeChatModel(fail_rate=1.0), "good": FakeChatModel()}, "hi", runs=3, warmup=1
    )

    bad = timings["bad"]
    assert (bad.runs, bad.failures) == (0, 3)
    assert math.isnan(bad.median) and math.isnan(bad.best) and math.isnan(bad.average)
    assert timings["good"].runs == 3
    result = TimingResult(timings)
    assert result.reference == "good"
    row = next(r for r in result.rows if r.label == "bad")
    assert row.ratio is None and row.failures == 3


def test_max_time_stops_after_at_least_one_round():
    chains = {"a": FakeChatModel(latency=0.05), "b": FakeChatModel(latency=0.05)}

    timings, orders, stopped = time_chains(chains, "hi", runs=50, warmup=0, max_time=0.01)

    assert stopped
    assert len(orders) == 1
    assert all(t.runs == 1 for t in timings.values())


def test_max_time_that_is_not_reached_does_not_stop():
    _, orders, stopped = time_chains({"a": RunnableLambda(str)}, 1, runs=3, warmup=0, max_time=60)
    assert not stopped
    assert len(orders) == 3


def test_what_chains_print_is_captured(capsys):
    def noisy(x):
        print("chatter from the chain")
        return x

    async def anoisy(x):
        print("async chatter")
        return x

    chains = {"sync": RunnableLambda(noisy), "async": RunnableLambda(anoisy)}
    timings, _, _ = time_chains(chains, 1, runs=2, warmup=1)
    print("after")

    assert capsys.readouterr().out == "after\n"
    assert all(t.runs == 2 for t in timings.values())


def test_a_fixed_latency_is_measured_closely():
    # 1 % is the bench's bound (bench/timing_bench.py); a busy test machine wakes sleepers late.
    timings, _, _ = time_chains({"m": FakeChatModel(latency=0.1)}, "hi", runs=5, warmup=1)

    m = timings["m"]
    assert 0.1 <= m.median < 0.15
    assert m.median >= 0.1
    assert all(0.1 <= t <= s for t, s in zip(m.ttfts, m.all_runs))


def test_a_map_costs_its_slowest_branch_and_shows_its_speedup():
    model = FakeChatModel(latency=0.3)
    chain = RunnableParallel(joke=model, poem=model)

    timings, _, _ = time_chains({"map": chain}, "hi", runs=3, warmup=0)

    timing = timings["map"]
    assert timing.is_map
    # coarse bounds: a loaded machine wakes sleepers late (the bench holds the tight figures)
    assert 0.3 <= timing.median < 0.45
    assert {k: len(v) for k, v in timing.branches.items()} == {"joke": 3, "poem": 3}
    assert all(0.3 <= span < 0.45 for span in timing.branches["joke"])
    row = TimingResult(timings).rows[0]
    assert 1.4 <= row.speedup <= 2.1


def test_a_labelled_map_inside_a_chain_gets_its_branch_times():
    model = FakeChatModel(latency=0.05)
    gather = RunnableParallel(a=model, b=model).with_config(run_name="gather")
    chain = gather | RunnableLambda(lambda d: d["a"].content + d["b"].content)

    timings, _, _ = time_chains({"c": chain}, "x", runs=2, warmup=0)

    assert {k: len(v) for k, v in timings["c"].branches.items()} == {"a": 2, "b": 2}


def test_chain_timing_summaries():
    timing = ChainTiming("c", all_runs=[0.3, 0.1, 0.2, 0.4])
    assert (timing.runs, timing.best, timing.worst) == (4, 0.1, 0.4)
    assert timing.median == pytest.approx(0.25)
    assert timing.average == pytest.approx(0.25)
    assert timing.stdev == pytest.approx(0.1290994)
    assert not timing.is_map
    empty = ChainTiming("e")
    assert empty.runs == 0 and empty.stdev == 0.0
    assert math.isnan(empty.worst)


def test_every_run_leaves_a_record_with_ttft_itl_tpot_and_tokens():
    model = FakeChatModel(latency=0.05, token_delay=0.01)  # echoes "one two three four five"

    session = time_chains({"m": model}, "one two three four five", runs=3, warmup=0)

    records = session.timings["m"].records
    assert [r.round for r in records] == [0, 1, 2]
    for r in records:
        assert r.ok and r.status == "ok" and r.error_kind is None
        assert r.output == "one two three four five"
        assert r.output_tokens == r.chunks == 5
        assert 0.05 <= r.ttft < r.total
        assert 0.01 <= r.itl < 0.05  # 10 ms a token, and a busy machine wakes sleepers late
        assert r.tpot == pytest.approx((r.total - r.ttft) / 4)
        assert r.tokens_per_s == pytest.approx(5 / r.total)
    assert session.stopped_by == "runs" and not session.stopped_early


def test_a_failed_run_is_recorded_with_its_error_kind_and_one_redacted_line():
    bad = FakeChatModel(fail_rate=1.0, error=ValueError("key sk-proj-abcdefghijklmnop refused"))

    session = time_chains({"bad": bad}, "hi", runs=2, warmup=0)

    records = session.timings["bad"].records
    assert [r.status for r in records] == ["error", "error"]
    assert {r.error_kind for r in records} == {"ValueError"}
    assert all("sk-proj-abcd" not in (r.error or "") and "\n" not in r.error for r in records)
    assert all(r.output is None for r in records)


def test_a_map_records_each_branch_and_the_critical_path():
    chain = RunnableParallel(quick=FakeChatModel(latency=0.02), slow=FakeChatModel(latency=0.12))

    session = time_chains({"map": chain}, "a b", runs=3, warmup=0)

    for r in session.timings["map"].records:
        assert set(r.branches) == {"quick", "slow"}
        assert r.critical == "slow"
        assert r.branches["slow"].total == pytest.approx(0.12, abs=0.03)
        assert r.branches["quick"].total < r.branches["slow"].total
        assert r.branches["slow"].output_tokens == r.branches["quick"].output_tokens == 2
        assert r.output_tokens == 4
    row = TimingResult(session.timings).rows[0]
    assert row.critical == {"slow": 3}


def test_n_auto_runs_until_the_median_is_known_within_rel_ci():
    session = time_chains({"m": FakeChatModel(latency=0.01)}, "hi", runs=None, warmup=0, rel_ci=0.2)

    assert session.stopped_by == "rel-ci"
    assert len(session.orders) >= 6
    assert rel_ci_of(session.timings["m"].all_runs) <= 0.2


def test_n_auto_stops_at_max_time_when_the_median_will_not_settle():
    noisy = FakeChatModel(latency=0.01, jitter=0.9, seed=4)

    session = time_chains({"m": noisy}, "hi", runs=None, warmup=0, rel_ci=0.0001, max_time=0.3)

    assert session.stopped_by == "max-time" and session.stopped_early
    assert len(session.orders) >= 1


def test_warmup_stops_at_max_time_and_one_round_is_still_measured():
    counter = Counter()

    session = time_chains(
        {"c": RunnableLambda(lambda x: time.sleep(0.01) or counter(x))},
        1,
        runs=5,
        warmup=10**9,
        max_time=0.2,
    )

    timing = session.timings["c"]
    assert 5 <= len(timing.warmup_runs) < 100
    assert timing.runs == 1 and session.stopped_by == "max-time"


def test_the_relative_interval_of_a_median():
    assert rel_ci_of([1.0] * 5) == math.inf  # too few runs for a 95 % interval
    assert rel_ci_of([1.0] * 6) == 0.0
    assert rel_ci_of([0.9, 1.0, 1.0, 1.0, 1.0, 1.2]) == pytest.approx(0.2)


def test_outputs_count_distinct_answers():
    timing = ChainTiming("c")
    for text in ("a", "b", "a"):
        timing.add(RunRecord(round=0, total=0.1, output=text))
    timing.add(RunRecord(round=0, total=0.1, status="error", error_kind="X"))
    assert timing.outputs == {"a": 2, "b": 1}
    assert (timing.runs, timing.failures) == (3, 1)


@pytest.mark.parametrize("one_at_a_time", [True, False])
def test_a_map_on_a_server_that_answers_one_request_at_a_time_did_not_overlap(one_at_a_time):
    from chainmagic.core import ChatOpenAI
    from chainmagic.testing import OpenAIServer

    with OpenAIServer(latency=0.02, chunk_delay=0.005, max_lifetime=60) as server:
        server.one_at_a_time = one_at_a_time
        model = ChatOpenAI(base_url=server.base_url)
        chains = {"map": RunnableParallel(joke=model, poem=model)}
        words = "one two three four five six seven eight nine ten"  # streams 45 ms after 20 ms
        timings, _, _ = time_chains(chains, words, runs=3, warmup=1)
    timing = timings["map"]
    assert len(timing.overlaps) >= 2  # a run slowed by a busy machine may stream too little
    row = TimingResult(timings).rows[0]
    # one at a time: each branch streams while the other waits (shared time ~0); else ~all of it
    assert row.overlapped is (not one_at_a_time)
    if one_at_a_time:
        assert max(timing.overlaps) < 0.2
        assert server.max_in_flight == 2  # both were sent at once: the server made them queue
    else:
        assert min(timing.overlaps) > 0.5


def test_branches_that_do_not_stream_fall_back_to_the_speedup():
    never = RunnableLambda(lambda x: x)
    timings, _, _ = time_chains({"m": RunnableParallel(a=never, b=never)}, 1, runs=2, warmup=0)
    assert timings["m"].overlaps == []


def test_a_fake_model_map_is_judged_by_its_speedup_and_overlaps():
    model = FakeChatModel(latency=0.05)  # the whole answer at once: nothing to judge by streaming
    timings, _, _ = time_chains({"m": RunnableParallel(a=model, b=model)}, "x y", runs=2, warmup=0)
    assert timings["m"].overlaps == []
    assert TimingResult(timings).rows[0].overlapped is True


def test_overlap_share_is_the_time_shared_over_the_most_that_could_be():
    assert overlap_share([(0.0, 1.0), (1.0, 2.0)]) == 0.0  # one after the other
    assert overlap_share([(0.0, 2.0), (0.5, 1.5)]) == 1.0  # the shorter one within the longer
    assert overlap_share([(0.0, 1.0), (0.5, 1.5)]) == pytest.approx(0.5)
    assert overlap_share([(0.0, 1.0), (0.5, 1.5), (2.0, 3.0)]) == pytest.approx(0.25)
    assert overlap_share([(0.0, 1.0)]) is None and overlap_share([]) is None
    assert overlap_share([(0.0, 0.0), (0.0, 0.0)]) is None  # nothing streamed long enough to judge
