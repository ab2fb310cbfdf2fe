"""``%chaintime``'s own option values, read and checked before anything runs.

Each reader takes the text the user typed and returns plain data, or raises :class:`OptionError`
with one short message that names the option and what it allows (the magic turns it into a
``UsageError``). Kept apart from the magic so the rules are testable without IPython.
"""

from __future__ import annotations

import math

from chainmagic.run.timing_columns import COLUMNS, check_columns

__all__ = [
    "COLUMNS",
    "MAX_CONCURRENCY",
    "MAX_RUNS",
    "OptionError",
    "read_columns",
    "read_concurrency",
    "read_max_time",
    "read_models",
    "read_rel_ci",
    "read_runs",
    "read_slo",
]

MAX_RUNS = 100_000
MAX_CONCURRENCY = 1024
SLO_METRICS = ("ttft", "total", "itl", "tpot")


class OptionError(ValueError):
    """A %chaintime option value outside what it allows."""


def read_runs(text: str) -> int | None:
    """``-n``: a whole number of runs (1 .. MAX_RUNS), or ``auto`` (None)."""
    if text.strip().lower() == "auto":
        return None
    try:
        runs = int(text)
    except ValueError:
        raise OptionError(f"-n {text}: give a number of runs (1 to {MAX_RUNS}) or auto") from None
    if not 1 <= runs <= MAX_RUNS:
        raise OptionError(f"-n {text}: give a number of runs (1 to {MAX_RUNS}) or auto")
    return runs


def _seconds(option: str, text: str, sep: str = " ") -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise OptionError(f"{option}{sep}{text}: give seconds, a number above 0")
    return value


def read_max_time(text: str | None) -> float | None:
    """``--max-time``: seconds above 0 (None when not given)."""
    return None if text is None else _seconds("--max-time", text)


def read_rel_ci(text: str) -> float:
    """``--rel-ci``: a percentage above 0 and below 100 (``5``, ``5%``, ``2.5``), as a fraction."""
    raw = text.strip().removesuffix("%")
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not 0 < value < 100:
        raise OptionError(f"--rel-ci {text}: give a percentage above 0 and below 100, e.g. 5")
    return value / 100


def _items(option: str, text: str) -> list[str]:
    items = [item.strip() for item in text.split(",")]
    if not text.strip() or any(not item for item in items):
        raise OptionError(
            f"{option} {text!r}: give a comma-separated list, e.g. {_EXAMPLES[option]}"
        )
    return items


_EXAMPLES = {
    "--columns": "median,p90,ttft",
    "--concurrency": "1,4,16",
    "--slo": "ttft=0.5,total=2",
    "--models": "fake:echo,openai:gpt-4o-mini",
}


def read_columns(text: str | None) -> list[str] | None:
    """``--columns``: names from :data:`COLUMNS` (None when not given: the default set)."""
    if text is None:
        return None
    try:
        return check_columns(_items("--columns", text), "--columns")
    except OptionError:
        raise
    except ValueError as exc:
        raise OptionError(str(exc)) from None


def read_concurrency(text: str | None) -> list[int]:
    """``--concurrency``: levels of runs kept in flight, each 1 .. MAX_CONCURRENCY (sorted, unique)."""
    if text is None:
        return []
    levels = []
    for item in _items("--concurrency", text):
        try:
            level = int(item)
        except ValueError:
            level = 0
        if not 1 <= level <= MAX_CONCURRENCY:
            raise OptionError(
                f"--concurrency {item}: each level is a whole number from 1 to {MAX_CONCURRENCY}"
            )
        levels.append(level)
    return sorted(set(levels))


def read_slo(text: str | None) -> dict[str, float]:
    """``--slo``: ``metric=seconds`` pairs, metrics from :data:`SLO_METRICS`, seconds above 0."""
    if text is None:
        return {}
    slo: dict[str, float] = {}
    for item in _items("--slo", text):
        metric, sep, value = item.partition("=")
        metric = metric.strip()
        if not sep or metric not in SLO_METRICS:
            raise OptionError(
                f"--slo {item}: give metric=seconds with a metric from {', '.join(SLO_METRICS)}"
            )
        slo[metric] = _seconds(f"--slo {metric}", value.strip(), "=")
    return slo


def read_models(text: str | None) -> list[str]:
    """``--models``: model specs (``provider:name``), each given once."""
    if text is None:
        return []
    models = _items("--models", text)
    if len(set(models)) != len(models):
        raise OptionError(f"--models {text}: a model is named twice")
    return models
