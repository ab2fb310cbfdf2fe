"""String prompt templates and the base every prompt shares: a dict of variables in, a prompt value out.

A template is compiled once, at construction (:mod:`chainmagic.core.template_formats`), so a bad one
fails where it is written and a run only fills values in. What every prompt shares lives in
:class:`BasePromptTemplate`: exact ``input_variables`` (sorted, as LCEL lists them), ``partial``
values (fixed now, or functions called at format time), and the check of an input — a missing
variable is a ``KeyError``, a non-dict input for several variables a ``TypeError``. Chat prompts are
in :mod:`chainmagic.core.chat_prompts`; :mod:`chainmagic.core.prompts` gathers both.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

from chainmagic.core.events import Run
from chainmagic.core.prompt_values import StringPromptValue
from chainmagic.core.runnable import Runnable
from chainmagic.core.template_formats import Compiled, TemplateError, compile_template

__all__ = [
    "BasePromptTemplate",
    "MissingVariableError",
    "PromptInputError",
    "PromptTemplate",
    "template_variables",
]


class MissingVariableError(TemplateError, KeyError):
    """An input that lacks one of the prompt's variables: a ``KeyError``, as LCEL callers expect."""

    def __str__(self) -> str:  # KeyError would show the message as a quoted repr
        return str(self.args[0]) if self.args else ""


class PromptInputError(TemplateError, TypeError):
    """An input that is not a dict where the prompt needs several variables (LCEL: a TypeError)."""


def template_variables(text: str, template_format: str = "f-string") -> tuple[str, ...]:
    """The variables a template uses, in order of first use."""
    return compile_template(text, template_format).variables


class BasePromptTemplate(Runnable):
    """What string and chat prompts share: variables, partials and the check of an input."""

    inline = True
    _required: tuple[str, ...] = ()  # variables the input must give, in order of first use
    partial_variables: dict[str, Any]

    @property
    def input_variables(self) -> list[str]:
        """The variables the input must give, sorted (partials and optional ones left out)."""
        return sorted(self._required)

    @property
    def variables_in_order(self) -> tuple[str, ...]:
        """The same variables in the order the template first uses them (for messages and docs)."""
        return self._required

    def partial(self, **values: Any) -> BasePromptTemplate:
        """A copy with some variables filled in now (a value, or a function called at format time)."""
        new = copy.copy(self)
        new.partial_variables = {**self.partial_variables, **values}
        new._required = tuple(v for v in self._required if v not in values)
        new.label = self.label
        return new

    def _values(self, input: Any) -> dict[str, Any]:
        """The input as a dict of every variable, partials filled in; or a clear error."""
        if not isinstance(input, Mapping):
            if len(self._required) == 1:  # LCEL: a lone variable takes a plain input
                input = {self._required[0]: input}
            elif not self._required:
                input = {}
            else:
                need = ", ".join(repr(v) for v in self._required)
                raise PromptInputError(
                    f"the prompt needs a dict with {need}, got {type(input).__name__} "
                    f"(put a map like {{{self._required[0]}: ...}} before it)"
                )
        missing = [v for v in self._required if v not in input]
        if missing:
            have = ", ".join(repr(k) for k in input) or "none"
            need = ", ".join(repr(v) for v in missing)
            raise MissingVariableError(f"the prompt needs {need} but the input has {have}")
        if not self.partial_variables:
            return dict(input)
        values = {
            k: v() if callable(v) else v
            for k, v in self.partial_variables.items()
            if k not in input
        }
        values.update(input)
        return values

    async def _ainvoke(self, input: Any, run: Run | None) -> Any:
        return self._invoke(input, run)


def _check_given_variables(given: list[str], own: tuple[str, ...], template_format: str) -> None:
    """``validate_template=True``: a given variable list must cover the template's.

    As LCEL does it: for f-string and mustache a variable the list lacks is an error (an extra one
    is harmless); jinja2 templates cannot be fully analysed, so there a mismatch is a warning.
    """
    missing = set(own) - set(given)
    if template_format == "jinja2":
        extra = set(given) - set(own)
        parts = [f"Missing variables: {missing}"] if missing else []
        parts += [f"Extra variables: {extra}"] if extra else []
        if parts:
            warnings.warn(" ".join(parts), UserWarning, stacklevel=3)
    elif missing or "" in given:
        _refuse_given(given, own)


