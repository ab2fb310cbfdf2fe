"""Cell text → :class:`Program`: statements and the cell's rules, over the step grammar.

::

    program   := (statement NEWLINE)*
    statement := NAME "=" pipeline | key ":" pipeline | pipeline

(``pipeline`` and ``key`` are in :mod:`chainmagic.dsl.steps`; the lexer decides where statements end,
including continuation lines that start or end with ``|``.)

Consecutive ``key: pipeline`` statements form one :class:`BlockMap`; comment and blank lines between
them do not break it, any other statement does. The cell's chain is its one unnamed pipeline or block
map, else its last assignment; a second unnamed one is an error, reported at the second. An empty cell
(blank or only comments) parses to a Program with no statements and no chain: whether that is an error
is for the caller to say.
"""

from __future__ import annotations

from chainmagic.dsl import messages as M
from chainmagic.dsl.nodes import Assign, BlockMap, Expr, MapEntry, Program, Span, Statement
from chainmagic.dsl.steps import StepParser, is_op
from chainmagic.dsl.steps import span as _span
from chainmagic.dsl.tokens import END, KEYWORDS, NAME, NEWLINE, OP, STRING, Source, Token, lex

__all__ = ["MAX_DEPTH", "parse"]

# Brackets nested deeper than this are refused at once. Each level costs a few frames in the parser,
# the compiler, the graph and the renderers; 64 is far past any chain a person writes and far below
# Python's recursion limit, so a deep cell gets one located message instead of a RecursionError.
MAX_DEPTH = 64


def parse(source: str, *, first_line: int = 1) -> Program:
    """Parse a chain cell into a :class:`Program`; raise :class:`ChainSyntaxError` if malformed.

    ``first_line`` is the number of the cell's first line in spans and errors: the magic passes 2 so
    that the ``%%chain`` line is line 1, as the user sees the cell.
    """
    src = Source(source, first_line)
    toks = lex(src)
    _check_depth(src, toks)
    return _CellParser(src, toks).program()


def _check_depth(src: Source, toks: list[Token]) -> None:
    depth = 0
    for tok in toks:
        if tok.kind != OP:
            continue
        if tok.value in "([{":
            depth += 1
            if depth > MAX_DEPTH:
                raise src.error_at(M.TOO_DEEP.format(limit=MAX_DEPTH), tok)
        elif tok.value in ")]}":
            depth -= 1


class _CellParser(StepParser):
    __slots__ = ()

    def program(self) -> Program:
        statements: list[Statement] = []
        block: list[MapEntry] = []
        block_keys: set[str] = set()
        has_chain = False
        toks = self.toks
        while toks[self.pos].kind != END:
            tok = toks[self.pos]
            if tok.kind in (NAME, STRING) and is_op(toks[self.pos + 1], ":"):
                block.append(self.entry(block_keys))
                self.end_of_statement(block[-1].span)
                if len(block) == 1:
                    has_chain = self.check_unnamed(has_chain, block[0].span)
                continue
            if block:
                statements.append(BlockMap(tuple(block), _span(block[0].span, block[-1].span)))
                block, block_keys = [], set()
            statement = self.statement()
            if not isinstance(statement, Assign):
                has_chain = self.check_unnamed(has_chain, statement.span)
            statements.append(statement)
        if block:
            statements.append(BlockMap(tuple(block), _span(block[0].span, block[-1].span)))
        first, lines = self.src.first_line, self.src.lines
        span = Span(first, 0, first + len(lines) - 1, len(lines[-1]))
        return Program(tuple(statements), self.src.text, span)

    def check_unnamed(self, has_chain: bool, span: Span) -> bool:
        if has_chain:
            raise self.src.error(M.SECOND_CHAIN, *span)
        return True

    def statement(self) -> Statement:
        tok = self.toks[self.pos]
        if tok.kind == NAME and is_op(self.toks[self.pos + 1], "="):
            if tok.value in KEYWORDS:
                raise self.src.error_at(M.ASSIGN_KEYWORD.format(name=tok.value), tok)
            self.pos += 2
            value = self.pipeline()
            self.end_of_statement(None)
            return Assign(tok.value, value, _span(tok, value.span))
        value = self.pipeline()
        self.end_of_statement(value.span)
        return Expr(value, value.span)

    def end_of_statement(self, left: Span | None) -> None:
        """Consume the NEWLINE ending a statement; ``left`` is what a stray '=' would assign to."""
        tok = self.toks[self.pos]
        if tok.kind == NEWLINE:
            self.pos += 1
        elif not is_op(tok, "="):
            raise self.unexpected(tok)
        elif left is None:
            raise self.src.error_at(M.CHAINED_ASSIGN, tok)
        else:
            raise self.src.error(M.ASSIGN_TARGET, *left)
