"""``provider:model`` specs → chat models, so a chain can name a model by a string.

Providers register a factory; the built-in ones import their client library only when used.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

from chainmagic.core.models.base import BaseChatModel
from chainmagic.errors import ModelError

__all__ = ["init_chat_model", "providers", "register_provider"]

Factory = Callable[..., BaseChatModel]
_PROVIDERS: dict[str, Factory] = {}
_OPENAI_PREFIXES = ("gpt-", "o1", "o3", "o4", "chatgpt-")


def register_provider(name: str, factory: Factory) -> None:
    """Make ``init_chat_model("NAME:model")`` call ``factory(model, **kwargs)``."""
    _PROVIDERS[name] = factory


def providers() -> list[str]:
    return sorted(_PROVIDERS)


def split_spec(spec: str) -> tuple[str, str]:
    provider, sep, model = spec.partition(":")
    if not sep:
        if spec.startswith(_OPENAI_PREFIXES):
            return "openai", spec
        raise ModelError(
            f"model spec {spec!r} needs a provider: write 'provider:name', "
            f"e.g. 'openai:gpt-4o-mini' or 'fake:echo' (providers: {', '.join(providers())})"
        )
    return provider.strip(), model.strip()


def init_chat_model(spec: str, **kwargs: Any) -> BaseChatModel:
    """A chat model from a spec like ``"fake:echo"`` or ``"openai:gpt-4o-mini"``."""
    provider, model = split_spec(spec)
    factory = _PROVIDERS.get(provider)
    if factory is None:
        close = difflib.get_close_matches(provider, providers(), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(providers())})"
        raise ModelError(f"unknown model provider {provider!r}{hint}", provider=provider)
    return factory(model, **kwargs)


def _fake(model: str, **kwargs: Any) -> BaseChatModel:
    from chainmagic.core.models.fake import FakeChatModel

    return FakeChatModel(model=f"fake:{model or 'echo'}", **kwargs)


register_provider("fake", _fake)


def _openai(model: str, **kwargs: Any) -> BaseChatModel:
    from chainmagic.core.models.openai import DEFAULT_MODEL, ChatOpenAI

    return ChatOpenAI(model or DEFAULT_MODEL, **kwargs)


def _ollama(model: str, **kwargs: Any) -> BaseChatModel:
    """Ollama's OpenAI-compatible endpoint (``OLLAMA_HOST``, else ``localhost:11434``)."""
    from chainmagic.core.models.openai import ChatOpenAI

    return ChatOpenAI(model or "llama3.2", provider="ollama", **kwargs)


register_provider("openai", _openai)
register_provider("ollama", _ollama)
