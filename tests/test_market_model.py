"""hlmm.engine.market_model: the per-asset model behind `hlmm trade` and `hlmm ladder-preview`.

Real data: l2Book frames and /info answers from tests/fixtures, 9 minutes of real Hyperliquid BTC
bbo + trades (djienne capture), the real Jan-2026 perp meta (margin tables). Synthetic: GBM
candles with a known sigma (tests/synthetic.py).
"""
from __future__ import annotations

import csv
import dataclasses
import json
import math
import re
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hlmm._core.book import BookError, CrossedBookError, TooManyDecimalsError, WrongChannelError
from hlmm._core.ladder import compute_ladder
from hlmm.config import Config, KellyRegimeMultipliers, RiskConfig, StrategyConfig
from hlmm.engine.account_state import AccountState, AccountStateError
from hlmm.engine.market_model import (
    ALPHA_TOUCH_MIN,
    MarketModel,
    MarketNotReady,
    Priors,
    ladder_config_from_strategy,
    time_of_day_multiplier,
    toxicity_for_ladder,
)
from hlmm.errors import InputError
from hlmm.exchange.assets import AssetRegistry
from synthetic import gbm

FX = Path(__file__).parent / "fixtures"
REG = AssetRegistry.from_meta(json.loads((FX / "meta_perp_main_227_assets.json").read_text()))
BTC, HYPE = REG["BTC"], REG["HYPE"]


def _btc_info_book() -> dict:
    """Real REST l2Book BTC 20x20 (2026-05-29), unwrapped from the recorder's envelope."""
    return json.loads((FX / "l2book_btc_rest_liupingchao_2026-05-29.jsonl").read_text())["raw_payload"]


def _hype_ws_frame() -> tuple[int, bytes]:
    line = (FX / "l2book_hype_ws_hftbacktest_3frames.txt").read_text().splitlines()[2]
    ts, frame = line.split(" ", 1)
    return int(ts), frame.encode()


def _btc_ws_lines() -> list[tuple[int, str]]:
    out = []
    for line in (FX / "l2book_btc_ws_hftbacktest_2025-01-26_head.txt").read_text().splitlines():
        ts, frame = line.split(" ", 1)
        out.append((int(ts), frame))
    return out


def _dec(x: str) -> str:
    return format(Decimal(x), "f")


def _replay_btc(model: MarketModel) -> None:
    """Feed 9 minutes of real BTC bbo (as one-level books) and trades, in exchange-time order."""
    events = [(int(r["exchange_ms"]), 1, r) for r in csv.DictReader(open(FX / "btc_bbo_djienne_2025-09-03.csv"))]
    events += [(int(r["exchange_timestamp"]), 0, r)
               for r in csv.DictReader(open(FX / "btc_trades_djienne_2025-09-03.csv"))]
    events.sort(key=lambda e: e[:2])
    for t, kind, r in events:
        if kind == 0:
            model.on_trades([{"coin": "BTC", "side": "B" if r["side"] == "buy" else "A", "px": r["price"],
                              "sz": _dec(r["size"]), "time": t, "tid": int(r["trade_id"])}])
        else:
            model.on_book({"coin": "BTC", "time": t, "levels": [
                [{"px": r["bid_px"], "sz": _dec(r["bid_sz"]), "n": 1}],
                [{"px": r["ask_px"], "sz": _dec(r["ask_sz"]), "n": 1}]]})


def _candles(t_ms: np.ndarray, px: np.ndarray, interval_ms: int = 60_000) -> list[dict]:
    """1-minute candles (Hyperliquid's shape) from a price path sampled every second."""
    out = []
    start = int(t_ms[0]) - int(t_ms[0]) % interval_ms
    edges = np.arange(start, int(t_ms[-1]) + interval_ms, interval_ms)
    for t0 in edges:
        sel = (t_ms >= t0) & (t_ms < t0 + interval_ms)
        if not sel.any():
            continue
        p = px[sel]
        out.append({"t": int(t0), "T": int(t0 + interval_ms - 1), "s": "BTC", "i": "1m", "o": f"{p[0]:.1f}",
                    "c": f"{p[-1]:.1f}", "h": f"{p.max():.1f}", "l": f"{p.min():.1f}", "v": "1.0", "n": 10})
    return out


