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

One object, three modules (each a concept; all state lives in ``OrderManager.__init__``):

- this one: the tracked orders, their indexes and ladder slots, and every state transition,
  including the ones the exchange's streams drive (``orderUpdates``, ``nonUserCancel``, fills)
  and adopting an order found on the exchange;
- :mod:`hlmm.engine.order_actions`: the actions sent for the orders (``submit``,
  ``cancel_all``) and their answers (``on_action_result`` / ``_error`` / ``_timeout``);
- :mod:`hlmm.engine.order_sync`: reconciling with the exchange's snapshots (``openOrders`` via
  ``apply_open_orders``, ``orderStatus`` via ``status_queries`` / ``on_order_status``).

Their public names (``OutboundAction``, ``ActionReport``, ``Predictor``, ``StatusQuery``,
``SyncReport``, ``SlotConflict``) are importable from here.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Mapping, Sequence

from hlmm._core.reconcile import DOOMED, FROZEN, REDUCE_ONLY, LiveSide
from hlmm.exchange import wire
from hlmm.exchange.assets import AssetInfo
from hlmm.exchange.cloid import CloidFactory, parse_cloid
from hlmm.engine.order_actions import ActionReport, OrderActions, OutboundAction, Predictor, _Batch
from hlmm.engine.order_state import (
    ASK, BID, LIVE_STATES, SIDE_NAMES, TERMINAL_STATES, OrderState, SlotConflict, TrackedOrder,
    classify_status, parse_order_status,
)
from hlmm.engine.order_sync import OrderSync, StatusQuery, SyncReport
from hlmm.engine.outcomes import NO_OUTCOMES, OutcomeSink
from hlmm.log import get_logger

__all__ = [
    "ActionReport", "OrderManager", "OutboundAction", "Predictor", "SlotConflict", "StatusQuery", "SyncReport",
]

log = get_logger("engine.orders")
sync_log = get_logger("engine.sync")

CANCEL_RETRY_MS = 500          # first hold after a refused cancel; doubles per refusal in a row
CANCEL_RETRY_MAX_MS = 8_000


class OrderManager(OrderActions, OrderSync):
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
        self._held: set[int] = set()     # handles whose refused cancel waits out its hold
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

    def _track(self, o: TrackedOrder) -> None:
        """Register a new order (placed or adopted) under its handle and cloid."""
        self._orders[o.handle] = o
        if o.cloid:
            self._by_cloid[o.cloid] = o.handle

    def _release_cloid(self, o: TrackedOrder) -> None:
        """Free the cloid of a closed order the exchange still has (the order it leads to is
        adopted or revived next)."""
        self._by_cloid.pop(o.cloid or "", None)


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

    # ------------------------------------------------------------------ refused cancels
    def _hold_cancel(self, o: TrackedOrder, now_ms: int) -> int:
        """A cancel of ``o`` was refused (not because it is gone): hold it frozen for a backoff
        (0.5 s doubling to 8 s) so the quote cycle does not re-send it at its own rate. Returns ms."""
        o.cancel_failures += 1
        wait = min(CANCEL_RETRY_MAX_MS, CANCEL_RETRY_MS << min(o.cancel_failures - 1, 8))
        o.cancel_hold_until_ms = now_ms + wait
        self._held.add(o.handle)
        self._sync(o)
        return wait

    def _clear_hold(self, o: TrackedOrder) -> None:
        if o.cancel_hold_until_ms:
            o.cancel_hold_until_ms = 0
            self._held.discard(o.handle)
            if o.live:
                self._sync(o)

    def release_cancel_holds(self, now_ms: int) -> int:
        """Orders whose refused cancel has waited out its hold become cancellable again (call at
        the start of each quote cycle). Returns how many were released."""
        if not self._held:           # the usual case: one set check per cycle
            return 0
        n = 0
        for h in list(self._held):
            o = self._orders[h]          # _finish clears a hold before the order can be evicted
            if now_ms >= o.cancel_hold_until_ms:
                self._clear_hold(o)
                n += 1
        return n

    def _finish(self, o: TrackedOrder, state: OrderState, reason: str, now_ms: int, *, status_ts: int = 0) -> None:
        """Move a live order to a terminal state (or correct a terminal one to FILLED)."""
        was_live = o.live
        if not was_live and not (state is OrderState.FILLED and o.state is OrderState.CANCELLED):
            return
        self._clear_hold(o)
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

    def _settle(self, o: TrackedOrder, now_ms: int) -> None:
        """No answer is awaited any more and the order is on the book."""
        o.inflight = None
        o.inflight_batch = None
        o.unknown_action = None
        o.state = OrderState.PARTIAL if o.filled_lots > 0 else OrderState.RESTING
        o.updated_ms = now_ms
        self._sync(o)


    # ------------------------------------------------------------------ exchange streams
    def on_order_updates(self, entries: Sequence[Mapping[str, Any]], now_ms: int) -> int:
        """Apply an ``orderUpdates`` frame (its ``data`` list); returns how many entries changed
        a tracked order. Malformed entries are logged and skipped."""
        applied = 0
        for e in entries:
            try:
                order, oid, status, ts = parse_order_status(e)
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

    # ------------------------------------------------------------------ orders found on the exchange
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
        self._track(o)
        self._index_oid(o, oid)
        self._sync(o)
        event = "orphan_cancelled" if o.doomed else "order_adopted"
        sync_log.warning(event, coin=coin, cloid=cloid, oid=oid, side=SIDE_NAMES[side], px=str(entry.get("limitPx")),
                         sz=str(entry.get("sz")))
        return o

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
            assert (o.live and o.cancel_hold_until_ms > 0) == (o.handle in self._held), \
                f"cancel hold of {o.describe()} disagrees with the held set"
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
