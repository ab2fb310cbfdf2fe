"""Decisions about a result's *shape*, shared by the text, HTML and widget views.

Whether the branches are the answer (a whole parallel map) or the inputs gathered for later steps,
which rows the timeline has and in what order, how many tokens were used: each is decided here
once, so that the plain text, the static HTML and the live widget never disagree.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chainmagic.run.result import ChainResult, StepRecord

__all__ = ["MAX_TIMELINE_ROWS", "TimelineRow", "timeline", "token_count", "whole_map"]

MAX_TIMELINE_ROWS = 60


def whole_map(result: ChainResult) -> bool:
    """True when the branches *are* the output (``{joke, poem}``), so their cards are the answer.

    For ``{context, question} | prompt | model`` the branches only gather inputs: the output is the
    model's answer, drawn below the cards. While such a chain runs (no output yet) the streamed
    root text tells the two apart.
    """
    branches = result.branches
    if not branches:
        return False
    output = result.output
    if output is None:
        return not result.text
    return isinstance(output, dict) and all(key in output for key in branches)


def token_count(result: ChainResult) -> int:
    """Tokens used by the run's model calls (total, else input + output)."""
    try:
        usage = result.usage
    except Exception:
        return 0
    if "total_tokens" in usage:
        return int(usage["total_tokens"])
    return int(usage.get("input_tokens", 0)) + int(usage.get("output_tokens", 0))


@dataclass
class TimelineRow:
    """One step of the waterfall, with times in seconds since the run started."""

    label: str
    where: str
    depth: int
    start: float
    end: float | None
    first_chunk: float | None
    status: str
    branch: int | None  # index of the branch it belongs to (its colour), or None


def timeline(result: ChainResult) -> tuple[list[TimelineRow], float, int]:
    """The waterfall's rows in tree order, the time scale (seconds), and how many rows were cut.

    Steps arrive in start order, so parallel branches interleave; sorting each step by the start
    times of its ancestors keeps a branch's steps together while the branches still overlap in
    time, which is the picture the timeline exists to show.
    """
    steps = [s for s in list(result.steps) if isinstance(s, StepRecord)]
    scale = _scale(result, steps)
    if not steps:
        return [], scale, 0
    root = _root_depth([s.path for s in steps])
    starts: dict[tuple[str, ...], float] = {}
    for step in steps:
        starts.setdefault(step.path, step.start)
    keys = list(result.branches)
    rank = {
        key: i for i, key in enumerate(keys)
    }  # a dict, not keys.index: a map can be 10,000 wide
    level = {s.path: _branch_level(s.path, root, rank) for s in steps}
    branch_starts = [
        s.start for s in steps if level[s.path] is not None and level[s.path] == len(s.path) - 1
    ]
    map_start = min(branch_starts, default=0.0)

    def order(step: StepRecord) -> tuple[Any, ...]:
        # Parallel branches start in any order; ranking them by their declared key order keeps
        # the picture (and a saved notebook's HTML) the same from run to run.
        path, at = step.path, level[step.path]
        return tuple(
            (map_start, rank[path[i - 1]], path[:i])
            if at is not None and i - 1 == at
            else (starts.get(path[:i], step.start), -1, path[:i])
            for i in range(root + 1, len(path) + 1)
        )

    rows = []
    # Only the rows shown are laid out: a 10,000-branch map picks its first 60, it does not build
    # and sort 10,000 rows to draw 60.
    for step in heapq.nsmallest(MAX_TIMELINE_ROWS, steps, key=order):
        rel = step.path[root:]
        at = level[step.path]
        branch = None if at is None else rank[step.path[at]]
        rows.append(
            TimelineRow(
                label=rel[-1] if rel else step.label,
                where=step.where,
                depth=max(len(rel) - 1, 0),
                start=step.start,
                end=step.end,
                first_chunk=step.first_chunk,
                status=step.status,
                branch=branch,
            )
        )
    return rows, scale, max(len(steps) - MAX_TIMELINE_ROWS, 0)


def _branch_level(path: tuple[str, ...], root: int, keys: Mapping[str, int]) -> int | None:
    """Index in ``path`` of the branch key it runs under, if any."""
    return next((i for i in range(root, len(path)) if path[i] in keys), None)


def _scale(result: ChainResult, steps: list[StepRecord]) -> float:
    """The run's length: its total when finished, else the latest moment any event was seen."""
    if result.total:
        return float(result.total)
    seen = [t for s in steps for t in (s.start, s.end, s.first_chunk) if t is not None]
    return max(seen, default=0.0) or 1e-9


def _root_depth(paths: list[tuple[str, ...]]) -> int:
    """How many leading path parts every step shares (the chain's own name), kept short of a leaf."""
    shortest = min(len(p) for p in paths)
    depth = 0
    first = paths[0]
    while depth < shortest - 1 and all(p[depth] == first[depth] for p in paths):
        depth += 1
    return depth
