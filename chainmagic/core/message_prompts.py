"""Message templates: one chat message made from a template, in a role.

``HumanMessagePromptTemplate``, ``SystemMessagePromptTemplate``, ``AIMessagePromptTemplate`` and
``ChatMessagePromptTemplate`` (any role name) hold a template string or a list of parts: text,
``image_url`` blocks and data blocks (images, files, with metadata), whose strings are templates
too. Each part is compiled once; formatting only fills values in. :mod:`chainmagic.core.chat_prompts`
puts these in sequence.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from chainmagic.core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
)
from chainmagic.core.string_prompts import PromptTemplate
from chainmagic.core.template_formats import Compiled, TemplateError, compile_template

__all__ = [
    "ROLES",
    "TEMPLATE_FOR",
    "AIMessagePromptTemplate",
    "BaseMessagePromptTemplate",
    "ChatMessagePromptTemplate",
    "HumanMessagePromptTemplate",
    "SystemMessagePromptTemplate",
    "role_class",
]


ROLES: dict[str, type[BaseMessage]] = {
    "human": HumanMessage,
    "user": HumanMessage,
    "system": SystemMessage,
    "ai": AIMessage,
    "assistant": AIMessage,
}


def role_class(role: Any) -> type[BaseMessage]:
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
                if set(part) == {"type", "text"}:
                    return ("text", compile_template(part["text"], template_format))
                # text with more fields (``cache_control``...): kept whole, every string filled in
                return ("data", _compile_values(part, template_format))
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


TEMPLATE_FOR: dict[type[BaseMessage], type[BaseMessagePromptTemplate]] = {
    HumanMessage: HumanMessagePromptTemplate,
    SystemMessage: SystemMessagePromptTemplate,
    AIMessage: AIMessagePromptTemplate,
}
