# cython: language_level=3
"""Integer-exact rounding of prices and sizes to Hyperliquid's rules.

Every price and size that reaches the exchange passes through here (via the
Python face ``hlmm.exchange.wire``). Prices live as integer *price units*
(``price * 10**px_decimals``), sizes as integer *lots* (``size * 10**sz_decimals``).

Price rule (perps: MAX_DECIMALS 6, spot 8; px_decimals = MAX_DECIMALS - szDecimals):
a price is valid iff it is > 0 and either an integer, or has at most 5
significant figures. At most px_decimals decimals is implied by being integer
units. In units: valid iff ``units % tick == 0`` with
``tick = min(10**max(0, ndigits(units) - 5), 10**px_decimals)``.

Directions: -1 rounds down (bids: passive), +1 up (asks: passive), 0 nearest
(ties to the even multiple, like Python's ``round``).

Zero is the "no valid value" answer: a price that rounds down below one unit, a
size below one lot, NaN, non-positive or out-of-range input all return 0 and the
caller drops the order.

Float inputs are snapped to a valid price (sizes: to a whole lot) when within a
relative 2.5e-15 (about 11 ulps) of it before directed rounding, so
1670.1 * 10 = 16700.999999999998 is 16701 units, not 16700. The window is chosen so that a float that stands for a
decimal with at most 14 significant digits is rounded as that exact decimal: a
correctly rounded double and one scaling by 10**k err by at most ~2.3e-16
(relative), while a 14-digit decimal that is not a whole number of units is at
least 1e-14 (relative) away from one.
"""
from libc.stdint cimport int64_t, INT64_MIN
from libc.math cimport floor, ceil, rint, fabs

# Inputs at or above this are refused (returned as 0) so `units + tick` never overflows int64.
cdef int64_t _MAX_UNITS = 9000000000000000000
cdef double _MAX_UNITS_D = 9.0e18
# Relative distance to an integer under which a scaled float counts as that integer.
cdef double _SNAP_REL = 2.5e-15
cdef int64_t _POW10[19]

cdef int _i
_POW10[0] = 1
for _i in range(1, 19):
    _POW10[_i] = _POW10[_i - 1] * 10

MAX_UNITS = _MAX_UNITS
SNAP_REL = _SNAP_REL
PRICE_SIG_FIGS = 5


cdef int64_t pow10(int n) noexcept nogil:
    """10**n for 0 <= n <= 18; 0 outside that range (never a valid divisor: callers check)."""
    if n < 0 or n > 18:
        return 0
    return _POW10[n]


cdef int ndigits(int64_t n) noexcept nogil:
    """Decimal digits of |n| (ndigits(0) == 1)."""
    cdef int d = 1
    if n < 0:
        if n == INT64_MIN:
            return 19
        n = -n
    while d < 19 and n >= _POW10[d]:
        d += 1
    return d


cdef int64_t price_tick_units(int64_t px_units, int px_decimals) noexcept nogil:
    """Spacing of valid prices in the decade holding px_units (the step up from a valid price).

    Returns 0 for px_units <= 0 or px_decimals outside [0, 18].
    """
    cdef int k
    if px_units <= 0 or px_decimals < 0 or px_decimals > 18:
        return 0
    k = ndigits(px_units) - 5
    if k <= 0:
        return 1
    if k > px_decimals:  # integer prices are always valid
        k = px_decimals
    return _POW10[k]


cdef bint price_units_valid(int64_t px_units, int px_decimals) noexcept nogil:
    """True iff px_units is a price the exchange accepts (> 0, integer or <= 5 sig figs)."""
    cdef int64_t tick = price_tick_units(px_units, px_decimals)
    if tick <= 0:
        return False
    return px_units % tick == 0


