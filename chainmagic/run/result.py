"""ChainResult: what one run of a chain produced, as plain data.

Like IPython's ``TimeitResult`` it is a plain object with times in seconds (floats); rendering it is
:mod:`chainmagic.display`'s job. While a run is live the same object is filled in place, so a widget
can redraw from it at any moment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chainmagic.errors import PATH_SEP
from chainmagic.secrets import redact

__all__ = ["BranchResult", "ChainResult", "StepRecord", "to_plain"]


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
            "start": self.start,
            "end": self.end,
            "latency": self.latency,
            "first_chunk": self.first_chunk,
            "status": self.status,
            "usage": self.usage,
            "error": error_text(self.error),
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
            "latency": self.latency,
            "ttft": self.ttft,
            "error": error_text(self.error),
            "cut_by_length": self.cut_by_length,
        }


@dataclass
class ChainResult:
    """The outcome of running a chain once: output, per-branch results, per-step timings."""

    name: str | None = None
    input: Any = None
    output: Any = None
    status: str = "running"  # running | ok | error | cancelled
    error: BaseException | None = None
    branches: dict[str, BranchResult] = field(default_factory=dict)
    steps: list[StepRecord] = field(default_factory=list)
    total: float | None = None
    ttft: float | None = None
    text: str = ""  # the streamed text of the chain's own output, while it arrives
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
            "branches": {k: b.to_dict() for k, b in self.branches.items()},
            "steps": [s.to_dict() for s in self.steps],
            "total": self.total,
            "ttft": self.ttft,
            "usage": self.usage,
            "usage_estimated": self.usage_estimated,
            "cut_by_length": self.cut_by_length,
            "dsl": self.dsl,
        }

    def __repr__(self) -> str:
        from chainmagic.display.text import result_text

        return result_text(self)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self))

    def _repr_html_(self) -> str:
        from chainmagic.display.html import result_html

        return result_html(self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        from chainmagic.display.reprs import repr_bundle

        return repr_bundle(self)


def to_plain(value: Any) -> Any:
    """A JSON-friendly copy: messages become their content, documents their dict."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    text = getattr(value, "text", None)  # before to_dict: a message has both, and is its text
    if isinstance(text, str):
        return text
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        try:
            return to_plain(to_dict())
        except Exception:
            return repr(value)
    return repr(value)
