"""Static HTML for ``%chaintime``: the table (fastest row green), a bar chart, map breakdowns.

Inline styles, JupyterLab's CSS variables with fallbacks, no script, every label escaped: the same
rules as :mod:`chainmagic.display.html`, for the same reason (JupyterLab, an ipywidgets ``HTML``
view, nbconvert and GitHub must all show it right). The finished :class:`TimingView` widget shows
exactly this markup, so there is one rendering path. Words and numbers come from
:mod:`chainmagic.display._timing_text`, so the HTML and the plain text never disagree.
"""

from __future__ import annotations

import html
import math
from typing import Any

from chainmagic.display._common import error_text, one_line
from chainmagic.display._style import (
    BORDER,
    FG,
    MONO,
    MUTED,
    OK,
    PALETTE,
    SANS,
    TR,
    TRACK,
    WARN,
    branch_colour,
    swatch,
)
from chainmagic.display._timing_plots import timing_plots
from chainmagic.display._timing_text import (
    LABEL_WIDTH,
    column_cells,
    column_heading,
    format_time,
    notes,
    overlap_note,
    precision_of,
    ratio_cell,
    speedup_head,
    stopped_note,
    table_columns,
)

__all__ = ["fastest_label", "timing_html"]

_ROOT = f"font-family:{SANS};color:{FG};display:flex;flex-direction:column;gap:10px;max-width:100%"
_CELL = f"padding:3px 6px;border-bottom:1px solid {BORDER};text-align:right;white-space:nowrap"
_NUM = f"{_CELL};font-family:{MONO}"
_CAPTION = f"color:{MUTED};font-size:11px;margin-top:2px"
OUTLIER_CUT = 3.0  # the bars' axis ends at most this many times the largest median
BEST_BAR = "#009e73"  # Okabe-Ito bluish green
OTHER_BAR = PALETTE[0]


def fastest_label(result: Any) -> str | None:
    """The chain with the best statistic (green), which is not the reference under a baseline."""
    measured = [row for row in result.rows if row.runs]
    if not measured:
        return None
    return min(measured, key=lambda row: result.value(result.chains[row.label])).label


def timing_html(result: Any) -> str:
    """A :class:`~chainmagic.run.timing_result.TimingResult` as static HTML; never raises."""
    try:
        rows = list(result.rows)
        best = fastest_label(result)
        precision = precision_of(result)
        parts = [_table(result, rows, best, precision), _bars(rows, best, precision)]
        parts += [_breakdown(row, precision) for row in rows if row.speedup is not None]
        parts.append(
            f'<pre style="font-family:{MONO};font-size:12px;margin:0;white-space:pre-wrap">'
            f"{html.escape(result.summary())}</pre>"
        )
        if result.stopped_early:
            parts.append(
                f'<div style="font-size:12px">{swatch(WARN)}{html.escape(stopped_note(result))}</div>'
            )
        parts.append(timing_plots(result))
        # Meaning colours never colour letters (they fail contrast on one theme or the other):
        # a warning gets the warning swatch, its text the theme's own colour.
        parts += [
            f'<div style="color:{FG};font-size:12px">{swatch(WARN)}{html.escape(n)}</div>'
            if n.startswith("warning")
            else f'<div style="color:{MUTED};font-size:12px">{html.escape(n)}</div>'
            for n in notes(result)
        ]
        return f'<div class="chainmagic-timing" style="{_ROOT}">{"".join(parts)}</div>'
    except Exception as exc:
        text = f"<TimingResult: not displayable ({error_text(exc)})>"
        return f"<pre>{html.escape(text)}</pre>"


def _label(text: str) -> str:
    return html.escape(one_line(text, LABEL_WIDTH))


def _pct(x: float) -> str:
    return f"{max(min(x * 100, 100.0), 0.0):.1f}%"


# -- the table -------------------------------------------------------------------------------------


