"""One asset's Hyperliquid L2 book in integer price units and size lots.

Hyperliquid pushes the whole book (up to 20 levels a side) on every ``l2Book`` message, so the
book is replaced as a whole, never patched. Three ways in, all validated the same way:

* ``apply_message(raw)``: the WebSocket frame as received (``bytes`` or ``str``), either the
  envelope ``{"channel":"l2Book","data":{...}}`` or the bare ``/info`` response
  ``{"coin":..,"time":..,"levels":[[bids],[asks]]}``. A hand-written scanner reads the buffer in
  place (``hlmm._core.l2scan``); decimal strings become int64 units/lots exactly (no float in
  between).
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
* The whole message is checked for JSON syntax, and a broken JSON is reported in preference to
  content errors. The JSON details (escapes, duplicate keys, key order of the envelope, bytes
  above 0x7F) are the scanner's, documented in ``hlmm._core.l2scan``; an escaped coin name is
  decoded before it is compared with the book's.

Layout: ``l2scan`` reads a frame into this book's scratch sides; this module holds the book
state, the checks across sides (coin, crossed, stale) and the commit, the other two ways in,
the BookError classes and the queries.
"""
import json

import numpy as np

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.unicode cimport PyUnicode_AsUTF8AndSize
from libc.math cimport NAN, isnan, llround
from libc.stdint cimport int64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcmp, memcpy
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec

from hlmm._core.l2scan cimport (
    FIELD_CHANNEL, FIELD_COIN, FIELD_DATA, FIELD_LEVEL, FIELD_LEVELS, FIELD_N, FIELD_NONE,
    FIELD_PX, FIELD_SIDE, FIELD_SZ, FIELD_TIME, L2_VALUE_LIMIT, L2Scan, L2ScanSide, SCAN_ASKS,
    SCAN_BIDS, SCAN_CHANNEL, SCAN_DECIMALS, SCAN_DUPLICATE, SCAN_MISSING, SCAN_NONPOSITIVE,
    SCAN_NOT_INT, SCAN_NUMBER, SCAN_OK, SCAN_RANGE, SCAN_STRUCTURE, SCAN_SYNTAX, SCAN_TRUNCATED,
    SCAN_UNSORTED,
    l2_out_of_order, l2scan_decimal, l2scan_message,
)

BID = BOOK_BID
ASK = BOOK_ASK
DEFAULT_CAPACITY = 20      # Hyperliquid's maximum levels per side
MAX_CAPACITY = 1000
VALUE_LIMIT = L2_VALUE_LIMIT   # prices in units and sizes in lots must be below this (10**15)

# The scanner's side numbering is the wire order levels[0] = bids, levels[1] = asks.
assert <int>SCAN_BIDS == <int>BOOK_BID and <int>SCAN_ASKS == <int>BOOK_ASK


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


_FIELD_NAMES = {FIELD_NONE: "message", FIELD_COIN: "coin", FIELD_TIME: "time",
                FIELD_LEVELS: "levels", FIELD_PX: "px", FIELD_SZ: "sz", FIELD_N: "n",
                FIELD_CHANNEL: "channel", FIELD_DATA: "data", FIELD_LEVEL: "level",
                FIELD_SIDE: "side"}
_EXPECTED = {FIELD_LEVELS: "a list [bids, asks] of two lists", FIELD_SIDE: "a list of levels",
             FIELD_LEVEL: "an object {px, sz, n}", FIELD_PX: "a decimal string",
             FIELD_SZ: "a decimal string", FIELD_COIN: "a string", FIELD_CHANNEL: "a string",
             FIELD_DATA: "an object", FIELD_NONE: "a JSON object"}


cdef inline void _scan_into(L2ScanSide* dst, const BookSide* scratch) noexcept nogil:
    """Point the scanner at one of the book's scratch sides."""
    dst.px = scratch.px
    dst.sz = scratch.sz
    dst.n = scratch.n


