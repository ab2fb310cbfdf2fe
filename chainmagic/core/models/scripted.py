"""Scripted models under the names LangChain's own fakes have, for code written against those.

:class:`GenericFakeChatModel` replies with the next message of an iterator and streams it word by
word (each run of whitespace its own chunk); :class:`FakeListLLM` is a text-completion model (a
string out, not a message) that replies from a list in turn. Neither waits nor fails on its own;
an exhausted script fails the call, which is how tests drive fallbacks. For notebooks and timing,
:class:`~chainmagic.core.models.fake.FakeChatModel` is the richer fake.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from chainmagic.core.events import Run
from chainmagic.core.messages import AIMessage, AIMessageChunk, BaseMessage
from chainmagic.core.models.base import BaseChatModel
from chainmagic.core.runnable import Runnable

__all__ = ["FakeListLLM", "GenericFakeChatModel"]

_WORDS = re.compile(r"(\s+)")


class GenericFakeChatModel(BaseChatModel):
    """Replies with ``next(messages)`` (an :class:`AIMessage`, or a string made into one)."""

    def __init__(self, messages: Iterator[AIMessage | str], *, name: str | None = None) -> None:
        self.messages = messages
        self.label = name
        self._lock = threading.Lock()

    def _default_name(self) -> str:
        return "GenericFakeChatModel"

    def _generate(self, messages: list[BaseMessage]) -> AIMessage:
        with self._lock:
            reply = next(self.messages, None)
        if reply is None:
            raise RuntimeError("GenericFakeChatModel has no more messages to reply with")
        return AIMessage(reply) if isinstance(reply, str) else reply

    def _chunks(self, messages: list[BaseMessage]) -> Iterator[AIMessageChunk]:
        reply = self._generate(messages)
        if not isinstance(reply.content, str):
            yield AIMessageChunk(reply.content, id=reply.id)
            return
        for piece in _WORDS.split(reply.content):
            if piece:
                yield AIMessageChunk(piece, id=reply.id)


class FakeListLLM(Runnable):
    """A text-completion model replying ``responses[i]``, then the next (back to the first).

    Its input (a string, a prompt value or messages) is not read. ``i`` is where it starts; an
    ``i`` past the end makes every call fail with ``IndexError``.
    """

    def __init__(self, responses: Sequence[str], *, i: int = 0, name: str | None = None) -> None:
        self.responses = list(responses)
        self.i = i
        self.label = name
        self._lock = threading.Lock()

    def _default_name(self) -> str:
        return "FakeListLLM"

    def _invoke(self, input: Any, run: Run | None) -> str:
        with self._lock:
            reply = self.responses[self.i]  # an IndexError past the end, as LangChain's
            self.i = self.i + 1 if self.i < len(self.responses) - 1 else 0
        return reply

    async def _ainvoke(self, input: Any, run: Run | None) -> str:
        return self._invoke(input, run)
