"""The ladder optimizer: formulas, reference agreement, exchange-rule and risk invariants."""
from __future__ import annotations

import math
import pickle
import sys
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from hlmm._core import ladder as L
from hlmm._core.ladder import LadderConfig, LadderInputError, MarketParams, compute_ladder

sys.path.insert(0, str(Path(__file__).parent))
import ladder_reference as ref  # noqa: E402

QUOTED_CODES = {"none", "margin", "position", "max_notional"}

BTC = dict(mid=95000.0, microprice=95000.0, sigma=1e-4, kappa=0.08, A=0.5, gamma=0.05,
           max_position=0.05, available_margin=600.0, allowed_leverage=40, as_bps=8.0,
           sz_decimals=5)


def btc(**changes) -> MarketParams:
    return MarketParams(**{**BTC, **changes})


# --- an independent validator of the exchange rules, in Decimal ------------------------

def price_ok(units: int, px_decimals: int) -> bool:
    """Hyperliquid perps: > 0, and an integer or <= 5 significant figures with <= px_decimals decimals."""
    px = Decimal(int(units)).scaleb(-px_decimals)
    if px <= 0:
        return False
    if px == px.to_integral_value():
        return True
    t = px.normalize().as_tuple()
    return len(t.digits) <= 5 and -t.exponent <= px_decimals


def notional(units: int, lots: int, px_decimals: int, sz_decimals: int) -> Decimal:
    return Decimal(int(units)).scaleb(-px_decimals) * Decimal(int(lots)).scaleb(-sz_decimals)


def test_decimal_validator_knows_the_rules():
    assert price_ok(1234565, 1) is False        # 123456.5: 7 sig figs, not an integer
    assert price_ok(1234560, 1) is True         # 123456: integer, always valid
    assert price_ok(16701, 1) is True           # 1670.1
    assert price_ok(167011, 2) is False         # 1670.11: 6 sig figs
    assert price_ok(14700, 6) is True           # 0.0147
    assert price_ok(0, 3) is False


# --- formulas, checked against independent closed forms --------------------------------

def test_glft_coefficients_and_level_math_match_closed_forms():
    p = btc(position=0.01)
    c = LadderConfig(levels_per_side=5, max_order_notional=0.0)
    lad = compute_ladder(p, c)
    g, k, A, s = 0.05, 0.08, 0.5, 1.0  # gamma per bps, kappa per bps, A per s, sigma 1 bps/sqrt(s)
    c1 = math.log(1 + g / k) / g
    c2 = math.sqrt(g / (2 * A * k) * (1 + g / k) ** (k / g + 1))
    assert lad.c1_bps == pytest.approx(c1, rel=1e-12)
    assert lad.c2 == pytest.approx(c2, rel=1e-12)
    assert lad.half_spread_bps == pytest.approx(c1 + 0.5 * s * c2, rel=1e-12)
    q = 0.01 * 10 / 0.05
    assert lad.q == pytest.approx(q)
    assert lad.skew_bps == pytest.approx(q * s * c2, rel=1e-12)
    assert lad.gamma_eff == pytest.approx(g)
    assert lad.tau == pytest.approx((15.0 / s) ** 2)  # (delta_char / sigma)^2, inside [10, 600]
    bids = lad.bids
    assert bids.touch_depth_bps == pytest.approx(max(8.0, lad.half_spread_bps + lad.skew_bps))
    d = bids.depth_bps[0]
    tau = lad.tau
    assert bids.p_fill[0] == pytest.approx(2 * norm.cdf(-d / (s * math.sqrt(tau))), rel=1e-9)
    alpha = 0.25 * math.exp(-d / 15.0)
    sc = d - 1.5
    e = (1 - alpha) * sc - alpha * 8.0
    var = (sc + 8.0) ** 2 * alpha * (1 - alpha)
    assert bids.alpha[0] == pytest.approx(alpha, rel=1e-12)
    assert bids.edge_bps[0] == pytest.approx(e, rel=1e-12)
    assert bids.kelly_f[0] == pytest.approx(1e4 * e / var, rel=1e-12)
    assert lad.kelly_fraction == pytest.approx(0.20)
    assert bids.bankroll_usd == pytest.approx(600.0 * 40 / 2)  # margin as is: no position margin removed


