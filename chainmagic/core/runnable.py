"""The Runnable protocol: one small base class, coercion, and lambda/generator steps.

Every step has the same public surface as LCEL's (``invoke``/``ainvoke``/``batch``/``abatch``/
``stream``/``astream``, ``|``), but a subclass implements only the private ``_invoke`` (and, where
it can do better than the defaults, ``_ainvoke``, ``_stream``, ``_transform`` and their async twins).
The private methods take the run context as an argument, which is ``None`` unless someone observes
or bounds the run: that is the whole per-step cost of configuration.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from functools import partial
from operator import itemgetter
from typing import Any, ClassVar

from chainmagic.core import pool
from chainmagic.core.aio import in_thread, run_sync
from chainmagic.core.calls import acall, add, astream_call, call, stream_call
from chainmagic.core.events import Run
from chainmagic.errors import ChainRunError

__all__ = [
    "ForeignRunnable",
    "Runnable",
    "RunnableGenerator",
    "RunnableLambda",
    "aaccumulate",
    "accumulate",
    "coerce",
]

Config = Mapping[str, Any]


class Runnable:
    """Base of every step. Subclasses implement ``_invoke(input, run)``.

    ``label`` is how the chain names the step (a DSL name, a branch key, a ``run_name``); unlabelled
    composites (sequences, maps) add no segment of their own to paths.
    ``inline`` marks steps that are quick and never block: they run on the caller's thread and
    directly on an event loop rather than on the pool.
    """

    composite: ClassVar[bool] = False
    inline: bool = False
    label: str | None = None
    span: Any = None
    _hint: bool | None = None  # batch: were items of this step quick last time?

    # -- what subclasses implement -------------------------------------------------------------

    def _invoke(self, input: Any, run: Run | None) -> Any:
        raise NotImplementedError

    async def _ainvoke(self, input: Any, run: Run | None) -> Any:
        if self.inline:
            return self._invoke(input, run)
        return await in_thread(partial(self._invoke, input, run))

    def _stream(self, input: Any, run: Run | None) -> Iterator[Any]:
        yield self._invoke(input, run)

    async def _astream(self, input: Any, run: Run | None) -> AsyncIterator[Any]:
        yield await self._ainvoke(input, run)

    def _transform(self, chunks: Iterator[Any], run: Run | None) -> Iterator[Any]:
        yield from self._stream(accumulate(chunks), run)

    async def _atransform(self, chunks: AsyncIterator[Any], run: Run | None) -> AsyncIterator[Any]:
        async for chunk in self._astream(await aaccumulate(chunks), run):
            yield chunk

    # -- naming --------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.label or self._default_name()

    def _default_name(self) -> str:
        return type(self).__name__

    @property
    def segment(self) -> str | None:
        """This step's part of a path, or None for an unlabelled composite."""
        if self.label:
            return self.label
        return None if self.composite else self._default_name()

    def __repr__(self) -> str:
        return self.name

    # -- public protocol -----------------------------------------------------------------------

    def invoke(self, input: Any, config: Config | None = None, **kwargs: Any) -> Any:
        """Run the step on one input and return its output."""
        run = Run.from_config(config) if config else None
        segment = _root_segment(self, config)
        if run is None or segment is not None:
            return call(self, input, run, segment)
        run.emit("start", input, self)
        try:
            output = call(self, input, run, None)
        except ChainRunError as err:
            run.emit("error", err, self)
            raise
        run.emit("end", output, self)
        return output

    async def ainvoke(self, input: Any, config: Config | None = None, **kwargs: Any) -> Any:
        """Async twin of :meth:`invoke`; branches of parallel maps become tasks."""
        run = Run.from_config(config) if config else None
        segment = _root_segment(self, config)
        if run is None or segment is not None:
            return await acall(self, input, run, segment)
        run.emit("start", input, self)
        try:
            output = await acall(self, input, run, None)
        except ChainRunError as err:
            run.emit("error", err, self)
            raise
        run.emit("end", output, self)
        return output

    def stream(self, input: Any, config: Config | None = None, **kwargs: Any) -> Iterator[Any]:
        """Yield the output in chunks as they are produced (tokens, for a model at the end)."""
        run = Run.from_config(config) if config else None
        segment = _root_segment(self, config)
        if run is not None and segment is None:
            yield from _observed_root(
                self, run, input, stream_call(self, iter((input,)), run, None)
            )
        else:
            yield from stream_call(self, iter((input,)), run, segment)

    async def astream(
        self, input: Any, config: Config | None = None, **kwargs: Any
    ) -> AsyncIterator[Any]:
        """Async twin of :meth:`stream`; chunks pass through without a task per chunk."""
        run = Run.from_config(config) if config else None
        segment = _root_segment(self, config)
        if run is not None and segment is None:
            chunks = _aobserved_root(
                self, run, input, astream_call(self, _aiter_one(input), run, None)
            )
        else:
            chunks = astream_call(self, _aiter_one(input), run, segment)
        async for chunk in chunks:
            yield chunk

    def batch(
        self,
        inputs: Sequence[Any],
        config: Config | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Any]:
        """Invoke on every input, in parallel on the shared pool; outputs in input order.

        With ``return_exceptions`` a failed input gives its :class:`ChainRunError` in its place;
        otherwise the first failure is raised at once.
        """
        if not inputs:
            return []
        run = Run.from_config(config) if config else None
        segment = _root_segment(self, config)
        one = _guarded if return_exceptions else call
        if run is None:
            thunks = [partial(one, self, x, None, segment) for x in inputs]
        else:
            thunks = [
                partial(one, self, x, run.child(str(i)), segment) for i, x in enumerate(inputs)
            ]
        hint = self.inline if self._hint is None else self._hint
        group = pool.run_parallel(thunks, [hint] * len(thunks), run.limiter if run else None)
        if group.error is not None:
            raise group.error
        self._hint = max(group.seconds) < pool.FAST
        return group.results

    async def abatch(
        self,
        inputs: Sequence[Any],
        config: Config | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Any]:
        """Async twin of :meth:`batch`."""
        from chainmagic.core.parallel import gather

        run = Run.from_config(config) if config else None
        segment = _root_segment(self, config)
        one = _aguarded if return_exceptions else acall
        factories = [
            partial(one, self, x, run.child(str(i)) if run else None, segment)
            for i, x in enumerate(inputs)
        ]
        results, error, _ = await gather(factories, run.limiter if run else None)
        if error is not None:
            raise error
        return results

    # -- composition ---------------------------------------------------------------------------

    def __or__(self, other: Any) -> Runnable:
        from chainmagic.core.sequence import RunnableSequence

        return RunnableSequence(self, other)

    def __ror__(self, other: Any) -> Runnable:
        from chainmagic.core.sequence import RunnableSequence

        return RunnableSequence(other, self)

    def pipe(self, *others: Any) -> Runnable:
        from chainmagic.core.sequence import RunnableSequence

        return RunnableSequence(self, *others)

    def pick(self, keys: str | list[str]) -> Runnable:
        from chainmagic.core.passthrough import RunnablePick

        return self | RunnablePick(keys)

    def assign(self, **steps: Any) -> Runnable:
        from chainmagic.core.passthrough import RunnableAssign

        return self | RunnableAssign(steps)

    def with_config(
        self,
        config: Config | None = None,
        *,
        run_name: str | None = None,
        tags: Sequence[str] | None = None,
        max_concurrency: int | None = None,
        **kwargs: Any,
    ) -> Runnable:
        """A copy that runs with these settings; ``run_name`` becomes the step's label."""
        from chainmagic.core.wrappers import RunnableBinding

        merged = {**(config or {}), **kwargs}
        if run_name is not None:
            merged["run_name"] = run_name
        if tags is not None:
            merged["tags"] = list(tags)
        if max_concurrency is not None:
            merged["max_concurrency"] = max_concurrency
        return RunnableBinding(self, merged)

    def with_retry(
        self,
        *,
        retry_if_exception_type: tuple[type[BaseException], ...] = (Exception,),
        stop_after_attempt: int = 3,
        backoff: float = 0.1,
        backoff_factor: float = 2.0,
        max_backoff: float = 5.0,
        jitter: float = 0.0,
        wait_exponential_jitter: bool | None = None,
    ) -> Runnable:
        """Retry failures of the given types, waiting ``backoff × factorⁿ`` (capped) in between.

        ``jitter`` is a fraction of each wait, drawn at random; it is off by default so a retried
        chain's latency is predictable. ``wait_exponential_jitter=True`` (LCEL's flag) turns on
        10 % jitter.
        """
        from chainmagic.core.wrappers import RunnableRetry

        if wait_exponential_jitter:
            jitter = jitter or 0.1
        return RunnableRetry(
            self,
            retry_on=retry_if_exception_type,
            attempts=stop_after_attempt,
            backoff=backoff,
            factor=backoff_factor,
            max_backoff=max_backoff,
            jitter=jitter,
        )

    def with_fallbacks(
        self,
        fallbacks: Sequence[Any],
        *,
        exceptions_to_handle: tuple[type[BaseException], ...] = (Exception,),
    ) -> Runnable:
        """Try ``fallbacks`` in order when this step fails with one of ``exceptions_to_handle``."""
        from chainmagic.core.wrappers import RunnableWithFallbacks

        return RunnableWithFallbacks(self, fallbacks, exceptions_to_handle)

    def get_graph(self) -> Any:
        """The chain's shape: nodes and edges, drawable as ASCII, Mermaid or SVG."""
        from chainmagic.core.graph import Graph

        return Graph.of(self)


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

    def _invoke(self, input: Any, run: Run | None) -> Any:
        if self.func is not None:
            return self.func(input)
        afunc = self.afunc
        assert afunc is not None
        return run_sync(lambda: afunc(input))

    async def _ainvoke(self, input: Any, run: Run | None) -> Any:
        if self.afunc is not None:
            return await self.afunc(input)
        func = self.func
        assert func is not None
        if self.inline:
            return func(input)
        return await in_thread(partial(func, input))


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
        self.transform: Callable[[Any], Any] | None = transform
        self.atransform = atransform
        if _is(transform, _CO_ASYNC_GENERATOR):
            self.transform, self.atransform = None, transform
        self.label = name

    def _default_name(self) -> str:
        fn = self.transform or self.atransform
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
        if self.transform is not None:
            yield from self.transform(chunks)
            return
        atransform = self.atransform
        assert atransform is not None

        async def collect() -> list[Any]:
            async def source() -> AsyncIterator[Any]:
                for chunk in chunks:
                    yield chunk

            return [c async for c in atransform(source())]

        yield from run_sync(collect)

    async def _atransform(self, chunks: AsyncIterator[Any], run: Run | None) -> AsyncIterator[Any]:
        if self.atransform is not None:
            async for chunk in self.atransform(chunks):
                yield chunk
            return
        items = [c async for c in chunks]
        transform = self.transform
        assert transform is not None
        for chunk in await in_thread(lambda: list(transform(iter(items)))):
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


