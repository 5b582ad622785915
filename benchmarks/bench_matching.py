"""Matching engine throughput: book events per second (target >= 1 M/s, DESIGN §7).

One event = one book operation: a limit order (matched against the opposite side,
its rest added to the book) or a cancel.  The stream is seeded and identical for
both contenders: ~62 % passive limits near the touch, ~30 % cancels of earlier
orders, ~8 % marketable limits that sweep one or more levels.

Baseline (same run): a straightforward pure-Python book — sorted price lists kept
with ``bisect.insort``, FIFO lists per level with ``pop(0)``/``remove`` — the
version one writes first.  Both books are checked to produce identical fills.

Events/s = ``EVENTS / median``; run with
``pytest benchmarks/bench_matching.py --benchmark-enable -q``.
"""
from __future__ import annotations

import bisect
import random

import pytest

from hlmm.sim.matching import OrderBook

EVENTS = 20_000


def make_stream(n: int = EVENTS, seed: int = 7, depth_mean: float = 6.0,
                cancel_window: int = 400, drift: bool = True) -> list[tuple]:
    """``depth_mean``: mean distance of passive orders from mid, in ticks (small = long
    queues); ``cancel_window``: cancels pick among the last N order ids; ``drift``:
    the mid random-walks (False keeps queues piling up at the same levels)."""
    rng = random.Random(seed)
    mid = 100_000
    ops: list[tuple] = []
    oid = 0
    for _ in range(n):
        r = rng.random()
        if r < 0.30 and oid:
            ops.append(("C", rng.randint(max(1, oid - cancel_window), oid)))
            continue
        oid += 1
        is_buy = rng.random() < 0.5
        lots = rng.randint(1, 50)
        if r < 0.38:  # marketable: crosses a few levels
            px = mid + (8 if is_buy else -8)
        else:
            off = int(rng.expovariate(1 / depth_mean)) + 1
            px = mid - off if is_buy else mid + off
        if drift:
            mid += rng.choice((-1, 0, 0, 1))
        ops.append(("L", oid, rng.randint(0, 20), is_buy, px, lots))
    return ops


def run_engine(book: OrderBook, ops: list[tuple]) -> int:
    fills: list = []
    expired: list = []
    match, add, cancel = book.match, book.add, book.cancel
    for op in ops:
        if op[0] == "L":
            _, oid, owner, is_buy, px, lots = op
            rest = match(owner, is_buy, px, lots, fills, expired)
            if rest:
                add(oid, owner, is_buy, px, rest)
        else:
            cancel(op[1])
    return len(fills)


class ListBook:
    """The straightforward baseline: bisect-sorted price lists and FIFO lists per level."""

    def __init__(self) -> None:
        self.bid_px: list[int] = []   # ascending
        self.ask_px: list[int] = []
        self.levels: dict[tuple[bool, int], list[list]] = {}
        self.where: dict[int, list] = {}

    def add(self, oid, owner, is_buy, px, lots):
        key = (is_buy, px)
        q = self.levels.get(key)
        if q is None:
            q = self.levels[key] = []
            bisect.insort(self.bid_px if is_buy else self.ask_px, px)
        o = [oid, owner, is_buy, px, lots]
        q.append(o)
        self.where[oid] = o

    def _drop_level(self, is_buy, px):
        del self.levels[(is_buy, px)]
        pxs = self.bid_px if is_buy else self.ask_px
        del pxs[bisect.bisect_left(pxs, px)]

    def cancel(self, oid):
        o = self.where.pop(oid, None)
        if o is None:
            return 0
        q = self.levels[(o[2], o[3])]
        q.remove(o)
        if not q:
            self._drop_level(o[2], o[3])
        return o[4]

    def match(self, owner, is_buy, limit, lots, fills, expired):
        pxs = self.ask_px if is_buy else self.bid_px
        while lots and pxs:
            px = pxs[0] if is_buy else pxs[-1]
            if (px > limit) if is_buy else (px < limit):
                break
            q = self.levels[(not is_buy, px)]
            while lots and q:
                o = q[0]
                if o[1] == owner:
                    q.pop(0)
                    del self.where[o[0]]
                    expired.append((o[0], o[4]))
                    continue
                take = min(lots, o[4])
                o[4] -= take
                lots -= take
                fills.append((o[0], o[1], px, take, o[4]))
                if o[4] == 0:
                    q.pop(0)
                    del self.where[o[0]]
            if not q:
                self._drop_level(not is_buy, px)
        return lots


