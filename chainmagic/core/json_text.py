"""Reading JSON out of a model's text: a fenced ```json block or bare JSON, whole or cut off.

Models wrap JSON in fences, add a sentence after it, or (while streaming) stop in the middle of a
string. :func:`parse_json_markdown` finds the JSON and :func:`parse_partial_json` closes what a cut
left open. Repair costs a handful of decode attempts whatever the text's length: a cut is placed
where the decoder reports its error, never found by trying one character at a time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

__all__ = [
    "parse_and_check_json_markdown",
    "parse_json_markdown",
    "parse_leading_json",
    "parse_partial_json",
    "strip_fence",
]

# Everything after the first fence: a closing fence and backticks are trimmed off the ends later,
# so a fence *inside* a JSON string ("```bar```") stays part of the value.
_FENCE = re.compile(r"```(?:json|JSON)?(.*)", re.DOTALL)
_DECODER = json.JSONDecoder(strict=False)  # raw newlines inside strings, as models write them


def strip_fence(text: str) -> str:
    """The JSON part of ``text``: the body of a ```json fence (if any), trimmed."""
    match = _FENCE.search(text)
    if match is None:
        return text.strip()
    return match.group(1).strip(" \n\r\t`")


def parse_json_markdown(text: str, *, parser: Callable[[str], Any] | None = None) -> Any:
    """JSON from a model's text, inside a fenced block or not; ``parser`` reads the JSON itself.

    By default a cut-off object still parses (:func:`parse_partial_json`); what cannot be read at
    all raises ``json.JSONDecodeError``, as ``json.loads`` would.
    """
    whole = text.strip()
    try:
        return json.loads(whole, strict=False)
    except json.JSONDecodeError:
        pass
    body = strip_fence(text)
    try:
        return json.loads(body, strict=False)
    except json.JSONDecodeError:
        value = (parser or _repair)(body)
        if value is None:
            raise
        return value


def parse_leading_json(text: str) -> Any:
    """The complete JSON value that ``text`` starts with (words after it ignored), or ``None``.

    For a finished answer: unlike :func:`parse_partial_json` it never closes a cut-off value.
    """
    try:
        return _DECODER.raw_decode(text.strip())[0]
    except json.JSONDecodeError:
        return None


def parse_and_check_json_markdown(text: str, expected_keys: Sequence[str]) -> dict[str, Any]:
    """A JSON object from a model's text that must have ``expected_keys``; else a parser error."""
    from chainmagic.core.parsers import OutputParserException

    try:
        value = parse_json_markdown(text)
    except json.JSONDecodeError as exc:
        raise OutputParserException(f"Got invalid JSON object. Error: {exc}") from exc
    if not isinstance(value, dict):
        raise OutputParserException(
            f"Expected JSON object (dict), but got: {type(value).__name__}.", llm_output=text
        )
    for key in expected_keys:
        if key not in value:
            raise OutputParserException(
                f"Got invalid return object. Expected key `{key}` to be present, but got {value}",
                llm_output=text,
            )
    return value


def parse_partial_json(text: str) -> Any:
    """Parse JSON that may be cut off, closing open strings and brackets; ``None`` if not yet JSON.

    Text after a complete value (``{"a": 1} Here is why.``) is ignored.
    """
    return _repair(strip_fence(text))


def _repair(text: str) -> Any:
    if not text:
        return None
    try:
        return json.loads(text, strict=False)
    except json.JSONDecodeError:
        pass
    try:
        return _DECODER.raw_decode(text)[0]  # a whole value with words after it
    except json.JSONDecodeError:
        pass
    states = _scan(text)
    trim = len(text)
    for _ in range(64):  # each failed attempt moves the cut to the decoder's error, or back by one
        opened, escaped, closers = states[trim]
        if escaped:  # cut right after a backslash: drop the half escape
            trim -= 1
            opened, escaped, closers = states[trim]
        head = text[:trim]
        if opened < 0:
            head = head.rstrip().rstrip(",:").rstrip()
        if not head:
            return None
        try:
            return json.loads(head + ('"' if opened >= 0 else "") + _closing(closers), strict=False)
        except json.JSONDecodeError as exc:
            if exc.pos < len(head):
                trim = exc.pos
            elif opened >= 0:  # a closed string does not fit there (a half key): drop it whole
                trim = opened
            else:
                trim = len(head) - 1
        if trim <= 0:
            return None
    return None


# The scan's state before each character: (where the open string starts, or -1; just after a
# backslash; open brackets). Open brackets are a linked list of (closer, rest) pairs, so each
# state costs O(1) to keep.
_State = tuple[int, bool, Any]


def _scan(text: str) -> list[_State]:
    states: list[_State] = []
    opened, escaped = -1, False
    stack: Any = None
    for i, ch in enumerate(text):
        states.append((opened, escaped, stack))
        if opened >= 0:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                opened = -1
        elif ch == '"':
            opened = i
        elif ch in "{[":
            stack = ("}" if ch == "{" else "]", stack)
        elif ch in "}]" and stack is not None:
            stack = stack[1]
    states.append((opened, escaped, stack))
    return states


def _closing(stack: Any) -> str:
    out = []
    while stack is not None:
        out.append(stack[0])
        stack = stack[1]
    return "".join(out)
