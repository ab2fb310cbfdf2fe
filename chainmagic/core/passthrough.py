"""Steps that reshape the input rather than compute: passthrough, assign, pick."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any

from chainmagic.core.calls import aaccumulate, accumulate
from chainmagic.core.events import Run
from chainmagic.core.parallel import RunnableParallel
from chainmagic.core.runnable import Runnable

__all__ = ["MissingKeyError", "RunnableAssign", "RunnablePassthrough", "RunnablePick"]


class MissingKeyError(KeyError):
    """The input lacks a key a step picks; says which keys it does have."""

    def __init__(self, key: str, input: Any) -> None:
        self.key = key
        if isinstance(input, Mapping):
            have = ", ".join(repr(k) for k in list(input)[:8]) or "none"
            self.message = f"the input has no key {key!r} (it has: {have})"
        else:
            self.message = (
                f"cannot pick {key!r}: the input is not a dict but {type(input).__name__}"
            )
        super().__init__(key)

    def __str__(self) -> str:
        return self.message


class RunnablePassthrough(Runnable):
    """The input, unchanged (optionally calling ``func(input)`` on the side)."""

    inline = True

    def __init__(self, func: Callable[[Any], Any] | None = None) -> None:
        self.func = func
        if func is not None:
            self.inline = False

    def _invoke(self, input: Any, run: Run | None) -> Any:
        if self.func is not None:
            self.func(input)
        return input

    def _transform(self, chunks: Iterator[Any], run: Run | None) -> Iterator[Any]:
        if self.func is None:
            yield from chunks
        else:
            yield self._invoke(accumulate(chunks), run)

    async def _atransform(self, chunks: AsyncIterator[Any], run: Run | None) -> AsyncIterator[Any]:
        if self.func is None:
            async for chunk in chunks:
                yield chunk
        else:
            yield await self._ainvoke(await aaccumulate(chunks), run)

    @classmethod
    def assign(cls, **steps: Any) -> RunnableAssign:
        """The input dict plus new keys, computed in parallel from it."""
        return RunnableAssign(steps)


class RunnableAssign(Runnable):
    """``{**input, **{k: step(input) ...}}`` with the new keys computed as one parallel map."""

    composite = True

    def __init__(self, steps: Mapping[str, Any] | RunnableParallel) -> None:
        self.mapper = steps if isinstance(steps, RunnableParallel) else RunnableParallel(steps)
        self.inline = self.mapper.inline

    def _default_name(self) -> str:
        return f"RunnableAssign<{','.join(self.mapper.steps)}>"

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.mapper.steps.items())
        return self.label or f"assign({inner})"

    def _invoke(self, input: Any, run: Run | None) -> Any:
        _need_dict(input)
        return {**input, **self.mapper._invoke(input, run)}

    async def _ainvoke(self, input: Any, run: Run | None) -> Any:
        _need_dict(input)
        return {**input, **await self.mapper._ainvoke(input, run)}

    def _stream(self, input: Any, run: Run | None) -> Iterator[Any]:
        _need_dict(input)
        yield dict(input)
        yield from self.mapper._stream(input, run)

    async def _astream(self, input: Any, run: Run | None) -> AsyncIterator[Any]:
        _need_dict(input)
        yield dict(input)
        async for chunk in self.mapper._astream(input, run):
            yield chunk


class RunnablePick(Runnable):
    """One key of a dict input (``@key``, LCEL's ``itemgetter``), or a sub-dict for a list of keys."""

    inline = True

    def __init__(self, keys: str | list[str]) -> None:
        self.keys = keys

    def _default_name(self) -> str:
        return f"@{self.keys}" if isinstance(self.keys, str) else f"pick{self.keys}"

    def _invoke(self, input: Any, run: Run | None) -> Any:
        keys = self.keys
        try:
            if isinstance(keys, str):
                return input[keys]
            return {k: input[k] for k in keys}
        except (KeyError, TypeError, IndexError):
            missing = (
                keys
                if isinstance(keys, str)
                else next(
                    (k for k in keys if not isinstance(input, Mapping) or k not in input), keys[0]
                )
            )
            raise MissingKeyError(missing, input) from None


def _need_dict(input: Any) -> None:
    if not isinstance(input, Mapping):
        raise TypeError(f"assign() needs a dict input, got {type(input).__name__}")
