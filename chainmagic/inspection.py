"""Shift-Tab help inside ``%%chain`` and ``%%chaintime`` cells: what a name means *to the chain*.

In a chain cell, ``str`` is the string output parser, ``model`` the default chat model and ``@topic``
a key of the input; Python's own help would describe something else, or nothing. :func:`describe`
answers the way ``%%chain NAME`` without ``-i`` does: the step's kind, its graph and the inputs it
needs. Chains the cell itself defines are compiled (never run) to answer for them too.

The kernel's ``inspect_request`` is answered by ``kernel.do_inspect(code, cursor_pos, ...)``, which
sees only a name to IPython's inspector; the cell's text is lost there. So :func:`register` puts a
small wrapper on the one kernel *instance* (not its class): chain cells are answered here, every other
request goes to the kernel's own method unchanged, and :func:`unregister` takes the wrapper off. Outside
a kernel (terminal IPython) there is nothing to wrap and nothing is done.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from itertools import pairwise
from typing import Any

from chainmagic.completion import chain_context
from chainmagic.dsl.highlight import highlight

__all__ = ["describe", "register", "unregister"]

_BUILTIN_HELP = {
    "passthrough": "built-in step: the input, unchanged",
    "str": "built-in step: the string output parser (a message → its text content)",
    "json": "built-in step: the JSON output parser (tolerates a fenced code block)",
    "model": "built-in step: the default chat model, {model} (%config ChainMagics.default_model)",
    "assign": "built-in: assign(key=pipeline, ...), the input dict plus new keys, in parallel",
    "system": 'built-in: system("..."), a system message of a chat prompt',
    "human": 'built-in: human("..."), a human message of a chat prompt',
    "ai": 'built-in: ai("..."), an AI message of a chat prompt',
}
_WORD = re.compile(r"(?:[A-Za-z0-9_]|[^\x00-\x7f])+")
_MARK = "_chainmagic_inspect"


def describe(
    text: str, cursor: int, namespace: Mapping[str, Any], default_model: str = "fake:echo"
) -> str | None:
    """Help for the name under ``cursor`` in a chain cell, or None when there is none to give."""
    ctx = chain_context(text, cursor)
    if ctx is None:
        return None
    span = _span_at(text, cursor)
    if span is None:
        return None
    cls, start, end = span
    word = text[start:end]
    if cls == "pick":
        key = word[1:]
        return f"@{key}: picks the key {key!r} of the chain's input" if key else None
    if cls == "variable":
        return (
            f"{word}: a variable of the prompt template, filled from the input key {word[1:-1]!r}"
        )
    if cls not in ("name", "builtin", "definition", "key"):
        return None
    local = _cell_chain(text, word, namespace, default_model)
    if local is not None:
        return local
    if word in namespace:
        return _object_help(word, namespace[word])
    if word in _BUILTIN_HELP:
        return f"{word}: {_BUILTIN_HELP[word].format(model=default_model)}"
    return None


def _span_at(text: str, cursor: int) -> tuple[str, int, int] | None:
    """The classed token the cursor is in or just after (a word inside a name or pick span)."""
    for span in highlight(text):
        if span.start <= cursor <= span.end and span.cls in (
            "name", "builtin", "definition", "key", "pick", "variable",
        ):  # fmt: skip
            if span.cls in ("pick", "variable"):
                return span.cls, span.start, span.end
            for word in _WORD.finditer(text, span.start, span.end):
                if word.start() <= cursor <= word.end():
                    return span.cls, word.start(), word.end()
    return None


def _cell_chain(
    text: str, name: str, namespace: Mapping[str, Any], default_model: str
) -> str | None:
    """Help for a chain the cell binds, from compiling the cell (nothing runs, nothing is bound).

    Compiling calls the notebook's callables that the cell calls (``make_retriever(k=3)``): help must
    run none of the user's code, so such a cell is not compiled and its chains get no help here.
    """
    from chainmagic import dsl
    from chainmagic.errors import ChainError

    if _calls_notebook_code(text, namespace):
        return None

    try:
        compiled = dsl.compile(
            dsl.parse(text.split("\n", 1)[1] if "\n" in text else "", first_line=2),
            dict(namespace),
            default_model=default_model,
        )
    except (ChainError, ValueError, TypeError):
        return None
    head = text.split("\n", 1)[0].split()
    cell_name = head[1] if len(head) > 1 and head[1].isidentifier() else None
    if name in compiled.bindings:
        return _chain_help(name, compiled.bindings[name])
    if name == cell_name and compiled.chain is not None:
        return _chain_help(name, compiled.chain)
    return None


def _calls_notebook_code(text: str, namespace: Mapping[str, Any]) -> bool:
    """Whether the cell calls a callable of the notebook: a name right before ``(``."""
    spans = highlight(text)
    for span, after in pairwise(spans):
        word = text[span.start : span.end]
        called = text[after.start] == "(" and not text[span.end : after.start].strip()
        if called and (span.cls == "name" or (span.cls == "builtin" and word in namespace)):
            return True
    return False


def _object_help(name: str, value: Any) -> str:
    from chainmagic.core.runnable import coerce

    try:
        runnable = coerce(value)
    except TypeError:
        return f"{name}: {type(value).__name__}, which cannot be a step"
    return _chain_help(name, runnable)


def _chain_help(name: str, runnable: Any) -> str:
    """What ``%%chain NAME`` (no ``-i``) shows: the kind, the graph and the inputs it needs."""
    from chainmagic.display.text import graph_text
    from chainmagic.dsl import input_variables

    kind = type(getattr(runnable, "bound", runnable)).__name__
    try:
        variables: tuple[str, ...] | None = input_variables(runnable)
        body = graph_text(runnable.get_graph(), variables, None)
    except Exception:  # a foreign runnable without a graph: its kind still helps
        body = ""
    return f"{name}: {kind}\n{body}".rstrip()


# -- the kernel's side ----------------------------------------------------------------------------


def register(shell: Any) -> None:
    """Answer ``inspect_request`` in chain cells from this module, on ``shell``'s kernel if any."""
    kernel = getattr(shell, "kernel", None)
    if kernel is None or not hasattr(kernel, "do_inspect") or _MARK in vars(kernel):
        return
    original = kernel.do_inspect

    def do_inspect(code: str, cursor_pos: int, detail_level: int = 0, *args: Any, **kw: Any) -> Any:
        try:
            text = describe(code, cursor_pos, shell.user_ns, _default_model(shell))
        except Exception:  # help must never break the kernel: fall back to IPython's
            text = None
        if text is None:
            return original(code, cursor_pos, detail_level, *args, **kw)
        return {"status": "ok", "found": True, "data": {"text/plain": text}, "metadata": {}}

    kernel.do_inspect = do_inspect
    setattr(kernel, _MARK, True)


def unregister(shell: Any) -> None:
    kernel = getattr(shell, "kernel", None)
    if kernel is not None and _MARK in vars(kernel):
        del kernel.do_inspect  # the class's own method shows through again
        delattr(kernel, _MARK)


def _default_model(shell: Any) -> str:
    magics = shell.magics_manager.registry.get("ChainMagics")
    return str(getattr(magics, "default_model", "fake:echo"))
