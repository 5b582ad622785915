"""Order records of the sim: what was placed, what is open, how each order ended.

``OrderStore`` keeps every open order, a bounded history of finished ones (for
``orderStatus``), and a per-user cloid index (a cloid points at the user's latest
order that carried it, so a modify's replacement, which keeps the cloid, is found).
Orders rejected at placement are recorded too, with their rejection status
(``badAloPxRejected``, ``perpMarginRejected``...), so a client whose request timed
out can learn the outcome by cloid; a rejected order never takes the cloid index
from a live order carrying the same cloid.

The ``*_json`` functions write the shapes of the reference (§2 openOrders,
frontendOpenOrders, orderStatus; §6 orderUpdates).
"""
from __future__ import annotations

from collections import OrderedDict

from hlmm.sim.numbers import fmt_fixed


class OrderRecord:
    """One order's lifetime.  Prices in units, sizes in lots."""

    __slots__ = ("oid", "user", "coin", "asset", "is_buy", "limit_px", "orig_lots", "lots",
                 "timestamp", "tif", "reduce_only", "cloid", "status", "status_ts",
                 "px_decimals", "sz_decimals")

    def __init__(self, oid: int, user: str, coin: str, asset: int, is_buy: bool, limit_px: int,
                 lots: int, timestamp: int, tif: str, reduce_only: bool, cloid: str | None,
                 px_decimals: int, sz_decimals: int) -> None:
        self.oid = oid
        self.user = user
        self.coin = coin
        self.asset = asset
        self.is_buy = is_buy
        self.limit_px = limit_px
        self.orig_lots = lots
        self.lots = lots
        self.timestamp = timestamp
        self.tif = tif
        self.reduce_only = reduce_only
        self.cloid = cloid
        self.status = "open"
        self.status_ts = timestamp
        self.px_decimals = px_decimals
        self.sz_decimals = sz_decimals

    @property
    def side(self) -> str:
        return "B" if self.is_buy else "A"

    def basic_json(self) -> dict:
        """The ``order`` object of a WS orderUpdates entry."""
        d = {"coin": self.coin, "side": self.side, "limitPx": fmt_fixed(self.limit_px, self.px_decimals),
             "sz": fmt_fixed(self.lots, self.sz_decimals), "oid": self.oid, "timestamp": self.timestamp,
             "origSz": fmt_fixed(self.orig_lots, self.sz_decimals)}
        if self.cloid is not None:
            d["cloid"] = self.cloid
        return d

    def update_json(self) -> dict:
        """One WS orderUpdates entry for the record's current status."""
        return {"order": self.basic_json(), "status": self.status, "statusTimestamp": self.status_ts}

    def open_json(self) -> dict:
        """An ``openOrders`` entry."""
        d = {"coin": self.coin, "limitPx": fmt_fixed(self.limit_px, self.px_decimals), "oid": self.oid,
             "side": self.side, "sz": fmt_fixed(self.lots, self.sz_decimals), "timestamp": self.timestamp}
        if self.cloid is not None:
            d["cloid"] = self.cloid
        return d

    def frontend_json(self) -> dict:
        """A ``frontendOpenOrders`` entry (also the order inside ``orderStatus``)."""
        return {"coin": self.coin, "side": self.side, "limitPx": fmt_fixed(self.limit_px, self.px_decimals),
                "sz": fmt_fixed(self.lots, self.sz_decimals), "oid": self.oid, "timestamp": self.timestamp,
                "triggerCondition": "N/A", "isTrigger": False, "triggerPx": "0.0", "children": [],
                "isPositionTpsl": False, "reduceOnly": self.reduce_only, "orderType": "Limit",
                "origSz": fmt_fixed(self.orig_lots, self.sz_decimals), "tif": self.tif, "cloid": self.cloid}

    def status_json(self) -> dict:
        """The ``orderStatus`` answer for this order."""
        return {"status": "order",
                "order": {"order": self.frontend_json(), "status": self.status, "statusTimestamp": self.status_ts}}


class OrderStore:
    """Open orders, recent finished orders, and the cloid index."""

    def __init__(self, finished_kept: int) -> None:
        self.open: dict[int, OrderRecord] = {}
        self.user_open: dict[str, dict[int, OrderRecord]] = {}
        self._finished: OrderedDict[int, OrderRecord] = OrderedDict()
        self._finished_kept = finished_kept
        self._cloids: dict[tuple[str, str], int] = {}

    def get(self, oid: int) -> OrderRecord | None:
        rec = self.open.get(oid)
        return rec if rec is not None else self._finished.get(oid)

    def by_cloid(self, user: str, cloid: str) -> OrderRecord | None:
        oid = self._cloids.get((user, cloid.lower()))
        return None if oid is None else self.get(oid)

    def open_of(self, user: str) -> dict[int, OrderRecord]:
        return self.user_open.get(user, {})

    def open_count(self, user: str) -> int:
        return len(self.user_open.get(user, ()))

    def add_open(self, rec: OrderRecord) -> None:
        self.open[rec.oid] = rec
        self.user_open.setdefault(rec.user, {})[rec.oid] = rec
        if rec.cloid is not None:
            self._cloids[(rec.user, rec.cloid.lower())] = rec.oid

    def finish(self, rec: OrderRecord, status: str, ts: int) -> None:
        """Close an order (open or never opened) with a final status."""
        rec.status = status
        rec.status_ts = ts
        if self.open.pop(rec.oid, None) is not None:
            mine = self.user_open.get(rec.user)
            if mine is not None:
                mine.pop(rec.oid, None)
                if not mine:
                    del self.user_open[rec.user]
        elif rec.cloid is not None:
            # a rejected order never hides a live order that carries the same cloid
            key = (rec.user, rec.cloid.lower())
            if self._cloids.get(key) not in self.open:
                self._cloids[key] = rec.oid
        self._finished[rec.oid] = rec
        while len(self._finished) > self._finished_kept:
            old_oid, old = self._finished.popitem(last=False)
            if old.cloid is not None and self._cloids.get((old.user, old.cloid.lower())) == old_oid:
                del self._cloids[(old.user, old.cloid.lower())]
