"""The Runnable protocol: one small base class and coercion.

Every step has the same public surface as LCEL's (``invoke``/``ainvoke``/``batch``/``abatch``/
``stream``/``astream``, ``|``), but a subclass implements only the private ``_invoke`` (and, where
it can do better than the defaults, ``_ainvoke``, ``_stream``, ``_transform`` and their async twins).
The private methods take the run context as an argument, which is ``None`` unless someone observes
or bounds the run: that is the whole per-step cost of configuration.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from functools import partial
from typing import Any, ClassVar

from chainmagic.core import pool
from chainmagic.core.aio import in_thread
from chainmagic.core.calls import (
    aaccumulate,
    acall,
    accumulate,
    aguarded,
    aobserved_root,
    astream_call,
    call,
    finish,
    guarded,
    observed_root,
    stream_call,
)
from chainmagic.core.events import Run

__all__ = ["Runnable", "coerce"]

Config = Mapping[str, Any]


class Runnable:
    """Base of every step. Subclasses implement ``_invoke(input, run)``.

    ``label`` is how the chain names the step (a DSL name, a branch key, a ``run_name``); unlabelled
    composites (sequences, maps) add no segment of their own to paths.
    ``inline`` marks steps that are quick and never block: they run on the caller's thread and
    directly on an event loop rather than on the pool.
    """

    composite: ClassVar[bool] = False

    def __class_getitem__(cls, item: Any) -> type[Runnable]:
        """``Runnable[str, int]`` in annotations, as LCEL's generic classes allow; no checking."""
        return cls

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

    def _with_kwargs(self, kwargs: dict[str, Any]) -> Runnable:
        """What :meth:`bind` returns: this step with call options fixed (steps that take some)."""
        raise TypeError(f"{self.name} takes no call options to bind ({', '.join(kwargs)})")

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
        try:
            if run is None or segment is not None:
                return call(self, input, run, segment)
            run.emit("start", input, self)
            try:
                output = call(self, input, run, None)
            except Exception as exc:
                run.emit("error", exc, self)
                raise
        except Exception as exc:
            finish(exc)
            raise
        run.emit("end", output, self)
        return output

    async def ainvoke(self, input: Any, config: Config | None = None, **kwargs: Any) -> Any:
        """Async twin of :meth:`invoke`; branches of parallel maps become tasks."""
        run = Run.from_config(config) if config else None
        segment = _root_segment(self, config)
        try:
            if run is None or segment is not None:
                return await acall(self, input, run, segment)
            run.emit("start", input, self)
            try:
                output = await acall(self, input, run, None)
            except Exception as exc:
                run.emit("error", exc, self)
                raise
        except Exception as exc:
            finish(exc)
            raise
        run.emit("end", output, self)
        return output

    def stream(self, input: Any, config: Config | None = None, **kwargs: Any) -> Iterator[Any]:
        """Yield the output in chunks as they are produced (tokens, for a model at the end)."""
        run = Run.from_config(config) if config else None
        segment = _root_segment(self, config)
        try:
            if run is not None and segment is None:
                yield from observed_root(
                    self, run, input, stream_call(self, iter((input,)), run, None)
                )
            else:
                yield from stream_call(self, iter((input,)), run, segment)
        except Exception as exc:
            finish(exc)
            raise

    async def astream(
        self, input: Any, config: Config | None = None, **kwargs: Any
    ) -> AsyncIterator[Any]:
        """Async twin of :meth:`stream`; chunks pass through without a task per chunk."""
        run = Run.from_config(config) if config else None
        segment = _root_segment(self, config)
        if run is not None and segment is None:
            chunks = aobserved_root(
                self, run, input, astream_call(self, _aiter_one(input), run, None)
            )
        else:
            chunks = astream_call(self, _aiter_one(input), run, segment)
        try:
            async for chunk in chunks:
                yield chunk
        except Exception as exc:
            finish(exc)
            raise

    def transform(
        self, input: Iterator[Any], config: Config | None = None, **kwargs: Any
    ) -> Iterator[Any]:
        """Stream over a stream: ``input`` yields chunks of this step's input, as they arrive."""
        run = Run.from_config(config) if config else None
        try:
            yield from stream_call(self, iter(input), run, _root_segment(self, config))
        except Exception as exc:
            finish(exc)
            raise

    async def atransform(
        self, input: AsyncIterator[Any], config: Config | None = None, **kwargs: Any
    ) -> AsyncIterator[Any]:
        """Async twin of :meth:`transform`."""
        run = Run.from_config(config) if config else None
        try:
            async for chunk in astream_call(self, input, run, _root_segment(self, config)):
                yield chunk
        except Exception as exc:
            finish(exc)
            raise

    def batch_as_completed(
        self,
        inputs: Sequence[Any],
        config: Config | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> Iterator[tuple[int, Any]]:
        """Invoke on every input in parallel; yield ``(index, output)`` in the order they finish.

        Without ``return_exceptions`` the first failure is raised (outputs already yielded stay
        yielded); with it, a failed input yields its exception.
        """
        from queue import SimpleQueue

        run = Run.from_config(config) if config else None
        segment = _root_segment(self, config)
        done: SimpleQueue[tuple[int, Any, bool]] = SimpleQueue()

        def one(i: int, x: Any) -> None:
            try:
                done.put((i, call(self, x, run.child(str(i)) if run else None, segment), True))
            except Exception as exc:
                finish(exc)
                done.put((i, exc, False))

        for i, x in enumerate(inputs):
            pool.spawn(partial(one, i, x))
        for _ in range(len(inputs)):
            i, value, ok = done.get()
            if not ok and not return_exceptions:
                raise value
            yield i, value

    async def abatch_as_completed(
        self,
        inputs: Sequence[Any],
        config: Config | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> AsyncIterator[tuple[int, Any]]:
        """Async twin of :meth:`batch_as_completed`: one task per input, yielded as each ends."""
        import asyncio

        run = Run.from_config(config) if config else None
        segment = _root_segment(self, config)

        async def one(i: int, x: Any) -> tuple[int, Any, bool]:
            try:
                return i, await acall(self, x, run.child(str(i)) if run else None, segment), True
            except Exception as exc:
                finish(exc)
                return i, exc, False

        tasks = [asyncio.ensure_future(one(i, x)) for i, x in enumerate(inputs)]
        try:
            for next_done in asyncio.as_completed(tasks):
                i, value, ok = await next_done
                if not ok and not return_exceptions:
                    raise value
                yield i, value
        finally:
            for task in tasks:
                task.cancel()

    def astream_events(self, input: Any, config: Config | None = None) -> AsyncIterator[Any]:
        """Run once and yield every step's start/chunk/end/error :class:`Event` as it happens."""
        from chainmagic.core.events import astream_events

        return astream_events(self, input, config)

    def batch(
        self,
        inputs: Sequence[Any],
        config: Config | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Any]:
        """Invoke on every input, in parallel on the shared pool; outputs in input order.

        With ``return_exceptions`` a failed input gives its exception (the original object, step
        path attached) in its place; otherwise the first failure is raised at once.
        """
        if not inputs:
            return []
        run = Run.from_config(config) if config else None
        segment = _root_segment(self, config)
        one = guarded if return_exceptions else call
        if run is None:
            thunks = [partial(one, self, x, None, segment) for x in inputs]
        else:
            thunks = [
                partial(one, self, x, run.child(str(i)), segment) for i, x in enumerate(inputs)
            ]
        hint = self.inline if self._hint is None else self._hint
        group = pool.run_parallel(thunks, [hint] * len(thunks), run.limiter if run else None)
        if group.error is not None:
            finish(group.error)
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
        one = aguarded if return_exceptions else acall
        factories = [
            partial(one, self, x, run.child(str(i)) if run else None, segment)
            for i, x in enumerate(inputs)
        ]
        results, error, _ = await gather(factories, run.limiter if run else None)
        if error is not None:
            finish(error)
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

    def bind(self, **kwargs: Any) -> Runnable:
        """This step with call options fixed, e.g. ``model.bind(stop=["\\n"])``.

        A model takes its call options (``stop``, ``max_tokens``...); a function step is called
        with them as keyword arguments.
        """
        return self._with_kwargs(kwargs)

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
        exponential_jitter_params: Mapping[str, float] | None = None,
    ) -> Runnable:
        """Retry failures of the given types, waiting ``backoff × factorⁿ`` (capped) in between.

        ``jitter`` is a fraction of each wait, drawn at random; it is off by default so a retried
        chain's latency is predictable. ``wait_exponential_jitter=True`` (LCEL's flag) turns on
        10 % jitter. ``exponential_jitter_params`` takes LCEL's spelling of the same: ``initial``,
        ``max``, ``exp_base`` (seconds, seconds, factor) and ``jitter`` (up to that many seconds
        added to each wait).
        """
        from chainmagic.core.wrappers import RunnableRetry

        extra = 0.0
        if exponential_jitter_params:
            params = dict(exponential_jitter_params)
            unknown = set(params) - {"initial", "max", "exp_base", "jitter"}
            if unknown:
                raise ValueError(
                    f"unknown exponential_jitter_params {sorted(unknown)} "
                    "(use initial, max, exp_base, jitter)"
                )
            backoff = params.get("initial", backoff)
            max_backoff = params.get("max", max_backoff)
            backoff_factor = params.get("exp_base", backoff_factor)
            extra = params.get("jitter", 0.0)
        elif wait_exponential_jitter:
            jitter = jitter or 0.1
        return RunnableRetry(
            self,
            retry_on=retry_if_exception_type,
            attempts=stop_after_attempt,
            backoff=backoff,
            factor=backoff_factor,
            max_backoff=max_backoff,
            jitter=jitter,
            jitter_seconds=extra,
        )

    def with_fallbacks(
        self,
        fallbacks: Sequence[Any],
        *,
        exceptions_to_handle: tuple[type[BaseException], ...] = (Exception,),
        exception_key: str | None = None,
    ) -> Runnable:
        """Try ``fallbacks`` in order when this step fails with one of ``exceptions_to_handle``.

        With ``exception_key``, a dict input reaches each fallback with the previous failure added
        under that key.
        """
        from chainmagic.core.wrappers import RunnableWithFallbacks

        return RunnableWithFallbacks(self, fallbacks, exceptions_to_handle, exception_key)

    def get_graph(self) -> Any:
        """The chain's shape: nodes and edges, drawable as ASCII, Mermaid or SVG."""
        from chainmagic.core.graph import Graph

        return Graph.of(self)


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
    from chainmagic.core.lambdas import (
        ForeignRunnable,
        RunnableGenerator,
        RunnableLambda,
        is_generator_function,
    )

    if callable(getattr(thing, "invoke", None)):
        return ForeignRunnable(thing)
    if is_generator_function(thing):
        return RunnableGenerator(thing)
    if callable(thing):
        return RunnableLambda(thing)
    raise TypeError(
        f"cannot use {type(thing).__name__} {thing!r:.40} as a step: expected a runnable, "
        "a dict of steps, a function or a prompt string"
    )


async def _aiter_one(item: Any) -> AsyncIterator[Any]:
    yield item


def _root_segment(step: Runnable, config: Config | None) -> str | None:
    if config and config.get("run_name"):
        return str(config["run_name"])
    return step.segment
