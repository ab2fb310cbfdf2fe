"""FakeChatModel: scripts, latency and seeded jitter, real token streaming, usage, failures."""

from __future__ import annotations

import asyncio
import threading
import time
import types
from itertools import pairwise

import pytest

from chainmagic.core import (
    AIMessage,
    AIMessageChunk,
    BaseChatModel,
    ChatPromptTemplate,
    FakeChatModel,
    HumanMessage,
    StrOutputParser,
    SystemMessage,
    init_chat_model,
)
from chainmagic.core.models import FakeModelError, count_tokens
from chainmagic.core.models import fake as fake_module
from chainmagic.errors import ModelError

# -- what it says ----------------------------------------------------------------------------------


def test_echoes_the_last_human_message():
    model = FakeChatModel()
    assert isinstance(model, BaseChatModel)
    out = model.invoke([SystemMessage("be brief"), HumanMessage("first"), HumanMessage("last")])
    assert isinstance(out, AIMessage)
    assert out.content == "last"
    assert model.invoke("a plain string").content == "a plain string"
    prompt = ChatPromptTemplate.from_messages([("system", "sys"), ("human", "q: {q}")])
    assert (prompt | model).invoke({"q": "why"}).content == "q: why"


def test_a_list_script_is_replied_in_turn_and_cycled():
    model = FakeChatModel(["one", "two", "three"])
    assert [model.invoke("x").content for _ in range(7)] == [
        "one",
        "two",
        "three",
        "one",
        "two",
        "three",
        "one",
    ]


def test_a_dict_script_maps_regexes_to_replies():
    model = FakeChatModel({r"\bitalian\b": "Harrison ha lavorato a Kensho.", "^where": "Kensho"})
    assert model.invoke("answer in italian").content == "Harrison ha lavorato a Kensho."
    assert model.invoke("where did he work").content == "Kensho"
    assert model.invoke("no match here").content == "no match here"  # falls back to echo


def test_a_callable_script_gets_the_messages():
    seen = []

    def script(messages):
        seen.append(messages)
        return f"{len(messages)} messages, last: {messages[-1].content}"

    model = FakeChatModel(script)
    assert model.invoke([SystemMessage("s"), HumanMessage("h")]).content == "2 messages, last: h"
    assert seen[0] == [SystemMessage("s"), HumanMessage("h")]


def test_an_empty_list_script_echoes():
    assert FakeChatModel([]).invoke("hi").content == "hi"


def test_answers_carry_id_metadata_and_usage():
    model = FakeChatModel(["four words right here"], model="fake:scripted")
    out = model.invoke([SystemMessage("system text"), HumanMessage("hello there")])
    assert out.id == "fake-1"
    assert model.invoke("x").id == "fake-2"
    assert out.response_metadata == {"model_name": "fake:scripted", "finish_reason": "stop"}
    assert out.usage_metadata == {"input_tokens": 4, "output_tokens": 4, "total_tokens": 8}
    assert count_tokens("Hello, world!") == 4


def test_a_streamed_answer_adds_up_to_the_invoked_one():
    model = FakeChatModel(["The quick brown fox."])
    chunks = list(model.stream("go"))
    assert all(isinstance(c, AIMessageChunk) for c in chunks)
    assert [c.content for c in chunks] == ["The", " quick", " brown", " fox."]
    total = chunks[0]
    for chunk in chunks[1:]:
        total += chunk
    whole = FakeChatModel(["The quick brown fox."]).invoke("go")
    assert total.content == whole.content
    assert total.usage_metadata == whole.usage_metadata
    assert total.response_metadata == whole.response_metadata
    assert all(c.usage_metadata is None for c in chunks[:-1])  # usage comes last, as OpenAI's
    assert len({c.id for c in chunks}) == 1


def test_the_model_rejects_a_dict_input_with_a_hint():
    with pytest.raises(Exception) as info:
        FakeChatModel().invoke({"topic": "bears"})
    assert isinstance(info.value, TypeError)
    assert "put a prompt before the model" in str(info.value)


def test_name_and_repr():
    assert FakeChatModel().name == "FakeChatModel"
    assert repr(FakeChatModel(model="fake:x")) == "FakeChatModel('fake:x')"
    assert FakeChatModel(name="llm").name == "llm"


# -- timing ----------------------------------------------------------------------------------------


