"""Markouts: hand-computed fills, late fills, feed gaps, summaries, and the depth-decay AS fit."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from hlmm._core.markouts import DEFAULT_HORIZONS_MS, Markouts
from synthetic import depth_decay_markouts

# The mid tape: changes, plus the unchanged mid re-sent every 2 s (as each quote cycle does), so no
# silence exceeds max_feed_gap_ms.
MIDS = [(0, 100.00), (400, 100.02), (700, 99.98), (1200, 99.95), (2500, 100.03), (5200, 100.10),
        (10200, 100.00)] + [(t, 100.00) for t in range(12200, 60200, 2000)] + [(60200, 99.90)]
#  horizon:          0.5 s    1 s     2 s     5 s     10 s    60 s
#  buy at t=100 ->   100.02   99.98   99.95   100.03  100.10  100.00  (mid prevailing at t + h)
BUY_MIDS = [100.02, 99.98, 99.95, 100.03, 100.10, 100.00]


def feed_mids(mk, mids):
    for t, m in mids:
        assert mk.on_mid(t, m)


def test_hand_computed_buy():
    mk = Markouts()
    feed_mids(mk, MIDS[:1])
    assert mk.add_fill(7, 100, 1, 99.99, 2.0, fee=0.001)
    feed_mids(mk, MIDS[1:])
    rec = mk.drain_resolved()
    assert len(rec) == 1
    r = rec[0]
    assert (r["fill_id"], r["t_ms"], r["side"]) == (7, 100, 1)
    assert r["mid0"] == 100.0
    assert r["sc_bps"] == pytest.approx(1.0)                       # bought 1 bp under mid
    assert r["fee_bps"] == pytest.approx(0.001 / (99.99 * 2.0) * 1e4)
    assert r["depth_bps"] == pytest.approx(1.0)                    # defaults to the spread capture
    assert list(r["mid_h"]) == BUY_MIDS
    expected_as = [(100.0 - m) / 100.0 * 1e4 for m in BUY_MIDS]   # +: the mid fell after we bought
    assert r["as_bps"] == pytest.approx(expected_as)
    assert r["as_bps"][0] == pytest.approx(-2.0) and r["as_bps"][2] == pytest.approx(5.0)
    assert r["edge_bps"] == pytest.approx([1.0 - a - r["fee_bps"] for a in expected_as])
    assert mk.completed == 1 and mk.pending == 0


def test_hand_computed_sell_with_rebate_and_given_mid_and_depth():
    mk = Markouts()
    feed_mids(mk, MIDS[:1])
    # sold 3 bps over a mid the caller observed at 100.01; maker rebate 0.0002 per 1 notional
    assert mk.add_fill(8, 100, -1, 100.04, 1.0, fee=-0.0002 * 100.04, mid=100.01, depth_bps=2.5)
    feed_mids(mk, MIDS[1:])
    r = mk.drain_resolved()[0]
    assert r["mid0"] == 100.01 and r["depth_bps"] == 2.5
    assert r["sc_bps"] == pytest.approx(-(100.01 - 100.04) / 100.01 * 1e4)
    assert r["fee_bps"] == pytest.approx(-2.0)
    expected_as = [-(100.01 - m) / 100.01 * 1e4 for m in BUY_MIDS]   # +: the mid rose after we sold
    assert r["as_bps"] == pytest.approx(expected_as)
    assert r["edge_bps"] == pytest.approx([r["sc_bps"] - a + 2.0 for a in expected_as])
    # edge is also s * (mid_h - px) / mid0 - fee
    assert r["edge_bps"][4] == pytest.approx(-(100.10 - 100.04) / 100.01 * 1e4 + 2.0)


def test_horizons_settle_only_once_a_later_mid_arrives():
    mk = Markouts()
    mk.on_mid(0, 100.0)
    mk.add_fill(1, 100, 1, 99.99, 1.0)
    mk.on_mid(600, 100.5)              # 0.5 s horizon is t=600: not settled at t=600 itself
    assert mk.summary()["horizons"][0]["n"] == 0
    mk.on_mid(601, 100.7)              # now it is: the mid prevailing at 600 is 100.5
    s = mk.summary()["horizons"][0]
    assert s["n"] == 1 and s["as_mean_bps"] == pytest.approx((100.0 - 100.5) / 100.0 * 1e4)


def test_late_fill_resolves_from_history_like_an_on_time_fill():
    on_time, late = Markouts(), Markouts()
    feed_mids(on_time, MIDS[:1])
    on_time.add_fill(1, 100, 1, 99.99, 2.0, fee=0.001)
    feed_mids(on_time, MIDS[1:])
    feed_mids(late, MIDS[:6])          # fill reported after 5.2 s of mids
    late.add_fill(1, 100, 1, 99.99, 2.0, fee=0.001)
    assert late.summary()["horizons"][3]["n"] == 1      # 0.5 .. 5 s settled at once
    feed_mids(late, MIDS[6:])
    a, b = on_time.drain_resolved(), late.drain_resolved()
    assert a.tobytes() == b.tobytes()


def test_book_update_stamped_before_the_fill_but_arriving_after_it_sets_mid0():
    mk = Markouts()
    mk.on_mid(0, 100.0)
    mk.add_fill(1, 1000, 1, 100.01, 1.0)                # the fill message beats the book update
    mk.on_mid(900, 100.03)                              # stamped before the fill, arrives after
    mk.on_mid(1000, 100.05)
    for t in range(2000, 64000, 1000):
        mk.on_mid(t, 100.05)
    r = mk.drain_resolved()[0]
    assert r["mid0"] == 100.03
    assert r["sc_bps"] == pytest.approx((100.03 - 100.01) / 100.03 * 1e4)


def test_fill_before_any_mid_and_feed_gaps_are_unmeasured_not_guessed():
    mk = Markouts(max_feed_gap_ms=1000)
    mk.add_fill(1, 100, 1, 99.99, 1.0)                  # no mid known yet
    assert mk.unmeasured_fills == 0                     # not settled: an earlier mid may still come
    mk.on_mid(200, 100.0)
    assert mk.unmeasured_fills == 1                     # settled: nothing before t=100 exists
    mk.add_fill(2, 300, 1, 99.99, 1.0)
    mk.on_mid(5000, 100.2)                              # a 4.8 s silence: the feed may be dead
    for t in range(6000, 70000, 500):
        mk.on_mid(t, 100.2)
    rec = mk.drain_resolved()
    assert np.all(np.isnan(rec[0]["as_bps"]))
    assert rec[1]["mid0"] == 100.0                      # last mid 99 ms old: trusted
    assert rec[1]["as_bps"][0] == 0.0                   # at 800 ms the last mid is 600 ms old
    assert np.all(np.isnan(rec[1]["as_bps"][1:3]))      # at 1.3 s and 2.3 s it is > 1 s old
    assert rec[1]["as_bps"][3] == pytest.approx(-20.0)  # 5 s: after the gap, known again
    s = mk.summary()
    assert s["horizons"][1]["unmeasured"] == 2 and s["horizons"][3]["n"] == 1


def test_summary_equals_numpy_over_drained_records():
    rng = np.random.default_rng(3)
    mk = Markouts()
    t, mid = 0, 100.0
    fill_id = 0
    for step in range(20_000):
        t += int(rng.integers(50, 300))
        mid *= math.exp(rng.normal(0, 2e-5))
        mk.on_mid(t, mid)
        if rng.random() < 0.05:
            side = int(rng.choice([-1, 1]))
            px = mid * (1 - side * rng.uniform(0, 5) * 1e-4)
            size = float(rng.uniform(0.1, 2))
            mk.add_fill(fill_id, t + 1, side, px, size, fee=float(px * size * 1.5e-4))
            fill_id += 1
    rec = mk.drain_resolved()
    assert len(rec) == mk.completed and mk.pending == fill_id - mk.completed
    s = mk.summary()
    for k, h in enumerate(s["horizons"]):
        # summaries also count fills resolved at this horizon but not yet at 60 s
        done = rec["as_bps"][:, k]
        assert h["n"] >= len(done)
        if k == len(DEFAULT_HORIZONS_MS) - 1:
            assert h["n"] == len(done)
            assert h["as_mean_bps"] == pytest.approx(done.mean(), rel=1e-9)
            assert h["as_se_bps"] == pytest.approx(done.std(ddof=1) / math.sqrt(len(done)), rel=1e-6)
            edge = rec["edge_bps"][:, k]
            assert h["edge_mean_bps"] == pytest.approx(edge.mean(), rel=1e-9)
            notional = rec["px"] * rec["size"]
            assert h["edge_notional_bps"] == pytest.approx(np.sum(notional * edge) / notional.sum(), rel=1e-9)
    assert s["fee_mean_bps"] == pytest.approx(1.5, rel=1e-9)


def feed_synthetic_markouts(mk, sample, spacing_ms=2000):
    """One fill every spacing_ms at its depth; the mid moves by the sample's move 300 ms later."""
    for i in range(len(sample.depth_bps)):
        t0 = 1_000_000 + i * spacing_ms
        side = int(sample.side[i])
        mk.on_mid(t0 - 10, 100.0)
        mk.add_fill(i, t0, side, 100.0 * (1 - side * sample.depth_bps[i] * 1e-4), 1.0,
                    depth_bps=float(sample.depth_bps[i]))
        mk.on_mid(t0 + 300, 100.0 * (1 + side * sample.move_bps[i] * 1e-4))


