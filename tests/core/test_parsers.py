"""StrOutputParser and JsonOutputParser: text out of messages, JSON out of text, both streaming."""

from __future__ import annotations

import json
from itertools import pairwise

import pytest

from chainmagic.core import (
    AIMessage,
    AIMessageChunk,
    ChatPromptTemplate,
    FakeChatModel,
    JsonOutputParser,
    StrOutputParser,
)
from chainmagic.core.calls import add
from chainmagic.core.parsers import OutputParserError, parse_partial_json
from chainmagic.core.prompts import StringPromptValue
from chainmagic.errors import step_path

# -- StrOutputParser -------------------------------------------------------------------------------


def test_str_parser_gives_the_text_of_a_message_never_its_repr():
    parser = StrOutputParser()
    assert parser.invoke(AIMessage("hello")) == "hello"
    assert parser.invoke(AIMessage([{"type": "text", "text": "a"}, "b"])) == "ab"
    assert parser.invoke("plain") == "plain"
    assert parser.invoke(StringPromptValue("prompt")) == "prompt"


def test_str_parser_streams_chunk_by_chunk():
    chain = "{x}" | FakeChatModel() | StrOutputParser()
    assert list(chain.stream({"x": "a b c"})) == ["a", " b", " c"]


async def test_str_parser_astreams_chunk_by_chunk():
    chain = "{x}" | FakeChatModel() | StrOutputParser()
    assert [c async for c in chain.astream({"x": "a b c"})] == ["a", " b", " c"]


# -- JsonOutputParser ------------------------------------------------------------------------------

OBJECT = {"name": "Ada", "langs": ["en", "fr"], "age": 36, "ok": True}


def test_json_parser_reads_json():
    assert JsonOutputParser().invoke(json.dumps(OBJECT)) == OBJECT
    assert JsonOutputParser().invoke(AIMessage("[1, 2]")) == [1, 2]


@pytest.mark.parametrize(
    "text",
    [
        "```json\n" + json.dumps(OBJECT) + "\n```",
        "Here you are:\n```json\n" + json.dumps(OBJECT) + "\n```\nAnything else?",
        "```\n" + json.dumps(OBJECT) + "\n```",
        "```JSON " + json.dumps(OBJECT) + "```",
        "  " + json.dumps(OBJECT, indent=2) + "\n",
    ],
)
def test_json_parser_tolerates_a_fenced_block_and_whitespace(text):
    assert JsonOutputParser().invoke(text) == OBJECT


def test_json_parser_explains_bad_json():
    with pytest.raises(Exception) as info:
        JsonOutputParser().invoke(
            "the answer is 42, not JSON at all, sorry about that, truly sorry"
        )
    cause = info.value
    assert isinstance(cause, OutputParserError)
    assert isinstance(cause, ValueError)
    assert str(cause).startswith("the output is not valid JSON (Expecting value): 'the answer")
    assert str(cause).endswith("...'")
    assert step_path(info.value) == ["JsonOutputParser"]


def test_json_parser_streams_growing_partial_objects():
    text = json.dumps({"title": "Bears", "tags": ["big", "brown"]})
    model = FakeChatModel([text])
    chain = "{x}" | model | JsonOutputParser()
    snapshots = list(chain.stream({"x": ""}))
    assert len(snapshots) > 2
    assert snapshots[-1] == {"title": "Bears", "tags": ["big", "brown"]}
    assert all(isinstance(s, dict) for s in snapshots)
    for before, after in pairwise(snapshots):
        assert before != after  # only changes are yielded
        assert set(before) <= set(after)  # keys only ever appear


def test_streamed_snapshots_add_up_to_the_last_one():
    text = "```json\n" + json.dumps(OBJECT) + "\n```"
    chain = "{x}" | FakeChatModel([text]) | JsonOutputParser()
    total = None
    for snapshot in chain.stream({"x": ""}):
        total = snapshot if total is None else add(total, snapshot)
    assert total == OBJECT
    assert chain.invoke({"x": ""}) == OBJECT


