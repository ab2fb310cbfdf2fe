"""Renderers: results, batches and graphs as plain text, static HTML and live widgets.

``text`` and ``html`` are pure functions of the data (no IPython, no ipywidgets); ``widgets`` is the
only module that imports ipywidgets, and only when a live view is asked for; ``bundle`` is the one
place that hands mime bundles to IPython. Timing results (``%chaintime``) get their own module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chainmagic.display._common import DEFAULT_LIMIT, format_seconds
from chainmagic.display.bundle import (
    LiveDisplay,
    bundle,
    display_graph,
    in_kernel,
    show,
    show_graph,
    show_python,
    widgets_enabled,
)
from chainmagic.display.html import batch_html, graph_html, result_html, value_html
from chainmagic.display.text import batch_text, graph_text, result_text, value_text
from chainmagic.display.timing import LiveTiming, show_timing, timing_html, timing_text

if TYPE_CHECKING:
    from chainmagic.display.timing import TimingView
    from chainmagic.display.widgets import BatchView, ResultView

__all__ = [
    "DEFAULT_LIMIT",
    "BatchView",
    "LiveDisplay",
    "LiveTiming",
    "ResultView",
    "TimingView",
    "batch_html",
    "batch_text",
    "bundle",
    "display_graph",
    "format_seconds",
    "graph_html",
    "graph_text",
    "in_kernel",
    "result_html",
    "result_text",
    "show",
    "show_graph",
    "show_python",
    "show_timing",
    "timing_html",
    "timing_text",
    "value_html",
    "value_text",
    "widgets_enabled",
]


def __getattr__(name: str) -> Any:
    """The widget classes load ipywidgets, so they are imported on first use only."""
    if name in ("ResultView", "BatchView"):
        from chainmagic.display import widgets

        return getattr(widgets, name)
    if name == "TimingView":
        from chainmagic.display._timing_view import TimingView

        return TimingView
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