def run_baseline(book: ListBook, ops: list[tuple]) -> int:
    fills: list = []
    expired: list = []
    for op in ops:
        if op[0] == "L":
            _, oid, owner, is_buy, px, lots = op
            rest = book.match(owner, is_buy, px, lots, fills, expired)
            if rest:
                book.add(oid, owner, is_buy, px, rest)
        else:
            book.cancel(op[1])
    return len(fills)


OPS = make_stream()
# Long queues at few levels with cancels deep in them (a crowded touch).
DEEP_OPS = make_stream(seed=11, depth_mean=3.0, cancel_window=8000, drift=False)


@pytest.mark.parametrize("ops", [OPS, DEEP_OPS], ids=["touch", "deep"])
def test_engine_and_baseline_agree(ops):
    f1: list = []
    f2: list = []
    a, b = OrderBook(), ListBook()
    for op in ops:
        if op[0] == "L":
            _, oid, owner, is_buy, px, lots = op
            r1 = a.match(owner, is_buy, px, lots, f1, [])
            r2 = b.match(owner, is_buy, px, lots, f2, [])
            assert r1 == r2
            if r1:
                a.add(oid, owner, is_buy, px, r1)
                b.add(oid, owner, is_buy, px, r2)
        else:
            assert a.cancel(op[1]) == b.cancel(op[1])
    assert f1 == f2 and len(f1) > 1000


@pytest.mark.parametrize("ops", [OPS, DEEP_OPS], ids=["touch", "deep"])
def test_bench_matching_engine(benchmark, ops):
    benchmark.extra_info["events"] = len(ops)
    n = benchmark.pedantic(run_engine, setup=lambda: ((OrderBook(), ops), {}), rounds=15, iterations=1)
    assert n > 1000


@pytest.mark.parametrize("ops", [OPS, DEEP_OPS], ids=["touch", "deep"])
def test_bench_matching_baseline_listbook(benchmark, ops):
    benchmark.extra_info["events"] = len(ops)
    n = benchmark.pedantic(run_baseline, setup=lambda: ((ListBook(), ops), {}), rounds=15, iterations=1)
    assert n > 1000


# ---- the full order path (informational): the same stream through SimExchange.internal_place ----
# Margin checks, fills with fees/PnL, order records and event buffering on top of the engine.
# Its ratio to test_bench_matching_engine[touch] is the sim's overhead over raw matching.

from hlmm.sim.config import SimConfig  # noqa: E402
from hlmm.sim.exchange import SimExchange  # noqa: E402

FLOW_ACCOUNTS = ["0x" + f"{i + 1:040x}" for i in range(21)]


def _sim_with_accounts() -> SimExchange:
    ex = SimExchange(SimConfig(seed=1), now_ms=lambda: 1_700_000_000_000)
    for a in FLOW_ACCOUNTS:
        ex.create_account(a, 1_000_000_000)
    return ex


def run_sim_path(ex: SimExchange, ops: list[tuple]) -> int:
    """BTC: 1 tick = 10 units ($1); sizes x10 lots so every order is >= $10."""
    oid_map: dict[int, tuple[str, int]] = {}
    placed = 0
    for op in ops:
        if op[0] == "L":
            _, oid, owner, is_buy, px, lots = op
            acct = FLOW_ACCOUNTS[owner]
            st = ex.internal_place(acct, "BTC", is_buy, 1_000_000 + 10 * (px - 100_000), 10 * lots)
            if "resting" in st:
                oid_map[oid] = (acct, st["resting"]["oid"])
            placed += 1
        else:
            hit = oid_map.pop(op[1], None)
            if hit is not None:
                ex.internal_cancel(hit[0], "BTC", hit[1])
    return placed


def test_bench_sim_order_path(benchmark):
    benchmark.extra_info["events"] = len(OPS)
    n = benchmark.pedantic(run_sim_path, setup=lambda: ((_sim_with_accounts(), OPS), {}), rounds=5, iterations=1)
    assert n > 1000
