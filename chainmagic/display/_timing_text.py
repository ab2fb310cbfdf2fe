r"""Plain text for ``%chaintime``: the comparative table, timeit-style lines, speed-ups, the summary.

This is the ``text/plain`` nbval compares, so everything but the measurements is deterministic.
Time columns have a fixed width (it depends on the precision, never on the values), the ratio
column comes last and is not padded, and numbers keep a few simple shapes (``612 ms``, ``1.05×``,
``[0.98, 1.12]``) so a notebook's sanitize file can mask them. A right-aligned number moves
its padding by a space, so the patterns swallow the spaces before a number (``replace`` keeps one)::

    regex: [ ]*\d+(?:\.\d+)? (?:s|ms|µs|ns)\b
    replace:  T
    regex: [ ]*\d+\.\d+×
    replace:  R×
    regex: \[\d+\.\d+, \d+\.\d+\]
    replace: [R, R]

The line builders here are shared with the HTML and the widget, so all three say the same thing in
the same words.
"""

from __future__ import annotations

import math
from typing import Any

from chainmagic.display._common import (
    error_text,
    format_seconds,
    one_line,
    plural,
)
from chainmagic.run.timing_columns import HEADINGS, cell, shown_columns
from chainmagic.run.units import UNITS

__all__ = [
    "LABEL_WIDTH",
    "column_cells",
    "column_heading",
    "format_rate",
    "format_time",
    "notes",
    "overlap_note",
    "precision_of",
    "progress_text",
    "ratio_cell",
    "significance",
    "speedup_head",
    "speedup_line",
    "stopped_note",
    "table_columns",
    "timeit_line",
    "timing_text",
]

LABEL_WIDTH = 40  # a chain label longer than this is cut: the table must stay readable
MAX_BRANCHES_LISTED = 6
_GAP = "  "


def precision_of(result: Any) -> int:
    """The result's significant digits for times, 3 (``%timeit``'s) when unset or absurd."""
    p = getattr(result, "precision", 3)
    return p if isinstance(p, int) and not isinstance(p, bool) and 1 <= p <= 9 else 3


def format_time(seconds: float | None, precision: int = 3) -> str:
    """:func:`format_seconds` with ``precision`` significant digits (``-p`` of ``%chaintime``).

    Three digits is exactly :func:`format_seconds`, so ``%chain`` and ``%chaintime`` agree; other
    precisions follow the same rules (round first, then pick the unit; keep trailing zeros so a
    column of times lines up). Special values (``—``, ``0 s``, ``∞ s``, ≥ 1000 s) are its own.
    """
    if precision == 3 or not isinstance(seconds, (int, float)):
        return format_seconds(seconds)
    if not math.isfinite(seconds) or seconds == 0 or abs(seconds) >= 1000:
        return format_seconds(seconds)
    if seconds < 0:
        return "-" + format_time(-seconds, precision)
    for scale, unit in UNITS:
        value = float(f"{seconds / scale:.{precision}g}")
        if value >= 1 or unit == "ns":
            whole = len(str(int(value))) if value >= 1 else 1
            return f"{value:.{max(precision - whole, 0)}f} {unit}"
    return format_seconds(seconds)  # not reached: the last unit always returns


def time_width(precision: int) -> int:
    """Characters of the widest ordinary time at ``precision`` (``61.2 ms`` at 3 digits)."""
    return max(precision + 4, 6)


# -- cells and lines shared with the HTML ----------------------------------------------------------


def _ratio(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:.2f}×"


def _interval(low: float | None, high: float | None) -> str:
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return ""
    return f"[{low:.2f}, {high:.2f}]"


def significance(row: Any) -> str:
    """``*`` when the difference to the reference is significant, ``n.s.`` when not, else empty."""
    if row.significant is None:
        return ""
    return "*" if row.significant else "n.s."


def ratio_cell(row: Any) -> str:
    """``1.05× [0.98, 1.12] n.s.``; ``1.00×`` for the reference; ``—`` for a chain never measured."""
    if row.ratio is None:
        return "—"
    if row.reference:
        return _ratio(1.0)
    parts = [_ratio(row.ratio), _interval(row.ratio_low, row.ratio_high), significance(row)]
    return " ".join(p for p in parts if p)


def timeit_line(row: Any, precision: int = 3, error: BaseException | None = None) -> str:
    """``joke_chain: 610 ms ± 64.0 ms per run (mean ± std. dev. of 7 runs)``, as ``%timeit`` says it."""
    label = one_line(row.label, LABEL_WIDTH)
    failed = f", {row.failures} failed" if row.failures else ""
    if not row.runs:
        why = f": {one_line(error_text(error), 80)}" if error is not None else ""
        return f"{label}: no successful run ({row.failures} failed{why})"
    mean, std = format_time(row.mean, precision), format_time(row.stdev, precision)
    runs = plural(row.runs, "run")
    return f"{label}: {mean} ± {std} per run (mean ± std. dev. of {runs}{failed})"


