"""hlmm.exchange.wire: the exchange's numbers and wires, checked against the official SDK,
the upstream signing vectors, real accepted orders and an independent Decimal validator."""
import json
import math
from decimal import Decimal

import msgpack
import pytest
from hypothesis import assume, example, given, settings, strategies as st
from hyperliquid.utils import signing as sdk
from hyperliquid.utils.types import Cloid

from hlmm.exchange import wire
from hlmm.exchange.assets import AssetInfo, AssetRegistry
from hlmm.exchange.cloid import make_cloid
from hlmm.exchange.wire import DOWN, NEAREST, UP, InvalidOrderError, Trigger


def load(fixtures_dir, name):
    return json.loads((fixtures_dir / name).read_text())


def perp(name="ETH", asset_id=1, sz_decimals=4, max_leverage=25):
    return AssetInfo(name, asset_id, sz_decimals, 6 - sz_decimals, max_leverage)


def spot(name="PURR/USDC", asset_id=10000, sz_decimals=0, quote="USDC"):
    return AssetInfo(name, asset_id, sz_decimals, 8 - sz_decimals, 1, is_spot=True, quote_token=quote,
                     min_notional=10.0)


@pytest.fixture(scope="module")
def registry():
    from pathlib import Path

    meta = json.loads((Path(__file__).parent / "fixtures" / "meta_perp_main_227_assets.json").read_text())
    return AssetRegistry.from_meta(meta)


def decimal_price_valid(px: Decimal, asset: AssetInfo) -> bool:
    """Independent statement of the rule on exact decimals."""
    if px <= 0:
        return False
    if px == px.to_integral_value():
        return True
    _, digits, exp = px.normalize().as_tuple()
    return len(digits) <= 5 and -exp <= asset.max_decimals - asset.sz_decimals


def decimal_size_valid(sz: Decimal, asset: AssetInfo) -> bool:
    return sz > 0 and sz == sz.quantize(Decimal(1).scaleb(-asset.sz_decimals))


# --------------------------------------------------------------------------- SDK number helpers

def sdk_or_error(fn, x):
    try:
        return fn(x)
    except ValueError:
        return ValueError


@given(x=st.floats(allow_nan=False, allow_infinity=False))
@example(x=-0.0)
@example(x=0.1 + 0.2)
@example(x=1e28)
@example(x=-1.2345678901234567e27)
@example(x=123456789.12345678)
@example(x=1e-9)
def test_float_to_wire_is_the_sdk(x):
    assert sdk_or_error(wire.float_to_wire, x) == sdk_or_error(sdk.float_to_wire, x)


@given(x=st.decimals(min_value=-10**9, max_value=10**9, places=8, allow_nan=False, allow_infinity=False))
def test_float_to_wire_on_8_decimal_values(x):
    f = float(x)
    assert wire.float_to_wire(f) == sdk.float_to_wire(f)
    if abs(x) < 10**7:  # 7 integer + 8 decimal digits: within what a double carries
        assert Decimal(wire.float_to_wire(f)) == x
    # Above that the SDK's "%.8f" prints the double's binary expansion: 191853449.777782
    # goes out as "191853449.77778199". Prices and sizes are therefore formatted from
    # integers (price_to_wire / size_to_wire), never through float_to_wire.


@given(x=st.floats(min_value=-1e12, max_value=1e12, allow_nan=False))
def test_float_to_int_helpers_are_the_sdk(x):
    assert sdk_or_error(wire.float_to_int_for_hashing, x) == sdk_or_error(sdk.float_to_int_for_hashing, x)
    assert sdk_or_error(wire.float_to_usd_int, x) == sdk_or_error(sdk.float_to_usd_int, x)


def test_number_vectors(fixtures_dir):
    v = load(fixtures_dir, "hyperliquid-signing-vectors.json")
    for text, want in v["float_to_wire"].items():
        assert wire.float_to_wire(float(text)) == want
    for text, want in v["float_to_int_for_hashing"].items():
        x = int(text) if text.isdigit() else float(text)  # the SDK test passes 123123123123 as an int
        if want == "ValueError":
            with pytest.raises(ValueError, match="causes rounding"):
                wire.float_to_int_for_hashing(x)
        else:
            assert wire.float_to_int_for_hashing(x) == want == sdk.float_to_int_for_hashing(x)
    assert wire.float_to_wire(-0.0) == "-0"  # the SDK's quirk, kept
    with pytest.raises(ValueError, match="causes rounding"):
        wire.float_to_wire(0.123456789)
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError, match="not a finite number"):
            wire.float_to_wire(bad)
        with pytest.raises(ValueError, match="not a finite number"):
            wire.float_to_usd_int(bad)


