"""L2Book (hlmm._core.book): real Hyperliquid l2Book frames in, exact units out, every query
checked against an independent json + Decimal model (the reference section below)."""
from __future__ import annotations

import json
import math
import random
import re
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from hlmm._core import book as book_mod
from hlmm._core.book import (
    ASK,
    BID,
    BookError,
    CoinMismatchError,
    CrossedBookError,
    InvalidNumberError,
    L2Book,
    MalformedMessageError,
    MissingFieldError,
    NonPositiveError,
    TooManyDecimalsError,
    TruncatedMessageError,
    UnsortedLevelsError,
    WrongChannelError,
)

FIXTURES = Path(__file__).parent / "fixtures"


# =============================================================================== reference
# An independent model of the book built only from json.loads and decimal.Decimal. It encodes
# the rules book.pyx documents; errors are named by the BookError subclass the book must raise.
DECIMAL_RE = re.compile(r"-?[0-9]+(\.[0-9]+)?")
LIMIT = 10**15
BID, ASK = 0, 1


class RefError(Exception):
    """kind = the BookError subclass name the real book must raise."""

    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


def _reject_constant(name):
    raise ValueError(name)


def to_units(text, decimals: int) -> int:
    """Exact decimal string -> integer units, with the book's error precedence."""
    if not isinstance(text, str):
        raise RefError("MalformedMessageError")
    if not DECIMAL_RE.fullmatch(text):
        raise RefError("InvalidNumberError")
    with localcontext() as ctx:
        ctx.prec = 200  # exact for any string the tests produce
        scaled = Decimal(text).scaleb(decimals)
        if scaled != scaled.to_integral_value():
            raise RefError("TooManyDecimalsError")
        if abs(scaled) >= LIMIT:
            raise RefError("InvalidNumberError")
        if scaled <= 0:
            raise RefError("NonPositiveError")
        return int(scaled)


def _uint(value) -> int:
    if type(value) is not int or not 0 <= value < 2**63:
        raise RefError("InvalidNumberError")
    return value


@dataclass
class Snapshot:
    coin: str
    time: int
    bids: list = field(default_factory=list)  # [(px_units, sz_lots, n)], all received levels
    asks: list = field(default_factory=list)


class Obj(list):
    """A JSON object as its (key, value) pairs in text order, duplicates kept."""


def _pairs(obj, keys):
    """Walk an object's pairs, refusing a repeated key the book reads."""
    seen = set()
    for key, value in obj:
        if key in keys:
            if key in seen:
                raise RefError("MalformedMessageError")
            seen.add(key)
        yield key, value


def parse_message(raw, px_decimals: int, sz_decimals: int) -> Snapshot:
    """Parse and validate like L2Book.apply_message, minus coin/crossed/stale checks."""
    try:
        top = json.loads(raw, parse_constant=_reject_constant, object_pairs_hook=Obj)
    except (ValueError, RecursionError):
        raise RefError("MalformedMessageError") from None
    if not isinstance(top, Obj):
        raise RefError("MalformedMessageError")
    channel = False
    snap = deferred = None
    bare = Obj()
    for key, value in _pairs(top, {"channel", "data", "coin", "time", "levels"}):
        if key == "channel":
            if not isinstance(value, str):
                raise RefError("MalformedMessageError")
            if value != "l2Book":
                raise RefError("WrongChannelError")
            channel = True
        elif key == "data":
            if channel:
                snap = parse_book(value, px_decimals, sz_decimals)
            else:
                deferred = (value,)  # "data" before "channel": read once the channel is known
        elif key in ("coin", "time", "levels"):
            bare.append((key, value))
    if not channel:
        return parse_book(bare, px_decimals, sz_decimals)
    if snap is None:
        if deferred is None:
            raise RefError("MissingFieldError")
        snap = parse_book(deferred[0], px_decimals, sz_decimals)
    return snap


def parse_book(book, px_decimals: int, sz_decimals: int) -> Snapshot:
    if not isinstance(book, Obj):
        raise RefError("MalformedMessageError")
    snap = Snapshot(coin="", time=-1)
    seen = set()
    for key, value in _pairs(book, {"coin", "time", "levels"}):  # text order: first error wins
        if key == "coin":
            if not isinstance(value, str):
                raise RefError("MalformedMessageError")
            snap.coin = value
        elif key == "time":
            snap.time = _uint(value)
        elif key == "levels":
            snap.bids, snap.asks = parse_levels(value, px_decimals, sz_decimals)
        else:
            continue
        seen.add(key)
    for key in ("coin", "time", "levels"):
        if key not in seen:
            raise RefError("MissingFieldError")
    return snap


def _is_list(value) -> bool:
    return isinstance(value, list) and not isinstance(value, Obj)


def parse_levels(levels, px_decimals: int, sz_decimals: int):
    if not _is_list(levels) or not levels:
        raise RefError("MalformedMessageError")
    sides = []
    for side, entries in enumerate(levels[:2]):  # read in text order: a 3rd side shows up last
        if not _is_list(entries):
            raise RefError("MalformedMessageError")
        out = []
        for lvl in entries:
            if not isinstance(lvl, Obj):
                raise RefError("MalformedMessageError")
            px = sz = None
            n = 0
            for key, value in _pairs(lvl, {"px", "sz", "n"}):
                if key == "px":
                    px = to_units(value, px_decimals)
                elif key == "sz":
                    sz = to_units(value, sz_decimals)
                elif key == "n":
                    n = _uint(value)
            if px is None or sz is None:
                raise RefError("MissingFieldError")
            if out and ((side == BID and px >= out[-1][0]) or (side == ASK and px <= out[-1][0])):
                raise RefError("UnsortedLevelsError")
            out.append((px, sz, n))
        sides.append(out)
    if len(levels) != 2:
        raise RefError("MalformedMessageError")
    return sides


