# cython: language_level=3
"""Fill markouts and the depth-decay adverse-selection model.

Inputs: ``on_mid(t_ms, mid)`` for every mid (and at least every ``max_feed_gap_ms``, e.g. each
quote cycle, even when unchanged), and ``add_fill(fill_id, t_ms, side, px, size, fee, mid=nan,
depth_bps=nan)`` for each of our fills (exchange ms; ``side`` +1 we bought, -1 we sold; ``fee``
in quote currency as the exchange reports it, negative for a rebate). Fills may arrive late
(after mids past their time): the mid history answers for them.

Mids used. The book is piecewise constant between updates, so "the mid at time T" is the mid
*prevailing* at T, i.e. of the last update at or before T; it is known once an update after T
arrives. ``mid0`` is the mid prevailing just before the fill (strictly earlier ms) unless given;
it too is settled only once a mid at or after the fill's millisecond has been seen, because the
book and fill streams are separate and a book update stamped before the fill may arrive after it.
A prevailing mid older than ``max_feed_gap_ms`` at the instant asked for is unknown (NaN): the
feed may have missed changes since.

Per fill, in bps of mid0, sign-aware (s = +1 buy, -1 sell):

    spread capture  SC    = s * (mid0 - px) / mid0 * 1e4           (earned vs mid at the fill)
    adverse sel.    AS_h  = s * (mid0 - mid_h) / mid0 * 1e4         (lost to the move by horizon h)
    fee             fee   = fee / (px * size) * 1e4
    edge            E_h   = SC - AS_h - fee = s * (mid_h - px) / mid0 * 1e4 - fee

at horizons ``horizons_ms`` (default 0.5 s, 1 s, 2 s, 5 s, 10 s, 60 s). Summaries by horizon give
means with standard errors (an estimate without its uncertainty is how edge predictions ended up
20-100x too confident).

Depth-decay model (at ``model_horizon_ms``): fills are bucketed by depth (``depth_bps`` if given,
else SC clamped at 0). With m_b the mean AS of bucket b and d_b its mean depth, the model
AS(d) = AS0 * exp(-d / delta_char) is fitted by weighted least squares on log m_b = log AS0 -
d_b / delta_char, with delta-method inverse-variance weights w_b = n_b m_b^2 / var_b, over
buckets with at least ``min_bucket_fills`` fills and m_b > 0 (log undefined otherwise).
The informed share per bucket is the symmetric excess alpha_b = (#{AS > t} - #{AS < -t}) / n_b
(t = ``informed_threshold_bps``; uninformed moves are symmetric and cancel), and
alpha(d) = alpha_touch * exp(-d / delta_char) is fitted to it by least squares with delta_char
fixed. AS0 / alpha_touch is then the implied adverse move of an informed fill.
"""
from cpython.mem cimport PyMem_Malloc, PyMem_Free, PyMem_Realloc
from libc.math cimport exp, sqrt, fabs, isfinite, NAN, INFINITY
from libc.stdint cimport int64_t
from libc.string cimport memset

import numpy as np

DEFAULT_HORIZONS_MS = (500, 1000, 2000, 5000, 10000, 60000)
DEFAULT_BUCKET_EDGES_BPS = (0.0, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 50.0, 100.0)


cdef inline double _mean(double s, int64_t n) noexcept nogil:
    return s / n if n > 0 else NAN


cdef inline double _se(double s, double s2, int64_t n) noexcept nogil:
    cdef double m, var
    if n < 2:
        return NAN
    m = s / n
    var = (s2 - n * m * m) / (n - 1)
    return sqrt(var / n) if var > 0.0 else 0.0


