# Microprice: mid adjusted by book and flow imbalance with betas learned online (RLS).
from libc.stdint cimport int64_t


cpdef double book_imbalance(double bid_size, double ask_size) noexcept nogil


cdef class Microprice:
    # configuration
    cdef readonly int64_t horizon_ms
    cdef readonly double forgetting
    cdef readonly double ema_half_life_ms
    cdef readonly double max_divergence_bps
    cdef readonly int min_samples
    cdef readonly int64_t sample_interval_ms
    cdef readonly int64_t max_feed_gap_ms
    cdef readonly int64_t capacity
    cdef readonly double p0
    cdef readonly double p_max

    # recursive least squares on x = (1, book_imbalance, flow_imbalance), y = forward return (bps)
    cdef double beta[3]
    cdef double P[3][3]
    cdef double resid_var                  # EWMA of squared a-priori residuals, bps^2

    # pending feature rows waiting for their horizon (ring buffer, monotone sequence numbers)
    cdef int64_t* pend_t
    cdef double* pend_logmid
    cdef double* pend_x1
    cdef double* pend_x2
    cdef int64_t mask, head, tail

    # output state
    cdef bint has_ema
    cdef double ema_offset_bps             # EMA of (adjusted - mid) in bps, re-anchored on each mid
    cdef readonly double mid
    cdef double last_logmid
    cdef readonly double raw_adjustment_bps
    cdef readonly double microprice
    cdef readonly int64_t last_ms
    cdef int64_t last_pending_ms

    cdef readonly int64_t samples          # labels resolved into the regression
    cdef readonly int64_t resets           # EMA pulled back to mid after diverging
    cdef readonly int64_t dropped_stale    # labels whose prevailing mid was too old
    cdef readonly int64_t dropped_capacity # feature rows not stored because the buffer was full
    cdef readonly int64_t rejected

    cdef double c_update(self, int64_t t_ms, double mid, double book_imb, double flow_imb) noexcept nogil
    cdef void _resolve(self, int64_t t_ms) noexcept nogil
    cdef void _rls(self, double x1, double x2, double y) noexcept nogil
    cdef bint c_ready(self) noexcept nogil
