"""Functions as steps: plain and async functions, generators over a stream, foreign runnables.

What a user writes in Python becomes a step here (LCEL's coercion of callables), as does any object
with an ``invoke`` method, such as a LangChain runnable.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from functools import partial
from operator import itemgetter
from typing import Any

from chainmagic.core.aio import in_thread, run_sync, transform_in_thread
from chainmagic.core.calls import aaccumulate, accumulate
from chainmagic.core.events import Run
from chainmagic.core.runnable import Runnable, _aiter_one, coerce

__all__ = ["ForeignRunnable", "RunnableGenerator", "RunnableLambda", "is_generator_function"]


# Code flags, read directly: `inspect` costs ~6 ms to import and we need only these three.
_CO_GENERATOR, _CO_COROUTINE, _CO_ASYNC_GENERATOR = 0x20, 0x80, 0x200


def _is(fn: Any, flags: int) -> bool:
    """Whether ``fn`` (a function, method or partial of one) has any of these code flags."""
    for _ in range(8):
        if hasattr(fn, "__func__"):
            fn = fn.__func__
        elif hasattr(fn, "func") and type(fn).__name__ == "partial":
            fn = fn.func
        else:
            break
    code = getattr(fn, "__code__", None)
    if code is None:
        call = getattr(type(fn), "__call__", None)  # noqa: B004 - the code object, not callability
        code = getattr(call, "__code__", None) if call is not None else None
    return code is not None and bool(code.co_flags & flags)


def is_generator_function(fn: Any) -> bool:
    """Whether ``fn`` is a (sync or async) generator function: it becomes a RunnableGenerator."""
    return _is(fn, _CO_GENERATOR | _CO_ASYNC_GENERATOR)


class RunnableLambda(Runnable):
    """A plain (sync or async) function as a step."""

    def __init__(
        self,
        func: Callable[[Any], Any],
        afunc: Callable[[Any], Any] | None = None,
        name: str | None = None,
    ) -> None:
        self.func: Callable[[Any], Any] | None = func
        self.afunc = afunc
        if _is(func, _CO_COROUTINE):
            self.func, self.afunc = None, func
        self.label = name
        # itemgetter is C code that never blocks: run it inline, like the built-in pick.
        self.inline = isinstance(func, itemgetter)

    def _default_name(self) -> str:
        fn = self.func or self.afunc
        if isinstance(fn, itemgetter):
            return repr(fn).removeprefix("operator.")
        name = getattr(fn, "__name__", None) or type(fn).__name__
        return "lambda" if name == "<lambda>" else name

    def __repr__(self) -> str:
        """``RunnableLambda(name)``, or a lambda's own source, as LangChain shows them."""
        if self.label:
            return self.label
        name = self._default_name()
        return f"RunnableLambda({_lambda_source(self.func or self.afunc) if name == 'lambda' else name})"

    def _with_kwargs(self, kwargs: dict[str, Any]) -> Runnable:
        func = partial(self.func, **kwargs) if self.func is not None else None
        afunc = partial(self.afunc, **kwargs) if self.afunc is not None else None
        bound = RunnableLambda(func or afunc, afunc if func else None)  # type: ignore[arg-type]
        bound.func, bound.afunc = func, afunc
        bound.label = self.label or self._default_name()
        return bound

    def _call(self, input: Any) -> Any:
        if self.func is not None:
            return self.func(input)
        afunc = self.afunc
        assert afunc is not None
        return run_sync(lambda: afunc(input))

    async def _acall(self, input: Any) -> Any:
        if self.afunc is not None:
            return await self.afunc(input)
        func = self.func
        assert func is not None
        if self.inline:
            return func(input)
        return await in_thread(partial(func, input))

    # A function that returns a runnable routes its input there (LCEL's dynamic routing).

    def _invoke(self, input: Any, run: Run | None) -> Any:
        output = self.func(input) if self.func is not None else self._call(input)
        if type(output) in _DATA or not _is_step(output):
            return output
        return coerce(output)._invoke(input, run)

    async def _ainvoke(self, input: Any, run: Run | None) -> Any:
        output = await self._acall(input)
        if _is_step(output):
            return await coerce(output)._ainvoke(input, run)
        return output

    def _stream(self, input: Any, run: Run | None) -> Iterator[Any]:
        output = self._call(input)
        if _is_step(output):
            yield from coerce(output)._stream(input, run)
        else:
            yield output

    async def _astream(self, input: Any, run: Run | None) -> AsyncIterator[Any]:
        output = await self._acall(input)
        if _is_step(output):
            async for chunk in coerce(output)._astream(input, run):
                yield chunk
        else:
            yield output


