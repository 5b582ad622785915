# cython: language_level=3
"""Per-second volatility with a jump-robust variant and a hysteretic regime.

Input: ``update(t_ms, price)`` with exchange time in int64 milliseconds and a float price
(a mid from the book via ``units_to_price``, or a trade price). Mids are preferred: trade
prices bounce between bid and ask, which inflates realized variance.

Each accepted observation closes a log return ``r = ln(p_t / p_anchor)`` over
``dt = (t - t_anchor) / 1000`` seconds. Two exponentially time-decayed estimators run side by
side (fast, half-life ``fast_half_life_s``; slow baseline, ``slow_half_life_s``):

* realized variance per second  ``var = sum w r^2 / sum w dt``  (EWMA RV)
* bipower variance per second   ``var_bv = (pi/2) sum w |r_i||r_{i-1}| / sum w sqrt(dt_i dt_{i-1})``

Both are ratios of decayed sums, so irregular sampling is exact: a return over 3 s counts as
3 s of variance, not as one "tick". Bipower uses products of adjacent absolute returns, so a
single jump contributes ``|J| * |r|`` (small) instead of ``J^2``: it estimates the diffusive
variance. ``jump_ratio = var / var_bv`` is ~1 without jumps and grows with them.

All sigmas are in log-return units per sqrt(second) (``*_bps`` read-outs are x 1e4).

Regime (0 Low, 1 Normal, 2 High, 3 Extreme) compares the fast bipower sigma to the slow
bipower baseline, ``vol_ratio = sigma_bv / sigma_baseline``, with separate enter/exit
thresholds (hysteresis). Escalation (towards more risk: Low->Normal->High->Extreme) happens at
once, because a market maker must widen immediately; de-escalation additionally needs
``min_dwell_ms`` in the current regime, so the regime cannot flap faster than that.
"""
from libc.math cimport exp, log, sqrt, fabs, isfinite, M_PI, M_LN2
from libc.stdint cimport int64_t

import numpy as np

REGIME_NAMES = ("low", "normal", "high", "extreme")


cdef inline void _decay_add(DecayedSums* s, double r, double dt_s, bint has_prev,
                            double prev_abs_r, double prev_dt) noexcept nogil:
    cdef double w = exp(-s.rate * dt_s)
    s.rv = s.rv * w + r * r
    s.dt = s.dt * w + dt_s
    s.n = s.n * w + 1.0
    s.bv = s.bv * w
    s.bvdt = s.bvdt * w
    if has_prev:
        s.bv += fabs(r) * prev_abs_r
        s.bvdt += sqrt(dt_s * prev_dt)


cdef inline double _ratio(double num, double den) noexcept nogil:
    return num / den if den > 0.0 else 0.0