@pytest.mark.parametrize("seed", [1, 2])
def test_depth_decay_model_recovers_as0_and_delta_char(seed):
    alpha_touch, delta_char, jump = 0.3, 8.0, 10.0       # AS0 = alpha_touch * jump = 3 bps
    sample = depth_decay_markouts(40_000, alpha_touch, delta_char, jump, noise_bps=2.0, seed=seed)
    mk = Markouts(model_horizon_ms=1000)
    feed_synthetic_markouts(mk, sample)
    assert not mk.ready
    fit = mk.calibrate()
    assert fit["ok"], fit["reason"]
    assert mk.ready and mk.ready_reason == "ready"
    assert mk.as0 == pytest.approx(3.0, rel=0.08)
    assert mk.delta_char == pytest.approx(8.0, rel=0.08)
    assert mk.alpha_touch == pytest.approx(0.3, rel=0.1)
    assert fit["informed_move_bps"] == pytest.approx(10.0, rel=0.1)
    # the standard errors are honest: the truth lies within ~3 of them
    assert abs(mk.as0 - 3.0) < 3.5 * mk.as0_se
    assert abs(mk.delta_char - 8.0) < 3.5 * mk.delta_char_se
    assert mk.as_at(mk.delta_char) == pytest.approx(mk.as0 / math.e)
    assert mk.alpha_at(0.0) == mk.alpha_touch
    snap = mk.snapshot()
    assert snap["as0_bps"] == mk.as0 and snap["ready"] and snap["fills"] == 40_000


