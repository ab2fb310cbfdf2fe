"""Timing several chains on one input: interleaved rounds, per-run records, stopping rules.

Runs go round-robin in a freshly shuffled (seeded) order each round, so drift (a warming cache, a
busy server) hits every chain alike, and the runs of one round can be compared pair by pair. There
is no autorange calibration that throws paid calls away: ``warmup`` runs are made (and kept apart,
for the cold-start warning), then rounds are measured until ``runs`` are done, or, with
``runs=None`` (``-n auto``), until every chain's median is known within ``rel_ci``. ``max_time``
bounds the whole session, warm-up included; at least one round is always measured.

Every run leaves a :class:`RunRecord` (plain data): end-to-end time, time to first token, the mean
gap between streamed chunks (ITL), time per output token (TPOT), output tokens, status and error
kind, and for a map each branch's span and which branch decided the run's time (the critical
path), and from the branches' streaming intervals how much they really ran together
(:attr:`RunRecord.overlap`: ~0 on a server that serves one request at a time). The whole session
runs as one coroutine on the private loop; a light listener per run (:class:`_Probe`) notes only
timestamps, chunk counts and token counts.
"""

from __future__ import annotations

import contextlib
import io
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

from chainmagic.core.events import Event
from chainmagic.core.messages import BaseMessage
from chainmagic.core.models.base import BaseChatModel
from chainmagic.core.wrappers import _Wrapper
from chainmagic.errors import PATH_SEP, ChainRunError, redact
from chainmagic.run import stats
from chainmagic.run.recorder import branch_layout, finalize_output

__all__ = [
    "AUTO_MAX_TIME",
    "AUTO_MIN_ROUNDS",
    "BranchRun",
    "ChainTiming",
    "RecordedError",
    "RunRecord",
    "Session",
    "measure_once",
    "overlap_share",
    "rebuild_error",
    "time_chains",
]

AUTO_MIN_ROUNDS = 6  # the fewest runs whose median has a 95 % order-statistic interval
AUTO_MAX_TIME = 60.0  # -n auto's default time budget (seconds)
STREAMED_SHARE = 0.2  # a branch that streams for less of its time than this is not judged by it
# ... nor one whose stream is shorter than this share of the quickest branch's wait for its first
# token: such a stream can end before a slower-starting branch begins, served together or not.
# At 0.5 a small model's few tokens (14 ms after a 45 ms wait), slowed by a busy machine, counted.
STREAM_VS_FIRST_TOKEN = 1.0
OUTPUT_KEEP = 2000  # characters of each distinct output kept (output stability, side by side)


@dataclass
class BranchRun:
    """One branch of a map in one run (seconds from the run's start)."""

    start: float
    end: float | None = None
    ttft: float | None = None  # first chunk, from the run's start
    output_tokens: int | None = None
    status: str = "running"
    chunks: int = 0  # streamed chunks that carried output

    @property
    def total(self) -> float | None:
        return None if self.end is None else self.end - self.start

    @property
    def streaming(self) -> tuple[float, float] | None:
        """When this branch really streamed (first chunk to end), else None.

        Streaming time is when a server is generating. A branch counts only when it sent several
        chunks over at least :data:`STREAMED_SHARE` of its time: a lambda's single chunk, or a
        model that sends its whole answer at once, says nothing about generation.
        """
        if self.ttft is None or self.end is None or self.chunks < 2:
            return None
        if self.end - self.ttft < STREAMED_SHARE * (self.end - self.start):
            return None
        return self.ttft, self.end


