"""Parsers users write by subclassing: parse(text), parse_result(generations), streamed or not."""

from __future__ import annotations

import asyncio
from typing import Any, get_type_hints

import pytest

from chainmagic.core import AIMessage, FakeChatModel, OutputParserException
from chainmagic.core.models.scripted import GenericFakeChatModel
from chainmagic.core.parser_bases import (
    BaseGenerationOutputParser,
    BaseOutputParser,
    BaseTransformOutputParser,
    ChatGeneration,
    Generation,
)


class Words(BaseOutputParser[list[str]]):
    def parse(self, text: str) -> list[str]:
        return text.split()


class Loud(BaseTransformOutputParser[str]):
    def parse(self, text: str) -> str:
        return text.upper()


class CallNames(BaseGenerationOutputParser[list[str]]):
    def parse_result(self, result: list[Generation], *, partial: bool = False) -> list[str]:
        first = result[0]
        if not isinstance(first, ChatGeneration):
            raise OutputParserException("needs a chat answer")
        return [call["name"] for call in getattr(first.message, "tool_calls", [])]


def test_parse_reads_the_answers_text_from_a_message_or_a_string():
    chain = FakeChatModel(responses=["a b c"]) | Words()
    assert chain.invoke("x") == ["a", "b", "c"]
    assert Words().invoke("d e") == ["d", "e"]
    assert asyncio.run(chain.ainvoke("x")) == ["a", "b", "c"]


def test_a_transform_parser_parses_each_chunk_as_it_streams():
    model = GenericFakeChatModel(messages=iter(["hello big world"]))
    assert list((model | Loud()).stream("x")) == ["HELLO", " ", "BIG", " ", "WORLD"]
    model = GenericFakeChatModel(messages=iter(["a b"]))

    async def collect() -> list[str]:
        return [chunk async for chunk in (model | Loud()).astream("x")]

    assert asyncio.run(collect()) == ["A", " ", "B"]


def test_a_generation_parser_sees_the_message_itself():
    answer = AIMessage("", tool_calls=[{"name": "search", "args": {}, "id": "1"}])
    model = GenericFakeChatModel(messages=iter([answer]))
    assert (model | CallNames()).invoke("x") == ["search"]
    with pytest.raises(OutputParserException, match="needs a chat answer"):
        CallNames().invoke("plain text")


def test_a_parser_without_parse_says_so():
    with pytest.raises(NotImplementedError, match="must define parse"):
        BaseOutputParser().invoke("x")
    with pytest.raises(NotImplementedError, match="must define parse_result"):
        BaseGenerationOutputParser().invoke("x")


def test_asdict_gives_the_settings_as_plain_data():
    parser = Words()
    parser.sep = None  # type: ignore[attr-defined]
    parser.limit = 3  # type: ignore[attr-defined]
    assert parser.asdict() == {"sep": None, "limit": 3}
    assert parser.asdict(exclude_none=True) == {"limit": 3}
    assert get_type_hints(BaseOutputParser.asdict)["return"] == dict[str, Any]


def test_generations_compare_and_show_as_data():
    assert Generation("a") == Generation("a") != Generation("b")
    assert ChatGeneration(AIMessage("hi")).text == "hi"
    assert repr(Generation("a")) == "Generation(text='a')"


def test_the_built_in_parsers_are_output_parsers_with_parse():
    from chainmagic.core import JsonOutputParser, StrOutputParser

    assert isinstance(StrOutputParser(), BaseTransformOutputParser)
    assert isinstance(JsonOutputParser(), BaseOutputParser)
    assert StrOutputParser().parse("as is") == "as is"
    assert JsonOutputParser().parse('```json\n{"a": 1}\n```') == {"a": 1}
