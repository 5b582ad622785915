"""QA: the wire checks answer with the exchange's text for any integer, not only int64s."""
from __future__ import annotations

import json

import pytest

from hlmm.exchange import wire
from hlmm.exchange.assets import AssetRegistry


@pytest.fixture
def btc(fixtures_dir):
    return AssetRegistry.from_meta(json.loads((fixtures_dir / "meta_perp_main_227_assets.json").read_text()))["BTC"]


@pytest.mark.parametrize("px_units", [1 << 63, 10 ** 30, -(1 << 63) - 1])
def test_price_outside_int64_is_an_invalid_price(btc, px_units: int) -> None:
    assert wire.check_order(px_units, 100, btc) == wire.ERR_INVALID_PRICE


@pytest.mark.parametrize("lots", [1 << 63, 10 ** 30, -(1 << 63) - 1])
def test_size_outside_int64_is_an_invalid_size(btc, lots: int) -> None:
    assert wire.check_order(1_000_000, lots, btc) == wire.ERR_INVALID_SIZE
    assert wire.check_order_wire("100000", str(lots), btc) == wire.ERR_INVALID_SIZE


def test_int64_edges_still_reach_the_core(btc) -> None:
    assert wire.check_order((1 << 63) - 1, 100, btc) == wire.ERR_TICK
    assert wire.check_order(1_000_000, (1 << 63) - 1, btc) is None
