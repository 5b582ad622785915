"""hlmm._core.rounding: integer-exact tick/lot rounding, checked against an independent Decimal validator."""
from decimal import Decimal, ROUND_CEILING, ROUND_FLOOR

import numpy as np
import pytest
from hypothesis import assume, example, given, settings, strategies as st

from hlmm._core import rounding as r

DOWN, NEAREST, UP = -1, 0, 1


# ---------------------------------------------------------------------------
# Independent oracle: the documented rule on exact decimals, no shared code with the core.

def decimal_price_valid(px: Decimal, sz_decimals: int, max_decimals: int = 6) -> bool:
    """Hyperliquid's price rule stated on a decimal: > 0, and integer or (<= 5 sig figs and
    <= max_decimals - szDecimals decimals)."""
    if px <= 0:
        return False
    if px == px.to_integral_value():
        return True
    sign, digits, exp = px.normalize().as_tuple()
    sig_figs = len(digits)
    decimals = max(0, -exp)
    return sig_figs <= 5 and decimals <= max_decimals - sz_decimals


def decimal_size_valid(sz: Decimal, sz_decimals: int) -> bool:
    return sz > 0 and sz == sz.quantize(Decimal(1).scaleb(-sz_decimals))


def all_valid_between(lo: Decimal, hi: Decimal, px_decimals: int):
    """Every valid price in [lo, hi] by brute force over the finest grid (tests only, small ranges)."""
    step = Decimal(1).scaleb(-px_decimals)
    n = int((lo / step).to_integral_value(ROUND_CEILING))
    end = int((hi / step).to_integral_value(ROUND_FLOOR))
    for u in range(max(n, 1), end + 1):
        d = Decimal(u) * step
        if decimal_price_valid(d, 6 - px_decimals):
            yield u


# Decimal prices as the exchange would see them: mantissa * 10**exp.
decimal_prices = st.builds(
    lambda m, e: Decimal(m).scaleb(e),
    st.integers(min_value=1, max_value=10**14 - 1),  # up to 14 significant digits: the exactness contract
    st.integers(min_value=-16, max_value=4),
)
sz_decimals_perp = st.integers(min_value=0, max_value=6)
directions = st.sampled_from([DOWN, NEAREST, UP])


# ---------------------------------------------------------------------------
# The reference examples (protocol §5, Hyperliquid docs "tick and lot size").

@pytest.mark.parametrize(
    "px, sz_decimals, max_decimals, ok",
    [
        ("1234.5", 0, 6, True),
        ("1234.56", 0, 6, False),  # 6 significant figures
        ("0.001234", 0, 6, True),
        ("0.0012345", 0, 6, False),  # 7 decimals
        ("0.01234", 1, 6, True),
        ("0.012345", 1, 6, False),  # more than 6 - 1 decimals
        ("117365.5", 0, 6, False),  # 7 significant figures (SDK issue #179)
        ("123456", 0, 6, True),  # integer prices always valid
        ("123456", 5, 6, True),
        ("12345.6", 0, 6, False),
        ("0.0001234", 0, 8, True),  # spot
        ("0.0001234", 1, 8, True),
        ("0.0001234", 2, 8, False),
        ("0.0001234", 3, 8, False),
    ],
)
def test_reference_price_examples(px, sz_decimals, max_decimals, ok):
    px_decimals = max_decimals - sz_decimals
    d = Decimal(px)
    scaled = d.scaleb(px_decimals)
    assert decimal_price_valid(d, sz_decimals, max_decimals) is ok
    if scaled != scaled.to_integral_value():
        assert not ok  # more decimals than px_decimals: not even representable in units
        # the float path must move it onto the grid
        units = r.py_price_to_units(float(px), px_decimals, NEAREST)
        assert Decimal(units).scaleb(-px_decimals) != d
        return
    units = int(scaled)
    assert r.py_price_units_valid(units, px_decimals) is ok
    assert (r.py_round_price_units(units, px_decimals, DOWN) == units) is ok
    assert (r.py_round_price_units(units, px_decimals, UP) == units) is ok


