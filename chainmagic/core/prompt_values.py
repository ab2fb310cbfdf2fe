"""What a prompt produces: a prompt value, which a model reads as messages or as one string.

Plain objects with LCEL's names: ``to_messages()`` for chat models, ``to_string()`` for anything that
wants text (a string prompt reads as one human message, chat messages as ``Human: ...`` lines).
"""

from __future__ import annotations

from chainmagic.core.messages import BaseMessage, HumanMessage, get_buffer_string

__all__ = ["ChatPromptValue", "StringPromptValue"]


class StringPromptValue:
    """A formatted string prompt; models read it as one human message."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def to_string(self) -> str:
        return self.text

    def to_messages(self) -> list[BaseMessage]:
        return [HumanMessage(self.text)]

    def __repr__(self) -> str:
        return f"StringPromptValue(text={self.text!r})"

    def __str__(self) -> str:
        return self.text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StringPromptValue) and other.text == self.text

    __hash__ = None  # type: ignore[assignment]


class ChatPromptValue:
    """Formatted chat messages, ready for a model."""

    __slots__ = ("messages",)

    def __init__(self, messages: list[BaseMessage]) -> None:
        self.messages = messages

    def to_messages(self) -> list[BaseMessage]:
        return list(self.messages)

    def to_string(self) -> str:
        return get_buffer_string(self.messages)

    def __repr__(self) -> str:
        return f"ChatPromptValue(messages={self.messages!r})"

    def __str__(self) -> str:
        return self.to_string()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ChatPromptValue) and other.messages == self.messages

    __hash__ = None  # type: ignore[assignment]