# ------------------------------------------------------------------ config mapping


def test_ladder_config_maps_every_strategy_key():
    s = StrategyConfig(levels_per_side=7, level_spacing_bps=2.5, spread_floor_bps=9.0, market_spread_cap_multiple=3.0,
                       kelly_fraction=0.3, kelly_fraction_min=0.1, kelly_fraction_max=0.6,
                       kelly_regime_multipliers=KellyRegimeMultipliers(2.0, 1.0, 0.4, 0.2), alpha_touch=0.3,
                       delta_char_bps=12.0, tau_min_s=5.0, tau_max_s=300.0, max_order_notional_usd=75.0,
                       toxicity_widen_threshold=0.4, toxicity_pull_threshold=0.7)
    c = ladder_config_from_strategy(s)
    assert (c.levels_per_side, c.level_spacing_bps, c.spread_floor_bps, c.market_spread_cap_multiple) == (7, 2.5, 9.0, 3.0)
    assert (c.kelly_fraction, c.kelly_min, c.kelly_max) == (0.3, 0.1, 0.6)
    assert c.kelly_regime_mult == (2.0, 1.0, 0.4, 0.2)
    assert (c.alpha_touch, c.delta_char_bps, c.tau_min, c.tau_max, c.max_order_notional) == (0.3, 12.0, 5.0, 300.0, 75.0)
    assert c.toxicity_pull == pytest.approx((0.7 - 0.4) / 0.6)
    assert ladder_config_from_strategy(s, levels_per_side=3).levels_per_side == 3
    assert ladder_config_from_strategy(StrategyConfig(alpha_touch=0.0)).alpha_touch == ALPHA_TOUCH_MIN


@settings(max_examples=300, deadline=None)
@given(score=st.floats(0, 1), widen=st.floats(0, 0.95), gap=st.floats(0.01, 1))
def test_a_side_is_pulled_exactly_when_its_score_exceeds_the_pull_threshold(score, widen, gap):
    pull = min(1.0, widen + gap)
    strategy = StrategyConfig(toxicity_widen_threshold=widen, toxicity_pull_threshold=pull)
    config = ladder_config_from_strategy(strategy)
    t = toxicity_for_ladder(score, widen)
    assert 0.0 <= t <= 1.0
    if score <= widen:
        assert t == 0.0
    if score <= pull:
        assert not t > config.toxicity_pull
    elif score > pull + 1e-12:
        assert t > config.toxicity_pull


def test_time_of_day_multiplier_uses_utc_hours():
    s = StrategyConfig(toxic_hours_utc=(6, 14), toxic_gamma_multiplier=2.5)
    day = 1_756_857_600_000  # 2025-09-03 00:00 UTC
    assert time_of_day_multiplier(day + 6 * 3_600_000 + 1, s) == 2.5
    assert time_of_day_multiplier(day + 6 * 3_600_000 - 1, s) == 1.0
    assert time_of_day_multiplier(day + 14 * 3_600_000 + 59 * 60_000, s) == 2.5
    assert time_of_day_multiplier(day + 15 * 3_600_000, s) == 1.0


# ------------------------------------------------------------------ book input


def test_on_book_takes_raw_frames_info_answers_and_decoded_dicts():
    ts, frame = _hype_ws_frame()
    m = MarketModel(HYPE)
    assert m.on_book(frame, recv_ns=ts) is True
    assert (m.book.best_bid(), m.book.best_ask()) == (21.277, 21.306)
    assert m.book.recv_ns == ts
    m2 = MarketModel(HYPE)
    assert m2.on_book(json.loads(frame)) is True                      # decoded WS envelope
    assert m2.book.mid() == m.book.mid()
    m3 = MarketModel(BTC)
    book = _btc_info_book()
    assert m3.on_book(json.dumps(book)) is True                       # /info answer as text
    assert m3.book.best_bid() == 73681.0 and m3.book.best_ask() == 73682.0
    assert m3.book_updates == 1 and m3.first_ms == book["time"]


