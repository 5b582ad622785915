"""Fault soak: the engine against the real sim while the sim injects every fault it has.

Schedule, one step after another from the first quote, each step waiting both a minimum time
and for the engine state it needs (see ``FaultSchedule``): WebSocket drops every 6 s with
duplicated and delayed pushes; post replies delayed past the request timeout (8 s, drops off);
drops back on; rejected orders; HTTP 429s; calm (drops off once 3 reconnects happened); then,
with the WebSocket up and the last resync done, a frozen book: the stale book pulls the quotes
and the kill switch fires (exit code 6); the book is thawed a few seconds after the kill, so the
shutdown's re-sent cancels go through.

Afterwards: no crash; fills equal the exchange's userFills exactly (none lost, none counted
twice); the position equal to the exchange's at every safety sync; never more live orders than
ladder slots allow; the kill switch fired on the stale book; nothing left open at exit.
"""
from __future__ import annotations

import time
from collections import Counter

import pytest

from hlmm.engine.engine import Engine
from hlmm.errors import ExitCode
from hlmm.exchange.errors import RateLimitedError
from hlmm.exchange.keys import Credentials
from hlmm.log import capture_logs
from tests.trade_helpers import SyncChecker, exchange_fills, open_orders, start_sim, trade_config

pytestmark = [pytest.mark.soak, pytest.mark.slow]

LEVELS = 3


class FaultSchedule:
    """Applies the sim's faults one step after another, each when the engine is ready for it.

    A step waits for a minimum time after the previous one *and* for the engine state it needs
    (reconnects done, resync finished, orders resting), so a slow machine stretches the schedule
    instead of overlapping the faults: the frozen book in particular is only applied once the
    WebSocket is calm and the last resync completed, so the kill switch under test is the stale
    book's and not a resync that happened to be slow.
    """

    def __init__(self, sim, engine):
        self.sim = sim
        self.engine = engine
        self.done = set()
        self.timeline = []                  # (seconds since the first quote, step, engine state)
        self._t0 = None
        self._last_step = None
        self.kill_seen_at = None
        self.thawed = False
        self.max_per_side = Counter()
        self.dup_cloids = []
        quiet = {"drop_ws_every_s": 0, "push_dup_prob": 0, "push_delay_prob": 0}
        # (name, seconds after the previous step, needs a healthy engine, more conditions, sim settings)
        self.steps = [
            ("drops+pushes", 0, True, None,
             {"drop_ws_every_s": 6, "push_dup_prob": 0.2, "push_delay_prob": 0.1, "push_delay_ms": 300}),
            # replies slower than the 2 s timeout, on a connection that stays up
            ("slow posts", 8, True, lambda: self.engine.reconnects >= 1,
             {"drop_ws_every_s": 0, "post_delay_ms": 3000}),
            ("posts back", 8, False, None, {"post_delay_ms": 0, "drop_ws_every_s": 6}),
            ("rejects", 3, True, None, {"reject_next_orders": 3}),
            ("429s", 3, False, None, {"http_429_next": 3}),
            ("calm", 6, False, lambda: self.engine.reconnects >= 3, quiet),
            ("freeze", 3, True, None, {**quiet, "freeze_book": True}),
        ]

    @staticmethod
    def _healthy(status):
        return status.ws_connected and status.state == "running" and status.open_orders > 0 \
            and not status.kill_switch

    def __call__(self, status):
        now = time.monotonic()
        if status.kill_switch and self.kill_seen_at is None:
            self.kill_seen_at = now
            self.timeline.append((round(now - (self._t0 or now), 1), "kill seen", status.kill_switch))
        if len(self.done) == len(self.steps):
            return
        name, after_s, healthy, cond, settings = self.steps[len(self.done)]
        if self._last_step is not None and now - self._last_step < after_s:
            return
        if healthy and not self._healthy(status):
            return
        if cond is not None and not cond():
            return
        if self._t0 is None:
            self._t0 = now
        self.sim.control(settings)
        self.done.add(name)
        self._last_step = now
        self.timeline.append((round(now - self._t0, 1), name, status.state))

    def on_sync(self, result):
        try:
            orders = open_orders(self.sim)
        except RateLimitedError:       # the sim's injected 429s hit this observer too: skip the sample
            return
        cloids = Counter(o.get("cloid") for o in orders)
        self.dup_cloids += [c for c, n in cloids.items() if n > 1]
        for key, n in Counter((o["coin"], o["side"]) for o in orders).items():
            self.max_per_side[key] = max(self.max_per_side[key], n)

    def thaw_when_due(self):
        if self.kill_seen_at is not None and not self.thawed and time.monotonic() - self.kill_seen_at >= 3:
            self.thawed = True
            self.sim.control({"freeze_book": False})


