"""How one step is called inside a chain: error naming and events, in one place.

A failing step's exception becomes a :class:`ChainRunError` at the innermost labelled step, and each
labelled step it travels out through adds its segment to the front of ``err.path``. So a path like
``map_chain › poem › model`` costs nothing until something fails. Events are emitted only when the
run has a listener; with ``run is None`` a call is one ``try`` around the step.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

from chainmagic.core import pool
from chainmagic.errors import ChainRunError

if TYPE_CHECKING:
    from chainmagic.core.events import Run
    from chainmagic.core.runnable import Runnable

__all__ = [
    "aaccumulate",
    "acall",
    "accumulate",
    "aguarded",
    "aobserved_root",
    "astream_call",
    "call",
    "guarded",
    "name_error",
    "observed_root",
    "stream_call",
]


def name_error(exc: Exception, segment: str | None) -> ChainRunError:
    """Turn ``exc`` into (or extend) the ChainRunError that names where it happened."""
    if isinstance(exc, ChainRunError):
        if segment is not None:
            exc.path.insert(0, segment)
        return exc
    return ChainRunError(exc, [segment] if segment is not None else None)


def call(step: Runnable, input: Any, run: Run | None, segment: str | None) -> Any:
    if pool.any_cancelled:
        pool.raise_if_cancelled()
    if run is None or segment is None or run.listener is None:
        child = run if run is None or segment is None else run.child(segment)
        try:
            return step._invoke(input, child)
        except Exception as exc:
            raise name_error(exc, segment) from _cause(exc)
    child = run.child(segment)
    child.emit("start", input, step)
    try:
        output = step._invoke(input, child)
    except Exception as exc:
        err = name_error(exc, segment)
        child.emit("error", err, step)
        raise err from _cause(exc)
    child.emit("end", output, step)
    return output


async def acall(step: Runnable, input: Any, run: Run | None, segment: str | None) -> Any:
    if run is None or segment is None or run.listener is None:
        child = run if run is None or segment is None else run.child(segment)
        try:
            return await step._ainvoke(input, child)
        except Exception as exc:
            raise name_error(exc, segment) from _cause(exc)
    child = run.child(segment)
    child.emit("start", input, step)
    try:
        output = await step._ainvoke(input, child)
    except Exception as exc:
        err = name_error(exc, segment)
        child.emit("error", err, step)
        raise err from _cause(exc)
    child.emit("end", output, step)
    return output


def stream_call(
    step: Runnable, chunks: Iterator[Any], run: Run | None, segment: str | None
) -> Iterator[Any]:
    """``step``'s transform of ``chunks``, with errors named and (when observed) events.

    The start event fires when the first input chunk arrives, not when the consumer first pulls, so a
    timeline shows a step starting after its upstream produced something. A failure that comes out of
    ``chunks`` belongs to the upstream step, already named there: it passes through untouched.
    """
    upstream: list[BaseException] = []
    if run is None or segment is None or run.listener is None:
        child = run if run is None or segment is None else run.child(segment)
        try:
            yield from step._transform(_watch(chunks, upstream), child)
        except Exception as exc:
            if upstream and exc is upstream[0]:
                raise
            raise name_error(exc, segment) from _cause(exc)
        return
    child = run.child(segment)
    final: Any = _NOTHING
    try:
        for chunk in step._transform(_announce(chunks, child, step, upstream), child):
            child.emit("chunk", chunk, step)
            final = chunk if final is _NOTHING else add(final, chunk)
            yield chunk
    except Exception as exc:
        if upstream and exc is upstream[0]:
            raise
        err = name_error(exc, segment)
        child.emit("error", err, step)
        raise err from _cause(exc)
    child.emit("end", None if final is _NOTHING else final, step)


async def astream_call(
    step: Runnable, chunks: AsyncIterator[Any], run: Run | None, segment: str | None
) -> AsyncIterator[Any]:
    upstream: list[BaseException] = []
    if run is None or segment is None or run.listener is None:
        child = run if run is None or segment is None else run.child(segment)
        try:
            async for chunk in step._atransform(_awatch(chunks, upstream), child):
                yield chunk
        except Exception as exc:
            if upstream and exc is upstream[0]:
                raise
            raise name_error(exc, segment) from _cause(exc)
        return
    child = run.child(segment)
    final: Any = _NOTHING
    try:
        async for chunk in step._atransform(_aannounce(chunks, child, step, upstream), child):
            child.emit("chunk", chunk, step)
            final = chunk if final is _NOTHING else add(final, chunk)
            yield chunk
    except Exception as exc:
        if upstream and exc is upstream[0]:
            raise
        err = name_error(exc, segment)
        child.emit("error", err, step)
        raise err from _cause(exc)
    child.emit("end", None if final is _NOTHING else final, step)


_NOTHING: Any = object()


def add(a: Any, b: Any) -> Any:
    """Join two stream chunks the way LCEL does: ``+`` where it works, key by key for dicts.

    A chunk marked ``replaces`` (a partial JSON snapshot) stands for everything so far.
    """
    if getattr(b, "replaces", False):
        return b
    if isinstance(a, dict) and isinstance(b, dict):
        out = dict(a)
        for key, value in b.items():
            out[key] = add(out[key], value) if key in out else value
        return out
    try:
        return a + b
    except TypeError:
        return b


def accumulate(chunks: Iterator[Any]) -> Any:
    """Add a stream's chunks up into one value (the input of a step that cannot stream)."""
    final: Any = _NOTHING
    for chunk in chunks:
        final = chunk if final is _NOTHING else add(final, chunk)
    return None if final is _NOTHING else final


