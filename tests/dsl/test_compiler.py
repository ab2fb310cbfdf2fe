"""The compiler turns cells into runnables that RUN, named the way the cell wrote them.

Every example of DSL.md compiles and runs against a small notebook namespace (the fake model and a
one-document retriever); every step form of DSL.md's table has a case; name lookup, the default
model, labels, spans and run-time paths are checked; compile-time errors are golden (``str(err)``
with line and caret, exactly).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from chainmagic.core import (
    AIMessage,
    ChatPromptTemplate,
    ChatPromptValue,
    Document,
    FakeChatModel,
    HumanMessage,
    RunnableBinding,
    RunnableLambda,
    RunnableParallel,
    RunnableSequence,
    SystemMessage,
)
from chainmagic.core.models.fake import FakeModelError
from chainmagic.dsl import CompiledCell, chain, compile, defaults, input_variables, messages, parse
from chainmagic.dsl.nodes import Span
from chainmagic.dsl.python import to_python
from chainmagic.errors import (
    ChainError,
    ChainNameError,
    ChainRunError,
    ChainSyntaxError,
    step_path,
)

from .shapes import ASSIGNMENTS, BLOCK_MAP, ITALIAN, RETRIEVAL

# -- the examples of DSL.md, verbatim, and the notebook they run in ------------------------------


GUIDE_TEMPLATE = """Answer the question based only on the following context:
{context}

Question: {question}
"""


def retrieve(question: str) -> list[Document]:
    return [Document("harrison worked at kensho", {"q": question})]


def notebook(**extra: Any) -> dict[str, Any]:
    """A notebook namespace like the guide's: a retriever and a prompt (the model is built in)."""
    return {
        "retriever": RunnableLambda(retrieve),
        "prompt": ChatPromptTemplate.from_template(GUIDE_TEMPLATE),
        **extra,
    }


def run(source: str, input: Any, namespace: dict[str, Any] | None = None, **kw: Any) -> Any:
    cell = compile(source, notebook() if namespace is None else namespace, **kw)
    assert cell.chain is not None
    return cell.chain.invoke(input)


def written(source: str, span: Span) -> str:
    """The text of the cell a span covers (lines are 1-based, end exclusive)."""
    lines = source.split("\n")
    if span.line == span.end_line:
        return lines[span.line - 1][span.col : span.end_col]
    head = lines[span.line - 1][span.col :]
    middle = lines[span.line : span.end_line - 1]
    return "\n".join([head, *middle, lines[span.end_line - 1][: span.end_col]])


def golden(source: str, namespace: dict[str, Any] | None = None) -> str:
    with pytest.raises(ChainError) as caught:
        compile(source, notebook() if namespace is None else namespace)
    return str(caught.value)


# -- DSL.md's examples compile and run -----------------------------------------------------------


def test_retrieval_chain_answers_with_the_prompt_the_fake_model_echoes() -> None:
    answer = run(RETRIEVAL, "where did harrison work?")
    assert answer == (
        "Answer the question based only on the following context:\n"
        "harrison worked at kensho\n\n"
        "Question: where did harrison work?\n"
    )


def test_retrieval_chain_with_a_prompt_string_in_the_notebook() -> None:
    answer = run(RETRIEVAL, "q?", notebook(prompt="{question} / {context}"))
    assert answer == "q? / harrison worked at kensho"


def test_italian_chain_with_a_scripted_model() -> None:
    model = FakeChatModel(responses={"italian": "Harrison ha lavorato a Kensho."})
    answer = run(
        ITALIAN,
        {"question": "where did harrison work", "language": "italian"},
        notebook(model=model),
    )
    assert answer == "Harrison ha lavorato a Kensho."


def test_italian_chain_on_the_echo_model_shows_the_filled_prompt() -> None:
    answer = run(ITALIAN, {"question": "where did harrison work", "language": "italian"})
    assert answer == (
        "Answer the question based only on the following context:\n"
        "harrison worked at kensho\n\n"
        "Question: where did harrison work\n\n"
        "Answer in the following language: italian\n"
    )


def test_block_map_runs_both_branches() -> None:
    cell = compile(BLOCK_MAP, notebook())
    assert isinstance(cell.chain, RunnableParallel)
    assert cell.bindings == {}
    assert cell.chain_name is None
    assert cell.chain.invoke({"topic": "bear"}) == {
        "joke": AIMessage("tell me a joke about bear"),
        "poem": AIMessage("write a 2-line poem about bear"),
    }


def test_assignments_bind_each_name_and_the_last_is_the_chain() -> None:
    namespace = notebook()
    before = dict(namespace)
    cell = compile(ASSIGNMENTS, namespace)
    assert list(cell.bindings) == ["joke_chain", "poem_chain", "map_chain"]
    assert cell.chain is cell.bindings["map_chain"]
    assert cell.chain_name == "map_chain"
    assert cell.bindings["joke_chain"].invoke({"topic": "bear"}) == AIMessage(
        "tell me a joke about bear"
    )
    assert cell.chain.invoke({"topic": "bear"}) == {
        "joke": AIMessage("tell me a joke about bear"),
        "poem": AIMessage("write a 2-line poem about bear"),
    }
    assert namespace == before  # compile binds nothing: the magic does, from .bindings


