"""Values as plain text: a message is its content, documents a numbered list, dicts indented trees.

The plain twin of :mod:`chainmagic.display._tree_html`: both classify values the same way
(:mod:`chainmagic.display._kinds`) and spend the same character budget, so a value cut in the HTML
is cut at the same place in the text. YAML-like layout (``key: value``, ``- item``) because it
reads well and stays deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chainmagic.display._common import (
    ITEM_COST,
    Budget,
    error_text,
    more_characters,
    more_items,
    safe_repr,
)
from chainmagic.display._kinds import classify, is_inline

__all__ = ["entry_lines", "text_lines", "value_lines", "value_text"]

INDENT = "  "
MAX_DEPTH = 12


def value_text(value: Any, limit: int | None = None) -> str:
    """A value as readable text: a message is its content, documents a numbered list, dicts trees.

    ``limit`` caps the characters shown (``None``: the default, ``0``: no cap); what is cut is
    counted in a ``… (N more characters)`` or ``… (N more items)`` note.
    """
    try:
        return "\n".join(value_lines(value, Budget(limit), 0, set()))
    except Exception as exc:  # a renderer never raises; say what could not be drawn
        return f"<{type(value).__name__}: not displayable ({type(exc).__name__})>"


def value_lines(value: Any, budget: Budget, depth: int, seen: set[int]) -> list[str]:
    kind = classify(value)
    name, data = kind
    if name == "text":
        return text_lines(data, budget)
    if name == "none":
        return ["None"]
    if name == "scalar":
        return text_lines(data, budget)
    if name == "bytes":
        return [f"<{data:,} bytes>"]
    if name == "error":
        return text_lines(error_text(data, unwrap=False), budget)
    if name == "message":
        return text_lines(data[1], budget)
    if name == "document":
        return _document_lines(data, budget)
    if name == "object":
        return text_lines(data, budget)
    if id(value) in seen:
        return ["<cycle>"]
    if depth >= MAX_DEPTH:
        return ["{…}" if name == "mapping" else "[…]"]
    seen = seen | {id(value)}
    if name == "mapping":
        return _mapping_lines(data, budget, depth, seen)
    return _sequence_lines(data[0], data[1], budget, depth, seen)


def text_lines(text: str, budget: Budget) -> list[str]:
    kept, cut = budget.take(text)
    if cut:
        kept += (" " if kept and not kept.endswith("\n") else "") + more_characters(cut)
    return kept.split("\n")


def _document_lines(data: tuple[str, dict[str, Any]], budget: Budget) -> list[str]:
    content, metadata = data
    lines = text_lines(content, budget)
    if metadata:
        inline = ", ".join(f"{k}: {is_inline(v, 40) or '…'}" for k, v in metadata.items())
        lines.append(f"({inline})")
    return lines


def entry_lines(head: str, value: Any, budget: Budget, depth: int, seen: set[int]) -> list[str]:
    """``head value`` on one line when the value is short, else ``head`` over an indented block."""
    inline = is_inline(value, 100)
    if inline is not None:
        kept, cut = budget.take(inline)
        return [f"{head} {kept}" + (" " + more_characters(cut) if cut else "")]
    body = value_lines(value, budget, depth + 1, seen)
    kind = classify(value).name
    if kind in ("text", "message", "error", "object") and len(body) == 1:
        return [f"{head} {body[0]}"]
    return [head] + [INDENT + line for line in body]


def _mapping_lines(
    items: list[tuple[Any, Any]], budget: Budget, depth: int, seen: set[int]
) -> list[str]:
    if not items:
        return ["{}"]
    lines: list[str] = []
    for i, (key, value) in enumerate(items):
        if budget.spent:
            lines.append(more_items(len(items) - i, "key"))
            break
        budget.charge(ITEM_COST)
        label = key if isinstance(key, str) else safe_repr(key)
        lines += entry_lines(f"{label}:", value, budget, depth, seen)
    return lines


def _sequence_lines(
    items: Sequence[Any], length: int, budget: Budget, depth: int, seen: set[int]
) -> list[str]:
    inline = is_inline(items) if length <= 16 else None
    if length <= 16 and inline is not None:
        return text_lines(inline, budget)
    kinds = {classify(items[i]).name for i in range(min(length, 8))}
    numbered = kinds <= {"document"}
    roles = kinds <= {"message"}
    lines: list[str] = []
    for i in range(length):
        if budget.spent:
            lines.append(more_items(length - i))
            break
        budget.charge(ITEM_COST)
        item = items[i]
        if numbered:
            body = value_lines(item, budget, depth + 1, seen)
            head = f"{i + 1}. "
            lines += [head + body[0]] + [" " * len(head) + line for line in body[1:]]
        elif roles:
            role = classify(item).data[0]
            lines += entry_lines(f"{role}:", item, budget, depth, seen)
        else:
            body = value_lines(item, budget, depth + 1, seen) or [""]
            lines += ["- " + body[0]] + [INDENT + line for line in body[1:]]
    return lines