# --------------------------------------------------------------------------- rounding through the face

@pytest.mark.parametrize(
    "px, sz_decimals, direction, want",
    [
        (1234.56, 2, DOWN, 1234.5),
        (1234.56, 2, UP, 1234.6),
        (0.0012345, 0, DOWN, 0.001234),
        (0.012345, 1, UP, 0.01235),
        (117365.5, 0, DOWN, 117365.0),
        (117365.5, 5, UP, 117366.0),
        (123456.0, 5, DOWN, 123456.0),
        (1670.1, 4, DOWN, 1670.1),
        (0.0000001, 0, DOWN, 0.0),  # below one unit: no valid bid
    ],
)
def test_round_price_examples(px, sz_decimals, direction, want):
    assert wire.round_price(px, perp(sz_decimals=sz_decimals), direction) == want


def test_round_size_defaults_down():
    eth = perp()
    assert wire.round_size(0.01479, eth) == 0.0147
    assert wire.round_size(0.01471, eth, UP) == 0.0148
    assert wire.round_size(0.00004, eth) == 0.0
    assert wire.size_lots(0.0147, eth) == 147


prices = st.builds(lambda m, e: Decimal(m).scaleb(e), st.integers(1, 10**8), st.integers(-10, 3))


@given(px=prices, direction=st.sampled_from([DOWN, NEAREST, UP]), data=st.data())
@settings(max_examples=300)
def test_rounded_prices_obey_the_rules_on_real_assets(registry, px, direction, data):
    asset = data.draw(st.sampled_from(list(registry)))
    units = wire.price_units(float(px), asset, direction)
    if units == 0:
        assert direction == DOWN and px.scaleb(asset.px_decimals) < 1
        return
    s = wire.price_to_wire(units, asset)
    d = Decimal(s)
    assert d.scaleb(asset.px_decimals) == units  # the string is the units, exactly
    assert decimal_price_valid(d, asset)
    if direction == DOWN:
        assert d <= px
    if direction == UP:
        assert d >= px
    assert wire.price_units(float(d), asset, direction) == units  # idempotent
    assert float(d) == wire.round_price(float(px), asset, direction)
    if decimal_price_valid(px, asset):
        assert d == px


@given(sz=st.builds(lambda m, e: Decimal(m).scaleb(e), st.integers(1, 10**9), st.integers(-9, 2)),
       direction=st.sampled_from([DOWN, NEAREST, UP]), data=st.data())
def test_rounded_sizes_obey_the_rules_on_real_assets(registry, sz, direction, data):
    asset = data.draw(st.sampled_from(list(registry)))
    lots = wire.size_lots(float(sz), asset, direction)
    s = wire.size_to_wire(lots, asset)
    d = Decimal(s)
    assert d.scaleb(asset.sz_decimals) == lots
    if lots:
        assert decimal_size_valid(d, asset)
    if direction == DOWN:
        assert d <= sz
    if direction == UP:
        assert d >= sz


# --------------------------------------------------------------------------- wire strings

def test_wire_string_examples():
    eth, btc = perp(), perp("BTC", 0, 5, 40)
    assert wire.price_to_wire(167010, eth) == "1670.1"
    assert wire.price_to_wire(10000, eth) == "100"
    assert wire.price_to_wire(1234560, btc) == "123456"
    assert wire.size_to_wire(147, eth) == "0.0147"
    assert wire.size_to_wire(0, eth) == "0"
    assert wire.price_to_wire(1, spot(sz_decimals=0)) == "0.00000001"
    with pytest.raises(InvalidOrderError) as e:
        wire.price_to_wire(123456, eth)  # 1234.56
    assert e.value.exchange_text == "Price must be divisible by tick size."
    with pytest.raises(InvalidOrderError, match="Order has invalid price"):
        wire.price_to_wire(0, eth)
    with pytest.raises(InvalidOrderError, match="Order has invalid size"):
        wire.size_to_wire(-1, eth)


@pytest.mark.parametrize(
    "text, decimals, want",
    [
        ("1670.1", 2, 167010),
        ("2000.0", 1, 20000),
        ("100", 0, 100),
        ("0.0147", 4, 147),
        ("0.01470000", 4, 147),
        ("1234.56", 1, None),  # a digit beyond the allowed decimals
        ("-2.5", 1, -25),
        ("0", 3, 0),
    ],
)
def test_wire_to_units(text, decimals, want):
    assert wire.wire_to_units(text, decimals) == want


