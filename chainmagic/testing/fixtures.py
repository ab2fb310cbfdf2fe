"""Pytest fixtures for the mock OpenAI server.

Opt in per test module or in the root conftest with
``pytest_plugins = ["chainmagic.testing.fixtures"]``. This module imports pytest,
which is why it is separate from the server itself.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chainmagic.testing.server import OpenAIServer

FIXTURE_LIFETIME = 600.0  # generous for one test, short enough that a leaked server dies


@pytest.fixture
def openai_server() -> Iterator[OpenAIServer]:
    """A fresh, running ``OpenAIServer`` (echo replies, no key required) for one test.

    Reconfigure it inside the test: ``openai_server.replies = [...]``,
    ``openai_server.latency = 0.2``, ``openai_server.fail_next(...)``.
    """
    with OpenAIServer(max_lifetime=FIXTURE_LIFETIME) as server:
        yield server
