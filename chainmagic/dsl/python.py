"""``to_python``: a compiled chain as plain Python, so nobody is locked into the chain language.

The code is generated from the runnables the compiler made (they remember where they came from):
namespace objects by their names, built-ins as the core classes they are. With ``langchain=True``
the imports point at LangChain instead (the names are the same; that is the point of LCEL's names).
"""

from __future__ import annotations

from typing import Any

from chainmagic.core.messages import AIMessage, HumanMessage, SystemMessage
from chainmagic.core.parallel import RunnableParallel
from chainmagic.core.parsers import JsonOutputParser, StrOutputParser
from chainmagic.core.passthrough import RunnableAssign, RunnablePassthrough, RunnablePick
from chainmagic.core.prompts import ChatPromptTemplate
from chainmagic.core.sequence import RunnableSequence
from chainmagic.core.wrappers import RunnableBinding

__all__ = ["CannotTranslate", "to_python"]

_OURS = {
    "ChatPromptTemplate": "chainmagic.core",
    "JsonOutputParser": "chainmagic.core",
    "RunnableParallel": "chainmagic.core",
    "RunnablePassthrough": "chainmagic.core",
    "StrOutputParser": "chainmagic.core",
    "init_chat_model": "chainmagic.core",
    "itemgetter": "operator",
}
_LANGCHAIN = {
    "ChatPromptTemplate": "langchain_core.prompts",
    "JsonOutputParser": "langchain_core.output_parsers",
    "RunnableParallel": "langchain_core.runnables",
    "RunnablePassthrough": "langchain_core.runnables",
    "StrOutputParser": "langchain_core.output_parsers",
    "init_chat_model": "langchain.chat_models",
    "itemgetter": "operator",
}
_ROLE = {HumanMessage: "human", SystemMessage: "system", AIMessage: "ai"}


class CannotTranslate(ValueError):
    """A step that has no Python spelling (an object not reachable by a name)."""


def to_python(chain: Any, *, name: str | None = None, langchain: bool = False) -> str:
    """Python code that builds the same chain; assigns it to ``name`` (or ``chain``)."""
    used: set[str] = set()
    models: dict[int, tuple[str, str]] = {}
    body = _expr(chain, used, models, 0)
    lines: list[str] = []
    sources = _LANGCHAIN if langchain else _OURS
    by_module: dict[str, list[str]] = {}
    for symbol in sorted(used):
        by_module.setdefault(sources[symbol], []).append(symbol)
    stdlib_first = sorted(by_module.items(), key=lambda item: (item[0] != "operator", item[0]))
    lines.extend(f"from {module} import {', '.join(names)}" for module, names in stdlib_first)
    if lines:
        lines.append("")
    for var, expr in models.values():
        lines.append(f"{var} = {expr}")
    lines.append(f"{name or 'chain'} = {body}")
    return "\n".join(lines) + "\n"


def _expr(step: Any, used: set[str], models: dict[int, tuple[str, str]], depth: int) -> str:
    pad = "    " * (depth + 1)
    ref = getattr(step, "dsl_ref", None)
    if isinstance(step, RunnableBinding):
        if ref is not None:
            return str(ref)
        return _expr(step.bound, used, models, depth)
    spec = getattr(step, "dsl_spec", None)
    if spec is not None:
        if id(step) not in models:
            used.add("init_chat_model")
            spec_name, kwargs = spec
            args = "".join(f", {k}={v!r}" for k, v in kwargs.items())
            var = "model" if not models else f"model_{len(models) + 1}"
            models[id(step)] = (var, f"init_chat_model({spec_name!r}{args})")
        return models[id(step)][0]
    if isinstance(step, RunnableSequence):
        parts = [_expr(s, used, models, depth + 1) for s in step.steps]
        inner = f"\n{pad}| ".join(parts)
        return f"(\n{pad}{inner}\n{'    ' * depth})"
    if isinstance(step, RunnableParallel):
        used.add("RunnableParallel")
        items = ",\n".join(
            f"{pad}{k!r}: {_expr(v, used, models, depth + 1)}" for k, v in step.steps.items()
        )
        return f"RunnableParallel({{\n{items},\n{'    ' * depth}}})"
    if isinstance(step, RunnableAssign):
        used.add("RunnablePassthrough")
        items = ",\n".join(
            f"{pad}{k!r}: {_expr(v, used, models, depth + 1)}" for k, v in step.mapper.steps.items()
        )
        return f"RunnablePassthrough.assign(**{{\n{items},\n{'    ' * depth}}})"
    if isinstance(step, RunnablePassthrough) and step.func is None:
        used.add("RunnablePassthrough")
        return "RunnablePassthrough()"
    if isinstance(step, RunnablePick) and isinstance(step.keys, str):
        used.add("itemgetter")
        return f"itemgetter({step.keys!r})"
    if isinstance(step, ChatPromptTemplate):
        used.add("ChatPromptTemplate")
        if step.template is not None:
            return f"ChatPromptTemplate.from_template({step.template!r})"
        parts = []
        for part in step.messages:
            if isinstance(part, tuple):
                role = _ROLE.get(part[0], "human")
                parts.append(f"({role!r}, {part[1].text!r})")
            else:
                raise CannotTranslate(f"a prompt part {part!r} has no Python spelling here")
        return f"ChatPromptTemplate.from_messages([{', '.join(parts)}])"
    if isinstance(step, StrOutputParser):
        used.add("StrOutputParser")
        return "StrOutputParser()"
    if isinstance(step, JsonOutputParser):
        used.add("JsonOutputParser")
        return "JsonOutputParser()"
    raise CannotTranslate(
        f"{step!r} was not written by name in the cell, so it has no Python spelling"
    )
