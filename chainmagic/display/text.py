"""Plain text for results, batches, values and dry-run graphs: the ``text/plain`` of every bundle.

Plain text is what a terminal shows, what nbval compares and what a reader of a saved notebook sees
when widgets do not render, so it is compact and deterministic except for measured times (which
are always written by :func:`format_seconds`, so one regex can mask them)::

    map_chain
    joke: tell me a joke about bear
    poem: write a 2-line poem about bear
    total 612 ms (joke 598 ms, poem 604 ms) · 28 tokens

Every function here returns a string and never raises.
"""

from __future__ import annotations

from collections.abc import Sequence
from time import perf_counter
from typing import Any

from chainmagic.display._cluster import cluster_line
from chainmagic.display._common import (
    MAX_BRANCH_TIMES,
    MAX_BRANCHES,
    Budget,
    error_path,
    error_text,
    format_count,
    format_seconds,
    more_branches,
    one_line,
    plural,
)
from chainmagic.display._layout import token_count, whole_map
from chainmagic.display._tree_text import entry_lines, text_lines, value_lines, value_text
from chainmagic.run.result import BranchResult, ChainResult

__all__ = [
    "batch_summary",
    "batch_text",
    "footer_text",
    "format_seconds",
    "graph_text",
    "result_text",
    "value_text",
]

BATCH_HEAD = 10  # rows of a long batch shown first ...
BATCH_TAIL = 5  # ... and last
STATUSES = ("queued", "running", "ok", "error", "cancelled")


# -- results ----------------------------------------------------------------------------------------


def result_text(result: ChainResult, limit: int | None = None) -> str:
    """A run as text: the name, the output (one ``key: value`` block per branch of a map), a footer.

    The footer says how it went: ``total 612 ms (joke 598 ms, poem 604 ms) · 28 tokens``, or
    ``failed at map_chain › poem › model · total …`` when a step failed.
    """
    try:
        lines = [result.name] if result.name else []
        lines += _body(result, limit)
        lines.append(footer_text(result))
        return "\n".join(lines)
    except Exception as exc:
        return f"<ChainResult: not displayable ({type(exc).__name__}: {exc})>"


def _body(result: ChainResult, limit: int | None) -> list[str]:
    status = result.status
    if whole_map(result):
        if status == "ok" and isinstance(result.output, dict):
            return value_lines(result.output, Budget(limit), 0, set())
        lines = []
        branches = list(result.branches.items())
        for key, branch in branches[:MAX_BRANCHES]:
            lines += _branch_lines(key, branch, limit)
        if len(branches) > MAX_BRANCHES:
            lines.append(more_branches(len(branches) - MAX_BRANCHES))
        if status == "error" and not any(b.status == "error" for b in result.branches.values()):
            lines.append(f"failed — {error_text(result.error)}")
        return lines
    if status == "ok":
        return value_lines(result.output, Budget(limit), 0, set())
    if status == "error":
        return [f"failed — {error_text(result.error)}"]
    if result.text:
        return text_lines(result.text, Budget(limit))
    return []


def _branch_lines(key: str, branch: BranchResult, limit: int | None) -> list[str]:
    """One branch of a map that did not finish as a whole: its result, failure or progress."""
    budget = Budget(limit)
    if branch.status == "ok":
        return entry_lines(f"{key}:", branch.output, budget, 0, set())
    if branch.status == "error":
        return [f"{key}: failed — {error_text(branch.error)}"]
    if branch.status == "running":
        if not branch.text and branch.note:
            return [f"{key}: {branch.note}…"]
        return entry_lines(f"{key}:", branch.text + "…", budget, 0, set())
    suffix = f" ({one_line(branch.text, 60)})" if branch.text else ""
    return [f"{key}: {branch.status}{suffix}"]


def footer_text(result: ChainResult) -> str:
    """The last line: status, total time, per-branch times, time to first token, tokens."""
    parts = []
    status = result.status
    if status == "running":
        parts.append(f"{result.note}…" if result.note else "running")
    else:
        head = f"total {format_seconds(result.total)}"
        timed = [
            (key, b.latency) for key, b in list(result.branches.items()) if b.latency is not None
        ]
        times = [f"{key} {format_seconds(t)}" for key, t in timed[:MAX_BRANCH_TIMES]]
        if len(timed) > MAX_BRANCH_TIMES:
            times.append(f"{format_count(len(timed) - MAX_BRANCH_TIMES)} more")
        if times:
            head += f" ({', '.join(times)})"
        if status == "error":
            where = error_path(result.error)
            parts.append(f"failed at {where}" if where else "failed")
        elif status != "ok":
            parts.append(status)
        parts.append(head)
        ttft = result.ttft
        if not whole_map(result) and ttft is not None and ttft != result.total:
            parts.append(f"ttft {format_seconds(ttft)}")
    tokens = token_count(result)
    if tokens:
        parts.append(plural(tokens, "token") + (" (estimated)" if _estimated(result) else ""))
    cut = _cut_where(result)
    if cut:
        parts.append(f"cut by max_tokens: {', '.join(cut)}")
    return " · ".join(parts)


