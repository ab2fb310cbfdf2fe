"""Running a batch on a cluster: the same chain, in partitions, results in input order.

The chain travels once (:mod:`chainmagic.run.shipping`), to every worker, through the engine
(:mod:`chainmagic.run.engine`; Dask is the one there is), its keys apart from the task graph.
Inputs are cut into partitions of ``chunk_size`` rows; each partition is one task that rebuilds
the chain once per process, runs its rows concurrently on an event loop of its own, and returns
one plain row per input. A partition is idempotent: it only computes, so when the engine runs it
again after its worker died, the batch takes the one result it receives and every row is filled
exactly once, where its index says. An interrupt cancels the partitions still pending and keeps
the rows that finished; running the same batch again with ``resume=`` redoes only the rest.
"""

from __future__ import annotations

import asyncio
import pickle
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from time import perf_counter
from typing import Any

from chainmagic.errors import ChainRunError
from chainmagic.run.engine import Engine, Partition, Row
from chainmagic.run.execute import BatchResult, _arun
from chainmagic.run.ratelimit import RateLimit, pace
from chainmagic.run.result import ChainResult
from chainmagic.run.shipping import CannotTravel, pack, unpack

__all__ = ["DEFAULT_CHUNK_SIZE", "Row", "run_distributed", "run_on_dask", "run_partition"]

DEFAULT_CHUNK_SIZE = 1000
KEPT_CHAINS = 8  # rebuilt chains a worker keeps for the next partitions (and batches)
CANCEL_POLL = 0.1  # seconds between a partition's looks at whether it was cancelled
FINISHED = ("ok", "error")

# -- on the workers -------------------------------------------------------------------------------

_chains: dict[tuple[str, frozenset[tuple[str, RateLimit]]], Any] = {}
_chains_lock = threading.Lock()


def _rebuilt(payload: bytes, digest: str, limits: Mapping[str, RateLimit]) -> Any:
    """The chain for ``digest``, rebuilt once per worker process (and paced, when limited).

    The same chain under other limits is another chain: its models hold their limiters."""
    key = (digest, frozenset(limits.items()))
    with _chains_lock:
        chain = _chains.pop(key, None)
        if chain is None:
            chain = unpack(payload)
            if limits:
                pace(chain, limits)
        _chains[key] = chain  # most recent last; a long-lived worker keeps only a few
        while len(_chains) > KEPT_CHAINS:
            del _chains[next(iter(_chains))]
        return chain


def run_partition(
    payload: bytes, partition: Partition, cancelled: Callable[[], bool] | None = None
) -> list[Row]:
    """One partition's rows, in order (in a worker thread, on an event loop of its own).

    ``cancelled`` says whether the client gave up on it (an engine's own way to tell): the
    partition stops its model calls then, since nobody waits for these rows any more."""
    chain = _rebuilt(payload, partition.digest, partition.limits)
    return asyncio.run(_rows(chain, partition, cancelled))


async def _rows(
    chain: Any, partition: Partition, cancelled: Callable[[], bool] | None = None
) -> list[Row]:
    work = asyncio.ensure_future(_all_rows(chain, partition))
    while cancelled is not None and not work.done():
        await asyncio.wait([work], timeout=CANCEL_POLL)
        if not work.done() and cancelled():
            work.cancel()
            break
    return await work


async def _all_rows(chain: Any, partition: Partition) -> list[Row]:
    name, timeout = partition.name, partition.timeout
    config: dict[str, Any] = {"run_name": name} if name else {}
    gate = asyncio.Semaphore(partition.max_concurrency) if partition.max_concurrency else None

    async def one(value: Any) -> Row:
        if gate is None:
            return await measured(value)
        async with gate:
            return await measured(value)

    async def measured(value: Any) -> Row:
        t0 = perf_counter()
        try:
            output = await _arun(
                chain, value, dict(config), stream=False, timeout=timeout, name=name
            )
        except ChainRunError as err:
            return "error", None, _portable(err), perf_counter() - t0
        return "ok", output, None, perf_counter() - t0

    return list(await asyncio.gather(*(one(v) for v in partition.inputs)))


def _portable(err: ChainRunError) -> ChainRunError:
    """The error as it can travel back: its cause kept if it pickles, else its type and text."""
    try:
        pickle.dumps(err)
    except Exception:
        cause = err.cause
        stand_in = RuntimeError(f"{type(cause).__name__}: {cause}")
        return ChainRunError(stand_in, err.path)
    return err


# -- on the client --------------------------------------------------------------------------------


