"""RunnableSequence: data flow, flattening, lazy streaming, errors named by step."""

from __future__ import annotations

import time

import pytest

from chainmagic.core import (
    AIMessageChunk,
    ChatPromptTemplate,
    FakeChatModel,
    RunnableGenerator,
    RunnableLambda,
    RunnableSequence,
    StrOutputParser,
)
from chainmagic.errors import step_path


def add_one(x):
    return x + 1


def test_steps_run_in_order_each_fed_the_previous_output():
    log = []
    chain = RunnableSequence(
        lambda x: log.append("a") or x + "a",
        lambda x: log.append("b") or x + "b",
        lambda x: log.append("c") or x + "c",
    )
    assert chain.invoke(">") == ">abc"
    assert log == ["a", "b", "c"]


async def test_ainvoke_runs_the_same_steps():
    chain = RunnableLambda(add_one) | add_one | add_one
    assert await chain.ainvoke(0) == 3


def test_unlabelled_nested_sequences_are_flattened():
    inner = RunnableLambda(add_one) | add_one
    chain = inner | add_one | (RunnableLambda(add_one) | add_one)
    assert len(chain.steps) == 5
    assert chain.invoke(0) == 5


def test_labelled_sequences_stay_one_step():
    inner = RunnableSequence(add_one, add_one, name="inner")
    chain = RunnableLambda(add_one) | inner
    assert len(chain.steps) == 2
    assert chain.last is inner
    assert chain.invoke(0) == 3


def test_first_last_and_repr():
    chain = RunnableLambda(add_one, name="a") | RunnableLambda(add_one, name="b")
    assert chain.first.name == "a"
    assert chain.last.name == "b"
    assert repr(chain) == "a | b"


def test_an_empty_sequence_is_refused():
    with pytest.raises(ValueError, match="at least one step"):
        RunnableSequence()


def test_a_failing_step_is_named_and_keeps_its_cause():
    def explode(x):
        raise KeyError("nope")

    chain = RunnableLambda(add_one) | RunnableLambda(explode, name="parse") | add_one
    with pytest.raises(KeyError) as info:
        chain.invoke(1)
    err = info.value
    assert step_path(err) == ["parse"]
    assert type(err) is KeyError
    assert err.args == ("nope",)
    assert err.__cause__ is None  # raised as itself, not re-raised from a wrapper
    assert err.__notes__ == ["in chain step parse"]


def test_stream_pipes_model_tokens_through_prompt_and_parser():
    model = FakeChatModel(["one two three four"])
    chain = ChatPromptTemplate.from_template("say {x}") | model | StrOutputParser()
    chunks = list(chain.stream({"x": "it"}))
    assert chunks == ["one", " two", " three", " four"]
    assert "".join(chunks) == chain.invoke({"x": "it"})


async def test_astream_pipes_model_tokens_through_prompt_and_parser():
    chain = ChatPromptTemplate.from_template("{x}") | FakeChatModel() | StrOutputParser()
    chunks = [c async for c in chain.astream({"x": "red green blue"})]
    assert chunks == ["red", " green", " blue"]


def test_stream_without_parser_yields_message_chunks():
    chain = ChatPromptTemplate.from_template("{x}") | FakeChatModel()
    chunks = list(chain.stream({"x": "a b"}))
    assert all(isinstance(c, AIMessageChunk) for c in chunks)
    assert (chunks[0] + chunks[1]).content == "a b"


def test_stream_is_lazy_time_to_first_token_is_real():
    model = FakeChatModel(["w1 w2 w3 w4 w5 w6"], latency=0.1, token_delay=0.05)
    chain = ChatPromptTemplate.from_template("{x}") | model | StrOutputParser()
    start = time.perf_counter()
    times = []
    for _ in chain.stream({"x": "go"}):
        times.append(time.perf_counter() - start)
    assert len(times) == 6
    assert 0.09 < times[0] < 0.2  # after the latency, not after the whole answer
    assert times[-1] > 0.3  # the last token after 5 more token delays


def test_generator_steps_stream_inside_a_sequence():
    def upper(chunks):
        for chunk in chunks:
            yield chunk.upper()

    model = FakeChatModel(["ab cd ef"], token_delay=0.01)
    chain = "{x}" | model | StrOutputParser() | RunnableGenerator(upper)
    assert list(chain.stream({"x": ""})) == ["AB", " CD", " EF"]
    assert chain.invoke({"x": ""}) == "AB CD EF"


def test_a_non_streaming_step_gets_the_accumulated_input():
    seen = []
    model = FakeChatModel(["ab cd ef"])
    chain = "{x}" | model | StrOutputParser() | (lambda s: seen.append(s) or len(s))
    assert list(chain.stream({"x": ""})) == [8]
    assert seen == ["ab cd ef"]


def test_a_sequence_of_quick_steps_runs_inline():
    chain = RunnableSequence(ChatPromptTemplate.from_template("{x}"), StrOutputParser())
    assert chain.inline
    assert not (chain | add_one).inline


def test_a_streamed_failure_is_named_by_the_failing_step_only():
    model = FakeChatModel(fail_on="boom").with_config(run_name="model")
    chain = "{x}" | model | StrOutputParser() | RunnableGenerator(lambda cs: (c for c in cs))
    for call in (chain.invoke, lambda x: list(chain.stream(x))):
        with pytest.raises(Exception) as info:
            call({"x": "boom"})
        assert step_path(info.value) == ["model"]


async def test_an_astreamed_failure_is_named_by_the_failing_step_only():
    model = FakeChatModel(fail_on="boom").with_config(run_name="model")
    chain = "{x}" | model | StrOutputParser()
    with pytest.raises(Exception) as info:
        async for _ in chain.astream({"x": "boom"}):
            pass
    assert step_path(info.value) == ["model"]


def test_a_failure_mid_stream_keeps_the_chunks_already_yielded():
    def tokens(chunks):
        for _ in chunks:
            yield "a"
            yield "b"
            raise OSError("connection dropped")

    chain = RunnableGenerator(tokens, name="model") | StrOutputParser()
    seen = []
    with pytest.raises(Exception) as info:
        for chunk in chain.stream(None):
            seen.append(chunk)
    assert seen == ["a", "b"]
    assert step_path(info.value) == ["model"]
    assert isinstance(info.value, OSError)


async def test_a_sync_generator_streams_token_by_token_under_astream():
    def upper(chunks):
        for chunk in chunks:
            yield chunk.upper()

    model = FakeChatModel(["a b c d"], latency=0.05, token_delay=0.1)
    chain = "{x}" | model | StrOutputParser() | RunnableGenerator(upper)
    start = time.perf_counter()
    firsts = []
    async for chunk in chain.astream({"x": ""}):
        firsts.append((chunk, time.perf_counter() - start))
    assert [c for c, _ in firsts] == ["A", " B", " C", " D"]
    assert firsts[0][1] < 0.15  # after the latency, not after all four tokens (~0.35 s)


async def test_an_async_generator_streams_token_by_token_under_astream():
    async def upper(chunks):
        async for chunk in chunks:
            yield chunk.upper()

    model = FakeChatModel(["a b c d"], latency=0.05, token_delay=0.1)
    chain = "{x}" | model | StrOutputParser() | RunnableGenerator(upper)
    start = time.perf_counter()
    firsts = []
    async for chunk in chain.astream({"x": ""}):
        firsts.append((chunk, time.perf_counter() - start))
    assert [c for c, _ in firsts] == ["A", " B", " C", " D"]
    assert firsts[0][1] < 0.15
