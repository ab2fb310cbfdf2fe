"""The ``real_server`` fixture: ``transformers serve`` with ``tiny-chat``, once per test session.

Every test in this folder is marked ``real_server``. The first session on a machine builds the venv
and the model (≈ 1.5 min, cached under ``~/.cache/chainmagic``); later ones only start the server.
What it cost is printed at the end of the session, so the budget stays visible.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .served import Served, start

HERE = Path(__file__).resolve().parent
_costs: dict[str, float] = {}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "real_server: runs against a real third-party OpenAI-compatible server"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.real_server)


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
