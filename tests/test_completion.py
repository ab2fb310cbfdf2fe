"""Completion and Shift-Tab help in chain cells: the logic, a real InteractiveShell, a real kernel.

The kernel tests talk to a fresh ipykernel over ZMQ with jupyter_client, the way JupyterLab does:
``complete_request`` and ``inspect_request`` with the whole cell and a cursor offset.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chainmagic.completion import chain_completions, chain_context
from chainmagic.inspection import describe

SETUP = """\
from chainmagic.core import FakeChatModel
fast = FakeChatModel()
retriever = fast
def shout(text):
    return text.upper()
"""
JOKE = '%%chain joke_chain\n"tell me a joke about {topic}" | fast | str'
OPTIONS = ["-i", "--input", "--batch", "--model", "--stream", "-h"]


def complete(text: str, ns: dict[str, Any] | None = None, cursor: int | None = None) -> list[str]:
    ctx = chain_context(text, len(text) if cursor is None else cursor)
    assert ctx is not None
    return [name for name, _ in chain_completions(ctx, ns or {}, OPTIONS)[1]]


# -- the logic -------------------------------------------------------------------------------------


def test_only_chain_cells_have_a_context() -> None:
    assert chain_context("mod", 3) is None
    assert chain_context("%%chainx\nmod", 12) is None
    assert chain_context(" %%chain\nmod", 12) is None  # IPython needs %% at the very start
    assert chain_context("%%chaintime\nx", 13).magic == "chaintime"  # type: ignore[union-attr]


def test_builtins_cell_bindings_and_notebook_steps() -> None:
    ns = {"model_b": object(), "modelling": lambda x: x, "mod_data": 3, "_model": lambda: 1}
    assert complete("%%chain\n'x' | mod", ns) == ["model", "modelling"]
    cell = "%%chain\nsummary = 'x {a}' | model\nsu"
    assert complete(cell) == ["summary"]
    assert complete("%%chain short_chain\nx | sh") == ["short_chain"]
    assert complete("%%chain\nx | s", {"shout": pytest}) == ["str", "system"]  # a module
    assert complete("%%chain\nx | s", {"shout": lambda t: t}) == ["str", "system", "shout"]


def test_a_notebook_name_shadows_the_builtin_it_is_named_after() -> None:
    from chainmagic.core import FakeChatModel

    ns = {"model": FakeChatModel()}
    ctx = chain_context("%%chain\nx | mod", 15)
    assert chain_completions(ctx, ns)[1] == [("model", "chain")]  # type: ignore[arg-type]


def test_model_specs_after_model_paren_and_after_the_model_option() -> None:
    assert complete('%%chain\nx | model("fake:') == ["fake:echo"]
    got = complete("%%chain\nx | model('")
    assert got[0] == "fake:echo" and "openai:gpt-4o-mini" in got and "ollama:" in got
    ctx = chain_context("%%chain --model op", 18)
    fragment, found = chain_completions(ctx, {}, OPTIONS)  # type: ignore[arg-type]
    assert fragment == "op" and [n for n, _ in found][:2] == ["openai:gpt-4o-mini", "openai:gpt-4o"]


def test_picks_offer_the_input_keys_the_cell_can_know() -> None:
    from chainmagic.core import ChatPromptTemplate

    ns = {"prompt": ChatPromptTemplate.from_template("{context} and {style}")}
    cell = (
        '%%chain -i question="q" lang=it\n{a: @' + "\n" + '} | "{question} {{no}} {lang}" | prompt'
    )
    cursor = cell.index("@") + 1
    assert complete(cell, ns, cursor) == ["question", "lang", "context", "style"]
    assert complete('%%chain\n{x: @qu} | "{question}"', cursor=13) == ["question"]
    assert complete("%%chain --input topic=cat mood=calm\n@") == ["topic", "mood"]
    assert complete("%%chain -v x\n@") == []


def test_options_on_the_magic_line_and_chains_for_chaintime() -> None:
    assert complete("%%chain -") == ["-h", "-i", "--batch", "--input", "--model", "--stream"]
    assert complete("%%chain --b") == ["--batch"]
    assert complete("%%chain name") == []  # a new name: nothing to offer
    ns = {"joke_chain": _runnable(), "poem_chain": _runnable(), "joker": "not a chain"}
    assert complete("%%chaintime -i topic=bear jo", ns) == ["joke_chain"]
    assert complete("%%chaintime -n 3 ", ns) == ["joke_chain", "poem_chain"]


def test_nothing_inside_a_prompt_or_a_comment_and_attributes_after_a_dot() -> None:
    assert complete('%%chain\n"tell me about mod') == []
    assert complete('%%chain\n"""one\ntwo mod') == []
    assert complete("%%chain\nx | str  # mod") == []
    assert complete('%%chain\n"done" | mod') == ["model"]  # the string closed before
    assert complete("%%chain\nfast.inv", {"fast": _runnable()}) == ["invoke"]