@dataclass
class RunRecord:
    """Everything measured about one run of one chain (seconds).

    ``round`` is the measured round (-1 for a warm-up run, or the closed-loop worker's sequence under
    load). ``ttft`` is the first streamed chunk; ``itl`` the mean gap between chunks after it; ``tpot``
    the time per output token after the first, as serving benchmarks define it.
    """

    round: int
    total: float
    status: str = "ok"  # "ok" or "error"
    ttft: float | None = None
    itl: float | None = None
    tpot: float | None = None
    output_tokens: int | None = None
    tokens_estimated: bool = False  # the server reported no usage: the tokens were counted here
    chunks: int = 0
    error_kind: str | None = None  # the failing step's exception type
    error: str | None = None  # its message's first line, redacted
    error_path: str | None = None  # where it failed (``map › poem › model``)
    branches: dict[str, BranchRun] = field(default_factory=dict)
    critical: str | None = None  # the branch that ended last: it decided the run's time
    output: str | None = None  # the output's text (cut at OUTPUT_KEEP), for output stability
    start: float = 0.0  # seconds from the session's start

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def tokens_per_s(self) -> float | None:
        if not self.output_tokens or self.total <= 0:
            return None
        return self.output_tokens / self.total

    @property
    def overlap(self) -> float | None:
        """How much a map's branches streamed at the same time in this run, from 0 to 1.

        0 is one after another, as on a server that serves one request at a time (branch
        latencies cannot tell that: a queued branch's latency includes its wait). Derived from the
        branches' streaming intervals, so a record read back from JSON has it too. None when fewer
        than two branches really streamed (see :attr:`BranchRun.streaming`), or streamed long
        enough to tell: a quick branch (a small model) whose few tokens all arrive while a slower
        one still waits for its first streams apart from it however the server works, so streams
        shorter than :data:`STREAM_VS_FIRST_TOKEN` of the quickest first token do not count.
        """
        waits = [b.ttft - b.start for b in self.branches.values() if b.ttft is not None]
        if not waits:
            return None
        shortest = STREAM_VS_FIRST_TOKEN * min(waits)
        spans = [
            s
            for b in self.branches.values()
            if (s := b.streaming) is not None and s[1] - s[0] >= shortest
        ]
        return overlap_share(spans)


def overlap_share(spans: list[tuple[float, float]]) -> float | None:
    """The time ``spans`` shared over the most they could share (all but the longest one's time):
    0 when they never ran together, 1 when every shorter one lay within another. None for fewer
    than two spans, or spans of no length."""
    if len(spans) < 2:
        return None
    spans = sorted(spans)
    total = sum(end - first for first, end in spans)
    union, reach = 0.0, spans[0][0]
    for first, end in spans:
        if end > reach:
            union += end - max(first, reach)
            reach = end
    most = total - max(end - first for first, end in spans)  # all of it overlapping
    if most <= 0:
        return None
    return min(max((total - union) / most, 0.0), 1.0)


class RecordedError(Exception):
    """A failed run's error rebuilt from its record (a result read back from JSON): the message,
    under a type named like the original (``error_kind``), for the views."""


def rebuild_error(record: RunRecord) -> ChainRunError:
    """The :class:`ChainRunError` a view shows for a failed ``record`` read back from data."""
    kind = record.error_kind or ""
    kind = kind if kind.isidentifier() else "Error"
    cause = type(kind, (RecordedError,), {})(record.error or "")
    path = record.error_path.split(PATH_SEP) if record.error_path else None
    return ChainRunError(cause, path)


