"""The engine protocol: all a distributed batch needs of where its partitions run.

Dask's engine is exercised on a real cluster in test_distributed.py. Here a second engine, worker
threads of this process, runs the same batches through the protocol alone: what another engine
(Ray, say) would have to provide, and that nothing else of a batch assumes Dask.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from typing import Any

import pytest

from chainmagic import dsl
from chainmagic.core import ChatPromptTemplate, FakeChatModel, StrOutputParser
from chainmagic.run import batch
from chainmagic.run.batching import engine_for
from chainmagic.run.distributed import run_partition
from chainmagic.run.engine import Engine, Outcome, Partition
from chainmagic.run.ratelimit import RateLimit
from chainmagic.run.shipping import Package, store_secrets


class ThreadEngine:
    """Partitions on a pool of threads; the chain still travels as bytes and is rebuilt."""

    where = "threads"
    dashboard = None

    def __init__(self, workers: int = 2) -> None:
        self.pool = ThreadPoolExecutor(workers)
        self.shipped: list[Package] = []
        self.partitions: list[Partition] = []
        self.forgotten = 0

    def threads(self) -> int:
        return 2

    def ship(self, package: Package, limits: Mapping[str, RateLimit]) -> Any:
        store_secrets(package.carried)
        self.shipped.append(package)
        return package.payload

    def submit(self, shipped: Any, partition: Partition) -> Any:
        self.partitions.append(partition)
        return self.pool.submit(run_partition, shipped, partition)

    def completed(self, handles: Sequence[Future]) -> Iterator[tuple[Any, Outcome]]:
        for future in as_completed(handles):
            if future.cancelled():
                yield future, None
                continue
            error = future.exception()
            yield future, error if error is not None else future.result()

    def cancel(self, handles: Sequence[Future]) -> None:
        for future in handles:
            future.cancel()

    def forget(self, handles: Sequence[Future]) -> None:
        self.forgotten += len(handles)


def test_a_batch_runs_on_any_engine_through_the_protocol():
    engine = ThreadEngine()
    assert isinstance(engine, Engine) and engine_for(engine) is engine
    text = 'm = {joke: "joke {topic}" | model | str, poem: "poem {topic}" | model | str}'
    chain = dsl.compile(dsl.parse(text), {}, default_model="fake:echo").chain
    inputs = [{"topic": f"t{i}"} for i in range(50)]

    result = batch(chain, inputs, client=engine, chunk_size=7, name="m")

    assert result.outputs == batch(chain, inputs).outputs
    assert result.where == "threads" and result.dashboard is None
    assert sorted(x["topic"] for p in engine.partitions for x in p.inputs) == sorted(
        x["topic"] for x in inputs
    )
    assert len(engine.partitions) == 8 and engine.forgotten == 8
    assert engine.shipped[0].how == "definition"
    keys = [p.key for p in engine.partitions]
    assert len(set(keys)) == 8 and all(k.startswith("chainmagic-m-") for k in keys)


class LosingEngine(ThreadEngine):
    """Its second partition is lost whole, as when a cluster gives up on a task."""

    def submit(self, shipped: Any, partition: Partition) -> Any:
        if partition.key.endswith("-1"):
            lost: Future = Future()
            lost.set_exception(RuntimeError("worker lost"))
            return lost
        return super().submit(shipped, partition)


def test_rows_keep_their_errors_and_a_partition_lost_whole_fails_its_rows():
    model = FakeChatModel(fail_on="9$", name="model")
    chain = ChatPromptTemplate.from_template("{topic}") | model | StrOutputParser()
    inputs = [{"topic": f"t{i}"} for i in range(10)]

    result = batch(chain, inputs, client=LosingEngine(), chunk_size=4, name="c")

    failed = [i for i, r in enumerate(result.results) if r.status == "error"]
    assert failed == [4, 5, 6, 7, 9]  # the lost partition's rows, and the row that failed
    assert "worker lost" in str(result.results[5].error)
    assert result.outputs[:4] == ["t0", "t1", "t2", "t3"] and result.outputs[8] == "t8"


def test_the_dask_engine_is_an_engine():
    pytest.importorskip("distributed")
    from chainmagic.run.dask_engine import DaskEngine

    assert isinstance(DaskEngine(client=None), Engine)