@pytest.mark.parametrize("text", ["", "1e5", "+1", " 1", "1.", ".5", "nan", "Infinity", "1,5", "0x10"])
def test_wire_to_units_refuses_non_decimals(text):
    with pytest.raises(ValueError, match="not a decimal string"):
        wire.wire_to_units(text, 2)
    with pytest.raises(ValueError, match="expected a decimal string"):
        wire.wire_to_units(1.5, 2)  # type: ignore[arg-type]


@given(units=st.integers(0, 10**15), decimals=st.integers(0, 8))
def test_wire_strings_round_trip(units, decimals):
    a = AssetInfo("X", 0, decimals, 6, 1)
    s = wire.size_to_wire(units, a)
    assert wire.wire_to_units(s, decimals) == units
    if units < 10**7 * 10**decimals:  # where the SDK's float path is exact (see above)
        assert s == sdk.float_to_wire(units / 10**decimals)


# --------------------------------------------------------------------------- validation

def test_error_texts_are_the_documented_ones(fixtures_dir):
    table = {e["type"]: e["message"] for e in load(fixtures_dir, "docs_examples_meta_hip3.json")["batched_error_responses"]}
    assert wire.ERR_TICK == table["Tick"]
    assert wire.ERR_MIN_NOTIONAL == table["MinTradeNtl"]
    assert wire.ERR_MIN_NOTIONAL_SPOT == table["MinTradeSpotNtl"]


@pytest.mark.parametrize(
    "p, s, sz_decimals, reduce_only, want",
    [
        ("1234.5", "1", 2, False, None),
        ("1234.56", "1", 2, False, wire.ERR_TICK),  # 6 significant figures
        ("0.001234", "10000", 0, False, None),
        ("0.0012345", "10000", 0, False, wire.ERR_TICK),  # 7 decimals
        ("0.01234", "1000", 1, False, None),
        ("0.012345", "1000", 1, False, wire.ERR_TICK),  # more than 6 - 1 decimals
        ("117365.5", "1", 0, False, wire.ERR_TICK),  # 7 significant figures
        ("123456", "0.001", 5, False, None),
        ("2000.0", "3.5", 4, False, None),  # trailing zeros in a received wire are fine
        ("100000", "0.00009", 5, False, wire.ERR_MIN_NOTIONAL),  # $9
        ("100000", "0.0001", 5, False, None),  # $10 exactly
        ("100000", "0.00009", 5, True, None),  # reduce-only closes of dust
        ("100000", "0.000001", 5, False, wire.ERR_INVALID_SIZE),  # beyond szDecimals
        ("100000", "0", 5, False, wire.ERR_ZERO_SIZE),
        ("100000", "-1", 5, False, wire.ERR_INVALID_SIZE),
        ("100000", "abc", 5, False, wire.ERR_INVALID_SIZE),
        ("0", "1", 5, False, wire.ERR_INVALID_PRICE),
        ("-5", "1", 5, False, wire.ERR_INVALID_PRICE),
        ("1e5", "1", 5, False, wire.ERR_INVALID_PRICE),
    ],
)
def test_check_order_wire(p, s, sz_decimals, reduce_only, want):
    assert wire.check_order_wire(p, s, perp(sz_decimals=sz_decimals), reduce_only) == want


def test_check_order_spot_and_units():
    purr = spot()
    assert wire.check_order_wire("0.1", "99", purr) == "Order must have minimum value of 10 USDC."
    assert wire.check_order_wire("0.1", "100", purr) is None
    assert wire.check_order_wire("0.0001234", "100000", spot(sz_decimals=1)) is None  # docs spot example
    assert wire.check_order_wire("0.0001234", "100000", spot(sz_decimals=2)) == wire.ERR_TICK
    eth = perp()
    assert wire.check_order(167010, 147, eth) is None
    assert wire.check_order(167010, 59, eth) == wire.ERR_MIN_NOTIONAL  # $9.85
    assert wire.min_lots(167010, eth) == 60


def test_real_accepted_orders_pass(fixtures_dir, registry):
    """2000 orders a market-making vault had accepted (2025-08) and 196 resting ones (2023)."""
    hist = load(fixtures_dir, "pysdk_historical_orders_mm_vault_compact.json")
    assert len(hist["rows"]) == 2000
    for coin, side, px, sz, orig_sz, tif, status in hist["rows"]:
        asset = registry[coin]
        assert wire.check_order_wire(px, orig_sz, asset) is None, (coin, px, orig_sz)
        units = wire.wire_to_units(px, asset.px_decimals)
        # our formatting of the same number is what the exchange printed, up to a trailing ".0"
        assert Decimal(wire.price_to_wire(units, asset)) == Decimal(px)
        assert wire.price_units(float(px), asset, DOWN if side == "B" else UP) == units
    old = AssetRegistry.from_meta(load(fixtures_dir, "pysdk_meta_2023_28_assets.json"))
    for o in load(fixtures_dir, "pysdk_open_orders_2023.json"):
        assert wire.check_order_wire(o["limitPx"], o["sz"], old[o["coin"]]) is None