def _shared_dsl_md() -> Path | None:
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "DSL.md"
        if candidate.is_file():
            return candidate
    return None


def _magic_input(line: str) -> tuple[str | None, Any]:
    """NAME and the -i value of a ``%%chain`` line (one value, or key=value pairs as a dict)."""
    words = shlex.split(line)[1:]
    name = words[0] if words and not words[0].startswith("-") else None
    if "-i" not in words:
        return name, None
    values = words[words.index("-i") + 1 :]
    if len(values) == 1 and "=" not in values[0]:
        return name, values[0]
    return name, dict(v.split("=", 1) for v in values)


def test_every_chain_cell_in_dsl_md_compiles_and_runs() -> None:
    """Keeps this file honest if DSL.md gains an example (skipped where DSL.md is not beside us)."""
    path = _shared_dsl_md()
    if path is None:
        pytest.skip("DSL.md not found next to the repository")
    blocks = re.findall(r"```\n(%%chain[^\n]*)\n(.*?)```", path.read_text(), flags=re.S)
    assert len(blocks) >= 4
    for magic, body in blocks:
        name, value = _magic_input(magic)
        cell = compile(parse(body, first_line=2), notebook())
        assert cell.chain is not None, body
        if value is None:
            value = {"topic": "bear"}  # the assignments cell has no -i; %chaintime uses this one
        assert cell.chain.invoke(value, {"run_name": name} if name else None), body


# -- every step form of DSL.md's table ------------------------------------------------------------


def suffix(text: str = "!", *, times: int = 1) -> RunnableLambda:
    return RunnableLambda(lambda x: f"{x}{text * times}")


def describe(*args: Any, **kwargs: Any) -> RunnableLambda:
    return RunnableLambda(lambda x: {"args": list(args), "kwargs": kwargs, "input": x})


tools = SimpleNamespace(shout=RunnableLambda(lambda x: str(x).upper()), nested=SimpleNamespace())
tools.nested.whisper = lambda x: str(x).lower()

STEP_FORMS: list[tuple[str, Any, Any]] = [
    # maps: identifier and quoted keys, trailing comma
    ('{k: @a, "k 2": @b,}', {"a": 1, "b": 2}, {"k": 1, "k 2": 2}),
    ("{}", {"a": 1}, {}),
    # prompt strings in three quotings, literal braces
    ('"hi {x}" | model | str', {"x": "X"}, "hi X"),
    ("'hi {x}' | model | str", {"x": "X"}, "hi X"),
    ('"""hi\n{x}""" | model | str', {"x": "X"}, "hi\nX"),
    ('"{{literal}} {x}" | model | str', {"x": "X"}, "{literal} X"),
    ('"{x}" | model | str', {"x": "{user} {{text}}"}, "{user} {{text}}"),  # never str.format'd
    ('"{x}"', "a lone variable takes a plain input", None),
    # picks
    ("@a", {"a": 1}, 1),
    ('@"key with space"', {"key with space": 2}, 2),
    ("{q: @a} | @q", {"a": 3}, 3),
    # passthrough and assign
    ("passthrough", {"a": 1}, {"a": 1}),
    (
        'assign(b=@a | suffix("?"), c="{a}" | model | str)',
        {"a": "x"},
        {"a": "x", "b": "x?", "c": "x"},
    ),
    ("assign()", {"a": 1}, {"a": 1}),
    # parsers: str is the text (never a repr), json tolerates a fence
    ('"say {x}" | model | str', {"x": "it"}, "say it"),
    ("model | str", "plain string input", "plain string input"),
    ('"```json\\n{{\\"n\\": {n}}}\\n```" | model | json', {"n": 7}, {"n": 7}),
    ('"{{\\"n\\": [{n}]}}" | model | json', {"n": 1}, {"n": [1]}),
    # models
    ("model", "echo me", AIMessage("echo me")),
    ('model("fake:echo", latency=0) | str', "via the registry", "via the registry"),
    ('model("fake:scripted", responses=["scripted"]) | str', "x", "scripted"),
    # messages: one prompt
    ('[system("You are {role}"), human("{q}")] | model | str', {"role": "kind", "q": "hi"}, "hi"),
    ('[system("sys"), "{q}", ai("before"), human("last {q}")] | model | str', {"q": "Q"}, "last Q"),
    ('human("only {q}") | model | str', {"q": "me"}, "only me"),
    # namespace objects: runnable, attribute, dict, callable, string
    ("retriever", "q", [Document("harrison worked at kensho", {"q": "q"})]),
    ("tools.shout", "abc", "ABC"),
    ("tools.nested.whisper", "ABC", "abc"),
    ("table", "v", {"same": "v", "upper": "V"}),
    ("lower", "ABC", "abc"),
    ("greeting | model | str", {"name": "Ann"}, "hello Ann"),
    # calls: literal arguments and pipeline arguments
    ('suffix("!", times=3)', "hey", "hey!!!"),
    (
        "describe(1, -2.5, True, None, [1, 'a'], {k: [2]}, key='v')",
        "in",
        {
            "args": [1, -2.5, True, None, [1, "a"], {"k": [2]}],
            "kwargs": {"key": "v"},
            "input": "in",
        },
    ),
    ("describe(@a | model | str) | @args", {"a": 1}, [None]),  # a pipeline argument is a step
    # grouping
    ('(@a | suffix("1")) | suffix("2")', {"a": "x"}, "x12"),
    ('{a: (@a | suffix("!"))} | @a', {"a": "x"}, "x!"),
]


