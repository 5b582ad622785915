# cython: language_level=3
"""Pre-fill toxicity per side (bid, ask) in [0, 1], sampled at one instant.

One call, ``sample(now_ms, mid, sigma, book_imbalance, flow_imbalance, regime, funding_rate)``,
takes every input together at the start of a quote cycle, so the signals can never be out of
sync with each other. Units: exchange ms; ``mid`` a float price; ``sigma`` per sqrt(second) in
log-return units (``Volatility.sigma_bv``); imbalances in [-1, 1] (book: (bid-ask)/(bid+ask)
size, flow: ``OrderFlow.imbalance_weighted``, which keeps volume magnitude); ``regime`` 0..3
(``Volatility.regime``); ``funding_rate`` the hourly funding rate as a fraction.

Features, oriented so that larger means more dangerous for that side (a filled bid loses when
the price then falls, a filled ask when it rises):

    feature       bid                   ask
    bias          1                     1
    book          -book_imbalance       +book_imbalance
    flow          -flow_imbalance       +flow_imbalance
    regime        regime / 3            regime / 3
    changepoint   cp_down               cp_up
    funding       +f                    -f         f = clip(funding_rate / funding_scale, -1, 1)

(positive funding: longs are crowded and pay, so downside pressure threatens bids.)

score = sigmoid(w . x), with one weight vector shared by both sides (the features are already
side-oriented, so every labelled fill teaches both).

Changepoint: a two-sided CUSUM on standardized returns between samples,
z = ln(mid / previous mid) / (sigma * sqrt(dt)), clipped to +-z_clip;
S+ = max(0, S+ + z - k), S- = max(0, S- - z - k); an alarm fires when a statistic exceeds h,
and resets it. cp_up = max(min(S+/h, 1), exp(-(now - last up alarm) / cp_memory_ms)), likewise
cp_down: the feature rises as evidence builds and fades after an alarm.

Learning: ``learn(features, adverse)`` is one step of online logistic regression (SGD with L2 on
the non-bias weights) of "this fill was adverse at 1 s" (e.g. the markout's adverse selection
at 1 s > 0) on the features captured when the fill happened (``features(side)``).
"""
from libc.math cimport exp, log, sqrt, fabs, isfinite
from libc.stdint cimport int64_t

import numpy as np

FEATURE_NAMES = ("bias", "book", "flow", "regime", "changepoint", "funding")
DEFAULT_WEIGHTS = (-3.0, 1.5, 2.0, 1.0, 2.5, 0.5)
BID = -1
ASK = 1


cdef inline double _sigmoid(double a) noexcept nogil:
    if a >= 0.0:
        return 1.0 / (1.0 + exp(-a))
    cdef double e = exp(a)
    return e / (1.0 + e)