def _runnable() -> Any:
    from chainmagic.core import RunnablePassthrough

    return RunnablePassthrough()


def test_describe_answers_for_builtins_picks_variables_and_chains() -> None:
    from chainmagic import dsl

    ns: dict[str, Any] = {}
    ns["joke_chain"] = dsl.chain('"a joke about {topic}" | model | str')
    cell = '%%chain -i topic=bear\nsummary = @topic | "short {topic}" | model\njoke_chain | str'
    at = cell.index
    assert describe(cell, at("model") + 2, ns) == (
        "model: built-in step: the default chat model, fake:echo "
        "(%config ChainMagics.default_model)"
    )
    assert (
        describe(cell, at("@topic") + 3, ns) == "@topic: picks the key 'topic' of the chain's input"
    )
    assert "input key 'topic'" in describe(cell, at("{topic}") + 2, ns)  # type: ignore[operator]
    joke = describe(cell, at("joke_chain") + 4, ns)
    assert joke is not None and joke.startswith("joke_chain: RunnableSequence")
    assert joke.endswith("inputs: topic") and "a joke about" in joke
    summary = describe(cell, at("summary") + 1, ns)  # the cell's own binding, compiled, not run
    assert summary is not None and summary.startswith("summary: RunnableSequence")
    assert summary.endswith("inputs: topic") and "summary" not in ns
    assert describe(cell, at("short") + 1, ns) is None  # the text of a prompt
    assert describe("x = 1", 1, ns) is None  # not a chain cell: IPython answers


def test_describe_runs_none_of_the_notebooks_code() -> None:
    calls: list[int] = []

    def make_step(k: int) -> Any:
        calls.append(k)
        return _runnable()

    ns = {"make_step": make_step}
    cell = "%%chain\nsearch = make_step(k=3) | str\nsearch"
    assert describe(cell, len(cell) - 1, ns) is None and calls == []
    cell = "%%chain\nshort = 'x {a}' | model('fake:echo')\nshort"  # the built-in model(...)
    assert describe(cell, len(cell) - 1, ns).startswith("short: RunnableSequence")  # type: ignore[union-attr]


def test_describe_survives_a_cell_that_does_not_compile() -> None:
    cell = '%%chain\nbroken = "x" | | model\nmodel'
    assert describe(cell, len(cell), {}).startswith("model: built-in step")  # type: ignore[union-attr]
    assert describe(cell, cell.index("broken") + 1, {}) is None


# -- a real InteractiveShell -----------------------------------------------------------------------


def shell_completions(shell: Any, text: str) -> list[tuple[str, int, int]]:
    from IPython.core.completer import provisionalcompleter

    with provisionalcompleter():
        return [(c.text, c.start, c.end) for c in shell.Completer.completions(text, len(text))]