def _table(result: Any, rows: list[Any], best: str | None, precision: int) -> str:
    columns = table_columns(result, rows)
    heads = ["chain", *(column_heading(result, c) for c in columns)]
    left = {0} | {i + 1 for i, c in enumerate(columns) if c == "ratio"}
    head = "".join(
        f'<th style="{_CELL};color:{MUTED};font-weight:600'
        f'{";text-align:left" if i in left else ""}">{html.escape(h)}</th>'
        for i, h in enumerate(heads)
    )
    body = [_row(result, row, columns, best=row.label == best, precision=precision) for row in rows]
    # In a narrow output the table scrolls on its own (its columns are numbers: wrapping them would
    # be harder to read than scrolling), and the rest of the view stays in place.
    return (
        '<div class="chainmagic-scroll" style="max-width:100%;overflow-x:auto">'
        '<table style="border-collapse:collapse;table-layout:auto;font-size:12px;line-height:1.4;'
        'margin:0">'
        f"<thead>{TR}{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def _row(result: Any, row: Any, columns: list[str], *, best: bool, precision: int) -> str:
    badge = f' <span style="font-size:85%">{swatch(OK, shape="50%")}fastest</span>' if best else ""
    # The fastest row is marked by a bar at its left edge, not a tinted row: muted text (the
    # intervals) on a tint drops below 4.5:1.
    mark = f"box-shadow:inset 3px 0 0 {OK}" if best else ""
    cells = [
        f'<td style="{_CELL};text-align:left;font-family:{MONO};{mark}">'
        f"<b>{_label(row.label)}</b>{badge}</td>"
    ]
    for column in columns:
        if column == "ratio":
            cells.append(_ratio_td(row))
        elif column == "failed":
            timing = result.chains.get(row.label)
            tip = error_text(timing.last_error) if timing and timing.last_error else ""
            style = f"{_NUM};font-weight:{'bold' if row.failures else 'normal'}"
            cells.append(f'<td style="{style}" title="{html.escape(tip)}">{row.failures}</td>')
        else:
            text = column_cells(row, column, precision)
            cells.append(f'<td style="{_NUM}">{html.escape(text)}</td>')
    best_class = ' class="chainmagic-best"' if best else ""
    return f'<tr{best_class} style="background:none">{"".join(cells)}</tr>'


def _ratio_td(row: Any) -> str:
    """The ratio with its interval in grey, and the significance with the p-value as a tooltip."""
    text = ratio_cell(row)
    tip = f"p = {row.p_value:.2g} (Mann-Whitney U)" if row.p_value is not None else ""
    first, _, rest = text.partition(" ")
    rest_html = f' <span style="color:{MUTED}">{html.escape(rest)}</span>' if rest else ""
    return (
        f'<td style="{_NUM};text-align:left" title="{html.escape(tip)}">'
        f"{html.escape(first)}{rest_html}</td>"
    )


# -- the bar chart ---------------------------------------------------------------------------------


def _finite(*values: float | None) -> list[float]:
    return [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]


def _bars(rows: list[Any], best: str | None, precision: int) -> str:
    """One bar per chain at its median; a whisker from min to max; a band for mean ± std."""
    scale = _axis_end(rows)
    if scale <= 0:
        return ""
    lines = []
    for row in rows:
        colour = BEST_BAR if row.label == best else OTHER_BAR
        if not row.runs:
            track = f'<span style="color:{MUTED};font-style:italic">no successful run</span>'
            value = ""
        else:
            track = _bar_track(row, scale, colour, precision)
            value = format_time(row.median, precision)
        lines.append(_chart_row(_label(row.label), track, value))
    lines.append(_axis(scale, precision))
    key = "bar: median · band: mean ± std · whisker: min to max"
    if any(r.runs and r.max > scale * 1.0001 for r in rows):
        key += f" (cut at {OUTLIER_CUT:g}× the largest median)"
    return f'<div>{_chart(lines)}<div style="{_CAPTION}">{key}</div></div>'


def _axis_end(rows: list[Any]) -> float:
    """Where the bars' axis ends: far enough for every spread, but never so far that one slow
    outlier run (a 16.7 ms stall among 0.2 ms runs) squashes every median to a sliver. Spreads
    beyond ``OUTLIER_CUT`` times the largest median are cut at the edge (the tooltip keeps them)."""
    medians = [m for r in rows if r.runs for m in _finite(r.median)]
    if not medians:
        return 0.0
    cap = OUTLIER_CUT * max(medians)
    ends = [min(x, cap) for r in rows if r.runs for x in _finite(r.max, r.mean + r.stdev)]
    return max([max(medians) * 1.05, *ends])


def _bar_track(row: Any, scale: float, colour: str, precision: int) -> str:
    def t(value: float) -> str:
        return format_time(value, precision)

    tip = (
        f"{row.label}: median {t(row.median)}, mean {t(row.mean)} ± {t(row.stdev)}, "
        f"min {t(row.min)}, max {t(row.max)}"
    )
    low, high = max(row.mean - row.stdev, 0.0), row.mean + row.stdev
    band = (
        f'<div style="position:absolute;top:0;bottom:0;left:{_pct(low / scale)};'
        f'width:{_pct((min(high, scale) - low) / scale)};background:{colour}40"></div>'
    )
    bar = (
        f'<div style="position:absolute;top:3px;bottom:3px;left:0;width:{_pct(row.median / scale)};'
        f'min-width:2px;background:{colour};border-radius:2px"></div>'
    )
    whisker = (
        f'<div style="position:absolute;top:4px;bottom:4px;left:{_pct(row.min / scale)};'
        f"width:{_pct((min(row.max, scale) - row.min) / scale)};border-left:1px solid {FG};"
        f"border-right:1px solid {FG};background:linear-gradient({FG},{FG}) center/100% 1px "
        f'no-repeat;box-sizing:border-box"></div>'
    )
    return (
        f'<div title="{html.escape(tip)}" style="position:relative;height:16px;'
        f'background:{TRACK};border-radius:2px">{band}{bar}{whisker}</div>'
    )


def _chart_row(label: str, track: str, value: str) -> str:
    return (
        f'{TR}<td style="padding:2px 6px;white-space:nowrap;font-family:{MONO};text-align:left">'
        f"{label}</td>"
        f'<td style="padding:2px 6px">{track}</td>'
        f'<td style="padding:2px 6px;text-align:right;font-family:{MONO};color:{MUTED};'
        f'white-space:nowrap">{html.escape(value)}</td></tr>'
    )


def _axis(scale: float, precision: int) -> str:
    ends = (
        f'<div style="display:flex;justify-content:space-between;color:{MUTED}">'
        f"<span>0</span><span>{html.escape(format_time(scale, precision))}</span></div>"
    )
    return f'{TR}<td></td><td style="padding:0 6px">{ends}</td><td></td></tr>'


def _chart(rows: list[str]) -> str:
    return (
        f'<table style="width:100%;border-collapse:collapse;table-layout:fixed;font-size:11px;'
        f'font-family:{SANS};color:{FG};margin:0;line-height:1.3">'
        '<colgroup><col style="width:22%"><col><col style="width:76px"></colgroup>'
        f"{''.join(rows)}</table>"
    )


# -- a map's branches ------------------------------------------------------------------------------


def _breakdown(row: Any, precision: int) -> str:
    """A map against its own branches: each branch from zero (they overlap: they ran together),
    the branches end to end (what a sequence would cost), and the map's own median."""
    items = list(row.branches.items())
    total = sum(v for _, v in items)
    scale = max(_finite(total, row.median, *(v for _, v in items)), default=0.0)
    if scale <= 0:
        return ""
    lines = []
    for i, (key, value) in enumerate(items):
        colour = branch_colour(i)
        bar = _segment(0.0, value / scale, colour)
        name = f"<span>{swatch(colour)}{html.escape(one_line(key, LABEL_WIDTH))}</span>"
        lines.append(_chart_row(name, _track(bar), format_time(value, precision)))
    stacked, start = [], 0.0
    for i, (_, value) in enumerate(items):
        stacked.append(_segment(start / scale, value / scale, branch_colour(i)))
        start += value
    lines.append(
        _chart_row("one after another", _track("".join(stacked)), format_time(total, precision))
    )
    own = _segment(0.0, row.median / scale, OTHER_BAR)
    lines.append(
        _chart_row(
            f"{_label(row.label)} (parallel)", _track(own), format_time(row.median, precision)
        )
    )
    title = html.escape(speedup_head(row))
    note = overlap_note(row)
    if note:
        title += f'<br><span style="font-weight:normal">{html.escape(note)}</span>'
    head = f'<div style="font-size:12px;margin-bottom:2px"><b>{title}</b></div>'
    return f"<div>{head}{_chart(lines)}</div>"


def _segment(left: float, width: float, colour: str) -> str:
    return (
        f'<div style="position:absolute;top:2px;bottom:2px;left:{_pct(left)};width:{_pct(width)};'
        f'min-width:2px;background:{colour};border-right:1px solid {TRACK};box-sizing:border-box">'
        "</div>"
    )


def _track(inner: str) -> str:
    return (
        f'<div style="position:relative;height:14px;background:{TRACK};border-radius:2px">'
        f"{inner}</div>"
    )