@pytest.mark.parametrize(
    "px, px_decimals, direction, want",
    [
        (1670.1, 1, DOWN, 16701),  # 1670.1 * 10 == 16700.999999999998 in floats
        (1670.1, 1, UP, 16701),
        (0.3, 6, DOWN, 300000),  # 0.3 * 1e6 == 299999.99999999994
        (0.1 + 0.2, 6, UP, 300000),  # 0.30000000000000004
        (1.1, 5, DOWN, 110000),
        (1234.56, 2, DOWN, 123450),
        (1234.56, 2, UP, 123460),
        (1234.56, 2, NEAREST, 123460),
        (117365.5, 1, DOWN, 1173650),
        (117365.5, 1, UP, 1173660),
        (117365.5, 1, NEAREST, 1173660),  # tie, to even: 117366
        (117364.5, 1, NEAREST, 1173640),  # tie, to even: 117364
        (0.0012345, 6, DOWN, 1234),
        (0.0012345, 6, UP, 1235),
        (99999.5, 1, UP, 1000000),  # crossing into the next decade lands on a power of ten
        (99999.5, 1, DOWN, 999990),  # 99999.5 has 6 sig figs: down to 99999
    ],
)
def test_price_to_units_examples(px, px_decimals, direction, want):
    got = r.py_price_to_units(px, px_decimals, direction)
    assert got == want
    assert r.py_price_units_valid(got, px_decimals)


def test_crossing_decade_down_and_up():
    # 99999.5 (pxd 1): 999995 units has 6 digits -> tick 10 -> down 999990 (99999.0).
    assert r.py_round_price_units(999995, 1, DOWN) == 999990
    assert r.py_round_price_units(999995, 1, UP) == 1000000
    assert r.py_step_price_units(1000000, 1, DOWN) == 999990
    assert r.py_step_price_units(999990, 1, UP) == 1000000
    assert r.py_step_price_units(100000, 1, DOWN) == 99999
    assert r.py_step_price_units(99999, 1, UP) == 100000
    assert r.py_step_price_units(100000, 1, UP) == 100010
    assert r.py_step_price_units(1, 6, DOWN) == 0
    assert r.py_step_price_units(5, 6, NEAREST) == 0


def test_zero_means_no_valid_price():
    assert r.py_price_to_units(0.0000004, 6, DOWN) == 0
    assert r.py_price_to_units(0.0000004, 6, UP) == 1
    assert r.py_price_to_units(0.0000004, 6, NEAREST) == 1  # 0 is not a price; 1 unit is the nearest
    for bad in (0.0, -1.0, float("nan"), float("inf"), float("-inf"), 1e300):
        for d in (DOWN, NEAREST, UP):
            assert r.py_price_to_units(bad, 6, d) == 0
            assert r.py_size_to_lots(bad, 3, d) == 0
    for d in (DOWN, NEAREST, UP):
        assert r.py_round_price_units(0, 2, d) == 0
        assert r.py_round_price_units(-100, 2, d) == 0
        assert r.py_round_price_units(r.MAX_UNITS + 1, 2, d) == 0
        assert r.py_price_to_units(100.0, -1, d) == 0
        assert r.py_price_to_units(100.0, 19, d) == 0
    assert not r.py_price_units_valid(0, 2)
    assert not r.py_price_units_valid(-5, 2)
    assert r.py_price_tick_units(0, 2) == 0


def test_tick_at_levels():
    assert r.py_price_tick_units(12345, 1) == 1
    assert r.py_price_tick_units(123456, 1) == 10  # 12345.6 invalid -> 10 units = 1.0
    assert r.py_price_tick_units(1234567, 1) == 10  # integer prices always valid
    assert r.py_price_tick_units(123456789, 6) == 10000  # 123.45|6789
    assert r.py_price_tick_units(123456789, 0) == 1