def _refuse_given(given: list[str], own: tuple[str, ...]) -> NoReturn:
    raise TemplateError(
        "Invalid prompt schema; check for mismatched or missing input parameters from "
        f"{given!r} (the template uses {sorted(own)!r})"
    )


class PromptTemplate(BasePromptTemplate):
    """A string template: ``PromptTemplate.from_template("tell me about {topic}")``.

    ``template_format`` is ``"f-string"`` (the default), ``"mustache"`` or ``"jinja2"``. The
    variables are always the template's own, less the partial ones: given ``input_variables`` are
    only checked against them, and only with ``validate_template=True`` (LCEL does the same, so a
    stale list cannot make a prompt ask for the wrong keys).
    """

    def __init__(
        self,
        template: str | None = None,
        *,
        input_variables: list[str] | None = None,
        partial_variables: Mapping[str, Any] | None = None,
        template_format: str = "f-string",
        validate_template: bool = False,
        name: str | None = None,
    ) -> None:
        if template is None:
            raise TypeError("PromptTemplate needs a template")
        if validate_template and input_variables is not None and "" in input_variables:
            _refuse_given(input_variables, ())  # an empty name is no variable, whatever the text
        self._compiled: Compiled = compile_template(template, template_format)
        self.template = template
        self.template_format = template_format
        self.partial_variables = dict(partial_variables or {})
        own = tuple(v for v in self._compiled.variables if v not in self.partial_variables)
        if input_variables is not None and validate_template:
            _check_given_variables(input_variables, own, template_format)
        self._required = own
        self.label = name

    @classmethod
    def from_template(
        cls,
        template: str,
        *,
        template_format: str = "f-string",
        partial_variables: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> PromptTemplate:
        return cls(
            template,
            template_format=template_format,
            partial_variables=partial_variables,
            **kwargs,
        )

    @classmethod
    def from_examples(
        cls,
        examples: list[str],
        suffix: str,
        input_variables: list[str],
        example_separator: str = "\n\n",
        prefix: str = "",
        **kwargs: Any,
    ) -> PromptTemplate:
        """Few-shot text: ``prefix``, the examples and ``suffix`` joined by ``example_separator``."""
        template = example_separator.join([prefix, *examples, suffix])
        return cls(template, input_variables=input_variables, **kwargs)

    @classmethod
    def from_file(
        cls, template_file: str | Path, encoding: str | None = None, **kwargs: Any
    ) -> PromptTemplate:
        """A template read from a text file."""
        text = Path(template_file).read_text(encoding=encoding)
        return cls.from_template(text, **kwargs)

    def _default_name(self) -> str:
        return "PromptTemplate"

    def format(self, **values: Any) -> str:
        return self._compiled.render(self._values(values))

    async def aformat(self, **values: Any) -> str:
        return self.format(**values)

    def format_prompt(self, **values: Any) -> StringPromptValue:
        return StringPromptValue(self.format(**values))

    async def aformat_prompt(self, **values: Any) -> StringPromptValue:
        return self.format_prompt(**values)

    def _invoke(self, input: Any, run: Run | None) -> StringPromptValue:
        return StringPromptValue(self._compiled.render(self._values(input)))

    def __add__(self, other: Any) -> Any:
        """Two templates (or a template and a string) joined into one; formats must agree."""
        if isinstance(other, str):
            other = PromptTemplate(other, template_format=self.template_format)
        if not isinstance(other, PromptTemplate):
            return NotImplemented
        if other.template_format != self.template_format:
            raise TemplateError(
                f"Cannot add templates of different formats: a {other.template_format} one "
                f"to a {self.template_format} one"
            )
        partials = {**self.partial_variables, **other.partial_variables}
        overlap = set(self.partial_variables) & set(other.partial_variables)
        if any(self.partial_variables[k] != other.partial_variables[k] for k in overlap):
            raise TemplateError(f"the templates give different values for {sorted(overlap)}")
        return PromptTemplate(
            self.template + other.template,
            template_format=self.template_format,
            partial_variables=partials,
        )

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, PromptTemplate)
            and other.template == self.template
            and other.template_format == self.template_format
            and other.partial_variables == self.partial_variables
            and other._required == self._required
        )

    __hash__ = Runnable.__hash__
