# cython: language_level=3
"""Order flow: signed, volume-weighted imbalance and a Hawkes trade intensity.

Input: ``update(t_ms, size, side)`` per trade print, exchange time in int64 ms, ``size`` in
base-asset units (coins, > 0), ``side`` the aggressor (+1 buy, -1 sell).

Imbalance keeps magnitude. Buy and sell volumes are summed with exponential time decay
(half-life ``half_life_s``): ``B = sum_buys size_i * exp(-(t - t_i) ln2 / h)``, likewise ``S``.

* ``imbalance = (B - S) / (B + S)`` in [-1, 1] (0 with no volume);
* ``imbalance_weighted = (B - S) / (B + S + v_ref)``: the same sign, shrunk towards 0 when the
  recent volume is small compared with ``v_ref`` (coins), so one tiny print cannot read as a
  full-strength signal;
* ``buy_volume``, ``sell_volume``, ``net_volume`` (coins) and ``volume_rate`` (coins/s) keep
  the raw magnitudes for callers that scale thresholds by volume.

Hawkes intensity of trade events (both sides), exponential kernel, in events per second:

    lambda(t) = mu + sum_{t_i <= t} alpha * exp(-beta * (t - t_i))

kept recursively (one exp per event). An event is a distinct exchange millisecond: one taker
order that sweeps several makers prints several trades with the same timestamp, and counting
them as separate events would make a Hawkes fit explain the ties with an infinitely fast kernel. ``branching_ratio = alpha / beta`` is the expected number
of trades each trade triggers (the process is stationary iff < 1, with mean rate
``mu / (1 - alpha/beta)``). ``fit_hawkes()`` re-estimates (mu, alpha, beta) by maximum
likelihood on the buffered trade times (see ``hawkes_mle``) and adopts them when the fit is
stationary.
"""
from cpython.mem cimport PyMem_Malloc, PyMem_Free
from libc.math cimport exp, log, isfinite, M_LN2, INFINITY
from libc.stdint cimport int64_t

import numpy as np


cdef double hawkes_loglik(const double* t, Py_ssize_t n, double horizon, double mu, double alpha,
                          double beta, double* grad) noexcept nogil:
    """Log-likelihood of event times t[0..n) (seconds, sorted, >= 0) observed on [0, horizon].

    ll = sum_i log(mu + alpha A_i) - mu T - (alpha/beta) sum_i (1 - exp(-beta (T - t_i)))
    with A_i = sum_{j<i} exp(-beta (t_i - t_j)) = exp(-beta d)(1 + A_{i-1}). grad (3 doubles,
    may be NULL) receives d ll / d(mu, alpha, beta); B_i = sum_{j<i} (t_i - t_j) exp(...) is
    carried for the beta derivative: B_i = exp(-beta d)(B_{i-1} + d (1 + A_{i-1})).
    """
    cdef Py_ssize_t i
    cdef double a = 0.0, b = 0.0, d, e, lam, s, es
    cdef double ll = 0.0, g_mu = 0.0, g_alpha = 0.0, g_beta = 0.0, comp = 0.0, comp_d = 0.0
    for i in range(n):
        if i > 0:
            d = t[i] - t[i - 1]
            e = exp(-beta * d)
            b = e * (b + d * (1.0 + a))
            a = e * (1.0 + a)
        lam = mu + alpha * a
        if not lam > 0.0:
            return -INFINITY
        ll += log(lam)
        g_mu += 1.0 / lam
        g_alpha += a / lam
        g_beta -= alpha * b / lam
        s = horizon - t[i]
        es = exp(-beta * s)
        comp += 1.0 - es
        comp_d += s * es
    ll -= mu * horizon + alpha / beta * comp
    if grad != NULL:
        grad[0] = g_mu - horizon
        grad[1] = g_alpha - comp / beta
        grad[2] = g_beta + alpha / (beta * beta) * comp - alpha / beta * comp_d
    return ll


def hawkes_log_likelihood(const double[::1] times_s, double horizon_s, double mu, double alpha,
                          double beta):
    """(log-likelihood, gradient wrt (mu, alpha, beta)) of sorted event times on [0, horizon_s]."""
    cdef double grad[3]
    cdef double ll
    if times_s.shape[0] == 0:
        return -mu * horizon_s, np.array([-horizon_s, 0.0, 0.0])
    ll = hawkes_loglik(&times_s[0], times_s.shape[0], horizon_s, mu, alpha, beta, grad)
    return ll, np.array([grad[0], grad[1], grad[2]])


