"""Prompt templates: a dict of variables in, chat messages (or a string) out.

A template is split once, at construction, into literal text and variable names (``{{`` and ``}}``
are literal braces). Formatting joins the pieces with the values' text: user values are never passed
through ``str.format``, so braces inside a retrieved document cannot break or inject anything.
Documents format as their text, one per paragraph, not as a Python repr.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from string import Formatter
from typing import Any

from chainmagic.core.documents import Document
from chainmagic.core.events import Run
from chainmagic.core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from chainmagic.core.runnable import Runnable

__all__ = [
    "ChatPromptTemplate",
    "ChatPromptValue",
    "MessagesPlaceholder",
    "MissingVariableError",
    "PromptTemplate",
    "StringPromptValue",
    "TemplateError",
    "format_value",
    "template_variables",
]


class TemplateError(ValueError):
    """A template that cannot be parsed, or an input that does not fit it."""


class MissingVariableError(TemplateError, KeyError):
    """An input that lacks one of the prompt's variables: a ``KeyError``, as LCEL callers expect."""

    def __str__(self) -> str:  # KeyError would show the message as a quoted repr
        return str(self.args[0]) if self.args else ""


def parse_template(text: str) -> tuple[tuple[str, str | None], ...]:
    """Split ``text`` into ``(literal, variable-or-None)`` pieces."""
    try:
        parsed = list(Formatter().parse(text))
    except ValueError as exc:
        raise TemplateError(
            f"bad template: {exc} (write {{{{ and }}}} for literal braces)"
        ) from None
    pieces: list[tuple[str, str | None]] = []
    for literal, field, spec, conversion in parsed:
        if field is not None:
            name = field.strip()
            if not name.isidentifier() or spec or conversion:
                shown = "{" + field + (f"!{conversion}" if conversion else "")
                shown += (f":{spec}" if spec else "") + "}"
                raise TemplateError(
                    f"bad template variable {shown}: use a plain name like {{question}}"
                )
            pieces.append((literal, name))
        elif literal:
            pieces.append((literal, None))
    return tuple(pieces)


def template_variables(text: str) -> tuple[str, ...]:
    """The variables a template uses, in order of first use."""
    seen: dict[str, None] = {}
    for _, name in parse_template(text):
        if name is not None:
            seen.setdefault(name)
    return tuple(seen)


def format_value(value: Any) -> str:
    """How a variable's value reads inside a prompt."""
    if isinstance(value, str):
        return value
    if isinstance(value, Document):
        return value.page_content
    if isinstance(value, BaseMessage):
        return value.text
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, Document) for v in value):
        return "\n\n".join(doc.page_content for doc in value)
    return str(value)


class _Template:
    __slots__ = ("pieces", "text", "variables")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pieces = parse_template(text)
        self.variables = template_variables(text)

    def format(self, values: Mapping[str, Any]) -> str:
        out = []
        for literal, name in self.pieces:
            out.append(literal)
            if name is not None:
                out.append(format_value(values[name]))
        return "".join(out)


