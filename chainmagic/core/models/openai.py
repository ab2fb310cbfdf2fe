"""``ChatOpenAI``: OpenAI's Chat Completions API, or any server that speaks it, as a chat model.

Ollama, vLLM, llama.cpp's server and LM Studio all speak this API, so one class covers them through
``base_url`` (or ``OPENAI_BASE_URL``); ``init_chat_model("ollama:llama3.2")`` is the same class
pointed at Ollama's default address. The official ``openai`` package does the HTTP, retries and
backoff; clients are built on the first call and shared (see :mod:`chainmagic.core.openai_client`),
so constructing a model costs nothing and never imports ``openai``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

from chainmagic.core.events import Run
from chainmagic.core.messages import AIMessage, AIMessageChunk, BaseMessage
from chainmagic.core.models.base import BaseChatModel, usage
from chainmagic.core.openai_client import DEFAULT_TIMEOUT, ClientSettings, Connection
from chainmagic.core.retries import retry_reason
from chainmagic.errors import ModelError
from chainmagic.secrets import redact

__all__ = ["ChatOpenAI"]

DEFAULT_MODEL = "gpt-4o-mini"
# LangChain's spellings, so code written for langchain-openai runs unchanged.
_ALIASES = {
    "model_name": "model",
    "openai_api_key": "api_key",
    "openai_api_base": "base_url",
    "request_timeout": "timeout",
    "max_completion_tokens": "max_tokens",
}


class ChatOpenAI(BaseChatModel):
    """A chat model served over the OpenAI Chat Completions API.

    Sampling parameters left as ``None`` are not sent, so a server applies its own defaults (and
    servers that do not know a parameter never see it). ``timeout`` (seconds per attempt) defaults
    to 30, not openai's 600, and a timeout is not retried: a server that never answers fails in 30 s,
    not 3 × 600. ``max_retries`` (default 2) retries rate limits, 5xx, refused connections and
    streams cut before their first token, with backoff honouring ``Retry-After``; each retry is an
    event the live view shows ("retrying after 429, 1/2"). ``extra_body`` and
    ``model_kwargs`` pass anything else through to the request: keys of ``model_kwargs`` that the
    ``openai`` client does not know as parameters travel in the request body, as ``extra_body``.

    ``response_metadata`` says ``finish_reason`` (``"length"``: cut by ``max_tokens``), and
    ``usage_estimated: True`` when the server reported no usage and the tokens were counted here.
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        top_p: float | None = None,
        stop: str | Sequence[str] | None = None,
        seed: int | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        base_url: str | None = None,
        api_key: str | None = None,
        default_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        model_kwargs: Mapping[str, Any] | None = None,
        stream_usage: bool = True,
        provider: str = "openai",
        name: str | None = None,
        **aliases: Any,
    ) -> None:
        if aliases:
            renamed = _unalias(aliases)
            model = renamed.get("model", model)
            api_key = renamed.get("api_key", api_key)
            base_url = renamed.get("base_url", base_url)
            timeout = renamed.get("timeout", timeout)
            max_tokens = renamed.get("max_tokens", max_tokens)
        self.model_name = model
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.top_p = top_p
        self.stop = [stop] if isinstance(stop, str) else list(stop) if stop else None
        self.seed = seed
        self.extra_body = dict(extra_body) if extra_body else None
        self.model_kwargs = dict(model_kwargs) if model_kwargs else {}
        self.stream_usage = stream_usage
        self.label = name
        if not isinstance(max_retries, int) or max_retries < 0:
            raise ValueError(f"max_retries={max_retries!r}: a whole number, 0 or more")
        # chainmagic retries itself (core/retries.py), so that each retry is an event the live
        # view shows; the openai client is told never to retry on its own.
        self._retries = max_retries
        self._connection = Connection(
            provider,
            base_url=base_url,
            api_key=api_key,
            timeout=timeout,
            max_retries=0,
            default_headers=default_headers,
        )

    @property
    def model(self) -> str:
        return self.model_name

    @property
    def provider(self) -> str:
        return self._connection.provider

    @property
    def base_url(self) -> str | None:
        return self._connection.base_url

    @property
    def timeout(self) -> float | None:
        return self._connection.timeout

    @property
    def max_retries(self) -> int:
        return self._retries

    def _attempts(self) -> int:
        return self._retries + 1

    def _invoke(self, input: Any, run: Run | None) -> AIMessage:
        with _retries_said(self._retries):
            return super()._invoke(input, run)

    async def _ainvoke(self, input: Any, run: Run | None) -> AIMessage:
        with _retries_said(self._retries):
            return await super()._ainvoke(input, run)

    def _default_name(self) -> str:
        return "ChatOpenAI"

    def __repr__(self) -> str:
        if self.label:
            return self.label
        where = f", base_url={redact(self.base_url)!r}" if self.base_url else ""
        if self.provider != "openai":
            where += f", provider={self.provider!r}"
        return f"ChatOpenAI({self.model_name!r}{where})"

    # -- the request ----------------------------------------------------------------------------

    def _body(self, messages: list[BaseMessage]) -> dict[str, Any]:
        """The keyword arguments of ``chat.completions.create`` for these messages."""
        request: dict[str, Any] = {
            "model": self.model_name,
            "messages": [m.to_openai() for m in messages],
        }
        # OpenAI's newer models reject max_tokens; local servers may not know its successor.
        tokens = "max_completion_tokens" if self._connection.settings().is_openai else "max_tokens"
        sampling = {
            "temperature": self.temperature,
            tokens: self.max_tokens,
            "top_p": self.top_p,
            "stop": self.stop,
            "seed": self.seed,
        }
        request.update({k: v for k, v in sampling.items() if v is not None})
        extra = dict(self.extra_body) if self.extra_body else {}
        if self.model_kwargs:
            known = _create_parameters()
            for key, value in self.model_kwargs.items():
                if key in known:
                    request[key] = value
                else:  # the client would raise TypeError; the server may well know it
                    extra[key] = value
        if extra:
            request["extra_body"] = extra
        return request

    def _stream_body(self, messages: list[BaseMessage]) -> dict[str, Any]:
        body = self._body(messages)
        body["stream"] = True
        if self.stream_usage:
            body["stream_options"] = {"include_usage": True}
        return body

    # -- one answer ------------------------------------------------------------------------------

    def _generate(self, messages: list[BaseMessage]) -> AIMessage:
        with self._connection.errors(model=self.model_name):
            body = self._body(messages)
            response = self._connection.sync().chat.completions.create(**body)
        return self._message(messages, response)

    async def _agenerate(self, messages: list[BaseMessage]) -> AIMessage:
        with self._connection.errors(model=self.model_name):
            body = self._body(messages)
            client = await self._connection.async_()
            response = await client.chat.completions.create(**body)
        return self._message(messages, response)

    def _message(self, messages: list[BaseMessage], response: Any) -> AIMessage:
        if not response.choices:
            who = self._connection.settings().who
            raise ModelError(f"{who} returned no choices", provider=self.provider)
        choice = response.choices[0]
        text = choice.message.content or ""
        reported = _usage(response.usage)
        return AIMessage(
            text,
            id=response.id,
            response_metadata=_metadata(
                response.model or self.model_name, choice.finish_reason, reported is None
            ),
            usage_metadata=reported or usage(messages, text),
        )

    # -- a stream --------------------------------------------------------------------------------

    def _chunks(self, messages: list[BaseMessage]) -> Iterator[AIMessageChunk]:
        tail = _Tail(self.model_name)
        with self._connection.errors(streaming=True, model=self.model_name) as guard:
            body = self._stream_body(messages)
            with self._connection.sync().chat.completions.create(**body) as stream:
                guard.started = True
                for chunk in stream:
                    piece = tail.read(chunk)
                    if piece is not None:
                        yield piece
        yield tail.final(messages, self._connection.settings())

    async def _achunks(self, messages: list[BaseMessage]) -> AsyncIterator[AIMessageChunk]:
        tail = _Tail(self.model_name)
        with self._connection.errors(streaming=True, model=self.model_name) as guard:
            body = self._stream_body(messages)
            client = await self._connection.async_()
            stream = await client.chat.completions.create(**body)
            guard.started = True
            async with stream:
                async for chunk in stream:
                    piece = tail.read(chunk)
                    if piece is not None:
                        yield piece
        yield tail.final(messages, self._connection.settings())