def test_fault_soak():
    sim = start_sim(("BTC",), seed=21)
    try:
        cfg = trade_config(exchange={"request_timeout_s": 2.0},
                           strategy={"levels_per_side": LEVELS},
                           # a frozen book also refuses every modify: with the default storm threshold (10 in
                           # 60 s) those rejects would fire the kill switch first; this test is about the
                           # stale-book path (the reject storm has its own gate tests)
                           risk={"stale_book_s": 3.0, "max_disconnected_s": 8.0, "reject_storm_count": 100})
        engine = Engine(cfg, sim.url, Credentials(sim.wallet), venue="sim soak")
        checker = SyncChecker(engine)
        faults = FaultSchedule(sim, engine)
        engine.on_sync(checker)
        engine.on_sync(faults.on_sync)
        engine.on_status(faults)
        fills = []
        engine.on_fill(fills.append)
        # the shutdown waits for cancels the frozen book refuses: thaw it from the loop meanwhile
        engine.loop.call_every(0.5, faults.thaw_when_due)
        with capture_logs("info") as records:
            summary = engine.run(90)
        ex_fills = exchange_fills(sim)
        left = open_orders(sim)
        sim_faults = sim.control({})
    finally:
        sim.stop()
    events = Counter(r["event"] for r in records)
    why = f"timeline {faults.timeline}; " + "; ".join(
        f"{r['event']} {({k: v for k, v in r.items() if k not in ('ts', 'level', 'logger', 'event')})}"
        for r in records if r["event"] in ("kill_switch", "book_stale", "shutdown_cancel_all", "error"))[:3000]
    # every fault happened
    assert faults.done == {name for name, *_ in faults.steps}, why
    assert summary.reconnects >= 3 and summary.resyncs >= 3
    assert events["ws_post_timeout"] >= 1          # replies delayed past the timeout: outcomes unknown, then resolved
    assert sim_faults["exchange_faults"]["rejected"] == 3          # orders or modifies the exchange refused
    assert sim_faults["faults"]["forced_429s"] >= 3      # served (to whoever asked over REST); nothing broke
    # the frozen book: quotes pulled, then the kill switch
    kills = [r for r in records if r["event"] == "kill_switch"]
    assert events["book_stale"] >= 1, why
    assert len(kills) == 1 and kills[0]["reason"] == "stale_book", why
    assert summary.exit_code == ExitCode.KILL_SWITCH and summary.stop_reason == "kill_switch"
    # fills: none lost, none counted twice
    assert sorted((f.tid, f.oid) for f in fills) == sorted((f["tid"], f["oid"]) for f in ex_fills)
    assert len(fills) > 0
    # positions equal to the exchange's at every sync, money to its precision
    assert checker.failures == [] and len(checker.results) >= 5
    assert summary.position_mismatches == 0
    # no duplicate live orders
    assert faults.dup_cloids == []
    assert max(faults.max_per_side.values()) <= 2 * LEVELS
    engine.manager.check_invariants()
    # nothing open at exit, confirmed by the exchange
    assert left == [] and summary.open_orders_at_exit == 0
    assert summary.loop_errors == 0
