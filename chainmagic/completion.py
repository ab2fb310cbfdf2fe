"""Tab completion inside ``%%chain`` and ``%%chaintime`` cells, from the kernel.

IPython asks its matchers for completions with the whole cell and the cursor; this module adds one
matcher that answers only inside chain cells, so every frontend that talks to the kernel (JupyterLab,
Notebook 7, VS Code, terminal IPython) gets it. Inside a chain cell Python's own completions would be
wrong (``str`` is the string parser, a prompt's text is not code), so this matcher replaces them there,
and leaves every other cell alone. It offers, by where the cursor is:

* on the magic line: the magic's option names (read from its own argument parser), model specs after
  ``--model``, and for ``%%chaintime`` the chains of the notebook;
* after ``model("``: model specs (``provider:`` for each registered provider, a few known names);
* after ``@``: the input keys the cell's prompts and ``-i`` use;
* after ``NAME.``: NAME's public attributes;
* elsewhere in code: the built-ins, the cell's own bindings and the notebook's names that can be steps;
* in a prompt's text or a comment: nothing.

What is under the cursor is read with the same token rules the editor highlights with
(:mod:`chainmagic.dsl.highlight`). Completion never raises: a matcher that fails is worse than none.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from chainmagic.dsl.highlight import highlight, open_string, token_rules

__all__ = ["ChainContext", "chain_completions", "chain_context", "register", "unregister"]

_NAME_TAIL = re.compile(r"(?:[A-Za-z0-9_]|[^\x00-\x7f])*$")
_MODEL_SPEC = re.compile(r"""\bmodel\(\s*(?:[rRuU]?)(["'])([^"'\n]*)$""")
_MODEL_OPTION = re.compile(r"--model(?:\s+|=)(\S*)$")
_ATTRIBUTE = re.compile(r"((?:[A-Za-z_]|[^\x00-\x7f])(?:[A-Za-z0-9_]|[^\x00-\x7f])*)\.$")
_INPUT_KEY = re.compile(r"(?:^|\s)((?:[A-Za-z_]|[^\x00-\x7f])(?:[A-Za-z0-9_]|[^\x00-\x7f])*)=")
_INPUT_OPTION = re.compile(r"\s(?:-i|--input)(?:\s+|=)(.*)$")
_MAGIC = re.compile(r"%%(chaintime|chain)(?![A-Za-z0-9_])")
_KNOWN_MODELS = ("fake:echo", "openai:gpt-4o-mini", "openai:gpt-4o", "ollama:llama3.2")
# Names every IPython namespace has that are never a step.
_SHELL_NAMES = frozenset({"In", "Out", "get_ipython", "exit", "quit", "open"})


@dataclass(frozen=True)
class ChainContext:
    """A chain cell and a cursor in it: which magic, and the text before the cursor."""

    magic: str  # "chain" or "chaintime"
    text: str
    cursor: int

    @property
    def before(self) -> str:
        return self.text[: self.cursor]

    @property
    def on_magic_line(self) -> bool:
        return "\n" not in self.before

    @property
    def magic_line(self) -> str:
        return self.text.split("\n", 1)[0]


def chain_context(text: str, cursor: int) -> ChainContext | None:
    """The chain cell around ``cursor``, or None when ``text`` is not a chain cell."""
    match = _MAGIC.match(text)
    if match is None or not 0 <= cursor <= len(text):
        return None
    return ChainContext(match.group(1), text, cursor)


def chain_completions(
    ctx: ChainContext,
    namespace: Mapping[str, Any],
    options: Iterable[str] = (),
    default_model: str = "fake:echo",
) -> tuple[str, list[tuple[str, str]]]:
    """What the cursor's fragment is, and its completions as ``(text, type)`` pairs, best first."""
    before = ctx.before
    line = before.rsplit("\n", 1)[-1]
    if _in_text(ctx):
        spec = _MODEL_SPEC.search(line)
        if spec is not None and not ctx.on_magic_line:
            return spec.group(2), _matching(spec.group(2), _model_specs(default_model), "model")
        return "", []
    if ctx.on_magic_line:
        return _magic_line(ctx, line, namespace, options, default_model)
    fragment = _NAME_TAIL.search(before).group()  # type: ignore[union-attr]  # always matches
    head = before[: len(before) - len(fragment)]
    if head.endswith("@"):
        return fragment, _matching(fragment, _input_keys(ctx, namespace), "variable")
    attribute = _ATTRIBUTE.search(head)
    if attribute is not None:
        obj = namespace.get(attribute.group(1))
        names = [n for n in dir(obj) if not n.startswith("_")] if obj is not None else []
        return fragment, _matching(fragment, names, "attribute")
    return fragment, _names(fragment, ctx, namespace)


def _in_text(ctx: ChainContext) -> bool:
    """Whether the cursor is in a string or a comment, where code completions make no sense."""
    if open_string(ctx.before):
        return True
    spans = highlight(ctx.before)
    return bool(spans) and spans[-1].cls == "comment" and spans[-1].end == ctx.cursor


def _magic_line(
    ctx: ChainContext,
    line: str,
    namespace: Mapping[str, Any],
    options: Iterable[str],
    default_model: str,
) -> tuple[str, list[tuple[str, str]]]:
    model = _MODEL_OPTION.search(line)
    if model is not None:
        return model.group(1), _matching(model.group(1), _model_specs(default_model), "model")
    fragment = line.rsplit(None, 1)[-1] if line and not line[-1].isspace() else ""
    if fragment.startswith("-"):
        return fragment, _matching(fragment, sorted(options, key=_option_order), "option")
    if ctx.magic == "chaintime" and (not fragment or fragment.isidentifier()):
        return fragment, _matching(fragment, _chains(namespace), "chain")
    return fragment, []


def _option_order(option: str) -> tuple[int, str]:
    return (option.startswith("--"), option)


def _names(fragment: str, ctx: ChainContext, namespace: Mapping[str, Any]) -> list[tuple[str, str]]:
    own = _cell_bindings(ctx)
    steps = [name for name, value in namespace.items() if _step_like(name, value)]
    pool = [
        *((n, "chain") for n in own),
        *((n, "builtin") for n in token_rules()["builtins"] if n not in namespace),
        *((n, _kind(namespace[n])) for n in steps),
    ]
    seen: set[str] = set()
    out = []
    for name, kind in pool:
        if name.startswith(fragment) and name not in seen and name != fragment:
            seen.add(name)
            out.append((name, kind))
    return out


def _cell_bindings(ctx: ChainContext) -> list[str]:
    """Names the cell binds (``NAME = ...`` lines and ``%%chain NAME``), from the highlighter."""
    text = ctx.text
    return list(
        dict.fromkeys(text[s.start : s.end] for s in highlight(text) if s.cls == "definition")
    )


def _input_keys(ctx: ChainContext, namespace: Mapping[str, Any]) -> list[str]:
    """Keys the chain's input can have: ``-i key=...``, then prompt variables, then named chains'."""
    text = ctx.text
    spans = highlight(text)
    given = _INPUT_OPTION.search(ctx.magic_line)
    keys = _INPUT_KEY.findall(given.group(1)) if given is not None else []
    keys += [text[s.start + 1 : s.end - 1].strip() for s in spans if s.cls == "variable"]
    from chainmagic.dsl.variables import input_variables

    for span in spans:
        if span.cls == "name":
            value = namespace.get(text[span.start : span.end])
            if value is not None and hasattr(value, "invoke"):
                try:
                    keys += list(input_variables(value))
                except Exception:  # another library's runnable: nothing to learn from it
                    pass
    return [k for k in dict.fromkeys(keys) if k.isidentifier()]


def _model_specs(default_model: str) -> list[str]:
    from chainmagic.core.models.registry import providers

    return list(dict.fromkeys([default_model, *_KNOWN_MODELS, *(f"{p}:" for p in providers())]))


def _chains(namespace: Mapping[str, Any]) -> list[str]:
    from chainmagic.core.runnable import Runnable

    return [n for n, v in namespace.items() if not n.startswith("_") and isinstance(v, Runnable)]


def _step_like(name: str, value: Any) -> bool:
    """Whether a notebook name can be a step: a runnable, a callable, a dict, or a prompt string."""
    if not isinstance(name, str) or name.startswith("_") or name in _SHELL_NAMES:
        return False
    if isinstance(value, type) or type(value).__name__ in ("module", "builtin_function_or_method"):
        return False
    return hasattr(value, "invoke") or callable(value) or isinstance(value, (dict, str))


def _kind(value: Any) -> str:
    if hasattr(value, "invoke"):
        return "chain"
    return "function" if callable(value) else "instance"


def _matching(fragment: str, names: Iterable[str], kind: str) -> list[tuple[str, str]]:
    return [(n, kind) for n in dict.fromkeys(names) if n.startswith(fragment) and n != fragment]


# -- IPython's side -------------------------------------------------------------------------------


def _matcher(shell: Any) -> Any:
    """An IPython (8.6+) context matcher bound to ``shell``: chain cells only, Python's replaced."""
    from IPython.core.completer import SimpleCompletion, context_matcher

    @context_matcher()
    def chain_matcher(context: Any) -> dict[str, Any]:
        try:
            ctx = chain_context(context.full_text, _offset(context))
            if ctx is None:
                return {"completions": [], "suppress": False}
            fragment, found = chain_completions(
                ctx, shell.user_ns, _options(shell, ctx.magic), _default_model(shell)
            )
        except Exception:  # never break the user's Tab key
            return {"completions": [], "suppress": False}
        return {
            "completions": [SimpleCompletion(text, type=kind) for text, kind in found],
            "matched_fragment": fragment,
            "suppress": True,
            "ordered": True,
        }

    chain_matcher.chainmagic = True
    return chain_matcher


def _offset(context: Any) -> int:
    """The cursor as an offset into the whole cell (IPython gives its line and column)."""
    lines = context.full_text.split("\n")
    return sum(len(line) + 1 for line in lines[: context.cursor_line]) + context.cursor_position


def _options(shell: Any, magic: str) -> list[str]:
    method = shell.magics_manager.magics["cell"].get(magic)
    parser = getattr(method, "parser", None)
    return sorted(getattr(parser, "_option_string_actions", {}))


def _default_model(shell: Any) -> str:
    magics = shell.magics_manager.registry.get("ChainMagics")
    return str(getattr(magics, "default_model", "fake:echo"))


def register(shell: Any) -> None:
    """Add the chain matcher to ``shell``'s completer (once), and Shift-Tab help to its kernel."""
    from chainmagic import inspection

    completer = getattr(shell, "Completer", None)
    matchers = getattr(completer, "custom_matchers", None)
    if matchers is not None and not any(getattr(m, "chainmagic", False) for m in matchers):
        matchers.insert(0, _matcher(shell))
    inspection.register(shell)


def unregister(shell: Any) -> None:
    from chainmagic import inspection

    completer = getattr(shell, "Completer", None)
    if completer is not None and hasattr(completer, "custom_matchers"):
        completer.custom_matchers[:] = [
            m for m in completer.custom_matchers if not getattr(m, "chainmagic", False)
        ]
    inspection.unregister(shell)
