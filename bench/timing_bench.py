"""%chaintime rows: how close what it reports is to the truth, and what the harness adds.

Two kinds of truth. The fake model's latency is exact (no network), so the median of a 100 ms chain
should read 100 ms. Against the local OpenAI-compatible server (a real HTTP stream: 100 ms before
the first chunk, then 10 ms between chunks) the told values are the truth for TTFT and ITL, and the
raw ``openai`` async client streaming the same request, timed the same way, is the reference for
the end-to-end median: what a machine's own scheduling adds shows in both alike. At
``--concurrency 16`` the measured mean of runs in flight should reach 16.

Side by side (``python -m bench.timing_bench``): what the server was told; what it sent (its own
record of when each write left, from the request's arrival); what a bare socket client received
(no client library: what the wire delivers); what ``%chaintime`` measured; and what the raw
``openai`` client measured. A measured TTFT also holds what the client library spends on a request
(building it, parsing the first chunk into objects): the row told 0 shows that part alone.

    python -m bench chaintime           # the rows, among every benchmark's
    python -m bench.timing_bench 3      # told vs measured vs raw client, side by side, 3 times
"""

from __future__ import annotations

import json
import re
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


_TEXT = re.compile(rb'"content":"[^"]')


def _socket_stream(port: int, runs: int) -> list[tuple[float, float, float]]:
    """(ttft, itl, total) per streamed request with no client library: one keep-alive socket,
    a request written as bytes, each read that brings text stamped. What the wire delivers."""
    body = json.dumps({
        "model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "stream": True,
        "stream_options": {"include_usage": True},
    }).encode()  # fmt: skip
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Authorization: Bearer bench-key\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )

    async def go() -> list[tuple[float, float, float]]:
        import asyncio

        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        out = []
        try:
            for _ in range(runs):
                start = perf_counter()
                writer.write(head.encode() + body)
                stamps, seen = [], b""
                while not (seen.endswith(b"\r\n0\r\n\r\n") and b"[DONE]" in seen):
                    data = await reader.read(65536)
                    if not data:
                        raise ConnectionError("the server closed the connection")
                    if _TEXT.search(data):
                        stamps.append(perf_counter())
                    seen = seen[-16:] + data if b"[DONE]" not in data else data
                end = perf_counter()
                itl = (stamps[-1] - stamps[0]) / (len(stamps) - 1)
                out.append((stamps[0] - start, itl, end - start))
        finally:
            writer.close()
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


def _server(runs: int = 20, rounds: int = 3, load_runs: int = 10) -> dict[str, float]:
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
        wire: list[tuple[float, float, float]] = []
        time_chains({"m": model}, "hi", runs=2, warmup=0)  # warm the pool and the caches
        _bare_stream(model, 2)
        sent = []  # the server's side of each of our runs: when its writes left it
        for _ in range(runs * rounds):  # run by run, so a busy machine's drift hits all alike
            ours += time_chains({"m": model}, "hi", runs=1, warmup=0).timings["m"].records
            sent.append(server.stream_timings[-1])
            bare += _bare_stream(model, 1)
            raw += _raw_stream(client, 1)
            wire += _socket_stream(server.port, 1)
        # What one request costs the client with nothing to wait for: the part of a measured
        # TTFT that is not the server's latency (building the request, parsing the first chunk).
        server.latency = 0.0
        floor = [r[0] for r in _raw_stream(client, runs)]
        server.latency = LATENCY
        start = perf_counter()
        (level,) = run_load({"m": model}, "hi", [16], runs=load_runs)
        load_time = perf_counter() - start
    return {
        "ttft": median([r.ttft for r in ours]),
        "itl": median([r.itl for r in ours]),
        "total": median([r.total for r in ours]),
        "raw_ttft": median([r[0] for r in raw]),
        "raw_itl": median([r[1] for r in raw]),
        "raw_total": median([r[2] for r in raw]),
        "bare_total": median(bare),
        "wire_ttft": median([r[0] for r in wire]),
        "wire_itl": median([r[1] for r in wire]),
        "wire_total": median([r[2] for r in wire]),
        "floor_ttft": median(floor),
        "sent_ttft": median([t.ttft for t in sent if t.ttft is not None]),
        "sent_itl": median([t.itl for t in sent if t.itl is not None]),
        "sent_total": median([t.writes[-1] for t in sent]),
        "in_flight": level.mean_in_flight,
        "peak": level.peak_in_flight,
        "rps": level.requests_per_s,
        "load_time": load_time,
    }


def _measure() -> dict[str, float]:
    one, both = _accuracy(LATENCY)
    harness, direct = _overhead()
    return {"fake_one": one, "fake_map": both, "harness": harness - direct, **_server()}


# The server's schedule: the first text chunk at LATENCY, then one every CHUNK_DELAY.
TOLD_TOTAL = LATENCY + (len(REPLY.split()) - 1) * CHUNK_DELAY


