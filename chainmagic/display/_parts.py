"""The HTML pieces of a result view: header, branch card, output, timeline.

Both the static ``text/html`` (:mod:`chainmagic.display.html`) and the live widget
(:mod:`chainmagic.display.widgets`) are assembled from these functions: the widget sets each piece
as the value of its own ``HTML`` child, so there is one rendering path, and what a saved notebook
shows is exactly what the live view showed last.
"""

from __future__ import annotations

import html

from chainmagic.display._common import error_path, error_text, format_seconds, plural
from chainmagic.display._layout import TimelineRow, timeline, token_count, whole_map
from chainmagic.display._style import (
    BG,
    BORDER,
    ERR,
    FG,
    MONO,
    MUTED,
    SANS,
    STATUS_COLOURS,
    TR,
    TRACK,
    WARN,
    branch_colour,
    swatch,
)
from chainmagic.display._tree_html import text_html, value_html
from chainmagic.run.result import BranchResult, ChainResult

__all__ = ["card_html", "header_html", "output_html", "status_badge", "timeline_html"]

CURSOR = "▍"
_NOTE = f"color:{MUTED};font-style:italic"
_PANEL = (
    f"box-sizing:border-box;border:1px solid {BORDER};border-radius:6px;padding:6px 10px;"
    f"background:{BG};color:{FG};font-family:{SANS};min-width:0;overflow-wrap:anywhere;"
    "line-height:1.45"
)


CUT_MARK = "cut by max_tokens"  # finish_reason "length": the answer did not end by itself


def status_badge(status: str) -> str:
    """A coloured dot and the status word (the word is there for colour-blind readers and GitHub)."""
    colour = STATUS_COLOURS.get(status, MUTED)
    return f'<span style="white-space:nowrap">{swatch(colour, shape="50%")}{html.escape(status)}</span>'


def header_html(result: ChainResult) -> str:
    """Name, status, total latency, time to first token, tokens; and the failing step's path."""
    items = []
    if result.name:
        items.append(f'<b style="font-family:{MONO}">{html.escape(result.name)}</b>')
    items.append(status_badge(result.status))
    if result.status != "running":
        items.append(f"<span>total <b>{format_seconds(result.total)}</b></span>")
        ttft = result.ttft
        if not whole_map(result) and ttft is not None and ttft != result.total:
            items.append(f"<span>ttft {format_seconds(ttft)}</span>")
    tokens = token_count(result)
    if tokens:
        estimated = " (estimated)" if getattr(result, "usage_estimated", False) else ""
        title = ' title="the server reported no usage: counted here"' if estimated else ""
        items.append(f"<span{title}>{plural(tokens, 'token')}{estimated}</span>")
    if not whole_map(result) and getattr(result, "cut_by_length", None):
        items.append(f"<span>{swatch(WARN)}{CUT_MARK}</span>")  # colour on the swatch, not text
    row = (
        f'<div style="display:flex;flex-wrap:wrap;gap:2px 14px;align-items:baseline;'
        f'font-family:{SANS};color:{FG}">{"".join(items)}</div>'
    )
    if result.status == "error":
        where = error_path(result.error)
        text = (f"failed at {where}: " if where else "failed: ") + error_text(result.error)
        row += (
            f'<div style="border-left:3px solid {ERR};padding-left:6px;font-family:{MONO};'
            f'margin-top:2px">{html.escape(text)}</div>'
        )
    return f'<div style="line-height:1.5">{row}</div>'


def card_html(key: str, branch: BranchResult, index: int | None, limit: int | None = None) -> str:
    """One branch's card: its key in the branch's colour, status and latency, then its value."""
    colour = branch_colour(index)
    status = branch.status
    facts = [status_badge(status)]
    if branch.latency is not None:
        facts.append(format_seconds(branch.latency))
    if getattr(branch, "cut_by_length", False):
        facts.append(f"<span>{swatch(WARN)}{CUT_MARK}</span>")
    head = (
        f'<div style="display:flex;justify-content:space-between;gap:8px;align-items:baseline;'
        f'margin-bottom:4px"><b style="font-family:{MONO}">{swatch(colour)}{html.escape(key)}</b>'
        f'<span style="font-size:85%;color:{MUTED}">{" · ".join(facts)}</span></div>'
    )
    return (
        f'<div class="chainmagic-card" style="{_PANEL};height:100%;'
        f'border-top:3px solid {colour}">'
        f"{head}{_card_body(branch, limit)}</div>"
    )


