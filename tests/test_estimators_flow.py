"""Order flow: imbalance equals the direct decayed sums; Hawkes equals the brute-force sum; MLE fit."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from hlmm._core.flow import OrderFlow, hawkes_log_likelihood, hawkes_mle
from synthetic import exponential_trades, hawkes_times


def direct_volumes(t_ms, size, side, now_ms, half_life_s):
    w = np.exp(-math.log(2) / half_life_s * (now_ms - t_ms) / 1000.0)
    return np.sum(w * size * (side > 0)), np.sum(w * size * (side < 0))


def brute_force_hawkes(t_ms, now_ms, mu, alpha, beta):
    past = np.unique(t_ms[t_ms <= now_ms])      # one event per distinct millisecond
    return mu + np.sum(alpha * np.exp(-beta * (now_ms - past) / 1000.0))


def test_imbalance_equals_direct_computation():
    tp = exponential_trades(3.0, 1.0, duration_s=600.0, seed=3)
    flow = OrderFlow(half_life_s=20.0, v_ref=5.0)
    assert flow.update_many(tp.t_ms, tp.size, tp.side) == len(tp.t_ms)
    now = int(tp.t_ms[-1])
    b, s = direct_volumes(tp.t_ms, tp.size, tp.side, now, 20.0)
    assert flow.buy_volume == pytest.approx(b, rel=1e-9)
    assert flow.sell_volume == pytest.approx(s, rel=1e-9)
    assert flow.imbalance == pytest.approx((b - s) / (b + s), rel=1e-9)
    assert flow.imbalance_weighted == pytest.approx((b - s) / (b + s + 5.0), rel=1e-9)
    assert flow.volume_rate == pytest.approx((b + s) * math.log(2) / 20.0, rel=1e-9)
    # decaying to a later time scales volumes, not the imbalance
    flow.advance(now + 10_000)
    b2, s2 = direct_volumes(tp.t_ms, tp.size, tp.side, now + 10_000, 20.0)
    assert flow.buy_volume == pytest.approx(b2, rel=1e-9)
    assert flow.imbalance == pytest.approx((b - s) / (b + s), rel=1e-9)


def test_imbalance_keeps_magnitude_not_trade_count():
    flow = OrderFlow(half_life_s=60.0)
    for i in range(9):
        flow.update(1000 + i, 0.01, -1)      # nine small sells
    flow.update(1010, 1.0, 1)                # one large buy
    assert flow.imbalance == pytest.approx((1.0 - 0.09) / 1.09, rel=1e-3)
    assert flow.imbalance > 0.8


def test_weighted_imbalance_shrinks_small_volume():
    flow = OrderFlow(v_ref=10.0)
    flow.update(1000, 0.5, 1)
    assert flow.imbalance == 1.0
    assert flow.imbalance_weighted == pytest.approx(0.5 / 10.5)
    for i in range(200):
        flow.update(1001 + i, 1.0, 1)
    assert flow.imbalance_weighted > 0.95


def test_hawkes_intensity_equals_brute_force_sum():
    t = np.sort(1_000_000 + (hawkes_times(0.8, 1.5, 3.0, 900.0, seed=5) * 1000).astype(np.int64))
    flow = OrderFlow(mu=0.8, alpha=1.5, beta=3.0)
    checks = 0
    for i, ti in enumerate(t.tolist()):
        flow.update(ti, 1.0, 1 if i % 2 else -1)
        if i % 97 == 0:
            assert flow.hawkes_intensity == pytest.approx(brute_force_hawkes(t, ti, 0.8, 1.5, 3.0), rel=1e-9)
            later = ti + 137
            expected = brute_force_hawkes(t[: i + 1], later, 0.8, 1.5, 3.0)
            assert flow.intensity_at(later) == pytest.approx(expected, rel=1e-9)
            checks += 1
    assert checks > 10


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3000), st.floats(1e-6, 1e6), st.sampled_from([-1, 1])),
                min_size=1, max_size=150))
def test_flow_matches_brute_force_for_any_trade_sequence(trades):
    flow = OrderFlow(half_life_s=2.0, mu=0.3, alpha=0.9, beta=1.7)
    t = 0
    ts, sizes, sides = [], [], []
    for gap, size, side in trades:
        t += gap
        assert flow.update(t, size, side)
        ts.append(t), sizes.append(size), sides.append(side)
    ts, sizes, sides = np.array(ts), np.array(sizes), np.array(sides)
    b, s = direct_volumes(ts, sizes, sides, t, 2.0)
    assert -1.0 <= flow.imbalance <= 1.0
    assert flow.buy_volume == pytest.approx(b, rel=1e-7, abs=1e-300)
    assert flow.sell_volume == pytest.approx(s, rel=1e-7, abs=1e-300)
    assert flow.hawkes_intensity == pytest.approx(brute_force_hawkes(ts, t, 0.3, 0.9, 1.7), rel=1e-9)


@pytest.mark.parametrize("seed", [1, 2])
def test_hawkes_mle_recovers_generating_parameters(seed):
    mu, alpha, beta = 0.5, 1.0, 2.5            # branching ratio 0.4
    t = hawkes_times(mu, alpha, beta, 20_000.0, seed=seed)
    fit = hawkes_mle(t, 20_000.0)
    assert fit["converged"] and fit["stationary"] and fit["events"] == len(t)
    assert fit["branching_ratio"] == pytest.approx(alpha / beta, abs=0.03)
    assert fit["mu"] == pytest.approx(mu, rel=0.1)
    assert fit["alpha"] == pytest.approx(alpha, rel=0.1)
    assert fit["beta"] == pytest.approx(beta, rel=0.1)


def test_hawkes_mle_on_poisson_finds_no_clustering():
    rng = np.random.default_rng(4)
    t = np.sort(rng.uniform(0.0, 10_000.0, 8000))
    fit = hawkes_mle(t, 10_000.0)
    assert fit["branching_ratio"] < 0.05
    assert fit["mu"] / (1 - fit["branching_ratio"]) == pytest.approx(0.8, rel=0.05)


def test_log_likelihood_gradient_matches_finite_differences():
    t = hawkes_times(0.5, 1.0, 2.5, 500.0, seed=9)
    p = np.array([0.6, 0.9, 2.2])
    _, g = hawkes_log_likelihood(t, 500.0, *p)
    for i in range(3):
        e = np.zeros(3)
        e[i] = 1e-6
        num = (hawkes_log_likelihood(t, 500.0, *(p + e))[0] - hawkes_log_likelihood(t, 500.0, *(p - e))[0]) / 2e-6
        assert g[i] == pytest.approx(num, rel=1e-5)


def test_log_likelihood_of_poisson_case_is_closed_form():
    t = np.array([0.5, 1.0, 4.0])
    ll, _ = hawkes_log_likelihood(t, 10.0, 2.0, 0.0, 1.0)
    assert ll == pytest.approx(3 * math.log(2.0) - 2.0 * 10.0)


def test_fit_hawkes_on_the_buffer_adopts_and_rebuilds_the_state():
    times = hawkes_times(0.5, 1.0, 2.5, 8000.0, seed=3)
    t_ms = 1_700_000_000_000 + np.round(times * 1000).astype(np.int64)
    flow = OrderFlow(mu=2.0, alpha=0.1, beta=5.0, capacity=1 << 15)
    flow.update_many(t_ms, np.ones(len(t_ms)), np.where(np.arange(len(t_ms)) % 2, 1, -1))
    fit = flow.fit_hawkes()
    assert fit["adopted"] and flow.fits == 1
    assert flow.branching_ratio == pytest.approx(0.4, abs=0.05)
    assert (flow.mu, flow.alpha, flow.beta) == (fit["mu"], fit["alpha"], fit["beta"])
    expected = brute_force_hawkes(t_ms, int(t_ms[-1]), flow.mu, flow.alpha, flow.beta)
    assert flow.hawkes_intensity == pytest.approx(expected, rel=1e-9)
    assert flow.stationary_rate == pytest.approx(len(t_ms) / 8000.0, rel=0.1)


def test_fit_hawkes_needs_enough_trades():
    flow = OrderFlow()
    for i in range(20):
        flow.update(1000 * i, 1.0, 1)
    with pytest.raises(ValueError, match="at least 200"):
        flow.fit_hawkes()


def test_buffer_keeps_the_latest_trades():
    flow = OrderFlow(capacity=16)
    for i in range(40):
        flow.update(1000 + i, 1.0, 1)
    assert list(flow.event_times_ms()) == list(range(1024, 1040))


def test_warm_up_bad_input_and_reordering():
    flow = OrderFlow(min_trades=2, half_life_s=1000.0)
    assert not flow.ready and flow.ready_reason == "warming: 0.0/2 recent trades"
    assert flow.imbalance == 0.0 and flow.imbalance_weighted == 0.0
    assert not flow.update(1000, 0.0, 1)
    assert not flow.update(1000, float("nan"), 1)
    assert not flow.update(1000, 1.0, 0)
    assert not flow.update(1000, -1.0, -1)
    assert flow.rejected == 4 and flow.trades == 0
    for t in (1000, 2000, 1500):
        assert flow.update(t, 1.0, 1)
    assert flow.reordered == 1 and flow.last_ms == 2000
    assert flow.ready and flow.ready_reason == "ready"


@pytest.mark.parametrize("kwargs, message", [
    ({"half_life_s": 0.0}, "half_life_s"),
    ({"v_ref": -1.0}, "v_ref"),
    ({"mu": 0.0}, "Hawkes"),
    ({"alpha": 2.0, "beta": 2.0}, "branching"),
    ({"min_trades": 0}, "min_trades"),
    ({"capacity": 8}, "capacity"),
])
def test_bad_configuration(kwargs, message):
    with pytest.raises(ValueError, match=message):
        OrderFlow(**kwargs)


def test_hawkes_mle_input_validation():
    with pytest.raises(ValueError, match="at least 10"):
        hawkes_mle([1.0, 2.0])
    with pytest.raises(ValueError, match="strictly increasing"):
        hawkes_mle(np.arange(20.0)[::-1])
    with pytest.raises(ValueError, match="merge prints"):
        hawkes_mle(np.repeat(np.arange(10.0), 2))
    with pytest.raises(ValueError, match="max_beta"):
        hawkes_mle(np.arange(20.0), max_beta=0.0)


def test_prints_sharing_a_millisecond_are_one_hawkes_event():
    flow = OrderFlow(mu=0.5, alpha=1.0, beta=2.0)
    for size in (0.1, 0.2, 0.3):                # one sweep: three prints, one timestamp
        flow.update(5000, size, 1)
    assert flow.trades == 3 and flow.events == 1
    assert flow.hawkes_intensity == pytest.approx(1.5)
    assert flow.buy_volume == pytest.approx(0.6)  # the volume of every print still counts
    flow.update(5001, 1.0, -1)
    assert flow.events == 2 and list(flow.event_times_ms()) == [5000, 5001]


def test_hawkes_mle_flags_a_kernel_faster_than_allowed():
    # triplets 1 ms apart every 4 s: the MLE kernel decays at ~870/s with branching ratio 2/3
    base = np.arange(0.0, 2000.0, 4.0)
    t = np.sort(np.concatenate([base, base + 0.001, base + 0.002]))
    free = hawkes_mle(t, max_beta=1e6)
    assert not free["beta_at_bound"] and free["branching_ratio"] == pytest.approx(2 / 3, abs=0.01)
    capped = hawkes_mle(t, max_beta=100.0)
    assert capped["beta_at_bound"] and capped["beta"] == pytest.approx(100.0, rel=1e-3)