cdef class Volatility:
    """Online per-second volatility (EWMA RV and bipower), jump ratio and regime.

    Parameters
    ----------
    fast_half_life_s: half-life of the fast estimator, seconds (default 60).
    slow_half_life_s: half-life of the baseline used by the regime, seconds (default 1800).
    min_interval_ms: observations closer than this to the previous sample point are skipped
        (previous-tick sampling on a grid; 0 = use every new millisecond). Default 0.
    min_samples: returns needed before ``ready`` (default 30); the regime stays Normal until then.
    low_enter/low_exit, high_enter/high_exit, extreme_enter/extreme_exit: thresholds on
        ``vol_ratio`` (defaults 0.5/0.65, 1.5/1.25, 3.0/2.5). Enter Low at or below
        ``low_enter``, leave it above ``low_exit``; enter High at or above ``high_enter``,
        leave it below ``high_exit``; same for Extreme.
    min_dwell_ms: minimum time in a regime before stepping down to a calmer one (default 30000).
    """

    def __init__(self, double fast_half_life_s=60.0, double slow_half_life_s=1800.0,
                 int64_t min_interval_ms=0, int min_samples=30,
                 double low_enter=0.5, double low_exit=0.65,
                 double high_enter=1.5, double high_exit=1.25,
                 double extreme_enter=3.0, double extreme_exit=2.5,
                 int64_t min_dwell_ms=30_000):
        if not (isfinite(fast_half_life_s) and fast_half_life_s > 0):
            raise ValueError(f"fast_half_life_s must be a positive number of seconds, got {fast_half_life_s}")
        if not (isfinite(slow_half_life_s) and slow_half_life_s > fast_half_life_s):
            raise ValueError(
                f"slow_half_life_s must be longer than fast_half_life_s ({fast_half_life_s}), got {slow_half_life_s}")
        if min_interval_ms < 0:
            raise ValueError(f"min_interval_ms must be >= 0, got {min_interval_ms}")
        if min_samples < 2:
            raise ValueError(f"min_samples must be >= 2, got {min_samples}")
        if min_dwell_ms < 0:
            raise ValueError(f"min_dwell_ms must be >= 0, got {min_dwell_ms}")
        if not (0 < low_enter < low_exit < high_exit < high_enter < extreme_enter
                and high_exit < extreme_exit < extreme_enter):
            raise ValueError(
                "regime thresholds must satisfy 0 < low_enter < low_exit < high_exit < high_enter "
                "< extreme_enter and high_exit < extreme_exit < extreme_enter; got "
                f"low {low_enter}/{low_exit}, high {high_enter}/{high_exit}, "
                f"extreme {extreme_enter}/{extreme_exit}")
        self.fast_half_life_s = fast_half_life_s
        self.slow_half_life_s = slow_half_life_s
        self.min_interval_ms = min_interval_ms
        self.min_samples = min_samples
        self.low_enter, self.low_exit = low_enter, low_exit
        self.high_enter, self.high_exit = high_enter, high_exit
        self.extreme_enter, self.extreme_exit = extreme_enter, extreme_exit
        self.min_dwell_ms = min_dwell_ms
        self.reset()

    def reset(self) -> None:
        """Forget every observation (configuration is kept)."""
        self.fast = DecayedSums(0.0, 0.0, 0.0, 0.0, 0.0, M_LN2 / self.fast_half_life_s)
        self.slow = DecayedSums(0.0, 0.0, 0.0, 0.0, 0.0, M_LN2 / self.slow_half_life_s)
        self.has_anchor = False
        self.anchor_ms = 0
        self.anchor_logp = 0.0
        self.has_prev_return = False
        self.prev_abs_r = 0.0
        self.prev_dt = 0.0
        self.samples = 0
        self.rejected = 0
        self.last_ms = 0
        self.regime = REGIME_NORMAL
        self.regime_since_ms = 0
        self.transitions = 0

    # ------------------------------------------------------------------ hot path
    cdef bint c_update(self, int64_t t_ms, double price) noexcept nogil:
        """Feed one price; returns True when it closed a return."""
        cdef double logp, r, dt_s
        cdef int64_t step
        if not (isfinite(price) and price > 0.0):
            self.rejected += 1
            return False
        if not self.has_anchor:
            self.has_anchor = True
            self.anchor_ms = t_ms
            self.anchor_logp = log(price)
            self.last_ms = t_ms
            self.regime_since_ms = t_ms
            return False
        if t_ms < self.anchor_ms:
            self.rejected += 1          # exchange time never goes back; keep state as it was
            return False
        step = self.min_interval_ms if self.min_interval_ms > 1 else 1
        self.last_ms = t_ms
        if t_ms - self.anchor_ms < step:
            # Same millisecond (or inside the sampling grid): the next sample's return spans it.
            return False
        logp = log(price)
        r = logp - self.anchor_logp
        dt_s = (t_ms - self.anchor_ms) * 1e-3
        self.anchor_ms = t_ms
        self.anchor_logp = logp
        self._add_return(r, dt_s)
        self._step_regime(t_ms)
        return True

    cdef void _add_return(self, double r, double dt_s) noexcept nogil:
        _decay_add(&self.fast, r, dt_s, self.has_prev_return, self.prev_abs_r, self.prev_dt)
        _decay_add(&self.slow, r, dt_s, self.has_prev_return, self.prev_abs_r, self.prev_dt)
        self.has_prev_return = True
        self.prev_abs_r = fabs(r)
        self.prev_dt = dt_s
        self.samples += 1

    cdef int _target_regime(self, int cur, double x) noexcept nogil:
        # Which regime the ratio x implies, given where we are (hysteresis).
        if cur == REGIME_EXTREME:
            if x >= self.extreme_exit:
                return REGIME_EXTREME
            if x >= self.high_exit:
                return REGIME_HIGH
            return REGIME_LOW if x <= self.low_enter else REGIME_NORMAL
        if x >= self.extreme_enter:
            return REGIME_EXTREME
        if cur == REGIME_HIGH:
            if x >= self.high_exit:
                return REGIME_HIGH
            return REGIME_LOW if x <= self.low_enter else REGIME_NORMAL
        if x >= self.high_enter:
            return REGIME_HIGH
        if cur == REGIME_LOW:
            return REGIME_LOW if x <= self.low_exit else REGIME_NORMAL
        return REGIME_LOW if x <= self.low_enter else REGIME_NORMAL

    cdef void _step_regime(self, int64_t t_ms) noexcept nogil:
        cdef double ratio
        cdef int target
        if not self.c_ready():
            return
        ratio = self.c_vol_ratio()
        if ratio <= 0.0:
            return
        target = self._target_regime(self.regime, ratio)
        if target == self.regime:
            return
        if target < self.regime and t_ms - self.regime_since_ms < self.min_dwell_ms:
            return                      # calmer, but not for long enough yet
        self.regime = target
        self.regime_since_ms = t_ms
        self.transitions += 1

    # ------------------------------------------------------------------ C read-outs
    cdef double c_var(self) noexcept nogil:
        return _ratio(self.fast.rv, self.fast.dt)

    cdef double c_var_bv(self) noexcept nogil:
        return 0.5 * M_PI * _ratio(self.fast.bv, self.fast.bvdt)

    cdef double c_var_baseline(self) noexcept nogil:
        return 0.5 * M_PI * _ratio(self.slow.bv, self.slow.bvdt)

    cdef double c_vol_ratio(self) noexcept nogil:
        cdef double base = self.c_var_baseline()
        return sqrt(self.c_var_bv() / base) if base > 0.0 else 0.0

    cdef bint c_ready(self) noexcept nogil:
        return self.samples >= self.min_samples and self.fast.bv > 0.0 and self.slow.bv > 0.0

    # ------------------------------------------------------------------ Python face
    def update(self, int64_t t_ms, double price) -> bool:
        """Feed one observation (exchange time ms, price). True if it closed a return."""
        return self.c_update(t_ms, price)

    def update_many(self, const int64_t[::1] t_ms, const double[::1] price) -> int:
        """Feed arrays of observations in time order; returns how many closed a return."""
        cdef Py_ssize_t i, n = t_ms.shape[0]
        cdef int64_t accepted = 0
        if price.shape[0] != n:
            raise ValueError(f"t_ms and price must have the same length, got {n} and {price.shape[0]}")
        with nogil:
            for i in range(n):
                accepted += self.c_update(t_ms[i], price[i])
        return accepted

    @property
    def sigma(self) -> float:
        """EWMA realized sigma per sqrt(second), log-return units (jumps included)."""
        return sqrt(self.c_var())

    @property
    def sigma_bps(self) -> float:
        return sqrt(self.c_var()) * 1e4

    @property
    def sigma_bv(self) -> float:
        """Jump-robust (bipower) sigma per sqrt(second), log-return units."""
        return sqrt(self.c_var_bv())

    @property
    def sigma_bv_bps(self) -> float:
        return sqrt(self.c_var_bv()) * 1e4

    @property
    def sigma_baseline(self) -> float:
        """Slow bipower sigma per sqrt(second): the regime's reference level."""
        return sqrt(self.c_var_baseline())

    @property
    def jump_ratio(self) -> float:
        """RV / BV on the fast window: ~1 for a diffusion, > 1 when jumps are present (0 if unknown)."""
        cdef double bv = self.c_var_bv()
        return self.c_var() / bv if bv > 0.0 else 0.0

    @property
    def vol_ratio(self) -> float:
        """sigma_bv / sigma_baseline, the quantity the regime thresholds apply to (0 if unknown)."""
        return self.c_vol_ratio()

    @property
    def regime_name(self) -> str:
        return REGIME_NAMES[self.regime]

    @property
    def effective_samples(self) -> float:
        """Decayed count of returns in the fast window."""
        return self.fast.n

    @property
    def ready(self) -> bool:
        return self.c_ready()

    @property
    def ready_reason(self) -> str:
        if self.c_ready():
            return "ready"
        if self.samples == 0:
            return "no returns yet"
        if self.samples >= self.min_samples:
            return "price has not moved on two consecutive returns yet"
        return f"warming: {self.samples}/{self.min_samples} returns"

    def snapshot(self) -> dict:
        """All read-outs as a plain dict (for logs and metrics)."""
        return {
            "ts_ms": self.last_ms,
            "sigma": self.sigma, "sigma_bv": self.sigma_bv, "sigma_baseline": self.sigma_baseline,
            "jump_ratio": self.jump_ratio, "vol_ratio": self.vol_ratio,
            "regime": self.regime, "regime_name": self.regime_name,
            "regime_since_ms": self.regime_since_ms, "transitions": self.transitions,
            "samples": self.samples, "effective_samples": self.fast.n, "rejected": self.rejected,
            "ready": self.ready, "ready_reason": self.ready_reason,
        }

    def __repr__(self) -> str:
        return (f"Volatility(sigma_bps={self.sigma_bps:.3f}, sigma_bv_bps={self.sigma_bv_bps:.3f}, "
                f"jump_ratio={self.jump_ratio:.3f}, regime={self.regime_name}, samples={self.samples}, "
                f"ready={self.ready})")
