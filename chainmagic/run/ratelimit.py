"""One rate limit per model, shared by every worker of a distributed batch.

Each worker paces its own calls only if it knows what the others do, so the count lives on the
Dask scheduler: a named ``distributed.Semaphore`` with one lease per request allowed in a window.
A call takes a lease before it is sent and gives it back one window after its answer came (not
when it started): every request that reaches the server within a window still holds its lease at
the window's end, so no window of the server's clock sees more than ``requests_per_second ×
window`` arrivals, however late a busy worker sends what it acquired. The price is throughput:
a model with latency ``L`` gets at most ``leases / (L + window)`` calls per second. The scheduler
holds the leases, so the limit outlives a worker that dies; a dead worker's leases expire with
Dask's lease timeout.

Retries stay the model client's (openai honours ``Retry-After``), as in a local run, inside the
call's lease: the limit keeps the requests under the server's rate, so 429s stay the exception.
"""

from __future__ import annotations

import asyncio
import math
import queue
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from time import monotonic, sleep
from typing import Any

__all__ = ["RateLimit", "SharedRateLimiter", "limits_for", "shared_limiter"]


@dataclass(frozen=True)
class RateLimit:
    """Requests per second allowed to one model, counted over ``window`` seconds."""

    requests_per_second: float
    window: float = 1.0

    def __post_init__(self) -> None:
        if not self.requests_per_second > 0:
            raise ValueError("requests_per_second must be positive")
        if not self.window > 0:
            raise ValueError("window must be positive")

    @property
    def leases(self) -> int:
        """Calls allowed to start in one window."""
        return max(1, math.floor(self.requests_per_second * self.window))


def limits_for(
    limit: RateLimit | float | Mapping[str, RateLimit | float] | None,
) -> dict[str, RateLimit]:
    """A user's ``rate_limit=`` as ``{model name or "*": RateLimit}`` (a number: requests/s)."""
    if limit is None:
        return {}
    if isinstance(limit, Mapping):
        return {str(k): _one(v) for k, v in limit.items()}
    return {"*": _one(limit)}


def _one(limit: RateLimit | float) -> RateLimit:
    return limit if isinstance(limit, RateLimit) else RateLimit(float(limit))


class SharedRateLimiter:
    """``acquire()``/``aacquire()`` and ``release()`` on a scheduler-held semaphore.

    Built inside a Dask task (it finds its worker there); usable from any thread of the worker.
    Leases go back one window after :meth:`release`, from a thread of their own.
    """

    def __init__(self, model: str, limit: RateLimit) -> None:
        from distributed import Semaphore

        self.model = model
        self.limit = limit
        name = f"chainmagic-rate-{model}-{limit.leases}"
        self._semaphore = Semaphore(max_leases=limit.leases, name=name)
        # Waiting for a lease blocks a thread (the semaphore's calls run on the worker's loop):
        # enough threads that every call of a partition can wait at once.
        self._waiters = ThreadPoolExecutor(64, thread_name_prefix="chainmagic-rate")
        self._givers = ThreadPoolExecutor(8, thread_name_prefix="chainmagic-rate-back")
        self._due: queue.SimpleQueue[float] = queue.SimpleQueue()
        threading.Thread(target=self._give_back, name="chainmagic-rate", daemon=True).start()

    def acquire(self) -> None:
        self._semaphore.acquire()

    async def aacquire(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._waiters, self.acquire)

    def release(self) -> None:
        self._due.put(monotonic() + self.limit.window)

    def _give_back(self) -> None:
        while True:
            due = self._due.get()  # in release order, each one window after its call ended
            wait = due - monotonic()
            if wait > 0:
                sleep(wait)
            try:
                self._givers.submit(self._release_one)
            except RuntimeError:  # the process is shutting down: leases expire on the scheduler
                return

    def _release_one(self) -> None:
        try:
            self._semaphore.release()
        except Exception:  # the worker is closing: its leases expire on the scheduler
            pass


_limiters: dict[tuple[str, RateLimit], SharedRateLimiter] = {}
_limiters_lock = threading.Lock()


def shared_limiter(model: str, limits: Mapping[str, RateLimit]) -> SharedRateLimiter | None:
    """The process's limiter for ``model`` under ``limits`` (its own entry, else ``"*"``)."""
    limit = limits.get(model) or limits.get("*")
    if limit is None:
        return None
    with _limiters_lock:
        limiter = _limiters.get((model, limit))
        if limiter is None:
            limiter = _limiters[model, limit] = SharedRateLimiter(model, limit)
        return limiter


def pace(chain: Any, limits: Mapping[str, RateLimit]) -> int:
    """Give every chat model in ``chain`` its shared limiter; return how many were paced."""
    from chainmagic.core.models.base import BaseChatModel
    from chainmagic.run.shipping import steps_of

    paced, seen, todo = 0, set(), [chain]
    while todo:
        step = todo.pop()
        if id(step) in seen:
            continue
        seen.add(id(step))
        if isinstance(step, BaseChatModel):
            limiter = shared_limiter(step.model_name, limits)
            if limiter is not None:
                step.rate_limiter = limiter
                paced += 1
        todo.extend(child for _, child in steps_of(step))
    return paced
