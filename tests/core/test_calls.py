"""A step's exception reaches the caller as itself, carrying its path and the finished siblings."""

from __future__ import annotations

import asyncio
import json
import pickle
import time
import traceback

import pytest

from chainmagic.core import (
    ChatPromptTemplate,
    JsonOutputParser,
    OutputParserException,
    RunnableLambda,
    RunnableParallel,
)
from chainmagic.errors import ChainRunError, partial_results, step_path


class Broken(Exception):
    """An exception type of the user's own, with a constructor of its own."""

    def __init__(self, code: int) -> None:
        super().__init__(f"code {code}")
        self.code = code


def fail(x):
    raise Broken(7)


def slow_ok(x):
    time.sleep(0.01)
    return "fine"


def chain_with_a_failing_branch():
    return RunnableParallel(
        ok=RunnableLambda(lambda x: x + 1, name="ok"),
        bad=RunnableLambda(str, name="prompt") | RunnableLambda(fail, name="model"),
    ).with_config(run_name="map_chain")


@pytest.mark.parametrize("how", ["invoke", "ainvoke", "stream", "astream", "batch", "abatch"])
def test_the_original_type_and_object_reach_the_caller(how):
    chain = RunnableLambda(fail, name="parse") | (lambda x: x)

    async def drain_async():
        if how == "ainvoke":
            return await chain.ainvoke(1)
        if how == "abatch":
            return await chain.abatch([1])
        return [c async for c in chain.astream(1)]

    with pytest.raises(Broken) as info:
        if how == "invoke":
            chain.invoke(1)
        elif how == "stream":
            list(chain.stream(1))
        elif how == "batch":
            chain.batch([1])
        else:
            asyncio.run(drain_async())
    err = info.value
    assert type(err) is Broken
    assert err.code == 7
    assert step_path(err) == ["parse"]
    assert err.__notes__ == ["in chain step parse"]


def test_except_valueerror_around_invoke_works_as_with_lcel():
    parser = JsonOutputParser()
    try:
        parser.invoke("not json at all")
    except ValueError as err:  # OutputParserException is a ValueError
        assert isinstance(err, OutputParserException)
        assert err.llm_output == "not json at all"
    else:  # pragma: no cover - the parser must fail
        pytest.fail("no ValueError")


def test_a_missing_prompt_variable_is_a_key_error():
    prompt = ChatPromptTemplate.from_template("{a} and {b}")
    with pytest.raises(KeyError) as info:
        prompt.invoke({"a": 1})
    assert str(info.value) == "the prompt needs 'b' but the input has 'a'"


def test_the_path_and_the_finished_siblings_travel_with_the_error():
    with pytest.raises(Broken) as info:
        chain_with_a_failing_branch().invoke(1)
    err = info.value
    assert step_path(err) == ["map_chain", "bad", "model"]
    assert partial_results(err) in ({}, {"ok": 2})  # "ok" may not have finished yet
    assert err.__notes__ == ["in chain step map_chain › bad › model"]


def test_finished_siblings_are_kept_when_they_finish_first():
    chain = RunnableParallel(
        quick=lambda x: "done",
        late=RunnableLambda(lambda x: (time.sleep(0.05), fail(x)), name="late"),
    )
    for _ in range(2):  # the second call knows which branch is slow
        with pytest.raises(Broken) as info:
            chain.invoke(1)
    assert partial_results(info.value) == {"quick": "done"}
    assert step_path(info.value) == ["late"]  # a branch is named by its key


def test_an_exception_object_raised_again_gets_a_fresh_path_and_one_note():
    same = Broken(1)

    def raise_same(x):
        raise same

    chain = RunnableParallel(a=RunnableLambda(str) | RunnableLambda(raise_same, name="f"))
    chain = chain.with_config(run_name="outer")
    for _ in range(3):
        with pytest.raises(Broken) as info:
            chain.invoke(None)
        assert info.value is same
        assert step_path(same) == ["outer", "a", "f"]
        assert same.__notes__ == ["in chain step outer › a › f"]


def test_a_user_note_is_kept_beside_the_path_note():
    def noted(x):
        err = ValueError("bad")
        err.add_note("user's own note")
        raise err

    with pytest.raises(ValueError) as info:
        RunnableLambda(noted).invoke(1)
    assert info.value.__notes__ == ["user's own note", "in chain step noted"]


def test_the_traceback_shows_the_path_note():
    with pytest.raises(Broken) as info:
        chain_with_a_failing_branch().invoke(1)
    text = "".join(traceback.format_exception(info.value))
    assert "Broken: code 7\nin chain step map_chain › bad › model" in text


def test_batch_return_exceptions_returns_the_originals():
    def odd_fails(x):
        if x % 2:
            raise ValueError(f"odd {x}")
        return x

    out = RunnableLambda(odd_fails).batch([0, 1, 2, 3], return_exceptions=True)
    assert out[0] == 0 and out[2] == 2
    assert [type(out[1]), type(out[3])] == [ValueError, ValueError]
    assert str(out[3]) == "odd 3"
    assert step_path(out[1]) == ["odd_fails"]
    outs = asyncio.run(RunnableLambda(odd_fails).abatch([1, 2], return_exceptions=True))
    assert type(outs[0]) is ValueError and outs[1] == 2


def test_a_nested_public_call_inside_a_step_keeps_the_outer_path():
    inner = RunnableLambda(fail, name="inner")
    outer = RunnableLambda(inner.invoke, name="outer")
    with pytest.raises(Broken) as info:
        RunnableParallel(k=RunnableLambda(str) | outer).invoke(1)
    assert step_path(info.value) == ["k", "outer"]  # the inner call's own path ended with it
    assert len(info.value.__notes__) == 1


def test_a_pickled_error_keeps_its_path():
    with pytest.raises(Broken):
        chain_with_a_failing_branch().invoke(1)
    try:
        chain_with_a_failing_branch().invoke(1)
    except Broken as err:
        back = pickle.loads(pickle.dumps(err))
        assert step_path(back) == ["map_chain", "bad", "model"]


def test_the_run_wrapper_keeps_path_and_partial_for_the_magics():
    try:
        chain_with_a_failing_branch().invoke(1)
    except Broken as err:
        wrapped = ChainRunError.of(err)
        assert wrapped.cause is err
        assert wrapped.path == ["map_chain", "bad", "model"]
        assert wrapped.partial == partial_results(err)
        assert str(wrapped) == "map_chain › bad › model failed: Broken: code 7"
        assert ChainRunError.of(wrapped) is wrapped
    assert ChainRunError.of(ValueError("x"), "name").path == ["name"]


def test_an_error_outside_any_step_has_no_path():
    assert step_path(ValueError()) == []
    assert partial_results(KeyError()) == {}
    with pytest.raises(json.JSONDecodeError):
        json.loads("{")
