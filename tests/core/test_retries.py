"""Retries: what is retried, how long each wait is, that every retry is announced, streams too."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from chainmagic.core.retries import (
    Backoff,
    Retry,
    acall_with_retries,
    astream_with_retries,
    call_with_retries,
    retry_reason,
    stream_with_retries,
)
from chainmagic.errors import ModelError

FAST = Backoff(base=0.001, cap=0.002, jitter=0.0)


class StatusError(Exception):
    def __init__(self, status: int, retry_after: str | None = None) -> None:
        super().__init__(f"status {status}")
        self.status_code = status
        self.response = type(
            "R", (), {"headers": {"retry-after": retry_after} if retry_after else {}}
        )()


class APIConnectionError(Exception):
    pass


class APITimeoutError(APIConnectionError):
    pass


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (StatusError(429), "429"),
        (StatusError(503), "503"),
        (StatusError(400), None),
        (StatusError(401), None),
        (APIConnectionError("refused"), "connection error"),
        (APITimeoutError("slow"), None),  # a timeout is not retried
        (ValueError("bad"), None),
    ],
)
def test_what_is_retried(exc: Exception, reason: str | None) -> None:
    assert retry_reason(exc) == reason


def test_a_model_error_is_retried_for_its_cause() -> None:
    try:
        try:
            raise StatusError(429)
        except StatusError as cause:
            raise ModelError("rate limited", status=429) from cause
    except ModelError as exc:
        assert retry_reason(exc) == "429"
    dropped = ModelError("the stream ended before its first token")
    dropped.retry_reason = "dropped stream"  # type: ignore[attr-defined]
    assert retry_reason(dropped) == "dropped stream"


def test_backoff_grows_is_capped_and_honours_retry_after() -> None:
    backoff = Backoff(base=0.5, cap=4.0, jitter=0.0, retry_after_cap=20.0)
    assert [backoff.delay(n) for n in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert backoff.delay(1, 3.0) == 3.0
    assert backoff.delay(1, 500.0) == 20.0


def flaky(failures: list[Exception]) -> Any:
    calls = []

    def fn() -> str:
        calls.append(1)
        if failures:
            raise failures.pop(0)
        return "ok"

    return fn, calls


def test_retries_are_announced_before_they_happen() -> None:
    fn, calls = flaky([StatusError(429), StatusError(503)])
    seen: list[Retry] = []
    assert call_with_retries(fn, backoff=FAST, on_retry=seen.append) == "ok"
    assert [str(r) for r in seen] == ["retrying after 429, 1/2", "retrying after 503, 2/2"]
    assert len(calls) == 3


def test_the_last_failure_is_raised_as_itself() -> None:
    fn, calls = flaky([StatusError(429)] * 5)
    with pytest.raises(StatusError):
        call_with_retries(fn, attempts=3, backoff=FAST)
    assert len(calls) == 3


def test_what_is_not_retried_fails_at_once() -> None:
    fn, calls = flaky([StatusError(400)])
    with pytest.raises(StatusError):
        call_with_retries(fn, backoff=FAST)
    assert len(calls) == 1


async def test_async_twin() -> None:
    fails = [APIConnectionError("refused")]

    async def fn() -> str:
        if fails:
            raise fails.pop()
        return "ok"

    seen: list[Retry] = []
    assert await acall_with_retries(fn, backoff=FAST, on_retry=seen.append) == "ok"
    assert [r.reason for r in seen] == ["connection error"]


def test_a_stream_dropped_before_its_first_chunk_starts_again() -> None:
    opened = []

    def open_stream() -> Iterator[str]:
        opened.append(1)
        if len(opened) == 1:
            raise APIConnectionError("dropped")
        yield from ["a", "b"]

    assert list(stream_with_retries(open_stream, backoff=FAST)) == ["a", "b"]
    assert len(opened) == 2


def test_a_stream_dropped_after_a_chunk_is_not_retried() -> None:
    def open_stream() -> Iterator[str]:
        yield "a"
        raise APIConnectionError("dropped")

    got: list[str] = []
    with pytest.raises(APIConnectionError):
        for chunk in stream_with_retries(open_stream, backoff=FAST):
            got.append(chunk)
    assert got == ["a"]  # nothing shown twice


async def test_async_stream_twin() -> None:
    opened = []

    async def open_stream() -> AsyncIterator[str]:
        opened.append(1)
        if len(opened) < 3:
            raise StatusError(502)
        yield "x"

    seen: list[Retry] = []
    assert [
        c async for c in astream_with_retries(open_stream, backoff=FAST, on_retry=seen.append)
    ] == ["x"]
    assert [str(r) for r in seen] == ["retrying after 502, 1/2", "retrying after 502, 2/2"]
