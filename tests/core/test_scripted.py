"""The scripted models under LangChain's fake names: replies in turn, word-by-word streams, and an
exhausted script that fails (which is how fallbacks get exercised)."""

from __future__ import annotations

import asyncio

import pytest

from chainmagic.core import AIMessage, AIMessageChunk, PromptTemplate
from chainmagic.core.models.scripted import FakeListLLM, GenericFakeChatModel


def test_generic_fake_chat_model_replies_in_turn_and_streams_words():
    model = GenericFakeChatModel(messages=iter([AIMessage("one"), "two  words"]))
    assert model.invoke("x") == AIMessage("one")
    chunks = list(model.stream("x"))
    assert [c.content for c in chunks] == ["two", "  ", "words"]
    assert all(isinstance(c, AIMessageChunk) for c in chunks)
    with pytest.raises(RuntimeError, match="no more messages"):
        model.invoke("x")


def test_fake_list_llm_gives_text_in_turn_and_wraps_around():
    llm = FakeListLLM(responses=["a", "b"])
    assert [llm.invoke("x"), llm.invoke("y"), llm.invoke("z")] == ["a", "b", "a"]
    chain = PromptTemplate.from_template("say {w}") | FakeListLLM(responses=["ok"])
    assert chain.invoke({"w": "hi"}) == "ok"
    assert list(chain.stream({"w": "hi"})) == ["ok"]
    assert asyncio.run(chain.ainvoke({"w": "hi"})) == "ok"


def test_fake_list_llm_past_its_end_fails_and_a_fallback_answers():
    broken = FakeListLLM(responses=["never"], i=1)
    with pytest.raises(IndexError):
        broken.invoke("x")
    step = broken.with_fallbacks([FakeListLLM(responses=["backup"])])
    assert step.invoke("x") == "backup"
    assert step.batch(["x", "y"]) == ["backup", "backup"]
    assert asyncio.run(step.abatch(["x"])) == ["backup"]
