"""The ``openai`` clients behind :class:`ChatOpenAI` and :class:`OpenAIEmbeddings`.

Shared here because both talk to the same servers with the same credentials, and because three
facts about openai 3.x shape how clients must be held:

- ``import openai`` costs ~0.5 s and building a client ~30 ms, so nothing is imported or built
  until the first call, and clients are cached by connection settings: every model and embedder
  that points at the same server with the same key shares one connection pool.
- A sync ``OpenAI`` client (its ``httpx2`` pool) is thread-safe: one serves every thread.
- An ``AsyncOpenAI`` client is bound to the event loop it first ran on (from another loop it fails
  with "Event loop is closed"), so async clients are cached per running loop, and closed when
  that loop shuts down.

The API key lives in a :class:`Secret` whose repr is masked, and every error message is scrubbed of
it (:mod:`chainmagic.core.openai_errors`): no key reaches a repr, an error, a log or a notebook.
"""

from __future__ import annotations

import asyncio
import os
import threading
import weakref
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

from chainmagic.core.openai_errors import ModelErrors
from chainmagic.errors import MASK, MissingCredentialsError, redact
from chainmagic.secrets import is_secret_name

__all__ = [
    "DEFAULT_TIMEOUT",
    "ClientSettings",
    "Connection",
    "Secret",
    "async_client",
    "settings",
    "sync_client",
]

DEFAULT_TIMEOUT = 30.0  # per attempt; a timeout is not retried, so a silent server fails in 30 s
OPENAI_URL = "https://api.openai.com/v1"
SERVED_MODELS_TIMEOUT = 3.0  # asking a server which models it has, after it refused one
PLACEHOLDER_KEY = "not-needed"  # 3.x rejects an empty key; local servers ignore whatever is sent
_MASK = MASK


