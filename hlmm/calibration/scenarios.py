"""What-if analysis: the PnL and edge the same fills would have had under a filter.

* *skip toxic hours*: fills in those UTC hours are dropped (no quoting then);
* *cap size*: a fill larger than the cap is scaled down to the cap, PnL and fees in
  proportion (the same order, smaller), which keeps its edge but cuts its weight;
* both.

Fills are treated one by one (with PnL attributed to entries, dropping an entry drops
the round trips it opened; its closing fills keep their fees).  That is a first-order
estimate: fewer fills would also have meant other fills.  The report says so.  Because the filters are
chosen from the same data they are evaluated on, the in-sample improvement is
optimistic; :class:`OutOfSample` learns the filters on the first half of the period and
measures them on the second.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hlmm.calibration import stats
from hlmm.calibration.fills import FillTable
from hlmm.calibration.groups import HOUR_MS, StatOptions, money
from hlmm.calibration.stats import Estimate


@dataclass
class Scenario:
    """One filter's result on the fills."""

    name: str
    description: str
    fills: int
    notional: float
    pnl: float
    fees: float
    edge_bps: Estimate
    improvement: float  # pnl minus the unfiltered pnl
    applicable: bool = True

    @property
    def gross(self) -> float:
        return self.pnl + self.fees

    @property
    def gross_edge_bps(self) -> float:
        return 1e4 * self.gross / self.notional if self.notional else math.nan

    def to_dict(self) -> dict:
        return {
            "name": self.name, "description": self.description, "applicable": self.applicable,
            "fills": self.fills, "notional_usd": round(self.notional, 6), "pnl_usd": round(self.pnl, 6),
            "gross_pnl_usd": round(self.gross, 6), "fees_usd": round(self.fees, 6),
            "edge_bps": self.edge_bps.to_dict(4),
            "gross_edge_bps": None if not math.isfinite(self.gross_edge_bps) else round(self.gross_edge_bps, 4),
            "improvement_usd": round(self.improvement, 6),
        }


def filter_weights(table: FillTable, toxic_hours: list[int] | tuple[int, ...], cap: float | None) -> np.ndarray:
    """Weight of each fill under the filters: 0 dropped, cap/notional scaled, 1 kept."""
    weight = np.ones(len(table))
    if toxic_hours:
        hour = (table.time_ms // HOUR_MS) % 24
        weight[np.isin(hour, list(toxic_hours))] = 0.0
    if cap:
        with np.errstate(divide="ignore"):
            weight = weight * np.minimum(1.0, cap / table.ntl)
    return weight


def evaluate(table: FillTable, weight: np.ndarray, name: str, description: str, baseline_pnl: float,
             opts: StatOptions, applicable: bool = True) -> Scenario:
    """The scenario's totals and edge interval for fill weights ``weight``."""
    keep = weight > 0
    w = weight[keep]
    pnl = table.pnl[keep] * w
    ntl = table.ntl[keep] * w
    fees = table.fee[keep] * w
    clusters = table.time_ms[keep] // opts.cluster_ms
    edge = stats.ratio_ci(pnl * 1e4, ntl, clusters, tag=f"scenario/{name}", **opts.ci_kwargs())
    total = float(pnl.sum())
    return Scenario(name=name, description=description, fills=int(keep.sum()), notional=float(ntl.sum()),
                    pnl=total, fees=float(fees.sum()), edge_bps=edge, improvement=total - baseline_pnl,
                    applicable=applicable)


def scenarios(table: FillTable, toxic_hours: list[int], cap: float | None, fallback_cap: float | None,
              opts: StatOptions) -> list[Scenario]:
    """Current, skip toxic hours, cap size, both."""
    base = evaluate(table, np.ones(len(table)), "current", "all fills as traded", 0.0, opts)
    base.improvement = 0.0
    hours_text = ", ".join(f"{h:02d}" for h in toxic_hours)
    cap_used = cap if cap else fallback_cap
    out = [base]
    if toxic_hours:
        out.append(evaluate(table, filter_weights(table, toxic_hours, None), "skip_toxic_hours",
                            f"no fills in UTC hours {hours_text}", base.pnl, opts))
    else:
        out.append(evaluate(table, np.ones(len(table)), "skip_toxic_hours", "no hour is significantly losing",
                            base.pnl, opts, applicable=False))
    if cap_used:
        note = "" if cap else " (what-if: no size bucket is significantly losing)"
        out.append(evaluate(table, filter_weights(table, (), cap_used), "cap_size",
                            f"fills above {money(cap_used)} cut to {money(cap_used)}{note}", base.pnl, opts))
    if cap_used or toxic_hours:
        parts = [p for p in (f"skip UTC {hours_text}" if toxic_hours else "",
                             f"cap at {money(cap_used)}" if cap_used else "") if p]
        out.append(evaluate(table, filter_weights(table, toxic_hours, cap_used), "both", " and ".join(parts),
                            base.pnl, opts))
    return out


@dataclass
class OutOfSample:
    """Filters learned on the first half of the period, measured on the second."""

    split_ms: int
    learn_fills: int
    test_fills: int
    learned_hours: list[int]
    learned_cap: float | None
    test_current: Scenario | None
    test_filtered: Scenario | None
    verdict: str

    def to_dict(self) -> dict:
        return {
            "split_ms": self.split_ms, "learn_fills": self.learn_fills, "test_fills": self.test_fills,
            "learned_toxic_hours": self.learned_hours, "learned_size_cap_usd": self.learned_cap,
            "test_current": None if self.test_current is None else self.test_current.to_dict(),
            "test_filtered": None if self.test_filtered is None else self.test_filtered.to_dict(),
            "verdict": self.verdict,
        }