cdef class Cusum:
    """Two-sided CUSUM (Page) on standardized observations z ~ N(0, 1) under no change.

    ``k`` is half the mean shift to detect (0.5 detects a 1-sigma shift), ``h`` the threshold.
    The expected delay to detect a shift d > k is about (h + 1.166) / (d - k) samples.
    """

    def __init__(self, double k=0.5, double h=5.0, double z_clip=3.0):
        if not (isfinite(k) and k > 0):
            raise ValueError(f"cusum k must be > 0, got {k}")
        if not (isfinite(h) and h > 0):
            raise ValueError(f"cusum h must be > 0, got {h}")
        if not (isfinite(z_clip) and z_clip > k):
            raise ValueError(f"cusum z_clip must be > k ({k}), got {z_clip}")
        self.k, self.h, self.z_clip = k, h, z_clip
        self.reset()

    def reset(self) -> None:
        self.s_pos = self.s_neg = 0.0
        self.samples = self.alarms_up = self.alarms_down = 0
        self.last_alarm_up_ms = self.last_alarm_down_ms = -1

    cdef int c_update(self, int64_t t_ms, double z) noexcept nogil:
        """Add one standardized observation; +1 on an upward alarm, -1 downward, 0 otherwise."""
        cdef int fired = 0
        if not isfinite(z):
            return 0
        if z > self.z_clip:
            z = self.z_clip
        elif z < -self.z_clip:
            z = -self.z_clip
        self.samples += 1
        self.s_pos = self.s_pos + z - self.k
        if self.s_pos < 0.0:
            self.s_pos = 0.0
        self.s_neg = self.s_neg - z - self.k
        if self.s_neg < 0.0:
            self.s_neg = 0.0
        if self.s_pos > self.h:
            self.s_pos = 0.0
            self.alarms_up += 1
            self.last_alarm_up_ms = t_ms
            fired = 1
        if self.s_neg > self.h:
            self.s_neg = 0.0
            self.alarms_down += 1
            self.last_alarm_down_ms = t_ms
            fired = -1
        return fired

    def update(self, int64_t t_ms, double z) -> int:
        """Add one standardized observation; +1 upward alarm, -1 downward alarm, 0 none."""
        return self.c_update(t_ms, z)

    def update_many(self, const int64_t[::1] t_ms, const double[::1] z) -> np.ndarray:
        """Feed arrays; returns the alarm (+1/-1/0) after each observation."""
        cdef Py_ssize_t i, n = t_ms.shape[0]
        if z.shape[0] != n:
            raise ValueError(f"t_ms and z must have the same length, got {n} and {z.shape[0]}")
        out = np.zeros(n, dtype=np.int8)
        cdef signed char[::1] o = out
        with nogil:
            for i in range(n):
                o[i] = <signed char> self.c_update(t_ms[i], z[i])
        return out

    def __repr__(self) -> str:
        return (f"Cusum(k={self.k}, h={self.h}, s_pos={self.s_pos:.3f}, s_neg={self.s_neg:.3f}, "
                f"alarms_up={self.alarms_up}, alarms_down={self.alarms_down})")


