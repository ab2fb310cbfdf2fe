"""Counters and queued faults, shared by the test thread and the server's loop thread.

Tests arm faults (``fail_next``) and read counters from their own thread while the
server consumes and updates them on its asyncio thread, so each holder guards its
fields with a lock and hands out copies.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

HIDDEN_HEADERS = frozenset({"authorization", "api-key"})


@dataclass(frozen=True)
class RecordedRequest:
    """What the last request looked like, for assertions; credentials are left out."""

    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None


@dataclass(frozen=True)
class Failure:
    """One injected error response."""

    status: int
    retry_after: float | None
    message: str
    body: Any = None  # sent as is instead of OpenAI's envelope: a dict/list as JSON, a str as text


@dataclass(frozen=True)
class StreamTiming:
    """When a streamed answer left the server: each write, in seconds from the request's arrival.

    The server's side of a stream, to set against what a client measured: the client's TTFT and
    ITL also hold its own cost of sending the request and reading the chunks.
    """

    writes: tuple[float, ...]

    @property
    def ttft(self) -> float | None:
        """Arrival to the first write (it carries the first text, when there is any)."""
        return self.writes[0] if self.writes else None

    @property
    def itl(self) -> float | None:
        """The mean gap between writes after the first (None for a single write)."""
        if len(self.writes) < 2:
            return None
        return (self.writes[-1] - self.writes[0]) / (len(self.writes) - 1)


STREAMS_KEPT = 1000  # the server remembers this many streams' timings (the latest)


class Stats:
    """Request counters: totals, client retries, concurrency, per-endpoint counts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.requests = 0
            self.retries = 0
            self.in_flight = 0
            self.max_in_flight = 0
            self._counts: Counter[str] = Counter()
            self.last_request: RecordedRequest | None = None
            self._streams: deque[StreamTiming] = deque(maxlen=STREAMS_KEPT)

    def begin(self, method: str, path: str, headers: dict[str, str], body: Any) -> None:
        """Count a request as it arrives (before latency, auth or faults apply)."""
        visible = {k: v for k, v in headers.items() if k not in HIDDEN_HEADERS}
        with self._lock:
            self.requests += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self._counts[path] += 1
            if _retry_count(headers) > 0:
                self.retries += 1
            self.last_request = RecordedRequest(method, path, visible, body)

    def end(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def streamed(self, timing: StreamTiming) -> None:
        with self._lock:
            self._streams.append(timing)

    @property
    def streams(self) -> list[StreamTiming]:
        with self._lock:
            return list(self._streams)

    @property
    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


def _retry_count(headers: dict[str, str]) -> int:
    """The openai client numbers its attempts in ``x-stainless-retry-count``."""
    try:
        return int(headers.get("x-stainless-retry-count", "0"))
    except ValueError:
        return 0


class Faults:
    """Queued failures and stream cuts, each consumed by exactly one request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: deque[Failure] = deque()
        self._cuts: deque[int] = deque()
        self._spoiled: deque[str] = deque()

    def fail_next(self, count: int, failure: Failure) -> None:
        with self._lock:
            self._failures.extend([failure] * count)

    def cut_next(self, count: int, after_chunks: int) -> None:
        with self._lock:
            self._cuts.extend([after_chunks] * count)

    def spoil_next(self, count: int, how: str) -> None:
        with self._lock:
            self._spoiled.extend([how] * count)

    def take_spoiled(self) -> str | None:
        with self._lock:
            return self._spoiled.popleft() if self._spoiled else None

    def take_failure(self) -> Failure | None:
        with self._lock:
            return self._failures.popleft() if self._failures else None

    def take_cut(self) -> int | None:
        with self._lock:
            return self._cuts.popleft() if self._cuts else None

    @property
    def pending(self) -> tuple[int, int]:
        """(failures, cuts) still armed."""
        with self._lock:
            return len(self._failures), len(self._cuts)

    def clear(self) -> None:
        with self._lock:
            self._failures.clear()
            self._cuts.clear()
            self._spoiled.clear()
