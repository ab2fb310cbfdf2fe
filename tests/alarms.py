"""An exception raised in the main thread after a delay, the way a signal handler raises one.

The fuzz tests use it as a watchdog (a hang fails instead of stalling the run); the failing-cell tests
use it to interrupt a running cell at a chosen moment, as Ctrl-C or a cell time limit would.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def raising_after(seconds: float, error: BaseException) -> Iterator[None]:
    """``error`` raised in the main thread after ``seconds`` unless the block ends first."""

    def fire(signum: int, frame: Any) -> None:
        raise error

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
