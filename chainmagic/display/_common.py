"""Formatting primitives every renderer shares: durations, counts, safe reprs, errors, limits.

They live apart from the text and HTML renderers so that both say "612 ms" and "… 8 more
characters" the same way, and so that the never-raise rules (a repr that raises, a ``__str__`` that
raises, an address in a default repr that would make plain text differ from run to run) are
enforced in one place.
"""

from __future__ import annotations

import re
import sys
from typing import Any

from chainmagic.errors import ChainRunError
from chainmagic.run.units import format_seconds
from chainmagic.secrets import redact

__all__ = [
    "DEFAULT_LIMIT",
    "ITEM_COST",
    "MAX_BRANCHES",
    "MAX_BRANCH_TIMES",
    "Budget",
    "error_path",
    "error_text",
    "format_count",
    "format_seconds",
    "more_branches",
    "more_characters",
    "more_items",
    "one_line",
    "plural",
    "resolve_limit",
    "safe_repr",
    "safe_str",
]

DEFAULT_LIMIT = 2000  # characters of one value shown before "… N more characters"
ITEM_COST = 8  # characters each item of a list or dict costs against the limit, beyond its text
# A map of 10,000 branches is summarised, not drawn: the first cards and branch times, then how many
# more there are. Rendering costs stay bounded (well under 0.5 s) however wide the map.
MAX_BRANCHES = 24  # branch cards (and branch lines of an unfinished map's text) shown
MAX_BRANCH_TIMES = 8  # per-branch times in a footer line
_ADDRESS = re.compile(r"\s+at\s+0x[0-9a-fA-F]+")


def format_count(n: int) -> str:
    """An integer with thousands separators (``1,048,576``), the way notes count what was cut."""
    return f"{n:,}"


def plural(n: int, word: str) -> str:
    """``1 token``, ``28 tokens``."""
    return f"{format_count(n)} {word}{'' if n == 1 else 's'}"


def resolve_limit(limit: int | None) -> int:
    """``None`` means the default limit; zero or less means no limit at all."""
    if limit is None:
        return DEFAULT_LIMIT
    if limit <= 0:
        return sys.maxsize
    return int(limit)


class Budget:
    """Characters a renderer may still emit for one value.

    Rendering stops early (and says what it left out) instead of building a megabyte of text and
    cutting it afterwards: a 1 MB output or a list of 100,000 items costs no more than the limit.
    """

    __slots__ = ("left",)

    def __init__(self, limit: int | None) -> None:
        self.left = resolve_limit(limit)

    @property
    def spent(self) -> bool:
        return self.left <= 0

    def charge(self, n: int) -> None:
        """Spend ``n`` characters on layout: each item of a list or dict costs a line, not just
        its text, so a list of 100,000 short items is cut after a screenful, not after 2,000."""
        self.left -= n

    def take(self, text: str) -> tuple[str, int]:
        """As much of ``text`` as still fits, and how many characters were cut."""
        if len(text) <= self.left:
            self.left -= len(text)
            return text, 0
        kept = text[: max(self.left, 0)]
        self.left = 0
        return kept, len(text) - len(kept)


def more_characters(n: int) -> str:
    return f"… ({format_count(n)} more characters)"


def more_branches(n: int) -> str:
    """``… (9,976 more branches)``: what a summarised map leaves out."""
    return f"… ({format_count(n)} more {'branch' if n == 1 else 'branches'})"


def more_items(n: int, word: str = "item") -> str:
    return f"… ({plural(n, 'more ' + word)})"


def safe_repr(value: Any) -> str:
    """``repr(value)`` that never raises and never shows a memory address.

    IPython swallows exceptions raised while rendering, so a raising repr would blank the whole
    output; addresses (``<Foo object at 0x7f…>``) would make plain text differ on every run and
    break nbval's comparison.
    """
    try:
        text = repr(value)
    except Exception as exc:
        return f"<{_type_name(value)} object (repr failed: {_type_name(exc)})>"
    if not isinstance(text, str):  # pragma: no cover - repr() itself enforces str
        return f"<{_type_name(value)} object>"
    return redact(_ADDRESS.sub("", text))


def safe_str(value: Any) -> str:
    """``str(value)`` that never raises (falls back to :func:`safe_repr`)."""
    try:
        text = str(value)
    except Exception:
        return safe_repr(value)
    return redact(_ADDRESS.sub("", text)) if isinstance(text, str) else safe_repr(value)


def error_text(error: BaseException | None, *, unwrap: bool = True) -> str:
    """``TypeName: message`` for an error; a :class:`ChainRunError` shows its original cause.

    The path of a run error is shown once, in the footer; a card or a row shows what went wrong.
    An exception that is a chain's *output* is shown as it is (``unwrap=False``).
    """
    if error is None:
        return "failed"
    seen = 0
    while unwrap and isinstance(error, ChainRunError) and error.cause is not None and seen < 16:
        error, seen = error.cause, seen + 1
    name = _type_name(error)
    message = safe_str(error)
    return f"{name}: {message}" if message else name


def error_path(error: BaseException | None) -> str:
    """Where a run failed (``map_chain › poem › model``), or ``""`` when that is unknown."""
    if isinstance(error, ChainRunError):
        try:
            return error.where
        except Exception:
            return ""
    return ""


def one_line(text: str, width: int) -> str:
    """Text folded onto one line (newlines as ``↵``) and cut to ``width`` with an ellipsis."""
    flat = " ↵ ".join(part.strip() for part in text.splitlines() if part.strip())
    return flat if len(flat) <= width else flat[: max(width - 1, 0)] + "…"


def _type_name(value: Any) -> str:
    try:
        return type(value).__name__
    except Exception:  # pragma: no cover - type() cannot fail, __name__ could in theory
        return "object"
