"""The token classes the editor colours: the rules file, and the highlighter held to the lexer.

The highlighter is a forgiving, line-by-line reading of the language (an editor's view); the lexer
(``dsl.tokens``) is the strict one that the parser uses. On every valid cell of the tutorials and of
the language reference they must agree on what is a string, a name, a number and a pipe, and a
template's ``{variables}`` must be the ones the prompt template itself finds.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainmagic.core.prompts import ChatPromptTemplate
from chainmagic.dsl.compiler import BUILTINS
from chainmagic.dsl.highlight import Span, highlight, open_string, token_rules
from chainmagic.dsl.tokens import NAME, NUMBER, OP, STRING, Source, lex, string_value

ROOT = Path(__file__).resolve().parents[2]

RETRIEVAL = '''%%chain chain -i question="where did harrison work" language=italian
{context: @question | retriever, question: @question, language: @language}
| """Answer the question based only on the following context:
{context}

Question: {question}
"""
| model
| str  # the text'''


def classes(text: str) -> dict[str, list[str]]:
    """Each class → the texts it covers, in order."""
    out: dict[str, list[str]] = {}
    for span in highlight(text):
        out.setdefault(span.cls, []).append(text[span.start : span.end])
    return out


def chain_cells() -> list[str]:
    """Every %%chain / %%chaintime cell of the tutorials, plus the language reference's examples."""
    cells = []
    for path in sorted((ROOT / "notebooks").glob("[0-9]*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            source = "".join(cell["source"])
            if cell["cell_type"] == "code" and re.match(r"%%chain(time)?\b", source):
                cells.append(source)
    cells.append(RETRIEVAL)
    return cells


def test_the_rules_file_names_what_the_language_has() -> None:
    rules = token_rules()
    assert tuple(rules["builtins"]) == BUILTINS
    assert rules["magics"] == ["chain", "chaintime"]
    assert set(rules["classes"]) >= {"magic", "option", "key", "name", "string", "variable"}
    for name, pattern in rules["patterns"].items():
        assert "(?P" not in pattern and "\\w" not in pattern and "\\d" not in pattern, name
        re.compile(pattern)


def test_the_retrieval_example_reads_as_the_reference_describes_it() -> None:
    got = classes(RETRIEVAL)
    assert got["magic"] == ["%%chain"]
    assert got["definition"] == ["chain"]  # %%chain NAME binds NAME
    assert got["option"] == ["-i"]
    assert got["argument"] == ["question", "language"]
    assert got["key"] == ["context", "question", "language"]
    assert got["pick"] == ["@question", "@question", "@language"]
    assert got["variable"] == ["{context}", "{question}"]
    assert got["builtin"] == ["model", "str"]
    assert got["name"] == ["italian", "retriever"]
    assert got["pipe"] == ["|", "|", "|", "|"]
    assert got["comment"] == ["# the text"]


def test_block_maps_bindings_calls_and_literals() -> None:
    cell = (
        "%%chain\n"
        "joke_chain = 'tell me a joke about {topic}' | model('fake:echo', temperature=0.5)\n"
        "map_chain = {joke: joke_chain, 'the poem': r\"{{x}} {topic}\"}\n"
        "flag: True | 3\n"
    )
    got = classes(cell)
    assert got["definition"] == ["joke_chain", "map_chain"]
    assert got["argument"] == ["temperature"]
    assert got["number"] == ["0.5", "3"]
    assert got["constant"] == ["True"]
    assert got["key"] == ["joke", "flag"]
    assert got["variable"] == ["{topic}", "{topic}"]  # {{x}} is a literal brace pair
    assert "'fake:echo'" in got["string"]


def test_strings_close_at_the_line_end_unless_triple_quoted() -> None:
    cell = '%%chain\n"never closed | model\nnext | str\n"""a\n{x}\nb""" | model'
    got = classes(cell)
    assert got["builtin"] == ["str", "model"]
    assert got["variable"] == ["{x}"]
    assert open_string('%%chain\n"""abc\ndef') and open_string('%%chain\n"abc')
    assert not open_string('%%chain\n"abc"') and not open_string('%%chain\n"abc\n')


@pytest.mark.parametrize("cell", chain_cells(), ids=lambda c: c.split("\n", 1)[0][:40])
def test_the_highlighter_agrees_with_the_lexer(cell: str) -> None:
    """Strings, names, numbers and pipes of every real cell are where the lexer finds them."""
    first, _, body = cell.partition("\n")
    offset = len(first) + 1
    starts = [0, *(i + 1 for i, c in enumerate(body) if c == "\n")]
    by_char: dict[int, str] = {}
    for span in highlight(cell):
        for i in range(span.start, span.end):
            by_char[i] = span.cls
    expect = {
        STRING: {"string", "variable"},
        NAME: {"name", "builtin", "key", "definition", "argument", "constant", "pick"},
        NUMBER: {"number"},
    }
    src = Source(body, first_line=2)
    for tok in lex(src):
        start = offset + starts[tok.line - 2] + tok.col
        if tok.kind in expect:
            assert by_char.get(start) in expect[tok.kind], (tok, by_char.get(start))
        elif tok.kind == OP and tok.value == "|":
            assert by_char.get(start) == "pipe", tok
        if tok.kind == STRING and (body_text := string_value(src, tok)[0]):
            found = _variables_in(cell, start, tok)
            assert found == sorted(ChatPromptTemplate.from_template(body_text).input_variables)


def _variables_in(cell: str, start: int, tok: object) -> list[str]:
    end = start + len(tok.value)  # type: ignore[attr-defined]
    spans = [s for s in highlight(cell) if start <= s.start < end and s.cls == "variable"]
    names = [cell[s.start + 1 : s.end - 1].strip() for s in spans]
    return sorted(set(names))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("%chain -i@{}|\"'#=:()\n\\x1.é ")), max_size=80))
def test_any_text_highlights_without_raising_into_ordered_spans(text: str) -> None:
    spans = highlight("%%chain " + text)
    ends = [0]
    for span in spans:
        assert isinstance(span, Span) and span.start >= ends[-1] and span.end > span.start
        ends.append(span.end)
