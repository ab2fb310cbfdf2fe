"""Bridges between sync and async code.

Sync code sometimes has to run a coroutine (an async-only step invoked with ``invoke``), and async
code has to run blocking functions without stalling its loop. Inside Jupyter an event loop is already
running in the main thread, so ``asyncio.run`` there is impossible: such coroutines run on a pool
thread with a loop of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from chainmagic.core import pool

__all__ = ["in_thread", "run_sync"]

T = TypeVar("T")


def run_sync(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run the coroutine made by ``factory`` to completion from sync code, wherever that is."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    return pool.submit(lambda: asyncio.run(factory())).result()


async def in_thread(fn: Callable[[], T]) -> T:
    """Await a blocking function run on the shared pool (cancelling abandons it)."""
    return await asyncio.wrap_future(pool.submit(fn))
