"""The classes a user subclasses to write an output parser, as LangChain users write them.

``BaseOutputParser[T]``: override ``parse(text)``; the parser reads a whole answer.
``BaseTransformOutputParser[T]``: the same, but each streamed chunk is parsed as it comes.
``BaseGenerationOutputParser[T]``: override ``parse_result(generations)`` to read the message
itself (its tool calls, its metadata), not only its text. An answer reaches ``parse_result`` as a
one-item list of :class:`Generation` (a text) or :class:`ChatGeneration` (a message), LCEL's shape.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any, Generic, TypeVar

from chainmagic.core.events import Run
from chainmagic.core.messages import BaseMessage, message_text
from chainmagic.core.runnable import Runnable

__all__ = [
    "BaseGenerationOutputParser",
    "BaseOutputParser",
    "BaseTransformOutputParser",
    "ChatGeneration",
    "Generation",
]

T = TypeVar("T")


class Generation:
    """One candidate text answer."""

    __slots__ = ("generation_info", "text")

    def __init__(self, text: str = "", generation_info: dict[str, Any] | None = None) -> None:
        self.text = text
        self.generation_info = generation_info

    def __repr__(self) -> str:
        return f"{type(self).__name__}(text={self.text!r})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.text == self.text

    __hash__ = None  # type: ignore[assignment]


class ChatGeneration(Generation):
    """One candidate answer that is a message; ``text`` is the message's text."""

    __slots__ = ("message",)

    def __init__(self, message: BaseMessage, generation_info: dict[str, Any] | None = None) -> None:
        super().__init__(message_text(message.content), generation_info)
        self.message = message

    def __repr__(self) -> str:
        return f"ChatGeneration(message={self.message!r})"


def _generations(value: Any) -> list[Generation]:
    if isinstance(value, BaseMessage):
        return [ChatGeneration(value)]
    to_string = getattr(value, "to_string", None)  # a prompt value
    return [Generation(str(to_string()) if callable(to_string) else str(value))]


class BaseOutputParser(Runnable, Generic[T]):
    """A parser of whole answers: override :meth:`parse` (text) or :meth:`parse_result`."""

    inline = True

    def parse(self, text: str) -> T:
        raise NotImplementedError(f"{type(self).__name__} must define parse(text)")

    async def aparse(self, text: str) -> T:
        return self.parse(text)

    def parse_result(self, result: list[Generation], *, partial: bool = False) -> T:
        """The first candidate's text, parsed (``partial``: the answer is still streaming)."""
        return self.parse(result[0].text)

    async def aparse_result(self, result: list[Generation], *, partial: bool = False) -> T:
        return self.parse_result(result, partial=partial)

    def asdict(self, *, exclude_none: bool = False) -> dict[str, Any]:
        """The parser's settings as plain data (its public attributes)."""
        return {
            k: v
            for k, v in vars(self).items()
            if not k.startswith("_") and k != "label" and not (exclude_none and v is None)
        }

    def get_format_instructions(self) -> str:
        raise NotImplementedError(f"{type(self).__name__} gives no format instructions")

    def _default_name(self) -> str:
        return type(self).__name__

    def _invoke(self, input: Any, run: Run | None) -> T:
        return self.parse_result(_generations(input))


class BaseGenerationOutputParser(BaseOutputParser[T]):
    """A parser of whole answers that reads the generation itself: override parse_result."""

    def parse_result(self, result: list[Generation], *, partial: bool = False) -> T:
        raise NotImplementedError(f"{type(self).__name__} must define parse_result(result)")


class BaseTransformOutputParser(BaseOutputParser[T]):
    """A parser that streams: each chunk of the answer is parsed on its own, as it arrives."""

    def _transform(self, chunks: Iterator[Any], run: Run | None) -> Iterator[T]:
        for chunk in chunks:
            yield self.parse_result(_generations(chunk))

    async def _atransform(self, chunks: AsyncIterator[Any], run: Run | None) -> AsyncIterator[T]:
        async for chunk in chunks:
            yield self.parse_result(_generations(chunk))
