"""Shared helpers for the run tests: a concurrency gauge and a SIGINT sent to the main thread."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


class Gauge:
    """Counts async bodies running at the same moment and remembers the peak."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.peak = 0

    def asleeper(self, seconds: float):
        async def body(x):
            with self.lock:
                self.now += 1
                self.peak = max(self.peak, self.now)
            try:
                await asyncio.sleep(seconds)
            finally:
                with self.lock:
                    self.now -= 1
            return x

        return body


@pytest.fixture
def gauge() -> Gauge:
    return Gauge()


@contextmanager
def interrupt_after(seconds: float) -> Iterator[None]:
    """Deliver SIGINT to the main thread after ``seconds``, as a kernel interrupt does."""
    main = threading.main_thread().ident
    assert main is not None
    # A shell starts background jobs with SIGINT ignored: make it raise, as in a kernel.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(seconds, signal.pthread_kill, (main, signal.SIGINT))
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        timer.join()
        signal.signal(signal.SIGINT, previous)
