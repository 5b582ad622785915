"""Rounding + wire formatting of a 50-order ladder (25 bids, 25 asks) for BTC and a small-price coin.

Input: float prices and sizes as a quoting model produces them (mid * (1 -/+ depth), sizes
from a notional); bids round down, asks up, sizes down; levels under $10 are dropped.

Contenders, same run, same ladder, checked to give identical wire strings:
- ``hlmm_order_wires``: the Python face per order: ``wire.price_units`` / ``size_lots`` and
  ``wire.order_wire`` (tick + size + min-notional check, exact strings, the order-wire dict).
- ``hlmm_strings``: the same rounding and checks, producing (p, s) strings only.
- ``hlmm_from_units``: what the executor does with the Cython ladder's output (already units):
  ``rounding.wire_strings`` over the int64 arrays.
- ``decimal_baseline``: a straightforward pure-Python version on ``decimal.Decimal``
  (directed quantize to 5 significant figures / px decimals, integer rule, min notional).
- ``sdk_recipe`` (reference only): the SDK example's nearest rounding
  (``round(float(f"{px:.5g}"), pxd)``) + ``float_to_wire``; not directional, so not compared.

Run: ``pytest benchmarks/bench_rounding.py --benchmark-enable -q``.
"""
from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal

import numpy as np
import pytest
from hyperliquid.utils.signing import float_to_wire as sdk_float_to_wire

from hlmm._core import rounding
from hlmm.exchange import wire
from hlmm.exchange.assets import AssetInfo

LEVELS = 25
ASSETS = {
    "BTC": (AssetInfo("BTC", 0, 5, 1, 40), 97_253.37),
    "kPEPE": (AssetInfo("kPEPE", 15, 0, 6, 10), 0.0123457),
}


def make_ladder(mid: float) -> list[tuple[bool, float, float]]:
    """(is_buy, price, size): depths 2..26 bps, notional $9..$600 (so some levels fall under $10)."""
    out = []
    for i in range(LEVELS):
        depth = (2 + i) * 1e-4
        notional = 9.0 + 24.5 * i
        for is_buy in (True, False):
            px = mid * (1 - depth) if is_buy else mid * (1 + depth)
            out.append((is_buy, px, notional / px))
    return out


# --------------------------------------------------------------------------- contenders

def hlmm_order_wires(asset: AssetInfo, ladder) -> list[dict]:
    out = []
    for is_buy, px, sz in ladder:
        u = wire.price_units(px, asset, wire.DOWN if is_buy else wire.UP)
        lots = wire.size_lots(sz, asset)
        if wire.check_order(u, lots, asset) is None:
            out.append(wire.order_wire(asset.asset_id, is_buy, u, lots, asset, False, "Alo"))
    return out


def hlmm_strings(asset: AssetInfo, ladder) -> list[tuple[str, str]]:
    out = []
    for is_buy, px, sz in ladder:
        u = wire.price_units(px, asset, wire.DOWN if is_buy else wire.UP)
        lots = wire.size_lots(sz, asset)
        if wire.check_order(u, lots, asset) is None:
            out.append((wire.price_to_wire(u, asset), wire.size_to_wire(lots, asset)))
    return out


def units_of(asset: AssetInfo, ladder) -> tuple[np.ndarray, np.ndarray]:
    """The ladder as the Cython optimizer hands it over: int64 units and lots, sub-minimum levels dropped."""
    px, sz = [], []
    for is_buy, p, s in ladder:
        u = wire.price_units(p, asset, wire.DOWN if is_buy else wire.UP)
        lots = wire.size_lots(s, asset)
        if wire.check_order(u, lots, asset) is None:
            px.append(u)
            sz.append(lots)
    return np.array(px, dtype=np.int64), np.array(sz, dtype=np.int64)


def hlmm_from_units(asset: AssetInfo, px_units: np.ndarray, sz_lots: np.ndarray) -> list[tuple[str, str]]:
    return list(zip(rounding.wire_strings(px_units, asset.px_decimals),
                    rounding.wire_strings(sz_lots, asset.sz_decimals)))


def _decimal_price(px: float, asset: AssetInfo, rounding_mode: str) -> Decimal:
    d = Decimal(repr(px))
    if d == d.to_integral_value():
        return d
    # at most 5 significant figures, at most px_decimals decimals, integers always fine
    sig_exp = d.adjusted() - 4
    exp = max(sig_exp, -asset.px_decimals)
    q = d.quantize(Decimal(1).scaleb(exp), rounding=rounding_mode)
    if sig_exp > 0:  # above 5 integer digits: integer prices are valid, round to 1
        q = d.quantize(Decimal(1), rounding=rounding_mode)
    return q


def decimal_baseline(asset: AssetInfo, ladder) -> list[tuple[str, str]]:
    out = []
    ten = Decimal(10)
    for is_buy, px, sz in ladder:
        p = _decimal_price(px, asset, ROUND_FLOOR if is_buy else ROUND_CEILING)
        s = Decimal(repr(sz)).quantize(Decimal(1).scaleb(-asset.sz_decimals), rounding=ROUND_DOWN)
        if p <= 0 or s <= 0 or p * s < ten:
            continue
        out.append((f"{p.normalize():f}", f"{s.normalize():f}"))
    return out


def sdk_recipe(asset: AssetInfo, ladder) -> list[tuple[str, str]]:
    out = []
    for _is_buy, px, sz in ladder:
        p = round(px) if px > 100_000 else round(float(f"{px:.5g}"), asset.px_decimals)
        s = round(sz, asset.sz_decimals)
        if p * s < 10:
            continue
        out.append((sdk_float_to_wire(p), sdk_float_to_wire(s)))
    return out


# --------------------------------------------------------------------------- benchmarks

@pytest.fixture(params=sorted(ASSETS))
def case(request):
    asset, mid = ASSETS[request.param]
    ladder = make_ladder(mid)
    want = decimal_baseline(asset, ladder)
    assert 40 <= len(want) < 50  # some levels are dropped under $10
    assert hlmm_strings(asset, ladder) == want
    assert [(w["p"], w["s"]) for w in hlmm_order_wires(asset, ladder)] == want
    assert hlmm_from_units(asset, *units_of(asset, ladder)) == want
    return asset, ladder


@pytest.mark.benchmark(group="ladder-50-rounding-wire")
def test_hlmm_order_wires(benchmark, case):
    asset, ladder = case
    benchmark(hlmm_order_wires, asset, ladder)


@pytest.mark.benchmark(group="ladder-50-rounding-wire")
def test_hlmm_strings(benchmark, case):
    asset, ladder = case
    benchmark(hlmm_strings, asset, ladder)


@pytest.mark.benchmark(group="ladder-50-rounding-wire")
def test_hlmm_from_units(benchmark, case):
    asset, ladder = case
    px, sz = units_of(asset, ladder)
    benchmark(hlmm_from_units, asset, px, sz)


@pytest.mark.benchmark(group="ladder-50-rounding-wire")
def test_decimal_baseline(benchmark, case):
    asset, ladder = case
    benchmark(decimal_baseline, asset, ladder)


@pytest.mark.benchmark(group="ladder-50-rounding-wire")
def test_sdk_recipe_reference(benchmark, case):
    asset, ladder = case
    benchmark(sdk_recipe, asset, ladder)
