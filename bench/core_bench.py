"""Core rows: the issue's targets against langchain-core, measured side by side."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from bench.timing import Row, per_call

try:
    import langchain_core.runnables as lc
except ImportError:  # the `bench` extra is not installed: chainmagic's column only
    lc = None

import chainmagic.core as cm


def _three_step(mod: Any) -> Callable[[], Any]:
    chain = mod.RunnableLambda(lambda x: x + 1) | mod.RunnableLambda(lambda x: x * 2)
    chain = chain | mod.RunnableLambda(lambda x: x - 3)
    return lambda: chain.invoke(1)


def _trivial_map(mod: Any) -> Callable[[], Any]:
    chain = mod.RunnableParallel(
        {f"b{i}": mod.RunnableLambda(lambda x, i=i: x + i) for i in range(8)}
    )
    return lambda: chain.invoke(1)


def _sleepy_map(mod: Any) -> Callable[[], Any]:
    def nap(x: Any) -> Any:
        time.sleep(0.05)
        return x

    chain = mod.RunnableParallel({f"b{i}": mod.RunnableLambda(nap) for i in range(128)})
    return lambda: chain.invoke(1)


def _async_map(mod: Any) -> Callable[[], Any]:
    async def nap(x: Any) -> Any:
        await asyncio.sleep(0.05)
        return x

    chain = mod.RunnableParallel({f"b{i}": mod.RunnableLambda(nap) for i in range(128)})
    loop = asyncio.new_event_loop()
    return lambda: loop.run_until_complete(chain.ainvoke(1))


def _batch(mod: Any) -> Callable[[], Any]:
    def nap(x: Any) -> Any:
        time.sleep(0.02)
        return x

    chain = mod.RunnableLambda(nap)
    return lambda: chain.batch(list(range(256)))


def _astream_per_chunk(mod: Any, n: int = 20_000) -> float:
    async def gen(chunks: Any) -> Any:
        async for _ in chunks:
            pass
        for i in range(n):
            yield str(i)

    parser = cm.StrOutputParser if mod is cm else _lc_parser()
    chain = mod.RunnableGenerator(gen) | parser()

    async def consume() -> None:
        async for _ in chain.astream("x"):
            pass

    loop = asyncio.new_event_loop()
    loop.run_until_complete(consume())
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        loop.run_until_complete(consume())
        best = min(best, time.perf_counter() - start)
    loop.close()
    return best / n


def _lc_parser() -> Any:
    from langchain_core.output_parsers import StrOutputParser

    return StrOutputParser


def _time_to_error(mod: Any) -> float:
    def nap(x: Any) -> Any:
        time.sleep(0.3)
        return x

    def boom(x: Any) -> Any:
        raise ValueError("boom")

    chain = mod.RunnableParallel(
        a=mod.RunnableLambda(nap),
        b=mod.RunnableLambda(nap),
        c=mod.RunnableLambda(nap),
        d=mod.RunnableLambda(boom),
    )
    times = []
    for _ in range(4):
        start = time.perf_counter()
        try:
            chain.invoke(1)
        except Exception:
            times.append(time.perf_counter() - start)
        time.sleep(0.35)  # let abandoned siblings finish before the next round
    return sorted(times)[len(times) // 2]


def _cold_import(module: str) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    runs = [
        float(subprocess.check_output([sys.executable, "-c", code], text=True)) for _ in range(5)
    ]
    return sorted(runs)[len(runs) // 2]


def rows() -> list[Row]:
    out = []

    def both(
        label: str, make: Callable[[Any], Callable[[], Any]], target: float, **kw: Any
    ) -> None:
        ours = per_call(make(cm), **kw)
        ref = per_call(make(lc), **kw) if lc else None
        out.append(Row(label, ours, ref, target))

    both("3-step lambda sequence, invoke", _three_step, 15e-6)
    both("parallel map of 8 trivial branches, invoke", _trivial_map, 80e-6)
    both("128 branches each time.sleep(0.05), invoke", _sleepy_map, 60e-3, min_time=0.5, repeat=5)
    both("128 branches each asyncio.sleep(0.05), ainvoke", _async_map, 55e-3, min_time=0.5)
    both("batch of 256 inputs x 20 ms sleep", _batch, 100e-3, min_time=0.5, repeat=5)
    out.append(
        Row(
            "astream, per chunk",
            _astream_per_chunk(cm),
            _astream_per_chunk(lc) if lc else None,
            2e-6,
        )
    )
    out.append(
        Row(
            "1 branch raises, 3 sleep 0.3 s: time to error",
            _time_to_error(cm),
            _time_to_error(lc) if lc else None,
            5e-3,
        )
    )
    out.append(
        Row(
            "cold import (fresh process)",
            _cold_import("chainmagic.core"),
            _cold_import("langchain_core.runnables") if lc else None,
            60e-3,
        )
    )
    return out
