"""Prompts and messages to and from LangChain's JSON form: round trips, the same JSON as
langchain-core writes, LangChain's saved prompts loaded here, and what loading refuses."""

from __future__ import annotations

import pytest

from chainmagic.core import (
    AIMessage,
    AIMessageChunk,
    ChatPromptTemplate,
    HumanMessage,
    MessagesPlaceholder,
    PromptTemplate,
)
from chainmagic.core.messages import ChatMessage, tool_call, tool_call_chunk
from chainmagic.core.serialization import dumpd, dumps, load, loads
from chainmagic.core.template_formats import TemplateError

CHAT = [
    ("system", "You are {name}."),
    MessagesPlaceholder("history", optional=True),
    (
        "human",
        [{"type": "text", "text": "look at {thing}"}, {"type": "image_url", "image_url": "{url}"}],
    ),
    ("ai", "ok"),
]


def test_prompts_round_trip():
    chat = ChatPromptTemplate.from_messages(CHAT)
    back = loads(dumps(chat))
    assert back == chat
    values = {"name": "Ann", "thing": "this", "url": "http://x/1.png"}
    assert back.invoke(values) == chat.invoke(values)
    prompt = PromptTemplate.from_template("{{a}} and {{b}}", template_format="mustache").partial(
        b="B"
    )
    assert load(dumpd(prompt)).format(a="A") == "A and B"


def test_messages_round_trip():
    message = AIMessage(
        [{"type": "text", "text": "hi"}],
        tool_calls=[tool_call(name="f", args={"q": 1}, id="c1")],
        usage_metadata={"input_tokens": 1, "output_tokens": 2, "total_tokens": 3},
    )
    back = load(dumpd(message))
    assert (back, back.tool_calls, back.usage_metadata) == (
        message,
        message.tool_calls,
        message.usage_metadata,
    )
    chunk = AIMessageChunk(
        "", tool_call_chunks=[tool_call_chunk(name="f", args='{"q": 1}', index=0)]
    )
    assert load(dumpd(chunk)).tool_calls == [tool_call(name="f", args={"q": 1}, id=None)]
    assert load(dumpd(ChatMessage("hey", role="critic"))) == ChatMessage("hey", role="critic")


def test_the_json_is_what_langchain_core_writes():
    lc_load = pytest.importorskip("langchain_core.load")
    lc_prompts = pytest.importorskip("langchain_core.prompts")
    lc_messages = pytest.importorskip("langchain_core.messages")
    spec = [("system", "You are {name}."), ("placeholder", "{history}"), ("human", "{q}")]
    ours = ChatPromptTemplate.from_messages(spec)
    theirs = lc_prompts.ChatPromptTemplate.from_messages(spec)
    assert dumpd(ours) == lc_load.dumpd(theirs)
    assert dumpd(HumanMessage("hi")) == lc_load.dumpd(lc_messages.HumanMessage("hi"))


def test_a_prompt_saved_by_langchain_loads_and_formats_the_same():
    lc_load = pytest.importorskip("langchain_core.load")
    lc_prompts = pytest.importorskip("langchain_core.prompts")
    theirs = lc_prompts.ChatPromptTemplate.from_messages(
        [("system", "Be {style}."), ("human", [{"type": "text", "text": "{q}"}])]
    )
    ours = loads(lc_load.dumps(theirs))
    values = {"style": "brief", "q": "why?"}
    assert [(m.type, m.content) for m in ours.invoke(values).to_messages()] == [
        (m.type, m.content) for m in theirs.invoke(values).to_messages()
    ]


def test_loading_refuses_other_classes_and_reaching_into_attributes():
    node = dumpd(PromptTemplate.from_template("{x}"))
    with pytest.raises(ValueError, match="not an allowed"):
        load(node, allowed_objects=[AIMessage])
    assert load(node, allowed_objects=[PromptTemplate]).template == "{x}"
    with pytest.raises(ValueError, match="not a LangChain prompt"):
        load({**node, "id": ["os", "system"]})
    with pytest.raises(ValueError, match="not an allowed"):
        load({**node, "id": ["langchain", "tools", "ShellTool"]})
    sneaky = {**node, "kwargs": {**node["kwargs"], "template": "{x.__class__.__init__}"}}
    with pytest.raises(TemplateError, match="cannot contain attribute access"):
        load(sneaky)
    with pytest.raises(TypeError, match="cannot write"):
        dumpd(object())
