"""Public market data the sim derives from its own trades: the trade tape, candles,
24 h volume, and the funding record of each coin.

Candles are kept per minute (open, high, low, close, base volume, notional, trade
count) and aggregated on request to any of Hyperliquid's intervals; intervals
without trades are omitted.  Weeks start on Monday 00:00 UTC and months on the
1st (calendar months).  Only the last 5000 candles of a request are returned, as
the exchange does.
"""
from __future__ import annotations

import calendar
from collections import deque
from datetime import datetime, timezone

from hlmm.sim.numbers import fmt_fixed

MINUTE = 60_000
HOUR = 3_600_000
DAY = 86_400_000
_WEEK = 7 * DAY
_MONDAY_OFFSET = 4 * DAY  # 1970-01-01 was a Thursday; the first Monday 00:00 is epoch + 4 days
INTERVALS_MS = {
    "1m": MINUTE, "3m": 3 * MINUTE, "5m": 5 * MINUTE, "15m": 15 * MINUTE, "30m": 30 * MINUTE,
    "1h": HOUR, "2h": 2 * HOUR, "4h": 4 * HOUR, "8h": 8 * HOUR, "12h": 12 * HOUR,
    "1d": DAY, "3d": 3 * DAY, "1w": _WEEK, "1M": 0,  # 1M: calendar month
}
MAX_CANDLES = 5000


def interval_bounds(interval: str, t: int) -> tuple[int, int]:
    """(open time, next open time) of the candle of ``interval`` containing ms ``t``."""
    if interval == "1M":
        d = datetime.fromtimestamp(t / 1000, tz=timezone.utc)
        start = calendar.timegm((d.year, d.month, 1, 0, 0, 0)) * 1000
        ny, nm = (d.year + 1, 1) if d.month == 12 else (d.year, d.month + 1)
        return start, calendar.timegm((ny, nm, 1, 0, 0, 0)) * 1000
    if interval == "1w":
        start = (t - _MONDAY_OFFSET) // _WEEK * _WEEK + _MONDAY_OFFSET
        return start, start + _WEEK
    width = INTERVALS_MS[interval]
    start = t // width * width
    return start, start + width


class CoinData:
    """The tape, minute candles and funding record of one coin."""

    __slots__ = ("coin", "px_decimals", "sz_decimals", "trades", "minutes", "start_px", "last_px",
                 "funding_history", "premium_sum", "premium_n")

    def __init__(self, coin: str, px_decimals: int, sz_decimals: int, start_px: int, trades_kept: int) -> None:
        self.coin = coin
        self.px_decimals = px_decimals
        self.sz_decimals = sz_decimals
        self.trades: deque[dict] = deque(maxlen=trades_kept)
        # minute open time -> [open, high, low, close, lots, notional_micro, n]
        self.minutes: dict[int, list[int]] = {}
        self.start_px = start_px
        self.last_px = start_px
        self.funding_history: list[dict] = []
        self.premium_sum = 0.0
        self.premium_n = 0

    def record_trade(self, trade: dict, px: int, lots: int, time_ms: int) -> None:
        self.trades.append(trade)
        self.last_px = px
        minute = time_ms // MINUTE * MINUTE
        c = self.minutes.get(minute)
        if c is None:
            self.minutes[minute] = [px, px, px, px, lots, px * lots, 1]
        else:
            if px > c[1]:
                c[1] = px
            if px < c[2]:
                c[2] = px
            c[3] = px
            c[4] += lots
            c[5] += px * lots
            c[6] += 1

    def day_stats(self, now_ms: int) -> tuple[int, int, int]:
        """(notional micro-USD, base lots, previous-day price units) over the 24 h before now.

        The previous-day price is the last trade before that window (the start price if none)."""
        since = now_ms - DAY
        ntl = lots = 0
        prev = self.start_px
        for minute, c in self.minutes.items():
            if minute + MINUTE <= since:
                prev = c[3]
                continue
            ntl += c[5]
            lots += c[4]
        return ntl, lots, prev

    def candles(self, interval: str, start_ms: int, end_ms: int) -> list[dict]:
        """Hyperliquid candle objects for trades in [start_ms, end_ms], oldest first."""
        out: dict[int, list] = {}
        for minute, c in self.minutes.items():
            if minute + MINUTE - 1 < start_ms or minute > end_ms:
                continue
            t0, t1 = interval_bounds(interval, minute)
            agg = out.get(t0)
            if agg is None:
                out[t0] = [t1, c[0], c[1], c[2], c[3], c[4], c[6]]
            else:
                agg[2] = max(agg[2], c[1])
                agg[3] = min(agg[3], c[2])
                agg[4] = c[3]
                agg[5] += c[4]
                agg[6] += c[6]
        pd, sd = self.px_decimals, self.sz_decimals
        result = [
            {"T": t1 - 1, "c": fmt_fixed(cl, pd), "h": fmt_fixed(hi, pd), "i": interval,
             "l": fmt_fixed(lo, pd), "n": n, "o": fmt_fixed(op, pd), "s": self.coin, "t": t0,
             "v": fmt_fixed(v, sd)}
            for t0, (t1, op, hi, lo, cl, v, n) in sorted(out.items())
        ]
        return result[-MAX_CANDLES:]
