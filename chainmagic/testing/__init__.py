"""A local, offline stand-in for the OpenAI API.

chainmagic talks to models through the real ``openai`` client, and that path
(HTTP, retries, streaming, connection pooling, error mapping) is where real bugs
live. Faking the client would skip it. Instead, tests and the offline tutorials
point an ordinary ``openai.OpenAI(base_url=server.base_url, api_key=...)`` at
``OpenAIServer``: it speaks the Chat Completions (plain and streamed), Embeddings
and Models endpoints on 127.0.0.1, replies predictably (echo or scripted), and can
inject latency, rate limits, server errors and cut streams on demand.

Standard library only, so it works wherever chainmagic installs.

    from chainmagic.testing import OpenAIServer

    with OpenAIServer(replies={"capital": "Paris"}, latency=0.2) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="test-key")

In pytest, ``pytest_plugins = ["chainmagic.testing.fixtures"]`` provides the
``openai_server`` fixture.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chainmagic.testing.replies import Replies
    from chainmagic.testing.server import OpenAIServer
    from chainmagic.testing.state import RecordedRequest

__all__ = ["OpenAIServer", "RecordedRequest", "Replies"]

_EXPORTS = {
    "OpenAIServer": "chainmagic.testing.server",
    "RecordedRequest": "chainmagic.testing.state",
    "Replies": "chainmagic.testing.replies",
}


def __getattr__(name: str) -> Any:
    """Import lazily, so ``python -m chainmagic.testing.server`` runs the module once."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
