"""Per-group trade statistics (by coin, size bucket, hour, maker/taker) with their intervals.

A group's *edge* is ``1e4 * sum(net PnL) / sum(notional)`` in bps, its *win rate* the
share of its deciding fills with positive net PnL (the entries whose positions made
money, or, with the export's own attribution, the closing fills that did).  Both come
with a cluster-resampled confidence interval (:mod:`hlmm.calibration.stats`).

A group's *status* says what the data supports:

* ``toxic``: enough data (``min_fills`` fills over ``min_clusters`` independent hour
  blocks) and the edge interval lies entirely below zero;
* ``inconclusive``: enough data, negative edge, but the interval reaches zero;
* ``ok``: enough data and a non-negative edge;
* ``insufficient``: too few fills or hour blocks to say anything.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from hlmm.calibration import stats
from hlmm.calibration.stats import Estimate

TOXIC, INCONCLUSIVE, OK, INSUFFICIENT = "toxic", "inconclusive", "ok", "insufficient"
HOUR_MS = 3_600_000


@dataclass(frozen=True)
class StatOptions:
    """How intervals are computed and how much data a verdict needs."""

    confidence: float = 0.95
    method: str = "t"
    n_boot: int = 2000
    seed: int = 0
    min_fills: int = 30
    min_clusters: int = 5
    cluster_ms: int = HOUR_MS

    def ci_kwargs(self) -> dict:
        return {"confidence": self.confidence, "method": self.method, "n_boot": self.n_boot, "seed": self.seed}


@dataclass
class GroupStats:
    """Totals, edge and win rate of one group of fills (or round trips)."""

    label: str
    fills: int
    notional: float
    pnl: float  # net of fees
    fees: float
    edge_bps: Estimate
    closing: int
    win_rate: Estimate
    status: str = ""
    vs_rest_bps: Estimate | None = None  # edge minus the edge of all other groups (hours only)
    extra: dict = field(default_factory=dict)

    @property
    def gross(self) -> float:
        return self.pnl + self.fees

    @property
    def fee_rate_bps(self) -> float:
        return 1e4 * self.fees / self.notional if self.notional else math.nan

    @property
    def gross_edge_bps(self) -> float:
        return 1e4 * self.gross / self.notional if self.notional else math.nan

    def to_dict(self) -> dict:
        out = {
            "label": self.label, "fills": self.fills, "notional_usd": round(self.notional, 6),
            "pnl_usd": round(self.pnl, 6), "fees_usd": round(self.fees, 6), "gross_pnl_usd": round(self.gross, 6),
            "edge_bps": self.edge_bps.to_dict(4), "gross_edge_bps": _r(self.gross_edge_bps, 4),
            "fee_rate_bps": _r(self.fee_rate_bps, 4), "closing_fills": self.closing,
            "win_rate": self.win_rate.to_dict(4),
        }
        if self.status:
            out["status"] = self.status
        if self.vs_rest_bps is not None:
            out["vs_rest_bps"] = self.vs_rest_bps.to_dict(4)
        out.update(self.extra)
        return out


def _r(x: float, digits: int) -> float | None:
    return None if not math.isfinite(x) else round(x, digits)


def verdict(edge: Estimate, fills: int, opts: StatOptions) -> str:
    """toxic / inconclusive / ok / insufficient (see the module docstring)."""
    if fills < opts.min_fills or edge.clusters < opts.min_clusters or not edge.has_interval:
        return INSUFFICIENT
    if edge.high < 0:
        return TOXIC
    if edge.value < 0:
        return INCONCLUSIVE
    return OK


def group_stats(groups: np.ndarray, n_groups: int, labels: list[str], *, pnl: np.ndarray, notional: np.ndarray,
                fees: np.ndarray, closing: np.ndarray, time_ms: np.ndarray, opts: StatOptions, tag: str,
                with_verdict: bool = False, clusters: np.ndarray | None = None) -> list[GroupStats]:
    """:class:`GroupStats` for groups ``0..n_groups-1`` of the rows.

    ``clusters``: the rows' dense cluster ids when the caller has them (see :func:`cluster_ids`).
    """
    groups = np.asarray(groups, dtype=np.int64)
    if clusters is None:
        clusters = cluster_ids(time_ms, opts)
    kw = opts.ci_kwargs()
    edges = stats.grouped_ratio_ci(pnl * 1e4, notional, groups, n_groups, clusters, tag=f"{tag}/edge", dense=True,
                                   **kw)
    won = (closing & (pnl > 0)).astype(np.float64)
    wins = [stats.share_interval(w) for w in
            stats.grouped_ratio_ci(won, closing.astype(np.float64), groups, n_groups, clusters, tag=f"{tag}/win",
                                   dense=True, **kw)]
    counts = np.bincount(groups, minlength=n_groups)
    ntl_sum = np.bincount(groups, weights=notional, minlength=n_groups)
    pnl_sum = np.bincount(groups, weights=pnl, minlength=n_groups)
    fee_sum = np.bincount(groups, weights=fees, minlength=n_groups)
    close_n = np.bincount(groups, weights=closing.astype(np.float64), minlength=n_groups)
    out = []
    for g in range(n_groups):
        gs = GroupStats(label=labels[g], fills=int(counts[g]), notional=float(ntl_sum[g]), pnl=float(pnl_sum[g]),
                        fees=float(fee_sum[g]), edge_bps=edges[g], closing=int(close_n[g]), win_rate=wins[g])
        if with_verdict:
            gs.status = verdict(gs.edge_bps, gs.fills, opts)
        out.append(gs)
    return out


def cluster_ids(time_ms: np.ndarray, opts: StatOptions) -> np.ndarray:
    """Dense ids (0..k-1) of the resampling clusters (hour blocks by default) of ``time_ms``."""
    return stats.dense_ids(np.asarray(time_ms) // opts.cluster_ms)


def money(x: float) -> str:
    """Compact dollar amount for labels: $500, $2k, $1.5k, $1M."""
    if x >= 1e6 and x % 1e5 == 0:
        return f"${x / 1e6:g}M"
    if x >= 1000 and x % 100 == 0:
        return f"${x / 1000:g}k"
    return f"${x:g}"


def bucket_labels(bounds: tuple[float, ...]) -> list[str]:
    """``< $500``, ``$500-2k``, ``>= $2k`` for bounds (500, 2000)."""
    if not bounds:
        return ["all sizes"]
    labels = [f"< {money(bounds[0])}"]
    for lo, hi in zip(bounds, bounds[1:]):
        labels.append(f"{money(lo)}-{money(hi)[1:]}")
    labels.append(f">= {money(bounds[-1])}")
    return labels


def bucket_of(notional: np.ndarray, bounds: tuple[float, ...]) -> np.ndarray:
    """Bucket index of each notional (``bounds`` increasing; a value on a bound goes up)."""
    return np.searchsorted(np.asarray(bounds, dtype=np.float64), notional, side="right")