def coerce(thing: Any) -> Runnable:
    """Turn what a user writes in a chain into a Runnable (LCEL's coercion rules, plus strings)."""
    if isinstance(thing, Runnable):
        return thing
    if isinstance(thing, Mapping):
        from chainmagic.core.parallel import RunnableParallel

        return RunnableParallel(thing)
    if isinstance(thing, str):
        from chainmagic.core.prompts import ChatPromptTemplate

        return ChatPromptTemplate.from_template(thing)
    if callable(getattr(thing, "invoke", None)):
        return ForeignRunnable(thing)
    if _is(thing, _CO_GENERATOR | _CO_ASYNC_GENERATOR):
        return RunnableGenerator(thing)
    if callable(thing):
        return RunnableLambda(thing)
    raise TypeError(
        f"cannot use {type(thing).__name__} {thing!r:.40} as a step: expected a runnable, "
        "a dict of steps, a function or a prompt string"
    )


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


def accumulate(chunks: Iterator[Any]) -> Any:
    """Add a stream's chunks up into one value (the input of a step that cannot stream)."""
    final: Any = _NONE
    for chunk in chunks:
        final = chunk if final is _NONE else add(final, chunk)
    return None if final is _NONE else final


async def aaccumulate(chunks: AsyncIterator[Any]) -> Any:
    final: Any = _NONE
    async for chunk in chunks:
        final = chunk if final is _NONE else add(final, chunk)
    return None if final is _NONE else final


