"""The three template languages a prompt may be written in: f-string, mustache and jinja2.

Each is compiled once, at construction, into an object that knows its variables (in order of first
use) and renders a dict of values. User values are never fed back through a formatter, so braces
inside a retrieved document cannot break or inject anything. Mustache resolves dotted names through
dict keys only (never attributes of the values: an input must not reach into Python objects), and
jinja2 runs in its sandbox and is imported only when a template asks for it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from string import Formatter
from typing import Any

__all__ = ["FORMATS", "Compiled", "TemplateError", "compile_template", "format_value"]

FORMATS = ("f-string", "mustache", "jinja2")


class TemplateError(ValueError):
    """A template that cannot be parsed, or an input that does not fit it."""


def format_value(value: Any) -> str:
    """How a variable's value reads inside a prompt (documents as their text, not a repr)."""
    if isinstance(value, str):
        return value
    from chainmagic.core.documents import Document
    from chainmagic.core.messages import BaseMessage

    if isinstance(value, Document):
        return value.page_content
    if isinstance(value, BaseMessage):
        return value.text
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, Document) for v in value):
        return "\n\n".join(doc.page_content for doc in value)
    return str(value)


class Compiled:
    """A parsed template: its source, its variables (first use first) and a renderer."""

    __slots__ = ("render", "text", "variables")

    def __init__(self, text: str, variables: tuple[str, ...], render: Callable[..., str]) -> None:
        self.text = text
        self.variables = variables
        self.render: Callable[[Mapping[str, Any]], str] = render

    def __repr__(self) -> str:
        return repr(self.text)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Compiled) and other.text == self.text

    __hash__ = None  # type: ignore[assignment]


def compile_template(text: str, template_format: str = "f-string") -> Compiled:
    """Parse ``text`` in ``template_format`` (checked here, so a bad template fails at once)."""
    if template_format == "f-string":
        return _fstring(text)
    if template_format == "mustache":
        return _mustache(text)
    if template_format == "jinja2":
        return _jinja2(text)
    raise TemplateError(
        f"Unsupported template format: {template_format} (use one of: {', '.join(FORMATS)})"
    )


# -- f-string --------------------------------------------------------------------------------------


def _fstring(text: str) -> Compiled:
    try:
        parsed = list(Formatter().parse(text))
    except ValueError as exc:
        raise TemplateError(
            f"bad template: {exc} (write {{{{ and }}}} for literal braces)"
        ) from None
    pieces: list[tuple[str, str | None]] = []
    seen: dict[str, None] = {}
    for literal, field, spec, conversion in parsed:
        if field is None:
            if literal:
                pieces.append((literal, None))
            continue
        name = field.strip()
        problem = _bad_field(name, spec, conversion)
        if problem:
            shown = "{" + field + (f"!{conversion}" if conversion else "")
            shown += (f":{spec}" if spec else "") + "}"
            raise TemplateError(problem.format(shown))
        seen.setdefault(name)
        pieces.append((literal, name))
    frozen = tuple(pieces)

    def render(values: Mapping[str, Any]) -> str:
        out = []
        for literal, name in frozen:
            out.append(literal)
            if name is not None:
                out.append(format_value(values[name]))
        return "".join(out)

    return Compiled(text, tuple(seen), render)


def _bad_field(name: str, spec: str | None, conversion: str | None) -> str:
    """Why an f-string field is refused (``{0}`` stands for the field), or ``""``.

    Attribute access and indexing would let an input reach into objects, and a bare number is a
    positional argument no prompt is given; a format spec or conversion belongs in the code that
    makes the value. Any other name Python's formatter accepts (``{user-name}``, ``{2fast}``) is
    a plain key of the input.
    """
    if spec and "{" in spec:
        return (
            "Nested replacement fields are not allowed: {0}; write a plain name like {{question}}"
        )
    if "." in name or "[" in name:
        return (
            "Invalid variable name {0}. Variable names cannot contain attribute access or indexing"
        )
    if not name or name.isdigit():
        return (
            "Invalid variable name {0}. Variable names cannot be positional arguments; "
            "write a name, like {{question}}"
        )
    if spec or conversion:
        return "Invalid variable name {0}. Variable names cannot carry format specs or conversions"
    return ""


