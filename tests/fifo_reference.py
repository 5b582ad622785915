"""Plain-Python FIFO round-trip matching: the reference the compiled loop (hlmm._core.fifo) is tested against.

Same rules as hlmm/calibration/roundtrips.py: closes consume the oldest lots of their
position and never open; an open drops stale lots of the other side; a flip closes
|startPosition| (else what the queue holds of the old side) and opens the rest; a fill
without a dir closes against the opposite side and opens what is left.
"""
from __future__ import annotations

import math
from collections import deque

OPEN, CLOSE, FLIP, SPOT_BUY, SPOT_SELL, OTHER = range(6)
EPS = 1e-12


def tol(q: float) -> float:
    return EPS * max(1.0, q)


def match(fills: list[dict]) -> tuple[list[tuple], dict]:
    """``fills``: dicts with key, kind, pos_side, side, px, sz, fee, start_pos, time.

    Returns (round trips as (open_index, close_index, side, qty, gross, fees), counters).
    """
    queues: dict[int, deque] = {}
    trips: list[tuple] = []
    counters = {"unmatched": 0, "stale": 0}
    for i, f in enumerate(fills):
        qty = f["sz"]
        if qty <= 0:
            continue
        queue = queues.setdefault(f["key"], deque())
        fpu = f["fee"] / qty
        kind = f["kind"]
        if kind in (OPEN, SPOT_BUY):
            lside, closing, opened = (f["pos_side"] if kind == OPEN else 1), 0.0, qty
        elif kind in (CLOSE, SPOT_SELL):
            lside, closing, opened = (f["pos_side"] if kind == CLOSE else 1), qty, 0.0
        elif kind == FLIP:
            lside = f["pos_side"]
            start = f["start_pos"]
            closing = abs(start) if not math.isnan(start) else sum(lot[1] for lot in queue if lot[0] == lside)
            closing = min(closing, qty)
            opened = qty - closing
        else:
            if f["side"] == 0:
                continue
            lside, closing, opened = -f["side"], qty, 0.0
        left = closing
        while left > tol(closing) and queue and queue[0][0] == lside:
            lot = queue[0]
            take = min(left, lot[1])
            trips.append((lot[3], i, lside, take, lside * take * (f["px"] - lot[2]), take * (lot[4] + fpu)))
            lot[1] -= take
            left -= take
            if lot[1] <= tol(take):
                queue.popleft()
        if kind == OTHER:
            if left > tol(qty):
                opened, left = left, 0.0
            lside = f["side"]
        elif left > tol(qty):
            counters["unmatched"] += 1
        if kind == FLIP:
            lside = -f["pos_side"]
        if opened > tol(qty):
            while queue and queue[0][0] != lside:
                queue.popleft()
                counters["stale"] += 1
            queue.append([lside, opened, f["px"], i, fpu])
    counters["open_lots"] = sum(len(q) for q in queues.values())
    return trips, counters
