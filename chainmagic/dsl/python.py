"""``to_python``: a compiled chain as plain Python, so nobody is locked into the chain language.

The code is generated from the runnables the compiler made (they remember where they came from):
namespace objects by their names, built-ins as the core classes they are. With ``langchain=True``
the imports point at LangChain instead (the names are the same; that is the point of LCEL's names).
"""

from __future__ import annotations

from typing import Any

from chainmagic.core.chat_prompts import BaseMessagePromptTemplate
from chainmagic.core.lambdas import RunnableGenerator, RunnableLambda
from chainmagic.core.messages import AIMessage, HumanMessage, SystemMessage
from chainmagic.core.parallel import RunnableParallel
from chainmagic.core.parsers import JsonOutputParser, StrOutputParser
from chainmagic.core.passthrough import RunnableAssign, RunnablePassthrough, RunnablePick
from chainmagic.core.prompts import ChatPromptTemplate
from chainmagic.core.runnable import Runnable
from chainmagic.core.sequence import RunnableSequence
from chainmagic.core.wrappers import RunnableBinding

__all__ = ["CannotTranslate", "to_python"]

_OURS = {
    "ChatPromptTemplate": "chainmagic.core",
    "JsonOutputParser": "chainmagic.core",
    "RunnableParallel": "chainmagic.core",
    "RunnablePassthrough": "chainmagic.core",
    "RunnableGenerator": "chainmagic.core",
    "RunnableLambda": "chainmagic.core",
    "StrOutputParser": "chainmagic.core",
    "init_chat_model": "chainmagic.core",
    "itemgetter": "operator",
}
_LANGCHAIN = {
    "ChatPromptTemplate": "langchain_core.prompts",
    "JsonOutputParser": "langchain_core.output_parsers",
    "RunnableParallel": "langchain_core.runnables",
    "RunnablePassthrough": "langchain_core.runnables",
    "RunnableGenerator": "langchain_core.runnables",
    "RunnableLambda": "langchain_core.runnables",
    "StrOutputParser": "langchain_core.output_parsers",
    "init_chat_model": "langchain.chat_models",
    "itemgetter": "operator",
}
_ROLE = {HumanMessage: "human", SystemMessage: "system", AIMessage: "ai"}


def _secret(name: str) -> bool:
    """Arguments never written into generated code, even when the cell spelled them out."""
    lowered = name.lower()
    return "key" in lowered or "token" in lowered or "secret" in lowered or "password" in lowered


class CannotTranslate(ValueError):
    """A step that has no Python spelling (an object not reachable by a name)."""


def to_python(
    chain: Any, *, name: str | None = None, langchain: bool = False, imports: str | None = None
) -> str:
    """Python code that builds the same chain; assigns it to ``name`` (or ``chain``).

    ``imports="langchain"`` (or ``langchain=True``) imports from LangChain; ``"chainmagic"`` (the
    default) from chainmagic.
    """
    if imports not in (None, "chainmagic", "langchain"):
        raise ValueError(f"imports must be 'chainmagic' or 'langchain', got {imports!r}")
    langchain = langchain or imports == "langchain"
    used: set[str] = set()
    models: dict[int, tuple[str, str]] = {}
    refs: set[str] = set()
    body = _expr(chain, used, models, refs, 0)
    if _is_plain(chain):  # `chain = my_function` would not be a runnable
        body = _as_runnable(chain, body, used)
    lines: list[str] = []
    sources = _LANGCHAIN if langchain else _OURS
    by_module: dict[str, list[str]] = {}
    for symbol in sorted(used):
        by_module.setdefault(sources[symbol], []).append(symbol)
    stdlib_first = sorted(by_module.items(), key=lambda item: (item[0] != "operator", item[0]))
    lines.extend(f"from {module} import {', '.join(names)}" for module, names in stdlib_first)
    if lines:
        lines.append("")
    # Models are named once every name the chain uses is known, so none shadows a notebook object.
    taken = set(refs)
    for token, expr in models.values():
        var, n = "model", 1
        while var in taken:
            n += 1
            var = f"model_{n}"
        taken.add(var)
        lines.append(f"{var} = {expr}")
        body = body.replace(token, var)
    lines.append(f"{name or 'chain'} = {body}")
    return "\n".join(lines) + "\n"


