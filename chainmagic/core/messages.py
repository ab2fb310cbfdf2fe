"""Chat messages: what prompts produce and chat models consume and return.

Plain objects with LCEL's names and fields, so LangChain users find what they know. Chunks add up
with ``+`` (that is how a streamed answer becomes one message). Reprs show content, never secrets.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "AIMessage",
    "AIMessageChunk",
    "BaseMessage",
    "HumanMessage",
    "SystemMessage",
    "add_usage",
    "message_text",
]


class BaseMessage:
    """A message with a role (``type``), text ``content`` and optional metadata."""

    type: ClassVar[str] = "base"
    role: ClassVar[str] = "user"
    __slots__ = ("additional_kwargs", "content", "id", "name")

    def __init__(
        self,
        content: str = "",
        *,
        id: str | None = None,
        name: str | None = None,
        additional_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.content = content
        self.id = id
        self.name = name
        self.additional_kwargs = additional_kwargs or {}

    @property
    def text(self) -> str:
        return message_text(self.content)

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self) and other.content == self.content and other.name == self.name
        )

    def __hash__(self) -> int:
        return hash((type(self), str(self.content)))

    def __repr__(self) -> str:
        extra = f", name={self.name!r}" if self.name else ""
        return f"{type(self).__name__}(content={self.content!r}{extra})"

    def __str__(self) -> str:
        return self.text

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "content": self.content}
        if self.name:
            out["name"] = self.name
        return out

    def to_openai(self) -> dict[str, Any]:
        out: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.name:
            out["name"] = self.name
        return out


class HumanMessage(BaseMessage):
    type = "human"
    role = "user"
    __slots__ = ()


class SystemMessage(BaseMessage):
    type = "system"
    role = "system"
    __slots__ = ()


class AIMessage(BaseMessage):
    """A model's answer, with the provider's metadata and token usage."""

    type = "ai"
    role = "assistant"
    __slots__ = ("response_metadata", "usage_metadata")

    def __init__(
        self,
        content: str = "",
        *,
        id: str | None = None,
        name: str | None = None,
        response_metadata: dict[str, Any] | None = None,
        usage_metadata: dict[str, int] | None = None,
        additional_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(content, id=id, name=name, additional_kwargs=additional_kwargs)
        self.response_metadata = response_metadata or {}
        self.usage_metadata = usage_metadata

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        if self.response_metadata:
            out["response_metadata"] = dict(self.response_metadata)
        if self.usage_metadata:
            out["usage_metadata"] = dict(self.usage_metadata)
        return out


class AIMessageChunk(AIMessage):
    """A piece of a streamed answer; ``a + b`` joins content, metadata and usage."""

    type = "AIMessageChunk"
    __slots__ = ()

    def __add__(self, other: object) -> AIMessageChunk:
        if not isinstance(other, AIMessageChunk):
            return NotImplemented
        return AIMessageChunk(
            _join(self.content, other.content),
            id=self.id or other.id,
            name=self.name or other.name,
            response_metadata={**self.response_metadata, **other.response_metadata},
            usage_metadata=add_usage(self.usage_metadata, other.usage_metadata),
            additional_kwargs={**self.additional_kwargs, **other.additional_kwargs},
        )

    def to_message(self) -> AIMessage:
        return AIMessage(
            self.content,
            id=self.id,
            name=self.name,
            response_metadata=self.response_metadata,
            usage_metadata=self.usage_metadata,
            additional_kwargs=self.additional_kwargs,
        )


def add_usage(a: dict[str, int] | None, b: dict[str, int] | None) -> dict[str, int] | None:
    """Sum two usage dicts key by key (``None`` is zero)."""
    if not a:
        return dict(b) if b else None
    if not b:
        return dict(a)
    return {k: a.get(k, 0) + b.get(k, 0) for k in {**a, **b}}


def message_text(content: Any) -> str:
    """The text of a message's content (a string, or a list of text parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and part.get("type") == "text":
                parts.append(str(part.get("text", "")))
        return "".join(parts)
    return str(content)


def _join(a: Any, b: Any) -> Any:
    if isinstance(a, str) and isinstance(b, str):
        return a + b
    if isinstance(a, list) and isinstance(b, list):
        return a + b
    return message_text(a) + message_text(b)