_NONE: Any = object()


async def _aiter_one(item: Any) -> AsyncIterator[Any]:
    yield item


def _root_segment(step: Runnable, config: Config | None) -> str | None:
    if config and config.get("run_name"):
        return str(config["run_name"])
    return step.segment


def _observed_root(step: Runnable, run: Run, input: Any, chunks: Iterator[Any]) -> Iterator[Any]:
    run.emit("start", input, step)
    final: Any = _NONE
    try:
        for chunk in chunks:
            run.emit("chunk", chunk, step)
            final = chunk if final is _NONE else add(final, chunk)
            yield chunk
    except ChainRunError as err:
        run.emit("error", err, step)
        raise
    run.emit("end", None if final is _NONE else final, step)


async def _aobserved_root(
    step: Runnable, run: Run, input: Any, chunks: AsyncIterator[Any]
) -> AsyncIterator[Any]:
    run.emit("start", input, step)
    final: Any = _NONE
    try:
        async for chunk in chunks:
            run.emit("chunk", chunk, step)
            final = chunk if final is _NONE else add(final, chunk)
            yield chunk
    except ChainRunError as err:
        run.emit("error", err, step)
        raise
    run.emit("end", None if final is _NONE else final, step)


def _guarded(step: Runnable, input: Any, run: Run | None, segment: str | None) -> Any:
    try:
        return call(step, input, run, segment)
    except ChainRunError as err:
        return err


async def _aguarded(step: Runnable, input: Any, run: Run | None, segment: str | None) -> Any:
    try:
        return await acall(step, input, run, segment)
    except ChainRunError as err:
        return err
