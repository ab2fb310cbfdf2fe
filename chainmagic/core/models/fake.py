"""The offline, deterministic chat model: every tutorial and test runs with no key and no network.

It echoes the last human message or follows a script, and behaves like a real model where it matters
for timing: a latency before the first token (with seeded, hence repeatable, jitter), a delay per
streamed token (so time to first token is real), token usage, and failures on demand.
"""

from __future__ import annotations

import itertools
import random
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import Any

from chainmagic.core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from chainmagic.core.models.base import BaseChatModel, usage
from chainmagic.errors import ModelError

__all__ = ["HOSTED", "FakeChatModel", "FakeModelError"]

# How ``fake:chat`` (the notebook's default ``model``) answers: like a hosted chat model — about
# 0.4 s to the first token, ± 25 % seeded jitter, then ~65 tokens/s — so a tour's timings show what
# they would with a real model. Every other fake model is instant unless told otherwise.
HOSTED = {"latency": 0.4, "jitter": 0.25, "token_delay": 0.015}
HOSTED_SPEC = "fake:chat"

Script = Sequence[str] | Mapping[str, str] | Callable[[list[BaseMessage]], str] | None
_PIECE = re.compile(r"\s*\S+")


class FakeModelError(ModelError):
    """The failure a fake model injects when asked to (``fail_on``, ``fail_rate``)."""


