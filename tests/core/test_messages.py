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
from chainmagic.core.messages import (
    add_ai_message_chunks,
    add_usage,
    invalid_tool_call,
    message_text,
    subtract_usage,
    tool_call,
    tool_call_chunk,
)


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
    assert add_usage(None, None) == {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}
    assert add_usage({"x": 1}, None) == {"x": 1}
    assert add_usage(None, {"x": 1}) == {"x": 1}


def test_chunks_without_usage_join_without_usage():
    assert (AIMessageChunk("a") + AIMessageChunk("b")).usage_metadata is None
    counted = AIMessageChunk("c", usage_metadata={"input_tokens": 2, "output_tokens": 1})
    assert (AIMessageChunk("a") + counted).usage_metadata == {"input_tokens": 2, "output_tokens": 1}


def test_subtract_usage_goes_key_by_key_and_never_below_zero():
    big = {
        "input_tokens": 10,
        "output_tokens": 4,
        "total_tokens": 14,
        "input_token_details": {"cache_read": 6},
    }
    small = {
        "input_tokens": 3,
        "output_tokens": 9,
        "total_tokens": 12,
        "input_token_details": {"cache_read": 1, "audio": 2},
    }
    assert subtract_usage(big, small) == {
        "input_tokens": 7,
        "output_tokens": 0,
        "total_tokens": 2,
        "input_token_details": {"cache_read": 5, "audio": 0},
    }
    assert subtract_usage(big, None) == big
    assert subtract_usage(None, None) == {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}


def test_add_ai_message_chunks_joins_many_in_one_pass():
    parts = [
        AIMessageChunk("a", usage_metadata=None, id="run-1"),
        AIMessageChunk("b", usage_metadata={"input_tokens": 1, "output_tokens": 1}),
        AIMessageChunk("c", usage_metadata={"input_tokens": 2, "output_tokens": 3}),
    ]
    joined = add_ai_message_chunks(*parts)
    assert joined.content == "abc"
    assert joined.id == "run-1"
    assert joined.usage_metadata == {"input_tokens": 3, "output_tokens": 4}
    assert joined == parts[0] + parts[1] + parts[2]


def test_tool_calls_are_tagged_and_kept():
    message = AIMessage("", tool_calls=[{"name": "search", "args": {"q": "x"}, "id": "c1"}])
    assert message.tool_calls == [tool_call(name="search", args={"q": "x"}, id="c1")]
    assert message.tool_calls[0]["type"] == "tool_call"
    assert message.to_dict()["tool_calls"][0]["name"] == "search"
    first = AIMessageChunk("", tool_calls=[{"name": "a", "args": {}, "id": "1"}])
    second = AIMessageChunk("", tool_calls=[{"name": "b", "args": {}, "id": "2"}])
    assert [call["name"] for call in (first + second).tool_calls] == ["a", "b"]
    assert (first + second).to_message().tool_calls[1]["id"] == "2"
    assert tool_call_chunk(name="a", args='{"q"', index=0)["type"] == "tool_call_chunk"


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
    mixed = AIMessageChunk([{"type": "text", "text": "a"}]) + AIMessageChunk("b")
    assert mixed.content == [{"type": "text", "text": "a"}, "b"]  # as LCEL joins them
    assert mixed.text == "ab"
    joined = AIMessageChunk(["a"]) + AIMessageChunk(["b"])
    assert joined.content == ["a", "b"]


