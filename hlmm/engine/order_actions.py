"""The actions hlmm sends for its orders, and what the exchange's answers to them did.

Part of the order manager (:class:`hlmm.engine.orders.OrderManager`, whose module doc states the
rules): :class:`OrderActions` turns gated plans into the ``cancel`` / ``batchModify`` / ``order``
actions to sign and send (each new order tracked, with its cloid, *before* it is returned), keeps
each action's batch until its answer, and applies the answer: a reply, a whole-action error, or
a timeout (the orders stay ``unknown``: a timeout is not a rejection).

Why a mixin of the manager and not an object of its own: sending and answering are transitions of
the same state machine over the same indexes. A separate object would have to call a dozen of the
manager's private transitions, or they would have to become public API that the quoting code must
not call. As a mixin it keeps no state of its own (the manager's ``__init__`` declares it all: the
batches below are only read and written here) and uses only these members of the manager:

- lookups: ``get``, ``live_orders``, ``slot_owner``, ``cloids``;
- registry: ``_new_handle``, ``_track``, ``_index_oid``, ``_claim_slot``, ``_release_slot``, ``_sync``;
- transitions: ``_finish``, ``_settle``, ``_new_leg``, ``_end_prediction``, ``_filled_fraction``;
- wire helpers: ``_asset``, ``_wire_px``, ``_wire_sz``.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from hlmm.exchange import results as res
from hlmm.exchange import wire
from hlmm.exchange.cloid import CloidFactory, TAG_MAX
from hlmm.exchange.errors import ActionError, ProtocolError
from hlmm.engine.order_state import (
    SIDE_NAMES, OrderState, PendingModify, SlotConflict, TrackedOrder, says_order_gone,
)
from hlmm.engine.plan import Modify, Place, Plan, action_weight
from hlmm.log import get_logger

log = get_logger("engine.orders")

# Rate-limit refusals of a whole action (reference §3 top-level err strings, unconfirmed texts).
_RATE_TEXTS = ("Too many cumulative requests", "rate limit")

Predictor = Callable[[str, int, int, int, int], int]
"""(coin, side, level, px_units, sz_lots) -> prediction id (0 = none) for a new order / leg."""


@dataclass(frozen=True, slots=True)
class OutboundAction:
    """One action to sign and send: ``kind`` order | batchModify | cancel | cancelByCloid."""

    batch_id: int
    kind: str
    action: dict[str, Any]
    n: int              # items = address requests
    ip_weight: int


@dataclass(slots=True)
class _Batch:
    batch_id: int
    kind: str
    handles: list[int]
    created_ms: int
    post_id: Any = None
    sent_ms: int | None = None


@dataclass(slots=True)
class ActionReport:
    """What one action's answer did: the loop feeds ``rejects`` to the gates (reject storm) and
    ``rate_limited`` to the rate budget."""

    batch_id: int
    kind: str
    resting: int = 0
    filled: int = 0
    cancelled: int = 0
    rejects: list[str] = field(default_factory=list)
    unknown: int = 0
    failed: int = 0         # cancels / modifies refused, order unchanged
    rate_limited: bool = False
    error: str | None = None


class OrderActions:
    """Sending orders' actions and applying their answers: a mixin of ``OrderManager`` (see the
    module doc for the members of the manager it uses)."""

    # the manager's state this mixin works on (declared and initialised in OrderManager.__init__)
    cloids: CloidFactory
    _batches: dict[int, _Batch]            # sent, answer awaited
    _late: OrderedDict[int, _Batch]        # timed out: a late answer still counts
    _next_batch: int

    # ------------------------------------------------------------------ sending
    def submit(self, plans: Plan | Sequence[Plan], now_ms: int, predict: Predictor | None = None) -> list[OutboundAction]:
        """Track the gated plans' orders and return the actions to send, in send order
        (cancel, batchModify, order: at most one of each, all coins merged).

        New orders and modify legs get their prediction id from ``predict`` (0 without one); the
        id becomes the cloid tag. Orders are ``pending`` (modifies / cancels in flight) from here
        on: send the actions, then report each answer with ``on_action_result`` /
        ``on_action_error`` / ``on_action_timeout``.
        """
        if isinstance(plans, Plan):
            plans = [plans]
        cancels: list[tuple[TrackedOrder, str]] = []
        modifies: list[tuple[TrackedOrder, Modify, dict[str, Any]]] = []
        places: list[tuple[TrackedOrder, dict[str, Any]]] = []
        for plan in plans:
            for c in plan.cancels:
                o = self.get(c.handle)
                if o is None or not o.live or o.frozen or o.oid is None:
                    continue
                self._release_slot(o)     # before the labels: a kept order may take this slot
                cancels.append((o, c.reason))
            self._apply_labels(plan)
            for m in plan.modifies:
                o = self.get(m.handle)
                if o is None or not o.live or o.frozen or o.oid is None or o.cloid is None:
                    continue
                try:
                    w = wire.order_wire(o.asset_id, o.is_buy, m.px_units, m.sz_lots, self._asset(o.coin),
                                        m.reduce_only, o.tif, o.cloid)
                except ValueError as exc:
                    log.warning("order_rejected", coin=o.coin, cloid=o.cloid, side=SIDE_NAMES[o.side],
                                px=str(m.px_units), sz=str(m.sz_lots), reason=f"modify not sent: {exc}")
                    continue
                pid = self._predict(predict, o.coin, o.side, m.level, m.px_units, m.sz_lots)
                o.pending_modify = PendingModify(m.px_units, m.sz_lots, pid, 0)
                o.reduce_only = m.reduce_only
                modifies.append((o, m, w))
            for p in plan.places:
                o = self._new_order(p, now_ms, predict)
                if o is None:
                    continue
                try:
                    w = wire.order_wire(o.asset_id, o.is_buy, p.px_units, p.sz_lots, self._asset(p.coin),
                                        p.reduce_only, p.tif, o.cloid)
                except ValueError as exc:
                    # refused locally with the exchange's own words; never sent, never live
                    self._finish(o, OrderState.REJECTED, f"not sent: {exc}", now_ms)
                    continue
                places.append((o, w))
        out: list[OutboundAction] = []
        if cancels:
            b = self._batch("cancel", [o.handle for o, _ in cancels], now_ms)
            action = wire.cancel_action([(o.asset_id, o.oid) for o, _ in cancels])  # type: ignore[misc]
            for o, why in cancels:
                self._start(o, "cancel", b.batch_id, now_ms)
                log.info("order_cancel_sent", coin=o.coin, cloid=o.cloid, oid=o.oid, reason=why, post_id=None)
            out.append(OutboundAction(b.batch_id, "cancel", action, len(cancels), action_weight(len(cancels))))
        if modifies:
            b = self._batch("batchModify", [o.handle for o, _, _ in modifies], now_ms)
            action = wire.batch_modify_action([(o.oid, w) for o, _, w in modifies])  # type: ignore[misc]
            for o, m, w in modifies:
                o.pending_modify.batch_id = b.batch_id  # type: ignore[union-attr]
                self._start(o, "modify", b.batch_id, now_ms)
                log.info("order_modify_sent", coin=o.coin, cloid=o.cloid, oid=o.oid, side=SIDE_NAMES[o.side],
                         px=w["p"], sz=w["s"], old_px=self._wire_px(o), old_sz=self._wire_sz(o, o.remaining_lots),
                         post_id=None)
            out.append(OutboundAction(b.batch_id, "batchModify", action, len(modifies), action_weight(len(modifies))))
        if places:
            b = self._batch("order", [o.handle for o, _ in places], now_ms)
            action = wire.order_action([w for _, w in places])
            for o, w in places:
                o.inflight_batch = b.batch_id
                log.info("order_place_sent", coin=o.coin, cloid=o.cloid, side=SIDE_NAMES[o.side], px=w["p"],
                         sz=w["s"], tif=o.tif, reduce_only=o.reduce_only, ladder_level=o.slot, post_id=None)
            out.append(OutboundAction(b.batch_id, "order", action, len(places), action_weight(len(places))))
        return out

    def _apply_labels(self, plan: Plan) -> None:
        """Give kept and modified orders their new slots (all released first: labels may swap)."""
        moves = [(h, lvl) for h, lvl in plan.relabels] + [(m.handle, m.level) for m in plan.modifies]
        moving = [(o, lvl) for h, lvl in moves if (o := self.get(h)) is not None and o.live]
        for o, _ in moving:
            self._release_slot(o)
        for o, lvl in moving:
            self._claim_slot(o, lvl)
            self._sync(o)

    def _predict(self, predict: Predictor | None, coin: str, side: int, level: int, px: int, sz: int) -> int:
        if predict is None:
            return 0
        pid = int(predict(coin, side, level, px, sz))
        if not 0 <= pid <= TAG_MAX:
            raise ValueError(f"prediction id {pid} does not fit a cloid tag (0..{TAG_MAX})")
        return pid

    def _new_order(self, p: Place, now_ms: int, predict: Predictor | None) -> TrackedOrder | None:
        owner = self.slot_owner(p.coin, p.side, p.level)
        if owner is not None and owner.live:
            raise SlotConflict(f"place for {p.coin} {SIDE_NAMES[p.side]} level {p.level}: slot held by "
                               f"{owner.describe()}")
        asset = self._asset(p.coin)
        pid = self._predict(predict, p.coin, p.side, p.level, p.px_units, p.sz_lots)
        o = TrackedOrder(
            handle=self._new_handle(), cloid=self.cloids.next(pid), coin=p.coin, asset_id=asset.asset_id,
            side=p.side, px_units=p.px_units, sz_lots=p.sz_lots, tif=p.tif, reduce_only=p.reduce_only,
            prediction_id=pid, slot=None, state=OrderState.PENDING, created_ms=now_ms, updated_ms=now_ms,
            inflight="place", sent_ms=now_ms)
        self._track(o)
        self._claim_slot(o, p.level)
        self._sync(o)
        return o

    def _batch(self, kind: str, handles: list[int], now_ms: int) -> _Batch:
        b = _Batch(self._next_batch, kind, handles, now_ms)
        self._next_batch += 1
        self._batches[b.batch_id] = b
        return b

    def _start(self, o: TrackedOrder, action: str, batch_id: int, now_ms: int) -> None:
        o.inflight = action
        o.inflight_batch = batch_id
        o.sent_ms = now_ms
        o.updated_ms = now_ms
        self._sync(o)

    def cancel_all(self, now_ms: int, coins: Iterable[str] | None = None, reason: str = "cancel_all") -> list[OutboundAction]:
        """Cancel every live order (of ``coins``), in flight or not: by cloid where one exists (it
        follows a modify to its new leg), by oid otherwise. For the kill switch and shutdown; pair
        it with a near ``scheduleCancel`` (``DeadMan.kill_action``) to catch anything still in flight."""
        wanted = None if coins is None else set(coins)
        by_cloid: list[TrackedOrder] = []
        by_oid: list[TrackedOrder] = []
        for o in self.live_orders():
            if (wanted is not None and o.coin not in wanted) or o.inflight == "cancel":
                continue
            if o.cloid is not None:
                by_cloid.append(o)
            elif o.oid is not None:
                by_oid.append(o)
        out = []
        for kind, group in (("cancelByCloid", by_cloid), ("cancel", by_oid)):
            if not group:
                continue
            b = self._batch(kind, [o.handle for o in group], now_ms)
            if kind == "cancelByCloid":
                action = wire.cancel_by_cloid_action([(o.asset_id, o.cloid) for o in group])  # type: ignore[misc]
            else:
                action = wire.cancel_action([(o.asset_id, o.oid) for o in group])  # type: ignore[misc]
            out.append(OutboundAction(b.batch_id, kind, action, len(group), action_weight(len(group))))
            for o in group:
                self._clear_hold(o)      # the kill switch and shutdown do not wait out a retry hold
                if not o.frozen:
                    self._release_slot(o)
                    self._start(o, "cancel", b.batch_id, now_ms)
                log.info("order_cancel_sent", coin=o.coin, cloid=o.cloid, oid=o.oid, reason=reason, post_id=None)
        return out

    def mark_sent(self, batch_id: int, post_id: Any, now_ms: int) -> None:
        """Record the post id the loop sent a batch under (for timeout logs)."""
        b = self._batches.get(batch_id)
        if b is not None:
            b.post_id = post_id
            b.sent_ms = now_ms

    # ------------------------------------------------------------------ answers to actions
    def on_action_result(self, batch_id: int, result: Any, now_ms: int) -> ActionReport:
        """Apply the exchange's answer to a batch: the ``/exchange`` JSON (WebSocket post payload or
        HTTP body), or the typed results of ``hlmm.exchange.results`` (one per item, in order).
        A late answer to a batch that timed out still applies."""
        b = self._take_batch(batch_id)
        if b is None:
            return ActionReport(batch_id, "unknown", error=f"no batch {batch_id} awaits an answer")
        report = ActionReport(batch_id, b.kind)
        n = len(b.handles)
        try:
            if isinstance(result, dict):
                if b.kind in ("cancel", "cancelByCloid"):
                    items: list[Any] = res.parse_cancel_statuses(result, n)
                else:
                    items = res.parse_order_statuses(result, n)
            else:
                items = list(result)
                if len(items) != n:
                    raise ProtocolError(f"{len(items)} results for {n} items")
        except ActionError as exc:
            return self._whole_action_refused(b, exc.text, now_ms, report)
        except (ProtocolError, KeyError, TypeError, ValueError) as exc:
            log.error("error", where="engine.orders.on_action_result", error=type(exc).__name__,
                      detail=f"unreadable answer to {b.kind} batch {batch_id}: {exc}; its orders stay unknown")
            self._batches[batch_id] = b
            rep = self.on_action_timeout(batch_id, now_ms)
            rep.error = str(exc)
            return rep
        for h, item in zip(b.handles, items):
            o = self.get(h)
            if o is None:
                continue
            if b.kind == "order":
                self._apply_place_result(o, b, item, now_ms, report)
            elif b.kind == "batchModify":
                self._apply_modify_result(o, b, item, now_ms, report)
            else:
                self._apply_cancel_result(o, b, item, now_ms, report)
        return report

    def _take_batch(self, batch_id: int) -> _Batch | None:
        b = self._batches.pop(batch_id, None)
        return b if b is not None else self._late.pop(batch_id, None)

    def on_action_error(self, batch_id: int, error: Any, now_ms: int, outcome_unknown: bool | None = None) -> ActionReport:
        """An action failed as a whole. ``error``: an ``hlmm.exchange.errors`` exception (its
        ``outcome_unknown`` decides) or a text with ``outcome_unknown`` given. Unknown outcome ->
        treated like a timeout; otherwise the action was not executed."""
        if outcome_unknown is None:
            outcome_unknown = bool(getattr(error, "outcome_unknown", False))
        if outcome_unknown:
            rep = self.on_action_timeout(batch_id, now_ms)
            rep.error = str(error)
            return rep
        b = self._take_batch(batch_id)
        if b is None:
            return ActionReport(batch_id, "unknown", error=f"no batch {batch_id} awaits an answer")
        return self._whole_action_refused(b, getattr(error, "text", None) or str(error), now_ms,
                                          ActionReport(batch_id, b.kind))

    def on_action_timeout(self, batch_id: int, now_ms: int) -> ActionReport:
        """No answer came: every order still waiting on this batch becomes ``unknown`` (NOT rejected)."""
        b = self._batches.pop(batch_id, None)
        if b is None:
            return ActionReport(batch_id, "unknown", error=f"no batch {batch_id} awaits an answer")
        self._late[batch_id] = b
        while len(self._late) > 1000:
            self._late.popitem(last=False)
        report = ActionReport(batch_id, b.kind)
        action = {"order": "place", "batchModify": "modify"}.get(b.kind, "cancel")
        for h in b.handles:
            o = self.get(h)
            if o is None or not self._awaits(o, b) or o.state is OrderState.UNKNOWN:
                continue
            o.state = OrderState.UNKNOWN
            o.unknown_action = action
            o.unknown_since_ms = now_ms
            o.inflight = None          # inflight_batch stays: a late answer to it still resolves
            o.updated_ms = now_ms
            self._sync(o)
            report.unknown += 1
            log.warning("order_unknown_timeout", coin=o.coin, cloid=o.cloid, action=action, post_id=b.post_id,
                        elapsed_ms=now_ms - (b.sent_ms if b.sent_ms is not None else b.created_ms))
        return report

    @staticmethod
    def _awaits(o: TrackedOrder, b: _Batch) -> bool:
        """The order's fate still hangs on this batch's answer."""
        return o.live and o.inflight_batch == b.batch_id
    def _whole_action_refused(self, b: _Batch, text: str, now_ms: int, report: ActionReport) -> ActionReport:
        report.error = text
        report.rate_limited = any(t.lower() in text.lower() for t in _RATE_TEXTS)
        for h in b.handles:
            o = self.get(h)
            if o is None or not self._awaits(o, b):
                continue
            if b.kind == "order":
                self._finish(o, OrderState.REJECTED, text, now_ms)
                report.rejects.append(text)
                continue
            if b.kind == "batchModify" and o.pending_modify is not None:
                self._end_prediction(o, o.pending_modify.prediction_id, "rejected", 0.0, now_ms)
                o.pending_modify = None
                self._settle(o, now_ms)
            else:
                self._settle(o, now_ms)
                log.warning("order_cancel_failed", coin=o.coin, cloid=o.cloid, oid=o.oid, reason=text,
                            retry_in_ms=self._hold_cancel(o, now_ms))
            report.failed += 1
        return report

    def _apply_place_result(self, o: TrackedOrder, b: _Batch, r: res.OrderResult, now_ms: int,
                            report: ActionReport) -> None:
        if r.cloid is not None and o.cloid is not None and r.cloid.lower() != o.cloid:
            log.error("error", where="engine.orders", error="cloid_mismatch",
                      detail=f"place answer carries cloid {r.cloid} for order {o.cloid}")
        if r.oid is not None and o.oid is None:
            self._index_oid(o, r.oid)
        if not self._awaits(o, b):
            return   # the streams already settled it; the answer only confirms
        if r.status == "error":
            self._finish(o, OrderState.REJECTED, r.error or "rejected", now_ms)
            report.rejects.append(r.error or "rejected")
            return
        if r.status == "filled":
            total = wire.wire_to_units(r.total_sz, self._asset(o.coin).sz_decimals) if r.total_sz else None
            if total is None or total >= o.sz_lots:
                self._finish(o, OrderState.FILLED, "filled", now_ms)
                report.filled += 1
                return
            if o.tif == "Ioc":
                self._finish(o, OrderState.CANCELLED, "ioc remainder cancelled", now_ms)
                report.cancelled += 1
                return
            left = o.sz_lots - total
            o.reported_lots = left if o.reported_lots is None else min(o.reported_lots, left)
        self._settle(o, now_ms)
        report.resting += 1
        log.info("order_resting", coin=o.coin, cloid=o.cloid, oid=o.oid, side=SIDE_NAMES[o.side],
                 px=self._wire_px(o), sz=self._wire_sz(o, o.remaining_lots))

    def _apply_modify_result(self, o: TrackedOrder, b: _Batch, r: res.OrderResult, now_ms: int,
                             report: ActionReport) -> None:
        pm = o.pending_modify
        mine = pm is not None and pm.batch_id == b.batch_id
        if r.status == "error":      # r answers o's modify in batch b, whatever o's state now
            reason = r.error or "modify rejected"
            if says_order_gone(reason):
                # the order filled or was cancelled before the modify arrived: the market raced us and
                # nothing is wrong with the request (as with a cancel of a filled order), so it is not a
                # reject and does not feed the reject storm, which would otherwise kill a healthy engine
                # in a fast market
                log.info("order_modify_missed", coin=o.coin, cloid=o.cloid, oid=o.oid, reason=reason)
            else:
                # the exchange refused this modify even if the streams already ended the order:
                # counted toward the reject storm, so logged like a place reject (the audit reads it);
                # the order itself is not rejected: it ends cancelled or goes unknown below
                report.rejects.append(reason)
                log.warning("order_rejected", coin=o.coin, cloid=o.cloid, side=SIDE_NAMES[o.side],
                            px=self._wire_px(o, pm.px_units) if mine else None,
                            sz=self._wire_sz(o, pm.sz_lots) if mine else None, reason=reason)
        if not mine or not o.live:
            return   # already resolved by the streams
        if r.status == "error":
            if pm.old_leg_gone or says_order_gone(r.error):
                self._finish(o, OrderState.CANCELLED, f"modify failed: {r.error}", now_ms)
                report.cancelled += 1
                return
            # the cancel half may or may not have happened: ask the exchange (status_queries)
            o.state = OrderState.UNKNOWN
            o.unknown_action = "modify"
            o.unknown_since_ms = now_ms
            o.inflight = None
            o.reason = r.error or ""
            self._sync(o)
            report.unknown += 1
            return
        if r.oid is not None and o.oid is not None and r.oid != o.oid:
            self._new_leg(o, r.oid, now_ms)
        else:
            self._end_prediction(o, o.prediction_id, "replaced", self._filled_fraction(o), now_ms)
            o.px_units, o.sz_lots, o.prediction_id = pm.px_units, pm.sz_lots, pm.prediction_id
            o.pending_modify = None
        if r.status == "filled":
            self._finish(o, OrderState.FILLED, "filled", now_ms)
            report.filled += 1
            return
        self._settle(o, now_ms)
        report.resting += 1

    def _apply_cancel_result(self, o: TrackedOrder, b: _Batch, r: res.CancelResult, now_ms: int,
                             report: ActionReport) -> None:
        if not o.live:
            return
        if r.ok:
            self._finish(o, OrderState.CANCELLED, "canceled", now_ms)
            report.cancelled += 1
            return
        if says_order_gone(r.error):
            if o.state is OrderState.PENDING or (o.state is OrderState.UNKNOWN and o.unknown_action == "place"):
                return   # a kill's cancel raced ahead of the place: the place's answer will tell
            # not open any more: cancelled, unless its fills (on their way) say filled
            self._finish(o, OrderState.CANCELLED, r.error or "gone", now_ms)
            report.cancelled += 1
            return
        report.failed += 1
        retry = None
        if self._awaits(o, b):
            self._settle(o, now_ms)
            retry = self._hold_cancel(o, now_ms)
        log.warning("order_cancel_failed", coin=o.coin, cloid=o.cloid, oid=o.oid, reason=r.error, retry_in_ms=retry)

