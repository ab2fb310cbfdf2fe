"""The shared pool: caller-runs scheduling, timing hints, bounded threads, no leaks."""

from __future__ import annotations

import threading
import time

from chainmagic.core import RunnableLambda, RunnableParallel, pool
from chainmagic.core.events import Limiter


def test_run_parallel_returns_results_in_order():
    group = pool.run_parallel([lambda i=i: i * i for i in range(10)], [False] * 10)
    assert group.error is None
    assert group.results == [i * i for i in range(10)]
    assert len(group.seconds) == 10


def test_run_parallel_reports_the_first_error_and_the_finished_results():
    def boom():
        time.sleep(0.02)
        raise KeyError("k")

    def slow():
        time.sleep(0.3)
        return "slow"

    start = time.perf_counter()
    group = pool.run_parallel([lambda: "quick", boom, slow], [True, False, False])
    assert time.perf_counter() - start < 0.2
    assert isinstance(group.error, KeyError)
    assert group.failed_index == 1
    assert group.finished() == {0: "quick"}


def test_quick_branches_run_on_the_calling_thread():
    caller = threading.get_ident()
    seen: list[int] = []
    group = pool.run_parallel(
        [lambda: seen.append(threading.get_ident()) for _ in range(4)], [True] * 4
    )
    assert group.error is None
    assert seen == [caller] * 4


def test_branches_that_were_quick_last_time_run_inline_next_time():
    where: dict[str, int] = {}

    def record(key):
        def body(x):
            where[key] = threading.get_ident()
            return x

        return body

    step = RunnableParallel(a=record("a"), b=record("b"), c=record("c"))
    step.invoke(1)  # no hints yet: handed to workers
    step.invoke(1)
    assert set(where.values()) == {threading.get_ident()}


def test_slow_branches_go_to_workers_and_the_caller_does_not_wait_for_them_one_by_one():
    threads: set[int] = set()

    def slow(x):
        threads.add(threading.get_ident())
        time.sleep(0.1)
        return x

    step = RunnableParallel({f"b{i}": slow for i in range(6)})
    for _ in range(2):
        start = time.perf_counter()
        step.invoke(1)
        assert time.perf_counter() - start < 0.3  # one after the other: 0.6
    assert len(threads) >= 6


def test_spawn_runs_a_function_on_another_thread():
    done = threading.Event()
    seen: list[int] = []

    def work():
        seen.append(threading.get_ident())
        done.set()

    pool.spawn(work)
    assert done.wait(2)
    assert seen[0] != threading.get_ident()


def test_a_full_pool_still_runs_work(monkeypatch):
    # At the cap, spawn starts an extra thread rather than waiting (which could deadlock) and
    # run_parallel lets the caller run the branches itself.
    monkeypatch.setattr(pool, "MAX_WORKERS", 0)
    done = threading.Event()
    pool.spawn(done.set)
    assert done.wait(2)
    group = pool.run_parallel([lambda: 1, lambda: 2], [False, False])
    assert group.results == [1, 2]


def test_a_limiter_with_no_free_slot_makes_the_caller_run_everything():
    limiter = Limiter(1)
    caller = threading.get_ident()
    seen: list[int] = []
    group = pool.run_parallel(
        [lambda: seen.append(threading.get_ident()) for _ in range(3)], [False] * 3, limiter
    )
    assert group.error is None
    assert seen == [caller] * 3
    assert limiter.take(5) == 0  # every slot given back (a limit of 1 has none to lend)


def test_a_limiter_gets_its_slots_back():
    limiter = Limiter(4)
    group = pool.run_parallel([lambda: time.sleep(0.01) for _ in range(8)], [False] * 8, limiter)
    assert group.error is None
    time.sleep(0.05)  # helpers give their slot back as they finish
    assert limiter.take(10) == 3


def test_no_thread_leak_over_a_thousand_invokes():
    step = RunnableParallel({f"b{i}": lambda x: time.sleep(0.001) or x for i in range(4)})
    counts = {}
    for n in range(1, 1001):
        assert step.invoke(n) == {f"b{i}": n for i in range(4)}
        if n in (500, 1000):
            counts[n] = (threading.active_count(), pool.worker_count())
    assert counts[1000][0] <= pool.MAX_WORKERS + 8
    assert counts[1000][0] <= counts[500][0]
    assert counts[1000][1] <= counts[500][1]


def test_no_thread_leak_over_many_batches():
    step = RunnableLambda(lambda x: time.sleep(0.001) or x)
    step.batch(list(range(8)))
    before = threading.active_count()
    for _ in range(200):
        step.batch(list(range(8)))
    assert threading.active_count() <= before + 2