def hawkes_mle(times_s, horizon_s=None, double max_beta=1000.0) -> dict:
    """Maximum-likelihood (mu, alpha, beta) of an exponential-kernel Hawkes process.

    ``times_s``: strictly increasing event times in seconds; the observation window is
    [times_s[0], horizon_s] (default: the last event). ``max_beta`` (1/s) caps the decay rate:
    with millisecond timestamps a kernel faster than ~1000/s cannot be resolved. Optimised with
    L-BFGS-B over log-parameters using the analytic gradient, from several starting decay rates;
    the best local optimum wins. Returns a dict: mu, alpha, beta (per second), branching_ratio,
    stationary, beta_at_bound, loglik, events, converged.
    """
    from scipy.optimize import minimize   # cold path: calibration, not the trading loop

    t = np.ascontiguousarray(times_s, dtype=np.float64)
    if t.ndim != 1 or t.shape[0] < 10:
        raise ValueError(f"hawkes_mle needs at least 10 event times, got {t.shape[0] if t.ndim == 1 else t.shape}")
    if not np.all(np.isfinite(t)) or np.any(np.diff(t) <= 0):
        raise ValueError("hawkes_mle needs finite, strictly increasing event times "
                         "(merge prints that share a timestamp into one event)")
    if not (isfinite(max_beta) and max_beta > 0):
        raise ValueError(f"max_beta must be > 0, got {max_beta}")
    t = t - t[0]
    horizon = float(t[t.shape[0] - 1] if horizon_s is None else horizon_s - float(times_s[0]))
    if not horizon > 0:
        raise ValueError("hawkes_mle needs an observation window longer than zero")
    rate = t.shape[0] / horizon

    def objective(theta):
        mu, alpha, beta = np.exp(theta)
        ll, g = hawkes_log_likelihood(t, horizon, mu, alpha, beta)
        if not np.isfinite(ll):
            return 1e300, np.zeros(3)
        return -ll, -g * np.exp(theta)

    best = None
    log_max_beta = float(np.log(max_beta))
    for beta0 in (0.5 * rate, 2.0 * rate, 10.0 * rate, 50.0 * rate):
        beta0 = min(beta0, 0.5 * max_beta)
        x0 = np.log([0.5 * rate, 0.5 * beta0, beta0])
        res = minimize(objective, x0, jac=True, method="L-BFGS-B",
                       bounds=[(-30.0, 30.0), (-30.0, 30.0), (-30.0, log_max_beta)], options={"maxiter": 500})
        if best is None or res.fun < best.fun:
            best = res
    mu, alpha, beta = (float(x) for x in np.exp(best.x))
    return {"mu": mu, "alpha": alpha, "beta": beta, "branching_ratio": alpha / beta,
            "stationary": alpha < beta, "beta_at_bound": beta >= 0.999 * max_beta,
            "loglik": float(-best.fun), "events": int(t.shape[0]),
            "converged": bool(best.success)}


