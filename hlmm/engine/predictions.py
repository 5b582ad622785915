"""The calibration link: each quoted level's predictions recorded, and resolved by the trading path.

:class:`Predictions` is what the quote cycle and the order manager talk to:

* before an order (or a modify's new leg) is sent, :meth:`predictor` records the level's
  fill probability over the ladder's horizon τ and its expected adverse selection
  (``alpha(depth) * as_bps``) in the :class:`~hlmm.calibration.store.PredictionStore` and
  returns the tag that goes into the order's cloid.  The store scores the fill probability
  on every order, a requoted one by the time it was live, reading P as a constant hazard
  over τ: fills arrive as trades hit the order (the Poisson intensity the market model fits),
  not when a Brownian mid first reaches it, so the ladder's first-passage time law (whose
  hazard is ~0 in an order's first seconds) is not used to extrapolate from short lives;
* it implements the engine's :class:`~hlmm.engine.outcomes.OutcomeSink`, so the fill processor
  and the order manager resolve those predictions (fills, markouts, orders ending) without
  knowing about the store.

The store is keyed by the cloid tag, so a fill of an order placed by this session is always
traced back to what was predicted for it.

Streams do not arrive in order: an ``orderUpdates`` "filled" or "canceled" can come before the
fill itself (a fill can race a cancel). An order's end is therefore handed to the store only
after ``settle_ms``, so a fill arriving in that window still resolves the prediction as filled
instead of as unfilled-and-closed. :meth:`settle` runs every maintenance tick and, with
``flush=True``, at shutdown.
"""
from __future__ import annotations

import math
import time
from collections import deque
from typing import Any, Callable

from hlmm._core.ladder import REGIMES, Ladder
from hlmm.calibration.store import PredictionStore
from hlmm.calibration.survival import CONSTANT
from hlmm.engine.order_state import BID