cdef object _scan_error(L2Book book, const L2Scan* s):
    """Build the BookError for a failed scan (cold path)."""
    cdef bytes raw = (<const char*>s.buf)[:s.end]
    tok = _excerpt(raw, s.tok_start, s.tok_end)
    field = _FIELD_NAMES.get(s.err_field, "value")
    where = _where(s.err_side, s.err_level if s.err_side >= 0 else -1)
    code = s.err
    if code == SCAN_TRUNCATED and s.end == 0:
        return TruncatedMessageError("empty l2Book message")
    if code == SCAN_TRUNCATED:
        return TruncatedMessageError(
            f"l2Book message truncated: it ends at byte {s.end} inside the JSON")
    if code == SCAN_SYNTAX:
        around = _excerpt(raw, max(0, s.err_pos - 15), min(s.end, s.err_pos + 15))
        return MalformedMessageError(
            f"malformed JSON in l2Book message at byte {s.err_pos}: ...{around}...")
    if code == SCAN_STRUCTURE:
        return MalformedMessageError(
            f"{where}: {field} must be {_EXPECTED.get(s.err_field, 'valid')}, got {tok}")
    if code == SCAN_MISSING:
        return MissingFieldError(f"{where}: missing field '{field}'")
    if code == SCAN_DUPLICATE:
        return MalformedMessageError(f"{where}: duplicate key '{field}'")
    if code == SCAN_CHANNEL:
        return WrongChannelError(f"expected channel 'l2Book', got '{tok}'")
    if code == SCAN_RANGE and s.err_field != FIELD_PX and s.err_field != FIELD_SZ:
        return InvalidNumberError(f"{where}: '{field}' {tok} is out of range (2**63 or more)")
    if code == SCAN_NOT_INT:
        return InvalidNumberError(f"{where}: '{field}' must be a non-negative integer, got {tok}")
    if code == SCAN_UNSORTED:
        return _unsorted_error(book, s.err_side, s.err_level, s.bad_px, s.prev_px)
    if code in (SCAN_NUMBER, SCAN_RANGE, SCAN_DECIMALS, SCAN_NONPOSITIVE):
        return _decimal_error(book, code, where, field, tok)
    return BookError(f"l2Book message refused (code {code})")


def _decimal_error(L2Book book, int code, str where, str key, str tok):
    """The BookError for a px/sz decimal string refused with `code` (the scanner's decimal
    rules, l2scan_decimal), for every way in that reads decimal strings."""
    cdef int dec = book.px_decimals if key == "px" else book.sz_decimals
    where = f"{where} {key}"
    if code == SCAN_NUMBER:
        return InvalidNumberError(f"{where}: '{tok}' is not a decimal number")
    if code == SCAN_RANGE:
        return InvalidNumberError(
            f"{where}: '{tok}' is out of range (10**15 {'units' if key == 'px' else 'lots'} or more)")
    if code == SCAN_DECIMALS:
        return TooManyDecimalsError(
            f"{where}: '{tok}' has more than {dec} decimals "
            f"({key}_decimals={dec} for {book.coin})")
    return NonPositiveError(f"{where}: '{tok}' is not positive")


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
        cdef L2Scan s
        s.capacity = self.capacity
        s.px_decimals = self.px_decimals
        s.sz_decimals = self.sz_decimals
        _scan_into(&s.side[SCAN_BIDS], &self._next_bids)
        _scan_into(&s.side[SCAN_ASKS], &self._next_asks)
        if l2scan_message(&s, buf, length):
            self.rejected_count += 1
            raise _scan_error(self, &s)
        self._next_bids.count = s.side[SCAN_BIDS].stored
        self._next_asks.count = s.side[SCAN_ASKS].stored
        if (s.coin_escaped or s.coin_end - s.coin_start != self._coin_len
                or memcmp(buf + s.coin_start, self._coin, self._coin_len) != 0):
            self._check_coin_slow((<const char*>buf)[s.coin_start:s.coin_end], s.coin_escaped)
        return self._commit(s.time_ms, recv_ns, s.side[SCAN_BIDS].received > self.capacity
                            or s.side[SCAN_ASKS].received > self.capacity)

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
            if px[i] <= 0 or sz[i] <= 0 or px[i] >= L2_VALUE_LIMIT or sz[i] >= L2_VALUE_LIMIT or (
                    n != NULL and n[i] < 0):
                self.rejected_count += 1
                raise self._value_error(side, i, px[i], sz[i], n[i] if n != NULL else 0)
            if i > 0 and l2_out_of_order(side, px[i], prev):
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
            if v >= L2_VALUE_LIMIT:
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
                    if idx > 0 and l2_out_of_order(side, px, prev):
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
        code = l2scan_decimal(p, n, decimals, &v)
        if code == SCAN_OK:
            return v
        raise _decimal_error(self, code, _where(side, idx), key,
                             text if len(text) <= 40 else text[:40] + "...")

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
