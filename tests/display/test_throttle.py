"""The redraw throttle: first change drawn at once, bursts folded, the last change never lost."""

from __future__ import annotations

import os
import threading
import time

import pytest

from chainmagic.display._throttle import Throttle


class Recorder:
    def __init__(self) -> None:
        self.calls: list[set[str]] = []
        self.lock = threading.Lock()

    def __call__(self, parts: set[str]) -> None:
        with self.lock:
            self.calls.append(parts)


def test_the_first_change_is_drawn_at_once_and_a_burst_is_folded() -> None:
    draw = Recorder()
    throttle = Throttle(draw, rate=10)
    throttle.poke("a")
    assert draw.calls == [{"a"}]
    for _ in range(100):
        throttle.poke("b")
    throttle.poke("c")
    assert len(draw.calls) == 1  # the rest waits for the trailing draw
    time.sleep(0.2)
    assert draw.calls == [{"a"}, {"b", "c"}]


def test_flush_draws_now_and_close_stops_later_draws() -> None:
    draw = Recorder()
    throttle = Throttle(draw, rate=1)
    throttle.poke("a")
    throttle.poke("b")
    throttle.flush("c", close=True)
    assert draw.calls == [{"a"}, {"b", "c"}]
    throttle.poke("d")
    time.sleep(0.05)
    assert len(draw.calls) == 2


def test_a_failing_draw_is_kept_not_raised() -> None:
    def draw(parts: set[str]) -> None:
        raise RuntimeError("frontend gone")

    throttle = Throttle(draw)
    throttle.poke("a")
    assert isinstance(throttle.error, RuntimeError)


def test_many_threads_never_draw_at_the_same_time() -> None:
    active = 0
    peak = 0
    lock = threading.Lock()

    def draw(parts: set[str]) -> None:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.001)
        with lock:
            active -= 1

    throttle = Throttle(draw, rate=1000)

    def poke() -> None:
        for _ in range(200):
            throttle.poke("x")

    threads = [threading.Thread(target=poke) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    throttle.flush(close=True)
    assert peak == 1


def test_without_a_leading_edge_a_poke_never_draws_in_the_poking_thread() -> None:
    import threading
    import time

    threads: list[int] = []
    throttle = Throttle(lambda parts: threads.append(threading.get_ident()), 1000.0, leading=False)
    for _ in range(3):
        throttle.poke("x")
        time.sleep(0.02)
    throttle.flush("x", close=True)  # the final draw is the caller's, on purpose
    assert len(threads) >= 2
    assert threading.get_ident() not in threads[:-1]


def test_a_poke_starts_no_thread() -> None:
    # A thread started by a poke is started by the run's step that poked: its start-up (hundreds
    # of microseconds) would show in that step's branch as time no step accounts for. Trailing
    # draws run on a thread that was there before any poke.
    drawn: list[threading.Thread] = []
    done = threading.Event()

    def draw(parts: set[str]) -> None:
        drawn.append(threading.current_thread())
        done.set()

    throttle = Throttle(draw, 200.0, leading=False)
    before = set(threading.enumerate())
    for _ in range(3):
        throttle.poke("x")
        assert done.wait(5)
        done.clear()
    throttle.flush(close=True)
    assert len(drawn) == 3
    assert all(thread in before for thread in drawn), drawn


def test_without_a_leading_edge_the_first_draw_waits_an_interval_from_the_first_poke() -> None:
    # Not from when the throttle was made: making a view can take long (a first widget import),
    # and the run's first milliseconds must not share the interpreter with a draw.
    drawn_at: list[float] = []
    done = threading.Event()

    def draw(parts: set[str]) -> None:
        drawn_at.append(time.perf_counter())
        done.set()

    throttle = Throttle(draw, 10.0, leading=False)
    time.sleep(0.15)  # longer than the interval
    poked = time.perf_counter()
    throttle.poke("x")
    assert done.wait(5)
    throttle.flush(close=True)
    assert drawn_at[0] - poked >= 0.09


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX")
def test_a_forked_child_still_draws() -> None:
    # The drawing thread is not inherited by a forked child (a worker of a process pool, say).
    throttle = Throttle(lambda parts: None, 1000.0, leading=False)
    pid = os.fork()
    if pid == 0:  # the child: exit 0 only if a trailing draw happened
        code = 1
        try:
            done = threading.Event()
            child = Throttle(lambda parts: done.set(), 1000.0, leading=False)
            throttle.poke("x")
            child.poke("x")
            code = 0 if done.wait(5) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
