"""RunnableSequence: steps run one after another, each fed the previous one's output.

Sequences run inline (no scheduling) and stream lazily: each step's transform pulls from the one
before, so prompt → model → parser yields tokens as the model produces them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from chainmagic.core.calls import acall, astream_call, call, stream_call
from chainmagic.core.events import Run
from chainmagic.core.runnable import Runnable, coerce

__all__ = ["RunnableSequence"]


class RunnableSequence(Runnable):
    """``a | b | c``. Nested unlabelled sequences are flattened, as in LCEL."""

    composite = True

    def __init__(self, *steps: Any, name: str | None = None) -> None:
        flat: list[Runnable] = []
        for thing in steps:
            step = coerce(thing)
            if isinstance(step, RunnableSequence) and not step.label:
                flat.extend(step.steps)
            else:
                flat.append(step)
        if not flat:
            raise ValueError("a sequence needs at least one step")
        self.steps: tuple[Runnable, ...] = tuple(flat)
        self.label = name
        self.inline = all(step.inline for step in flat)

    @property
    def first(self) -> Runnable:
        return self.steps[0]

    @property
    def last(self) -> Runnable:
        return self.steps[-1]

    def __repr__(self) -> str:
        return self.label or " | ".join(repr(step) for step in self.steps)

    def _invoke(self, input: Any, run: Run | None) -> Any:
        for step in self.steps:
            input = call(step, input, run, step.segment)
        return input

    async def _ainvoke(self, input: Any, run: Run | None) -> Any:
        for step in self.steps:
            input = await acall(step, input, run, step.segment)
        return input

    def _stream(self, input: Any, run: Run | None) -> Iterator[Any]:
        return self._transform(iter((input,)), run)

    def _transform(self, chunks: Iterator[Any], run: Run | None) -> Iterator[Any]:
        for step in self.steps:
            chunks = stream_call(step, chunks, run, step.segment)
        return chunks

    def _astream(self, input: Any, run: Run | None) -> AsyncIterator[Any]:
        async def one() -> AsyncIterator[Any]:
            yield input

        return self._atransform(one(), run)

    def _atransform(self, chunks: AsyncIterator[Any], run: Run | None) -> AsyncIterator[Any]:
        for step in self.steps:
            chunks = astream_call(step, chunks, run, step.segment)
        return chunks
