"""Small timing helpers shared by the benchmark modules."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class Row:
    """One benchmark row: seconds for chainmagic and, when measured, for the reference."""

    label: str
    ours: float
    reference: float | None = None
    target: float | None = None
    unit: str = "auto"  # "auto": seconds; "n": a plain number
    minimum: float | None = None  # a floor instead of a ceiling (a count that should reach it)

    @property
    def ratio(self) -> float | None:
        return self.reference / self.ours if self.reference and self.ours else None

    @property
    def ok(self) -> bool | None:
        if self.minimum is not None:
            return self.ours >= self.minimum
        return None if self.target is None else self.ours <= self.target


def per_call(fn: Callable[[], Any], *, min_time: float = 0.2, repeat: int = 5) -> float:
    """Median seconds per call of ``fn``, timeit-style (loops sized to ``min_time``)."""
    fn()
    loops = 1
    while True:
        start = time.perf_counter()
        for _ in range(loops):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed >= min_time / repeat or loops >= 1 << 20:
            break
        loops *= 4
    samples = [elapsed / loops]
    for _ in range(repeat - 1):
        start = time.perf_counter()
        for _ in range(loops):
            fn()
        samples.append((time.perf_counter() - start) / loops)
    return statistics.median(samples)


def fmt(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if seconds >= scale:
            value = seconds / scale
            return f"{value:.4g} {unit}" if value < 1000 else f"{value:.0f} {unit}"
    return f"{seconds * 1e9:.3g} ns"