def step_namespace() -> dict[str, Any]:
    return notebook(
        suffix=suffix,
        describe=describe,
        tools=tools,
        table={"same": lambda x: x, "upper": lambda x: x.upper()},
        lower=lambda x: x.lower(),
        greeting="hello {name}",
    )


@pytest.mark.parametrize(
    ("source", "input", "expected"), STEP_FORMS, ids=[s for s, _, _ in STEP_FORMS]
)
def test_step_form_compiles_and_runs(source: str, input: Any, expected: Any) -> None:
    output = run(source, input, step_namespace())
    if source == '"{x}"':
        assert output == ChatPromptValue([HumanMessage(input)])
    elif source.startswith("describe(@a"):
        assert output == [output[0]]
        assert isinstance(output[0], RunnableSequence)  # the argument arrives as a runnable
        assert output[0].invoke({"a": "z"}) == "z"
    else:
        assert output == expected


def test_a_message_list_is_one_prompt_with_roles() -> None:
    cell = compile('[system("You are {role}"), ai("ok"), "{q}"]', {})
    assert isinstance(cell.chain, ChatPromptTemplate)
    assert cell.chain.invoke({"role": "kind", "q": "hi"}).to_messages() == [
        SystemMessage("You are kind"),
        AIMessage("ok"),
        HumanMessage("hi"),
    ]


def test_chain_convenience_returns_the_runnable() -> None:
    assert chain('"{x}!" | model | str').invoke({"x": "a"}) == "a!"
    assert chain("retriever", notebook()).invoke("q")[0].page_content == "harrison worked at kensho"


def test_chain_of_an_empty_cell_is_a_syntax_error() -> None:
    with pytest.raises(ChainSyntaxError, match="the cell holds no chain"):
        chain("# nothing here\n")


def test_compile_accepts_a_parsed_program() -> None:
    program = parse("@a | suffix()", first_line=2)
    cell = compile(program, {"suffix": suffix})
    assert isinstance(cell, CompiledCell)
    assert cell.program is program
    assert cell.chain is not None
    assert cell.chain.invoke({"a": "x"}) == "x!"


def test_empty_cell_compiles_to_no_chain() -> None:
    cell = compile("\n# only a comment\n", {})
    assert cell.chain is None
    assert cell.bindings == {}
    assert cell.variables == ()


# -- name lookup: cell, then notebook, then built-ins ---------------------------------------------


def test_notebook_model_wins_over_the_builtin() -> None:
    mine = FakeChatModel(responses=["from the notebook"])
    assert run("model | str", "x", {"model": mine}) == "from the notebook"


@pytest.mark.parametrize("name", ["passthrough", "str", "json", "model"])
def test_notebook_objects_shadow_every_builtin_step(name: str) -> None:
    assert run(name, "x", {name: RunnableLambda(lambda x: f"user {x}")}) == "user x"


def test_notebook_callables_shadow_builtin_functions() -> None:
    namespace = {"assign": lambda **kw: RunnableLambda(lambda x: sorted(kw))}
    assert run("assign(b=@a, a=@a)", {"a": 1}, namespace) == ["a", "b"]
    namespace = {"system": lambda text: RunnableLambda(lambda x: f"user {text}")}
    assert run('system("s")', "x", namespace) == "user s"


def test_cell_bindings_are_usable_by_later_lines_and_shadow_the_notebook() -> None:
    source = 'retriever = @q | suffix("!")\nchain = {r: retriever} | @r'
    cell = compile(source, notebook(suffix=suffix))
    assert cell.chain is not None
    assert cell.chain.invoke({"q": "x"}) == "x!"
    assert list(cell.bindings) == ["retriever", "chain"]


def test_bindings_hold_every_assignment_and_the_unnamed_chain_is_apart() -> None:
    cell = compile('a = "{x}" | model\nb = a | str\na | str', {})
    assert list(cell.bindings) == ["a", "b"]
    assert cell.chain_name is None
    assert cell.chain is not cell.bindings["b"]
    assert cell.chain is not None
    assert cell.chain.invoke({"x": "1"}) == "1"
    assert cell.bindings["b"].invoke({"x": "2"}) == "2"


def test_compile_leaves_the_namespace_untouched() -> None:
    user_model = FakeChatModel(name="mine")
    namespace = notebook(model=user_model, suffix=suffix)
    before = dict(namespace)
    compile(ASSIGNMENTS + '\nx = model | str\ny = suffix("?")', namespace)
    assert namespace == before
    assert all(namespace[k] is v for k, v in before.items())


def test_python_builtins_are_not_in_scope() -> None:
    with pytest.raises(ChainNameError) as caught:
        compile("len", {})
    assert caught.value.name == "len"


# -- the default model ----------------------------------------------------------------------------


