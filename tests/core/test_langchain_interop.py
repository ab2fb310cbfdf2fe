"""LangChain's own runnables as steps of chainmagic chains: invoke, stream, events, errors."""

from __future__ import annotations

import asyncio

import pytest

lc_prompts = pytest.importorskip("langchain_core.prompts")
lc_runnables = pytest.importorskip("langchain_core.runnables")
lc_models = pytest.importorskip("langchain_core.language_models")
lc_messages = pytest.importorskip("langchain_core.messages")

from chainmagic.core import (  # noqa: E402 - after the skip
    FakeChatModel,
    RunnableLambda,
    RunnableParallel,
    StrOutputParser,
)
from chainmagic.dsl import compile, parse  # noqa: E402
from chainmagic.errors import step_path  # noqa: E402
from chainmagic.run import execute  # noqa: E402


def lc_model(text: str = "hello there friend"):
    return lc_models.GenericFakeChatModel(messages=iter([lc_messages.AIMessage(content=text)]))


def test_langchain_prompt_and_lambda_as_branches():
    chain = RunnableParallel(
        prompt=lc_prompts.ChatPromptTemplate.from_template("say {x}"),
        twice=lc_runnables.RunnableLambda(lambda d: d["x"] * 2),
    )
    out = chain.invoke({"x": "yo"})
    assert out["twice"] == "yoyo"
    assert out["prompt"].to_messages()[0].content == "say yo"
    assert asyncio.run(chain.ainvoke({"x": "a"}))["twice"] == "aa"


def test_a_langchain_prompt_feeds_our_model():
    prompt = lc_prompts.ChatPromptTemplate.from_template("say {x}")
    ours = RunnableLambda(dict) | prompt | FakeChatModel() | StrOutputParser()
    assert ours.invoke({"x": "yo"}) == "say yo"
    assert "".join(ours.stream({"x": "yo"})) == "say yo"


def test_a_langchain_model_streams_text_through_our_parser():
    chain = RunnableLambda(str) | lc_model() | StrOutputParser()
    chunks = list(chain.stream("q"))
    assert chunks == ["hello", " ", "there", " ", "friend"]


def test_a_langchain_model_streams_async_token_by_token():
    chain = RunnableLambda(str) | lc_model() | StrOutputParser()

    async def run():
        return [c async for c in chain.astream("q")]

    assert asyncio.run(run()) == ["hello", " ", "there", " ", "friend"]


def test_events_name_the_langchain_step():
    chain = (RunnableLambda(str) | lc_model() | StrOutputParser()).with_config(run_name="c")

    events: list = []

    async def run():
        return [c async for c in chain.astream("q", {"listener": events.append})]

    assert "".join(asyncio.run(run())) == "hello there friend"
    chunks = [e for e in events if e.kind == "chunk" and e.path == ("c", "GenericFakeChatModel")]
    assert len(chunks) == 5


def test_a_langchain_steps_error_keeps_its_type_and_path():
    def bad(x):
        raise ZeroDivisionError("lc step failed")

    chain = RunnableParallel(k=RunnableLambda(str) | lc_runnables.RunnableLambda(bad, name="bad"))
    with pytest.raises(ZeroDivisionError):
        chain.invoke(1)
    try:
        chain.invoke(1)
    except ZeroDivisionError as err:
        assert step_path(err) == ["k", "bad"]


def test_langchain_runnables_in_a_chain_cell():
    namespace = {
        "prompt": lc_prompts.ChatPromptTemplate.from_template("tell me about {topic}"),
        "model": lc_model("a short answer"),
    }
    cell = compile(parse("prompt | model | str"), namespace)
    assert cell.chain is not None
    result = execute(cell.chain, {"topic": "owls"}, name="lc")
    assert result.status == "ok"
    assert result.output == "a short answer"
