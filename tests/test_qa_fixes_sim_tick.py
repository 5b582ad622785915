"""QA fix: the synthetic market's price grid never divides by a zero tick.

The rounding path answers 0 ("no valid value") for a price whose units it cannot express; the coin's
flow used to divide by that tick (ZeroDivisionError). SimConfig refuses such start prices, but the flow
is also built from other sources (a replay's first mid), so it refuses them itself, naming the coin.
"""
from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hlmm.sim.config import SimConfig, SimConfigError, default_assets
from hlmm.sim.exchange import SimExchange
from hlmm.sim.market import SyntheticMarket, _CoinFlow
from hlmm.sim.market_params import MarketParams

T0 = 1_700_000_000_000


@pytest.fixture(scope="module")
def market() -> SyntheticMarket:
    ex = SimExchange(SimConfig(seed=3, assets=default_assets()[:1]), now_ms=lambda: T0)
    return SyntheticMarket(ex, MarketParams())


def _flow(market: SyntheticMarket, start_px: float) -> _CoinFlow:
    coin = market.ex.config.assets[0].name
    return _CoinFlow(market.ex, coin, market.params.coin(coin), market.params, 3, market.makers, market.noise,
                     market.informed, start_px)


@pytest.mark.parametrize("start_px", [1e300, 2.0 ** 60, 9e17])
def test_a_start_price_without_a_valid_tick_is_refused_with_the_coin_and_price(market, start_px) -> None:
    coin = market.ex.config.assets[0].name
    with pytest.raises(SimConfigError, match=rf"{coin}.*start price {re.escape(repr(start_px))}.*price grid"):
        _flow(market, start_px)


@settings(max_examples=150, deadline=None)
@given(st.floats(min_value=1e-12, max_value=1e300, allow_nan=False, allow_infinity=False))
def test_any_positive_start_price_gives_a_positive_grid_or_a_clear_error(market, start_px) -> None:
    try:
        flow = _flow(market, start_px)
    except SimConfigError as exc:
        assert "price grid" in str(exc)
    else:
        assert flow.grid > 0 and flow.spacing_bps > 0
