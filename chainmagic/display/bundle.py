"""The one place that builds what IPython displays: static mime bundles, dry-run graphs, code.

Rendering contract: a finished object's bundle is ``text/plain`` + ``text/html`` — no widget view —
so it renders with no kernel and no widget state (a reopened notebook, nbconvert, GitHub); a timing
result also carries its raw runs as JSON (``TIMING_MIME``). Only a run that is still live carries a
widget view (see :mod:`chainmagic.display.live`), and :func:`widget_mime` is the one helper that
writes that reference.

Widgets mode: ``"on"``, ``"off"``, or ``"auto"`` (on when a kernel runs the code, since only a
kernel has a comm channel for a frontend to render them, and ipywidgets is installed).
"""

from __future__ import annotations

import contextlib
import html
import importlib.util
from collections.abc import Sequence
from typing import Any

from chainmagic.display._common import safe_repr
from chainmagic.display._style import MONO
from chainmagic.display._timing_html import timing_html
from chainmagic.display._timing_text import timing_text
from chainmagic.display.html import batch_html, graph_html, result_html
from chainmagic.display.text import batch_text, graph_text, result_text
from chainmagic.run.result import BatchResult, ChainResult
from chainmagic.run.timing_result import TIMING_MIME, TimingResult
from chainmagic.secrets import redact

__all__ = [
    "WIDGET_MIME",
    "bundle",
    "display_graph",
    "html_of",
    "in_kernel",
    "plain_text",
    "publish",
    "shell",
    "show",
    "show_graph",
    "show_python",
    "widget_mime",
    "widgets_enabled",
]

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


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


def bundle(obj: Any, *, limit: int | None = None) -> dict[str, Any]:
    """The static ``{"text/plain", "text/html"}`` of ``obj``: what a finished output holds.

    A timing result also carries its raw runs (``TIMING_MIME``), so a saved notebook keeps the data.
    """
    data: dict[str, Any] = {"text/plain": plain_text(obj, limit), "text/html": html_of(obj, limit)}
    if isinstance(obj, TimingResult):
        with contextlib.suppress(Exception):
            data[TIMING_MIME] = obj.to_json_dict()
    return data


def widget_mime(widget: Any) -> dict[str, Any]:
    """``{WIDGET_MIME: reference}`` for a live widget, or ``{}`` (no widget, or a closed one)."""
    try:
        model_id = None if widget is None else widget.model_id
    except Exception:
        model_id = None
    if model_id is None:
        return {}
    return {WIDGET_MIME: {"version_major": 2, "version_minor": 0, "model_id": str(model_id)}}


# -- where we run -----------------------------------------------------------------------------------


def shell() -> Any:
    """The running IPython shell, or ``None`` (plain Python)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return None
    return get_ipython()


def in_kernel() -> bool:
    """True inside a Jupyter kernel (a shell with a ``kernel``), where a frontend renders widgets."""
    return getattr(shell(), "kernel", None) is not None


def widgets_enabled(mode: str | bool = "auto") -> bool:
    """Resolve a widgets mode (``"auto"``, ``"on"``, ``"off"`` or a bool) to yes or no."""
    if mode in (False, "off", "no", "false"):
        return False
    installed = importlib.util.find_spec("ipywidgets") is not None
    if mode in (True, "on", "yes", "true"):
        return installed
    return installed and in_kernel()


def publish(data: dict[str, Any], *, display_id: bool = False) -> Any:
    """Display a bundle through IPython (or print its text when no IPython shell runs)."""
    if shell() is None:
        print(data["text/plain"])
        return None
    from IPython.display import display

    return display(data, raw=True, display_id=display_id or None)


def show(obj: Any, *, mode: str | bool = "auto", limit: int | None = None) -> None:
    """Display a finished result, batch or timing once, as its static bundle.

    ``mode`` is accepted for symmetry with the live displays; a finished object has no live view.
    """
    del mode
    publish(bundle(obj, limit=limit))


# -- dry runs and code ------------------------------------------------------------------------------


def show_graph(
    graph: Any,
    variables: Sequence[str] | None = None,
    name: str | None = None,
    *,
    mode: str | bool = "auto",
) -> None:
    """Display a dry run: the chain's graph and the inputs it needs, as static text and HTML."""
    del mode
    publish(
        {
            "text/plain": graph_text(graph, variables, name),
            "text/html": graph_html(graph, variables, name),
        }
    )


display_graph = show_graph


def show_python(code: str) -> None:
    """Display Python source (``--to-python``) as plain text and as a preformatted block."""
    text = str(code)
    publish(
        {
            "text/plain": text,
            "text/html": f'<pre style="font-family:{MONO};margin:0">{html.escape(text)}</pre>',
        }
    )
