"""Distributed batches on a real Dask LocalCluster (2 worker processes), against real servers.

One cluster serves the whole module: starting one costs seconds, and the tests below leave it as
they found it (a killed worker is restarted by its nanny).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest

distributed = pytest.importorskip("distributed")

from chainmagic import dsl  # noqa: E402
from chainmagic.core import ChatOpenAI, ChatPromptTemplate, FakeChatModel, StrOutputParser  # noqa: E402
from chainmagic.run import BatchResult, RateLimit, batch  # noqa: E402
from chainmagic.run.clusters import close_clients  # noqa: E402
from chainmagic.run.distributed import CANCEL_POLL  # noqa: E402
from chainmagic.run.shipping import CannotTravel  # noqa: E402
from chainmagic.testing import OpenAIServer  # noqa: E402
from chainmagic.testing.protocol import prompt_tokens, split_tokens  # noqa: E402
from chainmagic.testing.replies import last_user_text  # noqa: E402

KEY = "sk-test-distributed-0123456789"


@pytest.fixture(scope="module")
def client() -> Iterator[distributed.Client]:
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=2,
        processes=True,
        dashboard_address=":0",
        silence_logs=50,
    )
    with distributed.Client(cluster) as c:
        yield c
    close_clients()  # those the magic's --on opened to this cluster
    cluster.close()


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer(api_key=KEY, max_lifetime=300) as s:
        yield s


def two_branches(default_model: str = "fake:echo"):
    text = (
        'm = {joke: "joke about {topic}" | model | str, poem: "poem about {topic}" | model | str}'
    )
    return dsl.compile(dsl.parse(text), {}, default_model=default_model).chain


def served(server: OpenAIServer) -> object:
    model = ChatOpenAI(base_url=server.base_url, api_key=KEY, max_retries=5, name="model")
    return ChatPromptTemplate.from_template("say {x}") | model | StrOutputParser()


def scheduler_tasks(client) -> list[str]:
    def ours(dask_scheduler) -> list[str]:
        return [str(k) for k in dask_scheduler.tasks if str(k).startswith("chainmagic-")]

    return client.run_on_scheduler(ours)


def test_100k_inputs_on_the_fake_model_match_a_local_batch(client):
    chain = two_branches()
    inputs = [{"topic": f"t{i}"} for i in range(100_000)]

    result = batch(chain, inputs, client=client, chunk_size=2500, name="m")

    assert isinstance(result, BatchResult)
    assert result.size == 100_000 and result.errors == 0
    assert result.outputs == chain.batch(inputs)  # the core's own local batch
    # and the notebook's local --batch path gives the very same rows on a slice
    local = batch(chain, inputs[:2000], name="m")
    assert local.outputs == result.outputs[:2000]
    assert result.where == "dask · 2 workers"
    assert result.dashboard and result.dashboard.startswith("http")
    assert not scheduler_tasks(client)  # nothing left behind on the cluster


def test_rows_keep_their_own_errors_in_input_order(client):
    model = FakeChatModel(fail_on="7$", name="model")
    chain = ChatPromptTemplate.from_template("{topic}") | model | StrOutputParser()
    inputs = [{"topic": f"t{i}"} for i in range(40)]

    result = batch(chain, inputs, client=client, chunk_size=8)

    failed = [i for i, r in enumerate(result.results) if r.status == "error"]
    assert failed == [7, 17, 27, 37]
    assert "model" in str(result.results[7].error)
    assert result.outputs[8] == "t8"


def test_2000_requests_stay_under_the_servers_rate_with_injected_429s(client, server):
    server.rate_limit = 500  # requests/s; more get a 429 from the server
    server.fail_next(20, status=429, retry_after=0.01)
    inputs = [{"x": i} for i in range(2000)]

    started = time.perf_counter()
    result = batch(served(server), inputs, client=client, chunk_size=250, rate_limit=RateLimit(400))
    elapsed = time.perf_counter() - started

    assert result.errors == 0
    assert result.outputs == [f"say {i}" for i in range(2000)]
    assert server.rate_limited == 0  # the shared limit kept every worker under the server's
    assert server.pending_faults == (0, 0)  # the injected 429s were met, and retried
    assert server.counts["/v1/chat/completions"] == 2000 + 20
    assert elapsed > 2000 / 400 - 1  # paced: 400 requests/s at most, across both workers


def test_without_the_shared_limit_the_same_batch_meets_the_servers_limit(client, server):
    """The control for the test above: the limit is what keeps the 429s away."""
    server.rate_limit = 50
    batch(served(server), [{"x": i} for i in range(200)], client=client, chunk_size=50)
    assert server.rate_limited > 0


def token_clock(server: OpenAIServer) -> list[tuple[float, int]]:
    """Make ``server`` echo, noting when each request arrived and the tokens it will report."""
    arrivals: list[tuple[float, int]] = []

    def echo(messages) -> str:  # called as the request is answered (the server has no latency)
        text = last_user_text(messages)
        arrivals.append((time.monotonic(), prompt_tokens(messages) + len(split_tokens(text))))
        return text

    server.replies = echo
    return arrivals


def busiest(arrivals: list[tuple[float, int]], window: float) -> int:
    """The most tokens the server saw within any ``window`` seconds."""
    times = sorted(arrivals)
    return max(
        sum(n for t, n in times[i:] if t < start + window) for i, (start, _) in enumerate(times)
    )


def test_the_token_rate_stays_under_the_shared_tokens_per_minute(client, server):
    model = ChatOpenAI(base_url=server.base_url, api_key=KEY, max_tokens=4, name="model")
    chain = ChatPromptTemplate.from_template("say {x}") | model | StrOutputParser()
    inputs = [{"x": i} for i in range(120)]  # 4 tokens each: "say", " 12" in, "say", " 12" out
    arrivals = token_clock(server)
    batch(chain, inputs, client=client, chunk_size=15)
    assert busiest(arrivals, 2.0) > 200  # unpaced, the batch goes past the budget below
    arrivals.clear()

    # 200 tokens per 2 s; the request limit, too high to bind, is taken on the way as well
    limit = RateLimit(1000, tokens_per_minute=6000, token_window=2.0)
    started = time.perf_counter()
    result = batch(chain, inputs, client=client, chunk_size=15, rate_limit={"gpt-4o-mini": limit})
    elapsed = time.perf_counter() - started

    assert result.outputs == [f"say {i}" for i in range(120)]
    assert len(arrivals) == 120 and sum(n for _, n in arrivals) == 480
    assert busiest(arrivals, 2.0) <= 200  # both workers together, on the server's clock
    assert elapsed > (480 - 200) / 100  # paced: 100 tokens/s once the first window is spent


def test_a_killed_worker_loses_no_row_and_fills_each_once(client):
    model = FakeChatModel(latency=0.25, name="model")
    chain = ChatPromptTemplate.from_template("{topic}") | model | StrOutputParser()
    inputs = [{"topic": f"t{i}"} for i in range(240)]
    before = set(client.run(os.getpid).values())
    killed: list[int] = []
    arrivals: list[int] = []

    def kill_once(result: BatchResult, index: int) -> None:
        arrivals.append(index)
        if not killed:  # partitions are running on both workers: kill one of them
            pid = sorted(before)[0]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    result = batch(chain, inputs, client=client, chunk_size=10, on_change=kill_once)

    assert killed
    assert result.errors == 0
    assert [r.status for r in result.results] == ["ok"] * 240
    assert result.outputs == [f"t{i}" for i in range(240)]
    assert len(arrivals) == 24  # one arrival per partition: none counted twice
    client.wait_for_workers(2, timeout=30)
    assert set(client.run(os.getpid).values()) != before  # the nanny replaced the dead worker


def test_an_interrupt_cancels_the_cluster_work_and_resume_runs_only_the_rest(client, server):
    server.latency = 0.2
    inputs = [{"x": i} for i in range(120)]
    chain = served(server)

    timers: list[threading.Timer] = []

    def interrupt_soon(result: BatchResult, index: int) -> None:
        if not timers:  # the first rows are in: the user presses Ctrl-C (a kernel interrupt)
            timers.append(threading.Timer(0.3, signal.pthread_kill, (main, signal.SIGINT)))
            timers[0].start()

    main = threading.main_thread().ident
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt) as caught:
            batch(
                chain,
                inputs,
                client=client,
                chunk_size=4,
                max_concurrency=4,
                on_change=interrupt_soon,
            )
    finally:
        signal.signal(signal.SIGINT, previous)
    partial: BatchResult = caught.value.batch  # type: ignore[attr-defined]

    statuses = [r.status for r in partial.results]
    done = statuses.count("ok")
    assert 0 < done < 120
    assert set(statuses) == {"ok", "cancelled"}
    deadline = time.monotonic() + 10
    while scheduler_tasks(client) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not scheduler_tasks(client)  # the futures were cancelled on the cluster
    time.sleep(CANCEL_POLL * 3)  # running partitions see their cancellation and stop
    while server.in_flight and time.monotonic() < deadline:
        time.sleep(0.05)
    kept = {i: r for i, r in enumerate(partial.results) if r.status == "ok"}
    server.reset()

    resumed = batch(chain, inputs, client=client, chunk_size=4, resume=partial)

    assert resumed is partial
    assert resumed.outputs == [f"say {i}" for i in range(120)]
    assert server.counts["/v1/chat/completions"] == 120 - done  # only what had not finished
    assert all(resumed.results[i] is r for i, r in kept.items())


def test_keys_travel_apart_from_the_task_graph(client, server):
    spec = f'model("openai:gpt-4o-mini", base_url="{server.base_url}", api_key="{KEY}")'
    chain = dsl.compile(dsl.parse(f'say = "say {{x}}" | {spec} | str'), {}).chain

    def specs(dask_scheduler) -> bytes:  # every task as the scheduler holds it, args and all
        import cloudpickle

        return b" ".join(cloudpickle.dumps(ts.run_spec) for ts in dask_scheduler.tasks.values())

    def scattered(dask_worker) -> bytes:
        return b" ".join(v for v in dask_worker.data.values() if isinstance(v, bytes))

    tasks: list[bytes] = []
    data: list[bytes] = []

    def look(result: BatchResult, index: int) -> None:  # while the batch runs
        tasks.append(client.run_on_scheduler(specs))
        data.extend(client.run(scattered).values())

    result = batch(chain, [{"x": i} for i in range(8)], client=client, chunk_size=2, on_change=look)

    assert result.outputs == [f"say {i}" for i in range(8)]  # the key reached the workers
    assert tasks and all(b"dask_partition" in t for t in tasks)  # the tasks, with their inputs
    assert any(b"say {x}" in d for d in data)  # the chain travelled as data
    assert not any(KEY.encode() in t for t in tasks + data)  # never its key


def test_a_step_that_cannot_travel_is_named_before_anything_runs(client, tmp_path):
    log = open(tmp_path / "log.txt", "w")  # the point: a file open for writing cannot travel

    def write(x):
        log.write(str(x))
        return x

    chain = dsl.compile(
        dsl.parse('c = {a: "a {topic}" | model, b: "b {topic}" | write | model}'), {"write": write}
    ).chain

    before = set(scheduler_tasks(client))  # an earlier test's tasks may still be on their way out
    with pytest.raises(CannotTravel) as caught:
        batch(chain, [{"topic": "x"}], client=client)

    assert caught.value.path[:2] == ["b", "write"]
    assert "b › write" in str(caught.value)
    assert set(scheduler_tasks(client)) <= before  # nothing of this batch was submitted
    assert batch(chain, [{"topic": "x"}]).errors == 0  # locally it runs
    log.close()


def test_bad_arguments_fail_before_anything_runs(client):
    chain = two_branches()
    with pytest.raises(ValueError, match="chunk_size"):
        batch(chain, [1], client=client, chunk_size=0)
    with pytest.raises(ValueError, match="client="):
        batch(chain, [1], rate_limit=10)
    with pytest.raises(ValueError, match="positive"):
        RateLimit(0)
    with pytest.raises(CannotTravel, match=r"^input 1 cannot be sent to the workers"):
        batch(chain, [{"topic": "a"}, {"topic": threading.Lock()}], client=client)
    assert not scheduler_tasks(client)
    assert batch(chain, [], client=client).size == 0


# -- the magic ------------------------------------------------------------------------------------

SETUP = """\
from chainmagic.core import FakeChatModel
slowish = FakeChatModel(latency=0.3)
rows = [{"topic": f"t{i}"} for i in range(80)]
"""


def test_magic_batch_on_a_cluster_gives_the_local_rows(ipython, client):
    ipython.ok(SETUP)
    ipython.ok(
        '%%chain pair\njoke: "joke {topic}" | model | str\npoem: "poem {topic}" | model | str'
    )
    local = ipython.ok("%chain pair --batch rows -o -q").value
    where = client.scheduler.address

    remote = ipython.ok(f"%chain pair --batch rows --on {where} -o -q").value

    assert remote.outputs == local.outputs
    assert remote.where == "dask · 2 workers" and local.where is None
    ipython.ok(f"%config ChainMagics.batch_on = '{where}'")
    assert ipython.ok("%chain pair --batch rows -o -q").value.where == "dask · 2 workers"


def test_a_cell_chain_is_rebuilt_from_its_text_once_per_worker(ipython, client, tmp_path):
    ipython.ok(SETUP)
    ipython.ok(
        "import os\n"
        f"def bang(where={str(tmp_path)!r}):\n"
        "    with open(os.path.join(where, str(os.getpid())), 'a') as f:  # a line per build\n"
        "        f.write('built\\n')\n"
        "    return lambda s: s + '!'\n"
    )
    ipython.ok('%%chain loud\n"{topic}" | model | str | bang()')
    where = client.scheduler.address

    result = ipython.ok(f"%chain loud --batch rows --on {where} -o -q").value

    assert result.outputs == [f"t{i}!" for i in range(80)]
    builds = {p.name: p.read_text().count("built") for p in tmp_path.iterdir()}
    workers = {str(pid) for pid in client.run(os.getpid).values()}
    assert set(builds) == workers | {str(os.getpid())}  # the cell here, then each worker
    assert set(builds.values()) == {1}  # once per process, however many partitions it ran
    again = ipython.ok(f"%chain loud --batch rows --on {where} -o -q").value
    assert again.outputs == result.outputs
    assert {p.read_text().count("built") for p in tmp_path.iterdir()} == {1}  # kept, not rebuilt


def test_magic_options_fail_before_anything_runs(ipython):
    ipython.ok(SETUP)
    for line, message in [
        ("%chain passthrough --on dask -i 1", "--on and --resume go with --batch"),
        ("%chain passthrough --batch rows --on nowhere",
         "--on nowhere: use 'dask' or a scheduler address (tcp://host:8786)"),
        ("%chain passthrough --batch rows --resume", "--resume: no unfinished batch of this chain"),
    ]:  # fmt: skip
        ran = ipython(line)
        assert type(ran.error).__name__ == "UsageError"
        assert str(ran.error) == message
    ran = ipython("%chain passthrough --batch rows --on tcp://127.0.0.1:9")
    assert str(ran.error).startswith("--on tcp://127.0.0.1:9: cannot reach the scheduler")


def test_magic_names_a_step_that_cannot_travel_and_sends_nothing(ipython, client, tmp_path):
    ipython.ok(SETUP)
    ipython.ok(
        f"log = open({str(tmp_path / 'log.txt')!r}, 'w')\ndef note(x):\n    return log.write(str(x))"
    )
    ran = ipython(
        f'%chain "{{topic}}" | model | str | note --batch rows --on {client.scheduler.address}'
    )
    assert type(ran.error).__name__ == "UsageError"
    assert str(ran.error).startswith("note cannot be sent to the workers (PicklingError")
    assert not scheduler_tasks(client)
    ipython.ok("log.close()")


def test_magic_interrupt_keeps_the_finished_rows_and_resume_runs_the_rest(ipython, client):
    ipython.ok(SETUP)
    where = client.scheduler.address
    main = threading.main_thread().ident
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(1.0, signal.pthread_kill, (main, signal.SIGINT))
    timer.start()
    try:
        ran = ipython(f'%chain "{{topic}}" | slowish | str --batch rows --on {where} -v part -q')
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    assert isinstance(ran.error, KeyboardInterrupt), ran.error
    part = ipython.shell.user_ns["part"]
    statuses = {r.status for r in part.results}
    assert "cancelled" in statuses

    done = ipython.ok(
        f'%chain "{{topic}}" | slowish | str --batch rows --on {where} --resume -o -q'
    )

    assert done.value is part
    assert part.outputs == [f"t{i}" for i in range(80)]
