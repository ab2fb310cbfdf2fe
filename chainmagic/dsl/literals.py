"""Constant call arguments: numbers, strings, True/False/None, and lists and dicts of those.

``model("openai:gpt-4o-mini", temperature=0)`` should hand the model plain values, while
``assign(k=@q | retriever)`` hands it a pipeline. The parser first reads an argument here; when that
fails, or the constant is followed by anything but ``,`` or ``)``, it rewinds (one index reset, the
parser's only backtracking) and reads a pipeline instead. Dict keys follow the map rule: a name or a
quoted string, so ``{"a": 1}`` and ``{a: 1}`` are the same constant.
"""

from __future__ import annotations

from chainmagic.dsl import messages as M
from chainmagic.dsl.nodes import Literal, Span
from chainmagic.dsl.tokens import (
    KEYWORDS,
    NAME,
    NUMBER,
    OP,
    STRING,
    Source,
    Token,
    number_value,
    string_value,
)

__all__ = ["CONSTANT_NAMES", "read_literal"]

CONSTANT_NAMES: dict[str, object] = {"True": True, "False": False, "None": None}


class _NotLiteral(Exception):
    """Unwinds a literal read that met something else."""


def read_literal(src: Source, toks: list[Token], pos: int) -> tuple[Literal, int] | None:
    """The literal starting at ``toks[pos]`` and the position after it, or None if there is none.

    Errors that no reading could fix (a duplicate dict key, a bad string prefix) raise
    :class:`ChainSyntaxError` at once.
    """
    try:
        value, end = _value(src, toks, pos)
    except _NotLiteral:
        return None
    first, last = toks[pos], toks[end - 1]
    return Literal(value, Span(first.line, first.col, last.end_line, last.end_col)), end


def _value(src: Source, toks: list[Token], pos: int) -> tuple[object, int]:
    tok = toks[pos]
    kind, text = tok.kind, tok.value
    if kind == STRING:
        return string_value(src, tok)[0], pos + 1
    if kind == NUMBER:
        return number_value(src, tok), pos + 1
    if kind == NAME and text in CONSTANT_NAMES:
        return CONSTANT_NAMES[text], pos + 1
    if kind != OP:
        raise _NotLiteral
    if text == "-" and toks[pos + 1].kind == NUMBER:
        return -number_value(src, toks[pos + 1]), pos + 2
    if text == "[":
        items: list[object] = []
        pos += 1
        while not _is_op(toks[pos], "]"):
            item, pos = _value(src, toks, pos)
            items.append(item)
            pos = _separator(toks, pos, "]")
        return items, pos + 1
    if text == "{":
        entries: dict[str, object] = {}
        pos += 1
        while not _is_op(toks[pos], "}"):
            key_tok = toks[pos]
            if key_tok.kind == STRING:
                key = string_value(src, key_tok)[0]
            elif key_tok.kind == NAME and key_tok.value not in KEYWORDS:
                key = key_tok.value
            else:
                raise _NotLiteral
            if key in entries:
                raise src.error_at(M.DUPLICATE_KEY.format(key=key), key_tok)
            if not _is_op(toks[pos + 1], ":"):
                raise _NotLiteral
            entries[key], pos = _value(src, toks, pos + 2)
            pos = _separator(toks, pos, "}")
        return entries, pos + 1
    raise _NotLiteral


def _is_op(tok: Token, value: str) -> bool:
    return tok.kind == OP and tok.value == value


def _separator(toks: list[Token], pos: int, closer: str) -> int:
    tok = toks[pos]
    if _is_op(tok, ","):
        return pos + 1
    if _is_op(tok, closer):
        return pos
    raise _NotLiteral
