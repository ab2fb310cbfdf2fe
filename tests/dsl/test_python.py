"""``to_python``: the code it writes builds a chain that gives the same output (no lock-in).

Round trip: compile → to_python → exec in a copy of the namespace → the same output on the fake
model, for each DSL.md example and each step form. With ``langchain=True`` the imports point at
LangChain; where the chain needs nothing of ours, the code runs on ``langchain_core`` too.
"""

from __future__ import annotations

import ast
import builtins
from typing import Any

import pytest

from chainmagic.core import FakeChatModel, RunnableLambda, RunnableParallel
from chainmagic.dsl import CompiledCell, compile
from chainmagic.dsl.python import CannotTranslate, to_python

from .test_compiler import (
    ASSIGNMENTS,
    BLOCK_MAP,
    GUIDE_TEMPLATE,
    ITALIAN,
    RETRIEVAL,
    STEP_FORMS,
    notebook,
    step_namespace,
)


def rebuild(cell: CompiledCell, namespace: dict[str, Any], **kw: Any) -> dict[str, Any]:
    """Exec the code of each binding, then of the cell's chain, in a copy of ``namespace``."""
    code_ns = dict(namespace)
    for name, runnable in cell.bindings.items():
        exec(to_python(runnable, name=name, **kw), code_ns)
    if cell.chain_name is None:
        assert cell.chain is not None
        exec(to_python(cell.chain, **kw), code_ns)
    return code_ns


def round_trip(source: str, namespace: dict[str, Any], input: Any) -> Any:
    cell = compile(source, namespace)
    assert cell.chain is not None
    code_ns = rebuild(cell, namespace)
    rebuilt = code_ns[cell.chain_name or "chain"]
    expected = cell.chain.invoke(input)
    assert rebuilt.invoke(input) == expected
    return expected


# -- round trips ----------------------------------------------------------------------------------


def test_round_trip_retrieval_chain() -> None:
    answer = round_trip(RETRIEVAL, notebook(), "where did harrison work?")
    assert answer.startswith("Answer the question based only on the following context:")


def test_round_trip_italian_chain_with_a_scripted_notebook_model() -> None:
    model = FakeChatModel(responses={"italian": "Harrison ha lavorato a Kensho."})
    value = {"question": "where did harrison work", "language": "italian"}
    assert round_trip(ITALIAN, notebook(model=model), value) == "Harrison ha lavorato a Kensho."


def test_round_trip_italian_chain_on_the_builtin_model() -> None:
    value = {"question": "where did harrison work", "language": "italian"}
    assert round_trip(ITALIAN, notebook(), value).endswith("language: italian\n")


def test_round_trip_block_map() -> None:
    out = round_trip(BLOCK_MAP, notebook(), {"topic": "bear"})
    assert set(out) == {"joke", "poem"}


def test_round_trip_assignments_binding_by_binding() -> None:
    cell = compile(ASSIGNMENTS, notebook())
    code_ns = rebuild(cell, notebook())
    for name in ("joke_chain", "poem_chain", "map_chain"):
        assert code_ns[name].invoke({"topic": "bear"}) == cell.bindings[name].invoke(
            {"topic": "bear"}
        )


_NO_ROUND_TRIP = {"describe(@a | model | str) | @args"}  # its output is a runnable object


@pytest.mark.parametrize(
    ("source", "input"),
    [(s, i) for s, i, _ in STEP_FORMS if s not in _NO_ROUND_TRIP],
    ids=[s for s, _, _ in STEP_FORMS if s not in _NO_ROUND_TRIP],
)
def test_round_trip_step_form(source: str, input: Any) -> None:
    round_trip(source, step_namespace(), input)


