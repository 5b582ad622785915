"""Round trips: closing fills matched FIFO to the opening fills of the same position.

Per (account, coin), fills are replayed in time order against a queue of open lots:

* an opening fill (``Open Long``, spot ``Buy``) adds a lot;
* a closing fill (``Close Short``, ``Liquidated ... Long``, spot ``Sell``) consumes the
  oldest lots of that position; a round trip is recorded per (lot, close) pair with its
  quantity, entry/exit prices, holding time, gross PnL and the fees of both legs
  prorated by quantity;
* a flip (``Long > Short``) closes the old side (``startPosition`` says how much when
  the source has it, else whatever the queue holds) and opens the rest on the new side;
* closes beyond what the queue holds (the position was opened before the file starts)
  are counted as *unmatched*, never turned into a new position;
* an opening fill finding lots of the other side means fills are missing from the file:
  those stale lots are dropped and counted.

The dir of the exchange is trusted over the reconstruction, so a gap in the file costs
the round trips around it, not everything after it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hlmm._core.fifo import match_fifo
from hlmm.calibration import stats
from hlmm.calibration.fills import FillTable
from hlmm.calibration.groups import GroupStats, StatOptions, bucket_of, group_stats
from hlmm.calibration.stats import Estimate

@dataclass
class RoundTrips:
    """Matched round trips as columns, plus what could not be matched."""

    open_ms: np.ndarray
    close_ms: np.ndarray
    coin: np.ndarray
    pos_side: np.ndarray  # +1 long, -1 short
    qty: np.ndarray
    entry_px: np.ndarray
    exit_px: np.ndarray
    gross: np.ndarray  # price PnL, USD
    fees: np.ndarray  # both legs' fees prorated, USD
    open_index: np.ndarray  # row of the opening fill in the table
    close_index: np.ndarray
    unmatched_close_qty_ntl: float = 0.0  # notional of closes with no opening fill in the file
    unmatched_closes: int = 0
    stale_lots: int = 0
    stale_ntl: float = 0.0
    open_lots: int = 0  # still open at the end of the file
    open_ntl: float = 0.0
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.open_ms.shape[0])

    @property
    def net(self) -> np.ndarray:
        return self.gross - self.fees

    @property
    def hold_s(self) -> np.ndarray:
        return (self.close_ms - self.open_ms) / 1000.0

    @property
    def entry_ntl(self) -> np.ndarray:
        return self.qty * self.entry_px


def match_round_trips(table: FillTable) -> RoundTrips:
    """FIFO round trips of ``table`` (which must be in time order), ordered by opening time.

    The matching loop runs in C (:func:`hlmm._core.fifo.match_fifo`).
    """
    n_coins = max(1, len(table.coins))
    raw_key = table.account.astype(np.int64) * n_coins + table.coin.astype(np.int64)
    # dense position keys without sorting: the raw keys are small non-negative ints
    present = np.zeros(int(raw_key.max()) + 1 if len(raw_key) else 1, dtype=bool)
    present[raw_key] = True
    renumber = np.cumsum(present) - 1
    dense = renumber[raw_key]
    keys = np.flatnonzero(present)
    cols, counters = match_fifo(
        np.ascontiguousarray(table.time_ms, dtype=np.int64), np.ascontiguousarray(dense, dtype=np.int64),
        np.ascontiguousarray(table.kind, dtype=np.int8), np.ascontiguousarray(table.pos_side, dtype=np.int8),
        np.ascontiguousarray(table.side, dtype=np.int8), np.ascontiguousarray(table.px, dtype=np.float64),
        np.ascontiguousarray(table.sz, dtype=np.float64), np.ascontiguousarray(table.fee, dtype=np.float64),
        np.ascontiguousarray(table.start_pos, dtype=np.float64), len(keys))
    order = np.argsort(cols["open_ms"], kind="stable")  # by opening time: hour blocks then come sorted
    cols = {name: col[order] for name, col in cols.items()}
    result = RoundTrips(
        open_ms=cols["open_ms"], close_ms=cols["close_ms"], coin=table.coin[cols["close_index"]],
        pos_side=cols["pos_side"], qty=cols["qty"], entry_px=cols["entry_px"], exit_px=cols["exit_px"],
        gross=cols["gross"], fees=cols["fees"], open_index=cols["open_index"], close_index=cols["close_index"],
        unmatched_close_qty_ntl=float(counters["unmatched_ntl"]), unmatched_closes=int(counters["unmatched"]),
        stale_lots=int(counters["stale"]), stale_ntl=float(counters["stale_ntl"]),
        open_lots=int(counters["open_lots"]), open_ntl=float(counters["open_ntl"]))
    if result.unmatched_closes:
        n = result.unmatched_closes
        result.notes.append(f"{n} closing fill{'s' if n != 1 else ''} (${result.unmatched_close_qty_ntl:,.0f}) "
                            f"close{'' if n != 1 else 's'} positions opened before the file starts: no round trip")
    if result.stale_lots:
        n = result.stale_lots
        result.notes.append(f"{n} open lot{'s' if n != 1 else ''} (${result.stale_ntl:,.0f}) never closed in the "
                            "file before the position turned: fills are missing from the file")
    if result.open_lots:
        n = result.open_lots
        result.notes.append(f"{n} lot{'s' if n != 1 else ''} (${result.open_ntl:,.0f}) still open at the end of "
                            "the file")
    return result


HOLD_BOUNDS_S = (60.0, 600.0, 3600.0, 86400.0)
HOLD_LABELS = ["< 1 min", "1-10 min", "10-60 min", "1-24 h", ">= 1 day"]


@dataclass
class RoundTripSummary:
    """What the round trips say: totals, holding times, and the informed-flow share."""

    count: int
    net: float
    gross: float
    fees: float
    entry_notional: float
    edge_bps: Estimate  # net / entry notional
    win_rate: Estimate  # net > 0
    hold_quantiles_s: dict[str, float]
    by_hold: list[GroupStats]
    by_side: list[GroupStats]
    informed_share: Estimate  # share of (maker-entry) round trips losing before fees
    informed_basis: str
    informed_maker_only: bool  # the share is over maker-opened round trips (what alpha_touch means)
    notes: list[str]

    def to_dict(self) -> dict:
        return {
            "count": self.count, "net_pnl_usd": round(self.net, 6), "gross_pnl_usd": round(self.gross, 6),
            "fees_usd": round(self.fees, 6), "entry_notional_usd": round(self.entry_notional, 6),
            "edge_bps": self.edge_bps.to_dict(4), "win_rate": self.win_rate.to_dict(4),
            "hold_seconds": {k: (None if v != v else round(v, 3)) for k, v in self.hold_quantiles_s.items()},
            "by_hold": [g.to_dict() for g in self.by_hold], "by_side": [g.to_dict() for g in self.by_side],
            "informed_share": self.informed_share.to_dict(4), "informed_basis": self.informed_basis,
            "informed_maker_only": self.informed_maker_only,
            "notes": list(self.notes),
        }


def summarize(rt: RoundTrips, taker: np.ndarray, opts: StatOptions) -> RoundTripSummary:
    """Totals and intervals of the round trips; ``taker`` flags the table's fills."""
    n = len(rt)
    clusters = rt.open_ms // opts.cluster_ms
    kw = opts.ci_kwargs()
    net, ntl = rt.net, rt.entry_ntl
    edge = stats.ratio_ci(net * 1e4, ntl, clusters, tag="rt/edge", **kw)
    win = stats.proportion_ci(net > 0, clusters, tag="rt/win", **kw)
    q = stats.quantiles(rt.hold_s, (0.1, 0.5, 0.9))
    closing = np.ones(n, dtype=bool)
    common = dict(pnl=net, notional=ntl, fees=rt.fees, closing=closing, time_ms=rt.open_ms, opts=opts)
    by_hold = group_stats(bucket_of(rt.hold_s, HOLD_BOUNDS_S), len(HOLD_LABELS), HOLD_LABELS, tag="rt/hold",
                          **common)
    by_side = group_stats((rt.pos_side < 0).astype(np.int64), 2, ["long", "short"], tag="rt/side", **common)
    maker_entry = ~taker[rt.open_index] if n else np.zeros(0, dtype=bool)
    maker_only = bool(np.count_nonzero(maker_entry) >= 1)
    if maker_only:
        sel, basis = maker_entry, "round trips opened by a maker fill"
    else:
        sel, basis = np.ones(n, dtype=bool), "all round trips (none opened by a maker fill)"
    informed = stats.proportion_ci(rt.gross[sel] < 0, clusters[sel], tag="rt/informed", **kw)
    basis = f"share of {basis} that lost before fees ({int(np.count_nonzero(sel))} round trips)"
    return RoundTripSummary(
        count=n, net=float(net.sum()), gross=float(rt.gross.sum()), fees=float(rt.fees.sum()),
        entry_notional=float(ntl.sum()), edge_bps=edge, win_rate=win,
        hold_quantiles_s={"p10": q[0], "p50": q[1], "p90": q[2]}, by_hold=by_hold, by_side=by_side,
        informed_share=informed, informed_basis=basis, informed_maker_only=maker_only, notes=list(rt.notes),
    )
