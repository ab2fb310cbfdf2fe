"""Shared helpers for the core tests: a concurrency gauge, a stopwatch, a LangChain look-alike."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


class Gauge:
    """Counts branch bodies running at the same moment and remembers the peak."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.peak = 0
        self.total = 0

    @contextmanager
    def running(self) -> Iterator[None]:
        with self.lock:
            self.now += 1
            self.total += 1
            self.peak = max(self.peak, self.now)
        try:
            yield
        finally:
            with self.lock:
                self.now -= 1

    def sleeper(self, seconds: float):
        """A sync step that holds a slot of the gauge for ``seconds``."""

        def body(x):
            with self.running():
                time.sleep(seconds)
            return x

        return body

    def asleeper(self, seconds: float):
        """An async step that holds a slot of the gauge for ``seconds``."""

        async def body(x):
            with self.running():
                await asyncio.sleep(seconds)
            return x

        return body


@pytest.fixture
def gauge() -> Gauge:
    return Gauge()


class LangChainLike:
    """Mimics a LangChain runnable: only ``invoke(input, config=None)``, nothing of ours."""

    name = "Shout"

    def __init__(self) -> None:
        self.calls: list[object] = []

    def invoke(self, input, config=None, **kwargs):
        self.calls.append(input)
        return str(input).upper()


@pytest.fixture
def langchain_like() -> type[LangChainLike]:
    return LangChainLike
