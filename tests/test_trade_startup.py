"""Startup against an account that is not empty: an existing position, and orders placed by
someone else, cancelled or adopted per ``risk.on_start``; everything cancelled at exit."""
from __future__ import annotations

import pytest

from hlmm.engine import Engine
from hlmm.exchange.keys import Credentials
from hlmm.log import capture_logs
from tests.simproc import Trader
from tests.trade_helpers import SyncChecker, open_orders, start_sim, trade_config

pytestmark = pytest.mark.slow


def _prepare(sim) -> tuple[list[int], str]:
    """A long position from an IOC buy, and two resting orders far from the mid (no cloid / a foreign one)."""
    t = Trader(sim.url, sim.wallet)
    mid = t.mid("BTC")
    bought = t.ex.order([t.wire("BTC", True, mid * 1.01, 0.0005, tif="Ioc")])[0]
    assert bought.status == "filled", bought
    rest = t.ex.order([t.wire("BTC", True, mid * 0.9, 0.0002),
                       t.wire("BTC", False, mid * 1.1, 0.0002, cloid="0x" + "ab" * 16)])
    oids = [r.oid for r in rest]
    assert all(oids)
    szi = t.info.clearinghouse_state(sim.address.lower())["assetPositions"][0]["position"]["szi"]
    t.info.close()
    t.ex.close()
    return oids, szi


@pytest.mark.parametrize("on_start", ["cancel", "adopt"])
def test_existing_position_and_foreign_orders(on_start):
    sim = start_sim(("BTC",), seed=51)
    try:
        oids, szi = _prepare(sim)
        cfg = trade_config(risk={"on_start": on_start})
        engine = Engine(cfg, sim.url, Credentials(sim.wallet), venue="sim")
        start = sim.info({"type": "clearinghouseState", "user": sim.address.lower()})
        checker = SyncChecker(engine, start_value=start["marginSummary"]["accountValue"])
        engine.on_sync(checker)
        seen_after_start: list[set[int]] = []
        engine.on_sync(lambda r: seen_after_start.append({o["oid"] for o in open_orders(sim)}))
        with capture_logs("info") as records:
            summary = engine.run(12)
        left = open_orders(sim)
    finally:
        sim.stop()
    # the position the account had is the session's starting point, never a mismatch
    assert engine.fills.position("BTC").baseline_ms is not None
    assert checker.failures == [] and summary.position_mismatches == 0
    # the fill before the session is history: the session's PnL adds up to the account change
    assert engine.fills.position("BTC").fills == summary.fills
    assert abs(summary.pnl.total - summary.account_change) <= 1e-6 * (summary.fills + 1)
    events = [r["event"] for r in records]
    if on_start == "cancel":
        assert events.count("orphan_cancelled") == 2
        # gone from the exchange by the second sync
        assert not set(oids) & seen_after_start[-1]
    else:
        assert events.count("order_adopted") == 2
    # either way nothing is left at exit: adopted orders are ours to cancel too
    assert left == [] and summary.open_orders_at_exit == 0


def test_http_429s_at_startup_are_retried():
    """REST answers 429 to the first requests (the IP weight is spent): the engine backs off, retries,
    logs ``rate_limited`` and starts trading; the WebSocket path is not held back by it."""
    sim = start_sim(("BTC",), seed=53)
    try:
        sim.control({"http_429_next": 3})
        engine = Engine(trade_config(), sim.url, Credentials(sim.wallet), venue="sim")
        with capture_logs("info") as records:
            summary = engine.run(10)
        served = sim.control({})["faults"]["forced_429s"]
    finally:
        sim.stop()
    assert served == 3
    limited = [r for r in records if r["event"] == "rate_limited"]
    assert len(limited) == 3 and all(r["scope"] == "ip" for r in limited)
    assert any(r["event"] == "order_place_sent" for r in records)
    assert summary.exit_code == 0 and summary.open_orders_at_exit == 0