class RefBook:
    """The book's state machine: coin check, crossed check, stale rule, capacity."""

    def __init__(self, coin: str, sz_decimals: int, px_decimals: int, capacity: int = 20):
        self.coin, self.sz_decimals, self.px_decimals, self.capacity = (
            coin, sz_decimals, px_decimals, capacity)
        self.bids: list = []
        self.asks: list = []
        self.time = -1
        self.stale = 0
        self.truncated = 0

    def apply_message(self, raw) -> bool:
        snap = parse_message(raw, self.px_decimals, self.sz_decimals)
        if snap.coin != self.coin:
            raise RefError("CoinMismatchError")
        return self.apply_snapshot(snap)

    def apply_snapshot(self, snap: Snapshot) -> bool:
        if snap.bids and snap.asks and snap.bids[0][0] >= snap.asks[0][0]:
            raise RefError("CrossedBookError")
        if snap.time < self.time:
            self.stale += 1
            return False
        cap = self.capacity
        if len(snap.bids) > cap or len(snap.asks) > cap:
            self.truncated += 1
        self.bids, self.asks, self.time = snap.bids[:cap], snap.asks[:cap], snap.time
        return True

    # ---- queries, exact ----------------------------------------------------------------
    def _px(self, units) -> Decimal:
        return Decimal(units).scaleb(-self.px_decimals)

    def _sz(self, lots) -> Decimal:
        return Decimal(lots).scaleb(-self.sz_decimals)

    def side(self, side: int) -> list:
        return self.bids if side == BID else self.asks

    def mid(self) -> Decimal | None:
        if not (self.bids and self.asks):
            return None
        return (self._px(self.bids[0][0]) + self._px(self.asks[0][0])) / 2

    def spread_bps(self) -> Decimal | None:
        mid = self.mid()
        if mid is None:
            return None
        return (self._px(self.asks[0][0]) - self._px(self.bids[0][0])) / mid * 10000

    def microprice(self) -> Decimal | None:
        if not (self.bids and self.asks):
            return None
        b, bs = self._px(self.bids[0][0]), self._sz(self.bids[0][1])
        a, as_ = self._px(self.asks[0][0]), self._sz(self.asks[0][1])
        return (b * as_ + a * bs) / (bs + as_)

    def imbalance(self, k: int) -> Decimal | None:
        bsum = sum(lvl[1] for lvl in self.bids[:k])
        asum = sum(lvl[1] for lvl in self.asks[:k])
        if bsum + asum == 0:
            return None
        return Decimal(bsum - asum) / Decimal(bsum + asum)

    def depth_within_bps_lots(self, side: int, bps: float) -> int:
        mid = self.mid()
        if mid is None:
            return -1
        limit = Decimal(bps)  # the float's exact binary value
        total = 0
        for px, sz, _ in self.side(side):
            if abs(self._px(px) - mid) / mid * 10000 > limit:
                break
            total += sz
        return total

    def vwap_lots(self, side: int, lots: int):
        """-> (vwap Decimal | None, impact_bps Decimal | None, filled_lots)"""
        left, notional = lots, Decimal(0)
        for px, sz, _ in self.side(side):
            if left == 0:
                break
            take = min(sz, left)
            notional += self._px(px) * take
            left -= take
        filled = lots - left
        if filled == 0:
            return None, None, 0
        vwap = notional / filled
        mid = self.mid()
        if mid is None:
            return vwap, None, filled
        impact = (vwap - mid) / mid * 10000 if side == ASK else (mid - vwap) / mid * 10000
        return vwap, impact, filled

    def size_ahead_lots(self, side: int, px_units: int) -> int:
        if side == BID:
            return sum(sz for px, sz, _ in self.bids if px >= px_units)
        return sum(sz for px, sz, _ in self.asks if px <= px_units)


def exact(fn, *args):
    """Run a Decimal computation with ample precision."""
    with localcontext() as ctx:
        ctx.prec = 60
        return fn(*args)


# ================================================================================ helpers
def frames(name: str) -> list[tuple[int, str]]:
    """(local_ts_ns, frame) lines of an hftbacktest-style raw capture."""
    out = []
    for line in (FIXTURES / name).read_text().splitlines():
        ts, frame = line.split(" ", 1)
        out.append((int(ts), frame))
    return out


def l2_frames(name: str) -> list[tuple[int, str]]:
    return [(ts, f) for ts, f in frames(name) if '"channel":"l2Book"' in f]


HYPE_FRAME = l2_frames("l2book_hype_ws_hftbacktest_3frames.txt")[0]
BTC_FRAMES = l2_frames("l2book_btc_ws_hftbacktest_2025-01-26_head.txt")
NAUTILUS_BTC = (FIXTURES / "l2book_btc_http_nautilus.json").read_text()
DYDX_CASSETTE = (FIXTURES / "l2book_dydx_http_pysdk_cassette.json").read_text()
SZ_DECIMALS = {"BTC": 5, "HYPE": 2, "SOL": 2, "DYDX": 1}   # from meta (fixtures/meta_perp_main_227_assets.json)


def new_book(coin: str, **kw) -> L2Book:
    return L2Book(coin, SZ_DECIMALS[coin], **kw)


def ref_for(book: L2Book) -> RefBook:
    return RefBook(book.coin, book.sz_decimals, book.px_decimals, book.capacity)


def book_state(book: L2Book):
    bids = [tuple(map(int, lvl)) for lvl in zip(*book.levels_units(BID))]
    asks = [tuple(map(int, lvl)) for lvl in zip(*book.levels_units(ASK))]
    return bids, asks, book.time_ms


def ref_state(ref: RefBook):
    return ref.bids, ref.asks, ref.time


def as_float(value: Decimal | None) -> float:
    return math.nan if value is None else float(exact(lambda: +value))


def same(a: float, b: float, rel: float = 0.0) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b if rel == 0 else math.isclose(a, b, rel_tol=rel, abs_tol=0.0)