def _card_body(branch: BranchResult, limit: int | None) -> str:
    status = branch.status
    if status == "ok":
        return value_html(branch.output, limit)
    if status == "error":
        return (
            f'<div style="border-left:3px solid {ERR};padding-left:6px">'
            f"{text_html(error_text(branch.error), limit)}</div>"
        )
    if status == "running":
        if branch.text:
            return text_html(branch.text + CURSOR, limit)
        waiting = html.escape(branch.note) if branch.note else "waiting for the first token"
        return f'<span style="{_NOTE}">{waiting}…</span>'
    if branch.text:
        return text_html(branch.text, limit) + f'<span style="{_NOTE}">{status}</span>'
    return f'<span style="{_NOTE}">{"waiting…" if status == "pending" else status}</span>'


def output_html(result: ChainResult, limit: int | None = None) -> str:
    """The chain's own output (or its streamed text so far); empty when the cards are the output."""
    if whole_map(result):
        return ""
    status = result.status
    if status == "ok":
        body = value_html(result.output, limit)
    elif status == "running":
        body = (
            text_html(result.text + CURSOR, limit)
            if result.text
            else f'<span style="{_NOTE}">{html.escape(result.note or "running")}…</span>'
        )
    elif result.text:
        body = text_html(result.text, limit) + f'<span style="{_NOTE}">{status}</span>'
    else:
        return ""
    label = (
        f'<div style="font-size:85%;color:{MUTED};margin-bottom:2px">output</div>'
        if result.branches
        else ""
    )
    return f'<div style="{_PANEL}">{label}{body}</div>'


# -- timeline ---------------------------------------------------------------------------------------


def timeline_html(result: ChainResult) -> str:
    """A waterfall: one row per step, bars placed by start and end as a share of the run.

    Bars of parallel branches overlap in time, and that overlap is the point: a map costs about as
    much as its slowest branch. The lighter part of a bar is the wait before the first token.
    """
    rows, scale, cut = timeline(result)
    if not rows:
        return ""
    body = "".join(_timeline_row(row, scale) for row in rows)
    if cut:
        body += f'{TR}<td colspan="3" style="{_NOTE}">… {plural(cut, "more step")}</td></tr>'
    axis = (
        f'{TR}<td></td><td style="padding:0 4px"><div style="display:flex;'
        f'justify-content:space-between;color:{MUTED}"><span>0</span>'
        f"<span>{format_seconds(scale)}</span></div></td><td></td></tr>"
    )
    return (
        f'<table class="chainmagic-timeline" style="width:100%;border-collapse:collapse;'
        f"table-layout:fixed;font-size:11px;"
        f'font-family:{SANS};color:{FG};margin:0;line-height:1.3">'
        f'<colgroup><col style="width:26%"><col><col style="width:76px"></colgroup>'
        f"{body}{axis}</table>"
    )


def _pct(x: float) -> str:
    return f"{max(min(x * 100, 100.0), 0.0):.1f}%"


def _timeline_row(row: TimelineRow, scale: float) -> str:
    colour = ERR if row.status == "error" else branch_colour(row.branch)
    end = row.end if row.end is not None else scale
    left = row.start / scale
    width = max(end - row.start, 0.0) / scale
    fill = colour
    if row.first_chunk is not None:  # the lighter part is the wait for the first chunk
        span = end - row.start
        wait = (row.first_chunk - row.start) / span if span > 0 else 0.0
        fill = f"linear-gradient(90deg,{colour}66 0 {_pct(wait)},{colour} {_pct(wait)})"
    opacity = {"running": "0.6", "cancelled": "0.35"}.get(row.status, "1")
    latency = format_seconds(row.end - row.start) if row.end is not None else row.status
    tip = f"{row.where}: {latency}"
    if row.first_chunk is not None:
        tip += f" (first chunk at {format_seconds(row.first_chunk - row.start)})"
    label = (
        f'<td style="padding:1px 4px 1px {4 + 12 * row.depth}px;white-space:nowrap;text-align:left;'
        f'overflow:hidden;text-overflow:ellipsis" title="{html.escape(row.where)}">'
        f"{html.escape(row.label)}</td>"
    )
    bar = (
        f'<td style="padding:1px 4px"><div style="position:relative;height:10px;'
        f'background:{TRACK};border-radius:2px"><div title="{html.escape(tip)}" '
        f'style="position:absolute;top:0;bottom:0;left:{_pct(left)};width:{_pct(width)};'
        f'min-width:2px;background:{fill};opacity:{opacity};border-radius:2px"></div></div></td>'
    )
    when = (
        f'<td style="padding:1px 4px;text-align:right;font-family:{MONO};color:{MUTED};'
        f'white-space:nowrap">{html.escape(latency)}</td>'
    )
    return f"{TR}{label}{bar}{when}</tr>"
