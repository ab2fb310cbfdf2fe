"""RunnableLambda's repr: the function's name, or a lambda's own source, as LangChain shows it."""

from __future__ import annotations

import pytest

from chainmagic.core import RunnableLambda


def shout(text):
    return text.upper()


def test_a_named_function_shows_its_name():
    assert repr(RunnableLambda(shout)) == "RunnableLambda(shout)"
    assert repr(RunnableLambda(shout) | RunnableLambda(shout)) == (
        "RunnableLambda(shout) | RunnableLambda(shout)"
    )
    assert RunnableLambda(shout).name == "shout"  # the step's name (paths, timeline) is unchanged


def test_a_lambda_shows_its_source_when_it_can_be_read():
    step = RunnableLambda(lambda x: x + 1)
    assert repr(step) == "RunnableLambda(lambda x: x + 1)"
    assert step.name == "lambda"
    two = [RunnableLambda(lambda x: x), RunnableLambda(lambda y: y)]  # one line, two lambdas
    assert [repr(s) for s in two] == ["RunnableLambda(...)", "RunnableLambda(...)"]
    hidden = RunnableLambda(eval("lambda z: z"))  # no source file: never raises
    assert repr(hidden) == "RunnableLambda(...)"


def test_a_label_wins():
    assert repr(RunnableLambda(shout, name="loud")) == "loud"


def test_reprs_match_langchain_core():
    lc = pytest.importorskip("langchain_core.runnables")
    assert repr(RunnableLambda(shout)) == repr(lc.RunnableLambda(shout))
    ours = RunnableLambda(lambda x: x * 2)
    theirs = lc.RunnableLambda(lambda x: x * 2)
    assert repr(ours) == repr(theirs)
