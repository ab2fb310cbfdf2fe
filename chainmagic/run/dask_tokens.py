"""The tokens/min budget of a distributed batch, kept on the Dask scheduler (imported with Dask).

Every worker must see the same count, so the ledgers (:class:`~chainmagic.run.ratelimit.TokenLedger`,
one per model and budget) live in a scheduler plugin that adds two handlers: ``take`` waits on
the scheduler until a call's estimate fits (woken by every settlement, and when a reservation
expires), ``settle`` replaces an estimate with the usage the server reported. The scheduler's
clock is the only one used, so workers' clocks need not agree.
"""

from __future__ import annotations

import asyncio
from time import monotonic
from typing import Any

from distributed.diagnostics.plugin import SchedulerPlugin

from chainmagic.run.ratelimit import TokenLedger

__all__ = ["PLUGIN_NAME", "TokenBudget", "TokenBudgets"]

PLUGIN_NAME = "chainmagic-tokens"
TAKE_TIMEOUT = 5.0  # seconds a take waits on the scheduler before the worker asks again


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
        self, model: str, budget: int, window: float, ticket: int, tokens: int | None
    ) -> None:
        assert self.changed is not None
        self._ledger(model, budget, window).settle(ticket, tokens, monotonic())
        async with self.changed:
            self.changed.notify_all()


class TokenBudget:
    """A worker's handle on one ledger: ``take`` blocks its thread, ``settle`` returns at once."""

    def __init__(self, model: str, budget: int, window: float) -> None:
        from distributed import get_worker

        worker = get_worker()
        self._scheduler = worker.scheduler
        self._loop = worker.loop
        self._key: dict[str, Any] = {"model": model, "budget": budget, "window": window}

    def take(self, tokens: int) -> int:
        from distributed.utils import sync

        while True:
            ticket = sync(
                self._loop,
                self._scheduler.chainmagic_tokens_take,
                tokens=tokens,
                timeout=TAKE_TIMEOUT,
                **self._key,
            )
            if ticket is not None:
                return int(ticket)

    def settle(self, ticket: int, tokens: int | None) -> None:
        from distributed.utils import sync

        try:
            sync(
                self._loop,
                self._scheduler.chainmagic_tokens_settle,
                ticket=ticket,
                tokens=tokens,
                **self._key,
            )
        except Exception:  # the worker is closing: the reservation expires on the scheduler
            pass
