"""The Engine in-process against the real sim (its own process) over real sockets."""
from __future__ import annotations

import pytest

from hlmm.engine.engine import Engine
from hlmm.exchange.keys import Credentials
from hlmm.log import capture_logs
from tests.trade_helpers import SyncChecker, exchange_fills, open_orders, start_sim, trade_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def session():
    """One 30 s two-coin session; the tests below read what it left."""
    sim = start_sim(("BTC", "ETH"), seed=11)
    try:
        cfg = trade_config(assets={"coins": ["BTC", "ETH"]})
        engine = Engine(cfg, sim.url, Credentials(sim.wallet), venue="sim")
        checker = SyncChecker(engine)
        engine.on_sync(checker)
        fills, quoted, sides_on_exchange = [], {c: [0, 0] for c in ("BTC", "ETH")}, set()

        def on_status(st):
            for a in st.assets:
                quoted[a.coin][0] = max(quoted[a.coin][0], a.levels_bid)
                quoted[a.coin][1] = max(quoted[a.coin][1], a.levels_ask)

        def on_sync(result):
            for o in open_orders(sim):
                sides_on_exchange.add((o["coin"], o["side"]))

        engine.on_fill(fills.append)
        engine.on_status(on_status)
        engine.on_sync(on_sync)
        with capture_logs("info") as records:
            summary = engine.run(30)
        yield {"sim": sim, "engine": engine, "summary": summary, "checker": checker, "fills": fills,
               "quoted": quoted, "sides": sides_on_exchange, "records": records,
               "exchange_fills": exchange_fills(sim), "open_after": open_orders(sim)}
    finally:
        sim.stop()


def test_quotes_both_sides_of_every_coin(session):
    for coin, (bids, asks) in session["quoted"].items():
        assert bids > 0 and asks > 0, (coin, bids, asks)
    assert {("BTC", "B"), ("BTC", "A"), ("ETH", "B"), ("ETH", "A")} <= session["sides"]


def test_fills_happen_and_none_is_lost_or_counted_twice(session):
    ours = sorted((f.tid, f.oid) for f in session["fills"])
    theirs = sorted((f["tid"], f["oid"]) for f in session["exchange_fills"])
    assert ours, "no fills in 30 s"
    assert ours == theirs
    assert session["summary"].untracked_fills == 0


def test_position_and_pnl_match_the_exchange_at_every_sync(session):
    checker = session["checker"]
    assert len(checker.results) >= 5
    assert checker.failures == []
    assert checker.pnl_checks >= 3
    assert not [r for r in session["records"] if r["event"] == "position_mismatch"]


def test_every_order_is_cancelled_at_exit(session):
    s = session["summary"]
    assert session["open_after"] == []
    assert s.open_orders_at_exit == 0 and s.cancel_all_confirmed
    assert s.exit_code == 0 and s.stop_reason == "duration"
    assert not session["engine"].manager.live_orders()


def test_summary_matches_the_exchange(session):
    s, sim = session["summary"], session["sim"]
    state = sim.info({"type": "clearinghouseState", "user": sim.address.lower()})
    assert s.account_value_end == float(state["marginSummary"]["accountValue"])
    szi = {p["position"]["coin"]: float(p["position"]["szi"]) for p in state["assetPositions"]}
    for a in s.assets:
        assert a.position == szi.get(a.coin, 0.0)
    assert s.fills == len(session["exchange_fills"])
    # the PnL split adds up to the exchange's account value change (to its micro-USD rounding per fill)
    assert abs(s.pnl.total - s.account_change) <= 1e-6 * (s.fills + 1)


def test_the_log_carries_the_events_the_audit_reads(session):
    names = {r["event"] for r in session["records"]}
    for event in ("session_start", "config_loaded", "estimator_warm", "quote_cycle", "order_place_sent", "fill",
                  "safety_sync", "rate_limit_status", "calibration_report", "session_summary", "shutdown"):
        assert event in names, event
    assert not [r for r in session["records"] if r["level"] in ("error", "critical")]
