"""Shared helpers for the display tests: small real chains, and a mask for measured times."""

from __future__ import annotations

import importlib
import re
from typing import Any

import pytest

from chainmagic.core import (
    ChatPromptTemplate,
    Document,
    FakeChatModel,
    RunnableLambda,
    RunnableParallel,
    StrOutputParser,
)
from chainmagic.run import ChainResult, execute

TIME = re.compile(r"\d+(?:\.\d+)? (?:s|ms|µs|ns)\b")
PERCENT = re.compile(r"\d+(?:\.\d+)?%")


def mask(text: str) -> str:
    """Measured times (and the bar geometry derived from them) replaced, as nbval's sanitizer does."""
    return PERCENT.sub("P%", TIME.sub("T", text))


def joke_poem(*, latency: float = 0.01, token_delay: float = 0.0, fail_on: str | None = None):
    """The LCEL parallel guide's map: a joke and a poem about a topic, on the offline model."""
    joke = (
        ChatPromptTemplate.from_template("tell me a joke about {topic}")
        | FakeChatModel(latency=latency, token_delay=token_delay)
        | StrOutputParser()
    )
    poem = (
        ChatPromptTemplate.from_template("write a 2-line poem about {topic}")
        | FakeChatModel(latency=latency * 3, token_delay=token_delay, fail_on=fail_on)
        | StrOutputParser()
    )
    return RunnableParallel(joke=joke, poem=poem)


def run_map() -> ChainResult:
    return execute(joke_poem(), {"topic": "bear"}, name="map_chain")


def run_sequence() -> ChainResult:
    chain = (
        ChatPromptTemplate.from_template("tell me a joke about {topic}")
        | FakeChatModel(latency=0.01, token_delay=0.001)
        | StrOutputParser()
    )
    return execute(chain, {"topic": "cat"}, name="joke_chain")


def run_failed() -> ChainResult:
    """The poem branch fails after the joke branch has finished (so the joke keeps its result)."""
    joke = RunnableLambda(lambda x: f"a joke about {x['topic']}")
    poem = RunnableLambda(_slow_failure)
    return execute(RunnableParallel(joke=joke, poem=poem), {"topic": "bear"}, name="map_chain")


def _slow_failure(x: dict) -> str:
    import time

    time.sleep(0.05)
    raise ValueError(f"no rhyme for {x['topic']}")


def run_docs() -> ChainResult:
    docs = [
        Document("Bears eat honey.", {"source": "bears.txt"}),
        Document("Cats sleep\nmost of the day.", {"source": "cats.txt", "page": 2}),
    ]
    return execute(RunnableLambda(lambda q: docs), "what do animals do?", name="retriever")


@pytest.fixture(scope="session")
def map_result() -> ChainResult:
    return run_map()


@pytest.fixture(scope="session")
def sequence_result() -> ChainResult:
    return run_sequence()


@pytest.fixture(scope="session")
def failed_result() -> ChainResult:
    return run_failed()


@pytest.fixture(scope="session")
def docs_result() -> ChainResult:
    return run_docs()


bundle_module = importlib.import_module("chainmagic.display.bundle")


# -- a kernel that is not there: displays and display updates, recorded ----------------------


class Handle:
    def __init__(self) -> None:
        self.updates: list[dict[str, Any]] = []

    def update(self, data: dict[str, Any], raw: bool = False) -> None:
        assert raw
        self.updates.append(data)


class FakeKernelShell:  # what the `kernel` fixture gives
    """Just enough of an ipykernel shell: it has a ``kernel``; displays are recorded."""

    kernel = object()

    def __init__(self) -> None:
        self.displayed: list[dict[str, Any]] = []
        self.handles: list[Handle] = []


@pytest.fixture
def kernel(monkeypatch: pytest.MonkeyPatch) -> FakeKernelShell:
    shell = FakeKernelShell()

    def display(data: dict[str, Any], raw: bool = False, display_id: Any = None) -> Any:
        assert raw
        shell.displayed.append(data)
        if display_id:
            shell.handles.append(Handle())
            return shell.handles[-1]
        return None

    monkeypatch.setattr(bundle_module, "shell", lambda: shell)
    monkeypatch.setattr("IPython.display.display", display)
    return shell
