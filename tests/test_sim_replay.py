"""Replaying a recorded Hyperliquid market into the sim (hlmm.sim.replay).

The recording is real: 25 s of BTC WebSocket frames (46 l2Book snapshots, 9 trades
frames, a 30-trade subscription snapshot among them) captured by hftbacktest.  The tests
read it with their own parser and check that the sim's book and tape follow it.
"""
from __future__ import annotations

import gzip
import json
import shutil
import time
from dataclasses import replace

import pytest

from hlmm.sim.config import AssetConfig, SimConfig
from hlmm.sim.exchange import SimExchange
from hlmm.sim.market_setup import replay_assets, replay_market
from hlmm.sim.replay import LOOP_GAP_MS, ReplayError, ReplayMarket
from hlmm.sim.runner import parse_asset
from tests.conftest import FIXTURES
from tests.simproc import SimProcess, Trader

RECORDING = FIXTURES / "ws_raw_btc_hftbacktest_2025-01-26.gz"
T0 = 1_700_000_000_000
BTC = AssetConfig("BTC", 5, 40, 105_055.0)
SOL = AssetConfig("SOL", 2, 20, 83.0)


def recorded():
    """(books, trades) of the recording: books as (time, bids, asks) of (px, sz); trades with time >= the first book."""
    books, trades, seen = [], [], set()
    with gzip.open(RECORDING, "rt") as f:
        for line in f:
            frame = json.loads(line.split(" ", 1)[1])
            if frame["channel"] == "l2Book":
                d = frame["data"]
                books.append((d["time"], [(x["px"], x["sz"]) for x in d["levels"][0]],
                              [(x["px"], x["sz"]) for x in d["levels"][1]]))
            elif frame["channel"] == "trades":
                for t in frame["data"]:
                    if books and t["time"] >= books[0][0] and t["tid"] not in seen:
                        seen.add(t["tid"])
                        trades.append(t)
    return books, trades


class Replay:
    def __init__(self, path=RECORDING, speed=1.0, loop=False, assets=(BTC,)) -> None:
        self.now = T0
        self.ex = SimExchange(SimConfig(seed=2, assets=assets), now_ms=lambda: self.now)
        self.market = ReplayMarket(self.ex, str(path), speed=speed, loop=loop)
        self.ex.attach_market(self.market)
        self.trades: list[dict] = []
        self.ex.add_listener(lambda ch, key, data: self.trades.extend(data) if ch == "trades" else None)

    def to(self, t_ms: int) -> None:
        self.now = t_ms
        self.ex.advance(t_ms)

    def book(self, coin="BTC"):
        levels = self.ex.l2_book(coin)["levels"]
        return [(x["px"], x["sz"]) for x in levels[0]], [(x["px"], x["sz"]) for x in levels[1]]


def test_replay_reproduces_every_recorded_book():
    books, trades = recorded()
    start = books[0][0]
    trade_times = {t["time"] for t in trades}
    r = Replay()
    checked = 0
    for t, bids, asks in books:
        r.to(T0 + t - start)
        if t in trade_times:
            continue   # a trade printed at the same instant, after the book: checked by the tape test
        assert r.book() == (bids, asks), t
        checked += 1
    assert checked >= 40
    truth = r.ex.handle_info({"type": "simTruth"})["truth"]
    assert truth["kind"] == "replay" and truth["books"] == len(books) and truth["skipped"] == 0
    assert truth["recorded_start_ms"] == start and truth["coins"]["BTC"]["recorded_bid"] == books[-1][1][0][0]


def test_replay_prints_the_recorded_trades_at_their_times():
    books, trades = recorded()
    start = books[0][0]
    r = Replay()
    r.to(T0 + 60_000)
    got = [(t["time"] - T0, t["side"], t["px"], t["sz"]) for t in r.trades]
    want = [(t["time"] - start, t["side"], t["px"], t["sz"]) for t in trades]
    assert got == want and len(want) == 34
    truth = r.market.truth()
    assert truth["trades"] == 34 and truth["trades_skipped"] == 30      # the subscription's history
    assert truth["finished"] and truth["passes"] == 1
    # the market stopped: the last book stays, nothing more prints
    r.to(T0 + 600_000)
    assert len(r.trades) == 34 and r.book() == (books[-1][1], books[-1][2])
    accounts = r.ex.venue.accounts.values()
    assert sum(a.position_lots(0) for a in accounts) == 0


