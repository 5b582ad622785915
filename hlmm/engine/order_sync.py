"""Reconciling the order manager with the exchange's own view of hlmm's orders.

Part of the order manager (:class:`hlmm.engine.orders.OrderManager`). The streams
(``orderUpdates``, fills) keep the manager current; this module handles the two snapshots that
check it, where the exchange is the truth:

- **openOrders** (the safety sync, :mod:`hlmm.engine.sync`): :meth:`OrderSync.apply_open_orders`
  returns a :class:`SyncReport`. Orders the exchange has and hlmm does not track are adopted, or
  adopted and doomed (cancelled whatever the target) under ``orphan_policy = "cancel"``; an order
  closed on a local guess but still open is revived and doomed; tracked orders the exchange no
  longer has are closed (filled if their fills say so, else cancelled; their coins' fills are to
  be fetched); pending and unknown orders it confirms are settled, those it lacks are queried.
  ``SyncReport.mismatches`` counts what disagreed.
- **orderStatus**: :meth:`OrderSync.status_queries` says which unknown orders to ask about (by
  oid or cloid, each at most every ``query_interval_ms``), :meth:`OrderSync.on_order_status`
  applies the answers, including ``unknownOid`` and the legs of a modify whose answer was lost.

A snapshot judges only orders that did not change after it was requested and have no action in
flight: anything newer than the snapshot is not its news.

Why a mixin of the manager and not an object of its own: reconciling takes the same transitions
as the order lifecycle (finish, settle, new leg, adopt...) on the same indexes. A separate object
would have to call a dozen of the manager's private transitions, or they would have to become
public API that the quoting code must not call. As a mixin it keeps no state and never touches
the manager's indexes; it uses only these members of the manager:

- lookups: ``get``, ``live_orders``, ``_match``; settings ``query_delay_ms``,
  ``query_interval_ms``, ``unknown_oid_grace_ms``;
- registry: ``_adopt``, ``_revive``, ``_release_cloid``, ``_index_oid``;
- transitions: ``_apply_status``, ``_resolve_open``, ``_note_remaining``, ``_new_leg``,
  ``_finish``, ``_settle``, ``_end_prediction``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from hlmm.engine.order_state import OrderState, TrackedOrder, classify_status, parse_order_status
from hlmm.log import get_logger

log = get_logger("engine.orders")
sync_log = get_logger("engine.sync")


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


class OrderSync:
    """Applying ``openOrders`` and ``orderStatus`` to the tracked orders: a mixin of
    ``OrderManager`` (see the module doc for the members of the manager it uses)."""

    # the manager's settings this mixin reads (set in OrderManager.__init__)
    query_delay_ms: int
    query_interval_ms: int
    unknown_oid_grace_ms: int

    # ------------------------------------------------------------------ openOrders (the safety sync)
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
                    self._release_cloid(o)
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
        for o in self.live_orders():
            if o.handle in seen or (scope is not None and o.coin not in scope):
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

    # ------------------------------------------------------------------ orderStatus
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
        for o in self.live_orders():
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
        o = self.get(handle)
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
            order, oid, status, ts = parse_order_status(answer["order"])
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