# --------------------------------------------------------------------------- order wires and actions

def test_order_wire_key_order_and_refusals():
    eth = perp()
    c = make_cloid(1, 2, 3)
    w = wire.order_wire(1, True, 167010, 147, eth, False, "Alo", c)
    assert list(w) == ["a", "b", "p", "s", "r", "t", "c"]
    assert w == {"a": 1, "b": True, "p": "1670.1", "s": "0.0147", "r": False, "t": {"limit": {"tif": "Alo"}}, "c": c}
    assert list(wire.order_wire(1, False, 167010, 147, eth, True, "Ioc")) == ["a", "b", "p", "s", "r", "t"]
    with pytest.raises(InvalidOrderError) as e:
        wire.order_wire(1, True, 123456, 147, eth, False, "Gtc")
    assert e.value.exchange_text == wire.ERR_TICK
    with pytest.raises(InvalidOrderError) as e:
        wire.order_wire(1, True, 167010, 10, eth, False, "Gtc")
    assert e.value.exchange_text == wire.ERR_MIN_NOTIONAL
    assert wire.order_wire(1, True, 167010, 10, eth, True, "Gtc")["s"] == "0.001"  # reduce-only dust
    with pytest.raises(ValueError, match="asset id 2 does not match ETH"):
        wire.order_wire(2, True, 167010, 147, eth, False, "Gtc")
    with pytest.raises(ValueError, match="tif must be one of"):
        wire.order_wire(1, True, 167010, 147, eth, False, "GTC")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="a cloid is"):
        wire.order_wire(1, True, 167010, 147, eth, False, "Gtc", "0x1234")
    with pytest.raises(InvalidOrderError, match="divisible by tick"):
        wire.order_wire(1, True, 167010, 147, eth, True, Trigger(123456, "sl"))


def _sdk_vectors(fixtures_dir):
    return {v["name"]: v for v in load(fixtures_dir, "hyperliquid-signing-vectors.json")["vectors"]}


def test_actions_reproduce_the_upstream_msgpack_bytes(fixtures_dir):
    v = _sdk_vectors(fixtures_dir)
    eth = perp("ETH", 1, 4)
    eth4 = perp("ETH", 4, 4)
    btc = perp("BTC", 0, 5, 40)
    built = {
        "order_gtc": wire.order_action([wire.order_wire(1, True, 10000, 1000000, eth, False, "Gtc")]),
        "order_gtc_cloid": wire.order_action(
            [wire.order_wire(1, True, 10000, 1000000, eth, False, "Gtc", "0x00000000000000000000000000000001")]),
        "order_trigger_sl": wire.order_action(
            [wire.order_wire(1, True, 10000, 1000000, eth, False, Trigger(10300, "sl", is_market=True))]),
        "phantom_agent_connectionId": wire.order_action([wire.order_wire(4, True, 167010, 147, eth4, False, "Ioc")]),
        "extra_order_gtc_expiresAfter": wire.order_action([wire.order_wire(1, True, 10000, 1000000, eth, False, "Gtc")]),
        "extra_order_with_builder": wire.order_action(
            [wire.order_wire(0, False, 1000000, 100, btc, False, "Alo")],
            builder={"b": "0x1234567890123456789012345678901234567890", "f": 10}),
        "scheduleCancel_unset": wire.schedule_cancel_action(),
        "scheduleCancel_time": wire.schedule_cancel_action(123456789),
        "rust_cancel": wire.cancel_action([(1, 82382)]),
        "extra_cancel": wire.cancel_action([(1, 82382)]),
        "extra_noop": wire.noop_action(),
        "extra_updateLeverage": wire.update_leverage_action(0, True, 10),
    }
    for name, action in built.items():
        assert action == v[name]["action"], name
        assert msgpack.packb(action).hex() == v[name]["msgpack_hex"], name