@dataclass
class ChainTiming:
    """Every measured run of one chain, like IPython's ``TimeitResult`` for one statement.

    ``all_runs``/``ttfts``/``branches`` are the successful runs' times (what the statistics use);
    ``records`` has every run, failed ones included, in the order they were made.
    """

    label: str
    all_runs: list[float] = field(default_factory=list)
    ttfts: list[float] = field(default_factory=list)
    branches: dict[str, list[float]] = field(default_factory=dict)
    failures: int = 0
    last_error: BaseException | None = None
    records: list[RunRecord] = field(default_factory=list)
    warmup_runs: list[float] = field(default_factory=list)
    model: str | None = None  # the model spec the chain's bare ``model`` meant (``--models``)

    def add(self, record: RunRecord) -> None:
        """Keep one measured run: its record always, its times when it succeeded."""
        self.records.append(record)
        if not record.ok:
            self.failures += 1
            return
        self.all_runs.append(record.total)
        self.ttfts.append(record.total if record.ttft is None else record.ttft)
        for key, branch in record.branches.items():
            if branch.total is not None and key in self.branches:
                self.branches[key].append(branch.total)

    @property
    def overlaps(self) -> list[float]:
        """Per successful run of a map: how much its branches streamed at the same time
        (:attr:`RunRecord.overlap`); runs whose branches did not really stream are left out."""
        return [o for r in self.records if r.ok and (o := r.overlap) is not None]

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
        return stats.mean(self.all_runs) if self.all_runs else float("nan")

    @property
    def stdev(self) -> float:
        return stats.stdev(self.all_runs)

    @property
    def median(self) -> float:
        return stats.median(self.all_runs) if self.all_runs else float("nan")

    @property
    def is_map(self) -> bool:
        return bool(self.branches)

    @property
    def outputs(self) -> dict[str, int]:
        """Each distinct output text and how many successful runs gave it (output stability)."""
        counts: dict[str, int] = {}
        for record in self.records:
            if record.ok and record.output is not None:
                counts[record.output] = counts.get(record.output, 0) + 1
        return counts


class Session(tuple[Any, ...]):
    """What :func:`time_chains` measured: unpacks as ``(timings, orders, stopped_early)``.

    ``stopped_by`` says what ended it: ``"runs"`` (as many as asked), ``"rel-ci"`` (``-n auto``
    settled), ``"failures"`` (``-n auto`` with no successful run to estimate from) or
    ``"max-time"`` (the budget ran out; ``stopped_early``).
    """

    timings: dict[str, ChainTiming]
    orders: list[list[str]]
    stopped_by: str

    def __new__(
        cls, timings: dict[str, ChainTiming], orders: list[list[str]], stopped_by: str
    ) -> Session:
        self = super().__new__(cls, (timings, orders, stopped_by == "max-time"))
        self.timings, self.orders, self.stopped_by = timings, orders, stopped_by
        return self

    @property
    def stopped_early(self) -> bool:
        return self.stopped_by == "max-time"


class _Probe:
    """A listener that notes only what timing needs: chunk times, tokens and branch spans."""

    __slots__ = (
        "branches",
        "chunks",
        "depth",
        "estimated",
        "first",
        "keys",
        "last",
        "output",
        "prefix",
        "root",
        "t0",
        "tokens",
    )

    def __init__(self, keys: list[str], prefix: tuple[str, ...], t0: float) -> None:
        self.keys = set(keys)
        self.prefix = prefix
        self.t0 = t0
        self.root: tuple[str, ...] | None = None
        self.depth = 0
        self.first: float | None = None
        self.last: float | None = None
        self.chunks = 0
        self.tokens: int | None = None
        self.estimated = False  # some model's tokens were counted here, not reported
        self.output: Any = None
        self.branches: dict[str, BranchRun] = {}

    def __call__(self, event: Event) -> None:
        path = event.path
        kind = event.kind
        if self.root is None:
            self.root = path
            self.depth = len(path) + len(self.prefix) + 1
        if path == self.root:
            if kind == "chunk" and _has_content(event.data):
                if self.first is None:
                    self.first = event.t
                self.last = event.t
                self.chunks += 1
            elif kind == "end":
                self.output = event.data
                tokens = _output_tokens(event)  # the chain is a model itself
                if tokens is not None:
                    self.tokens = (self.tokens or 0) + tokens
                    self.estimated |= _estimated(event)
            return
        if kind == "end":
            tokens = _output_tokens(event)
            if tokens is not None:
                self.tokens = (self.tokens or 0) + tokens
                self.estimated |= _estimated(event)
                self._branch_tokens(path, tokens)
        if len(path) != self.depth or path[-1] not in self.keys:
            return
        key = path[-1]
        t = event.t - self.t0
        if kind == "start":
            self.branches[key] = BranchRun(start=t)
            return
        branch = self.branches.get(key)
        if branch is None:
            return
        if kind == "chunk":
            if branch.ttft is None:
                branch.ttft = t
            if _has_content(event.data):
                branch.chunks += 1
        else:
            branch.end = t
            branch.status = "ok" if kind == "end" else "error"

    def _branch_tokens(self, path: tuple[str, ...], tokens: int) -> None:
        if len(path) < self.depth:
            return
        branch = self.branches.get(path[self.depth - 1])
        if branch is not None and path[: self.depth - 1] == (self.root or ()) + self.prefix:
            branch.output_tokens = (branch.output_tokens or 0) + tokens