def test_stale_and_bad_books_leave_the_model_unchanged():
    lines = [frame for _, frame in _btc_ws_lines() if '"l2Book"' in frame]
    m = MarketModel(BTC)
    assert m.on_book(lines[2]) is True
    before = (m.book.mid(), m.book_updates, m.volatility.samples, m.microprice.last_ms)
    assert m.on_book(lines[0]) is False                               # older snapshot: ignored
    with pytest.raises(TooManyDecimalsError):
        m.on_book(re.sub(r'"sz":"[0-9.]+"', '"sz":"1.000001"', lines[3], count=1))
    with pytest.raises(WrongChannelError):
        m.on_book({"channel": "trades", "data": []})
    with pytest.raises(BookError):
        m.on_book({"coin": "BTC", "time": 1, "levels": "no"})
    with pytest.raises(TypeError):
        m.on_book(12345)
    assert (m.book.mid(), m.book_updates, m.volatility.samples, m.microprice.last_ms) == before


def test_a_crossed_book_raises_and_quote_needs_a_two_sided_book():
    m = MarketModel(BTC)
    with pytest.raises(MarketNotReady, match="no two-sided book"):
        m.quote(AccountState(0, 100))
    with pytest.raises(CrossedBookError):
        m.on_book({"coin": "BTC", "time": 5, "levels": [[{"px": "100001.0", "sz": "1.0"}], [{"px": "100000.0", "sz": "1.0"}]]})
    m.on_book({"coin": "BTC", "time": 5, "levels": [[{"px": "100000.0", "sz": "1.0"}], []]})
    with pytest.raises(MarketNotReady, match="1 bid and 0 ask"):
        m.params(AccountState(0, 100))


# ------------------------------------------------------------------ trades


def test_trades_dedup_by_tid_skip_other_coins_and_count_malformed_prints():
    m = MarketModel(BTC)
    m.on_book(_btc_info_book())
    t = _btc_info_book()["time"]
    good = {"coin": "BTC", "side": "B", "px": "73682.0", "sz": "0.01", "time": t + 5, "tid": 1}
    used = m.on_trades([good, dict(good), {**good, "coin": "ETH", "tid": 2}, {**good, "side": "X", "tid": 3},
                        {**good, "px": "-1", "tid": 4}, {**good, "sz": "abc", "tid": 5}, "not a dict",
                        {**good, "tid": 6, "side": "A", "px": "73681.0", "time": t + 6}])
    assert used == 2
    assert m.trades_duplicate == 1 and m.trades_rejected == 5
    assert m.flow.trades == 2 and m.intensity.total == 2


def test_prints_before_the_first_book_feed_flow_but_not_intensity():
    m = MarketModel(BTC)
    book = _btc_info_book()
    early = {"coin": "BTC", "side": "B", "px": "73690.0", "sz": "0.5", "time": book["time"] - 1000, "tid": 10}
    late = {**early, "time": book["time"] + 1, "tid": 11}
    m.warm_from_history([], [late, early], book)
    assert m.flow.trades == 2
    assert m.intensity.total == 1          # only the print after the book was measured against a mid