def test_rust_vectors_with_trailing_zero_strings_are_accepted(fixtures_dir):
    v = _sdk_vectors(fixtures_dir)
    eth = perp("ETH", 1, 4)
    for name in ("rust_order_ioc", "rust_order_ioc_cloid", "rust_order_trigger_tp", "rust_order_trigger_sl"):
        (w,) = v[name]["action"]["orders"]
        assert wire.check_order_wire(w["p"], w["s"], eth) is None
        ours = wire.order_wire(1, w["b"], wire.wire_to_units(w["p"], 2), wire.wire_to_units(w["s"], 4), eth,
                               w["r"], w["t"]["limit"]["tif"] if "limit" in w["t"] else
                               Trigger(wire.wire_to_units(w["t"]["trigger"]["triggerPx"], 2), w["t"]["trigger"]["tpsl"],
                                       w["t"]["trigger"]["isMarket"]), w.get("c"))
        assert list(ours) == list(w)
        assert ours["p"] == "2000" and ours["s"] == "3.5"  # we never send trailing zeros


@example(szd=1, units=1, lots=999999999, is_buy=False, reduce_only=False, tif="Alo", tag=None)
@given(
    szd=st.integers(0, 5),
    units=st.integers(1, 10**10),
    lots=st.integers(1, 10**9),
    is_buy=st.booleans(),
    reduce_only=st.booleans(),
    tif=st.sampled_from(["Alo", "Ioc", "Gtc"]),
    tag=st.one_of(st.none(), st.integers(0, 2**40 - 1)),
)
def test_order_wire_matches_the_sdk(szd, units, lots, is_buy, reduce_only, tif, tag):
    asset = perp("X", 3, szd)
    px_units = wire.price_units(units / 10**asset.px_decimals, asset, NEAREST)
    assume(wire.check_order(px_units, lots, asset, reduce_only) is None)
    # where the SDK's "%.8f" is exact (below 1e7; above it the SDK prints binary noise:
    # a size of 99999999.9 goes out as "99999999.90000001", ours as "99999999.9")
    assume(px_units < 10**7 * 10**asset.px_decimals and lots < 10**7 * 10**szd)
    c = None if tag is None else make_cloid(77, 5, tag)
    ours = wire.order_wire(3, is_buy, px_units, lots, asset, reduce_only, tif, c)
    theirs = sdk.order_request_to_order_wire(
        {"coin": "X", "is_buy": is_buy, "sz": lots / 10**szd, "limit_px": px_units / 10**asset.px_decimals,
         "order_type": {"limit": {"tif": tif}}, "reduce_only": reduce_only,
         "cloid": None if c is None else Cloid.from_str(c)}, 3)
    assert msgpack.packb(wire.order_action([ours])) == msgpack.packb(sdk.order_wires_to_order_action([theirs]))


def test_cancel_modify_and_other_actions():
    eth = perp()
    w = wire.order_wire(1, True, 167010, 147, eth, False, "Alo")
    c = make_cloid(9, 9, 9)
    assert wire.cancel_by_cloid_action([(1, c)]) == {"type": "cancelByCloid", "cancels": [{"asset": 1, "cloid": c}]}
    m = wire.modify_action(123, w)
    assert list(m) == ["type", "oid", "order"] and m["order"] == w
    assert wire.modify_action(c, w)["oid"] == c
    bm = wire.batch_modify_action([(123, w), (c, w)])
    assert bm == {"type": "batchModify", "modifies": [{"oid": 123, "order": w}, {"oid": c, "order": w}]}
    assert list(wire.update_leverage_action(1, False, 5)) == ["type", "asset", "isCross", "leverage"]
    assert wire.update_isolated_margin_action(1, -2.5) == {
        "type": "updateIsolatedMargin", "asset": 1, "isBuy": True, "ntli": -2500000}
    assert wire.order_action([w], grouping="normalTpsl")["grouping"] == "normalTpsl"
    for bad in (lambda: wire.cancel_action([]), lambda: wire.cancel_by_cloid_action([]),
                lambda: wire.batch_modify_action([]), lambda: wire.order_action([])):
        with pytest.raises(ValueError, match="at least one"):
            bad()
    with pytest.raises(ValueError, match="an oid is"):
        wire.modify_action(-1, w)
    with pytest.raises(ValueError, match="a cloid is"):
        wire.cancel_by_cloid_action([(1, "0xnothex")])
    with pytest.raises(ValueError, match="an asset id is"):
        wire.cancel_action([(True, 5)])
    with pytest.raises(ValueError, match="leverage is a whole number"):
        wire.update_leverage_action(1, True, 0)
    with pytest.raises(ValueError, match="scheduleCancel time"):
        wire.schedule_cancel_action(-5)
    with pytest.raises(ValueError, match="grouping must be"):
        wire.order_action([w], grouping="x")
