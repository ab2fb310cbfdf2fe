"""The one shared thread pool that runs sync branches in parallel.

Chains mostly wait on the network, so the pool is sized for waiting, not for CPUs: up to
``MAX_WORKERS`` daemon threads, created on demand and retired after a minute idle. (A pool of
cpu + 4 workers turns 128 sleeping branches into 22 waves.)

A thread hand-off costs ~50-100 µs, far more than a trivial branch. So the calling thread runs the
branches that are known to be quick itself, and hands to workers only those that may block; a branch's
last duration is its hint. Keeping the caller free while slow branches run is also what lets a failure
surface at once: the caller waits on an event that the first error sets, never on the slowest sibling.
Unfinished siblings are abandoned, not waited for; branches no worker has started are dropped.

Cancelling reaches sync code too. A thread cannot be stopped, but it can be told: work handed to the
pool runs under a :class:`CancelToken` (thread-local, inherited by the groups and nested runs it
starts), and every step call checks it first. So after an interrupt a thread finishes the call it is
in, starts nothing new (:class:`Cancelled` is raised instead), and returns to the pool.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from queue import Empty, SimpleQueue
from time import perf_counter
from typing import Any

from chainmagic.core.events import Limiter

__all__ = [
    "FAST",
    "MAX_WORKERS",
    "CancelToken",
    "Cancelled",
    "Group",
    "current_token",
    "raise_if_cancelled",
    "run_parallel",
    "spawn",
    "using_token",
    "worker_count",
]

MAX_WORKERS = 256
IDLE_SECONDS = 60.0
FAST = 200e-6  # a branch quicker than this is cheaper to run inline than to hand off

_tickets: SimpleQueue[Group] = SimpleQueue()
_lock = threading.Lock()
_workers = 0
_idle = 0
_MISSING: Any = object()


# Until the first cancel in this process, no step needs to look at its thread's token.
any_cancelled = False


class _Local(threading.local):
    token: CancelToken | None = None  # a class default: a missing attribute would cost ~1.5 µs


_local = _Local()


class Cancelled(BaseException):
    """Raised instead of starting a step of a cancelled run (a BaseException: ``except Exception``
    in a user's step must not swallow it)."""


class CancelToken:
    """Whether the run a thread works for was cancelled; a child token follows its parent."""

    __slots__ = ("_set", "parent")

    def __init__(self, parent: CancelToken | None = None) -> None:
        self.parent = parent
        self._set = False

    def cancel(self) -> None:
        global any_cancelled
        self._set = True
        any_cancelled = True

    @property
    def cancelled(self) -> bool:
        token: CancelToken | None = self
        while token is not None:
            if token._set:
                return True
            token = token.parent
        return False


def current_token() -> CancelToken | None:
    """The token of the run this thread works for (None outside pool work)."""
    return _local.token


def raise_if_cancelled() -> None:
    """Called before each step: a cancelled run starts nothing new."""
    token = _local.token
    if token is not None and token.cancelled:
        raise Cancelled


class using_token:
    """Run a block under ``token`` (restoring the thread's previous token after)."""

    __slots__ = ("previous", "token")

    def __init__(self, token: CancelToken | None) -> None:
        self.token = token

    def __enter__(self) -> None:
        self.previous = _local.token
        _local.token = self.token

    def __exit__(self, *exc: object) -> None:
        _local.token = self.previous


class Group:
    """Branches of one parallel call, drained by the caller and by worker threads alike."""

    __slots__ = (
        "done",
        "error",
        "failed_index",
        "fast",
        "limiter",
        "lock",
        "remaining",
        "results",
        "seconds",
        "slow",
        "thunks",
        "token",
    )

    def __init__(self, thunks: Sequence[Callable[[], Any]], hints: Sequence[bool]) -> None:
        n = len(thunks)
        self.thunks = thunks
        self.results: list[Any] = [_MISSING] * n
        self.seconds: list[float] = [0.0] * n
        self.fast = deque(i for i in range(n) if hints[i])
        self.slow = deque(i for i in range(n) if not hints[i])
        self.remaining = n
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.failed_index = -1
        self.limiter: Limiter | None = None
        self.token = _local.token  # workers run the branches under it too

    def run(self, i: int) -> None:
        start = perf_counter()
        try:
            result = self.thunks[i]()
        except BaseException as exc:
            with self.lock:
                if self.error is None:
                    self.error = exc
                    self.failed_index = i
                    self.fast.clear()
                    self.slow.clear()
                    self.done.set()
            return
        self.seconds[i] = perf_counter() - start
        self.results[i] = result
        with self.lock:
            self.remaining -= 1
            if self.remaining == 0:
                self.done.set()

    def help(self) -> None:
        """Run in a worker: take the slow branches first, then whatever the caller has not reached."""
        previous = _local.token
        _local.token = self.token
        try:
            while self.error is None:
                try:
                    i = self.slow.popleft()
                except IndexError:
                    try:
                        i = self.fast.pop()  # from the far end: the caller drains from the front
                    except IndexError:
                        return
                self.run(i)
        finally:
            _local.token = previous
            if self.limiter is not None:
                self.limiter.give()

    def finished(self) -> dict[int, Any]:
        return {i: r for i, r in enumerate(self.results) if r is not _MISSING}


def run_parallel(
    thunks: Sequence[Callable[[], Any]],
    hints: Sequence[bool],
    limiter: Limiter | None = None,
) -> Group:
    """Run every thunk, concurrently where it may help, and return the settled group.

    ``hints[i]`` says branch ``i`` was quick last time (run it inline). On the first failure the
    caller returns at once with ``group.error`` set; finished results stay in ``group.results``.
    """
    group = Group(thunks, hints)
    slow = wanted = len(group.slow)
    if wanted and limiter is not None:
        wanted = limiter.take(wanted)
        group.limiter = limiter
    helpers = 0
    while helpers < wanted and _dispatch(group):
        helpers += 1
    if limiter is not None and helpers < wanted:
        limiter.give(wanted - helpers)
    # Without a helper for every slow branch (a limit, or a full pool), the caller runs them too.
    # (Counted before dispatch: helpers may already have taken some off the deque.)
    caller_takes_slow = helpers < slow
    while group.error is None:
        try:
            i = group.fast.popleft()
        except IndexError:
            if not caller_takes_slow:
                break
            try:
                i = group.slow.popleft()
            except IndexError:
                break
        group.run(i)
    if group.remaining and group.error is None:
        group.done.wait()
    return group


def spawn(fn: Callable[[], None]) -> None:
    """Run ``fn`` on a pool thread; it reports its own outcome (see :mod:`chainmagic.core.aio`)."""
    group = Group((fn,), (False,))
    if not _dispatch(group):  # pool full: an extra thread rather than a wait that could deadlock
        threading.Thread(target=group.help, name="chainmagic-overflow", daemon=True).start()


def worker_count() -> int:
    return _workers


def _dispatch(group: Group) -> bool:
    """Hand ``group`` to an idle worker or a new one; False when the pool is full."""
    global _workers, _idle
    with _lock:
        if _idle:
            _idle -= 1
            spawn = False
        elif _workers < MAX_WORKERS:
            _workers += 1
            spawn = True
        else:
            return False
    _tickets.put(group)
    if spawn:
        threading.Thread(target=_work, name="chainmagic-worker", daemon=True).start()
    return True


def _work() -> None:
    global _workers, _idle
    group = _tickets.get()  # a ticket was claimed for this thread before it was queued
    while True:
        group.help()
        with _lock:
            _idle += 1
        try:
            group = _tickets.get(timeout=IDLE_SECONDS)
        except Empty:
            with _lock:
                # Idle counts are fungible: when every idle slot has been claimed, a ticket is
                # on its way to this thread, so it must stay for it.
                if _idle > 0:
                    _idle -= 1
                    _workers -= 1
                    return
            group = _tickets.get()