class _Tail:
    """Reads a stream's chunks: passes text on, keeps the finish reason and usage for the end.

    The metadata arrives in one or two trailing chunks (finish_reason, then usage when asked), so
    it is gathered and sent as one last empty chunk once the stream has ended. A stream that ends
    without a finish reason was cut short, and is an error rather than a silently partial answer;
    one whose chunks never carried a choice is a server that streams something else.
    """

    __slots__ = ("choices", "chunks", "finish_reason", "id", "model", "text", "usage")

    def __init__(self, model: str) -> None:
        self.model = model
        self.id: str | None = None
        self.finish_reason: str | None = None
        self.usage: dict[str, int] | None = None
        self.text: list[str] = []
        self.chunks = 0  # chunks received
        self.choices = 0  # of which carried a choice

    def read(self, chunk: Any) -> AIMessageChunk | None:
        self.chunks += 1
        self.id = self.id or chunk.id
        if chunk.model:
            self.model = chunk.model
        if chunk.usage is not None:
            self.usage = _usage(chunk.usage)
        if not chunk.choices:
            return None
        self.choices += 1
        choice = chunk.choices[0]
        if choice.finish_reason:
            self.finish_reason = choice.finish_reason
        text = choice.delta.content if choice.delta is not None else None
        if not text:
            return None
        self.text.append(text)
        return AIMessageChunk(text, id=self.id)

    def final(self, messages: list[BaseMessage], server: ClientSettings) -> AIMessageChunk:
        if self.finish_reason is None:
            if self.chunks and not self.choices:
                problem = f"sent a stream of {self.chunks} chunk(s) without any choices"
            elif not self.chunks:
                problem = "ended the stream before sending anything (no finish_reason)"
            else:
                problem = "ended the stream before the answer was finished (no finish_reason)"
            error = ModelError(server.scrub(f"{server.who} {problem}"), provider=server.provider)
            if not self.text:  # nothing was shown yet: another attempt loses nothing
                error.retry_reason = "dropped stream"  # type: ignore[attr-defined]
            raise error
        return AIMessageChunk(
            "",
            id=self.id,
            response_metadata=_metadata(self.model, self.finish_reason, self.usage is None),
            usage_metadata=self.usage or usage(messages, "".join(self.text)),
        )


