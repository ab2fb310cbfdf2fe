"""Every syntax-error message of the chain language, in one place.

One mistake, one message: what happened and, where it helps, one hint. Those with ``{fields}`` are
``str.format`` templates; the lexer and the parser fill them in and attach line, column and caret
(:class:`chainmagic.errors.ChainSyntaxError`). ``tests/dsl/test_errors.py`` holds a golden example
of each, and checks that none is left without one.
"""

from __future__ import annotations

# -- lexical: tokens.py --------------------------------------------------------------------------
UNTERMINATED_STRING = "unterminated string"
UNTERMINATED_TRIPLE = "unterminated triple-quoted string"
NEVER_CLOSED = "{bracket!r} was never closed"
UNMATCHED = "unmatched {bracket!r}"
TOO_DEEP = "nested too deeply (limit {limit})"
MISMATCHED = "{closer!r} does not match {opener!r}"
MISMATCHED_LINES = "{closer!r} does not match {opener!r} on line {line}"
INVALID_CHARACTER = "invalid character {char!r}"
AFTER_BACKSLASH = "unexpected character after '\\'"
STRING_PREFIX = "string prefix {prefix!r} is not supported"
F_STRING_PREFIX = "string prefix {prefix!r} is not supported; a prompt fills {{variables}} itself"
INVALID_ESCAPE = "invalid escape in string"
INVALID_NUMBER = "invalid number {number!r}"

# -- statements ----------------------------------------------------------------------------------
SECOND_CHAIN = "a second unnamed chain; a cell has one (name the others: NAME = ...)"
ASSIGN_TARGET = "the left side of '=' must be a plain name"
ASSIGN_KEYWORD = "cannot assign to the Python keyword {name!r}"
CHAINED_ASSIGN = "only one '=' per statement"
STRAY_COLON = "unexpected ':'; a key goes at the start of a line or inside {...}"

# -- steps ---------------------------------------------------------------------------------------
EXPECTED_STEP = "expected a step after {op!r}"
STEP_BEFORE_PIPE = "expected a step before '|'"
NOT_A_STEP = "{what} cannot be a step; a step is a prompt, a map, a @pick or a name"
PYTHON_KEYWORD = (
    "{name!r} is a Python keyword, not part of the chain language; "
    "define it in a Python cell and use its name"
)
FORGOT_PIPE = "unexpected {what}; did you forget '|'?"
UNEXPECTED = "unexpected {what}"
EXPECTED_SEPARATOR = "expected ',' or {closer!r}"
NAME_AFTER_DOT = "expected a name after '.'"
EMPTY_LIST = "an empty list cannot be a step"

# -- keys and arguments --------------------------------------------------------------------------
MAP_KEY = "a map key must be a name or a quoted string"
PICK_KEY = "'@' must be followed by a key: @name or @\"some key\""
KEY_KEYWORD = '{name!r} is a Python keyword; quote it if you mean the key "{name}"'
EXPECTED_COLON = "expected ':' after the key {key!r}"
DUPLICATE_KEY = "duplicate key {key!r}"
DUPLICATE_ARGUMENT = "duplicate argument {name!r}"
ARGUMENT_KEYWORD = "{name!r} is a Python keyword and cannot name an argument"
POSITIONAL_AFTER_KEYWORD = "positional argument after keyword argument"
