"""What ``-i/--input`` means: the forms a user types for a chain's input, turned into a value.

``-i topic=bear language=italian``  key=value pairs (each value JSON when it parses, else text)
``-i '{"topic": "bear"}'``          a JSON or Python literal
``-i question``                     a notebook variable's value (an undefined name is an error)
``-i inputs[0]``                    any other Python expression, evaluated in the notebook
``-i where did harrison work?``     plain text, when it is not a Python expression

A single undefined name is never quietly taken as text: a typo in a variable name would otherwise
run the chain on the wrong input. For the same reason an unquoted ``{...}`` or ``[...]`` that the
option parser split at its spaces is read again as one value, not joined into text.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["MAX_DEPTH", "InputError", "check_depth", "is_pair", "parse_input", "parse_value"]

_DISPLAYS = (ast.Dict, ast.List, ast.Set)
# Brackets nested deeper than this are refused: json, ast and every renderer recurse per level.
MAX_DEPTH = 100
_QUOTED_EXAMPLE = '{"topic": "bear"}'


class InputError(ValueError):
    """An ``-i`` value that cannot be read; the message says how to write it."""


def parse_input(tokens: Sequence[str], namespace: Mapping[str, Any]) -> Any:
    """The chain input that the ``-i`` tokens (already shell-split) describe."""
    if not tokens:
        raise InputError("-i needs a value, e.g. -i topic=bear")
    for token in tokens:
        check_depth(token)
    pairs = [_pair(token) for token in tokens]
    if all(pair is not None for pair in pairs):
        return {key: parse_value(value) for key, value in pairs}  # type: ignore[misc]
    if len(tokens) > 1:
        text = " ".join(tokens)
        if not _is_display(text):
            return text
        # An unquoted {...} or [...] was split at its spaces: read it as one value again rather
        # than run the chain on the text of a broken literal.
        return _single(text, namespace)
    return _single(tokens[0], namespace)


def parse_value(text: str) -> Any:
    """A ``key=value`` value: JSON when it parses (numbers, lists, quoted strings), else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def check_depth(text: str, limit: int = MAX_DEPTH) -> None:
    """Refuse brackets nested past ``limit`` (outside quotes) before any parser recurses into them."""
    depth, quote, escaped = 0, "", False
    for ch in text:
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
            if depth > limit:
                raise InputError(f"-i: nested too deeply (limit {limit})")
        elif ch in ")]}":
            depth -= 1


def is_pair(token: str) -> bool:
    """Whether one ``-i`` token is a ``key=value`` pair."""
    return _pair(token) is not None


def _pair(token: str) -> tuple[str, str] | None:
    key, sep, value = token.partition("=")
    if sep and key.isidentifier() and not value.startswith("="):
        return key, value
    return None


def _is_display(text: str) -> bool:
    """Whether ``text`` reads as a Python dict, list or set display (``{...}``, ``[...]``)."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        return False
    return isinstance(tree.body, _DISPLAYS)


def _single(text: str, namespace: Mapping[str, Any]) -> Any:
    stripped = text.strip()
    try:
        return json.loads(stripped)
    except ValueError:
        pass
    try:
        tree = ast.parse(stripped, mode="eval")
    except SyntaxError:
        return text  # not Python: plain text
    try:
        return ast.literal_eval(tree)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        pass
    if isinstance(tree.body, ast.Name):
        name = tree.body.id
        if name in namespace:
            return namespace[name]
        raise InputError(
            f"-i {name}: no variable {name!r} in the notebook; "
            f"to pass it as text, quote it: -i '\"{name}\"'"
        )
    try:
        return eval(compile(tree, "<-i>", "eval"), dict(namespace))  # the user's own expression
    except Exception as exc:
        hint = ""
        if isinstance(tree.body, _DISPLAYS):  # its inner quotes were lost to option splitting
            hint = f"; to pass it as a literal, quote all of it: -i '{_QUOTED_EXAMPLE}'"
        raise InputError(f"-i {text}: {type(exc).__name__}: {exc}{hint}") from None
