"""How one step is called inside a chain: error naming and events, in one place.

A failing step's exception travels out as itself (callers ``except ValueError:`` as with LCEL); each
labelled step it passes through adds its segment to the front of its ``chain_path`` attribute, and the
public call it leaves by (:func:`finish`) adds a traceback note naming the whole path. So a path like
``map_chain › poem › model`` costs nothing until something fails. Events are emitted only when the
run has a listener; with ``run is None`` a call is one ``try`` around the step.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

from chainmagic.core import pool
from chainmagic.errors import PATH_SEP

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
    "finish",
    "forget",
    "guarded",
    "name_error",
    "observed_root",
    "stream_call",
]


def name_error(exc: BaseException, segment: str | None) -> None:
    """Record that ``exc`` passed out through ``segment``: the segment goes first in its path.

    The first step to see an exception starts its path afresh (an exception object may be raised
    again in a later run); ``_chain_open`` says a path is being built, until :func:`finish` closes it.
    """
    state = exc.__dict__
    if state.get("_chain_open"):
        if segment is not None:
            state["chain_path"].insert(0, segment)
        return
    state["chain_path"] = [segment] if segment is not None else []
    state["chain_partial"] = {}
    state["_chain_open"] = True


def forget(exc: BaseException) -> None:
    """``exc`` was handled inside the chain (a retry, a fallback): its path is no longer growing."""
    exc.__dict__.pop("_chain_open", None)


def finish(exc: BaseException) -> None:
    """``exc`` leaves the chain by a public call: close its path and name it in a traceback note.

    A note from an earlier run of the same exception object is replaced, never repeated.
    """
    state = exc.__dict__
    if not state.pop("_chain_open", False):
        return
    notes = state.get("__notes__")
    old = state.pop("_chain_note", None)
    if old is not None and isinstance(notes, list) and old in notes:
        notes.remove(old)
    path = state.get("chain_path")
    if path:
        note = f"in chain step {PATH_SEP.join(path)}"
        # What BaseException.add_note does (3.11+); on 3.10 the note is kept, just not printed.
        if not isinstance(notes, list):
            notes = state["__notes__"] = []
        notes.append(note)
        state["_chain_note"] = note


def call(step: Runnable, input: Any, run: Run | None, segment: str | None) -> Any:
    if pool.any_cancelled:
        pool.raise_if_cancelled()
    if run is None or segment is None or run.listener is None:
        child = run if run is None or segment is None else run.child(segment)
        try:
            return step._invoke(input, child)
        except Exception as exc:
            name_error(exc, segment)
            raise
    child = run.child(segment)
    child.emit("start", input, step)
    try:
        output = step._invoke(input, child)
    except Exception as exc:
        name_error(exc, segment)
        child.emit("error", exc, step)
        raise
    child.emit("end", output, step)
    return output


async def acall(step: Runnable, input: Any, run: Run | None, segment: str | None) -> Any:
    if run is None or segment is None or run.listener is None:
        child = run if run is None or segment is None else run.child(segment)
        try:
            return await step._ainvoke(input, child)
        except Exception as exc:
            name_error(exc, segment)
            raise
    child = run.child(segment)
    child.emit("start", input, step)
    try:
        output = await step._ainvoke(input, child)
    except Exception as exc:
        name_error(exc, segment)
        child.emit("error", exc, step)
        raise
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
            name_error(exc, segment)
            raise
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
        name_error(exc, segment)
        child.emit("error", exc, step)
        raise
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
            name_error(exc, segment)
            raise
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
        name_error(exc, segment)
        child.emit("error", exc, step)
        raise
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


# -- the top of a public call: the root's own events, and batch items that keep their errors --


def observed_root(step: Runnable, run: Run, input: Any, chunks: Iterator[Any]) -> Iterator[Any]:
    run.emit("start", input, step)
    final: Any = _NOTHING
    try:
        for chunk in chunks:
            run.emit("chunk", chunk, step)
            final = chunk if final is _NOTHING else add(final, chunk)
            yield chunk
    except Exception as exc:
        run.emit("error", exc, step)
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
    except Exception as exc:
        run.emit("error", exc, step)
        raise
    run.emit("end", None if final is _NOTHING else final, step)


def guarded(step: Runnable, input: Any, run: Run | None, segment: str | None) -> Any:
    """One batch item with ``return_exceptions``: its output, or the exception itself."""
    try:
        return call(step, input, run, segment)
    except Exception as exc:
        finish(exc)
        return exc


async def aguarded(step: Runnable, input: Any, run: Run | None, segment: str | None) -> Any:
    try:
        return await acall(step, input, run, segment)
    except Exception as exc:
        finish(exc)
        return exc
