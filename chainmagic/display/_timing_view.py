"""The live ``%chaintime`` widget: a progress bar while measuring, then the comparison.

Imports ipywidgets, so it is loaded only when a live view is asked for (through
:mod:`chainmagic.display.timing`). It is a :class:`~chainmagic.display.widgets._LiveView` like the
result and batch views: the same throttle (``on_progress`` comes from the timing loop's thread after
every run, and a fast chain can finish hundreds of runs a second), the same "send a value only when
it changed" rule, and a mime bundle carrying our own deterministic ``text/plain``. When measuring is
done it shows exactly :func:`timing_html`, so the widget and the static HTML are one rendering.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

import ipywidgets as w

from chainmagic.display._style import MUTED
from chainmagic.display._timing_html import timing_html
from chainmagic.display._timing_text import progress_text, timing_text
from chainmagic.display.widgets import _LiveView

__all__ = ["TimingView"]

PROGRESS_REDRAWS_PER_SECOND = 4.0  # a progress bar needs no more; each redraw is a comm message


class TimingView(_LiveView):
    """A live ``%chaintime``: ``measuring 12/21 runs…`` and a bar, then the table and charts.

    Pass :meth:`on_progress` as ``time_chains(..., on_progress=...)`` (any thread), then call
    :meth:`finish` with the :class:`~chainmagic.run.timing_result.TimingResult`.
    """

    def __init__(
        self, total: int = 0, *, name: str | None = None, rate: float = PROGRESS_REDRAWS_PER_SECOND
    ) -> None:
        super().__init__(None, rate)
        self.name = name
        self.total = total
        self.done = 0
        self.failures = 0
        self.result: Any = None
        self.progress = w.IntProgress(value=0, min=0, max=max(total, 1), bar_style="info")
        self.label = w.HTML()
        self.status = w.HBox((self.progress, self.label), layout=w.Layout(align_items="center"))
        self.body = w.HTML(layout=w.Layout(width="100%"))
        self.children = (self.status, self.body)
        self._throttle.flush("all")

    def on_progress(self, timings: Mapping[str, Any], done: int, total: int) -> None:
        """``time_chains``' callback: one more run measured (called from the loop thread)."""
        self.failures = sum(getattr(t, "failures", 0) for t in list(timings.values()))
        self.done, self.total = done, total
        self._throttle.poke("progress")

    def finish(self, result: Any) -> None:
        """Show the final comparison now and stop redrawing; the bar is hidden, its job done."""
        self.result = result
        self._throttle.flush("all", close=True)

    @property
    def progress_text(self) -> str:
        text = progress_text(self.done, self.total, self.failures)
        return f"{self.name}: {text}" if self.name else text

    def _draw(self, parts: set[str]) -> None:
        bar = self.progress
        if self.result is not None:
            bar.max = max(bar.max, bar.value, 1)
            bar.value = bar.max
            bar.bar_style = "success"
            self.status.layout.display = "none"
            self._set(self.label, "")
            self._set(self.body, timing_html(self.result))
            return
        if bar.max != max(self.total, 1):
            bar.max = max(self.total, 1)
        if bar.value != self.done:
            bar.value = min(self.done, bar.max)
        style = "warning" if self.failures else "info"
        if bar.bar_style != style:
            bar.bar_style = style
        self._set(
            self.label, f'<span style="color:{MUTED}">{html.escape(self.progress_text)}</span>'
        )

    def plain(self) -> str:
        return timing_text(self.result) if self.result is not None else self.progress_text

    def rich(self) -> str:
        if self.result is not None:
            return timing_html(self.result)
        return f'<div style="color:{MUTED}">{html.escape(self.progress_text)}</div>'
