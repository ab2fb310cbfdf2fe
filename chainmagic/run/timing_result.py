"""TimingResult: what ``%chaintime`` measured, with the statistics and comparisons derived from it.

Plain data: the raw runs (:class:`~chainmagic.run.timing.RunRecord`) are the truth and every row,
warning and ratio is derived from them, so a result saved as JSON (``to_json``, also the
``application/vnd.chainmagic.timing+json`` entry of its display bundle) re-draws without re-running.
Exports: ``to_csv`` (one line per run), ``to_markdown``, ``to_dataframe`` and ``to_hyperfine``;
the file formats themselves live in :mod:`chainmagic.run.timing_files`.
The table, bars and summary line are drawn by :mod:`chainmagic.display`.

Comparisons use one statistic (median by default: robust to the occasional slow LLM call). Chains
timed in the same interleaved rounds are compared round by round (the paired interval of
:func:`~chainmagic.run.stats.paired_ratio`); otherwise a bootstrap interval and a Mann-Whitney test.
A difference is "significant" when its interval leaves out 1.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from chainmagic.run import stats, timing_files
from chainmagic.run.result import seconds
from chainmagic.run.timing import ChainTiming
from chainmagic.run.timing_columns import HEADINGS, cell, check_columns, shown_columns
from chainmagic.run.units import format_seconds

__all__ = ["TIMING_MIME", "TimingResult", "TimingRow"]

ALPHA = 0.05
TIMING_MIME = "application/vnd.chainmagic.timing+json"
COLD_START = 2.0  # a first run this many times the median is a cold start
CACHE_SPEEDUP = 10.0  # identical outputs this much faster than the first run: a cache answers
HIGH_SPREAD = 0.10  # std over mean above this is high spread (as hyperfine and pyperf warn)
NOISE_FLOOR = 1e-3  # below a millisecond, scheduling noise is all there is: no warnings of shape
SLO_METRICS = ("ttft", "total", "itl", "tpot")
# A map whose branches streamed at the same time for less than this share of their streaming time
# ran them one after another in effect: a server that serves one request at a time. (Branch
# latencies cannot tell: a queued branch's latency includes its wait, so the map still looks faster
# than its branches summed.) Without streamed branches, the branch medians judge: the map overlapped
# when it saved at least that share of what it could save (sum of the branches minus the longest).
# When the others add less than the second bound to the longest branch, there is nothing to judge.
OVERLAP_MIN_SHARE = 0.2
OVERLAP_MIN_GAIN = 0.1


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
    ttft: float | None  # median time to first token
    ratio: float | None  # stat / reference's stat (1.0 for the reference)
    ratio_low: float | None
    ratio_high: float | None
    p_value: float | None
    significant: bool | None
    reference: bool = False
    branches: dict[str, float] = field(default_factory=dict)  # branch key → median seconds
    speedup: float | None = None  # sum of branch medians / own median (maps only)
    p50: float | None = None
    p90: float | None = None  # percentiles only when the runs support them (PERCENTILE_MIN_RUNS)
    p99: float | None = None
    itl: float | None = None  # median inter-token latency
    tpot: float | None = None  # median time per output token
    tokens_per_s: float | None = None  # median output tokens per second
    error_rate: float = 0.0  # failed runs / all measured runs
    paired: bool = False  # the ratio came from runs paired by round
    goodput: float | None = None  # share of runs meeting every --slo bound
    critical: dict[str, int] = field(default_factory=dict)  # branch → runs it decided
    model: str | None = None
    distinct_outputs: int | None = None  # how many different outputs its runs gave (stability)
    overlapped: bool | None = None  # False: the map cost about the sum of its branches (maps only)

    def to_dict(self) -> dict[str, Any]:
        """The row as plain data: times rounded to the microsecond, ratios to 4 decimals."""
        out = dict(self.__dict__)
        for name in ("median", "mean", "stdev", "min", "max", "p95", "ttft"):
            out[name] = _time(out[name])
        for name in ("ratio", "ratio_low", "ratio_high", "speedup"):
            out[name] = _ratio(out[name])
        out["p_value"] = None if self.p_value is None else float(f"{self.p_value:.4g}")
        out["branches"] = {k: _time(v) for k, v in self.branches.items()}
        return out


def _time(value: float | None) -> float | None:
    """A time for to_dict(): the microsecond is the finest a perf_counter run means (nan stays)."""
    return seconds(value) if value is None or math.isfinite(value) else value


def _ratio(value: float | None) -> float | None:
    return value if value is None or not math.isfinite(value) else round(value, 4)


@dataclass
class TimingResult:
    """Timings of several chains on one input (``%chaintime``), like IPython's ``TimeitResult``."""

    chains: dict[str, ChainTiming]
    input: Any = None
    stat: str = "median"
    baseline: str | None = None
    orders: list[list[str]] = field(default_factory=list)
    stopped_early: bool = False
    runs_requested: int = 0  # 0 under -n auto
    warmup: int = 0
    precision: int = 3
    stopped_by: str = "runs"  # "runs", "rel-ci" (-n auto settled), "failures" or "max-time"
    rel_ci: float | None = None  # -n auto's target, as a fraction
    slo: dict[str, float] = field(default_factory=dict)  # metric → bound in seconds
    load: list[Any] = field(default_factory=list)  # LoadLevel per chain and --concurrency level
    columns: list[str] | None = None  # the table's columns (--columns); None: the default

    def __setattr__(self, name: str, value: Any) -> None:
        # Checked whenever set (at construction, from JSON, or later by hand): a wrong name fails
        # here, with the valid ones, rather than vanishing from a table that must never raise.
        if name == "columns":
            value = check_columns(value)
        super().__setattr__(name, value)

    def __post_init__(self) -> None:
        if self.stopped_early and self.stopped_by == "runs":
            self.stopped_by = "max-time"
        self.stopped_early = self.stopped_by == "max-time"

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
        """One row per chain, computed once: the bootstrap intervals are the costly part, and the
        text, the HTML, ``summary()`` and ``to_dict()`` all read the rows. Recomputed only when
        what they depend on changes (the statistic, the baseline, or more runs)."""
        key = (
            self.stat,
            self.baseline,
            tuple((label, len(t.all_runs), t.failures) for label, t in self.chains.items()),
        )
        cached = self.__dict__.get("_rows")
        if cached is not None and cached[0] == key:
            return list(cached[1])
        ref_label = self.reference
        ref = self.chains.get(ref_label) if ref_label else None
        rows = [self._row(label, timing, ref) for label, timing in self.chains.items()]
        self.__dict__["_rows"] = (key, rows)
        return list(rows)

    def _row(self, label: str, t: ChainTiming, ref: ChainTiming | None) -> TimingRow:
        runs = t.all_runs
        nan = math.nan
        is_ref = ref is not None and ref.label == label
        ratio = low = high = p = None
        significant = None
        paired = False
        if runs and ref is not None and ref.all_runs:
            ratio = self.value(t) / self.value(ref) if self.value(ref) else None
            if is_ref:
                ratio, low, high = 1.0, 1.0, 1.0
            else:
                pairs = _pairs(t, ref) if self.stat == "median" else None
                found = stats.paired_ratio(*pairs) if pairs else None
                if found is not None:
                    ratio, low, high, p = found
                    paired = True
                else:
                    low, high = stats.ratio_interval(runs, ref.all_runs, stat=self.stat)
                    p = stats.mann_whitney_u(runs, ref.all_runs)
                significant = not (low <= 1.0 <= high) if paired else p < ALPHA
        ok = [r for r in t.records if r.ok]
        measured = len(t.records) or (len(runs) + t.failures)
        pct = {
            q: stats.percentile(runs, q) if runs and len(runs) >= need else None
            for q, need in stats.PERCENTILE_MIN_RUNS.items()
        }
        critical: dict[str, int] = {}
        for r in ok:
            if r.critical is not None:
                critical[r.critical] = critical.get(r.critical, 0) + 1
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
            p50=pct[50],
            p90=pct[90],
            p99=pct[99],
            itl=_median_of(r.itl for r in ok),
            tpot=_median_of(r.tpot for r in ok),
            tokens_per_s=_median_of(r.tokens_per_s for r in ok),
            error_rate=t.failures / measured if measured else 0.0,
            paired=paired,
            goodput=self.goodput(t) if self.slo else None,
            critical=critical,
            model=t.model,
            distinct_outputs=len(t.outputs) if t.outputs else None,
            overlapped=_overlapped(t, speedup),
        )

    def goodput(self, timing: ChainTiming) -> float | None:
        """The share of a chain's measured runs (failed ones count) that met every ``slo`` bound."""
        return slo_share(timing.records, self.slo)

    @property
    def warnings(self) -> list[str]:
        """What a careful reader should know before trusting the table (derived from the runs)."""
        out = []
        for label, t in self.chains.items():
            runs = t.all_runs
            if t.failures:
                total = t.failures + len(runs)
                out.append(f"{label}: {t.failures} of {total} runs failed and are left out")
            if len(runs) < 3:
                continue
            m = stats.median(runs)
            first = t.warmup_runs[0] if t.warmup_runs else runs[0]
            if max(m, first) < NOISE_FLOOR:
                continue
            outputs = t.outputs
            cached = len(outputs) == 1 and sum(outputs.values()) >= 3
            if cached and m > 0 and first >= CACHE_SPEEDUP * m:
                out.append(
                    f"{label}: every run gave the same output, {first / m:.0f}× faster than the "
                    "first: a cache may be answering"
                )
            elif m >= NOISE_FLOOR and first >= COLD_START * m:
                where = "warm-up run" if t.warmup_runs else "run (use -w 1 to drop it)"
                out.append(
                    f"{label}: the first {where} took {format_seconds(first)}, "
                    f"{first / m:.1f}× the median (cold start)"
                )
            mean = stats.mean(runs)
            if mean >= NOISE_FLOOR and t.stdev > HIGH_SPREAD * mean:
                out.append(
                    f"{label}: high spread (std is {t.stdev / mean:.0%} of the mean): "
                    "more runs (-n) or a quieter machine"
                )
        return out

    @property
    def stopping(self) -> str:
        """What ended the measurement, in words."""
        rounds = len(self.orders)
        if self.stopped_by == "rel-ci":
            return (
                f"-n auto: every median known within {self.rel_ci or 0:.0%} "
                f"(95 % interval) after {rounds} rounds"
            )
        if self.stopped_by == "failures":
            return f"-n auto: no run succeeded in {rounds} rounds"
        if self.stopped_by == "max-time":
            want = f" of {self.runs_requested}" if self.runs_requested else ""
            return f"--max-time ended the measurement after {rounds}{want} rounds"
        return f"{rounds} rounds, as asked"

    @property
    def percentile_note(self) -> str | None:
        """Which percentiles the run count does not support, said once (None when all are)."""
        n = max((len(t.all_runs) for t in self.chains.values()), default=0)
        missing = [q for q, need in stats.PERCENTILE_MIN_RUNS.items() if n < need]
        if not missing:
            return None
        needs = ", ".join(f"p{q} needs {stats.PERCENTILE_MIN_RUNS[q]}" for q in missing)
        return f"percentiles: {needs} runs"

    def summary(self) -> str:
        """hyperfine's closing lines: which chain was fastest, and by how much the others lag."""
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
            "stopped_by": self.stopped_by,
            "rows": [r.to_dict() for r in self.rows],
            "all_runs": {k: [seconds(t) for t in v] for k, v in self.all_runs.items()},
            "warnings": self.warnings,
        }

    # -- kept and exported --------------------------------------------------------------------

    def to_json_dict(self) -> dict[str, Any]:
        """Everything measured, as JSON-ready data: what ``from_json`` rebuilds the result from
        (the raw runs, never the derived rows; see :mod:`chainmagic.run.timing_files`)."""
        return timing_files.json_dict(self)

    def to_json(self, indent: int | None = None) -> str:
        """The result as JSON text; ``TimingResult.from_json(text)`` gives it back exactly."""
        return json.dumps(self.to_json_dict(), indent=indent, ensure_ascii=False)

    @classmethod
    def from_json(cls, data: str | dict[str, Any]) -> TimingResult:
        """A result from ``to_json()`` text (or its dict, as a saved notebook's output holds it).

        Raises ``ValueError`` naming what is wrong when the data is not a timing result.
        """
        chains, fields = timing_files.from_json(data)
        try:
            return cls(chains, **fields)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not a complete chainmagic timing result ({exc!r})") from None

    def to_csv(self) -> str:
        """One line per run (interleaved rounds, then load levels): the raw data, for any tool."""
        return timing_files.csv_text(self)

    def to_hyperfine(self, indent: int | None = 2) -> str:
        """JSON in hyperfine's export shape (``results[]`` of ``command``, ``mean``, ``stddev``,
        ``median``, ``min``, ``max``, ``times``, ``exit_codes``), so its plotting scripts work."""
        return timing_files.hyperfine_json(self, indent)

    def to_markdown(self) -> str:
        """The table as Markdown, with the columns chosen (or the default set, as displayed)."""
        rows = self.rows
        columns = shown_columns(self.columns, rows)
        lines = [
            "| chain | " + " | ".join(HEADINGS.get(c, c) for c in columns) + " |",
            "| --- |" + " ---: |" * len(columns),
        ]
        for r in rows:
            cells = [cell(r, c, format_seconds) for c in columns]
            lines.append(f"| {r.label} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def to_dataframe(self) -> Any:
        try:
            import pandas as pd
        except ImportError as exc:
            raise ImportError("to_dataframe() needs pandas: pip install pandas") from exc
        return pd.DataFrame([r.to_dict() for r in self.rows]).set_index("label")

    def __repr__(self) -> str:
        runs = sum(len(t.all_runs) for t in self.chains.values())
        return f"<TimingResult: {', '.join(self.chains)}; {runs} runs; reference {self.reference}>"


def _pairs(a: ChainTiming, b: ChainTiming) -> tuple[list[float], list[float]] | None:
    """The two chains' successful run times, round by round, where both succeeded."""
    times_b = {r.round: r.total for r in b.records if r.ok and r.round >= 0}
    if not times_b:
        return None
    xs, ys = [], []
    for r in a.records:
        if r.ok and r.round in times_b:
            xs.append(r.total)
            ys.append(times_b[r.round])
    return (xs, ys) if xs else None


def _median_of(values: Any) -> float | None:
    present = [v for v in values if v is not None]
    return stats.median(present) if present else None


def slo_share(records: list[Any], slo: dict[str, float]) -> float | None:
    """The share of ``records`` that succeeded and met every bound (a missing metric misses)."""
    if not records or not slo:
        return None
    met = 0
    for r in records:
        if not r.ok:
            continue
        if all(
            (value := getattr(r, metric)) is not None and value <= bound
            for metric, bound in slo.items()
        ):
            met += 1
    return met / len(records)


def _overlapped(t: ChainTiming, speedup: float | None) -> bool | None:
    """Did the map's branches run at the same time? None when the chain is not a map."""
    if speedup is None:
        return None
    overlaps = t.overlaps
    # Streams judge only when most runs could be judged by them: a quick branch's stream, slowed
    # on a busy machine, can outlast the cut-off in a few runs and, apart from a slow branch's
    # stream however they were served, would have those few runs say "did not overlap".
    if overlaps and 2 * len(overlaps) > len(t.all_runs):
        return stats.median(overlaps) >= OVERLAP_MIN_SHARE
    medians = [stats.median(v) for v in t.branches.values() if v]
    if len(medians) < 2 or not t.all_runs:
        return None
    own, whole, longest = stats.median(t.all_runs), sum(medians), max(medians)
    if whole - longest < OVERLAP_MIN_GAIN * own:
        return None  # one branch is nearly all of the map: it cannot show
    return (whole - own) / (whole - longest) >= OVERLAP_MIN_SHARE
