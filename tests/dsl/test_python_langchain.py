"""docs/dsl.md's example cells that use a ``fake:`` model, written out by
``to_python(..., imports="langchain")``, run on langchain-core itself and give what chainmagic gives.

The code imports ``init_chat_model`` from ``langchain.chat_models``, which is not installed here
and has no offline provider anyway; a module of that name, made for this test, answers ``fake:``
specs with a LangChain chat model (built on langchain-core's ``BaseChatModel``) that answers as
chainmagic's fake model does: the last human message, or its script. Everything else in the code
(prompts, maps, pickers, parsers) is langchain-core's own.
"""

from __future__ import annotations

import re
import shlex
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from chainmagic.dsl import compile, parse
from chainmagic.dsl.python import to_python

from .test_python import plain_data

lc_models = pytest.importorskip("langchain_core.language_models")
from langchain_core.messages import AIMessage as LCAIMessage  # noqa: E402
from langchain_core.outputs import ChatGeneration, ChatResult  # noqa: E402

DOCS = Path(__file__).resolve().parents[2] / "docs" / "dsl.md"
NOTEBOOK_MARKER = "# the notebook the examples below run in\n"


class ScriptedChatModel(lc_models.BaseChatModel):
    """chainmagic's fake model, on LangChain's side: echo the last human message, or follow a
    script (a list replied in turn, or a dict of patterns to answers)."""

    responses: Any = None
    fail_on: str | None = None
    turn: int = 0

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _generate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any) -> Any:
        humans = [m for m in messages if m.type == "human"]
        last = (humans or messages)[-1].text if messages else ""
        if self.fail_on and re.search(self.fail_on, last):
            raise RuntimeError("injected failure")
        answer = last
        if isinstance(self.responses, dict):
            answer = next((a for p, a in self.responses.items() if re.search(p, last)), last)
        elif self.responses:
            answer = self.responses[self.turn % len(self.responses)]
            self.turn += 1
        return ChatResult(generations=[ChatGeneration(message=LCAIMessage(content=answer))])


def _init_chat_model(spec: str, **kwargs: Any) -> ScriptedChatModel:
    provider, _, _ = spec.partition(":")
    assert provider == "fake", spec
    return ScriptedChatModel(responses=kwargs.get("responses"), fail_on=kwargs.get("fail_on"))


@pytest.fixture
def langchain_chat_models(monkeypatch: pytest.MonkeyPatch) -> None:
    package = types.ModuleType("langchain")
    package.__path__ = []
    chat_models = types.ModuleType("langchain.chat_models")
    chat_models.init_chat_model = _init_chat_model  # type: ignore[attr-defined]
    package.chat_models = chat_models  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "langchain", package)
    monkeypatch.setitem(sys.modules, "langchain.chat_models", chat_models)


def _notebook_code() -> str:
    if not DOCS.is_file():
        pytest.skip("docs/dsl.md is not in this checkout")
    found = re.search(
        r"```python\n" + re.escape(NOTEBOOK_MARKER) + r"(.*?)```", DOCS.read_text(), flags=re.S
    )
    assert found is not None, "docs/dsl.md lost its notebook block"
    return found.group(1)


def _ours() -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    exec(_notebook_code(), namespace)
    return namespace


def _theirs() -> dict[str, Any]:
    """The same notebook built from langchain-core's classes (the fake model scripted alike)."""
    code = _notebook_code()
    first = code.splitlines()[0]
    assert first.startswith("from chainmagic.core import"), first
    code = code.replace(
        first,
        "from langchain_core.documents import Document\n"
        "from langchain_core.prompts import ChatPromptTemplate\n"
        "from langchain_core.runnables import RunnableLambda\n",
    ).replace("FakeChatModel(", "ScriptedChatModel(")
    namespace: dict[str, Any] = {"ScriptedChatModel": ScriptedChatModel}
    exec(code, namespace)
    # LangChain's prompts put a list of Documents in as its repr, chainmagic's as the texts: the
    # retriever gives the text itself, so both prompts read the same words.
    namespace["retriever"] = namespace["RunnableLambda"](
        lambda question: "harrison worked at kensho"
    )
    return namespace


def _model_cells() -> list[Any]:
    """Every ``%%chain`` example that calls a model and shows an output (not an error)."""
    text = DOCS.read_text() if DOCS.is_file() else ""
    pattern = r"```chain\n(%%chain[^\n]*)\n(.*?)```(?:\n```text\n(.*?)\n```)?"
    cells = []
    for magic, body, shown in re.findall(pattern, text, flags=re.S):
        uses_model = re.search(r"\bmodel\b", body) or "fake:" in body
        if uses_model and shown and not re.match(r"\w+Error: ", shown):
            cells.append(pytest.param(magic, body, marks=_KNOWN_GAPS.get(body.strip(), ())))
    return cells


_KNOWN_GAPS: dict[str, Any] = {}


def _magic_input(line: str) -> Any:
    words = shlex.split(line)[1:]
    if "-i" not in words:
        return None
    values = words[words.index("-i") + 1 :]
    if len(values) == 1 and "=" not in values[0]:
        return values[0]
    return dict(v.split("=", 1) for v in values)


def test_the_docs_have_model_cells():
    assert len(_model_cells()) >= 8


@pytest.mark.usefixtures("langchain_chat_models")
@pytest.mark.parametrize(("magic", "body"), _model_cells(), ids=lambda v: v[:40])
def test_the_langchain_code_of_a_docs_cell_gives_chainmagics_output(magic: str, body: str) -> None:
    value = _magic_input(magic)
    cell = compile(parse(body, first_line=2), _ours())
    assert cell.chain is not None
    ours = cell.chain.invoke(value)

    namespace = _theirs()
    for name, runnable in cell.bindings.items():
        code = to_python(runnable, name=name, imports="langchain")
        assert "chainmagic" not in code
        exec(code, namespace)
    if cell.chain_name is None:
        code = to_python(cell.chain, imports="langchain")
        assert "chainmagic" not in code
        exec(code, namespace)
    chain = namespace[cell.chain_name or "chain"]
    assert type(chain).__module__.startswith("langchain_core"), type(chain)
    theirs = chain.invoke(value)
    assert plain_data(theirs) == plain_data(ours)
