"""Messages (and Document): LCEL's fields, chunks that add up, readable reprs."""

from __future__ import annotations

import pytest

from chainmagic.core import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    Document,
    HumanMessage,
    SystemMessage,
)
from chainmagic.core.messages import add_usage, message_text


def test_message_types_and_roles():
    for cls, type_, role in [
        (HumanMessage, "human", "user"),
        (SystemMessage, "system", "system"),
        (AIMessage, "ai", "assistant"),
    ]:
        msg = cls("hi", id="m1", name="n")
        assert isinstance(msg, BaseMessage)
        assert (msg.type, msg.role, msg.content, msg.id, msg.name) == (type_, role, "hi", "m1", "n")
        assert msg.to_openai() == {"role": role, "content": "hi", "name": "n"}
        assert str(msg) == "hi"


def test_ai_message_metadata_and_usage():
    msg = AIMessage(
        "answer",
        id="run-1",
        response_metadata={"model_name": "fake", "finish_reason": "stop"},
        usage_metadata={"input_tokens": 3, "output_tokens": 1, "total_tokens": 4},
    )
    assert msg.response_metadata["finish_reason"] == "stop"
    assert msg.usage_metadata["total_tokens"] == 4
    assert msg.to_dict() == {
        "type": "ai",
        "content": "answer",
        "response_metadata": {"model_name": "fake", "finish_reason": "stop"},
        "usage_metadata": {"input_tokens": 3, "output_tokens": 1, "total_tokens": 4},
    }
    assert AIMessage("x").response_metadata == {}
    assert AIMessage("x").usage_metadata is None


def test_equality_is_by_type_content_and_name():
    assert HumanMessage("a") == HumanMessage("a", id="other id")
    assert HumanMessage("a") != SystemMessage("a")
    assert HumanMessage("a") != HumanMessage("b")
    assert HumanMessage("a", name="x") != HumanMessage("a")
    assert hash(HumanMessage("a")) == hash(HumanMessage("a"))


def test_reprs_are_readable():
    assert repr(HumanMessage("hi")) == "HumanMessage(content='hi')"
    assert repr(AIMessage("yo", name="bot")) == "AIMessage(content='yo', name='bot')"
    assert repr(AIMessageChunk("t")) == "AIMessageChunk(content='t')"


def test_chunks_add_up_with_plus():
    a = AIMessageChunk("Hello", id="run-7")
    b = AIMessageChunk(" big", response_metadata={"model_name": "m"})
    c = AIMessageChunk(
        " world",
        response_metadata={"finish_reason": "stop"},
        usage_metadata={"input_tokens": 2, "output_tokens": 3, "total_tokens": 5},
    )
    total = a + b + c
    assert isinstance(total, AIMessageChunk)
    assert total.content == "Hello big world"
    assert total.id == "run-7"
    assert total.response_metadata == {"model_name": "m", "finish_reason": "stop"}
    assert total.usage_metadata == {"input_tokens": 2, "output_tokens": 3, "total_tokens": 5}
    assert (a + b).content == "Hello big"  # the parts are unchanged
    assert a.content == "Hello"


def test_chunk_usage_is_summed_key_by_key():
    a = AIMessageChunk("a", usage_metadata={"input_tokens": 1, "output_tokens": 1})
    b = AIMessageChunk("b", usage_metadata={"output_tokens": 2, "total_tokens": 9})
    assert (a + b).usage_metadata == {"input_tokens": 1, "output_tokens": 3, "total_tokens": 9}
    assert add_usage(None, None) is None
    assert add_usage({"x": 1}, None) == {"x": 1}
    assert add_usage(None, {"x": 1}) == {"x": 1}


def test_a_chunk_plus_something_else_is_a_type_error():
    with pytest.raises(TypeError):
        AIMessageChunk("a") + "b"
    with pytest.raises(TypeError):
        AIMessageChunk("a") + AIMessage("b")


def test_a_chunk_becomes_a_message():
    chunk = AIMessageChunk("a", id="i", usage_metadata={"total_tokens": 1}) + AIMessageChunk("b")
    msg = chunk.to_message()
    assert type(msg) is AIMessage
    assert msg == AIMessage("ab")
    assert msg.id == "i"
    assert msg.usage_metadata == {"total_tokens": 1}


def test_list_content_joins_as_text():
    content = [{"type": "text", "text": "a"}, {"type": "image_url", "image_url": "x"}, "b"]
    assert message_text(content) == "ab"
    assert HumanMessage(content).text == "ab"
    assert (AIMessageChunk([{"type": "text", "text": "a"}]) + AIMessageChunk("b")).content == "ab"
    joined = AIMessageChunk(["a"]) + AIMessageChunk(["b"])
    assert joined.content == ["a", "b"]


def test_document_fields():
    doc = Document("harrison worked at kensho", {"source": "notes.txt"}, id="d1")
    assert doc.page_content == "harrison worked at kensho"
    assert doc.metadata == {"source": "notes.txt"}
    assert doc.id == "d1"
    assert Document("x").metadata == {}
    assert str(doc) == "harrison worked at kensho"
    assert repr(Document("x")) == "Document(page_content='x')"
    assert repr(doc) == (
        "Document(id='d1', page_content='harrison worked at kensho', "
        "metadata={'source': 'notes.txt'})"
    )
    assert doc.to_dict() == {
        "page_content": "harrison worked at kensho",
        "metadata": {"source": "notes.txt"},
        "id": "d1",
    }


def test_document_equality():
    assert Document("a", {"k": 1}) == Document("a", {"k": 1}, id="other")
    assert Document("a", {"k": 1}) != Document("a", {"k": 2})
    assert Document("a") != "a"
    assert len({Document("a"), Document("a")}) == 1
