"""How ``[strategy]`` becomes the ladder's inputs: the one mapping from hlmm's config to ``hlmm._core.ladder``.

* :func:`ladder_config_from_strategy`: ``StrategyConfig`` -> ``LadderConfig``;
* :func:`toxicity_for_ladder`: an estimator toxicity score -> the ladder's toxicity scale, so a side
  is widened above ``toxicity_widen_threshold`` and pulled exactly above ``toxicity_pull_threshold``;
* :func:`time_of_day_multiplier`: ``toxic_gamma_multiplier`` during ``toxic_hours_utc``.

``hlmm.engine.market_model`` re-exports all three; both ``hlmm trade`` and ``hlmm ladder-preview``
go through them.
"""
from __future__ import annotations

import math

from hlmm._core.ladder import LadderConfig
from hlmm.config import StrategyConfig

ALPHA_TOUCH_MIN = 1e-6          # strategy.alpha_touch = 0 ("no informed flow") as the ladder's positive minimum
TOXICITY_WIDEN = 1.0            # at a ladder toxicity of 1 the half-spread doubles
HOUR_MS = 3_600_000



def ladder_config_from_strategy(strategy: StrategyConfig, levels_per_side: int | None = None) -> LadderConfig:
    """The ladder's configuration from ``[strategy]`` (the one place the two are mapped).

    Direct: levels_per_side, level_spacing_bps, spread_floor_bps, market_spread_cap_multiple,
    kelly_fraction, kelly_fraction_min/max -> kelly_min/max, kelly_regime_multipliers ->
    kelly_regime_mult, alpha_touch (0 -> ALPHA_TOUCH_MIN), delta_char_bps, tau_min_s/tau_max_s,
    max_order_notional_usd, fill_probability_model.  Toxicity: the ladder widens by ``1 + TOXICITY_WIDEN * t`` and pulls
    above ``toxicity_pull`` on the rescaled score t of :func:`toxicity_for_ladder`, so its pull
    threshold is the config's pull threshold on that scale.  The ladder's gamma_regime_mult,
    inventory_steps and maker_fee_bps (1.5 bps, Hyperliquid's base maker fee) keep their
    defaults: the config has no keys for them.
    """
    k = strategy.kelly_regime_multipliers
    return LadderConfig(
        levels_per_side=strategy.levels_per_side if levels_per_side is None else levels_per_side,
        level_spacing_bps=strategy.level_spacing_bps,
        spread_floor_bps=strategy.spread_floor_bps,
        market_spread_cap_multiple=strategy.market_spread_cap_multiple,
        kelly_fraction=strategy.kelly_fraction,
        kelly_min=strategy.kelly_fraction_min,
        kelly_max=strategy.kelly_fraction_max,
        kelly_regime_mult=(k.low, k.normal, k.high, k.extreme),
        alpha_touch=max(strategy.alpha_touch, ALPHA_TOUCH_MIN),
        delta_char_bps=strategy.delta_char_bps,
        tau_min=strategy.tau_min_s,
        tau_max=strategy.tau_max_s,
        max_order_notional=strategy.max_order_notional_usd,
        fill_probability_model=strategy.fill_probability_model,
        toxicity_widen=TOXICITY_WIDEN,
        toxicity_pull=toxicity_for_ladder(strategy.toxicity_pull_threshold, strategy.toxicity_widen_threshold),
    )


def toxicity_for_ladder(score: float, widen_threshold: float) -> float:
    """An estimator score in [0, 1] on the ladder's scale: ``(s - w) / (1 - w)`` clamped to [0, 1].

    Below the widen threshold w nothing happens; above it the side widens linearly; the ladder's
    pull threshold is the config's pull threshold mapped the same way, so a side is pulled
    exactly when its score exceeds ``toxicity_pull_threshold``.
    """
    if not math.isfinite(score):
        return 0.0
    return min(1.0, max(0.0, (score - widen_threshold) / (1.0 - widen_threshold)))


def time_of_day_multiplier(now_ms: int, strategy: StrategyConfig) -> float:
    """``strategy.toxic_gamma_multiplier`` during ``strategy.toxic_hours_utc``, else 1."""
    hour = (now_ms // HOUR_MS) % 24
    return float(strategy.toxic_gamma_multiplier) if hour in strategy.toxic_hours_utc else 1.0
