"""Distributed batch rows: what running on Dask costs per input, and what a second worker buys.

- per input, zero-latency 2-branch fake map: ``chainmagic.run.batch`` on a 2-worker LocalCluster
  against the same call without a client (reference = the local batch; ratio < 1 is Dask's cost);
- per input, a chain whose model sleeps 50 ms (I/O-bound), at most 50 rows at once per partition:
  2 workers against 1 worker (reference = 1 worker; ratio ≈ 2 is linear scaling);
- per input, the fake map under a tokens/min budget too large to ever wait: what reserving and
  settling on the scheduler costs (two round trips per model call; reference = no limit).

Clusters are started before timing; each figure is the best of a few runs. Run alone with
``python -m bench.distributed_bench``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

from bench.timing import Row, fmt

try:
    import distributed
except ImportError:  # the test extra is not installed: no distributed rows
    distributed = None

from chainmagic import dsl
from chainmagic.core import ChatPromptTemplate, FakeChatModel, StrOutputParser
from chainmagic.run import RateLimit, batch

FAST_INPUTS = 20_000
SLOW_INPUTS = 2_000
SLOW_LATENCY = 0.05
SLOW_CONCURRENCY = 50
TOKEN_INPUTS = 2_000


def _fast_chain() -> Any:
    text = (
        'm = {joke: "joke about {topic}" | model | str, poem: "poem about {topic}" | model | str}'
    )
    return dsl.compile(dsl.parse(text), {}, default_model="fake:echo").chain


def _slow_chain() -> Any:
    model = FakeChatModel(latency=SLOW_LATENCY, name="model")
    return ChatPromptTemplate.from_template("{topic}") | model | StrOutputParser()


def _best(fn: Callable[[], Any], runs: int = 3) -> float:
    fn()  # the first run rebuilds the chain on each worker
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _cluster(workers: int) -> Any:
    assert distributed is not None
    cluster = distributed.LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
        silence_logs=50,
    )
    return distributed.Client(cluster)


def rows() -> list[Row]:
    if distributed is None:
        return []
    fast = _fast_chain()
    fast_inputs = [{"topic": f"t{i}"} for i in range(FAST_INPUTS)]
    slow = _slow_chain()
    slow_inputs = [{"topic": f"t{i}"} for i in range(SLOW_INPUTS)]
    local = _best(lambda: batch(fast, fast_inputs))
    budget = RateLimit(tokens_per_minute=1e12)
    token_inputs = fast_inputs[:TOKEN_INPUTS]
    with _cluster(2) as two:
        on_two = _best(lambda: batch(fast, fast_inputs, client=two))
        unlimited = _best(lambda: batch(fast, token_inputs, client=two))
        counted = _best(lambda: batch(fast, token_inputs, client=two, rate_limit=budget))
        slow_two = _best(
            lambda: batch(slow, slow_inputs, client=two, max_concurrency=SLOW_CONCURRENCY)
        )
        two.cluster.close()
    with _cluster(1) as one:
        slow_one = _best(
            lambda: batch(slow, slow_inputs, client=one, max_concurrency=SLOW_CONCURRENCY)
        )
        one.cluster.close()
    return [
        Row(
            f"dask batch per input, fake map ({FAST_INPUTS:,}), vs local",
            on_two / FAST_INPUTS,
            local / FAST_INPUTS,
        ),
        Row(
            f"dask per input, 50 ms model ({SLOW_INPUTS:,}), 2 vs 1 worker",
            slow_two / SLOW_INPUTS,
            slow_one / SLOW_INPUTS,
        ),
        Row(
            f"dask per input, fake map ({TOKEN_INPUTS:,}), tokens/min on vs off",
            counted / TOKEN_INPUTS,
            unlimited / TOKEN_INPUTS,
        ),
    ]


def main() -> int:
    for row in rows():
        ratio = f"{row.ratio:.2f}x" if row.ratio else "—"
        rate = 1 / row.ours if row.ours else 0.0
        print(
            f"{row.label:<52} {fmt(row.ours):>10} ({rate:,.0f}/s)  ref {fmt(row.reference):>10}"
            f"  ratio {ratio}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
