"""ChatOpenAI, embeddings and FAISS against their references, on the local OpenAI-compatible server.

Each function returns one row ``(label, chainmagic_seconds, reference_seconds_or_None)``, measured
in this run: the reference is the same work done directly with the ``openai`` client (or ``None``
when there is no fair one). ``run()`` gives those tuples; ``rows()`` the same as
:class:`bench.timing.Row` with the issue's targets (the runner's "reference" column is the raw
``openai`` client here, not langchain).

    python -m bench.openai_bench
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.timing import Row as TimedRow
from bench.timing import fmt

Row = tuple[str, float, float | None]
MESSAGES = [{"role": "user", "content": "hello there"}]


def _best(fn: Callable[[], Any], rounds: int) -> float:
    """Best of ``rounds`` timings: the least disturbed measurement of the same work."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def chat_invoke_overhead(calls: int = 300, rounds: int = 5) -> Row:
    """Seconds per ``ChatOpenAI.invoke`` vs per raw ``client.chat.completions.create`` (0 ms server)."""
    import openai

    from chainmagic.core import ChatOpenAI
    from chainmagic.testing import OpenAIServer

    with OpenAIServer(replies=["a short answer"]) as server:
        model = ChatOpenAI(base_url=server.base_url, api_key="bench-key")
        client = openai.OpenAI(base_url=server.base_url, api_key="bench-key")

        def ours() -> None:
            for _ in range(calls):
                model.invoke("hello there")

        def raw() -> None:
            for _ in range(calls):
                client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

        ours(), raw()  # warm both pools, imports and caches
        mine, ref = [], []
        for _ in range(rounds):  # interleaved, so drift hits both alike
            mine.append(_best(ours, 1) / calls)
            ref.append(_best(raw, 1) / calls)
    return ("ChatOpenAI.invoke per call, 0 ms server", min(mine), min(ref))


def parallel_map_async(branches: int = 64, latency: float = 0.2, rounds: int = 3) -> Row:
    """``await RunnableParallel({64 × ChatOpenAI}).ainvoke`` vs ``asyncio.gather`` of raw calls."""
    import openai

    from chainmagic.core import ChatOpenAI, RunnableParallel
    from chainmagic.testing import OpenAIServer

    with OpenAIServer(replies=["a short answer"], latency=latency) as server:
        model = ChatOpenAI(base_url=server.base_url, api_key="bench-key")
        chain = RunnableParallel({f"b{i}": model for i in range(branches)})

        async def measure() -> tuple[float, float]:
            client = openai.AsyncOpenAI(base_url=server.base_url, api_key="bench-key")

            async def raw() -> None:
                await asyncio.gather(
                    *(
                        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
                        for _ in range(branches)
                    )
                )

            await raw(), await chain.ainvoke("hello there")  # warm up connections
            mine, ref = [], []
            for _ in range(rounds):
                start = time.perf_counter()
                await chain.ainvoke("hello there")
                mine.append(time.perf_counter() - start)
                start = time.perf_counter()
                await raw()
                ref.append(time.perf_counter() - start)
            await client.close()
            return min(mine), min(ref)

        mine, ref = asyncio.run(measure())
    return (f"{branches} x ChatOpenAI map, {latency * 1000:.0f} ms server, ainvoke", mine, ref)


def parallel_map_sync(branches: int = 64, latency: float = 0.2, rounds: int = 3) -> Row:
    """``RunnableParallel({64 × ChatOpenAI}).invoke`` vs 64 threads calling the raw client."""
    import openai

    from chainmagic.core import ChatOpenAI, RunnableParallel
    from chainmagic.testing import OpenAIServer

    with OpenAIServer(replies=["a short answer"], latency=latency) as server:
        model = ChatOpenAI(base_url=server.base_url, api_key="bench-key")
        chain = RunnableParallel({f"b{i}": model for i in range(branches)})
        client = openai.OpenAI(base_url=server.base_url, api_key="bench-key")
        with ThreadPoolExecutor(branches) as threads:

            def raw() -> None:
                create = client.chat.completions.create
                list(
                    threads.map(
                        lambda _: create(model="gpt-4o-mini", messages=MESSAGES), range(branches)
                    )
                )

            raw(), chain.invoke("hello there")
            mine, ref = [], []
            for _ in range(rounds):  # interleaved, so drift hits both alike
                mine.append(_best(lambda: chain.invoke("hello there"), 1))
                ref.append(_best(raw, 1))
    return (
        f"{branches} x ChatOpenAI map, {latency * 1000:.0f} ms server, invoke",
        min(mine),
        min(ref),
    )