def speedup_head(row: Any) -> str:
    """``map_chain: 1.90× faster than its branches run one after another`` (empty for non-maps).

    The point of a parallel map, in one sentence: what its branches would cost in sequence against
    what the map cost.
    """
    if (
        row.speedup is None
        or not row.branches
        or not math.isfinite(row.speedup)
        or row.speedup <= 0
    ):
        return ""
    faster = row.speedup >= 1
    factor = row.speedup if faster else 1 / row.speedup
    word = "faster" if faster else "slower"
    label = one_line(row.label, LABEL_WIDTH)
    return f"{label}: {factor:.2f}× {word} than its branches run one after another"


def speedup_line(row: Any, precision: int = 3) -> str:
    """:func:`speedup_head` with the arithmetic: ``(joke 610 ms + poem 1.20 s = 1.81 s; in
    parallel 952 ms)``."""
    head = speedup_head(row)
    if not head:
        return ""
    items = list(row.branches.items())
    shown = [f"{one_line(k, 20)} {format_time(v, precision)}" for k, v in items]
    if len(shown) > MAX_BRANCHES_LISTED:
        shown = [*shown[:MAX_BRANCHES_LISTED], f"{len(items) - MAX_BRANCHES_LISTED} more"]
    total = format_time(sum(row.branches.values()), precision)
    note = overlap_note(row)
    return (
        f"{head} ({' + '.join(shown)} = {total}; in parallel {format_time(row.median, precision)})"
        + (f"\n  {note}" if note else "")
    )


def overlap_note(row: Any) -> str:
    """Said when a map cost about the sum of its branches: a speed-up of 1.0× needs a reason."""
    if getattr(row, "overlapped", None) is False:
        return (
            "the branches did not overlap: the server may process one request at a time"
            " (a branch's time includes its wait)"
        )
    return ""


def stopped_note(result: Any) -> str:
    """Said whenever ``--max-time`` cut the measurement short, so fewer runs are not a surprise."""
    return f"stopped early after {plural(len(result.orders), 'round')} (--max-time)"


def format_rate(per_second: float | None) -> str:
    """Output tokens per second in three digits: ``812/s``, ``25.0/s``, ``81.2k/s`` (``—`` when unknown).

    Digits are fixed per magnitude (not ``:g``, which drops trailing zeros), so a column of rates
    reads alike: ``25.0/s`` under ``11.2/s``, never ``25/s``.
    """
    if per_second is None:
        return "—"
    if per_second >= 999.5:
        return (
            f"{per_second / 1000:.1f}k/s" if per_second < 99_950 else f"{per_second / 1000:.0f}k/s"
        )
    if per_second >= 99.95:
        return f"{per_second:.0f}/s"
    if per_second >= 9.995:
        return f"{per_second:.1f}/s"
    return f"{per_second:.2f}/s"


def notes(result: Any) -> list[str]:
    """What ended a ``-n auto`` measurement, the load levels, and the warnings kept in the result."""
    out = []
    if getattr(result, "stopped_by", "runs") in ("rel-ci", "failures"):
        out.append(result.stopping)
    precision = precision_of(result)
    for level in getattr(result, "load", []):
        rate = f", {level.tokens_per_s:.0f} tokens/s" if level.tokens_per_s else ""
        good = "" if level.goodput is None else f", goodput {level.goodput:.0%}"
        out.append(
            f"{level.label} at concurrency {level.concurrency}: "
            f"in flight {level.mean_in_flight:.1f} (peak {level.peak_in_flight}), "
            f"{level.requests_per_s:.1f} requests/s{rate}, "
            f"p50 {format_time(level.p50, precision).strip()}{good}"
            + (" (--max-time)" if level.stopped_early else "")
        )
    for label, timing in result.chains.items():
        if getattr(timing, "model", None) is None or not timing.outputs:
            continue  # outputs side by side only when --models compares models
        common = max(timing.outputs, key=lambda text: timing.outputs[text])
        out.append(
            f"{label}: {plural(len(timing.outputs), 'distinct output')} over "
            f"{plural(timing.runs, 'run')}; most often: {one_line(common, 60)}"
        )
    for label, timing in result.chains.items():
        if any(getattr(r, "tokens_estimated", False) for r in getattr(timing, "records", [])):
            out.append(f"{label}: tokens (estimated): the server reported no usage")
    asked = [c for c in getattr(result, "columns", None) or [] if c in ("p90", "p95", "p99")]
    note = getattr(result, "percentile_note", None)
    if asked and note and any(c in note for c in asked):
        out.append(note)  # asked-for percentiles the run count cannot support show as "—"
    out += [f"warning: {w}" for w in getattr(result, "warnings", [])]
    return out


