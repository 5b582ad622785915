"""The engine's one event loop: ``select`` over sockets, a timer heap, and priority work queues.

No threads and no locks: everything the trading path does runs here, one callback at a
time. Each iteration:

1. waits in ``select`` on every source's socket (the WebSocket, the metrics server, a
   wake-up pipe for signals) until a socket is readable, a timer or a source deadline is
   due, or queued work is waiting (then it does not wait at all);
2. polls the sources that are readable, buffered or due; a source's callbacks must only
   *enqueue* work (``post``) or store the latest state, never do the heavy lifting;
3. runs due timers and queued work strictly by priority: ``MAINTENANCE`` (dead-man
   re-arm, resync), then ``ORDERS`` (order updates, fills, post replies), then ``MARKET``
   (books, trades), then ``QUOTE`` (quote cycles), then ``REPORT`` (status, metrics,
   reports). A burst of market data therefore never delays order handling: the order
   queue is always emptied first.

A callback that raises is logged (``error``) and counted; the loop goes on. ``stop()``
ends ``run()`` after the current iteration; ``wakeup()`` (safe from a signal handler via
``install_signal_wakeup``) interrupts a ``select`` at once.
"""
from __future__ import annotations

import heapq
import os
import select
import signal
import time
import traceback
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from hlmm.log import get_logger

log = get_logger("engine.loop")

MAINTENANCE, ORDERS, MARKET, QUOTE, REPORT = range(5)
PRIORITY_NAMES = ("maintenance", "orders", "market", "quote", "report")


def wall_ms() -> int:
    """Wall-clock time in ms (what the exchange stamps; the loop itself runs on the monotonic clock)."""
    return time.time_ns() // 1_000_000


class Source(Protocol):
    """Something the loop selects on (a WebSocket client, a server socket)."""

    def fileno(self) -> int:
        """The fd to select on, or -1 while there is none (then only deadlines wake it).

        A source with several sockets defines ``filenos()`` (an iterable of fds) instead.
        """

    def poll(self) -> Any:
        """Handle whatever is readable and run the source's own timers; never block on data."""

    def next_deadline(self) -> float | None:
        """Loop-clock time by which ``poll`` must run again even if nothing arrives."""


class Timer:
    """A scheduled callback; ``cancel()`` it to stop it (repeating timers too)."""

    __slots__ = ("when", "priority", "fn", "interval", "name", "cancelled", "runs")

    def __init__(self, when: float, priority: int, fn: Callable[[], Any], interval: float | None,
                 name: str) -> None:
        self.when = when
        self.priority = priority
        self.fn = fn
        self.interval = interval
        self.name = name
        self.cancelled = False
        self.runs = 0

    def cancel(self) -> None:
        self.cancelled = True

    def __repr__(self) -> str:
        every = f" every {self.interval:g}s" if self.interval else ""
        return f"Timer({self.name or self.fn!r} at {self.when:.3f}{every}, {PRIORITY_NAMES[self.priority]})"


@dataclass
class LoopStats:
    """Counters the metrics and the status panel read."""

    iterations: int = 0
    callbacks: int = 0
    errors: int = 0
    last_busy_s: float = 0.0     # time spent handling the last iteration's work
    max_busy_s: float = 0.0
    max_timer_lag_s: float = 0.0  # worst delay between a timer's due time and its run


