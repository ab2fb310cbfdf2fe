"""One rate limit per model, shared by every worker of a distributed batch.

Each worker paces its own calls only if it knows what the others do, so the counts live on the
Dask scheduler. Two budgets, each optional:

- **requests/s**: a named ``distributed.Semaphore`` with one lease per request allowed in a
  window. A call takes a lease before it is sent and gives it back one window after its answer
  came (not when it started): every request that reaches the server within a window still holds
  its lease at the window's end, so no window of the server's clock sees more than
  ``requests_per_second × window`` arrivals, however late a busy worker sends what it acquired.
- **tokens/min**: a :class:`TokenLedger` on the scheduler (:mod:`chainmagic.run.dask_tokens`).
  Before a call, its tokens are *estimated* (:func:`estimate_tokens`: the prompt's size plus the
  model's ``max_tokens``) and reserved; after it, the reservation is *settled* with the usage
  the server reported, and kept one ``token_window`` past the answer, for the same reason as
  the leases above. A call waits while its estimate does not fit in what the window has left.

The price is throughput: a model with latency ``L`` gets at most ``leases / (L + window)`` calls
per second. The scheduler holds both budgets, so the limit outlives a worker that dies; a dead
worker's leases expire with Dask's lease timeout, its reservations after :data:`HOLD_LIMIT`.

Retries stay the model's, as in a local run (honouring ``Retry-After``), each attempt with its own
lease and reservation: the limit keeps the requests under the server's rate, so 429s stay the
exception.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from time import monotonic, sleep
from typing import Any

__all__ = [
    "ModelPace",
    "RateLimit",
    "SharedRateLimiter",
    "TokenLedger",
    "estimate_tokens",
    "limits_for",
    "shared_limiter",
    "used_tokens",
]

# Completion tokens assumed for a model without ``max_tokens`` (settled with the real usage after).
DEFAULT_COMPLETION_TOKENS = 256
MESSAGE_OVERHEAD = 4  # tokens a chat format adds around each message
HOLD_LIMIT = 600.0  # seconds a reservation lasts without being settled (its worker died)


@dataclass(frozen=True)
class RateLimit:
    """What one model may use: requests per second (over ``window`` seconds) and/or tokens per
    minute (over ``token_window`` seconds; a minute by default, as providers count them)."""

    requests_per_second: float | None = None
    window: float = 1.0
    tokens_per_minute: float | None = None
    token_window: float = 60.0

    def __post_init__(self) -> None:
        if self.requests_per_second is None and self.tokens_per_minute is None:
            raise ValueError("a rate limit needs requests_per_second or tokens_per_minute")
        for name in ("requests_per_second", "tokens_per_minute"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be positive")
        for name in ("window", "token_window"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")

    @property
    def leases(self) -> int:
        """Calls allowed to start in one window (0: no request limit)."""
        if self.requests_per_second is None:
            return 0
        return max(1, math.floor(self.requests_per_second * self.window))

    @property
    def token_budget(self) -> int:
        """Tokens allowed in one token window (0: no token limit)."""
        if self.tokens_per_minute is None:
            return 0
        return max(1, math.floor(self.tokens_per_minute * self.token_window / 60.0))


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


def estimate_tokens(messages: Sequence[Any], max_tokens: int | None) -> int:
    """A call's tokens before it is sent: its prompt, generously counted, plus its completion.

    A prompt counts the larger of its words-and-marks and a quarter of its characters (a BPE
    tokenizer's usual ratio) plus a few tokens per message; the completion counts ``max_tokens``
    (the most it can be), or :data:`DEFAULT_COMPLETION_TOKENS` when the model sets none.
    """
    from chainmagic.core.models.base import count_tokens

    prompt = 0
    for message in messages:
        text = getattr(message, "text", None)
        text = text if isinstance(text, str) else str(getattr(message, "content", message))
        prompt += max(count_tokens(text), math.ceil(len(text) / 4)) + MESSAGE_OVERHEAD
    completion = DEFAULT_COMPLETION_TOKENS if max_tokens is None else max(0, max_tokens)
    return prompt + completion


def used_tokens(usage: Mapping[str, Any] | None) -> int | None:
    """The tokens a call used, from its ``usage_metadata`` (None when it reported none)."""
    if not usage:
        return None
    total = usage.get("total_tokens")
    if isinstance(total, int) and total >= 0:
        return total
    parts = [usage.get("input_tokens"), usage.get("output_tokens")]
    if all(isinstance(p, int) for p in parts):
        return int(sum(parts))  # type: ignore[arg-type]
    return None


class TokenLedger:
    """The tokens reserved for one model in the last ``window`` seconds (plain accounting).

    A reservation lasts while its call runs (at most :data:`HOLD_LIMIT`) and one window after it
    is settled: any window of the server's clock then sees at most ``budget`` tokens, when the
    estimates are not below the real usage. A call larger than the whole budget reserves the
    whole budget, so it waits for an empty window rather than forever.
    """

    def __init__(self, budget: int, window: float) -> None:
        self.budget = budget
        self.window = window
        # calls under way, oldest first: ticket → (tokens, taken at)
        self._running: dict[int, tuple[int, float]] = {}
        self._settled: list[tuple[float, int]] = []  # (until, tokens), a heap
        self._used = 0  # the sum of both: a take costs no walk over every reservation
        self._next = 0

    def in_use(self, now: float) -> int:
        """Tokens reserved or used in the window ending ``now``."""
        self._expire(now)
        return self._used

    def take(self, tokens: int, now: float) -> tuple[int | None, float]:
        """``(ticket, 0)`` when ``tokens`` fit now, else ``(None, seconds until one expires)``."""
        cost = min(max(0, tokens), self.budget)
        if self.in_use(now) + cost <= self.budget:
            self._next += 1
            self._running[self._next] = (cost, now)
            self._used += cost
            return self._next, 0.0
        ends = [until for until, _ in self._settled[:1]]
        ends.extend(taken + HOLD_LIMIT for _, taken in list(self._running.values())[:1])
        return None, min(ends) - now

    def settle(self, ticket: int, tokens: int | None, now: float) -> None:
        """The call ``ticket`` ended having used ``tokens`` (None: keep the estimate)."""
        running = self._running.pop(ticket, None)
        if running is None:  # expired already: it was held longer than HOLD_LIMIT
            return
        used = running[0] if tokens is None else max(0, tokens)
        self._used += used - running[0]
        heapq.heappush(self._settled, (now + self.window, used))

    def _expire(self, now: float) -> None:
        settled = self._settled
        while settled and settled[0][0] <= now:
            self._used -= heapq.heappop(settled)[1]
        running = self._running
        while running:
            ticket, (tokens, taken) = next(iter(running.items()))
            if taken + HOLD_LIMIT > now:
                break
            del running[ticket]
            self._used -= tokens


class SharedRateLimiter:
    """One model's budgets, held by the scheduler: ``acquire(tokens)`` → ticket, ``release``.

    Built inside a Dask task (it finds its worker there); usable from any thread of the worker.
    Leases go back one window after :meth:`release`, from a thread of their own. Tokens are
    asked for on the worker's own loop, so a waiting call holds no thread; a reservation is
    settled without waiting (the scheduler keeps it one token window).
    """

    def __init__(self, model: str, limit: RateLimit) -> None:
        self.model = model
        self.limit = limit
        self._semaphore: Any = None
        self._tokens: Any = None
        if limit.leases:
            from distributed import Semaphore

            name = f"chainmagic-rate-{model}-{limit.leases}"
            self._semaphore = Semaphore(max_leases=limit.leases, name=name)
        if limit.token_budget:
            from chainmagic.run.dask_tokens import TokenBudget

            self._tokens = TokenBudget(model, limit.token_budget, limit.token_window)
        # Waiting for a lease blocks a thread (the semaphore's calls run on the worker's loop):
        # enough threads that every call of a partition can wait at once.
        self._waiters = ThreadPoolExecutor(64, thread_name_prefix="chainmagic-rate")
        self._givers = ThreadPoolExecutor(8, thread_name_prefix="chainmagic-rate-back")
        self._due: queue.SimpleQueue[float] = queue.SimpleQueue()
        if self._semaphore is not None:
            threading.Thread(target=self._give_back, name="chainmagic-rate", daemon=True).start()

    def acquire(self, tokens: int = 0) -> int | None:
        """Wait until a call of about ``tokens`` tokens may start; its token ticket (or None)."""
        ticket = self._tokens.take(tokens) if self._tokens is not None else None
        if self._semaphore is not None:
            self._semaphore.acquire()
        return ticket

    async def aacquire(self, tokens: int = 0) -> int | None:
        ticket = await self._tokens.atake(tokens) if self._tokens is not None else None
        if self._semaphore is not None:
            try:
                await acquired_in(self._waiters, self._lease, self._unlease, 0)
            except asyncio.CancelledError:
                if ticket is not None:
                    self._tokens.settle(ticket, 0)
                raise
        return ticket

    def _lease(self, _: int) -> None:
        self._semaphore.acquire()

    def _unlease(self, _: Any, __: int) -> None:
        self._due.put(monotonic() + self.limit.window)

    def release(self, ticket: int | None = None, tokens: int | None = None) -> None:
        """The call ended having used ``tokens`` (None: unknown, its estimate stands)."""
        if ticket is not None and self._tokens is not None:
            self._tokens.settle(ticket, tokens)  # sent, not waited for
        if self._semaphore is not None:
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


async def acquired_in(
    pool: Executor, acquire: Callable[[int], Any], release: Callable[[Any, int], None], tokens: int
) -> Any:
    """``acquire(tokens)`` waited for on ``pool`` (it blocks a thread), from a coroutine.

    A cancelled call (an interrupt, a partition given up) cannot stop the thread that waits:
    what it acquires afterwards is given back at once, as used by nothing, so no budget stays
    taken by a call that never went out."""
    waiting = pool.submit(acquire, tokens)
    try:
        return await asyncio.wrap_future(waiting)
    except asyncio.CancelledError:

        def give_back(done: Future[Any]) -> None:
            if not done.cancelled() and done.exception() is None:
                release(done.result(), 0)

        waiting.add_done_callback(give_back)
        raise


class ModelPace:
    """What one chat model step is given as its ``rate_limiter``: its calls' tokens estimated
    from its own ``max_tokens``, then paced by the process's :class:`SharedRateLimiter`."""

    def __init__(self, shared: SharedRateLimiter, max_tokens: int | None) -> None:
        self.shared = shared
        self.max_tokens = max_tokens

    def _cost(self, messages: Sequence[Any]) -> int:
        if self.shared.limit.token_budget == 0:
            return 0
        return estimate_tokens(messages, self.max_tokens)

    def acquire(self, messages: Sequence[Any]) -> int | None:
        return self.shared.acquire(self._cost(messages))

    async def aacquire(self, messages: Sequence[Any]) -> int | None:
        return await self.shared.aacquire(self._cost(messages))

    def release(self, ticket: int | None, usage: Mapping[str, Any] | None) -> None:
        self.shared.release(ticket, used_tokens(usage))


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
                max_tokens = getattr(step, "max_tokens", None)
                step.rate_limiter = ModelPace(
                    limiter, max_tokens if isinstance(max_tokens, int) else None
                )
                paced += 1
        todo.extend(child for _, child in steps_of(step))
    return paced