def _model_of(step: Any) -> Any:
    assert isinstance(step, RunnableBinding)
    return step.bound


def test_model_defaults_to_the_hosted_like_fake_model() -> None:
    assert defaults.model == "fake:chat"
    cell = compile("model", {})
    inner = _model_of(cell.chain)
    assert isinstance(inner, FakeChatModel)
    assert inner.model_name == "fake:chat"
    assert inner.latency > 0.1
    assert cell.chain is not None
    assert cell.chain.label == "model"


def test_model_default_comes_from_defaults_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(defaults, "model", "fake:configured")
    assert _model_of(compile("model", {}).chain).model_name == "fake:configured"
    scripted = FakeChatModel(responses=["a configured object"])
    monkeypatch.setattr(defaults, "model", scripted)
    assert _model_of(compile("model", {}).chain) is scripted
    assert run("model | str", "x", {}) == "a configured object"


def test_model_default_from_the_compile_argument() -> None:
    assert _model_of(compile("model", {}, default_model="fake:other").chain).model_name == (
        "fake:other"
    )
    scripted = FakeChatModel(responses=["argument"])
    assert run("model | str", "x", {}, default_model=scripted) == "argument"


def test_one_default_model_per_cell() -> None:
    cell = compile("a = model\nb = model", {})
    assert _model_of(cell.bindings["a"]) is _model_of(cell.bindings["b"])


def test_model_call_goes_through_the_registry() -> None:
    step = compile('model("fake:echo", latency=0)', {}).chain
    inner = _model_of(step)
    assert isinstance(inner, FakeChatModel)
    assert (inner.model_name, inner.latency) == ("fake:echo", 0)
    assert step is not None
    assert step.label == "model"


