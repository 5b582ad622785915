# cython: language_level=3
"""Microprice: the mid adjusted by book and flow imbalance, with betas learned online.

Input per book update: ``update(t_ms, mid, book_imbalance, flow_imbalance)``; exchange time in
int64 ms, ``mid`` a float price, both imbalances in [-1, 1] (``book_imbalance(bid_sz, ask_sz)``
computes the first; ``OrderFlow.imbalance_weighted`` gives the second).

Model. The forward log return of the mid over ``horizon_ms``, in bps, is regressed on
``x = (1, book_imbalance, flow_imbalance)`` by recursive least squares with forgetting factor
``forgetting`` (memory ~ 1/(1 - forgetting) labels). Each update stores its feature row in a
ring buffer; its label is the mid *prevailing* at ``t + horizon_ms`` (the last update at or
before it: the book is piecewise constant between updates), known once an update after that
instant arrives. A label whose prevailing mid is older than ``max_feed_gap_ms`` at the horizon
is dropped (the feed may have missed changes); feed the mid at least that often, e.g. every
quote cycle, even when it has not changed. The intercept absorbs drift so the two betas are not biased by a trend; it
is reported (``drift_bps``) but never applied to the price.

Output. ``raw_adjustment_bps = beta_book * book_imbalance + beta_flow * flow_imbalance`` once
``ready`` (``min_samples`` resolved labels), 0 before: a model still warming up never moves the
price. The published microprice is ``mid * (1 + ema / 1e4)`` where ``ema`` is an EMA
(half-life ``ema_half_life_ms``) of the adjustment:

* it starts AT MID (offset 0), never at a raw first value;
* it is re-anchored on every new mid (the EMA runs on the offset, not on the price, so a
  moving mid is never followed with a lag that would read as a signal);
* if it drifts more than ``max_divergence_bps`` (default 100) from mid it is reset to mid and
  ``resets`` is incremented;
* there is no one-sided clamp: the microprice is above or below the mid as the signal says.
"""
from cpython.mem cimport PyMem_Malloc, PyMem_Free
from libc.math cimport exp, log, sqrt, fabs, isfinite, M_LN2
from libc.stdint cimport int64_t

import numpy as np


cpdef double book_imbalance(double bid_size, double ask_size) noexcept nogil:
    """(bid - ask) / (bid + ask) of resting size, in [-1, 1]; 0 when both are empty."""
    cdef double tot = bid_size + ask_size
    if not (tot > 0.0) or not isfinite(tot) or bid_size < 0.0 or ask_size < 0.0:
        return 0.0
    return (bid_size - ask_size) / tot


