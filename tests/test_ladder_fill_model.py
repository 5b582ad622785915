"""strategy.fill_probability_model: the ladder's first-passage P, optionally with taker arrivals.

"first_passage" (the default) must stay exactly today's erfc(d / (sigma_bps sqrt(2 tau)));
"first_passage_takers" is 1 - (1 - P_fp) exp(-A exp(-kappa d) tau). Kernel-vs-reference
agreement over random snapshots for both models lives in test_ladder.py.
"""
from __future__ import annotations

import math
import random

import numpy as np
import pytest

from hlmm._core import ladder as L
from hlmm._core.ladder import LadderConfig, LadderInputError, MarketParams, compute_ladder
from hlmm.config import Config, ConfigError, StrategyConfig, load_config
from hlmm.engine.ladder_mapping import ladder_config_from_strategy

BTC = dict(mid=95000.0, microprice=95000.0, sigma=1e-4, kappa=0.08, A=0.5, gamma=0.05,
           max_position=0.05, available_margin=600.0, allowed_leverage=40, as_bps=8.0,
           sz_decimals=5)
TAKERS = "first_passage_takers"
SIDE_ARRAYS = ("target_depth_bps", "depth_bps", "p_fill", "alpha", "edge_bps", "kelly_f", "weight",
               "target_notional", "px_units", "sz_lots", "code")
SIDE_TOTALS = ("touch_depth_bps", "bankroll_usd", "kelly_target_usd", "position_room", "notional_usd",
               "size_total", "margin_used", "n_quoted", "binding", "pulled")


def fixed_snapshots(n: int = 200) -> list[tuple[MarketParams, dict]]:
    """A fixed, seeded set of markets and configs spanning coins, volatilities and margins."""
    rng = random.Random(20240611)
    out = []
    for _ in range(n):
        mid = 10.0 ** rng.uniform(-1.0, 5.0)
        sz = min(5, max(0, round(math.log10(mid))))
        max_pos = 10.0 ** rng.uniform(2.0, 5.0) / mid
        p = MarketParams(
            mid=mid, microprice=mid * (1.0 + rng.uniform(-0.003, 0.003)), sigma=10.0 ** rng.uniform(-5.0, -3.0),
            kappa=10.0 ** rng.uniform(-2.0, 0.5), A=10.0 ** rng.uniform(-2.0, 1.5),
            gamma=10.0 ** rng.uniform(-4.0, 0.0), regime=rng.randrange(4), tox_bid=rng.uniform(0.0, 0.7),
            tox_ask=rng.uniform(0.0, 0.7), position=max_pos * rng.uniform(-1.0, 1.0), max_position=max_pos,
            available_margin=10.0 ** rng.uniform(1.0, 5.0), allowed_leverage=float(rng.randrange(1, 51)),
            as_bps=rng.uniform(0.0, 30.0), sz_decimals=sz,
        )
        c = dict(levels_per_side=rng.randrange(1, 31), level_spacing_bps=10.0 ** rng.uniform(-1.0, 1.5),
                 delta_char_bps=rng.uniform(2.0, 60.0), tau_min=rng.uniform(1.0, 30.0), tau_max=600.0)
        out.append((p, c))
    return out


def assert_same_ladder(a, b) -> None:
    for key in ("status", "tau", "half_spread_bps", "skew_bps", "kelly_fraction"):
        assert getattr(a, key) == getattr(b, key), key
    for s in (0, 1):
        sa, sb = a.side(s), b.side(s)
        for key in SIDE_ARRAYS:
            np.testing.assert_array_equal(getattr(sa, key), getattr(sb, key), err_msg=key)
        for key in SIDE_TOTALS:
            assert getattr(sa, key) == getattr(sb, key), key


# --- the default is today's ladder, bit for bit ---------------------------------------------

def test_default_model_is_first_passage_and_bit_identical():
    assert LadderConfig().fill_probability_model == "first_passage"
    assert StrategyConfig().fill_probability_model == "first_passage"
    for p, c in fixed_snapshots():
        default = compute_ladder(p, LadderConfig(**c))
        explicit = compute_ladder(p, LadderConfig(**c, fill_probability_model="first_passage"))
        assert_same_ladder(default, explicit)
        # ... and that P is exactly the first-passage formula at every level
        sd = default.sigma_bps * math.sqrt(2.0 * default.tau)
        for side in (default.bids, default.asks):
            assert side.p_fill.tolist() == [math.erfc(d / sd) for d in side.depth_bps.tolist()]


def test_models_by_name_and_number_round_trip():
    assert L.FILL_PROBABILITY_MODELS == ("first_passage", "first_passage_takers")
    c = LadderConfig(fill_probability_model=1)
    assert c.fill_probability_model == TAKERS and c == LadderConfig(fill_probability_model=TAKERS)
    assert LadderConfig.from_dict(c.to_dict()) == c
    assert L.CONFIG_FIELDS[-1][0] == "fill_probability_model"   # appended: earlier positions unchanged
    assert L.CONFIG_FIELDS[17][0] == "maker_fee_bps"


