"""Steps that wrap another: settings (``with_config``), retries and fallbacks.

A wrapper takes its inner step's place in paths (``map_chain › poem › model`` stays the same with
or without a retry around the model) unless it is given a ``run_name`` of its own.
"""

from __future__ import annotations

import copy
import random
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

from chainmagic.core.calls import forget
from chainmagic.core.events import Limiter, Run
from chainmagic.core.runnable import Config, Runnable, coerce

__all__ = ["RunnableBinding", "RunnableRetry", "RunnableWithFallbacks"]


class _Wrapper(Runnable):
    bound: Runnable

    @property
    def segment(self) -> str | None:
        return self.label or self.bound.segment

    def _default_name(self) -> str:
        return self.bound.name

    def __repr__(self) -> str:
        return self.label or repr(self.bound)


class RunnableBinding(_Wrapper):
    """A step with settings: ``run_name`` (its label), ``tags``, ``max_concurrency``, listeners."""

    config: dict[str, Any]

    def __init__(self, bound: Runnable, config: Mapping[str, Any]) -> None:
        if isinstance(bound, RunnableBinding):  # settings on settings: one wrapper, merged
            config = {**bound.config, **config}
            bound = bound.bound
        self.bound = bound
        self.config = dict(config)
        self.label = self.config.get("run_name") or None
        self.inline = bound.inline
        self.composite = bound.composite  # type: ignore[misc]

    def _run(self, run: Run | None) -> Run | None:
        config = self.config
        limit = config.get("max_concurrency")
        listener = config.get("listener")
        tags = tuple(config.get("tags") or ())
        if not (limit or listener or tags):
            return run
        if run is None:
            return Run(listener, Limiter(int(limit)) if limit else None, (), tags)
        # An enclosing run's bound stays the one global bound.
        return Run(run.listener or listener, run.limiter, run.path, (*run.tags, *tags))

    def _with_kwargs(self, kwargs: dict[str, Any]) -> Runnable:
        return RunnableBinding(self.bound._with_kwargs(kwargs), self.config)

    def _invoke(self, input: Any, run: Run | None) -> Any:
        return self.bound._invoke(input, self._run(run))

    async def _ainvoke(self, input: Any, run: Run | None) -> Any:
        return await self.bound._ainvoke(input, self._run(run))

    def _transform(self, chunks: Iterator[Any], run: Run | None) -> Iterator[Any]:
        return self.bound._transform(chunks, self._run(run))

    def _atransform(self, chunks: AsyncIterator[Any], run: Run | None) -> AsyncIterator[Any]:
        return self.bound._atransform(chunks, self._run(run))


