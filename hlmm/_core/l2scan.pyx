"""A hand-written scanner for Hyperliquid ``l2Book`` frames, reading the bytes in place.

One call, ``l2scan_message``, takes the frame as received, either the WebSocket envelope
``{"channel":"l2Book","data":{...}}`` or the bare ``/info`` response
``{"coin":..,"time":..,"levels":[[bids],[asks]]}``, and writes each side's levels into arrays
the caller owns: px and sz decimal strings become int64 price units / size lots exactly (no float
in between), ``n`` the order count (0 when absent). It allocates nothing and holds no GIL; the
book (``hlmm._core.book``) decides what to do with the result and turns failures into errors.

Rules (the book's tests check them against a json + Decimal model):

* The whole message is checked for JSON syntax (nesting up to 128 deep in skipped values). When
  the JSON is broken, that is reported in preference to content errors, as ``json.loads`` would.
* Shapes: ``levels`` is exactly ``[bids, asks]``, each a list of objects ``{"px": str,
  "sz": str, "n": int?}``; coin is a string, time and n non-negative integers below 2**63.
  Other keys are skipped. A key the scanner reads (channel, data, coin, time, levels, px, sz, n)
  given twice in one object is an error rather than "last wins".
* The envelope's "data" is read in place when "channel" came first (as Hyperliquid sends it),
  otherwise after the channel is known; bare book fields are read only without a channel.
* A px or sz is ``-?digits[.digits]``; nonzero digits beyond px_decimals / sz_decimals are an
  error (trailing zeros are fine), so are values of 10**15 units/lots or more and values <= 0.
* Bids strictly descend and asks strictly ascend. A side may hold more levels than
  ``capacity``: all are validated, the best ``capacity`` stored.
* String escapes are decoded in px/sz strings (a cold path: Hyperliquid sends none); the coin is
  returned as its raw bytes with ``coin_escaped`` set. Key names are matched literally. Bytes
  above 0x7F are only allowed inside strings and are not UTF-8 validated.
"""
from libc.stdint cimport INT64_MAX, int64_t
from libc.string cimport memcmp

cdef int _MAX_DEPTH = 128   # JSON nesting accepted inside skipped values


# ----------------------------------------------------------------------------- entry points
cdef int l2scan_message(L2Scan* s, const unsigned char* buf, Py_ssize_t length) noexcept nogil:
    s.buf = buf
    s.end = length
    s.pos = 0
    s.depth = 0
    s.found = 0
    s.err = SCAN_OK
    s.err_side = -1
    s.err_level = -1
    s.coin_escaped = 0
    s.side[SCAN_BIDS].stored = s.side[SCAN_ASKS].stored = 0
    s.side[SCAN_BIDS].received = s.side[SCAN_ASKS].received = 0
    if _parse_message(s) == 0:
        return 0
    if s.err != SCAN_SYNTAX and s.err != SCAN_TRUNCATED:
        _prefer_syntax_error(s)
    return -1


cdef int l2scan_decimal(const unsigned char* p, Py_ssize_t n, int decimals,
                        int64_t* out) noexcept nogil:
    return _parse_decimal(p, n, decimals, out)


# ----------------------------------------------------------------------------- JSON lexing
cdef inline bint _digit(unsigned char c) noexcept nogil:
    return 48 <= c <= 57


cdef inline bint _hex(unsigned char c) noexcept nogil:
    return _digit(c) or 97 <= c <= 102 or 65 <= c <= 70


cdef inline void _ws(L2Scan* s) noexcept nogil:
    cdef unsigned char c
    while s.pos < s.end:
        c = s.buf[s.pos]
        if c == 32 or c == 10 or c == 13 or c == 9:
            s.pos += 1
        else:
            return


cdef int _fail(L2Scan* s, int code, int field) noexcept nogil:
    s.err = code
    s.err_field = field
    s.err_pos = s.pos
    s.tok_start = s.pos
    s.tok_end = s.pos
    return -1


