"""Running a chain for display: on a private event loop, observed, interruptible.

Inside ipykernel an event loop already runs in the main thread, so a chain cannot be run there with
``asyncio.run``. Runs go to one private loop in a daemon thread instead; the calling thread waits
(interruptibly) while the recorder fills the live :class:`ChainResult` and widgets redraw from it.
A kernel interrupt cancels the run's tasks on that loop: async branches stop at once, blocking
ones on pool threads are abandoned, and the kernel is free again.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import Future, wait
from time import perf_counter
from typing import Any, TypeVar

from chainmagic.core.calls import add
from chainmagic.errors import ChainRunError, step_path
from chainmagic.run.recorder import Recorder, finalize_output
from chainmagic.run.result import BatchResult, ChainResult

__all__ = ["BatchResult", "execute", "execute_batch", "run_on_loop"]

T = TypeVar("T")
_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()
_NOTHING: Any = object()
CANCEL_GRACE = 1.0  # seconds a cancelled run gets to unwind before the interrupt goes on


def _private_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _loop_lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="chainmagic-loop", daemon=True)
            thread.start()
            _loop = loop
        return _loop


def run_on_loop(coro: Coroutine[Any, Any, T], on_interrupt: Callable[[], None] | None = None) -> T:
    """Run ``coro`` on the private loop and wait for it; Ctrl-C cancels it there and re-raises.

    So does anything else that stops the wait (a ``TimeoutError`` from a signal handler, a
    ``SystemExit``): a run left going on the loop would hold it, and every later run would wait.
    """
    # The concurrent future is done as soon as it is cancelled, long before the task on the loop has
    # unwound: the coroutine itself says when it is over.
    unwound = threading.Event()

    async def watched() -> T:
        try:
            return await coro
        finally:
            unwound.set()

    future: Future[T] = asyncio.run_coroutine_threadsafe(watched(), _private_loop())
    try:
        # Poll with wait(), not result(timeout=...): the latter raises TimeoutError, which would
        # swallow a TimeoutError raised by a signal handler while we wait.
        while not wait([future], timeout=0.1).done:
            pass
        return future.result()
    except BaseException:  # Ctrl-C, a signal-based timeout, ...: the run must not go on unobserved
        if future.done():  # the coroutine's own outcome (its error): nothing to cancel
            raise
        future.cancel()
        unwound.wait(CANCEL_GRACE)
        if on_interrupt is not None:
            on_interrupt()
        raise


def execute(
    chain: Any,
    input: Any,
    *,
    name: str | None = None,
    stream: bool = True,
    timeout: float | None = None,
    max_concurrency: int | None = None,
    dsl: str | None = None,
    on_change: Callable[[ChainResult, str, str | None], None] | None = None,
) -> ChainResult:
    """Run ``chain`` once on ``input`` and return its :class:`ChainResult` (errors recorded, not raised).

    ``on_change(result, kind, key)`` is called from whichever thread made progress; ``kind`` is
    ``"branch"``, ``"step"``, ``"root"`` or ``"done"``.
    """
    result = ChainResult(name=name, input=input, dsl=dsl)

    def changed(kind: str, key: str | None) -> None:
        if on_change is not None:
            on_change(result, kind, key)

    recorder = Recorder(result, chain, changed)
    config: dict[str, Any] = {"listener": recorder}
    if name:
        config["run_name"] = name
    if max_concurrency:
        config["max_concurrency"] = max_concurrency
    _private_loop()  # a first run starts the loop's thread: not the chain's time, so not timed
    start = perf_counter()
    recorder.t0 = start

    def interrupted() -> None:
        recorder.close()
        result.status = "cancelled"
        result.total = perf_counter() - start
        _settle(result)
        changed("done", None)

    coro = _arun(chain, input, config, stream=stream, timeout=timeout, name=name)
    try:
        result.output = run_on_loop(coro, interrupted)
        result.status = "ok"
    except ChainRunError as err:
        result.status, result.error = "error", err
    except BaseException as exc:  # interrupted: the error carries what finished
        _attach(exc, result)
        raise
    result.total = perf_counter() - start
    if result.ttft is None and result.status == "ok":
        result.ttft = result.total
    _settle(result)
    changed("done", None)
    return result


def _settle(result: ChainResult) -> None:
    """After a failure or an interrupt, what was still going was cancelled: say so."""
    for branch in result.branches.values():
        if branch.status in ("pending", "running"):
            branch.status = "cancelled"
    for step in result.steps:
        if step.status == "running":
            step.status = "cancelled"


async def _arun(
    chain: Any,
    input: Any,
    config: dict[str, Any],
    *,
    stream: bool,
    timeout: float | None,
    name: str | None,
) -> Any:
    async def go() -> Any:
        if not stream:
            return await chain.ainvoke(input, config)
        final: Any = _NOTHING
        async for chunk in chain.astream(input, config):
            final = chunk if final is _NOTHING else add(final, chunk)
        output = finalize_output(None if final is _NOTHING else final)
        return in_declared_order(chain, output)

    try:
        return await asyncio.wait_for(go(), timeout)
    except Exception as exc:
        # A step's own TimeoutError carries its step path; only a bare one is the --timeout.
        if timeout is not None and isinstance(exc, TimeoutError) and not step_path(exc):
            err = TimeoutError(f"no result after {timeout:g} s (--timeout)")
            raise ChainRunError(err, [name] if name else None) from err
        raise ChainRunError.of(exc, name) from exc


def in_declared_order(chain: Any, output: Any) -> Any:
    """A streamed map's output with its keys in the order the map declares them.

    Adding up ``{key: chunk}`` pieces orders keys by which branch spoke first, which varies from
    run to run; ``invoke`` gives the declared order, and so must a streamed run.
    """
    from chainmagic.core.parallel import RunnableParallel
    from chainmagic.core.sequence import RunnableSequence
    from chainmagic.core.wrappers import _Wrapper

    step = chain
    while True:
        if isinstance(step, _Wrapper):
            step = step.bound
        elif isinstance(step, RunnableSequence):
            step = step.last
        else:
            break
    if not isinstance(step, RunnableParallel) or not isinstance(output, dict):
        return output
    ordered = {k: output[k] for k in step.steps if k in output}
    ordered.update((k, v) for k, v in output.items() if k not in ordered)
    return ordered


def execute_batch(
    chain: Any,
    inputs: Sequence[Any],
    *,
    name: str | None = None,
    timeout: float | None = None,
    max_concurrency: int | None = None,
    on_change: Callable[[BatchResult, int], None] | None = None,
) -> BatchResult:
    """Run ``chain`` on every input concurrently (at most ``max_concurrency`` at once)."""
    batch = BatchResult(name=name, size=len(inputs))
    # Inputs wait for a slot (--max-concurrency) as "queued", and run as "running" once they have one.
    batch.results = [ChainResult(name=name, input=x, status="queued") for x in inputs]
    _private_loop()  # started before the clock, as in execute()
    start = batch.started = perf_counter()

    async def one(i: int, sem: asyncio.Semaphore | None) -> None:
        if sem is None:
            await measured(i)
        else:
            async with sem:  # the wait for a slot is not part of the row's latency
                await measured(i)
        if on_change is not None:
            on_change(batch, i)

    async def measured(i: int) -> None:
        result = batch.results[i]
        result.status = "running"
        recorder = Recorder(result, chain, None)
        config: dict[str, Any] = {"listener": recorder}
        if name:
            config["run_name"] = name
        t0 = perf_counter()
        recorder.t0 = t0
        try:
            result.output = await _arun(
                chain, result.input, config, stream=False, timeout=timeout, name=name
            )
            result.status = "ok"
        except ChainRunError as err:
            result.status, result.error = "error", err
        result.total = perf_counter() - t0

    async def all_of() -> None:
        sem = asyncio.Semaphore(max_concurrency) if max_concurrency else None
        await asyncio.gather(*(one(i, sem) for i in range(len(inputs))))

    def interrupted() -> None:
        for r in batch.results:
            if r.status in ("queued", "running"):
                r.status = "cancelled"

    try:
        run_on_loop(all_of(), interrupted)
    except (
        BaseException
    ) as exc:  # interrupted: the rows that finished stay reachable (and resumable)
        batch.total = perf_counter() - start
        _attach(exc, batch)
        exc.batch = batch  # type: ignore[attr-defined]
        raise
    batch.total = perf_counter() - start
    return batch


def _attach(exc: BaseException, result: Any) -> None:
    """Let an interrupt carry the run's result (``exc.result``) so that nothing finished is lost."""
    try:
        exc.result = result  # type: ignore[attr-defined]
    except Exception:  # pragma: no cover - an exception type with __slots__
        pass