def test_kelly_horizon_is_diffusive_never_milliseconds():
    lad = compute_ladder(btc())
    assert lad.tau >= 10.0
    assert lad.bids.p_fill[0] > 0.3  # a ms horizon would make the touch fill probability ~0
    slow = compute_ladder(btc(sigma=1e-7))  # (15 bps / 0.001 bps)^2 -> clamped to tau_max
    fast = compute_ladder(btc(sigma=1e-2))  # (15 / 100)^2 -> clamped to tau_min
    assert slow.tau == 600.0 and fast.tau == 10.0


def test_regime_scales_gamma_in_the_inventory_term_and_the_kelly_fraction():
    normal = compute_ladder(btc(position=0.01))
    extreme = compute_ladder(btc(position=0.01, regime="extreme"))
    low = compute_ladder(btc(position=0.01, regime=0))
    assert extreme.gamma_eff == pytest.approx(0.05 * 2.5)
    assert extreme.c1_bps == normal.c1_bps  # xi stays at the base gamma
    assert extreme.c2 == pytest.approx(normal.c2 * math.sqrt(2.5))
    assert extreme.half_spread_bps > normal.half_spread_bps > low.half_spread_bps
    assert extreme.skew_bps > normal.skew_bps
    assert extreme.kelly_fraction == pytest.approx(0.05)  # 0.2 * 0.25 = 0.05, the clamp floor
    assert low.kelly_fraction == pytest.approx(0.30)
    assert compute_ladder(btc(), {"kelly_fraction": 0.9}).kelly_fraction == 0.75  # clamp ceiling
    tod = compute_ladder(btc(tod_gamma_mult=2.0))
    assert tod.gamma_eff == pytest.approx(0.1)


def test_extreme_regime_quotes_smaller_and_wider():
    cfg = LadderConfig(spread_floor_bps=5.0)  # the 8 bps floor would hide the GLFT widening
    normal = compute_ladder(btc(), cfg)
    extreme = compute_ladder(btc(regime=3), cfg)
    for s in (0, 1):
        n, x = normal.side(s), extreme.side(s)
        assert x.touch_depth_bps > n.touch_depth_bps
        assert x.kelly_target_usd < n.kelly_target_usd
        assert x.notional_usd < n.notional_usd
        assert x.sizes[0] < n.sizes[0]


# --- shape of the ladder ----------------------------------------------------------------

def test_zero_position_gives_symmetric_depths():
    lad = compute_ladder(btc(), {"levels_per_side": 25})
    np.testing.assert_array_equal(lad.bids.target_depth_bps, lad.asks.target_depth_bps)
    assert lad.skew_bps == 0.0


def test_long_position_moves_both_sides_down():
    flat = compute_ladder(btc())
    long_ = compute_ladder(btc(position=0.02))
    assert long_.bids.touch_depth_bps > flat.bids.touch_depth_bps
    assert long_.asks.touch_depth_bps < flat.asks.touch_depth_bps
    assert (long_.bids.px_units < flat.bids.px_units).all()
    assert (long_.asks.px_units < flat.asks.px_units).all()
    short = compute_ladder(btc(position=-0.02))
    assert (short.bids.px_units > flat.bids.px_units).all()
    assert (short.asks.px_units > flat.asks.px_units).all()


def test_depths_step_outward_by_the_spacing():
    lad = compute_ladder(btc(), {"levels_per_side": 7, "level_spacing_bps": 3.5})
    for side in (lad.bids, lad.asks):
        np.testing.assert_allclose(np.diff(side.target_depth_bps), 3.5, rtol=1e-12)
        assert (np.diff(side.depth_bps) > 0).all()
        assert (side.depth_bps >= side.target_depth_bps - 1e-9).all()  # passive rounding


def test_spread_floor_holds_and_market_cap_only_when_configured():
    tight = btc(kappa=2.0)  # GLFT half-spread well under the floor
    assert compute_ladder(tight).half_spread_bps < 8.0
    lad = compute_ladder(tight)
    assert lad.bids.touch_depth_bps == 8.0 and lad.asks.touch_depth_bps == 8.0
    wide = btc(kappa=0.05, market_spread_bps=2.0)
    off = compute_ladder(wide)
    assert off.quoted_half_spread_bps == off.half_spread_bps  # default: cap off
    capped = compute_ladder(wide, {"market_spread_cap_multiple": 10.0})
    assert capped.quoted_half_spread_bps == pytest.approx(10.0)
    assert capped.bids.touch_depth_bps == pytest.approx(10.0)
    floored = compute_ladder(wide, {"market_spread_cap_multiple": 2.0})
    assert floored.quoted_half_spread_bps == pytest.approx(2.0)
    assert floored.bids.touch_depth_bps == 8.0  # the floor beats the cap