def _texts(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    words = [
        "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(3, 9))) for _ in range(5000)
    ]
    return [" ".join(rng.choices(words, k=rng.randint(5, 15))) for _ in range(n)]


def faiss_build_and_query(n: int = 10_000, queries: int = 100, rounds: int = 3) -> Row:
    """``FAISS.from_texts`` on 10k texts with HashingEmbeddings, then 100 ``similarity_search``."""
    from chainmagic.core import FAISS, HashingEmbeddings

    texts = _texts(n)
    asks = _texts(queries, seed=1)

    def work() -> None:
        store = FAISS.from_texts(texts, HashingEmbeddings())
        for q in asks:
            store.similarity_search(q, k=4)

    work()
    return (
        f"FAISS.from_texts({n // 1000}k, hashing) + {queries} searches",
        _best(work, rounds),
        None,
    )


def hashing_embeddings(n: int = 20_000, rounds: int = 3) -> Row:
    """Seconds for ``HashingEmbeddings().embed_array`` of 20k short texts (a cold cache each time)."""
    from chainmagic.core import HashingEmbeddings

    texts = _texts(n)
    seconds = _best(lambda: HashingEmbeddings().embed_array(texts), rounds)
    return (f"HashingEmbeddings, {n // 1000}k texts ({n / seconds / 1000:.0f}k/s)", seconds, None)


def chat_own_work(calls: int = 20_000) -> Row:
    """Seconds per ``ChatOpenAI.invoke`` minus the client: a canned response, no HTTP.

    The end-to-end ratio above is dominated by the client's own 1-2 ms and the machine's noise;
    this is the part chainmagic adds (messages in, request dict, AIMessage out).
    """
    import openai

    from chainmagic.core import ChatOpenAI
    from chainmagic.testing import OpenAIServer

    with OpenAIServer(replies=["a short answer"]) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="bench-key")
        canned = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    class Canned:  # stands in for the client: .chat.completions.create(**body) -> canned
        def __init__(self) -> None:
            self.chat = self.completions = self

        def create(self, **body: Any) -> Any:
            return canned

    model = ChatOpenAI(base_url="http://127.0.0.1:9/v1", api_key="bench-key")
    model._connection._sync = Canned()
    seconds = _best(lambda: [model.invoke("hello there") for _ in range(calls)], 3) / calls
    return ("ChatOpenAI's own work per invoke (client stubbed)", seconds, None)


def run() -> list[Row]:
    return [
        chat_invoke_overhead(),
        chat_own_work(),
        parallel_map_async(),
        parallel_map_sync(),
        faiss_build_and_query(),
        hashing_embeddings(),
    ]


def rows() -> list[TimedRow]:
    """The rows for ``python -m bench``, with the issue's targets (ratio = raw client ÷ ours)."""
    overhead, own, amap, smap, faiss, hashing = run()
    return [
        TimedRow(*overhead, target=overhead[2] * 1.05 if overhead[2] else None),  # ≤ 5 % over
        TimedRow(*own),
        TimedRow(*amap, target=amap[2] * 1.1 if amap[2] else None),  # ≤ 1.1x the direct calls
        TimedRow(*smap, target=smap[2] * 1.1 if smap[2] else None),
        TimedRow(*faiss),
        TimedRow(*hashing, target=1.0),  # ≥ 20k texts/s: 20k in a second
    ]


def main() -> None:
    for label, ours, ref in run():
        ratio = f"{ours / ref:.3f}x the raw client" if ref else ""
        print(f"{label:<52} {fmt(ours):>10} {fmt(ref):>10}  {ratio}")


if __name__ == "__main__":
    main()
