"""Static HTML for results, batches, values and dry-run graphs: the ``text/html`` of every bundle.

Inline styles only and no script, so the output survives nbconvert and GitHub; JupyterLab's CSS
variables (with fallbacks) make it follow the theme. All text is escaped. The pieces are shared with
the live widget (see :mod:`chainmagic.display._parts`), so a finished widget and this HTML agree.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from chainmagic.display._cluster import cluster_line
from chainmagic.display._common import (
    MAX_BRANCHES,
    error_text,
    format_seconds,
    more_branches,
    one_line,
)
from chainmagic.display._parts import (
    card_html,
    header_html,
    output_html,
    status_badge,
    timeline_html,
)
from chainmagic.display._style import BORDER, ERR, FG, MONO, MUTED, RUN, SANS, TR, TRACK
from chainmagic.display._tree_html import value_html
from chainmagic.display.text import batch_summary, hidden_rows_note, shown_rows, value_text
from chainmagic.run.result import ChainResult

__all__ = [
    "batch_html",
    "batch_table_html",
    "cards_html",
    "cluster_html",
    "graph_html",
    "progress_html",
    "result_html",
    "value_html",
]

_ROOT = f"font-family:{SANS};color:{FG};display:flex;flex-direction:column;gap:8px;max-width:100%"
CARD_FLEX = "1 1 240px"
CARD_MIN_WIDTH = "200px"


def result_html(result: ChainResult, limit: int | None = None) -> str:
    """A run as static HTML: header, one card per branch side by side, output, timeline."""
    try:
        parts = [header_html(result), cards_html(result, limit), output_html(result, limit)]
        parts.append(timeline_html(result))
        return f'<div class="chainmagic-result" style="{_ROOT}">{"".join(parts)}</div>'
    except Exception as exc:
        return _failed("ChainResult", exc)


def cards_html(result: ChainResult, limit: int | None = None) -> str:
    """The branch cards in a wrapping row (empty for a chain without a parallel map)."""
    branches = list(result.branches.items())
    cards = [
        f'<div style="flex:{CARD_FLEX};min-width:{CARD_MIN_WIDTH}">'
        f"{card_html(key, branch, i, limit)}</div>"
        for i, (key, branch) in enumerate(branches[:MAX_BRANCHES])
    ]
    if not cards:
        return ""
    if len(branches) > MAX_BRANCHES:
        note = html.escape(more_branches(len(branches) - MAX_BRANCHES))
        cards.append(f'<div style="flex:1 1 100%;color:{MUTED}">{note}</div>')
    return f'<div style="display:flex;flex-wrap:wrap;gap:8px;align-items:stretch">{"".join(cards)}</div>'


# -- batches ----------------------------------------------------------------------------------------


def batch_html(batch: Any, limit: int | None = None) -> str:
    """A batch as static HTML: a summary (with total, pace or ETA), a progress bar, a table."""
    try:
        parts = [
            f"<div><b>{html.escape(batch_summary(batch))}</b></div>",
            cluster_html(batch),
            progress_html(batch),
            batch_table_html(batch, limit),
        ]
        return f'<div class="chainmagic-batch" style="{_ROOT}">{"".join(parts)}</div>'
    except Exception as exc:
        return _failed("BatchResult", exc)


def cluster_html(batch: Any) -> str:
    """Where a distributed batch ran, its pace and errors by kind, and its dashboard's link."""
    line = cluster_line(batch)
    if not line:
        return ""
    link = getattr(batch, "dashboard", None)
    if isinstance(link, str) and link.startswith(("http://", "https://")):
        href = html.escape(link, quote=True)
        line_html = (
            f'{html.escape(line)} · <a href="{href}" target="_blank" '
            'style="color:inherit;text-decoration:underline">dashboard</a>'
        )
    else:
        line_html = html.escape(line)
    return f'<div style="color:{MUTED}">{line_html}</div>'


def progress_html(batch: Any) -> str:
    """A static progress bar: the share of inputs finished."""
    size = batch.size or len(batch.results) or 1
    done = sum(r.status not in ("queued", "running") for r in batch.results)
    share = f"{100 * done / size:.1f}%"
    colour = ERR if any(r.status == "error" for r in batch.results) else RUN
    return (
        f'<div style="height:6px;background:{TRACK};border-radius:3px" title="{done}/{size}">'
        f'<div style="width:{share};height:100%;background:{colour};border-radius:3px"></div></div>'
    )


def batch_table_html(batch: Any, limit: int | None = None) -> str:
    """One row per input: index, input, output (or failure), status and latency."""
    cell = f"padding:3px 8px;border-bottom:1px solid {BORDER};vertical-align:top;text-align:left"
    head = "".join(
        f'<th style="{cell};color:{MUTED};font-weight:600{align}">{h}</th>'
        for h, align in (
            ("#", ""),
            ("input", ""),
            ("output", ""),
            ("status", ""),
            ("latency", ";text-align:right"),  # over its numbers, which are right-aligned
        )
    )
    rows = []
    results = list(batch.results)
    for i in shown_rows(len(results)):
        if i is None:
            note = html.escape(hidden_rows_note(len(results)))
            rows.append(f'{TR}<td colspan="5" style="{cell};color:{MUTED}">{note}</td></tr>')
            continue
        r = results[i]
        if r.status == "ok":
            out = value_html(r.output, limit)
        elif r.status == "error":
            out = (
                f'<span style="border-left:3px solid {ERR};padding-left:6px">'
                f"{html.escape(error_text(r.error))}</span>"
            )
        else:
            out = ""
        given = html.escape(one_line(value_text(r.input, 200), 60))
        rows.append(
            f'{TR}<td style="{cell};color:{MUTED}">{i}</td>'
            f'<td style="{cell};font-family:{MONO};min-width:8em">{given}</td>'
            f'<td style="{cell}">{out}</td><td style="{cell}">{status_badge(r.status)}</td>'
            f'<td style="{cell};font-family:{MONO};white-space:nowrap;text-align:right">'
            f"{format_seconds(r.total) if r.total is not None else ''}</td></tr>"
        )
    return (
        f'<table style="border-collapse:collapse;table-layout:auto;font-size:12px;width:100%;'
        f'line-height:1.4">'
        f"<thead>{TR}{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


# -- dry runs ---------------------------------------------------------------------------------------


def graph_html(graph: Any, variables: Sequence[str] | None = None, name: str | None = None) -> str:
    """A dry run: the chain's drawing (offline HTML from the graph) and the inputs it needs."""
    try:
        drawing = graph.to_html()
    except Exception as exc:
        drawing = f"<pre>{html.escape(error_text(exc))}</pre>"
    parts = [f'<b style="font-family:{MONO}">{html.escape(name)}</b>'] if name else []
    parts.append(f"<div>{drawing}</div>")
    if variables is not None:
        names = ", ".join(f"<code>{html.escape(str(v))}</code>" for v in variables)
        parts.append(f"<div>inputs: {names or 'none (any value)'}</div>")
    return f'<div class="chainmagic-graph" style="{_ROOT}">{"".join(parts)}</div>'


def _failed(what: str, exc: BaseException) -> str:
    text = f"<{what}: not displayable ({error_text(exc)})>"
    return f"<pre>{html.escape(text)}</pre>"
