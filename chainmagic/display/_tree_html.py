"""Values as static HTML: text as text, messages as their content, documents as a list, dicts trees.

Trees use ``<details open>``, which folds without any script, so they work in nbconvert's output and
on GitHub as well as in JupyterLab. Every piece of text goes through :func:`html.escape`; the same
limits as the plain text apply (a ``… N more`` note says what was cut).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from chainmagic.display._common import (
    ITEM_COST,
    Budget,
    error_text,
    more_characters,
    more_items,
    plural,
    safe_repr,
)
from chainmagic.display._kinds import classify, is_inline
from chainmagic.display._style import ERR, MONO, MUTED
from chainmagic.secrets import redact

__all__ = ["text_html", "value_html"]

MAX_DEPTH = 12
_TEXT = f"white-space:pre-wrap;word-break:break-word;font-family:{MONO};margin:0"
_NOTE = f"color:{MUTED};font-style:italic"
_KEY = "font-weight:600"
_BLOCK = f"margin-left:6px;padding-left:10px;border-left:1px solid {MUTED}40"
_SUMMARY = "cursor:pointer"


def value_html(value: Any, limit: int | None = None) -> str:
    """``value`` as a static HTML fragment; never raises."""
    try:
        return _html(value, Budget(limit), 0, set())
    except Exception as exc:
        return _note(f"<{type(value).__name__}: not displayable ({type(exc).__name__})>")


def text_html(text: str, limit: int | None = None, *, colour: str | None = None) -> str:
    """Preformatted, wrapped, escaped text (a streamed answer, an error)."""
    return _text(redact(text), Budget(limit), colour)


def _html(value: Any, budget: Budget, depth: int, seen: set[int]) -> str:
    name, data = classify(value)
    if name in ("text", "scalar", "object"):
        return _text(data, budget)
    if name == "none":
        return _note("None")
    if name == "bytes":
        return _note(f"<{data:,} bytes>")
    if name == "error":
        return _text(error_text(data, unwrap=False), budget, ERR)
    if name == "message":
        return _text(data[1], budget)
    if name == "document":
        return _document(data, budget)
    if id(value) in seen:
        return _note("<cycle>")
    if depth >= MAX_DEPTH:
        return _note("{…}" if name == "mapping" else "[…]")
    seen = seen | {id(value)}
    if name == "mapping":
        return _mapping(data, budget, depth, seen)
    return _sequence(data[0], data[1], budget, depth, seen)


def _text(text: str, budget: Budget, colour: str | None = None) -> str:
    kept, cut = budget.take(text)
    note = f' <span style="{_NOTE}">{html.escape(more_characters(cut))}</span>' if cut else ""
    style = _TEXT + (f";color:{colour}" if colour else "")
    return f'<div style="{style}">{html.escape(kept)}{note}</div>'


def _note(text: str) -> str:
    return f'<span style="{_NOTE}">{html.escape(text)}</span>'


def _document(data: tuple[str, dict[str, Any]], budget: Budget) -> str:
    content, metadata = data
    out = _text(content, budget)
    if metadata:
        meta = ", ".join(f"{k}: {is_inline(v, 40) or '…'}" for k, v in metadata.items())
        out += f'<div style="{_NOTE};font-size:90%">{html.escape(meta)}</div>'
    return out


def _fold(summary: str, body: str, count: str) -> str:
    """A foldable node: open by default, so a static page shows everything."""
    return (
        f'<details open><summary style="{_SUMMARY}">{summary} '
        f'<span style="{_NOTE};font-size:90%">{html.escape(count)}</span></summary>'
        f'<div style="{_BLOCK}">{body}</div></details>'
    )


def _row(head: str, value: Any, budget: Budget, depth: int, seen: set[int]) -> str:
    """``head: value`` on one line when short, else a foldable node holding the value's tree."""
    inline = is_inline(value, 100)
    if inline is not None:
        kept, cut = budget.take(inline)
        note = f" {_note(more_characters(cut))}" if cut else ""
        return f'<div style="font-family:{MONO}">{head} {html.escape(kept)}{note}</div>'
    name = classify(value).name
    body = _html(value, budget, depth + 1, seen)
    if name in ("mapping", "sequence"):
        return _fold(head, body, _size(value))
    return f'<div style="display:flex;gap:6px;align-items:baseline">{head}{body}</div>'


def _size(value: Any) -> str:
    try:
        n = len(value)
    except Exception:
        return ""
    return f"{{{plural(n, 'key')}}}" if classify(value).name == "mapping" else f"[{n}]"


def _mapping(items: list[tuple[Any, Any]], budget: Budget, depth: int, seen: set[int]) -> str:
    if not items:
        return _note("{}")
    rows = []
    for i, (key, value) in enumerate(items):
        if budget.spent:
            rows.append(f"<div>{_note(more_items(len(items) - i, 'key'))}</div>")
            break
        budget.charge(ITEM_COST)
        label = key if isinstance(key, str) else safe_repr(key)
        head = f'<span style="{_KEY};font-family:{MONO}">{html.escape(label)}:</span>'
        rows.append(_row(head, value, budget, depth, seen))
    return "".join(rows)


def _sequence(items: Sequence[Any], length: int, budget: Budget, depth: int, seen: set[int]) -> str:
    inline = is_inline(items) if length <= 16 else None
    if inline is not None:
        return _text(inline, budget)
    kinds = {classify(items[i]).name for i in range(min(length, 8))}
    parts = []
    for i in range(length):
        if budget.spent:
            parts.append(f"<li style='list-style:none'>{_note(more_items(length - i))}</li>")
            break
        budget.charge(ITEM_COST)
        item = items[i]
        if kinds <= {"message"}:
            role = html.escape(str(classify(item).data[0]))
            head = f'<span style="{_KEY};color:{MUTED}">{role}</span>'
            parts.append(
                f"<li style='list-style:none'>{_row(head, item, budget, depth, seen)}</li>"
            )
        elif (inline := is_inline(item, 100)) is not None:
            kept, cut = budget.take(inline)
            note = f" {_note(more_characters(cut))}" if cut else ""
            parts.append(f"<li>{html.escape(kept)}{note}</li>")
        else:
            parts.append(f"<li>{_html(item, budget, depth + 1, seen)}</li>")
    tag = "ol" if kinds <= {"document"} else "ul"
    start = ' start="1"' if tag == "ol" else ""
    style = f"margin:0;padding-left:22px;font-family:{MONO}"
    return f'<{tag}{start} style="{style}">{"".join(parts)}</{tag}>'