def test_invoke_waits_the_latency_plus_the_token_delays():
    model = FakeChatModel(["a b c"], latency=0.1, token_delay=0.05)
    start = time.perf_counter()
    model.invoke("x")
    assert 0.2 <= time.perf_counter() - start < 0.35


def test_streaming_time_to_first_token_is_the_latency():
    model = FakeChatModel(["t1 t2 t3 t4 t5"], latency=0.1, token_delay=0.05)
    start = time.perf_counter()
    times = [time.perf_counter() - start for _ in model.stream("x")]
    assert 0.1 <= times[0] < 0.2  # after the latency, not after the whole answer
    assert 0.3 <= times[-1] < 0.45
    gaps = [b - a for a, b in pairwise(times)]
    assert all(g >= 0.045 for g in gaps)


async def test_astreaming_time_to_first_token_is_the_latency():
    model = FakeChatModel(["t1 t2 t3"], latency=0.1, token_delay=0.05)
    start = time.perf_counter()
    times = [time.perf_counter() - start async for _ in model.astream("x")]
    assert 0.1 <= times[0] < 0.18
    assert 0.2 <= times[-1] < 0.35


def test_jitter_is_seeded_and_deterministic():
    a = FakeChatModel(latency=1.0, jitter=0.5, seed=7)
    b = FakeChatModel(latency=1.0, jitter=0.5, seed=7)
    c = FakeChatModel(latency=1.0, jitter=0.5, seed=8)
    delays_a = [a.delay() for _ in range(20)]
    assert delays_a == [b.delay() for _ in range(20)]
    assert delays_a != [c.delay() for _ in range(20)]
    assert len(set(delays_a)) > 10
    assert all(0.5 <= d <= 1.5 for d in delays_a)
    assert FakeChatModel(latency=0.3).delay() == 0.3
    assert FakeChatModel().delay() == 0.0


def record_sleeps(monkeypatch) -> list[float]:
    """Replace the fake model's time.sleep by a recorder (of this thread's calls only)."""
    slept: list[float] = []
    me = threading.get_ident()

    def sleep(seconds: float) -> None:
        if threading.get_ident() == me:
            slept.append(seconds)

    monkeypatch.setattr(fake_module, "time", types.SimpleNamespace(sleep=sleep))
    return slept


def test_jittered_latency_is_what_invoke_waits(monkeypatch):
    slept = record_sleeps(monkeypatch)
    twin = FakeChatModel(latency=0.2, jitter=0.3, seed=3)
    model = FakeChatModel(latency=0.2, jitter=0.3, seed=3)
    for _ in range(3):
        model.invoke("x")
    assert slept == [twin.delay() for _ in range(3)]


def test_invoke_sleeps_with_time_sleep(monkeypatch):
    slept = record_sleeps(monkeypatch)
    FakeChatModel(["a b c"], latency=0.25, token_delay=0.1).invoke("x")
    assert slept == [pytest.approx(0.45)]
    list(FakeChatModel(["a b c"], latency=0.25, token_delay=0.1).stream("x"))
    assert slept[1:] == [0.25, 0.1, 0.1]


async def test_ainvoke_never_blocks_the_loop(monkeypatch):
    def forbidden(seconds):
        raise AssertionError("ainvoke must not call time.sleep")

    monkeypatch.setattr(fake_module, "time", types.SimpleNamespace(sleep=forbidden))
    model = FakeChatModel(["a b"], latency=0.05, token_delay=0.01)
    assert (await model.ainvoke("x")).content == "a b"
    assert [c.content async for c in model.astream("x")] == ["a", " b"]


async def test_many_ainvokes_in_gather_run_concurrently_on_one_thread():
    threads: set[int] = set()

    def script(messages):
        threads.add(threading.get_ident())
        return "done"

    model = FakeChatModel(script, latency=0.2)
    start = time.perf_counter()
    outs = await asyncio.gather(*(model.ainvoke(f"q{i}") for i in range(50)))
    assert time.perf_counter() - start < 0.35
    assert [o.content for o in outs] == ["done"] * 50
    assert threads == {threading.get_ident()}


# -- failures --------------------------------------------------------------------------------------


def test_fail_on_a_pattern():
    model = FakeChatModel(fail_on="poem|sonnet")
    assert model.invoke("a joke").content == "a joke"
    with pytest.raises(Exception) as info:
        model.invoke("write a poem")
    cause = info.value
    assert isinstance(cause, FakeModelError)
    assert isinstance(cause, ModelError)
    assert cause.provider == "fake"
    assert str(cause) == "injected failure on 'write a poem'"


