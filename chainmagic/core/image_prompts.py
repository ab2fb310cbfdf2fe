"""An image reference as a template: ``ImagePromptTemplate(template={"url": "{image_url}"})``.

Formatting it gives the ``{"url": ..., "detail": ...}`` dict a chat message's ``image_url`` part
holds. Its strings are compiled like any prompt's (so an input cannot reach into objects through
``{image.__class__}``); other values pass through. Chat prompts build these parts themselves from
``{"type": "image_url", ...}`` content; this class is the standalone form LangChain code uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chainmagic.core.events import Run
from chainmagic.core.string_prompts import BasePromptTemplate
from chainmagic.core.template_formats import Compiled, compile_template

__all__ = ["ImagePromptTemplate"]


class ImagePromptTemplate(BasePromptTemplate):
    """A ``{"url": ..., "detail": ...}`` template; :meth:`format` fills its variables in."""

    def __init__(
        self,
        template: Mapping[str, Any] | None = None,
        *,
        input_variables: list[str] | None = None,
        template_format: str = "f-string",
        partial_variables: Mapping[str, Any] | None = None,
        name: str | None = None,
    ) -> None:
        self.template = dict(template or {})
        self.template_format = template_format
        self.partial_variables = dict(partial_variables or {})
        self._parts = {
            k: compile_template(v, template_format) if isinstance(v, str) else v
            for k, v in self.template.items()
        }
        seen: dict[str, None] = {}
        for part in self._parts.values():
            if isinstance(part, Compiled):
                seen.update(dict.fromkeys(part.variables))
        self._required = tuple(v for v in seen if v not in self.partial_variables)
        self.label = name

    def _default_name(self) -> str:
        return "ImagePromptTemplate"

    def format(self, **values: Any) -> dict[str, Any]:
        filled = self._values(values)
        return {
            k: v.render(filled) if isinstance(v, Compiled) else v for k, v in self._parts.items()
        }

    async def aformat(self, **values: Any) -> dict[str, Any]:
        return self.format(**values)

    def _invoke(self, input: Any, run: Run | None) -> dict[str, Any]:
        filled = self._values(input)
        return {
            k: v.render(filled) if isinstance(v, Compiled) else v for k, v in self._parts.items()
        }

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ImagePromptTemplate) and (
            other.template,
            other.template_format,
            other.partial_variables,
        ) == (self.template, self.template_format, self.partial_variables)

    __hash__ = BasePromptTemplate.__hash__