# -- mustache --------------------------------------------------------------------------------------

_TAG = re.compile(r"\{\{(\{)?\s*([#^/&!]?)\s*(.*?)\s*(\})?\}\}", re.DOTALL)
_ESCAPES = {"&": "&amp;", '"': "&quot;", "<": "&lt;", ">": "&gt;"}

# A mustache template as a tree: text, ("var", name, escape), ("section", name, inverted, children).
_Node = Any


def _mustache(text: str) -> Compiled:
    root: list[_Node] = []
    stack: list[tuple[str, list[_Node]]] = [("", root)]
    seen: dict[str, None] = {}
    pos = 0
    for match in _TAG.finditer(text):
        if match.start() > pos:
            stack[-1][1].append(text[pos : match.start()])
        pos = match.end()
        triple, sigil, name = match.group(1), match.group(2), match.group(3)
        if sigil == "!":
            continue
        if not name:
            raise TemplateError(f"bad mustache tag {match.group()!r}: it names nothing")
        if len(stack) == 1 and name != ".":
            seen.setdefault(name.split(".")[0])
        if sigil in ("#", "^"):
            children: list[_Node] = []
            stack[-1][1].append(("section", name, sigil == "^", children))
            stack.append((name, children))
        elif sigil == "/":
            if len(stack) == 1 or stack[-1][0] != name:
                raise TemplateError(f"mustache section {{{{/{name}}}}} closes nothing open")
            stack.pop()
        else:
            stack[-1][1].append(("var", name, not (triple or sigil == "&")))
    if len(stack) > 1:
        raise TemplateError(f"mustache section {{{{#{stack[-1][0]}}}}} is never closed")
    if pos < len(text):
        root.append(text[pos:])
    tree = tuple(root)

    def render(values: Mapping[str, Any]) -> str:
        out: list[str] = []
        _render_nodes(tree, [values], out)
        return "".join(out)

    return Compiled(text, tuple(seen), render)


def _lookup(name: str, scopes: list[Any]) -> Any:
    """A dotted name in the innermost scope that has its head; dict keys only, never attributes."""
    if name == ".":
        return scopes[-1]
    head, *rest = name.split(".")
    for scope in reversed(scopes):
        if isinstance(scope, Mapping) and head in scope:
            value = scope[head]
            break
    else:
        return ""
    for part in rest:
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        else:
            return ""
    return value


def _render_nodes(nodes: Any, scopes: list[Any], out: list[str]) -> None:
    for node in nodes:
        if isinstance(node, str):
            out.append(node)
        elif node[0] == "var":
            value = _lookup(node[1], scopes)
            # mustache prints nothing for a missing value or an empty list or map (0 stays "0")
            empty = value is None or (isinstance(value, (list, tuple, Mapping)) and not value)
            text = "" if empty else format_value(value)
            if node[2]:
                text = "".join(_ESCAPES.get(c, c) for c in text)
            out.append(text)
        else:
            _, name, inverted, children = node
            value = _lookup(name, scopes)
            if inverted:
                if not value:
                    _render_nodes(children, scopes, out)
            elif isinstance(value, (list, tuple)):
                for item in value:
                    _render_nodes(children, [*scopes, item], out)
            elif value:
                _render_nodes(children, [*scopes, value], out)


# -- jinja2 ----------------------------------------------------------------------------------------


def _jinja2(text: str) -> Compiled:
    try:
        from jinja2 import StrictUndefined, meta
        from jinja2.exceptions import TemplateSyntaxError
        from jinja2.sandbox import SandboxedEnvironment
    except ImportError:
        raise ImportError("template_format='jinja2' needs jinja2: pip install jinja2") from None
    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
    try:
        ast = env.parse(text)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"bad jinja2 template: {exc}") from None
    found = meta.find_undeclared_variables(ast)
    order = {name: text.find(name) for name in found}
    variables = tuple(sorted(found, key=lambda n: (order[n], n)))
    template = env.from_string(text)

    def render(values: Mapping[str, Any]) -> str:
        return str(template.render(**values))

    return Compiled(text, variables, render)
