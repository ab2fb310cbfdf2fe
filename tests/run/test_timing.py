"""time_chains: interleaved rounds, warmup, failures, early stops, captured output, accuracy."""

from __future__ import annotations

import itertools
import math
import threading

import pytest

from chainmagic.core import FakeChatModel, RunnableLambda, RunnableParallel
from chainmagic.errors import ChainRunError
from chainmagic.run.timing import ChainTiming, time_chains
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


def test_a_fixed_latency_is_measured_within_one_percent():
    timings, _, _ = time_chains({"m": FakeChatModel(latency=0.1)}, "hi", runs=5, warmup=1)

    m = timings["m"]
    assert m.median == pytest.approx(0.1, rel=0.01)
    assert m.median >= 0.1
    assert all(0.1 <= t <= s for t, s in zip(m.ttfts, m.all_runs))


def test_a_map_costs_its_slowest_branch_and_shows_its_speedup():
    model = FakeChatModel(latency=0.3)
    chain = RunnableParallel(joke=model, poem=model)

    timings, _, _ = time_chains({"map": chain}, "hi", runs=3, warmup=0)

    timing = timings["map"]
    assert timing.is_map
    assert timing.median == pytest.approx(0.3, abs=0.03)
    assert {k: len(v) for k, v in timing.branches.items()} == {"joke": 3, "poem": 3}
    assert all(span == pytest.approx(0.3, abs=0.03) for span in timing.branches["joke"])
    row = TimingResult(timings).rows[0]
    assert 1.8 <= row.speedup <= 2.1


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


@pytest.mark.parametrize("one_at_a_time", [True, False])
def test_a_map_on_a_server_that_answers_one_request_at_a_time_did_not_overlap(one_at_a_time):
    from chainmagic.core import ChatOpenAI
    from chainmagic.testing import OpenAIServer

    with OpenAIServer(latency=0.02, chunk_delay=0.005, max_lifetime=60) as server:
        server.one_at_a_time = one_at_a_time
        model = ChatOpenAI(base_url=server.base_url)
        chains = {"map": RunnableParallel(joke=model, poem=model)}
        timings, _, _ = time_chains(chains, "one two three four five six", runs=3, warmup=1)
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
