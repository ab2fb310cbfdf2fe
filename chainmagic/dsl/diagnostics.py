"""Compile-time diagnostics: errors that point at the cell, and suggestions for typos.

An error carries the line it happened on and a caret under the span (the ``%%chain`` line counts as
line 1 in a cell). An unknown name suggests the closest names the cell could have meant: its own
bindings, the notebook's objects (not modules, builtins or the shell's own names) and the built-ins.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from chainmagic.dsl.nodes import Span
from chainmagic.errors import ChainNameError, ChainSyntaxError

__all__ = ["located", "unknown_name"]

# Names a notebook always has (IPython's own) that are never what a typo meant.
_SHELL_NAMES = frozenset({"In", "Out", "get_ipython", "exit", "quit", "open"})


def located(message: str, span: Span, lines: list[str], first_line: int) -> ChainSyntaxError:
    """A ChainSyntaxError at ``span``, showing its line of the cell and a caret under it."""
    index = span.line - first_line
    line = lines[index] if 0 <= index < len(lines) else None
    end = span.end_col if span.end_line == span.line else len(line or "")
    return ChainSyntaxError(
        message, lineno=span.line, offset=span.col + 1, end_offset=end + 1, text=line
    )


def unknown_name(
    name: str, known: Iterable[str], namespace: Mapping[str, Any], where: str
) -> ChainNameError:
    """The error for a name nothing defines, with up to three close matches."""
    notebook = [
        k
        for k, v in namespace.items()
        if isinstance(k, str) and not k.startswith("_") and _suggestable(k, v)
    ]
    pool = list(dict.fromkeys([*known, *notebook]))
    candidates = difflib.get_close_matches(name, pool, n=3, cutoff=0.6)
    return ChainNameError(name, candidates, where=where)


def _suggestable(name: str, value: Any) -> bool:
    """Whether a namespace entry is worth suggesting for a typo: not a module, not the shell's."""
    if name in _SHELL_NAMES:
        return False
    return not isinstance(value, type(difflib)) and not isinstance(value, type(len))