def test_same_replay_whatever_the_call_pattern_and_a_speed_factor():
    steady, jumpy, fast = Replay(), Replay(), Replay(speed=4.0)
    for t in range(T0, T0 + 30_000, 50):
        steady.to(t)
    for t in (T0 + 1, T0 + 9_999, T0 + 10_000, T0 + 22_154, T0 + 29_950):
        jumpy.to(t)
    fast.to(T0 + 30_000 // 4)
    assert steady.trades == jumpy.trades and steady.book() == jumpy.book()
    assert [(t["side"], t["px"], t["sz"]) for t in fast.trades] == [(t["side"], t["px"], t["sz"]) for t in steady.trades]
    assert [t["time"] - T0 for t in fast.trades] == [int((t["time"] - T0) / 4) for t in steady.trades]


def test_loop_starts_the_recording_again():
    books, trades = recorded()
    span = books[-1][0] - books[0][0]
    r = Replay(loop=True)
    r.to(T0 + 2 * span + LOOP_GAP_MS + 5_000)
    truth = r.market.truth()
    assert truth["passes"] >= 1 and not truth["finished"]
    first = [(t["side"], t["px"], t["sz"]) for t in r.trades[:34]]
    second = [(t["side"], t["px"], t["sz"]) for t in r.trades[34:68]]
    assert first == second and len(r.trades) >= 68
    assert r.trades[34]["time"] - r.trades[0]["time"] == span + LOOP_GAP_MS


def test_a_client_order_ahead_in_the_queue_is_filled_by_a_replayed_trade():
    """At 105055 the client's bid rests ahead of the replayed level once that level is re-placed
    (its size changes at the 5th snapshot); the next recorded sell at 105055 fills the client
    first and the replayed level gives the rest of the recorded size."""
    client = "0x" + "c1" * 20
    r = Replay()
    r.ex.create_account(client, 1_000_000)
    r.to(T0 + 100)
    st = r.ex.internal_place(client, "BTC", True, 1_050_550, 300, "Alo")     # 0.003 BTC at 105055
    assert "resting" in st
    r.to(T0 + 14_000)                                                       # past the sell of 0.00036
    sells = [t for t in r.trades if t["side"] == "A"]
    assert sells[0]["px"] == "105055.0" and sells[0]["users"] == [client, r.market.taker]
    assert sells[0]["sz"] == "0.00036" and r.ex.position_lots(client, "BTC") == 36
    # a later recorded sell sweeping to 105051 takes the rest of the client's bid (better than 105051)
    r.to(T0 + 30_000)
    assert r.ex.order_lots(st["resting"]["oid"]) == 0 and r.ex.position_lots(client, "BTC") == 300
    assert sum(a.position_lots(0) for a in r.ex.venue.accounts.values()) == 0


def test_a_snapshot_crossing_a_client_quote_trades_with_it():
    """The recording's book moves down 5 dollars at its end: a client's bid left at 105053 is hit by
    the replayed asks that cross it (the market moved through the quote), at the client's price."""
    client = "0x" + "c2" * 20
    r = Replay()
    r.ex.create_account(client, 1_000_000)
    r.to(T0 + 22_500)                       # after the sweep of 105055..105051 (best bid now 105051)
    bp, _, ap, _ = r.ex.book_top("BTC")
    assert (bp, ap) == (1_050_510, 1_050_560)
    st = r.ex.internal_place(client, "BTC", True, 1_050_530, 100, "Alo")
    assert "resting" in st
    r.to(T0 + 26_000)
    fills = [t for t in r.trades if client in t["users"]]
    assert fills and fills[0]["px"] == "105053.0" and fills[0]["users"][0] == client
    assert fills[0]["users"][1] == r.market.maker and fills[0]["side"] == "A"


def test_other_recorded_formats(tmp_path):
    # Hyperliquid's archive lines {"time":..., "raw": frame} (SOL) and a REST l2Book recorder envelope (BTC)
    r = Replay(FIXTURES / "l2book_sol_archive_2026-04-01.jsonl", assets=(SOL,))
    r.to(T0 + 2 * 3_600_000)                                  # its two snapshots are an hour apart
    with open(FIXTURES / "l2book_sol_archive_2026-04-01.jsonl") as f:
        last = [json.loads(line) for line in f][-1]["raw"]["data"]["levels"]
    assert r.book("SOL") == ([(x["px"], x["sz"]) for x in last[0]], [(x["px"], x["sz"]) for x in last[1]])
    rest = FIXTURES / "l2book_btc_rest_liupingchao_2026-05-29.jsonl"
    r = Replay(rest, assets=(replace(BTC, start_px=73_681.0),))
    r.to(T0 + 1)
    payload = json.loads(rest.read_text())["raw_payload"]["levels"]
    assert r.book() == ([(x["px"], x["sz"]) for x in payload[0]], [(x["px"], x["sz"]) for x in payload[1]])
    assert ReplayMarket.coins_in(str(rest)) == ["BTC"]


def test_bad_lines_are_skipped_and_counted(tmp_path):
    lines = gzip.open(RECORDING, "rt").read().splitlines()
    path = tmp_path / "dirty.jsonl"
    dirty = [lines[0], "not json at all", '{"channel": "l2Book", "data": {"coin": "BTC"}}', lines[1],
             '{"channel": "subscriptionResponse", "data": {}}', "123 {broken", lines[1].replace('"105055.0"', '"105055.05"'),
             *lines[2:]]
    path.write_text("\n".join(dirty) + "\n")
    r = Replay(path)
    r.to(T0 + 60_000)
    truth = r.market.truth()
    assert truth["skipped"] == 4 and truth["ignored"] == 1
    assert truth["trades"] == 34
    # a truncated gzip file replays what it holds, then stops
    cut = tmp_path / "cut.gz"
    data = RECORDING.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    r = Replay(cut)
    r.to(T0 + 60_000)
    truth = r.market.truth()
    assert truth["finished"] and 0 < truth["books"] < 46 and truth["skipped"] == 1


def test_unusable_recordings_are_refused_with_a_reason(tmp_path):
    with pytest.raises(ReplayError, match="does not exist"):
        Replay(tmp_path / "missing.gz")
    empty = tmp_path / "trades_only.jsonl"
    empty.write_text('{"channel":"trades","data":[{"coin":"BTC","side":"B","px":"1.0","sz":"1","time":1,"tid":1}]}\n')
    with pytest.raises(ReplayError, match="has no l2Book of a coin the sim trades .*it has no l2Book message"):
        Replay(empty)
    with pytest.raises(ReplayError, match="it has books of BTC"):
        Replay(RECORDING, assets=(SOL,))
    with pytest.raises(ReplayError, match="speed"):
        Replay(speed=0)
    with pytest.raises(ReplayError, match="does not exist"):
        replay_market(str(tmp_path / "nope"))


def test_replay_assets_come_from_the_recording():
    assets = replay_assets(str(RECORDING), parse_asset)
    assert [(a.name, a.sz_decimals, a.start_px) for a in assets] == [("BTC", 5, 105055.5)]


def test_hlmm_sim_replays_a_file_over_real_sockets(tmp_path):
    path = tmp_path / "btc.gz"
    shutil.copy(RECORDING, path)
    with SimProcess("--replay-file", str(path), market="replay", replay_speed=10, assets="BTC") as sim:
        from hlmm.exchange.keys import Wallet
        info = Trader(sim.url, Wallet.generate()).info
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            truth = info.post({"type": "simTruth"})["truth"]
            if truth["finished"]:
                break
            time.sleep(0.2)
        assert truth["kind"] == "replay" and truth["finished"] and truth["trades"] == 34 and truth["speed"] == 10.0
        books, _ = recorded()
        book = info.l2_book("BTC")
        assert [(x["px"], x["sz"]) for x in book["levels"][0]] == books[-1][1]
        assert info.recent_trades("BTC")[-1]["sz"] == "0.03482"                # oldest first: the last print
