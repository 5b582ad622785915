# A scanner for Hyperliquid l2Book frames: reads the JSON in place and writes each side's levels
# as exact integers (price units, size lots, order counts) into arrays the caller owns.
#
# The caller (hlmm._core.book) fills in the configuration part of an L2Scan, then calls
# l2scan_message once per frame:
#     cdef L2Scan s
#     s.capacity = ...; s.px_decimals = ...; s.sz_decimals = ...
#     s.side[SCAN_BIDS].px = ...   (and .sz, .n: `capacity` int64 each; likewise SCAN_ASKS)
#     if l2scan_message(&s, buf, length): ...   # s.err, s.err_field, s.tok_start.. say why
# Nothing here allocates or touches Python objects. The rules it enforces are documented in
# l2scan.pyx (JSON syntax, shapes, decimal strings, per-side price order).
from libc.stdint cimport int64_t

cdef enum:
    SCAN_BIDS = 0               # levels[0] of the message
    SCAN_ASKS = 1               # levels[1]

# Why a scan failed (L2Scan.err).
cdef enum:
    SCAN_OK = 0
    SCAN_SYNTAX                 # not JSON
    SCAN_TRUNCATED              # the buffer ends inside the JSON
    SCAN_STRUCTURE              # JSON of the wrong type for the field
    SCAN_MISSING                # a required field is absent
    SCAN_CHANNEL                # a channel other than "l2Book"
    SCAN_NUMBER                 # a px/sz string that is not -?digits[.digits]
    SCAN_RANGE                  # 10**15 units/lots or more; an integer of 2**63 or more
    SCAN_DECIMALS               # nonzero digits beyond px_decimals / sz_decimals
    SCAN_NONPOSITIVE            # a px or sz <= 0
    SCAN_UNSORTED               # bids not strictly descending / asks not strictly ascending
    SCAN_NOT_INT                # time / n not a non-negative JSON integer
    SCAN_DUPLICATE              # a key the scanner reads given twice in one object

# Where it failed (L2Scan.err_field); also the bits of L2Scan.found.
cdef enum:
    FIELD_NONE = 0              # the message as a whole
    FIELD_COIN = 1
    FIELD_TIME = 2
    FIELD_LEVELS = 4
    FIELD_PX = 8
    FIELD_SZ = 16
    FIELD_N = 32
    FIELD_CHANNEL = 64
    FIELD_DATA = 128
    FIELD_LEVEL = 256           # a level object
    FIELD_SIDE = 512            # a side's list

cdef extern from *:
    """
    /* Prices in units and sizes in lots must stay below 10**15 (exact in a double). */
    #define HLMM_L2_VALUE_LIMIT 1000000000000000LL
    """
    const int64_t L2_VALUE_LIMIT "HLMM_L2_VALUE_LIMIT"

cdef struct L2ScanSide:
    int64_t* px                 # caller's scratch: price units, best first, `capacity` entries
    int64_t* sz                 # size lots
    int64_t* n                  # order counts (0 where the level has no "n")
    Py_ssize_t stored           # levels written (<= capacity)
    Py_ssize_t received         # levels in the message, all validated (may exceed capacity)

cdef struct L2Scan:
    # configuration, set by the caller
    Py_ssize_t capacity
    int px_decimals
    int sz_decimals
    L2ScanSide side[2]          # SCAN_BIDS, SCAN_ASKS
    # result of a successful scan
    int64_t time_ms
    Py_ssize_t coin_start       # the coin string's bytes in buf (escapes not decoded)
    Py_ssize_t coin_end
    bint coin_escaped
    # failure (err != SCAN_OK)
    int err
    int err_field
    int err_side                # -1 when the error is not inside a side
    Py_ssize_t err_level        # -1 when not inside a level
    Py_ssize_t err_pos          # byte offset
    Py_ssize_t tok_start        # the offending token's bytes, for the message
    Py_ssize_t tok_end
    int64_t bad_px              # SCAN_UNSORTED: this level's px and the previous level's
    int64_t prev_px
    # cursor (internal)
    const unsigned char* buf
    Py_ssize_t end
    Py_ssize_t pos
    int depth
    int found                   # FIELD_COIN | FIELD_TIME | FIELD_LEVELS seen in the book object

# Scan one frame (the WS envelope or the bare /info response). 0 on success; -1 with the err_*
# fields set otherwise, a JSON syntax error being reported in preference to a content error.
cdef int l2scan_message(L2Scan* s, const unsigned char* buf, Py_ssize_t length) noexcept nogil

# Exact decimal string -> integer of 10**-decimals into out. Returns SCAN_OK, SCAN_NUMBER,
# SCAN_DECIMALS, SCAN_RANGE or SCAN_NONPOSITIVE (out untouched unless SCAN_OK).
cdef int l2scan_decimal(const unsigned char* p, Py_ssize_t n, int decimals,
                        int64_t* out) noexcept nogil


cdef inline bint l2_out_of_order(int side, int64_t px, int64_t prev) noexcept nogil:
    """A level's px against the previous level's on the same side: bids strictly descend,
    asks strictly ascend."""
    return px >= prev if side == SCAN_BIDS else px <= prev
