"""The fill model's survival score: observed/expected fills over every order's exposure.

Orders are simulated with a known fill-time law and cancelled at random times independent of
their fills (heavy censoring, as live requotes): the true model scores O/E ~ 1 within its error,
a model with twice the hazard ~ 0.5, and the binary view on fully observed orders only (the old
headline) is shown to be biased on the same orders.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import erfc, erfcinv

from hlmm._core.ladder import compute_ladder
from hlmm.calibration.store import FILL, PredictionStore, StoreConfig
from hlmm.calibration.survival import (CONSTANT, FIRST_PASSAGE, SHAPES, cumulative_hazard, poisson_interval,
                                       survival_score)
from hlmm.engine.order_state import ASK, BID
from hlmm.engine.predictions import Predictions
from hlmm.exchange.cloid import CloidFactory
from hlmm.log import capture_logs, get_logger

T0 = 1_750_000_000_000
TAU_S = 30.0


def _fill_report(store: PredictionStore) -> dict:
    return next(r for r in store.calibration_report() if r["model"] == FILL)


def _simulate(stores: list[tuple[PredictionStore, np.ndarray, str]], fill_s: np.ndarray, cancel_s: np.ndarray) -> int:
    """Quote order i in every store (with that store's prediction and shape), then let it fill at
    ``fill_s[i]`` if that comes before its cancel at ``cancel_s[i]``, else cancel it.  A fill after
    the horizon happens on an order still alive (it was not cancelled first): filled, not within tau.
    Returns how many orders filled within tau."""
    cloids = CloidFactory(session=0x5A)
    within = 0
    for i in range(len(fill_s)):
        now = T0 + i * 250
        fill_ms = now + int(round(fill_s[i] * 1000))
        end_ms = now + int(round(cancel_s[i] * 1000))
        within += fill_ms <= end_ms and fill_ms - now <= TAU_S * 1000
        for store, p, shape in stores:
            tag = store.record_quote(coin="BTC", side=1, depth_bps=3.0, now_ms=now, fill_prob=float(p[i]),
                                     horizon_s=TAU_S, fill_shape=shape)
            cloid = cloids.next(tag)
            if fill_ms <= end_ms:
                store.on_fill(cloid, now_ms=fill_ms, px=99.97, sz=1.0, mid=100.0)
                store.on_order_closed(cloid, now_ms=fill_ms)
            else:
                store.on_order_closed(cloid, now_ms=end_ms)
    return within


def _constant_hazard_orders(n: int, seed: int, mean_life_s: float):
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.05, 0.95, n)
    h = -np.log1p(-p) / TAU_S
    fill_s = rng.exponential(1.0 / h)
    cancel_s = rng.exponential(mean_life_s, n)   # requotes: independent of whether the order was about to fill
    return p, fill_s, cancel_s


def _within_error(r: dict, target: float, k: float = 3.0) -> bool:
    se = math.sqrt(r["observed"]) / r["expected"]
    return abs(r["oe"] - target) < k * se


def test_true_model_scores_one_under_heavy_censoring_and_the_binary_view_is_biased():
    p, fill_s, cancel_s = _constant_hazard_orders(20_000, seed=11, mean_life_s=6.0)
    truth, doubled = PredictionStore(), PredictionStore()
    # twice the true hazard: P(fill by tau) = 1 - (1 - p)^2
    within = _simulate([(truth, p, CONSTANT), (doubled, 1 - (1 - p) ** 2, CONSTANT)], fill_s, cancel_s)
    r = _fill_report(truth)
    assert r["samples"] == 20_000 and r["censored"] > 13_000          # most orders never see their horizon
    assert r["observed"] == within
    assert r["oe_low"] < 1.0 < r["oe_high"] and _within_error(r, 1.0)
    assert r["oe_high"] - r["oe_low"] < 0.1
    # the binary view (the old headline) only sees fully observed orders: almost all of them fills
    assert r["brier_samples"] < 0.4 * r["samples"]
    # ... so it says the model under-predicts fills in every bin (by ~0.3 on average) although it is exact
    assert all(b["mean_outcome"] > b["mean_prediction"] for b in r["curve"])
    n = sum(b["count"] for b in r["curve"])
    gap = sum(b["count"] * (b["mean_outcome"] - b["mean_prediction"]) for b in r["curve"]) / n
    assert gap > 0.25 and r["calibration_error"] > 0.25
    # the same orders scored by the survival view per bin of prediction: calibrated in every bin
    assert all(abs(b["oe"] - 1.0) < 4 * math.sqrt(b["observed"]) / b["expected"] for b in r["oe_curve"])
    d = _fill_report(doubled)
    assert d["observed"] == r["observed"] and d["expected"] == pytest.approx(2 * r["expected"], rel=1e-9)
    assert _within_error(d, 0.5) and d["oe_high"] < 0.6
    assert r["deviance"] < d["deviance"] and r["deviance_skill"] > 0


def test_a_first_passage_prediction_is_scored_by_its_own_shape_and_the_shape_matters():
    """p = erfc(d / (sigma sqrt(2 tau))) (the ladder's formula) with fills that really follow that
    first-passage law: read as first passage O/E ~ 1; read as a constant hazard, under the same
    censoring, the touch looks under-predicted and the deep book over-predicted."""
    rng = np.random.default_rng(12)
    n = 20_000
    x = rng.uniform(0.05, 2.0, n)                      # depth / (sigma sqrt(2 tau))
    p = erfc(x)
    fill_s = TAU_S * x ** 2 / erfcinv(rng.uniform(0, 1, n)) ** 2     # first-passage time: P(T <= tau) = p
    cancel_s = rng.exponential(6.0, n)
    own, constant = PredictionStore(), PredictionStore()
    _simulate([(own, p, FIRST_PASSAGE), (constant, p, CONSTANT)], fill_s, cancel_s)
    r, c = _fill_report(own), _fill_report(constant)
    assert r["observed"] == c["observed"]
    assert r["oe_low"] < 1.0 < r["oe_high"] and _within_error(r, 1.0)
    touch = [b for b in c["oe_curve"] if b["low"] >= 0.7]
    deep = [b for b in c["oe_curve"] if b["high"] <= 0.2]
    assert touch and deep
    assert all(b["oe"] > 1.3 for b in touch) and all(b["oe"] < 0.7 for b in deep)
    assert c["oe_low"] > 1.3          # and the whole model looks off by half although it is exact
    assert all(abs(b["oe"] - 1.0) < 4 * math.sqrt(max(b["observed"], 1)) / b["expected"] for b in r["oe_curve"])


def _ladder(levels: int):
    """A small real ladder whose levels the engine's predictor records."""
    params = dict(mid=100.0, microprice=100.0, sigma=2e-4, kappa=0.5, A=1.0, gamma=0.3, position=0.0,
                  max_position=10.0, available_margin=1000.0, allowed_leverage=3.0, as_bps=5.0,
                  sz_decimals=2, px_decimals=4, min_notional=10.0)
    return compute_ladder(params, {"levels_per_side": levels})


def test_engine_predictions_are_scored_as_a_constant_hazard_and_resolved_by_exposure():
    store = PredictionStore()
    clock = [10_000]
    preds = Predictions(store, clock_ms=lambda: clock[0], settle_ms=1_000)
    ladder = _ladder(2)
    preds.begin_cycle("X", ladder, as_bps=5.0, regime=1, position_frac=0.0, now_ms=10_000)
    bid = preds.predictor("X", BID, 0, int(ladder.side(BID).px_units[0]), int(ladder.side(BID).sz_lots[0]))
    ask = preds.predictor("X", ASK, 0, int(ladder.side(ASK).px_units[0]), int(ladder.side(ASK).sz_lots[0]))
    assert store._pending[bid].fill_shape == SHAPES.index(CONSTANT)
    p_bid = float(ladder.side(BID).p_fill[0])
    # the bid is requoted 2 s in; the cancel reaches the store after the settle delay
    clock[0] = 12_000
    preds.on_order_end(bid, coin="X", side=BID, time_ms=12_000, status="canceled", filled_fraction=0.0)
    clock[0] = 12_500
    assert preds.settle() == 0 and _fill_report(store)["samples"] == 0
    clock[0] = 13_000
    assert preds.settle() == 1
    r = _fill_report(store)
    assert r["samples"] == 1 and r["censored"] == 1 and r["observed"] == 0 and r["brier_samples"] == 0
    expected = -math.log1p(-p_bid) * 2.0 / ladder.tau
    assert r["expected"] == pytest.approx(expected, abs=1e-4) and r["exposure_s"] == 2.0
    assert store._pending[ask].fill_prob is not None


# ----------------------------------------------------------------------------- edge cases

def test_no_orders():
    store = PredictionStore()
    r = _fill_report(store)
    assert (r["samples"], r["observed"], r["expected"], r["exposure_s"]) == (0, 0, 0.0, 0.0)
    assert r["oe"] is None and r["oe_low"] is None and r["deviance"] is None and r["oe_curve"] == []
    s = survival_score(np.array([]), np.array([]), np.array([]), np.array([]))
    assert s.orders == 0 and s.oe is None


def test_certain_and_impossible_predictions_stay_scorable():
    store = PredictionStore()
    never = store.record_quote(coin="BTC", side=1, depth_bps=50, now_ms=T0, fill_prob=0.0, horizon_s=10)
    store.on_fill(never, now_ms=T0 + 4_000, px=99.5, sz=1, mid=100.0)        # "impossible", and it filled
    sure = store.record_quote(coin="BTC", side=-1, depth_bps=0.1, now_ms=T0, fill_prob=1.0, horizon_s=10)
    store.on_order_closed(sure, now_ms=T0 + 10_000)                          # "certain", and it did not
    r = _fill_report(store)
    assert r["samples"] == 2 and r["observed"] == 1
    h_never = -math.log1p(-1e-6) * 0.4
    h_sure = -math.log(1e-6)
    assert r["expected"] == pytest.approx(h_never + h_sure, abs=1e-4)
    assert math.isfinite(r["oe"]) and math.isfinite(r["deviance"])
    curve = {b["low"]: b for b in r["oe_curve"]}
    assert curve[0.0]["observed"] == 1 and curve[0.0]["oe"] > 1e5           # the p=0 bin: wildly under-predicted
    assert curve[0.9]["observed"] == 0 and curve[0.9]["oe"] == 0.0


def test_zero_exposure_order_adds_nothing_but_is_counted():
    store = PredictionStore()
    tag = store.record_quote(coin="BTC", side=1, depth_bps=2, now_ms=T0, fill_prob=0.5, horizon_s=10)
    store.on_order_closed(tag, now_ms=T0)             # cancelled in the millisecond it was placed
    r = _fill_report(store)
    assert r["samples"] == 1 and r["censored"] == 1 and r["expected"] == 0.0 and r["exposure_s"] == 0.0
    assert r["oe"] is None and r["oe_low"] is None and r["oe_high"] is None


def test_a_fill_after_the_horizon_is_not_a_fill_within_it():
    store = PredictionStore()
    late = store.record_quote(coin="BTC", side=1, depth_bps=2, now_ms=T0, fill_prob=0.5, horizon_s=10)
    store.on_fill(late, now_ms=T0 + 12_000, px=99.98, sz=1, mid=100.0)
    on_time = store.record_quote(coin="BTC", side=1, depth_bps=2, now_ms=T0, fill_prob=0.5, horizon_s=10)
    store.on_fill(on_time, now_ms=T0 + 10_000, px=99.98, sz=1, mid=100.0)    # at the horizon: within it
    r = _fill_report(store)
    assert r["samples"] == 2 and r["observed"] == 1 and r["exposure_s"] == 20.0
    assert r["expected"] == pytest.approx(2 * math.log(2), abs=1e-4)
    assert r["brier_samples"] == 2 and r["censored"] == 0


def test_clock_skew_fill_before_the_quote_has_zero_exposure_and_counts():
    store = PredictionStore()
    tag = store.record_quote(coin="BTC", side=1, depth_bps=2, now_ms=T0, fill_prob=0.5, horizon_s=10)
    store.on_fill(tag, now_ms=T0 - 30, px=99.98, sz=1, mid=100.0)   # exchange time a little behind ours
    r = _fill_report(store)
    assert r["observed"] == 1 and r["exposure_s"] == 0.0 and r["oe"] is None
    assert math.isfinite(r["deviance"])                           # mu floored: a costly miss, not infinity


def test_expire_resolves_the_full_horizon_once():
    store = PredictionStore()
    tag = store.record_quote(coin="BTC", side=1, depth_bps=2, now_ms=T0, fill_prob=0.2, horizon_s=10)
    store.expire(T0 + 9_999)
    assert _fill_report(store)["samples"] == 0 and _fill_report(store)["pending"] == 1
    store.expire(T0 + 25_000)
    store.on_order_closed(tag, now_ms=T0 + 30_000)
    r = _fill_report(store)
    assert r["samples"] == 1 and r["exposure_s"] == 10.0 and r["censored"] == 0
    assert r["expected"] == pytest.approx(-math.log(0.8), abs=1e-4)


def test_a_stale_order_past_max_age_before_its_horizon_is_censored_without_exposure():
    store = PredictionStore()
    store.record_quote(coin="BTC", side=1, depth_bps=2, now_ms=T0, fill_prob=0.2, horizon_s=7200)
    assert store.expire(T0 + 3_601_000) == 1
    r = _fill_report(store)
    assert r["samples"] == 0 and r["censored"] == 1 and r["pending"] == 0


def test_bad_shape_and_horizon_are_refused():
    store = PredictionStore()
    with pytest.raises(ValueError, match="fill_shape must be one of constant, first_passage"):
        store.record_quote(coin="BTC", side=1, depth_bps=2, now_ms=T0, fill_prob=0.2, fill_shape="weibull")
    with pytest.raises(ValueError, match="horizon_s must be a positive"):
        store.record_quote(coin="BTC", side=1, depth_bps=2, now_ms=T0, fill_prob=0.2, horizon_s=float("nan"))


def test_the_window_is_bounded():
    store = PredictionStore(StoreConfig(max_resolved=100))
    for i in range(250):
        tag = store.record_quote(coin="BTC", side=1, depth_bps=2, now_ms=T0 + i, fill_prob=0.5, horizon_s=1)
        store.on_order_closed(tag, now_ms=T0 + i + 500)
    assert _fill_report(store)["samples"] == 100 and _fill_report(store)["censored"] == 250


def test_report_is_logged_with_documented_fields():
    store = PredictionStore(StoreConfig(min_samples=50))
    p, fill_s, cancel_s = _constant_hazard_orders(200, seed=13, mean_life_s=6.0)
    _simulate([(store, p, CONSTANT)], fill_s, cancel_s)
    with capture_logs() as records:   # strict mode: every field must be documented in log_events
        store.log_report(get_logger("calibration"))
    rec = next(r for r in records if r["event"] == "calibration_report" and r["model"] == FILL)
    assert rec["samples"] == 200 and rec["validated"] is True and rec["oe"] is not None
    assert rec["oe_low"] < rec["oe"] < rec["oe_high"] and rec["oe_curve"]
    assert not [r for r in records if r["event"] == "model_unvalidated" and r["model"] == FILL]


# ------------------------------------------------------------------------ the statistics alone

def test_exact_poisson_interval_known_values():
    assert poisson_interval(0) == (0.0, pytest.approx(-math.log(0.025)))
    lo, hi = poisson_interval(10)
    assert lo == pytest.approx(4.7954, abs=1e-4) and hi == pytest.approx(18.3904, abs=1e-4)


@settings(max_examples=200, deadline=None)
@given(p=st.floats(0.0, 1.0), tau=st.floats(0.01, 3600.0), f1=st.floats(0.0, 1.0), f2=st.floats(0.0, 1.0),
       shape=st.sampled_from(SHAPES))
def test_cumulative_hazard_is_monotone_and_reaches_minus_log_survival_at_the_horizon(p, tau, f1, f2, shape):
    code = np.array([SHAPES.index(shape)])
    pa, ta = np.array([p]), np.array([tau])

    def H(t: float) -> float:
        return float(cumulative_hazard(pa, ta, np.array([t]), code)[0])

    a, b = sorted((f1 * tau, f2 * tau))
    assert 0.0 <= H(a) <= H(b) + 1e-12
    q = min(max(p, 1e-6), 1 - 1e-6)
    assert H(tau) == pytest.approx(-math.log1p(-q), rel=1e-6)
    assert H(2 * tau) == H(tau) and H(0.0) == 0.0


def test_a_report_does_not_expire_an_order_whose_end_is_still_settling():
    """An order cancelled just before its horizon ran out is scored with its real exposure, not the
    whole horizon, even when a report runs while its end waits out the settle delay."""
    store = PredictionStore()
    clock = [10_000]
    preds = Predictions(store, clock_ms=lambda: clock[0], settle_ms=5_000)
    ladder = _ladder(1)
    tau_ms = int(round(ladder.tau * 1000))
    preds.begin_cycle("X", ladder, as_bps=5.0, regime=1, position_frac=0.0, now_ms=10_000)
    bid = preds.predictor("X", BID, 0, int(ladder.side(BID).px_units[0]), int(ladder.side(BID).sz_lots[0]))
    end_ms = 10_000 + tau_ms - 1_000                    # cancelled 1 s before its horizon
    clock[0] = end_ms
    preds.on_order_end(bid, coin="X", side=BID, time_ms=end_ms, status="canceled", filled_fraction=0.0)
    clock[0] = end_ms + 2_000                           # a report: the horizon is over, the end still settling
    preds.resolve_due()
    assert _fill_report(store)["samples"] == 0
    clock[0] = end_ms + 5_000
    preds.resolve_due()
    r = _fill_report(store)
    assert r["samples"] == 1 and r["exposure_s"] == pytest.approx((tau_ms - 1_000) / 1000)
    # at shutdown everything resolves at once
    preds.begin_cycle("X", ladder, as_bps=5.0, regime=1, position_frac=0.0, now_ms=clock[0])
    preds.predictor("X", BID, 0, int(ladder.side(BID).px_units[0]), int(ladder.side(BID).sz_lots[0]))
    clock[0] += tau_ms
    preds.resolve_due(final=True)
    assert _fill_report(store)["samples"] == 2
