"""The Dask clients that ``--on`` opens, one per place, kept for the notebook's life.

``--on dask`` starts a ``LocalCluster`` (worker processes on this machine) the first time and
reuses it, so a second batch does not pay the start again; ``--on tcp://host:8786`` connects to
a cluster that exists. Dask is imported only here and only when a batch asks for it.
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["client_for", "close_clients"]

_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()


def client_for(where: str) -> Any:
    """A Dask client for ``--on``: ``dask`` (a LocalCluster for this process, started once and
    reused) or a scheduler address (``tcp://host:8786``)."""
    from distributed import Client, LocalCluster

    with _clients_lock:
        client = _clients.get(where)
        if client is not None and client.status == "running":
            return client
        if where == "dask":
            cluster = LocalCluster(processes=True, dashboard_address=":0")
            client = Client(cluster)
        else:
            client = Client(where, timeout=10)
        _clients[where] = client
        return client


def close_clients() -> None:
    """Close the clients ``--on`` opened (and the local cluster ``--on dask`` started)."""
    with _clients_lock:
        clients = list(_clients.values())
        _clients.clear()
    for client in clients:
        cluster = client.cluster  # the LocalCluster of --on dask; None for a scheduler address
        client.close()
        if cluster is not None:
            cluster.close()
