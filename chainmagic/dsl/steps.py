"""The step grammar: pipelines and the steps they are made of, with their error messages.

::

    pipeline := step ("|" step)*
    step     := "{" [key ":" pipeline ("," key ":" pipeline)* [","]] "}"
              | "[" pipeline ("," pipeline)* [","] "]" | "(" pipeline ")"
              | STRING | "@" key | NAME ("." NAME)* ["(" [arg ("," arg)* [","]] ")"]
    arg      := [NAME "="] (literal | pipeline)
    key      := NAME | STRING             (a Python keyword is never a bare name)

No name is reserved: ``model``, ``str`` or ``assign(...)`` are plain ``Name``/``Call`` nodes, because the
notebook namespace wins over the built-ins and only the compiler knows the namespace. Parentheses only
group: ``(a | b)`` is the ``Pipe`` itself, with no node of its own. Statements and the cell's rules
live in :mod:`chainmagic.dsl.parser`, which builds on :class:`StepParser`.
"""

from __future__ import annotations

from chainmagic.dsl import messages as M
from chainmagic.dsl.literals import CONSTANT_NAMES, read_literal
from chainmagic.dsl.nodes import (
    Arg,
    Call,
    Keyword,
    Map,
    MapEntry,
    Messages,
    Name,
    Pick,
    Pipe,
    Span,
    Step,
    Template,
)
from chainmagic.dsl.tokens import (
    END,
    KEYWORDS,
    NAME,
    NEWLINE,
    NUMBER,
    OP,
    STRING,
    Source,
    Token,
    string_value,
)
from chainmagic.errors import ChainSyntaxError

__all__ = ["StepParser", "is_op", "span"]

_STEP_STARTS = frozenset({"{", "[", "(", "@"})
_STEP_INTROS = frozenset({"|", "=", ":", "(", "[", ","})  # "expected a step after" these
_STEP_ENDS = frozenset({"|", "=", ":", ",", ")", "]", "}"})  # ... when one of these comes instead
_new = tuple.__new__  # a Span without NamedTuple's Python-level __new__ (one per node)


def span(first: Token | Span, last: Token | Span) -> Span:
    """From the start of ``first`` to the end of ``last``."""
    return _new(Span, (first.line, first.col, last.end_line, last.end_col))


def is_op(tok: Token, value: str) -> bool:
    return tok.kind == OP and tok.value == value


