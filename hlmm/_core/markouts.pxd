# Fill markouts: mid at fixed horizons after each fill, spread capture / adverse selection / edge
# in bps, and a depth-decay adverse-selection model calibrated from them.
from libc.stdint cimport int64_t

cdef enum:
    MAX_HORIZONS = 8
    MAX_BUCKETS = 32


ctypedef struct FillRecord:
    int64_t fill_id
    int64_t t_ms
    int side                        # +1 we bought, -1 we sold
    bint mid0_given                 # the caller supplied mid0
    double px
    double size
    double mid0                     # mid prevailing just before the fill (NaN if unknown)
    double fee_bps                  # fee / notional * 1e4 (negative = rebate)
    double depth_bps                # quote depth from mid (given, or the spread capture)
    double mid_h[MAX_HORIZONS]      # mid prevailing at t + horizon (NaN until known / if unknown)


ctypedef struct HorizonStats:
    int64_t n
    int64_t unmeasured              # resolved, but mid0 or the horizon mid was unknown
    double sum_as, sum_as2
    double sum_edge, sum_edge2
    double sum_notional, sum_notional_edge


cdef class Markouts:
    # configuration
    cdef readonly int n_horizons
    cdef int64_t horizons[MAX_HORIZONS]
    cdef readonly int model_index
    cdef readonly int n_buckets
    cdef double edges[MAX_BUCKETS + 1]
    cdef readonly int min_bucket_fills
    cdef readonly double informed_threshold_bps
    cdef readonly int64_t max_feed_gap_ms
    cdef readonly int64_t retention_ms

    # fills: ring of records indexed by monotone sequence numbers; cursor_mid0 = first record whose
    # pre-fill mid is not settled, cursor[k] = first whose horizon k is not (arrival order; always
    # rec_tail <= cursor[last] <= ... <= cursor[0] <= cursor_mid0 <= rec_head)
    cdef FillRecord* recs
    cdef int64_t rec_cap, rec_mask, rec_head, rec_tail
    cdef int64_t cursor_mid0
    cdef int64_t cursor[MAX_HORIZONS]

    # mid history (non-decreasing times), kept for retention_ms
    cdef int64_t* mid_t
    cdef double* mid_v
    cdef int64_t mid_cap, mid_mask, mid_head, mid_tail
    cdef readonly int64_t last_mid_ms

    # statistics
    cdef HorizonStats hstats[MAX_HORIZONS]
    cdef int64_t sc_n
    cdef double sum_sc, sum_sc2, sum_fee_bps
    cdef int64_t b_n[MAX_BUCKETS]
    cdef int64_t b_pos[MAX_BUCKETS]
    cdef int64_t b_neg[MAX_BUCKETS]
    cdef double b_depth[MAX_BUCKETS]
    cdef double b_as[MAX_BUCKETS]
    cdef double b_as2[MAX_BUCKETS]

    # depth-decay model AS(d) = as0 * exp(-d / delta_char), alpha(d) = alpha_touch * exp(-d / delta_char)
    cdef readonly double as0, as0_se, delta_char, delta_char_se, alpha_touch
    cdef readonly bint calibrated

    cdef readonly int64_t fills
    cdef readonly int64_t completed
    cdef readonly int64_t discarded          # completed records overwritten before being drained
    cdef readonly int64_t unmeasured_fills   # fills whose pre-fill mid was unknown
    cdef readonly int64_t rejected

    cdef bint c_on_mid(self, int64_t t_ms, double mid) noexcept nogil
    cdef bint c_add_fill(self, int64_t fill_id, int64_t t_ms, int side, double px, double size, double fee,
                         double mid0, double depth_bps) noexcept nogil
    cdef double _prevailing(self, int64_t at_ms) noexcept nogil
    cdef void _trim_mids(self, int64_t cutoff) noexcept nogil
    cdef void _resolve(self, int64_t now_ms) noexcept nogil
    cdef void _account(self, FillRecord* r, int k) noexcept nogil
    cdef void _settle_mid0(self, FillRecord* r) noexcept nogil
    cdef int _grow_fills(self) except -1
    cdef int _grow_mids(self) except -1