def _has_content(data: Any) -> bool:
    """Whether a streamed chunk carries output (a model's closing chunk of only a finish reason or
    usage is no token: counting it would stretch the inter-token latency)."""
    if isinstance(data, str):
        return bool(data)
    if isinstance(data, BaseMessage):
        return bool(data.content) or bool(getattr(data, "tool_call_chunks", None))
    if isinstance(data, dict):
        return any(_has_content(v) for v in data.values())
    return data is not None


def _estimated(event: Event) -> bool:
    """Whether a model's usage was counted here because its server reported none."""
    meta = getattr(event.data, "response_metadata", None)
    return bool(isinstance(meta, dict) and meta.get("usage_estimated"))


def _output_tokens(event: Event) -> int | None:
    """Output tokens a chat model reported at its end (None for any other step)."""
    usage = getattr(event.data, "usage_metadata", None)
    if not usage or event.step is None:
        return None
    step = event.step
    while isinstance(step, _Wrapper):
        step = step.bound
    if not isinstance(step, BaseChatModel):
        return None
    tokens = usage.get("output_tokens")
    return tokens if isinstance(tokens, int) else None


def _text(value: Any) -> str | None:
    """A run's output as text, cut at OUTPUT_KEEP (for counting distinct outputs)."""
    if value is None:
        return None
    value = finalize_output(value)
    text = getattr(value, "text", None)
    if not isinstance(text, str):
        if isinstance(value, dict):
            text = repr({k: getattr(v, "text", v) for k, v in value.items()})
        else:
            text = value if isinstance(value, str) else repr(value)
    return redact(text[:OUTPUT_KEEP])


async def measure_once(
    chain: Any,
    input: Any,
    label: str,
    layout: tuple[tuple[str, ...], list[str]],
    *,
    round: int,
    session_start: float = 0.0,
) -> tuple[RunRecord, ChainRunError | None]:
    """One run of ``chain``, streamed and consumed: its :class:`RunRecord`, and its error if it failed
    (the record keeps only the error's kind and one redacted line: records are plain data).

    Only a :class:`~chainmagic.errors.ChainRunError` is a failed run; anything else (a cancel, an
    interrupt) propagates.
    """
    prefix, keys = layout
    start = perf_counter()
    probe = _Probe(keys, prefix, start)
    config = {"listener": probe, "run_name": label}
    error: ChainRunError | None = None
    try:
        async for _ in chain.astream(input, config):
            pass
    except Exception as exc:  # a step's own exception: recorded with its step path, in one line
        error = ChainRunError.of(exc, label)
    end = perf_counter()
    record = RunRecord(round=round, total=end - start, start=start - session_start)
    record.chunks = probe.chunks
    record.output_tokens = probe.tokens
    record.tokens_estimated = probe.estimated
    record.branches = probe.branches
    if probe.first is not None:
        record.ttft = probe.first - start
        if probe.chunks > 1 and probe.last is not None:
            record.itl = (probe.last - probe.first) / (probe.chunks - 1)
    if record.ttft is not None and probe.tokens and probe.tokens > 1:
        record.tpot = (record.total - record.ttft) / (probe.tokens - 1)
    ended = {k: b.end for k, b in probe.branches.items() if b.end is not None}
    if len(ended) > 1:
        record.critical = max(ended, key=lambda k: ended[k])
    if error is not None:
        record.status = "error"
        cause = error.cause
        record.error_kind = type(cause).__name__
        message = str(cause).strip()
        record.error = redact(message.splitlines()[0]) if message else None
        record.error_path = error.where or None
    else:
        record.output = _text(probe.output)
    return record, error


