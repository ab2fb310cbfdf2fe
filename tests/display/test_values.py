"""Renderers never raise, whatever a chain returns, and long outputs are cut with a note."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from chainmagic.core import AIMessage, ChatPromptTemplate, Document
from chainmagic.display import result_html, result_text, value_html, value_text
from chainmagic.errors import ChainRunError
from chainmagic.run import BranchResult, ChainResult


class ReprRaises:
    def __repr__(self) -> str:
        raise RuntimeError("repr is broken")

    def __str__(self) -> str:
        raise RuntimeError("str is broken too")


class LangChainMessage:
    """Looks like langchain_core's AIMessage: pydantic-ish fields, content and type, a raising repr."""

    type = "ai"

    def __init__(self, content: object) -> None:
        self.content = content
        self.response_metadata = {"model": "x"}

    def __repr__(self) -> str:
        raise ValueError("pydantic exploded")


class LangChainDocument:
    def __init__(self, text: str) -> None:
        self.page_content = text
        self.metadata = {"source": "lc"}


class PropertyRaises:
    @property
    def page_content(self) -> str:
        raise AttributeError("computed lazily, and failing")

    @property
    def content(self) -> str:
        raise RuntimeError("boom")


@dataclass
class Point:
    x: int
    y: int


def deep(n: int) -> dict:
    root: dict = {}
    node = root
    for _ in range(n):
        node["k"] = {}
        node = node["k"]
    return root


def cyclic() -> list:
    items: list = [1]
    items.append(items)
    return items


ODD = [
    None,
    b"\x00\x01binary",
    bytearray(10),
    "",
    "x" * 1_000_000,
    deep(500),
    cyclic(),
    ValueError("bad value"),
    ChainRunError(KeyError("topic"), ["map_chain", "poem"]),
    ReprRaises(),
    LangChainMessage("hello from langchain"),
    LangChainMessage([{"type": "text", "text": "parts"}, "more"]),
    LangChainDocument("a langchain document"),
    PropertyRaises(),
    Point(1, 2),
    {1, 3, 2},
    {(1, 2): "tuple key", None: "none key"},
    list(range(100_000)),
    object(),
    type,
    float("nan"),
    1 + 2j,
    ChatPromptTemplate.from_template("hi {x}").invoke({"x": "there"}),
    iter([1, 2]),
]


@pytest.mark.parametrize("value", ODD, ids=lambda v: type(v).__name__)
def test_value_renderers_never_raise(value: object) -> None:
    text = value_text(value)
    page = value_html(value)
    assert isinstance(text, str)
    assert isinstance(page, str)
    assert len(text) < 20_000
    assert len(page) < 60_000


@pytest.mark.parametrize("value", ODD, ids=lambda v: type(v).__name__)
def test_result_renderers_never_raise_on_odd_outputs(value: object) -> None:
    result = ChainResult(name="odd", output=value, status="ok", total=0.1)
    result.branches = {"a": BranchResult("a", status="ok", output=value, start=0.0, end=0.1)}
    assert "odd" in result_text(result)
    assert "odd" in result_html(result)
    assert repr(result) == "<ChainResult odd: ok, 0.1 s, 1 branch>"  # cheap, whatever the output


def test_a_huge_string_is_cut_with_a_note_saying_how_much_more() -> None:
    text = value_text("x" * 1_000_000, limit=1000)
    assert text == "x" * 1000 + " … (999,000 more characters)"
    assert "999,000 more characters" in value_html("x" * 1_000_000, limit=1000)


def test_the_default_limit_applies_and_zero_means_no_limit() -> None:
    assert "more characters" in value_text("y" * 5000)
    assert value_text("y" * 5000, limit=0) == "y" * 5000


def test_a_long_list_is_cut_by_items() -> None:
    text = value_text(list(range(100_000)), limit=100)
    assert text.endswith("more items)")
    assert re.search(r"… \(\d{2},\d{3} more items\)$", text)


def test_a_repr_that_raises_becomes_a_safe_placeholder() -> None:
    assert value_text(ReprRaises()) == "<ReprRaises object (repr failed: RuntimeError)>"


def test_langchain_like_objects_are_recognised_by_their_fields() -> None:
    assert value_text(LangChainMessage("hi")) == "hi"
    assert value_text(LangChainMessage([{"type": "text", "text": "a"}, "b"])) == "ab"
    assert value_text([LangChainDocument("doc")]) == "1. doc\n   (source: lc)"


def test_exceptions_are_type_and_message() -> None:
    assert value_text(ValueError("bad")) == "ValueError: bad"
    assert value_text(ChainRunError(KeyError("k"), ["m", "p"])).startswith("ChainRunError: m › p")


def test_bytes_are_counted_not_dumped() -> None:
    assert value_text(b"abc") == "<3 bytes>"
    assert value_text({"blob": bytes(2048)}) == "blob: <2,048 bytes>"


def test_deep_nesting_and_cycles_are_cut() -> None:
    assert "{…}" in value_text(deep(500))
    assert value_text(cyclic()) == "- 1\n- <cycle>"


def test_default_reprs_lose_their_addresses_so_text_is_deterministic() -> None:
    assert value_text(object()) == "<object object>"
    assert "0x" not in value_text(lambda: 1)


def test_messages_and_documents_are_content_not_reprs() -> None:
    assert value_text(AIMessage("the answer")) == "the answer"
    assert "AIMessage(" not in value_html(AIMessage("the answer"))
    assert value_text(Document("page", {"a": 1})) == "page\n(a: 1)"


def test_sets_are_sorted_for_stable_text() -> None:
    assert value_text({3, 1, 2}) == "[1, 2, 3]"