class StringPromptValue:
    """A formatted string prompt; models read it as one human message."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def to_string(self) -> str:
        return self.text

    def to_messages(self) -> list[BaseMessage]:
        return [HumanMessage(self.text)]

    def __repr__(self) -> str:
        return f"StringPromptValue(text={self.text!r})"

    def __str__(self) -> str:
        return self.text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StringPromptValue) and other.text == self.text

    __hash__ = None  # type: ignore[assignment]


class ChatPromptValue:
    """Formatted chat messages, ready for a model."""

    __slots__ = ("messages",)

    def __init__(self, messages: list[BaseMessage]) -> None:
        self.messages = messages

    def to_messages(self) -> list[BaseMessage]:
        return list(self.messages)

    def to_string(self) -> str:
        names = {"human": "Human", "system": "System", "ai": "AI"}
        return "\n".join(f"{names.get(m.type, m.type)}: {m.text}" for m in self.messages)

    def __repr__(self) -> str:
        return f"ChatPromptValue(messages={self.messages!r})"

    def __str__(self) -> str:
        return self.to_string()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ChatPromptValue) and other.messages == self.messages

    __hash__ = None  # type: ignore[assignment]


class _PromptBase(Runnable):
    inline = True
    input_variables: tuple[str, ...] = ()

    def _values(self, input: Any) -> Mapping[str, Any]:
        if isinstance(input, Mapping):
            missing = [v for v in self.input_variables if v not in input]
            if missing:
                have = ", ".join(repr(k) for k in input) or "none"
                need = ", ".join(repr(v) for v in missing)
                raise MissingVariableError(f"the prompt needs {need} but the input has {have}")
            return input
        if len(self.input_variables) == 1:  # LCEL: a lone variable takes a plain input
            return {self.input_variables[0]: input}
        if not self.input_variables:
            return {}
        need = ", ".join(repr(v) for v in self.input_variables)
        raise TemplateError(
            f"the prompt needs a dict with {need}, got {type(input).__name__} "
            f"(put a map like {{{self.input_variables[0]}: ...}} before it)"
        )


class PromptTemplate(_PromptBase):
    """A string template: ``PromptTemplate.from_template("tell me about {topic}")``."""

    def __init__(self, template: str) -> None:
        self._template = _Template(template)
        self.template = template
        self.input_variables = self._template.variables

    @classmethod
    def from_template(cls, template: str) -> PromptTemplate:
        return cls(template)

    def format(self, **values: Any) -> str:
        return self._template.format(self._values(values))

    def _invoke(self, input: Any, run: Run | None) -> StringPromptValue:
        return StringPromptValue(self._template.format(self._values(input)))


class MessagesPlaceholder:
    """Where a list of messages from the input goes (``("placeholder", "{history}")``)."""

    def __init__(self, variable_name: str, *, optional: bool = False) -> None:
        self.variable_name = variable_name
        self.optional = optional

    def __repr__(self) -> str:
        return f"MessagesPlaceholder({self.variable_name!r})"


_ROLES: dict[str, type[BaseMessage]] = {
    "human": HumanMessage,
    "user": HumanMessage,
    "system": SystemMessage,
    "ai": AIMessage,
    "assistant": AIMessage,
}


class ChatPromptTemplate(_PromptBase):
    """Chat messages made from templates; ``from_template`` gives one human message."""

    def __init__(self, messages: Sequence[Any]) -> None:
        self.messages: list[tuple[type[BaseMessage], _Template] | BaseMessage | MessagesPlaceholder]
        self.messages = []
        variables: dict[str, None] = {}
        for item in messages:
            part = _message_part(item)
            self.messages.append(part)
            if isinstance(part, tuple):
                for v in part[1].variables:
                    variables.setdefault(v)
            elif isinstance(part, MessagesPlaceholder) and not part.optional:
                variables.setdefault(part.variable_name)
        self.input_variables = tuple(variables)

    @classmethod
    def from_template(cls, template: str) -> ChatPromptTemplate:
        return cls([("human", template)])

    @classmethod
    def from_messages(cls, messages: Sequence[Any]) -> ChatPromptTemplate:
        return cls(messages)

    def _default_name(self) -> str:
        return "ChatPromptTemplate"

    @property
    def template(self) -> str | None:
        """The text of a one-message prompt (what ``from_template`` was given)."""
        if len(self.messages) == 1 and isinstance(self.messages[0], tuple):
            return self.messages[0][1].text
        return None

    def format_messages(self, **values: Any) -> list[BaseMessage]:
        return self._invoke(values, None).messages

    def _invoke(self, input: Any, run: Run | None) -> ChatPromptValue:
        values = self._values(input)
        out: list[BaseMessage] = []
        for part in self.messages:
            if isinstance(part, tuple):
                out.append(part[0](part[1].format(values)))
            elif isinstance(part, MessagesPlaceholder):
                out.extend(_as_messages(values.get(part.variable_name, []), part.variable_name))
            else:
                out.append(part)
        return ChatPromptValue(out)


def _message_part(
    item: Any,
) -> tuple[type[BaseMessage], _Template] | BaseMessage | MessagesPlaceholder:
    if isinstance(item, (BaseMessage, MessagesPlaceholder)):
        return item
    if isinstance(item, str):
        return (HumanMessage, _Template(item))
    if isinstance(item, tuple) and len(item) == 2:
        role, text = item
        if role == "placeholder":
            name = str(text).strip().strip("{}").strip()
            return MessagesPlaceholder(name, optional=True)
        if role not in _ROLES:
            known = ", ".join(sorted({*_ROLES, "placeholder"}))
            raise TemplateError(f"unknown message role {role!r} (use one of: {known})")
        return (_ROLES[role], _Template(str(text)))
    raise TemplateError(f"cannot make a prompt message from {type(item).__name__}")


def _as_messages(value: Any, name: str) -> list[BaseMessage]:
    if isinstance(value, BaseMessage):
        return [value]
    if isinstance(value, (list, tuple)):
        out = []
        for item in value:
            if isinstance(item, BaseMessage):
                out.append(item)
            elif isinstance(item, tuple) and len(item) == 2 and item[0] in _ROLES:
                out.append(_ROLES[item[0]](str(item[1])))
            else:
                raise TemplateError(f"{name!r} must hold messages, got {type(item).__name__}")
        return out
    raise TemplateError(f"{name!r} must be a list of messages, got {type(value).__name__}")
