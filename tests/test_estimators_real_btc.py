"""All six estimators replayed together on 9 minutes of real Hyperliquid BTC data (2025-09-03).

Fixtures (see tests/fixtures/README.md): the WS ``bbo`` stream paired into one row per exchange
timestamp, and the WS ``trades`` stream. Every print is also booked as a fill of the resting
(maker) side, so the markouts measure what passive liquidity at the touch really suffered.
"""
import csv
import math

import numpy as np
import pytest

from hlmm._core.flow import OrderFlow
from hlmm._core.intensity import FillIntensity
from hlmm._core.markouts import Markouts
from hlmm._core.microprice import Microprice, book_imbalance
from hlmm._core.toxicity import Toxicity
from hlmm._core.volatility import Volatility


def load_events(fixtures_dir):
    """Merged (exchange_ms, kind, row) stream; at equal times prints come before the book."""
    events = []
    with open(fixtures_dir / "btc_bbo_djienne_2025-09-03.csv") as f:
        for r in csv.DictReader(f):
            events.append((int(r["exchange_ms"]), 1, (float(r["bid_px"]), float(r["bid_sz"]),
                                                      float(r["ask_px"]), float(r["ask_sz"]))))
    with open(fixtures_dir / "btc_trades_djienne_2025-09-03.csv") as f:
        for r in csv.DictReader(f):
            side = 1 if r["side"] == "buy" else -1
            events.append((int(r["exchange_timestamp"]), 0, (int(r["trade_id"]), float(r["price"]),
                                                             float(r["size"]), side)))
    events.sort(key=lambda e: (e[0], e[1]))
    return events


def replay(events):
    vol = Volatility(fast_half_life_s=60.0, slow_half_life_s=600.0)
    intensity = FillIntensity(window_ms=300_000)
    flow = OrderFlow(half_life_s=10.0, v_ref=1.0)
    micro = Microprice(horizon_ms=1000)
    tox = Toxicity()
    marks = Markouts()
    mid = None
    last_sample = 0
    scores = []
    for t, kind, row in events:
        if kind == 0:
            tid, px, sz, side = row
            if mid is not None:
                intensity.update(t, px, mid, side)
            flow.update(t, sz, side)
            marks.add_fill(tid, t, -side, px, sz, fee=0.0)     # the maker side of the print
            continue
        bid, bid_sz, ask, ask_sz = row
        mid = 0.5 * (bid + ask)
        flow.advance(t)
        imb = book_imbalance(bid_sz, ask_sz)
        vol.update(t, mid)
        micro.update(t, mid, imb, flow.imbalance_weighted)
        marks.on_mid(t, mid)
        if t - last_sample >= 1000:
            scores.append(tox.sample(t, mid, vol.sigma_bv, imb, flow.imbalance_weighted, vol.regime, 0.0))
            last_sample = t
    return vol, intensity, flow, micro, tox, marks, scores


@pytest.fixture(scope="module")
def replayed(request):
    from pathlib import Path
    events = load_events(Path(__file__).parent / "fixtures")
    return events, replay(events)


def test_every_estimator_warms_up_on_real_data_without_rejecting_anything(replayed):
    _, (vol, intensity, flow, micro, tox, marks, scores) = replayed
    for est in (vol, intensity, flow, micro, tox):
        assert est.ready, est.ready_reason
        assert est.rejected == 0
    assert marks.rejected == 0 and marks.fills == 1497
    assert all(0.0 <= b <= 1.0 and 0.0 <= a <= 1.0 for b, a in scores)


def test_real_sigma_is_plausible_and_matches_session_realized_variance(replayed):
    events, (vol, *_rest) = replayed
    assert 0.1 < vol.sigma_bps < 20.0 and 0.1 < vol.sigma_bv_bps < 20.0
    # with (effectively) infinite half-lives the estimator is sum(r^2) / elapsed seconds
    mids = np.array([(0.5 * (r[0] + r[2])) for t, k, r in events if k == 1])
    times = np.array([t for t, k, r in events if k == 1])
    whole = Volatility(fast_half_life_s=1e12, slow_half_life_s=1e13)
    whole.update_many(times, mids)
    r = np.diff(np.log(mids))
    assert whole.sigma == pytest.approx(math.sqrt(np.sum(r**2) / ((times[-1] - times[0]) / 1000.0)), rel=1e-9)


def test_real_intensity_and_flow_read_outs(replayed):
    events, (vol, intensity, flow, micro, tox, marks, _) = replayed
    assert intensity.kappa > 0 and math.isfinite(intensity.kappa)
    assert intensity.A == pytest.approx(intensity.samples / intensity.window_seconds)
    assert 0.5 < intensity.confidence < 1.0
    assert -1.0 <= flow.imbalance <= 1.0
    assert 0.0 < flow.branching_ratio < 1.0 and flow.hawkes_intensity > flow.mu


def test_real_microprice_stays_near_mid_and_learns(replayed):
    _, (vol, intensity, flow, micro, tox, marks, _) = replayed
    assert abs(micro.microprice / micro.mid - 1.0) * 1e4 <= 100.0
    assert micro.samples > 100 and math.isfinite(micro.beta_book) and math.isfinite(micro.beta_flow)
    assert micro.beta_book != 0.0 and micro.beta_flow != 0.0


def test_real_markouts_of_passive_liquidity(replayed):
    events, (*_rest, marks, _) = replayed
    s = marks.summary()
    assert s["measured_fills"] > 1000
    assert s["sc_mean_bps"] >= 0.0                      # makers buy at or below the mid
    first, last = s["horizons"][0], s["horizons"][-1]
    assert first["n"] > 1000 and last["n"] > 500
    for h in s["horizons"]:
        assert math.isfinite(h["as_mean_bps"]) and h["as_se_bps"] > 0
        assert h["edge_mean_bps"] == pytest.approx(s["sc_mean_bps"] - h["as_mean_bps"], abs=0.5)
    rec = marks.drain_resolved()
    assert len(rec) == marks.completed
    aggressor = {row[0]: row[3] for t, k, row in events if k == 0}
    assert all(r["side"] == -aggressor[r["fill_id"]] for r in rec)
    # prints before the first book update, and inside the capture's two book outages (250 s and
    # 50 s without a bbo while trades kept printing), have no trustworthy mid: unmeasured, not guessed
    book_t = np.array([t for t, k, _ in events if k == 1])
    blind = 0
    for t, k, _ in events:
        if k == 0:
            i = np.searchsorted(book_t, t - 1, side="right") - 1
            blind += i < 0 or (t - 1) - book_t[i] > marks.max_feed_gap_ms
    assert blind > 100 and s["unmeasured_fills"] == blind
    # on real prints, deeper prints are sweeps that move the mid: AS rises with depth, and the
    # depth-decay calibration refuses to fit rather than report a decay that is not there
    fit = marks.calibrate()
    assert not fit["ok"] and "does not decrease" in fit["reason"] and not marks.ready
