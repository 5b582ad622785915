"""Confidence intervals for trade statistics that respect how fills cluster in time.

Fills are not independent: one aggressive order fills several of our levels in the same
second, and a bad hour produces a run of losers.  Treating 300 fills of one bad morning
as 300 independent observations gives intervals far too tight (the reference system's
edge predictions were 20-100x too confident).  So every interval here resamples
**clusters** (by default UTC hour blocks: all fills of one calendar hour are one unit):

* ``bootstrap``: percentile cluster bootstrap of the statistic, ``n_boot`` resamples from
  a fixed seed (same data, same answer);
* ``t``: the delta-method (linearised) standard error of a ratio of sums with a
  cluster-robust variance and a Student-t quantile on ``clusters - 1`` degrees of freedom.

Every statistic is a ratio of sums ``sum(num) / sum(den)``: edge in bps is
``1e4 * sum(pnl) / sum(notional)``, a win rate is ``sum(won) / sum(closed)``, a mean is
``sum(x) / sum(1)``.  With fewer than two clusters there is no interval (NaN bounds).
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np
from scipy import stats as _scipy_stats

METHODS = ("bootstrap", "t")
_MAX_CELLS = 4_000_000  # bootstrap work per chunk (resamples x clusters)


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its confidence interval and the evidence behind it."""

    value: float
    low: float
    high: float
    n: int  # observations (fills, round trips)
    clusters: int  # independent units resampled
    method: str  # "bootstrap", "t" or "none" (no interval)
    confidence: float

    @property
    def has_interval(self) -> bool:
        return math.isfinite(self.low) and math.isfinite(self.high)

    def scaled(self, factor: float) -> Estimate:
        """The same estimate in other units (e.g. x 1e4 for bps)."""
        lo, hi = self.low * factor, self.high * factor
        if factor < 0:
            lo, hi = hi, lo
        return Estimate(self.value * factor, lo, hi, self.n, self.clusters, self.method, self.confidence)

    def to_dict(self, digits: int = 6) -> dict:
        def r(x: float) -> float | None:
            return None if not math.isfinite(x) else round(x, digits)

        return {"value": r(self.value), "low": r(self.low), "high": r(self.high), "n": self.n,
                "clusters": self.clusters, "method": self.method, "confidence": self.confidence}


def _empty(n: int, clusters: int, method: str, confidence: float, value: float = math.nan) -> Estimate:
    return Estimate(value, math.nan, math.nan, n, clusters, "none", confidence)


def _seed_for(seed: int, tag: str) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed & 0xFFFFFFFF, zlib.crc32(tag.encode())]))


def dense_ids(values: np.ndarray) -> np.ndarray:
    """``values`` renumbered 0..k-1 in sorted order (linear time when already sorted, as times are)."""
    values = np.asarray(values)
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    step = np.diff(values)
    if np.all(step >= 0):
        out = np.empty(len(values), dtype=np.int64)
        out[0] = 0
        np.cumsum(step != 0, out=out[1:])
        return out
    return np.unique(values, return_inverse=True)[1].astype(np.int64)


