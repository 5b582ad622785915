"""The online prediction/outcome store: Brier and IR on predictions of known calibration, cloid tags,
censoring, unvalidated-model flags, the profitability tracker, learned parameters and their file."""
from __future__ import annotations

import math

import numpy as np
import pytest

from hlmm.calibration.learned import read_learned
from hlmm.calibration.profitability import FillProfitabilityTracker
from hlmm.calibration.scores import BINARY, CONTINUOUS, score
from hlmm.calibration.store import ADVERSE, FILL, SIGNAL, PredictionStore, StoreConfig, fit_alpha_decay
from hlmm.exchange.cloid import CloidFactory, make_cloid
from hlmm.log import capture_logs, get_logger

T0 = 1_750_000_000_000


# ----------------------------------------------------------------------- scores, known answers

def _bernoulli(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    p = rng.uniform(0, 1, n)
    y = (rng.uniform(0, 1, n) < p).astype(float)
    return p, y


def test_calibrated_probabilities():
    p, y = _bernoulli(40_000)
    s = score("fill", BINARY, p, y)
    assert s.brier == pytest.approx(1 / 6, abs=0.005)        # E[p(1-p)] for p ~ U(0, 1)
    assert s.calibration_error < 0.02
    assert s.resolution == pytest.approx(1 / 12, abs=0.01)   # the spread of p is information
    assert s.information_ratio > 10
    assert s.log_loss == pytest.approx(0.5, abs=0.01)        # E[-p ln p - (1-p) ln(1-p)] = 1/2
    assert len(s.curve) == 10 and all(abs(b.mean_prediction - b.mean_outcome) < 0.03 for b in s.curve)


def test_constant_forecast_has_no_information():
    _, y = _bernoulli(20_000, seed=1)
    s = score("fill", BINARY, np.full(len(y), y.mean()), y)
    assert s.information_ratio == 0.0 and s.resolution == 0.0
    assert s.brier == pytest.approx(s.uncertainty)


def test_inverted_and_overconfident_forecasts_score_worse():
    p, y = _bernoulli(40_000, seed=2)
    inverted = score("fill", BINARY, 1 - p, y)
    assert inverted.brier == pytest.approx(0.5, abs=0.01)    # E[1 - 3p + 3p^2] = 1/2
    assert inverted.information_ratio < 1
    over = score("fill", BINARY, np.clip(2 * p - 0.5, 0, 1), y)
    good = score("fill", BINARY, p, y)
    assert good.brier < over.brier < inverted.brier
    assert over.information_ratio < good.information_ratio
    assert over.calibration_error > 0.05


def test_continuous_predictions():
    rng = np.random.default_rng(3)
    a = rng.uniform(0, 5, 20_000)
    good = score("as", CONTINUOUS, a, a + rng.normal(0, 1, len(a)))
    scaled = score("as", CONTINUOUS, a, 2 * a + rng.normal(0, 1, len(a)))
    assert good.brier == pytest.approx(1.0, abs=0.05)
    assert good.calibration_error < 0.1 and good.information_ratio > 10
    assert scaled.calibration_error > 1.0 and scaled.information_ratio < good.information_ratio
    assert good.log_loss is None


def test_empty_score():
    s = score("x", BINARY, np.array([]), np.array([]))
    assert s.samples == 0 and math.isnan(s.brier)


# ------------------------------------------------------------------------- the store's loop

def _run_fill_quotes(store: PredictionStore, n: int, seed: int, censor_share: float = 0.0):
    """Quotes whose fill probability is exactly right (a fill, if any, comes 10 s in);
    a share of them is requoted at 5 s, whatever would have happened."""
    rng = np.random.default_rng(seed)
    cloids = CloidFactory(session=0x123)
    censored = 0
    for i in range(n):
        now = T0 + i * 1000
        p = float(rng.uniform(0.02, 0.98))
        tag = store.record_quote(coin="BTC", side=1, depth_bps=5.0, now_ms=now, fill_prob=p, horizon_s=30)
        cloid = cloids.next(tag)
        would_fill = rng.uniform() < p
        if rng.uniform() < censor_share:
            store.on_order_closed(cloid, now_ms=now + 5_000)    # requoted before the horizon (and the fill)
            censored += 1
        elif would_fill:
            store.on_fill(cloid, now_ms=now + 10_000, px=99.95, sz=1, mid=100.0)
            store.on_order_closed(cloid, now_ms=now + 10_000)
        else:
            store.on_order_closed(cloid, now_ms=now + 31_000)   # lived past the horizon unfilled
    return censored


def test_store_scores_fill_predictions_through_cloid_tags():
    store = PredictionStore()
    _run_fill_quotes(store, 20_000, seed=4)
    s = store.score(FILL)
    assert s.samples == 20_000
    assert s.brier == pytest.approx(1 / 6, abs=0.01) and s.information_ratio > 5
    assert store.unvalidated_reason(FILL) is None


def test_censored_quotes_are_counted_and_scored_by_exposure_not_as_misses():
    store = PredictionStore()
    censored = _run_fill_quotes(store, 10_000, seed=5, censor_share=0.5)
    report = {r["model"]: r for r in store.calibration_report()}[FILL]
    assert report["censored"] == censored > 4000
    assert report["samples"] == 10_000                      # every order is scored (survival)
    assert report["brier_samples"] == 10_000 - censored     # the binary view: fully observed orders only
    # censored at 5 s, before any of these fills (all at 10 s) could come: the binary view is unbiased here
    assert report["calibration_error"] < 0.03
    p, y = (np.array(v) for v in zip(*store._pairs[FILL]))
    biased = score("fill", BINARY, np.r_[p, np.full(censored, 0.5)], np.r_[y, np.zeros(censored)])
    assert biased.calibration_error > 0.1
    # a censored order adds the 5 s it was at risk to the expected fills, never a miss
    ages = sorted({a[2] for a in store._at_risk})
    assert ages == [5.0, 10.0, 30.0]


def test_expire_resolves_unfilled_quotes_after_their_horizon():
    store = PredictionStore()
    tag = store.record_quote(coin="BTC", side=-1, depth_bps=3, now_ms=T0, fill_prob=0.2, horizon_s=10)
    store.expire(T0 + 5_000)
    assert store.score(FILL).samples == 0
    store.expire(T0 + 10_000)
    assert store.score(FILL).samples == 1
    assert store.on_fill(tag, now_ms=T0 + 20_000, px=1, sz=1, mid=1) is True  # late fill: outcome already 0
    assert store.score(FILL).samples == 1


def test_a_late_partial_fill_of_a_resolved_order_is_not_unknown():
    store = PredictionStore()
    tag = store.record_quote(coin="BTC", side=1, depth_bps=3, now_ms=T0, fill_prob=0.5, horizon_s=60,
                             expected_as_bps=1.0)
    store.on_fill(tag, now_ms=T0 + 1000, px=99.97, sz=1, mid=100.0)
    store.on_markout(tag, horizon_s=10.0, adverse_bps=0.5, now_ms=T0 + 11_000)   # resolved and released
    assert store.on_fill(tag, now_ms=T0 + 12_000, px=99.97, sz=1, mid=100.0) is False
    assert store.unknown_outcomes == 0
    assert store.score(FILL).samples == 1 and store.score(ADVERSE).samples == 1


def test_foreign_and_unknown_cloids():
    store = PredictionStore()
    assert store.on_fill("0x" + "ab" * 16, now_ms=T0, px=1, sz=1, mid=1) is False    # not one of hlmm's cloids
    assert store.on_fill(None, now_ms=T0, px=1, sz=1, mid=1) is False
    assert store.on_fill(make_cloid(1, 1, 999), now_ms=T0, px=1, sz=1, mid=1) is False  # ours, tag unknown
    assert store.unknown_outcomes == 1
    with pytest.raises(ValueError):
        store.record_quote(coin="BTC", side=1, depth_bps=1, now_ms=T0, fill_prob=1.5)


def test_adverse_selection_and_signal_predictions():
    store = PredictionStore(StoreConfig(reference_horizon_s=10.0))
    rng = np.random.default_rng(6)
    for i in range(3000):
        now = T0 + i * 1000
        expected = float(rng.uniform(0, 5))
        signal = float(rng.normal(0, 3))
        tag = store.record_quote(coin="ETH", side=1 if i % 2 else -1, depth_bps=4.0, now_ms=now,
                                 expected_as_bps=expected, signal_bps=signal)
        store.on_signal_outcome(tag, signal + rng.normal(0, 1))
        store.on_fill(tag, now_ms=now + 100, px=100, sz=1, mid=100.04 if i % 2 else 99.96)
        store.on_markout(tag, horizon_s=1.0, adverse_bps=99.0, now_ms=now + 1100)      # not the reference
        store.on_markout(tag, horizon_s=10.0, adverse_bps=expected + rng.normal(0, 1), now_ms=now + 10_100)
    a, s = store.score(ADVERSE), store.score(SIGNAL)
    assert a.samples == 3000 and a.brier == pytest.approx(1.0, abs=0.1) and a.information_ratio > 5
    assert s.samples == 3000 and s.information_ratio > 5
    assert store.unvalidated_reason(FILL) == "no predictions recorded: the model is not wired into the quote cycle"


def test_unvalidated_models_are_flagged_in_the_log():
    store = PredictionStore(StoreConfig(min_samples=50))
    for i in range(5):
        store.record_quote(coin="BTC", side=1, depth_bps=2, now_ms=T0 + i, fill_prob=0.5, horizon_s=60,
                           expected_as_bps=1.0)
    log = get_logger("calibration")
    with capture_logs() as records:  # strict mode: every field must be documented in log_events
        store.log_report(log)
    reports = [r for r in records if r["event"] == "calibration_report"]
    flags = {r["model"]: r["reason"] for r in records if r["event"] == "model_unvalidated"}
    assert {r["model"] for r in reports} == {FILL, ADVERSE, SIGNAL}
    assert all(r["samples"] == 0 and r["validated"] is False for r in reports)
    assert flags[FILL] == "5 predictions but no outcome: outcomes are not reaching the store"
    assert flags[SIGNAL].startswith("no predictions recorded")


def test_zero_adverse_samples_say_whether_fills_are_waiting_or_overdue():
    """A short session's fills still short of the 10 s markout are not a broken outcome wire; fills
    well past it are."""
    store = PredictionStore(StoreConfig(min_samples=50))
    tags = [store.record_quote(coin="BTC", side=1, depth_bps=2, now_ms=T0 + i, fill_prob=0.5, horizon_s=60,
                               expected_as_bps=1.0, signal_bps=0.3) for i in range(3)]
    store.expire(T0 + 1_000)
    assert store.unvalidated_reason(ADVERSE) == "3 predictions, no fill yet (resolved by a fill's 10 s markout)"
    store.on_fill(tags[0], now_ms=T0 + 2_000, px=100.0, sz=1.0, mid=100.01, fee_bps=0.0)
    store.expire(T0 + 8_000)
    assert store.awaiting_markout(ADVERSE) == (1, 0) and store.awaiting_markout(FILL) == (0, 0)
    assert store.unvalidated_reason(ADVERSE) == \
        "3 predictions, 1 filled and waiting for their 10 s markout (none resolved yet)"
    rep = {r["model"]: r for r in store.calibration_report()}
    assert (rep[ADVERSE]["awaiting_markout"], rep[ADVERSE]["markout_overdue"]) == (1, 0)
    assert "awaiting_markout" not in rep[FILL]
    store.expire(T0 + 2_000 + 10_000 + 5_001)      # past the horizon and its grace, still unresolved
    assert store.awaiting_markout(ADVERSE) == (0, 1)
    assert store.unvalidated_reason(SIGNAL) == ("3 predictions but no outcome: 1 fills are past their 10 s markout "
                                                "unresolved (outcomes are not reaching the store)")
    store.on_markout(tags[0], horizon_s=10.0, adverse_bps=0.5, now_ms=T0 + 17_100)
    assert store.awaiting_markout(ADVERSE) == (0, 0) and store.score(ADVERSE).samples == 1


def test_pending_is_bounded():
    store = PredictionStore(StoreConfig(max_pending=100))
    for i in range(250):
        store.record_quote(coin="BTC", side=1, depth_bps=2, now_ms=T0 + i, fill_prob=0.5)
    assert store.dropped == 150
    assert sum(r["pending"] for r in store.calibration_report() if r["model"] == FILL) == 100


# ------------------------------------------------------------------------ profitability

def test_profitability_tracker_flags_losing_buckets():
    tracker = FillProfitabilityTracker(min_fills=30, threshold_bps=2.0)
    rng = np.random.default_rng(7)
    for _ in range(200):
        tracker.add("high", 0.8, 1.0, float(rng.normal(-8, 3)), 100.0)   # long and near the touch: losing
        tracker.add("normal", 0.0, 12.0, float(rng.normal(3, 3)), 100.0)
    assert tracker.should_widen("high", 0.9, 1.5)
    assert not tracker.should_widen("normal", 0.0, 15.0)
    assert not tracker.should_widen("low", 0.0, 1.0)  # no data: no verdict
    rows = tracker.table()
    assert rows[0]["regime"] == "high" and rows[0]["widen"] and rows[0]["position"] == ">= 0.5"
    assert rows[0]["depth"] == "< 2 bps" and rows[0]["low"] < rows[0]["edge_bps"] < rows[0]["high"]
    with pytest.raises(ValueError):
        FillProfitabilityTracker(depth_edges_bps=(5.0, 2.0))


# ---------------------------------------------------------------------- learned parameters

def test_alpha_decay_fit_recovers_known_parameters():
    rng = np.random.default_rng(8)
    depth = rng.uniform(0, 30, 20_000)
    informed = rng.uniform(0, 1, len(depth)) < 0.4 * np.exp(-depth / 10.0)
    a, c, lo, hi = fit_alpha_decay(depth, informed)
    assert a == pytest.approx(0.4, abs=0.03) and c == pytest.approx(10.0, rel=0.1)
    assert lo < a < hi
    assert fit_alpha_decay(depth[:5], informed[:5]) is None
    assert fit_alpha_decay(depth, np.zeros(len(depth), bool)) is None


def _resolved_fills(store: PredictionStore, n: int, seed: int):
    """Fills whose informed share decays with depth as 0.35*exp(-d/12); hour 3 UTC loses heavily."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        now = T0 + i * 90_000
        depth = float(rng.uniform(0.5, 25))
        hour = (now // 3_600_000) % 24
        tag = store.record_quote(coin="BTC", side=1, depth_bps=depth, now_ms=now, fill_prob=0.3,
                                 expected_as_bps=2.0)
        mid = 100.0
        px = mid * (1 - depth / 1e4)
        store.on_fill(tag, now_ms=now + 50, px=px, sz=1.0, mid=mid, fee_bps=1.5)
        informed = rng.uniform() < 0.35 * math.exp(-depth / 12)
        adverse = depth + rng.uniform(1, 10) if informed else rng.uniform(-depth, depth * 0.9)
        if hour == 3:
            adverse = depth + 20.0
        store.on_markout(tag, horizon_s=10.0, adverse_bps=adverse, now_ms=now + 10_050)


def test_learned_params_and_the_file_round_trip(tmp_path):
    store = PredictionStore()
    _resolved_fills(store, 8000, seed=9)
    learned = store.learned_params(spread_floor_bps=8.0)
    values = {v.key: v for v in learned.values}
    assert values["strategy.alpha_touch"].value == pytest.approx(0.35, abs=0.1)  # hour 3 adds a few informed fills
    assert values["strategy.delta_char_bps"].value > 0
    assert values["strategy.toxic_hours_utc"].value == [3]
    path = tmp_path / "learned.toml"
    log = get_logger("calibration")
    with capture_logs() as records:
        store.save_learned(path, session="0x0000000000ab", logger=log)
    saved = [r for r in records if r["event"] == "learned_params_saved"]
    assert saved and saved[0]["keys"] == [v.key for v in learned.values]
    back = read_learned(path)
    assert back.session == "0x0000000000ab"
    again = {v.key: v for v in back.values}
    assert again["strategy.alpha_touch"].value == values["strategy.alpha_touch"].value
    assert again["strategy.alpha_touch"].samples == 8000 and again["strategy.alpha_touch"].has_interval
    assert again["strategy.toxic_hours_utc"].value == [3]


def test_nothing_learned_from_too_few_fills():
    store = PredictionStore()
    _resolved_fills(store, 10, seed=10)
    learned = store.learned_params()
    assert learned.values == [] and any("nothing learned" in n for n in learned.notes)


def test_read_learned_accepts_a_plain_fragment_and_refuses_bad_values(tmp_path):
    from hlmm.errors import ConfigError

    plain = tmp_path / "plain.toml"
    plain.write_text("[strategy]\nspread_floor_bps = 9.5\n")
    values = read_learned(plain).values
    assert [(v.key, v.value, v.samples) for v in values] == [("strategy.spread_floor_bps", 9.5, 0)]
    bad = tmp_path / "bad.toml"
    bad.write_text('format = "hlmm-learned-9"\n')
    with pytest.raises(ConfigError, match="hlmm-learned-9"):
        read_learned(bad)
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("[strategy]\nspread_flor_bps = 9.5\n")
    with pytest.raises(ConfigError, match="did you mean"):
        read_learned(unknown)
