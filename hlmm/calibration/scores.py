"""Scores of a model's predictions against outcomes: Brier, log loss, calibration curve, IR.

For probabilities (``binary``) the predictions are binned on [0, 1]; for numbers such as
adverse selection in bps (``continuous``) on their quantiles.  Per bin: mean prediction,
mean outcome, count.  From the bins, Murphy's decomposition of the squared error::

    reliability = sum_b w_b (mean_pred_b - mean_outcome_b)^2      (miscalibration: lower is better)
    resolution  = sum_b w_b (mean_outcome_b - mean_outcome)^2     (information: higher is better)
    uncertainty = variance of the outcomes                         (what a constant forecast scores)

and the **information ratio** ``IR = resolution / reliability``: the information a model's
predictions carry per unit of miscalibration.  ``IR > 1`` means the model adds more than
its errors cost (it beats the best constant forecast); ``IR < 1`` means it adds noise; a
constant forecast has ``IR = 0``.  The calibration error is the weighted mean absolute gap
``sum_b w_b |mean_pred_b - mean_outcome_b|``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

BINARY = "binary"
CONTINUOUS = "continuous"
IR_CAP = 1e6  # a perfectly calibrated sample has reliability ~ 0; keep the ratio finite for JSON


@dataclass
class CurveBin:
    """One bin of a calibration curve."""

    low: float
    high: float
    count: int
    mean_prediction: float
    mean_outcome: float

    def to_dict(self) -> dict:
        return {"low": round(self.low, 6), "high": round(self.high, 6), "count": self.count,
                "mean_prediction": round(self.mean_prediction, 6), "mean_outcome": round(self.mean_outcome, 6)}


@dataclass
class ModelScore:
    """How well one model's predictions matched their outcomes."""

    model: str
    kind: str
    samples: int
    brier: float  # mean squared error (the Brier score for probabilities)
    log_loss: float | None
    information_ratio: float
    calibration_error: float
    reliability: float
    resolution: float
    uncertainty: float
    curve: list[CurveBin] = field(default_factory=list)

    def to_dict(self) -> dict:
        def r(x: float | None) -> float | None:
            return None if x is None or not math.isfinite(x) else round(x, 6)

        return {"model": self.model, "kind": self.kind, "samples": self.samples, "brier": r(self.brier),
                "log_loss": r(self.log_loss), "information_ratio": r(self.information_ratio),
                "calibration_error": r(self.calibration_error), "reliability": r(self.reliability),
                "resolution": r(self.resolution), "uncertainty": r(self.uncertainty),
                "curve": [b.to_dict() for b in self.curve]}


def score(model: str, kind: str, predicted: np.ndarray, outcome: np.ndarray, bins: int = 10) -> ModelScore:
    """Score ``predicted`` against ``outcome`` (see the module docstring)."""
    p = np.asarray(predicted, dtype=np.float64)
    y = np.asarray(outcome, dtype=np.float64)
    n = len(p)
    if n == 0:
        return ModelScore(model, kind, 0, math.nan, None, math.nan, math.nan, math.nan, math.nan, math.nan)
    brier = float(np.mean((p - y) ** 2))
    log_loss = None
    if kind == BINARY:
        q = np.clip(p, 1e-6, 1 - 1e-6)
        log_loss = float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))
        edges = np.linspace(0.0, 1.0, bins + 1)
        idx = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, bins - 1)
    else:
        edges = np.unique(np.quantile(p, np.linspace(0, 1, bins + 1)))
        if len(edges) < 2:
            edges = np.array([p.min(), p.max()])
        idx = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, len(edges) - 2)
    nb = len(edges) - 1
    count = np.bincount(idx, minlength=nb)
    sum_p = np.bincount(idx, weights=p, minlength=nb)
    sum_y = np.bincount(idx, weights=y, minlength=nb)
    used = count > 0
    mean_p = np.where(used, sum_p / np.maximum(count, 1), np.nan)
    mean_y = np.where(used, sum_y / np.maximum(count, 1), np.nan)
    w = count / n
    ybar = float(y.mean())
    reliability = float(np.nansum(w * (mean_p - mean_y) ** 2))
    resolution = float(np.nansum(w * (mean_y - ybar) ** 2))
    uncertainty = float(np.mean((y - ybar) ** 2))
    ece = float(np.nansum(w * np.abs(mean_p - mean_y)))
    if reliability > 0:
        ir = min(IR_CAP, resolution / reliability)
    else:
        ir = IR_CAP if resolution > 0 else 0.0
    curve = [CurveBin(float(edges[b]), float(edges[b + 1]), int(count[b]), float(mean_p[b]), float(mean_y[b]))
             for b in range(nb) if used[b]]
    return ModelScore(model, kind, n, brier, log_loss, ir, ece, reliability, resolution, uncertainty, curve)
