"""The mock's behaviour: routing, auth, latency, injected faults, and the endpoints.

``OpenAIApp`` decides what to answer; ``server.OpenAIServer`` (a subclass) owns
the socket, the loop thread and the lifecycle. Every setting is a plain attribute
read per request, so tests can change ``latency``, ``replies`` or ``api_key`` on
a running server.
"""

from __future__ import annotations

import asyncio
import contextvars
import hmac
import json
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from chainmagic.testing import protocol, wire
from chainmagic.testing.replies import Replier, Replies
from chainmagic.testing.responses import send_error, send_failure, send_json, send_stream
from chainmagic.testing.state import Failure, Faults, RecordedRequest, Stats, StreamTiming

DEFAULT_MODELS = ("gpt-4o-mini", "text-embedding-3-small")
SPOILS = ("malformed", "no_choices")
LATENCY_HEADER = "x-mock-latency"
MODELS_CREATED = 1_700_000_000  # a fixed timestamp keeps /v1/models byte-for-byte stable

_FAILURE_MESSAGES = {
    429: "Rate limit reached for requests (injected by chainmagic.testing).",
    500: "The server had an error while processing your request (injected by chainmagic.testing).",
}
_NO_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization "
    "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
)
_BAD_KEY = (  # never includes the key it received: test logs must not leak secrets
    "Incorrect API key provided. You can find your API key at "
    "https://platform.openai.com/account/api-keys."
)

Handler = Callable[[Any, asyncio.StreamWriter, bool], Awaitable[bool]]
# The loop's time when the request being answered arrived (each connection is its own task, so
# its own context): a stream's timing is counted from it, as its latency is.
_ARRIVED: contextvars.ContextVar[float] = contextvars.ContextVar("arrived")


class _BadRequest(Exception):
    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message, self.param = message, param


class _NotFound(_BadRequest):
    pass


