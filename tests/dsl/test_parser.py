"""The parser builds the tree DSL.md describes, with spans that point back at the cell text."""

from __future__ import annotations

import dataclasses
import re
import timeit
from pathlib import Path

import pytest

from chainmagic.dsl import parse
from chainmagic.dsl.nodes import (
    Assign,
    BlockMap,
    Expr,
    Map,
    Name,
    Node,
    Pick,
    Pipe,
    Program,
    Span,
    Template,
    iter_nodes,
)

from .shapes import (
    ASSIGNMENTS,
    BLOCK_MAP,
    ITALIAN,
    RETRIEVAL,
    A,
    B,
    C,
    E,
    K,
    L,
    M,
    Msgs,
    N,
    P,
    T,
    nospan,
)


def statements(source: str) -> tuple[object, ...]:
    return nospan(parse(source).statements)


# -- the examples of DSL.md, verbatim ------------------------------------------------------------


def test_dsl_example_retrieval_chain() -> None:
    expected = P(
        M(context=N("retriever"), question=N("passthrough")), N("prompt"), N("model"), N("str")
    )
    assert statements(RETRIEVAL) == (E(expected),)


def test_dsl_example_multiline_pipeline_with_triple_quoted_prompt() -> None:
    text = (
        "Answer the question based only on the following context:\n{context}\n\n"
        "Question: {question}\n\nAnswer in the following language: {language}\n"
    )
    head = M(
        context=P(K("question"), N("retriever")),
        question=K("question"),
        language=K("language"),
    )
    assert statements(ITALIAN) == (E(P(head, T(text, triple=True), N("model"), N("str"))),)


def test_dsl_example_block_map_is_one_map_and_the_chain() -> None:
    program = parse(BLOCK_MAP)
    expected = B(
        joke=P(T("tell me a joke about {topic}"), N("model")),
        poem=P(T("write a 2-line poem about {topic}"), N("model")),
    )
    assert nospan(program.statements) == (expected,)
    assert program.chain_statement is program.statements[0]
    assert nospan(program.chain) == M(
        joke=expected.entries[0].value, poem=expected.entries[1].value
    )


def test_dsl_example_assignments_last_one_is_the_chain() -> None:
    program = parse(ASSIGNMENTS)
    assert nospan(program.statements) == (
        A("joke_chain", P(T("tell me a joke about {topic}"), N("model"))),
        A("poem_chain", P(T("write a 2-line poem about {topic}"), N("model"))),
        A("map_chain", M(joke=N("joke_chain"), poem=N("poem_chain"))),
    )
    assert program.chain_statement is program.statements[-1]
    assert nospan(program.chain) == M(joke=N("joke_chain"), poem=N("poem_chain"))


def _shared_dsl_md() -> Path | None:
    for parent in Path(__file__).resolve().parents:
        for candidate in (parent / "shared" / "DSL.md", parent / "docs" / "DSL.md"):
            if candidate.is_file():
                return candidate
    return None


def test_every_chain_cell_in_dsl_md_parses() -> None:
    """Keeps this file honest if DSL.md gains an example (skipped where DSL.md is not beside us)."""
    path = _shared_dsl_md()
    if path is None:
        pytest.skip("DSL.md not found next to the repository")
    blocks = re.findall(r"```\n(%%chain[^\n]*)\n(.*?)```", path.read_text(), flags=re.S)
    assert len(blocks) >= 4
    for _magic, body in blocks:
        assert parse(body).chain is not None, body


# -- steps ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["passthrough", "str", "json", "model", "prompt", "system", "match"]
)
def test_builtin_and_soft_keyword_names_are_plain_names(name: str) -> None:
    assert statements(name) == (E(N(name)),)


def test_builtin_calls_are_plain_calls() -> None:
    source = 'assign(docs=@q | retriever, n=passthrough) | model("fake:echo", temperature=0)'
    expected = P(
        C("assign", docs=P(K("q"), N("retriever")), n=N("passthrough")),
        C("model", L("fake:echo"), temperature=L(0)),
    )
    assert statements(source) == (E(expected),)


def test_messages_list() -> None:
    source = '[system("You are {role}"), human("{q}")] | model'
    expected = P(Msgs(C("system", L("You are {role}")), C("human", L("{q}"))), N("model"))
    assert statements(source) == (E(expected),)