def test_the_shell_completes_chain_cells_and_leaves_python_cells_alone(ipython: Any) -> None:
    ipython.ok(SETUP)
    shell = ipython.shell
    assert shell_completions(shell, "%%chain\nx | mod") == [("model", 12, 15)]
    assert shell_completions(shell, '%%chain\nx | model("fake:e') == [("fake:echo", 19, 25)]
    assert shell_completions(shell, "%%chain\n'a' | re") == [("retriever", 14, 16)]
    python = [c[0] for c in shell_completions(shell, "pri")]
    assert "print" in python  # Python cells keep Python's completions


def test_load_and_unload_add_and_remove_the_matcher_once(ipython: Any) -> None:
    shell = ipython.shell
    count = lambda: sum(getattr(m, "chainmagic", False) for m in shell.Completer.custom_matchers)  # noqa: E731
    assert count() == 1
    shell.run_line_magic("reload_ext", "chainmagic")
    assert count() == 1
    shell.run_line_magic("unload_ext", "chainmagic")
    try:
        assert count() == 0
        assert shell_completions(shell, "%%chain\nx | mod") == []
    finally:
        shell.run_line_magic("load_ext", "chainmagic")


# -- a real kernel, over ZMQ -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    from jupyter_client.manager import start_new_kernel

    manager, kc = start_new_kernel(kernel_name="python3", startup_timeout=60)
    try:
        reply = kc.execute_interactive("%load_ext chainmagic\n" + SETUP, timeout=60)
        assert reply["content"]["status"] == "ok"
        reply = kc.execute_interactive(JOKE, timeout=60)
        assert reply["content"]["status"] == "ok"
        yield kc
    finally:
        kc.stop_channels()
        manager.shutdown_kernel(now=True)


def kernel_complete(kc: Any, code: str, cursor: int | None = None) -> dict[str, Any]:
    kc.complete(code, len(code) if cursor is None else cursor)
    return kc.get_shell_msg(timeout=30)["content"]


def kernel_inspect(kc: Any, code: str, cursor: int) -> dict[str, Any]:
    kc.inspect(code, cursor, detail_level=0)
    return kc.get_shell_msg(timeout=30)["content"]


def test_complete_request_in_a_chain_cell(client: Any) -> None:
    cell = '%%chain -i topic=cat\n"a poem about {topic}" | mod'
    reply = kernel_complete(client, cell)
    assert reply["status"] == "ok" and reply["matches"] == ["model"]
    assert (reply["cursor_start"], reply["cursor_end"]) == (len(cell) - 3, len(cell))
    reply = kernel_complete(client, '%%chain\n"x" | sh')
    assert reply["matches"] == ["shout"]
    reply = kernel_complete(client, "%%chaintime -i topic=cat jo")
    assert reply["matches"] == ["joke_chain"]
    cell = '%%chain\n{t: @\n} | "{topic} and {mood}"'
    reply = kernel_complete(client, cell, cell.index("@") + 1)
    assert reply["matches"] == ["topic", "mood"]


def test_complete_request_in_a_python_cell_is_python_as_before(client: Any) -> None:
    reply = kernel_complete(client, "retr")
    assert reply["matches"] == ["retriever"]


def test_inspect_request_in_a_chain_cell(client: Any) -> None:
    cell = "%%chain\njoke_chain | str"
    reply = kernel_inspect(client, cell, 10)
    assert reply["status"] == "ok" and reply["found"] is True
    text = reply["data"]["text/plain"]
    assert text.startswith("joke_chain: RunnableSequence") and text.endswith("inputs: topic")
    reply = kernel_inspect(client, cell, len(cell))
    assert reply["data"]["text/plain"].startswith("str: built-in step: the string output parser")


def test_inspect_request_elsewhere_is_ipythons(client: Any) -> None:
    reply = kernel_inspect(client, "shout", 3)
    assert reply["found"] is True and "shout" in reply["data"]["text/plain"]
    reply = kernel_inspect(client, "%%chain\nnowhere_at_all", 12)
    assert reply["status"] == "ok" and reply["found"] is False