def test_openai_model_call_goes_through_init_chat_model_without_a_network(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # building the model needs no key yet
    step = compile('"{x}" | model("openai:gpt-4o-mini", temperature=0) | str', {}).chain
    inner = _model_of(step.steps[1])  # type: ignore[union-attr]
    assert type(inner).__name__ == "ChatOpenAI"
    assert (inner.model_name, inner.temperature) == ("gpt-4o-mini", 0)
    assert inner.dsl_spec == ("openai:gpt-4o-mini", {"temperature": 0})


def test_model_call_with_a_notebook_model_that_cannot_be_called_is_the_builtin() -> None:
    mine = FakeChatModel(responses=["mine"])
    namespace = {"model": mine}
    assert not callable(mine)
    assert run('model("fake:echo") | str', "echoed", namespace) == "echoed"
    assert run("model | str", "x", namespace) == "mine"


def test_model_call_with_a_notebook_function_named_model_calls_it() -> None:
    namespace = {"model": lambda spec: RunnableLambda(lambda x: f"{spec}: {x}")}
    assert run('model("mine:1")', "x", namespace) == "mine:1: x"


# -- labels and spans -----------------------------------------------------------------------------


def test_every_step_carries_its_label_and_span() -> None:
    cell = compile(RETRIEVAL, notebook())
    seq = cell.chain
    assert isinstance(seq, RunnableSequence)
    assert [step.label for step in seq.steps] == [None, "prompt", "model", "str"]
    assert [written(RETRIEVAL, step.span) for step in seq.steps] == [
        "{context: retriever, question: passthrough}",
        "prompt",
        "model",
        "str",
    ]
    assert written(RETRIEVAL, seq.span) == RETRIEVAL
    branches = seq.steps[0].steps
    assert {k: v.label for k, v in branches.items()} == {
        "context": "retriever",
        "question": "passthrough",
    }
    assert {k: written(RETRIEVAL, v.span) for k, v in branches.items()} == {
        "context": "retriever",
        "question": "passthrough",
    }


def test_labels_of_templates_picks_and_builtins() -> None:
    source = (
        '{a: @"key with space", b: "tell me a joke about {topic}", c: [system("s")],'
        " d: assign(x=@a), e: json}"
    )
    steps = compile(source, {}).chain.steps  # type: ignore[union-attr]
    assert {k: v.label for k, v in steps.items()} == {
        "a": "@key with space",
        "b": '"tell me a joke about {t…"',
        "c": "prompt",
        "d": "assign",
        "e": "json",
    }
    assert {k: written(source, v.span) for k, v in steps.items()} == {
        "a": '@"key with space"',
        "b": '"tell me a joke about {topic}"',
        "c": '[system("s")]',
        "d": "assign(x=@a)",
        "e": "json",
    }


def test_spans_count_from_the_cells_first_line() -> None:
    cell = compile(parse(ITALIAN, first_line=2), notebook())
    seq = cell.chain
    assert isinstance(seq, RunnableSequence)
    assert seq.steps[-1].span == Span(11, 2, 11, 5)  # "| str" on the cell's 11th line
    assert seq.steps[1].span.line == 3  # the triple-quoted prompt starts on line 3
    assert seq.steps[1].span.end_line == 9


def test_call_steps_are_named_by_the_callable() -> None:
    step = compile('suffix("!")', {"suffix": suffix}).chain
    assert step is not None
    assert step.label == "suffix"
    assert step.span == Span(1, 0, 1, 11)


def test_notebook_objects_are_wrapped_never_relabelled_in_place() -> None:
    mine = FakeChatModel(name="my model")
    lam = RunnableLambda(lambda x: x)
    prompt = ChatPromptTemplate.from_template("{a} {b}")
    namespace = {"model": mine, "f": lam, "prompt": prompt}
    cell = compile("{a: model, b: f} | prompt", namespace)
    assert (mine.label, lam.label, prompt.label) == ("my model", None, None)
    assert (mine.span, lam.span, prompt.span) == (None, None, None)
    seq = cell.chain
    assert isinstance(seq, RunnableSequence)
    branches = seq.steps[0].steps
    assert branches["a"].bound is mine and branches["a"].label == "model"
    assert branches["b"].bound is lam and branches["b"].label == "f"
    assert seq.steps[1].bound is prompt and seq.steps[1].label == "prompt"


def test_cell_bindings_used_later_are_wrapped_too() -> None:
    cell = compile('a = "{x}" | model\nb = {k: a}', {})
    a = cell.bindings["a"]
    branch = cell.bindings["b"].steps["k"]
    assert isinstance(branch, RunnableBinding)
    assert branch.bound is a and branch.label == "a"
    assert a.label is None


# -- run-time errors name the step by its path ----------------------------------------------------


@pytest.mark.parametrize("source", [BLOCK_MAP, ASSIGNMENTS], ids=["block map", "assignments"])
def test_a_failing_model_names_its_path(source: str) -> None:
    cell = compile(source, {"model": FakeChatModel(fail_on="poem")})
    assert cell.chain is not None
    with pytest.raises(FakeModelError) as caught:
        cell.chain.invoke({"topic": "bear"}, {"run_name": "map_chain"})
    err = caught.value
    assert step_path(err) == ["map_chain", "poem", "model"]
    assert str(ChainRunError.of(err)) == (
        "map_chain › poem › model failed: FakeModelError: injected failure on "
        "'write a 2-line poem about bear'"
    )


def test_a_failing_builtin_model_call_names_its_path() -> None:
    source = 'joke: "{topic}" | model\npoem: "{topic}" | model("fake:echo", fail_on="bear")'
    cell = compile(source, {})
    with pytest.raises(FakeModelError) as caught:
        cell.chain.invoke({"topic": "bear"}, {"run_name": "map_chain"})  # type: ignore[union-attr]
    assert step_path(caught.value) == ["map_chain", "poem", "model"]


def test_a_failing_notebook_function_is_named_by_key_and_name() -> None:
    cell = compile("{a: @q | f}", {"f": lambda x: 1 / 0})
    with pytest.raises(ZeroDivisionError) as caught:
        cell.chain.invoke({"q": 1})  # type: ignore[union-attr]
    assert step_path(caught.value) == ["a", "f"]


def test_a_prompt_missing_its_variable_at_run_time_is_named_by_its_short_form() -> None:
    cell = compile('"tell me a joke about {topic}" | model', {})
    with pytest.raises(KeyError) as caught:
        cell.chain.invoke({"subject": "bear"}, {"run_name": "joke_chain"})  # type: ignore[union-attr]
    assert step_path(caught.value) == ["joke_chain", '"tell me a joke about {t…"']
    assert "the prompt needs 'topic' but the input has 'subject'" in str(caught.value)


# -- the inputs a chain needs ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (RETRIEVAL, ()),
        (ITALIAN, ("question", "language")),
        (BLOCK_MAP, ("topic",)),
        (ASSIGNMENTS, ("topic",)),
        ('"{a} and {b} and {a}"', ("a", "b")),
        ("@q", ("q",)),
        ('@"key with space" | model', ("key with space",)),
        ("{x: @a, y: @b | model, z: passthrough}", ("a", "b")),
        ('assign(x=@q | model, y="{r}")', ("q", "r")),
        ('[system("be {role}"), human("{q}")] | model', ("role", "q")),
        ("prompt | model", ("context", "question")),
        ("model | str", ()),
        ('{a: {b: @deep}, c: "{top}"}', ("deep", "top")),
    ],
)
def test_input_variables(source: str, expected: tuple[str, ...]) -> None:
    cell = compile(source, notebook())
    assert cell.variables == expected
    assert input_variables(cell.chain) == expected


def test_input_variables_see_through_cell_bindings() -> None:
    cell = compile('a = "{topic}" | model\nb = {k: a, m: @mood}', {})
    assert cell.variables == ("topic", "mood")


# -- golden compile-time errors --------------------------------------------------------------------

