# One asset's L2 order book in integer price units and size lots (TEAM.md "Units").
#
# Other _core modules cimport this to read the book without Python overhead:
#     from hlmm._core.book cimport L2Book, BookSide, BOOK_BID, BOOK_ASK
#     cdef L2Book book = ...
#     if book.c_two_sided(): px = book.bids.px[0]
# Level i of a side is (px[i], sz[i], n[i]) for 0 <= i < count, best first: bids strictly
# descending, asks strictly ascending, every px and sz > 0. `n` is the exchange's order count
# (0 when the source omitted it).
from libc.stdint cimport int64_t

cdef enum:
    BOOK_BID = 0
    BOOK_ASK = 1
    BOOK_COIN_MAX = 63          # bytes of UTF-8 in a coin name

cdef struct BookSide:
    int64_t* px                 # price units, best first
    int64_t* sz                 # size lots
    int64_t* n                  # order count per level
    Py_ssize_t count            # levels held (<= capacity)


cdef class L2Book:
    cdef char _coin[BOOK_COIN_MAX + 1]
    cdef Py_ssize_t _coin_len
    cdef readonly int sz_decimals
    cdef readonly int px_decimals
    cdef readonly Py_ssize_t capacity
    cdef int64_t* _block                # one allocation backing the four sides below
    cdef BookSide bids                  # the committed book
    cdef BookSide asks
    cdef BookSide _next_bids            # scratch: parsed and validated here, then swapped in
    cdef BookSide _next_asks
    cdef double _px_div                 # 10**px_decimals as a double (exact)
    cdef double _sz_div                 # 10**sz_decimals
    cdef readonly int64_t time_ms       # exchange time of the committed snapshot, -1 before the first
    cdef readonly int64_t recv_ns       # local monotonic receive time of the committed snapshot, -1 before
    cdef readonly int64_t applied_count
    cdef readonly int64_t stale_count   # snapshots ignored because time < time_ms
    cdef readonly int64_t rejected_count  # snapshots refused with a BookError
    cdef readonly int64_t truncated_count  # applied snapshots that had more levels than capacity

    # input: each returns 1 when applied, 0 when ignored as stale; raises BookError otherwise
    cdef int c_apply_message(self, const unsigned char* buf, Py_ssize_t length,
                             int64_t recv_ns) except -1
    cdef int c_apply_arrays(self, const int64_t* bid_px, const int64_t* bid_sz,
                            const int64_t* bid_n, Py_ssize_t n_bids,
                            const int64_t* ask_px, const int64_t* ask_sz,
                            const int64_t* ask_n, Py_ssize_t n_asks,
                            int64_t time_ms, int64_t recv_ns) except -1
    cdef int _commit(self, int64_t time_ms, int64_t recv_ns, bint truncated) except -1
    cdef int _fill_side(self, BookSide* out, int side, const int64_t* px, const int64_t* sz,
                        const int64_t* n, Py_ssize_t count) except -1
    cdef void _init_side(self, BookSide* side, Py_ssize_t slot) noexcept

    # queries (C types only; NaN / 0 for undefined values as documented in book.pyx)
    cdef bint c_two_sided(self) noexcept nogil
    cdef int64_t c_best_bid(self) noexcept nogil          # units, 0 when no bid
    cdef int64_t c_best_ask(self) noexcept nogil          # units, 0 when no ask
    cdef double c_mid_units(self) noexcept nogil          # (bid + ask) / 2 in units, NaN one-sided
    cdef double c_mid(self) noexcept nogil                # price, NaN one-sided
    cdef double c_spread_bps(self) noexcept nogil         # (ask - bid) / mid * 1e4, NaN one-sided
    cdef double c_microprice(self) noexcept nogil         # price, NaN one-sided
    cdef double c_imbalance(self, Py_ssize_t k) noexcept nogil   # (B - A) / (B + A) over top k, NaN if empty
    cdef int64_t c_depth_within_bps(self, int side, double bps) noexcept nogil  # lots, -1 one-sided
    cdef double c_vwap_units(self, int side, int64_t lots, int64_t* filled_lots) noexcept nogil
    cdef double c_impact_bps(self, int side, int64_t lots) noexcept nogil  # vwap vs mid, bps, >= 0
    cdef int64_t c_size_ahead(self, int side, int64_t px_units) noexcept nogil  # lots
