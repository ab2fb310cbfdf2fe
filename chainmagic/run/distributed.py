"""Running a batch on a Dask cluster: the same chain, in partitions, results in input order.

The chain travels once (:mod:`chainmagic.run.shipping`): its bytes are scattered to every worker,
its keys go in a worker plugin (so a worker that restarts gets them too, and no task carries them).
Inputs are cut into partitions of ``chunk_size`` rows; each partition is one Dask task that
rebuilds the chain once per process, runs its rows concurrently on an event loop of its own, and
returns one plain row per input. A partition is idempotent: it only computes, so when Dask runs it
again after its worker died, the batch takes the one result it receives and every row is filled
exactly once, where its index says. An interrupt cancels the futures still pending and keeps the
rows that finished; running the same batch again with ``resume=`` redoes only the rest.
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
from chainmagic.run.execute import BatchResult, _arun
from chainmagic.run.ratelimit import RateLimit, pace
from chainmagic.run.result import ChainResult
from chainmagic.run.shipping import CannotTravel, Package, pack, unpack

__all__ = ["DEFAULT_CHUNK_SIZE", "Row", "run_on_dask"]

DEFAULT_CHUNK_SIZE = 1000
KEPT_CHAINS = 8  # rebuilt chains a worker keeps for the next partitions (and batches)
CANCEL_POLL = 0.1  # seconds between a partition's looks at whether it was cancelled
FINISHED = ("ok", "error")
# (status, output, error, seconds): what a worker sends back for one input.
Row = tuple[str, Any, BaseException | None, float]

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


def run_partition(  # noqa: PLR0917 - a Dask task takes positional arguments
    payload: bytes,
    digest: str,
    inputs: Sequence[Any],
    name: str | None,
    timeout: float | None,
    max_concurrency: int | None,
    limits: Mapping[str, RateLimit],
) -> list[Row]:
    """One partition's rows, in order (runs in a worker thread, on an event loop of its own)."""
    chain = _rebuilt(payload, digest, limits)
    return asyncio.run(_rows(chain, inputs, name, timeout, max_concurrency, _cancelled()))


def _cancelled() -> Callable[[], bool]:
    """Whether the client gave up on this task: Dask cannot stop a running task, this one stops."""
    from distributed import get_worker

    worker = get_worker()
    key = worker.get_current_task()

    def gone() -> bool:
        task = worker.state.tasks.get(key)
        return task is None or task.state in {"cancelled", "released", "forgotten"}

    return gone


async def _rows(  # noqa: PLR0917
    chain: Any,
    inputs: Sequence[Any],
    name: str | None,
    timeout: float | None,
    max_concurrency: int | None,
    cancelled: Callable[[], bool] | None = None,
) -> list[Row]:
    work = asyncio.ensure_future(_all_rows(chain, inputs, name, timeout, max_concurrency))
    while cancelled is not None and not work.done():
        await asyncio.wait([work], timeout=CANCEL_POLL)
        if not work.done() and cancelled():
            work.cancel()  # its model calls stop now; nobody waits for these rows any more
            break
    return await work


async def _all_rows(
    chain: Any,
    inputs: Sequence[Any],
    name: str | None,
    timeout: float | None,
    max_concurrency: int | None,
) -> list[Row]:
    config: dict[str, Any] = {"run_name": name} if name else {}
    gate = asyncio.Semaphore(max_concurrency) if max_concurrency else None

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

    return list(await asyncio.gather(*(one(v) for v in inputs)))


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


def run_on_dask(
    chain: Any,
    inputs: Sequence[Any],
    client: Any,
    *,
    name: str | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    max_concurrency: int | None = None,
    timeout: float | None = None,
    limits: Mapping[str, RateLimit] | None = None,
    resume: BatchResult | None = None,
    on_change: Callable[[BatchResult, int], None] | None = None,
) -> BatchResult:
    """Run ``chain`` on every input on ``client``'s cluster; the batch's rows in input order.

    With ``resume`` (an earlier, unfinished batch of the same inputs) only its unfinished rows run,
    and they are filled into it. On an interrupt the pending futures are cancelled, unfinished
    rows marked ``cancelled``, and ``KeyboardInterrupt`` re-raised with the batch as ``.batch``.
    """
    package = pack(chain)  # before anything is sent: a chain that cannot travel fails here
    batch = _fresh(name, inputs) if resume is None else resume
    todo = [i for i, r in enumerate(batch.results) if r.status not in FINISHED]
    _check_inputs(batch, todo)
    for i in todo:
        batch.results[i].status = "running"
    batch.dashboard = getattr(client, "dashboard_link", None)
    batch.where = _where(client)
    start = perf_counter()
    futures: dict[Any, list[int]] = {}
    try:
        futures.update(
            _submit(
                client, package, batch, todo, chunk_size, name, timeout, max_concurrency, limits
            )
        )
        _collect(futures, batch, on_change, start - (batch.total or 0.0))
        _settle(batch)  # a partition cancelled by someone else: its rows did not run
    except KeyboardInterrupt as interrupt:
        client.cancel([f for f in futures if not f.done()])
        _settle(batch)
        batch.total = (batch.total or 0.0) + perf_counter() - start
        interrupt.batch = batch  # type: ignore[attr-defined]
        raise
    finally:  # the rows are in the batch now: the cluster may forget the partitions at once
        for future in futures:
            future.release()
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


def _where(client: Any) -> str:
    try:
        workers = len(client.scheduler_info(n_workers=-1).get("workers", {}))
    except Exception:
        return "dask"
    return f"dask · {workers} worker{'s' if workers != 1 else ''}"


def _submit(  # noqa: PLR0917
    client: Any,
    package: Package,
    batch: BatchResult,
    todo: list[int],
    chunk_size: int,
    name: str | None,
    timeout: float | None,
    max_concurrency: int | None,
    limits: Mapping[str, RateLimit] | None,
) -> dict[Any, list[int]]:
    if package.carried:
        from chainmagic.run.dask_secrets import SecretsPlugin

        client.register_plugin(SecretsPlugin(package.carried), name=f"chainmagic-{package.digest}")
    if any(limit.token_budget for limit in (limits or {}).values()):
        from chainmagic.run.dask_tokens import PLUGIN_NAME, TokenBudgets

        client.register_plugin(TokenBudgets(), name=PLUGIN_NAME)
    payload = client.scatter(package.payload, broadcast=True, hash=False)
    run_id = uuid.uuid4().hex[:8]
    label = name or "chain"
    futures: dict[Any, list[int]] = {}
    for n, at in enumerate(range(0, len(todo), chunk_size)):
        rows = todo[at : at + chunk_size]
        values = [batch.results[i].input for i in rows]
        future = client.submit(
            run_partition,
            payload,
            package.digest,
            values,
            name,
            timeout,
            max_concurrency,
            dict(limits or {}),
            key=f"chainmagic-{label}-{run_id}-{n}",
            pure=False,
        )
        futures[future] = rows
    return futures


def _collect(
    futures: dict[Any, list[int]],
    batch: BatchResult,
    on_change: Callable[[BatchResult, int], None] | None,
    since: float,
) -> None:
    from distributed import as_completed

    for future in as_completed(list(futures)):
        rows = futures[future]
        if future.status == "cancelled":
            continue
        try:
            values: list[Row] = future.result()
        except Exception as exc:  # the partition itself failed (e.g. its workers kept dying)
            failure = ChainRunError(exc, [batch.name] if batch.name else None)
            values = [("error", None, failure, 0.0)] * len(rows)
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