cdef int64_t round_price_units(int64_t px_units, int px_decimals, int direction) noexcept nogil:
    """The valid price nearest px_units in `direction`; px_units itself if already valid.

    Rounding never leaves the positive range: rounding a positive price down keeps
    its leading digit, and rounding up may only reach the next power of ten (valid).
    Returns 0 for px_units <= 0, px_units > MAX_UNITS or a bad px_decimals.
    """
    cdef int64_t tick, r, down
    if px_units <= 0 or px_units > _MAX_UNITS:
        return 0
    tick = price_tick_units(px_units, px_decimals)
    if tick <= 0:
        return 0
    r = px_units % tick
    if r == 0:
        return px_units
    down = px_units - r
    if direction < 0:
        return down
    if direction > 0:
        return down + tick
    if 2 * r > tick or (2 * r == tick and (px_units // tick) & 1):
        return down + tick
    return down


cdef int64_t step_price_units(int64_t px_units, int px_decimals, int direction) noexcept nogil:
    """The next valid price strictly above (direction > 0) or below (direction < 0) px_units.

    From 100000 (tick 10) one step down is 99999 (tick 1). Returns 0 when there is
    none (below the smallest price, direction 0, or bad input).
    """
    if px_units <= 0 or px_units > _MAX_UNITS:
        return 0
    if direction > 0:
        return round_price_units(px_units + 1, px_decimals, 1)
    if direction < 0:
        if px_units <= 1:
            return 0
        return round_price_units(px_units - 1, px_decimals, -1)
    return 0


cdef inline double _snap(double x) noexcept nogil:
    """x, or the integer next to it when x is that integer up to float representation error."""
    cdef double n = rint(x)
    if fabs(x - n) <= _SNAP_REL * fabs(x):
        return n
    return x


cdef int64_t price_to_units(double px, int px_decimals, int direction) noexcept nogil:
    """Round a float price to valid price units in `direction` (see the module doc).

    Down from below one unit gives 0 (no valid price); up or nearest gives 1 unit.
    NaN, inf, px <= 0 and prices beyond MAX_UNITS give 0.
    """
    cdef double x, lo, tol, dl, du
    cdef int64_t down = 0, up, tick
    if not (px > 0.0) or px_decimals < 0 or px_decimals > 18:
        return 0
    x = px * <double>_POW10[px_decimals]
    if not (x < _MAX_UNITS_D):
        return 0
    # The two valid prices around x. Comparing x with them (not rounding x to an
    # integer first) avoids double rounding: 100005.4 goes to 100010, not 100000.
    up = round_price_units(<int64_t>ceil(x), px_decimals, 1)
    lo = floor(x)
    if lo >= 1.0:
        down = round_price_units(<int64_t>lo, px_decimals, -1)
    # Snap onto a grid price that x stands for up to float error. Snapping to the grid
    # (not merely to an integer) also holds above 2**53 units, where doubles are
    # integers that need not be the decimal meant.
    tol = _SNAP_REL * x
    if up - x <= tol:
        return up
    if down > 0 and x - down <= tol:
        return down
    if direction < 0:
        return down
    if direction > 0 or down == 0:
        return up
    dl = x - <double>down
    du = <double>up - x
    if dl < du:
        return down
    if du < dl:
        return up
    tick = price_tick_units(down, px_decimals)
    if (down // tick) & 1:
        return up
    return down


cdef double units_to_price(int64_t px_units, int px_decimals) noexcept nogil:
    """Price units back to a float: the double nearest the exact decimal (one correctly rounded division)."""
    if px_decimals < 0 or px_decimals > 18:
        return 0.0
    return <double>px_units / <double>_POW10[px_decimals]


cdef int64_t size_to_lots(double sz, int sz_decimals, int direction) noexcept nogil:
    """Round a float size to whole lots: -1 down (never more than intended), +1 up, 0 nearest-even.

    Returns 0 (nothing to send) for NaN, inf, sz <= 0, sizes beyond MAX_UNITS lots,
    or a size that rounds below one lot.
    """
    cdef double x
    if not (sz > 0.0) or sz_decimals < 0 or sz_decimals > 18:
        return 0
    x = sz * <double>_POW10[sz_decimals]
    if not (x < _MAX_UNITS_D):
        return 0
    x = _snap(x)
    if direction < 0:
        return <int64_t>floor(x)
    if direction > 0:
        return <int64_t>ceil(x)
    return <int64_t>rint(x)


cdef double lots_to_size(int64_t lots, int sz_decimals) noexcept nogil:
    """Lots back to a float size (the double nearest the exact decimal)."""
    if sz_decimals < 0 or sz_decimals > 18:
        return 0.0
    return <double>lots / <double>_POW10[sz_decimals]


cdef inline int64_t _min_notional_scaled(double min_notional, int px_decimals, int sz_decimals) noexcept nogil:
    """min_notional in units of 10**-(px_decimals + sz_decimals) USD, rounded up; -1 if unusable."""
    cdef int e = px_decimals + sz_decimals
    cdef double t
    if px_decimals < 0 or sz_decimals < 0 or e > 18 or min_notional != min_notional:
        return -1
    if min_notional <= 0.0:
        return 0
    t = min_notional * <double>_POW10[e]
    if not (t < _MAX_UNITS_D):
        return -1
    return <int64_t>ceil(_snap(t))


cdef bint notional_units_ok(int64_t px_units, int64_t sz_lots, int px_decimals, int sz_decimals,
                            double min_notional) noexcept nogil:
    """True iff price * size >= min_notional, decided exactly in integers (no int64 overflow)."""
    cdef int64_t t
    if px_units <= 0 or sz_lots <= 0:
        return False
    t = _min_notional_scaled(min_notional, px_decimals, sz_decimals)
    if t < 0:
        return False
    # px * lots >= t  <=>  lots >= ceil(t / px) for positive integers.
    return sz_lots >= t // px_units + (1 if t % px_units else 0)


cdef int64_t min_lots_for_notional(int64_t px_units, int px_decimals, int sz_decimals,
                                   double min_notional) noexcept nogil:
    """Fewest lots (>= 1) whose notional at px_units reaches min_notional; 0 if px_units <= 0 or bad input."""
    cdef int64_t t, n
    if px_units <= 0:
        return 0
    t = _min_notional_scaled(min_notional, px_decimals, sz_decimals)
    if t < 0:
        return 0
    n = t // px_units + (1 if t % px_units else 0)
    return n if n >= 1 else 1


# Codes of order_check_code, in the order the checks run.
ORDER_OK = 0
ORDER_INVALID_PRICE = 1    # price <= 0
ORDER_TICK = 2             # not on the price grid
ORDER_INVALID_SIZE = 3     # size < 0
ORDER_ZERO_SIZE = 4
ORDER_MIN_NOTIONAL = 5


cdef int order_check_code(int64_t px_units, int64_t sz_lots, int px_decimals, int sz_decimals,
                          double min_notional, bint reduce_only) noexcept nogil:
    """The first of the exchange's per-order checks this order fails (ORDER_* code), 0 if none.

    Reduce-only orders skip the minimum notional (see hlmm.exchange.wire.check_order).
    """
    if px_units <= 0:
        return 1
    if not price_units_valid(px_units, px_decimals):
        return 2
    if sz_lots < 0:
        return 3
    if sz_lots == 0:
        return 4
    if not reduce_only and not notional_units_ok(px_units, sz_lots, px_decimals, sz_decimals, min_notional):
        return 5
    return 0


cdef int units_to_wire_buf(int64_t units, int decimals, char* out) noexcept nogil:
    """Write units / 10**decimals as Hyperliquid's decimal string into out; return its length.

    No exponent, no trailing zeros, no trailing point ("100", "0.0147", "-2.5").
    Returns 0 (nothing written) for decimals outside [0, 18] or INT64_MIN.
    """
    cdef char digits[20]
    cdef int nd = 0, pos = 0, i, int_digits, frac_len
    cdef int64_t v = units
    if decimals < 0 or decimals > 18 or units == INT64_MIN:
        return 0
    if v < 0:
        out[pos] = b'-'
        pos += 1
        v = -v
    # digits[], least significant first
    while True:
        digits[nd] = <char>(48 + v % 10)
        nd += 1
        v //= 10
        if v == 0:
            break
    # drop trailing fractional zeros
    frac_len = decimals
    i = 0
    while frac_len > 0 and i < nd and digits[i] == b'0':
        frac_len -= 1
        i += 1
    if nd <= decimals and i == nd:  # the value is zero
        out[0] = b'0'
        return 1
    int_digits = nd - decimals
    if int_digits > 0:
        for i in range(nd - 1, nd - 1 - int_digits, -1):
            out[pos] = digits[i]
            pos += 1
    else:
        out[pos] = b'0'
        pos += 1
    if frac_len > 0:
        out[pos] = b'.'
        pos += 1
        # fractional digits are positions decimals-1 .. decimals-frac_len (zero beyond nd)
        for i in range(decimals - 1, decimals - 1 - frac_len, -1):
            out[pos] = digits[i] if i < nd else b'0'
            pos += 1
    return pos


# ---------------------------------------------------------------------------
# Thin Python wrappers (the cdef names above are the C interface for _core).

def py_pow10(int n) -> int:
    """10**n for 0 <= n <= 18, else 0."""
    return pow10(n)


def py_ndigits(int64_t n) -> int:
    """Decimal digits of |n|."""
    return ndigits(n)


def py_price_units_valid(int64_t px_units, int px_decimals) -> bool:
    """True iff px_units is a valid price at px_decimals."""
    return price_units_valid(px_units, px_decimals)


def py_price_tick_units(int64_t px_units, int px_decimals) -> int:
    """Tick (in units) of the decade holding px_units; 0 for px_units <= 0."""
    return price_tick_units(px_units, px_decimals)


def py_round_price_units(int64_t px_units, int px_decimals, int direction) -> int:
    """Nearest valid price units in direction (-1 down, +1 up, 0 nearest); 0 = none."""
    return round_price_units(px_units, px_decimals, direction)


def py_step_price_units(int64_t px_units, int px_decimals, int direction) -> int:
    """Next valid price units strictly in direction; 0 = none."""
    return step_price_units(px_units, px_decimals, direction)


def py_price_to_units(double px, int px_decimals, int direction) -> int:
    """Float price -> valid price units in direction; 0 = no valid price."""
    return price_to_units(px, px_decimals, direction)


def py_units_to_price(int64_t px_units, int px_decimals) -> float:
    """Price units -> float price."""
    return units_to_price(px_units, px_decimals)


def py_size_to_lots(double sz, int sz_decimals, int direction=-1) -> int:
    """Float size -> lots (default down); 0 = nothing to send."""
    return size_to_lots(sz, sz_decimals, direction)


def py_lots_to_size(int64_t lots, int sz_decimals) -> float:
    """Lots -> float size."""
    return lots_to_size(lots, sz_decimals)


def py_notional_units_ok(int64_t px_units, int64_t sz_lots, int px_decimals, int sz_decimals,
                         double min_notional) -> bool:
    """True iff price * size >= min_notional (exact)."""
    return notional_units_ok(px_units, sz_lots, px_decimals, sz_decimals, min_notional)


def py_min_lots_for_notional(int64_t px_units, int px_decimals, int sz_decimals,
                             double min_notional) -> int:
    """Fewest lots reaching min_notional at px_units; 0 if px_units <= 0."""
    return min_lots_for_notional(px_units, px_decimals, sz_decimals, min_notional)


def py_order_check_code(int64_t px_units, int64_t sz_lots, int px_decimals, int sz_decimals,
                        double min_notional, bint reduce_only=False) -> int:
    """ORDER_* code of the first failed per-order check; 0 = acceptable."""
    return order_check_code(px_units, sz_lots, px_decimals, sz_decimals, min_notional, reduce_only)


def units_to_wire(int64_t units, int decimals) -> str:
    """units / 10**decimals as Hyperliquid's wire string ("100", "1670.1", "0.0147")."""
    cdef char buf[32]
    cdef int n = units_to_wire_buf(units, decimals, buf)
    if n == 0:
        raise ValueError(f"cannot format units={units} with decimals={decimals}")
    return buf[:n].decode("ascii")


def wire_strings(const int64_t[:] units, int decimals) -> list:
    """units_to_wire over an int64 array (one call for a whole ladder side)."""
    cdef Py_ssize_t i, n = units.shape[0]
    cdef char buf[32]
    cdef int k
    out = [None] * n
    for i in range(n):
        k = units_to_wire_buf(units[i], decimals, buf)
        if k == 0:
            raise ValueError(f"cannot format units={units[i]} with decimals={decimals}")
        out[i] = buf[:k].decode("ascii")
    return out