cdef class Microprice:
    """Online microprice with RLS-learned imbalance betas and a mid-anchored EMA.

    Parameters
    ----------
    horizon_ms: forward-return horizon of the regression labels (default 1000).
    forgetting: RLS forgetting factor in (0, 1] (default 0.999).
    ema_half_life_ms: half-life of the adjustment EMA (default 500).
    max_divergence_bps: reset the EMA to mid beyond this distance (default 100).
    min_samples: resolved labels before the betas move the price (default 100).
    sample_interval_ms: store a feature row at most this often (default 0: every update).
    max_feed_gap_ms: drop labels whose prevailing mid is older than this at the horizon
        (default 5000).
    capacity: pending feature rows held (power of two, default 4096).
    p0: initial RLS covariance diagonal, bps^2 per unit feature^2 (default 1000).
    p_max: cap on the trace of the RLS covariance, against wind-up when features are flat
        (default 1e6).
    """

    def __cinit__(self, int64_t horizon_ms=1000, double forgetting=0.999, double ema_half_life_ms=500.0,
                  double max_divergence_bps=100.0, int min_samples=100, int64_t sample_interval_ms=0,
                  int64_t max_feed_gap_ms=5000, int64_t capacity=4096, double p0=1000.0, double p_max=1e6):
        cdef int64_t cap = 16
        if horizon_ms <= 0:
            raise ValueError(f"horizon_ms must be > 0, got {horizon_ms}")
        if not (0.0 < forgetting <= 1.0):
            raise ValueError(f"forgetting must be in (0, 1], got {forgetting}")
        if not (isfinite(ema_half_life_ms) and ema_half_life_ms > 0):
            raise ValueError(f"ema_half_life_ms must be > 0, got {ema_half_life_ms}")
        if not (isfinite(max_divergence_bps) and max_divergence_bps > 0):
            raise ValueError(f"max_divergence_bps must be > 0, got {max_divergence_bps}")
        if min_samples < 3:
            raise ValueError(f"min_samples must be >= 3 (three coefficients), got {min_samples}")
        if sample_interval_ms < 0:
            raise ValueError(f"sample_interval_ms must be >= 0, got {sample_interval_ms}")
        if max_feed_gap_ms <= 0:
            raise ValueError(f"max_feed_gap_ms must be > 0, got {max_feed_gap_ms}")
        if capacity < 16 or capacity > (1 << 24):
            raise ValueError(f"capacity must be between 16 and {1 << 24}, got {capacity}")
        if not (isfinite(p0) and p0 > 0 and isfinite(p_max) and p_max >= 3 * p0):
            raise ValueError(f"need p0 > 0 and p_max >= 3 * p0, got p0={p0}, p_max={p_max}")
        while cap < capacity:
            cap <<= 1
        self.horizon_ms = horizon_ms
        self.forgetting = forgetting
        self.ema_half_life_ms = ema_half_life_ms
        self.max_divergence_bps = max_divergence_bps
        self.min_samples = min_samples
        self.sample_interval_ms = sample_interval_ms
        self.max_feed_gap_ms = max_feed_gap_ms
        self.capacity = cap
        self.mask = cap - 1
        self.p0 = p0
        self.p_max = p_max
        self.pend_t = <int64_t*> PyMem_Malloc(cap * sizeof(int64_t))
        self.pend_logmid = <double*> PyMem_Malloc(cap * sizeof(double))
        self.pend_x1 = <double*> PyMem_Malloc(cap * sizeof(double))
        self.pend_x2 = <double*> PyMem_Malloc(cap * sizeof(double))
        if self.pend_t == NULL or self.pend_logmid == NULL or self.pend_x1 == NULL or self.pend_x2 == NULL:
            raise MemoryError()
        self.reset()

    def __dealloc__(self):
        PyMem_Free(self.pend_t)
        PyMem_Free(self.pend_logmid)
        PyMem_Free(self.pend_x1)
        PyMem_Free(self.pend_x2)

    def reset(self) -> None:
        """Forget the regression, the pending rows and the EMA (configuration is kept)."""
        cdef int i, j
        for i in range(3):
            self.beta[i] = 0.0
            for j in range(3):
                self.P[i][j] = self.p0 if i == j else 0.0
        self.resid_var = 0.0
        self.head = self.tail = 0
        self.has_ema = False
        self.ema_offset_bps = 0.0
        self.mid = 0.0
        self.last_logmid = 0.0
        self.raw_adjustment_bps = 0.0
        self.microprice = 0.0
        self.last_ms = 0
        self.last_pending_ms = 0
        self.samples = self.resets = self.dropped_stale = self.dropped_capacity = self.rejected = 0

    # ------------------------------------------------------------------ hot path
    cdef double c_update(self, int64_t t_ms, double mid, double book_imb, double flow_imb) noexcept nogil:
        """Feed one book state; returns the published microprice (or the last one if rejected)."""
        cdef double logmid, a, dt_ms
        cdef int64_t slot
        if not (isfinite(mid) and mid > 0.0 and isfinite(book_imb) and isfinite(flow_imb)
                and fabs(book_imb) <= 1.0 and fabs(flow_imb) <= 1.0) \
                or (self.has_ema and t_ms < self.last_ms):
            self.rejected += 1
            return self.microprice
        logmid = log(mid)
        if self.has_ema:
            self._resolve(t_ms)

        if self.head == self.tail or t_ms - self.last_pending_ms >= self.sample_interval_ms:
            if self.head - self.tail == self.capacity:
                self.dropped_capacity += 1
            else:
                slot = self.head & self.mask
                self.pend_t[slot] = t_ms
                self.pend_logmid[slot] = logmid
                self.pend_x1[slot] = book_imb
                self.pend_x2[slot] = flow_imb
                self.head += 1
                self.last_pending_ms = t_ms

        if self.c_ready():
            self.raw_adjustment_bps = self.beta[1] * book_imb + self.beta[2] * flow_imb
        else:
            self.raw_adjustment_bps = 0.0
        if not self.has_ema:
            self.has_ema = True
            self.ema_offset_bps = 0.0            # seeded AT MID
        else:
            dt_ms = <double> (t_ms - self.last_ms)
            a = 1.0 - exp(-M_LN2 * dt_ms / self.ema_half_life_ms)
            self.ema_offset_bps += a * (self.raw_adjustment_bps - self.ema_offset_bps)
            if fabs(self.ema_offset_bps) > self.max_divergence_bps:
                self.ema_offset_bps = 0.0
                self.resets += 1
        self.mid = mid
        self.last_logmid = logmid
        self.last_ms = t_ms
        self.microprice = mid * (1.0 + self.ema_offset_bps * 1e-4)
        return self.microprice

    cdef void _resolve(self, int64_t t_ms) noexcept nogil:
        # Rows due strictly before t_ms: the previous update (at or before their due time, or it
        # would have resolved them) holds the mid prevailing at the horizon.
        cdef int64_t slot, due
        while self.tail < self.head:
            slot = self.tail & self.mask
            due = self.pend_t[slot] + self.horizon_ms
            if due >= t_ms:
                break
            if due - self.last_ms > self.max_feed_gap_ms:
                self.dropped_stale += 1
            else:
                self._rls(self.pend_x1[slot], self.pend_x2[slot],
                          (self.last_logmid - self.pend_logmid[slot]) * 1e4)
            self.tail += 1

    cdef void _rls(self, double x1, double x2, double y) noexcept nogil:
        cdef double x[3]
        cdef double px[3]
        cdef double k[3]
        cdef double denom, err, lam = self.forgetting, tr, scale
        cdef int i, j
        x[0] = 1.0
        x[1] = x1
        x[2] = x2
        for i in range(3):
            px[i] = self.P[i][0] * x[0] + self.P[i][1] * x[1] + self.P[i][2] * x[2]
        denom = lam + x[0] * px[0] + x[1] * px[1] + x[2] * px[2]
        err = y - (self.beta[0] * x[0] + self.beta[1] * x[1] + self.beta[2] * x[2])
        for i in range(3):
            k[i] = px[i] / denom
            self.beta[i] += k[i] * err
        # Update the upper triangle and mirror it: the plain (P - k px') / lam form lets rounding
        # push P off symmetry, and 1/lam amplifies that error every step until the betas blow up.
        for i in range(3):
            for j in range(i, 3):
                self.P[i][j] = (self.P[i][j] - k[i] * px[j]) / lam
                self.P[j][i] = self.P[i][j]
        tr = self.P[0][0] + self.P[1][1] + self.P[2][2]
        if tr > self.p_max:                    # wind-up guard: flat features must not explode P
            scale = self.p_max / tr
            for i in range(3):
                for j in range(3):
                    self.P[i][j] *= scale
        if self.samples == 0:
            self.resid_var = err * err
        else:
            self.resid_var = lam * self.resid_var + (1.0 - lam) * err * err
        self.samples += 1

    cdef bint c_ready(self) noexcept nogil:
        return self.samples >= self.min_samples

    # ------------------------------------------------------------------ Python face
    def update(self, int64_t t_ms, double mid, double book_imbalance, double flow_imbalance) -> float:
        """Feed one book state (exchange ms, mid price, imbalances in [-1, 1]); returns the microprice."""
        return self.c_update(t_ms, mid, book_imbalance, flow_imbalance)

    def update_many(self, const int64_t[::1] t_ms, const double[::1] mid, const double[::1] book_imbalance,
                    const double[::1] flow_imbalance) -> np.ndarray:
        """Feed arrays in time order; returns the microprice after each row."""
        cdef Py_ssize_t i, n = t_ms.shape[0]
        if mid.shape[0] != n or book_imbalance.shape[0] != n or flow_imbalance.shape[0] != n:
            raise ValueError("t_ms, mid, book_imbalance and flow_imbalance must have the same length, got "
                             f"{n}, {mid.shape[0]}, {book_imbalance.shape[0]}, {flow_imbalance.shape[0]}")
        out = np.empty(n, dtype=np.float64)
        cdef double[::1] o = out
        with nogil:
            for i in range(n):
                o[i] = self.c_update(t_ms[i], mid[i], book_imbalance[i], flow_imbalance[i])
        return out

    @property
    def beta_book(self) -> float:
        """Forward return (bps over the horizon) per unit of book imbalance."""
        return self.beta[1]

    @property
    def beta_flow(self) -> float:
        """Forward return (bps over the horizon) per unit of flow imbalance."""
        return self.beta[2]

    @property
    def drift_bps(self) -> float:
        """Regression intercept (recent mean forward return, bps); reported, never applied."""
        return self.beta[0]

    @property
    def beta_se(self) -> tuple:
        """Approximate standard errors of (beta_book, beta_flow): sqrt(P_ii * residual variance)."""
        return (sqrt(self.P[1][1] * self.resid_var), sqrt(self.P[2][2] * self.resid_var))

    @property
    def residual_std_bps(self) -> float:
        return sqrt(self.resid_var)

    @property
    def adjustment_bps(self) -> float:
        """Published (smoothed) microprice - mid, bps."""
        return self.ema_offset_bps

    @property
    def raw_microprice(self) -> float:
        """mid * (1 + raw_adjustment_bps / 1e4), before smoothing."""
        return self.mid * (1.0 + self.raw_adjustment_bps * 1e-4)

    @property
    def pending(self) -> int:
        """Feature rows waiting for their horizon."""
        return self.head - self.tail

    @property
    def ready(self) -> bool:
        return self.c_ready()

    @property
    def ready_reason(self) -> str:
        if self.c_ready():
            return "ready"
        return f"warming: {self.samples}/{self.min_samples} resolved labels (microprice = mid until then)"

    def snapshot(self) -> dict:
        """All read-outs as a plain dict (for logs and metrics)."""
        se_book, se_flow = self.beta_se
        return {
            "ts_ms": self.last_ms, "mid": self.mid, "microprice": self.microprice,
            "raw_microprice": self.raw_microprice, "adjustment_bps": self.ema_offset_bps,
            "raw_adjustment_bps": self.raw_adjustment_bps, "beta_book": self.beta[1],
            "beta_flow": self.beta[2], "beta_book_se": se_book, "beta_flow_se": se_flow,
            "drift_bps": self.beta[0], "residual_std_bps": self.residual_std_bps,
            "samples": self.samples, "pending": self.pending, "resets": self.resets,
            "dropped_stale": self.dropped_stale, "dropped_capacity": self.dropped_capacity,
            "rejected": self.rejected, "ready": self.ready, "ready_reason": self.ready_reason,
        }

    def __repr__(self) -> str:
        return (f"Microprice(microprice={self.microprice:.6g}, mid={self.mid:.6g}, "
                f"adjustment_bps={self.ema_offset_bps:+.3f}, beta_book={self.beta[1]:+.3f}, "
                f"beta_flow={self.beta[2]:+.3f}, samples={self.samples}, ready={self.ready})")