class _retries_said:
    """A model error that survived every retry says how many there were (``... after 2 retries``)."""

    __slots__ = ("retries",)

    def __init__(self, retries: int) -> None:
        self.retries = retries

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, error: Any, tb: Any) -> None:
        if (
            self.retries
            and isinstance(error, ModelError)
            and retry_reason(error) is not None
            and error.args
            and isinstance(error.args[0], str)
            and "retries" not in error.args[0]
        ):
            error.args = (_say_retries(error.args[0], error.status, self.retries), *error.args[1:])


def _say_retries(message: str, status: int | None, retries: int) -> str:
    """``kept rate-limiting (429): ...`` → ``kept rate-limiting (429) after 2 retries: ...``."""
    said = f" after {retries} retries"
    if status is not None and f"({status})" in message:
        return message.replace(f"({status})", f"({status}){said}", 1)
    head, sep, tail = message.partition(": ")
    return f"{head}{said}{sep}{tail}"


def _unalias(aliases: Mapping[str, Any]) -> dict[str, Any]:
    renamed = {}
    for alias, value in aliases.items():
        if alias not in _ALIASES:
            raise TypeError(f"ChatOpenAI() got an unexpected keyword argument {alias!r}")
        renamed[_ALIASES[alias]] = value
    return renamed


def _metadata(model: str, finish_reason: str | None, estimated: bool) -> dict[str, Any]:
    """``response_metadata``; ``usage_estimated`` only when the tokens were counted here."""
    meta: dict[str, Any] = {"model_name": model, "finish_reason": finish_reason}
    if estimated:
        meta["usage_estimated"] = True
    return meta


_PARAMETERS: frozenset[str] | None = None


def _create_parameters() -> frozenset[str]:
    """The keyword arguments ``chat.completions.create`` accepts (read once from openai itself)."""
    global _PARAMETERS
    if _PARAMETERS is None:
        import inspect

        from openai.resources.chat.completions import Completions

        _PARAMETERS = frozenset(inspect.signature(Completions.create).parameters) - {"self"}
    return _PARAMETERS


def _usage(raw: Any) -> dict[str, int] | None:
    """OpenAI's usage as LCEL's ``usage_metadata`` (None when the server reported none)."""
    if raw is None:
        return None
    prompt = raw.prompt_tokens or 0
    completion = raw.completion_tokens or 0
    return {
        "input_tokens": prompt,
        "output_tokens": completion,
        "total_tokens": raw.total_tokens or prompt + completion,
    }
