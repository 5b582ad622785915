"""One asset's Hyperliquid L2 book in integer price units and size lots.

Hyperliquid pushes the whole book (up to 20 levels a side) on every ``l2Book`` message, so the
book is replaced as a whole, never patched. Three ways in, all validated the same way:

* ``apply_message(raw)``: the WebSocket frame as received (``bytes`` or ``str``), either the
  envelope ``{"channel":"l2Book","data":{...}}`` or the bare ``/info`` response
  ``{"coin":..,"time":..,"levels":[[bids],[asks]]}``. A hand-written scanner reads the buffer in
  place; decimal strings become int64 units/lots exactly (no float in between).
* ``apply_levels(levels, time_ms)``: the already-parsed ``levels`` list.
* ``apply_arrays(bid_px, bid_sz, ask_px, ask_sz, time_ms)``: units and lots directly.

Defined behaviour (tested):

* Every snapshot is parsed into scratch arrays and swapped in only when fully valid, so a
  ``BookError`` leaves the previous book untouched (and counts ``rejected_count``).
* ``time < time_ms`` of the current book: ignored, ``stale_count`` += 1, the call returns False.
  ``time == time_ms`` is applied (a duplicate push carries the same book).
* A side with more levels than ``capacity`` keeps its best ``capacity`` levels; the rest are
  still validated, and ``truncated_count`` counts such snapshots.
* An empty side is valid: ``two_sided`` is False, the best price of that side is 0 units / NaN,
  and mid, spread, microprice and impact are NaN.
* Errors (all ``BookError``, a ``ValueError``): malformed or truncated JSON, wrong shapes,
  missing ``coin``/``time``/``levels``/``px``/``sz``, a channel other than ``l2Book``, a coin
  other than the book's, decimal strings that are not ``-?digits[.digits]``, values of 10**15
  units/lots or more, nonzero digits beyond px_decimals/sz_decimals (trailing zeros are fine:
  ``"1234.0"`` is a valid size at sz_decimals 0), prices or sizes <= 0, bids not strictly
  descending or asks not strictly ascending, a crossed book (best bid >= best ask).
* The whole message is checked for JSON syntax. String escapes are decoded in the coin and in
  px/sz strings (a cold path: Hyperliquid sends none); key names are matched literally. A key
  the book reads (channel, data, coin, time, levels, px, sz, n) given twice in one object is an
  error rather than "last wins". Bytes above 0x7F are only allowed inside strings and are not
  UTF-8 validated. When the JSON is broken, that is reported in preference to content errors.
"""
import json

import numpy as np

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.unicode cimport PyUnicode_AsUTF8AndSize
from libc.math cimport NAN, isnan, llround
from libc.stdint cimport INT64_MAX, int64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcmp, memcpy
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec

BID = BOOK_BID
ASK = BOOK_ASK
DEFAULT_CAPACITY = 20      # Hyperliquid's maximum levels per side
MAX_CAPACITY = 1000
VALUE_LIMIT = 10 ** 15     # prices in units and sizes in lots must be below this

cdef int64_t _LIMIT = 1000000000000000
cdef int _MAX_DEPTH = 128   # JSON nesting accepted inside skipped values


# ---------------------------------------------------------------------------------- errors
class BookError(ValueError):
    """An l2Book snapshot was refused; the book kept its previous state."""


class MalformedMessageError(BookError):
    """Not valid JSON, or JSON of the wrong shape (e.g. ``levels`` not ``[bids, asks]``)."""


class TruncatedMessageError(MalformedMessageError):
    """The message ends before the JSON does."""


class MissingFieldError(BookError):
    """A required field (coin, time, levels, data, px, sz) is absent."""


class WrongChannelError(BookError):
    """The WebSocket frame is for a channel other than ``l2Book``."""


class CoinMismatchError(BookError):
    """The snapshot is for a different coin than this book."""


class InvalidNumberError(BookError):
    """A number field is not a decimal string / non-negative integer, or is out of range."""


class TooManyDecimalsError(BookError):
    """A price or size has nonzero digits beyond px_decimals / sz_decimals."""


class NonPositiveError(BookError):
    """A price or size is zero or negative."""


class UnsortedLevelsError(BookError):
    """Bids are not strictly descending or asks not strictly ascending."""


class CrossedBookError(BookError):
    """Best bid >= best ask."""


cdef class FillEstimate:
    """Walking one side of the book for a size (the result of L2Book.vwap / vwap_lots).

    vwap: average price of what the held levels fill (NaN when nothing); impact_bps: vwap's
    distance from mid in bps, positive = worse for the taker (NaN one-sided); filled /
    filled_lots: how much the held levels fill; complete: False when the book is too thin."""
    cdef readonly double vwap
    cdef readonly double impact_bps
    cdef readonly double filled
    cdef readonly int64_t filled_lots
    cdef readonly bint complete

    def __repr__(self) -> str:
        return (f"FillEstimate(vwap={self.vwap!r}, impact_bps={self.impact_bps!r}, "
                f"filled={self.filled!r}, filled_lots={self.filled_lots}, complete={self.complete})")


# ------------------------------------------------------------------------------- scanner
cdef enum:
    E_OK = 0
    E_SYNTAX
    E_TRUNCATED
    E_STRUCTURE
    E_MISSING
    E_CHANNEL
    E_NUMBER
    E_RANGE
    E_DECIMALS
    E_NONPOSITIVE
    E_UNSORTED
    E_NOT_INT
    E_DUPLICATE

cdef enum:
    F_NONE = 0
    F_COIN = 1
    F_TIME = 2
    F_LEVELS = 4
    F_PX = 8
    F_SZ = 16
    F_N = 32
    F_CHANNEL = 64
    F_DATA = 128
    F_LEVEL = 256
    F_SIDE = 512

_FIELD_NAMES = {F_NONE: "message", F_COIN: "coin", F_TIME: "time", F_LEVELS: "levels",
                F_PX: "px", F_SZ: "sz", F_N: "n", F_CHANNEL: "channel", F_DATA: "data",
                F_LEVEL: "level", F_SIDE: "side"}

cdef struct Scan:
    const unsigned char* buf
    Py_ssize_t end
    Py_ssize_t pos
    int depth
    int err
    int err_field
    int err_side            # -1 when the error is not inside a side
    Py_ssize_t err_level    # -1 when not inside a level
    Py_ssize_t err_pos
    Py_ssize_t tok_start    # offending token, for the message
    Py_ssize_t tok_end
    int64_t bad_px          # unsorted: this level's px and the previous one
    int64_t prev_px
    int found               # F_COIN | F_TIME | F_LEVELS seen in the book object
    Py_ssize_t coin_start
    Py_ssize_t coin_end
    bint coin_escaped
    int64_t time_ms
    BookSide* sides[2]
    Py_ssize_t total[2]     # levels received per side (may exceed capacity)
    Py_ssize_t capacity
    int px_decimals
    int sz_decimals


cdef inline bint _digit(unsigned char c) noexcept nogil:
    return 48 <= c <= 57


cdef inline void _ws(Scan* s) noexcept nogil:
    cdef unsigned char c
    while s.pos < s.end:
        c = s.buf[s.pos]
        if c == 32 or c == 10 or c == 13 or c == 9:
            s.pos += 1
        else:
            return


cdef int _fail(Scan* s, int code, int field) noexcept nogil:
    s.err = code
    s.err_field = field
    s.err_pos = s.pos
    s.tok_start = s.pos
    s.tok_end = s.pos
    return -1