def check_queries(book: L2Book, ref: RefBook, k: int = 5, lots: int = 1, bps: float = 10.0) -> None:
    """Every query of the book against the exact model."""
    assert book_state(book)[:2] == ref_state(ref)[:2]
    assert book.two_sided == bool(ref.bids and ref.asks)
    assert book.best_bid_units() == (ref.bids[0][0] if ref.bids else 0)
    assert book.best_ask_units() == (ref.asks[0][0] if ref.asks else 0)
    assert same(book.best_bid(), as_float(ref._px(ref.bids[0][0]) if ref.bids else None))
    assert same(book.best_ask(), as_float(ref._px(ref.asks[0][0]) if ref.asks else None))
    assert book.best_bid_size() == (float(ref._sz(ref.bids[0][1])) if ref.bids else 0.0)
    assert same(book.mid(), as_float(exact(ref.mid)))
    assert same(book.spread_bps(), as_float(exact(ref.spread_bps)), rel=1e-14)
    assert same(book.microprice(), as_float(exact(ref.microprice)), rel=1e-14)
    assert same(book.imbalance(k), as_float(exact(ref.imbalance, k)))
    for side in (BID, ASK):
        lots_within = exact(ref.depth_within_bps_lots, side, bps)
        assert book.depth_within_bps_lots(side, bps) == lots_within
        assert same(book.depth_within_bps(side, bps),
                    math.nan if lots_within < 0 else float(ref._sz(lots_within)))
        vwap, impact, filled = exact(ref.vwap_lots, side, lots)
        est = book.vwap_lots(side, lots)
        assert est.filled_lots == filled and est.complete == (filled == lots)
        assert est.filled == float(ref._sz(filled))
        assert same(est.vwap, as_float(vwap), rel=1e-14)
        assert same(est.impact_bps, as_float(impact), rel=1e-14)
        for px, _, _ in ref.side(side)[:3]:
            for probe in (px - 1, px, px + 1):
                assert book.size_ahead_units(side, probe) == ref.size_ahead_lots(side, probe)


# ========================================================================= real fixtures
def test_hype_ws_frame_matches_reference_and_known_touch():
    ts, frame = HYPE_FRAME
    book, ref = new_book("HYPE"), None
    assert book.px_decimals == 4 and book.sz_decimals == 2
    assert book.apply_message(frame.encode(), ts) is True
    ref = RefBook("HYPE", 2, 4)
    ref.apply_message(frame)
    check_queries(book, ref, k=5, lots=50000, bps=5.0)
    # the touch, read off the frame by eye
    assert book.best_bid() == 21.277 and book.best_bid_size() == 80.29
    assert book.best_ask() == 21.306 and book.best_ask_size() == 223.2
    assert (book.bid_depth, book.ask_depth) == (20, 20)
    assert book.time_ms == 1736682893796 and book.recv_ns == ts
    assert book.levels_units(BID)[2][:2].tolist() == [2, 2]          # the n field


def test_btc_ws_frames_key_order_n_px_sz_and_time_last():
    book, ref = new_book("BTC"), RefBook("BTC", 5, 1)
    for ts, frame in BTC_FRAMES:
        assert book.apply_message(frame.encode(), ts) == ref.apply_message(frame)
        assert book_state(book) == ref_state(ref)
        assert book.recv_ns <= ts  # applied frames stamp their own receive time
    check_queries(book, ref, k=20, lots=300000, bps=2.5)
    assert book.applied_count == len(BTC_FRAMES) and book.stale_count == 0
    assert book.best_bid() == 105055.0


def test_btc_ws_frames_replayed_backwards_are_stale_and_ignored():
    book = new_book("BTC")
    last_ts, last = BTC_FRAMES[-1]
    assert book.apply_message(last, last_ts)
    before = book_state(book)
    results = [book.apply_message(frame, ts) for ts, frame in reversed(BTC_FRAMES[:-1])]
    assert results == [False] * (len(BTC_FRAMES) - 1)
    assert book.stale_count == len(BTC_FRAMES) - 1
    assert book_state(book) == before and book.recv_ns == last_ts and book.applied_count == 1


def test_duplicated_push_with_equal_time_is_applied():
    (ts1, f1), (ts2, f2) = BTC_FRAMES[:2]
    assert json.loads(f1) == json.loads(f2)  # the capture's duplicated push
    book = new_book("BTC")
    assert book.apply_message(f1, ts1) and book.apply_message(f2, ts2)
    assert book.stale_count == 0 and book.recv_ns == ts2 and book.applied_count == 2


def test_nautilus_http_pretty_printed_without_n():
    book = new_book("BTC")
    assert book.apply_message(NAUTILUS_BTC) is True
    ref = RefBook("BTC", 5, 1)
    ref.apply_message(NAUTILUS_BTC)
    check_queries(book, ref, k=3, lots=500000, bps=1.0)
    assert book.levels_units(ASK)[2].tolist() == [0] * 5       # n absent -> 0
    assert book.best_ask() == 110428.0 and book.time_ms == 1761786491067


def test_dydx_sdk_cassette_sz_decimals_1():
    book = new_book("DYDX")
    assert book.px_decimals == 5
    book.apply_message(DYDX_CASSETTE.encode())
    ref = RefBook("DYDX", 1, 5)
    ref.apply_message(DYDX_CASSETTE)
    check_queries(book, ref, k=10, lots=100000, bps=50.0)
    assert book.best_bid_units() == 211100                     # "2.111"


def test_liupingchao_rest_snapshot_agrees_with_recorders_touch():
    rec = json.loads((FIXTURES / "l2book_btc_rest_liupingchao_2026-05-29.jsonl").read_text())
    book = new_book("BTC")
    book.apply_message(json.dumps(rec["raw_payload"]), rec["local_ts"])
    assert book.best_bid() == float(rec["best_bid_px"]) and book.best_ask() == float(rec["best_ask_px"])
    assert (book.bid_depth, book.ask_depth) == (rec["bid_level_count"], rec["ask_level_count"])
    ref = RefBook("BTC", 5, 1)
    ref.apply_message(json.dumps(rec["raw_payload"]))
    check_queries(book, ref, k=7, lots=1000000, bps=0.5)


