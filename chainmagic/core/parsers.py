"""Output parsers: a model's message in, plain Python out (text, JSON), streaming as it comes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

from chainmagic.core.events import Run
from chainmagic.core.messages import BaseMessage, message_text
from chainmagic.core.parser_bases import BaseOutputParser, BaseTransformOutputParser

if TYPE_CHECKING:  # at run time these come from module __getattr__, when first used
    from chainmagic.core.json_text import (
        parse_and_check_json_markdown,
        parse_json_markdown,
        parse_partial_json,
    )

__all__ = [
    "JsonOutputParser",
    "OutputParserError",
    "OutputParserException",
    "SimpleJsonOutputParser",
    "StrOutputParser",
    "json_patch",
    "parse_and_check_json_markdown",
    "parse_json_markdown",
    "parse_partial_json",
]


class OutputParserException(ValueError):
    """A model's output that the parser cannot read; shows the start of the text.

    A ``ValueError``, under LCEL's name; ``llm_output`` keeps the text that failed to parse and
    ``observation`` / ``send_to_llm`` are there for agents that feed the failure back to a model.
    """

    def __init__(
        self,
        error: Any,
        observation: str | None = None,
        llm_output: str | None = None,
        send_to_llm: bool = False,
    ) -> None:
        if send_to_llm and (observation is None or llm_output is None):
            raise ValueError("send_to_llm needs both observation and llm_output")
        super().__init__(error)
        self.observation = observation
        self.llm_output = llm_output
        self.send_to_llm = send_to_llm


OutputParserError = OutputParserException


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, BaseMessage):
        return message_text(value.content)
    if _message_like(value):  # a LangChain message or chunk: its content, never its repr
        return message_text(value.content)
    to_string = getattr(value, "to_string", None)
    if callable(to_string):
        return str(to_string())
    return str(value)


def _message_like(value: Any) -> bool:
    return isinstance(getattr(value, "type", None), str) and hasattr(value, "content")


class StrOutputParser(BaseTransformOutputParser[str]):
    """A message's text content (never its repr); streams chunk by chunk."""

    inline = True

    def parse(self, text: str) -> str:
        return text

    def _invoke(self, input: Any, run: Run | None) -> str:
        return _text(input)

    def _transform(self, chunks: Iterator[Any], run: Run | None) -> Iterator[str]:
        for chunk in chunks:
            yield _text(chunk)

    async def _atransform(self, chunks: AsyncIterator[Any], run: Run | None) -> AsyncIterator[str]:
        async for chunk in chunks:
            yield _text(chunk)


class JsonSnapshot(dict[str, Any]):
    """A partial JSON object while streaming: each one replaces the last, it does not add to it."""

    replaces = True


class JsonSnapshotList(list[Any]):
    replaces = True