class EventLoop:
    """One synchronous loop: sources, timers and priority queues (see the module docstring)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.stats = LoopStats()
        self.on_iteration: Callable[[float], None] | None = None   # busy seconds of each iteration
        self._heap: list[tuple[float, int, int, Timer]] = []
        self._seq = 0
        self._sources: list[Source] = []
        self._queues: tuple[deque, ...] = tuple(deque() for _ in PRIORITY_NAMES)
        self._stopping = False
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._old_wakeup_fd: int | None = None

    # ------------------------------------------------------------------ scheduling
    def call_at(self, when: float, fn: Callable[[], Any], priority: int = MAINTENANCE, name: str = "") -> Timer:
        """Run ``fn()`` once at loop-clock time ``when``."""
        return self._push(Timer(when, priority, fn, None, name))

    def call_later(self, delay_s: float, fn: Callable[[], Any], priority: int = MAINTENANCE,
                   name: str = "") -> Timer:
        """Run ``fn()`` once after ``delay_s`` seconds."""
        return self._push(Timer(self.clock() + max(0.0, delay_s), priority, fn, None, name))

    def call_every(self, interval_s: float, fn: Callable[[], Any], priority: int = MAINTENANCE,
                   name: str = "", first_delay_s: float | None = None) -> Timer:
        """Run ``fn()`` every ``interval_s`` seconds (first after ``first_delay_s``, default one interval).

        The schedule is fixed-rate; runs missed while the loop was busy are skipped, not
        bunched up.
        """
        if interval_s <= 0:
            raise ValueError(f"interval must be > 0 seconds, got {interval_s}")
        first = interval_s if first_delay_s is None else max(0.0, first_delay_s)
        return self._push(Timer(self.clock() + first, priority, fn, interval_s, name))

    def post(self, priority: int, fn: Callable[..., Any], *args: Any) -> None:
        """Queue ``fn(*args)`` to run in this or the next iteration, in its priority's stage."""
        self._queues[priority].append((fn, args))

    def pending(self, priority: int | None = None) -> int:
        """Queued work items (of one priority, or all)."""
        if priority is not None:
            return len(self._queues[priority])
        return sum(len(q) for q in self._queues)

    def _push(self, timer: Timer) -> Timer:
        self._seq += 1
        heapq.heappush(self._heap, (timer.when, timer.priority, self._seq, timer))
        return timer

    # ------------------------------------------------------------------ sources
    def add_source(self, source: Source) -> None:
        """Select on ``source`` from the next iteration on."""
        if source not in self._sources:
            self._sources.append(source)

    def remove_source(self, source: Source) -> None:
        if source in self._sources:
            self._sources.remove(source)

    # ------------------------------------------------------------------ control
    def stop(self) -> None:
        """End ``run()`` after the current iteration."""
        self._stopping = True
        self.wakeup()

    @property
    def stopping(self) -> bool:
        return self._stopping

    def wakeup(self) -> None:
        """Make a blocked ``select`` return now (safe to call from a signal handler)."""
        try:
            os.write(self._wake_w, b"\0")
        except (BlockingIOError, OSError):   # the pipe is full: a wake-up is already pending
            pass

    def install_signal_wakeup(self) -> None:
        """Route signal delivery to the wake-up pipe, so a signal interrupts ``select`` at once.

        Main thread only (Python's rule for signal handling).
        """
        self._old_wakeup_fd = signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)

    def close(self) -> None:
        """Release the wake-up pipe (and restore the previous signal wake-up fd)."""
        if self._old_wakeup_fd is not None:
            signal.set_wakeup_fd(self._old_wakeup_fd)
            self._old_wakeup_fd = None
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass
        self._wake_r = self._wake_w = -1

    # ------------------------------------------------------------------ running
    def run(self, until: Callable[[], bool] | None = None, timeout_s: float | None = None) -> bool:
        """Iterate until ``stop()``, ``until()`` is true or ``timeout_s`` passes.

        Returns True if it ended because of ``until()`` (or ``stop()``), False on timeout.
        """
        self._stopping = False
        end = None if timeout_s is None else self.clock() + timeout_s
        while True:
            if self._stopping or (until is not None and until()):
                self._stopping = False
                return True
            now = self.clock()
            if end is not None and now >= end:
                return False
            self.run_once(None if end is None else end - now)

    def run_once(self, max_wait_s: float | None = None) -> None:
        """One iteration: wait (at most ``max_wait_s``), poll sources, run timers and queues."""
        now = self.clock()
        wait = self._wait_time(now, max_wait_s)
        fds: dict[int, Source] = {}
        for src in self._sources:
            many = getattr(src, "filenos", None)
            for fd in (many() if many is not None else (src.fileno(),)):
                if fd >= 0:
                    fds[fd] = src
        readable: list[int] = []
        try:
            readable, _, _ = select.select([self._wake_r, *fds], [], [], wait)
        except InterruptedError:   # a signal without a wake-up fd: just go round again
            readable = []
        start = self.clock()
        if self._wake_r in readable:
            self._drain_wake()
        ready = {fds[fd] for fd in readable if fd in fds}
        for src in list(self._sources):
            deadline = src.next_deadline()
            if src in ready or (deadline is not None and deadline <= start) or _buffered(src):
                self._call(src.poll, "source poll")
        self._run_stages()
        busy = self.clock() - start
        stats = self.stats
        stats.iterations += 1
        stats.last_busy_s = busy
        if busy > stats.max_busy_s:
            stats.max_busy_s = busy
        if self.on_iteration is not None:
            self.on_iteration(busy)

    def _wait_time(self, now: float, max_wait_s: float | None) -> float:
        if any(self._queues) or any(_buffered(s) for s in self._sources):
            return 0.0
        wait = 3600.0 if max_wait_s is None else max(0.0, max_wait_s)
        if self._heap:
            wait = min(wait, max(0.0, self._heap[0][0] - now))
        for src in self._sources:
            deadline = src.next_deadline()
            if deadline is not None:
                wait = min(wait, max(0.0, deadline - now))
        return wait

    def _run_stages(self) -> None:
        now = self.clock()
        due: list[list[Timer]] = [[] for _ in PRIORITY_NAMES]
        heap = self._heap
        while heap and heap[0][0] <= now:
            timer = heapq.heappop(heap)[3]
            if not timer.cancelled:
                due[timer.priority].append(timer)
        for priority in range(len(PRIORITY_NAMES)):
            for timer in due[priority]:
                if timer.cancelled:
                    continue
                lag = self.clock() - timer.when
                if lag > self.stats.max_timer_lag_s:
                    self.stats.max_timer_lag_s = lag
                timer.runs += 1
                if timer.interval is not None:
                    nxt = timer.when + timer.interval
                    if nxt <= now:
                        nxt = now + timer.interval
                    timer.when = nxt
                    self._push(timer)
                self._call(timer.fn, timer.name or "timer")
            queue = self._queues[priority]
            for _ in range(len(queue)):   # work queued while draining waits for the next iteration
                fn, args = queue.popleft()
                self._call(fn, PRIORITY_NAMES[priority], *args)

    def _call(self, fn: Callable[..., Any], where: str, *args: Any) -> None:
        self.stats.callbacks += 1
        try:
            fn(*args)
        except Exception as exc:
            self.stats.errors += 1
            log.error("error", where=f"engine.loop {where}", error=f"{type(exc).__name__}: {exc}",
                      traceback=traceback.format_exc())

    def _drain_wake(self) -> None:
        try:
            while os.read(self._wake_r, 512):
                pass
        except (BlockingIOError, OSError):
            pass


def _buffered(src: Any) -> bool:
    fn = getattr(src, "has_buffered", None)
    return bool(fn()) if fn is not None else False