def test_each_print_is_measured_beyond_the_half_spread_of_the_book_it_printed_into():
    m = MarketModel(BTC)
    m.on_book({"coin": "BTC", "time": 1000, "levels": [[{"px": "100000.0", "sz": "1.0", "n": 1}],
                                                      [{"px": "100004.0", "sz": "1.0", "n": 1}]]})
    mid, half = 100002.0, 2.0 / 100002.0 * 1e4                 # the touch is 0.2 bp from the mid
    trade = {"coin": "BTC", "side": "B", "sz": "0.1", "time": 1001}
    m.on_trades([{**trade, "px": "100004.0", "tid": 1}])       # at the touch: no depth beyond the floor
    m.on_trades([{**trade, "px": "100014.0", "tid": 2, "time": 1002}])
    assert m.intensity.kappa_ask == pytest.approx(2 / ((100014.0 - mid) / mid * 1e4 - half), rel=1e-9)
    assert m.intensity.mean_floor_bps == pytest.approx(half, rel=1e-12) and m.intensity.inside_delta0 == 0
    # a wider book: the next print's floor is its half-spread (1 bp), not the first book's
    m.on_book({"coin": "BTC", "time": 2000, "levels": [[{"px": "99992.0", "sz": "1.0", "n": 1}],
                                                      [{"px": "100012.0", "sz": "1.0", "n": 1}]]})
    m.on_trades([{**trade, "side": "A", "px": "99992.0", "tid": 3, "time": 2001}])
    assert m.intensity.kappa_bid == 0.0 and m.intensity.samples == 3
    assert m.intensity.mean_floor_bps == pytest.approx((2 * half + 10.0 / 100002.0 * 1e4) / 3, rel=1e-12)


# ------------------------------------------------------------------ real BTC replay


def test_real_btc_replay_warms_every_estimator_and_quotes_from_estimates():
    m = MarketModel(BTC)
    _replay_btc(m)
    assert m.trades_duplicate == 30        # the capture holds 30 prints twice (same tid, same everything)
    w = m.warmup_status()
    status = {e.name: e for e in w.estimators}
    for name in ("volatility", "intensity", "flow", "microprice"):
        assert status[name].ready and status[name].source == "live", status[name]
    assert w.ready_to_quote and w.cold == ()
    params, ladder, why = m.quote(AccountState(0.0, 1000.0))
    assert why.sigma_source == "estimate" and why.intensity_source == "estimate" and not why.cold
    assert why.sigma_bps == pytest.approx(m.volatility.sigma_bps)
    assert 0.3 < why.sigma_bps < 1.5                                # ~0.69 bps/sqrt(s) on this sample
    assert 1.0 < why.kappa < 8.0 and why.A == pytest.approx(m.intensity.A / 2)
    assert params.microprice == m.microprice.microprice != params.mid
    assert abs(params.microprice / params.mid - 1) < 1e-3
    assert ladder.status == "ok" and ladder.bids.n_quoted > 0 and ladder.asks.n_quoted > 0
    # the GLFT spread is tiny on BTC: the 8 bps floor binds
    assert ladder.bids.touch_depth_bps >= 8.0 and ladder.asks.touch_depth_bps >= 8.0


def test_equal_inputs_give_equal_ladders():
    a, b = MarketModel(BTC), MarketModel(BTC)
    _replay_btc(a)
    _replay_btc(b)
    acct = AccountState(0.0003, 500.0, inflight_bid=0.0001)
    pa, la, _ = a.quote(acct)
    pb, lb, _ = b.quote(acct)
    assert pa == pb and la.to_dict() == lb.to_dict()
    # quoting again at the same instant samples toxicity at the same time: same ladder
    assert a.quote(acct)[1].to_dict() == la.to_dict()
    # without the warm-up report (the engine's hot loop) the snapshot and the ladder are the same
    pc, lc, why = a.quote(acct, warmup=False)
    assert pc == pa and lc.to_dict() == la.to_dict() and why.warmup is None and why.cold == ()
    assert json.loads(json.dumps(why.to_dict()))["warmup"] is None


# ------------------------------------------------------------------ history warm-up


def _synthetic_history(seed: int, sigma: float, burst: float) -> tuple[list[dict], dict, int]:
    """3 hours of a GBM sampled every second (the last 10 minutes at ``burst`` x sigma) as
    1-minute candles, plus a one-level l2Book at the last second."""
    n = 3 * 3600
    path = np.full(n, sigma)
    path[-600:] = burst * sigma
    t, px = gbm(n, sigma, mean_dt_ms=1000, s0=100_000.0, seed=seed, irregular=False, sigma_path=path)
    book = {"coin": "BTC", "time": int(t[-1]), "levels": [[{"px": f"{px[-1] - 1:.1f}", "sz": "1.0", "n": 1}],
                                                          [{"px": f"{px[-1] + 1:.1f}", "sz": "1.0", "n": 1}]]}
    return _candles(t, px), book, int(t[-1])


