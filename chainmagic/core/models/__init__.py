"""Chat models: the shared base, the offline fake model, and the provider registry."""

from chainmagic.core.models.base import BaseChatModel, count_tokens
from chainmagic.core.models.fake import FakeChatModel, FakeModelError
from chainmagic.core.models.registry import init_chat_model, register_provider

__all__ = [
    "BaseChatModel",
    "FakeChatModel",
    "FakeModelError",
    "count_tokens",
    "init_chat_model",
    "register_provider",
]