cdef class Markouts:
    """Per-fill markouts at fixed horizons, summaries, and the calibrated depth-decay AS model.

    Parameters
    ----------
    horizons_ms: strictly increasing horizons, 1 to 8 of them (default 500 .. 60000).
    model_horizon_ms: horizon whose AS feeds the depth model (default 1000).
    bucket_edges_bps: strictly increasing depth bucket edges from >= 0 (default 0, 1, 2, 3, 5,
        7.5, 10, 15, 20, 30, 50, 100); fills deeper than the last edge are not bucketed.
    min_bucket_fills: fills a bucket needs to enter the fit (default 30).
    informed_threshold_bps: |AS| beyond which a fill counts towards alpha (default 1.0).
    max_feed_gap_ms: oldest a prevailing mid may be at the instant it is used (default 5000).
    retention_slack_ms: mid history kept beyond the longest horizon, for late fills (default 120000).
    capacity: initial fill-record capacity; grows while records are unresolved (default 4096).
    """

    def __cinit__(self, horizons_ms=DEFAULT_HORIZONS_MS, int64_t model_horizon_ms=1000,
                  bucket_edges_bps=DEFAULT_BUCKET_EDGES_BPS, int min_bucket_fills=30,
                  double informed_threshold_bps=1.0, int64_t max_feed_gap_ms=5000,
                  int64_t retention_slack_ms=120_000, int64_t capacity=4096):
        cdef int i
        cdef int64_t cap = 16
        hs = [int(h) for h in horizons_ms]
        if not 1 <= len(hs) <= MAX_HORIZONS or hs[0] <= 0 or any(b <= a for a, b in zip(hs, hs[1:])):
            raise ValueError(f"horizons_ms must be 1 to {MAX_HORIZONS} strictly increasing positive "
                             f"integers, got {tuple(horizons_ms)!r}")
        if model_horizon_ms not in hs:
            raise ValueError(f"model_horizon_ms must be one of horizons_ms {tuple(hs)}, got {model_horizon_ms}")
        es = [float(e) for e in bucket_edges_bps]
        if not 2 <= len(es) <= MAX_BUCKETS + 1 or np.any(np.isnan(es)) or not np.all(np.isfinite(es[:len(es) - 1])) \
                or es[0] < 0 \
                or any(b <= a for a, b in zip(es, es[1:])):
            raise ValueError(f"bucket_edges_bps must be 2 to {MAX_BUCKETS + 1} strictly increasing values "
                             f"from >= 0, got {tuple(bucket_edges_bps)!r}")
        if min_bucket_fills < 2:
            raise ValueError(f"min_bucket_fills must be >= 2, got {min_bucket_fills}")
        if not (isfinite(informed_threshold_bps) and informed_threshold_bps >= 0):
            raise ValueError(f"informed_threshold_bps must be >= 0, got {informed_threshold_bps}")
        if max_feed_gap_ms <= 0:
            raise ValueError(f"max_feed_gap_ms must be > 0, got {max_feed_gap_ms}")
        if retention_slack_ms < 0:
            raise ValueError(f"retention_slack_ms must be >= 0, got {retention_slack_ms}")
        if capacity < 16 or capacity > (1 << 24):
            raise ValueError(f"capacity must be between 16 and {1 << 24}, got {capacity}")
        self.n_horizons = len(hs)
        for i in range(self.n_horizons):
            self.horizons[i] = hs[i]
        self.model_index = hs.index(model_horizon_ms)
        self.n_buckets = len(es) - 1
        for i in range(len(es)):
            self.edges[i] = es[i]
        self.min_bucket_fills = min_bucket_fills
        self.informed_threshold_bps = informed_threshold_bps
        self.max_feed_gap_ms = max_feed_gap_ms
        self.retention_ms = hs[len(hs) - 1] + retention_slack_ms  # (wraparound is off: no negative indices)
        while cap < capacity:
            cap <<= 1
        self.rec_cap = cap
        self.rec_mask = cap - 1
        self.recs = <FillRecord*> PyMem_Malloc(cap * sizeof(FillRecord))
        self.mid_cap = 1024
        self.mid_mask = self.mid_cap - 1
        self.mid_t = <int64_t*> PyMem_Malloc(self.mid_cap * sizeof(int64_t))
        self.mid_v = <double*> PyMem_Malloc(self.mid_cap * sizeof(double))
        if self.recs == NULL or self.mid_t == NULL or self.mid_v == NULL:
            raise MemoryError()
        self.reset()

    def __dealloc__(self):
        PyMem_Free(self.recs)
        PyMem_Free(self.mid_t)
        PyMem_Free(self.mid_v)

    def reset(self) -> None:
        """Forget fills, mids, statistics and the fitted model (configuration is kept)."""
        cdef int k
        self.rec_head = self.rec_tail = self.cursor_mid0 = 0
        for k in range(MAX_HORIZONS):
            self.cursor[k] = 0
        self.mid_head = self.mid_tail = 0
        self.last_mid_ms = 0
        memset(self.hstats, 0, sizeof(self.hstats))
        self.sc_n = 0
        self.sum_sc = self.sum_sc2 = self.sum_fee_bps = 0.0
        self.reset_model()
        self.fills = self.completed = self.discarded = self.unmeasured_fills = self.rejected = 0

    def reset_model(self) -> None:
        """Start the depth buckets and the fitted model over (e.g. after a market change)."""
        memset(self.b_n, 0, sizeof(self.b_n))
        memset(self.b_pos, 0, sizeof(self.b_pos))
        memset(self.b_neg, 0, sizeof(self.b_neg))
        memset(self.b_depth, 0, sizeof(self.b_depth))
        memset(self.b_as, 0, sizeof(self.b_as))
        memset(self.b_as2, 0, sizeof(self.b_as2))
        self.as0 = self.as0_se = self.delta_char = self.delta_char_se = self.alpha_touch = NAN
        self.calibrated = False

    # ------------------------------------------------------------------ storage
    cdef int _grow_fills(self) except -1:
        cdef int64_t new_cap = self.rec_cap * 2, s
        cdef FillRecord* new = <FillRecord*> PyMem_Malloc(new_cap * sizeof(FillRecord))
        if new == NULL:
            raise MemoryError("markouts: cannot grow the fill buffer")
        for s in range(self.rec_tail, self.rec_head):
            new[s & (new_cap - 1)] = self.recs[s & self.rec_mask]
        PyMem_Free(self.recs)
        self.recs = new
        self.rec_cap = new_cap
        self.rec_mask = new_cap - 1
        return 0

    cdef int _grow_mids(self) except -1:
        cdef int64_t new_cap = self.mid_cap * 2, s
        cdef int64_t* nt = <int64_t*> PyMem_Malloc(new_cap * sizeof(int64_t))
        cdef double* nv = <double*> PyMem_Malloc(new_cap * sizeof(double))
        if nt == NULL or nv == NULL:
            PyMem_Free(nt)
            PyMem_Free(nv)
            raise MemoryError("markouts: cannot grow the mid history")
        for s in range(self.mid_tail, self.mid_head):
            nt[s & (new_cap - 1)] = self.mid_t[s & self.mid_mask]
            nv[s & (new_cap - 1)] = self.mid_v[s & self.mid_mask]
        PyMem_Free(self.mid_t)
        PyMem_Free(self.mid_v)
        self.mid_t, self.mid_v = nt, nv
        self.mid_cap = new_cap
        self.mid_mask = new_cap - 1
        return 0

    cdef void _trim_mids(self, int64_t cutoff) noexcept nogil:
        # Keep the last mid at or before the cutoff: it is the prevailing mid there.
        while self.mid_head - self.mid_tail >= 2 and self.mid_t[(self.mid_tail + 1) & self.mid_mask] <= cutoff:
            self.mid_tail += 1

    # ------------------------------------------------------------------ hot path
    cdef double _prevailing(self, int64_t at_ms) noexcept nogil:
        """Mid of the last update at or before at_ms; NaN if none, or if it is older than
        max_feed_gap_ms at at_ms (the feed may have missed changes since)."""
        cdef int64_t lo = self.mid_tail, hi = self.mid_head, m
        if lo == hi or self.mid_t[lo & self.mid_mask] > at_ms:
            return NAN
        if self.mid_t[(hi - 1) & self.mid_mask] <= at_ms:
            lo = hi - 1
        elif hi - 2 >= lo and self.mid_t[(hi - 2) & self.mid_mask] <= at_ms:
            lo = hi - 2                          # the usual case: the update just before the latest
        else:
            hi -= 1                              # invariant: t[lo] <= at_ms < t[hi]
            while hi - lo > 1:
                m = (lo + hi) >> 1
                if self.mid_t[m & self.mid_mask] <= at_ms:
                    lo = m
                else:
                    hi = m
        if at_ms - self.mid_t[lo & self.mid_mask] > self.max_feed_gap_ms:
            return NAN
        return self.mid_v[lo & self.mid_mask]

    cdef bint c_on_mid(self, int64_t t_ms, double mid) noexcept nogil:
        cdef int64_t slot
        if not (isfinite(mid) and mid > 0.0) or (self.mid_head > self.mid_tail and t_ms < self.last_mid_ms):
            self.rejected += 1
            return False
        self._trim_mids(t_ms - self.retention_ms)
        if self.mid_head - self.mid_tail == self.mid_cap:
            self.mid_tail += 1                   # C callers without growth: lose the oldest mid
        slot = self.mid_head & self.mid_mask
        self.mid_t[slot] = t_ms
        self.mid_v[slot] = mid
        self.mid_head += 1
        self.last_mid_ms = t_ms
        self._resolve(t_ms)
        return True

    cdef void _resolve(self, int64_t now_ms) noexcept nogil:
        # An instant is settled once a mid strictly after it has been seen. Pre-fill mids (at
        # t - 1 ms) settle before any horizon (t + h) of the same fill, so accounting has mid0.
        cdef int k
        cdef FillRecord* r
        while self.cursor_mid0 < self.rec_head:
            r = &self.recs[self.cursor_mid0 & self.rec_mask]
            if not r.mid0_given:
                if r.t_ms - 1 >= now_ms:
                    break
                r.mid0 = self._prevailing(r.t_ms - 1)
            self._settle_mid0(r)
            self.cursor_mid0 += 1
        for k in range(self.n_horizons):
            while self.cursor[k] < self.rec_head:
                r = &self.recs[self.cursor[k] & self.rec_mask]
                if r.t_ms + self.horizons[k] >= now_ms:
                    break
                r.mid_h[k] = self._prevailing(r.t_ms + self.horizons[k])
                self._account(r, k)
                self.cursor[k] += 1
                if k == self.n_horizons - 1:
                    self.completed += 1

    cdef void _account(self, FillRecord* r, int k) noexcept nogil:
        cdef double as_bps, edge, notional
        cdef HorizonStats* h = &self.hstats[k]
        cdef int b
        if not (isfinite(r.mid0) and isfinite(r.mid_h[k])):
            h.unmeasured += 1
            return
        as_bps = r.side * (r.mid0 - r.mid_h[k]) / r.mid0 * 1e4
        edge = r.side * (r.mid0 - r.px) / r.mid0 * 1e4 - as_bps - r.fee_bps
        notional = r.px * r.size
        h.n += 1
        h.sum_as += as_bps
        h.sum_as2 += as_bps * as_bps
        h.sum_edge += edge
        h.sum_edge2 += edge * edge
        h.sum_notional += notional
        h.sum_notional_edge += notional * edge
        if k != self.model_index or not isfinite(r.depth_bps):
            return
        for b in range(self.n_buckets):
            if r.depth_bps >= self.edges[b] and r.depth_bps < self.edges[b + 1]:
                self.b_n[b] += 1
                self.b_depth[b] += r.depth_bps
                self.b_as[b] += as_bps
                self.b_as2[b] += as_bps * as_bps
                if as_bps > self.informed_threshold_bps:
                    self.b_pos[b] += 1
                elif as_bps < -self.informed_threshold_bps:
                    self.b_neg[b] += 1
                break

    cdef void _settle_mid0(self, FillRecord* r) noexcept nogil:
        cdef double sc
        if isfinite(r.mid0):
            sc = r.side * (r.mid0 - r.px) / r.mid0 * 1e4
            self.sc_n += 1
            self.sum_sc += sc
            self.sum_sc2 += sc * sc
            self.sum_fee_bps += r.fee_bps
            if not isfinite(r.depth_bps):
                r.depth_bps = sc if sc > 0.0 else 0.0
        else:
            self.unmeasured_fills += 1

    cdef bint c_add_fill(self, int64_t fill_id, int64_t t_ms, int side, double px, double size, double fee,
                         double mid0, double depth_bps) noexcept nogil:
        """Record one fill; returns False if invalid or if the buffer is full of open fills
        (``add_fill`` grows it first, so that only happens to C callers)."""
        cdef FillRecord* r
        cdef int k
        if (side != 1 and side != -1) or not (isfinite(px) and px > 0.0 and isfinite(size) and size > 0.0
                                              and isfinite(fee)) or isfinite(depth_bps) and depth_bps < 0.0:
            self.rejected += 1
            return False
        if self.rec_head - self.rec_tail == self.rec_cap:
            if self.rec_tail < self.cursor[self.n_horizons - 1]:
                self.rec_tail += 1               # oldest record is complete: drop it undrained
                self.discarded += 1
            else:
                self.rejected += 1
                return False
        r = &self.recs[self.rec_head & self.rec_mask]
        r.fill_id = fill_id
        r.t_ms = t_ms
        r.side = side
        r.px = px
        r.size = size
        r.mid0_given = isfinite(mid0) and mid0 > 0.0
        r.mid0 = mid0 if r.mid0_given else NAN   # otherwise settled from the mid history
        r.fee_bps = fee / (px * size) * 1e4
        r.depth_bps = depth_bps                  # NaN: the spread capture, once mid0 is known
        for k in range(MAX_HORIZONS):
            r.mid_h[k] = NAN
        self.rec_head += 1
        self.fills += 1
        if self.mid_head > self.mid_tail:
            self._resolve(self.last_mid_ms)      # a late fill: instants already passed settle now
        return True

    # ------------------------------------------------------------------ Python face
    def on_mid(self, int64_t t_ms, double mid) -> bool:
        """Record a mid (exchange ms); resolves every fill horizon it settles."""
        if self.mid_head - self.mid_tail == self.mid_cap:
            self._trim_mids(t_ms - self.retention_ms)
            if self.mid_head - self.mid_tail == self.mid_cap:
                self._grow_mids()
        return self.c_on_mid(t_ms, mid)

    def on_mid_many(self, const int64_t[::1] t_ms, const double[::1] mid) -> int:
        """Record arrays of mids in time order; returns how many were accepted."""
        cdef Py_ssize_t i, n = t_ms.shape[0]
        cdef int64_t accepted = 0
        if mid.shape[0] != n:
            raise ValueError(f"t_ms and mid must have the same length, got {n} and {mid.shape[0]}")
        for i in range(n):
            accepted += self.on_mid(t_ms[i], mid[i])
        return accepted

    def add_fill(self, int64_t fill_id, int64_t t_ms, int side, double px, double size, double fee=0.0,
                 double mid=NAN, double depth_bps=NAN) -> bool:
        """Record one of our fills.

        fill_id: the exchange's trade id (tid); t_ms: fill time (exchange ms); side: +1 bought,
        -1 sold; px, size: fill price and size (coins); fee: quote currency, negative = rebate;
        mid: the mid just before the fill if the caller knows it (default: from the mid history);
        depth_bps: the quote's depth from mid when placed (default: the spread capture).
        Returns False (and counts ``rejected``) for invalid input.
        """
        if self.rec_head - self.rec_tail == self.rec_cap and self.rec_tail >= self.cursor[self.n_horizons - 1]:
            self._grow_fills()                   # never drop a fill whose markouts are still open
        return self.c_add_fill(fill_id, t_ms, side, px, size, fee, mid, depth_bps)

    def drain_resolved(self, bint force=False) -> np.ndarray:
        """Fills whose every horizon is settled since the last drain, as a structured array.

        Fields: fill_id, t_ms, side, px, size, mid0, depth_bps, fee_bps, sc_bps, and per horizon
        (arrays of n_horizons): mid_h, as_bps, edge_bps. NaN marks an unknown mid.

        ``force=True`` (end of a session) drains every recorded fill: horizons that have not
        elapsed read NaN, so a short session still reports the horizons its fills did reach.
        """
        cdef int64_t s, end = self.rec_head if force else self.cursor[self.n_horizons - 1]
        cdef Py_ssize_t i = 0
        cdef int k, nh = self.n_horizons
        cdef FillRecord* r
        if force:
            # keep rec_tail <= cursor[last] <= ... <= cursor[0] <= cursor_mid0 <= rec_head
            for k in range(nh):
                if self.cursor[k] < end:
                    self.cursor[k] = end
            if self.cursor_mid0 < end:
                self.cursor_mid0 = end
        dtype = np.dtype([("fill_id", "i8"), ("t_ms", "i8"), ("side", "i1"), ("px", "f8"), ("size", "f8"),
                          ("mid0", "f8"), ("depth_bps", "f8"), ("fee_bps", "f8"), ("sc_bps", "f8"),
                          ("mid_h", "f8", (nh,)), ("as_bps", "f8", (nh,)), ("edge_bps", "f8", (nh,))])
        out = np.empty(end - self.rec_tail, dtype=dtype)
        for s in range(self.rec_tail, end):
            r = &self.recs[s & self.rec_mask]
            mids = np.array([r.mid_h[k] for k in range(nh)])
            sc = r.side * (r.mid0 - r.px) / r.mid0 * 1e4
            as_bps = r.side * (r.mid0 - mids) / r.mid0 * 1e4
            out[i] = (r.fill_id, r.t_ms, r.side, r.px, r.size, r.mid0, r.depth_bps, r.fee_bps, sc,
                      mids, as_bps, sc - as_bps - r.fee_bps)
            i += 1
        self.rec_tail = end
        return out

    @property
    def horizons_ms(self) -> tuple:
        return tuple(self.horizons[k] for k in range(self.n_horizons))

    @property
    def pending(self) -> int:
        """Fills with at least one horizon still open."""
        return self.rec_head - self.cursor[self.n_horizons - 1]

    def summary(self) -> dict:
        """Means and standard errors by horizon, in bps, over every resolved fill so far."""
        cdef int k
        cdef HorizonStats* h
        rows = []
        for k in range(self.n_horizons):
            h = &self.hstats[k]
            rows.append({
                "horizon_ms": self.horizons[k], "n": h.n, "unmeasured": h.unmeasured,
                "as_mean_bps": _mean(h.sum_as, h.n), "as_se_bps": _se(h.sum_as, h.sum_as2, h.n),
                "edge_mean_bps": _mean(h.sum_edge, h.n), "edge_se_bps": _se(h.sum_edge, h.sum_edge2, h.n),
                "edge_notional_bps": h.sum_notional_edge / h.sum_notional if h.sum_notional > 0 else NAN,
            })
        return {
            "fills": self.fills, "measured_fills": self.sc_n, "unmeasured_fills": self.unmeasured_fills,
            "sc_mean_bps": _mean(self.sum_sc, self.sc_n), "sc_se_bps": _se(self.sum_sc, self.sum_sc2, self.sc_n),
            "fee_mean_bps": _mean(self.sum_fee_bps, self.sc_n), "horizons": rows,
        }

    def depth_buckets(self) -> list:
        """Per depth bucket at the model horizon: edges, fills, mean depth, AS mean/se, alpha."""
        cdef int b
        out = []
        for b in range(self.n_buckets):
            n = self.b_n[b]
            out.append({
                "lo_bps": self.edges[b], "hi_bps": self.edges[b + 1], "n": n,
                "depth_mean_bps": _mean(self.b_depth[b], n), "as_mean_bps": _mean(self.b_as[b], n),
                "as_se_bps": _se(self.b_as[b], self.b_as2[b], n),
                "alpha": (self.b_pos[b] - self.b_neg[b]) / n if n > 0 else NAN,
            })
        return out

    def calibrate(self) -> dict:
        """Fit AS0, delta_char (WLS on log bucket means) and alpha_touch; adopt them if the fit works.

        Returns a dict with ``ok``, ``reason``, the estimates and their standard errors and the
        buckets used. A failed fit leaves the previous model in place.
        """
        rows = [r for r in self.depth_buckets() if r["n"] >= self.min_bucket_fills]
        usable = [r for r in rows if r["as_mean_bps"] > 0]
        result = {"ok": False, "buckets_used": len(usable), "horizon_ms": self.horizons[self.model_index]}
        if len(usable) < 2:
            result["reason"] = (f"need 2 depth buckets with >= {self.min_bucket_fills} fills and a positive "
                                f"mean AS; have {len(usable)}")
            return result
        d = np.array([r["depth_mean_bps"] for r in usable])
        m = np.array([r["as_mean_bps"] for r in usable])
        n = np.array([r["n"] for r in usable], dtype=float)
        var = np.array([r["as_se_bps"] ** 2 * r["n"] for r in usable])
        w = np.where(var > 0, n * m * m / np.where(var > 0, var, 1.0), n)
        X = np.column_stack([np.ones_like(d), d])
        xtwx = X.T @ (w[:, None] * X)
        if abs(np.linalg.det(xtwx)) < 1e-12 * max(1.0, float(np.trace(xtwx)) ** 2):
            result["reason"] = "the usable buckets do not span enough depth to fit a decay"
            return result
        cov = np.linalg.inv(xtwx)
        coef = cov @ (X.T @ (w * np.log(m)))
        if coef[1] >= 0:
            result["reason"] = f"adverse selection does not decrease with depth (slope {coef[1]:.4g} per bps)"
            return result
        as0 = float(np.exp(coef[0]))
        delta_char = float(-1.0 / coef[1])
        e = np.exp(-np.array([r["depth_mean_bps"] for r in rows]) / delta_char)
        alpha_b = np.array([r["alpha"] for r in rows])
        nb = np.array([r["n"] for r in rows], dtype=float)
        alpha_touch = float(np.clip(np.sum(nb * e * alpha_b) / np.sum(nb * e * e), 0.0, 1.0))
        self.as0 = as0
        self.as0_se = float(as0 * np.sqrt(cov[0, 0]))
        self.delta_char = delta_char
        self.delta_char_se = float(np.sqrt(cov[1, 1]) / coef[1] ** 2)
        self.alpha_touch = alpha_touch
        self.calibrated = True
        result.update(ok=True, reason="ok", as0_bps=as0, as0_se_bps=self.as0_se, delta_char_bps=delta_char,
                      delta_char_se_bps=self.delta_char_se, alpha_touch=alpha_touch,
                      informed_move_bps=as0 / alpha_touch if alpha_touch > 0 else INFINITY)
        return result

    def as_at(self, double depth_bps) -> float:
        """Expected adverse selection (bps) of a fill at this depth: AS0 * exp(-depth / delta_char)."""
        return self.as0 * exp(-depth_bps / self.delta_char)

    def alpha_at(self, double depth_bps) -> float:
        """Informed share of fills at this depth: alpha_touch * exp(-depth / delta_char)."""
        return self.alpha_touch * exp(-depth_bps / self.delta_char)

    @property
    def ready(self) -> bool:
        return self.calibrated

    @property
    def ready_reason(self) -> str:
        if self.calibrated:
            return "ready"
        have = sum(1 for r in self.depth_buckets() if r["n"] >= self.min_bucket_fills)
        return (f"depth model not calibrated: {have} bucket(s) with >= {self.min_bucket_fills} resolved fills "
                f"at {self.horizons[self.model_index]} ms (need 2 with positive mean AS, then calibrate())")

    def snapshot(self) -> dict:
        """Counters and the fitted model as a plain dict (for logs and metrics)."""
        return {
            "ts_ms": self.last_mid_ms, "fills": self.fills, "completed": self.completed,
            "pending": self.pending, "discarded": self.discarded, "unmeasured_fills": self.unmeasured_fills,
            "rejected": self.rejected, "as0_bps": self.as0, "as0_se_bps": self.as0_se,
            "delta_char_bps": self.delta_char, "delta_char_se_bps": self.delta_char_se,
            "alpha_touch": self.alpha_touch, "ready": self.ready, "ready_reason": self.ready_reason,
        }

    def __repr__(self) -> str:
        return (f"Markouts(fills={self.fills}, completed={self.completed}, pending={self.pending}, "
                f"as0={self.as0:.3f}, delta_char={self.delta_char:.3f}, alpha_touch={self.alpha_touch:.3f}, "
                f"ready={self.ready})")
