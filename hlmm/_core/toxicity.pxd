# Pre-fill toxicity per side: a logistic score over features sampled at one instant, a two-sided
# CUSUM changepoint detector on standardized returns, and online logistic learning of the weights.
from libc.stdint cimport int64_t

cdef enum:
    N_FEATURES = 6     # bias, book, flow, regime, changepoint, funding


cdef class Cusum:
    cdef readonly double k                 # allowance (reference shift / 2), in sigma units
    cdef readonly double h                 # decision threshold, in sigma units
    cdef readonly double z_clip            # |z| is clipped here so one jump cannot alarm alone
    cdef readonly double s_pos, s_neg      # upward / downward statistics
    cdef readonly int64_t samples
    cdef readonly int64_t alarms_up, alarms_down
    cdef readonly int64_t last_alarm_up_ms, last_alarm_down_ms

    cdef int c_update(self, int64_t t_ms, double z) noexcept nogil


cdef class Toxicity:
    cdef readonly double funding_scale
    cdef readonly double cp_memory_ms
    cdef readonly double learning_rate
    cdef readonly double l2
    cdef readonly int min_samples
    cdef readonly Cusum cusum

    cdef double w[N_FEATURES]
    cdef double x_bid[N_FEATURES]
    cdef double x_ask[N_FEATURES]
    cdef readonly double bid_score
    cdef readonly double ask_score

    cdef bint has_mid
    cdef double last_logmid
    cdef readonly int64_t last_sample_ms
    cdef readonly int64_t samples          # accepted sample() calls
    cdef readonly int64_t rejected
    cdef readonly int64_t learned          # labelled fills learned from

    cdef bint c_sample(self, int64_t now_ms, double mid, double sigma, double book_imb, double flow_imb,
                       int regime, double funding_rate) noexcept nogil
    cdef double c_score(self, const double* x) noexcept nogil
    cdef double c_learn(self, const double* x, bint adverse) noexcept nogil
    cdef double _cp_feature(self, double stat, int64_t last_alarm_ms, int64_t now_ms) noexcept nogil
