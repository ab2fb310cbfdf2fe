"""%chaintime rows: how close what it reports is to the truth, and what the harness adds.

Two kinds of truth. The fake model's latency is exact (no network), so the median of a 100 ms chain
should read 100 ms. Against the local OpenAI-compatible server (a real HTTP stream: 100 ms before
the first chunk, then 10 ms between chunks) the told values are the truth for TTFT and ITL, and the
raw ``openai`` async client streaming the same request, timed the same way, is the reference for
the end-to-end median: what a machine's own scheduling adds shows in both alike. At
``--concurrency 16`` the measured mean of runs in flight should reach 16.

    python -m bench chaintime
"""

from __future__ import annotations

from time import perf_counter
from typing import Any

from bench.timing import Row
from chainmagic.core import ChatPromptTemplate, FakeChatModel, RunnableParallel, StrOutputParser
from chainmagic.run.execute import run_on_loop
from chainmagic.run.load import run_load
from chainmagic.run.stats import median
from chainmagic.run.timing import time_chains

LATENCY = 0.1  # the server's time to the first chunk
CHUNK_DELAY = 0.01  # and between chunks
REPLY = "one two three four five six seven eight nine ten"


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


def _raw_stream(client: Any, runs: int) -> list[tuple[float, float, float]]:
    """(ttft, itl, total) per streamed request with the raw async client, on the same loop."""

    async def go() -> list[tuple[float, float, float]]:
        out = []
        for _ in range(runs):
            start = perf_counter()
            stamps = []
            stream = await client.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": "hi"}],
                stream=True,
                stream_options={"include_usage": True},  # as ChatOpenAI asks: the same frames
            )
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    stamps.append(perf_counter())
            end = perf_counter()
            itl = (stamps[-1] - stamps[0]) / (len(stamps) - 1)
            out.append((stamps[0] - start, itl, end - start))
        return out

    return run_on_loop(go())


def _bare_stream(model: Any, runs: int) -> list[float]:
    """Seconds per run of the same model streamed with no listener and no harness."""

    async def go() -> list[float]:
        out = []
        for _ in range(runs):
            start = perf_counter()
            async for _ in model.astream("hi"):
                pass
            out.append(perf_counter() - start)
        return out

    return run_on_loop(go())


def _server(runs: int = 20, rounds: int = 3) -> dict[str, float]:
    import openai

    from chainmagic.core import ChatOpenAI
    from chainmagic.testing import OpenAIServer

    with OpenAIServer(replies=[REPLY], latency=LATENCY, chunk_delay=CHUNK_DELAY) as server:
        model = ChatOpenAI(base_url=server.base_url, api_key="bench-key")
        client = openai.AsyncOpenAI(base_url=server.base_url, api_key="bench-key")
        _raw_stream(client, 2)
        ours: list[Any] = []
        raw: list[tuple[float, float, float]] = []
        bare: list[float] = []
        time_chains({"m": model}, "hi", runs=2, warmup=0)  # warm the pool and the caches
        _bare_stream(model, 2)
        for _ in range(runs * rounds):  # run by run, so a busy machine's drift hits all alike
            ours += time_chains({"m": model}, "hi", runs=1, warmup=0).timings["m"].records
            bare += _bare_stream(model, 1)
            raw += _raw_stream(client, 1)
        start = perf_counter()
        (level,) = run_load({"m": model}, "hi", [16], runs=5)
        load_time = perf_counter() - start
    return {
        "ttft": median([r.ttft for r in ours]),
        "itl": median([r.itl for r in ours]),
        "total": median([r.total for r in ours]),
        "raw_ttft": median([r[0] for r in raw]),
        "raw_itl": median([r[1] for r in raw]),
        "raw_total": median([r[2] for r in raw]),
        "bare_total": median(bare),
        "in_flight": level.mean_in_flight,
        "peak": level.peak_in_flight,
        "rps": level.requests_per_s,
        "load_time": load_time,
    }


def rows() -> list[Row]:
    latency = 0.1
    one, both = _accuracy(latency)
    harness, direct = _overhead()
    s = _server()
    e2e = "server: end-to-end median"
    return [
        Row("chaintime: median of a 100 ms chain (7 runs)", one, latency, latency * 1.01),
        Row("chaintime: median of a map of two 100 ms branches", both, latency, latency * 1.01),
        Row("chaintime: harness cost per run (vs bare astream)", harness - direct, None, 1e-4),
        Row("server: TTFT (told 100 ms)", s["ttft"], LATENCY, LATENCY * 1.05),
        Row("server: raw openai client TTFT (told 100ms)", s["raw_ttft"], LATENCY, LATENCY * 1.05),
        Row("server: ITL (told 10 ms per chunk)", s["itl"], CHUNK_DELAY, CHUNK_DELAY * 1.05),
        Row("server: raw openai client ITL (told 10ms)", s["raw_itl"], CHUNK_DELAY, CHUNK_DELAY*1.05),
        Row(f"{e2e} (ref: bare astream)", s["total"], s["bare_total"], s["bare_total"] * 1.01),
        Row(f"{e2e} (ref: raw openai client)", s["total"], s["raw_total"], None),
        Row("server: mean in flight at --concurrency 16", s["in_flight"], 16, unit="n", minimum=15.2),
        Row("server: peak in flight at --concurrency 16", s["peak"], 16, unit="n", minimum=16),
        Row("server: requests/s at --concurrency 16", s["rps"], None, unit="n"),
    ]  # fmt: skip