cdef class OrderFlow:
    """Volume-weighted flow imbalance and Hawkes trade intensity, updated per trade print.

    Parameters
    ----------
    half_life_s: decay half-life of buy/sell volumes, seconds (default 30).
    v_ref: reference volume (coins) for ``imbalance_weighted`` (default 0: same as imbalance).
    mu, alpha, beta: Hawkes baseline rate (1/s), jump per trade (1/s) and decay (1/s)
        (defaults 0.5, 1.0, 2.0: branching ratio 0.5). Replace them with ``fit_hawkes()``.
    min_trades: decayed trade count needed before ``ready`` (default 10).
    capacity: trade times kept for ``fit_hawkes`` (power of two, default 16384).
    """

    def __cinit__(self, double half_life_s=30.0, double v_ref=0.0, double mu=0.5, double alpha=1.0,
                  double beta=2.0, int min_trades=10, int64_t capacity=16384):
        cdef int64_t cap = 16
        if not (isfinite(half_life_s) and half_life_s > 0):
            raise ValueError(f"half_life_s must be a positive number of seconds, got {half_life_s}")
        if not (isfinite(v_ref) and v_ref >= 0):
            raise ValueError(f"v_ref must be a finite volume >= 0, got {v_ref}")
        if not (isfinite(mu) and mu > 0 and isfinite(alpha) and alpha >= 0 and isfinite(beta) and beta > 0):
            raise ValueError(f"Hawkes parameters need mu > 0, alpha >= 0, beta > 0; got {mu}, {alpha}, {beta}")
        if alpha >= beta:
            raise ValueError(f"Hawkes alpha must be < beta (branching ratio < 1), got alpha={alpha}, beta={beta}")
        if min_trades < 1:
            raise ValueError(f"min_trades must be >= 1, got {min_trades}")
        if capacity < 16 or capacity > (1 << 26):
            raise ValueError(f"capacity must be between 16 and {1 << 26}, got {capacity}")
        while cap < capacity:
            cap <<= 1
        self.half_life_s = half_life_s
        self.decay_rate = M_LN2 / half_life_s
        self.v_ref = v_ref
        self.mu, self.alpha, self.beta = mu, alpha, beta
        self.min_trades = min_trades
        self.capacity = cap
        self.mask = cap - 1
        self.ev_t = <int64_t*> PyMem_Malloc(cap * sizeof(int64_t))
        if self.ev_t == NULL:
            raise MemoryError()
        self.reset()

    def __dealloc__(self):
        PyMem_Free(self.ev_t)

    def reset(self) -> None:
        """Forget every trade (configuration and Hawkes parameters are kept)."""
        self.buy_vol = self.sell_vol = self.trade_count = self.excite = 0.0
        self.head = self.tail = 0
        self.started = False
        self.last_ms = 0
        self.trades = self.events = self.rejected = self.reordered = self.fits = 0

    # ------------------------------------------------------------------ hot path
    cdef void c_advance(self, int64_t now_ms) noexcept nogil:
        """Decay volumes and the Hawkes excitation to now_ms (never backwards)."""
        cdef double dt_s, d
        if not self.started:
            self.started = True
            self.last_ms = now_ms
            return
        if now_ms <= self.last_ms:
            return
        dt_s = (now_ms - self.last_ms) * 1e-3
        d = exp(-self.decay_rate * dt_s)
        self.buy_vol *= d
        self.sell_vol *= d
        self.trade_count *= d
        self.excite *= exp(-self.beta * dt_s)
        self.last_ms = now_ms

    cdef bint c_update(self, int64_t t_ms, double size, int side) noexcept nogil:
        if not (isfinite(size) and size > 0.0) or (side != 1 and side != -1):
            self.rejected += 1
            return False
        if self.started and t_ms < self.last_ms:
            self.reordered += 1
            t_ms = self.last_ms          # a print stamped in the past counts now
        self.c_advance(t_ms)
        if side > 0:
            self.buy_vol += size
        else:
            self.sell_vol += size
        self.trade_count += 1.0
        self.trades += 1
        if self.head > self.tail and self.ev_t[(self.head - 1) & self.mask] == t_ms:
            return True                  # same millisecond: part of the same Hawkes event
        self.excite += self.alpha
        if self.head - self.tail == self.capacity:
            self.tail += 1
        self.ev_t[self.head & self.mask] = t_ms
        self.head += 1
        self.events += 1
        return True

    cdef double c_imbalance(self) noexcept nogil:
        cdef double tot = self.buy_vol + self.sell_vol
        return (self.buy_vol - self.sell_vol) / tot if tot > 0.0 else 0.0

    cdef double c_imbalance_weighted(self) noexcept nogil:
        cdef double tot = self.buy_vol + self.sell_vol + self.v_ref
        return (self.buy_vol - self.sell_vol) / tot if tot > 0.0 else 0.0

    cdef double c_intensity_at(self, int64_t now_ms) noexcept nogil:
        if not self.started or now_ms <= self.last_ms:
            return self.mu + self.excite
        return self.mu + self.excite * exp(-self.beta * (now_ms - self.last_ms) * 1e-3)

    # ------------------------------------------------------------------ Python face
    def update(self, int64_t t_ms, double size, int side) -> bool:
        """Record a trade print (exchange ms, size in coins, aggressor side +1 buy / -1 sell)."""
        return self.c_update(t_ms, size, side)

    def update_many(self, const int64_t[::1] t_ms, const double[::1] size, const int64_t[::1] side) -> int:
        """Record arrays of trade prints in time order; returns how many were accepted."""
        cdef Py_ssize_t i, n = t_ms.shape[0]
        cdef int64_t accepted = 0
        if size.shape[0] != n or side.shape[0] != n:
            raise ValueError(f"t_ms, size and side must have the same length, got {n}, {size.shape[0]}, {side.shape[0]}")
        with nogil:
            for i in range(n):
                accepted += self.c_update(t_ms[i], size[i], <int> side[i])
        return accepted

    def advance(self, int64_t now_ms) -> None:
        """Decay the state to now_ms without a trade (e.g. at the start of a quote cycle)."""
        self.c_advance(now_ms)

    def intensity_at(self, int64_t now_ms) -> float:
        """Hawkes intensity (trades/s) at now_ms >= the last trade, without changing state."""
        return self.c_intensity_at(now_ms)

    def event_times_ms(self) -> np.ndarray:
        """Buffered Hawkes event times (distinct int64 ms), oldest first: what ``fit_hawkes`` uses."""
        cdef Py_ssize_t k, n = self.head - self.tail
        out = np.empty(n, dtype=np.int64)
        cdef int64_t[::1] o = out
        for k in range(n):
            o[k] = self.ev_t[(self.tail + k) & self.mask]
        return out

    def fit_hawkes(self, int min_events=200) -> dict:
        """Maximum-likelihood refit of (mu, alpha, beta) on the buffered trades up to last_ms.

        Adopts the fit when it converged, is stationary (alpha < beta) and its decay is not at the
        resolution bound, then rebuilds the excitation from the buffered events with the new
        parameters. Returns the fit dict from
        ``hawkes_mle`` plus ``adopted``. Raises ValueError with fewer than ``min_events`` trades.
        """
        cdef Py_ssize_t k, n = self.head - self.tail
        cdef double ex = 0.0
        cdef int64_t prev
        if n < max(min_events, 10):
            raise ValueError(f"fit_hawkes needs at least {max(min_events, 10)} buffered trade events, have {n}")
        times_ms = self.event_times_ms()
        fit = hawkes_mle((times_ms - times_ms[0]) * 1e-3, (self.last_ms - times_ms[0]) * 1e-3)
        fit["adopted"] = bool(fit["converged"] and fit["stationary"] and not fit["beta_at_bound"])
        if fit["adopted"]:
            self.mu, self.alpha, self.beta = fit["mu"], fit["alpha"], fit["beta"]
            prev = times_ms[0]
            for k in range(n):
                ex = ex * exp(-self.beta * (times_ms[k] - prev) * 1e-3) + self.alpha
                prev = times_ms[k]
            self.excite = ex * exp(-self.beta * (self.last_ms - prev) * 1e-3)
            self.fits += 1
        return fit

    @property
    def imbalance(self) -> float:
        """(B - S) / (B + S) of time-decayed buy and sell volume, in [-1, 1]."""
        return self.c_imbalance()

    @property
    def imbalance_weighted(self) -> float:
        """(B - S) / (B + S + v_ref): imbalance shrunk towards 0 when volume is small."""
        return self.c_imbalance_weighted()

    @property
    def buy_volume(self) -> float:
        """Time-decayed buy volume (coins) as of last_ms."""
        return self.buy_vol

    @property
    def sell_volume(self) -> float:
        return self.sell_vol

    @property
    def net_volume(self) -> float:
        return self.buy_vol - self.sell_vol

    @property
    def volume_rate(self) -> float:
        """Recent traded volume per second (coins/s): decayed volume / mean decay time."""
        return (self.buy_vol + self.sell_vol) * self.decay_rate

    @property
    def trade_rate(self) -> float:
        """Recent trades per second from the decayed count."""
        return self.trade_count * self.decay_rate

    @property
    def hawkes_intensity(self) -> float:
        """Hawkes intensity (trades/s) at last_ms, the latest trade included."""
        return self.mu + self.excite

    @property
    def branching_ratio(self) -> float:
        """alpha / beta: trades triggered per trade."""
        return self.alpha / self.beta

    @property
    def stationary_rate(self) -> float:
        """Long-run trade rate mu / (1 - alpha/beta), trades/s."""
        return self.mu / (1.0 - self.alpha / self.beta)

    @property
    def effective_trades(self) -> float:
        """Decayed trade count (the weight behind the imbalance)."""
        return self.trade_count

    @property
    def ready(self) -> bool:
        return self.trade_count >= self.min_trades

    @property
    def ready_reason(self) -> str:
        if self.ready:
            return "ready"
        return f"warming: {self.trade_count:.1f}/{self.min_trades} recent trades"

    def snapshot(self) -> dict:
        """All read-outs as a plain dict (for logs and metrics)."""
        return {
            "ts_ms": self.last_ms, "imbalance": self.imbalance,
            "imbalance_weighted": self.imbalance_weighted, "buy_volume": self.buy_vol,
            "sell_volume": self.sell_vol, "volume_rate": self.volume_rate, "trade_rate": self.trade_rate,
            "hawkes_intensity": self.hawkes_intensity, "mu": self.mu, "alpha": self.alpha,
            "beta": self.beta, "branching_ratio": self.branching_ratio, "trades": self.trades,
            "events": self.events,
            "rejected": self.rejected, "reordered": self.reordered, "fits": self.fits,
            "ready": self.ready, "ready_reason": self.ready_reason,
        }

    def __repr__(self) -> str:
        return (f"OrderFlow(imbalance={self.imbalance:+.3f}, buy={self.buy_vol:.4g}, sell={self.sell_vol:.4g}, "
                f"hawkes={self.hawkes_intensity:.3f}/s, n={self.branching_ratio:.3f}, ready={self.ready})")