class FakeChatModel(BaseChatModel):
    """A scripted chat model.

    ``responses``: ``None`` echoes the last human message; a list is replied in turn (cycled); a dict
    maps regular expressions (searched in the last human message) to replies; a callable gets the
    messages and returns the reply. ``latency`` seconds pass before the first token, varied by
    ``± jitter`` (a fraction) from a generator seeded with ``seed``; each further streamed token
    takes ``token_delay``. ``fail_on`` (a pattern) or ``fail_rate`` make calls raise ``error``.

    Timing settings left unset are zero, except for ``model="fake:chat"``, which takes
    :data:`HOSTED`'s; ``latency=0`` makes that one instant too.
    """

    def __init__(
        self,
        responses: Script = None,
        *,
        latency: float | None = None,
        jitter: float | None = None,
        token_delay: float | None = None,
        seed: int = 0,
        fail_on: str | None = None,
        fail_rate: float = 0.0,
        error: type[Exception] | Exception | None = None,
        model: str = "fake:echo",
        name: str | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        max_tokens: int | None = None,
        stop: str | Sequence[str] | None = None,
        api_key: Any = None,
        base_url: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
    ) -> None:
        # Connection settings are accepted and dropped, so swapping 'openai:...' for 'fake:...'
        # in a spec is the only change a chain needs to run offline. The key is never stored.
        del api_key, base_url, timeout, max_retries
        # Sampling settings are accepted so any model spec's keywords work here too; the fake
        # model is deterministic whatever the temperature, but max_tokens and stop cut its reply.
        self.temperature = temperature
        self.top_p = top_p
        self.max_tokens = max_tokens
        self.stop = [stop] if isinstance(stop, str) else list(stop or [])
        self.responses = responses
        for option, value in (
            ("latency", latency),
            ("jitter", jitter),
            ("token_delay", token_delay),
        ):
            if value is not None and (
                not isinstance(value, (int, float)) or not 0 <= value < float("inf")
            ):
                raise ValueError(f"{option}={value!r}: a number of seconds, 0 or more")
        preset = HOSTED if model == HOSTED_SPEC and latency != 0 else {}
        self.latency = float(preset.get("latency", 0.0) if latency is None else latency)
        self.jitter = float(preset.get("jitter", 0.0) if jitter is None else jitter)
        if token_delay is None:
            token_delay = preset.get("token_delay", 0.0) if latency != 0 else 0.0
        self.token_delay = float(token_delay)
        self.seed = seed
        if not isinstance(fail_rate, (int, float)) or not 0 <= fail_rate <= 1:
            raise ValueError(f"fail_rate={fail_rate!r}: a probability between 0 and 1")
        try:
            self.fail_on = re.compile(fail_on) if fail_on else None
        except (re.error, TypeError) as exc:
            raise ValueError(f"fail_on={fail_on!r} is not a regular expression: {exc}") from None
        self.fail_rate = fail_rate
        self.error = error
        self.model_name = model
        self.label = name
        self._random = random.Random(seed)
        self._failures = random.Random(seed + 1)
        self._turn = itertools.count()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def _default_name(self) -> str:
        return "FakeChatModel"

    def __repr__(self) -> str:
        return self.label or f"FakeChatModel({self.model_name!r})"

    # -- what it says ---------------------------------------------------------------------------

    def reply(self, messages: list[BaseMessage]) -> str:
        """The answer to ``messages``, raising the injected failure when one is due."""
        last = next((m.text for m in reversed(messages) if isinstance(m, HumanMessage)), "")
        if not last and messages:
            last = messages[-1].text
        with self._lock:
            failing = (self.fail_on is not None and self.fail_on.search(last) is not None) or (
                self.fail_rate > 0 and self._failures.random() < self.fail_rate
            )
        if failing:
            raise self._failure(last)
        script = self.responses
        if script is None:
            return last
        if callable(script):
            return str(script(messages))
        if isinstance(script, Mapping):
            for pattern, answer in script.items():
                if re.search(pattern, last):
                    return answer
            return last
        if not script:
            return last
        with self._lock:
            turn = next(self._turn)
        return script[turn % len(script)]

    def delay(self) -> float:
        """Seconds before the first token: the latency with this call's jitter."""
        if not self.latency:
            return 0.0
        if not self.jitter:
            return self.latency
        with self._lock:
            u = self._random.uniform(-1.0, 1.0)
        return max(self.latency * (1.0 + self.jitter * u), 0.0)

    def _failure(self, text: str) -> Exception:
        error = self.error
        if isinstance(error, Exception):
            return error
        shown = text if len(text) <= 40 else text[:37] + "..."
        message = f"injected failure on {shown!r}"
        if error is None:
            return FakeModelError(message, provider="fake")
        return error(message)

    def _limit(self, text: str) -> tuple[str, str]:
        """The reply cut at a stop sequence and at ``max_tokens``, with OpenAI's finish reason."""
        for marker in self.stop:
            if marker and marker in text:
                text = text[: text.index(marker)]
        if self.max_tokens is not None:
            pieces = _PIECE.findall(text)
            if len(pieces) > self.max_tokens:
                return "".join(pieces[: max(self.max_tokens, 0)]), "length"
        return text, "stop"

    def _message(self, messages: list[BaseMessage], text: str) -> AIMessage:
        text, reason = self._limit(text)
        with self._lock:
            n = next(self._ids)
        return AIMessage(
            text,
            id=f"fake-{n}",
            response_metadata={"model_name": self.model_name, "finish_reason": reason},
            usage_metadata=usage(messages, text),
        )

    # -- how it says it -------------------------------------------------------------------------

    def _plan(
        self, messages: list[BaseMessage], *, whole: bool
    ) -> tuple[str, float, Exception | None]:
        """The reply, the pause before it (to the first token, or ``whole`` answer), and any failure.

        An injected failure is raised only after the latency, as a real model's error arrives
        after the request's round trip, so a failing branch does not beat its siblings to the end.
        """
        try:
            text = self.reply(messages)
        except Exception as exc:
            return "", self.delay(), exc
        tokens = max(len(_PIECE.findall(self._limit(text)[0])) - 1, 0) if whole else 0
        return text, self.delay() + self.token_delay * tokens, None

    def _generate(self, messages: list[BaseMessage]) -> AIMessage:
        text, pause, failure = self._plan(messages, whole=True)
        if pause:
            time.sleep(pause)
        if failure is not None:
            raise failure
        return self._message(messages, text)

    async def _agenerate(self, messages: list[BaseMessage]) -> AIMessage:
        text, pause, failure = self._plan(messages, whole=True)
        if pause:
            await _sleep(pause)
        if failure is not None:
            raise failure
        return self._message(messages, text)

    def _chunks(self, messages: list[BaseMessage]) -> Iterator[AIMessageChunk]:
        text, pause, failure = self._plan(messages, whole=False)
        if pause:
            time.sleep(pause)
        if failure is not None:
            raise failure
        final = self._message(messages, text)
        pieces = _PIECE.findall(final.content) or [final.content]
        for i, piece in enumerate(pieces):
            if i and self.token_delay:
                time.sleep(self.token_delay)
            yield _chunk(final, piece, last=i == len(pieces) - 1)

    async def _achunks(self, messages: list[BaseMessage]) -> AsyncIterator[AIMessageChunk]:
        text, pause, failure = self._plan(messages, whole=False)
        if pause:
            await _sleep(pause)
        if failure is not None:
            raise failure
        final = self._message(messages, text)
        pieces = _PIECE.findall(final.content) or [final.content]
        for i, piece in enumerate(pieces):
            if i and self.token_delay:
                await _sleep(self.token_delay)
            yield _chunk(final, piece, last=i == len(pieces) - 1)


async def _sleep(seconds: float) -> None:
    import asyncio  # imported here: `import chainmagic.core` stays free of asyncio

    await asyncio.sleep(seconds)


def _chunk(final: AIMessage, piece: str, *, last: bool) -> AIMessageChunk:
    """A piece of ``final``; the last piece carries the metadata and usage, as OpenAI's streams do."""
    if not last:
        return AIMessageChunk(piece, id=final.id)
    return AIMessageChunk(
        piece,
        id=final.id,
        response_metadata=final.response_metadata,
        usage_metadata=final.usage_metadata,
    )
