"""Live outputs: one output per run that updates in place, then becomes static for good.

The lifecycle every magic shares. When a run starts, its output is displayed once, with a display
id: in a kernel with widgets, a single ``ipywidgets.HTML`` whose value is redrawn (throttled) from
the live result; without widgets, a "running…" line. When the run ends — done, failed, cancelled or
interrupted — the same output is replaced by the *final* bundle, ``text/plain`` + ``text/html`` and
nothing else, and the widget is closed. So a saved notebook holds no widget view at all: it renders
with no kernel and no widget state (JupyterLab after "Close and Shut Down", nbconvert, GitHub), and
the kernel keeps no widget per past run.

The live view and the final view are drawn by the same function of the same data
(:func:`~chainmagic.display.bundle.html_of`), so they look the same. Redraws never raise into the
run: a failure to draw leaves the last good drawing.
"""

from __future__ import annotations

import html
import threading
from time import perf_counter
from typing import Any

from chainmagic.display._style import MUTED, SANS
from chainmagic.display._throttle import Throttle
from chainmagic.display.bundle import (
    bundle,
    html_of,
    in_kernel,
    plain_text,
    publish,
    shell,
    widget_mime,
    widgets_enabled,
)

__all__ = ["RUNNING", "LiveDisplay"]

RUNNING = "running…"
REDRAWS_PER_SECOND = 15.0  # a token stream needs no more; each redraw is one comm message


def waiting_html(text: str) -> str:
    """The placeholder while nothing has happened yet (and the timing progress line's frame)."""
    return f'<div style="font-family:{SANS};color:{MUTED}">{html.escape(text)}</div>'


class LiveDisplay:
    """One output that follows a run from start to finish (see the module docstring).

    Made in the cell's thread; pass :meth:`on_change` to ``execute`` (or :meth:`on_batch_change` to
    ``execute_batch``); both may be called from any thread. :meth:`finish` (called by a ``"done"``
    event, or by the magic) puts the final static bundle in the output; :meth:`cancel` does the same
    for a run that was interrupted before it could report its end. Outside a kernel nothing is shown
    while running, and :meth:`finish` prints the final text once.
    """

    waiting = RUNNING

    def __init__(
        self,
        mode: str | bool = "auto",
        limit: int | None = None,
        *,
        name: str | None = None,
        start: bool = True,
        rate: float = REDRAWS_PER_SECOND,
    ) -> None:
        self.mode = mode
        self.limit = limit
        self.name = name
        self.obj: Any = None
        self.handle: Any = None
        self.finished = False
        self.widget: Any = None
        self._lock = threading.Lock()
        self._throttle = Throttle(
            self._draw, rate, leading=False
        )  # never draw in the run's threads
        self._interval = self._throttle.interval
        if widgets_enabled(mode):
            try:
                import ipywidgets

                self.widget = ipywidgets.HTML(self.live_html())
            except Exception:  # a run without its live view is still a run
                self.widget = None
        if start:
            self.start()

    # -- what the output holds ---------------------------------------------------------------------

    @property
    def redraws(self) -> int:
        """How many times the live view was redrawn (the throttle's count)."""
        return self._throttle.draws

    def waiting_text(self) -> str:
        return f"{self.name}\n{self.waiting}" if self.name else self.waiting

    def live_html(self) -> str:
        """The live view's HTML: the same renderer as the final one, or the placeholder."""
        if self.obj is None:
            return waiting_html(self.waiting_text())
        return html_of(self.obj, self.limit)

    def live_text(self) -> str:
        if self.obj is None:
            return self.waiting_text()
        return plain_text(self.obj, self.limit)

    def bundle(self) -> dict[str, Any]:
        """What the output holds now: while live, text, HTML and the widget view; then static."""
        if self.finished and self.obj is not None:
            return bundle(self.obj, limit=self.limit)
        data = {"text/plain": self.live_text(), "text/html": self.live_html()}
        if not self.finished:
            data.update(widget_mime(self.widget))
        return data

    # -- the run's callbacks -----------------------------------------------------------------------

    def start(self) -> None:
        """Display the placeholder (only in a kernel: a terminal would print it for good)."""
        if self.handle is None and in_kernel():
            self.handle = publish(self.bundle(), display_id=True)

    def on_change(self, result: Any, kind: str, key: str | None = None) -> None:
        """``execute``'s ``on_change``: any thread; ``"done"`` comes last, in the caller's thread."""
        self.obj = result
        if kind == "done":
            self.finish(result)
        else:
            self._throttle.poke("all")

    def on_batch_change(self, batch: Any, index: int | None = None) -> None:
        """``execute_batch``'s ``on_change``: one more input finished (any thread)."""
        self.obj = batch
        self._throttle.poke("all")

    def _draw(self, parts: set[str]) -> None:
        widget = self.widget
        if widget is None or self.finished:
            return
        start = perf_counter()
        value = self.live_html()
        # A view that is slow to draw (a huge map, a slow repr) is redrawn less often, so drawing
        # never takes more than about a fifth of the time the run has.
        self._throttle.interval = max(self._interval, 4 * (perf_counter() - start))
        if widget.value != value:
            widget.value = value

    # -- the end -----------------------------------------------------------------------------------

    def finish(self, obj: Any = None) -> None:
        """Replace the output with its final static bundle and release the widget (once)."""
        with self._lock:
            if obj is None:
                obj = self.obj
            if self.finished and (obj is None or obj is self.obj):
                return
            self.obj, self.finished = obj, True
        self._throttle.flush(close=True)
        final = self.bundle() if obj is not None else self._cancelled_bundle()
        try:
            if self.handle is not None:
                self.handle.update(final, raw=True)
            elif shell() is not None:
                publish(final)
        finally:
            self.release()

    def cancel(self) -> None:
        """The run was interrupted before it could end: say so in the output, and release it.

        Whatever the result still marks as running is marked cancelled first, so a saved notebook
        never shows "running…" for a run that is over.
        """
        obj = self.obj
        if obj is not None:
            mark_cancelled(obj)
        self.finish(obj)

    def _cancelled_bundle(self) -> dict[str, Any]:
        text = f"{self.name}\ncancelled" if self.name else "cancelled"
        return {"text/plain": text, "text/html": waiting_html(text)}

    def release(self) -> None:
        """Close the widget: its model leaves the kernel and the frontend (nothing refers to it)."""
        widget, self.widget = self.widget, None
        if widget is None:
            return
        # An HTML widget brings a Layout and a Style model of its own; closing the widget alone
        # would leave those two in the kernel for every run.
        for model in (getattr(widget, "layout", None), getattr(widget, "style", None), widget):
            try:
                if model is not None:
                    model.close()
            except Exception:
                pass


def mark_cancelled(obj: Any) -> None:
    """Mark what an interrupted result (or every result of a batch) still shows as running."""
    results = getattr(obj, "results", None)
    for result in results if isinstance(results, list) else [obj]:
        if getattr(result, "status", None) in ("queued", "running", "pending"):
            try:
                result.status = "cancelled"
            except Exception:
                pass
