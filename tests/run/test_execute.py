"""execute / execute_batch / run_on_loop: real runs of fake-model chains on the private loop."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from chainmagic.core import (
    AIMessage,
    AIMessageChunk,
    ChatPromptTemplate,
    FakeChatModel,
    RunnableLambda,
    RunnableParallel,
    StrOutputParser,
)
from chainmagic.core.models.fake import FakeModelError
from chainmagic.errors import ChainRunError
from chainmagic.run import execute, execute_batch
from chainmagic.run.execute import run_on_loop

from .conftest import interrupt_after

TOPIC = {"topic": "bears"}


def joke_and_poem(latency: float = 0.3, token_delay: float = 0.0) -> RunnableParallel:
    """LCEL's parallel guide: two prompt → model branches, the joke one parsed to a string."""
    model = FakeChatModel(latency=latency, token_delay=token_delay, name="model")
    joke = ChatPromptTemplate.from_template("tell me a joke about {topic}") | model
    poem = ChatPromptTemplate.from_template("write a short poem about {topic}") | model
    return RunnableParallel(joke=joke | StrOutputParser(), poem=poem)


async def boom_later(x):
    await asyncio.sleep(0.1)
    raise ValueError("boom")


# -- one run ------------------------------------------------------------------------------------


def test_a_map_costs_its_slowest_branch_and_every_branch_is_recorded():
    result = execute(joke_and_poem(0.3, token_delay=0.01), TOPIC, name="map_chain")

    assert result.status == "ok", result.error
    assert 0.3 <= result.total < 0.5
    assert set(result.branches) == {"joke", "poem"}
    for branch in result.branches.values():
        assert branch.status == "ok"
        assert 0.3 <= branch.latency < 0.45
        # The first token comes after the latency, the rest 10 ms apart: ttft is before the end.
        assert 0.29 <= branch.ttft <= branch.latency - 0.03
    assert result.output["joke"] == "tell me a joke about bears"
    assert result.branches["joke"].text == result.output["joke"]
    assert result.branches["poem"].text == result.output["poem"].content
    assert 0.29 <= result.ttft < result.total


def test_outputs_are_whole_messages_not_chunks():
    result = execute(joke_and_poem(0.0), TOPIC, name="map_chain")

    poem = result.output["poem"]
    assert type(poem) is AIMessage
    assert type(result.branches["poem"].output) is AIMessage
    assert not isinstance(result.branches["poem"].output, AIMessageChunk)
    assert poem.usage_metadata == {"input_tokens": 6, "output_tokens": 6, "total_tokens": 12}


def test_usage_is_summed_over_model_calls_only():
    result = execute(joke_and_poem(0.0), TOPIC, name="map_chain")

    with_usage = [s.path for s in result.steps if s.usage]
    assert sorted(with_usage) == [
        ("map_chain", "joke", "model"),
        ("map_chain", "poem", "model"),
    ]
    # The poem branch ends with the model: its AIMessage must not be counted a second time.
    assert result.usage == {"input_tokens": 12, "output_tokens": 12, "total_tokens": 24}


def test_steps_are_in_start_order_with_their_paths():
    result = execute(joke_and_poem(0.05), TOPIC, name="map_chain")

    starts = [s.start for s in result.steps]
    assert starts == sorted(starts)
    paths = {s.path for s in result.steps}
    assert {
        ("map_chain", "joke"),
        ("map_chain", "joke", "ChatPromptTemplate"),
        ("map_chain", "joke", "model"),
        ("map_chain", "joke", "StrOutputParser"),
        ("map_chain", "poem"),
        ("map_chain", "poem", "model"),
    } <= paths
    assert all(s.status == "ok" and s.end is not None for s in result.steps)
    model = next(s for s in result.steps if s.path == ("map_chain", "poem", "model"))
    assert model.where == "map_chain › poem › model"
    assert 0.05 <= model.latency < 0.2


def test_an_unnamed_chain_streams_its_root_text_and_ttft():
    model = FakeChatModel(latency=0.1, token_delay=0.02, name="model")
    chain = ChatPromptTemplate.from_template("say {topic} now please") | model | StrOutputParser()

    result = execute(chain, TOPIC)

    assert result.status == "ok"
    assert result.branches == {}
    assert result.output == "say bears now please"
    assert result.text == result.output
    assert 0.1 <= result.ttft <= result.total - 0.05  # three more tokens, 20 ms apart
    assert ("model",) in {s.path for s in result.steps}


