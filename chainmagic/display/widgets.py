"""Live widgets: :class:`ResultView` fills in while a chain runs; :class:`BatchView` is for --batch.

This is the only module that imports ipywidgets (the rest of chainmagic stays importable, and fast,
without it). A view is a tree of ``HTML`` widgets whose values come from the same functions as the
static ``text/html``, so there is one rendering path. Updates arrive from worker and event-loop
threads; a :class:`~chainmagic.display._throttle.Throttle` folds them into at most ~15 redraws a
second, only changed parts are redrawn, and a value is sent to the frontend only when its HTML
actually changed, so a fast stream neither floods the comm channel nor makes the view flicker.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w

from chainmagic.display._parts import card_html, header_html, output_html, timeline_html
from chainmagic.display._throttle import Throttle
from chainmagic.display.html import (
    CARD_FLEX,
    CARD_MIN_WIDTH,
    batch_html,
    batch_table_html,
    cluster_html,
    result_html,
)
from chainmagic.display.text import batch_summary, batch_text, result_text
from chainmagic.run.execute import BatchResult
from chainmagic.run.result import ChainResult
from chainmagic.secrets import redact

__all__ = ["BatchView", "ResultView", "holder", "view_for"]

REDRAWS_PER_SECOND = 15.0
_PARTS_OF = {
    "branch": ("header", "timeline"),
    "step": ("header", "timeline"),
    "root": ("header", "output"),
}


class _LiveView(w.VBox):
    """What both views share: HTML parts set only when changed, and a bundle with our own text.

    ipywidgets' default ``text/plain`` is ``VBox(children=(HTML(value=...`` which differs from run
    to run; ours is the result's own plain text, so nbval and terminals see something true.
    """

    def __init__(self, limit: int | None, rate: float) -> None:
        super().__init__()
        self.limit = limit
        self.assignments = 0  # HTML values actually sent (tests check the throttle with it)
        self._throttle = Throttle(self._draw, rate)

    @property
    def redraws(self) -> int:
        return self._throttle.draws

    def _set(self, widget: Any, value: str) -> None:
        value = redact(value)  # what reaches the frontend (and a saved widget state) is masked
        if widget.value != value:
            widget.value = value
            self.assignments += 1
        hidden = "none" if not value else None
        if widget.layout.display != hidden:
            widget.layout.display = hidden

    def _draw(self, parts: set[str]) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def plain(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def rich(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        data: dict[str, Any] = {
            "text/plain": redact(self.plain()),
            "text/html": redact(self.rich()),
        }
        if self._model_id is not None:
            data["application/vnd.jupyter.widget-view+json"] = {
                "version_major": 2,
                "version_minor": 0,
                "model_id": self._model_id,
            }
        return data


class ResultView(_LiveView):
    """A live :class:`ChainResult`: header, a row of branch cards, the output, the timeline.

    Pass :meth:`on_change` (or call :meth:`update`) as ``execute(..., on_change=...)``; it may be
    called from any thread. ``"done"`` draws the final state at once and stops the throttle.
    """

    def __init__(
        self, result: ChainResult, *, limit: int | None = None, rate: float = REDRAWS_PER_SECOND
    ) -> None:
        super().__init__(limit, rate)
        self.result = result
        self.header = w.HTML()
        self.cards: dict[str, w.HTML] = {}
        self.card_row = w.HBox(layout=w.Layout(flex_flow="row wrap", width="100%"))
        self.output = w.HTML(layout=w.Layout(width="100%"))
        self.timeline = w.HTML(layout=w.Layout(width="100%"))
        self.children = (self.header, self.card_row, self.output, self.timeline)
        self._build_cards()
        self._throttle.flush(*self._all_parts())

    # -- the on_change hook -----------------------------------------------------------------------

    def on_change(self, result: ChainResult, kind: str, key: str | None = None) -> None:
        """``execute``'s callback: follow ``result`` (rebinding if it is a new object), then update."""
        if result is not self.result:
            self.result = result
            if list(result.branches) != list(self.cards):
                self._build_cards()
            kind = "all" if kind != "done" else kind
        self.update(kind, key)

    def update(self, kind: str = "done", key: str | None = None) -> None:
        """Note that part of the result changed; ``kind`` is "branch", "step", "root" or "done"."""
        if kind == "done":
            self._throttle.flush(*self._all_parts(), close=True)
            return
        known = _PARTS_OF.get(kind)
        if known is None:
            self._throttle.poke(*self._all_parts())
            return
        parts = list(known)
        if kind == "branch" and key is not None:
            parts.append(f"card:{key}")
        self._throttle.poke(*parts)

    # -- drawing ---------------------------------------------------------------------------------

    def _all_parts(self) -> list[str]:
        return ["header", "output", "timeline", *(f"card:{k}" for k in self.cards)]

    def _build_cards(self) -> None:
        keys = list(self.result.branches)
        self.cards = {
            key: w.HTML(
                layout=w.Layout(flex=CARD_FLEX, min_width=CARD_MIN_WIDTH, margin="0 8px 8px 0")
            )
            for key in keys
        }
        self.card_row.children = tuple(self.cards.values())
        self.card_row.layout.display = None if keys else "none"

    def _draw(self, parts: set[str]) -> None:
        result, limit = self.result, self.limit
        keys = list(result.branches)
        for part in sorted(parts):
            if part == "header":
                self._set(self.header, header_html(result))
            elif part == "output":
                self._set(self.output, output_html(result, limit))
            elif part == "timeline":
                self._set(self.timeline, timeline_html(result))
            elif part.startswith("card:"):
                key = part[5:]
                card, branch = self.cards.get(key), result.branches.get(key)
                if card is not None and branch is not None:
                    self._set(card, card_html(key, branch, keys.index(key), limit))

    def plain(self) -> str:
        return result_text(self.result, self.limit)

    def rich(self) -> str:
        return result_html(self.result, self.limit)