def progress_text(done: int, total: int, failures: int = 0) -> str:
    """``measuring 12/21 runs…`` while ``%chaintime`` works (``measuring…`` before it knows)."""
    text = f"measuring {done}/{total} runs…" if total else "measuring…"
    return f"{text} · {failures} failed" if failures else text


# -- the whole text --------------------------------------------------------------------------------


def timing_text(result: Any) -> str:
    """A :class:`~chainmagic.run.timing_result.TimingResult` as text; never raises.

    ::

        chain       runs   median         mean ± std      min      max     ttft  vs fastest
        joke_chain     7   610 ms   619 ms ± 52.7 ms   550 ms   710 ms   120 ms  1.00×
        map_chain      7   1.30 s   1.31 s ± 24.1 ms   1.28 s   1.35 s   1.30 s  2.13× [1.97, 2.26] *

        joke_chain: 619 ms ± 52.7 ms per run (mean ± std. dev. of 7 runs)
        map_chain: 1.31 s ± 24.1 ms per run (mean ± std. dev. of 7 runs)
        map_chain: 1.39× faster than its branches run one after another (joke 600 ms + …)

        joke_chain is the fastest (median 610 ms)
          2.13× [1.97, 2.26] slower: map_chain
    """
    try:
        return _timing_text(result)
    except Exception as exc:
        return f"<TimingResult: not displayable ({error_text(exc)})>"


def _timing_text(result: Any) -> str:
    rows = list(result.rows)
    if not rows:
        return "no chain was timed"
    precision = precision_of(result)
    lines = _table(result, rows, precision)
    lines.append("")
    for row in rows:
        timing = result.chains.get(row.label)
        lines.append(timeit_line(row, precision, getattr(timing, "last_error", None)))
    lines += [line for line in (speedup_line(row, precision) for row in rows) if line]
    lines += ["", result.summary()]
    if result.stopped_early:
        lines.append(stopped_note(result))
    lines += notes(result)
    return "\n".join(lines)


def column_heading(result: Any, column: str) -> str:
    """A column's heading in the text and HTML tables (the ratio's says what it compares to)."""
    if column == "ratio":
        return "vs baseline" if result.baseline else "vs fastest"
    return {"tokens_per_s": "tokens"}.get(column, HEADINGS.get(column, column))


def column_cells(row: Any, column: str, precision: int) -> str:
    """One cell of the text and HTML tables: :func:`~chainmagic.run.timing_columns.cell` with
    ``-p`` honoured, the ratio with its interval, and rates in the compact ``812/s`` form."""
    if column == "ratio":
        return ratio_cell(row)
    if column == "tokens_per_s":
        return format_rate(getattr(row, "tokens_per_s", None))
    return cell(row, column, lambda v: format_time(v, precision))


def table_columns(result: Any, rows: list[Any]) -> list[str]:
    """The columns the tables show: ``result.columns`` in its order, or the default set."""
    return shown_columns(getattr(result, "columns", None), rows)


def _width(column: str, precision: int) -> int:
    """A column's fixed width (0: from its cells): times never move the columns after them."""
    tw = time_width(precision)
    if column == "mean":
        return 2 * tw + 3
    if column == "tokens_per_s":
        return 8
    if column in ("runs", "failed", "ratio", "error_rate", "goodput"):
        return 0
    return tw


def _table(result: Any, rows: list[Any], precision: int) -> list[str]:
    """Fixed-width rows; column widths depend on labels and counts, never on measured times."""
    tw = time_width(precision)

    def spread(row: Any) -> str:
        if not row.runs:
            return "—"
        t = format_time
        return f"{t(row.mean, precision).rjust(tw)} ± {t(row.stdev, precision).rjust(tw)}"

    names = table_columns(result, rows)
    columns = [("chain", [one_line(r.label, LABEL_WIDTH) for r in rows], 0, "<")]
    for name in names:
        if name == "mean":
            cells = [spread(r) for r in rows]
        else:
            cells = [column_cells(r, name, precision) for r in rows]
        # The ratio is read from the left ("1.05× [0.98, 1.12] n.s."); last, it is not padded.
        columns.append((column_heading(result, name), cells, _width(name, precision),
                        "<" if name == "ratio" else ">"))  # fmt: skip
    widths = [
        max(len(head), fixed or max((len(c) for c in cells), default=0))
        for head, cells, fixed, _ in columns
    ]

    def line(cells: list[str]) -> str:
        out = [
            text.ljust(width) if align == "<" else text.rjust(width)
            for text, width, (_, _, _, align) in zip(cells, widths, columns)
        ]
        return _GAP.join(out).rstrip()

    heads = line([head for head, _, _, _ in columns])
    return [heads, *(line([cells[i] for _, cells, _, _ in columns]) for i in range(len(rows)))]
