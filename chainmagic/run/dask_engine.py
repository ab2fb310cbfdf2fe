"""The Dask engine of distributed batches (:class:`~chainmagic.run.engine.Engine`).

The chain's bytes are scattered to every worker once; its keys go in a worker plugin (so a
worker that restarts gets them too, and no task carries them); a token budget gets its ledger on
the scheduler. Each partition is one Dask task, keyed so the dashboard shows whose it is.
Imported only when a batch runs on Dask.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from chainmagic.run.distributed import run_partition
from chainmagic.run.engine import Outcome, Partition, Row
from chainmagic.run.ratelimit import RateLimit
from chainmagic.run.shipping import Package

__all__ = ["DaskEngine", "dask_partition"]


def dask_partition(payload: bytes, partition: Partition) -> list[Row]:
    """The Dask task: one partition, stopping when the client cancels it (Dask does not stop a
    running task itself)."""
    from distributed import get_worker

    worker = get_worker()
    key = worker.get_current_task()

    def cancelled() -> bool:
        task = worker.state.tasks.get(key)
        return task is None or task.state in {"cancelled", "released", "forgotten"}

    return run_partition(payload, partition, cancelled)


class DaskEngine:
    """Partitions as tasks of a ``distributed.Client``'s cluster."""

    def __init__(self, client: Any) -> None:
        self.client = client

    @property
    def where(self) -> str:
        try:
            workers = len(self.client.scheduler_info(n_workers=-1).get("workers", {}))
        except Exception:
            return "dask"
        return f"dask · {workers} worker{'s' if workers != 1 else ''}"

    @property
    def dashboard(self) -> str | None:
        return getattr(self.client, "dashboard_link", None)

    def threads(self) -> int:
        try:
            return max(1, sum(self.client.nthreads().values()))
        except Exception:
            return 1

    def ship(self, package: Package, limits: Mapping[str, RateLimit]) -> Any:
        client = self.client
        if package.carried:
            from chainmagic.run.dask_secrets import SecretsPlugin

            plugin = SecretsPlugin(package.carried)
            client.register_plugin(plugin, name=f"chainmagic-{package.digest}")
        if any(limit.token_budget for limit in limits.values()):
            from chainmagic.run.dask_tokens import PLUGIN_NAME, TokenBudgets

            client.register_plugin(TokenBudgets(), name=PLUGIN_NAME)
        return client.scatter(package.payload, broadcast=True, hash=False)

    def submit(self, shipped: Any, partition: Partition) -> Any:
        return self.client.submit(dask_partition, shipped, partition, key=partition.key, pure=False)

    def completed(self, handles: Sequence[Any]) -> Iterator[tuple[Any, Outcome]]:
        from distributed import as_completed

        for future in as_completed(list(handles)):
            outcome: Outcome = None  # cancelled
            if future.status != "cancelled":
                try:
                    outcome = future.result()
                except Exception as exc:  # the partition itself failed (its workers kept dying)
                    outcome = exc
            yield future, outcome

    def cancel(self, handles: Sequence[Any]) -> None:
        self.client.cancel([f for f in handles if not f.done()])

    def forget(self, handles: Sequence[Any]) -> None:
        for future in handles:
            future.release()
