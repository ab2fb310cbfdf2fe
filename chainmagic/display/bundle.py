"""The one place that builds what IPython displays: mime bundles, live displays, dry-run graphs.

Rendering contract: every bundle carries a ``text/plain`` and a ``text/html``, plus the widget view
when widgets are on; a timing result also carries its raw runs as JSON (``TIMING_MIME``). A live
run is displayed once, with a display id, when it starts; when it ends the same output is updated
in place with the *final* text and HTML, so a saved notebook (and nbval, nbconvert, GitHub) holds
the finished result beside the widget view, never "running…".

Widgets mode: ``"on"``, ``"off"``, or ``"auto"`` (on when a kernel runs the code, since only a
kernel has a comm channel for a frontend to render them, and ipywidgets is installed).
"""

from __future__ import annotations

import contextlib
import html
import importlib.util
import threading
from collections.abc import Sequence
from typing import Any

from chainmagic.display._common import safe_repr
from chainmagic.display._style import MONO, MUTED
from chainmagic.display._timing_html import timing_html
from chainmagic.display._timing_text import timing_text
from chainmagic.display.html import batch_html, graph_html, result_html
from chainmagic.display.text import batch_text, graph_text, result_text
from chainmagic.run.execute import BatchResult
from chainmagic.run.result import ChainResult
from chainmagic.run.timing_result import TIMING_MIME, TimingResult
from chainmagic.secrets import redact

__all__ = [
    "WIDGET_MIME",
    "LiveDisplay",
    "bundle",
    "display_graph",
    "html_of",
    "in_kernel",
    "plain_text",
    "show",
    "show_graph",
    "show_python",
    "widgets_enabled",
]

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
RUNNING = "running…"


# -- what to show -----------------------------------------------------------------------------------


def plain_text(obj: Any, limit: int | None = None) -> str:
    """The ``text/plain`` of a result, a batch, or (for anything else) its safe repr; masked."""
    return redact(_plain_text(obj, limit))


def _plain_text(obj: Any, limit: int | None = None) -> str:
    if isinstance(obj, ChainResult):
        return result_text(obj, limit)
    if isinstance(obj, BatchResult):
        return batch_text(obj, limit)
    if isinstance(obj, TimingResult):
        return timing_text(obj)
    if isinstance(obj, _graph_type()):
        return graph_text(obj)
    return safe_repr(obj)


def html_of(obj: Any, limit: int | None = None) -> str:
    """The ``text/html`` of a result, a batch, or an object's own ``_repr_html_``; masked."""
    return redact(_html_of(obj, limit))


def _html_of(obj: Any, limit: int | None = None) -> str:
    if isinstance(obj, ChainResult):
        return result_html(obj, limit)
    if isinstance(obj, BatchResult):
        return batch_html(obj, limit)
    if isinstance(obj, TimingResult):
        return timing_html(obj)
    if isinstance(obj, _graph_type()):
        return graph_html(obj)
    try:
        own = obj._repr_html_()
        if isinstance(own, str):
            return own
    except Exception:
        pass
    return f'<pre style="font-family:{MONO}">{html.escape(plain_text(obj, limit))}</pre>'


def _graph_type() -> type:
    from chainmagic.core.graph import Graph

    return Graph


def bundle(obj: Any, widget: Any | None = None, *, limit: int | None = None) -> dict[str, Any]:
    """``{"text/plain", "text/html"}`` for ``obj``, plus the widget view of ``widget`` if given."""
    data: dict[str, Any] = {"text/plain": plain_text(obj, limit), "text/html": html_of(obj, limit)}
    if isinstance(obj, TimingResult):  # the raw runs, so a saved notebook keeps the data
        with contextlib.suppress(Exception):
            data[TIMING_MIME] = obj.to_json_dict()
    model_id = _model_id(widget)
    if model_id is not None:
        data[WIDGET_MIME] = {"version_major": 2, "version_minor": 0, "model_id": model_id}
    return data


def _model_id(widget: Any) -> str | None:
    if widget is None:
        return None
    try:
        return str(widget.model_id)
    except Exception:
        return None


# -- where we run -----------------------------------------------------------------------------------


def _shell() -> Any:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return None
    return get_ipython()


def in_kernel() -> bool:
    """True inside a Jupyter kernel (a shell with a ``kernel``), where a frontend renders widgets."""
    return getattr(_shell(), "kernel", None) is not None


def widgets_enabled(mode: str | bool = "auto") -> bool:
    """Resolve a widgets mode (``"auto"``, ``"on"``, ``"off"`` or a bool) to yes or no."""
    if mode in (False, "off", "no", "false"):
        return False
    installed = importlib.util.find_spec("ipywidgets") is not None
    if mode in (True, "on", "yes", "true"):
        return installed
    return installed and in_kernel()


def _publish(data: dict[str, Any], *, display_id: bool = False) -> Any:
    """Display a bundle through IPython (or print its text when no IPython shell runs)."""
    if _shell() is None:
        print(data["text/plain"])
        return None
    from IPython.display import display

    return display(data, raw=True, display_id=display_id or None)


# -- live runs --------------------------------------------------------------------------------------


