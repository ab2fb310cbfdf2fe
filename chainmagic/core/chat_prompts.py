"""Chat prompt templates: message templates, placeholders for message lists, and their sequence.

``ChatPromptTemplate.from_messages`` takes what LangChain users write: ``(role, content)`` tuples
whose role is a name (``"system"``, ``"human"``/``"user"``, ``"ai"``/``"assistant"``,
``"placeholder"``) or a message class, ``{"role": ..., "content": ...}`` dicts, message objects
(kept as they are), message templates, placeholders, plain strings (a human message) and other chat
templates. Content is a template string or a list of parts — text, and ``image_url`` blocks — with
variables inside. The message templates themselves are in :mod:`chainmagic.core.message_prompts`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from chainmagic.core.events import Run
from chainmagic.core.message_prompts import (
    TEMPLATE_FOR,
    AIMessagePromptTemplate,
    BaseMessagePromptTemplate,
    ChatMessagePromptTemplate,
    HumanMessagePromptTemplate,
    SystemMessagePromptTemplate,
    role_class,
)
from chainmagic.core.messages import BaseMessage, HumanMessage
from chainmagic.core.prompt_values import ChatPromptValue
from chainmagic.core.string_prompts import (
    BasePromptTemplate,
    MissingVariableError,
)
from chainmagic.core.template_formats import TemplateError

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
            out.append(role_class(item[0])(item[1]))
        elif isinstance(item, Mapping) and "content" in item and ("role" in item or "type" in item):
            out.append(role_class(item.get("role", item.get("type")))(item["content"]))
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
    cls = role_class(role)
    if not isinstance(content, (str, list, tuple)):
        raise TemplateError(
            f"Invalid template: {content!r} (a message's content is text or a list of parts)"
        )
    template = TEMPLATE_FOR.get(cls)
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