class Predictions:
    """Records predictions at quote time and routes outcomes to the store (an ``OutcomeSink``)."""

    def __init__(self, store: PredictionStore | None = None,
                 clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000, settle_ms: int = 5_000) -> None:
        self.store = store or PredictionStore()
        self.clock_ms = clock_ms
        self.settle_ms = settle_ms
        self._closing: deque[tuple[int, int, int]] = deque()   # (due_ms, prediction id, end time_ms)
        # per coin: the cycle's ladder, as_bps, regime, position fraction, time, signal, and its sides' levels
        # read once (side -> (levels, p_fill, alpha, depth_bps) as lists), on the first order of the side
        self._cycle: dict[str, tuple[Ladder, float, str, float, int, float | None, dict[int, tuple]]] = {}
        self.recorded = 0
        self.fills = 0
        self.markouts = 0
        self.ended = 0

    # ------------------------------------------------------------------ quote time
    def begin_cycle(self, coin: str, ladder: Ladder | None, *, as_bps: float, regime: int | str,
                    position_frac: float, now_ms: int, signal_bps: float | None = None) -> None:
        """The ladder the coin's orders of this cycle come from (None: a strategy without predictions).

        ``signal_bps`` is the microprice's prediction of the mid's next move (microprice − mid, in
        bps of the mid); a filled order's markout at the store's reference horizon resolves it."""
        if ladder is None:
            self._cycle.pop(coin, None)
            return
        name = REGIMES[regime] if isinstance(regime, int) else str(regime)
        signal = float(signal_bps) if signal_bps is not None and math.isfinite(signal_bps) else None
        self._cycle[coin] = (ladder, float(as_bps), name, float(position_frac), int(now_ms), signal, {})

    def predictor(self, coin: str, side: int, level: int, px_units: int, sz_lots: int) -> int:
        """The order manager's ``Predictor``: record the level's predictions, return the cloid tag."""
        cycle = self._cycle.get(coin)
        if cycle is None:
            return 0
        ladder, as_bps, regime, position_frac, now_ms, signal_bps, sides = cycle
        levels = sides.get(side)
        if levels is None:      # each LadderSide array is a fresh copy: read them once per cycle, not per order
            s = ladder.side(side)
            levels = sides[side] = (s.n, s.p_fill.tolist(), s.alpha.tolist(), s.depth_bps.tolist())
        n, p_fills, alphas, depths = levels
        if not 0 <= level < n:
            return 0
        p_fill = p_fills[level]
        alpha = alphas[level]
        depth = depths[level]
        if not (math.isfinite(p_fill) and math.isfinite(depth)):
            return 0
        tag = self.store.record_quote(
            coin=coin, side=1 if side == BID else -1, depth_bps=depth, now_ms=now_ms,
            fill_prob=min(1.0, max(0.0, p_fill)), horizon_s=max(ladder.tau, 1e-3), fill_shape=CONSTANT,
            expected_as_bps=alpha * as_bps if math.isfinite(alpha) else None, regime=regime,
            position_frac=position_frac, half_spread_bps=ladder.quoted_half_spread_bps, signal_bps=signal_bps)
        self.recorded += 1
        return tag

    # ------------------------------------------------------------------ OutcomeSink
    def on_fill(self, prediction_id: int, *, coin: str, side: int, tid: int, time_ms: int, px: float,
                sz: float, fee: float, mid: float | None, filled_fraction: float) -> None:
        notional = px * sz
        fee_bps = fee / notional * 1e4 if notional > 0 else 0.0
        if self.store.on_fill(prediction_id, now_ms=time_ms, px=px, sz=sz,
                              mid=mid if mid is not None and mid > 0 else math.nan, fee_bps=fee_bps):
            self.fills += 1

    def on_order_end(self, prediction_id: int, *, coin: str, side: int, time_ms: int, status: str,
                     filled_fraction: float) -> None:
        self._closing.append((self.clock_ms() + self.settle_ms, prediction_id, time_ms))

    def settle(self, flush: bool = False) -> int:
        """Hand ended orders to the store once their settle window passed (all with ``flush``)."""
        now = self.clock_ms()
        n = 0
        while self._closing and (flush or self._closing[0][0] <= now):
            _due, pid, end_ms = self._closing.popleft()
            if self.store.on_order_closed(pid, now_ms=end_ms):
                self.ended += 1
            n += 1
        return n

    def resolve_due(self, final: bool = False) -> None:
        """What a calibration report may resolve now: ended orders past their settle window, then
        horizons that ended before that window (``final``: everything, at shutdown).

        An order that ended within the last ``settle_ms`` is still queued here; expiring its horizon
        before its end reached the store would score it as exposed for the whole horizon."""
        self.settle(flush=final)
        now = self.clock_ms()
        self.store.expire(now if final else now - self.settle_ms)

    def on_markout(self, prediction_id: int, *, coin: str, side: int, tid: int, horizon_ms: int,
                   as_bps: float, edge_bps: float) -> None:
        if not math.isfinite(as_bps):
            return
        if abs(horizon_ms / 1000.0 - self.store.config.reference_horizon_s) < 1e-9:
            # the mid's realized move after the fill: as_bps is signed against the order's side
            self.store.on_signal_outcome(prediction_id, -as_bps if side == BID else as_bps)
        if self.store.on_markout(prediction_id, horizon_s=horizon_ms / 1000.0, adverse_bps=as_bps,
                                 now_ms=self.clock_ms()):
            self.markouts += 1

    # ------------------------------------------------------------------ reports
    def scores(self) -> dict[str, dict[str, Any]]:
        """Per model: samples, O/E with its interval (the fill model), brier, information ratio, validated
        (the status panel's line)."""
        out = {}
        for r in self.store.calibration_report():
            out[r["model"]] = {k: r[k] for k in ("samples", "oe", "oe_low", "oe_high", "brier", "information_ratio",
                                                 "validated") if r.get(k) is not None}
        return out
