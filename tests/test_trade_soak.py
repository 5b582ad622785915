"""Fault soak: the engine against the real sim while the sim injects every fault it has.

Schedule (seconds after the first quote), driven from the engine's own status tick:
WebSocket drops every 6 s, duplicated and delayed pushes (from 0 s), post replies delayed past
the request timeout (8-16 s), rejected orders (19 s), HTTP 429s (22 s), then a frozen book (30 s):
the stale book pulls the quotes and the kill switch fires (exit code 6); the book is thawed a
few seconds after the kill, so the shutdown's re-sent cancels go through.

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
    """Applies the sim's faults at fixed times after the engine started quoting."""

    def __init__(self, sim, engine):
        self.sim = sim
        self.engine = engine
        self.t0 = None
        self.done = set()
        self.kill_seen_at = None
        self.thawed = False
        self.max_per_side = Counter()
        self.dup_cloids = []
        self.steps = [
            (0, "drops+pushes", {"drop_ws_every_s": 6, "push_dup_prob": 0.2, "push_delay_prob": 0.1,
                                 "push_delay_ms": 300}),
            # replies slower than the 2 s timeout, on a connection that stays up
            (8, "slow posts", {"drop_ws_every_s": 0, "post_delay_ms": 3000}),
            (16, "posts back", {"post_delay_ms": 0, "drop_ws_every_s": 6}),
            (19, "rejects", {"reject_next_orders": 3}),
            (22, "429s", {"http_429_next": 3}),
            (30, "freeze", {"drop_ws_every_s": 0, "push_dup_prob": 0, "push_delay_prob": 0, "freeze_book": True}),
        ]

    def __call__(self, status):
        if self.t0 is None:
            if status.open_orders:
                self.t0 = time.monotonic()
            return
        t = time.monotonic() - self.t0
        for at, name, settings in self.steps:
            if t >= at and name not in self.done:
                self.done.add(name)
                self.sim.control(settings)
        if status.kill_switch and self.kill_seen_at is None:
            self.kill_seen_at = time.monotonic()

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


# One rerun: the fault schedule is wall-clock driven and a 2-core machine under other load can
# stretch a resync past the disconnect limit; every assertion must still hold in one full run.
@pytest.mark.flaky(reruns=1)
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
    # every fault happened
    assert faults.done == {"drops+pushes", "slow posts", "posts back", "rejects", "429s", "freeze"}
    assert summary.reconnects >= 3 and summary.resyncs >= 3
    assert events["ws_post_timeout"] >= 1          # replies delayed past the timeout: outcomes unknown, then resolved
    assert sim_faults["exchange_faults"]["rejected"] == 3          # orders or modifies the exchange refused
    assert sim_faults["faults"]["forced_429s"] >= 3      # served (to whoever asked over REST); nothing broke
    # the frozen book: quotes pulled, then the kill switch
    kills = [r for r in records if r["event"] == "kill_switch"]
    assert events["book_stale"] >= 1, (kills, [r for r in records if r["event"] == "error"][:5])
    assert len(kills) == 1 and kills[0]["reason"] == "stale_book"
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