def test_failures_arrive_after_the_latency_like_a_real_error():
    model = FakeChatModel(fail_on="x", latency=0.2)
    start = time.perf_counter()
    with pytest.raises(Exception):
        model.invoke("x")
    assert 0.18 < time.perf_counter() - start < 0.35


def test_fail_rate_is_seeded():
    def pattern(seed):
        model = FakeChatModel(fail_rate=0.5, seed=seed)
        out = []
        for _ in range(40):
            try:
                model.invoke("x")
                out.append(True)
            except FakeModelError:
                out.append(False)
        return out

    assert pattern(1) == pattern(1)
    assert pattern(1) != pattern(2)
    assert 8 < pattern(1).count(False) < 32
    never = FakeChatModel(fail_rate=0.0)
    assert [never.invoke("x").content for _ in range(20)] == ["x"] * 20


def test_fail_rate_one_always_fails():
    model = FakeChatModel(fail_rate=1.0)
    for _ in range(5):
        with pytest.raises(Exception):
            model.invoke("x")


@pytest.mark.parametrize("error", [TimeoutError, ConnectionError("reset by peer")])
def test_the_error_type_is_chosen(error):
    model = FakeChatModel(fail_on=".", error=error)
    with pytest.raises(Exception) as info:
        model.invoke("boom")
    cause = info.value
    if isinstance(error, Exception):
        assert cause is error
    else:
        assert type(cause) is error
        assert str(cause) == "injected failure on 'boom'"


async def test_failures_async_and_streaming():
    model = FakeChatModel(fail_on="bad")
    with pytest.raises(Exception):
        await model.ainvoke("bad")
    with pytest.raises(Exception):
        list(model.stream("bad"))
    with pytest.raises(Exception):
        async for _ in model.astream("bad"):
            pass


def test_a_long_text_is_shortened_in_the_failure_message():
    model = FakeChatModel(fail_on="x")
    with pytest.raises(Exception) as info:
        model.invoke("x" * 100)
    assert str(info.value) == f"injected failure on '{'x' * 37}...'"


# -- init_chat_model -------------------------------------------------------------------------------


def test_init_chat_model_fake_echo():
    model = init_chat_model("fake:echo", latency=0.05, token_delay=0.01, seed=2)
    assert isinstance(model, FakeChatModel)
    assert model.model_name == "fake:echo"
    assert (model.latency, model.token_delay, model.seed) == (0.05, 0.01, 2)
    chain = "{x}" | model | StrOutputParser()
    assert chain.invoke({"x": "hello"}) == "hello"


def test_init_chat_model_fake_with_a_script():
    model = init_chat_model("fake:scripted", responses=["a", "b"])
    assert model.model_name == "fake:scripted"
    assert [model.invoke("x").content for _ in range(3)] == ["a", "b", "a"]


# -- the notebook's default: like a hosted model ---------------------------------------------------


def test_fake_chat_answers_like_a_hosted_model(monkeypatch):
    slept = record_sleeps(monkeypatch)
    model = init_chat_model("fake:chat")
    assert (model.latency, model.jitter, model.token_delay) == (0.4, 0.25, 0.015)
    twin = init_chat_model("fake:chat")
    for _ in range(5):
        list(model.stream("tell me a joke about bears"))
    first_tokens = slept[::6]  # each answer: the wait for its first token, then 5 token gaps
    assert first_tokens == [twin.delay() for _ in range(5)]  # seeded: the same every time
    assert all(0.3 <= d <= 0.5 for d in first_tokens)
    assert len(set(first_tokens)) == 5
    assert [s for i, s in enumerate(slept) if i % 6] == [0.015] * 25


def test_fake_chat_is_instant_one_keyword_away():
    model = init_chat_model("fake:chat", latency=0)
    assert (model.latency, model.token_delay) == (0.0, 0.0)
    start = time.perf_counter()
    assert model.invoke("hi").content == "hi"
    assert time.perf_counter() - start < 0.1
    assert init_chat_model("fake:echo").latency == 0.0  # every other fake model is instant


def test_the_notebook_default_model_is_the_hosted_like_one():
    from chainmagic.dsl import defaults
    from chainmagic.magics import ChainMagics

    assert defaults.model == "fake:chat"
    assert ChainMagics.default_model.default_value == "fake:chat"