def test_an_unnamed_map_gets_a_ttft_and_its_branches():
    result = execute(joke_and_poem(0.1, token_delay=0.01), TOPIC)

    assert result.status == "ok"
    assert result.ttft is not None
    assert 0.1 <= result.ttft < result.total
    assert ("joke", "model") in {s.path for s in result.steps}
    assert all(b.status == "ok" for b in result.branches.values())


def test_without_streaming_the_output_is_still_whole():
    result = execute(joke_and_poem(0.1), TOPIC, name="map_chain", stream=False)

    assert result.status == "ok"
    assert type(result.output["poem"]) is AIMessage
    assert result.output["joke"] == "tell me a joke about bears"
    assert result.ttft == result.total  # nothing streamed: the first output is the whole output
    assert all(b.status == "ok" and b.output is not None for b in result.branches.values())
    assert result.branches["joke"].text == "tell me a joke about bears"
    assert result.usage["total_tokens"] == 24


def test_a_timeout_is_a_run_error_naming_the_option():
    chain = ChatPromptTemplate.from_template("{topic}") | FakeChatModel(latency=5, name="model")

    started = time.perf_counter()
    result = execute(chain, TOPIC, timeout=0.1)

    assert time.perf_counter() - started < 1
    assert result.status == "error"
    assert isinstance(result.error, ChainRunError)
    assert isinstance(result.error.__cause__, TimeoutError)
    assert "--timeout" in str(result.error)
    assert 0.1 <= result.total < 0.5
    model = next(s for s in result.steps if s.path == ("model",))
    assert model.status == "cancelled"


def test_a_failing_branch_fails_the_run_and_cancels_its_running_sibling():
    model = FakeChatModel(fail_on="poem", name="model")
    chain = RunnableParallel(
        joke=ChatPromptTemplate.from_template("joke {topic}") | FakeChatModel(latency=5),
        poem=ChatPromptTemplate.from_template("poem {topic}") | model,
    )

    started = time.perf_counter()
    result = execute(chain, TOPIC, name="map_chain")

    assert time.perf_counter() - started < 1  # the failure surfaces at once
    assert result.status == "error"
    assert isinstance(result.error, ChainRunError)
    assert result.error.path == ["map_chain", "poem", "model"]
    assert isinstance(result.error.__cause__, FakeModelError)
    assert result.branches["poem"].status == "error"
    assert isinstance(result.branches["poem"].error, FakeModelError)  # the branch's own error
    assert result.branches["joke"].status == "cancelled"
    assert result.output is None


def test_a_sibling_that_finished_first_stays_ok():
    chain = RunnableParallel(joke=FakeChatModel(name="model"), poem=RunnableLambda(boom_later))

    result = execute(chain, "a joke", name="map_chain")

    assert result.status == "error"
    assert result.error.path == ["map_chain", "poem"]
    assert isinstance(result.error.__cause__, ValueError)
    assert result.branches["poem"].status == "error"
    joke = result.branches["joke"]
    assert joke.status == "ok"
    assert joke.text == "a joke"
    assert "joke" in result.error.partial


def test_on_change_reports_every_kind_and_done_last():
    seen: list[tuple[str, str | None]] = []
    results = set()

    def on_change(result, kind, key):
        results.add(id(result))
        seen.append((kind, key))

    result = execute(joke_and_poem(0.05, token_delay=0.01), TOPIC, on_change=on_change)

    kinds = [kind for kind, _ in seen]
    assert {"branch", "step", "root", "done"} <= set(kinds)
    assert kinds[-1] == "done"
    assert kinds.count("done") == 1
    assert results == {id(result)}
    assert {key for kind, key in seen if kind == "branch"} == {"joke", "poem"}


# -- the private loop ----------------------------------------------------------------------------


def test_execute_works_while_an_event_loop_runs_in_the_calling_thread():
    async def cell():
        asyncio.get_running_loop()  # what ipykernel's main thread looks like
        return execute(joke_and_poem(0.05), TOPIC, name="map_chain")

    result = asyncio.run(cell())

    assert result.status == "ok", result.error
    assert result.output["joke"] == "tell me a joke about bears"


def test_run_on_loop_returns_and_raises_what_the_coroutine_does():
    async def answer():
        return threading.current_thread().name

    async def fail():
        raise KeyError("nope")

    assert run_on_loop(answer()) == "chainmagic-loop"
    with pytest.raises(KeyError):
        run_on_loop(fail())