def test_archive_format_sol_via_message_and_levels():
    for line in (FIXTURES / "l2book_sol_archive_2026-04-01.jsonl").read_text().splitlines():
        raw = json.loads(line)["raw"]
        by_msg, by_levels = new_book("SOL"), new_book("SOL")
        by_msg.apply_message(json.dumps(raw))
        by_levels.apply_levels(raw["data"]["levels"], raw["data"]["time"], coin="SOL")
        assert book_state(by_msg) == book_state(by_levels)
        ref = RefBook("SOL", 2, 4)
        ref.apply_message(json.dumps(raw))
        check_queries(by_msg, ref, k=4, lots=20000, bps=3.0)


def test_envelope_bare_str_bytes_bytearray_memoryview_all_agree():
    ts, frame = HYPE_FRAME
    bare = json.dumps(json.loads(frame)["data"], indent=1)
    states = []
    for raw in (frame, frame.encode(), bytearray(frame.encode()), memoryview(frame.encode()), bare,
                bare.encode()):
        book = new_book("HYPE")
        assert book.apply_message(raw, ts)
        states.append(book_state(book))
    assert all(s == states[0] for s in states)


def test_other_channels_from_the_capture_are_refused():
    book = new_book("HYPE")
    book.apply_message(HYPE_FRAME[1], HYPE_FRAME[0])
    before = book_state(book)
    others = [f for _, f in frames("l2book_hype_ws_hftbacktest_3frames.txt") if '"l2Book","data"' not in f]
    others += [f for _, f in frames("l2book_btc_ws_hftbacktest_2025-01-26_head.txt") if "trades" in f]
    assert len(others) >= 3
    for frame in others:
        with pytest.raises(WrongChannelError, match="expected channel 'l2Book', got '(trades|subscriptionResponse)'"):
            book.apply_message(frame)
    assert book_state(book) == before and book.rejected_count == len(others)


def test_text_frame_before_json_is_malformed():
    with pytest.raises(MalformedMessageError, match="malformed JSON"):
        new_book("BTC").apply_message("Websocket connection established.")


# ================================================================= input forms agree
def test_apply_levels_and_apply_arrays_match_apply_message():
    ts, frame = HYPE_FRAME
    msg = new_book("HYPE")
    msg.apply_message(frame, ts)
    data = json.loads(frame)["data"]
    lv = new_book("HYPE")
    assert lv.apply_levels(data["levels"], data["time"], ts) is True
    arr = new_book("HYPE")
    (bp, bs, bn), (ap, as_, an) = msg.levels_units(BID), msg.levels_units(ASK)
    assert arr.apply_arrays(bp, bs, ap, as_, data["time"], ts, bid_n=bn, ask_n=an) is True
    assert book_state(msg) == book_state(lv) == book_state(arr)
    assert msg.recv_ns == lv.recv_ns == arr.recv_ns == ts


def test_recv_ns_defaults_to_the_monotonic_clock():
    book = new_book("HYPE")
    t0 = time.monotonic_ns()
    book.apply_message(HYPE_FRAME[1])
    assert t0 <= book.recv_ns <= time.monotonic_ns()


def test_fresh_book_state():
    book = L2Book("BTC", 5)
    assert not book.has_snapshot and not book.two_sided and book.time_ms == -1 and book.recv_ns == -1
    assert math.isnan(book.mid()) and book.best_bid_units() == 0 and math.isnan(book.imbalance(3))
    assert "BTC" in repr(book)


def test_constructor_units_and_validation():
    assert (L2Book("BTC", 5).px_decimals, L2Book("PURR/USDC", 0, is_spot=True).px_decimals) == (1, 8)
    assert L2Book("X", 2, px_decimals=3).px_decimals == 3
    assert L2Book("BTC", 5).capacity == book_mod.DEFAULT_CAPACITY == 20
    for args, kw in [(("BTC", 7), {}), (("", 2), {}), (("X" * 64, 2), {}), (("BTC", -1), {}),
                     (("BTC", 5), {"capacity": 0}), (("BTC", 5), {"capacity": 10**6})]:
        with pytest.raises(ValueError):
            L2Book(*args, **kw)


# ============================================================== one-sided and empty books
def test_one_sided_and_empty_books_have_a_defined_state():
    book = L2Book("BTC", 5)
    assert book.apply_arrays([], [], [1133970], [11543], 1)
    assert not book.two_sided and book.has_snapshot
    assert book.best_bid_units() == 0 and math.isnan(book.best_bid()) and book.best_bid_size() == 0.0
    assert book.best_ask() == 113397.0
    for q in (book.mid, book.spread_bps, book.microprice):
        assert math.isnan(q())
    assert book.imbalance(5) == -1.0
    assert math.isnan(book.depth_within_bps(ASK, 100)) and book.depth_within_bps_lots(BID, 100) == -1
    buy = book.vwap(ASK, 0.1)
    assert buy.vwap == 113397.0 and buy.filled_lots == 10000 and buy.complete and math.isnan(buy.impact_bps)
    sell = book.vwap(BID, 0.1)
    assert math.isnan(sell.vwap) and sell.filled == 0.0 and not sell.complete
    assert book.size_ahead(BID, 1.0) == 0.0 and book.size_ahead(ASK, 113397.0) == 0.11543
    assert book.levels_units(BID)[0].size == 0
    assert book.apply_message('{"coin":"BTC","time":2,"levels":[[],[]]}')
    assert (book.bid_depth, book.ask_depth) == (0, 0) and math.isnan(book.imbalance(1))


def test_thin_book_vwap_flag():
    book = new_book("HYPE")
    book.apply_message(HYPE_FRAME[1])
    total = int(book.levels_units(ASK)[1].sum())
    full = book.vwap_lots(ASK, total)
    assert full.complete and full.filled_lots == total
    thin = book.vwap_lots(ASK, total + 1)
    assert not thin.complete and thin.filled_lots == total and thin.vwap == full.vwap
    assert thin.impact_bps > 0 and book.vwap(BID, 1.0).impact_bps > 0