cdef int _fail_tok(Scan* s, int code, int field, Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    s.err = code
    s.err_field = field
    s.err_pos = a
    s.tok_start = a
    s.tok_end = b
    return -1


cdef inline int _need(Scan* s) noexcept nogil:
    """Skip whitespace; fail as truncated when the buffer ends."""
    _ws(s)
    if s.pos >= s.end:
        return _fail(s, E_TRUNCATED, F_NONE)
    return 0


cdef inline bint _hex(unsigned char c) noexcept nogil:
    return _digit(c) or 97 <= c <= 102 or 65 <= c <= 70


cdef inline int _scan_string(Scan* s, Py_ssize_t* start, Py_ssize_t* stop, bint* escaped) noexcept nogil:
    """At a '"': find the closing quote, checking escapes and control characters."""
    cdef Py_ssize_t i = s.pos + 1
    cdef unsigned char c
    cdef int k
    escaped[0] = 0
    start[0] = i
    while i < s.end:
        c = s.buf[i]
        if c == 34:                                     # closing quote
            stop[0] = i
            s.pos = i + 1
            return 0
        if c == 92:                                     # backslash
            escaped[0] = 1
            i += 1
            if i >= s.end:
                break
            c = s.buf[i]
            if c == 117:                                # \uXXXX
                for k in range(4):
                    i += 1
                    if i >= s.end:
                        s.pos = s.end
                        return _fail(s, E_TRUNCATED, F_NONE)
                    if not _hex(s.buf[i]):
                        s.pos = i
                        return _fail(s, E_SYNTAX, F_NONE)
            elif not (c == 34 or c == 92 or c == 47 or c == 98 or c == 102 or c == 110
                      or c == 114 or c == 116):
                s.pos = i
                return _fail(s, E_SYNTAX, F_NONE)
        elif c < 32:
            s.pos = i
            return _fail(s, E_SYNTAX, F_NONE)
        i += 1
    s.pos = s.end
    return _fail(s, E_TRUNCATED, F_NONE)


cdef inline int _skip_number(Scan* s) noexcept nogil:
    """JSON number grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?"""
    cdef Py_ssize_t i = s.pos
    if s.buf[i] == 45:
        i += 1
    if i >= s.end:
        s.pos = i
        return _fail(s, E_TRUNCATED, F_NONE)
    if s.buf[i] == 48:
        i += 1
    elif _digit(s.buf[i]):
        while i < s.end and _digit(s.buf[i]):
            i += 1
    else:
        s.pos = i
        return _fail(s, E_SYNTAX, F_NONE)
    if i < s.end and s.buf[i] == 46:                    # fraction
        i += 1
        if i >= s.end:
            s.pos = i
            return _fail(s, E_TRUNCATED, F_NONE)
        if not _digit(s.buf[i]):
            s.pos = i
            return _fail(s, E_SYNTAX, F_NONE)
        while i < s.end and _digit(s.buf[i]):
            i += 1
    if i < s.end and (s.buf[i] == 101 or s.buf[i] == 69):   # exponent
        i += 1
        if i < s.end and (s.buf[i] == 43 or s.buf[i] == 45):
            i += 1
        if i >= s.end:
            s.pos = i
            return _fail(s, E_TRUNCATED, F_NONE)
        if not _digit(s.buf[i]):
            s.pos = i
            return _fail(s, E_SYNTAX, F_NONE)
        while i < s.end and _digit(s.buf[i]):
            i += 1
    s.pos = i
    return 0


cdef int _skip_literal(Scan* s, const char* lit, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t avail = s.end - s.pos
    cdef Py_ssize_t m = n if avail >= n else avail
    if memcmp(s.buf + s.pos, lit, m) != 0:
        return _fail(s, E_SYNTAX, F_NONE)
    if m < n:
        s.pos = s.end
        return _fail(s, E_TRUNCATED, F_NONE)
    s.pos += n
    return 0


cdef inline int _next_key(Scan* s, Py_ssize_t* ks, Py_ssize_t* ke) noexcept nogil:
    """Read `"key" :` and leave pos at the value."""
    cdef bint esc
    if _need(s):
        return -1
    if s.buf[s.pos] != 34:
        return _fail(s, E_SYNTAX, F_NONE)
    if _scan_string(s, ks, ke, &esc):
        return -1
    if _need(s):
        return -1
    if s.buf[s.pos] != 58:
        return _fail(s, E_SYNTAX, F_NONE)
    s.pos += 1
    return 0


cdef inline int _after_member(Scan* s, unsigned char close) noexcept nogil:
    """After a value inside a container: 1 if ',' (more follows), 0 at the closer, -1 error."""
    if _need(s):
        return -1
    cdef unsigned char c = s.buf[s.pos]
    if c == 44:
        s.pos += 1
        return 1
    if c == close:
        s.pos += 1
        return 0
    return _fail(s, E_SYNTAX, F_NONE)


cdef int _skip_value(Scan* s) noexcept nogil:
    cdef Py_ssize_t ks, ke
    cdef bint esc
    cdef int r
    cdef unsigned char c
    if _need(s):
        return -1
    c = s.buf[s.pos]
    if c == 34:
        return _scan_string(s, &ks, &ke, &esc)
    if c == 123 or c == 91:                             # { or [
        s.depth += 1
        if s.depth > _MAX_DEPTH:
            return _fail(s, E_SYNTAX, F_NONE)
        s.pos += 1
        if _need(s):
            return -1
        if s.buf[s.pos] == c + 2:                       # empty: '}' = '{'+2, ']' = '['+2
            s.pos += 1
        else:
            while True:
                if c == 123 and _next_key(s, &ks, &ke):
                    return -1
                if _skip_value(s):
                    return -1
                r = _after_member(s, c + 2)
                if r < 0:
                    return -1
                if r == 0:
                    break
        s.depth -= 1
        return 0
    if c == 45 or _digit(c):
        return _skip_number(s)
    if c == 116:
        return _skip_literal(s, b"true", 4)
    if c == 102:
        return _skip_literal(s, b"false", 5)
    if c == 110:
        return _skip_literal(s, b"null", 4)
    return _fail(s, E_SYNTAX, F_NONE)


cdef inline bint _key_is(Scan* s, Py_ssize_t ks, Py_ssize_t ke, const char* name,
                         Py_ssize_t n) noexcept nogil:
    return ke - ks == n and memcmp(s.buf + ks, name, n) == 0


cdef int _wrong_type(Scan* s, int field) noexcept nogil:
    """The value at pos has the wrong JSON type: skip it (syntax first) and report it."""
    cdef Py_ssize_t a = s.pos
    if _skip_value(s):
        return -1
    return _fail_tok(s, E_STRUCTURE, field, a, s.pos)


cdef inline int _parse_uint(Scan* s, int field, int64_t* out) noexcept nogil:
    """A JSON integer >= 0 below 2**63 (``-0`` is 0)."""
    cdef Py_ssize_t a, i
    cdef int64_t v = 0
    cdef int d
    cdef bint neg
    if _need(s):
        return -1
    a = s.pos
    if not (s.buf[a] == 45 or _digit(s.buf[a])):
        if _skip_value(s):
            return -1
        return _fail_tok(s, E_NOT_INT, field, a, s.pos)
    if _skip_number(s):
        return -1
    neg = s.buf[a] == 45
    i = a + neg
    while i < s.pos and _digit(s.buf[i]):
        d = s.buf[i] - 48
        if v > (INT64_MAX - d) // 10:
            return _fail_tok(s, E_RANGE, field, a, s.pos)
        v = v * 10 + d
        i += 1
    if i != s.pos or (neg and v != 0):
        return _fail_tok(s, E_NOT_INT, field, a, s.pos)
    out[0] = v
    return 0


cdef inline int _parse_decimal(const unsigned char* p, Py_ssize_t n, int decimals,
                        int64_t* out) noexcept nogil:
    """Exact decimal string -> integer of 10**-decimals. Returns E_OK or the error code."""
    cdef Py_ssize_t i = 0, j, int_a, int_b, fr_a, fr_b, kept
    cdef int64_t v = 0
    cdef bint neg = n > 0 and p[0] == 45
    i = neg
    int_a = i
    while i < n and _digit(p[i]):
        i += 1
    if i == int_a:
        return E_NUMBER
    int_b = i
    fr_a = fr_b = i
    if i < n and p[i] == 46:
        i += 1
        fr_a = i
        while i < n and _digit(p[i]):
            i += 1
        if i == fr_a:
            return E_NUMBER
        fr_b = i
    if i != n:
        return E_NUMBER
    for j in range(fr_a + decimals, fr_b):
        if p[j] != 48:
            return E_DECIMALS
    for j in range(int_a, int_b):
        v = v * 10 + (p[j] - 48)
        if v >= _LIMIT:
            return E_RANGE
    kept = fr_b - fr_a
    if kept > decimals:
        kept = decimals
    for j in range(fr_a, fr_a + kept):
        v = v * 10 + (p[j] - 48)
        if v >= _LIMIT:
            return E_RANGE
    for j in range(kept, decimals):
        v *= 10
        if v >= _LIMIT:
            return E_RANGE
    if neg or v == 0:
        return E_NONPOSITIVE
    out[0] = v
    return E_OK


cdef int _hexval(unsigned char c) noexcept nogil:
    if c <= 57:
        return c - 48
    return (c | 32) - 87


cdef Py_ssize_t _unescape(const unsigned char* p, Py_ssize_t n, unsigned char* out,
                          Py_ssize_t cap) noexcept nogil:
    """Decode a validated JSON string body into `out`; -1 when it does not fit or decodes to
    a non-ASCII character (neither can be a number). Cold path: Hyperliquid never escapes."""
    cdef Py_ssize_t i = 0, k = 0
    cdef int code
    cdef unsigned char c
    while i < n:
        if k >= cap:
            return -1
        c = p[i]
        if c == 92:
            c = p[i + 1]
            if c == 117:
                code = (_hexval(p[i + 2]) << 12 | _hexval(p[i + 3]) << 8
                        | _hexval(p[i + 4]) << 4 | _hexval(p[i + 5]))
                if code > 127:
                    return -1
                c = <unsigned char>code
                i += 6
            else:
                # \" \\ \/ map to themselves; \b \f \n \r \t to a control char (never a digit)
                c = c if (c == 34 or c == 92 or c == 47) else 1
                i += 2
        else:
            i += 1
        out[k] = c
        k += 1
    return k


cdef inline int _parse_decimal_field(Scan* s, int field, int decimals, int64_t* out) noexcept nogil:
    cdef Py_ssize_t a, b, m
    cdef bint esc
    cdef int code
    cdef unsigned char tmp[64]
    if _need(s):
        return -1
    if s.buf[s.pos] != 34:
        return _wrong_type(s, field)
    if _scan_string(s, &a, &b, &esc):
        return -1
    if not esc:
        code = _parse_decimal(s.buf + a, b - a, decimals, out)
    else:
        m = _unescape(s.buf + a, b - a, tmp, 64)
        code = E_NUMBER if m < 0 else _parse_decimal(tmp, m, decimals, out)
    if code != E_OK:
        return _fail_tok(s, code, field, a, b)
    return 0


cdef int _parse_level(Scan* s, int64_t* px, int64_t* sz, int64_t* n) noexcept nogil:
    """At '{': one level object {"px": str, "sz": str, "n": int?}, keys in any order."""
    cdef Py_ssize_t ks, ke, start = s.pos
    cdef int seen = 0, r
    n[0] = 0
    s.pos += 1
    if _need(s):
        return -1
    if s.buf[s.pos] == 125:
        s.pos += 1
    else:
        while True:
            if _next_key(s, &ks, &ke):
                return -1
            if _key_is(s, ks, ke, b"px", 2):
                if seen & F_PX:
                    return _fail_tok(s, E_DUPLICATE, F_PX, ks, ke)
                if _parse_decimal_field(s, F_PX, s.px_decimals, px):
                    return -1
                seen |= F_PX
            elif _key_is(s, ks, ke, b"sz", 2):
                if seen & F_SZ:
                    return _fail_tok(s, E_DUPLICATE, F_SZ, ks, ke)
                if _parse_decimal_field(s, F_SZ, s.sz_decimals, sz):
                    return -1
                seen |= F_SZ
            elif _key_is(s, ks, ke, b"n", 1):
                if seen & F_N:
                    return _fail_tok(s, E_DUPLICATE, F_N, ks, ke)
                if _parse_uint(s, F_N, n):
                    return -1
                seen |= F_N
            elif _skip_value(s):
                return -1
            r = _after_member(s, 125)
            if r < 0:
                return -1
            if r == 0:
                break
    if not (seen & F_PX):
        return _fail_tok(s, E_MISSING, F_PX, start, s.pos)
    if not (seen & F_SZ):
        return _fail_tok(s, E_MISSING, F_SZ, start, s.pos)
    return 0


cdef int _parse_side(Scan* s, int side) noexcept nogil:
    """At a side's list: parse, validate and store the best `capacity` levels."""
    cdef BookSide* out = s.sides[side]
    cdef Py_ssize_t idx = 0
    cdef int64_t px = 0, sz = 0, n = 0, prev = 0
    cdef int r
    out.count = 0
    s.total[side] = 0
    s.err_side = side
    if _need(s):
        return -1
    if s.buf[s.pos] != 91:
        return _wrong_type(s, F_SIDE)
    s.pos += 1
    if _need(s):
        return -1
    if s.buf[s.pos] == 93:
        s.pos += 1
    else:
        while True:
            s.err_level = idx
            if _need(s):
                return -1
            if s.buf[s.pos] != 123:
                return _wrong_type(s, F_LEVEL)
            if _parse_level(s, &px, &sz, &n):
                return -1
            if idx > 0 and ((side == BOOK_BID and px >= prev) or (side == BOOK_ASK and px <= prev)):
                s.bad_px = px
                s.prev_px = prev
                return _fail(s, E_UNSORTED, F_PX)
            if idx < s.capacity:
                out.px[idx] = px
                out.sz[idx] = sz
                out.n[idx] = n
            prev = px
            idx += 1
            r = _after_member(s, 93)
            if r < 0:
                return -1
            if r == 0:
                break
    out.count = idx if idx < s.capacity else s.capacity
    s.total[side] = idx
    s.err_side = -1
    s.err_level = -1
    return 0


cdef int _parse_levels(Scan* s) noexcept nogil:
    """At `levels`: exactly [bids, asks]."""
    cdef Py_ssize_t a
    if _need(s):
        return -1
    a = s.pos
    if s.buf[a] != 91:
        return _wrong_type(s, F_LEVELS)
    s.pos += 1
    if _need(s):
        return -1
    if s.buf[s.pos] == 93:
        s.pos += 1
        return _fail_tok(s, E_STRUCTURE, F_LEVELS, a, s.pos)
    if _parse_side(s, BOOK_BID):
        return -1
    if _need(s):
        return -1
    if s.buf[s.pos] == 93:
        s.pos += 1
        return _fail_tok(s, E_STRUCTURE, F_LEVELS, a, s.pos)
    if s.buf[s.pos] != 44:
        return _fail(s, E_SYNTAX, F_NONE)
    s.pos += 1
    if _parse_side(s, BOOK_ASK):
        return -1
    if _need(s):
        return -1
    if s.buf[s.pos] == 44:
        s.pos = a
        if _skip_value(s):
            return -1
        return _fail_tok(s, E_STRUCTURE, F_LEVELS, a, s.pos)
    if s.buf[s.pos] != 93:
        return _fail(s, E_SYNTAX, F_NONE)
    s.pos += 1
    s.found |= F_LEVELS
    return 0


cdef int _parse_coin(Scan* s) noexcept nogil:
    if _need(s):
        return -1
    if s.buf[s.pos] != 34:
        return _wrong_type(s, F_COIN)
    if _scan_string(s, &s.coin_start, &s.coin_end, &s.coin_escaped):
        return -1
    s.found |= F_COIN
    return 0


cdef int _parse_time(Scan* s) noexcept nogil:
    if _parse_uint(s, F_TIME, &s.time_ms):
        return -1
    s.found |= F_TIME
    return 0


cdef int _parse_field(Scan* s, int field) noexcept nogil:
    if field == F_COIN:
        return _parse_coin(s)
    if field == F_TIME:
        return _parse_time(s)
    return _parse_levels(s)


cdef int _parse_book(Scan* s) noexcept nogil:
    """At the book object {"coin","time","levels",...}; other keys are skipped."""
    cdef Py_ssize_t ks, ke
    cdef int r, key
    if _need(s):
        return -1
    if s.buf[s.pos] != 123:
        return _wrong_type(s, F_DATA)
    s.found = 0
    s.pos += 1
    if _need(s):
        return -1
    if s.buf[s.pos] == 125:
        s.pos += 1
        return 0
    while True:
        if _next_key(s, &ks, &ke):
            return -1
        key = (F_LEVELS if _key_is(s, ks, ke, b"levels", 6) else F_COIN if _key_is(s, ks, ke, b"coin", 4)
               else F_TIME if _key_is(s, ks, ke, b"time", 4) else F_NONE)
        if key and s.found & key:
            return _fail_tok(s, E_DUPLICATE, key, ks, ke)
        r = _parse_field(s, key) if key else _skip_value(s)
        if r:
            return -1
        r = _after_member(s, 125)
        if r < 0:
            return -1
        if r == 0:
            return 0


cdef int _parse_message(Scan* s) noexcept nogil:
    """Top level: the WS envelope or the bare /info response.

    The envelope's "data" is parsed in place when "channel" came first (as Hyperliquid sends
    it); otherwise its position is remembered and parsed after the channel is known. Bare book
    fields are parsed after the top level is read, in text order, and only without a channel.
    """
    cdef Py_ssize_t ks, ke, a, b
    cdef Py_ssize_t data_pos = -1
    cdef Py_ssize_t pos3[3]
    cdef int fields3[3]
    cdef bint esc, chan_seen = 0, data_done = 0
    cdef int r, k, best, key, top_seen = 0
    pos3[0] = pos3[1] = pos3[2] = -1
    fields3[0] = F_COIN
    fields3[1] = F_TIME
    fields3[2] = F_LEVELS
    if _need(s):
        return -1
    if s.buf[s.pos] != 123:
        if s.buf[s.pos] == 91:
            return _wrong_type(s, F_NONE)
        return _fail(s, E_SYNTAX, F_NONE)
    s.pos += 1
    if _need(s):
        return -1
    if s.buf[s.pos] == 125:
        s.pos += 1
    else:
        while True:
            if _next_key(s, &ks, &ke):
                return -1
            r = 0
            key = (F_CHANNEL if _key_is(s, ks, ke, b"channel", 7) else F_DATA if _key_is(s, ks, ke, b"data", 4)
                   else F_COIN if _key_is(s, ks, ke, b"coin", 4) else F_TIME if _key_is(s, ks, ke, b"time", 4)
                   else F_LEVELS if _key_is(s, ks, ke, b"levels", 6) else F_NONE)
            if key and top_seen & key:
                return _fail_tok(s, E_DUPLICATE, key, ks, ke)
            top_seen |= key
            if key == F_CHANNEL:
                if _need(s):
                    return -1
                if s.buf[s.pos] != 34:
                    return _wrong_type(s, F_CHANNEL)
                if _scan_string(s, &a, &b, &esc):
                    return -1
                if not (b - a == 6 and memcmp(s.buf + a, b"l2Book", 6) == 0):
                    return _fail_tok(s, E_CHANNEL, F_CHANNEL, a, b)
                chan_seen = 1
            elif key == F_DATA:
                if chan_seen:
                    r = _parse_book(s)
                    data_done = 1
                else:
                    _ws(s)
                    data_pos = s.pos
                    r = _skip_value(s)
            elif key == F_COIN:
                _ws(s)
                pos3[0] = s.pos
                r = _skip_value(s)
            elif key == F_TIME:
                _ws(s)
                pos3[1] = s.pos
                r = _skip_value(s)
            elif key == F_LEVELS:
                _ws(s)
                pos3[2] = s.pos
                r = _skip_value(s)
            else:
                r = _skip_value(s)
            if r:
                return -1
            r = _after_member(s, 125)
            if r < 0:
                return -1
            if r == 0:
                break
    _ws(s)
    if s.pos != s.end:
        return _fail(s, E_SYNTAX, F_NONE)
    if chan_seen:
        if not data_done:
            if data_pos < 0:
                return _fail(s, E_MISSING, F_DATA)
            s.pos = data_pos
            if _parse_book(s):
                return -1
    else:
        s.found = 0
        while True:                                     # deferred bare fields, in text order
            best = -1
            for k in range(3):
                if pos3[k] >= 0 and (best < 0 or pos3[k] < pos3[best]):
                    best = k
            if best < 0:
                break
            s.pos = pos3[best]
            pos3[best] = -1
            if _parse_field(s, fields3[best]):
                return -1
    if not (s.found & F_COIN):
        return _fail(s, E_MISSING, F_COIN)
    if not (s.found & F_TIME):
        return _fail(s, E_MISSING, F_TIME)
    if not (s.found & F_LEVELS):
        return _fail(s, E_MISSING, F_LEVELS)
    return 0


cdef void _prefer_syntax_error(Scan* s) noexcept nogil:
    """Cold path after a content error: if the message is not valid JSON at all, report that
    instead (as json.loads would), since a broken string can masquerade as a bad value."""
    cdef Scan v
    v.buf = s.buf
    v.end = s.end
    v.pos = 0
    v.depth = 0
    if _skip_value(&v) == 0:
        _ws(&v)
        if v.pos == v.end:
            return
        _fail(&v, E_SYNTAX, F_NONE)
    s.err = v.err
    s.err_field = F_NONE
    s.err_side = -1
    s.err_level = -1
    s.err_pos = v.err_pos
    s.tok_start = v.tok_start
    s.tok_end = v.tok_end


# ----------------------------------------------------------------------------- helpers
cdef inline int64_t _monotonic_ns() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return <int64_t>ts.tv_sec * 1000000000 + ts.tv_nsec


def _fmt_units(value, int decimals) -> str:
    """Integer units -> shortest decimal string (``2127700, 5 -> "21.277"``), for messages."""
    sign = "-" if value < 0 else ""
    digits = str(abs(value)).rjust(decimals + 1, "0")
    if decimals == 0:
        return sign + digits
    text = f"{digits[:-decimals]}.{digits[-decimals:]}".rstrip("0").rstrip(".")
    return sign + text


def _excerpt(bytes raw, Py_ssize_t a, Py_ssize_t b, Py_ssize_t limit=40) -> str:
    text = raw[a:b].decode("utf-8", "replace")
    return text if len(text) <= limit else text[:limit] + "..."


def _where(int side, Py_ssize_t level) -> str:
    if side < 0:
        return "l2Book"
    name = "bid" if side == BOOK_BID else "ask"
    return f"{name} level {level}" if level >= 0 else f"{name} side"


cdef object _scan_error(L2Book book, Scan* s):
    """Build the BookError for a failed scan (cold path)."""
    cdef bytes raw = (<const char*>s.buf)[:s.end]
    tok = _excerpt(raw, s.tok_start, s.tok_end)
    field = _FIELD_NAMES.get(s.err_field, "value")
    where = _where(s.err_side, s.err_level if s.err_side >= 0 else -1)
    dec = book.px_decimals if s.err_field == F_PX else book.sz_decimals
    code = s.err
    if code == E_TRUNCATED and s.end == 0:
        return TruncatedMessageError("empty l2Book message")
    if code == E_TRUNCATED:
        return TruncatedMessageError(
            f"l2Book message truncated: it ends at byte {s.end} inside the JSON")
    if code == E_SYNTAX:
        around = _excerpt(raw, max(0, s.err_pos - 15), min(s.end, s.err_pos + 15))
        return MalformedMessageError(
            f"malformed JSON in l2Book message at byte {s.err_pos}: ...{around}...")
    if code == E_STRUCTURE:
        expected = {F_LEVELS: "a list [bids, asks] of two lists", F_SIDE: "a list of levels",
                    F_LEVEL: "an object {px, sz, n}", F_PX: "a decimal string",
                    F_SZ: "a decimal string", F_COIN: "a string", F_CHANNEL: "a string",
                    F_DATA: "an object", F_NONE: "a JSON object"}.get(s.err_field, "valid")
        return MalformedMessageError(f"{where}: {field} must be {expected}, got {tok}")
    if code == E_MISSING:
        return MissingFieldError(f"{where}: missing field '{field}'")
    if code == E_DUPLICATE:
        return MalformedMessageError(f"{where}: duplicate key '{field}'")
    if code == E_CHANNEL:
        return WrongChannelError(f"expected channel 'l2Book', got '{tok}'")
    if code == E_NUMBER:
        return InvalidNumberError(f"{where} {field}: '{tok}' is not a decimal number")
    if code == E_RANGE:
        if s.err_field in (F_PX, F_SZ):
            return InvalidNumberError(
                f"{where} {field}: '{tok}' is out of range (10**15 {'units' if s.err_field == F_PX else 'lots'} or more)")
        return InvalidNumberError(f"{where}: '{field}' {tok} is out of range (2**63 or more)")
    if code == E_NOT_INT:
        return InvalidNumberError(f"{where}: '{field}' must be a non-negative integer, got {tok}")
    if code == E_DECIMALS:
        return TooManyDecimalsError(
            f"{where} {field}: '{tok}' has more than {dec} decimals "
            f"({field}_decimals={dec} for {book.coin})")
    if code == E_NONPOSITIVE:
        return NonPositiveError(f"{where} {field}: '{tok}' is not positive")
    if code == E_UNSORTED:
        return _unsorted_error(book, s.err_side, s.err_level, s.bad_px, s.prev_px)
    return BookError(f"l2Book message refused (code {code})")


def _unsorted_error(L2Book book, int side, Py_ssize_t level, int64_t px, int64_t prev):
    d = book.px_decimals
    if side == BOOK_BID:
        return UnsortedLevelsError(
            f"bid level {level}: px {_fmt_units(px, d)} is not below the previous level's "
            f"{_fmt_units(prev, d)} (bids must be strictly descending)")
    return UnsortedLevelsError(
        f"ask level {level}: px {_fmt_units(px, d)} is not above the previous level's "
        f"{_fmt_units(prev, d)} (asks must be strictly ascending)")


cdef int _check_side(int side) except -1:
    if side != BOOK_BID and side != BOOK_ASK:
        raise ValueError(f"side must be BID (0) or ASK (1), got {side!r}")
    return 0


def _int64_array(name, values):
    arr = np.asarray(values)
    if arr.size and arr.dtype.kind not in "iu":
        raise InvalidNumberError(f"{name} must hold integers (units/lots), got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.int64).reshape(-1)


cdef FillEstimate _estimate(L2Book book, int side, int64_t lots):
    cdef int64_t filled = 0
    cdef FillEstimate est = FillEstimate.__new__(FillEstimate)
    est.vwap = book.c_vwap_units(side, lots, &filled) / book._px_div
    est.impact_bps = book.c_impact_bps(side, lots) if filled else NAN
    est.filled = filled / book._sz_div
    est.filled_lots = filled
    est.complete = filled == lots
    return est


# -------------------------------------------------------------------------------- book
cdef class L2Book:
    """One asset's L2 book: prices in integer units of 10**-px_decimals, sizes in lots of
    10**-sz_decimals.

    L2Book(coin, sz_decimals, *, is_spot=False, px_decimals=None, capacity=20)
    px_decimals defaults to (8 if is_spot else 6) - sz_decimals. capacity = levels kept a side.
    """

    def __cinit__(self, coin, int sz_decimals, *, bint is_spot=False, px_decimals=None,
                  Py_ssize_t capacity=DEFAULT_CAPACITY):
        cdef bytes coin_b
        if not isinstance(coin, str) or not coin:
            raise ValueError(f"coin must be a non-empty str, got {coin!r}")
        coin_b = coin.encode("utf-8")
        if len(coin_b) > BOOK_COIN_MAX:
            raise ValueError(f"coin name longer than {BOOK_COIN_MAX} bytes: {coin!r}")
        if px_decimals is None:
            px_decimals = (8 if is_spot else 6) - sz_decimals
        if not 0 <= sz_decimals <= 12:
            raise ValueError(f"sz_decimals must be in 0..12, got {sz_decimals}")
        if not 0 <= px_decimals <= 12:
            raise ValueError(f"px_decimals must be in 0..12, got {px_decimals} "
                             f"(sz_decimals={sz_decimals}, is_spot={bool(is_spot)})")
        if not 1 <= capacity <= MAX_CAPACITY:
            raise ValueError(f"capacity must be in 1..{MAX_CAPACITY}, got {capacity}")
        memcpy(self._coin, <const char*>coin_b, len(coin_b))
        self._coin[len(coin_b)] = 0
        self._coin_len = len(coin_b)
        self.sz_decimals = sz_decimals
        self.px_decimals = px_decimals
        self.capacity = capacity
        self._px_div = 10.0 ** px_decimals
        self._sz_div = 10.0 ** sz_decimals
        self._block = <int64_t*>malloc(12 * capacity * sizeof(int64_t))
        if self._block == NULL:
            raise MemoryError()
        self._init_side(&self.bids, 0)
        self._init_side(&self.asks, 3)
        self._init_side(&self._next_bids, 6)
        self._init_side(&self._next_asks, 9)
        self.time_ms = -1
        self.recv_ns = -1

    cdef void _init_side(self, BookSide* side, Py_ssize_t slot) noexcept:
        side.px = self._block + slot * self.capacity
        side.sz = self._block + (slot + 1) * self.capacity
        side.n = self._block + (slot + 2) * self.capacity
        side.count = 0

    def __dealloc__(self):
        free(self._block)

    # ------------------------------------------------------------------------- input
    cdef int c_apply_message(self, const unsigned char* buf, Py_ssize_t length,
                             int64_t recv_ns) except -1:
        cdef Scan s
        s.buf = buf
        s.end = length
        s.pos = 0
        s.depth = 0
        s.err = E_OK
        s.err_side = -1
        s.err_level = -1
        s.found = 0
        s.coin_escaped = 0
        s.sides[0] = &self._next_bids
        s.sides[1] = &self._next_asks
        s.total[0] = s.total[1] = 0
        s.capacity = self.capacity
        s.px_decimals = self.px_decimals
        s.sz_decimals = self.sz_decimals
        if _parse_message(&s):
            self.rejected_count += 1
            if s.err != E_SYNTAX and s.err != E_TRUNCATED:
                _prefer_syntax_error(&s)
            raise _scan_error(self, &s)
        if (s.coin_escaped or s.coin_end - s.coin_start != self._coin_len
                or memcmp(buf + s.coin_start, self._coin, self._coin_len) != 0):
            self._check_coin_slow((<const char*>buf)[s.coin_start:s.coin_end], s.coin_escaped)
        return self._commit(s.time_ms, recv_ns,
                            s.total[0] > self.capacity or s.total[1] > self.capacity)

    def _check_coin_slow(self, bytes raw_coin, bint escaped):
        """Cold path: decode an escaped coin name, or report a mismatch."""
        coin = raw_coin.decode("utf-8", "replace")
        if escaped:
            coin = json.loads(f'"{coin}"')   # escapes were validated by the scanner
        if coin != self.coin:
            self.rejected_count += 1
            raise CoinMismatchError(f"l2Book for '{coin}' cannot be applied to the {self.coin} book")

    cdef int _commit(self, int64_t time_ms, int64_t recv_ns, bint truncated) except -1:
        """Validate across sides, drop stale snapshots, then swap the scratch sides in."""
        cdef BookSide tmp
        if (self._next_bids.count and self._next_asks.count
                and self._next_bids.px[0] >= self._next_asks.px[0]):
            self.rejected_count += 1
            raise CrossedBookError(
                f"crossed book: best bid {_fmt_units(self._next_bids.px[0], self.px_decimals)} "
                f">= best ask {_fmt_units(self._next_asks.px[0], self.px_decimals)}")
        if time_ms < self.time_ms:
            self.stale_count += 1
            return 0
        tmp = self.bids
        self.bids = self._next_bids
        self._next_bids = tmp
        tmp = self.asks
        self.asks = self._next_asks
        self._next_asks = tmp
        self.time_ms = time_ms
        self.recv_ns = recv_ns if recv_ns >= 0 else _monotonic_ns()
        self.applied_count += 1
        if truncated:
            self.truncated_count += 1
        return 1

    cdef int c_apply_arrays(self, const int64_t* bid_px, const int64_t* bid_sz,
                            const int64_t* bid_n, Py_ssize_t n_bids,
                            const int64_t* ask_px, const int64_t* ask_sz,
                            const int64_t* ask_n, Py_ssize_t n_asks,
                            int64_t time_ms, int64_t recv_ns) except -1:
        if time_ms < 0:
            self.rejected_count += 1
            raise InvalidNumberError(f"l2Book: 'time' must be a non-negative integer, got {time_ms}")
        self._fill_side(&self._next_bids, BOOK_BID, bid_px, bid_sz, bid_n, n_bids)
        self._fill_side(&self._next_asks, BOOK_ASK, ask_px, ask_sz, ask_n, n_asks)
        return self._commit(time_ms, recv_ns, n_bids > self.capacity or n_asks > self.capacity)

    cdef int _fill_side(self, BookSide* out, int side, const int64_t* px, const int64_t* sz,
                        const int64_t* n, Py_ssize_t count) except -1:
        cdef Py_ssize_t i
        cdef int64_t prev = 0
        for i in range(count):
            if px[i] <= 0 or sz[i] <= 0 or px[i] >= _LIMIT or sz[i] >= _LIMIT or (
                    n != NULL and n[i] < 0):
                self.rejected_count += 1
                raise self._value_error(side, i, px[i], sz[i], n[i] if n != NULL else 0)
            if i > 0 and ((side == BOOK_BID and px[i] >= prev) or (side == BOOK_ASK and px[i] <= prev)):
                self.rejected_count += 1
                raise _unsorted_error(self, side, i, px[i], prev)
            prev = px[i]
            if i < self.capacity:
                out.px[i] = px[i]
                out.sz[i] = sz[i]
                out.n[i] = n[i] if n != NULL else 0
        out.count = count if count < self.capacity else self.capacity
        return 0

    def _value_error(self, int side, Py_ssize_t i, int64_t px, int64_t sz, int64_t n):
        where = _where(side, i)
        for name, v, unit in (("px", px, "units"), ("sz", sz, "lots")):
            if v <= 0:
                return NonPositiveError(f"{where} {name}: {v} {unit} is not positive")
            if v >= _LIMIT:
                return InvalidNumberError(f"{where} {name}: {v} {unit} is out of range (10**15 or more)")
        return InvalidNumberError(f"{where}: 'n' must be a non-negative integer, got {n}")

    def apply_message(self, raw, int64_t recv_ns=-1) -> bool:
        """Apply one l2Book frame (bytes or str, envelope or bare). True if applied, False if
        ignored as stale. recv_ns: local receive time (time.monotonic_ns() clock); default now.
        Raises a BookError subclass for anything invalid; the book is then unchanged."""
        cdef const unsigned char[::1] view
        cdef Py_ssize_t n
        cdef const unsigned char* buf
        if recv_ns < 0:
            recv_ns = _monotonic_ns()
        if type(raw) is bytes:
            return self.c_apply_message(<const unsigned char*>PyBytes_AS_STRING(raw),
                                        PyBytes_GET_SIZE(raw), recv_ns) == 1
        if isinstance(raw, str):
            try:
                buf = <const unsigned char*>PyUnicode_AsUTF8AndSize(raw, &n)
            except UnicodeEncodeError as exc:
                self.rejected_count += 1
                raise MalformedMessageError(f"l2Book message is not encodable text: {exc}") from None
            return self.c_apply_message(buf, n, recv_ns) == 1
        try:
            view = raw
        except (TypeError, ValueError, BufferError):
            raise TypeError(f"apply_message takes bytes or str, not {type(raw).__name__}") from None
        if view.shape[0] == 0:
            return self.c_apply_message(<const unsigned char*>b"", 0, recv_ns) == 1
        return self.c_apply_message(&view[0], view.shape[0], recv_ns) == 1

    def apply_levels(self, levels, time_ms, int64_t recv_ns=-1, coin=None) -> bool:
        """Apply an already-parsed ``levels`` list ``[[bid dicts], [ask dicts]]`` whose dicts
        hold ``px``/``sz`` decimal strings and optionally ``n``. If ``coin`` is given it must be
        this book's. Same validation and return value as ``apply_message``."""
        cdef int side
        cdef Py_ssize_t idx
        cdef BookSide* out
        cdef int64_t px = 0, sz = 0, prev = 0, n = 0
        cdef bint truncated = 0
        if recv_ns < 0:
            recv_ns = _monotonic_ns()
        try:
            if coin is not None and coin != self.coin:
                raise CoinMismatchError(f"l2Book for '{coin}' cannot be applied to the {self.coin} book")
            if type(time_ms) is bool or not isinstance(time_ms, int) or not 0 <= time_ms < 2 ** 63:
                raise InvalidNumberError(f"l2Book: 'time' must be a non-negative integer, got {time_ms!r}")
            if not isinstance(levels, (list, tuple)) or len(levels) != 2:
                raise MalformedMessageError(
                    f"l2Book: levels must be a list [bids, asks] of two lists, got {_short(levels)}")
            for side in range(2):
                out = &self._next_bids if side == BOOK_BID else &self._next_asks
                lst = levels[side]
                if not isinstance(lst, (list, tuple)):
                    raise MalformedMessageError(
                        f"{_where(side, -1)}: side must be a list of levels, got {_short(lst)}")
                prev = 0
                for idx, lvl in enumerate(lst):
                    if not isinstance(lvl, dict):
                        raise MalformedMessageError(
                            f"{_where(side, idx)}: level must be an object {{px, sz, n}}, got {_short(lvl)}")
                    px = self._level_decimal(lvl, "px", side, idx, self.px_decimals)
                    sz = self._level_decimal(lvl, "sz", side, idx, self.sz_decimals)
                    nv = lvl.get("n", 0)
                    if type(nv) is bool or not isinstance(nv, int) or not 0 <= nv < 2 ** 63:
                        raise InvalidNumberError(
                            f"{_where(side, idx)}: 'n' must be a non-negative integer, got {nv!r}")
                    n = nv
                    if idx > 0 and ((side == BOOK_BID and px >= prev) or (side == BOOK_ASK and px <= prev)):
                        raise _unsorted_error(self, side, idx, px, prev)
                    if idx < self.capacity:
                        out.px[idx] = px
                        out.sz[idx] = sz
                        out.n[idx] = n
                    prev = px
                out.count = min(len(lst), self.capacity)
                truncated |= len(lst) > self.capacity
        except BookError:
            self.rejected_count += 1
            raise
        return self._commit(time_ms, recv_ns, truncated) == 1

    def _level_decimal(self, dict lvl, str key, int side, Py_ssize_t idx, int decimals) -> int:
        cdef Py_ssize_t n
        cdef const unsigned char* p
        cdef int64_t v = 0
        cdef int code
        if key not in lvl:
            raise MissingFieldError(f"{_where(side, idx)}: missing field '{key}'")
        text = lvl[key]
        if not isinstance(text, str):
            raise MalformedMessageError(
                f"{_where(side, idx)}: {key} must be a decimal string, got {_short(text)}")
        try:
            p = <const unsigned char*>PyUnicode_AsUTF8AndSize(text, &n)
        except UnicodeEncodeError:
            raise InvalidNumberError(f"{_where(side, idx)} {key}: {text!r} is not a decimal number") from None
        code = _parse_decimal(p, n, decimals, &v)
        if code == E_OK:
            return v
        where = f"{_where(side, idx)} {key}"
        tok = text if len(text) <= 40 else text[:40] + "..."
        if code == E_NUMBER:
            raise InvalidNumberError(f"{where}: '{tok}' is not a decimal number")
        if code == E_RANGE:
            raise InvalidNumberError(f"{where}: '{tok}' is out of range (10**15 or more)")
        if code == E_DECIMALS:
            raise TooManyDecimalsError(
                f"{where}: '{tok}' has more than {decimals} decimals ({key}_decimals={decimals} for {self.coin})")
        raise NonPositiveError(f"{where}: '{tok}' is not positive")

    def apply_arrays(self, bid_px, bid_sz, ask_px, ask_sz, time_ms, int64_t recv_ns=-1,
                     bid_n=None, ask_n=None) -> bool:
        """Apply a snapshot given as integer arrays (price units, size lots, order counts),
        best first. Same validation and return value as ``apply_message``."""
        cdef const int64_t[::1] bp, bs, ap, as_, bn, an
        cdef const int64_t* bn_p = NULL
        cdef const int64_t* an_p = NULL
        cdef int64_t dummy = 0
        try:
            bp = _int64_array("bid_px", bid_px)
            bs = _int64_array("bid_sz", bid_sz)
            ap = _int64_array("ask_px", ask_px)
            as_ = _int64_array("ask_sz", ask_sz)
            if bp.shape[0] != bs.shape[0] or ap.shape[0] != as_.shape[0]:
                raise MalformedMessageError(
                    f"px and sz arrays differ in length: bids {bp.shape[0]}/{bs.shape[0]}, "
                    f"asks {ap.shape[0]}/{as_.shape[0]}")
            if bid_n is not None:
                bn = _int64_array("bid_n", bid_n)
                if bn.shape[0] != bp.shape[0]:
                    raise MalformedMessageError("bid_n differs in length from bid_px")
                bn_p = &bn[0] if bn.shape[0] else NULL
            if ask_n is not None:
                an = _int64_array("ask_n", ask_n)
                if an.shape[0] != ap.shape[0]:
                    raise MalformedMessageError("ask_n differs in length from ask_px")
                an_p = &an[0] if an.shape[0] else NULL
            if type(time_ms) is bool or not isinstance(time_ms, (int, np.integer)) or not 0 <= time_ms < 2 ** 63:
                raise InvalidNumberError(f"l2Book: 'time' must be a non-negative integer, got {time_ms!r}")
        except BookError:
            self.rejected_count += 1
            raise
        return self.c_apply_arrays(
            &bp[0] if bp.shape[0] else &dummy, &bs[0] if bs.shape[0] else &dummy, bn_p, bp.shape[0],
            &ap[0] if ap.shape[0] else &dummy, &as_[0] if as_.shape[0] else &dummy, an_p, ap.shape[0],
            time_ms, recv_ns) == 1

    # ---------------------------------------------------------------------- C queries
    cdef bint c_two_sided(self) noexcept nogil:
        return self.bids.count > 0 and self.asks.count > 0

    cdef int64_t c_best_bid(self) noexcept nogil:
        return self.bids.px[0] if self.bids.count else 0

    cdef int64_t c_best_ask(self) noexcept nogil:
        return self.asks.px[0] if self.asks.count else 0

    cdef double c_mid_units(self) noexcept nogil:
        if not self.c_two_sided():
            return NAN
        return <double>(self.bids.px[0] + self.asks.px[0]) * 0.5

    cdef double c_mid(self) noexcept nogil:
        if not self.c_two_sided():
            return NAN
        return <double>(self.bids.px[0] + self.asks.px[0]) / (2.0 * self._px_div)

    cdef double c_spread_bps(self) noexcept nogil:
        if not self.c_two_sided():
            return NAN
        return (<double>(self.asks.px[0] - self.bids.px[0]) * 20000.0
                / <double>(self.asks.px[0] + self.bids.px[0]))

    cdef double c_microprice(self) noexcept nogil:
        cdef long double b, a, bs, as_
        if not self.c_two_sided():
            return NAN
        b = self.bids.px[0]
        a = self.asks.px[0]
        bs = self.bids.sz[0]
        as_ = self.asks.sz[0]
        return <double>((b * as_ + a * bs) / ((bs + as_) * <long double>self._px_div))

    cdef double c_imbalance(self, Py_ssize_t k) noexcept nogil:
        cdef int64_t bsum = 0, asum = 0
        cdef Py_ssize_t i
        if k <= 0:
            return NAN
        for i in range(k if k < self.bids.count else self.bids.count):
            bsum += self.bids.sz[i]
        for i in range(k if k < self.asks.count else self.asks.count):
            asum += self.asks.sz[i]
        if bsum + asum == 0:
            return NAN
        return <double>(bsum - asum) / <double>(bsum + asum)

    cdef int64_t c_depth_within_bps(self, int side, double bps) noexcept nogil:
        # within X bps of mid: |px - mid| / mid * 1e4 <= X, i.e. |2px - (b+a)| * 1e4 <= X * (b+a)
        cdef const BookSide* sd = &self.bids if side == BOOK_BID else &self.asks
        cdef int64_t two_mid, total = 0, dist
        cdef long double limit
        cdef Py_ssize_t i
        if not self.c_two_sided() or isnan(bps) or bps < 0:
            return -1
        two_mid = self.bids.px[0] + self.asks.px[0]
        limit = <long double>bps * <long double>two_mid
        for i in range(sd.count):
            dist = two_mid - 2 * sd.px[i] if side == BOOK_BID else 2 * sd.px[i] - two_mid
            if <long double>dist * 10000.0 > limit:
                break
            total += sd.sz[i]
        return total

    cdef double c_vwap_units(self, int side, int64_t lots, int64_t* filled_lots) noexcept nogil:
        cdef const BookSide* sd = &self.bids if side == BOOK_BID else &self.asks
        cdef int64_t left = lots, take
        cdef long double notional = 0
        cdef Py_ssize_t i = 0
        while left > 0 and i < sd.count:
            take = sd.sz[i] if sd.sz[i] < left else left
            notional += <long double>sd.px[i] * take
            left -= take
            i += 1
        filled_lots[0] = lots - left if lots > 0 else 0
        if filled_lots[0] == 0:
            return NAN
        return <double>(notional / filled_lots[0])

    cdef double c_impact_bps(self, int side, int64_t lots) noexcept nogil:
        # (vwap - mid) / mid * 1e4 for asks, mirrored for bids, summed per level as
        # sum(|2px - (b+a)| * take) / (filled * (b+a)): every term >= 0, so no cancellation.
        cdef const BookSide* sd = &self.bids if side == BOOK_BID else &self.asks
        cdef int64_t two_mid, left = lots, take, filled
        cdef long double acc = 0
        cdef Py_ssize_t i = 0
        if not self.c_two_sided() or lots <= 0:
            return NAN
        two_mid = self.bids.px[0] + self.asks.px[0]
        while left > 0 and i < sd.count:
            take = sd.sz[i] if sd.sz[i] < left else left
            acc += <long double>(2 * sd.px[i] - two_mid if side == BOOK_ASK
                                 else two_mid - 2 * sd.px[i]) * take
            left -= take
            i += 1
        filled = lots - left
        return <double>(acc * 10000.0 / (<long double>filled * two_mid))

    cdef int64_t c_size_ahead(self, int side, int64_t px_units) noexcept nogil:
        cdef int64_t total = 0
        cdef Py_ssize_t i
        if side == BOOK_BID:
            for i in range(self.bids.count):
                if self.bids.px[i] < px_units:
                    break
                total += self.bids.sz[i]
        else:
            for i in range(self.asks.count):
                if self.asks.px[i] > px_units:
                    break
                total += self.asks.sz[i]
        return total

    # ----------------------------------------------------------------- Python queries
    @property
    def coin(self) -> str:
        return self._coin[:self._coin_len].decode("utf-8")

    @property
    def two_sided(self) -> bool:
        """Both sides have at least one level."""
        return self.c_two_sided()

    @property
    def has_snapshot(self) -> bool:
        return self.time_ms >= 0

    @property
    def bid_depth(self) -> int:
        """Bid levels held."""
        return self.bids.count

    @property
    def ask_depth(self) -> int:
        return self.asks.count

    def best_bid_units(self) -> int:
        """Best bid in price units; 0 when there is no bid."""
        return self.c_best_bid()

    def best_ask_units(self) -> int:
        return self.c_best_ask()

    def best_bid(self) -> float:
        """Best bid price; NaN when there is no bid."""
        return self.bids.px[0] / self._px_div if self.bids.count else NAN

    def best_ask(self) -> float:
        return self.asks.px[0] / self._px_div if self.asks.count else NAN

    def best_bid_size(self) -> float:
        """Size at the best bid; 0.0 when there is no bid."""
        return self.bids.sz[0] / self._sz_div if self.bids.count else 0.0

    def best_ask_size(self) -> float:
        return self.asks.sz[0] / self._sz_div if self.asks.count else 0.0

    def mid(self) -> float:
        """(best bid + best ask) / 2; NaN unless two-sided."""
        return self.c_mid()

    def spread_bps(self) -> float:
        """(ask - bid) / mid * 1e4; NaN unless two-sided."""
        return self.c_spread_bps()

    def microprice(self) -> float:
        """(bid * askSz + ask * bidSz) / (bidSz + askSz) at the touch; NaN unless two-sided."""
        return self.c_microprice()

    def imbalance(self, Py_ssize_t k=5) -> float:
        """(B - A) / (B + A) with B, A the sizes of the top k levels a side, in [-1, 1]
        (+1 when only bids); NaN when the book is empty."""
        if k <= 0:
            raise ValueError(f"k must be >= 1, got {k}")
        return self.c_imbalance(k)

    def depth_within_bps_lots(self, int side, double bps) -> int:
        """Lots on `side` at prices within `bps` of mid (held levels only); -1 unless two-sided."""
        _check_side(side)
        if isnan(bps) or bps < 0:
            raise ValueError(f"bps must be >= 0, got {bps}")
        return self.c_depth_within_bps(side, bps)

    def depth_within_bps(self, int side, double bps) -> float:
        """Size on `side` at prices within `bps` of mid; NaN unless two-sided."""
        cdef int64_t lots = self.depth_within_bps_lots(side, bps)
        return NAN if lots < 0 else lots / self._sz_div

    def vwap_lots(self, int side, int64_t lots) -> FillEstimate:
        """Walk `side` (ASK = what a buyer pays, BID = what a seller gets) for `lots`."""
        if side != BOOK_BID and side != BOOK_ASK:
            _check_side(side)
        if lots <= 0:
            raise ValueError(f"lots must be >= 1, got {lots}")
        return _estimate(self, side, lots)

    def vwap(self, int side, double size) -> FillEstimate:
        """Like vwap_lots for a size in coins, taken to the nearest lot."""
        if side != BOOK_BID and side != BOOK_ASK:
            _check_side(side)
        if not size > 0:
            raise ValueError(f"size must be > 0, got {size}")
        return _estimate(self, side, max(1, llround(size * self._sz_div)))

    def size_ahead_units(self, int side, int64_t px_units) -> int:
        """Lots on `side` at prices equal to or better than px_units (queue ahead of an order
        resting there, among held levels)."""
        _check_side(side)
        return self.c_size_ahead(side, px_units)

    def size_ahead(self, int side, double px) -> float:
        """Size on `side` at prices equal to or better than `px` (taken to the nearest unit)."""
        return self.size_ahead_units(side, llround(px * self._px_div)) / self._sz_div

    def levels_units(self, int side):
        """(px units, sz lots, n orders) of the held levels of `side`, best first, as int64
        numpy arrays (copies)."""
        cdef const BookSide* sd = &self.bids if side == BOOK_BID else &self.asks
        cdef Py_ssize_t k = sd.count
        cdef int64_t[::1] px, sz, n
        _check_side(side)
        out = (np.empty(k, np.int64), np.empty(k, np.int64), np.empty(k, np.int64))
        px, sz, n = out
        if k:
            memcpy(&px[0], sd.px, k * sizeof(int64_t))
            memcpy(&sz[0], sd.sz, k * sizeof(int64_t))
            memcpy(&n[0], sd.n, k * sizeof(int64_t))
        return out

    def levels(self, int side):
        """(px, sz) float64 numpy arrays of the held levels of `side`, best first."""
        px, sz, _ = self.levels_units(side)
        return px / self._px_div, sz / self._sz_div

    def __repr__(self) -> str:
        b = (f"{_fmt_units(self.bids.px[0], self.px_decimals)} x "
             f"{_fmt_units(self.bids.sz[0], self.sz_decimals)}") if self.bids.count else "-"
        a = (f"{_fmt_units(self.asks.px[0], self.px_decimals)} x "
             f"{_fmt_units(self.asks.sz[0], self.sz_decimals)}") if self.asks.count else "-"
        return (f"L2Book({self.coin}: bid {b} | ask {a}; {self.bids.count}x{self.asks.count} "
                f"levels, time_ms={self.time_ms})")


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "..."
