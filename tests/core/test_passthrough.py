"""RunnablePassthrough (+ assign), RunnableAssign and RunnablePick."""

from __future__ import annotations

import time
from operator import itemgetter

import pytest

from chainmagic.core import (
    FakeChatModel,
    RunnableAssign,
    RunnableLambda,
    RunnableParallel,
    RunnablePassthrough,
    RunnablePick,
    StrOutputParser,
)
from chainmagic.core.passthrough import MissingKeyError


def test_passthrough_returns_its_input():
    step = RunnablePassthrough()
    thing = {"a": [1, 2]}
    assert step.invoke(thing) is thing
    assert step.inline


async def test_passthrough_async_and_streaming():
    step = RunnablePassthrough()
    assert await step.ainvoke(3) == 3
    assert list(step.stream(3)) == [3]
    assert [c async for c in step.astream(3)] == [3]


def test_passthrough_passes_chunks_through_without_joining_them():
    chain = "{x}" | FakeChatModel() | StrOutputParser() | RunnablePassthrough()
    assert list(chain.stream({"x": "a b c"})) == ["a", " b", " c"]


def test_passthrough_with_a_function_calls_it_on_the_side():
    seen = []
    step = RunnablePassthrough(seen.append)
    assert step.invoke(5) == 5
    assert seen == [5]
    assert not step.inline
    chain = "{x}" | FakeChatModel() | StrOutputParser() | RunnablePassthrough(seen.append)
    assert list(chain.stream({"x": "a b"})) == ["a b"]
    assert seen[-1] == "a b"


def test_passthrough_in_a_map_keeps_the_input_under_a_key():
    step = RunnableParallel(question=RunnablePassthrough(), length=len)
    assert step.invoke("why?") == {"question": "why?", "length": 4}


def test_passthrough_assign_adds_keys():
    step = RunnablePassthrough.assign(total=lambda d: d["a"] + d["b"], a=lambda d: d["a"] * 10)
    assert isinstance(step, RunnableAssign)
    assert step.invoke({"a": 1, "b": 2}) == {"a": 10, "b": 2, "total": 3}


async def test_assign_async():
    step = RunnablePassthrough.assign(total=lambda d: d["a"] + d["b"])
    assert await step.ainvoke({"a": 1, "b": 2}) == {"a": 1, "b": 2, "total": 3}


def test_assign_computes_the_new_keys_in_parallel():
    def slow(key):
        def body(d):
            time.sleep(0.2)
            return key

        return body

    step = RunnablePassthrough.assign(x=slow("x"), y=slow("y"), z=slow("z"))
    start = time.perf_counter()
    assert step.invoke({"q": 0}) == {"q": 0, "x": "x", "y": "y", "z": "z"}
    assert time.perf_counter() - start < 0.35


def test_assign_accepts_a_parallel_map():
    mapper = RunnableParallel(n=len)
    assert RunnableAssign(mapper).invoke({"a": 1}) == {"a": 1, "n": 1}


def test_assign_streams_the_input_first_then_the_new_keys():
    step = RunnablePassthrough.assign(answer="{q}" | FakeChatModel() | StrOutputParser())
    chunks = list(step.stream({"q": "x y"}))
    assert chunks[0] == {"q": "x y"}
    assert chunks[1:] == [{"answer": "x"}, {"answer": " y"}]


async def test_assign_astreams_the_input_first_then_the_new_keys():
    step = RunnablePassthrough.assign(answer="{q}" | FakeChatModel() | StrOutputParser())
    chunks = [c async for c in step.astream({"q": "x y"})]
    assert chunks == [{"q": "x y"}, {"answer": "x"}, {"answer": " y"}]


def test_assign_needs_a_dict():
    step = RunnablePassthrough.assign(x=lambda d: 1)
    with pytest.raises(Exception) as info:
        step.invoke("not a dict")
    assert isinstance(info.value, TypeError)
    assert "assign() needs a dict input, got str" in str(info.value)


def test_assign_name_and_repr():
    step = RunnablePassthrough.assign(x=RunnableLambda(len, name="length"))
    assert step.name == "RunnableAssign<x>"
    assert repr(step) == "assign(x=length)"


def test_pick_one_key_or_several():
    data = {"a": 1, "b": 2, "c": 3}
    assert RunnablePick("a").invoke(data) == 1
    assert RunnablePick(["a", "c"]).invoke(data) == {"a": 1, "c": 3}
    assert RunnablePick("a").name == "@a"
    assert RunnablePick(["a", "c"]).name == "pick['a', 'c']"


def test_pick_and_itemgetter_agree():
    data = {"question": "q", "language": "it"}
    assert RunnablePick("question").invoke(data) == RunnableLambda(itemgetter("question")).invoke(
        data
    )


def test_pick_of_a_missing_key_says_what_the_input_has():
    with pytest.raises(Exception) as info:
        RunnablePick("questoin").invoke({"question": 1, "language": 2})
    cause = info.value
    assert isinstance(cause, MissingKeyError)
    assert isinstance(cause, KeyError)
    assert str(cause) == "the input has no key 'questoin' (it has: 'question', 'language')"


def test_pick_of_several_names_the_missing_one():
    with pytest.raises(Exception) as info:
        RunnablePick(["a", "zz"]).invoke({"a": 1})
    assert info.value.key == "zz"


def test_pick_from_a_non_dict_says_so():
    with pytest.raises(Exception) as info:
        RunnablePick("a").invoke(42)
    assert str(info.value) == "cannot pick 'a': the input is not a dict but int"
