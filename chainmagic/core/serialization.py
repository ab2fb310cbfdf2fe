"""Prompts and messages to and from LangChain's JSON form (``{"lc": 1, "type": "constructor", ...}``).

That form is how LangChain saves prompts (files, prompt hubs): :func:`dumpd` / :func:`dumps` write
it and :func:`load` / :func:`loads` read it back as chainmagic's objects. Reading is safe by
construction: only the classes in :data:`_BUILDERS` can be made (an ``id`` names one of them; no
import ever happens) and every template goes through the same compiler as a typed one, so a
template that reaches into attributes is refused on load as it is on construction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from chainmagic.core.chat_prompts import (
    AIMessagePromptTemplate,
    BaseMessagePromptTemplate,
    ChatMessagePromptTemplate,
    ChatPromptTemplate,
    HumanMessagePromptTemplate,
    MessagesPlaceholder,
    SystemMessagePromptTemplate,
)
from chainmagic.core.image_prompts import ImagePromptTemplate
from chainmagic.core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
)
from chainmagic.core.string_prompts import PromptTemplate
from chainmagic.core.template_formats import Compiled, TemplateError

__all__ = ["dumpd", "dumps", "load", "loads"]

_MESSAGES = (AIMessageChunk, AIMessage, HumanMessage, SystemMessage, ChatMessage)
_MESSAGE_TEMPLATES = (
    HumanMessagePromptTemplate,
    SystemMessagePromptTemplate,
    AIMessagePromptTemplate,
    ChatMessagePromptTemplate,
)


def _node(path: list[str], kwargs: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"lc": 1, "type": "constructor", "id": path, "kwargs": kwargs}
    if name:
        out["name"] = name
    return out


def dumpd(obj: Any) -> Any:
    """``obj`` in LangChain's JSON form, as plain data (dicts, lists, strings)."""
    if isinstance(obj, PromptTemplate):
        kwargs: dict[str, Any] = {
            "input_variables": obj.input_variables,
            "template": obj.template,
            "template_format": obj.template_format,
        }
        if obj.partial_variables:
            kwargs["partial_variables"] = obj.partial_variables
        return _node(["langchain", "prompts", "prompt", "PromptTemplate"], kwargs, "PromptTemplate")
    if isinstance(obj, ChatPromptTemplate):
        kwargs = {"input_variables": obj.input_variables}
        # LangChain lists optional placeholders and gives each an empty list as a partial value
        optional = obj.optional_variables
        partials: dict[str, Any] = {**{key: [] for key in optional}, **obj.partial_variables}
        if optional:
            kwargs["optional_variables"] = optional
        if partials:
            kwargs["partial_variables"] = partials
        kwargs["messages"] = [dumpd(m) for m in obj]
        return _node(
            ["langchain", "prompts", "chat", "ChatPromptTemplate"], kwargs, "ChatPromptTemplate"
        )
    if isinstance(obj, ImagePromptTemplate):
        kwargs = {
            "template": obj.template,
            "input_variables": obj.input_variables,
            "template_format": obj.template_format,
        }
        return _node(
            ["langchain", "prompts", "image", "ImagePromptTemplate"], kwargs, "ImagePromptTemplate"
        )
    if isinstance(obj, MessagesPlaceholder):
        kwargs = {"variable_name": obj.variable_name}
        if obj.optional:
            kwargs["optional"] = True
        if obj.n_messages is not None:
            kwargs["n_messages"] = obj.n_messages
        return _node(["langchain", "prompts", "chat", "MessagesPlaceholder"], kwargs)
    if isinstance(obj, BaseMessagePromptTemplate):
        return _dump_message_template(obj)
    if isinstance(obj, BaseMessage):
        return _dump_message(obj)
    raise TypeError(f"cannot write {type(obj).__name__} in LangChain's JSON form")