def test_query_argument_validation():
    book = new_book("HYPE")
    book.apply_message(HYPE_FRAME[1])
    for bad in (lambda: book.imbalance(0), lambda: book.vwap(ASK, 0.0), lambda: book.vwap_lots(BID, 0),
                lambda: book.depth_within_bps(2, 1.0), lambda: book.depth_within_bps(BID, -1.0),
                lambda: book.depth_within_bps(BID, math.nan), lambda: book.levels(5),
                lambda: book.vwap(ASK, math.nan)):
        with pytest.raises(ValueError):
            bad()


# ================================================================================ capacity
def test_capacity_keeps_best_levels_and_counts_truncation():
    ts, frame = HYPE_FRAME
    small, full = new_book("HYPE", capacity=5), new_book("HYPE")
    assert small.apply_message(frame, ts) and full.apply_message(frame, ts)
    for side in (BID, ASK):
        for a, b in zip(small.levels_units(side), full.levels_units(side)):
            assert a.tolist() == b[:5].tolist()
    assert small.truncated_count == 1 and full.truncated_count == 0
    data = json.loads(frame)["data"]
    small.apply_levels(data["levels"], data["time"])
    assert small.truncated_count == 2
    # a level beyond capacity is still validated
    levels = json.loads(json.dumps(data["levels"]))
    levels[0][15]["sz"] = "-1.0"
    with pytest.raises(NonPositiveError, match="bid level 15 sz"):
        small.apply_message(json.dumps({"channel": "l2Book", "data": dict(data, levels=levels)}))
    assert small.truncated_count == 2 and small.bid_depth == 5


def test_more_than_twenty_levels_with_larger_capacity():
    book = L2Book("T", 0, capacity=100)
    px = list(range(1000, 950, -1))
    assert book.apply_arrays(px, [1] * 50, [1001 + i for i in range(60)], [2] * 60, 5)
    assert (book.bid_depth, book.ask_depth) == (50, 60) and book.truncated_count == 0
    assert book.depth_within_bps_lots(ASK, 10000.0) == 120


# ====================================================================== malformed input
GOOD = '{"channel":"l2Book","data":{"coin":"BTC","time":7,"levels":[[{"px":"100.5","sz":"1.5","n":2},{"px":"100.0","sz":"2","n":1}],[{"px":"101.0","sz":"0.25","n":1}]]}}'

BAD_MESSAGES = [
    # (message, error class, message fragment)
    ("", TruncatedMessageError, "empty"),
    (GOOD[:-1], TruncatedMessageError, "truncated"),
    (GOOD[:57], TruncatedMessageError, "truncated"),
    (GOOD + "x", MalformedMessageError, "malformed JSON"),
    (GOOD.replace(':{"coin"', ':{"coin" "'), MalformedMessageError, "malformed JSON"),
    (GOOD.replace('"n":2}', '"n":2,}'), MalformedMessageError, "malformed JSON"),
    ("[1,2]", MalformedMessageError, "must be a JSON object"),
    ('{"channel":"l2Book","data":[]}', MalformedMessageError, "data must be an object"),
    (GOOD.replace('"levels":[[', '"levels":[[],[],['), MalformedMessageError, "levels must be a list"),
    (GOOD.replace('"levels":[[{"px":"100.5","sz":"1.5","n":2},{"px":"100.0","sz":"2","n":1}],', '"levels":['),
     MalformedMessageError, "levels must be a list"),
    (GOOD.replace('"levels":[[{', '"levels":[{"a":1},[{'), MalformedMessageError, "bid side: side must be a list"),
    (GOOD.replace('[{"px":"101.0"', '[7,{"px":"101.0"'), MalformedMessageError, "ask level 0: level must be an object"),
    (GOOD.replace('"px":"100.5"', '"px":100.5'), MalformedMessageError, "bid level 0: px must be a decimal string, got 100.5"),
    (GOOD.replace('"coin":"BTC"', '"coin":5'), MalformedMessageError, "coin must be a string"),
    ('{"channel":"l2Book"}', MissingFieldError, "missing field 'data'"),
    (GOOD.replace('"coin":"BTC",', ''), MissingFieldError, "missing field 'coin'"),
    (GOOD.replace('"time":7,', ''), MissingFieldError, "missing field 'time'"),
    ('{"coin":"BTC","time":1}', MissingFieldError, "missing field 'levels'"),
    (GOOD.replace('"sz":"0.25",', ''), MissingFieldError, "ask level 0: missing field 'sz'"),
    (GOOD.replace('"px":"100.0",', ''), MissingFieldError, "bid level 1: missing field 'px'"),
    (GOOD.replace('"time":7,', '"time":7,"time":8,'), MalformedMessageError, "duplicate key 'time'"),
    (GOOD.replace('"sz":"0.25"', '"sz":"0.25","sz":"0.5"'), MalformedMessageError, "ask level 0: duplicate key 'sz'"),
    (GOOD.replace('{"channel"', '{"channel":"l2Book","channel"'), MalformedMessageError, "duplicate key 'channel'"),
    (GOOD.replace('"l2Book"', '"bbo"'), WrongChannelError, "got 'bbo'"),
    (GOOD.replace('"BTC"', '"ETH"'), CoinMismatchError, "'ETH' cannot be applied to the BTC book"),
    (GOOD.replace('"1.5"', '"abc"'), InvalidNumberError, "bid level 0 sz: 'abc' is not a decimal number"),
    (GOOD.replace('"1.5"', '""'), InvalidNumberError, "not a decimal number"),
    (GOOD.replace('"1.5"', '"1e3"'), InvalidNumberError, "not a decimal number"),
    (GOOD.replace('"1.5"', '"1."'), InvalidNumberError, "not a decimal number"),
    (GOOD.replace('"1.5"', '" 1.5"'), InvalidNumberError, "not a decimal number"),
    (GOOD.replace('"1.5"', '"1\\u00e95"'), InvalidNumberError, "not a decimal number"),
    (GOOD.replace('"1.5"', '"1\\n5"'), InvalidNumberError, "not a decimal number"),
    (GOOD.replace('"1.5"', '"10000000000.0"'), InvalidNumberError, "out of range"),
    (GOOD.replace('"time":7', '"time":"7"'), InvalidNumberError, "'time' must be a non-negative integer"),
    (GOOD.replace('"time":7', '"time":7.5'), InvalidNumberError, "'time' must be a non-negative integer"),
    (GOOD.replace('"time":7', '"time":-7'), InvalidNumberError, "'time' must be a non-negative integer"),
    (GOOD.replace('"time":7', '"time":9223372036854775808'), InvalidNumberError, "out of range"),
    (GOOD.replace('"n":2', '"n":null'), InvalidNumberError, "'n' must be a non-negative integer"),
    (GOOD.replace('"100.5"', '"100.55"'), TooManyDecimalsError, "bid level 0 px: '100.55' has more than 1 decimals"),
    (GOOD.replace('"1.5"', '"1.500001"'), TooManyDecimalsError, "sz_decimals=5"),
    (GOOD.replace('"1.5"', '"0.000"'), NonPositiveError, "bid level 0 sz: '0.000' is not positive"),
    (GOOD.replace('"0.25"', '"-0.25"'), NonPositiveError, "ask level 0 sz: '-0.25' is not positive"),
    (GOOD.replace('"101.0"', '"0"'), NonPositiveError, "ask level 0 px"),
    (GOOD.replace('"100.0"', '"100.5"'), UnsortedLevelsError, "bid level 1: px 100.5 is not below the previous level's 100.5"),
    (GOOD.replace('"100.0"', '"100.7"'), UnsortedLevelsError, "bids must be strictly descending"),
    (GOOD.replace('[{"px":"101.0","sz":"0.25","n":1}]', '[{"px":"101.0","sz":"1"},{"px":"100.9","sz":"1"}]'),
     UnsortedLevelsError, "asks must be strictly ascending"),
    (GOOD.replace('"101.0"', '"100.5"'), CrossedBookError, "crossed book: best bid 100.5 >= best ask 100.5"),
    (GOOD.replace('"101.0"', '"99.0"'), CrossedBookError, "best ask 99"),
]