def rows(m: dict[str, float] | None = None) -> list[Row]:
    m = m if m is not None else _measure()
    e2e = "server: end-to-end median"
    return [
        Row("chaintime: median of a 100 ms chain (7 runs)", m["fake_one"], LATENCY, LATENCY * 1.01),
        Row("chaintime: median of a map of two 100 ms branches", m["fake_map"], LATENCY,
            LATENCY * 1.01),
        Row("chaintime: harness cost per run (vs bare astream)", m["harness"], None, 1e-4),
        Row("server: TTFT as the server sent it (told 100 ms)", m["sent_ttft"], LATENCY,
            LATENCY * 1.05),
        Row("server: TTFT on a bare socket (told 100 ms)", m["wire_ttft"], LATENCY,
            LATENCY * 1.05),
        Row("server: TTFT (told 100 ms)", m["ttft"], LATENCY, LATENCY * 1.05),
        Row("server: raw openai client TTFT (told 100ms)", m["raw_ttft"], LATENCY, LATENCY * 1.05),
        Row("server: ITL (told 10 ms per chunk)", m["itl"], CHUNK_DELAY, CHUNK_DELAY * 1.05),
        Row("server: raw openai client ITL (told 10ms)", m["raw_itl"], CHUNK_DELAY,
            CHUNK_DELAY * 1.05),
        Row(f"{e2e} (ref: bare astream)", m["total"], m["bare_total"], m["bare_total"] * 1.01),
        Row(f"{e2e} (ref: raw openai client)", m["total"], m["raw_total"], m["raw_total"] * 1.01),
        Row("server: mean in flight at --concurrency 16", m["in_flight"], 16, unit="n",
            minimum=15.2),
        Row("server: peak in flight at --concurrency 16", m["peak"], 16, unit="n", minimum=16),
        Row("server: requests/s at --concurrency 16", m["rps"], None, unit="n"),
    ]  # fmt: skip


def side_by_side(m: dict[str, float]) -> list[str]:
    """Told vs what the server sent vs measured vs the raw openai client, and how far off."""

    def ms(seconds: float | None) -> str:
        return "" if seconds is None else f"{seconds * 1e3:8.2f} ms"

    def line(what: str, cells: list[str], off: str, target: str, ok: bool) -> str:
        row = "".join(f"{c:>13}" for c in cells)
        return f"{what:<32}{row} {off:>13}  {target:<11} {'yes' if ok else 'NO'}"

    ttft_off, itl_off = m["ttft"] / LATENCY - 1, m["itl"] / CHUNK_DELAY - 1
    e2e_off = m["total"] / m["raw_total"] - 1
    bare_off = m["total"] / m["bare_total"] - 1
    flight_off = m["in_flight"] / 16 - 1
    heads = ["told", "server sent", "bare socket", "chaintime", "raw openai"]
    return [
        f"{'':32}" + "".join(f"{h:>13}" for h in heads) + f" {'chaintime off':>13}  target",
        line("TTFT", [ms(LATENCY), ms(m["sent_ttft"]), ms(m["wire_ttft"]), ms(m["ttft"]),
                      ms(m["raw_ttft"])],
             f"{ttft_off:+.1%} told", "within 5 %", abs(ttft_off) <= 0.05),
        line("ITL", [ms(CHUNK_DELAY), ms(m["sent_itl"]), ms(m["wire_itl"]), ms(m["itl"]),
                     ms(m["raw_itl"])],
             f"{itl_off:+.1%} told", "within 5 %", abs(itl_off) <= 0.05),
        line("end-to-end median",
             [ms(TOLD_TOTAL), ms(m["sent_total"]), ms(m["wire_total"]), ms(m["total"]),
              ms(m["raw_total"])],
             f"{e2e_off:+.1%} raw", "within 1 %", abs(e2e_off) <= 0.01),
        line("  vs bare astream (same model)", ["", "", "", "", ms(m["bare_total"])],
             f"{bare_off:+.1%} bare", "within 1 %", abs(bare_off) <= 0.01),
        line("TTFT told 0 (the client's cost)", [ms(0.0), "", "", "", ms(m["floor_ttft"])], "",
             "", True),
        line("harness cost per run", ["", "", "", f"{m['harness'] * 1e6:.1f} µs", ""], "",
             "≤ 100 µs", m["harness"] <= 1e-4),
        line("mean in flight, concurrency 16", ["16", "", "", f"{m['in_flight']:.2f}", ""],
             f"{flight_off:+.1%}", "within 5 %", abs(flight_off) <= 0.05),
        line("peak in flight", ["16", "", "", f"{m['peak']:.0f}", ""], "", "16",
             m["peak"] == 16),
    ]  # fmt: skip


def main(argv: list[str]) -> int:
    """``python -m bench.timing_bench [REPEATS]``: the side-by-side table, once per repeat."""
    repeats = int(argv[0]) if argv else 1
    failed = 0
    for i in range(repeats):
        m = _measure()
        lines = side_by_side(m)
        failed += sum(line.endswith(" NO") for line in lines)
        print(f"run {i + 1} of {repeats}")
        print("\n".join(lines), end="\n\n", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