def dumps(obj: Any, *, pretty: bool = False) -> str:
    """:func:`dumpd` as JSON text."""
    return json.dumps(dumpd(obj), indent=2 if pretty else None, ensure_ascii=False)


def _dump_message_template(obj: BaseMessagePromptTemplate) -> dict[str, Any]:
    cls = next((c for c in _MESSAGE_TEMPLATES if type(obj) is c), None)
    if cls is None:
        raise TypeError(f"cannot write a {obj.message_class.__name__} template in LangChain's form")
    kwargs: dict[str, Any] = {}
    if obj.prompt is not None:
        kwargs["prompt"] = dumpd(obj.prompt)
    else:
        kwargs["prompt"] = [
            _dump_part(kind, value, obj.template_format) for kind, value in obj.parts or ()
        ]
    if isinstance(obj, ChatMessagePromptTemplate):
        kwargs["role"] = obj.role
    return _node(["langchain", "prompts", "chat", cls.__name__], kwargs)


def _dump_part(kind: str, value: Any, template_format: str) -> dict[str, Any]:
    if kind == "text":
        return dumpd(PromptTemplate(value.text, template_format=template_format))
    source = _source(value)
    if kind == "image_url":
        kwargs = {"template": source, "input_variables": [], "template_format": template_format}
        return _node(
            ["langchain", "prompts", "image", "ImagePromptTemplate"], kwargs, "ImagePromptTemplate"
        )
    kwargs = {"template": source, "template_format": template_format}
    return _node(
        ["langchain_core", "prompts", "dict", "DictPromptTemplate"], kwargs, "DictPromptTemplate"
    )


def _source(value: Any) -> Any:
    """A compiled part back as the text the user wrote."""
    if isinstance(value, Compiled):
        return value.text
    if isinstance(value, Mapping):
        return {k: _source(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_source(v) for v in value]
    return value


def _dump_message(message: BaseMessage) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"type": message.type, "content": message.content}
    for field in (
        "name",
        "id",
        "additional_kwargs",
        "response_metadata",
        "usage_metadata",
        "tool_calls",
        "invalid_tool_calls",
        "tool_call_chunks",
    ):
        value = getattr(message, field, None)
        if value:
            kwargs[field] = value
    if isinstance(message, ChatMessage):
        kwargs["role"] = message.role
    return _node(["langchain", "schema", "messages", type(message).__name__], kwargs)


# -- reading -----------------------------------------------------------------------------------


def loads(text: str, *, allowed_objects: Any = "core", **kwargs: Any) -> Any:
    """:func:`load` of JSON text."""
    return load(json.loads(text), allowed_objects=allowed_objects)


def load(data: Any, *, allowed_objects: Any = "core", **kwargs: Any) -> Any:
    """chainmagic's objects from LangChain's JSON form (anything else in ``data`` is kept as is).

    ``allowed_objects``: ``"core"`` (every prompt and message class), or a list of classes; a
    node naming any other class is refused.
    """
    allowed = None if allowed_objects in ("core", "all") else {c.__name__ for c in allowed_objects}
    return _load(data, allowed)


def _load(data: Any, allowed: set[str] | None) -> Any:
    if isinstance(data, list):
        return [_load(item, allowed) for item in data]
    if not isinstance(data, dict):
        return data
    if data.get("lc") != 1 or data.get("type") != "constructor":
        return {k: _load(v, allowed) for k, v in data.items()}
    path = data.get("id")
    if not (isinstance(path, list) and path and path[0] in ("langchain", "langchain_core")):
        raise ValueError(f"cannot load {path!r}: not a LangChain prompt or message")
    name = path[-1]
    build = _BUILDERS.get(name)
    if build is None or (allowed is not None and name not in allowed):
        raise ValueError(f"cannot load {name}: not an allowed prompt or message class")
    return build(data.get("kwargs") or {}, allowed)


