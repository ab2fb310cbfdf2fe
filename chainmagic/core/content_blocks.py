"""A model answer as a list of typed content blocks: reasoning, text, images, tool calls.

Providers put the same things in different places (text in ``content``, reasoning in
``additional_kwargs``, calls in ``tool_calls``); :func:`content_blocks` reads them into one list in
LCEL's standard block shapes, so code that shows or routes an answer needs to know one layout.
A message already written in that layout (``response_metadata["output_version"] == "v1"`` and
list content) is returned as it is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chainmagic.core.messages import AIMessage

__all__ = ["content_blocks"]


def content_blocks(message: AIMessage) -> list[dict[str, Any]]:
    """The blocks of ``message``: reasoning first, then its content, then calls not yet listed."""
    content = message.content
    if isinstance(content, list) and message.response_metadata.get("output_version") == "v1":
        return content  # already standard blocks: the very list, not a copy
    blocks: list[dict[str, Any]] = []
    reasoning = message.additional_kwargs.get("reasoning_content")
    if isinstance(reasoning, str) and reasoning:
        blocks.append({"type": "reasoning", "reasoning": reasoning})
    if isinstance(content, str):
        if content:
            blocks.append({"type": "text", "text": content})
    else:
        for part in content:
            if isinstance(part, str):
                blocks.append({"type": "text", "text": part})
            elif isinstance(part, dict):
                blocks.append(part)
    pieces = getattr(message, "tool_call_chunks", None)
    if pieces:  # a streamed chunk shows its pieces; the calls read from them come when joined
        blocks.extend({**piece, "type": "tool_call_chunk"} for piece in pieces)
        return blocks
    listed = {b.get("id") for b in blocks if b.get("type") == "tool_call"}
    blocks.extend(
        {"type": "tool_call", "id": call.get("id"), "name": call["name"], "args": call["args"]}
        for call in message.tool_calls
        if call.get("id") is None or call.get("id") not in listed
    )
    return blocks
