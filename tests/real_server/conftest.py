"""The ``real_server`` fixture: ``transformers serve`` with ``tiny-chat``, once per test session.

Every test in this folder is marked ``real_server``. The first session on a machine builds the venv
and the model (≈ 1.5 min, cached under ``~/.cache/chainmagic``); later ones only start the server.
What it cost is printed at the end of the session, so the budget stays visible.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from . import llamacpp
from .served import Served, start

HERE = Path(__file__).resolve().parent
_costs: dict[str, float] = {}


LLAMACPP = "CHAINMAGIC_LLAMACPP"  # set by `make test-llamacpp`: its build takes 6-10 minutes


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "real_server: runs against a real third-party OpenAI-compatible server"
    )
    config.addinivalue_line(
        "markers", "llamacpp: runs against llama.cpp's server (make test-llamacpp)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    skip = pytest.mark.skip(reason=f"llama.cpp's server is built only with {LLAMACPP}=1")
    for item in items:
        path = Path(str(item.fspath))
        if HERE in path.parents:
            item.add_marker(pytest.mark.real_server)
            if path.name == "test_llamacpp.py":
                item.add_marker(pytest.mark.llamacpp)
                if os.environ.get(LLAMACPP) != "1":
                    item.add_marker(skip)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _costs:
        spent = ", ".join(f"{k} {v:.1f} s" for k, v in _costs.items())
        terminalreporter.write_line(f"real server set-up: {spent}")


@pytest.fixture(scope="session")
def real_server() -> Iterator[Served]:
    """A running ``transformers serve`` (its ``base_url`` ends in ``/v1``); stopped by PID after."""
    server = start()
    _costs.update(server.seconds)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _no_ambient_openai(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests say where the server is; a machine's own OpenAI settings must not leak in."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OLLAMA_HOST"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def llama_server() -> Iterator[Served]:
    """llama.cpp's server: ``tiny-chat``, and ``tiny-embed`` with mean pooling."""
    server = llamacpp.start(pooling=True)
    _costs.update({f"llama.cpp {k}": v for k, v in server.seconds.items()})
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def llama_server_without_pooling() -> Iterator[Served]:
    """The same, but ``tiny-embed`` has no pooling: one vector per token."""
    server = llamacpp.start(pooling=False)
    try:
        yield server
    finally:
        server.stop()
