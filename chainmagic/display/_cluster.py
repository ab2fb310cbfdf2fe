"""The lines a batch run on a cluster adds to the batch view: where, pace, ETA, errors by kind.

Only batches that ran elsewhere (``batch.where`` set) get them, so a local batch looks as before.
Plain functions of the batch's data, shared by the text and HTML renderers.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from chainmagic.display._common import format_seconds

__all__ = ["cluster_line", "error_kinds"]


def error_kinds(batch: Any) -> Counter[str]:
    """Failed rows counted by the type of what failed (the cause, not chainmagic's wrapper)."""
    kinds: Counter[str] = Counter()
    for result in batch.results:
        if result.status == "error":
            error = getattr(result.error, "cause", None) or result.error
            kinds[type(error).__name__] += 1
    return kinds


def cluster_line(batch: Any) -> str | None:
    """``dask · 2 workers · 1,200 rows/s · ETA 3.1 s · errors: RateLimitError ×2`` (or None)."""
    where = getattr(batch, "where", None)
    if not where:
        return None
    parts = [where]
    results = batch.results
    size = batch.size or len(results)
    done = sum(r.status in ("ok", "error") for r in results)
    elapsed = batch.total if batch.total is not None else getattr(batch, "elapsed", None)
    if elapsed and done:
        rate = done / elapsed
        parts.append(f"{rate:,.0f} rows/s" if rate >= 10 else f"{rate:.3g} rows/s")
        running = batch.total is None and done < size
        if running:
            parts.append(f"ETA {format_seconds((size - done) / rate)}")
    kinds = error_kinds(batch)
    if kinds:
        parts.append("errors: " + ", ".join(f"{k} ×{n}" for k, n in kinds.most_common()))
    return " · ".join(parts)