def test_calibrate_refuses_without_enough_data_or_without_decay():
    mk = Markouts(min_bucket_fills=30)
    fit = mk.calibrate()
    assert not fit["ok"] and "need 2 depth buckets" in fit["reason"] and not mk.ready
    assert "not calibrated" in mk.ready_reason
    # adverse selection that grows with depth is not a decay: refuse, keep no model
    rng = np.random.default_rng(5)
    depth = rng.uniform(0, 20, 4000)
    side = rng.choice([-1, 1], 4000)
    move = -(0.2 * depth) + rng.normal(0, 1.0, 4000)

    class S:
        pass
    s = S()
    s.depth_bps, s.side, s.move_bps = depth, side, move
    feed_synthetic_markouts(mk, s)
    fit = mk.calibrate()
    assert not fit["ok"] and "does not decrease" in fit["reason"] and not mk.ready


def test_fill_buffer_grows_for_open_fills_and_discards_only_completed_undrained():
    mk = Markouts(capacity=16)
    mk.on_mid(0, 100.0)
    for i in range(100):                      # 100 open fills: nothing may be dropped
        assert mk.add_fill(i, 10 + i, 1, 99.99, 1.0)
    assert mk.pending == 100 and mk.discarded == 0
    for t in range(1000, 200_000, 1000):
        mk.on_mid(t, 100.0)
    assert mk.completed == 100
    for i in range(100, 400):                 # nobody drains: completed records give way
        assert mk.add_fill(i, 200_000 + i, 1, 99.99, 1.0)
    assert mk.discarded > 0
    assert mk.summary()["horizons"][0]["n"] == 100 + 0   # new fills not settled yet


def test_bad_input():
    mk = Markouts()
    assert not mk.on_mid(0, float("nan"))
    assert not mk.on_mid(0, -1.0)
    assert mk.on_mid(100, 100.0)
    assert not mk.on_mid(50, 100.0)           # time going back
    assert not mk.add_fill(1, 100, 0, 99.0, 1.0)
    assert not mk.add_fill(1, 100, 1, 0.0, 1.0)
    assert not mk.add_fill(1, 100, 1, 99.0, -1.0)
    assert not mk.add_fill(1, 100, 1, 99.0, 1.0, fee=float("nan"))
    assert not mk.add_fill(1, 100, 1, 99.0, 1.0, depth_bps=-1.0)
    assert mk.rejected == 8 and mk.fills == 0


