# Order flow: volume-weighted, time-decayed buy/sell imbalance and a Hawkes trade intensity.
from libc.stdint cimport int64_t


cdef double hawkes_loglik(const double* t, Py_ssize_t n, double horizon, double mu, double alpha,
                          double beta, double* grad) noexcept nogil


cdef class OrderFlow:
    # configuration
    cdef readonly double half_life_s
    cdef readonly double v_ref
    cdef readonly double mu, alpha, beta          # Hawkes parameters (per second)
    cdef readonly int min_trades
    cdef readonly int64_t capacity

    # imbalance state, as of last_ms
    cdef double decay_rate                        # ln 2 / half_life_s
    cdef double buy_vol, sell_vol, trade_count    # time-decayed sums
    # Hawkes state: sum alpha * exp(-beta * (last_ms - t_i)) over events so far
    cdef double excite

    # event times kept for fitting (ring buffer, monotone sequence numbers)
    cdef int64_t* ev_t
    cdef int64_t mask, head, tail

    cdef bint started
    cdef readonly int64_t last_ms
    cdef readonly int64_t trades                  # prints accepted
    cdef readonly int64_t events                  # Hawkes events (distinct milliseconds)
    cdef readonly int64_t rejected
    cdef readonly int64_t reordered
    cdef readonly int64_t fits

    cdef bint c_update(self, int64_t t_ms, double size, int side) noexcept nogil
    cdef void c_advance(self, int64_t now_ms) noexcept nogil
    cdef double c_imbalance(self) noexcept nogil
    cdef double c_imbalance_weighted(self) noexcept nogil
    cdef double c_intensity_at(self, int64_t now_ms) noexcept nogil