@pytest.mark.parametrize("raw,err,fragment", BAD_MESSAGES, ids=[f"{c[1].__name__}-{i}" for i, c in enumerate(BAD_MESSAGES)])
def test_bad_message_raises_specific_error_and_keeps_state(raw, err, fragment):
    book = L2Book("BTC", 5)
    assert book.apply_message(GOOD.replace('"time":7', '"time":3'), 11)
    before = book_state(book), book.recv_ns, book.applied_count
    with pytest.raises(err) as info:
        book.apply_message(raw.encode(), 99)
    assert isinstance(info.value, BookError) and isinstance(info.value, ValueError)
    assert fragment in str(info.value), str(info.value)
    assert (book_state(book), book.recv_ns, book.applied_count) == before
    assert book.rejected_count == 1
    # the model agrees on the class (it cannot tell "empty" from other malformed input)
    with pytest.raises(RefError) as ref_info:
        RefBook("BTC", 5, 1).apply_message(raw)
    assert issubclass(err, getattr(book_mod, ref_info.value.kind))


def test_good_message_is_accepted_and_variants_too():
    book = L2Book("BTC", 5)
    assert book.apply_message(GOOD)
    for variant in (
        GOOD.replace('"1.5"', '"1.50000000"'),                  # trailing zeros beyond sz_decimals
        GOOD.replace('"coin":"BTC"', '"coin":"B\\u0054C"'),      # escaped coin (cold path)
        GOOD.replace('"n":2', '"n":-0'),
        GOOD.replace('"1.5"', '"1\\u002e5"').replace('"101.0"', '"\\u0031\\u00301.0"'),  # escaped digits
        GOOD.replace('{"px":"101.0"', '{"extra":{"a":[1,-2.5e-3,true,false,null,"\\"]"]},"px":"101.0"'),
        '{"data":' + GOOD.split('"data":', 1)[1][:-1] + ',"channel":"l2Book"}',   # data before channel
        " \r\n\t" + GOOD.replace(",", " ,\n ").replace(":", " :\t") + " \n",
    ):
        assert book.apply_message(variant), variant
        assert book.best_bid_units() == 1005 and book.best_ask_units() == 1010


def test_bad_levels_and_arrays_inputs():
    book = L2Book("BTC", 5)
    book.apply_arrays([1005], [150000], [1010], [25000], 3)
    before = book_state(book)
    bad_levels = [
        ("x", MalformedMessageError), ([[]], MalformedMessageError), ([[], {}], MalformedMessageError),
        ([[1], []], MalformedMessageError), ([[{"px": "1"}], []], MissingFieldError),
        ([[{"px": 1.0, "sz": "1"}], []], MalformedMessageError),
        ([[{"px": "1.0", "sz": "1", "n": True}], []], InvalidNumberError),
        ([[{"px": "1.05", "sz": "1"}], []], TooManyDecimalsError),
        ([[{"px": "1.0", "sz": "-1"}], []], NonPositiveError),
        ([[{"px": "1.0", "sz": "x"}], []], InvalidNumberError),
        ([[{"px": "1.0", "sz": "\ud800"}], []], InvalidNumberError),
        ([[{"px": "1.0", "sz": "1"}, {"px": "2.0", "sz": "1"}], []], UnsortedLevelsError),
        ([[{"px": "2.0", "sz": "1"}], [{"px": "1.0", "sz": "1"}]], CrossedBookError),
    ]
    for levels, err in bad_levels:
        with pytest.raises(err):
            book.apply_levels(levels, 5)
    for bad_time in (-1, 1.5, "5", True, 2**63):
        with pytest.raises(InvalidNumberError):
            book.apply_levels([[], []], bad_time)
    with pytest.raises(CoinMismatchError):
        book.apply_levels([[], []], 5, coin="ETH")
    bad_arrays = [
        (([1], [1, 2], [], []), {}, MalformedMessageError),
        (([1.5], [1], [], []), {}, InvalidNumberError),
        (([0], [1], [], []), {}, NonPositiveError),
        (([1], [0], [], []), {}, NonPositiveError),
        (([10**15], [1], [], []), {}, InvalidNumberError),
        (([2, 3], [1, 1], [], []), {}, UnsortedLevelsError),
        (([], [], [3, 3], [1, 1]), {}, UnsortedLevelsError),
        (([5], [1], [5], [1]), {}, CrossedBookError),
        (([5], [1], [6], [1]), {"bid_n": [-1]}, InvalidNumberError),
        (([5], [1], [6], [1]), {"ask_n": [1, 2]}, MalformedMessageError),
    ]
    for args, kw, err in bad_arrays:
        with pytest.raises(err):
            book.apply_arrays(*args, 5, **kw)
    with pytest.raises(InvalidNumberError):
        book.apply_arrays([], [], [], [], -5)
    assert book_state(book) == before
    assert book.rejected_count == len(bad_levels) + 5 + 1 + len(bad_arrays) + 1
    with pytest.raises(TypeError):
        book.apply_message(12345)


