"""What every chat model shares: reading its input as messages, and the four ways to call it.

A provider implements ``_generate``/``_agenerate`` (one answer) and ``_chunks``/``_achunks``
(a stream of :class:`AIMessageChunk`). Token counts that a provider does not report come from
:func:`count_tokens`, an offline heuristic (tokenizers that download their tables fail offline).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from functools import partial
from typing import Any

from chainmagic.core import retries
from chainmagic.core.aio import in_thread, transform_in_thread
from chainmagic.core.events import Run
from chainmagic.core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
)
from chainmagic.core.runnable import Runnable

__all__ = ["BaseChatModel", "count_tokens", "to_messages", "usage"]

_TOKEN = re.compile(r"\w+|[^\w\s]")
_ROLES = {"human": HumanMessage, "user": HumanMessage, "system": SystemMessage, "ai": AIMessage}


def count_tokens(text: str) -> int:
    """About how many tokens ``text`` is: words and punctuation marks (offline, no tables)."""
    return len(_TOKEN.findall(text))


def usage(messages: Sequence[BaseMessage], answer: str) -> dict[str, int]:
    prompt = sum(count_tokens(m.text) for m in messages)
    completion = count_tokens(answer)
    return {
        "input_tokens": prompt,
        "output_tokens": completion,
        "total_tokens": prompt + completion,
    }


def to_messages(input: Any) -> list[BaseMessage]:
    """A model's input as messages: a prompt value, a string, messages, or (role, text) pairs."""
    if isinstance(input, str):
        return [HumanMessage(input)]
    if isinstance(input, BaseMessage):
        return [input]
    to_msgs = getattr(input, "to_messages", None)
    if callable(to_msgs):
        return list(to_msgs())
    if isinstance(input, (list, tuple)):
        out: list[BaseMessage] = []
        for item in input:
            if isinstance(item, BaseMessage):
                out.append(item)
            elif isinstance(item, str):
                out.append(HumanMessage(item))
            elif isinstance(item, tuple) and len(item) == 2 and item[0] in _ROLES:
                out.append(_ROLES[item[0]](str(item[1])))
            else:
                raise TypeError(f"a chat model cannot read a {type(item).__name__} as a message")
        return out
    if isinstance(input, Mapping):
        keys = ", ".join(repr(k) for k in list(input)[:5])
        raise TypeError(
            f"a chat model needs a prompt, messages or a string, got a dict ({keys}); "
            "put a prompt before the model"
        )
    raise TypeError(
        f"a chat model needs a prompt, messages or a string, got {type(input).__name__}"
    )


