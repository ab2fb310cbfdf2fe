"""Prompt templates: a dict of variables in, a prompt value (messages or a string) out.

One import for everything prompts: string templates and their shared base
(:mod:`chainmagic.core.string_prompts`), chat and message templates
(:mod:`chainmagic.core.chat_prompts`, :mod:`chainmagic.core.message_prompts`), image references
(:mod:`chainmagic.core.image_prompts`), the
values they make (:mod:`chainmagic.core.prompt_values`) and the template languages
(:mod:`chainmagic.core.template_formats`).
"""

from __future__ import annotations

from chainmagic.core.chat_prompts import (
    AIMessagePromptTemplate,
    BaseMessagePromptTemplate,
    ChatMessagePromptTemplate,
    ChatPromptTemplate,
    HumanMessagePromptTemplate,
    MessagesPlaceholder,
    SystemMessagePromptTemplate,
    convert_to_messages,
)
from chainmagic.core.image_prompts import ImagePromptTemplate
from chainmagic.core.prompt_values import ChatPromptValue, StringPromptValue
from chainmagic.core.string_prompts import (
    BasePromptTemplate,
    MissingVariableError,
    PromptInputError,
    PromptTemplate,
    template_variables,
)
from chainmagic.core.template_formats import TemplateError, format_value

__all__ = [
    "AIMessagePromptTemplate",
    "BaseMessagePromptTemplate",
    "BasePromptTemplate",
    "ChatMessagePromptTemplate",
    "ChatPromptTemplate",
    "ChatPromptValue",
    "HumanMessagePromptTemplate",
    "ImagePromptTemplate",
    "MessagesPlaceholder",
    "MissingVariableError",
    "PromptInputError",
    "PromptTemplate",
    "StringPromptValue",
    "SystemMessagePromptTemplate",
    "TemplateError",
    "convert_to_messages",
    "format_value",
    "template_variables",
]
