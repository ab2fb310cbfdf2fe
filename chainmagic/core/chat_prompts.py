"""Chat prompt templates: message templates, placeholders for message lists, and their sequence.

``ChatPromptTemplate.from_messages`` takes what LangChain users write: ``(role, content)`` tuples
whose role is a name (``"system"``, ``"human"``/``"user"``, ``"ai"``/``"assistant"``,
``"placeholder"``) or a message class, ``{"role": ..., "content": ...}`` dicts, message objects
(kept as they are), message templates, placeholders, plain strings (a human message) and other chat
templates. Content is a template string or a list of parts — text, and ``image_url`` blocks — with
variables inside. Each part is compiled once; a run only fills values in.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from chainmagic.core.events import Run
from chainmagic.core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
)
from chainmagic.core.prompt_values import ChatPromptValue
from chainmagic.core.string_prompts import (
    BasePromptTemplate,
    MissingVariableError,
    PromptTemplate,
)
from chainmagic.core.template_formats import Compiled, TemplateError, compile_template

__all__ = [
    "AIMessagePromptTemplate",
    "BaseMessagePromptTemplate",
    "ChatMessagePromptTemplate",
    "ChatPromptTemplate",
    "HumanMessagePromptTemplate",
    "MessagesPlaceholder",
    "SystemMessagePromptTemplate",
    "convert_to_messages",
    "message_template",
]

ROLES: dict[str, type[BaseMessage]] = {
    "human": HumanMessage,
    "user": HumanMessage,
    "system": SystemMessage,
    "ai": AIMessage,
    "assistant": AIMessage,
}


def _role_class(role: Any) -> type[BaseMessage]:
    if isinstance(role, type) and issubclass(role, BaseMessage):
        return role
    if isinstance(role, str) and role in ROLES:
        return ROLES[role]
    known = ", ".join(sorted({*ROLES, "placeholder"}))
    raise TemplateError(f"Unexpected message type: {role}. Use one of: {known}, or a message class")


class BaseMessagePromptTemplate:
    """One message made from a template: a message class and its content's template(s).

    Content is one template string, or a list of parts: strings and ``{"type": "text", ...}`` become
    text parts, ``{"type": "image_url", ...}`` an image whose URL (and detail) may hold variables,
    and any other dict (an image or file block, with its metadata) is kept with every string in it
    filled in as a template.
    """

    message_class: ClassVar[type[BaseMessage]] = HumanMessage

    def __init__(
        self,
        content: str | Sequence[Any] | None = None,
        *,
        template_format: str = "f-string",
        partial_variables: Mapping[str, Any] | None = None,
        message_class: type[BaseMessage] | None = None,
        prompt: PromptTemplate | None = None,
    ) -> None:
        if (
            content is None
        ):  # LCEL's spelling: HumanMessagePromptTemplate(prompt=PromptTemplate(...))
            if prompt is None:
                raise TypeError(f"{type(self).__name__} needs a template or prompt=")
            content = prompt.template
            template_format = prompt.template_format
            partial_variables = {**prompt.partial_variables, **(partial_variables or {})}
        if message_class is not None:
            self.message_class = message_class  # type: ignore[misc]
        self.template_format = template_format
        self.partial_variables = dict(partial_variables or {})
        self.prompt: PromptTemplate | None = None
        self.parts: list[tuple[str, Any]] | None = None
        seen: dict[str, None] = {}
        if isinstance(content, str):
            self.prompt = PromptTemplate(
                content, template_format=template_format, partial_variables=partial_variables
            )
            seen.update(dict.fromkeys(self.prompt.variables_in_order))
        else:
            if partial_variables:  # LCEL refuses them too: which part would they fill?
                raise TemplateError("Partial variables are not supported for list of templates")
            self.parts = [self._part(p, template_format) for p in content]
            for kind, value in self.parts:
                for compiled in _compiled_in(kind, value):
                    seen.update(dict.fromkeys(compiled.variables))
        self._variables = tuple(v for v in seen if v not in self.partial_variables)

    @staticmethod
    def _part(part: Any, template_format: str) -> tuple[str, Any]:
        if isinstance(part, str):
            return ("text", compile_template(part, template_format))
        if isinstance(part, Mapping):
            if part.get("type") == "text" and isinstance(part.get("text"), str):
                return ("text", compile_template(part["text"], template_format))
            if part.get("type") == "image_url" or ("image_url" in part and "type" not in part):
                image = part.get("image_url")
                if isinstance(image, str):
                    return ("image_url", {"url": compile_template(image, template_format)})
                if isinstance(image, Mapping) and isinstance(image.get("url"), str):
                    spec = {
                        k: compile_template(v, template_format) if isinstance(v, str) else v
                        for k, v in image.items()
                    }
                    return ("image_url", spec)
                raise TemplateError("an image_url part needs a URL string or {'url': ...}")
            if template_format == "jinja2":  # LCEL refuses it too: a sandbox per value is no use
                raise TemplateError(
                    "a dict part's values cannot be jinja2 templates: use f-string or mustache"
                )
            return ("data", _compile_values(part, template_format))
        raise TemplateError(f"cannot make a message part from {type(part).__name__}")

    @classmethod
    def from_template(
        cls,
        template: str | Sequence[Any],
        template_format: str = "f-string",
        partial_variables: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> BaseMessagePromptTemplate:
        """A message template from text (or parts); ``input_variables`` is accepted and unused,
        since the variables are always the template's own."""
        kwargs.pop("input_variables", None)
        return cls(
            template,
            template_format=template_format,
            partial_variables=partial_variables,
            **kwargs,
        )

    @classmethod
    def from_template_file(
        cls, template_file: str | Path, encoding: str | None = None, **kwargs: Any
    ) -> BaseMessagePromptTemplate:
        """A message template read from a text file."""
        return cls.from_template(Path(template_file).read_text(encoding=encoding), **kwargs)

    @property
    def input_variables(self) -> list[str]:
        return sorted(self._variables)

    def format(self, **values: Any) -> BaseMessage:
        """The message, with ``values`` (and the template's partials) filled in."""
        if self.partial_variables:
            values = {**self.partial_variables, **values}
        if self.prompt is not None:
            return self._message(self.prompt._compiled.render(values))
        content: list[Any] = []
        for kind, value in self.parts or ():
            if kind == "text":
                text = value.render(values)
                if text:  # a part a template's conditions left empty is dropped, not sent empty
                    content.append({"type": "text", "text": text})
            elif kind == "image_url":
                image = {
                    k: v.render(values) if isinstance(v, Compiled) else v for k, v in value.items()
                }
                content.append({"type": "image_url", "image_url": image})
            else:
                content.append(_render_values(value, values))
        return self._message(content)

    def _message(self, content: Any) -> BaseMessage:
        return self.message_class(content)

    def format_messages(self, **values: Any) -> list[BaseMessage]:
        return [self.format(**values)]

    async def aformat_messages(self, **values: Any) -> list[BaseMessage]:
        return self.format_messages(**values)

    def __repr__(self) -> str:
        shown = self.prompt.template if self.prompt is not None else self.parts
        return f"{type(self).__name__}({shown!r})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, BaseMessagePromptTemplate)
            and other.message_class is self.message_class
            and repr(other) == repr(self)
        )

    __hash__ = object.__hash__


