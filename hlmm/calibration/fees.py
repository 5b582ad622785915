"""Maker or taker: exact from ``crossed`` when the source has it, else estimated from fee rates.

An account pays one maker rate and one taker rate (its tier, minus staking or referral
discounts), so its fills' fee rates (fee / notional) form two clusters, taker 3-8x the
maker rate at every tier.  The estimate finds the two clusters (two-means on log rates,
per market: perps and spot have different schedules) and splits at their geometric
middle.  With a single cluster its level decides: below 2 bps (perps) or 5.5 bps (spot)
is maker (the highest maker rates are 1.5 and 4 bps; the lowest taker rates 2.4 and
2.5 bps before discounts).  Zero fees and rebates are maker.  The report says the split
is an estimate and shows the two rates it found.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hlmm.calibration.fills import FLAG_SPOT, FillTable

SINGLE_MODE_THRESHOLD_BPS = {"perp": 2.0, "spot": 5.5}
_MIN_NOTIONAL_FOR_FIT = 1.0  # fee rounding (6 decimals) makes tiny fills' rates noise


@dataclass(frozen=True)
class MakerTaker:
    """Per-fill taker flags and how they were obtained."""

    taker: np.ndarray  # bool per fill
    exact: np.ndarray  # bool per fill: from crossed, not estimated
    description: str  # one line for the report

    @property
    def all_exact(self) -> bool:
        return bool(np.all(self.exact))


_FIT_SAMPLE = 50_000  # rates used to find the two clusters (an even spread over the file)


def _two_means(log_rates: np.ndarray) -> tuple[float, float]:
    if len(log_rates) > _FIT_SAMPLE:
        log_rates = log_rates[np.linspace(0, len(log_rates) - 1, _FIT_SAMPLE).astype(np.int64)]
    lo, hi = np.quantile(log_rates, [0.1, 0.9])
    if hi - lo < 1e-9:
        return float(lo), float(hi)
    for _ in range(50):
        split = (lo + hi) / 2
        a, b = log_rates[log_rates <= split], log_rates[log_rates > split]
        if not len(a) or not len(b):
            break
        new_lo, new_hi = float(a.mean()), float(b.mean())
        if abs(new_lo - lo) < 1e-12 and abs(new_hi - hi) < 1e-12:
            break
        lo, hi = new_lo, new_hi
    return float(lo), float(hi)


def estimate_taker(rate_bps: np.ndarray, notional: np.ndarray, market: str) -> tuple[np.ndarray, str]:
    """Taker flags for fills of one market from their fee rates, and what was found."""
    taker = np.zeros(len(rate_bps), dtype=bool)
    positive = rate_bps > 0
    fit = positive & (notional >= _MIN_NOTIONAL_FOR_FIT)
    if not np.any(positive):
        return taker, f"{market}: no fee paid (all maker)"
    logs = np.log(rate_bps[fit] if np.any(fit) else rate_bps[positive])
    lo, hi = _two_means(logs)
    if hi - lo >= math.log(1.8):
        threshold = math.exp((lo + hi) / 2)
        text = (f"{market}: fee rates cluster at {math.exp(lo):.2f} bps (maker) and {math.exp(hi):.2f} bps "
                f"(taker), split at {threshold:.2f} bps")
    else:
        threshold = SINGLE_MODE_THRESHOLD_BPS[market]
        level = math.exp(float(np.median(logs)))
        side = "maker" if level < threshold else "taker"
        text = f"{market}: one fee rate, about {level:.2f} bps, read as {side} (threshold {threshold:.1f} bps)"
    taker[positive] = rate_bps[positive] > threshold
    return taker, text


def maker_taker(table: FillTable) -> MakerTaker:
    """Taker flags for every fill: ``crossed`` where known, fee-rate estimate elsewhere."""
    n = len(table)
    taker = table.crossed == 1
    exact = table.crossed >= 0
    parts = []
    unknown = ~exact
    if np.any(unknown):
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = np.where(table.ntl > 0, table.fee / table.ntl * 1e4, 0.0)
        spot = (table.flags & FLAG_SPOT) != 0
        for market, mask in (("perp", unknown & ~spot), ("spot", unknown & spot)):
            if np.any(mask):
                flags, text = estimate_taker(rate[mask], table.ntl[mask], market)
                taker[mask] = flags
                parts.append(text)
    if n and np.all(exact):
        description = "exact (the source's crossed field)"
    elif not np.any(exact):
        description = "estimated from fee rates (the source does not say): " + "; ".join(parts)
    else:
        description = (f"exact for {int(np.count_nonzero(exact))} fills, estimated from fee rates for "
                       f"{int(np.count_nonzero(unknown))}: " + "; ".join(parts))
    return MakerTaker(taker=taker, exact=exact, description=description)