class StepParser:
    """A cursor over the cell's tokens that reads pipelines; errors carry line, column and caret."""

    __slots__ = ("pos", "src", "toks")

    def __init__(self, src: Source, toks: list[Token]) -> None:
        self.src = src
        self.toks = toks
        self.pos = 0

    def pipeline(self) -> Step:
        first = self.step()
        toks = self.toks
        if not is_op(toks[self.pos], "|"):
            return first
        steps = [first]
        while is_op(toks[self.pos], "|"):
            self.pos += 1
            steps.append(self.step())
        return Pipe(tuple(steps), span(first.span, steps[-1].span))

    def step(self) -> Step:
        tok = self.toks[self.pos]
        kind, value = tok.kind, tok.value
        if kind == NAME:
            if value in KEYWORDS:
                raise self.keyword_error(tok)
            return self.name_or_call()
        if kind == STRING:
            self.pos += 1
            text, triple = string_value(self.src, tok)
            return Template(text, triple, span(tok, tok))
        if kind == OP and value in _STEP_STARTS:
            if value == "{":
                return self.map()
            if value == "[":
                return self.messages()
            if value == "@":
                return self.pick()
            self.pos += 1
            inner = self.pipeline()
            if not is_op(self.toks[self.pos], ")"):
                raise self.unexpected(self.toks[self.pos])
            self.pos += 1
            return inner
        if kind == NUMBER or (is_op(tok, "-") and self.toks[self.pos + 1].kind == NUMBER):
            end = tok if kind == NUMBER else self.toks[self.pos + 1]
            msg = M.NOT_A_STEP.format(what="a number")
            raise self.src.error(msg, tok.line, tok.col, end.end_line, end.end_col)
        raise self.expected_step(tok)

    def name_or_call(self) -> Name | Call:
        toks = self.toks
        first = last = toks[self.pos]
        parts = [first.value]
        self.pos += 1
        while is_op(toks[self.pos], "."):
            last = toks[self.pos + 1]
            if last.kind != NAME:
                raise self.src.error_at(M.NAME_AFTER_DOT, last)
            parts.append(last.value)
            self.pos += 2
        name = Name(tuple(parts), span(first, last))
        return self.call(name) if is_op(toks[self.pos], "(") else name

    def call(self, func: Name) -> Call:
        self.pos += 1  # "("
        args: list[Arg] = []
        kwargs: list[Keyword] = []
        toks = self.toks
        while not is_op(toks[self.pos], ")"):
            tok = toks[self.pos]
            if tok.kind == NAME and is_op(toks[self.pos + 1], "="):
                if tok.value in KEYWORDS:
                    raise self.src.error_at(M.ARGUMENT_KEYWORD.format(name=tok.value), tok)
                if any(k.name == tok.value for k in kwargs):
                    raise self.src.error_at(M.DUPLICATE_ARGUMENT.format(name=tok.value), tok)
                self.pos += 2
                value = self.argument()
                kwargs.append(Keyword(tok.value, value, span(tok, value.span)))
            elif kwargs:
                raise self.src.error_at(M.POSITIONAL_AFTER_KEYWORD, tok)
            else:
                args.append(self.argument())
            self.separator(")")
        close = toks[self.pos]
        self.pos += 1
        return Call(func, tuple(args), tuple(kwargs), span(func.span, close))

    def argument(self) -> Arg:
        found = read_literal(self.src, self.toks, self.pos)
        if found is not None:
            literal, end = found
            after = self.toks[end]
            if is_op(after, ",") or is_op(after, ")"):
                self.pos = end
                return literal
        return self.pipeline()

    def map(self) -> Map:
        opener = self.toks[self.pos]
        self.pos += 1
        entries: list[MapEntry] = []
        keys: set[str] = set()
        while not is_op(self.toks[self.pos], "}"):
            entries.append(self.entry(keys))
            self.separator("}")
        close = self.toks[self.pos]
        self.pos += 1
        return Map(tuple(entries), span(opener, close))

    def entry(self, keys: set[str]) -> MapEntry:
        tok = self.toks[self.pos]
        key = self.key(tok, M.MAP_KEY)
        if key in keys:
            raise self.src.error_at(M.DUPLICATE_KEY.format(key=key), tok)
        keys.add(key)
        colon = self.toks[self.pos]
        if not is_op(colon, ":"):
            raise self.src.error_at(M.EXPECTED_COLON.format(key=key), colon)
        self.pos += 1
        value = self.pipeline()
        return MapEntry(key, value, span(tok, value.span))

    def key(self, tok: Token, msg: str) -> str:
        """Consume the key a NAME or STRING token spells; else raise ``msg``."""
        if tok.kind == NAME:
            if tok.value in KEYWORDS:
                raise self.src.error_at(M.KEY_KEYWORD.format(name=tok.value), tok)
            self.pos += 1
            return tok.value
        if tok.kind == STRING:
            self.pos += 1
            return string_value(self.src, tok)[0]
        raise self.src.error_at(msg, tok)

    def pick(self) -> Pick:
        at = self.toks[self.pos]
        self.pos += 1
        tok = self.toks[self.pos]
        return Pick(self.key(tok, M.PICK_KEY), span(at, tok))

    def messages(self) -> Messages:
        opener = self.toks[self.pos]
        self.pos += 1
        items: list[Step] = []
        while not is_op(self.toks[self.pos], "]"):
            items.append(self.pipeline())
            self.separator("]")
        close = self.toks[self.pos]
        self.pos += 1
        if not items:
            raise self.src.error_at(M.EMPTY_LIST, opener)
        return Messages(tuple(items), span(opener, close))

    # -- punctuation and errors -------------------------------------------------------------------

    def separator(self, closer: str) -> None:
        """After an item in brackets: consume a ``,`` or stop before ``closer``."""
        tok = self.toks[self.pos]
        if is_op(tok, ","):
            self.pos += 1
        elif not is_op(tok, closer):
            raise self.unexpected(tok, M.EXPECTED_SEPARATOR.format(closer=closer))

    def unexpected(self, tok: Token, fallback: str | None = None) -> ChainSyntaxError:
        kind, value = tok.kind, tok.value
        if is_op(tok, ":"):
            msg = M.STRAY_COLON
        elif kind == NAME and value in KEYWORDS and value not in CONSTANT_NAMES:
            return self.keyword_error(tok)
        elif kind in (NAME, STRING) or (kind == OP and value in _STEP_STARTS):
            msg = M.FORGOT_PIPE.format(what=_describe(tok))
        else:
            msg = fallback or M.UNEXPECTED.format(what=_describe(tok))
        return self.src.error_at(msg, tok)

    def expected_step(self, tok: Token) -> ChainSyntaxError:
        prev = self.toks[self.pos - 1] if self.pos else None
        ends = tok.kind in (NEWLINE, END) or (tok.kind == OP and tok.value in _STEP_ENDS)
        if ends and prev is not None and prev.kind == OP and prev.value in _STEP_INTROS:
            msg = M.EXPECTED_STEP.format(op=prev.value)
            if tok.kind in (NEWLINE, END):
                return self.src.error(msg, prev.end_line, prev.end_col)
            return self.src.error_at(msg, tok)
        if is_op(tok, "|"):
            return self.src.error_at(M.STEP_BEFORE_PIPE, tok)
        return self.src.error_at(M.UNEXPECTED.format(what=_describe(tok)), tok)

    def keyword_error(self, tok: Token) -> ChainSyntaxError:
        if tok.value in CONSTANT_NAMES:
            return self.src.error_at(M.NOT_A_STEP.format(what=tok.value), tok)
        return self.src.error_at(M.PYTHON_KEYWORD.format(name=tok.value), tok)


def _describe(tok: Token) -> str:
    if tok.kind == NAME:
        return f"name {tok.value!r}"
    if tok.kind == NUMBER:
        return f"number {tok.value}"
    if tok.kind == STRING:
        return "string"
    if tok.kind == NEWLINE:
        return "end of line"
    if tok.kind == END:
        return "end of cell"
    return repr(tok.value)
