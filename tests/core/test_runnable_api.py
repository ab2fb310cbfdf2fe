"""LCEL's wider Runnable API: dynamic routing, bind, transform, batch_as_completed, retry options,
fallbacks that stream and pass the failure on."""

from __future__ import annotations

import asyncio
import time

import pytest

from chainmagic.core import (
    ChatPromptTemplate,
    FakeChatModel,
    RunnableGenerator,
    RunnableLambda,
    StrOutputParser,
)
from chainmagic.errors import step_path

# -- a function that returns a runnable routes its input there -------------------------------------


def route(x):
    return RunnableLambda(lambda y: f"short {y}") if len(x) < 4 else RunnableLambda(str.upper)


async def aroute(x):
    return route(x)


@pytest.mark.parametrize("fn", [route, aroute], ids=["sync", "async"])
def test_a_returned_runnable_is_invoked_with_the_same_input(fn):
    step = RunnableLambda(fn)
    assert step.invoke("abc") == "short abc"
    assert step.batch(["abc", "abcdef"]) == ["short abc", "ABCDEF"]
    assert list(step.stream("abcdef")) == ["ABCDEF"]
    assert asyncio.run(step.ainvoke("abcd")) == "ABCD"
    assert asyncio.run(step.abatch(["ab"])) == ["short ab"]

    async def astream():
        return [c async for c in step.astream("xy")]

    assert asyncio.run(astream()) == ["short xy"]


def test_a_routed_model_streams_its_tokens():
    model = FakeChatModel(responses=["one two three"], token_delay=0)
    chain = RunnableLambda(lambda x: ChatPromptTemplate.from_template("{q}") | model) | (
        StrOutputParser()
    )
    chunks = list(chain.stream({"q": "hi"}))
    assert len(chunks) > 1
    assert "".join(chunks) == "one two three"


def test_a_routed_failure_keeps_its_type_and_the_lambdas_name():
    def boom(x):
        raise LookupError("gone")

    def router(x):
        return RunnableLambda(boom)

    with pytest.raises(LookupError) as info:
        (RunnableLambda(str) | RunnableLambda(router)).invoke(1)
    assert step_path(info.value) == ["router"]


# -- bind ------------------------------------------------------------------------------------------


def test_bind_sets_a_models_call_options():
    model = FakeChatModel(responses=["alpha. beta. gamma"])
    assert model.bind(stop=[". "]).invoke("x").content == "alpha"
    assert model.bind(stop=". b").invoke("x").content == "alpha"
    assert model.invoke("x").content == "alpha. beta. gamma"  # the original is unchanged


def test_bind_refuses_an_option_a_model_does_not_have():
    with pytest.raises(TypeError, match="no option 'colour'"):
        FakeChatModel().bind(colour="red")


def test_bind_passes_keywords_to_a_function():
    def greet(name, *, greeting="hi"):
        return f"{greeting} {name}"

    bound = RunnableLambda(greet).bind(greeting="hello")
    assert bound.invoke("ann") == "hello ann"
    assert bound.name == "greet"
    assert asyncio.run(bound.ainvoke("bo")) == "hello bo"


def test_bind_on_a_step_without_options_says_so():
    with pytest.raises(TypeError, match="takes no call options"):
        StrOutputParser().bind(x=1)


# -- transform / atransform ------------------------------------------------------------------------


def test_transform_streams_over_an_input_stream():
    def upper(chunks):
        for chunk in chunks:
            yield chunk.upper()

    step = RunnableGenerator(upper)
    assert list(step.transform(iter(["a", "b"]))) == ["A", "B"]
    assert list(RunnableLambda(len).transform(iter(["ab", "cd"]))) == [4]  # adds the input up

    async def run():
        async def source():
            yield "x"
            yield "y"

        return [c async for c in step.atransform(source())]

    assert asyncio.run(run()) == ["X", "Y"]


def test_transform_raises_the_original_error():
    def bad(x):
        raise ArithmeticError("no")

    with pytest.raises(ArithmeticError):
        list(RunnableLambda(bad).transform(iter([1])))


# -- batch_as_completed ----------------------------------------------------------------------------


def nap(x):
    time.sleep(x)
    return x


def test_batch_as_completed_yields_in_finishing_order_with_indexes():
    out = list(RunnableLambda(nap).batch_as_completed([0.2, 0.0, 0.1]))
    assert sorted(out) == [(0, 0.2), (1, 0.0), (2, 0.1)]
    assert out[-1] == (0, 0.2)  # the slowest comes last


