"""What results show as when they are returned rather than run live (``-o``, ``Out[n]``).

The same static bundle as a finished live display (text and HTML, no widget view), so a returned
result looks like the one that streamed and survives a reopened notebook. Never raises.
"""

from __future__ import annotations

from typing import Any

from chainmagic.display._common import safe_repr
from chainmagic.display.bundle import bundle

__all__ = ["repr_bundle"]


def repr_bundle(obj: Any, limit: int | None = None) -> dict[str, Any]:
    """``_repr_mimebundle_`` for results, batches, timings and graphs: never raises."""
    try:
        return bundle(obj, limit=limit)
    except Exception:
        return {"text/plain": safe_repr(obj)}
