"""A redraw throttle: at most one flush per interval, the last change never lost.

A model streams tokens every few milliseconds from worker threads; redrawing a widget on each would
flood the comm channel and make the frontend flicker. Changes are noted as they come; the first is
drawn at once (leading edge), later ones within the interval are folded into one flush on a timer
(trailing edge), and :meth:`Throttle.flush` draws the final state synchronously when a run ends.

Trailing draws run on one drawing thread shared by every throttle, started when the first
throttle is made (before its run). A timer thread per trailing draw would be started by whichever
step happened to poke: a few hundred microseconds of thread start-up charged to that step, which a
timeline shows as time no step accounts for (in the first branch of every run).
"""

from __future__ import annotations

import heapq
import itertools
import os
import threading
from collections.abc import Callable
from time import perf_counter

__all__ = ["Throttle"]


class _Due:
    """A trailing draw booked on the drawing thread (``action`` is called with it); cancelling it
    only marks it."""

    __slots__ = ("action", "cancelled")

    def __init__(self, action: Callable[[_Due], None]) -> None:
        self.action = action
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class _DrawingThread:
    """One daemon thread running booked actions at their due time (``perf_counter`` seconds).

    Booking costs a heap push and a notify: no thread is started in the booking thread (but once
    in a forked child, which inherits no thread).
    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._queue: list[tuple[float, int, _Due]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def ensure_started(self) -> None:
        """Start the thread if it is not running (first use, or after a fork left it behind)."""
        with self._cond:
            self._start()

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(
                target=self._loop, name="chainmagic-redraw", daemon=True
            )
            self._thread.start()

    def book(self, delay: float, due: _Due) -> None:
        with self._cond:
            if self._thread is None:  # only in a forked child: started here, once
                self._start()
            heapq.heappush(self._queue, (perf_counter() + delay, next(self._order), due))
            self._cond.notify()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while True:
                    if not self._queue:
                        self._cond.wait()
                        continue
                    at, _, due = self._queue[0]
                    wait = at - perf_counter()
                    if wait > 0:
                        self._cond.wait(wait)
                        continue
                    heapq.heappop(self._queue)
                    break
            if not due.cancelled:
                try:
                    due.action(due)
                except Exception:  # a throttle keeps its own draw's error; the thread goes on
                    pass


_drawing = _DrawingThread()


def _forget_after_fork() -> None:
    """A forked child has no drawing thread, and maybe a lock held by a thread it did not inherit."""
    global _drawing
    _drawing = _DrawingThread()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)


class Throttle:
    """Calls ``draw(parts)`` with the parts changed since the last draw, at most ``rate`` times/s.

    Thread-safe: :meth:`poke` may be called from any thread; draws never run concurrently.
    """

    def __init__(
        self, draw: Callable[[set[str]], None], rate: float = 15.0, *, leading: bool = True
    ) -> None:
        self._draw = draw
        self.interval = 1.0 / rate if rate > 0 else 0.0
        # leading=False: a poke never draws in the poking thread, always on the drawing thread,
        # and the first draw waits one interval. A run's events come from the threads doing its
        # work; drawing there (or at once beside them) adds the draw's time to whichever step
        # poked first — the "first branch is slower" effect. A run shorter than one interval is
        # never drawn live at all: its final form replaces the placeholder directly. That interval
        # counts from the first poke, not from here: making the view (a first ``import ipywidgets``
        # takes ~60 ms) must not bring the first draw forward into the run's first milliseconds.
        self.leading = leading
        self._last: float | None = float("-inf") if leading else None
        self._lock = threading.Lock()  # guards _dirty, _timer, _last, _closed
        self._drawing = threading.RLock()  # one draw at a time
        self._dirty: set[str] = set()
        self._timer: _Due | None = None
        self._closed = False
        self.draws = 0
        self.error: Exception | None = None  # the last draw's failure, kept for debugging
        _drawing.ensure_started()  # now, in the caller's thread: never in a run's

    def poke(self, *parts: str) -> None:
        """Note that ``parts`` changed; draw now if the interval has passed, else soon."""
        with self._lock:
            if self._closed:
                return
            self._dirty.update(parts)
            if self._timer is not None:
                return  # a trailing draw is already due and will pick these parts up
            now = perf_counter()
            if self._last is None:  # the first poke, without a leading edge
                self._last = now
            wait = self._last + self.interval - now
            if wait > 0 or not self.leading:
                self._timer = _Due(self._on_timer)
                _drawing.book(max(wait, 0.0), self._timer)
                return
            self._last = now  # claimed here, so a concurrent poke waits for the timer instead
        self._run()

    def flush(self, *parts: str, close: bool = False) -> None:
        """Draw ``parts`` and every pending change now, in the calling thread.

        With ``close`` the throttle stops: later pokes and timers draw nothing (the run is over and
        its final state has been drawn).
        """
        with self._lock:
            self._dirty.update(parts)
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        self._run()
        if close:
            with self._lock:
                self._closed = True

    def _on_timer(self, due: _Due) -> None:
        with self._lock:
            if self._timer is not due:  # cancelled by a flush after it was picked up: drawn there
                return
            self._timer = None
            if self._closed:
                return
        self._run()

    def _run(self) -> None:
        with self._drawing:
            with self._lock:
                parts, self._dirty = self._dirty, set()
                self._last = perf_counter()
            if not parts:
                return
            self.draws += 1
            try:
                self._draw(parts)
            except Exception as exc:  # a redraw must never break the run that feeds it
                self.error = exc