def test_microprice_away_from_mid_keeps_each_side_beyond_the_mid():
    for micro in (95000 * 1.005, 95000 * 0.995):
        lad = compute_ladder(btc(microprice=micro))
        assert lad.bids.prices[lad.bids.quoted].max() <= 95000 * (1 - 8e-4)
        assert lad.asks.prices[lad.asks.quoted].min() >= 95000 * (1 + 8e-4)


# --- toxicity ------------------------------------------------------------------------------

def test_toxicity_widens_a_side_and_pulls_it_above_the_threshold():
    base = compute_ladder(btc())
    widened = compute_ladder(btc(tox_bid=0.5))
    assert widened.bids.touch_depth_bps == pytest.approx(base.bids.touch_depth_bps * 1.5)
    assert widened.asks.touch_depth_bps == base.asks.touch_depth_bps
    pulled = compute_ladder(btc(tox_ask=0.61))
    assert pulled.asks.pulled and pulled.asks.n_quoted == 0
    assert set(pulled.asks.reasons) == {"toxicity_gate"}
    assert pulled.asks.binding_reason == "toxicity_gate"
    assert pulled.bids.n_quoted == base.bids.n_quoted  # the other side keeps its own budget
    np.testing.assert_array_equal(pulled.bids.sz_lots, base.bids.sz_lots)
    at = compute_ladder(btc(tox_ask=0.6))  # "above" the threshold: at it still quotes
    assert not at.asks.pulled


# --- constraints ------------------------------------------------------------------------------

def test_25_levels_that_margin_funds_only_partly_are_dropped_with_their_reason():
    lad = compute_ladder(btc(available_margin=60.0), {"levels_per_side": 25})
    for side in (lad.bids, lad.asks):
        quoted = side.quoted
        assert 0 < quoted.sum() < 25
        assert side.binding_reason == "margin"
        dropped = [r for r in side.levels() if not r["quoted"]]
        assert all(r["reason"] == "min_notional" for r in dropped)
        assert all(r["target_notional"] < 10.0 + r["price"] * 1e-5 for r in dropped)
        # the dropped levels' budget went to the funded ones: quoted ~ the Kelly target
        assert side.notional_usd <= side.kelly_target_usd
        assert side.notional_usd > side.kelly_target_usd - quoted.sum() * 95000 * 1e-5
        assert (side.prices[quoted] * side.sizes[quoted] >= 10.0).all()


def test_no_margin_and_flat_quotes_nothing_with_reason_margin():
    lad = compute_ladder(btc(available_margin=0.0))
    for side in (lad.bids, lad.asks):
        assert side.n_quoted == 0 and set(side.reasons) == {"margin"}


def test_zero_margin_still_quotes_the_side_that_reduces_inventory():
    lad = compute_ladder(btc(available_margin=0.0, position=0.03))
    assert lad.bids.n_quoted == 0 and set(lad.bids.reasons) == {"margin"}
    assert lad.asks.n_quoted > 0
    assert lad.asks.margin_used == 0.0
    assert lad.asks.size_total <= 0.03 + 1e-12


def test_inflight_orders_on_the_reducing_side_use_up_the_margin_free_inventory():
    free = compute_ladder(btc(available_margin=0.0, position=0.03))
    assert free.asks.bankroll_usd == pytest.approx(0.03 * free.asks.prices[0])
    part = compute_ladder(btc(available_margin=0.0, position=0.03, inflight_ask=0.02))
    assert part.asks.bankroll_usd == pytest.approx(0.01 * part.asks.prices[0])
    assert part.asks.size_total <= 0.01 + 1e-12
    none = compute_ladder(btc(available_margin=0.0, position=0.03, inflight_ask=0.03))
    assert none.asks.n_quoted == 0 and set(none.asks.reasons) == {"margin"}


def test_position_room_binds_and_counts_inflight_orders():
    lad = compute_ladder(btc(max_position=0.004, available_margin=1e6))
    assert lad.bids.binding_reason == "position"
    assert lad.bids.size_total <= 0.004 + 1e-12
    inflight = compute_ladder(btc(max_position=0.004, available_margin=1e6, inflight_bid=0.002))
    assert inflight.bids.position_room == pytest.approx(0.002)
    assert inflight.bids.size_total <= 0.002 + 1e-12
    full = compute_ladder(btc(max_position=0.004, position=0.004, available_margin=1e6))
    assert full.bids.n_quoted == 0 and set(full.bids.reasons) == {"position"}
    assert full.asks.position_room == pytest.approx(0.008)


