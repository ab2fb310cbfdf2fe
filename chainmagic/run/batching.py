"""``batch``: one chain over many inputs, here or on a Dask cluster, with one call.

A notebook evaluates a chain on 10 rows while writing it and on 100,000 when it is ready; only the
``client`` argument should change between the two. Without a client the batch runs in this
process (:func:`chainmagic.run.execute_batch`); with one (a ``distributed.Client``, ``"dask"`` for
a local cluster, a scheduler address, or any :class:`~chainmagic.run.engine.Engine`) it runs in
partitions on the cluster (:mod:`chainmagic.run.distributed`). Either way the answer is a
:class:`BatchResult` in input order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from chainmagic.run.engine import Engine
from chainmagic.run.execute import BatchResult, execute_batch
from chainmagic.run.ratelimit import RateLimit, limits_for

__all__ = ["batch", "engine_for"]


def batch(
    chain: Any,
    inputs: Sequence[Any],
    client: Any = None,
    *,
    chunk_size: int | None = None,
    max_concurrency: int | None = None,
    name: str | None = None,
    timeout: float | None = None,
    rate_limit: RateLimit | float | Mapping[str, RateLimit | float] | None = None,
    resume: BatchResult | None = None,
    on_change: Callable[[BatchResult, int], None] | None = None,
) -> BatchResult:
    """Run ``chain`` on every input; ``client`` (Dask) decides where.

    ``chunk_size``: inputs per Dask task (default: about four partitions per worker thread, at
    most 1000 rows each); ``max_concurrency``: inputs running at once per partition (locally: in
    all); ``rate_limit``: requests/s per model shared by all workers, a number for every model or
    ``{"gpt-4o-mini": 50}``; ``resume``: an earlier batch of the same inputs whose unfinished rows
    (cancelled, interrupted) are run and filled in.
    """
    from chainmagic.core.runnable import coerce

    runnable = coerce(chain)
    values = list(inputs)
    if chunk_size is not None and chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    if max_concurrency is not None and max_concurrency < 1:
        raise ValueError("max_concurrency must be at least 1")
    if resume is not None and resume.size != len(values):
        raise ValueError(f"resume: that batch had {resume.size} inputs, not {len(values)}")
    limits = limits_for(rate_limit)
    if client is None:
        if limits:
            raise ValueError("rate_limit is shared by a cluster's workers: pass client=")
        return _local(runnable, values, name, timeout, max_concurrency, resume, on_change)
    from chainmagic.run.distributed import run_distributed

    engine = engine_for(client)
    return run_distributed(
        runnable,
        values,
        engine,
        name=name,
        chunk_size=chunk_size or _chunk_size(len(values), engine),
        max_concurrency=max_concurrency,
        timeout=timeout,
        limits=limits,
        resume=resume,
        on_change=on_change,
    )


def engine_for(client: Any) -> Engine:
    """The engine ``client=`` means: an :class:`Engine` itself, ``"dask"`` or a scheduler address
    (a Dask client opened once and kept), or a ``distributed.Client``."""
    if isinstance(client, Engine):
        return client
    from chainmagic.run.dask_engine import DaskEngine

    if isinstance(client, str):
        from chainmagic.run.clusters import client_for

        client = client_for(client)
    return DaskEngine(client)


def _chunk_size(size: int, engine: Engine) -> int:
    """Partitions small enough that every worker thread gets several (progress shows, a lost
    worker costs little), large enough that a partition's rows share one event loop; at most
    :data:`~chainmagic.run.distributed.DEFAULT_CHUNK_SIZE` rows."""
    from chainmagic.run.distributed import DEFAULT_CHUNK_SIZE

    return max(1, min(DEFAULT_CHUNK_SIZE, -(-size // (4 * engine.threads()))))


def _local(  # noqa: PLR0917
    chain: Any,
    values: list[Any],
    name: str | None,
    timeout: float | None,
    max_concurrency: int | None,
    resume: BatchResult | None,
    on_change: Callable[[BatchResult, int], None] | None,
) -> BatchResult:
    if resume is None:
        return execute_batch(
            chain,
            values,
            name=name,
            timeout=timeout,
            max_concurrency=max_concurrency,
            on_change=on_change,
        )
    todo = resume.unfinished
    redone = execute_batch(
        chain,
        [values[i] for i in todo],
        name=name,
        timeout=timeout,
        max_concurrency=max_concurrency,
    )
    for i, result in zip(todo, redone.results):
        resume.results[i] = result
    resume.total = (resume.total or 0.0) + (redone.total or 0.0)
    if on_change is not None and todo:
        on_change(resume, todo[-1])
    return resume