def test_dotted_names_and_calls() -> None:
    assert statements("helpers.fmt(3, sep=', ') | a.b.c") == (
        E(P(C("helpers.fmt", L(3), sep=L(", ")), N("a.b.c"))),
    )


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("1", 1),
        ("-2.5", -2.5),
        ("1_000", 1000),
        ("0x1F", 31),
        (".5", 0.5),
        ("2j", 2j),
        ("True", True),
        ("False", False),
        ("None", None),
        ("'s'", "s"),
        ('"""t"""', "t"),
        ("[1, 'a', [None]]", [1, "a", [None]]),
        ("[1, 2,]", [1, 2]),
        ("[]", []),
        ('{"a": 1, b: [2]}', {"a": 1, "b": [2]}),
        ("{}", {}),
    ],
)
def test_literal_arguments(argument: str, value: object) -> None:
    assert statements(f"f({argument})") == (E(C("f", L(value))),)


def test_an_argument_that_is_not_all_constants_is_a_pipeline() -> None:
    assert statements('f("a {x}" | model, {k: x}, [human("q")])') == (
        E(C("f", P(T("a {x}"), N("model")), M(k=N("x")), Msgs(C("human", L("q"))))),
    )


def test_picks() -> None:
    assert statements("@question | @\"key with space\" | @'k' | @ spaced") == (
        E(P(K("question"), K("key with space"), K("k"), K("spaced"))),
    )


def test_parentheses_group_without_a_node_of_their_own() -> None:
    assert statements("a | (b | c) | (d)") == (E(P(N("a"), P(N("b"), N("c")), N("d"))),)


def test_map_keys_quoted_and_trailing_comma() -> None:
    assert statements("{\"k 2\": a, 'k3': b, c: c,}") == (
        E(M(("k 2", N("a")), k3=N("b"), c=N("c"))),
    )


def test_empty_map_is_a_map() -> None:
    assert statements("{}") == (E(M()),)


@pytest.mark.parametrize(
    ("source", "text", "triple"),
    [
        ('"plain {x}"', "plain {x}", False),
        ("'single'", "single", False),
        ('"{{literal}} braces"', "{{literal}} braces", False),
        ('"tab\\there"', "tab\there", False),
        ('r"raw\\n"', "raw\\n", False),
        ('"""multi\nline"""', "multi\nline", True),
        ("'''a \"quote\"'''", 'a "quote"', True),
        ('"joined \\\nline"', "joined line", False),
    ],
)
def test_templates_are_decoded_but_braces_kept(source: str, text: str, triple: bool) -> None:
    assert statements(source) == (E(T(text, triple)),)


# -- statements and continuation -----------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "a | b | c",
        "a |\nb |\nc",
        "a\n| b\n| c",
        "a\n    | b\n  | c",  # odd indentation on continuation lines is fine
        "    a\n| b\n        | c",
        "a |\n\n# why\n\nb\n| c",
        "a\n# a comment between\n| b | c",
        "a \\\n| b | c",
        "(a\n  |\n b\n  | c)",
    ],
)
def test_continuation_lines(source: str) -> None:
    assert statements(source)[0] == E(P(N("a"), N("b"), N("c")))


def test_brackets_continue_lines() -> None:
    source = "x = {\n  a: f(\n    1,\n    k=2,\n  ),\n  b: [\n    human('q'),\n  ],\n}"
    assert statements(source) == (A("x", M(a=C("f", L(1), k=L(2)), b=Msgs(C("human", L("q"))))),)


def test_block_map_tolerates_comments_and_blank_lines_between_lines() -> None:
    source = "# header\na: x\n\n# about b\nb: y | z\n'c d': w\n"
    assert statements(source) == (B(a=N("x"), b=P(N("y"), N("z")), **{"c d": N("w")}),)


def test_block_map_after_assignments_is_the_chain() -> None:
    program = parse("r = retriever\ncontext: @q | r\nquestion: @q")
    assert isinstance(program.statements[0], Assign)
    assert isinstance(program.chain_statement, BlockMap)
    assert [e.key for e in program.chain_statement.entries] == ["context", "question"]


def test_unnamed_chain_wins_over_later_assignments() -> None:
    program = parse("a = x\nb | c\nd = y")
    assert isinstance(program.chain_statement, Expr)
    assert nospan(program.chain) == P(N("b"), N("c"))


@pytest.mark.parametrize("source", ["", "\n\n", "   ", "# only a comment\n# and another"])
def test_empty_cell_has_no_chain(source: str) -> None:
    program = parse(source)
    assert program.statements == ()
    assert program.chain_statement is None
    assert program.chain is None


def test_comments_after_code() -> None:
    assert statements("a | b  # the model\n") == (E(P(N("a"), N("b"))),)