def test_max_order_notional_caps_levels_and_redistributes():
    lad = compute_ladder(btc(available_margin=5000.0), {"max_order_notional": 500.0})
    for side in (lad.bids, lad.asks):
        notional_ = side.prices * side.sizes
        assert (notional_ <= 500.0).all()
        assert "max_notional" in side.reasons
        capped = np.array(side.reasons) == "max_notional"
        assert (notional_[capped] > 500.0 - 95000 * 1e-5).all()


def test_ticks_coarser_than_the_spacing_drop_colliding_levels():
    # sz_decimals 5 at 95000: integer prices only, 1 unit = 0.105 bps > 0.05 bps spacing
    lad = compute_ladder(btc(), {"levels_per_side": 10, "level_spacing_bps": 0.05})
    for side in (lad.bids, lad.asks):
        assert "price_collision" in side.reasons
        priced = side.px_units[np.array(side.reasons) != "price_collision"]
        assert len(set(priced.tolist())) == len(priced)


def test_negative_edge_levels_are_dropped():
    # informed flow dominates near the touch; alpha decays with depth, so deep levels earn again
    lad = compute_ladder(btc(as_bps=200.0), {"alpha_touch": 0.5})
    for side in (lad.bids, lad.asks):
        negative = side.edge_bps <= 0
        assert negative[0] and not negative[-1]
        assert all(r == "negative_edge" for r in np.array(side.reasons)[negative])
        assert not side.quoted[negative].any() and side.quoted[~negative].all()
    hopeless = compute_ladder(btc(as_bps=200.0), {"alpha_touch": 0.5, "delta_char_bps": 500.0})
    assert hopeless.bids.n_quoted == 0 and set(hopeless.bids.reasons) == {"negative_edge"}


def test_allowed_leverage_scales_the_bankroll():
    lo = compute_ladder(btc(allowed_leverage=3))
    hi = compute_ladder(btc(allowed_leverage=30))
    assert hi.bids.bankroll_usd == pytest.approx(10 * lo.bids.bankroll_usd)


# --- Python face ---------------------------------------------------------------------------

def test_compute_ladder_takes_dicts_and_reuses_an_output():
    lad = compute_ladder(dict(BTC), {"levels_per_side": 3})
    assert lad.status == "ok" and lad.bids.n == 3
    again = compute_ladder(btc(), LadderConfig(levels_per_side=3), out=lad)
    assert again is lad
    assert lad.bids.px_units.dtype == np.int64 and lad.bids.p_fill.dtype == np.float64
    rows = lad.levels()
    assert len(rows) == 6 and rows[0]["side"] == "bid" and rows[3]["side"] == "ask"
    assert {"price", "size", "depth_bps", "p_fill", "edge_bps", "reason"} <= set(rows[0])
    d = lad.to_dict()
    assert d["bids"]["levels"][0]["px_units"] == int(lad.bids.px_units[0])
    assert L.Ladder().status == "empty"


def test_dropped_lists_every_missing_level_with_its_reason():
    lad = compute_ladder(btc(available_margin=60.0, tox_ask=0.9), {"levels_per_side": 25})
    dropped = lad.dropped()
    assert len(dropped) == 50 - lad.bids.n_quoted - lad.asks.n_quoted
    assert {r["reason"] for r in dropped if r["side"] == "ask"} == {"toxicity_gate"}
    assert all(r["reason"] in ("min_notional", "toxicity_gate") for r in dropped)


def test_params_are_frozen_picklable_and_round_trip():
    p = btc(regime="High", position=-0.01)
    assert p.regime == 2 and p.px_decimals == 1 and p.microprice == 95000.0
    with pytest.raises(AttributeError):
        p.mid = 1.0
    assert MarketParams.from_dict(p.to_dict()) == p
    assert pickle.loads(pickle.dumps(p)) == p
    assert p.replace(position=0.0).position == 0.0 and p.position == -0.01
    c = LadderConfig(kelly_regime_mult={"low": 2, "normal": 1, "high": 0.5, "extreme": 0.1})
    assert c.kelly_regime_mult == (2.0, 1.0, 0.5, 0.1)
    assert pickle.loads(pickle.dumps(c)) == c and LadderConfig.from_dict(c.to_dict()) == c