@pytest.mark.parametrize(
    "source",
    [
        '{a: @"k 2", b: @q | model | str}',
        'assign(x=@q, y="{q}!" | model | str)',
        "@q | upper | lower",
        "lower | upper",
        "table | @upper",
        "wrap(@q | model, n=2) | str",
        "x = @q\ny = x | upper\ny",
        'm = model\n{a: "{q}" | m, b: "{q}" | model("fake:echo", latency=0)} | @b | str',
        '[system("s {q}"), ai("a"), human("h {q}")] | model | str',
        '[system("only a system message {q}")] | model | str',
        '"{{braces}} and \'quotes\' and \\"dq\\" {q}" | model | str',
    ],
)
def test_round_trip_more_shapes(source: str) -> None:
    namespace = notebook(
        lower=lambda x: str(x).lower(),
        upper=lambda x: str(x).upper(),
        table={"upper": lambda x: str(x["q"]).upper()},
        wrap=lambda step, n=1: step,
    )
    round_trip(source, namespace, {"q": "Qq", "r": "unused", "k 2": 2})


def test_the_code_of_the_retrieval_chain_reads_like_the_guide() -> None:
    assert to_python(compile(RETRIEVAL, notebook()).chain, name="retrieval_chain") == (
        "from chainmagic.core import RunnableParallel, RunnablePassthrough, StrOutputParser, "
        "init_chat_model\n"
        "\n"
        "model = init_chat_model('fake:chat')\n"
        "retrieval_chain = (\n"
        "    RunnableParallel({\n"
        "        'context': retriever,\n"
        "        'question': RunnablePassthrough(),\n"
        "    })\n"
        "    | prompt\n"
        "    | model\n"
        "    | StrOutputParser()\n"
        ")\n"
    )


def test_the_code_of_the_italian_chain_uses_itemgetter() -> None:
    code = to_python(compile(ITALIAN, notebook(model=FakeChatModel())).chain)
    assert code.startswith("from operator import itemgetter\nfrom chainmagic.core import ")
    assert "'context': (\n            itemgetter('question')\n            | retriever\n" in code
    assert "init_chat_model" not in code  # the notebook's model, by its name
    assert "    | model\n    | StrOutputParser()\n)\n" in code


def test_model_keyword_arguments_are_kept() -> None:
    code = to_python(compile('model("fake:echo", latency=0.5, seed=3)', {}).chain)
    assert "model = init_chat_model('fake:echo', latency=0.5, seed=3)\nchain = model\n" in code


def test_distinct_models_get_distinct_names_and_one_model_one_name() -> None:
    code = to_python(compile('{a: model, b: model, c: model("fake:x")}', {}).chain)
    assert code.count("init_chat_model('fake:chat')") == 1
    assert "model_2 = init_chat_model('fake:x')" in code


def test_a_builtin_model_never_shadows_a_notebook_model() -> None:
    mine = FakeChatModel(responses=["mine"])
    source = '{a: model | str, b: model("fake:echo") | str}'
    code = to_python(compile(source, {"model": mine}).chain)
    assert "model_2 = init_chat_model('fake:echo')" in code
    assert "model = " not in code
    assert round_trip(source, {"model": mine}, "hi") == {"a": "mine", "b": "hi"}


def test_calls_are_written_with_their_arguments() -> None:
    source = "describe(1, 'two', [3], {k: None}, flag=True, step=@q | model)"
    code = to_python(compile(source, step_namespace()).chain)
    assert (
        "chain = describe(1, 'two', [3], {'k': None}, flag=True, step=(\n"
        "    itemgetter('q')\n    | model\n))\n"
    ) in code


def test_round_trip_picks_in_a_row() -> None:
    assert round_trip("@q | @r | upper", {"upper": str.upper}, {"q": {"r": "deep"}}) == "DEEP"


def test_name_defaults_to_chain() -> None:
    assert to_python(compile("passthrough", {}).chain).endswith("chain = RunnablePassthrough()\n")
    assert to_python(compile("json", {}).chain, name="parse").endswith(
        "parse = JsonOutputParser()\n"
    )


def test_the_code_is_valid_python_for_every_step_form() -> None:
    for source, _, _ in STEP_FORMS:
        code = to_python(compile(source, step_namespace()).chain)
        ast.parse(code)


