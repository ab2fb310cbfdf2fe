"""The tokens/min budget of a distributed batch, kept on the Dask scheduler (imported with Dask).

Every worker must see the same count, so the ledgers (:class:`~chainmagic.run.ratelimit.TokenLedger`,
one per model and budget) live in a scheduler plugin that adds two handlers: ``take`` waits on
the scheduler until a call's estimate fits (woken by every settlement, and when a reservation
expires), ``settle`` replaces an estimate with the usage the server reported. The scheduler's
clock is the only one used, so workers' clocks need not agree.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future
from time import monotonic
from typing import Any

from distributed.diagnostics.plugin import SchedulerPlugin

from chainmagic.run.ratelimit import TokenLedger

__all__ = ["PLUGIN_NAME", "TokenBudget", "TokenBudgets"]

PLUGIN_NAME = "chainmagic-tokens"
TAKE_TIMEOUT = 5.0  # seconds a take waits on the scheduler before the worker asks again
GATE = 8  # calls of each kind a worker has under way at once, per model
SETTLE_EVERY = 0.02  # seconds a worker gathers settlements before it sends them together


class TokenBudgets(SchedulerPlugin):
    """The scheduler's token ledgers, by ``(model, budget, window)``."""

    idempotent = True  # registered by every batch that needs it: the first one stays

    def __init__(self) -> None:
        self.ledgers: dict[tuple[str, int, float], TokenLedger] = {}
        self.changed: asyncio.Condition | None = None

    async def start(self, scheduler: Any) -> None:
        self.changed = asyncio.Condition()
        scheduler.handlers["chainmagic_tokens_take"] = self.take
        scheduler.handlers["chainmagic_tokens_settle"] = self.settle

    def _ledger(self, model: str, budget: int, window: float) -> TokenLedger:
        key = (model, budget, window)
        ledger = self.ledgers.get(key)
        if ledger is None:
            ledger = self.ledgers[key] = TokenLedger(budget, window)
        return ledger

    async def take(
        self, model: str, budget: int, window: float, tokens: int, timeout: float
    ) -> int | None:
        """A ticket for ``tokens`` once they fit; None after ``timeout`` (the worker retries)."""
        assert self.changed is not None
        ledger = self._ledger(model, budget, window)
        ticket, _ = ledger.take(tokens, monotonic())
        if ticket is not None:  # it fits: the common case, without the lock
            return ticket
        deadline = monotonic() + timeout
        async with self.changed:
            while True:
                ticket, wait = ledger.take(tokens, monotonic())
                if ticket is not None:
                    return ticket
                left = deadline - monotonic()
                if left <= 0:
                    return None
                try:  # a settlement may free tokens before the earliest reservation expires
                    await asyncio.wait_for(self.changed.wait(), min(max(wait, 0.001), left))
                except TimeoutError:
                    pass

    async def settle(
        self, model: str, budget: int, window: float, settled: list[tuple[int, int | None]]
    ) -> None:
        """Several calls ended: ``(ticket, tokens used or None)`` each."""
        assert self.changed is not None
        ledger, now = self._ledger(model, budget, window), monotonic()
        for ticket, tokens in settled:
            ledger.settle(ticket, tokens, now)
        async with self.changed:
            self.changed.notify_all()


class TokenBudget:
    """A worker's handle on one ledger. Its calls run on the worker's own event loop (where its
    connection to the scheduler lives): ``take`` from a thread or ``atake`` from a partition's
    loop wait for the answer; ``settle`` does not."""

    def __init__(self, model: str, budget: int, window: float) -> None:
        from distributed import get_worker

        worker = get_worker()
        self._scheduler = worker.scheduler
        self._loop = worker.loop.asyncio_loop  # type: ignore[attr-defined]
        self._key: dict[str, Any] = {"model": model, "budget": budget, "window": window}
        self._gates: dict[str, asyncio.Semaphore] = {}
        self._lock = threading.Lock()
        self._settled: list[tuple[int, int | None]] = []
        self._flushing = False
        self._flusher: asyncio.Task[None] | None = None

    def _ask(self, handler: str, **arguments: Any) -> Future[Any]:
        return asyncio.run_coroutine_threadsafe(self._gated(handler, arguments), self._loop)

    async def _gated(self, handler: str, arguments: dict[str, Any]) -> Any:
        """A few calls at a time, each kind apart: a connection to the scheduler is reused
        rather than one opened per call, and settlements never queue behind waiting takes."""
        gate = self._gates.get(handler)
        if gate is None:  # made on the worker's loop, where it is used
            gate = self._gates[handler] = asyncio.Semaphore(GATE)
        async with gate:
            return await getattr(self._scheduler, handler)(**arguments, **self._key)

    def take(self, tokens: int) -> int:
        while True:
            ticket = self._ask(
                "chainmagic_tokens_take", tokens=tokens, timeout=TAKE_TIMEOUT
            ).result()
            if ticket is not None:
                return int(ticket)

    async def atake(self, tokens: int) -> int:
        while True:
            asked = self._ask("chainmagic_tokens_take", tokens=tokens, timeout=TAKE_TIMEOUT)
            try:  # shielded: a ticket granted as the call is cancelled must still come back
                ticket = await asyncio.shield(asyncio.wrap_future(asked))
            except asyncio.CancelledError:
                asked.add_done_callback(self._unused)
                raise
            if ticket is not None:
                return int(ticket)

    def _unused(self, asked: Future[Any]) -> None:
        if not asked.cancelled() and asked.exception() is None and asked.result() is not None:
            self.settle(int(asked.result()), 0)

    def settle(self, ticket: int, tokens: int | None) -> None:
        """Sent with the others that end within :data:`SETTLE_EVERY`, not waited for: a
        settlement a little late only keeps its tokens a little longer."""
        with self._lock:
            self._settled.append((ticket, tokens))
            if self._flushing:
                return
            self._flushing = True
        try:
            self._loop.call_soon_threadsafe(self._start_flush)
        except RuntimeError:  # the worker's loop is closed: the scheduler expires them
            pass

    def _start_flush(self) -> None:
        self._flusher = self._loop.create_task(self._flush())  # kept: a task is weakly held

    async def _flush(self) -> None:
        await asyncio.sleep(SETTLE_EVERY)
        with self._lock:
            settled, self._settled, self._flushing = self._settled, [], False
        try:
            await self._gated("chainmagic_tokens_settle", {"settled": settled})
        except Exception:  # the worker is closing: the reservations expire on the scheduler
            pass
