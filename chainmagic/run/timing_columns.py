"""The columns of ``%chaintime``'s table: their names, their headings, and the default set.

One list for every rendering — the text table, the HTML table and ``to_markdown()`` — so
``--columns`` (or ``TimingResult.columns``) means the same columns in all of them, in the order
given. Rows are plain data (:class:`~chainmagic.run.timing_result.TimingRow`); how a time is written
is the caller's (the text and HTML honour ``-p``), everything else is decided here.

The default is what fits an 800 px output: a column that could only say "—" on every row (no
failures, percentiles the run count cannot support, a chain that never streamed) is left out of
it. Columns named explicitly are always shown, "—" and all: the user asked for them.

``to_csv()`` is not a table of these columns: it holds one line per run (the raw data), so the
columns of the summary table do not apply to it.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

__all__ = [
    "COLUMNS",
    "DEFAULT_COLUMNS",
    "HEADINGS",
    "TAILS",
    "cell",
    "check_columns",
    "shown_columns",
    "unknown_columns",
]

COLUMNS = (
    "runs", "failed", "median", "mean", "min", "max", "p50", "p90", "p95", "p99",
    "ttft", "itl", "tpot", "tokens_per_s", "error_rate", "goodput", "ratio",
)  # fmt: skip
# The default: a chain's statistic and its spread, one tail percentile, how soon and how fast it
# streams, and the comparison. min and max are left to the bars (their whiskers and tooltips show
# them), p50 is the median; tpot, error_rate, goodput and the other percentiles on request.
DEFAULT_COLUMNS = (
    "runs", "failed", "median", "mean", "tail", "ttft", "itl", "tokens_per_s", "ratio",
)  # fmt: skip
TAILS = ("p99", "p95", "p90")  # "tail" in the default: the deepest percentile the runs support
# In the default set only when some row has something to show in them.
_WHEN_KNOWN = ("failed", "itl", "tokens_per_s")
HEADINGS = {"mean": "mean ± std", "tokens_per_s": "tokens/s", "error_rate": "errors"}


def unknown_columns(columns: Iterable[Any]) -> list[str]:
    """The names in ``columns`` that are not columns (non-strings shown as their repr)."""
    return [c if isinstance(c, str) else repr(c) for c in columns if c not in COLUMNS]


def check_columns(columns: Iterable[Any] | None, what: str = "columns") -> list[str] | None:
    """``columns`` as a list without repeats, or ``ValueError`` with one message naming the
    unknown names (with a close match when there is one) and every valid name.

    None (the default set) stays None; a plain string is one name, not a list of letters.
    """
    if columns is None:
        return None
    try:
        names = [columns] if isinstance(columns, str) else list(columns)
    except TypeError:
        raise ValueError(f"{what}: give a list of names from {', '.join(COLUMNS)}") from None
    unknown = unknown_columns(names)
    if unknown:
        close = difflib.get_close_matches(unknown[0], COLUMNS, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise ValueError(
            f"{what}: unknown {', '.join(unknown)}{hint}; choose from {', '.join(COLUMNS)}"
        )
    if not names:
        raise ValueError(f"{what}: give at least one of {', '.join(COLUMNS)}")
    return list(dict.fromkeys(names))


def shown_columns(chosen: Sequence[str] | None, rows: Sequence[Any]) -> list[str]:
    """The columns a table shows: ``chosen`` as given, or the default set less what is unknown."""
    if chosen:
        return [c for c in chosen if c in COLUMNS]  # a render never raises: skip what is not one
    tail = [next((q for q in TAILS if _known(q, rows)), "")]
    return [
        name
        for c in DEFAULT_COLUMNS
        for name in (tail if c == "tail" else [c])
        if name and (name not in _WHEN_KNOWN or _known(name, rows))
    ]


def _known(column: str, rows: Sequence[Any]) -> bool:
    if column == "failed":
        return any(r.failures for r in rows)
    return any(getattr(r, column, None) is not None for r in rows)


def cell(row: Any, column: str, fmt: Callable[[float | None], str]) -> str:
    """One cell of ``row`` as text: times through ``fmt``, counts and shares as numbers.

    The ratio here is the bare factor (``1.05×``); the text and HTML tables add its interval and
    significance (:func:`chainmagic.display._timing_text.ratio_cell`).
    """
    if column == "mean":
        return f"{fmt(row.mean)} ± {fmt(row.stdev)}" if row.runs else "—"
    if column == "ratio":
        return "—" if row.ratio is None else f"{row.ratio:.2f}×"
    if column == "failed":
        return str(row.failures)
    value = getattr(row, column)
    if column == "runs":
        return str(value)
    if value is None or (column in ("median", "min", "max") and not row.runs):
        return "—"
    if column == "tokens_per_s":
        return f"{value:.1f}"
    if column in ("error_rate", "goodput"):
        return f"{value:.0%}"
    return fmt(value)
