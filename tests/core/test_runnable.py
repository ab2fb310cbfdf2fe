"""The Runnable protocol: the six ways to call a step, composition, naming and coercion."""

from __future__ import annotations

import asyncio
import threading
import time
from operator import itemgetter

import pytest

from chainmagic.core import (
    ChatPromptTemplate,
    Runnable,
    RunnableAssign,
    RunnableGenerator,
    RunnableLambda,
    RunnableParallel,
    RunnablePick,
    RunnableSequence,
    coerce,
)
from chainmagic.core.lambdas import ForeignRunnable
from chainmagic.errors import step_path


def double(x):
    return x * 2


async def adouble(x):
    await asyncio.sleep(0)
    return x * 2


def words(chunks):
    for chunk in chunks:
        yield from (w + " " for w in chunk.split())


async def awords(chunks):
    async for chunk in chunks:
        for w in chunk.split():
            yield w + " "


def fail_on_three(x):
    if x == 3:
        raise ValueError("three is bad")
    return x


# -- the six calls ---------------------------------------------------------------------------------


def test_invoke_returns_the_output():
    assert RunnableLambda(double).invoke(21) == 42


async def test_ainvoke_returns_the_output():
    assert await RunnableLambda(double).ainvoke(21) == 42
    assert await RunnableLambda(adouble).ainvoke(21) == 42


def test_batch_keeps_input_order():
    assert RunnableLambda(double).batch([1, 2, 3, 4]) == [2, 4, 6, 8]
    assert RunnableLambda(double).batch([]) == []


def test_batch_runs_inputs_in_parallel():
    def slow(x):
        time.sleep(0.2)
        return x

    start = time.perf_counter()
    assert RunnableLambda(slow).batch([1, 2, 3, 4]) == [1, 2, 3, 4]
    assert time.perf_counter() - start < 0.4


async def test_abatch_keeps_order_and_runs_concurrently():
    async def slow(x):
        await asyncio.sleep(0.2 - x * 0.04)  # later inputs finish first
        return x

    start = time.perf_counter()
    assert await RunnableLambda(slow).abatch([1, 2, 3, 4]) == [1, 2, 3, 4]
    assert time.perf_counter() - start < 0.35


def test_batch_raises_the_first_failure_without_return_exceptions():
    with pytest.raises(Exception) as info:
        RunnableLambda(fail_on_three).batch([1, 2, 3, 4])
    assert isinstance(info.value, ValueError)


def test_batch_return_exceptions_puts_the_error_in_place():
    out = RunnableLambda(fail_on_three).batch([1, 2, 3, 4], return_exceptions=True)
    assert out[:2] == [1, 2]
    assert out[3] == 4
    assert type(out[2]) is ValueError  # the original, not a wrapper
    assert str(out[2]) == "three is bad"
    assert step_path(out[2]) == ["fail_on_three"]


async def test_abatch_return_exceptions_puts_the_error_in_place():
    out = await RunnableLambda(fail_on_three).abatch([1, 2, 3, 4], return_exceptions=True)
    assert [out[0], out[1], out[3]] == [1, 2, 4]
    assert type(out[2]) is ValueError
    assert step_path(out[2]) == ["fail_on_three"]


async def test_abatch_raises_without_return_exceptions():
    with pytest.raises(Exception, match="three is bad"):
        await RunnableLambda(fail_on_three).abatch([1, 2, 3])


def test_stream_of_a_plain_step_yields_its_output_once():
    assert list(RunnableLambda(double).stream(4)) == [8]


def test_stream_of_a_generator_yields_each_chunk():
    assert list(RunnableGenerator(words).stream("a b c")) == ["a ", "b ", "c "]


async def test_astream_yields_each_chunk():
    assert [c async for c in RunnableGenerator(awords).astream("a b c")] == ["a ", "b ", "c "]
    assert [c async for c in RunnableLambda(double).astream(4)] == [8]


# -- composition -----------------------------------------------------------------------------------


def test_pipe_operator_builds_a_sequence():
    chain = RunnableLambda(double) | (lambda x: x + 1)
    assert isinstance(chain, RunnableSequence)
    assert chain.invoke(5) == 11


def test_a_dict_on_the_left_of_pipe_becomes_a_parallel_map():
    chain = {"a": double, "b": lambda x: x + 1} | RunnableLambda(lambda d: d["a"] + d["b"])
    assert isinstance(chain, RunnableSequence)
    assert isinstance(chain.first, RunnableParallel)
    assert chain.invoke(10) == 31


def test_a_callable_on_the_left_of_pipe_works():
    chain = (lambda x: x + 1) | RunnableLambda(double)
    assert isinstance(chain, RunnableSequence)
    assert chain.invoke(1) == 4
    chain = itemgetter("n") | RunnableLambda(double)
    assert chain.invoke({"n": 3}) == 6


def test_pipe_method_takes_several_steps():
    chain = RunnableLambda(double).pipe(lambda x: x + 1, double)
    assert len(chain.steps) == 3
    assert chain.invoke(1) == 6


