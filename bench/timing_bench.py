"""%chaintime rows: how close the reported median is to the truth, and what the harness adds."""

from __future__ import annotations

from time import perf_counter

from bench.timing import Row
from chainmagic.core import ChatPromptTemplate, FakeChatModel, RunnableParallel, StrOutputParser
from chainmagic.run.execute import run_on_loop
from chainmagic.run.stats import median
from chainmagic.run.timing import time_chains


def _accuracy(latency: float = 0.1) -> tuple[float, float]:
    model = FakeChatModel(latency=latency)
    one = ChatPromptTemplate.from_template("tell me a joke about {topic}") | model
    both = RunnableParallel(joke=one, poem=ChatPromptTemplate.from_template("{topic}") | model)
    timings, _, _ = time_chains({"one": one, "map": both}, {"topic": "bear"}, runs=7)
    return timings["one"].median, timings["map"].median


def _overhead(runs: int = 200) -> tuple[float, float]:
    """Median seconds per run through the harness, and of the same chain consumed bare."""
    chain = ChatPromptTemplate.from_template("hi {topic}") | FakeChatModel() | StrOutputParser()
    value = {"topic": "bear"}

    async def bare() -> list[float]:
        out = []
        for _ in range(runs):
            start = perf_counter()
            async for _ in chain.astream(value):
                pass
            out.append(perf_counter() - start)
        return out

    run_on_loop(bare())  # warm up
    direct = median(run_on_loop(bare()))
    timings, _, _ = time_chains({"chain": chain}, value, runs=runs, warmup=5)
    return timings["chain"].median, direct


def rows() -> list[Row]:
    latency = 0.1
    one, both = _accuracy(latency)
    harness, direct = _overhead()
    return [
        Row("chaintime: median of a 100 ms chain (7 runs)", one, latency, latency * 1.01),
        Row("chaintime: median of a map of two 100 ms branches", both, latency, latency * 1.01),
        Row("chaintime: harness cost per run (vs bare astream)", harness - direct, None, 1e-4),
    ]
