"""Timing several chains on one input: interleaved rounds, robust statistics, parallel speed-ups.

Runs go round-robin in a freshly shuffled (seeded) order each round, so drift (a warming cache, a
busy server) hits every chain alike. There is no autorange calibration that throws paid calls away:
``warmup`` runs are made and dropped, then ``runs`` are measured. The whole session runs as one
coroutine on the private loop, so the harness adds only two clock reads and a light listener per run.
"""

from __future__ import annotations

import contextlib
import io
import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

from chainmagic.core.events import Event
from chainmagic.errors import ChainRunError
from chainmagic.run.execute import run_on_loop
from chainmagic.run.recorder import branch_layout

__all__ = ["ChainTiming", "time_chains"]

STREAMED_SHARE = 0.2  # a branch that streams for less of its time than this is not judged by it


@dataclass
class ChainTiming:
    """Every measured run of one chain (seconds), like IPython's ``TimeitResult`` for one statement."""

    label: str
    all_runs: list[float] = field(default_factory=list)
    ttfts: list[float] = field(default_factory=list)
    branches: dict[str, list[float]] = field(default_factory=dict)
    # per run of a map: the share of its branches' streaming time during which another branch
    # streamed too (0.0: one after another, as a server that serves one request at a time does)
    overlaps: list[float] = field(default_factory=list)
    failures: int = 0
    last_error: BaseException | None = None

    @property
    def runs(self) -> int:
        return len(self.all_runs)

    @property
    def best(self) -> float:
        return min(self.all_runs) if self.all_runs else float("nan")

    @property
    def worst(self) -> float:
        return max(self.all_runs) if self.all_runs else float("nan")

    @property
    def average(self) -> float:
        from chainmagic.run.stats import mean

        return mean(self.all_runs) if self.all_runs else float("nan")

    @property
    def stdev(self) -> float:
        from chainmagic.run.stats import stdev

        return stdev(self.all_runs)

    @property
    def median(self) -> float:
        from chainmagic.run.stats import median

        return median(self.all_runs) if self.all_runs else float("nan")

    @property
    def is_map(self) -> bool:
        return bool(self.branches)


class _Probe:
    """A listener that notes only what timing needs: the first output chunk and branch spans."""

    __slots__ = ("depth", "first", "keys", "open", "prefix", "root", "spans", "streaming")

    def __init__(self, keys: list[str], prefix: tuple[str, ...]) -> None:
        self.keys = set(keys)
        self.prefix = prefix
        self.root: tuple[str, ...] | None = None
        self.depth = 0
        self.first: float | None = None
        self.open: dict[str, float] = {}
        self.spans: dict[str, float] = {}
        self.streaming: dict[str, list[float]] = {}  # first chunk, last event, chunks

    def __call__(self, event: Event) -> None:
        path = event.path
        if self.root is None:
            self.root = path
            self.depth = len(path) + len(self.prefix) + 1
        if path == self.root:
            if event.kind == "chunk" and self.first is None:
                self.first = event.t
            return
        if len(path) == self.depth and path[-1] in self.keys:
            key = path[-1]
            if event.kind == "start":
                self.open[key] = event.t
            elif event.kind == "chunk":
                seen = self.streaming.setdefault(key, [event.t, event.t, 0])
                seen[1], seen[2] = event.t, seen[2] + 1
            elif event.kind == "end" and key in self.open:
                self.spans[key] = event.t - self.open[key]
                if key in self.streaming:
                    self.streaming[key][1] = event.t

    def overlap(self) -> float | None:
        """How much the branches streamed at the same time, from 0 (one after another) to 1.

        The time they shared over the most they could share (all but the longest one's time).

        Streaming time (first chunk to end) is when a server is generating; a server that serves
        one request at a time streams one branch after another, and the share is ~0. Only branches
        that really streamed count (several chunks, over a fifth of the branch's time at least):
        a lambda's single chunk, or a model that sends its whole answer at once, says nothing.
        None when fewer than two branches count.
        """
        spans = sorted(
            (first, end)
            for key, (first, end, chunks) in self.streaming.items()
            if chunks >= 2 and end - first >= STREAMED_SHARE * self.spans.get(key, math.inf)
        )
        if len(spans) < 2:
            return None
        total = sum(end - first for first, end in spans)
        union, reach = 0.0, spans[0][0]
        for first, end in spans:
            if end > reach:
                union += end - max(first, reach)
                reach = end
        most = total - max(end - first for first, end in spans)  # all of it overlapping
        return (total - union) / most


async def _once(
    chain: Any, input: Any, label: str, keys: list[str], prefix: tuple[str, ...]
) -> tuple[float, float, dict[str, float], float | None]:
    probe = _Probe(keys, prefix)
    config = {"listener": probe, "run_name": label}
    start = perf_counter()
    async for _ in chain.astream(input, config):
        pass
    end = perf_counter()
    first = probe.first if probe.first is not None else end
    return end - start, first - start, probe.spans, probe.overlap()


def time_chains(
    chains: Mapping[str, Any],
    input: Any,
    *,
    runs: int = 7,
    warmup: int = 1,
    max_time: float | None = None,
    seed: int = 0,
    on_progress: Callable[[dict[str, ChainTiming], int, int], None] | None = None,
) -> tuple[dict[str, ChainTiming], list[list[str]], bool]:
    """Measure each chain ``runs`` times on ``input``; returns (timings, round orders, stopped early).

    Chain output printed during timing is captured, not shown. ``on_progress(timings, done, total)``
    is called after every measured run (from the loop thread).
    """
    labels = list(chains)
    layouts = {label: branch_layout(chains[label]) for label in labels}
    timings = {
        label: ChainTiming(label, branches={k: [] for k in layouts[label][1]}) for label in labels
    }
    orders: list[list[str]] = []
    rng = random.Random(seed)
    total = runs * len(labels)
    state = {"done": 0, "early": False}

    async def session() -> None:
        start = perf_counter()
        for _ in range(warmup):
            for label in labels:
                try:
                    await _once(chains[label], input, label, *_keys(layouts[label]))
                except ChainRunError:
                    pass
        for _ in range(runs):
            if max_time is not None and perf_counter() - start > max_time and orders:
                state["early"] = True
                return
            order = labels[:]
            rng.shuffle(order)
            orders.append(order)
            for label in order:
                timing = timings[label]
                try:
                    seconds, ttft, spans, overlap = await _once(
                        chains[label], input, label, *_keys(layouts[label])
                    )
                except ChainRunError as err:
                    timing.failures += 1
                    timing.last_error = err
                else:
                    timing.all_runs.append(seconds)
                    timing.ttfts.append(ttft)
                    for key, span in spans.items():
                        timing.branches[key].append(span)
                    if overlap is not None:
                        timing.overlaps.append(overlap)
                state["done"] += 1
                if on_progress is not None:
                    on_progress(timings, state["done"], total)

    with contextlib.redirect_stdout(io.StringIO()):
        run_on_loop(session())
    return timings, orders, bool(state["early"])


def _keys(layout: tuple[tuple[str, ...], list[str]]) -> tuple[list[str], tuple[str, ...]]:
    prefix, keys = layout
    return keys, prefix