def test_undecodable_text_is_a_book_error_not_a_crash():
    book = L2Book("BTC", 5)
    with pytest.raises(MalformedMessageError):
        book.apply_message('{"coin":"\ud800"}')
    for raw in (b'{"coin":"B\\u0054C\xff","time":1,"levels":[[],[]]}', b'{"coin":"\xff","time":1,"levels":[[],[]]}'):
        with pytest.raises(CoinMismatchError, match="cannot be applied to the BTC book"):
            book.apply_message(raw)
    assert book.rejected_count == 3 and not book.has_snapshot


# ====================================================================== property tests
COINS = ["BTC", "HYPE", "@107", "PURR/USDC", "xyz:XYZ100", "kPEPE", "ÆTHER"]


def fmt(units: int, decimals: int, style: int) -> str:
    """Units -> a decimal string in one of the spellings a valid source may use."""
    text = str(units).rjust(decimals + 1, "0")
    if decimals:
        text = f"{text[:-decimals]}.{text[-decimals:]}"
    if style == 1 and "." in text:                   # Hyperliquid style: 113377.0, 0.11543
        text = text.rstrip("0")
        text = text + "0" if text.endswith(".") else text
    elif style == 2:                                 # padded with zeros beyond the decimals
        text = text + ("" if "." in text else ".") + "00"
    return text


@st.composite
def books(draw, max_levels=25):
    sz_dec = draw(st.integers(0, 5))
    spot = draw(st.booleans())
    px_dec = (8 if spot else 6) - sz_dec
    top = draw(st.integers(2, 10**13))
    nb, na = draw(st.integers(0, max_levels)), draw(st.integers(0, max_levels))
    gaps = st.integers(1, 10**4)
    bids, px = [], top
    for _ in range(nb):
        if px <= 0:
            break
        bids.append(px)
        px -= draw(gaps)
    asks, px = [], top + draw(gaps)
    for _ in range(na):
        asks.append(px)
        px += draw(gaps)
    sizes = st.integers(1, 10**12)
    counts = st.integers(0, 5000)
    bid_lv = [(p, draw(sizes), draw(counts)) for p in bids]
    ask_lv = [(p, draw(sizes), draw(counts)) for p in asks]
    return dict(coin=draw(st.sampled_from(COINS)), sz_dec=sz_dec, px_dec=px_dec, spot=spot,
                time=draw(st.integers(0, 2**63 - 1)), bids=bid_lv, asks=ask_lv)


@st.composite
def encoded(draw, b):
    """One JSON spelling of a book: key order, spacing, n present or not, extra keys,
    envelope or bare, number styles."""
    rnd = random.Random(draw(st.integers(0, 2**32)))
    with_n = draw(st.booleans())

    def level(p, s, n):
        items = [("px", fmt(p, b["px_dec"], rnd.randrange(3))), ("sz", fmt(s, b["sz_dec"], rnd.randrange(3)))]
        if with_n:
            items.append(("n", n))
        if rnd.random() < 0.1:
            items.append(("x", [None, {"y": "]}\\\""}]))
        rnd.shuffle(items)
        return dict(items)

    data = [("coin", b["coin"]), ("time", b["time"]),
            ("levels", [[level(*lv) for lv in b["bids"]], [level(*lv) for lv in b["asks"]]])]
    if rnd.random() < 0.3:
        data.append(("nSigFigs", None))
    rnd.shuffle(data)
    if draw(st.booleans()):
        outer = [("channel", "l2Book"), ("data", dict(data))]
        if rnd.random() < 0.2:
            outer.reverse()
        obj = dict(outer)
    else:
        obj = dict(data)
    indent = draw(st.sampled_from([None, None, 0, 1, 2, "\t"]))
    seps = draw(st.sampled_from([(",", ":"), (", ", ": "), (" ,", " : ")]))
    text = json.dumps(obj, indent=indent, separators=seps, ensure_ascii=draw(st.booleans()))
    return text.encode() if draw(st.booleans()) else text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), capacity=st.sampled_from([20, 20, 7, 40]))
