"""Closed-loop load: how a chain's latency and throughput change with runs in flight.

For each ``--concurrency`` level ``c`` and each chain, ``c`` workers each make ``runs`` runs one
after another (a closed loop: a worker starts its next run as its last one ends), so ``c`` runs
are in flight until the workers finish. What a level reports is measured, not assumed: the peak
and time-averaged number of runs actually in flight (averaged until the first worker has made all
its runs: the ramp-down after it is the fixed run count's, not the load's), requests and output
tokens per second over the level's wall time, latency percentiles, and the share meeting
``--slo`` (goodput). A server that serves one request at a time shows it as latency growing with
``c`` while requests/s stays flat.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

from chainmagic.run import stats
from chainmagic.run.recorder import branch_layout
from chainmagic.run.timing import RunRecord, measure_once

__all__ = ["LoadLevel", "run_load"]


@dataclass
class LoadLevel:
    """One chain at one concurrency level (seconds; rates per second of the level's wall time)."""

    label: str
    concurrency: int
    requests: int = 0
    failures: int = 0
    duration: float = 0.0
    peak_in_flight: int = 0
    mean_in_flight: float = 0.0
    requests_per_s: float = 0.0
    tokens_per_s: float | None = None
    p50: float | None = None
    p90: float | None = None
    p95: float | None = None
    p99: float | None = None
    ttft_p50: float | None = None
    goodput: float | None = None
    stopped_early: bool = False
    records: list[RunRecord] = field(default_factory=list)

    def summarize(self, slo: Mapping[str, float]) -> None:
        """Fill the derived fields from ``records`` and ``duration``."""
        from chainmagic.run.timing_result import slo_share

        ok = [r for r in self.records if r.ok]
        self.requests = len(self.records)
        self.failures = self.requests - len(ok)
        if self.duration > 0:
            self.requests_per_s = len(ok) / self.duration
            tokens = [r.output_tokens for r in ok if r.output_tokens]
            self.tokens_per_s = sum(tokens) / self.duration if tokens else None
        times = [r.total for r in ok]
        for q, need in stats.PERCENTILE_MIN_RUNS.items():
            value = stats.percentile(times, q) if times and len(times) >= need else None
            setattr(self, f"p{q}", value)
        ttfts = [r.ttft for r in ok if r.ttft is not None]
        self.ttft_p50 = stats.median(ttfts) if ttfts else None
        self.goodput = slo_share(self.records, dict(slo)) if slo else None


def run_load(
    chains: Mapping[str, Any],
    input: Any,
    levels: list[int],
    *,
    runs: int = 7,
    max_time: float | None = None,
    slo: Mapping[str, float] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[LoadLevel]:
    """Every chain at every level, level by level; ``max_time`` bounds the whole load session
    (no run starts after it; runs in flight finish). ``on_progress(done, total)`` per run."""
    from chainmagic.run.execute import run_on_loop

    layouts = {label: branch_layout(chain) for label, chain in chains.items()}
    out: list[LoadLevel] = []
    total = sum(levels) * runs * len(chains)
    done = [0]

    async def session() -> None:
        start = perf_counter()
        for level in levels:
            for label, chain in chains.items():
                result = LoadLevel(label, level)
                out.append(result)
                await _level(chain, input, label, layouts[label], level, runs, result, start)
                result.summarize(slo or {})
                if max_time is not None and perf_counter() - start > max_time:
                    return

    async def _level(  # noqa: PLR0917 - one private step of session(), called once
        chain: Any,
        value: Any,
        label: str,
        layout: tuple[tuple[str, ...], list[str]],
        level: int,
        per_worker: int,
        result: LoadLevel,
        session_start: float,
    ) -> None:
        import asyncio

        flight = {"now": 0, "peak": 0, "area": 0.0, "last": perf_counter()}
        steady: list[tuple[float, float]] = []  # (area, time) when the first worker ran out

        def ran_out() -> None:
            if not steady:
                change(0)
                steady.append((flight["area"], flight["last"]))

        def change(by: int) -> None:
            now = perf_counter()
            flight["area"] += flight["now"] * (now - flight["last"])
            flight["last"] = now
            flight["now"] += by
            flight["peak"] = max(flight["peak"], flight["now"])

        async def worker(index: int) -> None:
            try:
                await runs_of(index)
            finally:
                ran_out()

        async def runs_of(index: int) -> None:
            for i in range(per_worker):
                if max_time is not None and perf_counter() - session_start > max_time:
                    result.stopped_early = True
                    return
                change(+1)
                try:
                    record, _ = await measure_once(
                        chain,
                        value,
                        label,
                        layout,
                        round=index * per_worker + i,
                        session_start=session_start,
                    )
                finally:
                    change(-1)
                result.records.append(record)
                done[0] += 1
                if on_progress is not None:
                    on_progress(done[0], total)

        begin = perf_counter()
        flight["last"] = begin
        await asyncio.gather(*(worker(k) for k in range(level)))
        end = perf_counter()
        change(0)
        result.duration = end - begin
        result.peak_in_flight = int(flight["peak"])
        # The mean in flight is taken while every worker still had runs to make: after the first
        # one runs out, the count falls by design of a fixed number of runs (the others end at
        # different times), which says nothing of how many runs the harness kept in flight.
        area, until = steady[0] if steady else (flight["area"], end)
        window = until - begin
        result.mean_in_flight = area / window if window > 0 else 0.0

    with contextlib.redirect_stdout(io.StringIO()):
        run_on_loop(session())
    return out
