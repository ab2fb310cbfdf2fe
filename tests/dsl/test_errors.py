"""Golden syntax errors: for each mistake, the exact message, line, column and caret (``str(err)``).

One distinct message per mistake (the templates live in ``chainmagic.dsl.messages``); the last test
checks that every template has a golden example here, so a new message cannot ship untested.
"""

from __future__ import annotations

import re

import pytest

from chainmagic.dsl import messages, parse
from chainmagic.errors import ChainError, ChainSyntaxError

GOLDEN: list[tuple[str, str]] = [
    # -- steps ---------------------------------------------------------------------------------------
    (
        "a | 3 | b",
        """\
a number cannot be a step; a step is a prompt, a map, a @pick or a name
  line 1: a | 3 | b
              ^""",
    ),
    (
        "x = -1",
        """\
a number cannot be a step; a step is a prompt, a map, a @pick or a name
  line 1: x = -1
              ^~""",
    ),
    (
        "a | True",
        """\
True cannot be a step; a step is a prompt, a map, a @pick or a name
  line 1: a | True
              ^~~~""",
    ),
    (
        "None",
        """\
None cannot be a step; a step is a prompt, a map, a @pick or a name
  line 1: None
          ^~~~""",
    ),
    (
        "a |",
        """\
expected a step after '|'
  line 1: a |
             ^""",
    ),
    (
        "a | | b",
        """\
expected a step after '|'
  line 1: a | | b
              ^""",
    ),
    (
        "| a",
        """\
expected a step before '|'
  line 1: | a
          ^""",
    ),
    (
        "x =",
        """\
expected a step after '='
  line 1: x =
             ^""",
    ),
    (
        "{a: }",
        """\
expected a step after ':'
  line 1: {a: }
              ^""",
    ),
    (
        "f(k=)",
        """\
expected a step after '='
  line 1: f(k=)
              ^""",
    ),
    (
        "()",
        """\
expected a step after '('
  line 1: ()
           ^""",
    ),
    (
        "[a, ]  | [ ]",
        """\
an empty list cannot be a step
  line 1: [a, ]  | [ ]
                   ^""",
    ),
    (
        "a b",
        """\
unexpected name 'b'; did you forget '|'?
  line 1: a b
            ^""",
    ),
    (
        'a "b"',
        """\
unexpected string; did you forget '|'?
  line 1: a "b"
            ^~~""",
    ),
    (
        "a + b",
        """\
unexpected '+'
  line 1: a + b
            ^""",
    ),
    (
        "f(**k)",
        """\
unexpected '**'
  line 1: f(**k)
            ^~""",
    ),
    (
        "a.",
        """\
expected a name after '.'
  line 1: a.
            ^""",
    ),
    (
        "a.1",
        """\
unexpected number .1
  line 1: a.1
           ^~""",
    ),
    (
        "-a",
        """\
unexpected '-'
  line 1: -a
          ^""",
    ),
    (
        "(a, b)",
        """\
unexpected ','
  line 1: (a, b)
            ^""",
    ),
    (
        "[a b]",
        """\
unexpected name 'b'; did you forget '|'?
  line 1: [a b]
             ^""",
    ),
    (
        "{a: b c}",
        """\
unexpected name 'c'; did you forget '|'?
  line 1: {a: b c}
                ^""",
    ),
    (
        "f(a b)",
        """\
unexpected name 'b'; did you forget '|'?
  line 1: f(a b)
              ^""",
    ),
    (
        "f(x.y=1)",
        """\
expected ',' or ')'
  line 1: f(x.y=1)
               ^""",
    ),
    # -- python keywords -----------------------------------------------------------------------------
    (
        "lambda x: x",
        """\
'lambda' is a Python keyword, not part of the chain language; define it in a Python cell and use its name
  line 1: lambda x: x
          ^~~~~~""",
    ),
    (
        "import os",
        """\
'import' is a Python keyword, not part of the chain language; define it in a Python cell and use its name
  line 1: import os
          ^~~~~~""",
    ),
    (
        "a if b else c",
        """\
'if' is a Python keyword, not part of the chain language; define it in a Python cell and use its name
  line 1: a if b else c
            ^~""",
    ),
    (
        "True = x",
        """\
cannot assign to the Python keyword 'True'
  line 1: True = x
          ^~~~""",
    ),
    (
        "from: x",
        """\
'from' is a Python keyword; quote it if you mean the key "from"
  line 1: from: x
          ^~~~""",
    ),
    (
        "@class",
        """\
'class' is a Python keyword; quote it if you mean the key "class"
  line 1: @class
           ^~~~~""",
    ),
    (
        "f(lambda=1)",
        """\
'lambda' is a Python keyword and cannot name an argument
  line 1: f(lambda=1)
            ^~~~~~""",
    ),
    # -- keys, picks and arguments -------------------------------------------------------------------
    (
        "{a: x, a: y}",
        """\
duplicate key 'a'
  line 1: {a: x, a: y}
                 ^""",
    ),
    (
        "a: x\n# same key again\na: y",
        """\
duplicate key 'a'
  line 3: a: y
          ^""",
    ),
    (
        "f({'a': 1, a: 2})",
        """\
duplicate key 'a'
  line 1: f({'a': 1, a: 2})
                     ^""",
    ),
    (
        "{1: x}",
        """\
a map key must be a name or a quoted string
  line 1: {1: x}
           ^""",
    ),
    (
        "{context, question}",
        """\
expected ':' after the key 'context'
  line 1: {context, question}
                  ^""",
    ),
    (
        "@3",
        """\
'@' must be followed by a key: @name or @"some key"
  line 1: @3
           ^""",
    ),
    (
        "@",
        """\
'@' must be followed by a key: @name or @"some key"
  line 1: @
           ^""",
    ),
    (
        "f(a=1, a=2)",
        """\
duplicate argument 'a'
  line 1: f(a=1, a=2)
                 ^""",
    ),
    (
        "f(a=1, 2)",
        """\
positional argument after keyword argument
  line 1: f(a=1, 2)
                 ^""",
    ),
    # -- statements ----------------------------------------------------------------------------------
    (
        "a\nb",
        """\
a second unnamed chain; a cell has one (name the others: NAME = ...)
  line 2: b
          ^""",
    ),
    (
        "joke: x\nmodel",
        """\
a second unnamed chain; a cell has one (name the others: NAME = ...)
  line 2: model
          ^~~~~""",
    ),
    (
        "x = a\nb | c\nd: e",
        """\
a second unnamed chain; a cell has one (name the others: NAME = ...)
  line 3: d: e
          ^~~~""",
    ),
    (
        "a.b = c",
        """\
the left side of '=' must be a plain name
  line 1: a.b = c
          ^~~""",
    ),
    (
        "a = b = c",
        """\
only one '=' per statement
  line 1: a = b = c
                ^""",
    ),
    (
        "a: x = y",
        """\
the left side of '=' must be a plain name
  line 1: a: x = y
          ^~~~""",
    ),
    (
        "a | b: c",
        """\
unexpected ':'; a key goes at the start of a line or inside {...}
  line 1: a | b: c
               ^""",
    ),
    # -- strings, brackets and characters ------------------------------------------------------------
    (
        '"tell me a joke',
        """\
unterminated string
  line 1: "tell me a joke
          ^""",
    ),
    (
        "x = '''never\nclosed\n",
        """\
unterminated triple-quoted string
  line 1: x = '''never
              ^""",
    ),
    (
        "(a",
        """\
'(' was never closed
  line 1: (a
          ^""",
    ),
    (
        "{a: f(x,\n  b: y}",
        """\
'}' does not match '(' on line 1
  line 2:   b: y}
                ^""",
    ),
    (
        "a)",
        """\
unmatched ')'
  line 1: a)
           ^""",
    ),
    (
        "x | " + "(" * 65 + "y" + ")" * 65,
        """\
nested too deeply (limit 64)
  line 1: x | """
        + "(" * 65
        + "y"
        + ")" * 65
        + "\n"
        + " " * 78
        + "^",
    ),
    (
        "{a: x]",
        """\
']' does not match '{'
  line 1: {a: x]
               ^""",
    ),
    (
        "{a: [x\n}",
        """\
'}' does not match '[' on line 1
  line 2: }
          ^""",
    ),
    (
        "a $ b",
        """\
invalid character '$'
  line 1: a $ b
            ^""",
    ),
    (
        "a → b",
        """\
invalid character '→'
  line 1: a → b
            ^""",
    ),
    (
        "a \\ b",
        """\
unexpected character after '\\'
  line 1: a \\ b
            ^""",
    ),
    (
        "b'bytes'",
        """\
string prefix 'b' is not supported
  line 1: b'bytes'
          ^~~~~~~~""",
    ),
    (
        'f"hi {name}"',
        """\
string prefix 'f' is not supported; a prompt fills {variables} itself
  line 1: f"hi {name}"
          ^~~~~~~~~~~~""",
    ),
    (
        '"\\N{nope}"',
        """\
invalid escape in string
  line 1: "\\N{nope}"
          ^~~~~~~~~~""",
    ),
]


