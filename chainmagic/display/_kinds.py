"""What a value *is*, for display: one classification shared by the text and the HTML renderers.

Chains return anything: strings, messages (ours or LangChain's), documents, prompt values, dicts
from maps and JSON parsers, bytes, exceptions, arbitrary objects. Both renderers must agree on how
each looks (a message is its content, never a repr), so the decision is made once, here, by
isinstance for chainmagic's own types and by duck typing for look-alikes from other libraries.
Nothing here may raise: attribute access on foreign objects is guarded.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, NamedTuple

from chainmagic.core.documents import Document
from chainmagic.core.messages import BaseMessage, message_text
from chainmagic.display._common import safe_repr
from chainmagic.secrets import redact

__all__ = ["Kind", "classify", "is_inline", "sorted_set"]

SCALARS = (bool, int, float, complex)


class Kind(NamedTuple):
    """``name`` says how to draw; ``data`` is what to draw it from.

    none · text (str) · scalar (str) · bytes (int) · error (exception) · message ((role, text)) ·
    document ((text, metadata)) · mapping (list of (key, value)) · sequence (list, length) ·
    object (safe repr)
    """

    name: str
    data: Any


def classify(value: Any) -> Kind:
    """The kind of ``value``; never raises (anything unrecognised is an ``object`` with its repr)."""
    try:
        return _classify(value)
    except Exception:
        return Kind("object", safe_repr(value))


def _classify(value: Any) -> Kind:
    if value is None:
        return Kind("none", None)
    if isinstance(value, str):
        return Kind("text", redact(str(value)))
    if isinstance(value, SCALARS):
        return Kind("scalar", safe_repr(value))
    if isinstance(value, (bytes, bytearray, memoryview)):
        return Kind("bytes", len(value))
    if isinstance(value, BaseException):
        return Kind("error", value)
    if isinstance(value, BaseMessage):
        return Kind("message", (value.type, redact(value.text)))
    if isinstance(value, Document):
        return Kind("document", (redact(value.page_content), dict(value.metadata)))
    if isinstance(value, Mapping):
        return Kind("mapping", list(value.items()))
    if isinstance(value, (list, tuple)):
        return Kind("sequence", (value, len(value)))
    if isinstance(value, (set, frozenset)):
        return Kind("sequence", (sorted_set(value), len(value)))
    duck = _duck(value)
    if duck is not None:
        return duck
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = [(f.name, getattr(value, f.name, None)) for f in dataclasses.fields(value)]
        return Kind("mapping", fields)
    return Kind("object", safe_repr(value))


def _duck(value: Any) -> Kind | None:
    """Look-alikes from other libraries (LangChain's messages, documents and prompt values)."""
    page = _attr(value, "page_content")
    if isinstance(page, str):
        meta = _attr(value, "metadata")
        return Kind("document", (page, dict(meta) if isinstance(meta, Mapping) else {}))
    content = _attr(value, "content")
    role = _attr(value, "type")
    if content is not None and isinstance(role, str) and isinstance(content, (str, list)):
        return Kind("message", (role, message_text(content)))
    if callable(_attr(value, "to_messages")):
        messages = _attr(value, "messages")
        if isinstance(messages, (list, tuple)):
            return Kind("sequence", (list(messages), len(messages)))
        text = _attr(value, "text")
        if isinstance(text, str):
            return Kind("text", text)
    return None


def _attr(value: Any, name: str) -> Any:
    try:
        return getattr(value, name, None)
    except Exception:
        return None


def sorted_set(value: Any) -> list[Any]:
    """A set's items in a stable order, so plain text does not depend on hash seeds."""
    items = list(value)
    try:
        return sorted(items)
    except Exception:
        return sorted(items, key=safe_repr)


def is_inline(value: Any, width: int = 60) -> str | None:
    """A short one-line form of a scalar (or of a list of scalars), or ``None`` when it has none.

    Used to keep ``key: value`` on one line in trees; strings with newlines are never inline.
    """
    kind = classify(value)
    if kind.name == "text":
        text = kind.data
        if "\n" in text or len(text) > width:
            return None
        return text if text else '""'
    if kind.name in ("scalar", "none"):
        return "None" if kind.name == "none" else kind.data
    if kind.name == "bytes":
        return f"<{kind.data:,} bytes>"
    if kind.name == "error":
        return None
    if kind.name == "message":
        text = kind.data[1]
        return None if "\n" in text or len(text) > width else text
    if kind.name == "sequence":
        items, length = kind.data
        if length == 0:
            return "[]"
        if length > 16:
            return None
        parts = []
        for item in items:
            if not isinstance(item, (str, *SCALARS)) and item is not None:
                return None
            parts.append(safe_repr(item))
        joined = "[" + ", ".join(parts) + "]"
        return joined if len(joined) <= width else None
    if kind.name == "mapping":
        return "{}" if not kind.data else None
    if kind.name == "object":
        text = kind.data
        return text if len(text) <= width and "\n" not in text else None
    return None