def _compiled_in(kind: str, value: Any) -> Iterator[Compiled]:
    if isinstance(value, Compiled):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _compiled_in(kind, item)
    elif isinstance(value, list):
        for item in value:
            yield from _compiled_in(kind, item)


def _compile_values(value: Any, template_format: str) -> Any:
    """A data part (an image block, its metadata...) with every string in it compiled."""
    if isinstance(value, str):
        return compile_template(value, template_format)
    if isinstance(value, Mapping):
        return {k: _compile_values(v, template_format) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_compile_values(v, template_format) for v in value]
    return value


def _render_values(value: Any, values: Mapping[str, Any]) -> Any:
    if isinstance(value, Compiled):
        return value.render(values)
    if isinstance(value, Mapping):
        return {k: _render_values(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_render_values(v, values) for v in value]
    return value


class HumanMessagePromptTemplate(BaseMessagePromptTemplate):
    message_class = HumanMessage


class SystemMessagePromptTemplate(BaseMessagePromptTemplate):
    message_class = SystemMessage


class AIMessagePromptTemplate(BaseMessagePromptTemplate):
    message_class = AIMessage


class ChatMessagePromptTemplate(BaseMessagePromptTemplate):
    """A message template for any role name: ``ChatMessagePromptTemplate.from_template(t, role=r)``."""

    message_class = ChatMessage

    def __init__(self, content: Any = None, *, role: str, **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self.role = role

    def _message(self, content: Any) -> BaseMessage:
        return ChatMessage(content, role=self.role)

    def __repr__(self) -> str:
        return f"{super().__repr__()[:-1]}, role={self.role!r})"


_TEMPLATE_FOR: dict[type[BaseMessage], type[BaseMessagePromptTemplate]] = {
    HumanMessage: HumanMessagePromptTemplate,
    SystemMessage: SystemMessagePromptTemplate,
    AIMessage: AIMessagePromptTemplate,
}


class MessagesPlaceholder:
    """Where a list of messages from the input goes.

    Written ``MessagesPlaceholder("history")`` (required), ``optional=True`` (absent means none),
    ``n_messages=k`` (only the last k), or in a tuple: ``("placeholder", "{history}")`` (optional)
    and ``("placeholder", ["{history}", False])`` (required).
    """

    def __init__(
        self, variable_name: str, *, optional: bool = False, n_messages: int | None = None
    ) -> None:
        if n_messages is not None and n_messages < 0:
            raise ValueError(f"n_messages must be at least 0, got {n_messages}")
        self.variable_name = variable_name
        self.optional = optional
        self.n_messages = n_messages

    @property
    def input_variables(self) -> list[str]:
        return [] if self.optional else [self.variable_name]

    def format_messages(self, **values: Any) -> list[BaseMessage]:
        name = self.variable_name
        if name not in values:
            if self.optional:
                return []
            raise MissingVariableError(f"the prompt needs {name!r} (a list of messages)")
        value = values[name]
        if value is None and self.optional:
            return []
        messages = convert_to_messages(value, name)
        if self.n_messages is not None:
            messages = messages[-self.n_messages :] if self.n_messages else []
        return messages

    async def aformat_messages(self, **values: Any) -> list[BaseMessage]:
        return self.format_messages(**values)

    def __repr__(self) -> str:
        extra = ", optional=True" if self.optional else ""
        extra += f", n_messages={self.n_messages}" if self.n_messages is not None else ""
        return f"MessagesPlaceholder({self.variable_name!r}{extra})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MessagesPlaceholder) and (
            other.variable_name,
            other.optional,
            other.n_messages,
        ) == (self.variable_name, self.optional, self.n_messages)

    __hash__ = object.__hash__


def convert_to_messages(value: Any, name: str = "messages") -> list[BaseMessage]:
    """Messages from what a user passes for a placeholder: messages, role tuples, dicts, strings."""
    if isinstance(value, BaseMessage):
        return [value]
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise TemplateError(f"{name!r} must be a list of messages, got {type(value).__name__}")
    out: list[BaseMessage] = []
    for item in value:
        if isinstance(item, BaseMessage):
            out.append(item)
        elif isinstance(item, str):
            out.append(HumanMessage(item))
        elif isinstance(item, tuple) and len(item) == 2:
            out.append(_role_class(item[0])(item[1]))
        elif isinstance(item, Mapping) and "content" in item and ("role" in item or "type" in item):
            out.append(_role_class(item.get("role", item.get("type")))(item["content"]))
        else:
            raise TemplateError(f"{name!r} must hold messages, got {type(item).__name__}")
    return out


MessageLike = BaseMessage | BaseMessagePromptTemplate | MessagesPlaceholder


class ChatPromptTemplate(BasePromptTemplate):
    """Chat messages made from templates; ``from_template`` gives one human message."""

    def __init__(
        self,
        messages: Sequence[Any] = (),
        *,
        template_format: str = "f-string",
        partial_variables: Mapping[str, Any] | None = None,
        input_variables: list[str] | None = None,
        validate_template: bool = False,
        name: str | None = None,
    ) -> None:
        self.template_format = template_format
        self.partial_variables = dict(partial_variables or {})
        self.messages: list[MessageLike] = []
        for item in messages:
            if isinstance(item, ChatPromptTemplate):
                self.messages.extend(item.messages)
                self.partial_variables = {**item.partial_variables, **self.partial_variables}
            else:
                self.messages.append(message_template(item, template_format))
        self.label = name
        self._required = self._variables()
        # As for PromptTemplate: the variables are the messages' own; a given list is only checked.
        if validate_template and input_variables is not None:
            expected = set(self._required) | set(self.optional_variables)
            if set(input_variables) != expected:
                raise TemplateError(
                    f"Got mismatched input_variables. Expected: {expected}. Got: {input_variables}"
                )

    def _variables(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for part in self.messages:
            if isinstance(part, BaseMessagePromptTemplate):
                seen.update(dict.fromkeys(part._variables))
            elif isinstance(part, MessagesPlaceholder) and not part.optional:
                seen.setdefault(part.variable_name)
        return tuple(v for v in seen if v not in self.partial_variables)

    @property
    def optional_variables(self) -> list[str]:
        return sorted(
            p.variable_name
            for p in self.messages
            if isinstance(p, MessagesPlaceholder) and p.optional
        )

    @classmethod
    def from_template(
        cls,
        template: str,
        *,
        template_format: str = "f-string",
        partial_variables: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> ChatPromptTemplate:
        """One human message; its partial values belong to that message, as in LCEL."""
        message = HumanMessagePromptTemplate(
            template, template_format=template_format, partial_variables=partial_variables
        )
        return cls([message], template_format=template_format, **kwargs)

    @classmethod
    def from_messages(
        cls, messages: Sequence[Any], template_format: str = "f-string", **kwargs: Any
    ) -> ChatPromptTemplate:
        return cls(messages, template_format=template_format, **kwargs)

    def _default_name(self) -> str:
        return "ChatPromptTemplate"

    @property
    def template(self) -> str | None:
        """The text of a one-message prompt (what ``from_template`` was given)."""
        if len(self.messages) == 1:
            first = self.messages[0]
            if isinstance(first, BaseMessagePromptTemplate) and first.prompt is not None:
                return first.prompt.template
        return None

    # -- formatting ----------------------------------------------------------------------------

    def format_messages(self, **values: Any) -> list[BaseMessage]:
        return self._invoke(values, None).messages

    async def aformat_messages(self, **values: Any) -> list[BaseMessage]:
        return self.format_messages(**values)

    def format_prompt(self, **values: Any) -> ChatPromptValue:
        return self._invoke(values, None)

    async def aformat_prompt(self, **values: Any) -> ChatPromptValue:
        return self.format_prompt(**values)

    def format(self, **values: Any) -> str:
        return self.format_prompt(**values).to_string()

    async def aformat(self, **values: Any) -> str:
        return self.format(**values)

    def _invoke(self, input: Any, run: Run | None) -> ChatPromptValue:
        values = self._values(input)
        out: list[BaseMessage] = []
        for part in self.messages:
            if isinstance(part, BaseMessage):
                out.append(part)
            elif isinstance(part, MessagesPlaceholder):
                out.extend(part.format_messages(**values))
            else:
                out.append(part.format(**values))
        return ChatPromptValue(out)

    # -- composition ---------------------------------------------------------------------------

    def __add__(self, other: Any) -> ChatPromptTemplate:
        """This prompt's messages followed by ``other``'s (a prompt, a message, a list, a string)."""
        if isinstance(other, ChatPromptTemplate):
            more: list[Any] = list(other.messages)
            partials = {**self.partial_variables, **other.partial_variables}
        elif isinstance(other, (list, tuple)) and not (
            isinstance(other, tuple) and len(other) == 2 and isinstance(other[0], (str, type))
        ):
            more, partials = list(other), dict(self.partial_variables)
        else:
            more, partials = [other], dict(self.partial_variables)
        return ChatPromptTemplate(
            [*self.messages, *more],
            template_format=self.template_format,
            partial_variables=partials,
        )

    def __radd__(self, other: Any) -> ChatPromptTemplate:
        return ChatPromptTemplate([other], template_format=self.template_format) + self

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return ChatPromptTemplate(
                self.messages[index],
                template_format=self.template_format,
                partial_variables=self.partial_variables,
            )
        return self.messages[index]

    def __len__(self) -> int:
        return len(self.messages)

    def __iter__(self) -> Iterator[MessageLike]:
        return iter(self.messages)

    def append(self, message: Any) -> None:
        self.extend([message])

    def extend(self, messages: Iterable[Any]) -> None:
        self.messages.extend(message_template(m, self.template_format) for m in messages)
        self._required = self._variables()

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ChatPromptTemplate)
            and other.messages == self.messages
            and other.partial_variables == self.partial_variables
            and other._required == self._required
        )

    __hash__ = BasePromptTemplate.__hash__


def message_template(item: Any, template_format: str = "f-string") -> MessageLike:
    """One entry of ``from_messages``, in any of the forms LangChain users write."""
    if isinstance(item, (BaseMessage, BaseMessagePromptTemplate, MessagesPlaceholder)):
        return item
    if isinstance(item, str):
        return HumanMessagePromptTemplate(item, template_format=template_format)
    if isinstance(item, Mapping) and "content" in item and ("role" in item or "type" in item):
        return _from_role(item.get("role", item.get("type")), item["content"], template_format)
    if isinstance(item, (tuple, list)) and len(item) == 2:
        return _from_role(item[0], item[1], template_format)
    raise TemplateError(f"cannot make a prompt message from {type(item).__name__}")


def _from_role(role: Any, content: Any, template_format: str) -> MessageLike:
    if role == "placeholder":
        return _placeholder(content)
    cls = _role_class(role)
    if not isinstance(content, (str, list, tuple)):
        raise TemplateError(
            f"Invalid template: {content!r} (a message's content is text or a list of parts)"
        )
    template = _TEMPLATE_FOR.get(cls)
    if template is not None:
        return template(content, template_format=template_format)
    return BaseMessagePromptTemplate(content, template_format=template_format, message_class=cls)


def _placeholder(spec: Any) -> MessagesPlaceholder:
    optional = True
    if isinstance(spec, (list, tuple)) and len(spec) == 2 and isinstance(spec[1], bool):
        spec, optional = spec
    if not isinstance(spec, str) or not (spec.startswith("{") and spec.endswith("}")):
        raise TemplateError(f"a placeholder is written ('placeholder', '{{name}}'), got {spec!r}")
    return MessagesPlaceholder(spec[1:-1].strip(), optional=optional)