class BatchView(_LiveView):
    """A live batch: a summary line, a progress bar, and a table filled in as inputs finish."""

    def __init__(self, batch: Any, *, limit: int | None = None, rate: float = 4.0) -> None:
        super().__init__(limit, rate)
        self.batch = batch
        size = batch.size or len(batch.results)
        self.summary = w.HTML()
        self.progress = w.IntProgress(value=0, min=0, max=max(size, 1), bar_style="info")
        self.table = w.HTML(layout=w.Layout(width="100%"))
        self.children = (self.summary, self.progress, self.table)
        self._throttle.flush("all")

    def on_change(self, batch: Any, index: int | None = None) -> None:
        """``execute_batch``'s callback: one more input finished (any thread)."""
        self.batch = batch
        finished = sum(r.status != "running" for r in batch.results)
        if finished >= (batch.size or len(batch.results)):
            self.finish()
        else:
            self._throttle.poke("all")

    def finish(self) -> None:
        """Draw the final state now and stop redrawing."""
        self._throttle.flush("all", close=True)

    def _draw(self, parts: set[str]) -> None:
        batch = self.batch
        results = list(batch.results)
        done = sum(r.status != "running" for r in results)
        self._set(self.summary, f"<b>{html.escape(batch_summary(batch))}</b>{cluster_html(batch)}")
        if self.progress.value != done:
            self.progress.value = done
        style = "danger" if any(r.status == "error" for r in results) else "info"
        if done == len(results) and style == "info":
            style = "success"
        if self.progress.bar_style != style:
            self.progress.bar_style = style
        self._set(self.table, batch_table_html(batch, self.limit))

    def plain(self) -> str:
        return batch_text(self.batch, self.limit)

    def rich(self) -> str:
        return batch_html(self.batch, self.limit)


def view_for(obj: Any, limit: int | None = None) -> _LiveView | None:
    """The live view of a result or batch, or ``None`` for anything without one."""
    if isinstance(obj, ChainResult):
        return ResultView(obj, limit=limit)
    if isinstance(obj, BatchResult):
        return BatchView(obj, limit=limit)
    return None


def holder() -> w.VBox:
    """An empty box to display before the run's first event, filled with the view when it comes.

    The display must happen in the cell's own (main) thread, but the live result object only
    exists once the run has started; the box is what the notebook shows until then.
    """
    return w.VBox()