def test_warm_from_candles_recovers_sigma_and_regime():
    sigma = 1.5e-4                                   # 1.5 bps per sqrt(second)
    fast_burst, fast_calm, slow_calm, high, calm = [], [], [], 0, 0
    seeds = range(30)
    for seed in seeds:
        candles, book, _ = _synthetic_history(seed, sigma, 4.0)
        assert candles[-1]["T"] > book["time"]       # the forming candle is left to the book's mid
        m = MarketModel(BTC)
        m.warm_from_history(candles, [], book)
        fast_burst.append(m.volatility.sigma_bps)
        high += m.volatility.regime_name in ("high", "extreme")
        candles, book, now = _synthetic_history(100 + seed, sigma, 1.0)
        c = MarketModel(BTC)
        c.warm_from_history(candles, [], None, now_ms=now)   # no book: now_ms bounds the forming candle
        fast_calm.append(c.volatility.sigma_bps)
        slow_calm.append(c.volatility.sigma_baseline * 1e4)
        calm += c.volatility.regime_name in ("low", "normal")
    # unbiased in variance; the fast sigma rests on the last few 1-minute returns, so single runs are noisy
    assert np.sqrt(np.mean(np.square(fast_burst))) == pytest.approx(6.0, rel=0.15)
    assert np.sqrt(np.mean(np.square(fast_calm))) == pytest.approx(1.5, rel=0.15)
    assert np.median(slow_calm) == pytest.approx(1.5, rel=0.1)
    assert high >= 0.7 * len(seeds) and calm >= 0.7 * len(seeds)


def test_history_warm_up_feeds_toxicity_and_is_reported_as_history():
    candles, book, _ = _synthetic_history(3, 1.5e-4, 1.0)
    m = MarketModel(BTC)
    m.warm_from_history(candles, [], json.dumps(book).encode())      # raw bytes work like the dict
    vol = m.volatility
    # 181 candles: the last is forming; 180 closes give 179 returns, the book's mid one more
    assert vol.ready and vol.samples == len(candles) - 1
    assert m.toxicity.ready and m.toxicity.cusum.samples == len(candles) - 2
    status = {e.name: e for e in m.warmup_status().estimators}
    assert status["volatility"].source == "history" and status["toxicity"].source == "history"
    _, _, why = m.quote(AccountState(0, 1000))
    assert why.regime == vol.regime_name and why.regime_source == "estimate"
    assert why.regime_gamma_mult == ladder_config_from_strategy(m.strategy).gamma_regime_mult[vol.regime]
    m.on_book({**book, "time": book["time"] + 1500})
    assert {e.name: e for e in m.warmup_status().estimators}["volatility"].source == "history+live"


def test_bad_candles_are_reported_by_index():
    m = MarketModel(BTC)
    with pytest.raises(InputError, match="candle 1: expected an object with 'T'"):
        m.warm_from_history([{"T": 1, "c": "100.0"}, {"t": 2}])
    with pytest.raises(InputError, match="candle 0: close price must be > 0"):
        m.warm_from_history([{"T": 1, "c": "0"}])


# ------------------------------------------------------------------ snapshot inputs


def _model_with_book(**risk) -> MarketModel:
    m = MarketModel(BTC, StrategyConfig(), RiskConfig(**risk))
    m.on_book(_btc_info_book())
    return m


def test_available_margin_is_passed_as_is_even_with_a_position():
    m = _model_with_book(max_position_usd=1000.0)
    params = m.params(AccountState(position=0.01, available_margin=123.45))
    assert params.available_margin == 123.45 and params.position == 0.01


