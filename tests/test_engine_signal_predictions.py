"""The microprice signal is a prediction the trading path records and resolves (never 'not wired')."""
from hlmm._core.ladder import compute_ladder
from hlmm.calibration.store import PredictionStore
from hlmm.engine.order_state import ASK, BID
from hlmm.engine.predictions import Predictions

PARAMS = dict(mid=100.0, microprice=100.02, sigma=2.0, kappa=0.5, A=1.0, gamma=0.3, position=0.0,
              max_position=10.0, available_margin=1000.0, allowed_leverage=3.0, as_bps=5.0,
              sz_decimals=2, px_decimals=4, min_notional=10.0)


def test_signal_recorded_at_quote_time_and_resolved_by_the_reference_markout():
    store = PredictionStore()
    preds = Predictions(store, clock_ms=lambda: 2_000)
    ladder = compute_ladder(PARAMS, {"levels_per_side": 2})
    preds.begin_cycle("X", ladder, as_bps=5.0, regime=1, position_frac=0.0, now_ms=1_000, signal_bps=2.0)
    bid = preds.predictor("X", BID, 0, int(ladder.side(BID).px_units[0]), int(ladder.side(BID).sz_lots[0]))
    ask = preds.predictor("X", ASK, 0, int(ladder.side(ASK).px_units[0]), int(ladder.side(ASK).sz_lots[0]))
    assert bid and ask
    preds.on_fill(bid, coin="X", side=BID, tid=1, time_ms=1_500, px=99.9, sz=1.0, fee=0.0, mid=100.0,
                  filled_fraction=1.0)
    ref_ms = int(store.config.reference_horizon_s * 1000)
    # a buy marked out +3 bps adverse: the mid fell 3 bps (the signal said +2)
    preds.on_markout(bid, coin="X", side=BID, tid=1, horizon_ms=ref_ms, as_bps=3.0, edge_bps=0.0)
    preds.on_order_end(ask, coin="X", side=ASK, time_ms=1_600, status="cancelled", filled_fraction=0.0)
    preds.settle(flush=True)
    pairs = list(store._pairs["signal"])
    assert pairs == [(2.0, -3.0)]
    # the unfilled ask's signal does not keep it pending once the order closed
    assert ask not in store._pending and bid not in store._pending
