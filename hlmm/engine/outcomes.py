"""Where the outcomes of calibration predictions go: the hook between the engine and the store.

Every quoted level records its predictions (fill probability, expected adverse selection)
under a *prediction id*; the id rides in the order's cloid tag (``hlmm.exchange.cloid``), so
a fill can be traced back to what was predicted for it even after a restart. The engine
resolves those predictions here, from the trading path itself:

- :meth:`OutcomeSink.on_fill` when an order carrying the prediction fills (partly or fully);
- :meth:`OutcomeSink.on_order_end` when the order (or the leg of it the prediction was made
  for) stops being live, filled or not: cancelled, rejected, replaced by a modify;
- :meth:`OutcomeSink.on_markout` when a fill's markout at one horizon is known.

``prediction_id`` 0 means "no prediction was recorded" and is never reported.

Predictions are recorded before an order (or a modify's new leg) is sent, by the ``Predictor``
given to ``OrderManager.submit``: ``(coin, side, level, px_units, sz_lots) -> prediction id``;
the id becomes the cloid tag (0..2**40-1).

``hlmm.engine.predictions.Predictions`` implements it for the calibration store; :class:`RecordingOutcomes` is a plain
in-memory implementation (used by tests and by embedders without a store), and
:data:`NO_OUTCOMES` drops everything, for code paths that explicitly run without calibration.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class OutcomeSink(Protocol):
    """Receives the outcomes of the predictions carried by orders."""

    def on_fill(self, prediction_id: int, *, coin: str, side: int, tid: int, time_ms: int, px: float,
                sz: float, fee: float, mid: float | None, filled_fraction: float) -> None:
        """An order carrying ``prediction_id`` filled ``sz`` at ``px`` (``side`` 0 bid / 1 ask);
        ``filled_fraction`` is the share of the order filled so far (1.0 = complete)."""

    def on_order_end(self, prediction_id: int, *, coin: str, side: int, time_ms: int, status: str,
                     filled_fraction: float) -> None:
        """The order (leg) ``prediction_id`` was made for stopped being live: ``status`` is the
        final state (``filled``, ``cancelled``, ``rejected``, ``replaced``)."""

    def on_markout(self, prediction_id: int, *, coin: str, side: int, tid: int, horizon_ms: int,
                   as_bps: float, edge_bps: float) -> None:
        """The adverse selection / edge of one fill at one horizon (bps, NaN if unmeasurable)."""


class _NoOutcomes:
    """An OutcomeSink that drops everything (calibration explicitly off)."""

    def on_fill(self, prediction_id: int, **kw: Any) -> None:
        return None

    def on_order_end(self, prediction_id: int, **kw: Any) -> None:
        return None

    def on_markout(self, prediction_id: int, **kw: Any) -> None:
        return None


NO_OUTCOMES: OutcomeSink = _NoOutcomes()


@dataclass
class RecordingOutcomes:
    """An OutcomeSink that keeps every call as ``(kind, prediction_id, fields)``."""

    calls: list[tuple[str, int, dict[str, Any]]] = field(default_factory=list)

    def on_fill(self, prediction_id: int, **kw: Any) -> None:
        self.calls.append(("fill", prediction_id, kw))

    def on_order_end(self, prediction_id: int, **kw: Any) -> None:
        self.calls.append(("end", prediction_id, kw))

    def on_markout(self, prediction_id: int, **kw: Any) -> None:
        self.calls.append(("markout", prediction_id, kw))

    def of(self, kind: str) -> list[tuple[int, dict[str, Any]]]:
        """The calls of one kind (``fill``, ``end``, ``markout``)."""
        return [(pid, kw) for k, pid, kw in self.calls if k == kind]
