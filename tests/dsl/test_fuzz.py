"""Property tests: any text either parses or raises a ChainError, quickly; valid trees round-trip.

The number of examples per test comes from ``CHAINMAGIC_FUZZ_EXAMPLES`` (default 2000; CI sets
10000 or more); the round trip, whose inputs cost more to draw, runs a fifth of that. Every parse
runs under a 5-second alarm, so a hang fails instead of stalling the run.
"""

from __future__ import annotations

import gc
import keyword
import os
import time
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from alarms import raising_after
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chainmagic.dsl import parse
from chainmagic.dsl.nodes import Map, Messages, Pipe, Program, Template, iter_nodes
from chainmagic.errors import ChainError, ChainSyntaxError

from .shapes import A, C, E, K, L, M, Msgs, N, P, T, nospan

FUZZ = settings(
    max_examples=int(os.environ.get("CHAINMAGIC_FUZZ_EXAMPLES", "2000")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@contextmanager
def paused_gc() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def cost(fn: Callable[[str], Any], source: str) -> float:
    """CPU seconds of one more ``fn(source)``: a slow input is slow again, a stalled VM is not."""
    started = time.thread_time()
    try:
        with paused_gc():
            fn(source)
    except ChainError:
        pass
    return time.thread_time() - started


def check(source: str) -> Program | None:
    """Parse; accept a Program with sane spans or a ChainError with a sane position, nothing else."""
    lines = source.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    # CPU time, with the collector paused; and a slow parse is measured once more before it
    # fails the test, since a stalled VM (whose pause can count as CPU time) does not repeat.
    started = time.thread_time()
    try:
        with raising_after(5.0, TimeoutError("parse took more than 5 s")), paused_gc():
            program = parse(source)
    except ChainSyntaxError as err:
        assert err.lineno is not None and 1 <= err.lineno <= len(lines)
        assert err.offset is not None and 1 <= err.offset <= len(lines[err.lineno - 1]) + 1
        assert err.text == lines[err.lineno - 1]
        assert str(err).startswith(str(err.msg))
        return None
    except ChainError as err:  # pragma: no cover - the parser raises only syntax errors today
        assert str(err)
        return None
    finally:
        assert time.thread_time() - started < 1.0 or cost(parse, source) < 1.0, "slow parse"
    for node in iter_nodes(program):
        span = node.span
        assert 1 <= span.line <= span.end_line <= len(lines), (node, span)
        assert 0 <= span.col <= len(lines[span.line - 1])
        assert 0 <= span.end_col <= len(lines[span.end_line - 1])
    return program


# -- examples to mutate --------------------------------------------------------------------------

EXAMPLES = [
    "{context: retriever, question: passthrough} | prompt | model | str",
    '{context: @question | retriever, question: @question, language: @language}\n| """Answer '
    "the question based only on the following context:\n{context}\n\nQuestion: {question}\n\n"
    'Answer in the following language: {language}\n"""\n| model\n| str',
    'joke: "tell me a joke about {topic}" | model\npoem: "write a 2-line poem about {topic}" | model',
    'joke_chain = "tell me a joke about {topic}" | model\npoem_chain = "write a 2-line poem about '
    '{topic}" | model\nmap_chain  = {joke: joke_chain, poem: poem_chain}',
    'x = model("openai:gpt-4o-mini", temperature=0, stop=["\\n"]) | assign(k=@q | r) | json',
    '[system("You are {role}"), human("{q}")]\n    | model\n  | str  # done',
    "# comment\na = (b\n  | c)\n'k 2': @\"key with space\" | f(1, -2.5, True, None, {'a': [1]})",
]

ALPHABET = [
    # names, including built-ins, keywords and soft keywords
    "a", "b", "model", "str", "json", "passthrough", "assign", "system", "human", "retriever",
    "lambda", "import", "from", "if", "True", "None", "False", "match", "_", "é", "x.y",
    # strings, good and bad
    '"p {x}"', "'s'", '"""t\n{y}"""', "r'raw\\n'", 'f"f{x}"', "b'b'", "rb''", "u'u'",
    '"unterminated', "'''open", '"\\N{bad}"', '"a\\\nb"', '"{{x}}"',
    # numbers
    "0", "3", "-1", "2.5", "1_0", "0777", "1e3", "2j", ".5", "0x", "1__0",
    # operators, good and bad
    "|", "@", ":", ",", "=", ".", "(", ")", "[", "]", "{", "}", "-", "+", "*", "**", "==", "!",
    "!=", "$", "?", "`", "\\", "->", ":=", "|=", "...", ";", "~",
    # trivia
    "#c", " ", "\n", "\r\n", "\r", "\t", "\x0c", "\x0b", "\x00", "\n    ", "\n| ",
]  # fmt: skip

token_soup = st.lists(st.sampled_from(ALPHABET), max_size=40).map("".join)
spaced_soup = st.lists(
    st.tuples(st.sampled_from(ALPHABET), st.sampled_from(["", " ", "\n", "  ", "\n  "])),
    max_size=30,
).map(lambda parts: "".join(token + sep for token, sep in parts))


@st.composite
def mutated_example(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(EXAMPLES))
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        j = draw(st.integers(i, min(len(text), i + 12)))
        edit = draw(st.sampled_from(["delete", "insert", "replace", "duplicate"]))
        if edit == "delete":
            text = text[:i] + text[j:]
        elif edit == "insert":
            text = text[:i] + draw(st.sampled_from(ALPHABET)) + text[i:]
        elif edit == "replace":
            text = text[:i] + draw(st.sampled_from(ALPHABET)) + text[j:]
        else:
            text = text[:j] + text[i:j] + text[j:]
    return text


@FUZZ
@given(token_soup)
def test_token_soup_parses_or_raises_a_chain_error(source: str) -> None:
    check(source)


@FUZZ
@given(spaced_soup)
def test_spaced_token_soup_parses_or_raises_a_chain_error(source: str) -> None:
    check(source)


@FUZZ
@given(mutated_example())
def test_mutated_examples_parse_or_raise_a_chain_error(source: str) -> None:
    check(source)


@FUZZ
@given(st.text(max_size=200))
def test_any_text_parses_or_raises_a_chain_error(source: str) -> None:
    check(source)


def test_unmutated_examples_parse() -> None:
    for source in EXAMPLES:
        assert check(source) is not None, source


# -- round trip: a random valid tree, written out, parses back to itself --------------------------


def _key(key: str) -> str:
    bare = key.isidentifier() and not keyword.iskeyword(key)
    return key if bare and unicodedata.normalize("NFKC", key) == key else repr(key)


identifiers = st.one_of(
    st.sampled_from(["a", "b", "x_1", "_", "model", "str", "match", "retriever", "café"]),
    st.text(min_size=1, max_size=6).filter(lambda s: _key(s) == s),  # a bare, NFKC-stable name
)
keys = st.one_of(identifiers, st.text(min_size=1, max_size=8))
constants = st.recursive(
    st.one_of(
        st.integers(-(10**6), 10**6),
        st.floats(allow_nan=False, allow_infinity=False),
        st.booleans(),
        st.none(),
        st.text(max_size=10),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


def looks_constant(node: Any) -> bool:
    """Would this step, alone as an argument, read back as a Literal? (Then it is not a step there.)"""
    if isinstance(node, Template):
        return True
    if isinstance(node, Map):
        return all(looks_constant(entry.value) for entry in node.entries)
    if isinstance(node, Messages):
        return all(looks_constant(item) for item in node.items)
    return False


def render(node: Any) -> str:
    """Source text for a span-free tree (built with tests/dsl/shapes.py)."""
    kind = type(node).__name__
    if kind == "Name":
        return ".".join(node.parts)
    if kind == "Template":
        return repr(node.text)
    if kind == "Pick":
        return "@" + _key(node.key)
    if kind == "Literal":
        return repr(node.value)
    if kind == "Pipe":
        return " | ".join(
            f"({render(s)})" if isinstance(s, Pipe) else render(s) for s in node.steps
        )
    if kind == "Map":
        return "{" + ", ".join(f"{_key(e.key)}: {render(e.value)}" for e in node.entries) + "}"
    if kind == "Messages":
        return "[" + ", ".join(render(item) for item in node.items) + "]"
    if kind == "Call":
        args = [render(a) for a in node.args] + [f"{k.name}={render(k.value)}" for k in node.kwargs]
        return f"{render(node.func)}({', '.join(args)})"
    raise AssertionError(kind)


@st.composite
def call_of(draw: st.DrawFn, steps: st.SearchStrategy[Any]) -> Any:
    argument = st.one_of(constants.map(L), steps.filter(lambda s: not looks_constant(s)))
    args = draw(st.lists(argument, max_size=2))
    names = draw(st.lists(identifiers, max_size=2, unique=True))
    kwargs = {name: draw(argument) for name in names}
    return C(draw(identifiers), *args, **kwargs)


leaves = st.one_of(
    identifiers.map(N),
    st.lists(identifiers, min_size=2, max_size=3).map(lambda parts: N(".".join(parts))),
    keys.map(K),
    st.text(max_size=20).map(T),
)
steps = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, min_size=2, max_size=4).map(lambda s: P(*s)),
        st.lists(st.tuples(keys, inner), max_size=3, unique_by=lambda kv: kv[0]).map(
            lambda kvs: M(*kvs)
        ),
        st.lists(inner, min_size=1, max_size=3).map(lambda items: Msgs(*items)),
        call_of(inner),
    ),
    max_leaves=8,
)
ROUND_TRIP = settings(FUZZ, max_examples=max(FUZZ.max_examples // 5, 100))


@ROUND_TRIP
@given(st.lists(st.tuples(identifiers, steps), max_size=3), steps)
def test_rendered_trees_parse_back_to_themselves(assignments: list[Any], chain: Any) -> None:
    lines = [f"{name} = {render(value)}" for name, value in assignments] + [render(chain)]
    program = check("\n".join(lines))
    assert program is not None
    expected = (*(A(name, value) for name, value in assignments), E(chain))
    assert nospan(program.statements) == expected
