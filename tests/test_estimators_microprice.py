"""Microprice: betas learn the generating betas; EMA seeded at mid, reset on divergence, no clamp."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from hlmm._core.microprice import Microprice, book_imbalance
from synthetic import microprice_series


def reference_rls(t, mid, x1, x2, horizon, max_gap, lam, p0):
    """Label each row with the mid prevailing at t+horizon (the last update at or before it), known
    at the first update after it; drop labels whose prevailing mid is older than max_gap; then RLS."""
    beta = np.zeros(3)
    P = np.eye(3) * p0
    used = 0
    for i in range(len(t)):
        j = np.searchsorted(t, t[i] + horizon, side="right")     # first update after the horizon
        if j >= len(t) or t[i] + horizon - t[j - 1] > max_gap:
            continue
        x = np.array([1.0, x1[i], x2[i]])
        y = math.log(mid[j - 1] / mid[i]) * 1e4
        px = P @ x
        k = px / (lam + x @ px)
        beta = beta + k * (y - x @ beta)
        P = (P - np.outer(k, px)) / lam
        P = np.triu(P) + np.triu(P, 1).T      # kept symmetric, as the estimator does
        used += 1
    return beta, used


def test_betas_converge_to_generating_betas():
    t, mid, book, flow = microprice_series(30_000, beta_book_bps=3.0, beta_flow_bps=1.5, noise_bps=2.0, seed=1)
    m = Microprice(horizon_ms=1000, forgetting=0.9995)
    m.update_many(t, mid, book, flow)
    assert m.ready and m.samples == len(t) - 2   # the last two rows wait for an update after them
    assert m.beta_book == pytest.approx(3.0, abs=0.25)
    assert m.beta_flow == pytest.approx(1.5, abs=0.25)
    assert abs(m.drift_bps) < 0.3
    assert m.residual_std_bps == pytest.approx(2.0, rel=0.1)
    se_book, se_flow = m.beta_se
    assert 0.02 < se_book < 0.3 and 0.02 < se_flow < 0.3


def test_betas_keep_learning_and_track_a_change():
    t1, mid1, b1, f1 = microprice_series(15_000, 3.0, 1.5, 2.0, seed=2)
    m = Microprice(forgetting=0.998)
    history = []
    for chunk in np.array_split(np.arange(len(t1)), 50):
        m.update_many(t1[chunk], mid1[chunk], b1[chunk], f1[chunk])
        history.append(m.beta_book)
    assert np.std(history[10:]) > 0.0         # never constant
    # the relation flips: the forgetting factor lets the betas follow
    t2, mid2, b2, f2 = microprice_series(15_000, -2.0, 4.0, 2.0, mid0=float(mid1[-1]), seed=3)
    m.update_many(t2 + (t1[-1] - t2[0] + 1000), mid2, b2, f2)
    assert m.beta_book == pytest.approx(-2.0, abs=0.4)
    assert m.beta_flow == pytest.approx(4.0, abs=0.4)


def test_ring_buffer_labels_match_reference_on_irregular_times():
    rng = np.random.default_rng(7)
    n = 3000
    t = 1_700_000_000_000 + np.cumsum(rng.integers(1, 400, n)).astype(np.int64)
    t[1500:] += 5000                       # a feed gap: labels across it are stale
    mid = 50.0 * np.exp(np.cumsum(rng.normal(0, 1e-4, n)))
    x1 = rng.uniform(-1, 1, n)
    x2 = rng.uniform(-1, 1, n)
    m = Microprice(horizon_ms=1000, max_feed_gap_ms=500, forgetting=0.995, min_samples=10)
    m.update_many(t, mid, x1, x2)
    beta, used = reference_rls(t, mid, x1, x2, 1000, 500, 0.995, 1000.0)
    assert m.samples == used
    assert m.dropped_stale > 0
    assert m.drift_bps == pytest.approx(beta[0], rel=1e-9, abs=1e-12)
    assert m.beta_book == pytest.approx(beta[1], rel=1e-9, abs=1e-12)
    assert m.beta_flow == pytest.approx(beta[2], rel=1e-9, abs=1e-12)
    assert m.pending == np.sum(t + 1000 >= t[-1])


def test_ema_starts_at_mid_and_warm_up_never_moves_the_price():
    t, mid, book, flow = microprice_series(200, 30.0, 10.0, 2.0, seed=4)
    m = Microprice(min_samples=100)
    out = m.update_many(t, mid, book, flow)
    assert out[0] == mid[0]                               # seeded at mid, not at a raw value
    assert np.array_equal(out[:101], mid[:101])           # before 100 labels: exactly mid
    assert m.ready and not np.array_equal(out[101:], mid[101:])


def test_ema_resets_to_mid_when_adjusted_price_diverges_past_100bps():
    # A market whose imbalance predicts 300 bps: the adjusted price is ~200+ bps off mid.
    t, mid, book, flow = microprice_series(400, 300.0, 0.0, 1.0, seed=5)
    m = Microprice(min_samples=50, ema_half_life_ms=2000.0)
    m.update_many(t, mid, book, flow)
    assert m.beta_book == pytest.approx(300.0, rel=0.05)
    start = int(t[-1]) + 1000
    offsets, raw = [], []
    for k in range(40):
        p = m.update(start + 1000 * k, 100.0, 0.8, 0.0)    # raw adjustment ~ +240 bps
        offsets.append((p / 100.0 - 1.0) * 1e4)
        raw.append(m.raw_adjustment_bps)
    assert raw[0] > 200.0
    assert m.resets >= 3
    assert max(offsets) <= 100.0                         # never published beyond the limit
    assert min(offsets) == 0.0                           # reset to mid exactly


def test_mid_outlier_of_200bps_is_followed_not_smoothed():
    t, mid, book, flow = microprice_series(500, 3.0, 1.5, 2.0, seed=6)
    m = Microprice(min_samples=50)
    m.update_many(t, mid, book, flow)
    outlier = float(mid[-1]) * 1.02
    p = m.update(int(t[-1]) + 100, outlier, 0.1, -0.1)
    assert abs(p / outlier - 1.0) * 1e4 < 10.0           # anchored on the new mid, no 200 bps gap


def test_no_one_sided_clamp():
    t, mid, book, flow = microprice_series(5000, 3.0, 1.5, 2.0, seed=8)
    m = Microprice(min_samples=50)
    out = m.update_many(t, mid, book, flow)
    above = np.sum(out[100:] > mid[100:])
    below = np.sum(out[100:] < mid[100:])
    assert above > 1000 and below > 1000
    # and it leans the way the signal says
    sig = 3.0 * book[100:] + 1.5 * flow[100:]
    assert np.corrcoef(out[100:] / mid[100:] - 1.0, sig)[0, 1] > 0.8


def test_sample_interval_and_capacity():
    m = Microprice(sample_interval_ms=250, capacity=16, horizon_ms=100_000)
    for k in range(100):
        m.update(1000 + 100 * k, 100.0, 0.0, 0.0)
    assert m.pending == 16
    assert m.dropped_capacity > 0


def test_bad_input_is_counted_and_keeps_state():
    m = Microprice(min_samples=3)
    assert m.update(1000, 100.0, 0.2, 0.1) == 100.0
    snap = m.snapshot()
    for args in [(2000, float("nan"), 0.0, 0.0), (2000, -1.0, 0.0, 0.0), (2000, 100.0, 1.5, 0.0),
                 (2000, 100.0, 0.0, float("inf")), (500, 100.0, 0.0, 0.0)]:
        assert m.update(*args) == 100.0
    assert m.rejected == 5
    after = m.snapshot()
    after.pop("rejected"), snap.pop("rejected")
    assert after == snap


def test_book_imbalance_helper():
    assert book_imbalance(3.0, 1.0) == 0.5
    assert book_imbalance(0.0, 0.0) == 0.0
    assert book_imbalance(-1.0, 2.0) == 0.0
    assert book_imbalance(float("nan"), 1.0) == 0.0


@pytest.mark.parametrize("kwargs, message", [
    ({"horizon_ms": 0}, "horizon_ms"),
    ({"forgetting": 0.0}, "forgetting"),
    ({"forgetting": 1.01}, "forgetting"),
    ({"ema_half_life_ms": 0.0}, "ema_half_life_ms"),
    ({"max_divergence_bps": -1.0}, "max_divergence_bps"),
    ({"min_samples": 2}, "min_samples"),
    ({"max_feed_gap_ms": 0}, "max_feed_gap_ms"),
    ({"p0": 0.0}, "p0"),
])
def test_bad_configuration(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Microprice(**kwargs)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 2000), st.floats(-0.01, 0.01), st.floats(-1, 1), st.floats(-1, 1)),
                min_size=5, max_size=300))
def test_published_price_never_beyond_divergence_limit(rows):
    m = Microprice(min_samples=3, horizon_ms=500, forgetting=0.9)
    t, logp = 0, math.log(100.0)
    for gap, ret, b, f in rows:
        t += gap
        logp += ret
        mid = math.exp(logp)
        p = m.update(t, mid, b, f)
        assert math.isfinite(p)
        assert abs(p / mid - 1.0) * 1e4 <= 100.0 + 1e-9
        assert math.isfinite(m.beta_book) and math.isfinite(m.beta_flow)


def test_rls_stays_numerically_stable_with_strong_forgetting():
    # With forgetting 0.95, rounding in an unsymmetrised covariance grows as 1.05^n and blew the
    # betas up after a few thousand labels; the symmetric update keeps them near the truth.
    t, mid, book, flow = microprice_series(100_000, 3.0, 1.5, 2.0, seed=12)
    m = Microprice(forgetting=0.95)
    books, flows = [], []
    for chunk in np.array_split(np.arange(len(t)), 200):
        m.update_many(t[chunk], mid[chunk], book[chunk], flow[chunk])
        # a ~20-label memory is noisy (se ~1 bps), but an unstable update reaches hundreds
        assert abs(m.beta_book) < 10.0 and abs(m.beta_flow) < 10.0
        assert m.residual_std_bps < 3.5
        books.append(m.beta_book), flows.append(m.beta_flow)
    assert np.mean(books) == pytest.approx(3.0, abs=0.3)
    assert np.mean(flows) == pytest.approx(1.5, abs=0.3)