# -- LangChain spelling ---------------------------------------------------------------------------


def test_langchain_imports() -> None:
    code = to_python(compile(ITALIAN, notebook()).chain, langchain=True)
    imports = [line for line in code.splitlines() if line.startswith(("from ", "import "))]
    assert imports == [
        "from operator import itemgetter",
        "from langchain.chat_models import init_chat_model",
        "from langchain_core.output_parsers import StrOutputParser",
        "from langchain_core.prompts import ChatPromptTemplate",
        "from langchain_core.runnables import RunnableParallel",
    ]
    assert "chainmagic" not in code
    builtins.compile(code, "<to_python>", "exec")  # `compile` here is the chain compiler
    chain = compile(ITALIAN, notebook()).chain
    assert to_python(chain, imports="langchain") == code
    assert to_python(chain, imports="chainmagic") == to_python(chain)
    with pytest.raises(ValueError, match="imports must be"):
        to_python(chain, imports="llamaindex")


@pytest.mark.parametrize(
    ("source", "input"),
    [
        (RETRIEVAL.replace(" | model | str", ""), "where did harrison work?"),
        ('{a: @q, b: passthrough} | "{a} / {b}"', {"q": "Q"}),
        ('assign(x=@q) | [system("s {x}"), human("{q}")]', {"q": "Q"}),
        ("@q | lower", {"q": "Q"}),
        ('{"k 2": @q}', {"q": "Q"}),
    ],
)
def test_langchain_code_runs_on_langchain_core(source: str, input: Any) -> None:
    """Where a chain needs no model, its LangChain spelling runs on langchain_core itself."""
    pytest.importorskip("langchain_core")
    namespace = notebook(lower=lambda x: str(x).lower())
    cell = compile(source, namespace)
    assert cell.chain is not None
    theirs_ns = {**namespace, "retriever": _langchain_retriever(), "prompt": _langchain_prompt()}
    code_ns = rebuild(cell, theirs_ns, langchain=True)
    ours = cell.chain.invoke(input)
    theirs = code_ns["chain"].invoke(input)
    assert type(theirs).__module__.startswith(("langchain_core", "builtins"))
    assert plain_data(theirs) == plain_data(ours)


def _langchain_retriever() -> Any:
    """Returns the text: LangChain's prompts would format a list of Documents as its repr."""
    from langchain_core.runnables import RunnableLambda as LCLambda

    return LCLambda(lambda q: "harrison worked at kensho")


def _langchain_prompt() -> Any:
    from langchain_core.prompts import ChatPromptTemplate as LCPrompt

    return LCPrompt.from_template(GUIDE_TEMPLATE)


def plain_data(value: Any) -> Any:
    """A value of either library as plain data, to compare them (an AI message chunk is an AI
    message: one library streams the model where the other invokes it)."""
    if hasattr(value, "to_messages"):
        return [(m.type, m.content) for m in value.to_messages()]
    if isinstance(value, dict):
        return {k: plain_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_data(v) for v in value]
    if hasattr(value, "page_content"):
        return value.page_content
    if hasattr(value, "content") and hasattr(value, "type"):
        return ("ai" if value.type in ("ai", "AIMessageChunk") else value.type, value.content)
    return value


# -- what has no spelling -------------------------------------------------------------------------


def test_a_default_model_object_cannot_be_translated() -> None:
    cell = compile("model | str", {}, default_model=FakeChatModel(name="unnamed"))
    with pytest.raises(CannotTranslate, match="was not written by name in the cell"):
        to_python(cell.chain)


def test_a_chain_built_in_python_without_names_cannot_be_translated() -> None:
    with pytest.raises(CannotTranslate) as caught:
        to_python(RunnableParallel(a=RunnableLambda(lambda x: x, name="anon")))
    assert (
        str(caught.value)
        == "anon was not written by name in the cell, so it has no Python spelling"
    )
    assert isinstance(caught.value, ValueError)
