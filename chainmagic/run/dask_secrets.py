"""The worker plugin that carries a chain's keys to Dask workers (imported only with Dask).

A plugin, not a task argument: the scheduler keeps it to set up every worker that joins later (a
restarted one too), and it never appears in the task graph the dashboard draws.
"""

from __future__ import annotations

from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

from chainmagic.run.shipping import store_secrets

__all__ = ["SecretsPlugin"]


class SecretsPlugin(WorkerPlugin):
    """Stores ``carried`` (keys by token, provider variables) on each worker at set-up."""

    def __init__(self, carried: dict[str, str]) -> None:
        self.carried = carried

    def setup(self, worker: Any) -> None:
        store_secrets(self.carried)

    def __repr__(self) -> str:  # the plugin may be listed: never its contents
        return "<chainmagic secrets>"
