# cython: language_level=3
"""FIFO round-trip matching (the hot loop of :mod:`hlmm.calibration.roundtrips`).

Lots live in one pool of parallel arrays, linked into a FIFO list per position key
(account x coin, densely numbered by the caller).  Each fill creates at most one lot and
each (lot, close) pair either finishes the lot or the close, so the pool needs ``n``
entries and the output at most ``2n`` round trips.  The rules (closes never open,
opens drop stale lots of the other side, flips close ``|startPosition|`` when known)
are documented in ``roundtrips.py``; this is the same algorithm in C types.
"""
from libc.math cimport fabs, isnan
from libc.stdint cimport int8_t, int32_t, int64_t

import numpy as np

cimport numpy as cnp

cnp.import_array()

cdef double EPS = 1e-12


cdef inline double _tol(double q) noexcept nogil:
    return EPS * (q if q > 1.0 else 1.0)


def match_fifo(const int64_t[::1] time_ms, const int64_t[::1] key, const int8_t[::1] kind,
               const int8_t[::1] pos_side, const int8_t[::1] side, const double[::1] px, const double[::1] sz,
               const double[::1] fee, const double[::1] start_pos, int64_t n_keys):
    """Round trips of time-ordered fills; see the module docstring.

    Returns ``(columns, counters)``: columns ``open_ms, close_ms, key, pos_side, qty,
    entry_px, exit_px, gross, fees, open_index, close_index`` as numpy arrays, and
    counters ``unmatched, unmatched_ntl, stale, stale_ntl, open_lots, open_ntl``.
    """
    cdef Py_ssize_t n = time_ms.shape[0]
    cdef Py_ssize_t cap = 2 * n + 1
    if not (key.shape[0] == kind.shape[0] == pos_side.shape[0] == side.shape[0] == px.shape[0] == sz.shape[0]
            == fee.shape[0] == start_pos.shape[0] == n):
        raise ValueError("all columns must have the same length")
    lot_side_a = np.zeros(n + 1, dtype=np.int8)
    lot_qty_a = np.zeros(n + 1, dtype=np.float64)
    lot_px_a = np.zeros(n + 1, dtype=np.float64)
    lot_time_a = np.zeros(n + 1, dtype=np.int64)
    lot_fee_a = np.zeros(n + 1, dtype=np.float64)
    lot_idx_a = np.zeros(n + 1, dtype=np.int64)
    lot_next_a = np.full(n + 1, -1, dtype=np.int64)
    head_a = np.full(max(n_keys, 1), -1, dtype=np.int64)
    tail_a = np.full(max(n_keys, 1), -1, dtype=np.int64)
    cdef int8_t[::1] lot_side = lot_side_a
    cdef double[::1] lot_qty = lot_qty_a
    cdef double[::1] lot_px = lot_px_a
    cdef int64_t[::1] lot_time = lot_time_a
    cdef double[::1] lot_fee = lot_fee_a
    cdef int64_t[::1] lot_idx = lot_idx_a
    cdef int64_t[::1] lot_next = lot_next_a
    cdef int64_t[::1] head = head_a
    cdef int64_t[::1] tail = tail_a

    o_open = np.empty(cap, dtype=np.int64)
    o_close = np.empty(cap, dtype=np.int64)
    o_key = np.empty(cap, dtype=np.int64)
    o_side = np.empty(cap, dtype=np.int8)
    o_qty = np.empty(cap, dtype=np.float64)
    o_entry = np.empty(cap, dtype=np.float64)
    o_exit = np.empty(cap, dtype=np.float64)
    o_gross = np.empty(cap, dtype=np.float64)
    o_fees = np.empty(cap, dtype=np.float64)
    o_oidx = np.empty(cap, dtype=np.int64)
    o_cidx = np.empty(cap, dtype=np.int64)
    cdef int64_t[::1] w_open = o_open
    cdef int64_t[::1] w_close = o_close
    cdef int64_t[::1] w_key = o_key
    cdef int8_t[::1] w_side = o_side
    cdef double[::1] w_qty = o_qty
    cdef double[::1] w_entry = o_entry
    cdef double[::1] w_exit = o_exit
    cdef double[::1] w_gross = o_gross
    cdef double[::1] w_fees = o_fees
    cdef int64_t[::1] w_oidx = o_oidx
    cdef int64_t[::1] w_cidx = o_cidx

    cdef Py_ssize_t i, out = 0
    cdef int64_t used = 0, k, lot, nxt
    cdef int8_t kd, lside, old
    cdef double qty, left, take, fpu, closing, opened
    cdef int64_t unmatched = 0, stale = 0
    cdef double unmatched_ntl = 0.0, stale_ntl = 0.0

    with nogil:
        for i in range(n):
            k = key[i]
            kd = kind[i]
            qty = sz[i]
            if qty <= 0.0:
                continue
            fpu = fee[i] / qty
            # ---- decide what closes and what opens
            closing = 0.0
            lside = 0
            if kd == FILL_OPEN or kd == FILL_SPOT_BUY:
                lside = pos_side[i] if kd == FILL_OPEN else 1
                opened = qty
            elif kd == FILL_CLOSE or kd == FILL_SPOT_SELL:
                lside = pos_side[i] if kd == FILL_CLOSE else 1
                closing = qty
                opened = 0.0
            elif kd == FILL_FLIP:
                old = pos_side[i]
                if not isnan(start_pos[i]):
                    closing = fabs(start_pos[i])
                else:
                    lot = head[k]
                    while lot >= 0:
                        if lot_side[lot] == old:
                            closing += lot_qty[lot]
                        lot = lot_next[lot]
                if closing > qty:
                    closing = qty
                lside = old
                opened = qty - closing
            else:
                if side[i] == 0:
                    continue
                lside = -side[i]  # a buy closes shorts, a sell closes longs
                closing = qty
                opened = 0.0
            # ---- close against the head of the queue
            left = closing
            while left > _tol(closing) and head[k] >= 0 and lot_side[head[k]] == lside:
                lot = head[k]
                take = left if left < lot_qty[lot] else lot_qty[lot]
                w_open[out] = lot_time[lot]
                w_close[out] = time_ms[i]
                w_key[out] = k
                w_side[out] = lside
                w_qty[out] = take
                w_entry[out] = lot_px[lot]
                w_exit[out] = px[i]
                w_gross[out] = lside * take * (px[i] - lot_px[lot])
                w_fees[out] = take * (lot_fee[lot] + fpu)
                w_oidx[out] = lot_idx[lot]
                w_cidx[out] = i
                out += 1
                lot_qty[lot] -= take
                left -= take
                if lot_qty[lot] <= _tol(take):
                    head[k] = lot_next[lot]
                    if head[k] < 0:
                        tail[k] = -1
            if kd == FILL_OTHER:
                # no dir: what does not close opens on the trade's side
                if left > _tol(qty):
                    opened = left
                    left = 0.0
                lside = side[i]
            elif left > _tol(qty):
                unmatched += 1
                unmatched_ntl += left * px[i]
            if kd == FILL_FLIP:
                lside = -pos_side[i]
            if opened > _tol(qty):
                # an open finding lots of the other side: fills are missing; drop them
                while head[k] >= 0 and lot_side[head[k]] != lside:
                    lot = head[k]
                    stale += 1
                    stale_ntl += lot_qty[lot] * lot_px[lot]
                    head[k] = lot_next[lot]
                    if head[k] < 0:
                        tail[k] = -1
                lot = used
                used += 1
                lot_side[lot] = lside
                lot_qty[lot] = opened
                lot_px[lot] = px[i]
                lot_time[lot] = time_ms[i]
                lot_fee[lot] = fpu
                lot_idx[lot] = i
                lot_next[lot] = -1
                if tail[k] >= 0:
                    lot_next[tail[k]] = lot
                else:
                    head[k] = lot
                tail[k] = lot

    cdef int64_t open_lots = 0
    cdef double open_ntl = 0.0
    for k in range(n_keys):
        lot = head[k]
        while lot >= 0:
            open_lots += 1
            open_ntl += lot_qty[lot] * lot_px[lot]
            lot = lot_next[lot]
    columns = {
        "open_ms": o_open[:out], "close_ms": o_close[:out], "key": o_key[:out], "pos_side": o_side[:out],
        "qty": o_qty[:out], "entry_px": o_entry[:out], "exit_px": o_exit[:out], "gross": o_gross[:out],
        "fees": o_fees[:out], "open_index": o_oidx[:out], "close_index": o_cidx[:out],
    }
    counters = {"unmatched": unmatched, "unmatched_ntl": unmatched_ntl, "stale": stale, "stale_ntl": stale_ntl,
                "open_lots": open_lots, "open_ntl": open_ntl}
    return columns, counters
