# cython: language_level=3
"""Fill intensity lambda(delta) = A * exp(-kappa * delta), fitted online from trade prints.

Each trade print is measured at its distance from the mid at the time of the print, in **bps of
that mid**: ``delta = side * (price - mid) / mid * 1e4`` for a print with aggressor ``side``
(+1 buy, which lifts asks and prints above the mid; -1 sell, which hits bids and prints below
it; 0 unknown, in which case ``|price - mid|`` is used and the print counts only in the
pooled figures). A quote resting at depth delta is reached by every print at distance >= delta.

Floors. A print cannot land inside the touch: a market order first meets the best bid or ask,
which sits half the spread away from the mid. Measured from the mid, every distance therefore
carries the half-spread prevailing when it printed, and ``n / sum(delta_i)`` reads kappa low
(by the half-spread's share of the mean distance). So each print carries a **floor**
``floor_i`` in bps, the book's half-spread ``(ask - bid) / 2 / mid * 1e4`` when it printed, and
only its distance beyond the floor is exponential: ``delta_i = floor_i + Exp(kappa)``. A fixed
floor cannot do this live, since the half-spread moves with the book (and with our own quotes
at the touch). ``update(..., floor_bps=f)`` gives the print's floor; a negative ``floor_bps``
(the default) means the constant ``delta0_bps`` (default 0). A print closer to the mid than its
floor (a stale mid) counts with excess 0 (``inside_delta0``). Over a rolling time window the
maximum-likelihood estimates are

    kappa = n / sum(max(0, delta_i - floor_i))  (1/bps)      se(kappa) = kappa / sqrt(n)
    rate  = n / window_seconds                   (prints/s)  se(rate)  = rate / sqrt(n)

and with the window's mean floor ``F = mean(floor_i)`` (``mean_floor_bps``; ``delta0_bps`` when
no print gave its own) the intensity of fills at depth delta is

    lambda(delta) = rate * exp(-kappa * (delta - F)) = A * exp(-kappa * delta),  delta >= F
    A = rate * exp(kappa * F)

(exact for a constant floor; for a varying one it is the curve at the window's average book:
by Jensen the time-average of ``exp(kappa * floor)`` is a little larger, so A errs low).

``confidence = 1 - 1/sqrt(n)`` is one minus the relative standard error of both. Per-side
figures use the prints that reach that side only: ``kappa_bid``/``rate_bid`` come from sell
prints (they fill bids), ``kappa_ask``/``rate_ask`` from buy prints. ``kappa_price(mid)``
converts kappa to 1/price-units for formulas written in price.

Sweeps. One aggressive order that walks several levels prints one trade per maker, all with the
same timestamp; a quote at depth delta is filled by it once if its deepest print reaches delta.
With ``aggregate_sweeps`` (default) prints of the same side in the same millisecond are merged
into one arrival at the deepest distance, measured beyond the first print's floor (the book the
order hit), so lambda(delta) counts market orders, not prints.

The window is time-based (``window_ms``). The rate's denominator is the part of the window the
estimator has actually observed: it starts no earlier than the first event it saw, nor before a
print that had to be dropped because the buffer (``capacity`` prints) was full.
"""
from cpython.mem cimport PyMem_Malloc, PyMem_Free
from libc.math cimport exp, sqrt, fabs, isfinite
from libc.stdint cimport int64_t, int8_t

# A print at the touch sits exactly on its floor; the two are computed differently ((ask - bid) / 2
# vs price - mid), so rounding leaves it ~1e-16 bps either side. Such an excess is 0: a window of
# touch prints must read kappa 0 (not ready), not n / 1e-16; only a real shortfall counts as inside.
cdef double INSIDE_TOL_BPS = 1e-9


