"""ChainResult and BatchResult: what runs of a chain produced, as plain data.

Like IPython's ``TimeitResult`` they are plain objects with times in seconds (floats). Drawing them
is :mod:`chainmagic.display`'s job, registered for these types in one place
(:mod:`chainmagic.display.register`); this module imports nothing of it. Their own ``repr`` is a
cheap one-line summary, so a repr never costs a rendering. While a run is live the same object is
filled in place, so a view can redraw from it at any moment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chainmagic.errors import PATH_SEP
from chainmagic.secrets import redact

__all__ = ["BatchResult", "BranchResult", "ChainResult", "StepRecord", "seconds", "to_plain"]

SECONDS_DIGITS = 6  # times in to_dict() are rounded to the microsecond: no 17-digit floats


def seconds(value: float | None) -> float | None:
    """A time for ``to_dict()``: rounded to the microsecond (``None`` stays ``None``)."""
    return None if value is None else round(float(value), SECONDS_DIGITS)


def error_text(error: BaseException | None) -> str | None:
    """An error as text for plain data: masked (a step's message may hold a key), never raising."""
    if error is None:
        return None
    try:
        return redact(str(error))
    except Exception:
        return redact(type(error).__name__)


@dataclass
class StepRecord:
    """One step's life in a run; times are seconds since the run started."""

    path: tuple[str, ...]
    start: float
    end: float | None = None
    first_chunk: float | None = None
    status: str = "running"  # running | ok | error
    usage: dict[str, int] | None = None
    error: BaseException | None = None
    retries: list[str] = field(default_factory=list)  # "retrying after 429, 1/2", as they happened
    finish_reason: str | None = None  # a model step's: "length" means cut by max_tokens
    usage_estimated: bool = False  # the server reported no usage: the tokens were counted here

    @property
    def label(self) -> str:
        return self.path[-1] if self.path else "chain"

    @property
    def where(self) -> str:
        return PATH_SEP.join(self.path)

    @property
    def latency(self) -> float | None:
        return None if self.end is None else self.end - self.start

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": list(self.path),
            "start": seconds(self.start),
            "end": seconds(self.end),
            "latency": seconds(self.latency),
            "first_chunk": seconds(self.first_chunk),
            "status": self.status,
            "usage": self.usage,
            "error": error_text(self.error),
            "retries": list(self.retries),
            "finish_reason": self.finish_reason,
            "usage_estimated": self.usage_estimated,
        }


@dataclass
class BranchResult:
    """One branch of the chain's parallel map: its streamed text, output, latency and status."""

    key: str
    status: str = "pending"  # pending | running | ok | error
    text: str = ""
    output: Any = None
    start: float | None = None
    end: float | None = None
    first_chunk: float | None = None
    error: BaseException | None = None
    note: str | None = None  # what the branch is waiting on ("retrying after 429, 1/2")
    cut_by_length: bool = False  # a model in this branch stopped at max_tokens, not by itself

    @property
    def latency(self) -> float | None:
        if self.start is None or self.end is None:
            return None
        return self.end - self.start

    @property
    def ttft(self) -> float | None:
        if self.start is None or self.first_chunk is None:
            return None
        return self.first_chunk - self.start

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "status": self.status,
            "output": to_plain(self.output),
            "latency": seconds(self.latency),
            "ttft": seconds(self.ttft),
            "error": error_text(self.error),
            "cut_by_length": self.cut_by_length,
        }