def test_crlf_line_endings() -> None:
    assert statements("a = x\r\nb\r\n| c\r\n") == (A("a", N("x")), E(P(N("b"), N("c"))))


# -- spans ---------------------------------------------------------------------------------------


def test_spans_of_the_multiline_example() -> None:
    pipe = parse(ITALIAN).statements[0].value
    assert isinstance(pipe, Pipe)
    head, template, model, out = pipe.steps
    assert head.span == Span(1, 0, 1, 74)
    assert template.span == Span(2, 2, 8, 3)
    assert model.span == Span(9, 2, 9, 7)
    assert out.span == Span(10, 2, 10, 5)
    assert pipe.span == Span(1, 0, 10, 5)
    assert isinstance(head, Map)
    context = head.entries[0]
    assert context.span == Span(1, 1, 1, 31)  # `context: @question | retriever`
    assert context.value.span == Span(1, 10, 1, 31)


def test_first_line_offsets_every_span() -> None:
    program = parse("x = a\n| b", first_line=2)
    assert program.statements[0].span == Span(2, 0, 3, 3)
    assert program.span == Span(2, 0, 3, 3)


def _text_at(source: str, span: Span) -> str:
    lines = source.split("\n")
    if span.line == span.end_line:
        return lines[span.line - 1][span.col : span.end_col]
    parts = [lines[span.line - 1][span.col :]]
    parts += lines[span.line : span.end_line - 1]
    parts.append(lines[span.end_line - 1][: span.end_col])
    return "\n".join(parts)


@pytest.mark.parametrize("source", [RETRIEVAL, ITALIAN, BLOCK_MAP, ASSIGNMENTS])
def test_leaf_spans_cover_exactly_their_text(source: str) -> None:
    program = parse(source)
    for node in iter_nodes(program):
        text = _text_at(source, node.span)
        if isinstance(node, Name):
            assert text == node.dotted
        elif isinstance(node, Pick):
            assert text.startswith("@")
            assert node.key in text
        elif isinstance(node, Template):
            assert text[0] in "\"'" and text[-1] in "\"'"
        elif isinstance(node, (Map, Pipe, Assign)):
            assert text.strip() == text and text  # no surrounding whitespace


def test_program_span_and_source() -> None:
    program = parse("a\n| b\n")
    assert program.source == "a\n| b\n"
    assert program.span == Span(1, 0, 3, 0)


# -- the nodes themselves ------------------------------------------------------------------------


def test_nodes_are_frozen_and_hashable() -> None:
    program = parse("x = f([1, 2], d={'a': 1}) | {k: @q}")
    with pytest.raises(dataclasses.FrozenInstanceError):
        program.statements[0].name = "y"  # type: ignore[misc]
    assert hash(program) == hash(parse("x = f([1, 2], d={'a': 1}) | {k: @q}"))
    assert all(isinstance(node, Node) for node in iter_nodes(program))


def test_iter_nodes_walks_in_source_order() -> None:
    program = parse("x = f(1, k=@q) | {a: b}")
    kinds = [type(node).__name__ for node in iter_nodes(program)]
    assert kinds == [
        "Program", "Assign", "Pipe", "Call", "Name", "Literal", "Keyword", "Pick",
        "Map", "MapEntry", "Name",
    ]  # fmt: skip


def test_program_is_what_parse_returns() -> None:
    assert isinstance(parse("a"), Program)


# -- speed ---------------------------------------------------------------------------------------

TWENTY_LINES = '''# a 20-line cell
retriever_chain = {context: @question | retriever, question: @question, language: @language}
answer = (
    retriever_chain
    | """Answer the question based only on the following context:
{context}

Question: {question}

Answer in the following language: {language}
"""
    | model("openai:gpt-4o-mini", temperature=0)
    | str
)
joke_chain = "tell me a joke about {topic}" | model
poem_chain = "write a 2-line poem about {topic}" | model
chat = [system("You are {role}"), human("{q}")] | model | json
extra = assign(docs=@q | retriever, n=passthrough) | helpers.fmt(3, sep=", ")
# the cell's chain
map_chain  = {joke: joke_chain, poem: poem_chain, "the answer": answer}'''


def test_a_twenty_line_cell_parses_well_under_a_millisecond() -> None:
    assert TWENTY_LINES.count("\n") + 1 == 20
    best = min(timeit.repeat(lambda: parse(TWENTY_LINES), number=20, repeat=5)) / 20
    assert best < 0.002  # ~0.25 ms on the 2-core CI machine; generous against noisy neighbours