cdef class FillIntensity:
    """Online exponential fill-intensity fit over a rolling time window.

    Parameters
    ----------
    window_ms: rolling window length in ms (default 600000 = 10 min).
    delta0_bps: floor of prints given without their own (``update``'s ``floor_bps < 0``), bps (default 0).
    min_samples: prints in the window needed before ``ready`` (default 50: 14% relative se).
    capacity: most prints held in the window; rounded up to a power of two (default 65536).
    aggregate_sweeps: merge same-side prints of one millisecond into one arrival (default True).
    """

    def __cinit__(self, int64_t window_ms=600_000, double delta0_bps=0.0, int min_samples=50,
                  int64_t capacity=65536, bint aggregate_sweeps=True):
        cdef int64_t cap = 16
        if window_ms <= 0:
            raise ValueError(f"window_ms must be > 0, got {window_ms}")
        if not (isfinite(delta0_bps) and delta0_bps >= 0.0):
            raise ValueError(f"delta0_bps must be a finite number >= 0, got {delta0_bps}")
        if min_samples < 2:
            raise ValueError(f"min_samples must be >= 2, got {min_samples}")
        if capacity < 16 or capacity > (1 << 26):
            raise ValueError(f"capacity must be between 16 and {1 << 26}, got {capacity}")
        while cap < capacity:
            cap <<= 1
        self.window_ms = window_ms
        self.delta0_bps = delta0_bps
        self.min_samples = min_samples
        self.capacity = cap
        self.mask = cap - 1
        self.aggregate_sweeps = aggregate_sweeps
        self.ring_t = <int64_t*> PyMem_Malloc(cap * sizeof(int64_t))
        self.ring_excess = <double*> PyMem_Malloc(cap * sizeof(double))
        self.ring_floor = <double*> PyMem_Malloc(cap * sizeof(double))
        self.ring_side = <int8_t*> PyMem_Malloc(cap * sizeof(int8_t))
        if self.ring_t == NULL or self.ring_excess == NULL or self.ring_floor == NULL or self.ring_side == NULL:
            raise MemoryError()
        self.reset()

    def __dealloc__(self):
        PyMem_Free(self.ring_t)
        PyMem_Free(self.ring_excess)
        PyMem_Free(self.ring_floor)
        PyMem_Free(self.ring_side)

    def reset(self) -> None:
        """Forget every print (configuration is kept)."""
        self.head = self.tail = 0
        self.evictions_since_resum = 0
        self.n_buy = self.n_sell = self.n_unk = 0
        self.sum_buy = self.sum_sell = self.sum_unk = self.sum_floor = 0.0
        self.started = False
        self.origin_ms = self.floor_ms = self.now_ms = 0
        self.total = self.rejected = self.reordered = self.inside_delta0 = self.dropped_capacity = 0
        self.merged = 0

    # ------------------------------------------------------------------ hot path
    cdef bint c_update(self, int64_t t_ms, double price, double mid, int side, double floor_bps) noexcept nogil:
        cdef double delta, excess, floor_off
        cdef int64_t slot
        if not (isfinite(price) and isfinite(mid) and price > 0.0 and mid > 0.0 and isfinite(floor_bps)) \
                or side < -1 or side > 1:
            self.rejected += 1
            return False
        # the floor is kept relative to delta0, so prints without their own floor add exactly 0 to the
        # window's floor sum: a default estimator is bit for bit the constant-delta0 one
        floor_off = floor_bps - self.delta0_bps if floor_bps >= 0.0 else 0.0
        if side == 0:
            delta = fabs(price - mid) / mid * 1e4
        else:
            delta = side * (price - mid) / mid * 1e4
        if self.started and t_ms < self.now_ms:
            self.reordered += 1
            t_ms = self.now_ms           # keep the window ordered; the print itself is valid data
        self.c_advance(t_ms)
        if self.aggregate_sweeps and self.head > self.tail:
            slot = (self.head - 1) & self.mask
            if self.ring_t[slot] == t_ms and self.ring_side[slot] == side:
                # the same market order one level deeper: keep its deepest distance, measured from
                # the floor of the book it first hit
                excess = delta - self.delta0_bps - self.ring_floor[slot]
                if excess < INSIDE_TOL_BPS:
                    if excess < -INSIDE_TOL_BPS:
                        self.inside_delta0 += 1
                    excess = 0.0
                if excess > self.ring_excess[slot]:
                    if side > 0:
                        self.sum_buy += excess - self.ring_excess[slot]
                    elif side < 0:
                        self.sum_sell += excess - self.ring_excess[slot]
                    else:
                        self.sum_unk += excess - self.ring_excess[slot]
                    self.ring_excess[slot] = excess
                self.merged += 1
                self.total += 1
                return True
        excess = delta - self.delta0_bps - floor_off
        if excess < INSIDE_TOL_BPS:
            if excess < -INSIDE_TOL_BPS:
                self.inside_delta0 += 1  # printed inside its floor (through a stale mid)
            excess = 0.0
        if self.head - self.tail == self.capacity:
            self.floor_ms = self.ring_t[self.tail & self.mask]
            self._pop_tail()
            self.dropped_capacity += 1
        slot = self.head & self.mask
        self.ring_t[slot] = t_ms
        self.ring_excess[slot] = excess
        self.ring_floor[slot] = floor_off
        self.ring_side[slot] = <int8_t> side
        self.sum_floor += floor_off
        if side > 0:
            self.n_buy += 1
            self.sum_buy += excess
        elif side < 0:
            self.n_sell += 1
            self.sum_sell += excess
        else:
            self.n_unk += 1
            self.sum_unk += excess
        self.head += 1
        self.total += 1
        return True

    cdef void c_advance(self, int64_t now_ms) noexcept nogil:
        """Move the clock to now_ms and expire prints older than the window."""
        cdef int64_t cutoff
        if not self.started:
            self.started = True
            self.origin_ms = now_ms
            self.floor_ms = now_ms
            self.now_ms = now_ms
        if now_ms > self.now_ms:
            self.now_ms = now_ms
        cutoff = self.now_ms - self.window_ms
        while self.tail < self.head and self.ring_t[self.tail & self.mask] <= cutoff:
            self._pop_tail()

    cdef void _pop_tail(self) noexcept nogil:
        cdef int64_t slot = self.tail & self.mask
        if self.ring_side[slot] > 0:
            self.n_buy -= 1
            self.sum_buy -= self.ring_excess[slot]
        elif self.ring_side[slot] < 0:
            self.n_sell -= 1
            self.sum_sell -= self.ring_excess[slot]
        else:
            self.n_unk -= 1
            self.sum_unk -= self.ring_excess[slot]
        self.sum_floor -= self.ring_floor[slot]
        self.tail += 1
        self.evictions_since_resum += 1
        if self.tail == self.head:
            self.sum_buy = self.sum_sell = self.sum_unk = self.sum_floor = 0.0
            self.evictions_since_resum = 0
        elif self.evictions_since_resum >= self.capacity:
            self._resum()

    cdef void _resum(self) noexcept nogil:
        # Add/subtract drift is tiny, but a long-running process re-sums once per buffer turn.
        cdef int64_t i, slot
        cdef double sb = 0.0, ss = 0.0, su = 0.0, sf = 0.0
        for i in range(self.tail, self.head):
            slot = i & self.mask
            sf += self.ring_floor[slot]
            if self.ring_side[slot] > 0:
                sb += self.ring_excess[slot]
            elif self.ring_side[slot] < 0:
                ss += self.ring_excess[slot]
            else:
                su += self.ring_excess[slot]
        self.sum_buy = sb
        self.sum_sell = ss
        self.sum_unk = su
        self.sum_floor = sf
        self.evictions_since_resum = 0

    # ------------------------------------------------------------------ C read-outs
    cdef double c_elapsed_s(self) noexcept nogil:
        cdef int64_t start = self.now_ms - self.window_ms
        if self.origin_ms > start:
            start = self.origin_ms
        if self.dropped_capacity > 0 and self.floor_ms > start:
            start = self.floor_ms
        return (self.now_ms - start) * 1e-3

    cdef double c_kappa(self) noexcept nogil:
        cdef double s = self.sum_buy + self.sum_sell + self.sum_unk
        return (self.n_buy + self.n_sell + self.n_unk) / s if s > 0.0 else 0.0

    cdef double c_rate(self) noexcept nogil:
        cdef double el = self.c_elapsed_s()
        return (self.n_buy + self.n_sell + self.n_unk) / el if el > 0.0 else 0.0

    cdef double c_mean_floor(self) noexcept nogil:
        cdef int64_t n = self.n_buy + self.n_sell + self.n_unk
        return self.delta0_bps + self.sum_floor / n if n > 0 else self.delta0_bps

    cdef double c_intensity(self, double delta_bps) noexcept nogil:
        cdef double excess = delta_bps - self.c_mean_floor()
        if excess < 0.0:
            excess = 0.0
        return self.c_rate() * exp(-self.c_kappa() * excess)

    # ------------------------------------------------------------------ Python face
    def update(self, int64_t t_ms, double price, double mid, int side=0, double floor_bps=-1.0) -> bool:
        """Record a trade print (exchange ms, print price, mid at the print, aggressor side, and the
        print's floor: the book's half-spread in bps of the mid when it printed; negative = delta0_bps).
        Returns False (counted in ``rejected``) for a non-positive or non-finite price or mid, a side
        outside -1..1 or a non-finite floor."""
        return self.c_update(t_ms, price, mid, side, floor_bps)

    def update_many(self, const int64_t[::1] t_ms, const double[::1] price, const double[::1] mid,
                    const int64_t[::1] side, const double[::1] floor_bps=None) -> int:
        """Record arrays of prints in time order (``floor_bps``: each print's floor, as in
        :meth:`update`; None = delta0_bps for all); returns how many were accepted."""
        cdef Py_ssize_t i, n = t_ms.shape[0]
        cdef int64_t accepted = 0
        cdef bint floors = floor_bps is not None
        if price.shape[0] != n or mid.shape[0] != n or side.shape[0] != n:
            raise ValueError("t_ms, price, mid and side must have the same length, got "
                             f"{n}, {price.shape[0]}, {mid.shape[0]}, {side.shape[0]}")
        if floors and floor_bps.shape[0] != n:
            raise ValueError(f"floor_bps must have the same length as t_ms, got {floor_bps.shape[0]} and {n}")
        with nogil:
            if floors:
                for i in range(n):
                    accepted += self.c_update(t_ms[i], price[i], mid[i], <int> side[i], floor_bps[i])
            else:
                for i in range(n):
                    accepted += self.c_update(t_ms[i], price[i], mid[i], <int> side[i], -1.0)
        return accepted

    def advance(self, int64_t now_ms) -> None:
        """Move the clock without a print (expires old prints; the rate then decays)."""
        self.c_advance(now_ms)

    def intensity(self, double delta_bps) -> float:
        """Fills per second expected at depth delta_bps (either side): A * exp(-kappa * delta), i.e.
        ``rate * exp(-kappa * (delta - mean_floor_bps))``; ``rate`` at or inside the mean floor."""
        return self.c_intensity(delta_bps)

    def kappa_price(self, double mid) -> float:
        """kappa in 1/price-units at this mid (kappa_bps * 1e4 / mid)."""
        if not (isfinite(mid) and mid > 0.0):
            raise ValueError(f"mid must be a positive price, got {mid}")
        return self.c_kappa() * 1e4 / mid

    @property
    def samples(self) -> int:
        """Arrivals in the window (prints, or market orders with aggregate_sweeps)."""
        return self.n_buy + self.n_sell + self.n_unk

    @property
    def kappa(self) -> float:
        """Decay rate of fill intensity with depth, 1/bps (both sides pooled; 0 if unknown)."""
        return self.c_kappa()

    @property
    def kappa_se(self) -> float:
        cdef int64_t n = self.n_buy + self.n_sell + self.n_unk
        return self.c_kappa() / sqrt(n) if n > 0 else float("inf")

    @property
    def kappa_bid(self) -> float:
        """kappa from sell prints (those reach bids), 1/bps."""
        return self.n_sell / self.sum_sell if self.sum_sell > 0.0 else 0.0

    @property
    def kappa_ask(self) -> float:
        """kappa from buy prints (those reach asks), 1/bps."""
        return self.n_buy / self.sum_buy if self.sum_buy > 0.0 else 0.0

    @property
    def rate(self) -> float:
        """Prints per second in the window (intensity at delta0), both sides."""
        return self.c_rate()

    @property
    def rate_bid(self) -> float:
        cdef double el = self.c_elapsed_s()
        return self.n_sell / el if el > 0.0 else 0.0

    @property
    def rate_ask(self) -> float:
        cdef double el = self.c_elapsed_s()
        return self.n_buy / el if el > 0.0 else 0.0

    @property
    def mean_floor_bps(self) -> float:
        """Mean floor of the prints in the window, bps (delta0_bps when none gave its own, or empty)."""
        return self.c_mean_floor()

    @property
    def A(self) -> float:
        """Intercept of lambda(delta) = A * exp(-kappa * delta): rate * exp(kappa * mean_floor_bps), per second."""
        return self.c_rate() * exp(self.c_kappa() * self.c_mean_floor())

    @property
    def rate_se(self) -> float:
        cdef int64_t n = self.n_buy + self.n_sell + self.n_unk
        return self.c_rate() / sqrt(n) if n > 0 else float("inf")

    @property
    def window_seconds(self) -> float:
        """Length of the window actually observed (the rate's denominator), seconds."""
        return self.c_elapsed_s()

    @property
    def confidence(self) -> float:
        """1 - relative standard error of kappa and rate (1 - 1/sqrt(n)); 0 with no prints."""
        cdef int64_t n = self.n_buy + self.n_sell + self.n_unk
        return 1.0 - 1.0 / sqrt(n) if n > 0 else 0.0

    @property
    def ready(self) -> bool:
        return (self.n_buy + self.n_sell + self.n_unk) >= self.min_samples and self.c_kappa() > 0.0 \
            and self.c_elapsed_s() > 0.0

    @property
    def ready_reason(self) -> str:
        cdef int64_t n = self.n_buy + self.n_sell + self.n_unk
        if self.ready:
            return "ready"
        if n < self.min_samples:
            return f"warming: {n}/{self.min_samples} prints in the window"
        if self.c_kappa() <= 0.0:
            return (f"every print in the window is at or inside its floor (mean floor "
                    f"{self.c_mean_floor():.4g} bps from the mid)")
        return "no time has elapsed in the window yet"

    def snapshot(self) -> dict:
        """All read-outs as a plain dict (for logs and metrics)."""
        return {
            "ts_ms": self.now_ms, "kappa": self.kappa, "kappa_se": self.kappa_se,
            "kappa_bid": self.kappa_bid, "kappa_ask": self.kappa_ask,
            "A": self.A, "mean_floor_bps": self.mean_floor_bps, "rate": self.rate, "rate_bid": self.rate_bid, "rate_ask": self.rate_ask,
            "rate_se": self.rate_se, "window_seconds": self.window_seconds,
            "samples": self.samples, "confidence": self.confidence, "total": self.total,
            "rejected": self.rejected, "reordered": self.reordered,
            "inside_delta0": self.inside_delta0, "dropped_capacity": self.dropped_capacity,
            "merged": self.merged,
            "ready": self.ready, "ready_reason": self.ready_reason,
        }

    def __repr__(self) -> str:
        return (f"FillIntensity(kappa={self.kappa:.4f}/bps, A={self.A:.4f}/s, samples={self.samples}, "
                f"confidence={self.confidence:.3f}, ready={self.ready})")
