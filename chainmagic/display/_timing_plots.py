"""Small static SVG plots for a timing result: where a person would rather look than read.

Three, each drawn only when its data is there: every run's time per chain (a strip: the spread and
the outliers a mean ± std hides), time to first token against total per run (streaming chains),
and the load curve (median latency against requests/s per ``--concurrency`` level). Plain SVG
strings from the result's data, so a saved notebook shows them anywhere HTML renders.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from chainmagic.display._common import format_seconds
from chainmagic.display._style import MUTED, TRACK, branch_colour

__all__ = ["timing_plots"]

_W = 560  # px: inside the 800 px the table is laid out for
_LEFT = 120
_ROW = 16
_FONT = 'font-size="10" font-family="sans-serif"'


def timing_plots(result: Any) -> str:
    """The plots that have data, as one HTML fragment ("" when none has)."""
    parts = [_strip(result), _ttft_vs_total(result), _load_curve(result)]
    return "".join(p for p in parts if p)


def _x(value: float, top: float, width: float) -> float:
    return _LEFT + (value / top if top > 0 else 0) * (width - _LEFT - 10)


def _svg(height: int, body: str, title: str) -> str:
    return (
        f'<svg width="{_W}" height="{height}" role="img" aria-label="{html.escape(title)}" '
        f'style="display:block;margin:6px 0">{body}</svg>'
    )


def _strip(result: Any) -> str:
    """Every successful run as a dot on one line per chain; the median as a tick."""
    chains = [t for t in result.chains.values() if t.all_runs]
    if not chains:
        return ""
    top = max(max(t.all_runs) for t in chains)
    body = []
    for i, t in enumerate(chains):
        y = 14 + i * _ROW
        body.append(
            f'<text x="{_LEFT - 6}" y="{y + 3}" text-anchor="end" {_FONT} fill="{MUTED}">'
            f"{html.escape(t.label[:18])}</text>"
            f'<line x1="{_LEFT}" x2="{_W - 10}" y1="{y}" y2="{y}" stroke="{TRACK}"/>'
        )
        colour = branch_colour(i)
        body += [
            f'<circle cx="{_x(v, top, _W):.1f}" cy="{y}" r="3" fill="{colour}" '
            f'fill-opacity="0.55"/>'
            for v in t.all_runs
        ]
        mx = _x(t.median, top, _W)
        body.append(
            f'<line x1="{mx:.1f}" x2="{mx:.1f}" y1="{y - 6}" y2="{y + 6}" '
            f'stroke="{colour}" stroke-width="2"/>'
        )
    height = 14 + len(chains) * _ROW + 14
    body.append(
        f'<text x="{_W - 10}" y="{height - 3}" text-anchor="end" {_FONT} fill="{MUTED}">'
        f"{html.escape(format_seconds(top))} · every run, median ticked</text>"
    )
    return _svg(height, "".join(body), "run times per chain")


def _scatter(
    points: list[tuple[int, float, float]],
    x_top: float,
    y_top: float,
    labels: tuple[str, str],
    x_text: Callable[[float], str] = format_seconds,
) -> str:
    height = 160
    plot_h = height - 30
    body = [
        f'<line x1="{_LEFT}" x2="{_W - 10}" y1="{plot_h}" y2="{plot_h}" stroke="{TRACK}"/>',
        f'<line x1="{_LEFT}" x2="{_LEFT}" y1="6" y2="{plot_h}" stroke="{TRACK}"/>',
    ]
    for index, x, y in points:
        cx = _x(x, x_top, _W)
        cy = plot_h - (y / y_top if y_top > 0 else 0) * (plot_h - 10)
        body.append(
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3" fill="{branch_colour(index)}" '
            f'fill-opacity="0.6"/>'
        )
    body.append(
        f'<text x="{_W - 10}" y="{height - 6}" text-anchor="end" {_FONT} fill="{MUTED}">'
        f"{html.escape(labels[0])} (to {html.escape(x_text(x_top))})</text>"
        f'<text x="{_LEFT - 6}" y="12" text-anchor="end" {_FONT} fill="{MUTED}">'
        f"{html.escape(labels[1])}</text>"
        f'<text x="{_LEFT - 6}" y="24" text-anchor="end" {_FONT} fill="{MUTED}">'
        f"to {html.escape(format_seconds(y_top))}</text>"
    )
    return _svg(height, "".join(body), f"{labels[1]} against {labels[0]}")


def _ttft_vs_total(result: Any) -> str:
    """Per run, time to first token against total: streaming's benefit (or its absence)."""
    points = [
        (i, r.total, r.ttft)
        for i, t in enumerate(result.chains.values())
        for r in t.records
        if r.ok and r.ttft is not None and r.ttft < r.total
    ]
    if not points:
        return ""
    x_top = max(p[1] for p in points)
    return _scatter(points, x_top, max(p[2] for p in points), ("total", "ttft"))


def _load_curve(result: Any) -> str:
    """Median latency against requests/s, one point per --concurrency level and chain."""
    levels = [lv for lv in getattr(result, "load", []) if lv.p50 is not None]
    if not levels:
        return ""
    labels = list(dict.fromkeys(lv.label for lv in levels))
    points = [(labels.index(lv.label), lv.requests_per_s, lv.p50) for lv in levels]
    x_top = max(p[1] for p in points)
    return _scatter(
        points, x_top, max(p[2] for p in points), ("requests/s", "p50"), lambda v: f"{v:.3g}"
    )