def test_an_interrupt_cancels_the_run_and_leaves_the_loop_usable():
    cancelled = threading.Event()

    async def waits(x):
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return x

    chain = RunnableParallel(model=FakeChatModel(latency=5), probe=RunnableLambda(waits))
    seen: list[tuple[object, str]] = []

    started = time.perf_counter()
    with interrupt_after(0.2), pytest.raises(KeyboardInterrupt):
        execute(chain, "hi", name="slow", on_change=lambda r, kind, key: seen.append((r, kind)))
    elapsed = time.perf_counter() - started

    assert elapsed < 1.2
    # The run's task saw its cancellation before the interrupt went on.
    assert cancelled.is_set()
    result, kind = seen[-1]
    assert kind == "done"
    assert result.status == "cancelled"
    assert {b.status for b in result.branches.values()} == {"cancelled"}

    again = execute(joke_and_poem(0.0), TOPIC)
    assert again.status == "ok"


def test_run_on_loop_raises_keyboard_interrupt_and_calls_back():
    calls: list[str] = []

    with interrupt_after(0.1), pytest.raises(KeyboardInterrupt):
        run_on_loop(asyncio.sleep(5), on_interrupt=lambda: calls.append("interrupted"))

    assert calls == ["interrupted"]
    assert run_on_loop(asyncio.sleep(0, result=42)) == 42


# -- many inputs ---------------------------------------------------------------------------------


def test_batch_results_come_in_input_order():
    async def slower_first(x):
        await asyncio.sleep((5 - x) * 0.02)
        return x * 10

    batch = execute_batch(RunnableLambda(slower_first), [0, 1, 2, 3, 4], name="tens")

    assert batch.outputs == [0, 10, 20, 30, 40]
    assert [r.input for r in batch.results] == [0, 1, 2, 3, 4]
    assert all(r.status == "ok" and r.name == "tens" for r in batch.results)
    assert batch.size == batch.done == 5
    assert batch.errors == 0


def test_batch_inputs_run_concurrently():
    chain = ChatPromptTemplate.from_template("{q}") | FakeChatModel(latency=0.2, name="model")

    batch = execute_batch(chain, [{"q": f"question {i}"} for i in range(10)])

    assert batch.total < 0.6
    assert [m.content for m in batch.outputs] == [f"question {i}" for i in range(10)]
    assert all(0.2 <= r.total < 0.6 for r in batch.results)
    assert all(r.usage["total_tokens"] > 0 for r in batch.results)


def test_batch_respects_max_concurrency(gauge):
    batch = execute_batch(RunnableLambda(gauge.asleeper(0.05)), list(range(8)), max_concurrency=3)

    assert gauge.peak == 3
    assert batch.outputs == list(range(8))
    assert batch.total >= 0.15  # three waves of at most three


def test_batch_records_failures_per_item():
    def odd_fails(x):
        if x % 2:
            raise ValueError(f"odd {x}")
        return x

    batch = execute_batch(RunnableLambda(odd_fails), [0, 1, 2, 3], name="evens")

    assert [r.status for r in batch.results] == ["ok", "error", "ok", "error"]
    assert batch.errors == 2
    assert batch.outputs == [0, None, 2, None]
    failed = batch.results[1].error
    assert isinstance(failed, ChainRunError)
    assert failed.path == ["evens"]
    assert str(failed.__cause__) == "odd 1"


def test_batch_reports_each_item_once():
    seen: list[int] = []

    def on_change(batch, i):
        assert batch.results[i].status != "running"
        seen.append(i)

    batch = execute_batch(RunnableLambda(lambda x: x), list("abcd"), on_change=on_change)

    assert sorted(seen) == [0, 1, 2, 3]
    assert batch.done == 4


def test_batch_timeout_applies_per_item():
    async def sleepy(x):
        await asyncio.sleep(x)
        return x

    batch = execute_batch(RunnableLambda(sleepy), [0.0, 5.0], timeout=0.1)

    assert [r.status for r in batch.results] == ["ok", "error"]
    assert isinstance(batch.results[1].error.__cause__, TimeoutError)
    assert batch.total < 1


def test_a_streamed_map_keeps_its_declared_key_order():
    from chainmagic.core import FakeChatModel, RunnableParallel
    from chainmagic.run import execute

    chain = RunnableParallel(
        joke=FakeChatModel(latency=0.08), poem=FakeChatModel(latency=0.01)
    )  # poem speaks first
    result = execute(chain, "x", stream=True)
    assert list(result.output) == ["joke", "poem"]


def test_batch_latency_leaves_out_the_wait_for_a_slot():
    from chainmagic.core import FakeChatModel
    from chainmagic.run import execute_batch

    batch = execute_batch(FakeChatModel(latency=0.05), ["a", "b", "c", "d"], max_concurrency=1)
    assert batch.total >= 0.19  # one at a time
    assert all(r.total < 0.12 for r in batch.results)  # each row: its own run only
