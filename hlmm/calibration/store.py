"""Online calibration: predictions made at quote time, resolved by what happened to the order.

The loop the reference system had but never called (its calibration reports said
``fill_samples=0`` after 32 fills).  Here every quoted order gets one *tag* from the
store; the tag rides in the order's cloid (:meth:`hlmm.exchange.cloid.CloidFactory.next`),
so any fill or order update carrying the cloid finds its predictions again::

    tag = store.record_quote(coin="BTC", side=1, depth_bps=6.0, now_ms=t, fill_prob=0.35, horizon_s=60,
                             fill_shape="first_passage", expected_as_bps=2.1, regime="normal",
                             position_frac=0.2, half_spread_bps=6.0)
    cloid = cloids.next(tag)
    ...
    store.on_fill(cloid, now_ms=t2, px=..., sz=..., mid=..., fee_bps=1.5)        # userFills
    store.on_markout(cloid, horizon_s=10, adverse_bps=3.2, now_ms=t3)           # markouts
    store.on_order_closed(cloid, now_ms=t4)                                     # cancelled / expired
    store.expire(now_ms)                                                        # every report

Models and their outcomes:

* ``fill_probability``: every order is scored by survival (:mod:`hlmm.calibration.survival`):
  it is at risk from its quote until its fill, its end or the horizon, whichever comes first,
  and the report's headline is fills observed within the horizon over fills the prediction
  expected over those exposures (``oe``, 1 = calibrated, with its exact Poisson interval).
  An order cancelled *before* its horizon without a fill is **censored**: it contributes its
  exposure (and is counted in ``censored``).  Live, almost every unfilled order is requoted
  before its horizon, so the binary view (1 if filled within the horizon, 0 if the horizon
  passed unfilled) only sees fully observed orders and keeps almost every fill: its Brier,
  log loss and curve (reported with ``brier_samples``) overstate fills and are secondary.
* ``adverse_selection`` (continuous, bps): the adverse mid move after the order's first
  fill at the reference markout horizon.
* ``signal`` (continuous, bps): a predicted mid move, resolved by :meth:`on_signal_outcome`.

:meth:`calibration_report` gives one ``calibration_report`` payload per model (the log
event's fields) and flags a model whose predictions are never validated: no predictions
at all (the model is not wired), predictions but no outcomes, or too few.  At exit,
:meth:`learned_params` turns resolved fills into config values with evidence, which
:func:`hlmm.calibration.learned.write_learned` saves for ``hlmm calibrate --merge``.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hlmm.calibration import stats
from hlmm.calibration.groups import HOUR_MS, TOXIC, StatOptions, group_stats
from hlmm.calibration.learned import LearnedParams, LearnedValue, write_learned
from hlmm.calibration.profitability import FillProfitabilityTracker
from hlmm.calibration.scores import BINARY, CONTINUOUS, ModelScore, score
from hlmm.calibration.survival import CONSTANT, SurvivalScore, shape_code, survival_score
from hlmm.exchange.cloid import TAG_MAX, parse_cloid

FILL = "fill_probability"
ADVERSE = "adverse_selection"
SIGNAL = "signal"
MODELS = {FILL: BINARY, ADVERSE: CONTINUOUS, SIGNAL: CONTINUOUS}
# a fill's reference markout needs the first mid after fill + horizon and the next poll: allow this
# much beyond the horizon before an unresolved fill counts as overdue (a broken outcome wire)
MARKOUT_GRACE_MS = 5_000


@dataclass(frozen=True)
class StoreConfig:
    """Sizes and thresholds of the store."""

    bins: int = 10
    min_samples: int = 50  # outcomes before a model counts as validated
    max_pending: int = 100_000  # open predictions kept (oldest dropped first, counted)
    max_resolved: int = 50_000  # scored pairs kept per model, and orders kept for the fill survival score
    reference_horizon_s: float = 10.0  # the markout horizon that resolves adverse selection
    stat_options: StatOptions = field(default_factory=StatOptions)


@dataclass
class _Quote:
    """The predictions recorded for one quoted order, and what has happened to it."""

    tag: int
    coin: str
    side: int
    depth_bps: float
    created_ms: int
    horizon_ms: int
    fill_prob: float | None
    fill_shape: int
    expected_as_bps: float | None
    signal_bps: float | None
    regime: str
    position_frac: float
    half_spread_bps: float
    filled_ms: int | None = None
    fill_resolved: bool = False
    as_resolved: bool = False
    signal_resolved: bool = False
    spread_capture_bps: float = math.nan
    fee_bps: float = 0.0
    notional: float = 0.0


@dataclass
class _Resolved:
    """A fill whose markout at the reference horizon is known (input of the learned parameters)."""

    time_ms: int
    depth_bps: float
    spread_capture_bps: float
    adverse_bps: float
    fee_bps: float
    notional: float

    @property
    def edge_bps(self) -> float:
        return self.spread_capture_bps - self.adverse_bps - self.fee_bps


class PredictionStore:
    """Predictions keyed by the tag carried in each order's cloid (see the module docstring)."""

    def __init__(self, config: StoreConfig | None = None, tracker: FillProfitabilityTracker | None = None) -> None:
        self.config = config or StoreConfig()
        self.tracker = tracker or FillProfitabilityTracker()
        self._pending: dict[int, _Quote] = {}
        self._next_tag = 1
        self._pairs: dict[str, deque] = {m: deque(maxlen=self.config.max_resolved) for m in MODELS}
        self._predicted = {m: 0 for m in MODELS}
        self._censored = {m: 0 for m in MODELS}
        self._dropped = 0
        self._clock_ms = 0          # the newest time expire() was given (the report's clock)
        self._unknown_outcomes = 0
        self._fills: deque[_Resolved] = deque(maxlen=self.config.max_resolved)
        # the fill model's orders once resolved: (p, horizon s, exposure s, filled within the horizon, shape code)
        self._at_risk: deque[tuple[float, float, float, int, int]] = deque(maxlen=self.config.max_resolved)
        # tags resolved and released recently: a late partial fill of such an order is not "unknown"
        self._released: dict[int, None] = {}

    # ------------------------------------------------------------------ predictions

    def new_tag(self) -> int:
        """A fresh tag (1 .. 2**40-1; 0 means "no prediction")."""
        tag = self._next_tag
        self._next_tag = 1 if tag >= TAG_MAX else tag + 1
        return tag

    def record_quote(self, *, coin: str, side: int, depth_bps: float, now_ms: int, fill_prob: float | None = None,
                     horizon_s: float = 60.0, fill_shape: str = CONSTANT, expected_as_bps: float | None = None,
                     signal_bps: float | None = None, regime: str = "normal", position_frac: float = 0.0,
                     half_spread_bps: float | None = None) -> int:
        """Record a quoted order's predictions; returns the tag to put in its cloid.

        ``fill_prob`` is the probability of a fill within ``horizon_s``; ``fill_shape`` says how
        the prediction spreads over the horizon (:data:`hlmm.calibration.survival.SHAPES`)."""
        if fill_prob is not None and not 0.0 <= fill_prob <= 1.0:
            raise ValueError(f"fill_prob must be a probability, got {fill_prob!r}")
        if fill_prob is not None and not (math.isfinite(horizon_s) and horizon_s > 0):
            raise ValueError(f"horizon_s must be a positive number of seconds, got {horizon_s!r}")
        shape = shape_code(fill_shape)
        if side not in (1, -1):
            raise ValueError("side must be +1 (bid) or -1 (ask)")
        tag = self.new_tag()
        if len(self._pending) >= self.config.max_pending:
            oldest = next(iter(self._pending))
            self._pending.pop(oldest)
            self._dropped += 1
        self._pending[tag] = _Quote(
            tag=tag, coin=coin, side=side, depth_bps=float(depth_bps), created_ms=int(now_ms),
            horizon_ms=max(1, int(horizon_s * 1000)), fill_prob=fill_prob, fill_shape=shape,
            expected_as_bps=expected_as_bps,
            signal_bps=signal_bps, regime=regime, position_frac=float(position_frac),
            half_spread_bps=float(depth_bps if half_spread_bps is None else half_spread_bps))
        for model, value in ((FILL, fill_prob), (ADVERSE, expected_as_bps), (SIGNAL, signal_bps)):
            if value is not None:
                self._predicted[model] += 1
        return tag

    def _quote(self, cloid_or_tag: str | int | None) -> _Quote | None:
        if isinstance(cloid_or_tag, int) and not isinstance(cloid_or_tag, bool):
            tag = cloid_or_tag
        else:
            parts = parse_cloid(cloid_or_tag)
            if parts is None:
                return None
            tag = parts.tag
        quote = self._pending.get(tag)
        if quote is None and tag and tag not in self._released:
            self._unknown_outcomes += 1
        return quote

    # --------------------------------------------------------------------- outcomes

    def on_fill(self, cloid_or_tag: str | int | None, *, now_ms: int, px: float, sz: float, mid: float,
                fee_bps: float = 0.0) -> bool:
        """A fill of the order: resolves its fill probability; returns False for an unknown order."""
        q = self._quote(cloid_or_tag)
        if q is None:
            return False
        if q.filled_ms is None:
            q.filled_ms = int(now_ms)
            q.spread_capture_bps = q.side * (mid - px) / mid * 1e4 if mid > 0 else math.nan
            q.fee_bps = float(fee_bps)
            if q.fill_prob is not None and not q.fill_resolved:
                within = now_ms - q.created_ms <= q.horizon_ms
                self._pairs[FILL].append((q.fill_prob, 1.0 if within else 0.0))
                self._resolve_fill(q, now_ms, filled=within)
        q.notional += abs(px * sz)
        return True

    def on_markout(self, cloid_or_tag: str | int | None, *, horizon_s: float, adverse_bps: float,
                   now_ms: int) -> bool:
        """The mid moved ``adverse_bps`` against the order's fill after ``horizon_s`` (positive = adverse)."""
        q = self._quote(cloid_or_tag)
        if q is None or q.filled_ms is None:
            return False
        if abs(horizon_s - self.config.reference_horizon_s) > 1e-9 or q.as_resolved:
            return True
        q.as_resolved = True
        if q.expected_as_bps is not None:
            self._pairs[ADVERSE].append((q.expected_as_bps, float(adverse_bps)))
        if math.isfinite(q.spread_capture_bps):
            resolved = _Resolved(q.filled_ms, q.depth_bps, q.spread_capture_bps, float(adverse_bps), q.fee_bps,
                                 q.notional)
            self._fills.append(resolved)
            self.tracker.add(q.regime, q.position_frac, q.depth_bps, resolved.edge_bps, max(q.notional, 1e-9))
        self._maybe_release(q)
        return True

    def on_signal_outcome(self, cloid_or_tag: str | int | None, realized_bps: float) -> bool:
        """The realized value of the order's signal prediction."""
        q = self._quote(cloid_or_tag)
        if q is None or q.signal_bps is None or q.signal_resolved:
            return False
        self._pairs[SIGNAL].append((q.signal_bps, float(realized_bps)))
        q.signal_resolved = True
        self._maybe_release(q)
        return True

    def on_order_closed(self, cloid_or_tag: str | int | None, *, now_ms: int) -> bool:
        """The order is no longer open (cancelled, expired, or fully filled)."""
        q = self._quote(cloid_or_tag)
        if q is None:
            return False
        self._resolve_unfilled(q, now_ms)
        self._maybe_release(q, closed=True)
        return True

    def _resolve_unfilled(self, q: _Quote, now_ms: int) -> None:
        if q.fill_prob is None or q.fill_resolved or q.filled_ms is not None:
            return
        if now_ms - q.created_ms >= q.horizon_ms:
            self._pairs[FILL].append((q.fill_prob, 0.0))
        else:
            self._censored[FILL] += 1   # outcome unknown: scored by the exposure it had
        self._resolve_fill(q, now_ms, filled=False)

    def _resolve_fill(self, q: _Quote, end_ms: int, *, filled: bool) -> None:
        """The order's fill prediction is resolved: at risk until ``end_ms`` (at most the horizon)."""
        q.fill_resolved = True
        exposure_ms = min(max(end_ms - q.created_ms, 0), q.horizon_ms)
        self._at_risk.append((q.fill_prob, q.horizon_ms / 1000.0, exposure_ms / 1000.0, int(filled), q.fill_shape))

    def _maybe_release(self, q: _Quote, closed: bool = False) -> None:
        done_fill = q.fill_prob is None or q.fill_resolved
        done_as = q.expected_as_bps is None or q.as_resolved or (closed and q.filled_ms is None)
        # the signal is scored on fills (the mid's move after them), like adverse selection
        done_signal = q.signal_bps is None or q.signal_resolved or (closed and q.filled_ms is None)
        if done_fill and done_as and done_signal and (closed or q.filled_ms is not None):
            self._release(q.tag)

    def _release(self, tag: int) -> None:
        self._pending.pop(tag, None)
        self._released[tag] = None
        if len(self._released) > self.config.max_pending:
            del self._released[next(iter(self._released))]

    def expire(self, now_ms: int, max_age_s: float = 3600.0) -> int:
        """Resolve what time alone resolves: unfilled past the horizon (0); drop stale entries.

        Returns how many entries were dropped as stale (their open outcomes are censored).
        """
        self._clock_ms = max(self._clock_ms, int(now_ms))
        stale = []
        for q in self._pending.values():
            if q.fill_prob is not None and not q.fill_resolved and q.filled_ms is None \
                    and now_ms - q.created_ms >= q.horizon_ms:
                self._pairs[FILL].append((q.fill_prob, 0.0))
                self._resolve_fill(q, q.created_ms + q.horizon_ms, filled=False)
            if now_ms - q.created_ms > max_age_s * 1000:
                stale.append(q)
        for q in stale:
            if q.fill_prob is not None and not q.fill_resolved:
                # never seen to end within a horizon longer than max_age: no exposure is known
                q.fill_resolved = True
                self._censored[FILL] += 1
            if q.expected_as_bps is not None and q.filled_ms is not None and not q.as_resolved:
                self._censored[ADVERSE] += 1
            if q.signal_bps is not None and not q.signal_resolved:
                self._censored[SIGNAL] += 1
            self._release(q.tag)
        return len(stale)

    # ----------------------------------------------------------------------- scores

    def score(self, model: str) -> ModelScore:
        """The model's scores over its resolved window (for the fill model: its fully observed orders only)."""
        pairs = self._pairs[model]
        arr = np.array(pairs, dtype=np.float64).reshape(-1, 2)
        return score(model, MODELS[model], arr[:, 0], arr[:, 1], bins=self.config.bins)

    def fill_survival(self) -> SurvivalScore:
        """The fill model's survival score over its resolved window: every order, censored ones by their exposure."""
        arr = np.array(self._at_risk, dtype=np.float64).reshape(-1, 5)
        return survival_score(arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3], arr[:, 4].astype(np.int64),
                              bins=self.config.bins)

    def _samples(self, model: str) -> int:
        return len(self._at_risk) if model == FILL else len(self._pairs[model])

    def awaiting_markout(self, model: str) -> tuple[int, int]:
        """Filled orders whose ``model`` outcome (adverse selection, signal: resolved by the reference
        markout) is still open: ``(waiting, overdue)``, overdue = older than the horizon plus a
        grace at the clock of the last :meth:`expire`.  Always (0, 0) for the fill model."""
        if model == FILL:
            return 0, 0
        due = self.config.reference_horizon_s * 1000 + MARKOUT_GRACE_MS
        waiting = overdue = 0
        for q in self._pending.values():
            if q.filled_ms is not None and _open(q, model):
                if self._clock_ms - q.filled_ms > due:
                    overdue += 1
                else:
                    waiting += 1
        return waiting, overdue

    def unvalidated_reason(self, model: str) -> str | None:
        """Why a model does not count as validated, or None when it does."""
        samples = self._samples(model)
        predicted = self._predicted[model]
        if predicted == 0:
            return "no predictions recorded: the model is not wired into the quote cycle"
        if samples == 0:
            censored = self._censored[model]
            if censored:
                return f"{predicted} predictions but no outcome ({censored} censored: orders cancelled before the horizon)"
            if model != FILL:
                # adverse selection and the signal are resolved by a filled order's reference markout:
                # no fill yet, or fills younger than that horizon, is not a broken wire; fills past it are
                h = self.config.reference_horizon_s
                waiting, overdue = self.awaiting_markout(model)
                if overdue:
                    return (f"{predicted} predictions but no outcome: {overdue} fills are past their {h:g} s "
                            "markout unresolved (outcomes are not reaching the store)")
                if waiting:
                    return (f"{predicted} predictions, {waiting} filled and waiting for their {h:g} s markout "
                            "(none resolved yet)")
                if not any(q.filled_ms is not None for q in self._pending.values()):
                    return f"{predicted} predictions, no fill yet (resolved by a fill's {h:g} s markout)"
            return f"{predicted} predictions but no outcome: outcomes are not reaching the store"
        if samples < self.config.min_samples:
            return f"only {samples} outcomes (need {self.config.min_samples})"
        return None

    def calibration_report(self) -> list[dict[str, Any]]:
        """One payload per model with the ``calibration_report`` event's fields.

        ``samples`` counts the outcomes a model is scored on.  For the fill model these are all
        its resolved orders, scored by :meth:`fill_survival`: ``oe`` (observed / expected fills,
        the headline) with ``oe_low``/``oe_high`` (its 95 % interval), ``observed``, ``expected``,
        ``exposure_s``, ``deviance`` (per order), ``deviance_skill`` and ``oe_curve`` (per bin of
        predicted probability); its Brier, log loss, information ratio, calibration error and
        ``curve`` cover only the ``brier_samples`` fully observed orders.
        """
        out = []
        for model in MODELS:
            s = self.score(model)
            head: dict[str, Any] = {"model": model, "samples": s.samples}
            if model == FILL:
                sv = self.fill_survival().to_dict()
                head = {"model": model, "samples": sv["orders"],
                        **{k: sv[k] for k in ("oe", "oe_low", "oe_high", "observed", "expected", "exposure_s",
                                              "deviance", "deviance_skill")},
                        "brier_samples": s.samples}
            out.append({
                **head,
                "brier": None if not math.isfinite(s.brier) else round(s.brier, 6),
                "log_loss": None if s.log_loss is None else round(s.log_loss, 6),
                "information_ratio": None if not math.isfinite(s.information_ratio) else round(s.information_ratio, 4),
                "calibration_error": None if not math.isfinite(s.calibration_error) else round(s.calibration_error, 6),
                "validated": self.unvalidated_reason(model) is None,
                "pending": sum(1 for q in self._pending.values() if _open(q, model)),
                "censored": self._censored[model],
                "curve": [b.to_dict() for b in s.curve],
            })
            if model != FILL:
                out[-1]["awaiting_markout"], out[-1]["markout_overdue"] = self.awaiting_markout(model)
            if model == FILL:
                out[-1]["oe_curve"] = sv["curve"]
        return out

    def log_report(self, logger: Any) -> None:
        """Emit ``calibration_report`` per model, and ``model_unvalidated`` for each unvalidated one."""
        for payload in self.calibration_report():
            logger.info("calibration_report", **payload)
            reason = self.unvalidated_reason(payload["model"])
            if reason is not None:
                logger.warning("model_unvalidated", model=payload["model"], reason=reason,
                               samples=payload["samples"], information_ratio=payload["information_ratio"])
        table = self.tracker.table()
        if table:
            logger.debug("fill_profitability", buckets=table, widen=[r for r in table if r["widen"]])

    @property
    def dropped(self) -> int:
        """Open predictions dropped because ``max_pending`` was reached."""
        return self._dropped

    @property
    def unknown_outcomes(self) -> int:
        """Outcomes for tags the store no longer (or never) held."""
        return self._unknown_outcomes

    # -------------------------------------------------------------- learned values

    def learned_params(self, *, spread_floor_bps: float = 8.0) -> LearnedParams:
        """Config values the resolved fills support, with their evidence (for the exit save).

        * ``strategy.alpha_touch`` and ``strategy.delta_char_bps``: maximum likelihood fit of
          ``P(informed | depth) = alpha_touch * exp(-depth / delta_char)``, a fill being
          informed when its adverse move exceeded the spread it captured;
        * ``strategy.spread_floor_bps``: break-even = mean(fee + adverse move) per fill,
          written when its interval lies above ``spread_floor_bps``;
        * ``strategy.toxic_hours_utc``: hours whose realized edge interval lies below zero.
        """
        fills = list(self._fills)
        values: list[LearnedValue] = []
        notes = [f"{len(fills)} fills with a {self.config.reference_horizon_s:g} s markout"]
        opts = self.config.stat_options
        if len(fills) < opts.min_fills:
            notes.append(f"fewer than {opts.min_fills} resolved fills: nothing learned")
            return LearnedParams(values=values, notes=notes)
        t = np.array([f.time_ms for f in fills], dtype=np.int64)
        order = np.argsort(t, kind="stable")
        t = t[order]
        depth = np.array([f.depth_bps for f in fills])[order]
        sc = np.array([f.spread_capture_bps for f in fills])[order]
        adverse = np.array([f.adverse_bps for f in fills])[order]
        fee = np.array([f.fee_bps for f in fills])[order]
        notional = np.array([max(f.notional, 1e-9) for f in fills])[order]
        clusters = t // opts.cluster_ms
        informed = adverse > sc
        fit = fit_alpha_decay(depth, informed)
        if fit is not None:
            a, c, a_lo, a_hi = fit
            values.append(LearnedValue("strategy.alpha_touch", round(min(0.99, max(0.0, a)), 4), len(fills),
                                       round(a_lo, 4), round(a_hi, 4),
                                       "MLE of alpha_touch*exp(-depth/delta_char) on informed fills"))
            values.append(LearnedValue("strategy.delta_char_bps", round(c, 3), len(fills), None, None,
                                       "same fit"))
        be = stats.mean_ci(fee + adverse, clusters, tag="learned/breakeven", **opts.ci_kwargs())
        if be.has_interval and be.low > spread_floor_bps:
            values.append(LearnedValue("strategy.spread_floor_bps",
                                       float(math.ceil(be.value * 2) / 2), be.n, round(be.low, 3), round(be.high, 3),
                                       "mean fee + adverse move per fill (break-even half-spread)"))
        edge = sc - adverse - fee
        hour = (t // HOUR_MS) % 24
        hours = group_stats(hour, 24, [f"{h:02d}" for h in range(24)], pnl=edge * notional / 1e4, notional=notional,
                            fees=fee * notional / 1e4, closing=np.ones(len(t), dtype=bool), time_ms=t, opts=opts,
                            tag="learned/hour", with_verdict=True)
        toxic = [h for h, g in enumerate(hours) if g.status == TOXIC]
        if toxic:
            values.append(LearnedValue("strategy.toxic_hours_utc", toxic, int(sum(hours[h].fills for h in toxic)),
                                       None, None, "hours whose realized edge interval lies below zero"))
        return LearnedParams(values=values, notes=notes)

    def save_learned(self, path: str, *, session: str = "", spread_floor_bps: float = 8.0, base: Any = None,
                     logger: Any = None) -> LearnedParams:
        """Write :meth:`learned_params` to ``path`` (the exit save; see :mod:`hlmm.calibration.learned`)."""
        learned = self.learned_params(spread_floor_bps=spread_floor_bps)
        learned.session = session
        write_learned(path, learned, base)
        if logger is not None:
            logger.info("learned_params_saved", file=str(path), keys=[v.key for v in learned.values],
                        samples=len(self._fills))
        return learned


def _open(q: _Quote, model: str) -> bool:
    if model == FILL:
        return q.fill_prob is not None and not q.fill_resolved
    if model == ADVERSE:
        return q.expected_as_bps is not None and not q.as_resolved
    return q.signal_bps is not None and not q.signal_resolved


def fit_alpha_decay(depth_bps: np.ndarray, informed: np.ndarray) -> tuple[float, float, float, float] | None:
    """Maximum likelihood ``(alpha_touch, delta_char, alpha_low, alpha_high)`` of
    ``P(informed) = alpha_touch * exp(-depth / delta_char)``; None without enough contrast.

    The interval on ``alpha_touch`` is +-1.96 standard errors from the observed information.
    """
    from scipy.optimize import minimize

    d = np.asarray(depth_bps, dtype=np.float64)
    y = np.asarray(informed, dtype=np.float64)
    if len(d) < 10 or not np.any(y) or np.all(y):
        return None

    def nll(theta: np.ndarray) -> float:
        a = 1 / (1 + math.exp(-theta[0]))
        c = math.exp(theta[1])
        p = np.clip(a * np.exp(-d / c), 1e-9, 1 - 1e-9)
        return float(-np.sum(y * np.log(p) + (1 - y) * np.log(1 - p)))

    start = np.array([math.log(max(y.mean(), 1e-3) / max(1 - y.mean(), 1e-3)), math.log(max(np.median(d), 1.0) * 3)])
    res = minimize(nll, start, method="Nelder-Mead", options={"xatol": 1e-6, "fatol": 1e-9, "maxiter": 2000})
    a = 1 / (1 + math.exp(-res.x[0]))
    c = math.exp(res.x[1])
    if not (0.5 <= c <= 1e4):
        c = min(1e4, max(0.5, c))
    # standard error of a from the curvature of the profile in the logit coordinate
    h = 1e-3
    f0 = nll(res.x)
    fp = nll(res.x + np.array([h, 0.0]))
    fm = nll(res.x - np.array([h, 0.0]))
    curv = (fp - 2 * f0 + fm) / (h * h)
    if curv > 0:
        se_logit = 1 / math.sqrt(curv)
        lo = 1 / (1 + math.exp(-(res.x[0] - 1.96 * se_logit)))
        hi = 1 / (1 + math.exp(-(res.x[0] + 1.96 * se_logit)))
    else:
        lo, hi = math.nan, math.nan
    return a, c, lo, hi
