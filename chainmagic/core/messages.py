"""Chat messages: what prompts produce and chat models consume and return.

Plain objects with LCEL's names and fields, so LangChain users find what they know. Chunks add up
with ``+`` (that is how a streamed answer becomes one message). Reprs show content, never secrets.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypedDict

from chainmagic.core.usage import (
    InputTokenDetails,
    OutputTokenDetails,
    UsageMetadata,
    add_usage,
    subtract_usage,
)

__all__ = [
    "AIMessage",
    "AIMessageChunk",
    "BaseMessage",
    "ChatMessage",
    "HumanMessage",
    "InputTokenDetails",
    "OutputTokenDetails",
    "SystemMessage",
    "ToolCall",
    "ToolCallChunk",
    "UsageMetadata",
    "add_ai_message_chunks",
    "add_usage",
    "get_buffer_string",
    "invalid_tool_call",
    "merge_content",
    "merge_dicts",
    "merge_lists",
    "message_text",
    "subtract_usage",
    "tool_call",
    "tool_call_chunk",
]


class ToolCall(TypedDict, total=False):
    """A model's request to call a tool: its name, its arguments (parsed) and the call's id."""

    name: str
    args: dict[str, Any]
    id: str | None
    type: str


class ToolCallChunk(TypedDict, total=False):
    """A piece of a streamed tool call: ``args`` is raw JSON text; pieces join by ``index``."""

    name: str | None
    args: str | None
    id: str | None
    index: int | None
    type: str


def tool_call(*, name: str, args: dict[str, Any], id: str | None) -> ToolCall:
    """A tool call as models return it (with the ``type`` tag LCEL puts on each)."""
    return ToolCall(name=name, args=args, id=id, type="tool_call")


def invalid_tool_call(
    *,
    name: str | None = None,
    args: str | None = None,
    id: str | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    """A tool call whose arguments could not be read as JSON (kept as text, with why)."""
    return {"name": name, "args": args, "id": id, "error": error, "type": "invalid_tool_call"}


def tool_call_chunk(
    *,
    name: str | None = None,
    args: str | None = None,
    id: str | None = None,
    index: int | None = None,
) -> ToolCallChunk:
    """A streamed piece of a tool call."""
    return ToolCallChunk(name=name, args=args, id=id, index=index, type="tool_call_chunk")


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


class ChatMessage(BaseMessage):
    """A message with any role name (``ChatMessage("hi", role="critic")``), for APIs that take one."""

    type = "chat"
    __slots__ = ("role",)  # an instance's role, where other classes fix it

    def __init__(self, content: Any = "", *, role: str, **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self.role = role  # type: ignore[misc]

    def __eq__(self, other: object) -> bool:
        return super().__eq__(other) and other.role == self.role  # type: ignore[attr-defined]

    __hash__ = BaseMessage.__hash__

    def __repr__(self) -> str:
        return f"ChatMessage(content={self.content!r}, role={self.role!r})"

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "role": self.role}


class AIMessage(BaseMessage):
    """A model's answer, with the provider's metadata and token usage."""

    type = "ai"
    role = "assistant"
    __slots__ = ("invalid_tool_calls", "response_metadata", "tool_calls", "usage_metadata")

    def __init__(
        self,
        content: Any = "",
        *,
        id: str | None = None,
        name: str | None = None,
        response_metadata: dict[str, Any] | None = None,
        usage_metadata: dict[str, int] | None = None,
        additional_kwargs: dict[str, Any] | None = None,
        tool_calls: list[dict[str, Any]] | None = None,
        invalid_tool_calls: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(content, id=id, name=name, additional_kwargs=additional_kwargs)
        self.response_metadata = response_metadata or {}
        self.usage_metadata = usage_metadata
        # Each call carries its ``type`` tag, as LCEL's do, whether or not the caller wrote it.
        self.tool_calls: list[dict[str, Any]] = [
            {**call, "type": "tool_call"} for call in tool_calls or ()
        ]
        self.invalid_tool_calls: list[dict[str, Any]] = [
            {**call, "type": "invalid_tool_call"} for call in invalid_tool_calls or ()
        ]

    @property
    def content_blocks(self) -> list[dict[str, Any]]:
        """Reasoning, text, images and tool calls as one list of typed blocks."""
        from chainmagic.core.content_blocks import content_blocks

        return content_blocks(self)

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        if self.response_metadata:
            out["response_metadata"] = dict(self.response_metadata)
        if self.usage_metadata:
            out["usage_metadata"] = dict(self.usage_metadata)
        if self.tool_calls:
            out["tool_calls"] = [dict(call) for call in self.tool_calls]
        return out


class AIMessageChunk(AIMessage):
    """A piece of a streamed answer; ``a + b`` joins content, metadata and usage."""

    type = "AIMessageChunk"
    __slots__ = ("tool_call_chunks",)

    def __init__(
        self,
        content: Any = "",
        *,
        tool_call_chunks: list[dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(content, **kwargs)
        # Pieces of calls still being streamed (``args`` is raw JSON text); they join by index.
        self.tool_call_chunks: list[dict[str, Any]] = [
            {**piece, "type": "tool_call_chunk"} for piece in tool_call_chunks or ()
        ]
        if self.tool_call_chunks and not (self.tool_calls or self.invalid_tool_calls):
            self._read_calls()

    def _read_calls(self) -> None:
        """The calls the pieces make so far: arguments read as (possibly cut) JSON, or invalid."""
        from chainmagic.core.json_text import parse_partial_json

        for piece in self.tool_call_chunks:
            text = piece.get("args") or ""
            args = parse_partial_json(text) if text else {}
            if isinstance(args, dict):
                call = tool_call(name=piece.get("name") or "", args=args, id=piece.get("id"))
                self.tool_calls.append(dict(call))
            else:
                self.invalid_tool_calls.append(
                    invalid_tool_call(name=piece.get("name"), args=text, id=piece.get("id"))
                )

    def __add__(self, other: object) -> AIMessageChunk:
        if not isinstance(other, AIMessageChunk):
            return NotImplemented
        return add_ai_message_chunks(self, other)

    def to_message(self) -> AIMessage:
        return AIMessage(
            self.content,
            id=self.id,
            name=self.name,
            response_metadata=self.response_metadata,
            usage_metadata=self.usage_metadata,
            additional_kwargs=self.additional_kwargs,
            tool_calls=self.tool_calls,
            invalid_tool_calls=self.invalid_tool_calls,
        )


def add_ai_message_chunks(first: AIMessageChunk, *others: AIMessageChunk) -> AIMessageChunk:
    """Several chunks joined into one, left to right (what ``a + b + c`` gives, in one pass).

    Usage stays ``None`` when no chunk reports any, so a stream without counts does not grow a
    row of zeros.
    """
    content, id, name = first.content, first.id, first.name
    response_metadata = dict(first.response_metadata)
    usage = first.usage_metadata
    extra = first.additional_kwargs
    calls = list(first.tool_calls)
    pieces = list(first.tool_call_chunks)
    for chunk in others:
        content = merge_content(content, chunk.content)
        id, name = id or chunk.id, name or chunk.name
        response_metadata.update(chunk.response_metadata)
        if chunk.usage_metadata is not None:
            usage = add_usage(usage, chunk.usage_metadata)
        extra = merge_dicts(extra, chunk.additional_kwargs)
        calls.extend(chunk.tool_calls)
        pieces = merge_lists(pieces, chunk.tool_call_chunks)
    return AIMessageChunk(
        content,
        id=id,
        name=name,
        response_metadata=response_metadata,
        usage_metadata=usage,
        additional_kwargs=extra,
        # calls streamed in pieces are read again from the joined pieces, not added up half-made
        tool_calls=None if pieces else calls,
        tool_call_chunks=pieces,
    )


def merge_dicts(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Join two chunks' dicts as streams build them: strings concatenate, dicts and lists merge.

    Equal values stay as they are; any other clash (a number against a different number, a string
    against a dict) is a ``TypeError`` naming the key, rather than one side silently winning.
    """
    out = dict(a)
    for key, value in b.items():
        if key not in out or out[key] is None:
            out[key] = value
        elif value is None or out[key] == value or key in ("index", "type"):
            continue
        elif isinstance(out[key], str) and isinstance(value, str):
            out[key] += value
        elif isinstance(out[key], dict) and isinstance(value, dict):
            out[key] = merge_dicts(out[key], value)
        elif isinstance(out[key], list) and isinstance(value, list):
            out[key] = merge_lists(out[key], value)
        else:
            raise TypeError(
                f"cannot merge {key!r}: {type(out[key]).__name__} {out[key]!r} "
                f"and {type(value).__name__} {value!r}"
            )
    return out


