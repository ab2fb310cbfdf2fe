"""Retrying a model call: which failures deserve another try, how long to wait, and saying so.

The ``openai`` client can retry by itself, but silently: a notebook cell just looks stuck for a
minute. chainmagic runs the client with ``max_retries=0`` and retries here instead, so each retry is
an event (``retry``) that the live view shows as it happens ("retrying after 429, 1/2").

What is retried: rate limits and overloaded servers (408, 409, 429, 5xx, honouring ``Retry-After``
up to :attr:`Backoff.retry_after_cap`), connections that could not be made or were dropped, and a
stream that broke before its first token (nothing was shown yet, so a new attempt loses nothing). A
*timeout* is not retried: a server that has not answered in ``timeout`` seconds seldom answers the
second time, and the user would wait twice as long to learn it.

``asyncio`` is imported by the async twins only: importing it costs ~50 ms (ssl, sockets, logging),
more than the whole rest of ``chainmagic.core``, and a sync chain never needs it.
"""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

__all__ = [
    "DEFAULT_ATTEMPTS",
    "RETRY_STATUSES",
    "Backoff",
    "Retry",
    "acall_with_retries",
    "astream_with_retries",
    "call_with_retries",
    "retry_reason",
    "stream_with_retries",
]

T = TypeVar("T")
RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
DEFAULT_ATTEMPTS = 3  # one call and two retries, as the openai client does by default


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: ``base × 2ⁿ`` (± ``jitter``), at most ``cap`` seconds."""

    base: float = 0.5
    cap: float = 8.0
    jitter: float = 0.25
    retry_after_cap: float = 20.0

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (1-based)."""
        if retry_after is not None and retry_after >= 0:
            return min(retry_after, self.retry_after_cap)
        wait = min(self.base * 2 ** (retry - 1), self.cap)
        return wait * (1 + self.jitter * (2 * random.random() - 1))


@dataclass(frozen=True)
class Retry:
    """One retry about to happen: what failed, which retry this is, of how many, after how long."""

    reason: str
    attempt: int
    of: int
    delay: float

    def __str__(self) -> str:
        return f"retrying after {self.reason}, {self.attempt}/{self.of}"


OnRetry = Callable[[Retry], None]


def retry_reason(exc: BaseException) -> str | None:
    """Why ``exc`` deserves another try (``"429"``, ``"connection error"``...), or None.

    An error may say so itself with a ``retry_reason`` attribute (a stream cut before its first
    token is a :class:`~chainmagic.errors.ModelError` with ``retry_reason = "dropped stream"``).
    """
    own = getattr(exc, "retry_reason", None)
    if isinstance(own, str):
        return own
    status = getattr(exc, "status_code", None)
    if status is None:
        status = getattr(exc, "status", None)
    if isinstance(status, int):
        return str(status) if status in RETRY_STATUSES else None
    name = type(exc).__name__
    if "Timeout" in name:
        return None
    if name in ("APIConnectionError", "ConnectError", "RemoteProtocolError", "ReadError"):
        return "connection error"
    cause = exc.__cause__ or exc.__context__
    if cause is not None and cause is not exc:
        return retry_reason(cause)
    return None


def _retry_after(exc: BaseException) -> float | None:
    """The server's ``Retry-After`` (or ``retry-after-ms``) in seconds, when it sent one."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        headers = getattr(getattr(exc, "response", None), "headers", None)
        if headers is not None:
            try:
                ms = headers.get("retry-after-ms")
                if ms is not None:
                    return float(ms) / 1000
                seconds = headers.get("retry-after")
                if seconds is not None:
                    return float(seconds)
            except (TypeError, ValueError):
                return None
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return None


def _next(exc: BaseException, attempt: int, attempts: int, backoff: Backoff) -> Retry | None:
    if attempt >= attempts:
        return None
    reason = retry_reason(exc)
    if reason is None:
        return None
    return Retry(reason, attempt, attempts - 1, backoff.delay(attempt, _retry_after(exc)))


def call_with_retries(
    fn: Callable[[], T],
    *,
    attempts: int = DEFAULT_ATTEMPTS,
    backoff: Backoff | None = None,
    on_retry: OnRetry | None = None,
) -> T:
    """``fn()``, retried on the failures that deserve it; each retry announced first."""
    backoff = backoff or Backoff()
    attempt = 1
    while True:
        try:
            return fn()
        except Exception as exc:
            retry = _next(exc, attempt, attempts, backoff)
            if retry is None:
                raise
        if on_retry is not None:
            on_retry(retry)
        time.sleep(retry.delay)
        attempt += 1


async def acall_with_retries(
    fn: Callable[[], Awaitable[T]],
    *,
    attempts: int = DEFAULT_ATTEMPTS,
    backoff: Backoff | None = None,
    on_retry: OnRetry | None = None,
) -> T:
    """The async twin of :func:`call_with_retries` (the wait does not block the loop)."""
    backoff = backoff or Backoff()
    attempt = 1
    while True:
        try:
            return await fn()
        except Exception as exc:
            retry = _next(exc, attempt, attempts, backoff)
            if retry is None:
                raise
        if on_retry is not None:
            on_retry(retry)
        import asyncio

        await asyncio.sleep(retry.delay)
        attempt += 1


def stream_with_retries(
    open_stream: Callable[[], Iterator[T]],
    *,
    attempts: int = DEFAULT_ATTEMPTS,
    backoff: Backoff | None = None,
    on_retry: OnRetry | None = None,
) -> Iterator[T]:
    """Chunks of ``open_stream()``; a stream that fails before its first chunk starts again."""
    backoff = backoff or Backoff()
    attempt = 1
    while True:
        started = False
        try:
            for chunk in open_stream():
                started = True
                yield chunk
            return
        except Exception as exc:
            retry = None if started else _next(exc, attempt, attempts, backoff)
            if retry is None:
                raise
        if on_retry is not None:
            on_retry(retry)
        time.sleep(retry.delay)
        attempt += 1


async def astream_with_retries(
    open_stream: Callable[[], AsyncIterator[T]],
    *,
    attempts: int = DEFAULT_ATTEMPTS,
    backoff: Backoff | None = None,
    on_retry: OnRetry | None = None,
) -> AsyncIterator[T]:
    """The async twin of :func:`stream_with_retries`."""
    backoff = backoff or Backoff()
    attempt = 1
    while True:
        started = False
        try:
            async for chunk in open_stream():
                started = True
                yield chunk
            return
        except Exception as exc:
            retry = None if started else _next(exc, attempt, attempts, backoff)
            if retry is None:
                raise
        if on_retry is not None:
            on_retry(retry)
        import asyncio

        await asyncio.sleep(retry.delay)
        attempt += 1