GOLDEN: list[tuple[str, str]] = [
    # unknown names, with did-you-mean from the namespace, the cell and the built-ins
    (
        "{context: retreiver, question: passthrough}",
        """\
unknown name 'retreiver'; did you mean 'retriever'?
  line 1: {context: retreiver, question: passthrough}
                    ^~~~~~~~~""",
    ),
    (
        "@q | passthruogh",
        """\
unknown name 'passthruogh'; did you mean 'passthrough'?
  line 1: @q | passthruogh
               ^~~~~~~~~~~""",
    ),
    (
        '"{x}" | mdoel | str',
        """\
unknown name 'mdoel'; did you mean 'model'?
  line 1: "{x}" | mdoel | str
                  ^~~~~""",
    ),
    (
        'joke_chain = "{t}" | model\njoke_chian | str',
        """\
unknown name 'joke_chian'; did you mean 'joke_chain'?
  line 2: joke_chian | str
          ^~~~~~~~~~""",
    ),
    (
        "zebra",
        """\
unknown name 'zebra'
  line 1: zebra
          ^~~~~""",
    ),
    (
        "undefined_fn(1) | model",
        """\
unknown name 'undefined_fn'
  line 1: undefined_fn(1) | model
          ^~~~~~~~~~~~""",
    ),
    (
        "nowhere.attr()",
        """\
unknown name 'nowhere'
  line 1: nowhere.attr()
          ^~~~~~~~~~~~""",
    ),
    # built-ins used the wrong way
    (
        "@q | str()",
        """\
'str' is a step, not a function: write str without ()
  line 1: @q | str()
               ^~~~~""",
    ),
    (
        "passthrough(1)",
        """\
'passthrough' is a step, not a function: write passthrough without ()
  line 1: passthrough(1)
          ^~~~~~~~~~~~~~""",
    ),
    (
        "model | str.upper",
        """\
the built-in 'str' has no attribute 'upper'
  line 1: model | str.upper
                  ^~~~~~~~~""",
    ),
    (
        "model.invoke(1)",
        """\
the built-in 'model' has no attribute 'invoke'
  line 1: model.invoke(1)
          ^~~~~~~~~~~~""",
    ),
    (
        "@q | assign",
        """\
'assign' takes arguments: write assign(key=pipeline, ...)
  line 1: @q | assign
               ^~~~~~""",
    ),
    (
        "system | model",
        """\
'system' takes arguments: write system("...")
  line 1: system | model
          ^~~~~~""",
    ),
    (
        "assign(@q)",
        """\
assign(...) takes only key=pipeline arguments
  line 1: assign(@q)
          ^~~~~~~~~~""",
    ),
    (
        "assign(n=3)",
        """\
3 cannot be a step
  line 1: assign(n=3)
                   ^""",
    ),
    # models
    (
        'model("fak:echo")',
        """\
unknown model provider 'fak'; did you mean 'fake'?
  line 1: model("fak:echo")
          ^~~~~~~~~~~~~~~~~""",
    ),
    (
        'model("gpt4")',
        """\
model spec 'gpt4' needs a provider: write 'provider:name', e.g. 'openai:gpt-4o-mini' or \
'fake:echo' (providers: fake, ollama, openai)
  line 1: model("gpt4")
          ^~~~~~~~~~~~~""",
    ),
    (
        "model(0.5)",
        """\
model(...) takes a spec string like 'openai:gpt-4o-mini'
  line 1: model(0.5)
          ^~~~~~~~~~""",
    ),
    (
        'model("fake:a", "fake:b")',
        """\
model(...) takes one spec, e.g. model('fake:echo')
  line 1: model("fake:a", "fake:b")
          ^~~~~~~~~~~~~~~~~~~~~~~~~""",
    ),
    (
        'model("fake:echo", seed=@q)',
        """\
model(...) takes plain values (strings, numbers, True/False/None)
  line 1: model("fake:echo", seed=@q)
                                  ^~""",
    ),
    (
        'model("fake:echo", temprature=0)',
        """\
model('fake:echo'): FakeChatModel.__init__() got an unexpected keyword argument 'temprature'
  line 1: model("fake:echo", temprature=0)
          ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~""",
    ),
    # a template that uses a variable the input can never have
    (
        '{context: retriever, question: passthrough} | "{context} in {language}"',
        """\
the prompt uses {language}, but its input only has context, question
  line 1: {context: retriever, question: passthrough} | "{context} in {language}"
                                                        ^~~~~~~~~~~~~~~~~~~~~~~~~""",
    ),
    (
        "{context: retriever} | prompt",
        """\
the prompt uses {question}, but its input only has context
  line 1: {context: retriever} | prompt
                                 ^~~~~~""",
    ),
    (
        '{} | "{x}"',
        """\
the prompt uses {x}, but its input has no keys
  line 1: {} | "{x}"
               ^~~~~""",
    ),
    (
        '{q: @q}\n| [system("be {tone}"), "{q}"]',
        """\
the prompt uses {tone}, but its input only has q
  line 2: | [system("be {tone}"), "{q}"]
            ^~~~~~~~~~~~~~~~~~~~~~~~~~~~""",
    ),
    # bad templates
    (
        '@q | "what is {x"',
        """\
bad template: expected '}' before end of string (write {{ and }} for literal braces)
  line 1: @q | "what is {x"
               ^~~~~~~~~~~~""",
    ),
    (
        '"a } b"',
        """\
bad template: Single '}' encountered in format string (write {{ and }} for literal braces)
  line 1: "a } b"
          ^~~~~~~""",
    ),
    (
        '"{}"',
        """\
Invalid variable name {}. Variable names cannot be positional arguments; write a name, like {question}
  line 1: "{}"
          ^~~~""",
    ),
    (
        '"{user.name}"',
        """\
Invalid variable name {user.name}. Variable names cannot contain attribute access or indexing
  line 1: "{user.name}"
          ^~~~~~~~~~~~~""",
    ),
    (
        '"{x!r:>10}"',
        """\
Invalid variable name {x!r:>10}. Variable names cannot carry format specs or conversions
  line 1: "{x!r:>10}"
          ^~~~~~~~~~~""",
    ),
    # message lists
    (
        "[thing]",
        """\
a message list holds system("..."), human("..."), ai("...") or strings
  line 1: [thing]
           ^~~~~""",
    ),
    (
        '[system("a"), model]',
        """\
a message list holds system("..."), human("..."), ai("...") or strings
  line 1: [system("a"), model]
                        ^~~~~""",
    ),
    (
        "[system(42)]",
        """\
a message takes one string
  line 1: [system(42)]
           ^~~~~~~~~~""",
    ),
    (
        'human("a", "b")',
        """\
a message list holds system("..."), human("..."), ai("...") or strings
  line 1: human("a", "b")
          ^~~~~~~~~~~~~~~""",
    ),
    (
        '[system("{")]',
        """\
bad template: Single '{' encountered in format string (write {{ and }} for literal braces)
  line 1: [system("{")]
          ^~~~~~~~~~~~~""",
    ),
    # notebook objects that cannot be steps, calls that cannot be made
    (
        "@q | thing",
        """\
'thing' cannot be a step: cannot use int 42 as a step: expected a runnable, a dict of steps, \
a function or a prompt string
  line 1: @q | thing
               ^~~~~""",
    ),
    (
        "thing(1)",
        """\
'thing' is not callable
  line 1: thing(1)
          ^~~~~~~~""",
    ),
    (
        "tools.nested.missing",
        """\
'tools.nested' has no attribute 'missing'
  line 1: tools.nested.missing
          ^~~~~~~~~~~~~~~~~~~~""",
    ),
    (
        "broken.value",
        """\
reading broken.value failed: RuntimeError: no value today
  line 1: broken.value
          ^~~~~~~~~~~~""",
    ),
    (
        "{a: failing(3)}",
        """\
calling failing(...) failed: ValueError: bad size 3
  line 1: {a: failing(3)}
              ^~~~~~~~~~""",
    ),
    (
        "suffix(times=2, nope=1)",
        """\
calling suffix(...) failed: TypeError: suffix() got an unexpected keyword argument 'nope'
  line 1: suffix(times=2, nope=1)
          ^~~~~~~~~~~~~~~~~~~~~~~""",
    ),
    (
        "numbers()",
        """\
'numbers' cannot be a step: cannot use list [1, 2] as a step: expected a runnable, a dict of \
steps, a function or a prompt string
  line 1: numbers()
          ^~~~~~~~~""",
    ),
    (
        "bad_prompt",
        """\
'bad_prompt' cannot be a step: bad template: Single '}' encountered in format string \
(write {{ and }} for literal braces)
  line 1: bad_prompt
          ^~~~~~~~~~""",
    ),
    # the parser's errors come through compile unchanged
    (
        "a | 3 | b",
        """\
a number cannot be a step; a step is a prompt, a map, a @pick or a name
  line 1: a | 3 | b
              ^""",
    ),
    (
        '"tell me about {topic} | model',
        """\
unterminated string
  line 1: "tell me about {topic} | model
          ^""",
    ),
    (
        "{a: @q, a: @r}",
        """\
duplicate key 'a'
  line 1: {a: @q, a: @r}
                  ^""",
    ),
]


