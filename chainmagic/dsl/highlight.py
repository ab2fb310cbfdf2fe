"""Cell text → highlight spans: which token class each piece of a ``%%chain`` cell belongs to.

The classes and the patterns that find them live in one file, ``token_classes.json`` beside this
module. The JupyterLab extension (``labextension/src/language.ts``) copies that file at build time and
runs the same line-by-line state machine over the same patterns as a CodeMirror ``StreamLanguage``;
this module is its Python twin, so tests (and any frontend without the extension) can tell what the
editor will colour, and the browser test can hold the two to the same answer.

Highlighting is forgiving where the parser is strict: it never raises, an unterminated string ends at
the end of its line, and an unknown character is simply left unclassed. It works line by line (as an
editor does); a triple-quoted string and bracket depth carry over from one line to the next.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, NamedTuple

__all__ = ["Span", "highlight", "open_string", "token_rules"]


class Span(NamedTuple):
    """Characters ``start`` to ``end`` (exclusive, offsets into the cell text) are of class ``cls``."""

    cls: str
    start: int
    end: int


@lru_cache(maxsize=1)
def token_rules() -> dict[str, Any]:
    """The parsed ``token_classes.json`` (read once: it ships inside the package)."""
    text = resources.files("chainmagic.dsl").joinpath("token_classes.json").read_text("utf-8")
    rules: dict[str, Any] = json.loads(text)
    return rules


@lru_cache(maxsize=1)
def _patterns() -> dict[str, re.Pattern[str]]:
    return {name: re.compile(p) for name, p in token_rules()["patterns"].items()}


@dataclass
class _State:
    """What a line's highlighting needs from the lines before it (as in the editor)."""

    line: int = 0
    depth: int = 0
    quote: str = ""  # the quote of a string still open, "" outside strings
    option_seen: bool = (
        False  # on the magic line: a name before the first option is the cell's NAME
    )


def highlight(text: str) -> list[Span]:
    """The classed spans of a cell (its first line being ``%%chain ...``), in order, merged."""
    return _scan(text)[0]


def open_string(text: str) -> bool:
    """Whether ``text`` ends inside a string: a cursor there is in a prompt's text, not in code."""
    return bool(_scan(text)[1].quote)


def _scan(text: str) -> tuple[list[Span], _State]:
    """The spans, and the state at the very end of ``text`` (before any end-of-line rule)."""
    state = _State()
    out: list[Span] = []
    offset = 0
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for number, line in enumerate(lines):
        if number:
            if len(state.quote) == 1 and not lines[number - 1].endswith("\\"):
                state.quote = ""  # a one-quote string cannot span lines (short of a backslash)
            state.line += 1
        pos = 0
        while pos < len(line):
            cls, end = _token(line, pos, state)
            if cls is not None:
                if out and out[-1].cls == cls and out[-1].end == offset + pos:
                    out[-1] = Span(cls, out[-1].start, offset + end)
                else:
                    out.append(Span(cls, offset + pos, offset + end))
            pos = end
        offset += len(line) + 1
    return out, state


def _token(line: str, pos: int, state: _State) -> tuple[str | None, int]:
    """The class of the token at ``pos`` and where it ends; mirrors ``token()`` in language.ts."""
    p = _patterns()
    if state.quote:
        return _string_token(line, pos, state)
    magic_line = state.line == 0
    m = p["space"].match(line, pos)
    if m:
        return None, m.end()
    for cls in ("comment", "magic", "option", "string_open", "pick", "number", "pipe"):
        if cls in ("magic", "option") and not magic_line:
            continue
        if cls == "option" and pos > 0 and not line[pos - 1].isspace():
            continue
        m = p[cls].match(line, pos)
        if m:
            if cls == "string_open":
                state.quote = m.group().lstrip("rRuUbBfF")
                return "string", m.end()
            if cls == "option":
                state.option_seen = True
            return cls, m.end()
    m = p["name"].match(line, pos)
    if m:
        return _name_class(m.group(), line, m.end(), state, magic_line), m.end()
    for cls in ("open", "close"):
        m = p[cls].match(line, pos)
        if m:
            state.depth = state.depth + 1 if cls == "open" else max(0, state.depth - 1)
            return "bracket", m.end()
    m = p["punctuation"].match(line, pos)
    if m:
        return "punctuation", m.end()
    return None, pos + 1


def _name_class(value: str, line: str, end: int, state: _State, magic_line: bool) -> str:
    p, rules = _patterns(), token_rules()
    if value in rules["constants"]:
        return "constant"
    if p["before_assign"].match(line, end):
        return "definition" if state.depth == 0 and not magic_line else "argument"
    if magic_line:
        return "name" if state.option_seen else "definition"
    if p["before_colon"].match(line, end):
        return "key"
    return "builtin" if value in rules["builtins"] else "name"


def _string_token(line: str, pos: int, state: _State) -> tuple[str, int]:
    p = _patterns()
    if line.startswith(state.quote, pos):
        end = pos + len(state.quote)
        state.quote = ""
        return "string", end
    if state.line > 0:  # a template's {variable}; the magic line's strings are plain input values
        m = p["brace_escape"].match(line, pos)
        if m:
            return "string", m.end()
        m = p["template_variable"].match(line, pos)
        if m:
            return "variable", m.end()
    for name in ("escape", "string_text"):
        m = p[name].match(line, pos)
        if m:
            return "string", m.end()
    return "string", pos + 1