def _expr(
    step: Any, used: set[str], models: dict[int, tuple[str, str]], refs: set[str], depth: int
) -> str:
    pad = "    " * (depth + 1)
    ref = getattr(step, "dsl_ref", None)
    if isinstance(step, RunnableBinding):
        if ref is None:
            return _expr(step.bound, used, models, refs, depth)
        refs.add(str(ref).split(".")[0])
        call = getattr(step, "dsl_call", None)
        if call is None:
            return str(ref)
        args, kwargs = call
        spelled = [_value(a, used, models, refs, depth) for a in args]
        spelled += [f"{k}={_value(v, used, models, refs, depth)}" for k, v in kwargs.items()]
        return f"{ref}({', '.join(spelled)})"
    spec = getattr(step, "dsl_spec", None)
    if spec is not None:
        if id(step) not in models:
            used.add("init_chat_model")
            spec_name, kwargs = spec
            kept = {k: v for k, v in kwargs.items() if not _secret(k)}
            args = "".join(f", {k}={v!r}" for k, v in kept.items())
            note = "  # the key is left out: set it in the environment" if kept != kwargs else ""
            token = f"\x00{len(models)}\x00"  # named in to_python; repr() never yields a NUL
            models[id(step)] = (token, f"init_chat_model({spec_name!r}{args}){note}")
        return models[id(step)][0]
    if isinstance(step, RunnableSequence):
        parts = [_expr(s, used, models, refs, depth + 1) for s in step.steps]
        if _is_plain(step.steps[0]) and _is_plain(step.steps[1]):
            # `itemgetter("a") | f` would be Python's own `|`: the first must be a runnable.
            parts[0] = _as_runnable(step.steps[0], parts[0], used)
        inner = f"\n{pad}| ".join(parts)
        return f"(\n{pad}{inner}\n{'    ' * depth})"
    if isinstance(step, (RunnableParallel, RunnableAssign)):
        branches = step.mapper.steps if isinstance(step, RunnableAssign) else step.steps
        items = "".join(
            f"{pad}{k!r}: {_expr(v, used, models, refs, depth + 1)},\n" for k, v in branches.items()
        )
        mapping = f"{{\n{items}{'    ' * depth}}}" if items else "{}"
        if isinstance(step, RunnableAssign):
            used.add("RunnablePassthrough")
            return f"RunnablePassthrough.assign(**{mapping})"
        used.add("RunnableParallel")
        return f"RunnableParallel({mapping})"
    if isinstance(step, RunnablePassthrough) and step.func is None:
        used.add("RunnablePassthrough")
        return "RunnablePassthrough()"
    if isinstance(step, RunnablePick) and isinstance(step.keys, str):
        used.add("itemgetter")
        return f"itemgetter({step.keys!r})"
    if isinstance(step, ChatPromptTemplate):
        used.add("ChatPromptTemplate")
        first = step.messages[0] if len(step.messages) == 1 else None
        if (
            step.template is not None
            and isinstance(first, BaseMessagePromptTemplate)
            and first.message_class is HumanMessage
        ):
            return f"ChatPromptTemplate.from_template({step.template!r})"
        parts = []
        for part in step.messages:
            if isinstance(part, BaseMessagePromptTemplate) and part.prompt is not None:
                role = _ROLE.get(part.message_class, "human")
                parts.append(f"({role!r}, {part.prompt.template!r})")
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


def _value(
    value: Any, used: set[str], models: dict[int, tuple[str, str]], refs: set[str], depth: int
) -> str:
    """A call argument: a step as code, a literal (number, string, list, dict...) as its repr."""
    if isinstance(value, Runnable):
        return _expr(value, used, models, refs, depth)
    return repr(value)


def _is_plain(step: Any) -> bool:
    """Is the code for ``step`` a plain Python object (an itemgetter, a notebook function)?"""
    return isinstance(step, RunnablePick) or getattr(step, "dsl_plain", False)


def _as_runnable(step: Any, code: str, used: set[str]) -> str:
    """``code`` (a plain object) made a runnable the way the chain coerced it."""
    inner = step.bound if isinstance(step, RunnableBinding) else step
    if isinstance(inner, RunnableParallel):
        used.add("RunnableParallel")
        if any(isinstance(branch, ChatPromptTemplate) for branch in inner.steps.values()):
            # The chain made its strings prompts; LangChain's RunnableParallel refuses strings, so
            # the code says what the chain did (chainmagic's would accept the dict as it is).
            used.add("ChatPromptTemplate")
            return (
                "RunnableParallel({key: ChatPromptTemplate.from_template(value) "
                f"if isinstance(value, str) else value for key, value in {code}.items()}})"
            )
        return f"RunnableParallel({code})"
    if isinstance(inner, ChatPromptTemplate):
        used.add("ChatPromptTemplate")
        return f"ChatPromptTemplate.from_template({code})"
    if isinstance(inner, RunnableGenerator):
        used.add("RunnableGenerator")
        return f"RunnableGenerator({code})"
    if isinstance(inner, (RunnableLambda, RunnablePick)):
        used.add("RunnableLambda")
        return f"RunnableLambda({code})"
    return code  # an object with .invoke (a LangChain runnable) works as it is