def test_pick_selects_a_key_or_keys():
    step = RunnableLambda(lambda x: {"a": x, "b": x + 1, "c": 0})
    assert step.pick("a").invoke(1) == 1
    assert step.pick(["a", "b"]).invoke(1) == {"a": 1, "b": 2}
    assert isinstance(step.pick("a").last, RunnablePick)


def test_assign_adds_keys_computed_from_the_output():
    step = RunnableLambda(lambda x: {"n": x})
    chain = step.assign(doubled=lambda d: d["n"] * 2, plus=lambda d: d["n"] + 1)
    assert isinstance(chain.last, RunnableAssign)
    assert chain.invoke(4) == {"n": 4, "doubled": 8, "plus": 5}


# -- naming ----------------------------------------------------------------------------------------


def test_names_are_readable():
    assert RunnableLambda(double).name == "double"
    assert RunnableLambda(lambda x: x).name == "lambda"
    assert RunnableLambda(itemgetter("question")).name == "itemgetter('question')"
    assert RunnableLambda(double, name="twice").name == "twice"
    assert RunnableGenerator(words).name == "words"
    assert RunnableParallel(a=double, b=double).name == "RunnableParallel<a,b>"
    assert RunnableLambda(double).with_config(run_name="model").name == "model"
    assert repr(RunnableLambda(double) | RunnableLambda(adouble)) == (
        "RunnableLambda(double) | RunnableLambda(adouble)"
    )


# -- coercion --------------------------------------------------------------------------------------


def test_coerce_keeps_runnables():
    step = RunnableLambda(double)
    assert coerce(step) is step


def test_coerce_dict_to_parallel():
    step = coerce({"a": double})
    assert isinstance(step, RunnableParallel)
    assert step.invoke(2) == {"a": 4}


def test_coerce_sync_and_async_functions_to_lambdas():
    sync, async_ = coerce(double), coerce(adouble)
    assert isinstance(sync, RunnableLambda)
    assert isinstance(async_, RunnableLambda)
    assert sync.invoke(2) == 4
    assert async_.invoke(2) == 4  # an async function still works from sync code


async def test_coerced_async_function_runs_on_the_loop():
    seen = []

    async def where(x):
        seen.append(threading.get_ident())
        return x

    assert await coerce(where).ainvoke(1) == 1
    assert seen == [threading.get_ident()]


def test_coerce_generator_functions_to_generators():
    gen, agen = coerce(words), coerce(awords)
    assert isinstance(gen, RunnableGenerator)
    assert isinstance(agen, RunnableGenerator)
    assert gen.invoke("x y") == "x y "
    assert agen.invoke("x y") == "x y "


def test_coerce_itemgetter():
    step = coerce(itemgetter("question"))
    assert isinstance(step, RunnableLambda)
    assert step.invoke({"question": "why?"}) == "why?"
    assert coerce(itemgetter("a", "b")).invoke({"a": 1, "b": 2}) == (1, 2)


def test_coerce_anything_with_invoke(langchain_like):
    obj = langchain_like()
    step = coerce(obj)
    assert isinstance(step, ForeignRunnable)
    assert step.name == "Shout"
    chain = RunnableLambda(lambda x: x + "!") | obj | (lambda s: s + "?")
    assert chain.invoke("hi") == "HI!?"
    assert obj.calls == ["hi!"]


async def test_foreign_step_works_async_and_streaming(langchain_like):
    chain = RunnableLambda(lambda x: x) | langchain_like()
    assert await chain.ainvoke("hi") == "HI"
    assert list(chain.stream("hi")) == ["HI"]
    assert [c async for c in chain.astream("hi")] == ["HI"]


def test_foreign_step_on_the_left_of_pipe(langchain_like):
    chain = langchain_like() | RunnableLambda(lambda s: s + "!")
    assert chain.invoke("hi") == "HI!"


def test_foreign_step_uses_its_own_stream_and_ainvoke():
    class Streams:
        def invoke(self, input, config=None):
            return "whole"

        async def ainvoke(self, input, config=None):
            return "async whole"

        def stream(self, input, config=None):
            yield from ("a", "b")

    step = coerce(Streams())
    assert list(step.stream(None)) == ["a", "b"]
    assert asyncio.run(step.ainvoke(None)) == "async whole"


def test_coerce_prompt_string_to_chat_prompt():
    step = coerce("tell me about {topic}")
    assert isinstance(step, ChatPromptTemplate)
    assert step.invoke({"topic": "bears"}).to_messages()[0].content == "tell me about bears"


@pytest.mark.parametrize("bad", [42, None, 3.5, b"bytes", object()])
def test_coerce_rejects_other_things_with_a_clear_type_error(bad):
    with pytest.raises(TypeError, match=r"cannot use .* as a step: expected a runnable"):
        coerce(bad)


def test_pipe_with_a_bad_step_raises_type_error():
    with pytest.raises(TypeError, match="as a step"):
        RunnableLambda(double) | 42
    with pytest.raises(TypeError, match="as a step"):
        42 | RunnableLambda(double)


def test_the_base_class_needs_an_implementation():
    with pytest.raises(Exception) as info:
        Runnable().invoke(1)
    assert isinstance(info.value, NotImplementedError)
