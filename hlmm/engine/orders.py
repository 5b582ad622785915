"""The order manager: every order tracked from before it is sent until the exchange says it is over.

Rules it keeps (DESIGN §1, reference nautilus.md / peers.md):

- **Cloid before send.** ``submit`` assigns each new order a cloid (``CloidFactory``, tag = the
  calibration prediction id) and registers it as ``pending`` *before* returning the action
  dicts the loop sends; any answer (reply, ``orderUpdates``, fill, sync) finds it by cloid.
- **A timeout is not a rejection.** An action whose answer never came leaves its orders
  ``unknown``; they keep their ladder slot and count as exposure until ``orderUpdates``,
  ``orderStatus`` (:meth:`status_queries`) or the safety sync resolves them. Only a definitive
  answer rejects.
- **One live order per slot.** A ladder slot (coin, side, level) holds at most one live order
  (pending and unknown included). An order being cancelled leaves its slot: it no longer
  serves a level, but stays live (and counted in exposure) until the exchange confirms.
- **Modify = cancel-replace.** The order keeps its cloid, gets a new oid; the old oid's
  ``canceled`` update and late fills are recognised as the old leg's.
- **The exchange is the truth.** Exchange statuses override local guesses (ordered by
  ``statusTimestamp``); orders found on the exchange that hlmm does not track are adopted, or
  adopted and cancelled (``orphan_policy``); tracked orders the exchange no longer has are
  closed (filled if their fills say so, else cancelled).

The manager is synchronous and deterministic; it never does I/O. Each live order is mirrored in
a :class:`hlmm._core.reconcile.LiveSide` per (coin, side), which the reconciler diffs in C.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

from hlmm._core.reconcile import DOOMED, FROZEN, REDUCE_ONLY, LiveSide
from hlmm.exchange import results as res
from hlmm.exchange import wire
from hlmm.exchange.assets import AssetInfo
from hlmm.exchange.cloid import CloidFactory, parse_cloid, TAG_MAX
from hlmm.exchange.errors import ActionError, ProtocolError
from hlmm.engine.order_state import (
    ASK, BID, LIVE_STATES, SIDE_NAMES, TERMINAL_STATES, OrderState, PendingModify, TrackedOrder,
    classify_status, says_order_gone,
)
from hlmm.engine.outcomes import NO_OUTCOMES, OutcomeSink
from hlmm.engine.plan import Modify, Place, Plan, action_weight
from hlmm.log import get_logger

log = get_logger("engine.orders")
sync_log = get_logger("engine.sync")

# Rate-limit refusals of a whole action (reference §3 top-level err strings, unconfirmed texts).
_RATE_TEXTS = ("Too many cumulative requests", "rate limit")

Predictor = Callable[[str, int, int, int, int], int]
"""(coin, side, level, px_units, sz_lots) -> prediction id (0 = none) for a new order / leg."""


class SlotConflict(RuntimeError):
    """Two live orders would serve one ladder slot: a bug in the caller's plan."""


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


@dataclass(frozen=True, slots=True)
class StatusQuery:
    """An ``orderStatus`` request the loop should send: ``ref`` is an oid, or the cloid."""

    handle: int
    ref: int | str
    coin: str


@dataclass(slots=True)
class SyncReport:
    """What a safety sync of open orders found."""

    seen: int = 0
    adopted: list[int] = field(default_factory=list)      # handles of orphans adopted
    doomed: list[int] = field(default_factory=list)       # handles of orphans to cancel
    missing: list[int] = field(default_factory=list)      # tracked orders the exchange no longer has
    resolved: list[int] = field(default_factory=list)     # unknown/pending orders confirmed open
    queries: list[StatusQuery] = field(default_factory=list)
    coins_to_check: set[str] = field(default_factory=set)  # fetch their fills: an order vanished

    @property
    def mismatches(self) -> int:
        return len(self.adopted) + len(self.doomed) + len(self.missing)