def test_document_fields():
    doc = Document("harrison worked at kensho", {"source": "notes.txt"}, id="d1")
    assert doc.page_content == "harrison worked at kensho"
    assert doc.metadata == {"source": "notes.txt"}
    assert doc.id == "d1"
    assert Document("x").metadata == {}
    assert str(doc) == "harrison worked at kensho"
    assert repr(Document("x")) == "Document(metadata={}, page_content='x')"
    assert repr(doc) == (
        "Document(id='d1', metadata={'source': 'notes.txt'}, "
        "page_content='harrison worked at kensho')"
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


# -- joining chunks as LCEL does -------------------------------------------------------------------


def test_list_content_parts_with_the_same_index_merge():
    from chainmagic.core.messages import merge_content

    a = AIMessageChunk([{"type": "text", "text": "Hel", "index": 0}])
    b = AIMessageChunk([{"type": "text", "text": "lo", "index": 0}, {"type": "x", "index": 1}])
    assert (a + b).content == [
        {"type": "text", "text": "Hello", "index": 0},
        {"type": "x", "index": 1},
    ]
    assert merge_content("a", [{"type": "text", "text": "b"}]) == [
        "a",
        {"type": "text", "text": "b"},
    ]
    assert merge_content(["a"], "b") == ["ab"]
    assert merge_content([{"index": 0}], "b") == [{"index": 0}, "b"]
    assert merge_content("", ["x"]) == ["x"]


def test_usage_adds_up_with_nested_details_and_none():
    a = AIMessageChunk(
        "a",
        usage_metadata={
            "input_tokens": 1,
            "output_tokens": 2,
            "total_tokens": 3,
            "input_token_details": {"cache_read": 1},
        },
    )
    b = AIMessageChunk(
        "b",
        usage_metadata={
            "input_tokens": 0,
            "output_tokens": 1,
            "total_tokens": 1,
            "input_token_details": {"cache_read": 2, "audio": 1},
            "output_token_details": None,
        },
    )
    assert (a + b).usage_metadata == {
        "input_tokens": 1,
        "output_tokens": 3,
        "total_tokens": 4,
        "input_token_details": {"cache_read": 3, "audio": 1},
        "output_token_details": None,
    }
    assert a.usage_metadata["input_token_details"] == {"cache_read": 1}  # inputs untouched
    assert (AIMessageChunk("x") + a).usage_metadata == a.usage_metadata


def test_additional_kwargs_merge_and_conflicts_raise():
    a = AIMessageChunk("", additional_kwargs={"f": {"name": "get", "arguments": '{"a"'}, "n": 1})
    b = AIMessageChunk("", additional_kwargs={"f": {"arguments": ": 1}"}, "n": 1})
    assert (a + b).additional_kwargs == {"f": {"name": "get", "arguments": '{"a": 1}'}, "n": 1}
    with pytest.raises(TypeError, match="cannot merge 'n'"):
        a + AIMessageChunk("", additional_kwargs={"n": 2})
    with pytest.raises(TypeError, match="cannot merge 'f'"):
        a + AIMessageChunk("", additional_kwargs={"f": "text"})


def test_usage_metadata_is_a_plain_dict_with_lcel_names():
    from chainmagic.core.messages import InputTokenDetails, UsageMetadata

    usage = UsageMetadata(
        input_tokens=1,
        output_tokens=2,
        total_tokens=3,
        input_token_details=InputTokenDetails(cache_read=1),
    )
    assert type(usage) is dict
    assert add_usage(usage, usage)["input_token_details"] == {"cache_read": 2}


def test_content_blocks_read_reasoning_text_and_calls_into_one_list():
    message = AIMessage(
        "It is 42.",
        additional_kwargs={"reasoning_content": "Thinking it over."},
        tool_calls=[{"name": "calc", "args": {"x": 6}, "id": "c1"}],
    )
    assert message.content_blocks == [
        {"type": "reasoning", "reasoning": "Thinking it over."},
        {"type": "text", "text": "It is 42."},
        {"type": "tool_call", "id": "c1", "name": "calc", "args": {"x": 6}},
    ]
    assert AIMessage("").content_blocks == []
    parts = AIMessage(["a", {"type": "image", "url": "http://x/y.png"}]).content_blocks
    assert parts == [{"type": "text", "text": "a"}, {"type": "image", "url": "http://x/y.png"}]


def test_content_blocks_of_a_standard_layout_are_the_content_itself():
    blocks = [{"type": "text", "text": "hi"}, {"type": "tool_call", "name": "f", "args": {}}]
    message = AIMessage(blocks, response_metadata={"output_version": "v1"})
    assert message.content_blocks is message.content


def test_tool_call_chunks_join_by_index_while_streaming():
    first = AIMessageChunk("", tool_call_chunks=[tool_call_chunk(name="f", args='{"q"', index=0)])
    second = AIMessageChunk("", tool_call_chunks=[tool_call_chunk(args=': "x"}', index=0)])
    joined = first + second
    assert joined.tool_call_chunks == [
        {"name": "f", "args": '{"q": "x"}', "id": None, "index": 0, "type": "tool_call_chunk"}
    ]
    assert joined.content_blocks[0]["type"] == "tool_call_chunk"


def test_document_repr_reads_as_langchains():
    lc_documents = pytest.importorskip("langchain_core.documents")
    for text, kwargs in [("x", {}), ("y", {"metadata": {"source": "a.txt"}, "id": "d7"})]:
        assert repr(Document(text, **kwargs)) == repr(lc_documents.Document(text, **kwargs))


def test_streamed_tool_call_pieces_are_read_as_calls_once_joined():
    pieces = [
        AIMessageChunk("", tool_call_chunks=[tool_call_chunk(name="f", args='{"q": ', index=0)]),
        AIMessageChunk("", tool_call_chunks=[tool_call_chunk(args='"x"}', id="c1", index=0)]),
        AIMessageChunk("", tool_call_chunks=[tool_call_chunk(name="g", args="oops", index=1)]),
    ]
    joined = add_ai_message_chunks(*pieces)
    assert joined.tool_calls == [tool_call(name="f", args={"q": "x"}, id="c1")]
    assert joined.invalid_tool_calls == [invalid_tool_call(name="g", args="oops", id=None)]
    assert pieces[0].tool_calls == [tool_call(name="f", args={}, id=None)]  # cut JSON, read so far
    assert joined.to_message().invalid_tool_calls[0]["type"] == "invalid_tool_call"
