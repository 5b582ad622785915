"""The fill model's survival score: fills observed against fills expected over every order's exposure.

A fill prediction says "this order fills within ``tau`` with probability ``p``".  Live, most
unfilled orders are requoted long before ``tau``: their binary outcome is never seen, and
scoring only the orders whose outcome *is* seen (filled early, or alive for all of ``tau``)
keeps almost every fill and drops almost every miss, so a Brier score on them says the model
under-predicts fills even when it is right.

Here every order counts.  Read as a survival model, the prediction is a cumulative hazard
``H(t)`` over ``0 <= t <= tau`` with ``H(tau) = -ln(1 - p)``.  Each order is at risk from its
quote until the earliest of its fill, its end (cancel, reject, expiry) or ``tau``: that time
is its *exposure* ``t_i``.  Then::

    O   = fills within tau                    (observed)
    E   = sum_i H_i(t_i)                       (expected: the compensator of the fill count)
    O/E = 1 when the model is calibrated

``O - E`` is a martingale under the model as long as the order's end is decided without
knowing whether it was about to fill (independent censoring: a requote follows the market,
not the order's fate), so ``O/E`` is unbiased however heavily the orders are censored.
Its 95 % interval is the exact (Garwood) Poisson interval of ``O`` divided by ``E``.

Shapes of ``H`` (per prediction):

* ``constant``: a constant hazard ``h = -ln(1 - p) / tau``, ``H(t) = h t``: fills arriving as
  a Poisson stream of trades hitting the order (the engine's reading of the ladder's ``p``);
* ``first_passage``: ``p = erfc(d / (sigma sqrt(2 tau)))`` read literally, as the probability
  that a driftless Brownian mid first reaches the order's depth ``d`` within ``tau``: with
  ``x = erfcinv(p)``, ``P(fill by t) = erfc(x sqrt(tau / t))`` and ``H(t) = -ln erf(x sqrt(tau / t))``.
  Its hazard is front-loaded near the touch and ~0 for a deep order's first seconds.  The
  shape matters under heavy censoring: fills that follow this law, read as a constant hazard,
  make touch orders look under-predicted and deep ones over-predicted (and fills that arrive
  as trades, read as first passage, look wildly under-predicted at short lives).

``p`` is clipped to ``[1e-6, 1 - 1e-6]`` (a prediction of exactly 0 or 1 stays scorable).
The deviance is the sum of squared deviance residuals ``2 [d ln(d / mu) - (d - mu)]`` with
``mu = H_i(t_i)`` (the Poisson deviance; ``mu`` floored at ``1e-9`` so a fill the model called
impossible costs ~41, not infinity), reported per order.  ``deviance_skill = 1 - D / D_null``
compares it with the best single constant rate for all orders (``O / sum t_i``): above 0 the
model tells which orders fill better than one rate does.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import erf, erfc, erfcinv, gammaincinv

CONSTANT = "constant"
FIRST_PASSAGE = "first_passage"
SHAPES = (CONSTANT, FIRST_PASSAGE)  # the code of a shape is its index
P_CLIP = 1e-6
MU_FLOOR = 1e-9


def shape_code(shape: str) -> int:
    """The index of ``shape`` in :data:`SHAPES`; ValueError for an unknown shape."""
    try:
        return SHAPES.index(shape)
    except ValueError:
        raise ValueError(f"fill_shape must be one of {', '.join(SHAPES)}, got {shape!r}") from None


def cumulative_hazard(p: np.ndarray, tau_s: np.ndarray, t_s: np.ndarray, shape: np.ndarray) -> np.ndarray:
    """``H(t)`` of each prediction (probability ``p`` over ``tau_s``) at exposure ``t_s`` (clipped to [0, tau])."""
    p = np.clip(np.asarray(p, dtype=np.float64), P_CLIP, 1.0 - P_CLIP)
    tau = np.asarray(tau_s, dtype=np.float64)
    t = np.clip(np.asarray(t_s, dtype=np.float64), 0.0, tau)
    code = np.asarray(shape, dtype=np.int64)
    h_tau = -np.log1p(-p)
    out = h_tau * np.divide(t, tau, out=np.zeros_like(t), where=tau > 0)
    fp = code == SHAPES.index(FIRST_PASSAGE)
    if np.any(fp):
        x = erfcinv(p[fp])
        tf, tauf = t[fp], tau[fp]
        pos = tf > 0
        z = np.full(len(tf), np.inf)
        with np.errstate(over="ignore"):   # t -> 0: z -> inf, erf -> 1, H -> 0
            z[pos] = x[pos] * np.sqrt(tauf[pos] / tf[pos])
        # -ln erf(z): through erfc where erf is close to 1 (keeps the tiny early hazard of a deep order)
        small = z < 1.0
        hz = np.empty(len(z))
        hz[small] = -np.log(erf(z[small]))
        hz[~small] = -np.log1p(-erfc(z[~small]))
        out[fp] = hz
    return out


def poisson_interval(observed: int, level: float = 0.95) -> tuple[float, float]:
    """The exact (Garwood) two-sided interval of a Poisson mean given ``observed`` events."""
    a = (1.0 - level) / 2.0
    low = float(gammaincinv(observed, a)) if observed > 0 else 0.0
    high = float(gammaincinv(observed + 1, 1.0 - a))
    return low, high


def _deviance(d: np.ndarray, mu: np.ndarray) -> float:
    """Poisson deviance of 0/1 outcomes ``d`` against means ``mu``: 2 [d ln(d / mu) - (d - mu)]."""
    mu = np.maximum(mu, MU_FLOOR)
    return float(np.sum(2.0 * (np.where(d > 0, -np.log(mu), 0.0) - (d - mu))))


def _ratio(o: float, e: float) -> float | None:
    return o / e if e > 0 else None


@dataclass
class RateBin:
    """Observed against expected fills of the orders whose prediction lies in ``[low, high)``."""

    low: float
    high: float
    orders: int
    observed: int
    expected: float

    @property
    def oe(self) -> float | None:
        return _ratio(self.observed, self.expected)

    def to_dict(self) -> dict[str, Any]:
        oe = self.oe
        return {"low": round(self.low, 6), "high": round(self.high, 6), "orders": self.orders,
                "observed": self.observed, "expected": round(self.expected, 4),
                "oe": None if oe is None else round(oe, 4)}


@dataclass
class SurvivalScore:
    """Fills observed against expected over the orders' exposures (see the module docstring)."""

    orders: int
    observed: int
    expected: float
    exposure_s: float
    oe_low: float | None
    oe_high: float | None
    deviance: float | None  # per order
    deviance_skill: float | None
    curve: list[RateBin] = field(default_factory=list)

    @property
    def oe(self) -> float | None:
        """Observed / expected fills (1 = calibrated; None without expected fills)."""
        return _ratio(self.observed, self.expected)

    def to_dict(self) -> dict[str, Any]:
        def r(x: float | None, nd: int) -> float | None:
            return None if x is None or not math.isfinite(x) else round(x, nd)

        return {"orders": self.orders, "observed": self.observed, "expected": round(self.expected, 4),
                "exposure_s": round(self.exposure_s, 3), "oe": r(self.oe, 4), "oe_low": r(self.oe_low, 4),
                "oe_high": r(self.oe_high, 4), "deviance": r(self.deviance, 6),
                "deviance_skill": r(self.deviance_skill, 4), "curve": [b.to_dict() for b in self.curve]}


