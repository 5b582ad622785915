# Per-second volatility from irregularly sampled log prices: EWMA realized variance,
# a jump-robust bipower variant, the RV/BV jump ratio and a hysteretic regime.
from libc.stdint cimport int64_t

cdef enum:
    REGIME_LOW = 0
    REGIME_NORMAL = 1
    REGIME_HIGH = 2
    REGIME_EXTREME = 3


cdef struct DecayedSums:
    # Exponentially time-decayed sums; every estimate is a ratio of two of them,
    # so the decay cancels and irregular sampling is handled exactly.
    double rv        # sum w * r^2
    double bv        # sum w * |r_i| * |r_{i-1}|
    double dt        # sum w * dt_i                  (seconds)
    double bvdt      # sum w * sqrt(dt_i * dt_{i-1}) (seconds)
    double n         # sum w                         (decayed sample count)
    double rate      # ln 2 / half-life              (1/s)


cdef class Volatility:
    # configuration
    cdef readonly double fast_half_life_s
    cdef readonly double slow_half_life_s
    cdef readonly int64_t min_interval_ms
    cdef readonly int min_samples
    cdef readonly double low_enter, low_exit
    cdef readonly double high_enter, high_exit
    cdef readonly double extreme_enter, extreme_exit
    cdef readonly int64_t min_dwell_ms

    # state
    cdef DecayedSums fast
    cdef DecayedSums slow
    cdef bint has_anchor
    cdef int64_t anchor_ms
    cdef double anchor_logp
    cdef bint has_prev_return
    cdef double prev_abs_r
    cdef double prev_dt
    cdef readonly int64_t samples          # returns accepted since construction
    cdef readonly int64_t rejected         # non-finite / non-positive prices, timestamps going back
    cdef readonly int64_t last_ms
    cdef readonly int regime
    cdef readonly int64_t regime_since_ms
    cdef readonly int64_t transitions

    cdef bint c_update(self, int64_t t_ms, double price) noexcept nogil
    cdef void _add_return(self, double r, double dt_s) noexcept nogil
    cdef void _step_regime(self, int64_t t_ms) noexcept nogil
    cdef int _target_regime(self, int cur, double ratio) noexcept nogil
    cdef double c_var(self) noexcept nogil
    cdef double c_var_bv(self) noexcept nogil
    cdef double c_var_baseline(self) noexcept nogil
    cdef double c_vol_ratio(self) noexcept nogil
    cdef bint c_ready(self) noexcept nogil