class OrderManager:
    """Tracks every order of the session; see the module doc for the rules.

    ``assets``: coin -> AssetInfo (an ``AssetRegistry`` or a dict). ``cloids``: the session's
    CloidFactory. ``orphan_policy``: ``cancel`` (adopt orders found on the exchange and cancel
    them) or ``adopt`` (keep them; the reconciler may reuse them). ``outcomes``: where the
    predictions of orders that end are resolved. Timing (ms): an unknown order is first
    queried ``query_delay_ms`` after it became unknown, then every ``query_interval_ms``;
    ``unknown_oid_grace_ms`` after a place was sent, an ``unknownOid`` answer proves it never
    reached the exchange.
    """

    def __init__(self, assets: Mapping[str, AssetInfo] | Any, cloids: CloidFactory, *,
                 orphan_policy: str = "cancel", outcomes: OutcomeSink = NO_OUTCOMES,
                 query_delay_ms: int = 1000, query_interval_ms: int = 3000,
                 unknown_oid_grace_ms: int = 30_000, finished_kept: int = 20_000) -> None:
        if orphan_policy not in ("cancel", "adopt"):
            raise ValueError(f"orphan_policy must be 'cancel' or 'adopt', got {orphan_policy!r}")
        self.assets = assets
        self.cloids = cloids
        self.orphan_policy = orphan_policy
        self.outcomes = outcomes
        self.query_delay_ms = query_delay_ms
        self.query_interval_ms = query_interval_ms
        self.unknown_oid_grace_ms = unknown_oid_grace_ms
        self.finished_kept = finished_kept
        self._orders: dict[int, TrackedOrder] = {}
        self._finished: OrderedDict[int, None] = OrderedDict()
        self._by_cloid: dict[str, int] = {}
        self._by_oid: dict[int, int] = {}
        self._slots: dict[tuple[str, int, int], int] = {}
        self._sides: dict[tuple[str, int], LiveSide] = {}
        self._batches: dict[int, _Batch] = {}
        self._late: OrderedDict[int, _Batch] = OrderedDict()   # timed out: a late answer still counts
        self._next_handle = 1
        self._next_batch = 1

    # ------------------------------------------------------------------ lookups
    def get(self, handle: int) -> TrackedOrder | None:
        """The order with this handle (live, or finished and still remembered)."""
        return self._orders.get(handle)

    def by_cloid(self, cloid: str | None) -> TrackedOrder | None:
        if not cloid:
            return None
        h = self._by_cloid.get(cloid.lower())
        return self._orders.get(h) if h is not None else None

    def by_oid(self, oid: int | None) -> TrackedOrder | None:
        if oid is None:
            return None
        h = self._by_oid.get(oid)
        return self._orders.get(h) if h is not None else None

    def live_orders(self, coin: str | None = None, side: int | None = None) -> list[TrackedOrder]:
        """Live orders (optionally of one coin / side), by handle."""
        return [o for o in self._orders.values() if o.live and (coin is None or o.coin == coin)
                and (side is None or o.side == side)]

    def live_side(self, coin: str, side: int) -> LiveSide:
        """The C mirror of one (coin, side)'s live orders, for the reconciler."""
        key = (coin, side)
        ls = self._sides.get(key)
        if ls is None:
            ls = self._sides[key] = LiveSide(side)
        return ls

    def slot_owner(self, coin: str, side: int, level: int) -> TrackedOrder | None:
        h = self._slots.get((coin, side, level))
        return self._orders.get(h) if h is not None else None

    def open_lots(self, coin: str, side: int) -> int:
        """Worst-case lots that live orders of one side may still fill (pending and unknown included;
        an order with a modify in flight counts at the larger of its two sizes)."""
        return self.live_side(coin, side).total_lots()

    def frozen_lots(self, coin: str, side: int) -> int:
        """Lots of orders the reconciler cannot touch this cycle (in flight or unknown): they stay
        live whatever the target, so the ladder must leave room for them (its ``inflight_*``)."""
        return self.live_side(coin, side).total_lots(FROZEN, FROZEN)

    def counts(self) -> dict[str, int]:
        """Orders per state (live and remembered finished ones)."""
        out: dict[str, int] = {}
        for o in self._orders.values():
            out[o.state.value] = out.get(o.state.value, 0) + 1
        return out

    # ------------------------------------------------------------------ internal bookkeeping
    def _new_handle(self) -> int:
        h = self._next_handle
        self._next_handle += 1
        return h

    def _index_oid(self, o: TrackedOrder, oid: int) -> None:
        o.oid = oid
        o.leg_predictions.setdefault(oid, o.prediction_id)
        self._by_oid[oid] = o.handle

    def _sync(self, o: TrackedOrder) -> None:
        """Mirror an order into its LiveSide (or drop it there once it is not live)."""
        ls = self.live_side(o.coin, o.side)
        if o.live:
            flags = (FROZEN if o.frozen else 0) | (DOOMED if o.doomed else 0) | (REDUCE_ONLY if o.reduce_only else 0)
            ls.upsert(o.handle, o.px_units, o.exposure_lots, -1 if o.slot is None else o.slot, flags)
        else:
            ls.remove(o.handle)

    def _release_slot(self, o: TrackedOrder) -> None:
        if o.slot is not None:
            key = (o.coin, o.side, o.slot)
            if self._slots.get(key) == o.handle:
                del self._slots[key]
            o.slot = None

    def _claim_slot(self, o: TrackedOrder, level: int) -> None:
        key = (o.coin, o.side, level)
        owner = self._slots.get(key)
        if owner is not None and owner != o.handle:
            other = self._orders[owner]
            raise SlotConflict(f"slot {o.coin} {SIDE_NAMES[o.side]} {level} is held by {other.describe()}; "
                               f"cannot give it to {o.describe()}")
        if o.slot is not None and o.slot != level:
            self._release_slot(o)
        o.slot = level
        self._slots[key] = o.handle

    def _finish(self, o: TrackedOrder, state: OrderState, reason: str, now_ms: int, *, status_ts: int = 0) -> None:
        """Move a live order to a terminal state (or correct a terminal one to FILLED)."""
        was_live = o.live
        if not was_live and not (state is OrderState.FILLED and o.state is OrderState.CANCELLED):
            return
        o.state = state
        o.reason = reason
        o.updated_ms = now_ms
        if status_ts:
            o.status_ts = max(o.status_ts, status_ts)
        o.inflight = None
        o.inflight_batch = None
        o.unknown_action = None
        if o.pending_modify is not None:
            # the new leg never came (or came and ended with the order): its prediction is over
            self._end_prediction(o, o.pending_modify.prediction_id, "rejected", 0.0, now_ms)
            o.pending_modify = None
        self._release_slot(o)
        self._sync(o)
        if was_live:
            self._finished[o.handle] = None
            self._end_prediction(o, o.prediction_id, state.value, self._filled_fraction(o), now_ms)
            self._evict()
        px, sz = self._wire_px(o), self._wire_sz(o, o.sz_lots)
        if state is OrderState.FILLED:
            log.info("order_filled", coin=o.coin, cloid=o.cloid, oid=o.oid, side=SIDE_NAMES[o.side], px=px, sz=sz,
                     avg_px=None)
        elif state is OrderState.REJECTED:
            log.warning("order_rejected", coin=o.coin, cloid=o.cloid, side=SIDE_NAMES[o.side], px=px, sz=sz,
                        reason=reason)
        else:
            log.info("order_cancelled", coin=o.coin, cloid=o.cloid, oid=o.oid, status=reason)

    @staticmethod
    def _filled_fraction(o: TrackedOrder) -> float:
        return o.filled_lots / o.sz_lots if o.sz_lots > 0 else 0.0

    def _end_prediction(self, o: TrackedOrder, pid: int, status: str, fraction: float, now_ms: int) -> None:
        if pid:
            self.outcomes.on_order_end(pid, coin=o.coin, side=o.side, time_ms=now_ms, status=status,
                                       filled_fraction=fraction)

    def _evict(self) -> None:
        while len(self._finished) > self.finished_kept:
            h, _ = self._finished.popitem(last=False)
            o = self._orders.pop(h, None)
            if o is None:
                continue
            if o.cloid and self._by_cloid.get(o.cloid) == h:
                del self._by_cloid[o.cloid]
            for oid in [o.oid, *o.old_oids]:
                if oid is not None and self._by_oid.get(oid) == h:
                    del self._by_oid[oid]

    def _asset(self, coin: str) -> AssetInfo:
        return self.assets[coin]

    def _wire_px(self, o: TrackedOrder, px_units: int | None = None) -> str | None:
        try:
            return wire.price_to_wire(o.px_units if px_units is None else px_units, self._asset(o.coin))
        except (KeyError, ValueError):
            return None

    def _wire_sz(self, o: TrackedOrder, lots: int) -> str | None:
        try:
            return wire.size_to_wire(lots, self._asset(o.coin))
        except (KeyError, ValueError):
            return None

    def _new_leg(self, o: TrackedOrder, new_oid: int, now_ms: int) -> None:
        """A modify landed: the order continues under ``new_oid`` at the pending price/size."""
        pm = o.pending_modify
        assert pm is not None
        if o.oid is not None and o.oid != new_oid:
            o.old_oids.append(o.oid)
        self._end_prediction(o, o.prediction_id, "replaced", self._filled_fraction(o), now_ms)
        self._index_oid(o, new_oid)
        o.leg_predictions[new_oid] = pm.prediction_id
        o.px_units, o.sz_lots, o.prediction_id = pm.px_units, pm.sz_lots, pm.prediction_id
        o.filled_lots = 0
        o.reported_lots = None
        o.pending_modify = None
        o.status_ts = 0
        if o.inflight in (None, "modify"):
            self._settle(o, now_ms)
        self._sync(o)

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
                o = self._orders.get(c.handle)
                if o is None or not o.live or o.frozen or o.oid is None:
                    continue
                self._release_slot(o)     # before the labels: a kept order may take this slot
                cancels.append((o, c.reason))
            self._apply_labels(plan)
            for m in plan.modifies:
                o = self._orders.get(m.handle)
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
        moving = [(self._orders[h], lvl) for h, lvl in moves if h in self._orders and self._orders[h].live]
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
        self._orders[o.handle] = o
        self._by_cloid[o.cloid] = o.handle  # type: ignore[index]
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
        for o in self._orders.values():
            if not o.live or (wanted is not None and o.coin not in wanted) or o.inflight == "cancel":
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
            o = self._orders.get(h)
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
            o = self._orders.get(h)
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

    def _settle(self, o: TrackedOrder, now_ms: int) -> None:
        """No answer is awaited any more and the order is on the book."""
        o.inflight = None
        o.inflight_batch = None
        o.unknown_action = None
        o.state = OrderState.PARTIAL if o.filled_lots > 0 else OrderState.RESTING
        o.updated_ms = now_ms
        self._sync(o)

    def _whole_action_refused(self, b: _Batch, text: str, now_ms: int, report: ActionReport) -> ActionReport:
        report.error = text
        report.rate_limited = any(t.lower() in text.lower() for t in _RATE_TEXTS)
        for h in b.handles:
            o = self._orders.get(h)
            if o is None or not self._awaits(o, b):
                continue
            if b.kind == "order":
                self._finish(o, OrderState.REJECTED, text, now_ms)
                report.rejects.append(text)
                continue
            if b.kind == "batchModify" and o.pending_modify is not None:
                self._end_prediction(o, o.pending_modify.prediction_id, "rejected", 0.0, now_ms)
                o.pending_modify = None
            else:
                log.warning("order_cancel_failed", coin=o.coin, cloid=o.cloid, oid=o.oid, reason=text)
            self._settle(o, now_ms)
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
            # the exchange refused this modify even if the streams already ended the order:
            # counted toward the reject storm, so logged like a place reject (the audit reads it);
            # the order itself is not rejected: it ends cancelled or goes unknown below
            reason = r.error or "modify rejected"
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
        log.warning("order_cancel_failed", coin=o.coin, cloid=o.cloid, oid=o.oid, reason=r.error)
        if self._awaits(o, b):
            self._settle(o, now_ms)

    # ------------------------------------------------------------------ exchange streams
    def on_order_updates(self, entries: Sequence[Mapping[str, Any]], now_ms: int) -> int:
        """Apply an ``orderUpdates`` frame (its ``data`` list); returns how many entries changed
        a tracked order. Malformed entries are logged and skipped."""
        applied = 0
        for e in entries:
            try:
                order = e["order"]
                status = str(e["status"])
                ts = int(e.get("statusTimestamp") or 0)
                oid = int(order["oid"])
            except (KeyError, TypeError, ValueError, AttributeError):
                log.error("error", where="engine.orders.on_order_updates", error="malformed_entry",
                          detail=str(e)[:300])
                continue
            if self._apply_status(order, oid, status, ts, now_ms, "orderUpdates"):
                applied += 1
        return applied

    def on_non_user_cancel(self, entries: Sequence[Mapping[str, Any]], now_ms: int) -> None:
        """The ``user`` channel's ``nonUserCancel`` list: the exchange cancelled these orders."""
        for e in entries:
            try:
                oid = int(e["oid"])
            except (KeyError, TypeError, ValueError):
                log.error("error", where="engine.orders.on_non_user_cancel", error="malformed_entry",
                          detail=str(e)[:300])
                continue
            o = self.by_oid(oid)
            if o is not None and o.live and oid == o.oid and o.pending_modify is None:
                self._finish(o, OrderState.CANCELLED, "nonUserCancel", now_ms)

    def _match(self, order: Mapping[str, Any], oid: int) -> TrackedOrder | None:
        cloid = order.get("cloid")
        o = self.by_cloid(cloid) if isinstance(cloid, str) else None
        return o if o is not None else self.by_oid(oid)

    def _apply_status(self, order: Mapping[str, Any], oid: int, status: str, ts: int, now_ms: int,
                      source: str) -> bool:
        """One exchange status of one order (orderUpdates entry or orderStatus answer)."""
        o = self._match(order, oid)
        state = classify_status(status)
        if o is None:
            if state is OrderState.RESTING:
                self._adopt(order, now_ms, source)
            return False
        if state is None:
            log.error("error", where="engine.orders", error="unknown_order_status",
                      detail=f"status {status!r} for {o.describe()} from {source}; state unchanged")
            return False
        if oid in o.old_oids or not o.live or (ts and ts < o.status_ts):
            return False    # a replaced leg's news, a closed order, or older than what we know
        pm = o.pending_modify
        if pm is not None and o.oid is not None and oid != o.oid:
            self._new_leg(o, oid, now_ms)        # the modify's new leg: it landed
        elif pm is not None and oid == o.oid:
            if state is not OrderState.RESTING:
                if state is OrderState.FILLED:
                    self._finish(o, OrderState.FILLED, status, now_ms, status_ts=ts)
                else:
                    pm.old_leg_gone = True        # the modify's cancel half; the new leg follows
                return True
            self._note_remaining(o, order)        # the old leg, still open as of ts: not conclusive
            self._sync(o)
            return True
        if o.oid is None:
            self._index_oid(o, oid)
        if ts:
            o.status_ts = ts
        if state is not OrderState.RESTING:
            if o.state is OrderState.UNKNOWN:
                log.info("order_status_resolved", coin=o.coin, cloid=o.cloid, oid=oid, status=status, source=source)
            self._finish(o, state, status, now_ms, status_ts=ts)
            return True
        self._note_remaining(o, order)
        self._resolve_open(o, oid, now_ms, source, status)
        return True

    def _resolve_open(self, o: TrackedOrder, oid: int, now_ms: int, source: str, status: str = "open") -> bool:
        """The exchange says the order (current leg) is open: settle a pending or unknown order."""
        if o.state is OrderState.PENDING or (o.state is OrderState.UNKNOWN and o.unknown_action in ("place", "cancel")):
            if o.state is OrderState.UNKNOWN:
                log.info("order_status_resolved", coin=o.coin, cloid=o.cloid, oid=oid, status=status, source=source)
            self._settle(o, now_ms)
            return True
        if o.state is OrderState.RESTING and o.filled_lots > 0:
            o.state = OrderState.PARTIAL
        self._sync(o)
        return False

    def _note_remaining(self, o: TrackedOrder, order: Mapping[str, Any]) -> None:
        sz = order.get("sz")
        if not isinstance(sz, str):
            return
        try:
            lots = wire.wire_to_units(sz, self._asset(o.coin).sz_decimals)
        except (ValueError, KeyError):
            return
        if lots is not None and (o.reported_lots is None or lots < o.reported_lots):
            o.reported_lots = lots

    def apply_fill(self, o: TrackedOrder, oid: int, lots: int, now_ms: int) -> str:
        """Count a fill of ``lots`` (already deduplicated by the fill processor) against the order:
        its current leg, a replaced leg, or the new leg of a pending modify. Returns the leg
        (``current``, ``old``, ``new``)."""
        o.filled_total_lots += lots
        if oid in o.old_oids:
            return "old"
        leg = "current"
        if o.pending_modify is not None and o.oid is not None and oid != o.oid and o.live:
            self._new_leg(o, oid, now_ms)   # the fill proves the modify landed
            leg = "new"
        elif o.oid is None:
            self._index_oid(o, oid)
        o.filled_lots += lots
        o.updated_ms = now_ms
        if not o.live:
            if o.state is OrderState.CANCELLED and o.filled_lots >= o.sz_lots:
                self._finish(o, OrderState.FILLED, "filled", now_ms)
            return leg
        if o.filled_lots >= o.sz_lots and o.pending_modify is None:
            self._finish(o, OrderState.FILLED, "filled", now_ms)
            return leg
        if o.state is OrderState.PENDING or (o.state is OrderState.UNKNOWN and o.unknown_action == "place"):
            if o.state is OrderState.UNKNOWN:
                log.info("order_status_resolved", coin=o.coin, cloid=o.cloid, oid=oid, status="partially_filled",
                         source="fill")
            self._settle(o, now_ms)    # a fill proves the order reached the book
        elif o.state is OrderState.RESTING:
            o.state = OrderState.PARTIAL
        self._sync(o)
        return leg

    # ------------------------------------------------------------------ orphans
    def _adopt(self, entry: Mapping[str, Any], now_ms: int, source: str) -> TrackedOrder | None:
        """Track an open order hlmm did not know (placed by another session, by hand...)."""
        try:
            coin = str(entry["coin"])
            oid = int(entry["oid"])
            side = BID if entry["side"] == "B" else ASK
            asset = self._asset(coin)
            px = wire.wire_to_units(str(entry["limitPx"]), asset.px_decimals)
            lots = wire.wire_to_units(str(entry["sz"]), asset.sz_decimals)
        except (KeyError, TypeError, ValueError) as exc:
            sync_log.error("error", where="engine.sync.adopt", error=type(exc).__name__,
                           detail=f"cannot track open order {str(entry)[:200]}: {exc}")
            return None
        if px is None or lots is None or lots <= 0 or oid in self._by_oid:
            return None
        cloid = entry.get("cloid")
        cloid = cloid.lower() if isinstance(cloid, str) and cloid else None
        if cloid is not None and cloid in self._by_cloid:
            cloid = None    # the cloid belongs to another tracked order (an old leg): track by oid only
        parts = parse_cloid(cloid) if cloid else None
        o = TrackedOrder(
            handle=self._new_handle(), cloid=cloid, coin=coin, asset_id=asset.asset_id, side=side, px_units=px,
            sz_lots=lots, tif="Alo", reduce_only=bool(entry.get("reduceOnly", False)),
            prediction_id=parts.tag if parts else 0, slot=None, state=OrderState.RESTING, created_ms=now_ms,
            updated_ms=now_ms, adopted=True, doomed=self.orphan_policy == "cancel")
        self._orders[o.handle] = o
        if cloid:
            self._by_cloid[cloid] = o.handle
        self._index_oid(o, oid)
        self._sync(o)
        event = "orphan_cancelled" if o.doomed else "order_adopted"
        sync_log.warning(event, coin=coin, cloid=cloid, oid=oid, side=SIDE_NAMES[side], px=str(entry.get("limitPx")),
                         sz=str(entry.get("sz")))
        return o

    # ------------------------------------------------------------------ safety sync
    def apply_open_orders(self, orders: Sequence[Mapping[str, Any]], requested_ms: int, now_ms: int,
                          coins: Iterable[str] | None = None) -> SyncReport:
        """Reconcile with the exchange's ``openOrders`` (or ``frontendOpenOrders``) list.

        ``requested_ms``: when the request was sent; orders that changed after it (or have an
        action in flight) are not judged by this snapshot. ``coins``: the coins the list covers
        (None: all). Unknown orders are adopted (doomed under ``orphan_policy = "cancel"``);
        tracked orders missing from the list are closed (filled when their fills cover them,
        else cancelled: fetch those coins' fills, ``SyncReport.coins_to_check``, to catch a fill
        still on its way); unknown orders missing from it are queried with ``orderStatus``.
        """
        report = SyncReport()
        scope = None if coins is None else set(coins)
        seen: set[int] = set()
        for entry in orders:
            try:
                oid = int(entry["oid"])
            except (KeyError, TypeError, ValueError):
                sync_log.error("error", where="engine.sync", error="malformed_open_order", detail=str(entry)[:200])
                continue
            report.seen += 1
            o = self._match(entry, oid)
            if o is not None and (oid in o.old_oids or (not o.live and o.updated_ms > requested_ms)):
                seen.add(o.handle)
                continue            # a replaced leg / closed since the request: not this snapshot's news
            if o is None or not o.live:
                # unknown to us, or closed on a guess while the exchange still has it: the exchange wins
                if o is not None:
                    self._by_cloid.pop(o.cloid or "", None)
                a = self._adopt(entry, now_ms, "openOrders") if (o is None or o.oid != oid) else self._revive(o, now_ms)
                if a is not None:
                    (report.doomed if a.doomed else report.adopted).append(a.handle)
                    seen.add(a.handle)
                continue
            seen.add(o.handle)
            if o.inflight is not None or (o.updated_ms > requested_ms and o.state is not OrderState.UNKNOWN):
                continue
            if o.pending_modify is not None:
                if o.oid is not None and oid != o.oid:
                    self._new_leg(o, oid, now_ms)
                else:
                    # the old leg is still open after the modify's answer was lost: it never happened
                    self._end_prediction(o, o.pending_modify.prediction_id, "rejected", 0.0, now_ms)
                    o.pending_modify = None
                    o.unknown_action = "cancel" if o.unknown_action is not None else None
            elif o.oid is None:
                self._index_oid(o, oid)
            self._note_remaining(o, entry)
            if self._resolve_open(o, oid, now_ms, "sync"):
                report.resolved.append(o.handle)
        for o in list(self._orders.values()):
            if not o.live or o.handle in seen or (scope is not None and o.coin not in scope):
                continue
            if o.inflight is not None or o.updated_ms > requested_ms:
                continue
            if o.state in (OrderState.PENDING, OrderState.UNKNOWN):
                report.queries.append(self._query_for(o))
                continue
            report.missing.append(o.handle)
            report.coins_to_check.add(o.coin)
            sync_log.warning("order_missing", coin=o.coin, cloid=o.cloid, oid=o.oid)
            if o.filled_lots >= o.sz_lots:
                self._finish(o, OrderState.FILLED, "filled", now_ms)
            else:
                self._finish(o, OrderState.CANCELLED, "missing_on_exchange", now_ms)
        return report

    def _revive(self, o: TrackedOrder, now_ms: int) -> TrackedOrder:
        """An order closed on a local guess is open on the exchange: live again, and doomed (it
        serves no slot; cancelling it is the safe move)."""
        self._finished.pop(o.handle, None)
        if o.cloid:
            self._by_cloid[o.cloid] = o.handle
        o.state = OrderState.RESTING
        o.inflight = None
        o.inflight_batch = None
        o.unknown_action = None
        o.doomed = True
        o.updated_ms = now_ms
        self._sync(o)
        sync_log.warning("orphan_cancelled", coin=o.coin, cloid=o.cloid, oid=o.oid, side=SIDE_NAMES[o.side],
                         px=self._wire_px(o), sz=self._wire_sz(o, o.remaining_lots))
        return o

    def _query_for(self, o: TrackedOrder) -> StatusQuery:
        if o.unknown_action == "modify" and o.oid is not None:
            ref: int | str = o.oid
        elif o.cloid is not None:
            ref = o.cloid
        else:
            ref = o.oid  # type: ignore[assignment]
        return StatusQuery(o.handle, ref, o.coin)

    def status_queries(self, now_ms: int) -> list[StatusQuery]:
        """``orderStatus`` requests due now for unknown orders (each at most every query_interval_ms)."""
        out = []
        for o in self._orders.values():
            if o.state is not OrderState.UNKNOWN:
                continue
            if now_ms - o.unknown_since_ms < self.query_delay_ms:
                continue
            if o.last_query_ms and now_ms - o.last_query_ms < self.query_interval_ms:
                continue
            o.last_query_ms = now_ms
            out.append(self._query_for(o))
        return out

    def on_order_status(self, query: StatusQuery | int, answer: Mapping[str, Any], now_ms: int) -> None:
        """Apply an ``orderStatus`` answer (``{"status":"order",...}`` or ``{"status":"unknownOid"}``)
        to the order it was asked for."""
        handle = query.handle if isinstance(query, StatusQuery) else query
        o = self._orders.get(handle)
        if o is None or not isinstance(answer, Mapping):
            return
        if answer.get("status") == "unknownOid":
            if o.state is OrderState.UNKNOWN and o.unknown_action == "place" and \
                    now_ms - o.sent_ms >= self.unknown_oid_grace_ms:
                log.info("order_status_resolved", coin=o.coin, cloid=o.cloid, oid=None, status="unknownOid",
                         source="orderStatus")
                self._finish(o, OrderState.REJECTED, "never reached the exchange (unknownOid)", now_ms)
            return
        try:
            body = answer["order"]
            order = body["order"]
            status = str(body["status"])
            ts = int(body.get("statusTimestamp") or 0)
            oid = int(order["oid"])
        except (KeyError, TypeError, ValueError, AttributeError):
            log.error("error", where="engine.orders.on_order_status", error="malformed_answer",
                      detail=str(answer)[:300])
            return
        pm = o.pending_modify
        if o.state is OrderState.UNKNOWN and pm is not None and oid == o.oid:
            # the old leg of a modify whose answer was lost
            state = classify_status(status)
            if state is OrderState.RESTING:
                # still open (asked after the timeout): the modify never happened
                self._end_prediction(o, pm.prediction_id, "rejected", 0.0, now_ms)
                o.pending_modify = None
                self._note_remaining(o, order)
                log.info("order_status_resolved", coin=o.coin, cloid=o.cloid, oid=oid, status=status,
                         source="orderStatus")
                self._settle(o, now_ms)
            elif state is OrderState.FILLED:
                self._finish(o, OrderState.FILLED, status, now_ms, status_ts=ts)
            elif state is not None and o.unknown_action == "modify" and o.cloid is not None:
                pm.old_leg_gone = True
                o.unknown_action = "modify_new_leg"   # ask again by cloid: it follows to a new leg
                o.last_query_ms = 0
            elif state is not None:
                # asked by cloid and still the old leg: no new leg was ever placed
                self._finish(o, OrderState.CANCELLED, f"modify replaced nothing ({status})", now_ms)
            return
        self._apply_status(order, oid, status, ts, now_ms, "orderStatus")

    # ------------------------------------------------------------------ checks
    def check_invariants(self) -> None:
        """Raise AssertionError if the manager's structures disagree (used by the property tests)."""
        held: dict[tuple[str, int, int], int] = {}
        for o in self._orders.values():
            if o.live and o.slot is not None:
                key = (o.coin, o.side, o.slot)
                assert key not in held, f"two live orders in slot {key}: {held[key]} and {o.handle}"
                held[key] = o.handle
                assert self._slots.get(key) == o.handle, f"slot map lost {key} of {o.describe()}"
            if not o.live:
                assert o.slot is None, f"finished order keeps slot: {o.describe()}"
            if o.state is OrderState.PENDING:
                assert o.inflight == "place", f"pending without a place in flight: {o.describe()}"
            assert 0 <= o.remaining_lots <= o.sz_lots or o.sz_lots < 0, o.describe()
        for key, h in self._slots.items():
            assert held.get(key) == h, f"slot map entry {key} -> {h} has no live order"
        for (coin, side), ls in self._sides.items():
            want = {o.handle for o in self._orders.values() if o.live and o.coin == coin and o.side == side}
            got = {e[0] for e in ls.entries()}
            assert want == got, f"LiveSide {coin}/{side} holds {sorted(got)}, live orders are {sorted(want)}"
            for h, px, sz, level, flags in ls.entries():
                o = self._orders[h]
                assert (px, sz, level) == (o.px_units, o.exposure_lots, -1 if o.slot is None else o.slot), \
                    f"LiveSide entry {(h, px, sz, level)} disagrees with {o.describe()}"
                assert bool(flags & FROZEN) == o.frozen, f"frozen flag of {o.describe()}"
        for h in self._finished:
            if h in self._orders:
                assert self._orders[h].state in TERMINAL_STATES, f"finished list holds {self._orders[h].describe()}"
        assert all(s in LIVE_STATES or s in TERMINAL_STATES for s in (o.state for o in self._orders.values()))