def merge_lists(a: list[Any], b: list[Any]) -> list[Any]:
    """Join two chunks' lists: parts with the same integer ``index`` merge, the rest append."""
    out = list(a)
    for item in b:
        index = item.get("index") if isinstance(item, dict) else None
        if isinstance(index, int):
            for i, mine in enumerate(out):
                if isinstance(mine, dict) and mine.get("index") == index:
                    out[i] = merge_dicts(mine, item)
                    break
            else:
                out.append(item)
        else:
            out.append(item)
    return out


def merge_content(a: Any, b: Any) -> Any:
    """Join two chunks' content: text to text, and text and part lists the way LCEL joins them."""
    if isinstance(a, str):
        if isinstance(b, str):
            return a + b
        if isinstance(b, list):
            return [a, *b] if a else list(b)
    elif isinstance(a, list):
        if isinstance(b, list):
            return merge_lists(a, b)
        if isinstance(b, str):
            if not b:
                return list(a)
            if a and isinstance(a[-1], str):
                return [*a[:-1], a[-1] + b]
            return [*a, b]
    return message_text(a) + message_text(b)


def get_buffer_string(
    messages: list[BaseMessage], human_prefix: str = "Human", ai_prefix: str = "AI"
) -> str:
    """Messages as one transcript, a ``Role: text`` line each (how a chat prompt reads as text)."""
    lines = []
    for message in messages:
        if isinstance(message, HumanMessage):
            role = human_prefix
        elif isinstance(message, AIMessage):
            role = ai_prefix
        elif isinstance(message, SystemMessage):
            role = "System"
        elif isinstance(message, ChatMessage):
            role = message.role
        else:
            role = message.type
        lines.append(f"{role}: {message.text}")
    return "\n".join(lines)


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