def test_size_rounding():
    assert r.py_size_to_lots(0.0147, 4) == 147  # 0.0147 * 1e4 == 146.99999999999997
    assert r.py_size_to_lots(0.01479, 4) == 147  # default down
    assert r.py_size_to_lots(0.01479, 4, UP) == 148
    assert r.py_size_to_lots(0.01475, 4, NEAREST) == 148
    assert r.py_size_to_lots(0.00009, 4) == 0  # below one lot: nothing to send
    assert r.py_size_to_lots(0.00009, 4, UP) == 1
    assert r.py_size_to_lots(2.5, 0, NEAREST) == 2  # ties to even
    assert r.py_size_to_lots(3.5, 0, NEAREST) == 4
    assert r.py_lots_to_size(147, 4) == 0.0147


def test_min_notional_exact():
    # BTC-like: szDecimals 5 -> px_decimals 1. $10 exactly is enough.
    assert r.py_notional_units_ok(1000000, 10, 1, 5, 10.0)  # 100000.0 * 0.00010 = 10.0
    assert not r.py_notional_units_ok(1000000, 9, 1, 5, 10.0)
    assert r.py_min_lots_for_notional(1000000, 1, 5, 10.0) == 10
    assert r.py_min_lots_for_notional(1000001, 1, 5, 10.0) == 10  # 10.00001
    assert r.py_min_lots_for_notional(999999, 1, 5, 10.0) == 11  # 9.99999 is short
    assert r.py_min_lots_for_notional(0, 1, 5, 10.0) == 0
    assert r.py_min_lots_for_notional(123, 1, 5, 0.0) == 1
    assert not r.py_notional_units_ok(0, 100, 1, 5, 10.0)
    assert not r.py_notional_units_ok(100, 0, 1, 5, 10.0)
    assert not r.py_notional_units_ok(100, 10, 1, 5, float("nan"))
    # huge operands must not overflow int64 in the product
    assert r.py_notional_units_ok(r.MAX_UNITS, r.MAX_UNITS, 1, 5, 10.0)


@given(
    px=st.integers(min_value=1, max_value=10**15),
    lots=st.integers(min_value=1, max_value=10**15),
    pxd=st.integers(min_value=0, max_value=6),
    mn=st.sampled_from([0.0, 1.0, 10.0, 10.5, 12.34, 1e6]),
)
def test_min_notional_matches_decimal(px, lots, pxd, mn):
    szd = 6 - pxd
    notional = Decimal(px).scaleb(-pxd) * Decimal(lots).scaleb(-szd)
    assert r.py_notional_units_ok(px, lots, pxd, szd, mn) is (notional >= Decimal(repr(mn)))
    n = r.py_min_lots_for_notional(px, pxd, szd, mn)
    assert n >= 1
    assert Decimal(px).scaleb(-pxd) * Decimal(n).scaleb(-szd) >= Decimal(repr(mn))
    if n > 1:
        assert Decimal(px).scaleb(-pxd) * Decimal(n - 1).scaleb(-szd) < Decimal(repr(mn))


# ---------------------------------------------------------------------------
# Properties of the integer path.

@given(units=st.integers(min_value=1, max_value=10**17), pxd=st.integers(min_value=0, max_value=8))
def test_validity_agrees_with_decimal_oracle(units, pxd):
    d = Decimal(units).scaleb(-pxd)
    # px_decimals = MAX_DECIMALS - szDecimals; the oracle takes both, any consistent pair works
    assert r.py_price_units_valid(units, pxd) is decimal_price_valid(d, 8 - pxd, 8)


@given(units=st.integers(min_value=1, max_value=10**17), pxd=st.integers(min_value=0, max_value=8), d=directions)
def test_round_price_units_valid_directed_idempotent(units, pxd, d):
    out = r.py_round_price_units(units, pxd, d)
    assert out > 0
    assert r.py_price_units_valid(out, pxd)
    assert decimal_price_valid(Decimal(out).scaleb(-pxd), 8 - pxd, 8)
    if d == DOWN:
        assert out <= units
    elif d == UP:
        assert out >= units
    assert r.py_round_price_units(out, pxd, DOWN) == out
    assert r.py_round_price_units(out, pxd, UP) == out
    assert r.py_round_price_units(out, pxd, NEAREST) == out
    if r.py_price_units_valid(units, pxd):
        assert out == units