class _Broken:
    @property
    def value(self) -> Any:
        raise RuntimeError("no value today")


def _failing(size: int) -> Any:
    raise ValueError(f"bad size {size}")


def _golden_namespace() -> dict[str, Any]:
    return notebook(
        thing=42,
        tools=tools,
        broken=_Broken(),
        failing=_failing,
        suffix=suffix,
        numbers=lambda: [1, 2],
        bad_prompt="a } b",
    )


@pytest.mark.parametrize(("source", "expected"), GOLDEN, ids=[s for s, _ in GOLDEN])
def test_golden_compile_error(source: str, expected: str) -> None:
    assert golden(source, _golden_namespace()) == expected


def test_golden_error_kinds() -> None:
    """Names are ChainNameErrors; everything else is a ChainSyntaxError (also a SyntaxError)."""
    for source, expected in GOLDEN:
        with pytest.raises(ChainError) as caught:
            compile(source, _golden_namespace())
        is_name = expected.startswith("unknown name")
        assert isinstance(caught.value, ChainNameError) == is_name, source
        assert isinstance(caught.value, ChainSyntaxError) != is_name, source


def test_name_error_candidates_come_from_namespace_cell_and_builtins() -> None:
    namespace = {"retriever": 1, "retrieval": 2, "_retriever": 3}
    with pytest.raises(ChainNameError) as caught:
        compile("retreiver", namespace)
    err = caught.value
    assert err.name == "retreiver"
    assert err.candidates[0] == "retriever"
    assert "_retriever" not in err.candidates  # private names are never suggested
    assert isinstance(err, NameError)
    with pytest.raises(ChainNameError) as caught:
        compile("jsn", {})
    assert caught.value.candidates == ["json"]
    with pytest.raises(ChainNameError) as caught:
        compile("my_chain = model\nmy_chian", {})
    assert caught.value.candidates == ["my_chain"]
    with pytest.raises(ChainNameError) as caught:
        compile("qwertyuiop", {})
    assert caught.value.candidates == []