cdef class Toxicity:
    """Per-side toxicity scores from book, flow, regime, changepoint and funding, sampled together.

    Parameters
    ----------
    weights: 6 logistic weights in FEATURE_NAMES order (default DEFAULT_WEIGHTS).
    funding_scale: hourly funding rate that maps to a full-strength feature (default 1e-4).
    cusum_k, cusum_h, z_clip: CUSUM allowance, threshold and clip (defaults 0.5, 5, 3).
    cp_memory_ms: how long an alarm keeps the changepoint feature up (e-folding, default 30000).
    learning_rate: SGD step of ``learn`` (default 0.01); l2: penalty on non-bias weights (1e-4).
    min_samples: standardized returns the CUSUM needs before ``ready`` (default 20).
    """

    def __init__(self, weights=None, double funding_scale=1e-4, double cusum_k=0.5, double cusum_h=5.0,
                 double z_clip=3.0, double cp_memory_ms=30_000.0, double learning_rate=0.01,
                 double l2=1e-4, int min_samples=20):
        if not (isfinite(funding_scale) and funding_scale > 0):
            raise ValueError(f"funding_scale must be > 0, got {funding_scale}")
        if not (isfinite(cp_memory_ms) and cp_memory_ms > 0):
            raise ValueError(f"cp_memory_ms must be > 0, got {cp_memory_ms}")
        if not (isfinite(learning_rate) and learning_rate > 0):
            raise ValueError(f"learning_rate must be > 0, got {learning_rate}")
        if not (isfinite(l2) and l2 >= 0):
            raise ValueError(f"l2 must be >= 0, got {l2}")
        if min_samples < 1:
            raise ValueError(f"min_samples must be >= 1, got {min_samples}")
        self.funding_scale = funding_scale
        self.cp_memory_ms = cp_memory_ms
        self.learning_rate = learning_rate
        self.l2 = l2
        self.min_samples = min_samples
        self.cusum = Cusum(cusum_k, cusum_h, z_clip)
        self.set_weights(DEFAULT_WEIGHTS if weights is None else weights)
        self.reset()

    def reset(self) -> None:
        """Forget market state and the CUSUM (weights are kept: they are learned knowledge)."""
        cdef int i
        self.cusum.reset()
        for i in range(N_FEATURES):
            self.x_bid[i] = 0.0
            self.x_ask[i] = 0.0
        self.bid_score = self.ask_score = 0.0
        self.has_mid = False
        self.last_logmid = 0.0
        self.last_sample_ms = 0
        self.samples = self.rejected = self.learned = 0

    def set_weights(self, weights) -> None:
        """Replace the 6 weights (FEATURE_NAMES order), e.g. from a saved calibration."""
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (N_FEATURES,) or not np.all(np.isfinite(w)):
            raise ValueError(f"weights must be {N_FEATURES} finite numbers ({', '.join(FEATURE_NAMES)}), "
                             f"got {weights!r}")
        for i in range(N_FEATURES):
            self.w[i] = w[i]

    # ------------------------------------------------------------------ hot path
    cdef double _cp_feature(self, double stat, int64_t last_alarm_ms, int64_t now_ms) noexcept nogil:
        cdef double v = stat / self.cusum.h
        cdef double fade
        if v > 1.0:
            v = 1.0
        if last_alarm_ms >= 0:
            fade = exp(-(now_ms - last_alarm_ms) / self.cp_memory_ms)
            if fade > v:
                v = fade
        return v

    cdef double c_score(self, const double* x) noexcept nogil:
        cdef double a = 0.0
        cdef int i
        for i in range(N_FEATURES):
            a += self.w[i] * x[i]
        return _sigmoid(a)

    cdef bint c_sample(self, int64_t now_ms, double mid, double sigma, double book_imb, double flow_imb,
                       int regime, double funding_rate) noexcept nogil:
        cdef double logmid, dt_s, z, f, reg
        if not (isfinite(mid) and mid > 0.0 and isfinite(sigma) and sigma >= 0.0
                and isfinite(book_imb) and fabs(book_imb) <= 1.0
                and isfinite(flow_imb) and fabs(flow_imb) <= 1.0
                and 0 <= regime <= 3 and isfinite(funding_rate)) \
                or (self.has_mid and now_ms < self.last_sample_ms):
            self.rejected += 1
            return False
        logmid = log(mid)
        if self.has_mid and now_ms > self.last_sample_ms and sigma > 0.0:
            dt_s = (now_ms - self.last_sample_ms) * 1e-3
            z = (logmid - self.last_logmid) / (sigma * sqrt(dt_s))
            self.cusum.c_update(now_ms, z)
        if not self.has_mid or now_ms > self.last_sample_ms:
            self.last_logmid = logmid
        self.has_mid = True
        self.last_sample_ms = now_ms

        f = funding_rate / self.funding_scale
        if f > 1.0:
            f = 1.0
        elif f < -1.0:
            f = -1.0
        reg = regime / 3.0
        self.x_bid[0] = 1.0
        self.x_bid[1] = -book_imb
        self.x_bid[2] = -flow_imb
        self.x_bid[3] = reg
        self.x_bid[4] = self._cp_feature(self.cusum.s_neg, self.cusum.last_alarm_down_ms, now_ms)
        self.x_bid[5] = f
        self.x_ask[0] = 1.0
        self.x_ask[1] = book_imb
        self.x_ask[2] = flow_imb
        self.x_ask[3] = reg
        self.x_ask[4] = self._cp_feature(self.cusum.s_pos, self.cusum.last_alarm_up_ms, now_ms)
        self.x_ask[5] = -f
        self.bid_score = self.c_score(self.x_bid)
        self.ask_score = self.c_score(self.x_ask)
        self.samples += 1
        return True

    cdef double c_learn(self, const double* x, bint adverse) noexcept nogil:
        """One SGD step of logistic regression; returns the prediction made before the step."""
        cdef double p = self.c_score(x)
        cdef double g = (1.0 if adverse else 0.0) - p
        cdef int i
        self.w[0] += self.learning_rate * g * x[0]
        for i in range(1, N_FEATURES):
            self.w[i] += self.learning_rate * (g * x[i] - self.l2 * self.w[i])
        self.learned += 1
        return p

    # ------------------------------------------------------------------ Python face
    def sample(self, int64_t now_ms, double mid, double sigma, double book_imbalance, double flow_imbalance,
               int regime, double funding_rate) -> tuple:
        """Sample every input at one instant; returns (bid_score, ask_score).

        A rejected sample (non-finite or out-of-range input, time going back) leaves every score
        and feature as it was and increments ``rejected``; check ``last_sample_ms`` for staleness.
        """
        self.c_sample(now_ms, mid, sigma, book_imbalance, flow_imbalance, regime, funding_rate)
        return (self.bid_score, self.ask_score)

    def features(self, int side) -> np.ndarray:
        """Copy of the feature vector of the last sample for side -1 (bid) or +1 (ask)."""
        if side == BID:
            return np.array([self.x_bid[i] for i in range(N_FEATURES)])
        if side == ASK:
            return np.array([self.x_ask[i] for i in range(N_FEATURES)])
        raise ValueError(f"side must be -1 (bid) or +1 (ask), got {side}")

    def score(self, const double[::1] features) -> float:
        """Score of an arbitrary feature vector under the current weights."""
        if features.shape[0] != N_FEATURES:
            raise ValueError(f"features must have {N_FEATURES} values, got {features.shape[0]}")
        return self.c_score(&features[0])

    def learn(self, const double[::1] features, bint adverse) -> float:
        """Learn from one labelled fill: its features at fill time and whether it was adverse.

        Returns the score predicted for it before the update.
        """
        if features.shape[0] != N_FEATURES:
            raise ValueError(f"features must have {N_FEATURES} values, got {features.shape[0]}")
        for i in range(N_FEATURES):
            if not isfinite(features[i]):
                raise ValueError(f"feature {FEATURE_NAMES[i]} is not finite: {features[i]}")
        return self.c_learn(&features[0], adverse)

    def learn_many(self, const double[:, ::1] features, const int64_t[::1] adverse) -> None:
        """Learn from rows of labelled fills, in order."""
        cdef Py_ssize_t r, n = features.shape[0]
        if features.shape[1] != N_FEATURES or adverse.shape[0] != n:
            raise ValueError(f"features must be (n, {N_FEATURES}) and adverse (n,), got "
                             f"{features.shape[0]}x{features.shape[1]} and {adverse.shape[0]}")
        if not np.all(np.isfinite(np.asarray(features))):
            raise ValueError("features must be finite")
        with nogil:
            for r in range(n):
                self.c_learn(&features[r, 0], adverse[r] != 0)

    @property
    def weights(self) -> np.ndarray:
        return np.array([self.w[i] for i in range(N_FEATURES)])

    @property
    def ready(self) -> bool:
        return self.cusum.samples >= self.min_samples

    @property
    def ready_reason(self) -> str:
        if self.ready:
            return "ready"
        return (f"warming: {self.cusum.samples}/{self.min_samples} standardized returns "
                "(needs a mid and sigma > 0 on consecutive samples)")

    def snapshot(self) -> dict:
        """All read-outs as a plain dict (for logs and metrics)."""
        return {
            "ts_ms": self.last_sample_ms, "bid_score": self.bid_score, "ask_score": self.ask_score,
            "features_bid": dict(zip(FEATURE_NAMES, self.features(BID).tolist())),
            "features_ask": dict(zip(FEATURE_NAMES, self.features(ASK).tolist())),
            "weights": dict(zip(FEATURE_NAMES, self.weights.tolist())),
            "cusum_up": self.cusum.s_pos, "cusum_down": self.cusum.s_neg,
            "alarms_up": self.cusum.alarms_up, "alarms_down": self.cusum.alarms_down,
            "samples": self.samples, "rejected": self.rejected, "learned": self.learned,
            "ready": self.ready, "ready_reason": self.ready_reason,
        }

    def __repr__(self) -> str:
        return (f"Toxicity(bid={self.bid_score:.3f}, ask={self.ask_score:.3f}, "
                f"alarms={self.cusum.alarms_up}/{self.cusum.alarms_down}, learned={self.learned}, "
                f"ready={self.ready})")