@given(units=st.integers(min_value=1, max_value=3 * 10**6), pxd=st.integers(min_value=0, max_value=6))
@settings(max_examples=300)
def test_round_price_units_is_the_closest_valid(units, pxd):
    """No valid price lies strictly between the input and the directed result (brute force)."""
    down = r.py_round_price_units(units, pxd, DOWN)
    up = r.py_round_price_units(units, pxd, UP)
    inside = list(all_valid_between(Decimal(down).scaleb(-pxd), Decimal(up).scaleb(-pxd), pxd))
    assert inside[0] == down and inside[-1] == up
    assert len(inside) <= 2
    near = r.py_round_price_units(units, pxd, NEAREST)
    assert near in (down, up)
    assert abs(near - units) <= min(units - down, up - units) if down != up else near == units


@given(units=st.integers(min_value=1, max_value=10**16), pxd=st.integers(min_value=0, max_value=8))
def test_step_is_adjacent(units, pxd):
    v = r.py_round_price_units(units, pxd, DOWN)
    up = r.py_step_price_units(v, pxd, UP)
    assert up > v and r.py_price_units_valid(up, pxd)
    assert r.py_step_price_units(up, pxd, DOWN) == v
    assert r.py_round_price_units(v + 1, pxd, UP) == up


# ---------------------------------------------------------------------------
# Float entry: the true decimal decides, never the float's representation error.

@given(px=decimal_prices, szd=sz_decimals_perp, d=directions)
@example(px=Decimal("1670.1"), szd=5, d=DOWN)
@example(px=Decimal("0.3"), szd=0, d=DOWN)
@example(px=Decimal("117365.5"), szd=4, d=NEAREST)
@example(px=Decimal("975429485839"), szd=0, d=UP)  # 9.75e17 units: beyond 2**53, doubles skip integers
def test_price_to_units_honours_the_true_decimal(px, szd, d):
    pxd = 6 - szd
    assume(px < Decimal(10) ** 12)
    f = float(px)
    units = r.py_price_to_units(f, pxd, d)
    exact = px.scaleb(pxd)  # the price in (possibly fractional) units
    if d == DOWN and exact < 1:
        assert units == 0
        return
    assert units > 0
    out = Decimal(units).scaleb(-pxd)
    assert decimal_price_valid(out, szd)
    if d == DOWN:
        assert out <= px
        assert units == r.py_round_price_units(int(exact.to_integral_value(ROUND_FLOOR)), pxd, DOWN)
    elif d == UP:
        assert out >= px
        assert units == r.py_round_price_units(int(exact.to_integral_value(ROUND_CEILING)), pxd, UP)
    else:
        lo = r.py_round_price_units(int(exact.to_integral_value(ROUND_FLOOR)), pxd, DOWN)
        hi = r.py_round_price_units(int(exact.to_integral_value(ROUND_CEILING)), pxd, UP)
        assert units in {u for u in (lo, hi) if u > 0}
        if lo > 0 and abs(exact - lo) != abs(hi - exact):
            assert units == (lo if abs(exact - lo) < abs(hi - exact) else hi)
    if decimal_price_valid(px, szd):
        assert out == px  # a valid price is never moved, whatever its float error
    # idempotent through the float face
    assert r.py_price_to_units(r.py_units_to_price(units, pxd), pxd, d) == units


@given(px=st.floats(min_value=1e-9, max_value=1e12, allow_nan=False), szd=sz_decimals_perp, d=directions)
def test_price_to_units_arbitrary_floats(px, szd, d):
    pxd = 6 - szd
    units = r.py_price_to_units(px, pxd, d)
    if units == 0:
        assert d == DOWN and px * 10**pxd < 1 + 1e-9
        return
    assert r.py_price_units_valid(units, pxd)
    exact = Decimal(px).scaleb(pxd)  # the float's exact binary value
    slack = exact * Decimal(r.SNAP_REL)  # the documented snap window
    if d == DOWN:
        assert units <= exact + slack
    elif d == UP:
        assert units >= exact - slack


