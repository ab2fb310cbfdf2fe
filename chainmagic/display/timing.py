"""``%chaintime``'s display: the comparative table as text and HTML, and a live progress view.

A :class:`~chainmagic.run.timing_result.TimingResult` is shown like every other result (see the
rendering contract in :mod:`chainmagic.display.bundle`): a deterministic ``text/plain``
(:func:`timing_text`), a static ``text/html`` (:func:`timing_html`) and, where widgets run, a
:class:`TimingView` that shows a progress bar while measuring and the same HTML once done.

:class:`LiveTiming` is :class:`~chainmagic.display.bundle.LiveDisplay` for timing: one output,
displayed (with a display id) before the first run and updated in place with the final bundle, so
a saved notebook holds the table, not "measuring…"::

    live = LiveTiming(mode=self.widgets, total=runs * len(chains))
    timings, orders, early = time_chains(chains, value, runs=runs, on_progress=live.on_progress)
    live.finish(TimingResult(timings, orders=orders, stopped_early=early, ...))

The renderers live in private modules (``_timing_text``, ``_timing_html``, ``_timing_view``) so
that :mod:`~chainmagic.display.bundle` can use them without importing this module, which builds on
it; ipywidgets is imported only when a :class:`TimingView` is made.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from chainmagic.display._timing_html import timing_html
from chainmagic.display._timing_text import format_time, timing_text
from chainmagic.display.bundle import LiveDisplay, _publish, bundle, widgets_enabled

if TYPE_CHECKING:
    from chainmagic.display._timing_view import TimingView

__all__ = [
    "LiveTiming",
    "TimingView",
    "format_time",
    "show_timing",
    "timing_html",
    "timing_text",
]


class LiveTiming(LiveDisplay):
    """One output that follows ``%chaintime`` from the first run to the final table.

    Widgets mode works as in :class:`LiveDisplay` (``"auto"``: on in a kernel with ipywidgets).
    The :class:`TimingView` is made at once, not at the first run as a result view is: warm-up runs
    report no progress, and the bar should be there while they happen. Without widgets the output
    says ``measuring…`` until :meth:`finish` replaces it with the table; outside a kernel nothing
    is shown until then.
    """

    waiting = "measuring…"

    def __init__(
        self,
        mode: str | bool = "auto",
        *,
        name: str | None = None,
        total: int = 0,
        start: bool = True,
    ) -> None:
        super().__init__(mode, name=name, start=False)
        self.total = total
        try:
            self._view(None)
        except Exception:  # no view is a poorer display, never a failed measurement
            self.view = None
        if start:
            self.start()

    def on_progress(self, timings: Mapping[str, Any], done: int, total: int) -> None:
        """``time_chains``' ``on_progress``: one more run measured (called from the loop thread)."""
        try:
            if self.view is not None:
                self.view.on_progress(timings, done, total)
        except Exception:  # the display must never break the measurement
            pass

    def _new_view(self, obj: Any) -> Any:
        from chainmagic.display._timing_view import TimingView

        return TimingView(self.total, name=self.name)

    def _finish_view(self, view: Any, obj: Any) -> None:
        view.finish(obj)


def show_timing(result: Any, *, mode: str | bool = "auto") -> None:
    """Display a finished timing once, like :func:`~chainmagic.display.bundle.show` a result."""
    view = None
    if widgets_enabled(mode):
        from chainmagic.display._timing_view import TimingView

        view = TimingView()
        view.finish(result)
    _publish(bundle(result, view))


def __getattr__(name: str) -> Any:
    """:class:`TimingView` loads ipywidgets, so it is imported on first use only."""
    if name == "TimingView":
        from chainmagic.display._timing_view import TimingView

        return TimingView
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