class LiveDisplay:
    """One output that follows a run from start to finish.

    Made in the cell's thread, it displays a placeholder at once (in a kernel); pass
    :meth:`on_change` to ``execute`` (or :meth:`on_batch_change` to ``execute_batch``). The widget
    view is built at the first event, from the live result, and redraws as it fills; when the run
    is done (``"done"``, or :meth:`finish`) the output is updated in place with the final bundle.
    Outside a kernel nothing is shown while running, and :meth:`finish` displays the final text once.
    """

    waiting = RUNNING  # what the output says before there is a result to show

    def __init__(
        self,
        mode: str | bool = "auto",
        limit: int | None = None,
        *,
        name: str | None = None,
        start: bool = True,
    ) -> None:
        self.mode = mode
        self.limit = limit
        self.name = name
        self.widgets = widgets_enabled(mode)
        self.obj: Any = None
        self.view: Any = None
        self.handle: Any = None
        self.finished = False
        self._lock = threading.Lock()
        self._box: Any = None
        if self.widgets:
            from chainmagic.display.widgets import holder

            self._box = holder()
        if start:
            self.start()

    def start(self) -> None:
        """Display the placeholder (only in a kernel: a terminal would print it for good)."""
        if self.handle is None and in_kernel():
            self.handle = _publish(self.bundle(), display_id=True)

    def bundle(self) -> dict[str, Any]:
        """What the output holds now: the result's text and HTML, and the widget view."""
        if self.obj is None:
            text = f"{self.name}\n{self.waiting}" if self.name else self.waiting
            data: dict[str, Any] = {
                "text/plain": text,
                "text/html": f'<div style="color:{MUTED}">{html.escape(text)}</div>',
            }
            model_id = _model_id(self._box)
            if model_id is not None:
                data[WIDGET_MIME] = {"version_major": 2, "version_minor": 0, "model_id": model_id}
            return data
        return bundle(self.obj, self._box, limit=self.limit)

    def on_change(self, result: ChainResult, kind: str, key: str | None = None) -> None:
        """``execute``'s ``on_change``: any thread; ``"done"`` comes last, in the caller's thread."""
        try:
            self.obj = result
            view = self._view(result)
            if view is not None:
                view.on_change(result, kind, key)
        except Exception:  # the display must never break the run
            pass
        if kind == "done":
            self.finish(result)

    def on_batch_change(self, batch: Any, index: int | None = None) -> None:
        """``execute_batch``'s ``on_change``: one more input finished (any thread)."""
        try:
            self.obj = batch
            view = self._view(batch)
            if view is not None:
                view.on_change(batch, index)
        except Exception:
            pass

    def finish(self, obj: Any = None) -> None:
        """Draw the final state and put the final bundle in the output (once per object)."""
        if obj is None:
            obj = self.obj
        if obj is None or (self.finished and obj is self.obj):
            return
        self.obj, self.finished = obj, True
        try:
            view = self._view(obj)
            if view is not None:
                self._finish_view(view, obj)
        except Exception:
            pass
        final = self.bundle()
        if self.handle is not None:
            self.handle.update(final, raw=True)
        elif _shell() is not None:
            _publish(final)

    def _view(self, obj: Any) -> Any:
        if self._box is None:
            return None
        with self._lock:
            if self.view is None:
                self.view = self._new_view(obj)
                if self.view is not None:
                    self._box.children = (self.view,)
            return self.view

    # Hooks a live display of another kind of object (``LiveTiming``) overrides.

    def _new_view(self, obj: Any) -> Any:
        from chainmagic.display.widgets import view_for

        return view_for(obj, self.limit)

    def _finish_view(self, view: Any, obj: Any) -> None:
        if isinstance(view, _result_view()):
            view.on_change(obj, "done")
        else:
            view.finish()


def _result_view() -> Any:
    from chainmagic.display.widgets import ResultView

    return ResultView


def show(obj: Any, *, mode: str | bool = "auto", limit: int | None = None) -> None:
    """Display a finished result or batch once: text, HTML, and the widget view when widgets are on."""
    view = None
    if widgets_enabled(mode):
        from chainmagic.display.widgets import view_for

        view = view_for(obj, limit)
    _publish(bundle(obj, view, limit=limit))


# -- dry runs and code ------------------------------------------------------------------------------


def show_graph(
    graph: Any,
    variables: Sequence[str] | None = None,
    name: str | None = None,
    *,
    mode: str | bool = "auto",
) -> None:
    """Display a dry run: the chain's graph and the inputs it needs (as a widget too, in a kernel)."""
    html_text = graph_html(graph, variables, name)
    data: dict[str, Any] = {
        "text/plain": graph_text(graph, variables, name),
        "text/html": html_text,
    }
    if widgets_enabled(mode):
        try:
            import ipywidgets

            model_id = _model_id(ipywidgets.HTML(html_text))
            if model_id is not None:
                data[WIDGET_MIME] = {"version_major": 2, "version_minor": 0, "model_id": model_id}
        except Exception:  # a graph without its widget is still a graph
            pass
    _publish(data)


display_graph = show_graph


def show_python(code: str) -> None:
    """Display Python source (``--to-python``) as plain text and as a preformatted block."""
    text = str(code)
    _publish(
        {
            "text/plain": text,
            "text/html": f'<pre style="font-family:{MONO};margin:0">{html.escape(text)}</pre>',
        }
    )
