"""Bridges between sync and async code.

Sync code sometimes has to run a coroutine (an async-only step invoked with ``invoke``), and async
code has to run blocking functions without stalling its loop. Inside Jupyter an event loop is already
running in the main thread, so ``asyncio.run`` there is impossible: such coroutines run on a pool
thread with a loop of its own.

``asyncio`` is imported inside the functions: it costs ~20 ms to import, and any code that awaits
has already paid for it.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from queue import SimpleQueue
from typing import Any, TypeVar

from chainmagic.core import pool

__all__ = ["in_thread", "run_sync", "transform_in_thread"]

T = TypeVar("T")


def run_sync(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run the coroutine made by ``factory`` to completion from sync code, wherever that is."""
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    done = threading.Event()
    outcome: list[Any] = []

    def task() -> None:
        try:
            outcome.append((True, asyncio.run(factory())))
        except BaseException as exc:
            outcome.append((False, exc))
        done.set()

    pool.spawn(task)
    done.wait()
    ok, value = outcome[0]
    if not ok:
        raise value
    return value


async def in_thread(fn: Callable[[], T]) -> T:
    """Await a blocking function run on the shared pool.

    Cancelling does not wait for it: the thread is told (its :class:`~pool.CancelToken`), finishes
    the call it is in, and starts no further step.
    """
    import asyncio

    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()
    token = pool.CancelToken(pool.current_token())

    def task() -> None:
        try:
            with pool.using_token(token):
                result = fn()
        except BaseException as exc:
            _settle(loop, future, None, exc)
        else:
            _settle(loop, future, result, None)

    pool.spawn(task)
    try:
        return await future
    except asyncio.CancelledError:
        token.cancel()  # the thread ends its current call and starts no other step
        raise


def _settle(loop: Any, future: Any, result: Any, error: BaseException | None) -> None:
    def apply() -> None:
        if future.done():
            return
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)

    try:
        loop.call_soon_threadsafe(apply)
    except RuntimeError:  # the loop closed while the function ran: nobody is waiting
        pass


class _Failure:
    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


_END: Any = object()


async def transform_in_thread(
    transform: Callable[[Iterator[Any]], Iterator[Any]], chunks: AsyncIterator[Any]
) -> AsyncIterator[Any]:
    """Run a sync generator over an async stream on a pool thread, streaming both ways.

    Input chunks are handed to the thread as they arrive and output chunks come back as they are
    made, so a sync step in an async chain does not turn a token stream into one lump. An upstream
    failure reaches the generator as that same exception; closing the stream abandons the thread.
    """
    import asyncio

    loop = asyncio.get_running_loop()
    inbox: SimpleQueue[Any] = SimpleQueue()
    outbox: asyncio.Queue[tuple[int, Any]] = asyncio.Queue()
    stop = threading.Event()

    def post(message: tuple[int, Any]) -> None:
        try:
            loop.call_soon_threadsafe(outbox.put_nowait, message)
        except RuntimeError:  # the loop is gone: nobody is reading any more
            stop.set()

    def source() -> Iterator[Any]:
        while True:
            item = inbox.get()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item

    def pump() -> None:
        try:
            for chunk in transform(source()):
                if stop.is_set():
                    return
                post((0, chunk))
        except BaseException as exc:
            post((2, exc))
        else:
            post((1, None))

    async def feed() -> None:
        try:
            async for chunk in chunks:
                inbox.put(chunk)
        except BaseException as exc:  # handed to the generator, which raises it on our side
            inbox.put(_Failure(exc))
        finally:
            inbox.put(_END)

    pool.spawn(pump)
    feeder = asyncio.ensure_future(feed())
    try:
        while True:
            kind, item = await outbox.get()
            if kind == 0:
                yield item
            elif kind == 1:
                return
            else:
                raise item
    finally:
        stop.set()
        feeder.cancel()
        inbox.put(_END)