@pytest.mark.parametrize("value", ["takers", "", 2, -1, None, True, 1.0])
def test_bad_model_names_the_allowed_values(value):
    with pytest.raises(LadderInputError) as info:
        LadderConfig(fill_probability_model=value)
    assert str(info.value) == ("LadderConfig.fill_probability_model must be one of first_passage, "
                               f"first_passage_takers, got {value!r}")


# --- the taker model ----------------------------------------------------------------------

def test_taker_model_matches_its_closed_form_and_bounds():
    for p, c in fixed_snapshots(100):
        fp = compute_ladder(p, LadderConfig(**c))
        tk = compute_ladder(p, LadderConfig(**c, fill_probability_model=TAKERS))
        assert tk.tau == fp.tau
        for s in (0, 1):
            a, b = fp.side(s), tk.side(s)
            np.testing.assert_array_equal(a.depth_bps, b.depth_bps)   # the model changes P, not prices
            d = b.depth_bps
            expected = 1.0 - (1.0 - a.p_fill) * np.exp(-p.A * np.exp(-p.kappa * d) * tk.tau)
            np.testing.assert_allclose(b.p_fill, expected, rtol=1e-12, atol=1e-15)
            assert (b.p_fill >= a.p_fill).all()
            assert ((b.p_fill >= 0.0) & (b.p_fill <= 1.0)).all()
            np.testing.assert_array_equal(b.weight, b.p_fill * b.kelly_f)


def pinned(**changes) -> tuple[MarketParams, LadderConfig]:
    """A BTC snapshot whose depths sit on a 40 bps floor (A and kappa do not move them) and a 2 s
    horizon, so takers add a visible, unsaturated probability."""
    cfg = LadderConfig(spread_floor_bps=40.0, tau_min=1.0, tau_max=2.0, fill_probability_model=TAKERS)
    return MarketParams(**{**BTC, **changes}), cfg


def test_taker_probability_rises_with_A():
    ladders = [compute_ladder(*pinned(A=a)) for a in (0.1, 0.5, 2.5, 12.5)]
    for lo, hi in zip(ladders, ladders[1:]):
        for s in (0, 1):
            np.testing.assert_array_equal(lo.side(s).depth_bps, hi.side(s).depth_bps)
            assert (hi.side(s).p_fill > lo.side(s).p_fill).all()


def test_taker_probability_falls_with_kappa_and_depth():
    ladders = [compute_ladder(*pinned(kappa=k)) for k in (0.02, 0.04, 0.08, 0.16)]
    for lo, hi in zip(ladders, ladders[1:]):
        for s in (0, 1):
            np.testing.assert_array_equal(lo.side(s).depth_bps, hi.side(s).depth_bps)
            assert (hi.side(s).p_fill < lo.side(s).p_fill).all()
    for lad in ladders:
        for side in (lad.bids, lad.asks):
            assert (np.diff(side.p_fill) < 0).all()     # deeper levels fill less


def test_taker_model_adds_probability_the_first_passage_misses():
    p, cfg = pinned()
    fp = compute_ladder(p, cfg.replace(fill_probability_model="first_passage"))
    tk = compute_ladder(p, cfg)
    d0 = tk.bids.depth_bps[0]
    lam = p.A * math.exp(-p.kappa * d0)                       # takers per second at the touch level
    assert tk.bids.p_fill[0] == pytest.approx(1.0 - (1.0 - fp.bids.p_fill[0]) * math.exp(-lam * 2.0), rel=1e-12)
    assert tk.bids.p_fill[0] > 2.0 * fp.bids.p_fill[0]        # at 40 bps in 2 s diffusion barely reaches


# --- config -> mapping -> ladder ------------------------------------------------------------

def test_strategy_config_reaches_the_ladder(tmp_path):
    path = tmp_path / "hlmm.toml"
    path.write_text(f'[strategy]\nfill_probability_model = "{TAKERS}"\n', encoding="utf-8")
    cfg = load_config(path)
    assert cfg.strategy.fill_probability_model == TAKERS
    assert ladder_config_from_strategy(cfg.strategy).fill_probability_model == TAKERS
    assert ladder_config_from_strategy(Config().strategy).fill_probability_model == "first_passage"


def test_bad_strategy_value_is_a_config_error_naming_the_choices(tmp_path):
    path = tmp_path / "hlmm.toml"
    path.write_text('[strategy]\nfill_probability_model = "takers"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == (f'{path}:2: strategy.fill_probability_model = "takers": must be one of '
                               '"first_passage", "first_passage_takers"')
    assert len(info.value.issues) == 1
