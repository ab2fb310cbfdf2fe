"""RunnableParallel: every branch gets the same input, all run at once; the output is a dict.

Sync branches run on the shared pool (see :mod:`chainmagic.core.pool`), async ones as tasks. The
first failure surfaces at once: async siblings are cancelled, sync ones abandoned, and the raised
exception (the branch's own) carries the finished siblings' results in ``.chain_partial``. Streams yield
``{key: chunk}`` as chunks arrive from any branch.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from functools import partial
from queue import SimpleQueue
from typing import Any

from chainmagic.core import pool
from chainmagic.core.calls import (
    aaccumulate,
    acall,
    accumulate,
    add,
    astream_call,
    call,
    stream_call,
)
from chainmagic.core.events import Limiter, Run
from chainmagic.core.runnable import Runnable, coerce

__all__ = ["RunnableMap", "RunnableParallel", "gather"]

_MISSING: Any = object()


class RunnableParallel(Runnable):
    """A map of named branches, from a dict or keywords: ``RunnableParallel(joke=a, poem=b)``."""

    composite = True

    def __init__(self, steps: Mapping[str, Any] | None = None, /, **kwargs: Any) -> None:
        merged = {**(steps or {}), **kwargs}
        self.steps: dict[str, Runnable] = {str(k): coerce(v) for k, v in merged.items()}
        self._keys = tuple(self.steps)
        self._branches = tuple(self.steps.values())
        self._hints = [branch.inline for branch in self._branches]
        self.inline = all(self._hints)

    def _default_name(self) -> str:
        return f"RunnableParallel<{','.join(self._keys)}>"

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}: {v!r}" for k, v in self.steps.items())
        return self.label or "{" + inner + "}"

    def _invoke(self, input: Any, run: Run | None) -> Any:
        keys = self._keys
        thunks = [partial(call, b, input, run, k) for k, b in zip(keys, self._branches)]
        group = pool.run_parallel(thunks, self._hints, run.limiter if run else None)
        hints, seconds = self._hints, group.seconds
        if group.error is None:
            for i, s in enumerate(seconds):
                hints[i] = s < pool.FAST
            return dict(zip(keys, group.results))
        finished = group.finished()
        for i in finished:
            hints[i] = seconds[i] < pool.FAST
        raise _with_partial(group.error, {keys[i]: r for i, r in finished.items()})

    async def _ainvoke(self, input: Any, run: Run | None) -> Any:
        keys = self._keys
        if self.inline:
            return {k: call(b, input, run, k) for k, b in zip(keys, self._branches)}
        factories = [partial(acall, b, input, run, k) for k, b in zip(keys, self._branches)]
        results, error, finished = await gather(factories, run.limiter if run else None)
        if error is not None:
            raise _with_partial(error, {keys[i]: r for i, r in finished.items()})
        return dict(zip(keys, results))

    def _stream(self, input: Any, run: Run | None) -> Iterator[Any]:
        """Branches stream on pool threads into one queue; chunks leave in arrival order.

        Under ``max_concurrency`` only as many pumps as there are free slots, plus the one the caller
        lends while it waits here, drain the branches, one after another.
        """
        keys, branches = self._keys, self._branches
        queue: SimpleQueue[tuple[int, int, Any]] = SimpleQueue()
        stop = threading.Event()
        todo = deque(range(len(keys)))
        limiter = run.limiter if run else None
        slots = limiter.take(max(len(keys) - 1, 0)) if limiter is not None else 0

        def pump(slot: bool) -> None:
            try:
                while not stop.is_set():
                    try:
                        i = todo.popleft()
                    except IndexError:
                        return
                    try:
                        for chunk in stream_call(branches[i], iter((input,)), run, keys[i]):
                            if stop.is_set():
                                return
                            queue.put((i, 0, chunk))
                    except BaseException as exc:
                        queue.put((i, 2, exc))
                        return
                    queue.put((i, 1, None))
            finally:
                if slot:
                    limiter.give()  # type: ignore[union-attr]

        for p in range(len(keys) if limiter is None else slots + 1):
            pool.spawn(partial(pump, 0 < p <= slots))
        finals: dict[int, Any] = {}
        pending = len(keys)
        try:
            while pending:
                i, kind, item = queue.get()
                if kind == 0:
                    finals[i] = item if i not in finals else add(finals[i], item)
                    yield {keys[i]: item}
                elif kind == 1:
                    pending -= 1
                else:
                    done = {keys[j]: v for j, v in finals.items() if j != i}
                    raise _with_partial(item, done)
        finally:
            stop.set()

    async def _astream(self, input: Any, run: Run | None) -> AsyncIterator[Any]:
        import asyncio

        keys, branches = self._keys, self._branches
        queue: asyncio.Queue[tuple[int, int, Any]] = asyncio.Queue()
        todo = deque(range(len(keys)))
        limiter = run.limiter if run else None
        slots = limiter.take(max(len(keys) - 1, 0)) if limiter is not None else 0

        async def pump(slot: bool) -> None:
            try:
                while todo:
                    i = todo.popleft()
                    try:
                        async for chunk in astream_call(branches[i], _one(input), run, keys[i]):
                            queue.put_nowait((i, 0, chunk))
                    except Exception as exc:
                        queue.put_nowait((i, 2, exc))
                        return
                    queue.put_nowait((i, 1, None))
            finally:
                if slot:
                    limiter.give()  # type: ignore[union-attr]

        count = len(keys) if limiter is None else slots + 1
        tasks = [asyncio.ensure_future(pump(0 < p <= slots)) for p in range(count)]
        finals: dict[int, Any] = {}
        pending = len(keys)
        try:
            while pending:
                i, kind, item = await queue.get()
                if kind == 0:
                    finals[i] = item if i not in finals else add(finals[i], item)
                    yield {keys[i]: item}
                elif kind == 1:
                    pending -= 1
                else:
                    done = {keys[j]: v for j, v in finals.items() if j != i}
                    raise _with_partial(item, done)
        finally:
            left = [task for task in tasks if not task.done()]
            for task in left:
                task.cancel()
            if left:  # siblings have seen their cancellation by the time the error surfaces
                await asyncio.wait(left)

    def _transform(self, chunks: Iterator[Any], run: Run | None) -> Iterator[Any]:

        return self._stream(accumulate(chunks), run)

    async def _atransform(self, chunks: AsyncIterator[Any], run: Run | None) -> AsyncIterator[Any]:

        async for chunk in self._astream(await aaccumulate(chunks), run):
            yield chunk


RunnableMap = RunnableParallel


async def gather(
    factories: Sequence[Callable[[], Awaitable[Any]]], limiter: Limiter | None
) -> tuple[list[Any], BaseException | None, dict[int, Any]]:
    """Await every factory's coroutine concurrently, failing fast.

    Returns ``(results, error, finished)``: on the first error the unfinished ones are cancelled.
    With a limiter, only as many tasks as there are free slots (plus this one) drain the work, so a
    single bound holds across nesting levels without deadlock.
    """
    import asyncio

    n = len(factories)
    results: list[Any] = [_MISSING] * n
    if n == 0:
        return results, None, {}
    if n == 1:
        try:
            results[0] = await factories[0]()
        except Exception as err:
            return results, err, {}
        return results, None, {0: results[0]}
    todo = deque(range(n))
    extra = n - 1 if limiter is None else limiter.take(n - 1)

    async def drain() -> None:
        while todo:
            i = todo.popleft()
            results[i] = await factories[i]()

    tasks = [asyncio.ensure_future(drain()) for _ in range(extra + 1)]
    try:
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    except BaseException:
        for task in tasks:
            task.cancel()
        raise
    finally:
        if limiter is not None:
            limiter.give(extra)
    error: BaseException | None = None
    for task in done:
        if not task.cancelled() and task.exception() is not None and error is None:
            error = task.exception()
    if error is not None:
        todo.clear()
        for task in pending:
            task.cancel()
        if pending:  # siblings have seen their cancellation by the time the error surfaces
            await asyncio.wait(pending)
    finished = {i: r for i, r in enumerate(results) if r is not _MISSING}
    return results, error, finished


def _with_partial(error: BaseException, finished: dict[str, Any]) -> BaseException:
    """Attach the finished siblings' results to ``error`` (the innermost map's, if nested)."""
    state = error.__dict__
    if not state.get("chain_partial"):
        state["chain_partial"] = finished
    return error


async def _one(item: Any) -> AsyncIterator[Any]:
    yield item