class RunnableRetry(_Wrapper):
    """Retries its step on chosen failures, with capped exponential backoff (jitter optional)."""

    def __init__(
        self,
        bound: Runnable,
        *,
        retry_on: tuple[type[BaseException], ...] = (Exception,),
        attempts: int = 3,
        backoff: float = 0.1,
        factor: float = 2.0,
        max_backoff: float = 5.0,
        jitter: float = 0.0,
        jitter_seconds: float = 0.0,
    ) -> None:
        if attempts < 1:
            raise ValueError(f"stop_after_attempt must be at least 1, got {attempts}")
        self.bound = bound
        self.retry_on = retry_on
        self.attempts = attempts
        self.backoff = backoff
        self.factor = factor
        self.max_backoff = max_backoff
        self.jitter = jitter
        self.jitter_seconds = jitter_seconds

    def wait(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        seconds = min(self.backoff * self.factor ** (attempt - 1), self.max_backoff)
        if self.jitter:
            seconds *= 1 + random.uniform(-self.jitter, self.jitter)
        if self.jitter_seconds:
            seconds += random.uniform(0, self.jitter_seconds)
        return max(seconds, 0.0)

    def _retryable(self, exc: Exception, attempt: int) -> bool:
        if attempt < self.attempts and isinstance(exc, self.retry_on):
            forget(exc)
            return True
        return False

    def _invoke(self, input: Any, run: Run | None) -> Any:
        attempt = 1
        while True:
            try:
                return self.bound._invoke(input, run)
            except Exception as exc:
                if not self._retryable(exc, attempt):
                    raise
            time.sleep(self.wait(attempt))
            attempt += 1

    async def _ainvoke(self, input: Any, run: Run | None) -> Any:
        attempt = 1
        while True:
            try:
                return await self.bound._ainvoke(input, run)
            except Exception as exc:
                if not self._retryable(exc, attempt):
                    raise
            await _sleep(self.wait(attempt))
            attempt += 1

    def _stream(self, input: Any, run: Run | None) -> Iterator[Any]:
        """Retries only while nothing has been yielded: a half-sent answer is never repeated."""
        attempt = 1
        while True:
            started = False
            try:
                for chunk in self.bound._stream(input, run):
                    started = True
                    yield chunk
                return
            except Exception as exc:
                if started or not self._retryable(exc, attempt):
                    raise
            time.sleep(self.wait(attempt))
            attempt += 1

    async def _astream(self, input: Any, run: Run | None) -> AsyncIterator[Any]:
        attempt = 1
        while True:
            started = False
            try:
                async for chunk in self.bound._astream(input, run):
                    started = True
                    yield chunk
                return
            except Exception as exc:
                if started or not self._retryable(exc, attempt):
                    raise
            await _sleep(self.wait(attempt))
            attempt += 1


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


class RunnableWithFallbacks(_Wrapper):
    """Its step, or else each fallback in turn; when all fail, the first failure is raised.

    Only ``exceptions_to_handle`` move on to the next fallback; anything else is raised at once.
    With ``exception_key`` the input must be a dict, and each fallback gets it with the previous
    failure under that key. Streaming uses the first runnable that yields a chunk without failing;
    once a chunk is out, a failure is the caller's (an answer is never spliced from two models).
    """

    def __init__(
        self,
        bound: Runnable,
        fallbacks: Sequence[Any],
        exceptions_to_handle: tuple[type[BaseException], ...] = (Exception,),
        exception_key: str | None = None,
    ) -> None:
        self.bound = bound
        self.fallbacks = tuple(coerce(f) for f in fallbacks)
        self.handles = exceptions_to_handle
        self.exception_key = exception_key
        self._last_error_wins = False

    @property
    def runnable(self) -> Runnable:
        return self.bound

    @property
    def runnables(self) -> Iterator[Runnable]:
        yield self.bound
        yield from self.fallbacks

    def _input(self, input: Any, last: BaseException | None) -> Any:
        key = self.exception_key
        if key is None:
            return input
        if not isinstance(input, dict):
            raise ValueError(
                f"with exception_key the input must be a dict, got {type(input).__name__}"
            )
        return input if last is None else {**input, key: last}

    def _invoke(self, input: Any, run: Run | None) -> Any:
        errors: list[BaseException] = []
        for step in self.runnables:
            try:
                output = step._invoke(self._input(input, errors[-1] if errors else None), run)
            except self.handles as exc:
                errors.append(exc)
                continue
            self._give_up(errors, None)
            return output
        raise self._give_up(errors, self._last_error_wins)

    async def _ainvoke(self, input: Any, run: Run | None) -> Any:
        errors: list[BaseException] = []
        for step in self.runnables:
            try:
                output = await step._ainvoke(
                    self._input(input, errors[-1] if errors else None), run
                )
            except self.handles as exc:
                errors.append(exc)
                continue
            self._give_up(errors, None)
            return output
        raise self._give_up(errors, self._last_error_wins)

    @staticmethod
    def _give_up(errors: list[BaseException], last: bool | None) -> BaseException:
        """The failure to raise (the first, or with ``last`` the last); the others are settled."""
        chosen = errors[-1] if last else errors[0] if last is not None else None
        for error in errors:
            if error is not chosen:
                forget(error)
        return chosen  # type: ignore[return-value]

    def batch(
        self,
        inputs: Sequence[Any],
        config: Config | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Any]:
        """As :meth:`Runnable.batch`, but an input that fails everywhere reports its *last* failure.

        That is LCEL's rule for batches (invoke and stream report the first): with
        ``exception_key`` the last failure is the one every earlier failure led to.
        """
        twin = self._last_wins()
        try:
            return Runnable.batch(
                twin, inputs, config, return_exceptions=return_exceptions, **kwargs
            )
        finally:
            self._hint = twin._hint  # what the batch learnt about its items' speed

    async def abatch(
        self,
        inputs: Sequence[Any],
        config: Config | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Any]:
        """Async twin of :meth:`batch`."""
        return await Runnable.abatch(
            self._last_wins(), inputs, config, return_exceptions=return_exceptions, **kwargs
        )

    def _last_wins(self) -> RunnableWithFallbacks:
        twin = copy.copy(self)
        twin._last_error_wins = True
        return twin

    def _stream(self, input: Any, run: Run | None) -> Iterator[Any]:
        first: BaseException | None = None
        last: BaseException | None = None
        for step in self.runnables:
            chunks = step._stream(self._input(input, last), run)
            try:
                head = next(iter(chunks), _END)
            except self.handles as exc:
                if first is not None:
                    forget(exc)
                first, last = first or exc, exc
                continue
            _settled(first)
            if head is not _END:
                yield head
                yield from chunks
            return
        assert first is not None
        raise first

    async def _astream(self, input: Any, run: Run | None) -> AsyncIterator[Any]:
        first: BaseException | None = None
        last: BaseException | None = None
        for step in self.runnables:
            chunks = aiter(step._astream(self._input(input, last), run))
            try:
                head = await anext(chunks, _END)
            except self.handles as exc:
                if first is not None:
                    forget(exc)
                first, last = first or exc, exc
                continue
            _settled(first)
            if head is not _END:
                yield head
                async for chunk in chunks:
                    yield chunk
            return
        assert first is not None
        raise first


_END: Any = object()


def _settled(error: BaseException | None) -> None:
    if error is not None:
        forget(error)