async def aaccumulate(chunks: AsyncIterator[Any]) -> Any:
    final: Any = _NOTHING
    async for chunk in chunks:
        final = chunk if final is _NOTHING else add(final, chunk)
    return None if final is _NOTHING else final


def _watch(chunks: Iterator[Any], upstream: list[BaseException]) -> Iterator[Any]:
    try:
        yield from chunks
    except Exception as exc:
        upstream.append(exc)
        raise


async def _awatch(chunks: AsyncIterator[Any], upstream: list[BaseException]) -> AsyncIterator[Any]:
    try:
        async for chunk in chunks:
            yield chunk
    except Exception as exc:
        upstream.append(exc)
        raise


def _announce(
    chunks: Iterator[Any], run: Run, step: Runnable, upstream: list[BaseException]
) -> Iterator[Any]:
    first = True
    try:
        for chunk in chunks:
            if first:
                run.emit("start", chunk, step)
                first = False
            yield chunk
    except Exception as exc:
        upstream.append(exc)
        if not first:  # this step had started: its span ends with the upstream's failure
            run.emit("error", exc, step)
        raise
    if first:
        run.emit("start", None, step)


async def _aannounce(
    chunks: AsyncIterator[Any], run: Run, step: Runnable, upstream: list[BaseException]
) -> AsyncIterator[Any]:
    first = True
    try:
        async for chunk in chunks:
            if first:
                run.emit("start", chunk, step)
                first = False
            yield chunk
    except Exception as exc:
        upstream.append(exc)
        if not first:  # this step had started: its span ends with the upstream's failure
            run.emit("error", exc, step)
        raise
    if first:
        run.emit("start", None, step)


def _cause(exc: Exception) -> BaseException:
    return exc.cause if isinstance(exc, ChainRunError) else exc


# -- the top of a public call: the root's own events, and batch items that keep their errors --


def observed_root(step: Runnable, run: Run, input: Any, chunks: Iterator[Any]) -> Iterator[Any]:
    run.emit("start", input, step)
    final: Any = _NOTHING
    try:
        for chunk in chunks:
            run.emit("chunk", chunk, step)
            final = chunk if final is _NOTHING else add(final, chunk)
            yield chunk
    except ChainRunError as err:
        run.emit("error", err, step)
        raise
    run.emit("end", None if final is _NOTHING else final, step)


async def aobserved_root(
    step: Runnable, run: Run, input: Any, chunks: AsyncIterator[Any]
) -> AsyncIterator[Any]:
    run.emit("start", input, step)
    final: Any = _NOTHING
    try:
        async for chunk in chunks:
            run.emit("chunk", chunk, step)
            final = chunk if final is _NOTHING else add(final, chunk)
            yield chunk
    except ChainRunError as err:
        run.emit("error", err, step)
        raise
    run.emit("end", None if final is _NOTHING else final, step)


def guarded(step: Runnable, input: Any, run: Run | None, segment: str | None) -> Any:
    try:
        return call(step, input, run, segment)
    except ChainRunError as err:
        return err


async def aguarded(step: Runnable, input: Any, run: Run | None, segment: str | None) -> Any:
    try:
        return await acall(step, input, run, segment)
    except ChainRunError as err:
        return err
