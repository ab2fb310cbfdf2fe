"""TimingResult: what ``%chaintime`` measured, with the statistics and comparisons derived from it.

Plain data with ``to_dict``/``to_markdown``/``to_dataframe``; the table, bars and summary line are
drawn by :mod:`chainmagic.display`. Comparisons use one statistic (median by default: robust to the
occasional slow LLM call); ratios carry a bootstrap interval and a Mann-Whitney significance test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from chainmagic.run import stats
from chainmagic.run.timing import ChainTiming

__all__ = ["TimingResult", "TimingRow"]

ALPHA = 0.05
# A map whose branches streamed at the same time for less than this share of their streaming time
# ran them one after another in effect: a server that serves one request at a time. (Branch
# latencies cannot tell: a queued branch's latency includes its wait, so the map still looks faster
# than its branches summed.) Without streamed branches, a speed-up below the second bound says it.
OVERLAP_MIN_SHARE = 0.2
OVERLAP_MIN_SPEEDUP = 1.2


@dataclass
class TimingRow:
    """One chain's line in the table (seconds), relative to the reference chain."""

    label: str
    runs: int
    failures: int
    median: float
    mean: float
    stdev: float
    min: float
    max: float
    p95: float | None
    ttft: float | None
    ratio: float | None  # stat / reference's stat (1.0 for the reference)
    ratio_low: float | None
    ratio_high: float | None
    p_value: float | None
    significant: bool | None
    reference: bool = False
    branches: dict[str, float] = field(default_factory=dict)  # branch key → median seconds
    speedup: float | None = None  # sum of branch medians / own median (maps only)
    overlapped: bool | None = None  # False: the map cost about the sum of its branches (maps only)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class TimingResult:
    """Timings of several chains on one input (``%chaintime``), like IPython's ``TimeitResult``."""

    chains: dict[str, ChainTiming]
    input: Any = None
    stat: str = "median"
    baseline: str | None = None
    orders: list[list[str]] = field(default_factory=list)
    stopped_early: bool = False
    runs_requested: int = 0
    warmup: int = 0
    precision: int = 3

    def __getitem__(self, label: str) -> ChainTiming:
        return self.chains[label]

    @property
    def best(self) -> dict[str, float]:
        return {k: t.best for k, t in self.chains.items()}

    @property
    def average(self) -> dict[str, float]:
        return {k: t.average for k, t in self.chains.items()}

    @property
    def stdev(self) -> dict[str, float]:
        return {k: t.stdev for k, t in self.chains.items()}

    @property
    def all_runs(self) -> dict[str, list[float]]:
        return {k: list(t.all_runs) for k, t in self.chains.items()}

    def value(self, timing: ChainTiming) -> float:
        """The statistic that ranks chains, for one chain (nan when it has no successful run)."""
        if not timing.all_runs:
            return math.nan
        return {"median": timing.median, "mean": timing.average, "min": timing.best}[self.stat]

    @property
    def reference(self) -> str | None:
        """The chain others are compared to: the baseline if named, else the fastest."""
        if self.baseline is not None:
            return self.baseline
        measured = [t for t in self.chains.values() if t.all_runs]
        if not measured:
            return None
        return min(measured, key=self.value).label

    @property
    def rows(self) -> list[TimingRow]:
        ref_label = self.reference
        ref = self.chains.get(ref_label) if ref_label else None
        out = []
        for label, timing in self.chains.items():
            out.append(self._row(label, timing, ref))
        return out

    def _row(self, label: str, t: ChainTiming, ref: ChainTiming | None) -> TimingRow:
        runs = t.all_runs
        nan = math.nan
        is_ref = ref is not None and ref.label == label
        ratio = low = high = p = None
        significant = None
        if runs and ref is not None and ref.all_runs:
            ratio = self.value(t) / self.value(ref) if self.value(ref) else None
            if is_ref:
                ratio, low, high = 1.0, 1.0, 1.0
            else:
                low, high = stats.ratio_interval(runs, ref.all_runs, stat=self.stat)
                p = stats.mann_whitney_u(runs, ref.all_runs)
                significant = p < ALPHA
        branches = {k: stats.median(v) for k, v in t.branches.items() if v}
        speedup = None
        if branches and runs and len(branches) > 1:
            speedup = sum(branches.values()) / stats.median(runs)
        return TimingRow(
            label=label,
            runs=len(runs),
            failures=t.failures,
            median=t.median if runs else nan,
            mean=t.average if runs else nan,
            stdev=t.stdev,
            min=t.best,
            max=t.worst,
            p95=stats.percentile(runs, 95) if len(runs) >= stats.P95_MIN_RUNS else None,
            ttft=stats.median(t.ttfts) if t.ttfts else None,
            ratio=ratio,
            ratio_low=low,
            ratio_high=high,
            p_value=p,
            significant=significant,
            reference=is_ref,
            branches=branches,
            speedup=speedup,
            overlapped=_overlapped(t, speedup),
        )

    def summary(self) -> str:
        """hyperfine's closing lines: which chain was fastest, and by how much the others lag."""
        from chainmagic.display.text import format_seconds

        ref = self.reference
        if ref is None:
            return "no chain finished a run"
        rows = [r for r in self.rows if not r.reference and r.ratio is not None]
        lead = "baseline" if self.baseline else "fastest"
        lines = [
            f"{ref} is the {lead} ({self.stat} {format_seconds(self.value(self.chains[ref]))})"
        ]
        for row in sorted(rows, key=lambda r: r.ratio or 0):
            slower = (row.ratio or 0) >= 1
            word = "slower" if slower else "faster"
            factor = row.ratio if slower else 1 / (row.ratio or 1)
            spread = ""
            low, high = row.ratio_low, row.ratio_high
            if low is not None and high is not None and low > 0:
                # A faster chain reads as 1/ratio, so its interval flips too.
                low, high = (low, high) if slower else (1 / high, 1 / low)
                spread = f" [{low:.2f}, {high:.2f}]"
            verdict = "" if row.significant else " (not significant)"
            lines.append(f"  {factor:.2f}×{spread} {word}: {row.label}{verdict}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stat": self.stat,
            "reference": self.reference,
            "stopped_early": self.stopped_early,
            "rows": [r.to_dict() for r in self.rows],
            "all_runs": self.all_runs,
        }

    def to_markdown(self) -> str:
        from chainmagic.display.text import format_seconds

        head = "| chain | runs | median | mean ± std | min | max | ttft | ratio |"
        lines = [head, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for r in self.rows:
            ratio = "—" if r.ratio is None else f"{r.ratio:.2f}×"
            lines.append(
                f"| {r.label} | {r.runs} | {format_seconds(r.median)} | "
                f"{format_seconds(r.mean)} ± {format_seconds(r.stdev)} | {format_seconds(r.min)} | "
                f"{format_seconds(r.max)} | {format_seconds(r.ttft)} | {ratio} |"
            )
        return "\n".join(lines)

    def to_dataframe(self) -> Any:
        try:
            import pandas as pd
        except ImportError as exc:
            raise ImportError("to_dataframe() needs pandas: pip install pandas") from exc
        return pd.DataFrame([r.to_dict() for r in self.rows]).set_index("label")

    def __repr__(self) -> str:
        from chainmagic.display.timing import timing_text

        return timing_text(self)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self))

    def _repr_html_(self) -> str:
        from chainmagic.display.timing import timing_html

        return timing_html(self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        from chainmagic.display.reprs import repr_bundle

        return repr_bundle(self)


def _overlapped(t: ChainTiming, speedup: float | None) -> bool | None:
    """Did the map's branches run at the same time? None when the chain is not a map."""
    if speedup is None:
        return None
    if t.overlaps:
        return stats.median(t.overlaps) >= OVERLAP_MIN_SHARE
    return speedup >= OVERLAP_MIN_SPEEDUP
