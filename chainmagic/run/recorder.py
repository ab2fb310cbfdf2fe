"""Turns a run's events into a live :class:`ChainResult` (steps, branches, streamed text).

The recorder is the run's listener. Events arrive from worker threads and the loop thread alike, so
it updates under a lock and then tells ``on_change`` which part changed; a display throttles redraws.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from time import perf_counter
from typing import Any

from chainmagic.core.events import Event
from chainmagic.core.messages import AIMessage, AIMessageChunk, BaseMessage
from chainmagic.core.models.base import BaseChatModel
from chainmagic.run.result import BranchResult, ChainResult, StepRecord

__all__ = ["Recorder", "branch_layout", "finalize_output"]


def branch_layout(chain: Any) -> tuple[tuple[str, ...], list[str]]:
    """Where the chain's first parallel map sits (its path prefix) and its keys.

    That map's branches get a card each in the result view: for ``{joke, poem}`` they are the whole
    chain; for ``{context, question} | prompt | model`` they are the inputs being gathered.
    """
    from chainmagic.core.parallel import RunnableParallel
    from chainmagic.core.passthrough import RunnableAssign
    from chainmagic.core.sequence import RunnableSequence
    from chainmagic.core.wrappers import _Wrapper

    prefix: tuple[str, ...] = ()
    step = chain
    for _ in range(64):
        if isinstance(step, _Wrapper):
            step = step.bound
            continue
        if isinstance(step, RunnableParallel):
            return prefix, list(step.steps)
        if isinstance(step, RunnableAssign):
            return prefix, list(step.mapper.steps)
        if isinstance(step, RunnableSequence):
            first = next(
                (
                    s
                    for s in step.steps
                    if isinstance(_unwrap(s), (RunnableParallel, RunnableAssign))
                ),
                None,
            )
            if first is None:
                return prefix, []
            if first.segment:
                prefix = (*prefix, first.segment)
            step = first
            continue
        return prefix, []
    return prefix, []


def _unwrap(step: Any) -> Any:
    from chainmagic.core.wrappers import _Wrapper

    while isinstance(step, _Wrapper):
        step = step.bound
    return step


class Recorder:
    """Listener that fills ``result`` from events; ``on_change(kind, key)`` after each update."""

    def __init__(
        self,
        result: ChainResult,
        chain: Any,
        on_change: Callable[[str, str | None], None] | None = None,
    ) -> None:
        self.result = result
        self.on_change = on_change
        self.t0 = perf_counter()
        self.root: tuple[str, ...] | None = None
        prefix, keys = branch_layout(chain)
        self._prefix = prefix
        self._keys = keys
        self._open: dict[tuple[str, ...], StepRecord] = {}
        self._lock = threading.Lock()
        self.closed = False
        result.branches = {k: BranchResult(k) for k in keys}

    def close(self) -> None:
        """Stop recording: a cancelled run's threads end their calls later, and must not rewrite
        what the (final) view of that run shows."""
        with self._lock:
            self.closed = True

    def __call__(self, event: Event) -> None:
        with self._lock:
            if self.closed:
                return
            changed = self._apply(event)
        if changed is not None and self.on_change is not None:
            self.on_change(*changed)

    def _apply(self, event: Event) -> tuple[str, str | None] | None:
        t = event.t - self.t0
        path = event.path
        if self.root is None:
            self.root = path
        root = self.root
        key = self._branch_key(path, root)
        if path == root:
            return self._root_event(event, t)
        if event.kind == "start":
            started = StepRecord(path, t)
            self._open[path] = started
            self.result.steps.append(started)
            if key is not None and len(path) == len(root) + len(self._prefix) + 1:
                branch = self.result.branches[key]
                branch.status, branch.start = "running", t
                return ("branch", key)
            return ("step", key)
        record = self._open.get(path)
        if record is None:
            return None
        if event.kind == "retry":  # a model call failed and is about to be tried again
            note = str(event.data)
            record.retries.append(note)
            owner = self.result.branches.get(key) if key is not None else None
            if owner is not None:
                owner.note = note
                return ("branch", key)
            self.result.note = note
            return ("root", None)
        if event.kind == "chunk":
            if record.first_chunk is None:
                record.first_chunk = t
            if key is not None and len(path) == len(root) + len(self._prefix) + 1:
                branch = self.result.branches[key]
                if branch.first_chunk is None:
                    branch.first_chunk = t
                branch.text += _chunk_text(event.data)
                return ("branch", key)
            return None
        record.end = t
        if event.kind == "end":
            record.status = "ok"
            # A model under with_config/with_retry emits as its wrapper (one event, no doubles).
            if isinstance(_unwrap(event.step), BaseChatModel) and isinstance(event.data, AIMessage):
                record.usage = event.data.usage_metadata
                meta = event.data.response_metadata
                record.finish_reason = meta.get("finish_reason")
                record.usage_estimated = bool(meta.get("usage_estimated"))
                if record.finish_reason == "length" and key is not None:
                    self.result.branches[key].cut_by_length = True
        else:
            record.status, record.error = "error", event.data
        if key is not None and len(path) == len(root) + len(self._prefix) + 1:
            branch = self.result.branches[key]
            branch.end = t
            if event.kind == "end":
                branch.status, branch.output = "ok", finalize_output(event.data)
                if not branch.text:
                    branch.text = _chunk_text(branch.output)
            else:
                branch.status, branch.error = "error", event.data
            return ("branch", key)
        return ("step", key)

    def _root_event(self, event: Event, t: float) -> tuple[str, str | None] | None:
        result = self.result
        if event.kind == "chunk":
            if result.ttft is None:
                result.ttft = t
            result.text += _chunk_text(event.data)
            return ("root", None)
        return None

    def _branch_key(self, path: tuple[str, ...], root: tuple[str, ...]) -> str | None:
        depth = len(root) + len(self._prefix)
        if len(path) <= depth or path[: len(root)] != root:
            return None
        if path[len(root) : depth] != self._prefix:
            return None
        key = path[depth]
        return key if key in self.result.branches else None


def _chunk_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, BaseMessage):
        return value.text
    return ""


def finalize_output(value: Any) -> Any:
    """A streamed output made whole: message chunks become messages, recursively in dicts."""
    if isinstance(value, AIMessageChunk):
        return value.to_message()
    if isinstance(value, dict):
        return {k: finalize_output(v) for k, v in value.items()}
    return value
