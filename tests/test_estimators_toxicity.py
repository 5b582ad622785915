"""Toxicity: CUSUM detects a mean shift within a bounded delay; online weights learn the truth."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from hlmm._core.toxicity import ASK, BID, DEFAULT_WEIGHTS, FEATURE_NAMES, Cusum, Toxicity
from synthetic import gbm, logistic_samples


def shifted_normals(seed, n_before=500, n_after=200, shift=1.0):
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.standard_normal(n_before), rng.standard_normal(n_after) + shift])


def test_cusum_detects_a_one_sigma_mean_shift_within_bounded_delay():
    delays, false_alarm_runs = [], 0
    for seed in range(200):
        z = shifted_normals(seed)
        alarms = Cusum(k=0.5, h=8.0).update_many(np.arange(len(z), dtype=np.int64), z)
        false_alarm_runs += bool(np.any(alarms[:500] != 0))
        up = np.nonzero(alarms[500:] == 1)[0]
        assert len(up) > 0, f"seed {seed}: shift never detected"
        delays.append(int(up[0]) + 1)
    # Page's approximation for k=0.5, h=8, shift 1: (h + 1.166) / (1 - k) = 18.3 samples
    assert np.mean(delays) <= 20.0
    assert max(delays) <= 50
    # two-sided in-control run length ~ 9600 samples: few runs of 500 should alarm
    assert false_alarm_runs <= 20


def test_cusum_detects_downward_shift_with_negative_alarm():
    z = shifted_normals(3, shift=-1.5)
    c = Cusum(k=0.5, h=5.0)
    alarms = c.update_many(np.arange(len(z), dtype=np.int64), z)
    down = np.nonzero(alarms[500:] == -1)[0]
    assert len(down) > 0 and down[0] < 20
    assert c.alarms_down >= 1 and c.last_alarm_down_ms >= 500


def test_cusum_statistic_matches_the_recursion():
    rng = np.random.default_rng(2)
    z = rng.normal(0.3, 1.0, 300)
    c = Cusum(k=0.4, h=1e9, z_clip=1e9)
    sp = sn = 0.0
    for i, zi in enumerate(z):
        c.update(i, zi)
        sp = max(0.0, sp + zi - 0.4)
        sn = max(0.0, sn - zi - 0.4)
    assert c.s_pos == pytest.approx(sp, rel=1e-12) and c.s_neg == pytest.approx(sn, rel=1e-12)


def test_one_jump_cannot_alarm_alone():
    c = Cusum(k=0.5, h=5.0, z_clip=3.0)
    assert c.update(0, 40.0) == 0          # a 40-sigma print adds at most 2.5
    assert c.s_pos == pytest.approx(2.5)
    assert c.update(1, 40.0) == 0
    assert c.update(2, 40.0) == 1          # persistence, not one print, raises the alarm


def test_drifting_mid_raises_the_ask_side_and_not_the_bid_side():
    sigma = 2e-4
    n = 3000
    t, px = gbm(n, sigma, mean_dt_ms=500, seed=4, irregular=False)
    drift = np.where(np.arange(n) >= 2000, 1.5 * sigma * math.sqrt(0.5), 0.0)   # +1.5 sigma per sample
    px = px * np.exp(np.cumsum(drift))
    tox = Toxicity(cusum_h=8.0)
    asks, bids, first_up = [], [], None
    for ti, pi in zip(t.tolist(), px.tolist()):
        b, a = tox.sample(ti, pi, sigma, 0.0, 0.0, 1, 0.0)
        bids.append(b), asks.append(a)
        if first_up is None and tox.cusum.alarms_up:
            first_up = ti
    assert tox.ready
    assert first_up is not None and first_up >= t[2000]
    assert first_up - t[2000] <= 40 * 500          # detected within 40 samples of the shift
    assert np.mean(asks[2100:]) > 3 * np.mean(bids[2100:])
    assert max(asks[:2000]) < 0.5


def test_all_features_come_from_the_one_sample_call():
    tox = Toxicity(funding_scale=1e-4)
    tox.sample(1000, 100.0, 2e-4, 0.3, -0.6, 2, 5e-5)
    expected_bid = [1.0, -0.3, 0.6, 2 / 3, 0.0, 0.5]
    expected_ask = [1.0, 0.3, -0.6, 2 / 3, 0.0, -0.5]
    assert tox.features(BID) == pytest.approx(expected_bid)
    assert tox.features(ASK) == pytest.approx(expected_ask)
    w = np.array(DEFAULT_WEIGHTS)
    assert tox.bid_score == pytest.approx(1 / (1 + math.exp(-w @ expected_bid)))
    assert tox.ask_score == pytest.approx(1 / (1 + math.exp(-w @ expected_ask)))
    # funding beyond the scale saturates
    tox.sample(2000, 100.0, 2e-4, 0.0, 0.0, 0, -1.0)
    assert tox.features(BID)[5] == -1.0 and tox.features(ASK)[5] == 1.0


def test_changepoint_feature_fades_after_an_alarm():
    tox = Toxicity(cusum_h=2.0, z_clip=10.0, cp_memory_ms=10_000.0)
    tox.sample(0, 100.0, 1e-4, 0.0, 0.0, 1, 0.0)
    tox.sample(1000, 100.0 * math.exp(5e-4), 1e-4, 0.0, 0.0, 1, 0.0)   # z = 5: alarm up
    assert tox.cusum.alarms_up == 1
    assert tox.features(ASK)[4] == pytest.approx(1.0)
    tox.sample(11_000, 100.0 * math.exp(5e-4), 1e-4, 0.0, 0.0, 1, 0.0)
    assert tox.features(ASK)[4] == pytest.approx(math.exp(-1.0), rel=1e-6)
    assert tox.features(BID)[4] < 0.5


@pytest.mark.parametrize("seed", [1, 2])
def test_online_weights_move_toward_the_generating_logistic_weights(seed):
    w_true = np.array([-1.0, 2.0, 1.5, 0.5, 1.0, -0.5])
    x, y = logistic_samples(w_true, 60_000, seed=seed)
    tox = Toxicity(learning_rate=0.02)
    start = np.linalg.norm(tox.weights - w_true)
    tox.learn_many(np.ascontiguousarray(x), y)
    end = np.linalg.norm(tox.weights - w_true)
    assert end < 0.15 * start
    assert np.max(np.abs(tox.weights - w_true)) < 0.3
    assert tox.learned == len(y)


def test_learn_returns_prior_prediction_and_adverse_labels_raise_the_score():
    tox = Toxicity(learning_rate=0.1)
    tox.sample(1000, 100.0, 2e-4, -0.5, -0.5, 2, 0.0)
    x = tox.features(BID)
    before = tox.score(x)
    assert tox.learn(x, True) == pytest.approx(before)
    for _ in range(50):
        tox.learn(x, True)
    assert tox.score(x) > before + 0.3


def test_bad_inputs_leave_scores_untouched():
    tox = Toxicity()
    tox.sample(1000, 100.0, 2e-4, 0.1, 0.1, 1, 0.0)
    snap = tox.snapshot()
    bad = [(2000, float("nan"), 2e-4, 0, 0, 1, 0), (2000, 100.0, -1.0, 0, 0, 1, 0),
           (2000, 100.0, 2e-4, 1.5, 0, 1, 0), (2000, 100.0, 2e-4, 0, float("inf"), 1, 0),
           (2000, 100.0, 2e-4, 0, 0, 4, 0), (2000, 100.0, 2e-4, 0, 0, 1, float("nan")),
           (500, 100.0, 2e-4, 0, 0, 1, 0)]
    for args in bad:
        assert tox.sample(*args) == (snap["bid_score"], snap["ask_score"])
    after = tox.snapshot()
    assert after.pop("rejected") == len(bad)
    snap.pop("rejected")
    assert after == snap


def test_warm_up_needs_consecutive_samples_with_sigma():
    tox = Toxicity(min_samples=3)
    assert not tox.ready and "0/3" in tox.ready_reason
    for i in range(4):
        tox.sample(1000 * i, 100.0 + i * 0.01, 0.0, 0, 0, 1, 0)   # sigma unknown yet
    assert not tox.ready
    for i in range(4, 8):
        tox.sample(1000 * i, 100.0 + i * 0.01, 2e-4, 0, 0, 1, 0)
    assert tox.ready and tox.ready_reason == "ready"


def test_weights_io_and_validation():
    tox = Toxicity(weights=[0, 1, 2, 3, 4, 5])
    assert list(tox.weights) == [0, 1, 2, 3, 4, 5]
    with pytest.raises(ValueError, match="6 finite numbers"):
        tox.set_weights([1, 2])
    with pytest.raises(ValueError, match="6 finite numbers"):
        tox.set_weights([0, 0, 0, 0, 0, float("nan")])
    with pytest.raises(ValueError, match="side"):
        tox.features(0)
    with pytest.raises(ValueError, match="6 values"):
        tox.learn(np.ones(3), True)
    with pytest.raises(ValueError, match="not finite"):
        tox.learn(np.array([1.0, 0, 0, 0, 0, float("nan")]), True)
    assert len(FEATURE_NAMES) == 6


@pytest.mark.parametrize("kwargs, message", [
    ({"funding_scale": 0.0}, "funding_scale"),
    ({"cp_memory_ms": 0.0}, "cp_memory_ms"),
    ({"learning_rate": 0.0}, "learning_rate"),
    ({"l2": -1.0}, "l2"),
    ({"min_samples": 0}, "min_samples"),
    ({"cusum_k": 0.0}, "cusum k"),
    ({"cusum_h": -1.0}, "cusum h"),
    ({"z_clip": 0.1}, "z_clip"),
])
def test_bad_configuration(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Toxicity(**kwargs)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5000), st.floats(-0.05, 0.05), st.floats(-1, 1), st.floats(-1, 1),
                          st.integers(0, 3), st.floats(-1e-2, 1e-2)), min_size=1, max_size=100),
       st.lists(st.floats(-50, 50), min_size=6, max_size=6))
def test_scores_are_probabilities_for_any_inputs(rows, weights):
    tox = Toxicity(weights=weights, cusum_h=3.0)
    t, logp = 0, 0.0
    for gap, ret, b, f, reg, fund in rows:
        t += gap
        logp += ret
        bid, ask = tox.sample(t, 100.0 * math.exp(logp), 1e-4, b, f, reg, fund)
        assert 0.0 <= bid <= 1.0 and 0.0 <= ask <= 1.0
        assert np.all(np.isfinite(tox.features(BID))) and np.all(np.isfinite(tox.features(ASK)))
