"""The engine's event loop: timers, priorities, sources over real sockets, signal wake-up."""
from __future__ import annotations

import os
import signal
import socket
import time

import pytest

from hlmm.engine.loop import MAINTENANCE, MARKET, ORDERS, QUOTE, REPORT, EventLoop
from hlmm.log import capture_logs


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class SocketSource:
    """A real socketpair end: readable bytes are turned into queued work by priority."""

    def __init__(self, loop: EventLoop, sock: socket.socket) -> None:
        self.loop = loop
        self.sock = sock
        sock.setblocking(False)
        self.polls = 0

    def fileno(self) -> int:
        return self.sock.fileno()

    def next_deadline(self):
        return None

    def poll(self) -> None:
        self.polls += 1
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return
        for byte in data:
            # 'o' = an order frame, 'm' = a market frame
            prio = ORDERS if byte == ord("o") else MARKET
            self.loop.post(prio, self.loop.trace.append, chr(byte))


@pytest.fixture
def loop():
    lp = EventLoop()
    lp.trace = []
    yield lp
    lp.close()


def test_timers_run_in_time_order_then_priority():
    clock = FakeClock()
    lp = EventLoop(clock)
    out = []
    lp.call_at(1001.0, lambda: out.append("report"), REPORT)
    lp.call_at(1001.0, lambda: out.append("maint"), MAINTENANCE)
    lp.call_at(1001.0, lambda: out.append("quote"), QUOTE)
    lp.call_at(1002.0, lambda: out.append("later"), MAINTENANCE)
    clock.t = 1001.5
    lp.run_once(0)
    assert out == ["maint", "quote", "report"]
    clock.t = 1002.0
    lp.run_once(0)
    assert out[-1] == "later"
    lp.close()


def test_repeating_timer_is_fixed_rate_and_skips_missed_runs():
    clock = FakeClock()
    lp = EventLoop(clock)
    runs = []
    t = lp.call_every(1.0, lambda: runs.append(clock.t), REPORT)
    clock.t = 1001.0
    lp.run_once(0)
    clock.t = 1005.5          # the loop was busy: 4 runs missed
    lp.run_once(0)
    assert runs == [1001.0, 1005.5]   # one catch-up run, not four
    assert t.when == pytest.approx(1006.5)
    t.cancel()
    clock.t = 1010.0
    lp.run_once(0)
    assert len(runs) == 2
    lp.close()


def test_call_every_rejects_non_positive_interval(loop):
    with pytest.raises(ValueError, match="interval must be > 0"):
        loop.call_every(0, lambda: None)


def test_order_frames_are_handled_before_a_burst_of_market_data(loop):
    a, b = socket.socketpair()
    src = SocketSource(loop, a)
    loop.add_source(src)
    b.sendall(b"m" * 500 + b"o" + b"m" * 500 + b"o")
    deadline = time.monotonic() + 5
    while len(loop.trace) < 1002 and time.monotonic() < deadline:
        loop.run_once(0.5)
    assert loop.trace[:2] == ["o", "o"]
    assert loop.trace[2:] == ["m"] * 1000
    a.close()
    b.close()


def test_work_posted_by_a_lower_stage_for_a_higher_one_runs_next_iteration(loop):
    def market_item():
        loop.trace.append("market")
        loop.post(ORDERS, loop.trace.append, "order-from-market")

    loop.post(MARKET, market_item)
    loop.post(QUOTE, loop.trace.append, "quote")
    loop.run_once(0)
    assert loop.trace == ["market", "quote"]
    loop.run_once(0)        # queued work: no waiting
    assert loop.trace[-1] == "order-from-market"


def test_a_raising_callback_is_logged_and_the_loop_goes_on(loop):
    def boom():
        raise RuntimeError("broken handler")

    loop.post(ORDERS, boom)
    loop.post(ORDERS, loop.trace.append, "after")
    with capture_logs() as records:
        loop.run_once(0)
    assert loop.trace == ["after"]
    assert loop.stats.errors == 1
    err = [r for r in records if r["event"] == "error"]
    assert err and "RuntimeError: broken handler" in err[0]["error"]


def test_wait_wakes_for_a_source_deadline(loop):
    class DeadlineSource:
        def __init__(self):
            self.polled = 0
            self.deadline = time.monotonic() + 0.05

        def fileno(self):
            return -1

        def next_deadline(self):
            return self.deadline

        def poll(self):
            self.polled += 1
            self.deadline = None

    src = DeadlineSource()
    loop.add_source(src)
    started = time.monotonic()
    loop.run(until=lambda: src.polled > 0, timeout_s=2)
    assert src.polled == 1
    assert time.monotonic() - started < 1.0


def test_run_returns_false_on_timeout_and_true_on_stop(loop):
    assert loop.run(timeout_s=0.05) is False
    loop.call_later(0.01, loop.stop)
    assert loop.run(timeout_s=5) is True


def test_a_signal_interrupts_a_long_select(loop):
    loop.install_signal_wakeup()
    old = signal.signal(signal.SIGUSR1, lambda *_: loop.stop())
    try:
        loop.call_later(0.05, lambda: os.kill(os.getpid(), signal.SIGUSR1))
        started = time.monotonic()
        assert loop.run(timeout_s=30) is True
        assert time.monotonic() - started < 2.0
    finally:
        signal.signal(signal.SIGUSR1, old)


def test_loop_busy_time_is_reported(loop):
    seen = []
    loop.on_iteration = seen.append
    loop.post(ORDERS, time.sleep, 0.01)
    loop.run_once(0)
    assert seen and seen[0] >= 0.009
    assert loop.stats.max_busy_s >= 0.009
