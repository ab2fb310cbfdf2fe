"""Cell text → a flat list of tokens, one ``newline`` token between statements.

The lexical grammar is Python's own: strings (every prefix, triple quotes, escapes), numbers, names and
operators are matched with the patterns :mod:`tokenize` defines (``StringPrefix``, ``Single3``,
``Number``, ``Special`` ...), so the chain language reads exactly like Python where it looks like
Python. We scan the whole cell with one compiled regex instead of ``tokenize.generate_tokens`` because:

* **Speed.** ``generate_tokens`` costs ~250 µs for a 20-line cell on Python 3.11 (a quarter of the
  parse+compile budget); one regex pass costs a fraction of that.
* **One behaviour everywhere.** From 3.12 ``generate_tokens`` is the C tokenizer: it raises where 3.11
  yields ERRORTOKENs, reports 1-based columns, and splits f-strings into parts.
* **Indentation is noise.** The language has no blocks; ``    | model`` must be fine wherever it sits,
  with no INDENT/DEDENT bookkeeping and no IndentationError.

On top of the tokens we do what Python's tokenizer would not: track brackets (a line break inside
``()``, ``[]``, ``{}`` is whitespace), and drop a statement boundary when the line before ends with
``|`` or the next starts with ``|`` (blank and comment lines in between do not matter). Every lexical
problem is a :class:`ChainSyntaxError` with line, column and caret.
"""

from __future__ import annotations

import ast
import keyword
import re
import tokenize
import unicodedata
import warnings
from typing import NamedTuple

from chainmagic.dsl import messages as M
from chainmagic.errors import ChainSyntaxError

__all__ = ["END", "NAME", "NEWLINE", "NUMBER", "OP", "STRING", "Source", "Token", "lex"]

NAME, STRING, NUMBER, OP, NEWLINE, END = "name", "string", "number", "op", "newline", "end"

KEYWORDS = frozenset(keyword.kwlist)
_PAIRS = {"(": ")", "[": "]", "{": "}"}
_CLOSERS = frozenset(_PAIRS.values())
_INVALID_OPS = frozenset({"!"})  # an operator to Python 3.12+ (f-strings), never to us

# Alternatives in order of frequency. A name directly before a quote is a string prefix (r"..."), so
# `name` refuses it and `word` catches what is left (`human"x"`) for the parser to reject. `(?s:...)`
# lets `\\.` take a backslash-newline, which Python allows inside any string.
_STRING = (
    rf"(?s:{tokenize.StringPrefix}(?:'''{tokenize.Single3}|\"\"\"{tokenize.Double3}"
    r"""|(?!''')'(?:[^\n'\\]|\\.)*'|(?!\"\"\")"(?:[^\n"\\]|\\.)*"))"""
)
# Any non-ASCII character may be part of a name, as in Python's own tokenizer; lex() then checks it.
_NAME = r"(?:[^\W\d]|[^\x00-\x7f])(?:\w|[^\x00-\x7f])*"
_TOKEN = re.compile(
    rf"[ \f\t]*(?:(?P<name>{_NAME}(?![\w'\"\x80-\U0010ffff]))"
    rf"|(?P<op>[|@:,(){{}}\[\]](?!=)|(?!\.\d){tokenize.Special})"
    rf"|(?P<nl>\n)|(?P<string>{_STRING})|(?P<number>{tokenize.Number})"
    r"|(?P<comment>#[^\n]*)|(?P<cont>\\\n)|(?P<word>(?:\w|[^\x00-\x7f])+))"
)
_STRING_START = re.compile(rf"[ \f\t]*{tokenize.StringPrefix}('''|\"\"\"|'|\")")
_KINDS = {"string": STRING, "number": NUMBER, "name": NAME, "word": NAME, "op": OP}


class Token(NamedTuple):
    """One token; lines 1-based (counted from ``first_line``), columns 0-based, end exclusive."""

    kind: str
    value: str
    line: int
    col: int
    end_line: int
    end_col: int


_new = tuple.__new__  # builds a Token without NamedTuple's Python-level __new__ (lexing is hot)


class Source:
    """The cell text with its line numbering; turns positions into :class:`ChainSyntaxError`."""

    __slots__ = ("first_line", "lines", "text")

    def __init__(self, text: str, first_line: int = 1) -> None:
        self.text = text.replace("\r\n", "\n").replace("\r", "\n")
        self.lines = self.text.split("\n")
        self.first_line = first_line

    def line_text(self, line: int) -> str:
        index = line - self.first_line
        return self.lines[index] if 0 <= index < len(self.lines) else ""

    def error(
        self, msg: str, line: int, col: int, end_line: int | None = None, end_col: int | None = None
    ) -> ChainSyntaxError:
        """An error at (line, col), underlined up to (end_line, end_col) if that is on that line."""
        text = self.line_text(line)
        col = max(0, min(col, len(text)))
        end_offset = None
        if end_line == line and end_col is not None and end_col > col:
            end_offset = min(end_col, len(text)) + 1
        return ChainSyntaxError(msg, lineno=line, offset=col + 1, end_offset=end_offset, text=text)

    def error_at(self, msg: str, tok: Token) -> ChainSyntaxError:
        return self.error(msg, tok.line, tok.col, tok.end_line, tok.end_col)