@given(
    lots=st.integers(min_value=1, max_value=10**12),
    extra=st.integers(min_value=0, max_value=999),
    szd=st.integers(min_value=0, max_value=8),
    d=directions,
)
@example(lots=1000046731, extra=1, szd=0, d=UP)  # 1000046731.001 lots: not a whole lot
def test_size_to_lots_true_decimal(lots, extra, szd, d):
    # a size with up to 3 more decimals than allowed
    sz = (Decimal(lots) + Decimal(extra) / 1000).scaleb(-szd)
    assume(len(sz.normalize().as_tuple().digits) <= 14)  # the documented exactness contract
    got = r.py_size_to_lots(float(sz), szd, d)
    exact = sz.scaleb(szd)
    if d == DOWN:
        assert got == int(exact.to_integral_value(ROUND_FLOOR))
    elif d == UP:
        assert got == int(exact.to_integral_value(ROUND_CEILING))
    else:
        assert abs(Decimal(got) - exact) <= Decimal("0.5")
    if got > 0:
        assert decimal_size_valid(Decimal(got).scaleb(-szd), szd)
        assert r.py_size_to_lots(r.py_lots_to_size(got, szd), szd, d) == got


# ---------------------------------------------------------------------------
# Wire strings from integers.

@given(units=st.integers(min_value=-(10**18), max_value=10**18), dec=st.integers(min_value=0, max_value=18))
@example(units=0, dec=0)
@example(units=1000, dec=1)
def test_units_to_wire_round_trips(units, dec):
    s = r.units_to_wire(units, dec)
    assert "e" not in s.lower()
    assert Decimal(s).scaleb(dec) == units
    if "." in s:
        assert not s.endswith("0") and not s.endswith(".")
    assert s == (f"{Decimal(units).scaleb(-dec).normalize():f}" if units else "0")


def test_units_to_wire_examples_and_errors():
    assert r.units_to_wire(16701, 1) == "1670.1"
    assert r.units_to_wire(1000, 1) == "100"
    assert r.units_to_wire(147, 4) == "0.0147"
    assert r.units_to_wire(123456, 0) == "123456"
    assert r.units_to_wire(1, 8) == "0.00000001"
    assert r.units_to_wire(-25, 1) == "-2.5"
    with pytest.raises(ValueError):
        r.units_to_wire(1, 19)
    with pytest.raises(ValueError):
        r.units_to_wire(1, -1)
    with pytest.raises(ValueError):
        r.units_to_wire(-(2**63), 2)
    assert r.wire_strings(np.array([16701, 1000, 5], dtype=np.int64), 1) == ["1670.1", "100", "0.5"]


@given(
    px=st.integers(min_value=-5, max_value=10**9),
    lots=st.integers(min_value=-5, max_value=10**9),
    pxd=st.integers(min_value=0, max_value=6),
    reduce_only=st.booleans(),
)
@example(px=1000000, lots=9, pxd=1, reduce_only=False)
def test_order_check_code_runs_the_checks_in_order(px, lots, pxd, reduce_only):
    szd = 6 - pxd
    if px <= 0:
        want = r.ORDER_INVALID_PRICE
    elif not decimal_price_valid(Decimal(px).scaleb(-pxd), szd):
        want = r.ORDER_TICK
    elif lots < 0:
        want = r.ORDER_INVALID_SIZE
    elif lots == 0:
        want = r.ORDER_ZERO_SIZE
    elif not reduce_only and Decimal(px).scaleb(-pxd) * Decimal(lots).scaleb(-szd) < 10:
        want = r.ORDER_MIN_NOTIONAL
    else:
        want = r.ORDER_OK
    assert r.py_order_check_code(px, lots, pxd, szd, 10.0, reduce_only) == want