def test_compile_error_is_a_python_syntax_error_with_position() -> None:
    with pytest.raises(ChainSyntaxError) as caught:
        compile(parse('a = "{x}"\nb = {k: @x} | "{y}"', first_line=2), {})
    err = caught.value
    assert (err.filename, err.lineno, err.offset, err.end_offset) == ("<chain>", 3, 15, 20)
    assert err.text == 'b = {k: @x} | "{y}"'
    assert err.msg == "the prompt uses {y}, but its input only has k"


def test_a_failing_notebook_call_keeps_the_original_as_cause() -> None:
    with pytest.raises(ChainSyntaxError) as caught:
        compile("failing(1)", _golden_namespace())
    assert isinstance(caught.value.__cause__, ValueError)


def test_a_prompt_after_an_assign_or_a_passthrough_is_not_checked() -> None:
    """What the input holds there is not knowable at compile time: no error, the run decides."""
    assert run('assign(a=@q) | "{q} {a}" | model | str', {"q": "x"}, {}) == "x x"
    assert run('passthrough | "{q}" | model | str', {"q": "y"}, {}) == "y"


def test_error_lines_are_the_cells_lines_even_with_unicode_line_breaks() -> None:
    """A form feed or U+2028 inside a string is no line break for the cell: the caret line is whole."""
    assert golden('"a\u2028b\x0cc" | zzz', {}) == (
        "unknown name 'zzz'\n  line 1: \"a\u2028b\x0cc\" | zzz\n                    ^~~"
    )


# -- docs/dsl.md: every example gives the output or the error it shows ---------------------------

_DOCS = Path(__file__).resolve().parents[2] / "docs" / "dsl.md"


def _docs_text() -> str:
    if not _DOCS.is_file():
        pytest.skip("docs/dsl.md is not in this checkout")
    return _DOCS.read_text()


def _docs_notebook() -> dict[str, Any]:
    """The namespace the page's examples run in: its first Python block, executed."""
    marker = "# the notebook the examples below run in\n"
    code = re.search(r"```python\n" + re.escape(marker) + r"(.*?)```", _docs_text(), flags=re.S)
    assert code is not None, "docs/dsl.md lost its notebook block"
    namespace: dict[str, Any] = {}
    exec(code.group(1), namespace)
    del namespace["__builtins__"]
    return namespace


def _docs_examples() -> list[tuple[str, str | None]]:
    text = _DOCS.read_text() if _DOCS.is_file() else ""
    pattern = r"```chain\n(.*?)```(?:\n```text\n(.*?)\n```)?"
    return [(m.group(1), m.group(2)) for m in re.finditer(pattern, text, flags=re.S)]


@pytest.mark.parametrize(
    ("block", "shown"), _docs_examples() or [("", None)], ids=lambda v: (v or "")[:40]
)
def test_docs_example_gives_what_the_page_shows(block: str, shown: str | None) -> None:
    namespace = _docs_notebook()
    magic, _, body = block.partition("\n")
    assert magic.startswith("%%chain"), block
    name, value = _magic_input(magic)
    try:
        cell = compile(parse(body, first_line=2), namespace)
    except ChainError as err:
        assert f"{type(err).__name__}: {err}" == shown
        return
    assert cell.chain is not None
    if shown is None:
        return
    try:
        output = cell.chain.invoke(value, {"run_name": name} if name else None)
    except Exception as exc:  # what the magic shows for a step's failure: one line with its path
        assert f"ChainRunError: {ChainRunError.of(exc, name)}" == shown
        return
    assert repr(output) == shown


def test_docs_show_the_graph_and_the_python_the_code_makes() -> None:
    text = _docs_text()
    namespace = _docs_notebook()
    assert compile(BLOCK_MAP, namespace).chain.get_graph().draw_ascii() in text  # type: ignore[union-attr]
    code = to_python(compile(RETRIEVAL, namespace).chain, name="retrieval_chain")
    assert f"```python\n{code}```" in text


def test_docs_list_every_message_template() -> None:
    text = _docs_text().replace("\\|", "|")  # a table cell escapes its pipes
    for name, template in vars(messages).items():
        if name.isupper() and name != "INVALID_NUMBER":  # the lexer never yields that one
            stem = re.split(r"\{[a-z_]+(?:!r)?\}", template.replace("{{", "{").replace("}}", "}"))
            longest = max(stem, key=len).strip(" ;'")
            assert longest in text, name


def test_a_suggestion_is_offered_once_even_when_the_namespace_shadows_a_builtin():
    from chainmagic import dsl
    from chainmagic.core import FakeChatModel
    from chainmagic.errors import ChainNameError

    with pytest.raises(ChainNameError) as info:
        dsl.compile("mdoel", {"model": FakeChatModel()})
    assert info.value.candidates == ["model"]