def survival_score(p: np.ndarray, tau_s: np.ndarray, exposure_s: np.ndarray, filled: np.ndarray,
                   shape: np.ndarray | None = None, *, bins: int = 10, level: float = 0.95) -> SurvivalScore:
    """Score fill predictions ``p`` over ``tau_s`` on orders at risk for ``exposure_s`` seconds.

    ``filled`` is 1 for an order that filled within its horizon (its exposure ends at the fill),
    0 otherwise; ``shape`` holds :data:`SHAPES` codes (default: all constant).  The curve groups
    the orders by prediction into ``bins`` equal bins on [0, 1], as the Brier curve does.
    """
    p = np.asarray(p, dtype=np.float64)
    n = len(p)
    tau = np.asarray(tau_s, dtype=np.float64)
    t = np.clip(np.asarray(exposure_s, dtype=np.float64), 0.0, tau)
    d = (np.asarray(filled, dtype=np.float64) > 0).astype(np.float64)
    code = np.zeros(n, dtype=np.int64) if shape is None else np.asarray(shape, dtype=np.int64)
    if n == 0:
        return SurvivalScore(0, 0, 0.0, 0.0, None, None, None, None)
    mu = cumulative_hazard(p, tau, t, code)
    observed = int(d.sum())
    expected = float(mu.sum())
    exposure = float(t.sum())
    lo, hi = poisson_interval(observed, level)
    oe_low = lo / expected if expected > 0 else None
    oe_high = hi / expected if expected > 0 else None
    dev = _deviance(d, mu)
    skill = None
    if observed > 0 and exposure > 0:
        null = _deviance(d, observed / exposure * t)
        skill = 1.0 - dev / null if null > 0 else None
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, bins - 1)
    count = np.bincount(idx, minlength=bins)
    obs_b = np.bincount(idx, weights=d, minlength=bins)
    exp_b = np.bincount(idx, weights=mu, minlength=bins)
    curve = [RateBin(float(edges[b]), float(edges[b + 1]), int(count[b]), int(round(obs_b[b])), float(exp_b[b]))
             for b in range(bins) if count[b] > 0]
    return SurvivalScore(n, observed, expected, exposure, oe_low, oe_high, dev / n, skill, curve)
