"""Renderers: results, batches and graphs as plain text, static HTML and live widgets.

Grouped by job: ``text`` and ``html`` are pure functions of the data (no IPython, no ipywidgets);
``bundle`` builds the static mime bundles and hands them to IPython; ``live`` is the output that
follows a run (one ``ipywidgets.HTML``, imported only when a live view is made, closed when the run
ends); ``timing`` is ``%chaintime``'s text, HTML and live progress.
"""

from __future__ import annotations

from chainmagic.display._common import DEFAULT_LIMIT, format_seconds
from chainmagic.display.bundle import (
    bundle,
    display_graph,
    in_kernel,
    show,
    show_graph,
    show_python,
    widgets_enabled,
)
from chainmagic.display.html import batch_html, graph_html, result_html, value_html
from chainmagic.display.live import LiveDisplay
from chainmagic.display.text import batch_text, graph_text, result_text, value_text
from chainmagic.display.timing import LiveTiming, show_timing, timing_html, timing_text

__all__ = [
    "DEFAULT_LIMIT",
    "LiveDisplay",
    "LiveTiming",
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
