"""Syntax nodes → core runnables, resolving names the way DSL.md says.

Names resolve against the cell's own assignments so far, then the notebook namespace, then the
built-ins (``passthrough``, ``str``, ``json``, ``model``, ``assign``, ``system``, ``human``, ``ai``),
so a user's ``model`` or ``prompt`` wins. Nothing is ``eval``'d: a cell can only reference objects and
call callables the user wrote. Every compiled step carries a ``label`` (a key, a name, or a short
form of a template) and the ``span`` it came from, so results, graphs and errors name steps the way
the cell wrote them. Namespace objects are wrapped to carry their name, never relabelled in place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from chainmagic.core.graph import short_label
from chainmagic.core.models.registry import init_chat_model
from chainmagic.core.parallel import RunnableParallel
from chainmagic.core.parsers import JsonOutputParser, StrOutputParser
from chainmagic.core.passthrough import RunnableAssign, RunnablePassthrough, RunnablePick
from chainmagic.core.prompts import ChatPromptTemplate, TemplateError
from chainmagic.core.runnable import Runnable, coerce
from chainmagic.core.sequence import RunnableSequence
from chainmagic.core.wrappers import RunnableBinding
from chainmagic.dsl import defaults
from chainmagic.dsl.diagnostics import located, unknown_name
from chainmagic.dsl.nodes import (
    Arg,
    Assign,
    Call,
    Literal,
    Map,
    Messages,
    Name,
    Pick,
    Pipe,
    Program,
    Span,
    Step,
    Template,
)
from chainmagic.dsl.parser import parse
from chainmagic.dsl.source import Definition, Recording
from chainmagic.dsl.variables import input_variables
from chainmagic.errors import ChainError, ChainNameError, ChainSyntaxError

__all__ = ["BUILTINS", "CompiledCell", "chain", "compile"]

BUILTINS = ("passthrough", "str", "json", "model", "assign", "system", "human", "ai")
_ROLES = {"system": "system", "human": "human", "ai": "ai"}
_CALLABLE_BUILTINS = frozenset({"model", "assign", "system", "human", "ai"})
_USAGE = {  # built-ins that only make sense called
    "assign": "assign(key=pipeline, ...)",
    "system": 'system("...")',
    "human": 'human("...")',
    "ai": 'ai("...")',
}


@dataclass
class CompiledCell:
    """A compiled cell: its chain, and what each ``NAME = ...`` statement bound (not yet bound)."""

    chain: Runnable | None
    bindings: dict[str, Runnable] = field(default_factory=dict)
    program: Program | None = None
    chain_name: str | None = None  # the assignment that is the cell's chain, if it is one

    @property
    def variables(self) -> tuple[str, ...]:
        return input_variables(self.chain) if self.chain is not None else ()


def compile(
    program: Program | str,
    namespace: Mapping[str, Any] | None = None,
    *,
    default_model: Any = None,
) -> CompiledCell:
    """Compile a cell (text or parsed) against ``namespace`` without touching it.

    ``default_model`` (a spec or a chat model) is what a bare ``model`` means when the namespace has
    none; it defaults to :data:`chainmagic.dsl.defaults.model`.
    """
    if isinstance(program, str):
        program = parse(program)
    recording = Recording(namespace or {})
    compiler = _Compiler(program, recording, default_model)
    cell = compiler.cell()
    # what defines each chain, for building it again elsewhere (a distributed batch's workers)
    default = compiler.default_model if compiler._model is not None else None
    first_line = program.span.line
    used, keys = dict(recording.used), tuple(compiler.keys)
    for name, runnable in cell.bindings.items():
        runnable.dsl_source = Definition(  # type: ignore[attr-defined]
            program.source, first_line, used, default, name, keys
        )
    if cell.chain is not None and getattr(cell.chain, "dsl_source", None) is None:
        cell.chain.dsl_source = Definition(  # type: ignore[attr-defined]
            program.source, first_line, used, default, None, keys
        )
    return cell


def chain(text: str, namespace: Mapping[str, Any] | None = None) -> Runnable:
    """The one chain a piece of chain-language text describes."""
    cell = compile(text, namespace)
    if cell.chain is None:
        raise ChainSyntaxError("the cell holds no chain")
    return cell.chain


class _Compiler:
    def __init__(self, program: Program, namespace: Mapping[str, Any], default_model: Any) -> None:
        self.default_model = defaults.model if default_model is None else default_model
        self.program = program
        self.namespace = namespace
        self.lines = program.source.split("\n")  # the lexer's lines (not str.splitlines')
        self.first_line = program.span.line  # the %%chain line itself may be line 1
        self.local: dict[str, Runnable] = {}
        self._model: Runnable | None = None
        self.keys: list[str] = []  # API keys the text spells out, for whoever ships it

    def cell(self) -> CompiledCell:
        out = CompiledCell(None, program=self.program)
        chain_statement = self.program.chain_statement
        for statement in self.program.statements:
            runnable = self.step(statement.value)
            if isinstance(statement, Assign):
                runnable.span = runnable.span or statement.span
                self.local[statement.name] = runnable
                out.bindings[statement.name] = runnable
                if statement is chain_statement:
                    out.chain_name = statement.name
            if statement is chain_statement:
                out.chain = runnable
        return out

    # -- steps ----------------------------------------------------------------------------------

    def step(self, node: Step) -> Runnable:
        if isinstance(node, Pipe):
            return self.pipe(node)
        if isinstance(node, Map):
            branches = {entry.key: self.step(entry.value) for entry in node.entries}
            return _at(RunnableParallel(branches), node.span)
        if isinstance(node, Template):
            return self.template(node.text, node.span)
        if isinstance(node, Pick):
            return _at(RunnablePick(node.key), node.span, f"@{node.key}")
        if isinstance(node, Name):
            return self.name(node)
        if isinstance(node, Call):
            return self.call(node)
        if isinstance(node, Messages):
            return self.messages(node)
        raise self.error(f"cannot compile {type(node).__name__}", node.span)

    def pipe(self, node: Pipe) -> Runnable:
        steps: list[Runnable] = []
        keys: tuple[str, ...] | None = None
        for child in node.steps:
            runnable = self.step(child)
            # A namespace prompt or map is wrapped to carry its name; its shape is the inner step's.
            inner = runnable.bound if isinstance(runnable, RunnableBinding) else runnable
            if keys is not None and isinstance(inner, ChatPromptTemplate):
                missing = [v for v in inner.variables_in_order if v not in keys]
                if missing:
                    have = f"only has {', '.join(keys)}" if keys else "has no keys"
                    raise self.error(
                        f"the prompt uses {{{missing[0]}}}, but its input {have}", child.span
                    )
            keys = tuple(inner.steps) if isinstance(inner, RunnableParallel) else None
            steps.append(runnable)
        return _at(RunnableSequence(*steps), node.span)

    def template(self, text: str, span: Span) -> Runnable:
        try:
            prompt = ChatPromptTemplate.from_template(text)
        except TemplateError as exc:
            raise self.error(str(exc), span) from None
        return _at(prompt, span, short_label(prompt, 24))

    def name(self, node: Name) -> Runnable:
        head = node.parts[0]
        user = head in self.local or head in self.namespace
        if not user and len(node.parts) == 1 and head in ("passthrough", "str", "json", "model"):
            return self.builtin(head, node.span)
        return self.reference(self.name_value(node), node.dotted, node.span)

    def builtin(self, name: str, span: Span) -> Runnable:
        if name == "passthrough":
            return _at(RunnablePassthrough(), span, "passthrough")
        if name == "str":
            return _at(StrOutputParser(), span, "str")
        if name == "json":
            return _at(JsonOutputParser(), span, "json")
        if self._model is None:
            default = self.default_model
            self._model = (
                default if isinstance(default, Runnable) else self.model(default, {}, span)
            )
        return _at(RunnableBinding(self._model, {"run_name": "model"}), span)

    def model(self, spec: Any, kwargs: dict[str, Any], span: Span) -> Runnable:
        if not isinstance(spec, str):
            raise self.error("model(...) takes a spec string like 'openai:gpt-4o-mini'", span)
        try:
            runnable = init_chat_model(spec, **kwargs)
        except ChainError as exc:
            raise self.error(str(exc), span) from None
        except (TypeError, ValueError) as exc:
            raise self.error(f"model({spec!r}): {exc}", span) from None
        runnable.dsl_spec = (spec, dict(kwargs))  # type: ignore[attr-defined]
        if isinstance(kwargs.get("api_key"), str) and kwargs["api_key"]:
            self.keys.append(kwargs["api_key"])
        return runnable

    def reference(self, value: Any, label: str, span: Span) -> Runnable:
        """A namespace object as a step, wrapped so it carries its name (never relabelled in place)."""
        try:
            runnable = coerce(value)
        except (TypeError, TemplateError) as exc:
            raise self.error(f"{label!r} cannot be a step: {exc}", span) from None
        bound = RunnableBinding(runnable, {"run_name": label})
        bound.dsl_ref = label  # type: ignore[attr-defined]
        bound.dsl_plain = runnable is not value  # type: ignore[attr-defined]  # not a Runnable itself
        return _at(bound, span)

    def call(self, node: Call) -> Runnable:
        head = node.func.parts[0]
        user = head in self.local or head in self.namespace
        if user and len(node.func.parts) == 1 and head in _CALLABLE_BUILTINS:
            # A notebook's `model` object shadows the built-in step, but when it cannot be called,
            # `model("openai:gpt-4o-mini")` can only mean the built-in.
            user = callable(self.local[head] if head in self.local else self.namespace[head])
        if not user and len(node.func.parts) == 1:
            if head == "model":
                args = [self.literal(a, "model") for a in node.args]
                kwargs = {k.name: self.literal(k.value, "model") for k in node.kwargs}
                if len(args) != 1:
                    raise self.error(
                        "model(...) takes one spec, e.g. model('fake:echo')", node.span
                    )
                runnable = self.model(args[0], kwargs, node.span)
                return _at(RunnableBinding(runnable, {"run_name": "model"}), node.span)
            if head == "assign":
                if node.args:
                    raise self.error("assign(...) takes only key=pipeline arguments", node.span)
                steps = {k.name: self.argument_step(k.value) for k in node.kwargs}
                return _at(RunnableAssign(steps), node.span, "assign")
            if head in _ROLES:
                return self.messages(Messages((node,), node.span))
            if head in ("passthrough", "str", "json"):
                raise self.error(
                    f"{head!r} is a step, not a function: write {head} without ()", node.span
                )
            raise self.unknown(head, node.func.span)
        target = self.name_value(node.func)
        if not callable(target):
            raise self.error(f"{node.func.dotted!r} is not callable", node.span)
        args = [self.argument(a) for a in node.args]
        kwargs = {k.name: self.argument(k.value) for k in node.kwargs}
        try:
            value = target(*args, **kwargs)
        except Exception as exc:
            raise self.error(
                f"calling {node.func.dotted}(...) failed: {type(exc).__name__}: {exc}", node.span
            ) from exc
        step = self.reference(value, node.func.dotted, node.span)
        step.dsl_call = (args, kwargs)  # type: ignore[attr-defined]  # to_python spells the call
        return step

    def messages(self, node: Messages) -> Runnable:
        parts: list[tuple[str, str]] = []
        for item in node.items:
            if isinstance(item, Template):
                parts.append(("human", item.text))
            elif (
                isinstance(item, Call)
                and len(item.func.parts) == 1
                and item.func.parts[0] in _ROLES
                and len(item.args) == 1
                and not item.kwargs
                and isinstance(item.args[0], (Literal, Template))
            ):
                arg = item.args[0]
                text = arg.text if isinstance(arg, Template) else arg.value
                if not isinstance(text, str):
                    raise self.error("a message takes one string", item.span)
                parts.append((_ROLES[item.func.parts[0]], text))
            else:
                raise self.error(
                    'a message list holds system("..."), human("..."), ai("...") or strings',
                    item.span,
                )
        try:
            prompt = ChatPromptTemplate.from_messages(parts)
        except TemplateError as exc:
            raise self.error(str(exc), node.span) from None
        return _at(prompt, node.span, "prompt")

    # -- arguments -------------------------------------------------------------------------------

    def argument(self, node: Arg) -> Any:
        if isinstance(node, Literal):
            return node.value
        return self.argument_step(node)

    def argument_step(self, node: Arg) -> Runnable:
        if isinstance(node, Literal):
            if isinstance(node.value, str):
                return self.template(node.value, node.span)
            raise self.error(f"{node.value!r} cannot be a step", node.span)
        return self.step(node)

    def literal(self, node: Arg, where: str) -> Any:
        if isinstance(node, Literal):
            return node.value
        if isinstance(node, Template):
            return node.text
        raise self.error(
            f"{where}(...) takes plain values (strings, numbers, True/False/None)", node.span
        )

    def name_value(self, node: Name) -> Any:
        """The object a (dotted) name means in the cell or the namespace; built-ins are not objects."""
        head = node.parts[0]
        if head in self.local:
            value: Any = self.local[head]
        elif head in self.namespace:
            value = self.namespace[head]
        elif head in BUILTINS and len(node.parts) > 1:
            raise self.error(f"the built-in {head!r} has no attribute {node.parts[1]!r}", node.span)
        elif head in _USAGE:
            raise self.error(f"{head!r} takes arguments: write {_USAGE[head]}", node.span)
        else:
            raise self.unknown(head, node.span)
        for i, part in enumerate(node.parts[1:], 1):
            owner = ".".join(node.parts[:i])
            try:
                value = getattr(value, part)
            except AttributeError:
                raise self.error(f"{owner!r} has no attribute {part!r}", node.span) from None
            except Exception as exc:  # a property is user code: its failure is the cell's error
                raise self.error(
                    f"reading {owner}.{part} failed: {type(exc).__name__}: {exc}", node.span
                ) from exc
        return value

    # -- errors ----------------------------------------------------------------------------------

    def error(self, message: str, span: Span) -> ChainSyntaxError:
        return located(message, span, self.lines, self.first_line)

    def unknown(self, name: str, span: Span) -> ChainNameError:
        where = str(self.error("", span)).lstrip("\n")
        return unknown_name(name, [*self.local, *BUILTINS], self.namespace, where)


def _at(runnable: Runnable, span: Span, label: str | None = None) -> Runnable:
    runnable.span = span
    if label is not None:
        runnable.label = label
    return runnable