def cluster_totals(num: np.ndarray, den: np.ndarray, clusters: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-cluster sums of ``num`` and ``den``."""
    inverse = dense_ids(clusters)
    k = int(inverse.max()) + 1 if len(inverse) else 0
    return (np.bincount(inverse, weights=num, minlength=k), np.bincount(inverse, weights=den, minlength=k))


def ratio_from_totals(p: np.ndarray, q: np.ndarray, *, n: int, confidence: float = 0.95,
                      method: str = "bootstrap", n_boot: int = 2000, seed: int = 0, tag: str = "") -> Estimate:
    """Ratio ``sum(p) / sum(q)`` of cluster totals with its interval (see the module docstring)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1")
    k = len(p)
    total_q = float(q.sum())
    value = float(p.sum()) / total_q if total_q != 0 else math.nan
    if k < 2 or not math.isfinite(value):
        return _empty(n, k, method, confidence, value)
    alpha = 1.0 - confidence
    if method == "t":
        resid = p - value * q
        se = math.sqrt(k / (k - 1) * float(np.dot(resid, resid))) / abs(total_q)
        quantile = float(_scipy_stats.t.ppf(1 - alpha / 2, k - 1))
        return Estimate(value, value - quantile * se, value + quantile * se, n, k, "t", confidence)
    rng = _seed_for(seed, tag)
    per_chunk = max(1, min(n_boot, _MAX_CELLS // k))
    ratios = np.empty(n_boot)
    done = 0
    while done < n_boot:
        b = min(per_chunk, n_boot - done)
        idx = rng.integers(0, k, size=(b, k))
        num_s = p[idx].sum(axis=1)
        den_s = q[idx].sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios[done:done + b] = np.where(den_s != 0, num_s / den_s, np.nan)
        done += b
    finite = ratios[np.isfinite(ratios)]
    if len(finite) < max(10, n_boot // 2):
        return _empty(n, k, method, confidence, value)
    low, high = np.percentile(finite, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return Estimate(value, float(low), float(high), n, k, "bootstrap", confidence)


def ratio_ci(num: np.ndarray, den: np.ndarray, clusters: np.ndarray, **kw) -> Estimate:
    """``sum(num) / sum(den)`` with a cluster-resampled interval."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    if len(num) == 0:
        return _empty(0, 0, kw.get("method", "bootstrap"), kw.get("confidence", 0.95))
    p, q = cluster_totals(num, den, np.asarray(clusters))
    return ratio_from_totals(p, q, n=len(num), **kw)


def mean_ci(values: np.ndarray, clusters: np.ndarray, **kw) -> Estimate:
    """Mean of ``values`` with a cluster-resampled interval."""
    values = np.asarray(values, dtype=np.float64)
    return ratio_ci(values, np.ones_like(values), clusters, **kw)


def proportion_ci(hits: np.ndarray, clusters: np.ndarray, **kw) -> Estimate:
    """Share of true values in ``hits`` with a cluster-resampled interval, clipped to [0, 1]
    (Wilson's interval where the resampling one is degenerate, see :func:`share_interval`)."""
    hits = np.asarray(hits, dtype=np.float64)
    return share_interval(ratio_ci(hits, np.ones_like(hits), clusters, **kw))


def grouped_ratio_ci(num: np.ndarray, den: np.ndarray, groups: np.ndarray, n_groups: int, clusters: np.ndarray,
                     *, tag: str = "", dense: bool = False, **kw) -> list[Estimate]:
    """:func:`ratio_ci` for each group ``0..n_groups-1`` (one pass to build cluster totals).

    ``dense=True`` says ``clusters`` are already :func:`dense_ids` (saves a pass).
    """
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    groups = np.asarray(groups, dtype=np.int64)
    out = []
    if len(num) == 0:
        return [_empty(0, 0, kw.get("method", "bootstrap"), kw.get("confidence", 0.95)) for _ in range(n_groups)]
    cl = np.asarray(clusters, dtype=np.int64) if dense else dense_ids(clusters)
    n_cl = int(cl.max()) + 1
    cell = groups * n_cl + cl
    size = n_groups * n_cl
    # dense (group x cluster) tables: one bincount each instead of sorting the rows
    rows_in = np.bincount(cell, minlength=size).reshape(n_groups, n_cl)
    p = np.bincount(cell, weights=num, minlength=size).reshape(n_groups, n_cl)
    q = np.bincount(cell, weights=den, minlength=size).reshape(n_groups, n_cl)
    counts = rows_in.sum(axis=1)
    for g in range(n_groups):
        sel = rows_in[g] > 0
        out.append(ratio_from_totals(p[g, sel], q[g, sel], n=int(counts[g]), tag=f"{tag}/{g}", **kw))
    return out


def difference_ci(num: np.ndarray, den: np.ndarray, clusters: np.ndarray, in_a: np.ndarray, **kw) -> Estimate:
    """Ratio of group A minus ratio of the rest, when no cluster spans both groups.

    Used for "is this hour worse than the rest of the day": each hour block belongs to
    exactly one hour of the day, so the two samples are independent.
    """
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    in_a = np.asarray(in_a, dtype=bool)
    pa, qa = cluster_totals(num[in_a], den[in_a], clusters[in_a])
    pb, qb = cluster_totals(num[~in_a], den[~in_a], clusters[~in_a])
    return difference_from_totals(pa, qa, pb, qb, n=len(num), **kw)


def difference_from_totals(pa: np.ndarray, qa: np.ndarray, pb: np.ndarray, qb: np.ndarray, *, n: int,
                           confidence: float = 0.95, method: str = "bootstrap", n_boot: int = 2000, seed: int = 0,
                           tag: str = "") -> Estimate:
    """:func:`difference_ci` from the two groups' cluster totals."""
    ka, kb = len(pa), len(pb)
    sa, sb = float(qa.sum()), float(qb.sum())
    value = (float(pa.sum()) / sa if sa else math.nan) - (float(pb.sum()) / sb if sb else math.nan)
    if ka < 2 or kb < 2 or not math.isfinite(value):
        return _empty(n, ka + kb, method, confidence, value)
    alpha = 1 - confidence
    if method == "t":
        ra, rb = float(pa.sum()) / sa, float(pb.sum()) / sb
        ea, eb = pa - ra * qa, pb - rb * qb
        va = ka / (ka - 1) * float(np.dot(ea, ea)) / sa ** 2
        vb = kb / (kb - 1) * float(np.dot(eb, eb)) / sb ** 2
        df = min(ka, kb) - 1  # conservative Welch-style degrees of freedom
        q = float(_scipy_stats.t.ppf(1 - alpha / 2, df))
        se = math.sqrt(va + vb)
        return Estimate(value, value - q * se, value + q * se, n, ka + kb, "t", confidence)
    rng = _seed_for(seed, tag)
    diffs = np.empty(n_boot)
    per_chunk = max(1, min(n_boot, _MAX_CELLS // max(ka, kb)))
    done = 0
    while done < n_boot:
        m = min(per_chunk, n_boot - done)
        ia = rng.integers(0, ka, size=(m, ka))
        ib = rng.integers(0, kb, size=(m, kb))
        with np.errstate(divide="ignore", invalid="ignore"):
            diffs[done:done + m] = pa[ia].sum(1) / qa[ia].sum(1) - pb[ib].sum(1) / qb[ib].sum(1)
        done += m
    finite = diffs[np.isfinite(diffs)]
    if len(finite) < max(10, n_boot // 2):
        return _empty(n, ka + kb, method, confidence, value)
    low, high = np.percentile(finite, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return Estimate(value, float(low), float(high), n, ka + kb, "bootstrap", confidence)


def wilson(successes: float, n: float, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion (sensible at 0% and 100%, unlike a t interval)."""
    if n <= 0:
        return math.nan, math.nan
    z = float(_scipy_stats.norm.ppf(1 - (1 - confidence) / 2))
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def share_interval(e: Estimate) -> Estimate:
    """A proportion's interval, widened to Wilson's (on the cluster count) where it is degenerate.

    All-hits or all-misses samples have no spread, so the resampling interval collapses to
    a point; Wilson's interval with the number of clusters as the sample size does not.
    """
    if not math.isfinite(e.value) or e.clusters < 1:
        return e
    lo, hi = wilson(e.value * e.clusters, e.clusters, e.confidence)
    if not e.has_interval:
        return Estimate(e.value, lo, hi, e.n, e.clusters, "wilson", e.confidence)
    low, high = max(0.0, e.low), min(1.0, e.high)
    if high - low < 1e-12:
        return Estimate(e.value, lo, hi, e.n, e.clusters, "wilson", e.confidence)
    return Estimate(e.value, low, high, e.n, e.clusters, e.method, e.confidence)


def quantiles(values: np.ndarray, qs: tuple[float, ...]) -> list[float]:
    """Quantiles of ``values`` (NaN for an empty array)."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return [math.nan for _ in qs]
    return [float(v) for v in np.quantile(values, qs)]
