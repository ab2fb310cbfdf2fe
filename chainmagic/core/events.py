"""Run context and events: what a chain run tells the outside world while it happens.

Every labelled step emits ``start`` / ``chunk`` / ``end`` / ``error`` events with a monotonic timestamp
(``time.perf_counter()``) and its path (``("map_chain", "poem", "model")``). Timelines, per-step
latencies, live widgets and ``%chaintime``'s breakdown are all built from these events.

Observing must cost nothing when nobody listens: a run without a listener or limits passes ``None``
as its :class:`Run`, and steps only check ``run is None``. There is no context-var or config plumbing
per step.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Mapping
from time import perf_counter
from typing import Any

__all__ = ["Event", "Limiter", "Listener", "Run", "astream_events"]


class Event:
    """One thing that happened to one step.

    ``kind`` is ``"start"`` (``data`` is the input), ``"chunk"`` (a streamed piece of output),
    ``"end"`` (``data`` is the output) or ``"error"`` (``data`` is the exception).
    ``step`` is the runnable itself, so a listener can read its label, source span or usage.
    """

    __slots__ = ("data", "kind", "path", "step", "t")

    def __init__(
        self, kind: str, path: tuple[str, ...], t: float, data: Any = None, step: Any = None
    ) -> None:
        self.kind = kind
        self.path = path
        self.t = t
        self.data = data
        self.step = step

    def __repr__(self) -> str:
        return f"Event({self.kind!r}, {self.path!r}, t={self.t:.6f}, data={self.data!r:.60})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Event) and (self.kind, self.path, self.t, self.data) == (
            other.kind,
            other.path,
            other.t,
            other.data,
        )

    __hash__ = None  # type: ignore[assignment]


Listener = Callable[[Event], None]


class Limiter:
    """One global bound on concurrent branch work for a whole run (``max_concurrency``).

    Slots are only ever *tried*, never waited for: a parallel map that gets no slot runs its branches
    itself. That is what makes a single bound safe across nesting levels (no deadlock when an outer
    branch holding a slot starts an inner map).
    """

    __slots__ = ("_free", "_lock", "limit")

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"max_concurrency must be at least 1, got {limit}")
        self.limit = limit
        self._free = limit - 1  # the caller's own thread is the first unit of concurrency
        self._lock = threading.Lock()

    def take(self, wanted: int) -> int:
        """Take up to ``wanted`` slots at once; return how many were taken."""
        with self._lock:
            got = min(wanted, self._free)
            self._free -= got
            return got

    def give(self, n: int = 1) -> None:
        with self._lock:
            self._free += n


class Run:
    """The per-run context handed down a chain: path, listener, limiter.

    Only runs that are observed or bounded have one; everything else passes ``None``.
    """

    __slots__ = ("limiter", "listener", "path", "tags")

    def __init__(
        self,
        listener: Listener | None = None,
        limiter: Limiter | None = None,
        path: tuple[str, ...] = (),
        tags: tuple[str, ...] = (),
    ) -> None:
        self.listener = listener
        self.limiter = limiter
        self.path = path
        self.tags = tags

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> Run | None:
        """Build the run for a public call; ``None`` (the fast path) when nothing needs one."""
        if not config:
            return None
        listener = config.get("listener")
        callbacks = config.get("callbacks")
        if callbacks:
            listener = _fan_out([*([listener] if listener else []), *callbacks])
        limit = config.get("max_concurrency")
        limiter = Limiter(int(limit)) if limit else None
        if listener is None and limiter is None:
            return None
        return cls(listener, limiter, (), tuple(config.get("tags") or ()))

    def child(self, segment: str) -> Run:
        return Run(self.listener, self.limiter, (*self.path, segment), self.tags)

    def emit(self, kind: str, data: Any = None, step: Any = None) -> None:
        if self.listener is not None:
            self.listener(Event(kind, self.path, perf_counter(), data, step))


def _fan_out(listeners: list[Any]) -> Listener:
    def emit(event: Event) -> None:
        for listener in listeners:
            listener(event)

    return emit


async def astream_events(
    runnable: Any, input: Any, config: Mapping[str, Any] | None = None
) -> AsyncIterator[Event]:
    """Run ``runnable`` on ``input`` and yield its events as they happen.

    Events from worker threads (sync branches) are handed to the loop thread-safely, in the order
    they were emitted. The run's own failure is raised after its ``error`` events have been yielded;
    closing the stream early cancels the run.
    """
    import asyncio

    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Event | None] = asyncio.Queue()
    owner = threading.get_ident()

    def listen(event: Event) -> None:
        if threading.get_ident() == owner:
            queue.put_nowait(event)
        else:
            loop.call_soon_threadsafe(queue.put_nowait, event)

    previous = (config or {}).get("listener")
    listener = listen if previous is None else _fan_out([previous, listen])

    async def run() -> None:
        try:
            await runnable.ainvoke(input, {**(config or {}), "listener": listener})
        finally:
            # After everything a worker thread may still have queued for the loop.
            loop.call_soon(queue.put_nowait, None)

    task = asyncio.ensure_future(run())
    try:
        while (event := await queue.get()) is not None:
            yield event
        await task  # the run's own error, if any, comes last
    finally:
        task.cancel()