class BaseChatModel(Runnable):
    """A chat model as a step: input → messages → an :class:`AIMessage` (or chunks, streaming)."""

    model_name: str = "model"
    # Something with ``acquire(messages)``/``aacquire(messages)`` before a call (returning a
    # ticket) and ``release(ticket, usage)`` after it, that paces this model's calls (e.g. one
    # rate limit shared by every process of a distributed batch); None costs one attribute read.
    rate_limiter: Any = None

    def _generate(self, messages: list[BaseMessage]) -> AIMessage:
        raise NotImplementedError

    async def _agenerate(self, messages: list[BaseMessage]) -> AIMessage:
        """A sync-only provider still works in async chains: its call runs on the pool."""
        return await in_thread(partial(self._generate, messages))

    def _chunks(self, messages: list[BaseMessage]) -> Iterator[AIMessageChunk]:
        yield _as_chunk(self._generate(messages))

    async def _achunks(self, messages: list[BaseMessage]) -> AsyncIterator[AIMessageChunk]:
        if (
            type(self)._chunks is not BaseChatModel._chunks
        ):  # a sync stream: bridge it, token by token
            async for chunk in transform_in_thread(lambda _: self._chunks(messages), _nothing()):
                yield chunk
            return
        yield _as_chunk(await self._agenerate(messages))

    def _with_kwargs(self, kwargs: dict[str, Any]) -> Runnable:
        """``model.bind(stop=[...], max_tokens=...)``: a copy with those call options set.

        Options the model does not know go to its ``model_kwargs`` when it has them (sent to the
        provider as they are); otherwise they are refused, naming the option.
        """
        import copy

        new = copy.copy(self)
        for key, given in kwargs.items():
            value = given
            if key == "stop":
                value = [given] if isinstance(given, str) else list(given or [])
            if key.startswith("_") or not hasattr(self, key) or callable(getattr(self, key)):
                extra = getattr(new, "model_kwargs", None)
                if not isinstance(extra, dict):
                    raise TypeError(f"{self.name} has no option {key!r} to bind")
                new.model_kwargs = {**extra, key: value}  # type: ignore[attr-defined]
                continue
            setattr(new, key, value)
        return new

    def _attempts(self) -> int:
        """How many times a call is tried (1: never retried). A served model overrides it."""
        return 1

    def _invoke(self, input: Any, run: Run | None) -> AIMessage:
        messages = to_messages(input)
        attempts = self._attempts()
        if attempts == 1:
            return self._generate_paced(messages)
        return retries.call_with_retries(
            partial(self._generate_paced, messages),
            attempts=attempts,
            on_retry=self._announcer(run),
        )

    async def _ainvoke(self, input: Any, run: Run | None) -> AIMessage:
        messages = to_messages(input)
        attempts = self._attempts()
        if attempts == 1:
            return await self._agenerate_paced(messages)
        return await retries.acall_with_retries(
            partial(self._agenerate_paced, messages),
            attempts=attempts,
            on_retry=self._announcer(run),
        )

    def _stream(self, input: Any, run: Run | None) -> Iterator[AIMessageChunk]:
        messages = to_messages(input)
        attempts = self._attempts()
        if attempts == 1:
            return self._chunks_paced(messages)
        return retries.stream_with_retries(
            partial(self._chunks_paced, messages),
            attempts=attempts,
            on_retry=self._announcer(run),
        )

    def _astream(self, input: Any, run: Run | None) -> AsyncIterator[AIMessageChunk]:
        messages = to_messages(input)
        attempts = self._attempts()
        if attempts == 1:
            return self._achunks_paced(messages)
        return retries.astream_with_retries(
            partial(self._achunks_paced, messages),
            attempts=attempts,
            on_retry=self._announcer(run),
        )

    def _announcer(self, run: Run | None) -> Any:
        """Each retry, told to whoever watches the run (the live view shows it as it happens)."""
        if run is None:
            return None
        return partial(run.emit, "retry", step=self)

    # -- one attempt, under the shared rate limit when there is one -------------------------------
    # The limiter sees the messages before the call (to reserve their tokens) and the usage after
    # it (to settle the reservation with what the call really used; None when it failed).

    def _generate_paced(self, messages: list[BaseMessage]) -> AIMessage:
        limiter = self.rate_limiter
        if limiter is None:
            return self._generate(messages)
        ticket = limiter.acquire(messages)
        answer = None
        try:
            answer = self._generate(messages)
            return answer
        finally:
            limiter.release(ticket, answer.usage_metadata if answer is not None else None)

    async def _agenerate_paced(self, messages: list[BaseMessage]) -> AIMessage:
        limiter = self.rate_limiter
        if limiter is None:
            return await self._agenerate(messages)
        ticket = await limiter.aacquire(messages)
        answer = None
        try:
            answer = await self._agenerate(messages)
            return answer
        finally:
            limiter.release(ticket, answer.usage_metadata if answer is not None else None)

    def _chunks_paced(self, messages: list[BaseMessage]) -> Iterator[AIMessageChunk]:
        if self.rate_limiter is None:
            return self._chunks(messages)
        return self._paced(messages)

    def _paced(self, messages: list[BaseMessage]) -> Iterator[AIMessageChunk]:
        limiter = self.rate_limiter
        ticket = limiter.acquire(messages)
        used = None
        try:
            for chunk in self._chunks(messages):
                used = chunk.usage_metadata or used  # a stream reports its usage at the end
                yield chunk
        finally:
            limiter.release(ticket, used)

    def _achunks_paced(self, messages: list[BaseMessage]) -> AsyncIterator[AIMessageChunk]:
        if self.rate_limiter is None:
            return self._achunks(messages)
        return self._apaced(messages)

    async def _apaced(self, messages: list[BaseMessage]) -> AsyncIterator[AIMessageChunk]:
        limiter = self.rate_limiter
        ticket = await limiter.aacquire(messages)
        used = None
        try:
            async for chunk in self._achunks(messages):
                used = chunk.usage_metadata or used
                yield chunk
        finally:
            limiter.release(ticket, used)


async def _nothing() -> AsyncIterator[Any]:
    return
    yield


def _as_chunk(message: AIMessage) -> AIMessageChunk:
    return AIMessageChunk(
        message.content,
        id=message.id,
        response_metadata=message.response_metadata,
        usage_metadata=message.usage_metadata,
    )
