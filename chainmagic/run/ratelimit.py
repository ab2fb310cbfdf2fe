"""One rate limit per model, shared by every worker of a distributed batch.

Each worker paces its own calls only if it knows what the others do, so the count lives on the
Dask scheduler: a named ``distributed.Semaphore`` with one lease per request allowed in a window.
A call takes a lease before it starts and gives it back one window later (not when it ends), so
at most ``requests_per_second × window`` calls start in any window, across all workers, whatever
their latency. The scheduler holds the leases, so the limit outlives a worker that dies; a dead
worker's leases expire with Dask's lease timeout.

Retries stay the model client's (openai honours ``Retry-After``), as in a local run: the limit
keeps the first attempts under the server's rate, so 429s stay the exception.
"""

from __future__ import annotations

import asyncio
import math
import queue
import threading
from collections.abc import Mapping
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
    """``acquire()``/``aacquire()`` on a scheduler-held semaphore; leases return after a window.

    Built inside a Dask task (it finds its worker there); usable from any thread of the worker.
    """

    def __init__(self, model: str, limit: RateLimit) -> None:
        from distributed import Semaphore

        self.model = model
        self.limit = limit
        self._semaphore = Semaphore(
            max_leases=limit.leases, name=f"chainmagic-rate-{model}-{limit.leases}"
        )
        self._due: queue.SimpleQueue[float] = queue.SimpleQueue()
        threading.Thread(target=self._give_back, name="chainmagic-rate", daemon=True).start()

    def acquire(self) -> None:
        self._semaphore.acquire()
        self._due.put(monotonic() + self.limit.window)

    async def aacquire(self) -> None:
        # The semaphore's calls block on the worker's own loop; this loop must keep running.
        await asyncio.to_thread(self.acquire)

    def _give_back(self) -> None:
        while True:
            due = self._due.get()  # leases were taken in this order, one window apart at most
            wait = due - monotonic()
            if wait > 0:
                sleep(wait)
            try:
                self._semaphore.release()
            except Exception:  # the worker is closing: its leases expire on the scheduler
                return


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
