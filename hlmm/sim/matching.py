"""Price-time-priority limit order book: the sim's matching engine.

Pure bookkeeping in integers: prices in price units, sizes in lots, owners as
small ints, order ids as ints.  It knows nothing of accounts, fees, margin or
wire formats; ``hlmm.sim.exchange`` drives it.  The API is deliberately small so
it can be ported to a Cython ``cdef class`` unchanged:

    add(oid, owner, is_buy, px, lots, flagged=False)        rest an order (must not cross)
    cancel(oid) -> lots                                      remove; 0 if not resting
    reduce(oid, lots)                                        shrink in place, keeping priority
    match(owner, is_buy, limit_px, lots, fills, expired) -> remaining lots
    fill_front(is_buy, lots, fills) -> remaining lots        trade against the best opposite order only
    front(is_buy) -> RestingOrder | None                     best opposite order a taker would meet
    best_bid() / best_ask() -> px (0 = none);  bbo();  iter_levels(is_bid);  order(oid)

``match`` walks the opposite side best price first and, within a level, oldest
order first.  Each trade appends ``(maker_oid, maker_owner, px, lots,
maker_lots_left)`` to ``fills``; trades happen at the maker's price.

Self-trade prevention is "expire maker", as Hyperliquid does: when the taker meets
a resting order of its own ``owner``, that resting order is removed (appended to
``expired`` as ``(oid, lots)``; the exchange reports it ``selfTradeCanceled``) and
matching continues behind it.

``flagged`` marks resting orders whose fill needs the caller's judgement (the
exchange flags reduce-only orders, whose allowed size depends on the owner's
position at that moment).  ``match`` stops in front of a flagged order it would
trade with and returns; the caller inspects ``front()``, then cancels, reduces or
``fill_front``s it and calls ``match`` again.  Unflagged books never stop early.

Cancels are O(1) plus a level removal when a level empties: a canceled order is
marked dead (``lots == 0``) and skipped when it reaches the front of its level's
queue; queues are compacted when dead entries dominate.

Price levels of a side are a dict ``px -> level`` plus a plain ascending list of
keys (``px`` for bids, ``-px`` for asks) so that both sides keep their best price
at the end of the list: the touch, where nearly all inserts and removals happen,
costs O(1) to edit, and a bisect finds deeper levels.
"""
from __future__ import annotations

from collections import deque
from typing import Iterator

import bisect


class RestingOrder:
    """An order on the book.  ``lots`` is what remains; 0 once it has left the book."""

    __slots__ = ("oid", "owner", "is_buy", "px", "lots", "flagged")

    def __init__(self, oid: int, owner: int, is_buy: bool, px: int, lots: int, flagged: bool) -> None:
        self.oid = oid
        self.owner = owner
        self.is_buy = is_buy
        self.px = px
        self.lots = lots
        self.flagged = flagged

    def __repr__(self) -> str:
        side = "B" if self.is_buy else "A"
        return f"RestingOrder(oid={self.oid}, owner={self.owner}, {side} {self.lots}@{self.px})"


class _Level:
    __slots__ = ("queue", "lots", "count")

    def __init__(self) -> None:
        self.queue: deque[RestingOrder] = deque()
        self.lots = 0   # live lots at this price
        self.count = 0  # live orders at this price