@pytest.mark.parametrize("field,value", [
    ("mid", 0.0), ("microprice", float("nan")), ("sigma", -1e-4), ("kappa", 0.0), ("A", float("inf")),
    ("gamma", 0.0), ("regime", 4), ("regime", "calm"), ("tod_gamma_mult", 0.0), ("tox_bid", 1.5),
    ("tox_ask", -0.1), ("position", float("nan")), ("max_position", 0.0), ("inflight_bid", -1.0),
    ("available_margin", -5.0), ("allowed_leverage", 0.0), ("market_spread_bps", -1.0),
    ("as_bps", -1.0), ("sz_decimals", 19), ("sz_decimals", 1.5), ("px_decimals", -1),
    ("min_notional", -10.0), ("mid", "95000"), ("position", True), ("max_position", None),
])
def test_bad_params_name_the_field(field, value):
    with pytest.raises(LadderInputError, match=field):
        btc(**{field: value})


@pytest.mark.parametrize("field,value", [
    ("levels_per_side", 0), ("levels_per_side", 65), ("level_spacing_bps", 0.0),
    ("spread_floor_bps", 0.0), ("market_spread_cap_multiple", -1.0), ("kelly_fraction", 0.0),
    ("kelly_regime_mult", (1, 1, 1)), ("kelly_regime_mult", (1, 1, 1, -1)), ("kelly_min", 0.0),
    ("kelly_max", 1.5), ("gamma_regime_mult", "fast"), ("alpha_touch", 1.0), ("delta_char_bps", 0.0),
    ("tau_min", 0.0), ("tau_max", 1.0), ("max_order_notional", -1.0), ("toxicity_widen", -1.0),
    ("toxicity_pull", 2.0), ("inventory_steps", 0.0), ("maker_fee_bps", float("nan")),
    ("fill_probability_model", "takers"), ("fill_probability_model", 2), ("fill_probability_model", None),
])
def test_bad_config_names_the_field(field, value):
    with pytest.raises(LadderInputError, match=field):
        LadderConfig(**{field: value})


def test_unknown_and_missing_fields_are_reported():
    with pytest.raises(LadderInputError, match="unknown field.*sigmaa"):
        btc(sigmaa=1.0)
    with pytest.raises(LadderInputError, match="missing required field.*as_bps"):
        MarketParams(**{k: v for k, v in BTC.items() if k != "as_bps"})
    with pytest.raises(LadderInputError, match="levels"):
        compute_ladder(BTC, {"levels": 3})
    assert issubclass(LadderInputError, ValueError)


def test_reference_codes_match_the_module():
    for i, name in enumerate(L.REASONS):
        assert getattr(ref, name.upper()) == i


# --- random snapshots: reference agreement and invariants -----------------------------------

def log_uniform(lo: float, hi: float):
    return st.floats(math.log10(lo), math.log10(hi)).map(lambda e: 10.0 ** e)


def mostly(common, rare):
    """`common` about 4 times in 5; `rare` (edge cases) otherwise."""
    return st.one_of(common, common, common, common, rare)