def time_chains(
    chains: Mapping[str, Any],
    input: Any,
    *,
    runs: int | None = 7,
    warmup: int = 1,
    max_time: float | None = None,
    rel_ci: float = 0.05,
    seed: int = 0,
    on_progress: Callable[[dict[str, ChainTiming], int, int], None] | None = None,
    models: Mapping[str, str] | None = None,
) -> Session:
    """Measure each chain on ``input`` in interleaved rounds; see the module docstring.

    ``runs=None`` is ``-n auto``: rounds go on until every chain's median 95 % interval lies within
    ``rel_ci`` (a fraction) of it, or ``max_time`` (default :data:`AUTO_MAX_TIME`) is spent.
    Chain output printed during timing is captured, not shown. ``on_progress(timings, done, total)``
    is called after every measured run (from the loop thread; ``total`` is 0 under ``-n auto``).
    """
    from chainmagic.run.execute import run_on_loop

    labels = list(chains)
    layouts = {label: branch_layout(chains[label]) for label in labels}
    timings = {
        label: ChainTiming(
            label,
            branches={k: [] for k in layouts[label][1]},
            model=(models or {}).get(label),
        )
        for label in labels
    }
    if runs is None and max_time is None:
        max_time = AUTO_MAX_TIME
    orders: list[list[str]] = []
    rng = random.Random(seed)
    total = 0 if runs is None else runs * len(labels)
    state: dict[str, Any] = {"done": 0, "stopped_by": "runs"}

    async def session() -> None:
        start = perf_counter()

        def out_of_time() -> bool:
            return max_time is not None and perf_counter() - start > max_time

        warming = warmup
        while warming > 0 and not out_of_time():
            warming -= 1
            for label in labels:
                if out_of_time():
                    break
                record, _ = await measure_once(
                    chains[label], input, label, layouts[label], round=-1, session_start=start
                )
                timings[label].warmup_runs.append(record.total)
        while runs is None or len(orders) < runs:
            if orders and out_of_time():
                state["stopped_by"] = "max-time"
                return
            if runs is None and _settled(timings, rel_ci, len(orders)):
                failed = not any(t.all_runs for t in timings.values())
                state["stopped_by"] = "failures" if failed else "rel-ci"
                return
            order = labels[:]
            rng.shuffle(order)
            orders.append(order)
            for label in order:
                record, error = await measure_once(
                    chains[label],
                    input,
                    label,
                    layouts[label],
                    round=len(orders) - 1,
                    session_start=start,
                )
                timing = timings[label]
                if error is not None:
                    timing.last_error = error
                timing.add(record)
                state["done"] += 1
                if on_progress is not None:
                    on_progress(timings, state["done"], total)

    with contextlib.redirect_stdout(io.StringIO()):
        run_on_loop(session())
    return Session(timings, orders, state["stopped_by"])


def _settled(timings: Mapping[str, ChainTiming], rel_ci: float, rounds: int) -> bool:
    """``-n auto``'s rule: every chain's median is known within ``rel_ci`` (chains that never
    succeed in AUTO_MIN_ROUNDS rounds have nothing to estimate and do not hold the others back)."""
    if rounds < AUTO_MIN_ROUNDS:
        return False
    for timing in timings.values():
        if not timing.all_runs:
            continue
        if rel_ci_of(timing.all_runs) > rel_ci:
            return False
    return True


def rel_ci_of(times: list[float]) -> float:
    """How far the median's 95 % interval reaches from the median, as a fraction of it (inf when
    the runs are too few to have one)."""
    interval = stats.median_interval(times)
    if interval is None:
        return float("inf")
    m = stats.median(times)
    if m <= 0:
        return 0.0 if interval == (m, m) else float("inf")
    return max(m - interval[0], interval[1] - m) / m
