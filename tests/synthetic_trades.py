"""Synthetic trade histories with known properties, written in Hyperliquid's export formats.

Used by the calibrate tests and benchmark: a market maker's fills on a few coins, every
position opened and closed (FIFO-consistent, no overlap within a coin), with a known
edge per UTC hour and per size.  Nothing here touches hlmm.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

UI_HEADER = "time,coin,dir,px,sz,ntl,fee,closedPnl"
COINS = ("BTC", "ETH", "SOL", "HYPE", "kPEPE")
START_PX = {"BTC": 60000.0, "ETH": 3000.0, "SOL": 150.0, "HYPE": 30.0, "kPEPE": 0.01}


def mm_round_trips(n_trips: int, *, seed: int = 0, days: int = 30, toxic_hours: tuple[int, ...] = (),
                   toxic_edge_bps: float = -20.0, base_edge_bps: float = 2.0, large_edge_bps: float | None = None,
                   large_usd: float = 2000.0, fee_bps: float = 1.5, start_ms: int = 1_719_792_000_000) -> dict:
    """Round trips (open + close) as columns; each trip's gross return is its hour's edge x 2 plus noise.

    The gross return per round trip is ``2 * edge`` (two fills' notional) + N(0, 10 bps), so
    the per-fill net edge is about ``edge - fee_bps`` (fees are paid on both fills).
    """
    rng = np.random.default_rng(seed)
    coin = rng.integers(0, len(COINS), n_trips)
    span_ms = days * 86_400_000
    # per coin, sequential non-overlapping trips: open at t, close before the coin's next open
    open_ms = np.sort(rng.integers(0, span_ms, n_trips)) + start_ms
    order = np.lexsort((open_ms, coin))
    open_ms_sorted = open_ms.copy()
    coin_sorted = coin[order]
    t_sorted = open_ms[order]
    next_t = np.empty_like(t_sorted)
    next_t[:-1] = t_sorted[1:]
    next_t[-1] = t_sorted[-1] + 60_000
    same = np.r_[coin_sorted[1:] == coin_sorted[:-1], False]
    gap = np.where(same, next_t - t_sorted, 60_000)
    hold = np.maximum(0, (gap * rng.uniform(0.05, 0.9, n_trips)).astype(np.int64))
    close_ms = np.empty(n_trips, dtype=np.int64)
    close_ms[order] = t_sorted + hold
    del open_ms_sorted
    notional = np.exp(rng.normal(np.log(400), 1.0, n_trips))
    hour = (open_ms // 3_600_000) % 24
    edge = np.full(n_trips, base_edge_bps)
    if toxic_hours:
        edge[np.isin(hour, toxic_hours)] = toxic_edge_bps
    if large_edge_bps is not None:
        edge[notional >= large_usd] = large_edge_bps
    gross_ret = (2 * edge + rng.normal(0, 10, n_trips)) * 1e-4
    long = rng.random(n_trips) < 0.5
    base = np.array([START_PX[COINS[c]] for c in coin]) * np.exp(rng.normal(0, 0.02, n_trips))
    entry = base
    exit_ = np.where(long, entry * (1 + gross_ret), entry * (1 - gross_ret))
    sz = notional / entry
    return {"coin": coin, "open_ms": open_ms, "close_ms": close_ms, "long": long, "entry": entry, "exit": exit_,
            "sz": sz, "fee_bps": fee_bps, "edge": edge}


def _fmt_time(ms: np.ndarray, layout: str) -> list[str]:
    out = []
    for v in ms.tolist():
        t = dt.datetime.fromtimestamp(v / 1000, tz=dt.timezone.utc)
        if layout == "dmy":
            out.append(t.strftime("%d/%m/%Y - %H:%M:%S"))
        elif layout == "mdy":
            out.append(f"{t.month}/{t.day}/{t.year} - {t:%H:%M:%S}")
        elif layout == "time_first":
            out.append(f"{t:%H:%M:%S} {t.day}/{t.month}/{t.year}")
        else:
            out.append(t.strftime("%d/%m/%Y %H:%M:%S"))
    return out


def ui_rows(trips: dict, layout: str = "dmy") -> list[str]:
    """CSV lines (no header) of the trips' fills in time order, as the web UI exports them."""
    n = len(trips["coin"])
    fee_rate = trips["fee_bps"] * 1e-4
    times = np.concatenate([trips["open_ms"], trips["close_ms"]])
    is_open = np.r_[np.ones(n, bool), np.zeros(n, bool)]
    idx = np.r_[np.arange(n), np.arange(n)]
    order = np.lexsort((~is_open, times))
    text_times = _fmt_time(times[order], layout)
    lines = []
    for k, j in enumerate(order.tolist()):
        i = int(idx[j])
        coin = COINS[trips["coin"][i]]
        long = bool(trips["long"][i])
        sz = float(trips["sz"][i])
        if is_open[j]:
            px = float(trips["entry"][i])
            d = "Open Long" if long else "Open Short"
            fee = px * sz * fee_rate
            pnl = -fee
        else:
            px = float(trips["exit"][i])
            d = "Close Long" if long else "Close Short"
            fee = px * sz * fee_rate
            gross = (px - float(trips["entry"][i])) * sz * (1 if long else -1)
            pnl = gross - fee
        lines.append(f"{text_times[k]},{coin},{d},{px:.6g},{sz:.6g},{px * sz!r},{fee:.6f},{pnl!r}")
    return lines


def write_ui_csv(path: Path, trips: dict, layout: str = "dmy") -> Path:
    path.write_text(UI_HEADER + "\n" + "\n".join(ui_rows(trips, layout)) + "\n")
    return path
