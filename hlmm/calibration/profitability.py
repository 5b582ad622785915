"""Realized edge of our fills by context: (volatility regime, position bucket, depth bucket).

Each resolved fill adds its realized edge in bps (spread captured - adverse move at the
reference markout horizon - fee), weighted by notional, to its bucket.  A bucket keeps
weighted sums (for a mean and its standard error) and an EWMA (recent behaviour).
``should_widen`` is true when a bucket has enough fills and even the optimistic end of
its interval loses more than ``threshold_bps``: the reference system's answer to "stop
predicting 1-second edge, track where fills actually lose".

The interval treats fills as independent (a bucket mixes hours and days, so clustering
is weaker than in an hour table); it is a screen for where to look, not a verdict.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

REGIMES = ("low", "normal", "high", "extreme")


@dataclass
class BucketStats:
    """Weighted running sums of one bucket."""

    n: int = 0
    w: float = 0.0
    w2: float = 0.0
    sum: float = 0.0  # sum of w * edge
    sum2: float = 0.0  # sum of w * edge^2
    ewma: float = math.nan

    def add(self, edge_bps: float, weight: float, alpha: float) -> None:
        self.n += 1
        self.w += weight
        self.w2 += weight * weight
        self.sum += weight * edge_bps
        self.sum2 += weight * edge_bps * edge_bps
        self.ewma = edge_bps if math.isnan(self.ewma) else (1 - alpha) * self.ewma + alpha * edge_bps

    @property
    def mean(self) -> float:
        return self.sum / self.w if self.w > 0 else math.nan

    @property
    def stderr(self) -> float:
        """Standard error of the weighted mean (effective sample size w^2 / w2)."""
        if self.n < 2 or self.w <= 0:
            return math.nan
        var = max(0.0, self.sum2 / self.w - self.mean ** 2)
        n_eff = self.w * self.w / self.w2
        return math.sqrt(var / max(1.0, n_eff - 1))


class FillProfitabilityTracker:
    """Realized edge per (regime, position bucket, depth bucket)."""

    def __init__(self, depth_edges_bps: tuple[float, ...] = (2.0, 5.0, 10.0, 20.0),
                 position_edges: tuple[float, ...] = (-0.5, -0.1, 0.1, 0.5), *, ewma_alpha: float = 0.05,
                 min_fills: int = 30, threshold_bps: float = 2.0, z: float = 1.96) -> None:
        if list(depth_edges_bps) != sorted(depth_edges_bps) or list(position_edges) != sorted(position_edges):
            raise ValueError("bucket edges must be increasing")
        self.depth_edges = tuple(depth_edges_bps)
        self.position_edges = tuple(position_edges)
        self.ewma_alpha = ewma_alpha
        self.min_fills = min_fills
        self.threshold_bps = threshold_bps
        self.z = z
        self.buckets: dict[tuple[str, int, int], BucketStats] = {}

    @staticmethod
    def _index(value: float, edges: tuple[float, ...]) -> int:
        i = 0
        while i < len(edges) and value >= edges[i]:
            i += 1
        return i

    def key(self, regime: str, position_frac: float, depth_bps: float) -> tuple[str, int, int]:
        """The bucket of a fill: position as a signed fraction of the maximum, depth in bps from mid."""
        return (regime, self._index(position_frac, self.position_edges), self._index(depth_bps, self.depth_edges))

    def add(self, regime: str, position_frac: float, depth_bps: float, edge_bps: float, notional: float = 1.0) -> None:
        """Record one fill's realized edge."""
        if not (math.isfinite(edge_bps) and math.isfinite(notional) and notional > 0):
            return
        self.buckets.setdefault(self.key(regime, position_frac, depth_bps), BucketStats()).add(
            edge_bps, notional, self.ewma_alpha)

    def should_widen(self, regime: str, position_frac: float, depth_bps: float) -> bool:
        """True when the bucket loses more than the threshold even at the top of its interval."""
        b = self.buckets.get(self.key(regime, position_frac, depth_bps))
        if b is None or b.n < self.min_fills or not math.isfinite(b.stderr):
            return False
        return b.mean + self.z * b.stderr < -self.threshold_bps

    def _label(self, edges: tuple[float, ...], i: int, unit: str) -> str:
        if i == 0:
            return f"< {edges[0]:g}{unit}"
        if i == len(edges):
            return f">= {edges[-1]:g}{unit}"
        return f"{edges[i - 1]:g}-{edges[i]:g}{unit}"

    def table(self) -> list[dict]:
        """One row per bucket with data, worst mean first."""
        rows = []
        for (regime, pi, di), b in self.buckets.items():
            se = b.stderr
            rows.append({
                "regime": regime, "position": self._label(self.position_edges, pi, ""),
                "depth": self._label(self.depth_edges, di, " bps"), "fills": b.n,
                "edge_bps": None if not math.isfinite(b.mean) else round(b.mean, 4),
                "low": None if not math.isfinite(se) else round(b.mean - self.z * se, 4),
                "high": None if not math.isfinite(se) else round(b.mean + self.z * se, 4),
                "ewma_bps": None if not math.isfinite(b.ewma) else round(b.ewma, 4),
                "widen": bool(b.n >= self.min_fills and math.isfinite(se)
                              and b.mean + self.z * se < -self.threshold_bps),
            })
        rows.sort(key=lambda r: (r["edge_bps"] if r["edge_bps"] is not None else math.inf))
        return rows