@st.composite
def snapshots(draw, model=None):
    """A random (MarketParams, LadderConfig); the fill-probability model is drawn unless given."""
    mid = draw(mostly(log_uniform(1.0, 120000.0), log_uniform(0.01, 300000.0)))
    # real listings pick szDecimals so one lot is worth cents to dollars (BTC 5, ETH 4, SOL 2)
    natural = min(5, max(0, round(math.log10(mid)) + draw(st.integers(-1, 1))))
    sz = draw(mostly(st.just(natural), st.integers(0, 5)))
    micro = mid * (1 + draw(st.one_of(st.just(0.0), st.floats(-0.004, 0.004))))
    max_pos = draw(log_uniform(100.0, 2e6)) / mid
    tox = mostly(st.floats(0.0, 0.4), st.floats(0.0, 1.0))
    p = dict(
        mid=mid, microprice=micro, sigma=draw(mostly(log_uniform(3e-5, 1e-3), log_uniform(3e-6, 3e-3))), kappa=draw(log_uniform(0.01, 3.0)),
        A=draw(log_uniform(0.01, 30.0)), gamma=draw(log_uniform(1e-4, 1.0)), regime=draw(st.integers(0, 3)),
        tod_gamma_mult=draw(st.sampled_from([1.0, 2.0, 0.7])),
        tox_bid=draw(tox), tox_ask=draw(tox),
        position=max_pos * draw(st.one_of(st.just(0.0), st.floats(-1.5, 1.5))), max_position=max_pos,
        inflight_bid=max_pos * draw(st.sampled_from([0.0, 0.0, 0.1, 0.5])),
        inflight_ask=max_pos * draw(st.sampled_from([0.0, 0.0, 0.2])),
        available_margin=draw(mostly(log_uniform(100.0, 1e6), st.sampled_from([0.0, 1.0, 3.0, 20.0]))),
        allowed_leverage=float(draw(mostly(st.integers(3, 50), st.integers(1, 50)))),
        market_spread_bps=draw(st.floats(0.0, 20.0)), as_bps=draw(st.floats(0.0, 30.0)),
        sz_decimals=sz,
    )
    c = dict(
        levels_per_side=draw(mostly(st.integers(1, 30), st.integers(1, 64))),
        level_spacing_bps=draw(mostly(log_uniform(0.5, 20.0), log_uniform(0.02, 200.0))),
        spread_floor_bps=draw(st.floats(0.5, 20.0)),
        market_spread_cap_multiple=draw(st.sampled_from([0.0, 0.0, 2.0, 10.0])),
        kelly_fraction=draw(mostly(st.floats(0.1, 1.0), st.floats(0.01, 1.0))), alpha_touch=draw(st.floats(0.01, 0.6)),
        delta_char_bps=draw(st.floats(2.0, 60.0)), tau_min=draw(st.floats(1.0, 30.0)),
        max_order_notional=draw(st.sampled_from([0.0, 0.0, 50.0, 2000.0])),
        toxicity_widen=draw(st.floats(0.0, 3.0)), toxicity_pull=draw(st.floats(0.3, 1.0)),
        inventory_steps=draw(st.floats(1.0, 50.0)), maker_fee_bps=draw(st.floats(-0.5, 3.0)),
        fill_probability_model=model or draw(st.sampled_from(L.FILL_PROBABILITY_MODELS)),
    )
    c["tau_max"] = c["tau_min"] * draw(st.floats(1.0, 60.0))
    return MarketParams(**p), LadderConfig(**c)


def close(a, b, tol=1e-9):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


@pytest.mark.parametrize("model", L.FILL_PROBABILITY_MODELS)
@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_cython_agrees_with_the_pure_python_reference(model, data):
    p, c = data.draw(snapshots(model))
    assert c.fill_probability_model == model
    lad = compute_ladder(p, c)
    r = ref.compute_ladder_reference(p.to_dict(), c.to_dict())
    for key in ("c1_bps", "c2", "half_spread_bps", "quoted_half_spread_bps", "skew_bps", "q", "tau",
                "gamma_eff", "kelly_fraction"):
        close(getattr(lad, key), r[key])
    for s, name in ((0, "bids"), (1, "asks")):
        side, rs = lad.side(s), r[name]
        assert side.px_units.tolist() == rs["px_units"]
        assert side.sz_lots.tolist() == rs["sz_lots"]
        assert side.code.tolist() == rs["code"]
        for key in ("target_depth_bps", "depth_bps", "p_fill", "alpha", "edge_bps"):
            close(getattr(side, key), rs[key])
        close(side.kelly_f / 1e4, np.asarray(rs["kelly_f"]) / 1e4)
        close(side.target_notional, rs["target_notional"], 1e-9)
        for key in ("touch_depth_bps", "bankroll_usd", "kelly_target_usd", "position_room",
                    "notional_usd", "size_total", "margin_used"):
            close(getattr(side, key), rs[key])
        assert side.binding == rs["binding"] and side.pulled == rs["pulled"]
        assert side.n_quoted == rs["n_quoted"]


