"""The strategy hook: a custom target still passes every guard; a broken strategy pulls the quotes."""
from __future__ import annotations

import time

import pytest

from hlmm.engine import Engine, Quote, QuoteContext, Target
from hlmm.exchange import wire
from hlmm.exchange.keys import Credentials
from hlmm.log import capture_logs
from tests.trade_helpers import open_orders, start_sim, trade_config

pytestmark = pytest.mark.slow


class Mischief:
    """Quotes a bid *above* the mid (must never be sent), a good ask, and an ask whose price is off
    the tick grid (must be dropped with the exchange's reason); after ``break_after_s`` it raises."""

    def __init__(self, break_after_s: float) -> None:
        self.break_after_s = break_after_s
        self.started: float | None = None
        self.calls = 0
        self.seen_mid_units: list[int] = []

    def quote(self, ctx: QuoteContext) -> Quote:
        self.calls += 1
        if self.started is None:
            self.started = time.monotonic()
        if time.monotonic() - self.started > self.break_after_s:
            raise RuntimeError("strategy bug")
        mid = ctx.model.book.mid()
        a = ctx.asset
        lots = wire.size_lots(20 / mid, a)
        crossing_bid = wire.price_units(mid * 1.001, a, wire.UP)
        good_ask = wire.price_units(mid * 1.0005, a, wire.UP)
        off_grid_ask = wire.price_units(mid * 1.002, a, wire.UP) + 1     # BTC ticks are whole dollars
        return Quote(Target([crossing_bid], [lots], [good_ask, off_grid_ask], [lots, lots]))


def test_custom_target_is_guarded_and_a_raising_strategy_pulls_quotes():
    sim = start_sim(("BTC",), seed=41)
    strategy = Mischief(break_after_s=8.0)
    seen_orders: list[dict] = []
    try:
        engine = Engine(trade_config(), sim.url, Credentials(sim.wallet), strategy=strategy, venue="sim")
        engine.on_sync(lambda r: seen_orders.extend(open_orders(sim)))
        with capture_logs("info") as records:
            summary = engine.run(16)
    finally:
        sim.stop()
    events = [r["event"] for r in records]
    assert "quote_crossed" in events
    dropped = [r for r in records if r["event"] == "ladder_level_dropped"]
    assert dropped and dropped[0]["cause"] == "Price must be divisible by tick size."
    placed = [r for r in records if r["event"] == "order_place_sent"]
    assert placed and all(r["side"] == "ask" for r in placed)       # the crossing bid never went out
    assert all(o["side"] == "A" for o in seen_orders)
    errors = [r for r in records if r["event"] == "error" and "strategy" in r.get("where", "")]
    assert errors and "RuntimeError: strategy bug" in errors[0]["error"]
    # once the strategy raises, its quotes are pulled (cancelled), and nothing is left at exit
    cancels = [r for r in records if r["event"] == "order_cancel_sent"]
    assert cancels and engine.quoter.strategy_errors > 0
    assert summary.open_orders_at_exit == 0 and summary.loop_errors == 0