def run_on_dask(chain: Any, inputs: Sequence[Any], client: Any, **options: Any) -> BatchResult:
    """:func:`run_distributed` on a ``distributed.Client``'s cluster."""
    from chainmagic.run.dask_engine import DaskEngine

    return run_distributed(chain, inputs, DaskEngine(client), **options)


def run_distributed(
    chain: Any,
    inputs: Sequence[Any],
    engine: Engine,
    *,
    name: str | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    max_concurrency: int | None = None,
    timeout: float | None = None,
    limits: Mapping[str, RateLimit] | None = None,
    resume: BatchResult | None = None,
    on_change: Callable[[BatchResult, int], None] | None = None,
) -> BatchResult:
    """Run ``chain`` on every input on ``engine``; the batch's rows in input order.

    With ``resume`` (an earlier, unfinished batch of the same inputs) only its unfinished rows run,
    and they are filled into it. On an interrupt the pending partitions are cancelled, unfinished
    rows marked ``cancelled``, and ``KeyboardInterrupt`` re-raised with the batch as ``.batch``.
    """
    package = pack(chain)  # before anything is sent: a chain that cannot travel fails here
    batch = _fresh(name, inputs) if resume is None else resume
    todo = [i for i, r in enumerate(batch.results) if r.status not in FINISHED]
    _check_inputs(batch, todo)
    for i in todo:
        batch.results[i].status = "running"
    batch.dashboard = engine.dashboard
    batch.where = engine.where
    start = perf_counter()
    handles: dict[Any, list[int]] = {}
    try:
        shipped = engine.ship(package, dict(limits or {}))
        run_id = uuid.uuid4().hex[:8]
        for n, at in enumerate(range(0, len(todo), chunk_size)):
            rows = todo[at : at + chunk_size]
            partition = Partition(
                key=f"chainmagic-{name or 'chain'}-{run_id}-{n}",
                digest=package.digest,
                inputs=[batch.results[i].input for i in rows],
                name=name,
                timeout=timeout,
                max_concurrency=max_concurrency,
                limits=dict(limits or {}),
            )
            handles[engine.submit(shipped, partition)] = rows
        _collect(engine, handles, batch, on_change, start - (batch.total or 0.0))
        _settle(batch)  # a partition cancelled by someone else: its rows did not run
    except KeyboardInterrupt as interrupt:
        engine.cancel(list(handles))
        _settle(batch)
        batch.total = (batch.total or 0.0) + perf_counter() - start
        interrupt.batch = batch  # type: ignore[attr-defined]
        raise
    finally:  # the rows are in the batch now: the engine may forget the partitions at once
        engine.forget(list(handles))
    elapsed = perf_counter() - start
    batch.total = elapsed if resume is None else (batch.total or 0.0) + elapsed
    return batch


def _check_inputs(batch: BatchResult, todo: list[int]) -> None:
    """Every input must travel too: the first one that cannot is named before anything is sent."""
    import cloudpickle

    try:
        cloudpickle.dumps([batch.results[i].input for i in todo])
    except Exception:
        for i in todo:
            try:
                cloudpickle.dumps(batch.results[i].input)
            except Exception as exc:
                raise CannotTravel([f"input {i}"], exc) from None
        raise


def _fresh(name: str | None, inputs: Sequence[Any]) -> BatchResult:
    batch = BatchResult(name=name, size=len(inputs))
    batch.results = [ChainResult(name=name, input=x) for x in inputs]
    return batch


def _collect(
    engine: Engine,
    handles: dict[Any, list[int]],
    batch: BatchResult,
    on_change: Callable[[BatchResult, int], None] | None,
    since: float,
) -> None:
    for handle, outcome in engine.completed(list(handles)):
        rows = handles[handle]
        if outcome is None:  # cancelled: its rows stay unfinished
            continue
        if isinstance(outcome, BaseException):  # the partition itself failed (workers kept dying)
            failure = ChainRunError(outcome, [batch.name] if batch.name else None)
            values: list[Row] = [("error", None, failure, 0.0)] * len(rows)
        else:
            values = outcome
        for i, (status, output, error, seconds) in zip(rows, values):
            result = batch.results[i]
            if result.status in FINISHED:  # a row is filled once, whatever arrives later
                continue
            result.output, result.error, result.total = output, error, seconds
            result.status = status
        batch.elapsed = perf_counter() - since
        if on_change is not None and rows:
            on_change(batch, rows[-1])


def _settle(batch: BatchResult) -> None:
    for result in batch.results:
        if result.status not in FINISHED:
            result.status = "cancelled"