def _estimated(result: Any) -> bool:
    """The server reported no usage for some model call: its tokens were counted here."""
    return bool(getattr(result, "usage_estimated", False))


def _cut_where(result: Any) -> list[str]:
    """The branches (or, outside a map, the steps) whose answer stopped at ``max_tokens``."""
    branches = getattr(result, "branches", {}) or {}
    cut = [key for key, b in branches.items() if getattr(b, "cut_by_length", False)]
    return cut or list(getattr(result, "cut_by_length", []) or [])


# -- batches ----------------------------------------------------------------------------------------


def batch_text(batch: Any, limit: int | None = None) -> str:
    """A batch as a table: one row per input (index, input, output or failure, latency), then a total.

    Latency is the last column, so the widths of the other columns do not depend on times.
    """
    try:
        return _batch_text(batch, limit)
    except Exception as exc:
        return f"<BatchResult: not displayable ({type(exc).__name__}: {exc})>"


def _batch_text(batch: Any, limit: int | None) -> str:
    results: list[ChainResult] = list(batch.results)
    width = min(limit, 60) if limit and limit > 0 else 60
    rows: list[tuple[str, str, str, str] | None] = []
    for i in shown_rows(len(results)):
        if i is None:
            rows.append(None)
            continue
        r = results[i]
        if r.status == "ok":
            out = one_line(value_text(r.output, width * 2), width)
        elif r.status == "error":
            out = one_line(f"failed — {error_text(r.error)}", width)
        else:
            out = r.status
        when = format_seconds(r.total) if r.total is not None else ""
        rows.append((str(i), one_line(value_text(r.input, 60), 30), out, when))
    lines = [batch_summary(batch)]
    cluster = cluster_line(batch)
    if cluster:
        lines.append(cluster)
    if getattr(batch, "dashboard", None):
        lines.append(f"dashboard: {batch.dashboard}")
    full = [row for row in rows if row is not None]
    if full:
        w = [max(len(row[c]) for row in full) for c in range(3)]
        for row in rows:
            if row is None:
                lines.append(hidden_rows_note(len(results)))
                continue
            cells = [row[0].rjust(w[0]), row[1].ljust(w[1]), row[2].ljust(w[2]), row[3]]
            lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def shown_rows(n: int) -> list[int | None]:
    """The rows a batch table shows: all of a short batch; the first and last of a long one, with
    ``None`` where the others are left out (the whole batch is in ``to_dataframe()``)."""
    if n <= BATCH_HEAD + BATCH_TAIL + 2:
        return list(range(n))
    return [*range(BATCH_HEAD), None, *range(n - BATCH_TAIL, n)]


def hidden_rows_note(n: int) -> str:
    hidden = n - BATCH_HEAD - BATCH_TAIL
    return f"… ({plural(hidden, 'more row')}: batch.to_dataframe() has them all)"


def format_rate(per_second: float) -> str:
    """A pace with three significant digits and no exponent: ``2.37``, ``74.4``, ``2,370``."""
    if per_second >= 100:
        return f"{per_second:,.0f}"
    return f"{per_second:.3g}"


def batch_summary(batch: Any) -> str:
    """``name · 3 inputs · 2 ok · 1 failed · total 1.2 s · 2.5 inputs/s``; while it runs,
    ``1/3 done · 1 running · 1 queued · ETA 0.8 s`` (the ETA from the pace so far)."""
    results = list(batch.results)
    size = batch.size or len(results)
    count = {s: sum(r.status == s for r in results) for s in STATUSES}
    done = size - count["running"] - count["queued"]
    parts = [batch.name] if batch.name else []
    parts.append(plural(size, "input"))
    if done < size:
        parts.append(f"{done}/{size} done")
    parts.append(f"{count['ok']} ok")
    if count["error"]:
        parts.append(f"{count['error']} failed")
    if count["cancelled"]:
        parts.append(f"{count['cancelled']} cancelled")
    if batch.total is not None:
        parts.append(f"total {format_seconds(batch.total)}")
        if batch.total > 0 and done:
            parts.append(f"{format_rate(done / batch.total)} inputs/s")
        return " · ".join(parts)
    if count["running"]:
        parts.append(f"{count['running']} running")
    if count["queued"]:
        parts.append(f"{count['queued']} queued")
    started = getattr(batch, "started", None)
    if started is not None and 0 < done < size:
        elapsed = perf_counter() - started
        parts.append(f"ETA {format_seconds(elapsed / done * (size - done))}")
    return " · ".join(parts)


# -- dry runs ---------------------------------------------------------------------------------------


def graph_text(graph: Any, variables: Sequence[str] | None = None, name: str | None = None) -> str:
    """A dry run: the chain's ASCII graph and the inputs it needs (``inputs: topic``)."""
    try:
        drawing = graph.draw_ascii()
    except Exception as exc:
        drawing = f"<graph not drawable: {error_text(exc)}>"
    lines = [name] if name else []
    lines.append(drawing)
    if variables is not None:
        names = ", ".join(str(v) for v in variables)
        lines.append(f"inputs: {names}" if names else "inputs: none (any value)")
    return "\n".join(lines)