class JsonOutputParser(BaseOutputParser[Any]):
    """JSON from a model's text, tolerating a fenced ```json block; streams partial objects.

    With ``diff=True`` a stream yields JSON Patch operations (RFC 6902) from one partial object to
    the next instead of the objects themselves, as LCEL's parser does.
    """

    inline = True

    def __init__(self, *, diff: bool = False, pydantic_object: Any = None) -> None:
        self.diff = diff
        self.pydantic_object = pydantic_object

    def get_format_instructions(self) -> str:
        """What to ask of a model so its answer parses: JSON, in ``pydantic_object``'s shape if set.

        The schema is written with its text as it is (``ensure_ascii=False``): field descriptions
        in any language reach the model readable.
        """
        if self.pydantic_object is None:
            return "Return a JSON object."
        import json

        schema = {
            k: v
            for k, v in self.pydantic_object.model_json_schema().items()
            if k not in ("title", "type")
        }
        return (
            "Answer with one JSON object that conforms to this JSON schema:\n```json\n"
            f"{json.dumps(schema, ensure_ascii=False)}\n```"
        )

    def parse(self, text: str) -> Any:
        """The JSON value in ``text`` (fenced or bare, words after it ignored)."""
        return self._invoke(text, None)

    def _invoke(self, input: Any, run: Run | None) -> Any:
        import json

        text = _text(input).strip()
        try:
            from chainmagic.core.json_text import parse_json_markdown, parse_leading_json

            return parse_json_markdown(text, parser=parse_leading_json)
        except json.JSONDecodeError as exc:
            shown = text if len(text) <= 60 else text[:57] + "..."
            raise OutputParserException(
                f"the output is not valid JSON ({exc.msg}): {shown!r}", llm_output=text
            ) from None

    def _next(self, text: str, last: Any) -> tuple[Any, Any]:
        """``(value, what to yield)`` for the text so far; nothing to yield while it is unchanged."""
        from chainmagic.core.json_text import parse_partial_json

        value = parse_partial_json(text)
        if value is None or value == last:
            return last, _NO_CHUNK
        if self.diff:
            return value, json_patch(last, value)
        return value, _snapshot(value)

    def _transform(self, chunks: Iterator[Any], run: Run | None) -> Iterator[Any]:
        text, last = "", None
        for chunk in chunks:
            text += _text(chunk)
            last, out = self._next(text, last)
            if out is not _NO_CHUNK:
                yield out
        if last is None:
            value = self._invoke(text, run)
            yield json_patch(None, value) if self.diff else value

    async def _atransform(self, chunks: AsyncIterator[Any], run: Run | None) -> AsyncIterator[Any]:
        text, last = "", None
        async for chunk in chunks:
            text += _text(chunk)
            last, out = self._next(text, last)
            if out is not _NO_CHUNK:
                yield out
        if last is None:
            value = self._invoke(text, run)
            yield json_patch(None, value) if self.diff else value


_NO_CHUNK: Any = object()


def json_patch(old: Any, new: Any, path: str = "") -> list[dict[str, Any]]:
    """JSON Patch operations that turn ``old`` into ``new``, as a growing object needs them.

    Dicts are compared key by key and lists index by index (a list that grew gets ``add`` at the
    new indexes); anything else that changed is replaced whole.
    """
    if isinstance(old, dict) and isinstance(new, dict):
        ops: list[dict[str, Any]] = [
            {"op": "remove", "path": f"{path}/{_pointer(key)}"} for key in old if key not in new
        ]
        # Removals, then new keys, then changed ones: the order jsonpatch's make_patch gives.
        for key, value in new.items():
            if key not in old:
                ops.append({"op": "add", "path": f"{path}/{_pointer(key)}", "value": value})
        for key, value in new.items():
            if key in old and old[key] != value:
                ops.extend(json_patch(old[key], value, f"{path}/{_pointer(key)}"))
        return ops
    if isinstance(old, list) and isinstance(new, list) and len(new) >= len(old):
        ops = []
        for i, value in enumerate(new):
            if i >= len(old):
                ops.append({"op": "add", "path": f"{path}/{i}", "value": value})
            elif old[i] != value:
                ops.extend(json_patch(old[i], value, f"{path}/{i}"))
        return ops
    return [{"op": "replace", "path": path, "value": new}]


def _pointer(key: Any) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")


def _snapshot(value: Any) -> Any:
    if isinstance(value, dict):
        return JsonSnapshot(value)
    if isinstance(value, list):
        return JsonSnapshotList(value)
    return value


SimpleJsonOutputParser = JsonOutputParser  # LCEL's other name for the same parser


_JSON_TEXT = ("parse_and_check_json_markdown", "parse_json_markdown", "parse_partial_json")


def __getattr__(name: str) -> Any:
    """The JSON readers, from :mod:`chainmagic.core.json_text` when first asked for (its ``json``
    import stays off the core's import path)."""
    if name in _JSON_TEXT:
        from chainmagic.core import json_text

        return getattr(json_text, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
