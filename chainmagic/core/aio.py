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
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from chainmagic.core import pool

__all__ = ["in_thread", "run_sync"]

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
    """Await a blocking function run on the shared pool (cancelling abandons it)."""
    import asyncio

    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def task() -> None:
        try:
            result = fn()
        except BaseException as exc:
            _settle(loop, future, None, exc)
        else:
            _settle(loop, future, result, None)

    pool.spawn(task)
    return await future


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
