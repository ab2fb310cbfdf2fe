"""``%chaintime``'s display: the comparative table as text and HTML, and its live progress.

A :class:`~chainmagic.run.timing_result.TimingResult` is shown like every other result (see
:mod:`chainmagic.display.bundle`): a deterministic ``text/plain`` (:func:`timing_text`) and a static
``text/html`` (:func:`timing_html`). :class:`LiveTiming` is :class:`~chainmagic.display.live.LiveDisplay`
for timing: while measuring, the one live widget shows a progress bar drawn in HTML; at the end the
output is replaced by the static table, so a saved notebook holds the table, and an interrupted
measurement says "cancelled", never "measuring…"::

    live = LiveTiming(mode=self.widgets, total=runs * len(chains))
    timings, orders, early = time_chains(chains, value, runs=runs, on_progress=live.on_progress)
    live.finish(TimingResult(timings, orders=orders, stopped_early=early, ...))
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from chainmagic.display._style import MUTED, RUN, SANS, TRACK, WARN
from chainmagic.display._timing_html import timing_html
from chainmagic.display._timing_text import format_time, progress_text, timing_text
from chainmagic.display.bundle import bundle, publish
from chainmagic.display.live import LiveDisplay

__all__ = [
    "LiveTiming",
    "format_time",
    "progress_html",
    "show_timing",
    "timing_html",
    "timing_text",
]

PROGRESS_REDRAWS_PER_SECOND = 4.0  # a progress bar needs no more; each redraw is a comm message


def progress_html(text: str, done: int, total: int, failures: int = 0) -> str:
    """``measuring 12/21 runs…`` over a bar, in plain HTML (the live view of a measurement)."""
    share = f"{100 * min(done, total) / total:.1f}%" if total else "0%"
    colour = WARN if failures else RUN
    return (
        f'<div style="font-family:{SANS};color:{MUTED};max-width:100%">'
        f"<div>{html.escape(text)}</div>"
        f'<div style="height:6px;max-width:320px;background:{TRACK};border-radius:3px;'
        f'margin-top:4px" title="{done}/{total}">'
        f'<div style="width:{share};height:100%;background:{colour};border-radius:3px"></div>'
        f"</div></div>"
    )


class LiveTiming(LiveDisplay):
    """One output that follows ``%chaintime`` from the first run to the final table."""

    waiting = "measuring…"

    def __init__(
        self,
        mode: str | bool = "auto",
        *,
        name: str | None = None,
        total: int = 0,
        start: bool = True,
    ) -> None:
        self.total = total
        self.done = 0
        self.failures = 0
        super().__init__(mode, name=name, start=start, rate=PROGRESS_REDRAWS_PER_SECOND)

    def on_progress(self, timings: Mapping[str, Any], done: int, total: int) -> None:
        """``time_chains``' ``on_progress``: one more run measured (called from the loop thread)."""
        try:
            self.failures = sum(getattr(t, "failures", 0) for t in list(timings.values()))
        except Exception:
            self.failures = 0
        self.done, self.total = done, total
        self._throttle.poke("progress")

    @property
    def progress_text(self) -> str:
        text = progress_text(self.done, self.total, self.failures)
        return f"{self.name}: {text}" if self.name else text

    def live_text(self) -> str:
        if self.obj is not None:
            return super().live_text()
        return self.progress_text if self.done else self.waiting_text()

    def live_html(self) -> str:
        if self.obj is not None:
            return super().live_html()
        return progress_html(self.live_text(), self.done, self.total, self.failures)


def show_timing(result: Any, *, mode: str | bool = "auto") -> None:
    """Display a finished timing once, as its static bundle (like ``show`` a result)."""
    del mode
    publish(bundle(result))
