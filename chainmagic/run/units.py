"""Durations as people read them: ``612 ms``, ``1.23 s``, ``45.6 µs``.

It lives with the results (not with the renderers) because results speak it too — a timing's
``summary()`` and ``to_markdown()`` — and results import nothing of :mod:`chainmagic.display`.
"""

from __future__ import annotations

import math

__all__ = ["UNITS", "format_seconds"]

UNITS = ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs"), (1e-9, "ns"))


def format_seconds(seconds: float | None) -> str:
    """A duration with three significant digits and one unit: ``612 ms``, ``1.23 s``, ``45.6 µs``.

    IPython's ``%timeit`` convention, so a latency reads the same here as there. Rounding happens
    before the unit is chosen, so 0.9996 s reads ``1.00 s``, never ``1000 ms``.
    """
    if seconds is None or not isinstance(seconds, (int, float)) or math.isnan(seconds):
        return "—"
    if math.isinf(seconds):
        return "∞ s"
    if seconds < 0:
        return "-" + format_seconds(-seconds)
    if seconds == 0:
        return "0 s"
    if seconds >= 1000:
        return f"{seconds:.0f} s"
    for scale, unit in UNITS:
        value = float(f"{seconds / scale:.3g}")
        if unit == "ns" and value < 1:
            return f"{value:.3g} ns"
        if value >= 1 or unit == "ns":
            if value >= 100:
                return f"{value:.0f} {unit}"
            if value >= 10:
                return f"{value:.1f} {unit}"
            return f"{value:.2f} {unit}"
    return f"{seconds:.3g} s"  # not reached: the loop's last unit always returns
