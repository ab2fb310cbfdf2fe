"""Syntax nodes of the chain language: what the parser builds and the compiler walks.

Nodes are named by *syntax* (``Pipe``, ``Map``, ``Template``, ``Pick``, ``Name``, ``Call``), never by
what they become at run time: turning a ``Map`` into a parallel runnable, or deciding whether the
``Name`` ``model`` is the user's variable or the built-in model, is the compiler's job. The parser
reserves no step names, so ``passthrough``, ``str``, ``json``, ``model``, ``assign(...)``,
``system(...)`` and ``human(...)`` arrive here as ordinary ``Name`` and ``Call`` nodes.

Every node is a frozen dataclass whose last field is ``span``, so a compiler can ``match`` on them
(``case Pipe(steps=steps):``) and every compiled step can remember where the cell wrote it.

Spans: lines are 1-based (counted from ``parse(first_line=...)``), columns are 0-based and the end is
exclusive -- :mod:`tokenize`'s convention. ``ChainSyntaxError.offset`` is ``col + 1``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple, TypeAlias

__all__ = [
    "Arg",
    "Assign",
    "BlockMap",
    "Call",
    "Expr",
    "Keyword",
    "Literal",
    "Map",
    "MapEntry",
    "Messages",
    "Name",
    "Node",
    "Pick",
    "Pipe",
    "Program",
    "Span",
    "Statement",
    "Step",
    "Template",
    "iter_nodes",
]


class Span(NamedTuple):
    """Where a node sits in the cell: 1-based lines, 0-based columns, end exclusive.

    A named tuple rather than a dataclass: the parser makes one per node, and it unpacks
    (``line, col, end_line, end_col = span``).
    """

    line: int
    col: int
    end_line: int
    end_col: int


class Node:
    """Base of every syntax node (for ``isinstance``); each subclass has a ``span`` field."""

    __slots__ = ()
    span: Span


@dataclass(frozen=True, slots=True)
class Pipe(Node):
    """``a | b | c``: two or more steps, each fed the previous one's output."""

    steps: tuple[Step, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class MapEntry(Node):
    """``key: pipeline`` inside ``{...}`` or on a line of a block map."""

    key: str
    value: Step
    span: Span


@dataclass(frozen=True, slots=True)
class Map(Node):
    """``{k: pipeline, "k 2": pipeline}``: branches that run in parallel on the same input."""

    entries: tuple[MapEntry, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Template(Node):
    """A quoted string in step position: a prompt. ``text`` is decoded; ``{var}`` is left as written."""

    text: str
    triple_quoted: bool
    span: Span


@dataclass(frozen=True, slots=True)
class Pick(Node):
    """``@key`` or ``@"key with space"``: one key of the input."""

    key: str
    span: Span


@dataclass(frozen=True, slots=True)
class Name(Node):
    """``NAME`` or ``NAME.attr.attr``; resolved by the compiler (namespace first, then built-ins)."""

    parts: tuple[str, ...]
    span: Span

    @property
    def dotted(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True, slots=True)
class Literal(Node):
    """A constant argument: number, string, True/False/None, or a list/dict of those.

    ``value`` is the Python value (lists and dicts are fresh objects per parse, but a compiler that hands
    them to user code should copy them if it caches programs). Literals only appear as call arguments.
    """

    value: object = field(hash=False)  # a list or dict is unhashable; the span tells literals apart
    span: Span


@dataclass(frozen=True, slots=True)
class Keyword(Node):
    """``name=value`` in a call."""

    name: str
    value: Arg
    span: Span


@dataclass(frozen=True, slots=True)
class Call(Node):
    """``NAME(args, key=value)``; arguments are literals or pipelines."""

    func: Name
    args: tuple[Arg, ...]
    kwargs: tuple[Keyword, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Messages(Node):
    """``[system("..."), human("...")]``: a list of messages, together one prompt."""

    items: tuple[Step, ...]
    span: Span


Step: TypeAlias = Pipe | Map | Template | Pick | Name | Call | Messages
Arg: TypeAlias = Step | Literal


@dataclass(frozen=True, slots=True)
class Assign(Node):
    """``NAME = pipeline``: binds NAME in the notebook namespace."""

    name: str
    value: Step
    span: Span


@dataclass(frozen=True, slots=True)
class Expr(Node):
    """An unnamed pipeline on its own: the cell's chain."""

    value: Step
    span: Span


@dataclass(frozen=True, slots=True)
class BlockMap(Node):
    """Consecutive ``KEY: pipeline`` lines (comment and blank lines may sit between): one map."""

    entries: tuple[MapEntry, ...]
    span: Span

    @property
    def value(self) -> Map:
        """The same map as a step, so every statement has a ``value``."""
        return Map(self.entries, self.span)


Statement: TypeAlias = Assign | Expr | BlockMap


@dataclass(frozen=True, slots=True)
class Program(Node):
    """A parsed cell. An empty cell (blank or only comments) has no statements and no chain."""

    statements: tuple[Statement, ...]
    source: str
    span: Span

    @property
    def chain_statement(self) -> Statement | None:
        """The unnamed pipeline or block map; where there is none, the last assignment."""
        for statement in self.statements:
            if not isinstance(statement, Assign):
                return statement
        return self.statements[-1] if self.statements else None

    @property
    def chain(self) -> Step | None:
        """The cell's chain as a step node (a block map as a ``Map``), or None for an empty cell."""
        statement = self.chain_statement
        return None if statement is None else statement.value


def iter_nodes(node: Node) -> Iterator[Node]:
    """Every node under ``node`` (itself first), depth-first in source order."""
    yield node
    children: tuple[Node, ...]
    if isinstance(node, Pipe):
        children = node.steps
    elif isinstance(node, (Map, BlockMap)):
        children = node.entries
    elif isinstance(node, Messages):
        children = node.items
    elif isinstance(node, Call):
        children = (node.func, *node.args, *node.kwargs)
    elif isinstance(node, (MapEntry, Keyword, Assign, Expr)):
        children = (node.value,)
    elif isinstance(node, Program):
        children = node.statements
    else:
        children = ()
    for child in children:
        yield from iter_nodes(child)