@pytest.mark.parametrize(("source", "expected"), GOLDEN, ids=[source for source, _ in GOLDEN])
def test_golden_message(source: str, expected: str) -> None:
    with pytest.raises(ChainSyntaxError) as caught:
        parse(source)
    assert str(caught.value) == expected


def test_dsl_md_rendering_exactly() -> None:
    """DSL.md's example, where the ``%%chain`` line is line 1 of the cell."""
    with pytest.raises(ChainSyntaxError) as caught:
        parse("{context: retriever, question: passthrough} | | model", first_line=2)
    assert f"ChainSyntaxError: {caught.value}" == (
        "ChainSyntaxError: expected a step after '|'\n"
        "  line 2: {context: retriever, question: passthrough} | | model\n"
        "                                                        ^"
    )


def test_error_is_a_python_syntax_error_with_position() -> None:
    with pytest.raises(ChainSyntaxError) as caught:
        parse("a = x\nb | | c")
    err = caught.value
    assert isinstance(err, SyntaxError)
    assert isinstance(err, ChainError)
    assert (err.filename, err.lineno, err.offset, err.text) == ("<chain>", 2, 5, "b | | c")
    assert err.msg == "expected a step after '|'"


def test_underline_spans_the_offending_token() -> None:
    with pytest.raises(ChainSyntaxError) as caught:
        parse("x | import")
    assert (caught.value.offset, caught.value.end_offset) == (5, 11)


def test_errors_on_continuation_lines_name_the_physical_line() -> None:
    with pytest.raises(ChainSyntaxError) as caught:
        parse('{q: @q}\n| """\nprompt {q}\n"""\n  | 7', first_line=2)
    assert caught.value.lineno == 6
    assert caught.value.text == "  | 7"


_DEFENSIVE = {"INVALID_NUMBER"}  # Python's own number pattern never yields an invalid number


def test_every_message_has_a_golden_example() -> None:
    first_lines = [expected.split("\n")[0] for _, expected in GOLDEN]
    for name, template in vars(messages).items():
        if not name.isupper() or name in _DEFENSIVE:
            continue
        pattern = re.escape(template.replace("{{", "{").replace("}}", "}"))
        pattern = re.sub(r"\\\{[a-z_]+(?:!r)?\\\}", ".+", pattern)
        assert any(re.fullmatch(pattern, line) for line in first_lines), name
