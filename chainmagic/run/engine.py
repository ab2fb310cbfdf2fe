"""The engine a distributed batch runs on: a small protocol, in one place.

:func:`chainmagic.run.distributed.run_distributed` cuts a batch into partitions and fills the
rows in; *where* partitions run is an :class:`Engine`'s business, and nothing else of the batch
knows it. Dask (:class:`chainmagic.run.dask_engine.DaskEngine`) is the one implementation; another
engine (Ray, say) implements these six members and the rest works unchanged:

- ``ship(package, limits)``: send the chain (:class:`~chainmagic.run.shipping.Package`) to every
  worker once, its ``carried`` secrets apart from anything the engine logs or shows, and make the
  shared rate limits ready; returns what :meth:`Engine.submit` passes to the workers;
- ``submit(shipped, partition)``: start one :class:`Partition` somewhere; returns a handle;
- ``completed(handles)``: each handle once, as it finishes, with its rows (``list[Row]``), the
  exception that failed the whole partition, or None when it was cancelled;
- ``cancel(handles)``: stop partitions not finished (running ones stop, too: on the worker,
  :func:`~chainmagic.run.distributed.run_partition` polls the ``cancelled`` callable it is given);
- ``forget(handles)``: the rows are kept: the engine may drop the partitions' results;
- ``where`` and ``dashboard``: what the batch view shows (``dask · 2 workers``, a link or None),
  and ``threads()``, which sizes the default partitions.

A partition is idempotent (it only computes): an engine may run it again after a worker died,
and the batch keeps the first result that arrives for each row.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from chainmagic.run.ratelimit import RateLimit
from chainmagic.run.shipping import Package

__all__ = ["Engine", "Outcome", "Partition", "Row"]

# (status, output, error, seconds): what a worker sends back for one input.
Row = tuple[str, Any, BaseException | None, float]
# What a finished partition gives: its rows, the error that failed it whole, or None (cancelled).
Outcome = list[Row] | BaseException | None


@dataclass(frozen=True)
class Partition:
    """One task of a batch: ``inputs`` to run with the shipped chain ``digest``, and how."""

    key: str  # unique in the batch, readable on a dashboard (no input, no secret in it)
    digest: str
    inputs: list[Any]
    name: str | None = None
    timeout: float | None = None
    max_concurrency: int | None = None
    limits: dict[str, RateLimit] = field(default_factory=dict)


@runtime_checkable
class Engine(Protocol):
    """Where a distributed batch's partitions run (see the module's documentation)."""

    @property
    def where(self) -> str: ...

    @property
    def dashboard(self) -> str | None: ...

    def threads(self) -> int: ...

    def ship(self, package: Package, limits: Mapping[str, RateLimit]) -> Any: ...

    def submit(self, shipped: Any, partition: Partition) -> Any: ...

    def completed(self, handles: Sequence[Any]) -> Iterator[tuple[Any, Outcome]]: ...

    def cancel(self, handles: Sequence[Any]) -> None: ...

    def forget(self, handles: Sequence[Any]) -> None: ...
