"""Cancelling reaches sync code: after a cancel, threads finish their current call and start no step.

A thread cannot be stopped from outside; what matters to a notebook user is that an interrupted run
stops spending (no new model call, no new step) and that its threads come back to the pool.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from chainmagic.core import RunnableLambda, RunnableParallel
from chainmagic.core.pool import Cancelled, CancelToken, raise_if_cancelled, using_token


def recorder() -> tuple[list[tuple[str, float]], Any]:
    started: list[tuple[str, float]] = []
    lock = threading.Lock()

    def step(tag: str, seconds: float) -> Any:
        def run(x: Any) -> Any:
            with lock:
                started.append((tag, time.perf_counter()))
            time.sleep(seconds)
            return x

        return RunnableLambda(run)

    return started, step


def test_a_token_follows_its_parent() -> None:
    parent = CancelToken()
    child = CancelToken(parent)
    assert not child.cancelled
    parent.cancel()
    assert child.cancelled


def test_a_step_under_a_cancelled_token_does_not_start() -> None:
    started, step = recorder()
    token = CancelToken()
    token.cancel()
    with using_token(token), pytest.raises(Cancelled):
        (step("a", 0) | step("b", 0)).invoke(1)
    assert started == []
    raise_if_cancelled()  # outside the block the thread's token is restored (none)


@pytest.mark.parametrize("nested", [False, True])
async def test_after_a_cancel_no_step_starts_and_threads_come_back(nested: bool) -> None:
    started, step = recorder()

    def inner(x: Any) -> Any:  # a sync sub-chain a user's step invokes on its own
        return (step("a", 0.3) | step("b", 0.3) | step("c", 0.3)).invoke(x)

    def branch() -> Any:
        if nested:
            return RunnableLambda(inner)
        return step("a", 0.3) | step("b", 0.3) | step("c", 0.3)

    chain = RunnableParallel({f"b{i}": branch() for i in range(64)})
    busy_before = threading.active_count()
    task = asyncio.ensure_future(chain.ainvoke(1))
    while len(started) < 64:  # every branch is in its first step
        await asyncio.sleep(0.01)
    task.cancel()
    cancelled_at = time.perf_counter()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.perf_counter() - cancelled_at < 0.3  # not waited for (each call takes 0.3 s)
    # the pool's threads come back as their current call ends (they stay alive, idle)
    deadline = time.perf_counter() + 10
    while _busy_workers() and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    assert _busy_workers() == [], busy_before
    assert [tag for tag, t in started if t > cancelled_at] == []
    assert len(started) == 64


def _busy_workers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "chainmagic-worker" and _busy(t)]


def _busy(thread: threading.Thread) -> bool:
    """Whether a pool worker is running a call (not waiting for its next ticket)."""
    import sys
    import traceback

    frame = sys._current_frames().get(thread.ident or -1)
    if frame is None:
        return False
    names = [f.name for f in traceback.extract_stack(frame)]
    return "help" in names
