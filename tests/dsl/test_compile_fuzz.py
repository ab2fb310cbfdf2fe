"""Property tests one level up from the parser's: any text compiles or raises a ChainError, quickly.

The namespace is fixed and holds each kind of thing a notebook offers a cell: a model, a retriever,
a callable that returns a runnable, one that raises, objects that cannot be steps, a dict and a
prompt string. What compiles must also give its inputs, its three drawings and (or CannotTranslate)
its Python code without raising; and compiling never touches the namespace. Example counts come
from ``CHAINMAGIC_FUZZ_EXAMPLES`` like the parser's fuzz tests (default 2000, CI 10000): each of
the four tests runs a quarter of it, so the compiler meets that many cells in all.
"""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

from alarms import raising_after
from hypothesis import given, settings
from hypothesis import strategies as st

from chainmagic.core import Document, FakeChatModel, RunnableLambda, RunnablePassthrough
from chainmagic.dsl import compile, input_variables
from chainmagic.dsl.python import CannotTranslate, to_python
from chainmagic.errors import ChainError, ChainNameError, ChainSyntaxError

from .test_fuzz import (
    ALPHABET,
    EXAMPLES,
    FUZZ,
    cost,
    identifiers,
    mutated_example,
    paused_gc,
    render,
    steps,
)


def _make(*args: Any, **kwargs: Any) -> RunnableLambda:
    return RunnableLambda(lambda x: x)


def _boom(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("boom")


class _Prop:
    @property
    def bad(self) -> Any:
        raise ValueError("a property that fails")

    good = RunnablePassthrough()


NAMESPACE: dict[str, Any] = {
    "model": FakeChatModel(),
    "retriever": RunnableLambda(lambda q: [Document("harrison worked at kensho")]),
    "make": _make,
    "boom": _boom,
    "thing": object(),
    "number": 42,
    "table": {"same": RunnablePassthrough(), "ask": "what is {x}?"},
    "prompt": "Context: {context}\nQuestion: {question}",
    "a": RunnableLambda(lambda x: x),
    "b": RunnablePassthrough(),
    "x": SimpleNamespace(y=RunnableLambda(lambda x: x)),
    "obj": _Prop(),
}
_SNAPSHOT = {name: (id(value), getattr(value, "label", None)) for name, value in NAMESPACE.items()}

COMPILE_ALPHABET = [
    *ALPHABET,
    "make", "make(", "make(1)", "make(k=@q)", "boom()", "thing", "thing()", "number", "table",
    "prompt", "obj.bad", "obj.good", "x.z", "model(", 'model("fake:echo")', 'model("nope:x")',
    "assign(", "assign(k=@q)", "system(", 'human("{q}")', "ai(", "@q", "@context", "{q: @q}",
    '"{q}"', '"{context}"', '"{', '"}"', "str.x", "json()", "a.b",
]  # fmt: skip
COMPILE_EXAMPLES = [
    *EXAMPLES,
    "{context: retriever, question: passthrough} | prompt | model | str",
    'x = {q: @q} | "{q} {missing}"\nmake(x, n=2) | table',
    '[system("s {q}"), human("{q}")] | model("fake:echo", latency=0) | json',
    "y = assign(k=@q | make()) | obj.good\nboom() | thing | number",
]

token_soup = st.lists(st.sampled_from(COMPILE_ALPHABET), max_size=40).map("".join)
spaced_soup = st.lists(
    st.tuples(st.sampled_from(COMPILE_ALPHABET), st.sampled_from(["", " ", "\n", " | ", "\n| "])),
    max_size=30,
).map(lambda parts: "".join(token + sep for token, sep in parts))


@st.composite
def mutated_cell(draw: st.DrawFn) -> str:
    """A valid cell with a few edits: the parser's mutations over this file's examples."""
    text = draw(st.sampled_from(COMPILE_EXAMPLES))
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(text)))
        j = draw(st.integers(i, min(len(text), i + 12)))
        text = text[:i] + draw(st.sampled_from(COMPILE_ALPHABET)) + text[j:]
    return text


COMPILE_FUZZ = settings(FUZZ, max_examples=max(FUZZ.max_examples // 4, 100))  # 4 tests: N in all


def check(source: str) -> None:
    """Compile; accept a cell whose chain draws and translates, or a ChainError; nothing else."""
    lines = source.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    started = time.thread_time()  # CPU time, collector paused: see test_fuzz.check
    try:
        with raising_after(5.0, TimeoutError("compile took more than 5 s")), paused_gc():
            cell = compile(source, NAMESPACE)
            if cell.chain is not None:
                input_variables(cell.chain)
                graph = cell.chain.get_graph()
                assert "Input" in graph.draw_ascii()
                assert graph.draw_mermaid().startswith("graph TD")
                assert "<script" not in graph.to_html()
                try:
                    to_python(cell.chain)
                except CannotTranslate:
                    pass
    except ChainSyntaxError as err:
        assert err.lineno is not None and 1 <= err.lineno <= len(lines)
        assert err.text == lines[err.lineno - 1]
        assert str(err).startswith(str(err.msg))
    except ChainNameError as err:
        assert str(err).startswith(f"unknown name {err.name!r}")
        assert "\n  line " in str(err)
    except ChainError as err:  # pragma: no cover - compile raises only the two above today
        assert str(err)
    finally:
        slow = time.thread_time() - started >= 2.0
        assert not slow or cost(lambda text: compile(text, NAMESPACE), source) < 2.0, "slow compile"
    now = {name: (id(value), getattr(value, "label", None)) for name, value in NAMESPACE.items()}
    assert now == _SNAPSHOT, "compile touched the namespace"


@COMPILE_FUZZ
@given(token_soup)
def test_token_soup_compiles_or_raises_a_chain_error(source: str) -> None:
    check(source)


@COMPILE_FUZZ
@given(spaced_soup)
def test_spaced_token_soup_compiles_or_raises_a_chain_error(source: str) -> None:
    check(source)


@COMPILE_FUZZ
@given(st.one_of(mutated_example(), mutated_cell()))
def test_mutated_cells_compile_or_raise_a_chain_error(source: str) -> None:
    check(source)


@COMPILE_FUZZ
@given(st.lists(st.tuples(identifiers, steps), max_size=3), steps)
def test_random_valid_trees_compile_or_raise_a_chain_error(
    assignments: list[Any], chain: Any
) -> None:
    """Trees that parse (the parser's generator): only names and runnables can go wrong."""
    lines = [f"{name} = {render(value)}" for name, value in assignments] + [render(chain)]
    check("\n".join(lines))


def test_the_examples_reach_both_outcomes() -> None:
    """The seeds of the mutations compile, or fail for a reason of the compiler's own."""
    assert compile(COMPILE_EXAMPLES[7], NAMESPACE).chain is not None
    assert compile(COMPILE_EXAMPLES[9], NAMESPACE).chain is not None
    for source in (COMPILE_EXAMPLES[8], COMPILE_EXAMPLES[10]):
        try:
            compile(source, NAMESPACE)
        except ChainError:
            continue
        raise AssertionError(f"compiled: {source!r}")