async def test_json_parser_astreams_partial_objects():
    chain = "{x}" | FakeChatModel([json.dumps(OBJECT)]) | JsonOutputParser()
    snapshots = [s async for s in chain.astream({"x": ""})]
    assert len(snapshots) > 2
    assert snapshots[-1] == OBJECT


def test_json_parser_stream_of_bad_json_fails_like_invoke():
    chain = "{x}" | FakeChatModel(["not json"]) | JsonOutputParser()
    with pytest.raises(Exception) as info:
        list(chain.stream({"x": ""}))
    assert isinstance(info.value, OutputParserError)


def test_json_parser_streams_top_level_scalars_and_lists():
    assert list(JsonOutputParser().stream("42")) == [42]
    assert list(("{x}" | FakeChatModel(["[1, 2, 3]"]) | JsonOutputParser()).stream({"x": ""}))[
        -1
    ] == [1, 2, 3]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1, "b": "hel', {"a": 1, "b": "hel"}),
        ('{"a": [1, 2', {"a": [1, 2]}),
        ('```json\n{"a": 1', {"a": 1}),
        ('[1, {"x": "y', [1, {"x": "y"}]),
        ('{"a": "say \\"hi', {"a": 'say "hi'}),
        ('{"a": 1,', {"a": 1}),
        ("", None),
        ("   ", None),
    ],
)
def test_parse_partial_json(text, expected):
    assert parse_partial_json(text) == expected


def test_a_message_chunk_stream_into_the_json_parser():
    chunks = [AIMessageChunk('{"a"'), AIMessageChunk(": 1}")]
    assert list(JsonOutputParser()._transform(iter(chunks), None))[-1] == {"a": 1}


def test_a_json_chain_in_a_prompt():
    prompt = ChatPromptTemplate.from_template('{{"topic": "{topic}"}}')  # the fake echoes it
    chain = prompt | FakeChatModel() | JsonOutputParser()
    assert chain.invoke({"topic": "owls"}) == {"topic": "owls"}


def test_partial_json_keeps_a_string_cut_after_a_backslash():
    assert parse_partial_json('{"path": "C:\\') == {"path": "C:"}
    assert parse_partial_json('{"a": "x\\"y') == {"a": 'x"y'}


def test_json_parser_diff_streams_json_patch_operations():
    from chainmagic.core.parsers import json_patch

    chunks = ['{"a": "x', 'y", "b": [1', ", 2]}"]
    ops = list(JsonOutputParser(diff=True).transform(iter(chunks)))
    assert ops[0] == [{"op": "replace", "path": "", "value": {"a": "x"}}]
    assert ops[1] == [
        {"op": "add", "path": "/b", "value": [1]},
        {"op": "replace", "path": "/a", "value": "xy"},
    ]
    assert ops[2] == [{"op": "add", "path": "/b/1", "value": 2}]
    assert json_patch({"a/b": 1, "gone": 0}, {"a/b": 2}) == [
        {"op": "remove", "path": "/gone"},
        {"op": "replace", "path": "/a~1b", "value": 2},
    ]
    assert JsonOutputParser(diff=True).invoke('{"a": 1}') == {"a": 1}  # invoke parses whole


def test_parse_json_markdown_and_the_simple_parser_name():
    from chainmagic.core.parsers import SimpleJsonOutputParser, parse_json_markdown

    assert parse_json_markdown('```json\n{"a": 1}\n```') == {"a": 1}
    assert parse_json_markdown('{"a": [1, 2') == {"a": [1, 2]}
    with pytest.raises(json.JSONDecodeError):
        parse_json_markdown("no json here")
    assert SimpleJsonOutputParser is JsonOutputParser


def test_format_instructions_carry_the_schema_readably():
    pydantic = pytest.importorskip("pydantic")

    class Article(pydantic.BaseModel):
        title: str = pydantic.Field(description="科学文章的标题")
        words: int

    text = JsonOutputParser(pydantic_object=Article).get_format_instructions()
    assert "科学文章的标题" in text
    schema = json.loads(text.split("```json\n")[1].split("\n```")[0])
    assert schema["required"] == ["title", "words"]
    assert "title" not in schema  # the model's class name is no help to the model
    assert JsonOutputParser().get_format_instructions() == "Return a JSON object."
