"""The matching engine (hlmm.sim.matching.OrderBook): priority, partial fills,
self-trade expiry, flagged stops, level bookkeeping, and a property test against a
naive reference book."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hlmm.sim.matching import OrderBook


def test_price_then_time_priority_and_maker_price():
    b = OrderBook()
    b.add(1, owner=1, is_buy=False, px=101, lots=5)
    b.add(2, owner=2, is_buy=False, px=100, lots=3)
    b.add(3, owner=3, is_buy=False, px=100, lots=4)
    fills, expired = [], []
    rest = b.match(9, True, 101, 10, fills, expired)
    assert rest == 0
    # best price first (100), oldest first within it, then 101; trades at the maker's price
    assert fills == [(2, 2, 100, 3, 0), (3, 3, 100, 4, 0), (1, 1, 101, 3, 2)]
    assert expired == []
    assert b.bbo() == (0, 0, 0, 101, 2, 1)
    assert len(b) == 1 and 1 in b and b.order(1).lots == 2


def test_limit_price_stops_matching_and_returns_rest():
    b = OrderBook()
    b.add(1, 1, True, 99, 2)
    b.add(2, 1, True, 98, 2)
    fills = []
    assert b.match(5, False, 99, 5, fills, []) == 3
    assert fills == [(1, 1, 99, 2, 0)]
    assert b.best_bid() == 98


def test_partial_fill_keeps_queue_position():
    b = OrderBook()
    b.add(1, 1, False, 100, 10)
    b.add(2, 2, False, 100, 10)
    fills = []
    b.match(9, True, 100, 4, fills, [])
    assert fills == [(1, 1, 100, 4, 6)]
    fills.clear()
    b.match(9, True, 100, 8, fills, [])
    assert fills == [(1, 1, 100, 6, 0), (2, 2, 100, 2, 8)]


def test_self_trade_expires_the_resting_order_and_continues():
    b = OrderBook()
    b.add(1, owner=7, is_buy=False, px=100, lots=5)
    b.add(2, owner=8, is_buy=False, px=100, lots=5)
    fills, expired = [], []
    rest = b.match(7, True, 100, 3, fills, expired)
    assert rest == 0
    assert expired == [(1, 5)]
    assert fills == [(2, 8, 100, 3, 2)]
    assert 1 not in b and b.bbo()[3:] == (100, 2, 1)


def test_cancel_and_level_removal():
    b = OrderBook()
    b.add(1, 1, True, 100, 5)
    b.add(2, 1, True, 100, 6)
    assert b.cancel(1) == 5
    assert b.cancel(1) == 0
    assert b.bbo()[:3] == (100, 6, 1)
    assert b.cancel(2) == 6
    assert b.best_bid() == 0 and b.level_count(True) == 0
    assert list(b.iter_levels(True)) == []


def test_reduce_keeps_priority():
    b = OrderBook()
    b.add(1, 1, False, 100, 10)
    b.add(2, 2, False, 100, 10)
    b.reduce(1, 3)
    fills = []
    b.match(9, True, 100, 4, fills, [])
    assert fills == [(1, 1, 100, 3, 0), (2, 2, 100, 1, 9)]
    with pytest.raises(ValueError):
        b.reduce(2, 10)


def test_add_refuses_crossing_duplicate_and_nonpositive():
    b = OrderBook()
    b.add(1, 1, False, 100, 1)
    with pytest.raises(ValueError, match="cross"):
        b.add(2, 1, True, 100, 1)
    with pytest.raises(ValueError, match="already resting"):
        b.add(1, 1, False, 101, 1)
    with pytest.raises(ValueError, match="positive"):
        b.add(3, 1, False, 101, 0)


def test_flagged_order_stops_match_then_fill_front():
    b = OrderBook()
    b.add(1, 1, False, 100, 2)
    b.add(2, 2, False, 100, 5, flagged=True)
    b.add(3, 3, False, 100, 5)
    fills = []
    rest = b.match(9, True, 100, 10, fills, [])
    assert rest == 8 and fills == [(1, 1, 100, 2, 0)]
    front = b.front(True)
    assert front.oid == 2 and front.flagged
    rest = b.fill_front(True, rest, fills)
    assert rest == 3 and fills[-1] == (2, 2, 100, 5, 0)
    rest = b.match(9, True, 100, rest, fills, [])
    assert rest == 0 and fills[-1] == (3, 3, 100, 3, 2)


def test_iter_levels_best_first_with_counts():
    b = OrderBook()
    for oid, (px, lots) in enumerate([(99, 1), (97, 2), (99, 3), (98, 4)], start=1):
        b.add(oid, oid, True, px, lots)
    b.add(10, 1, False, 101, 7)
    b.add(11, 1, False, 102, 1)
    assert list(b.iter_levels(True)) == [(99, 4, 2), (98, 4, 1), (97, 2, 1)]
    assert list(b.iter_levels(False)) == [(101, 7, 1), (102, 1, 1)]


def test_many_cancels_at_one_level_compact_queue():
    b = OrderBook()
    b.add(0, 0, True, 100, 1)
    for oid in range(1, 500):
        b.add(oid, 1, True, 100, 1)
        b.cancel(oid)
    lvl = b._bids[100]
    assert lvl.count == 1 and len(lvl.queue) <= 2 * lvl.count + 17
    fills = []
    assert b.match(2, False, 100, 5, fills, []) == 4
    assert fills == [(0, 0, 100, 1, 0)]


# ---- property test against a naive reference book --------------------------------
class NaiveBook:
    """Obviously-correct reference: a flat list scanned and sorted on every match."""

    def __init__(self):
        self.orders = []  # [seq, oid, owner, is_buy, px, lots]
        self.seq = 0

    def add(self, oid, owner, is_buy, px, lots):
        self.seq += 1
        self.orders.append([self.seq, oid, owner, is_buy, px, lots])

    def cancel(self, oid):
        for o in self.orders:
            if o[1] == oid:
                self.orders.remove(o)
                return o[5]
        return 0

    def match(self, owner, is_buy, limit, lots):
        fills, expired = [], []
        book = [o for o in self.orders if o[3] != is_buy and (o[4] <= limit if is_buy else o[4] >= limit)]
        book.sort(key=lambda o: (o[4] if is_buy else -o[4], o[0]))
        for o in book:
            if lots == 0:
                break
            if o[2] == owner:
                expired.append((o[1], o[5]))
                self.orders.remove(o)
                continue
            take = min(lots, o[5])
            o[5] -= take
            lots -= take
            fills.append((o[1], o[2], o[4], take, o[5]))
            if o[5] == 0:
                self.orders.remove(o)
        return lots, fills, expired

    def levels(self, is_bid):
        agg = {}
        for o in self.orders:
            if o[3] == is_bid:
                px_lots, n = agg.get(o[4], (0, 0))
                agg[o[4]] = (px_lots + o[5], n + 1)
        pxs = sorted(agg, reverse=is_bid)
        return [(p, agg[p][0], agg[p][1]) for p in pxs]


ops = st.lists(
    st.tuples(
        st.sampled_from(["limit", "limit", "limit", "cancel"]),
        st.integers(0, 3),          # owner
        st.booleans(),              # is_buy
        st.integers(95, 105),       # px
        st.integers(1, 20),         # lots
        st.integers(0, 60),         # which oid to cancel
    ),
    max_size=120,
)


@settings(max_examples=200, deadline=None)
@given(ops)
def test_matches_naive_reference(seq):
    fast, ref = OrderBook(), NaiveBook()
    oid = 0
    for kind, owner, is_buy, px, lots, target in seq:
        if kind == "cancel":
            assert fast.cancel(target) == ref.cancel(target)
            continue
        oid += 1
        fills, expired = [], []
        rest = fast.match(owner, is_buy, px, lots, fills, expired)
        ref_rest, ref_fills, ref_expired = ref.match(owner, is_buy, px, lots)
        assert (rest, fills, expired) == (ref_rest, ref_fills, ref_expired)
        if rest:
            fast.add(oid, owner, is_buy, px, rest)
            ref.add(oid, owner, is_buy, px, rest)
        assert list(fast.iter_levels(True)) == ref.levels(True)
        assert list(fast.iter_levels(False)) == ref.levels(False)
        assert len(fast) == len(ref.orders)
        bb, ba = fast.best_bid(), fast.best_ask()
        assert bb == 0 or ba == 0 or bb < ba
