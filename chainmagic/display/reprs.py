"""What results show as when they are returned rather than run live (``-o``, ``Out[n]``).

The same bundle as a finished live display: text, HTML, and in a kernel a widget view built from
the finished object, so a returned result looks like the one that streamed. Never raises.
"""

from __future__ import annotations

from typing import Any

from chainmagic.display._common import safe_repr
from chainmagic.display.bundle import _result_view, bundle, widgets_enabled
from chainmagic.display.html import graph_html
from chainmagic.run.timing_result import TimingResult

__all__ = ["repr_bundle"]


def repr_bundle(obj: Any, limit: int | None = None) -> dict[str, Any]:
    """``_repr_mimebundle_`` for results, batches, timings and graphs: never raises.

    In a kernel the bundle carries a widget view of the finished object (so ``-o`` results shown as
    ``Out[n]`` look like the live ones); elsewhere just the text and HTML.
    """
    try:
        view = _finished_view(obj, limit) if widgets_enabled("auto") else None
        return bundle(obj, view, limit=limit)
    except Exception:
        return {"text/plain": safe_repr(obj)}


def _finished_view(obj: Any, limit: int | None) -> Any:
    from chainmagic.core.graph import Graph

    if isinstance(obj, Graph):
        import ipywidgets

        return ipywidgets.HTML(graph_html(obj))
    if isinstance(obj, TimingResult):
        from chainmagic.display._timing_view import TimingView

        timing = TimingView()
        timing.finish(obj)
        return timing
    from chainmagic.display.widgets import view_for

    view = view_for(obj, limit)
    if isinstance(view, _result_view()):
        view.on_change(obj, "done")
    elif view is not None:
        view.finish()
    return view