def _prompt(kwargs: dict[str, Any], allowed: set[str] | None) -> PromptTemplate:
    return PromptTemplate(
        kwargs["template"],
        template_format=kwargs.get("template_format", "f-string"),
        partial_variables=kwargs.get("partial_variables"),
    )


def _image(kwargs: dict[str, Any], allowed: set[str] | None) -> ImagePromptTemplate:
    return ImagePromptTemplate(
        kwargs.get("template") or {}, template_format=kwargs.get("template_format", "f-string")
    )


def _chat(kwargs: dict[str, Any], allowed: set[str] | None) -> ChatPromptTemplate:
    messages = [_load(m, allowed) for m in kwargs.get("messages", [])]
    optional = set(kwargs.get("optional_variables") or ())
    partials = {
        k: v
        for k, v in (kwargs.get("partial_variables") or {}).items()
        if not (k in optional and v == [])
    }
    return ChatPromptTemplate(messages, partial_variables=partials)


def _placeholder(kwargs: dict[str, Any], allowed: set[str] | None) -> MessagesPlaceholder:
    return MessagesPlaceholder(
        kwargs["variable_name"],
        optional=bool(kwargs.get("optional", False)),
        n_messages=kwargs.get("n_messages"),
    )


def _message_template(cls: type[BaseMessagePromptTemplate]) -> Callable[..., Any]:
    def build(kwargs: dict[str, Any], allowed: set[str] | None) -> BaseMessagePromptTemplate:
        prompt = kwargs.get("prompt")
        extra = {"role": kwargs["role"]} if cls is ChatMessagePromptTemplate else {}
        if isinstance(prompt, list):
            parts = [_part(_raw(p), allowed) for p in prompt]
            formats = {f for _, f in parts if f}
            if len(formats) > 1:
                raise TemplateError(f"a message's parts mix template formats: {sorted(formats)}")
            fmt = formats.pop() if formats else "f-string"
            return cls([p for p, _ in parts], template_format=fmt, **extra)
        built = _load(prompt, allowed)
        if not isinstance(built, PromptTemplate):
            raise ValueError(f"a {cls.__name__} needs a PromptTemplate, got {type(built).__name__}")
        return cls(prompt=built, **extra)

    return build


def _raw(node: Any) -> Any:
    if not (isinstance(node, dict) and node.get("lc") == 1 and isinstance(node.get("id"), list)):
        raise ValueError("a message template's parts must be prompt templates")
    return node


def _part(node: dict[str, Any], allowed: set[str] | None) -> tuple[Any, str | None]:
    """One part of a multi-part message template, as content ``from_messages`` takes."""
    name = node["id"][-1]
    kwargs = node.get("kwargs") or {}
    if allowed is not None and name not in allowed:
        raise ValueError(f"cannot load {name}: not an allowed prompt class")
    fmt = kwargs.get("template_format")
    if name == "PromptTemplate":
        extra = kwargs.get("additional_content_fields") or {}
        return {**extra, "type": "text", "text": kwargs["template"]}, fmt
    if name == "ImagePromptTemplate":
        return {"type": "image_url", "image_url": kwargs["template"]}, fmt
    if name == "DictPromptTemplate":
        return dict(kwargs["template"]), fmt
    raise ValueError(f"cannot load {name} as a part of a message")


def _message(cls: type[BaseMessage]) -> Callable[..., Any]:
    def build(kwargs: dict[str, Any], allowed: set[str] | None) -> BaseMessage:
        fields = {k: v for k, v in kwargs.items() if k != "type"}
        return cls(**fields)

    return build


_BUILDERS: dict[str, Callable[[dict[str, Any], set[str] | None], Any]] = {
    "PromptTemplate": _prompt,
    "ChatPromptTemplate": _chat,
    "MessagesPlaceholder": _placeholder,
    "ImagePromptTemplate": _image,
    **{cls.__name__: _message_template(cls) for cls in _MESSAGE_TEMPLATES},
    **{cls.__name__: _message(cls) for cls in _MESSAGES},
}