def opening_margin(prices, sizes, reducible, leverage):
    """Initial margin of the part of a side that opens exposure (fills go touch outward)."""
    left, opening = reducible, 0.0
    for px, sz in zip(prices, sizes):
        red = min(sz, left)
        left -= red
        opening += (sz - red) * px
    return opening / leverage


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshots())
def test_invariants_over_random_snapshots(snap):
    p, c = snap
    lad = compute_ladder(p, c)
    pxd, szd = p.px_decimals, p.sz_decimals
    bids, asks = lad.bids, lad.asks
    for side in (bids, asks):
        q = side.quoted
        for units, lots, reason in zip(side.px_units[q], side.sz_lots[q], np.array(side.reasons)[q]):
            assert price_ok(units, pxd)
            assert lots > 0
            assert notional(units, lots, pxd, szd) >= Decimal(10)
            assert reason in QUOTED_CODES
            if c.max_order_notional > 0:
                assert notional(units, lots, pxd, szd) <= Decimal(repr(c.max_order_notional))
        for r in np.array(side.reasons)[~q]:  # every missing level says why
            assert r not in ("none", "max_notional")
            if r == "margin":
                assert side.kelly_target_usd == 0.0
            if r == "position":
                assert side.position_room == 0.0
        assert (np.diff(side.target_depth_bps) > 0).all()
        assert (np.diff(side.depth_bps[q]) > 0).all()  # strictly outward among quoted levels
    bq, aq = bids.quoted, asks.quoted
    assert (bids.prices[bq] < p.mid).all() and (asks.prices[aq] > p.mid).all()
    assert (np.diff(bids.px_units[bq]) < 0).all() and (np.diff(asks.px_units[aq]) > 0).all()
    if bq.any() and aq.any():
        assert bids.px_units[bq][0] < asks.px_units[aq][0]
    # position room, including in-flight exposure
    eps = 1e-9 * p.max_position
    assert bids.sizes.sum() <= max(0.0, p.max_position - p.position - p.inflight_bid) + eps
    assert asks.sizes.sum() <= max(0.0, p.max_position + p.position - p.inflight_ask) + eps
    # margin: both ladders together within the exchange's available margin
    # (in-flight orders on a side are assumed to fill first, closing inventory before the ladder)
    mb = opening_margin(bids.prices[bq], bids.sizes[bq], max(0.0, -p.position - p.inflight_bid),
                        p.allowed_leverage)
    ma = opening_margin(asks.prices[aq], asks.sizes[aq], max(0.0, p.position - p.inflight_ask),
                        p.allowed_leverage)
    assert mb + ma <= p.available_margin * (1 + 1e-9) + 1e-9
    close(bids.margin_used + asks.margin_used, mb + ma, 1e-7)
    if p.tox_bid > c.toxicity_pull:
        assert not bq.any() and set(bids.reasons) == {"toxicity_gate"}


@settings(max_examples=300, deadline=None)
@given(snapshots())
def test_zero_position_is_symmetric_and_long_skews_down(snap):
    p, c = snap
    flat = p.replace(position=0.0, microprice=p.mid, tox_ask=p.tox_bid)
    lad = compute_ladder(flat, c)
    np.testing.assert_array_equal(lad.bids.target_depth_bps, lad.asks.target_depth_bps)
    long_ = compute_ladder(flat.replace(position=0.5 * p.max_position), c)
    assert long_.bids.touch_depth_bps >= lad.bids.touch_depth_bps
    if long_.bids.touch_depth_bps > c.spread_floor_bps:  # not held at the floor
        assert long_.bids.touch_depth_bps > lad.bids.touch_depth_bps
    assert long_.asks.touch_depth_bps <= lad.asks.touch_depth_bps
    if lad.asks.touch_depth_bps > c.spread_floor_bps:
        assert long_.asks.touch_depth_bps < lad.asks.touch_depth_bps
    for a, b, s in ((long_.bids, lad.bids, "bid"), (long_.asks, lad.asks, "ask")):
        ok = (a.px_units > 0) & (b.px_units > 0)
        assert (a.px_units[ok] <= b.px_units[ok]).all(), s  # quotes move lower on both sides


@settings(max_examples=300, deadline=None)
@given(snapshots())
def test_extreme_regime_is_never_tighter_or_bigger_than_normal(snap):
    p, c = snap
    flat = p.replace(position=0.0)
    normal = compute_ladder(flat.replace(regime=1), c)
    extreme = compute_ladder(flat.replace(regime=3), c)
    assert extreme.half_spread_bps > normal.half_spread_bps
    assert extreme.kelly_fraction <= normal.kelly_fraction
    for s in (0, 1):
        n, x = normal.side(s), extreme.side(s)
        assert x.touch_depth_bps >= n.touch_depth_bps
        if n.kelly_target_usd == normal.kelly_fraction * n.bankroll_usd:  # capacity-bound normal side
            assert x.kelly_target_usd <= n.kelly_target_usd * (1 + 1e-12)
