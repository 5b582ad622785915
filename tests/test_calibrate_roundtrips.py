"""FIFO round trips: hand-checked sequences (flips, partial closes, gaps) and the compiled loop vs a Python reference."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fifo_reference as ref
from hlmm.calibration.fills import (
    KIND_CLOSE,
    KIND_FLIP,
    KIND_OPEN,
    KIND_OTHER,
    KIND_SPOT_BUY,
    KIND_SPOT_SELL,
    FillTable,
)
from hlmm.calibration.groups import StatOptions
from hlmm.calibration.roundtrips import match_round_trips, summarize

SIDE_OF = {("open", 1): 1, ("open", -1): -1, ("close", 1): -1, ("close", -1): 1, ("flip", 1): -1, ("flip", -1): 1}


def table(rows: list[tuple], coins=("BTC",)) -> FillTable:
    """rows: (t_s, kind, pos_side, px, sz, fee[, start_pos[, coin]])."""
    kind_code = {"open": KIND_OPEN, "close": KIND_CLOSE, "flip": KIND_FLIP, "buy": KIND_SPOT_BUY,
                 "sell": KIND_SPOT_SELL, "other": KIND_OTHER}
    cols = {k: [] for k in ("time_ms", "coin", "side", "px", "sz", "ntl", "fee", "pnl", "kind", "pos_side",
                            "start_pos", "line")}
    for i, r in enumerate(rows):
        t_s, kind, pos_side, px, sz, fee = r[:6]
        start = r[6] if len(r) > 6 else math.nan
        coin = r[7] if len(r) > 7 else 0
        side = SIDE_OF.get((kind, pos_side), 1 if kind == "buy" else -1 if kind == "sell" else pos_side)
        cols["time_ms"].append(int(t_s * 1000))
        cols["coin"].append(coin)
        cols["side"].append(side)
        cols["px"].append(px)
        cols["sz"].append(sz)
        cols["ntl"].append(px * sz)
        cols["fee"].append(fee)
        cols["pnl"].append(-fee)
        cols["kind"].append(kind_code[kind])
        cols["pos_side"].append(pos_side if kind in ("open", "close", "flip") else 0)
        cols["start_pos"].append(start)
        cols["line"].append(i + 2)
    return FillTable.from_columns({k: np.array(v) for k, v in cols.items()}, coins=list(coins), accounts=[""])


def test_partial_closes_match_oldest_lots_first():
    rt = match_round_trips(table([
        (0, "open", 1, 100.0, 1.0, 0.1),
        (10, "open", 1, 110.0, 1.0, 0.1),
        (20, "close", 1, 120.0, 1.5, 0.3),
        (30, "close", 1, 90.0, 0.5, 0.1),
    ]))
    assert len(rt) == 3
    assert rt.qty.tolist() == [1.0, 0.5, 0.5]
    assert rt.entry_px.tolist() == [100.0, 110.0, 110.0]
    assert rt.gross.tolist() == pytest.approx([20.0, 5.0, -10.0])
    # fees prorated: lot 1 fee 0.1 + 1.0/1.5 of the close's 0.3; etc.
    assert rt.fees.tolist() == pytest.approx([0.1 + 0.2, 0.05 + 0.1, 0.05 + 0.1])
    assert rt.hold_s.tolist() == [20.0, 10.0, 20.0]
    assert rt.unmatched_closes == 0 and rt.open_lots == 0


def test_flip_closes_the_old_side_and_opens_the_rest():
    rt = match_round_trips(table([
        (0, "open", 1, 100.0, 2.0, 0.0),
        (5, "flip", 1, 105.0, 3.0, 0.0),      # Long > Short: sells 3, closes the 2 long, opens 1 short
        (9, "close", -1, 95.0, 1.0, 0.0),     # closes the short
    ]))
    assert rt.pos_side.tolist() == [1, -1]
    assert rt.qty.tolist() == [2.0, 1.0]
    assert rt.gross.tolist() == pytest.approx([10.0, 10.0])
    assert rt.open_lots == 0


def test_flip_uses_start_position_when_known():
    # the file lacks the opening fill of 0.5 of the long: startPosition says 2.5 were long
    rt = match_round_trips(table([
        (0, "open", 1, 100.0, 2.0, 0.0),
        (5, "flip", 1, 105.0, 3.0, 0.0, 2.5),
        (9, "close", -1, 95.0, 0.5, 0.0),
    ]))
    assert rt.qty.tolist() == [2.0, 0.5]      # the short opened with 0.5, not 1.0
    assert rt.unmatched_closes == 1           # 0.5 of the flip closed a long we never saw open


def test_closes_before_the_file_starts_are_unmatched_not_new_positions():
    rt = match_round_trips(table([
        (0, "close", 1, 100.0, 1.0, 0.0),     # closing a long opened before the export
        (5, "open", -1, 100.0, 1.0, 0.0),
        (9, "close", -1, 99.0, 1.0, 0.0),
    ]))
    assert len(rt) == 1 and rt.gross.tolist() == pytest.approx([1.0])
    assert rt.unmatched_closes == 1 and rt.unmatched_close_qty_ntl == pytest.approx(100.0)
    assert any("before the file starts" in n for n in rt.notes)


def test_missing_fills_drop_stale_lots():
    rt = match_round_trips(table([
        (0, "open", 1, 100.0, 1.0, 0.0),
        (5, "open", -1, 100.0, 1.0, 0.0),     # the long must have been closed by a fill not in the file
        (9, "close", -1, 98.0, 1.0, 0.0),
    ]))
    assert rt.stale_lots == 1 and len(rt) == 1 and rt.pos_side.tolist() == [-1]


def test_coins_are_separate_and_spot_and_dirless_fills():
    rt = match_round_trips(table([
        (0, "open", 1, 100.0, 1.0, 0.0, math.nan, 0),
        (1, "open", 1, 10.0, 1.0, 0.0, math.nan, 1),
        (2, "close", 1, 12.0, 1.0, 0.0, math.nan, 1),
        (3, "close", 1, 101.0, 1.0, 0.0, math.nan, 0),
        (4, "buy", 0, 5.0, 2.0, 0.0, math.nan, 2),
        (5, "sell", 0, 6.0, 2.0, 0.0, math.nan, 2),
        (6, "other", 1, 50.0, 1.0, 0.0, math.nan, 3),    # a buy without a dir: opens long
        (7, "other", -1, 55.0, 1.0, 0.0, math.nan, 3),   # a sell without a dir: closes it
    ], coins=("BTC", "ETH", "HYPE/USDC", "SOL")))
    by_coin = {int(c): float(g) for c, g in zip(rt.coin, rt.gross)}
    assert by_coin == pytest.approx({0: 1.0, 1: 2.0, 2: 2.0, 3: 5.0})


def test_summary_counts_informed_share_on_maker_entries():
    rows = []
    for i in range(40):
        rows.append((i * 100, "open", 1, 100.0, 1.0, 0.01))
        rows.append((i * 100 + 50, "close", 1, 99.0 if i % 4 == 0 else 101.0, 1.0, 0.01))
    t = table(rows)
    rt = match_round_trips(t)
    taker = np.zeros(len(t), dtype=bool)
    s = summarize(rt, taker, StatOptions(cluster_ms=60_000))
    assert s.count == 40 and s.informed_maker_only
    assert s.informed_share.value == pytest.approx(0.25)
    assert s.win_rate.value == pytest.approx(0.75)
    assert s.hold_quantiles_s["p50"] == 50.0
    assert s.by_side[0].fills == 40 and s.by_side[1].fills == 0


# ---------------------------------------------------------------- compiled loop vs reference

fill_strategy = st.tuples(
    st.integers(0, 2),                                   # coin
    st.sampled_from(["open", "close", "flip", "buy", "sell", "other"]),
    st.sampled_from([1, -1]),
    st.floats(1.0, 200.0),
    st.sampled_from([0.5, 1.0, 1.5, 2.0, 3.0]),
    st.floats(0.0, 0.5),
    st.one_of(st.just(math.nan), st.sampled_from([0.5, 1.0, 2.0])),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(fill_strategy, max_size=40))
def test_compiled_matches_reference(fills):
    rows = [(i, kind, ps, px, sz, fee, start if kind == "flip" else math.nan, coin)
            for i, (coin, kind, ps, px, sz, fee, start) in enumerate(fills)]
    t = table(rows, coins=("A", "B", "C"))
    rt = match_round_trips(t)
    expected, counters = ref.match([
        {"key": int(t.coin[i]), "kind": int(t.kind[i]), "pos_side": int(t.pos_side[i]), "side": int(t.side[i]),
         "px": float(t.px[i]), "sz": float(t.sz[i]), "fee": float(t.fee[i]), "start_pos": float(t.start_pos[i])}
        for i in range(len(t))])
    got = sorted(zip(rt.open_index.tolist(), rt.close_index.tolist(), rt.pos_side.tolist(), rt.qty.tolist(),
                     rt.gross.tolist(), rt.fees.tolist()))
    want = sorted(expected)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g[:3] == w[:3]
        assert g[3:] == pytest.approx(w[3:], rel=1e-9, abs=1e-9)
    assert rt.unmatched_closes == counters["unmatched"]
    assert rt.stale_lots == counters["stale"]
    assert rt.open_lots == counters["open_lots"]