@pytest.mark.parametrize("kwargs, message", [
    ({"horizons_ms": []}, "horizons_ms"),
    ({"horizons_ms": [1000, 500]}, "horizons_ms"),
    ({"horizons_ms": list(range(1, 11))}, "horizons_ms"),
    ({"model_horizon_ms": 3000}, "model_horizon_ms"),
    ({"bucket_edges_bps": [5.0]}, "bucket_edges_bps"),
    ({"bucket_edges_bps": [-1.0, 2.0]}, "bucket_edges_bps"),
    ({"bucket_edges_bps": [0.0, float("nan"), 3.0]}, "bucket_edges_bps"),
    ({"bucket_edges_bps": [0.0, 1.0, float("nan")]}, "bucket_edges_bps"),
    ({"bucket_edges_bps": [0.0, float("inf"), 3.0]}, "bucket_edges_bps"),
    ({"min_bucket_fills": 1}, "min_bucket_fills"),
    ({"max_feed_gap_ms": 0}, "max_feed_gap_ms"),
    ({"informed_threshold_bps": -1.0}, "informed_threshold_bps"),
])
def test_bad_configuration(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Markouts(**kwargs)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(
    st.tuples(st.just("mid"), st.integers(0, 3000), st.floats(90, 110)),
    st.tuples(st.just("fill"), st.integers(-5000, 3000), st.sampled_from([-1, 1]))), min_size=1, max_size=200))
def test_every_settled_markout_uses_the_prevailing_mid(events):
    """Against a brute-force recomputation from the full mid tape, for any interleaving."""
    mk = Markouts(horizons_ms=(500, 2000), model_horizon_ms=500, max_feed_gap_ms=10**9,
                  retention_slack_ms=10**9)
    tape, fills, t = [], [], 0
    for kind, a, b in events:
        if kind == "mid":
            t += a
            mk.on_mid(t, b)
            tape.append((t, b))
        else:
            ft = max(0, t + a)                # fills may be reported late (negative offset)
            mk.add_fill(len(fills), ft, b, 100.0, 1.0)
            fills.append(ft)
    rec = mk.drain_resolved()
    times = np.array([x[0] for x in tape])
    vals = np.array([x[1] for x in tape])

    def prevailing(at):
        i = np.searchsorted(times, at, side="right") - 1
        return vals[i] if i >= 0 else float("nan")

    for r in rec:
        ft = fills[r["fill_id"]]
        m0 = prevailing(ft - 1)
        assert (math.isnan(r["mid0"]) and math.isnan(m0)) or r["mid0"] == m0
        for k, h in enumerate((500, 2000)):
            assert times[-1] > ft + h
            expected = prevailing(ft + h)
            assert (math.isnan(r["mid_h"][k]) and math.isnan(expected)) or r["mid_h"][k] == expected


def test_forced_drain_reports_the_horizons_a_fill_reached():
    """At the end of a session, fills younger than the longest horizon still drain: the horizons
    they reached carry their markout, the others NaN, and nothing drains twice."""
    from hlmm._core.markouts import Markouts

    mk = Markouts(horizons_ms=(1000, 60_000))
    mk.on_mid(0, 100.0)
    mk.add_fill(7, 1000, 1, 99.99, 1.0, 0.0)
    mk.on_mid(1500, 100.05)                      # the mid in force at t + 1 s (2000 ms)
    mk.on_mid(2500, 100.05)                      # settles the 1 s horizon, not the 60 s one
    assert len(mk.drain_resolved()) == 0         # the 60 s horizon is still open
    rows = mk.drain_resolved(force=True)
    assert len(rows) == 1 and rows[0]["fill_id"] == 7
    assert rows[0]["as_bps"][0] == pytest.approx(-5.0)    # the mid rose 5 bps after a buy: favourable
    assert np.isnan(rows[0]["as_bps"][1])
    assert len(mk.drain_resolved(force=True)) == 0
    mk.on_mid(70_000, 100.0)                     # later mids do not resurrect drained fills
    assert len(mk.drain_resolved()) == 0