@dataclass
class ChainResult:
    """The outcome of running a chain once: output, per-branch results, per-step timings."""

    name: str | None = None
    input: Any = None
    output: Any = None
    status: str = "running"  # queued (a batch input waiting) | running | ok | error | cancelled
    error: BaseException | None = None
    branches: dict[str, BranchResult] = field(default_factory=dict)
    steps: list[StepRecord] = field(default_factory=list)
    total: float | None = None
    ttft: float | None = None
    text: str = ""  # the streamed text of the chain's own output, while it arrives
    note: str | None = None  # what the run is waiting on ("retrying after 429, 1/2")
    dsl: str | None = None

    @property
    def usage(self) -> dict[str, int]:
        """Tokens used by every model call of the run, summed."""
        out: dict[str, int] = {}
        for step in self.steps:
            for key, value in (step.usage or {}).items():
                out[key] = out.get(key, 0) + value
        return out

    @property
    def usage_estimated(self) -> bool:
        """True when some of :attr:`usage` was counted here because a server did not report it."""
        return any(step.usage and step.usage_estimated for step in self.steps)

    @property
    def cut_by_length(self) -> list[str]:
        """Where a model's answer was cut by ``max_tokens`` (``finish_reason == "length"``)."""
        return [step.where for step in self.steps if step.finish_reason == "length"]

    @property
    def elapsed(self) -> float | None:
        return self.total

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "input": to_plain(self.input),
            "output": to_plain(self.output),
            "status": self.status,
            "error": error_text(self.error),
            "branches": {k: b.to_dict() for k, b in list(self.branches.items())},
            "steps": [s.to_dict() for s in list(self.steps)],
            "total": seconds(self.total),
            "ttft": seconds(self.ttft),
            "usage": self.usage,
            "usage_estimated": self.usage_estimated,
            "cut_by_length": self.cut_by_length,
            "dsl": self.dsl,
        }

    def __repr__(self) -> str:
        return _summary("ChainResult", self.name, self.status, self.total, len(self.branches))


@dataclass
class BatchResult:
    """Results of running one chain on many inputs, in input order."""

    name: str | None = None
    results: list[ChainResult] = field(default_factory=list)
    total: float | None = None
    size: int = 0
    started: float | None = None  # perf_counter() when the batch began: a live view's clock
    where: str | None = None  # None: this process; else e.g. "dask · 2 workers"
    dashboard: str | None = None  # the cluster's dashboard, when it has one
    elapsed: float | None = None  # seconds since the start, while it runs (pace and ETA)

    @property
    def done(self) -> int:
        return sum(r.status not in ("running", "queued") for r in self.results)

    @property
    def outputs(self) -> list[Any]:
        return [r.output for r in self.results]

    @property
    def errors(self) -> int:
        return sum(r.status == "error" for r in self.results)

    @property
    def unfinished(self) -> list[int]:
        """Indexes of the inputs with neither an output nor an error (cancelled, never run)."""
        return [i for i, r in enumerate(self.results) if r.status not in ("ok", "error")]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "total": seconds(self.total),
            "size": self.size,
            "where": self.where,
            "dashboard": self.dashboard,
            "results": [r.to_dict() for r in list(self.results)],
        }

    def to_dataframe(self) -> Any:
        """One row per input: input, output, status, error and latency (needs pandas)."""
        try:
            import pandas as pd
        except ImportError as exc:
            raise ImportError("to_dataframe() needs pandas: pip install pandas") from exc
        rows = [
            {k: d[k] for k in ("input", "output", "status", "error", "total")}
            for d in (r.to_dict() for r in self.results)
        ]
        return pd.DataFrame(rows)

    def __repr__(self) -> str:
        done = f"{self.done}/{self.size or len(self.results)} inputs"
        return _summary("BatchResult", self.name, done, self.total, None)


def _summary(kind: str, name: str | None, status: str, total: float | None, n: int | None) -> str:
    """``<ChainResult map_chain: ok, 0.612 s, 2 branches>``: cheap, and never raises."""
    parts = [status]
    if total is not None:
        parts.append(f"{total:.3g} s")
    if n:
        parts.append(f"{n} branch{'' if n == 1 else 'es'}")
    label = f" {name}" if name else ""
    return f"<{kind}{label}: {', '.join(parts)}>"


def to_plain(value: Any, _seen: frozenset[int] = frozenset()) -> Any:
    """A JSON-friendly copy: messages become their content, documents their dict.

    Never raises: a cycle becomes ``"<cycle>"``, anything else unknown its repr (or its type name
    when even that fails).
    """
    if value is None or isinstance(value, (str, int, bool)):
        return value
    if isinstance(value, float):
        return value
    if id(value) in _seen:
        return "<cycle>"
    inner = _seen | {id(value)}
    if isinstance(value, dict):
        return {str(k): to_plain(v, inner) for k, v in list(value.items())}
    if isinstance(value, (list, tuple)):
        return [to_plain(v, inner) for v in value]
    try:
        text = getattr(value, "text", None)  # before to_dict: a message has both, and is its text
        if isinstance(text, str):
            return text
        to_dict = getattr(value, "to_dict", None)
        if callable(to_dict):
            return to_plain(to_dict(), inner)
    except Exception:
        pass
    try:
        return repr(value)
    except Exception:
        return f"<{type(value).__name__}>"
