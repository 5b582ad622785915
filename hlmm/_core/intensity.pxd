# Fill intensity lambda(delta) = A * exp(-kappa * delta) fitted online from trade prints, each print's
# distance measured beyond its own floor (the half-spread when it printed).
from libc.stdint cimport int64_t, int8_t


cdef class FillIntensity:
    # configuration
    cdef readonly int64_t window_ms
    cdef readonly double delta0_bps
    cdef readonly int min_samples
    cdef readonly int64_t capacity
    cdef readonly bint aggregate_sweeps

    # rolling window of prints: ring buffer indexed by monotone sequence numbers
    cdef int64_t* ring_t
    cdef double* ring_excess          # distance beyond the print's floor, bps (>= 0)
    cdef double* ring_floor           # the print's floor minus delta0_bps, bps (0 for a default floor)
    cdef int8_t* ring_side            # +1 buy aggressor (lifts asks), -1 sell (hits bids), 0 unknown
    cdef int64_t mask
    cdef int64_t head                 # next sequence number to write
    cdef int64_t tail                 # oldest sequence number still in the window
    cdef int64_t evictions_since_resum

    # window sums (buy = prints that fill asks, sell = prints that fill bids, unk = side unknown)
    cdef int64_t n_buy, n_sell, n_unk
    cdef double sum_buy, sum_sell, sum_unk
    cdef double sum_floor             # sum of ring_floor over the window (mean floor = delta0 + sum / n)

    cdef bint started
    cdef readonly int64_t origin_ms        # first time seen: the window cannot reach before it
    cdef readonly int64_t floor_ms         # newest print dropped for capacity: the window starts after it
    cdef readonly int64_t now_ms
    cdef readonly int64_t total            # prints accepted since construction
    cdef readonly int64_t rejected         # non-finite / non-positive price or mid, bad side, non-finite floor
    cdef readonly int64_t reordered        # prints stamped before now_ms, counted at now_ms
    cdef readonly int64_t inside_delta0    # prints closer to mid than their floor (excess clamped to 0)
    cdef readonly int64_t dropped_capacity # prints pushed out early because the buffer was full
    cdef readonly int64_t merged           # prints folded into the previous one (same ms and side)

    # floor_bps < 0: the print's floor is delta0_bps
    cdef bint c_update(self, int64_t t_ms, double price, double mid, int side, double floor_bps) noexcept nogil
    cdef void c_advance(self, int64_t now_ms) noexcept nogil
    cdef void _pop_tail(self) noexcept nogil
    cdef void _resum(self) noexcept nogil
    cdef double c_elapsed_s(self) noexcept nogil
    cdef double c_kappa(self) noexcept nogil
    cdef double c_rate(self) noexcept nogil
    cdef double c_mean_floor(self) noexcept nogil
    cdef double c_intensity(self, double delta_bps) noexcept nogil
