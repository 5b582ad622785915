"""Volatility: sigma recovery on GBM, jump robustness, regime detection and stability."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from hlmm._core.volatility import Volatility
from synthetic import gbm

SIGMA = 2e-4  # 2 bps per sqrt(second)


def brute_force(t_ms, px, half_life_s):
    """The decayed-ratio estimators computed directly from all returns and their weights."""
    logp = np.log(px)
    r = np.diff(logp)
    dt = np.diff(t_ms) / 1000.0
    t_end = t_ms[-1] / 1000.0
    w = np.exp(-math.log(2) / half_life_s * (t_end - t_ms[1:] / 1000.0))
    var = np.sum(w * r**2) / np.sum(w * dt)
    bv = np.sum(w[1:] * np.abs(r[1:]) * np.abs(r[:-1])) / np.sum(w[1:] * np.sqrt(dt[1:] * dt[:-1]))
    return var, 0.5 * math.pi * bv


def test_matches_brute_force_weighted_sums():
    t, px = gbm(500, SIGMA, mean_dt_ms=300, seed=11)
    v = Volatility(fast_half_life_s=20.0, slow_half_life_s=200.0)
    assert v.update_many(t, px) == len(t) - 1
    var, var_bv = brute_force(t, px, 20.0)
    assert v.sigma == pytest.approx(math.sqrt(var), rel=1e-9)
    assert v.sigma_bv == pytest.approx(math.sqrt(var_bv), rel=1e-9)
    base_var, base_bv = brute_force(t, px, 200.0)
    assert v.sigma_baseline == pytest.approx(math.sqrt(base_bv), rel=1e-9)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("irregular", [True, False])
def test_sigma_recovered_within_5pct_on_gbm(seed, irregular):
    t, px = gbm(200_000, SIGMA, mean_dt_ms=100, seed=seed, irregular=irregular)
    v = Volatility(fast_half_life_s=600.0, slow_half_life_s=6000.0)
    v.update_many(t, px)
    assert v.ready
    assert v.sigma == pytest.approx(SIGMA, rel=0.05)
    assert v.sigma_bv == pytest.approx(SIGMA, rel=0.05)
    assert 0.9 < v.jump_ratio < 1.1
    assert v.sigma_bps == pytest.approx(v.sigma * 1e4)


def test_sampling_grid_keeps_sigma_per_second():
    # 20 ms data sampled on a 1 s grid: fewer returns, same per-second sigma.
    t, px = gbm(600_000, SIGMA, mean_dt_ms=20, seed=5)
    v = Volatility(fast_half_life_s=3000.0, slow_half_life_s=30000.0, min_interval_ms=1000)
    accepted = v.update_many(t, px)
    span_s = (t[-1] - t[0]) / 1000.0
    assert accepted == pytest.approx(span_s, rel=0.02)   # about one return per second
    assert v.sigma == pytest.approx(SIGMA, rel=0.05)


def test_bipower_ignores_jumps_while_rv_is_inflated():
    t, px = gbm(200_000, SIGMA, mean_dt_ms=100, seed=7, jump_prob=0.001, jump_sigmas=20.0)
    v = Volatility(fast_half_life_s=600.0, slow_half_life_s=6000.0)
    v.update_many(t, px)
    assert v.sigma_bv == pytest.approx(SIGMA, rel=0.05)
    assert v.sigma > 1.1 * SIGMA            # expected ~ sqrt(1 + 0.001 * 400) = 1.18x
    assert v.jump_ratio > 1.2


def _first_time_at_or_above(v, t, px, level, start_ms):
    """Feed observations one by one; return the first time the regime reaches `level` after start_ms."""
    hit = None
    for ti, pi in zip(t.tolist(), px.tolist()):
        v.update(ti, pi)
        if hit is None and ti >= start_ms and v.regime >= level:
            hit = ti
    return hit


def test_regime_switch_x3_detected_within_bounded_delay():
    n = 40_000  # 250 ms apart: ~2.8 h, switch after 2 h
    rng_t, _ = gbm(n, SIGMA, mean_dt_ms=250, seed=21)
    switch_ms = rng_t[0] + 2 * 3600 * 1000
    sig = np.where(rng_t < switch_ms, SIGMA, 3 * SIGMA)
    t, px = gbm(n, SIGMA, mean_dt_ms=250, seed=21, sigma_path=sig)
    v = Volatility()  # defaults: fast 60 s, baseline 1800 s, High at vol_ratio >= 1.5
    before = t < switch_ms
    v.update_many(t[before], px[before])
    assert v.ready and v.regime == 1 and v.transitions == 0
    hit = _first_time_at_or_above(v, t[~before], px[~before], 2, switch_ms)
    assert hit is not None
    delay_s = (hit - switch_ms) / 1000.0
    assert delay_s <= 60.0, f"High regime detected only after {delay_s:.1f} s"


def test_no_flapping_on_stationary_series():
    t, px = gbm(100_000, SIGMA, mean_dt_ms=250, seed=31)  # ~7 h
    v = Volatility()
    seen = set()
    for chunk in np.array_split(np.arange(len(t)), 200):
        v.update_many(t[chunk], px[chunk])
        seen.add(v.regime)
    assert v.transitions == 0 and seen == {1}


def test_hysteresis_and_dwell_limit_transitions():
    # Sigma alternating 1x / 2.2x every 20 s straddles the High thresholds; the dwell caps flips.
    n = 60_000
    t0, _ = gbm(n, SIGMA, mean_dt_ms=100, seed=41, irregular=False)
    phase = ((t0 - t0[0]) // 20_000) % 2
    sig = np.where(phase == 0, SIGMA, 2.2 * SIGMA)
    t, px = gbm(n, SIGMA, mean_dt_ms=100, seed=41, irregular=False, sigma_path=sig)
    v = Volatility(fast_half_life_s=5.0, slow_half_life_s=600.0, min_dwell_ms=60_000)
    v.update_many(t, px)
    span_ms = t[-1] - t[0]
    # every step down needs 60 s of dwell, so at most two transitions per dwell period
    assert v.transitions <= 2 * span_ms // 60_000 + 2
    assert v.transitions > 0


def test_extreme_and_back_down_respects_dwell():
    n = 30_000
    t0, _ = gbm(n, SIGMA, mean_dt_ms=200, seed=51, irregular=False)
    calm_end = t0[0] + 3600_000
    burst_end = calm_end + 120_000
    sig = np.where((t0 >= calm_end) & (t0 < burst_end), 8 * SIGMA, SIGMA)
    t, px = gbm(n, SIGMA, mean_dt_ms=200, seed=51, irregular=False, sigma_path=sig)
    v = Volatility(min_dwell_ms=30_000)
    regimes, times = [], []
    for ti, pi in zip(t.tolist(), px.tolist()):
        v.update(ti, pi)
        regimes.append(v.regime)
        times.append(ti)
    regimes = np.array(regimes)
    times = np.array(times)
    assert regimes[times < calm_end].max() == 1
    assert regimes[(times >= calm_end) & (times < burst_end)].max() == 3
    assert regimes[-1] == 1   # back to Normal once the burst is old news
    # consecutive transitions downward are at least min_dwell apart
    change_idx = np.nonzero(np.diff(regimes))[0] + 1
    for a, b in zip(change_idx[:-1], change_idx[1:]):
        if regimes[b] < regimes[b - 1]:
            assert times[b] - times[a] >= 30_000


def test_warm_up_state():
    v = Volatility(min_samples=5)
    assert not v.ready and v.ready_reason == "no returns yet"
    assert v.sigma == 0.0 and v.jump_ratio == 0.0 and v.vol_ratio == 0.0
    t, px = gbm(4, SIGMA, seed=1)
    v.update_many(t, px)
    assert not v.ready and v.ready_reason == "warming: 3/5 returns"
    t, px = gbm(10, SIGMA, seed=1)
    v.update_many(t + 10_000, px)
    assert v.ready and v.ready_reason == "ready" and v.regime_name == "normal"


def test_flat_price_is_not_ready():
    v = Volatility(min_samples=5)
    v.update_many(np.arange(0, 10_000, 100, dtype=np.int64), np.full(100, 50.0))
    assert not v.ready
    assert "not moved" in v.ready_reason
    assert v.sigma == 0.0


def test_bad_inputs_are_counted_and_change_nothing():
    t, px = gbm(200, SIGMA, seed=3)
    v = Volatility(min_samples=5)
    v.update_many(t, px)
    before = v.snapshot()
    for bad_px in (float("nan"), float("inf"), 0.0, -5.0):
        assert v.update(int(t[-1]) + 100, bad_px) is False
    assert v.update(int(t[-1]) - 1, 100.0) is False           # time going back
    after = v.snapshot()
    assert after["rejected"] == 5
    after.pop("rejected"), before.pop("rejected")
    after.pop("ts_ms"), before.pop("ts_ms")
    assert after == before


def test_same_millisecond_updates_fold_into_the_next_return():
    v = Volatility(min_samples=2)
    v.update(1000, 100.0)
    v.update(1000, 101.0)         # same ms: no return yet
    assert v.samples == 0
    v.update(2000, 102.0)
    assert v.samples == 1
    assert v.sigma == pytest.approx(abs(math.log(102.0 / 100.0)) / 1.0)


@pytest.mark.parametrize("kwargs, message", [
    ({"fast_half_life_s": 0}, "fast_half_life_s"),
    ({"fast_half_life_s": 100, "slow_half_life_s": 50}, "slow_half_life_s"),
    ({"min_samples": 1}, "min_samples"),
    ({"min_interval_ms": -1}, "min_interval_ms"),
    ({"min_dwell_ms": -1}, "min_dwell_ms"),
    ({"high_enter": 1.1, "high_exit": 1.2}, "thresholds"),
    ({"extreme_exit": 3.5}, "thresholds"),
])
def test_bad_configuration_is_rejected_with_a_clear_message(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Volatility(**kwargs)


def test_update_many_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="same length"):
        Volatility().update_many(np.zeros(3, dtype=np.int64), np.ones(2))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5000), st.floats(1e-6, 1e9)), min_size=1, max_size=200))
def test_read_outs_stay_finite_for_any_positive_prices(steps):
    v = Volatility(fast_half_life_s=1.0, slow_half_life_s=10.0, min_samples=2, min_dwell_ms=0)
    t = 0
    for gap, price in steps:
        t += gap
        v.update(t, price)
        for x in (v.sigma, v.sigma_bv, v.sigma_baseline, v.jump_ratio, v.vol_ratio):
            assert math.isfinite(x) and x >= 0.0
        assert v.regime in (0, 1, 2, 3)