class OrderBook:
    """One coin's book.  See the module docstring for the contract."""

    __slots__ = ("_bids", "_asks", "_bid_keys", "_ask_keys", "_orders")

    def __init__(self) -> None:
        self._bids: dict[int, _Level] = {}
        self._asks: dict[int, _Level] = {}
        self._bid_keys: list[int] = []  # ascending px; best bid last
        self._ask_keys: list[int] = []  # ascending -px; best ask last
        self._orders: dict[int, RestingOrder] = {}

    # ---- queries -------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._orders)

    def __contains__(self, oid: int) -> bool:
        return oid in self._orders

    def order(self, oid: int) -> RestingOrder | None:
        return self._orders.get(oid)

    def best_bid(self) -> int:
        return self._bid_keys[-1] if self._bid_keys else 0

    def best_ask(self) -> int:
        return -self._ask_keys[-1] if self._ask_keys else 0

    def bbo(self) -> tuple[int, int, int, int, int, int]:
        """(bid_px, bid_lots, bid_orders, ask_px, ask_lots, ask_orders); zeros for an empty side."""
        if self._bid_keys:
            bp = self._bid_keys[-1]
            bl = self._bids[bp]
            bid = (bp, bl.lots, bl.count)
        else:
            bid = (0, 0, 0)
        if self._ask_keys:
            ap = -self._ask_keys[-1]
            al = self._asks[ap]
            ask = (ap, al.lots, al.count)
        else:
            ask = (0, 0, 0)
        return bid + ask

    def iter_levels(self, is_bid: bool) -> Iterator[tuple[int, int, int]]:
        """(px, lots, orders) per level, best first."""
        levels = self._bids if is_bid else self._asks
        sign = 1 if is_bid else -1
        for key in reversed(self._bid_keys if is_bid else self._ask_keys):
            px = sign * key
            lvl = levels[px]
            yield px, lvl.lots, lvl.count

    def level_count(self, is_bid: bool) -> int:
        return len(self._bid_keys if is_bid else self._ask_keys)

    def front(self, is_buy: bool) -> RestingOrder | None:
        """The resting order a taker on side ``is_buy`` would meet first (None if that side is empty)."""
        if is_buy:
            if not self._ask_keys:
                return None
            q = self._asks[-self._ask_keys[-1]].queue
        else:
            if not self._bid_keys:
                return None
            q = self._bids[self._bid_keys[-1]].queue
        while q[0].lots == 0:  # a live level always holds a live order
            q.popleft()
        return q[0]

    # ---- mutations -----------------------------------------------------------
    def add(self, oid: int, owner: int, is_buy: bool, px: int, lots: int, flagged: bool = False) -> RestingOrder:
        """Rest a new order at the back of its price level."""
        if lots <= 0 or px <= 0:
            raise ValueError(f"order {oid}: px and lots must be positive (px={px}, lots={lots})")
        if oid in self._orders:
            raise ValueError(f"order {oid} is already resting")
        if is_buy:
            if self._ask_keys and px >= -self._ask_keys[-1]:
                raise ValueError(f"bid {oid} at {px} would cross the best ask {-self._ask_keys[-1]}")
            levels, keys, key = self._bids, self._bid_keys, px
        else:
            if self._bid_keys and px <= self._bid_keys[-1]:
                raise ValueError(f"ask {oid} at {px} would cross the best bid {self._bid_keys[-1]}")
            levels, keys, key = self._asks, self._ask_keys, -px
        lvl = levels.get(px)
        if lvl is None:
            lvl = levels[px] = _Level()
            if not keys or key > keys[-1]:
                keys.append(key)
            else:
                bisect.insort(keys, key)
        order = RestingOrder(oid, owner, is_buy, px, lots, flagged)
        lvl.queue.append(order)
        lvl.lots += lots
        lvl.count += 1
        self._orders[oid] = order
        return order

    def cancel(self, oid: int) -> int:
        """Remove a resting order; returns the lots it had left (0 if it was not resting)."""
        order = self._orders.pop(oid, None)
        if order is None:
            return 0
        lots = order.lots
        px = order.px
        if order.is_buy:
            levels, keys, key = self._bids, self._bid_keys, px
        else:
            levels, keys, key = self._asks, self._ask_keys, -px
        lvl = levels[px]
        lvl.lots -= lots
        lvl.count -= 1
        order.lots = 0
        if lvl.count == 0:
            del levels[px]
            if keys[-1] == key:
                keys.pop()
            else:
                del keys[bisect.bisect_left(keys, key)]
        elif len(lvl.queue) > 2 * lvl.count + 16:
            lvl.queue = deque(o for o in lvl.queue if o.lots)
        return lots

    def reduce(self, oid: int, lots: int) -> None:
        """Shrink a resting order to ``lots`` (0 < lots <= current), keeping its queue position."""
        order = self._orders[oid]
        if not 0 < lots <= order.lots:
            raise ValueError(f"order {oid}: cannot reduce {order.lots} lots to {lots}")
        levels = self._bids if order.is_buy else self._asks
        levels[order.px].lots -= order.lots - lots
        order.lots = lots

    def match(self, owner: int, is_buy: bool, limit_px: int, lots: int,
              fills: list, expired: list) -> int:
        """Trade up to ``lots`` against the opposite side at prices no worse than ``limit_px``.

        Returns the lots left unfilled.  Stops early (returning the rest) in front
        of a flagged resting order; see the module docstring.
        """
        orders = self._orders
        if is_buy:
            levels, keys, sign, limit_key = self._asks, self._ask_keys, -1, -limit_px
        else:
            levels, keys, sign, limit_key = self._bids, self._bid_keys, 1, limit_px
        # keys ascend toward the best price; a level crosses while its key >= limit_key
        while lots > 0 and keys:
            key = keys[-1]
            if key < limit_key:
                break
            px = sign * key
            lvl = levels[px]
            q = lvl.queue
            while lots > 0 and q:
                o = q[0]
                olots = o.lots
                if olots == 0:
                    q.popleft()
                    continue
                if o.owner == owner:
                    q.popleft()
                    lvl.lots -= olots
                    lvl.count -= 1
                    o.lots = 0
                    del orders[o.oid]
                    expired.append((o.oid, olots))
                    continue
                if o.flagged:
                    return lots
                if olots <= lots:
                    q.popleft()
                    lots -= olots
                    lvl.lots -= olots
                    lvl.count -= 1
                    o.lots = 0
                    del orders[o.oid]
                    fills.append((o.oid, o.owner, px, olots, 0))
                else:
                    o.lots = olots - lots
                    lvl.lots -= lots
                    fills.append((o.oid, o.owner, px, lots, o.lots))
                    lots = 0
            if lvl.count == 0:
                del levels[px]
                keys.pop()
        return lots

    def fill_front(self, is_buy: bool, lots: int, fills: list) -> int:
        """Trade up to ``lots`` with the single best opposite order (flag ignored); returns the rest."""
        o = self.front(is_buy)
        if o is None or lots <= 0:
            return lots
        levels, keys = (self._asks, self._ask_keys) if is_buy else (self._bids, self._bid_keys)
        lvl = levels[o.px]
        take = o.lots if o.lots <= lots else lots
        o.lots -= take
        lvl.lots -= take
        if o.lots == 0:
            lvl.queue.popleft()
            lvl.count -= 1
            del self._orders[o.oid]
            if lvl.count == 0:
                del levels[o.px]
                keys.pop()
        fills.append((o.oid, o.owner, o.px, take, o.lots))
        return lots - take