def lex(src: Source) -> list[Token]:
    """Tokens of the whole cell, statements separated by one NEWLINE, closed by END."""
    text = src.text + "\n"
    pos, size = 0, len(text)
    line, line_start = src.first_line, 0
    out: list[Token] = []
    opens: list[Token] = []
    pending: Token | None = None  # a statement boundary not yet known to survive `|` joining
    match = _TOKEN.match
    while pos < size:
        m = match(text, pos)
        if m is None:
            raise _bad_character(src, text, pos, line, line_start)
        group = m.lastgroup or ""
        start, pos = m.span(group)
        if group == "nl":
            if not opens and pending is None and out and out[-1].kind != NEWLINE:
                col = start - line_start
                pending = Token(NEWLINE, "", line, col, line, col)
            line, line_start = line + 1, pos
            continue
        if group == "comment":
            continue
        if group == "cont":
            line, line_start = line + 1, pos
            continue
        value = m.group(group)
        col, end_line = start - line_start, line
        if group == "string" and "\n" in value:
            end_line += value.count("\n")
            line_start = start + value.rindex("\n") + 1
        kind = _KINDS[group]
        tok = _new(Token, (kind, value, line, col, end_line, pos - line_start))
        line = end_line
        if kind == OP:
            if value in _PAIRS:
                opens.append(tok)
            elif value in _CLOSERS:
                _close(src, opens, tok)
            elif value in _INVALID_OPS:
                raise src.error_at(M.INVALID_CHARACTER.format(char=value), tok)
        elif kind == NAME and not value.isascii():
            tok = _unicode_name(src, tok)
        if pending is not None:
            if value != "|" and not (out[-1].kind == OP and out[-1].value == "|"):
                out.append(pending)
            pending = None
        out.append(tok)
    if opens:
        raise src.error_at(M.NEVER_CLOSED.format(bracket=opens[-1].value), opens[-1])
    last = out[-1] if out else Token(END, "", src.first_line, 0, src.first_line, 0)
    if out and last.kind != NEWLINE:
        out.append(Token(NEWLINE, "", last.end_line, last.end_col, last.end_line, last.end_col))
    out.append(Token(END, "", last.end_line, last.end_col, last.end_line, last.end_col))
    return out


def _unicode_name(src: Source, tok: Token) -> Token:
    """Check a non-ASCII name character by character, and normalize it (NFKC) as Python does."""
    value = tok.value
    if not value.isidentifier():
        bad = next(i for i in range(len(value)) if not value[: i + 1].isidentifier())
        raise src.error(M.INVALID_CHARACTER.format(char=value[bad]), tok.line, tok.col + bad)
    return tok._replace(value=unicodedata.normalize("NFKC", value))


def _close(src: Source, opens: list[Token], tok: Token) -> None:
    if not opens:
        raise src.error_at(M.UNMATCHED.format(bracket=tok.value), tok)
    opener = opens.pop()
    if _PAIRS[opener.value] != tok.value:
        template = M.MISMATCHED if opener.line == tok.line else M.MISMATCHED_LINES
        msg = template.format(closer=tok.value, opener=opener.value, line=opener.line)
        raise src.error_at(msg, tok)


def _bad_character(
    src: Source, text: str, pos: int, line: int, line_start: int
) -> ChainSyntaxError:
    """Nothing matched at ``pos``: an unterminated string or a character Python would not take."""
    start = _STRING_START.match(text, pos)
    if start is not None:
        msg = M.UNTERMINATED_TRIPLE if len(start.group(2)) == 3 else M.UNTERMINATED_STRING
        return src.error(msg, line, start.start(1) - line_start)
    while text[pos] in " \f\t":
        pos += 1
    char = text[pos]
    msg = M.AFTER_BACKSLASH if char == "\\" else M.INVALID_CHARACTER.format(char=char)
    return src.error(msg, line, pos - line_start)


def string_value(src: Source, tok: Token) -> tuple[str, bool]:
    """The text of a STRING token and whether it was triple-quoted; only r/u prefixes are allowed."""
    raw = tok.value
    start = 0
    while raw[start] not in "'\"":
        start += 1
    if start and any(c in "bBfF" for c in raw[:start]):
        prefix = raw[:start]
        template = M.F_STRING_PREFIX if "f" in prefix.lower() else M.STRING_PREFIX
        raise src.error_at(template.format(prefix=prefix), tok)
    triple = raw[start : start + 3] in ('"""', "'''")
    quote = 3 if triple else 1
    body = raw[start + quote : -quote]
    if "\\" not in body:
        return body, triple
    try:
        with warnings.catch_warnings():  # invalid escapes warn; we decode like Python would
            warnings.simplefilter("ignore")
            value = ast.literal_eval(raw)
    except (SyntaxError, ValueError):
        raise src.error_at(M.INVALID_ESCAPE, tok) from None
    return str(value), triple


def number_value(src: Source, tok: Token) -> int | float | complex:
    if tok.value.isdigit() and (tok.value[0] != "0" or tok.value.strip("0") == ""):
        return int(tok.value)  # the common case, without compile()
    try:
        value = ast.literal_eval(tok.value)
    except (SyntaxError, ValueError):  # pragma: no cover - defensive: the regex is Python's own
        value = None
    if not isinstance(value, (int, float, complex)):  # pragma: no cover - as above
        raise src.error_at(M.INVALID_NUMBER.format(number=tok.value), tok)
    return value
