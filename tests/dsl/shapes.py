"""Span-free node builders, so parser tests can state the tree they expect in a few characters."""

from __future__ import annotations

import dataclasses
from typing import Any

from chainmagic.dsl.nodes import (
    Assign,
    BlockMap,
    Call,
    Expr,
    Keyword,
    Literal,
    Map,
    MapEntry,
    Messages,
    Name,
    Node,
    Pick,
    Pipe,
    Span,
    Template,
)

NO_SPAN = Span(0, 0, 0, 0)


def nospan(node: Any) -> Any:
    """The same tree with every span replaced by NO_SPAN, to compare structure only."""
    if isinstance(node, tuple) and not isinstance(node, Span):
        return tuple(nospan(item) for item in node)
    if not isinstance(node, Node):
        return node
    changes = {}
    for f in dataclasses.fields(node):  # type: ignore[arg-type]
        value = getattr(node, f.name)
        if isinstance(value, Span):
            changes[f.name] = NO_SPAN
        elif isinstance(value, (Node, tuple)):
            changes[f.name] = nospan(value)
    return dataclasses.replace(node, **changes)  # type: ignore[type-var]


def N(dotted: str) -> Name:
    return Name(tuple(dotted.split(".")), NO_SPAN)


def T(text: str, triple: bool = False) -> Template:
    return Template(text, triple, NO_SPAN)


def P(*steps: Any) -> Pipe:
    return Pipe(tuple(steps), NO_SPAN)


def K(key: str) -> Pick:
    return Pick(key, NO_SPAN)


def L(value: Any) -> Literal:
    return Literal(value, NO_SPAN)


def M(*entries: tuple[str, Any], **named: Any) -> Map:
    pairs = [*entries, *named.items()]
    return Map(tuple(MapEntry(k, v, NO_SPAN) for k, v in pairs), NO_SPAN)


def B(*entries: tuple[str, Any], **named: Any) -> BlockMap:
    pairs = [*entries, *named.items()]
    return BlockMap(tuple(MapEntry(k, v, NO_SPAN) for k, v in pairs), NO_SPAN)


def C(func: str, /, *args: Any, **kwargs: Any) -> Call:
    keywords = tuple(Keyword(k, v, NO_SPAN) for k, v in kwargs.items())
    return Call(N(func), tuple(args), keywords, NO_SPAN)


def Msgs(*items: Any) -> Messages:
    return Messages(tuple(items), NO_SPAN)


def A(name: str, value: Any) -> Assign:
    return Assign(name, value, NO_SPAN)


def E(value: Any) -> Expr:
    return Expr(value, NO_SPAN)


# -- the examples of DSL.md, verbatim (shared by the parser and compiler tests) -------------------

RETRIEVAL = "{context: retriever, question: passthrough} | prompt | model | str"

ITALIAN = '''{context: @question | retriever, question: @question, language: @language}
| """Answer the question based only on the following context:
{context}

Question: {question}

Answer in the following language: {language}
"""
| model
| str'''

BLOCK_MAP = """joke: "tell me a joke about {topic}" | model
poem: "write a 2-line poem about {topic}" | model"""

ASSIGNMENTS = """joke_chain = "tell me a joke about {topic}" | model
poem_chain = "write a 2-line poem about {topic}" | model
map_chain  = {joke: joke_chain, poem: poem_chain}"""