# Outputs that are plainly data: checked by type first, so a lambda step stays a few hundred ns.
_DATA = frozenset({str, int, float, bool, dict, list, tuple, type(None), bytes})


def _is_step(value: Any) -> bool:
    """A function's output that is itself a step (ours, or anything with invoke), not data."""
    return isinstance(value, Runnable) or (
        not isinstance(value, type) and callable(getattr(value, "invoke", None))
    )


class RunnableGenerator(Runnable):
    """A generator function over the input's chunks (``def f(chunks): for c in chunks: yield ...``).

    It streams what it yields; ``invoke`` adds the yielded chunks up.
    """

    def __init__(
        self,
        transform: Callable[[Any], Any],
        atransform: Callable[[Any], Any] | None = None,
        name: str | None = None,
    ) -> None:
        self._gen: Callable[[Any], Any] | None = transform
        self._agen = atransform
        if _is(transform, _CO_ASYNC_GENERATOR):
            self._gen, self._agen = None, transform
        self.label = name

    def _default_name(self) -> str:
        fn = self._gen or self._agen
        return getattr(fn, "__name__", type(fn).__name__)

    def _invoke(self, input: Any, run: Run | None) -> Any:
        return accumulate(self._transform(iter((input,)), run))

    async def _ainvoke(self, input: Any, run: Run | None) -> Any:
        return await aaccumulate(self._atransform(_aiter_one(input), run))

    def _stream(self, input: Any, run: Run | None) -> Iterator[Any]:
        return self._transform(iter((input,)), run)

    def _astream(self, input: Any, run: Run | None) -> AsyncIterator[Any]:
        return self._atransform(_aiter_one(input), run)

    def _transform(self, chunks: Iterator[Any], run: Run | None) -> Iterator[Any]:
        if self._gen is not None:
            yield from self._gen(chunks)
            return
        atransform = self._agen
        assert atransform is not None

        async def collect() -> list[Any]:
            async def source() -> AsyncIterator[Any]:
                for chunk in chunks:
                    yield chunk

            return [c async for c in atransform(source())]

        yield from run_sync(collect)

    async def _atransform(self, chunks: AsyncIterator[Any], run: Run | None) -> AsyncIterator[Any]:
        if self._agen is not None:
            async for chunk in self._agen(chunks):
                yield chunk
            return
        transform = self._gen
        assert transform is not None
        async for chunk in transform_in_thread(transform, chunks):
            yield chunk


class ForeignRunnable(Runnable):
    """Anything with an ``invoke`` method (a LangChain runnable, say) used as a step."""

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def _default_name(self) -> str:
        name = getattr(self.obj, "name", None)
        return name if isinstance(name, str) and name else type(self.obj).__name__

    def _invoke(self, input: Any, run: Run | None) -> Any:
        return self.obj.invoke(input)

    async def _ainvoke(self, input: Any, run: Run | None) -> Any:
        if hasattr(self.obj, "ainvoke"):
            return await self.obj.ainvoke(input)
        return await in_thread(partial(self.obj.invoke, input))

    def _stream(self, input: Any, run: Run | None) -> Iterator[Any]:
        if hasattr(self.obj, "stream"):
            return iter(self.obj.stream(input))
        return super()._stream(input, run)

    async def _astream(self, input: Any, run: Run | None) -> AsyncIterator[Any]:
        if hasattr(self.obj, "astream"):
            async for chunk in self.obj.astream(input):
                yield chunk
            return
        if hasattr(self.obj, "stream"):
            async for chunk in transform_in_thread(lambda _: self.obj.stream(input), _nothing()):
                yield chunk
            return
        yield await self._ainvoke(input, run)


async def _nothing() -> AsyncIterator[Any]:
    return
    yield


def _lambda_source(fn: Any) -> str:
    """The text of a lambda (``lambda x: x + 1``) when its source can be read, else ``...``.

    Reprs must never raise: any failure (no source file, a line holding two lambdas) gives ``...``.
    """
    import ast
    import inspect
    import textwrap

    try:
        text = textwrap.dedent(inspect.getsource(fn))
        found = [n for n in ast.walk(ast.parse(text)) if isinstance(n, ast.Lambda)]
        if len(found) == 1:
            return ast.get_source_segment(text, found[0]) or "..."
    except Exception:  # a repr never raises
        pass
    return "..."