class OpenAIApp:
    """Configuration, counters and request handling of the mock OpenAI API."""

    def __init__(
        self,
        replies: Replies = None,
        *,
        models: Sequence[str] = DEFAULT_MODELS,
        latency: float = 0.0,
        chunk_delay: float = 0.0,
        api_key: str | None = None,
        embedding_dimensions: int = 64,
    ) -> None:
        #: Like llama.cpp's server: ``stream_options`` is ignored, so a stream reports no usage.
        self.ignore_stream_options = False
        #: Like a server without pooling: every embedding is one vector per token.
        self.embed_per_token = False
        #: Like a hosted API: a model not in ``models`` is refused (404, OpenAI's envelope).
        self.only_listed_models = False
        #: Like ``transformers serve`` or llama.cpp on a CPU: one request is answered at a time,
        #: the others wait their turn (they are accepted, not refused).
        self.one_at_a_time = False
        self._turn: asyncio.Lock | None = None
        self.replies = replies
        self.models = list(models)
        self.latency = latency
        self.chunk_delay = chunk_delay
        self.api_key = api_key
        self.embedding_dimensions = embedding_dimensions
        self._stats = Stats()
        self._faults = Faults()
        # Requests/s the server accepts (over the last second); more get a 429. None: no limit.
        self.rate_limit: float | None = None
        self.rate_limited = 0  # 429s sent because rate_limit was exceeded
        self._arrivals: deque[float] = deque()

    # -- settings -------------------------------------------------------------------

    @property
    def replies(self) -> Replies:
        """Echo (None), a list cycled, {regex: reply}, or ``callable(messages) -> str``."""
        return self._replier.source

    @replies.setter
    def replies(self, replies: Replies) -> None:
        self._replier = Replier(replies)

    def fail_next(
        self,
        count: int = 1,
        status: int = 429,
        retry_after: float | None = None,
        message: str | None = None,
        body: Any = None,
    ) -> None:
        """Make the next ``count`` authorized requests fail with ``status``.

        ``body`` replaces OpenAI's error envelope with what other servers send: a dict or list
        goes as JSON (FastAPI's ``{"detail": ...}``), a string as a plain-text page.

        ``retry_after`` is sent as ``Retry-After`` (seconds) and ``retry-after-ms``.
        The openai client only honours positive values; with 0 it falls back to its
        own exponential backoff (~0.5 s), so pass e.g. 0.01 for fast retry tests.
        """
        default = _FAILURE_MESSAGES.get(status, f"Injected failure with status {status}.")
        self._faults.fail_next(count, Failure(status, retry_after, message or default, body))

    def spoil_stream_next(self, count: int = 1, how: str = "malformed") -> None:
        """Make the next ``count`` streams go wrong the way some real servers' streams do.

        ``how`` is ``"malformed"`` (one event is not JSON) or ``"no_choices"`` (every chunk has
        an empty ``choices`` list, so no finish_reason ever comes; ``[DONE]`` ends it).
        """
        if how not in SPOILS:
            raise ValueError(f"how must be one of {', '.join(SPOILS)}, not {how!r}")
        self._faults.spoil_next(count, how)

    def cut_stream_next(self, count: int = 1, after_chunks: int = 1) -> None:
        """Make the next ``count`` streams drop the connection after ``after_chunks`` chunks.

        The role chunk counts as the first; no finish_reason and no ``[DONE]`` is sent.
        """
        self._faults.cut_next(count, after_chunks)

    # -- counters -------------------------------------------------------------------

    @property
    def requests(self) -> int:
        """All requests received, including rejected and failed ones."""
        return self._stats.requests

    @property
    def retries(self) -> int:
        """Requests the client marked as retries (``x-stainless-retry-count`` > 0)."""
        return self._stats.retries

    @property
    def in_flight(self) -> int:
        return self._stats.in_flight

    @property
    def max_in_flight(self) -> int:
        """Highest number of requests being handled at once since the last reset."""
        return self._stats.max_in_flight

    @property
    def counts(self) -> dict[str, int]:
        """Requests per path, e.g. ``{"/v1/chat/completions": 3}``."""
        return self._stats.counts

    @property
    def last_request(self) -> RecordedRequest | None:
        """Method, path, headers (no Authorization) and parsed JSON of the last request."""
        return self._stats.last_request

    @property
    def stream_timings(self) -> list[StreamTiming]:
        """When each streamed answer's writes left the server, counted from the request's
        arrival (the latest 1000, oldest first): what the server delivered of its schedule."""
        return self._stats.streams

    @property
    def pending_faults(self) -> tuple[int, int]:
        """(failures, stream cuts) armed but not yet consumed."""
        return self._faults.pending

    def reset(self) -> None:
        """Zero the counters, forget ``last_request`` and disarm pending faults."""
        self._stats.reset()
        self._faults.clear()
        self.rate_limited = 0
        self._arrivals.clear()

    # -- request handling -----------------------------------------------------------

    async def handle(self, request: wire.Request, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; return whether the connection may serve another."""
        try:
            payload: Any = json.loads(request.body) if request.body else None
            bad_json = False
        except (ValueError, UnicodeDecodeError):
            payload, bad_json = None, True
        self._stats.begin(request.method, request.path, request.headers, payload)
        try:
            if not self.one_at_a_time:
                return await self._answer(request, payload, bad_json, writer)
            if self._turn is None:  # made on the server's loop, by its only thread
                self._turn = asyncio.Lock()
            async with self._turn:
                return await self._answer(request, payload, bad_json, writer)
        finally:
            self._stats.end()

    async def _answer(
        self, request: wire.Request, payload: Any, bad_json: bool, writer: asyncio.StreamWriter
    ) -> bool:
        keep = request.keep_alive
        _ARRIVED.set(asyncio.get_running_loop().time())
        limited = self._over_rate()  # counted on arrival, answered after the latency
        delay = self._latency_for(request)
        if delay > 0:
            await asyncio.sleep(delay)
        auth_problem = self._auth_problem(request)
        if auth_problem:
            return await send_error(writer, 401, auth_problem, keep)
        failure = self._faults.take_failure()
        if failure is None and limited is not None:
            self.rate_limited += 1
            failure = limited
        if failure is not None:
            return await send_failure(writer, failure, keep)
        handler = self._route(request)
        if handler is None:
            message = f"Invalid URL ({request.method} {request.path})"
            return await send_error(writer, 404, message, keep)
        if bad_json:
            message = "We could not parse the JSON body of your request."
            return await send_error(writer, 400, message, keep)
        try:
            return await handler(payload, writer, keep)
        except _BadRequest as exc:
            status = 404 if isinstance(exc, _NotFound) else 400
            return await send_error(writer, status, exc.message, keep, param=exc.param)

    def _over_rate(self) -> Failure | None:
        """A 429 when more than ``rate_limit`` requests arrived in the last second."""
        limit = self.rate_limit
        if not limit:
            return None
        now = time.monotonic()
        arrivals = self._arrivals
        while arrivals and arrivals[0] <= now - 1.0:
            arrivals.popleft()
        if len(arrivals) >= limit:
            return Failure(429, 0.05, "Rate limit reached for requests (rate_limit of the mock).")
        arrivals.append(now)
        return None

    def _latency_for(self, request: wire.Request) -> float:
        """``x-mock-latency`` (seconds) overrides the global ``latency`` for one request."""
        header = request.headers.get(LATENCY_HEADER)
        if header is not None:
            try:
                return max(0.0, float(header))
            except ValueError:
                pass
        return max(0.0, self.latency)

    def _auth_problem(self, request: wire.Request) -> str | None:
        if not self.api_key:
            return None
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return _NO_KEY
        if not hmac.compare_digest(token.strip().encode(), self.api_key.encode()):
            return _BAD_KEY
        return None

    def _route(self, request: wire.Request) -> Handler | None:
        path = request.path.rstrip("/")
        if request.method == "POST" and path == "/v1/chat/completions":
            return self._chat
        if request.method == "POST" and path == "/v1/embeddings":
            return self._embeddings
        if request.method == "GET" and path == "/v1/models":
            return self._models
        if request.method == "GET" and path.startswith("/v1/models/"):
            name = path.removeprefix("/v1/models/")
            if name in self.models:
                return lambda _payload, writer, keep: self._model(name, writer, keep)
        return None

    # -- endpoints ------------------------------------------------------------------

    async def _chat(self, payload: Any, writer: asyncio.StreamWriter, keep: bool) -> bool:
        body = _require_object(payload)
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _BadRequest("'messages' is a required property.", "messages")
        model = self._known_model(body)
        max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
        if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
            raise _BadRequest("'max_tokens' must be a positive integer.", "max_tokens")
        try:
            reply = self._replier(messages)
        except Exception as exc:  # a broken reply function is the test's bug: say so
            message = f"reply function raised {type(exc).__name__}: {exc}"
            return await send_error(writer, 500, message, keep)
        completion = protocol.plan_completion(reply, messages, model, max_tokens)
        if not body.get("stream"):
            return await send_json(writer, 200, protocol.chat_completion(completion), keep)
        options = body.get("stream_options") or {}
        include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
        include_usage = include_usage and not self.ignore_stream_options
        stream = protocol.chat_stream(completion, include_usage=include_usage)
        written: list[float] = []
        try:
            return await send_stream(
                writer,
                stream,
                keep,
                chunk_delay=self.chunk_delay,
                cut_after=self._faults.take_cut(),
                spoil=self._faults.take_spoiled(),
                written=written,
            )
        finally:
            arrived = _ARRIVED.get(None)
            if arrived is not None and written:
                self._stats.streamed(StreamTiming(tuple(t - arrived for t in written)))

    async def _embeddings(self, payload: Any, writer: asyncio.StreamWriter, keep: bool) -> bool:
        body = _require_object(payload)
        model = self._known_model(body)
        try:
            items = protocol.embedding_inputs(body.get("input"))
        except ValueError as exc:
            raise _BadRequest(str(exc), "input") from None
        dimensions = body.get("dimensions", self.embedding_dimensions)
        if not isinstance(dimensions, int) or not 1 <= dimensions <= 16384:
            raise _BadRequest("'dimensions' must be an integer from 1 to 16384.", "dimensions")
        encoding = body.get("encoding_format") or "float"
        if encoding not in ("float", "base64"):
            raise _BadRequest("'encoding_format' must be 'float' or 'base64'.", "encoding_format")
        response = protocol.embeddings(
            items, model=model, dimensions=dimensions, encoding_format=encoding
        )
        if self.embed_per_token:
            for item, source in zip(response["data"], items):
                words = max(1, len(protocol.split_tokens(source)) if isinstance(source, str) else 1)
                item["embedding"] = [
                    protocol.embed(f"{source} {n}", dimensions) for n in range(words)
                ]
        return await send_json(writer, 200, response, keep)

    def _known_model(self, body: dict[str, Any]) -> str:
        model = _require_model(body)
        if self.only_listed_models and model not in self.models:
            raise _NotFound(f"The model `{model}` does not exist or you do not have access to it.")
        return model

    async def _models(self, _payload: Any, writer: asyncio.StreamWriter, keep: bool) -> bool:
        models = protocol.model_list(self.models, MODELS_CREATED)
        return await send_json(writer, 200, models, keep)

    async def _model(self, name: str, writer: asyncio.StreamWriter, keep: bool) -> bool:
        return await send_json(writer, 200, protocol.model_object(name, MODELS_CREATED), keep)


def _require_object(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise _BadRequest("The request body must be a JSON object.")
    return payload


def _require_model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _BadRequest("'model' is a required property.", "model")
    return model