def test_batch_as_completed_errors():
    def odd(x):
        if x % 2:
            raise ValueError(x)
        return x

    step = RunnableLambda(odd)
    got = dict(step.batch_as_completed([0, 1, 2], return_exceptions=True))
    assert got[0] == 0 and got[2] == 2
    assert isinstance(got[1], ValueError)
    with pytest.raises(ValueError):
        list(step.batch_as_completed([1]))


def test_abatch_as_completed():
    async def anap(x):
        await asyncio.sleep(x)
        return x

    async def run():
        return [pair async for pair in RunnableLambda(anap).abatch_as_completed([0.1, 0.0])]

    assert asyncio.run(run()) == [(1, 0.0), (0, 0.1)]


# -- with_retry options ----------------------------------------------------------------------------


def test_retry_with_lcel_jitter_params():
    calls = []

    def flaky(x):
        calls.append(time.perf_counter())
        if len(calls) < 3:
            raise ConnectionError("again")
        return x

    step = RunnableLambda(flaky).with_retry(
        retry_if_exception_type=(ConnectionError,),
        stop_after_attempt=3,
        exponential_jitter_params={"initial": 0.01, "max": 0.02, "exp_base": 2, "jitter": 0.0},
    )
    assert step.invoke(5) == 5
    assert len(calls) == 3
    assert step.wait(1) == pytest.approx(0.01)
    assert step.wait(5) == pytest.approx(0.02)  # capped at max
    with pytest.raises(ValueError, match="unknown exponential_jitter_params"):
        RunnableLambda(flaky).with_retry(exponential_jitter_params={"start": 1})


# -- fallbacks -------------------------------------------------------------------------------------


def test_fallbacks_stream_from_the_first_runnable_that_starts():
    failing = FakeChatModel(fail_on=".")
    backup = FakeChatModel(responses=["from backup"], token_delay=0)
    chain = failing.with_fallbacks([backup]) | StrOutputParser()
    chunks = list(chain.stream("hi"))
    assert len(chunks) > 1
    assert "".join(chunks) == "from backup"


def test_fallbacks_pass_the_failure_under_exception_key():
    def primary(x):
        raise ValueError("primary down")

    def backup(x):
        return f"{x['q']} after {type(x['err']).__name__}: {x['err']}"

    step = RunnableLambda(primary).with_fallbacks([RunnableLambda(backup)], exception_key="err")
    assert step.invoke({"q": "Q"}) == "Q after ValueError: primary down"
    with pytest.raises(ValueError, match="must be a dict"):
        step.invoke("not a dict")


def test_fallbacks_raise_the_first_error_with_its_path():
    def first(x):
        raise KeyError("first")

    def second(x):
        raise KeyError("second")

    step = RunnableLambda(first).with_fallbacks([RunnableLambda(second)])
    with pytest.raises(KeyError) as info:
        (RunnableLambda(str) | step).invoke(1)
    assert info.value.args == ("first",)
    assert step_path(info.value) == ["first"]


def _answer_or_escalate(x):
    if "err" not in x:
        raise ValueError(f"no luck with {x['q']}")
    if isinstance(x["err"], ValueError):
        raise RuntimeError(f"still no luck with {x['q']}")
    return "fixed"


def test_a_batch_with_fallbacks_reports_each_inputs_last_failure():
    step = RunnableLambda(_answer_or_escalate).with_fallbacks(
        [RunnableLambda(_answer_or_escalate)], exception_key="err"
    )
    # invoke raises the first failure; a batch, as LCEL's, the last one each input met
    with pytest.raises(ValueError, match="no luck with a"):
        step.invoke({"q": "a"})
    out = step.batch([{"q": "a"}, {"q": "b"}], return_exceptions=True)
    assert [type(e) for e in out] == [RuntimeError, RuntimeError]
    with pytest.raises(RuntimeError, match="still no luck"):
        step.batch([{"q": "a"}])
    out = asyncio.run(step.abatch([{"q": "a"}], return_exceptions=True))
    assert isinstance(out[0], RuntimeError)
    # and the step itself is unchanged by it
    with pytest.raises(ValueError):
        step.invoke({"q": "c"})
    twice = RunnableLambda(_answer_or_escalate).with_fallbacks(
        [RunnableLambda(_answer_or_escalate)] * 2, exception_key="err"
    )
    assert twice.batch([{"q": "a"}]) == ["fixed"]


def test_bind_through_with_config_keeps_the_settings():
    model = FakeChatModel(responses=["a. b"]).with_config(run_name="m").bind(stop=". ")
    assert model.invoke("x").content == "a"
    assert model.name == "m"


def test_runnable_classes_take_type_parameters_in_annotations():
    from chainmagic.core import Runnable

    assert Runnable[str, int] is Runnable
    assert RunnableLambda[str, str] is RunnableLambda