class Secret:
    """A string that never shows itself: ``repr``/``str`` give a mask, ``.get()`` the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({_MASK!r})"

    def __str__(self) -> str:
        return _MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> Any:  # pickling a model must not write its key to disk
        raise TypeError("a Secret (an API key) cannot be pickled")


def _ollama_url() -> str:
    host = os.environ.get("OLLAMA_HOST", "").strip()
    if not host:
        return "http://localhost:11434/v1"
    if "://" not in host:
        host = f"http://{host}"
    return host.rstrip("/") + "/v1"


@dataclass(frozen=True)
class _Provider:
    """Where a provider lives by default and which variables configure it."""

    default_url: Any  # a URL, or a function of the environment giving one
    key_variable: str | None  # None: a local server, no key needed
    url_variable: str | None


_PROVIDERS: dict[str, _Provider] = {
    "openai": _Provider(OPENAI_URL, "OPENAI_API_KEY", "OPENAI_BASE_URL"),
    "ollama": _Provider(_ollama_url, None, None),
}


@dataclass(frozen=True)
class ClientSettings:
    """Everything that selects a client; equal settings share one client (and its pool)."""

    provider: str
    base_url: str
    api_key: Secret = field(repr=False)
    timeout: float | None
    max_retries: int
    headers: tuple[tuple[str, str], ...] = ()

    @cached_property
    def is_openai(self) -> bool:
        host = urlsplit(self.base_url).hostname or ""
        return host == "openai.com" or host.endswith(".openai.com")

    @cached_property
    def who(self) -> str:
        """How errors name the server: ``openai``, ``ollama at URL`` or ``the server at URL``."""
        if self.is_openai:
            return self.provider
        if self.provider != "openai":
            return f"{self.provider} at {self.base_url}"
        return f"the server at {self.base_url}"

    def scrub(self, text: str) -> str:
        """``text`` without the key (nor anything that looks like an OpenAI key)."""
        key = self.api_key.get()
        if len(key) >= 4:
            text = text.replace(key, _MASK)
        return redact(text)


def settings(
    provider: str,
    *,
    base_url: str | None,
    api_key: str | Secret | None,
    timeout: float | None,
    max_retries: int,
    default_headers: Mapping[str, str] | None,
) -> ClientSettings:
    """Resolve arguments and the environment into client settings, at call time.

    Read when first needed rather than at construction, so a key set after the model was made
    still counts. No key for OpenAI's own API raises :class:`MissingCredentialsError`; a local
    server (any other ``base_url``) gets a placeholder key.
    """
    known = _PROVIDERS.get(provider, _PROVIDERS["openai"])
    url = base_url or (os.environ.get(known.url_variable) if known.url_variable else None)
    if not url:
        url = known.default_url() if callable(known.default_url) else known.default_url
    url = url.rstrip("/")
    key: str | None
    if isinstance(api_key, Secret):
        key = api_key.get()
    else:
        key = api_key or (os.environ.get(known.key_variable) if known.key_variable else None)
    result = ClientSettings(
        provider=provider,
        base_url=url,
        api_key=Secret(key or PLACEHOLDER_KEY),
        timeout=timeout,
        max_retries=max_retries,
        headers=tuple(sorted((default_headers or {}).items())),
    )
    if not key and result.is_openai:
        raise MissingCredentialsError(
            known.key_variable or "OPENAI_API_KEY",
            provider,
            hint="or pass api_key=...; for a local server pass base_url=...",
        )
    return result


_lock = threading.Lock()
_sync_clients: dict[ClientSettings, Any] = {}
_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Any, Any]]
_async_clients = weakref.WeakKeyDictionary()


def _client_kwargs(s: ClientSettings) -> dict[str, Any]:
    return {
        "api_key": s.api_key.get(),
        "base_url": s.base_url,
        "timeout": s.timeout,
        "max_retries": s.max_retries,
        "default_headers": dict(s.headers) or None,
    }


def sync_client(s: ClientSettings) -> Any:
    """The shared ``openai.OpenAI`` client for these settings (built on first use)."""
    client = _sync_clients.get(s)
    if client is None:
        with _lock:
            client = _sync_clients.get(s)
            if client is None:
                import openai

                client = openai.OpenAI(**_client_kwargs(s))
                _sync_clients[s] = client
    return client


async def async_client(s: ClientSettings) -> Any:
    """The ``openai.AsyncOpenAI`` client for these settings on the running event loop."""
    loop = asyncio.get_running_loop()
    per_loop = _async_clients.get(loop)
    client = per_loop.get(s) if per_loop is not None else None
    if client is not None:
        return client
    with _lock:
        # Clients of loops that have been closed cannot be used again: let them go.
        for old in [old for old in _async_clients if old.is_closed()]:
            del _async_clients[old]
        per_loop = _async_clients.setdefault(loop, {})
    import openai

    client = openai.AsyncOpenAI(**_client_kwargs(s))
    closer = _closer(client)
    await closer.__anext__()
    per_loop[s] = client
    per_loop[_CLOSERS, s] = closer
    return client


_CLOSERS = object()


async def _closer(client: Any) -> AsyncIterator[None]:
    """Closes ``client`` when its loop shuts down.

    A loop has no "closing" hook, but ``asyncio.run`` (and every runner) closes the async
    generators it started, on the loop, just before closing it: this one waits there, so the
    client's connections are closed properly instead of being left for the garbage collector.
    """
    try:
        yield
    finally:
        await client.close()


class Connection:
    """One model's (or embedder's) way to its server: settings resolved and clients fetched lazily.

    The settings are resolved on the first call and then kept, so the environment is read once
    and a missing key is reported when the model is used, not when it is built (a chain can be
    drawn, or fall back to another model, without a key).
    """

    __slots__ = (
        "_resolved",
        "_sync",
        "api_key",
        "base_url",
        "headers",
        "max_retries",
        "provider",
        "timeout",
    )

    def __init__(
        self,
        provider: str,
        *,
        base_url: str | None,
        api_key: str | None,
        timeout: float | None,
        max_retries: int,
        default_headers: Mapping[str, str] | None,
    ) -> None:
        self.provider = provider
        self.base_url = base_url
        self.api_key = Secret(api_key) if api_key else None
        self.timeout = timeout
        self.max_retries = max_retries
        self.headers = dict(default_headers) if default_headers else None
        self._resolved: ClientSettings | None = None
        self._sync: Any = None

    def settings(self) -> ClientSettings:
        if self._resolved is None:
            self._resolved = settings(
                self.provider,
                base_url=self.base_url,
                api_key=self.api_key,
                timeout=self.timeout,
                max_retries=self.max_retries,
                default_headers=self.headers,
            )
        return self._resolved

    def sync(self) -> Any:
        client = self._sync
        if client is None:
            client = self._sync = sync_client(self.settings())
        return client

    async def async_(self) -> Any:
        return await async_client(self.settings())

    @property
    def resolved(self) -> ClientSettings | None:
        """The settings, once the first call has resolved them."""
        return self._resolved

    def errors(self, *, streaming: bool = False, model: str | None = None) -> ModelErrors:
        """A ``with`` block that re-raises openai's errors as :class:`ModelError` (cause kept).

        ``model`` (the model the request names) lets a refusal say which models the server has.
        """
        return ModelErrors(self, streaming, model)

    def served_models(self) -> list[str] | None:
        """The model names the server lists at ``GET /models``, or None if it cannot say.

        Asked only after a refused request, to tell "no such model" from other refusals; a
        short timeout and no retries, since the user is already waiting for an error.
        """
        try:
            client = self.sync().with_options(timeout=SERVED_MODELS_TIMEOUT, max_retries=0)
            return sorted(str(item.id) for item in client.models.list().data)
        except Exception:
            return None

    def __repr__(self) -> str:
        return f"Connection({self.provider!r}, base_url={redact(str(self.base_url))!r})"

    def __getstate__(self) -> dict[str, Any]:
        """What a pickle keeps: never a credential (a key, a secret header, a key in the URL).

        An unpickled model (a Dask worker's, a cached one) reads its key from the environment
        again, as a model built without ``api_key=`` does.
        """
        headers = {k: v for k, v in (self.headers or {}).items() if not is_secret_name(k)}
        return {
            "provider": self.provider,
            "base_url": redact(self.base_url) if self.base_url else self.base_url,
            "timeout": self.timeout,
            "max_retries": self.max_retries,
            "headers": headers or None,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.provider = state["provider"]
        self.base_url = state["base_url"]
        self.api_key = None
        self.timeout = state["timeout"]
        self.max_retries = state["max_retries"]
        self.headers = state["headers"]
        self._resolved = None
        self._sync = None