def test_property_random_valid_books_round_trip_exactly(data, capacity):
    b = data.draw(books())
    raw = data.draw(encoded(b))
    book = L2Book(b["coin"], b["sz_dec"], is_spot=b["spot"], capacity=capacity)
    ref = ref_for(book)
    assert book.apply_message(raw, 123) is ref.apply_message(raw) is True
    assert book_state(book) == ref_state(ref)
    assert book.truncated_count == ref.truncated
    # the same book through the other two input forms
    by_levels = L2Book(b["coin"], b["sz_dec"], is_spot=b["spot"], capacity=capacity)
    obj = json.loads(raw)
    d = obj["data"] if "channel" in obj else obj
    assert by_levels.apply_levels(d["levels"], d["time"], 123, coin=d["coin"])
    by_arrays = L2Book(b["coin"], b["sz_dec"], is_spot=b["spot"], capacity=capacity)
    (bp, bs, bn), (ap, as_, an) = ([np.array(c, dtype=np.int64) for c in zip(*lv)] if lv else [[]] * 3
                                   for lv in (b["bids"], b["asks"]))
    by_arrays.apply_arrays(bp, bs, ap, as_, b["time"], 123,
                           bid_n=bn if b["bids"] else None, ask_n=an if b["asks"] else None)
    assert book_state(by_levels)[:2] == book_state(book)[:2]
    assert [lv[:2] for side in book_state(by_arrays)[:2] for lv in side] == \
        [lv[:2] for side in book_state(book)[:2] for lv in side]


NICE_BPS = st.one_of(st.integers(0, 400).map(lambda q: q / 4), st.sampled_from([0.0, 1e-9, 1e6]))


@settings(max_examples=300, deadline=None)
@given(b=books(max_levels=20), k=st.integers(1, 25), bps=NICE_BPS, lots=st.integers(1, 10**13))
def test_property_queries_match_decimal_model(b, k, bps, lots):
    book = L2Book(b["coin"], b["sz_dec"], is_spot=b["spot"])
    ref = ref_for(book)
    (bp, bs, bn), (ap, as_, an) = ([list(c) for c in zip(*lv)] if lv else [[], [], []]
                                   for lv in (b["bids"], b["asks"]))
    book.apply_arrays(bp, bs, ap, as_, b["time"], bid_n=bn, ask_n=an)
    ref.apply_snapshot(Snapshot(b["coin"], b["time"], b["bids"], b["asks"]))
    check_queries(book, ref, k=k, lots=lots, bps=bps)


# ---- differential fuzzing of real frames: any ASCII mutation, book == model
BASES = [HYPE_FRAME[1], BTC_FRAMES[2][1], NAUTILUS_BTC, DYDX_CASSETTE, GOOD]
BASE_COINS = ["HYPE", "BTC", "BTC", "DYDX", "BTC"]
ALPHABET = '{}[]:,"\\ \n-.+0123456789eEnultrfasxpzcvdhiLBTCk/'


@st.composite
def mutated(draw):
    i = draw(st.integers(0, len(BASES) - 1))
    raw = BASES[i]
    for _ in range(draw(st.integers(1, 2))):
        kind = draw(st.sampled_from(["replace", "replace", "delete", "insert", "truncate", "dup"]))
        pos = draw(st.integers(0, max(0, len(raw) - 1)))
        ch = draw(st.sampled_from(ALPHABET))
        if kind == "replace":
            raw = raw[:pos] + ch + raw[pos + 1:]
        elif kind == "delete":
            raw = raw[:pos] + raw[pos + 1:]
        elif kind == "insert":
            raw = raw[:pos] + ch + raw[pos:]
        elif kind == "truncate":
            raw = raw[:pos]
        else:
            span = draw(st.integers(1, 30))
            raw = raw[:pos] + raw[pos:pos + span] + raw[pos:]
    return i, raw


@settings(max_examples=1500, deadline=None)
@given(case=mutated())
def test_property_mutated_real_frames_book_matches_model(case):
    i, raw = case
    coin = BASE_COINS[i]
    book, ref = new_book(coin), RefBook(coin, SZ_DECIMALS[coin], 6 - SZ_DECIMALS[coin])
    assert book.apply_message(BASES[i]) is ref.apply_message(BASES[i]) is True
    before = book_state(book)
    try:
        expected = ref.apply_message(raw)
        ref_err = None
    except RefError as exc:
        ref_err = exc.kind
    if ref_err is None:
        assert book.apply_message(raw) is expected
        assert book_state(book) == ref_state(ref)
    else:
        with pytest.raises(BookError) as info:
            book.apply_message(raw)
        assert isinstance(info.value, getattr(book_mod, ref_err)), (ref_err, str(info.value))
        assert book_state(book) == before


# ============================================================================ cimport API
@pytest.mark.slow
def test_pxd_is_cimportable_from_another_cython_module(tmp_path):
    """Another _core module (ladder, estimators) reads the book through book.pxd."""
    root = Path(book_mod.__file__).resolve().parents[2]
    (tmp_path / "reader.pyx").write_text(textwrap.dedent("""
        from hlmm._core.book cimport L2Book, BookSide, BOOK_BID, BOOK_ASK

        def touch(L2Book book):
            cdef BookSide* bids = &book.bids
            cdef int64_t filled = 0
            return (bids.px[0], bids.sz[0], book.asks.px[0], book.c_mid(), book.c_two_sided(),
                    book.c_depth_within_bps(BOOK_ASK, 50.0), book.c_vwap_units(BOOK_ASK, 100, &filled),
                    filled, book.c_size_ahead(BOOK_BID, book.c_best_bid()))
    """).replace("def touch", "from libc.stdint cimport int64_t\n\ndef touch", 1))
    (tmp_path / "setup.py").write_text(textwrap.dedent(f"""
        from setuptools import setup, Extension
        from Cython.Build import cythonize
        setup(ext_modules=cythonize([Extension("reader", ["reader.pyx"])],
                                    include_path=[{str(root)!r}], language_level=3, quiet=True))
    """))
    out = subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    sys.path.insert(0, str(tmp_path))
    try:
        import reader
    finally:
        sys.path.remove(str(tmp_path))
    book = new_book("HYPE")
    book.apply_message(HYPE_FRAME[1])
    got = reader.touch(book)
    assert got[:3] == (212770, 8029, 213060)
    assert got[3] == book.mid() and got[4] is True
    assert got[5] == book.depth_within_bps_lots(ASK, 50.0)
    est = book.vwap_lots(ASK, 100)
    assert got[6] == est.vwap * 10**4 and got[7] == 100
    assert got[8] == 8029
