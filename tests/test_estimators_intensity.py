"""Fill intensity: kappa and A recovered from exponential distances with Poisson arrivals."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from hlmm._core.intensity import FillIntensity
from synthetic import exponential_trades

HOUR_MS = 3_600_000


def feed(est, tp):
    return est.update_many(tp.t_ms, tp.price, tp.mid, tp.side)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("rate, kappa", [(5.0, 0.8), (1.5, 0.25), (12.0, 2.0)])
def test_kappa_and_A_recovered_within_5pct(seed, rate, kappa):
    tp = exponential_trades(rate, kappa, duration_s=3600.0, seed=seed)
    est = FillIntensity(window_ms=HOUR_MS)
    assert feed(est, tp) == len(tp.t_ms)
    est.advance(tp.t_ms[0] + HOUR_MS)       # the hour is over: rate over the full hour
    assert est.ready
    assert est.kappa == pytest.approx(kappa, rel=0.05)
    assert est.A == pytest.approx(rate, rel=0.05)
    assert est.window_seconds == pytest.approx(3600.0, abs=0.01)
    # per side: each side sees half the prints, same decay
    assert est.kappa_bid == pytest.approx(kappa, rel=0.07)
    assert est.kappa_ask == pytest.approx(kappa, rel=0.07)
    assert est.rate_bid + est.rate_ask == pytest.approx(est.rate)


def test_known_floor_delta0_recovers_decay_beyond_it():
    tp = exponential_trades(6.0, 1.2, duration_s=3600.0, delta0_bps=0.45, seed=9)
    est = FillIntensity(window_ms=HOUR_MS, delta0_bps=0.45)
    feed(est, tp)
    est.advance(tp.t_ms[0] + HOUR_MS)
    assert est.kappa == pytest.approx(1.2, rel=0.05)
    assert est.rate == pytest.approx(6.0, rel=0.05)
    # lambda(delta) = A exp(-kappa delta) with A = rate * exp(kappa delta0): lambda(delta0) = rate
    assert est.A == pytest.approx(est.rate * math.exp(est.kappa * 0.45))
    assert est.intensity(0.45) == pytest.approx(est.rate)
    assert est.intensity(0.0) == pytest.approx(est.rate)          # nothing prints inside the floor
    assert est.intensity(2.45) == pytest.approx(est.rate * math.exp(-2.0 * est.kappa))
    # ignoring the floor biases kappa down: the mean distance includes delta0
    naive = FillIntensity(window_ms=HOUR_MS)
    feed(naive, tp)
    assert naive.kappa < 0.75 * est.kappa


def test_equals_direct_computation_over_the_window():
    tp = exponential_trades(4.0, 0.6, duration_s=1800.0, seed=4)
    est = FillIntensity(window_ms=300_000, delta0_bps=0.1, aggregate_sweeps=False)
    feed(est, tp)
    now = int(tp.t_ms[-1])
    inside = tp.t_ms > now - 300_000
    excess = np.maximum(tp.distance_bps[inside] - 0.1, 0.0)
    assert est.samples == inside.sum()
    assert est.kappa == pytest.approx(inside.sum() / excess.sum(), rel=1e-9)
    assert est.rate == pytest.approx(inside.sum() / 300.0, rel=1e-12)
    sells = inside & (tp.side == -1)
    assert est.kappa_bid == pytest.approx(sells.sum() / np.maximum(tp.distance_bps[sells] - 0.1, 0.0).sum(), rel=1e-9)


def test_rolling_window_tracks_a_change_in_kappa():
    first = exponential_trades(5.0, 0.5, duration_s=3600.0, seed=5)
    second = exponential_trades(5.0, 1.0, duration_s=3600.0, seed=6)
    est = FillIntensity(window_ms=1_800_000)
    feed(est, first)
    assert est.kappa == pytest.approx(0.5, rel=0.05)
    second.t_ms += HOUR_MS
    feed(est, second)
    assert est.kappa == pytest.approx(1.0, rel=0.05)


def test_window_expires_without_prints():
    tp = exponential_trades(5.0, 0.8, duration_s=600.0, seed=7)
    est = FillIntensity(window_ms=60_000)
    feed(est, tp)
    assert est.ready
    est.advance(int(tp.t_ms[-1]) + 60_001)
    assert est.samples == 0 and est.rate == 0.0 and est.kappa == 0.0
    assert not est.ready and est.ready_reason == "warming: 0/50 prints in the window"


def test_rate_uses_only_the_observed_part_of_the_window():
    tp = exponential_trades(5.0, 0.8, duration_s=600.0, seed=8)
    est = FillIntensity(window_ms=HOUR_MS)       # 1 h window, 10 min of data
    feed(est, tp)
    assert est.window_seconds == pytest.approx((tp.t_ms[-1] - tp.t_ms[0]) / 1000.0)
    assert est.rate == pytest.approx(5.0, rel=0.05)


def test_capacity_overflow_shrinks_the_window_instead_of_biasing_the_rate():
    tp = exponential_trades(5.0, 0.8, duration_s=3600.0, seed=10)
    est = FillIntensity(window_ms=HOUR_MS, capacity=4096)
    feed(est, tp)
    assert est.samples == 4096 and est.dropped_capacity == len(tp.t_ms) - 4096 - est.merged
    assert est.rate == pytest.approx(5.0, rel=0.05)
    assert est.kappa == pytest.approx(0.8, rel=0.05)


def test_confidence_grows_with_samples_and_matches_standard_error():
    tp = exponential_trades(5.0, 0.8, duration_s=2000.0, seed=11)
    est = FillIntensity(window_ms=10 * HOUR_MS)
    last = -1.0
    for i in range(len(tp.t_ms)):
        est.update(int(tp.t_ms[i]), float(tp.price[i]), float(tp.mid[i]), int(tp.side[i]))
        if i % 500 == 0:
            assert est.confidence > last
            last = est.confidence
    n = est.samples
    assert est.confidence == pytest.approx(1.0 - 1.0 / math.sqrt(n))
    assert est.kappa_se == pytest.approx(est.kappa / math.sqrt(n))
    assert est.rate_se == pytest.approx(est.rate / math.sqrt(n))


def test_unknown_side_counts_only_in_pooled_figures():
    est = FillIntensity(min_samples=2)
    est.update(1000, 100.02, 100.0, 0)    # 2 bps away, side unknown
    est.update(2000, 99.99, 100.0, -1)    # 1 bp below: a sell
    est.update(3000, 99.995, 100.0, 1)    # a "buy" below the mid (stale mid): distance clamped to 0
    assert est.samples == 3 and est.inside_delta0 == 1
    assert est.kappa == pytest.approx(3 / 3.0, rel=1e-9)
    assert est.kappa_bid == pytest.approx(1.0, rel=1e-9)
    assert est.kappa_ask == 0.0
    assert est.rate_bid == pytest.approx(0.5) and est.rate_ask == pytest.approx(0.5)


def test_a_sweep_is_one_arrival_at_its_deepest_print():
    est = FillIntensity(min_samples=2)
    for px in (100.01, 100.02, 100.04):              # one buy walking three ask levels
        est.update(1000, px, 100.0, 1)
    est.update(1000, 99.99, 100.0, -1)               # a sell in the same ms is another order
    est.update(2000, 100.01, 100.0, 1)               # a later buy is another order
    assert est.samples == 3 and est.merged == 2 and est.total == 5
    assert est.kappa_ask == pytest.approx(2 / (4.0 + 1.0), rel=1e-9)
    assert est.rate_ask == pytest.approx(2 / 1.0)
    unmerged = FillIntensity(min_samples=2, aggregate_sweeps=False)
    for px in (100.01, 100.02, 100.04):
        unmerged.update(1000, px, 100.0, 1)
    assert unmerged.samples == 3 and unmerged.kappa == pytest.approx(3 / 7.0, rel=1e-9)


def test_bad_and_late_prints():
    est = FillIntensity(min_samples=2)
    assert est.update(5000, 101.0, 100.0, 1)
    assert not est.update(6000, float("nan"), 100.0, 1)
    assert not est.update(6000, 101.0, 0.0, 1)
    assert not est.update(6000, 101.0, -3.0, 1)
    assert not est.update(6000, 101.0, float("inf"), 1)
    assert not est.update(6000, 101.0, 100.0, 2)
    assert est.rejected == 5 and est.samples == 1
    assert est.update(4000, 99.0, 100.0, -1)          # earlier than now: kept, counted at now
    assert est.reordered == 1 and est.samples == 2 and est.now_ms == 5000


@pytest.mark.parametrize("kwargs, message", [
    ({"window_ms": 0}, "window_ms"),
    ({"delta0_bps": -1.0}, "delta0_bps"),
    ({"delta0_bps": float("nan")}, "delta0_bps"),
    ({"min_samples": 1}, "min_samples"),
    ({"capacity": 4}, "capacity"),
])
def test_bad_configuration(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FillIntensity(**kwargs)


def test_kappa_price_units():
    tp = exponential_trades(5.0, 0.8, duration_s=600.0, mid=2000.0, seed=12)
    est = FillIntensity()
    feed(est, tp)
    assert est.kappa_price(2000.0) == pytest.approx(est.kappa * 1e4 / 2000.0)
    with pytest.raises(ValueError, match="mid"):
        est.kappa_price(0.0)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 120_000), st.floats(-50, 50), st.sampled_from([-1, 0, 1])),
                min_size=1, max_size=300),
       st.integers(16, 64))
def test_window_sums_match_a_recount_for_any_sequence(prints, capacity):
    est = FillIntensity(window_ms=60_000, capacity=capacity, min_samples=2, aggregate_sweeps=False)
    t = 0
    kept = []
    for gap, dist, side in prints:
        t += gap
        price = 100.0 * (1 + dist * 1e-4)
        assert est.update(t, price, 100.0, side)
        delta = (price - 100.0) / 100.0 * 1e4
        kept.append((t, max(side * delta, 0.0) if side != 0 else abs(delta)))
        kept = [(ti, e) for ti, e in kept if ti > t - 60_000][-est.capacity:]
    assert est.samples == len(kept)
    total = sum(e for _, e in kept)
    if total > 0:
        assert est.kappa == pytest.approx(len(kept) / total, rel=1e-6)
    assert 0.0 <= est.confidence < 1.0


# ----------------------------------------------------------------------------- per-print floors
def varying_floor_trades(rate, kappa, duration_s, seed, mid=2000.0):
    """Prints at floor_i + Exp(kappa) bps from the mid, floor_i (the half-spread then) in [0.2, 2.5] bps."""
    tp = exponential_trades(rate, kappa, duration_s=duration_s, mid=mid, seed=seed)
    rng = np.random.default_rng(seed + 1000)
    floors = rng.uniform(0.2, 2.5, len(tp.t_ms))
    dist = floors + tp.distance_bps
    price = mid * (1.0 + tp.side * dist * 1e-4)
    return tp, price, floors


@pytest.mark.parametrize("seed", [1, 2])
def test_per_print_floor_recovers_kappa_where_a_zero_floor_is_biased(seed):
    tp, price, floors = varying_floor_trades(6.0, 1.2, 3600.0, seed)
    est = FillIntensity(window_ms=HOUR_MS)
    assert est.update_many(tp.t_ms, price, tp.mid, tp.side, floors) == len(tp.t_ms)
    est.advance(int(tp.t_ms[0]) + HOUR_MS)
    assert est.kappa == pytest.approx(1.2, rel=0.04)
    assert est.kappa_bid == pytest.approx(1.2, rel=0.06) and est.kappa_ask == pytest.approx(1.2, rel=0.06)
    # only prints merged into another order of the same ms (measured from that order's floor) can fall inside
    assert est.inside_delta0 <= est.merged < 0.002 * len(tp.t_ms)
    # the intercept and the curve sit on the window's mean floor
    # one arrival per (ms, side) run (a merged order keeps its first print's floor), inside the window
    first = np.ones(len(tp.t_ms), dtype=bool)
    first[1:] = (tp.t_ms[1:] != tp.t_ms[:-1]) | (tp.side[1:] != tp.side[:-1])
    arrivals = first & (tp.t_ms > tp.t_ms[0])
    assert est.samples == arrivals.sum()
    assert est.mean_floor_bps == pytest.approx(floors[arrivals].mean(), rel=1e-9)
    assert est.A == pytest.approx(est.rate * math.exp(est.kappa * est.mean_floor_bps), rel=1e-12)
    assert est.intensity(est.mean_floor_bps + 1.0) == pytest.approx(est.rate * math.exp(-est.kappa), rel=1e-12)
    assert est.intensity(0.0) == pytest.approx(est.rate)
    assert est.snapshot()["mean_floor_bps"] == est.mean_floor_bps
    # the same prints with a zero floor: the mean distance carries the mean half-spread (1.35 bps)
    naive = FillIntensity(window_ms=HOUR_MS)
    naive.update_many(tp.t_ms, price, tp.mid, tp.side)
    assert naive.kappa < 0.45 * 1.2 and naive.mean_floor_bps == 0.0
    # and a fixed floor at the mean half-spread is wrong both ways: prints below it are clamped
    fixed = FillIntensity(window_ms=HOUR_MS, delta0_bps=float(floors.mean()))
    fixed.update_many(tp.t_ms, price, tp.mid, tp.side)
    assert fixed.inside_delta0 > 0.2 * len(tp.t_ms) and abs(fixed.kappa / 1.2 - 1) > 0.10


def test_update_and_update_many_agree_with_floors():
    tp, price, floors = varying_floor_trades(4.0, 0.7, 600.0, seed=3)
    one = FillIntensity(window_ms=60_000)
    many = FillIntensity(window_ms=60_000)
    for i in range(len(tp.t_ms)):
        one.update(int(tp.t_ms[i]), float(price[i]), float(tp.mid[i]), int(tp.side[i]), float(floors[i]))
    many.update_many(tp.t_ms, price, tp.mid, tp.side, floors)
    assert one.snapshot() == many.snapshot()
    with pytest.raises(ValueError, match="floor_bps"):
        many.update_many(tp.t_ms, price, tp.mid, tp.side, floors[:-1])


def test_negative_floor_means_delta0_and_default_behaviour_is_unchanged():
    tp = exponential_trades(5.0, 0.9, duration_s=1200.0, delta0_bps=0.3, seed=14)
    plain = FillIntensity(window_ms=300_000, delta0_bps=0.3)
    sentinel = FillIntensity(window_ms=300_000, delta0_bps=0.3)
    explicit = FillIntensity(window_ms=300_000, delta0_bps=0.3)
    plain.update_many(tp.t_ms, tp.price, tp.mid, tp.side)
    sentinel.update_many(tp.t_ms, tp.price, tp.mid, tp.side, np.full(len(tp.t_ms), -1.0))
    explicit.update_many(tp.t_ms, tp.price, tp.mid, tp.side, np.full(len(tp.t_ms), 0.3))
    assert plain.snapshot() == sentinel.snapshot()
    # no print gave its own floor: the mean floor is delta0 exactly, so A is the constant-floor formula
    assert plain.mean_floor_bps == 0.3
    assert plain.A == plain.rate * math.exp(plain.kappa * 0.3)
    # an explicit floor equal to delta0 is the same estimator (up to rounding of the window sums)
    assert explicit.kappa == pytest.approx(plain.kappa, rel=1e-12)
    assert explicit.A == pytest.approx(plain.A, rel=1e-12)
    assert explicit.mean_floor_bps == pytest.approx(0.3, rel=1e-12)
    # an empty window's mean floor is delta0
    assert FillIntensity(delta0_bps=0.25).mean_floor_bps == 0.25


def test_print_inside_its_floor_and_bad_floors():
    est = FillIntensity(min_samples=2)
    assert est.update(1000, 100.01, 100.0, 1, 1.0)        # 1 bp out, floor 1 bp: excess 0, not inside
    assert est.update(2000, 99.995, 100.0, -1, 1.0)       # 0.5 bp out, floor 1 bp: inside (stale mid)
    assert est.update(3000, 100.03, 100.0, 1, 0.5)        # 3 bp out, floor 0.5: excess 2.5
    assert est.inside_delta0 == 1 and est.samples == 3
    assert est.kappa == pytest.approx(3 / 2.5, rel=1e-12)
    assert est.mean_floor_bps == pytest.approx(2.5 / 3, rel=1e-12)
    for bad in (float("nan"), float("inf"), float("-inf")):
        assert not est.update(4000, 100.02, 100.0, 1, bad)
    assert est.rejected == 3 and est.samples == 3
    # a print at the touch computed the engine's way ((ask - bid) / 2 vs price - mid): rounding
    # noise either side of the floor is not "inside"
    touch = FillIntensity(min_samples=2)
    for bid, ask in ((67012.3, 67012.4), (3001.15, 3001.25), (0.61234, 0.61241)):
        mid = (bid + ask) / 2
        half = (ask - bid) / mid * 1e4 / 2
        touch.update(1000, ask, mid, 1, half)
        touch.update(2000, bid, mid, -1, half)
        touch.advance(10_000)
    assert touch.inside_delta0 == 0 and touch.kappa == 0.0
    assert touch.ready_reason.startswith("every print in the window is at or inside its floor")


def test_a_merged_sweep_keeps_its_first_floor():
    est = FillIntensity(min_samples=2)
    est.update(1000, 100.01, 100.0, 1, 0.5)       # first print of a buy sweep: floor 0.5 bp
    est.update(1000, 100.02, 100.0, 1, 1.5)       # same order, deeper; its own floor is ignored
    est.update(1000, 100.04, 100.0, 1, 3.9)       # deepest: 4 bp - 0.5 bp = 3.5 bp excess
    assert est.samples == 1 and est.merged == 2
    assert est.mean_floor_bps == pytest.approx(0.5, rel=1e-12)
    assert est.kappa_ask == pytest.approx(1 / 3.5, rel=1e-12)
    est.update(1000, 99.98, 100.0, -1, 1.0)       # a sell in the same ms is another order, own floor
    assert est.samples == 2 and est.mean_floor_bps == pytest.approx(0.75, rel=1e-12)
    assert est.kappa_bid == pytest.approx(1 / 1.0, rel=1e-12)
    # without aggregation each print is an arrival with its own floor
    unmerged = FillIntensity(min_samples=2, aggregate_sweeps=False)
    for px, floor in ((100.01, 0.5), (100.02, 1.5), (100.04, 3.9)):
        unmerged.update(1000, px, 100.0, 1, floor)
    assert unmerged.mean_floor_bps == pytest.approx((0.5 + 1.5 + 3.9) / 3, rel=1e-12)
    assert unmerged.kappa == pytest.approx(3 / (0.5 + 0.5 + 0.1), rel=1e-9)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40_000), st.floats(-5, 50), st.sampled_from([-1, 0, 1]),
                          st.one_of(st.just(-1.0), st.floats(0, 10))),
                min_size=1, max_size=400),
       st.integers(16, 64), st.floats(0, 2))
def test_mean_floor_matches_a_recount_through_evictions(prints, capacity, delta0):
    est = FillIntensity(window_ms=60_000, delta0_bps=delta0, capacity=capacity, min_samples=2,
                        aggregate_sweeps=False)
    t = 0
    kept = []            # (t, floor, excess) brute force: the window, then the capacity
    for gap, dist, side, floor in prints:
        t += gap
        price = 100.0 * (1 + dist * 1e-4)
        assert est.update(t, price, 100.0, side, floor)
        delta = (price - 100.0) / 100.0 * 1e4
        delta = side * delta if side != 0 else abs(delta)
        f = delta0 if floor < 0 else floor
        excess = delta - f
        kept.append((t, f, excess if excess >= 1e-9 else 0.0))    # rounding noise at the floor is 0
        kept = [k for k in kept if k[0] > t - 60_000][-est.capacity:]
        assert est.samples == len(kept)
        assert est.mean_floor_bps == pytest.approx(sum(k[1] for k in kept) / len(kept), rel=1e-9, abs=1e-9)
    total = sum(k[2] for k in kept)
    if total > 0:
        assert est.kappa == pytest.approx(len(kept) / total, rel=1e-6)
    est.advance(t + 60_000)                   # everything expires: back to delta0
    assert est.samples == 0 and est.mean_floor_bps == delta0


def test_mean_floor_survives_many_buffer_turns():
    # capacity 16 and 5 000 prints: the running floor sum is re-summed every buffer turn
    rng = np.random.default_rng(17)
    n = 5000
    t = np.arange(n, dtype=np.int64) * 10
    side = rng.choice(np.array([-1, 1], dtype=np.int64), n)
    floors = rng.uniform(0.0, 3.0, n)
    dist = floors + rng.exponential(1.0, n)
    price = 100.0 * (1 + side * dist * 1e-4)
    est = FillIntensity(window_ms=10**9, capacity=16, aggregate_sweeps=False)
    est.update_many(t, price, np.full(n, 100.0), side, floors)
    assert est.samples == 16
    assert est.mean_floor_bps == pytest.approx(floors[-16:].mean(), rel=1e-12)
