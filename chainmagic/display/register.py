"""Rendering registered for the result types, in one place: IPython's formatters learn them here.

Results (:mod:`chainmagic.run.result`, :mod:`chainmagic.run.timing_result`) and graphs are plain
data that import nothing of :mod:`chainmagic.display`; ``%load_ext chainmagic`` calls
:func:`register`, and from then on IPython shows a returned result (``Out[n]``, ``display(x)``,
``-o``) as its static bundle: the deterministic ``text/plain`` and the ``text/html``. No widget:
what is returned is finished, and a finished output must render with no kernel.
"""

from __future__ import annotations

from typing import Any

from chainmagic.display._common import safe_repr
from chainmagic.display.bundle import html_of, plain_text

__all__ = ["register", "rendered_types", "unregister"]


def rendered_types() -> tuple[type, ...]:
    """The types chainmagic draws: results, batches, timings and graphs."""
    from chainmagic.core.graph import Graph
    from chainmagic.run.result import BatchResult, ChainResult
    from chainmagic.run.timing_result import TimingResult

    return (ChainResult, BatchResult, TimingResult, Graph)


def _pretty(obj: Any, p: Any, cycle: bool) -> None:
    """IPython's ``text/plain`` printer: our text; never raises (IPython would blank the output)."""
    try:
        p.text(plain_text(obj))
    except Exception:
        p.text(safe_repr(obj))


def _html(obj: Any) -> str | None:
    try:
        return html_of(obj)
    except Exception:
        return None


def register(shell: Any) -> None:
    """Teach ``shell``'s display formatters to draw chainmagic's types."""
    formatters = shell.display_formatter.formatters
    for cls in rendered_types():
        formatters["text/plain"].for_type(cls, _pretty)
        formatters["text/html"].for_type(cls, _html)


def unregister(shell: Any) -> None:
    """Undo :func:`register` (``%unload_ext chainmagic``)."""
    formatters = shell.display_formatter.formatters
    for cls in rendered_types():
        for mime in ("text/plain", "text/html"):
            try:
                formatters[mime].pop(cls)
            except KeyError:
                pass
