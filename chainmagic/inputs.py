"""What ``-i/--input`` means: the forms a user types for a chain's input, turned into a value.

``-i topic=bear language=italian``  key=value pairs (each value JSON when it parses, else text)
``-i '{"topic": "bear"}'``          a JSON or Python literal
``-i question``                     a notebook variable's value (an undefined name is an error)
``-i inputs[0]``                    any other Python expression, evaluated in the notebook
``-i where did harrison work?``     plain text, when it is not a Python expression

A single undefined name is never quietly taken as text: a typo in a variable name would otherwise
run the chain on the wrong input.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["InputError", "parse_input", "parse_value"]


class InputError(ValueError):
    """An ``-i`` value that cannot be read; the message says how to write it."""


def parse_input(tokens: Sequence[str], namespace: Mapping[str, Any]) -> Any:
    """The chain input that the ``-i`` tokens (already shell-split) describe."""
    if not tokens:
        raise InputError("-i needs a value, e.g. -i topic=bear")
    pairs = [_pair(token) for token in tokens]
    if all(pair is not None for pair in pairs):
        return {key: parse_value(value) for key, value in pairs}  # type: ignore[misc]
    if len(tokens) > 1:
        return " ".join(tokens)
    return _single(tokens[0], namespace)


def parse_value(text: str) -> Any:
    """A ``key=value`` value: JSON when it parses (numbers, lists, quoted strings), else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _pair(token: str) -> tuple[str, str] | None:
    key, sep, value = token.partition("=")
    if sep and key.isidentifier() and not value.startswith("="):
        return key, value
    return None


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
        raise InputError(f"-i {text}: {type(exc).__name__}: {exc}") from None