cdef int _fail_tok(L2Scan* s, int code, int field, Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    s.err = code
    s.err_field = field
    s.err_pos = a
    s.tok_start = a
    s.tok_end = b
    return -1


cdef inline int _need(L2Scan* s) noexcept nogil:
    """Skip whitespace; fail as truncated when the buffer ends."""
    _ws(s)
    if s.pos >= s.end:
        return _fail(s, SCAN_TRUNCATED, FIELD_NONE)
    return 0


cdef inline int _scan_string(L2Scan* s, Py_ssize_t* start, Py_ssize_t* stop, bint* escaped) noexcept nogil:
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
                        return _fail(s, SCAN_TRUNCATED, FIELD_NONE)
                    if not _hex(s.buf[i]):
                        s.pos = i
                        return _fail(s, SCAN_SYNTAX, FIELD_NONE)
            elif not (c == 34 or c == 92 or c == 47 or c == 98 or c == 102 or c == 110
                      or c == 114 or c == 116):
                s.pos = i
                return _fail(s, SCAN_SYNTAX, FIELD_NONE)
        elif c < 32:
            s.pos = i
            return _fail(s, SCAN_SYNTAX, FIELD_NONE)
        i += 1
    s.pos = s.end
    return _fail(s, SCAN_TRUNCATED, FIELD_NONE)


cdef inline Py_ssize_t _digits_from(L2Scan* s, Py_ssize_t i) noexcept nogil:
    """One or more digits starting at i: the index past them, or -1 with the error set
    (truncated at the end of the buffer, syntax on another character)."""
    s.pos = i
    if i >= s.end:
        _fail(s, SCAN_TRUNCATED, FIELD_NONE)
        return -1
    if not _digit(s.buf[i]):
        _fail(s, SCAN_SYNTAX, FIELD_NONE)
        return -1
    while i < s.end and _digit(s.buf[i]):
        i += 1
    return i


cdef inline int _skip_number(L2Scan* s) noexcept nogil:
    """JSON number grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?"""
    cdef Py_ssize_t i = s.pos
    if s.buf[i] == 45:
        i += 1
    if i < s.end and s.buf[i] == 48:
        i += 1
    else:
        i = _digits_from(s, i)
        if i < 0:
            return -1
    if i < s.end and s.buf[i] == 46:                    # fraction
        i = _digits_from(s, i + 1)
        if i < 0:
            return -1
    if i < s.end and (s.buf[i] == 101 or s.buf[i] == 69):   # exponent
        i += 1
        if i < s.end and (s.buf[i] == 43 or s.buf[i] == 45):
            i += 1
        i = _digits_from(s, i)
        if i < 0:
            return -1
    s.pos = i
    return 0


cdef int _skip_literal(L2Scan* s, const char* lit, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t avail = s.end - s.pos
    cdef Py_ssize_t m = n if avail >= n else avail
    if memcmp(s.buf + s.pos, lit, m) != 0:
        return _fail(s, SCAN_SYNTAX, FIELD_NONE)
    if m < n:
        s.pos = s.end
        return _fail(s, SCAN_TRUNCATED, FIELD_NONE)
    s.pos += n
    return 0


# --------------------------------------------------------------------- containers and keys
# A container is walked as
#     r = _open(s, close)
#     while r > 0:
#         ...one member (return -1 on error)...
#         r = _after_member(s, close)
#     if r < 0: return -1

cdef inline int _open(L2Scan* s, unsigned char close) noexcept nogil:
    """At '{' or '[': 1 if a member follows, 0 if empty (the closer consumed), -1 error."""
    s.pos += 1
    if _need(s):
        return -1
    if s.buf[s.pos] == close:
        s.pos += 1
        return 0
    return 1


cdef inline int _after_member(L2Scan* s, unsigned char close) noexcept nogil:
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
    return _fail(s, SCAN_SYNTAX, FIELD_NONE)


cdef inline int _next_key(L2Scan* s, Py_ssize_t* ks, Py_ssize_t* ke) noexcept nogil:
    """Read `"key" :` and leave pos at the value."""
    cdef bint esc
    if _need(s):
        return -1
    if s.buf[s.pos] != 34:
        return _fail(s, SCAN_SYNTAX, FIELD_NONE)
    if _scan_string(s, ks, ke, &esc):
        return -1
    if _need(s):
        return -1
    if s.buf[s.pos] != 58:
        return _fail(s, SCAN_SYNTAX, FIELD_NONE)
    s.pos += 1
    return 0


cdef inline bint _key_is(L2Scan* s, Py_ssize_t ks, Py_ssize_t ke, const char* name,
                         Py_ssize_t n) noexcept nogil:
    return ke - ks == n and memcmp(s.buf + ks, name, n) == 0


cdef int _skip_value(L2Scan* s) noexcept nogil:
    cdef Py_ssize_t ks, ke
    cdef bint esc
    cdef int r
    cdef unsigned char c
    if _need(s):
        return -1
    c = s.buf[s.pos]
    if c == 34:
        return _scan_string(s, &ks, &ke, &esc)
    if c == 123 or c == 91:                             # { or [; closers are '{'+2, '['+2
        s.depth += 1
        if s.depth > _MAX_DEPTH:
            return _fail(s, SCAN_SYNTAX, FIELD_NONE)
        r = _open(s, c + 2)
        while r > 0:
            if c == 123 and _next_key(s, &ks, &ke):
                return -1
            if _skip_value(s):
                return -1
            r = _after_member(s, c + 2)
        if r < 0:
            return -1
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
    return _fail(s, SCAN_SYNTAX, FIELD_NONE)


cdef int _wrong_type(L2Scan* s, int field) noexcept nogil:
    """The value at pos has the wrong JSON type: skip it (syntax first) and report it."""
    cdef Py_ssize_t a = s.pos
    if _skip_value(s):
        return -1
    return _fail_tok(s, SCAN_STRUCTURE, field, a, s.pos)


# ---------------------------------------------------------------------------------- values
cdef inline int _parse_uint(L2Scan* s, int field, int64_t* out) noexcept nogil:
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
        return _fail_tok(s, SCAN_NOT_INT, field, a, s.pos)
    if _skip_number(s):
        return -1
    neg = s.buf[a] == 45
    i = a + neg
    while i < s.pos and _digit(s.buf[i]):
        d = s.buf[i] - 48
        if v > (INT64_MAX - d) // 10:
            return _fail_tok(s, SCAN_RANGE, field, a, s.pos)
        v = v * 10 + d
        i += 1
    if i != s.pos or (neg and v != 0):
        return _fail_tok(s, SCAN_NOT_INT, field, a, s.pos)
    out[0] = v
    return 0


cdef inline int _parse_decimal(const unsigned char* p, Py_ssize_t n, int decimals,
                               int64_t* out) noexcept nogil:
    """Exact decimal string -> integer of 10**-decimals. Returns SCAN_OK or the error code."""
    cdef Py_ssize_t i = 0, j, int_a, int_b, fr_a, fr_b, kept
    cdef int64_t v = 0
    cdef bint neg = n > 0 and p[0] == 45
    i = neg
    int_a = i
    while i < n and _digit(p[i]):
        i += 1
    if i == int_a:
        return SCAN_NUMBER
    int_b = i
    fr_a = fr_b = i
    if i < n and p[i] == 46:
        i += 1
        fr_a = i
        while i < n and _digit(p[i]):
            i += 1
        if i == fr_a:
            return SCAN_NUMBER
        fr_b = i
    if i != n:
        return SCAN_NUMBER
    for j in range(fr_a + decimals, fr_b):
        if p[j] != 48:
            return SCAN_DECIMALS
    # v stays below the limit after every step, so v * 10 + 9 cannot overflow
    for j in range(int_a, int_b):
        v = v * 10 + (p[j] - 48)
        if v >= L2_VALUE_LIMIT:
            return SCAN_RANGE
    kept = fr_b - fr_a
    if kept > decimals:
        kept = decimals
    for j in range(fr_a, fr_a + kept):
        v = v * 10 + (p[j] - 48)
        if v >= L2_VALUE_LIMIT:
            return SCAN_RANGE
    for j in range(kept, decimals):
        v *= 10
        if v >= L2_VALUE_LIMIT:
            return SCAN_RANGE
    if neg or v == 0:
        return SCAN_NONPOSITIVE
    out[0] = v
    return SCAN_OK


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


cdef inline int _parse_decimal_field(L2Scan* s, int field, int decimals, int64_t* out) noexcept nogil:
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
        code = SCAN_NUMBER if m < 0 else _parse_decimal(tmp, m, decimals, out)
    if code != SCAN_OK:
        return _fail_tok(s, code, field, a, b)
    return 0


# --------------------------------------------------------------------------- l2Book shapes
cdef int _parse_level(L2Scan* s, int64_t* px, int64_t* sz, int64_t* n) noexcept nogil:
    """At '{': one level object {"px": str, "sz": str, "n": int?}, keys in any order."""
    cdef Py_ssize_t ks, ke, start = s.pos
    cdef int seen = 0, key, r
    n[0] = 0
    r = _open(s, 125)
    while r > 0:
        if _next_key(s, &ks, &ke):
            return -1
        key = (FIELD_PX if _key_is(s, ks, ke, b"px", 2) else FIELD_SZ if _key_is(s, ks, ke, b"sz", 2)
               else FIELD_N if _key_is(s, ks, ke, b"n", 1) else FIELD_NONE)
        if seen & key:
            return _fail_tok(s, SCAN_DUPLICATE, key, ks, ke)
        seen |= key
        if key == FIELD_PX:
            r = _parse_decimal_field(s, FIELD_PX, s.px_decimals, px)
        elif key == FIELD_SZ:
            r = _parse_decimal_field(s, FIELD_SZ, s.sz_decimals, sz)
        elif key == FIELD_N:
            r = _parse_uint(s, FIELD_N, n)
        else:
            r = _skip_value(s)
        if r:
            return -1
        r = _after_member(s, 125)
    if r < 0:
        return -1
    if not (seen & FIELD_PX):
        return _fail_tok(s, SCAN_MISSING, FIELD_PX, start, s.pos)
    if not (seen & FIELD_SZ):
        return _fail_tok(s, SCAN_MISSING, FIELD_SZ, start, s.pos)
    return 0


cdef int _parse_side(L2Scan* s, int side) noexcept nogil:
    """At a side's list: parse and validate every level, store the best `capacity`."""
    cdef L2ScanSide* out = &s.side[side]
    cdef Py_ssize_t idx = 0
    cdef int64_t px = 0, sz = 0, n = 0, prev = 0
    cdef int r
    s.err_side = side
    if _need(s):
        return -1
    if s.buf[s.pos] != 91:
        return _wrong_type(s, FIELD_SIDE)
    r = _open(s, 93)
    while r > 0:
        s.err_level = idx
        if _need(s):
            return -1
        if s.buf[s.pos] != 123:
            return _wrong_type(s, FIELD_LEVEL)
        if _parse_level(s, &px, &sz, &n):
            return -1
        if idx > 0 and l2_out_of_order(side, px, prev):
            s.bad_px = px
            s.prev_px = prev
            return _fail(s, SCAN_UNSORTED, FIELD_PX)
        if idx < s.capacity:
            out.px[idx] = px
            out.sz[idx] = sz
            out.n[idx] = n
        prev = px
        idx += 1
        r = _after_member(s, 93)
    if r < 0:
        return -1
    out.stored = idx if idx < s.capacity else s.capacity
    out.received = idx
    s.err_side = -1
    s.err_level = -1
    return 0


cdef int _parse_levels(L2Scan* s) noexcept nogil:
    """At `levels`: exactly [bids, asks]."""
    cdef Py_ssize_t a
    cdef int r
    if _need(s):
        return -1
    a = s.pos
    if s.buf[a] != 91:
        return _wrong_type(s, FIELD_LEVELS)
    r = _open(s, 93)
    if r <= 0:
        return -1 if r < 0 else _fail_tok(s, SCAN_STRUCTURE, FIELD_LEVELS, a, s.pos)
    if _parse_side(s, SCAN_BIDS):
        return -1
    r = _after_member(s, 93)
    if r <= 0:
        return -1 if r < 0 else _fail_tok(s, SCAN_STRUCTURE, FIELD_LEVELS, a, s.pos)
    if _parse_side(s, SCAN_ASKS):
        return -1
    r = _after_member(s, 93)
    if r < 0:
        return -1
    if r > 0:                                           # a third element: report the whole list
        s.pos = a
        if _skip_value(s):
            return -1
        return _fail_tok(s, SCAN_STRUCTURE, FIELD_LEVELS, a, s.pos)
    s.found |= FIELD_LEVELS
    return 0


cdef int _parse_coin(L2Scan* s) noexcept nogil:
    if _need(s):
        return -1
    if s.buf[s.pos] != 34:
        return _wrong_type(s, FIELD_COIN)
    if _scan_string(s, &s.coin_start, &s.coin_end, &s.coin_escaped):
        return -1
    s.found |= FIELD_COIN
    return 0


cdef int _parse_time(L2Scan* s) noexcept nogil:
    if _parse_uint(s, FIELD_TIME, &s.time_ms):
        return -1
    s.found |= FIELD_TIME
    return 0


cdef int _parse_field(L2Scan* s, int field) noexcept nogil:
    if field == FIELD_COIN:
        return _parse_coin(s)
    if field == FIELD_TIME:
        return _parse_time(s)
    return _parse_levels(s)


cdef int _parse_book(L2Scan* s) noexcept nogil:
    """At the book object {"coin","time","levels",...}; other keys are skipped."""
    cdef Py_ssize_t ks, ke
    cdef int r, key
    if _need(s):
        return -1
    if s.buf[s.pos] != 123:
        return _wrong_type(s, FIELD_DATA)
    s.found = 0
    r = _open(s, 125)
    while r > 0:
        if _next_key(s, &ks, &ke):
            return -1
        key = (FIELD_LEVELS if _key_is(s, ks, ke, b"levels", 6) else FIELD_COIN if _key_is(s, ks, ke, b"coin", 4)
               else FIELD_TIME if _key_is(s, ks, ke, b"time", 4) else FIELD_NONE)
        if s.found & key:
            return _fail_tok(s, SCAN_DUPLICATE, key, ks, ke)
        r = _parse_field(s, key) if key else _skip_value(s)
        if r:
            return -1
        r = _after_member(s, 125)
    return -1 if r < 0 else 0


cdef int _parse_message(L2Scan* s) noexcept nogil:
    """Top level: the WS envelope or the bare /info response.

    The envelope's "data" is parsed in place when "channel" came first (as Hyperliquid sends
    it); otherwise its position is remembered and parsed after the channel is known. Bare book
    fields are parsed after the top level is read, in text order, and only without a channel.
    """
    cdef Py_ssize_t ks, ke, a, b
    cdef Py_ssize_t data_pos = -1
    cdef Py_ssize_t bare_pos[3]                         # coin, time, levels: where, -1 if absent
    cdef int bare_field[3]
    cdef bint esc, chan_seen = 0, data_done = 0
    cdef int r, k, best, key, top_seen = 0
    bare_pos[0] = bare_pos[1] = bare_pos[2] = -1
    bare_field[0] = FIELD_COIN
    bare_field[1] = FIELD_TIME
    bare_field[2] = FIELD_LEVELS
    if _need(s):
        return -1
    if s.buf[s.pos] != 123:
        if s.buf[s.pos] == 91:
            return _wrong_type(s, FIELD_NONE)
        return _fail(s, SCAN_SYNTAX, FIELD_NONE)
    r = _open(s, 125)
    while r > 0:
        if _next_key(s, &ks, &ke):
            return -1
        key = (FIELD_CHANNEL if _key_is(s, ks, ke, b"channel", 7) else FIELD_DATA if _key_is(s, ks, ke, b"data", 4)
               else FIELD_COIN if _key_is(s, ks, ke, b"coin", 4) else FIELD_TIME if _key_is(s, ks, ke, b"time", 4)
               else FIELD_LEVELS if _key_is(s, ks, ke, b"levels", 6) else FIELD_NONE)
        if top_seen & key:
            return _fail_tok(s, SCAN_DUPLICATE, key, ks, ke)
        top_seen |= key
        if key == FIELD_CHANNEL:
            if _need(s):
                return -1
            if s.buf[s.pos] != 34:
                return _wrong_type(s, FIELD_CHANNEL)
            if _scan_string(s, &a, &b, &esc):
                return -1
            if not (b - a == 6 and memcmp(s.buf + a, b"l2Book", 6) == 0):
                return _fail_tok(s, SCAN_CHANNEL, FIELD_CHANNEL, a, b)
            chan_seen = 1
            r = 0
        elif key == FIELD_DATA and chan_seen:
            r = _parse_book(s)
            data_done = 1
        elif key == FIELD_DATA:
            _ws(s)
            data_pos = s.pos
            r = _skip_value(s)
        elif key != FIELD_NONE:                         # coin, time, levels: read later
            k = 0 if key == FIELD_COIN else 1 if key == FIELD_TIME else 2
            _ws(s)
            bare_pos[k] = s.pos
            r = _skip_value(s)
        else:
            r = _skip_value(s)
        if r:
            return -1
        r = _after_member(s, 125)
    if r < 0:
        return -1
    _ws(s)
    if s.pos != s.end:
        return _fail(s, SCAN_SYNTAX, FIELD_NONE)
    if chan_seen:
        if not data_done:
            if data_pos < 0:
                return _fail(s, SCAN_MISSING, FIELD_DATA)
            s.pos = data_pos
            if _parse_book(s):
                return -1
    else:
        s.found = 0
        while True:                                     # deferred bare fields, in text order
            best = -1
            for k in range(3):
                if bare_pos[k] >= 0 and (best < 0 or bare_pos[k] < bare_pos[best]):
                    best = k
            if best < 0:
                break
            s.pos = bare_pos[best]
            bare_pos[best] = -1
            if _parse_field(s, bare_field[best]):
                return -1
    if not (s.found & FIELD_COIN):
        return _fail(s, SCAN_MISSING, FIELD_COIN)
    if not (s.found & FIELD_TIME):
        return _fail(s, SCAN_MISSING, FIELD_TIME)
    if not (s.found & FIELD_LEVELS):
        return _fail(s, SCAN_MISSING, FIELD_LEVELS)
    return 0


cdef void _prefer_syntax_error(L2Scan* s) noexcept nogil:
    """Cold path after a content error: if the message is not valid JSON at all, report that
    instead (as json.loads would), since a broken string can masquerade as a bad value."""
    cdef L2Scan v
    v.buf = s.buf
    v.end = s.end
    v.pos = 0
    v.depth = 0
    if _skip_value(&v) == 0:
        _ws(&v)
        if v.pos == v.end:
            return
        _fail(&v, SCAN_SYNTAX, FIELD_NONE)
    s.err = v.err
    s.err_field = FIELD_NONE
    s.err_side = -1
    s.err_level = -1
    s.err_pos = v.err_pos
    s.tok_start = v.tok_start
    s.tok_end = v.tok_end