def test_leverage_is_the_allowed_tier_leverage_capped_by_the_configured_one():
    mid = 73681.5
    assert _model_with_book(leverage=3).params(AccountState(0, 100)).allowed_leverage == 3
    # risk.leverage above the asset's max: the tier (40x for BTC below $150M) wins
    assert _model_with_book(leverage=50).params(AccountState(0, 100)).allowed_leverage == 40
    # the tier is read at the largest notional the ladder can reach (max position): above $150M, 20x
    big = _model_with_book(leverage=50, max_position_usd=200e6)
    assert big.params(AccountState(0, 1e6)).allowed_leverage == 20
    # ... or at the position's notional when that is larger
    m = _model_with_book(leverage=50, max_position_usd=1000.0)
    assert m.params(AccountState(160e6 / mid, 1e6)).allowed_leverage == 20
    assert m.params(AccountState(140e6 / mid, 1e6)).allowed_leverage == 40


def test_max_position_spread_time_of_day_and_toxicity_inputs():
    m = MarketModel(BTC, StrategyConfig(toxic_hours_utc=(8,), toxic_gamma_multiplier=3.0,
                                        toxicity_widen_threshold=0.1, toxicity_pull_threshold=0.9),
                    RiskConfig(max_position_usd=500.0))
    book = _btc_info_book()
    m.on_book(book)
    assert (book["time"] // 3_600_000) % 24 == 8        # 2026-05-29 08:51 UTC
    params, ladder, why = m.quote(AccountState(0, 1000))
    assert params.max_position == pytest.approx(500.0 / 73681.5)
    assert params.market_spread_bps == pytest.approx(1.0 / 73681.5 * 1e4)
    assert params.tod_gamma_mult == 3.0 and why.tod_gamma_mult == 3.0
    assert any("toxic hour (UTC 08)" in n for n in why.notes)
    assert ladder.gamma_eff == pytest.approx(0.3 * 1.5 * 3.0)     # base x regime (prior: high) x time of day
    assert params.tox_bid == pytest.approx(toxicity_for_ladder(m.toxicity.bid_score, 0.1))
    assert params.tox_ask == pytest.approx(toxicity_for_ladder(m.toxicity.ask_score, 0.1))
    assert m.params(AccountState(0, 1000), now_ms=book["time"] + 3_600_000).tod_gamma_mult == 1.0


def test_a_cold_model_uses_the_documented_priors():
    pr = Priors()
    m = _model_with_book()
    params, _, why = m.quote(AccountState(0, 1000))
    assert params.sigma == pytest.approx(pr.sigma_bps * 1e-4)
    assert (params.kappa, params.A, params.as_bps) == (pr.kappa, pr.A, pr.as_bps)
    assert why.regime == "high" and why.regime_source == "prior"
    assert params.microprice == params.mid
    assert set(why.cold) == set(why.warmup.cold) == {"volatility", "intensity", "microprice"}
    assert why.to_dict()["cold"] is True and why.to_dict()["cold_estimators"] == list(why.cold)
    assert len(why.notes) == 4
    m.set_adverse_selection(4.0, "markouts")
    assert m.params(AccountState(0, 1000)).as_bps == 4.0
    with pytest.raises(InputError):
        Priors(sigma_bps=0)
    with pytest.raises(InputError):
        Priors(regime="wild")
    with pytest.raises(InputError):
        m.set_adverse_selection(float("nan"))


def test_a_long_position_skews_the_ladder_down():
    m = _model_with_book(max_position_usd=2000.0)
    _, flat, _ = m.quote(AccountState(0, 5000))
    _, long_, why = m.quote(AccountState(0.01, 5000))
    assert why.skew_bps > 0 and why.q > 0
    assert long_.bids.touch_depth_bps > flat.bids.touch_depth_bps
    assert long_.asks.touch_depth_bps <= flat.asks.touch_depth_bps
    assert long_.bids.prices[0] < flat.bids.prices[0]


def test_quote_is_compute_ladder_of_params_with_the_mapped_config():
    m = _model_with_book()
    params, ladder, _ = m.quote(AccountState(0.0005, 250))
    assert compute_ladder(params, ladder_config_from_strategy(m.strategy)).to_dict() == ladder.to_dict()
    assert m.ladder_config() == ladder_config_from_strategy(m.strategy)
    other = StrategyConfig(levels_per_side=9)
    assert m.ladder_config(other).levels_per_side == 9


def test_from_config_applies_per_coin_overrides():
    cfg = Config.from_dict({"assets": {"coins": ["BTC", "ETH"], "overrides": {
        "ETH": {"strategy": {"gamma": 0.9}, "risk": {"max_position_usd": 40.0}}}}})
    eth = MarketModel.from_config(cfg, REG["ETH"])
    assert eth.strategy.gamma == 0.9 and eth.risk.max_position_usd == 40.0
    assert MarketModel.from_config(cfg, BTC).strategy.gamma == cfg.strategy.gamma
    sol = MarketModel.from_config(cfg, REG["SOL"])              # not traded: the base sections
    assert sol.strategy == cfg.strategy and sol.risk == cfg.risk


def test_warmup_status_reports_requirements_and_sources():
    m = _model_with_book()
    w = m.warmup_status()
    assert not w.ready_to_quote and w.book_updates == 1
    assert w.required == {"min_seconds": 60.0, "min_trades": 20, "min_book_updates": 60}
    d = w.to_dict()
    assert d["estimators"]["microprice"]["source"] == "mid"
    assert d["estimators"]["volatility"]["source"] == "prior"
    assert d["estimators"]["flow"]["source"] == "warming"
    assert "0/50 prints" in d["estimators"]["intensity"]["missing"]
    json.dumps(d)


# ------------------------------------------------------------------ account state


def test_account_state_validation_and_hypothetical_margin():
    with pytest.raises(AccountStateError, match="available_margin must be >= 0"):
        AccountState(0, -1)
    with pytest.raises(AccountStateError, match="position must be finite"):
        AccountState(float("inf"), 1)
    with pytest.raises(AccountStateError, match="inflight_bid must be a number"):
        AccountState(0, 1, inflight_bid="x")
    a = AccountState.hypothetical(1000.0, -0.01, 80_000.0, 4)
    assert a.available_margin == pytest.approx(1000 - 0.01 * 80_000 / 4) and a.position == -0.01
    assert AccountState.hypothetical(100.0, 1.0, 80_000.0, 4).available_margin == 0.0


def test_account_state_from_a_real_sim_clearinghouse_answer():
    from hlmm.exchange.http import InfoClient
    from hlmm.sim.runner import SimThread

    with SimThread(seed=1, assets=("BTC",)) as sim:
        state = InfoClient(sim.url).clearinghouse_state(sim.demo.address)
    a = AccountState.from_clearinghouse(state, "BTC")
    assert a.position == 0.0 and a.available_margin == float(state["withdrawable"]) == 100_000.0
    assert a.account_value == 100_000.0
    docs_example = {"assetPositions": [{"type": "oneWay", "position": {"coin": "ETH", "szi": "0.0335"}}],
                    "marginSummary": {"accountValue": "13109.482328"}, "withdrawable": "13104.514502"}
    e = AccountState.from_clearinghouse(docs_example, "ETH", inflight_ask=0.01)
    assert (e.position, e.available_margin, e.inflight_ask) == (0.0335, 13104.514502, 0.01)
    with pytest.raises(AccountStateError, match="withdrawable"):
        AccountState.from_clearinghouse({"assetPositions": []}, "ETH")
    assert dataclasses.asdict(e) == e.to_dict()


def test_spot_assets_are_refused():
    spot = dataclasses.replace(BTC, is_spot=True, name="PURR/USDC")
    with pytest.raises(InputError, match="spot pair"):
        MarketModel(spot)


def test_funding_feeds_toxicity_and_is_validated():
    m = _model_with_book()
    m.on_funding(0.0001)
    _, _, why = m.quote(AccountState(0, 100))
    assert why.funding_rate == 0.0001
    assert m.toxicity.features(-1)[5] == pytest.approx(1.0) and m.toxicity.features(1)[5] == pytest.approx(-1.0)
    with pytest.raises(InputError):
        m.on_funding(math.nan)
