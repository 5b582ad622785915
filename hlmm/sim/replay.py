"""Replay a recorded Hyperliquid market (l2Book snapshots and trades) into the sim.

``ReplayMarket(exchange, path, speed=1.0, loop=False)`` is attached like the synthetic
market (``exchange.attach_market``). It reads a recording of WebSocket messages and makes
the sim's book and tape follow it, through the exchange's internal flow API, so that a
client's orders live in the same book as the replayed liquidity and trade with it.

File formats (one message per line, plain or gzip-compressed, detected per line):

* ``<local_ts_ns> <frame>``: raw frames as hftbacktest's Hyperliquid recorder writes them;
* ``<frame>``: a WebSocket frame ``{"channel": "l2Book"|"trades", "data": ...}``;
* ``{"time": ..., "raw": <frame>}``: Hyperliquid's l2Book archive lines;
* ``{"raw_payload": <l2Book data>, ...}``: a recorded REST ``l2Book`` answer.

Other channels (``subscriptionResponse``, ``pong``, ...) are ignored. A line that is not
one of these, or a message that does not parse (bad JSON, a price off the coin's tick,
a coin the sim does not trade), is skipped and counted (``truth()["skipped"]``); the first
few are logged as ``sim_replay_skipped`` with the line number. A truncated gzip stream
ends the file where it breaks.

Timing: every message is placed at its exchange time (``data.time`` of a book, ``time`` of
a trade; the line's local time if absent). The recording's start ``T0`` is the first
l2Book's time, replayed at ``t0`` (the exchange's clock when the market is created): a
message of time ``T`` happens at ``t0 + (T - T0) / speed``, stamped with that time,
whatever the pattern of ``advance()`` calls. Times never go back (a message older than
the previous one happens with it). Trades older than ``T0`` (the recent-trades snapshot a
``trades`` subscription starts with) and trades whose ``tid`` was already replayed are not
printed. At the end of the file the market stops (the last book stays; no more trades) or,
with ``loop``, starts again from the top after ``LOOP_GAP_MS``.

How replayed messages meet the sim (and a client's orders):

* **Book.** One replay maker account holds one order per recorded level (exact ``px`` and
  ``sz``; orders below $10 allowed, as a recording holds such remainders). Each snapshot
  cancels levels that left or changed and places the new ones (Gtc), so the sim's l2Book
  equals the recording's, plus any client orders (``n`` counts sim orders: 1 per
  replayed level). A new level that crosses a client's resting order trades with it: the
  market moved through the client's quote. Liquidity a client takes is back at the next
  snapshot (the recording does not know about the client: no market impact).
* **Trades.** A recorded trade (aggressor side, ``px``, ``sz``) is an Ioc of the replay
  taker account at limit ``px`` for ``sz``. First, replayed levels better than ``px`` on
  the resting side are removed (the print proves they were gone) and the replayed level
  at ``px`` is topped up to at least ``sz``. So without clients the sim prints exactly the
  recorded trade; a client's resting order at ``px`` or better is reached first (better
  price, or earlier in the queue than the top-up) and is filled, the rest of the recorded
  size coming from the replayed level.

``truth()`` (simTruth)::

    {"kind": "replay", "file": name, "speed": 1.0, "loop": false, "t0": ms,
     "recorded_start_ms": T0, "recorded_time_ms": time of the last message applied,
     "time": its sim time, "passes": completed passes, "finished": bool,
     "books": snapshots applied, "trades": trades printed, "trades_skipped": history or
     duplicates, "skipped": unreadable lines/messages, "ignored": other channels,
     "accounts": {"maker": "0x..", "taker": "0x.."},
     "coins": {"BTC": {"recorded_bid": px, "recorded_ask": px}}}
"""
from __future__ import annotations

import gzip
import io
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator

import orjson

from hlmm.exchange import wire
from hlmm.log import get_logger
from hlmm.sim.errors import SimError
from hlmm.sim.market import FLOW_ACCOUNT_USDC, flow_address

if TYPE_CHECKING:
    from hlmm.sim.exchange import SimExchange

log = get_logger("sim.replay")

LOOP_GAP_MS = 1000
_LOGGED_SKIPS = 5
_REPLAY_MAKER, _REPLAY_TAKER = 0x4E, 0x4F


class ReplayError(SimError):
    """The recording cannot be replayed (missing file, no book of a sim coin); says why."""


@dataclass
class _Book:
    t: int
    coin: str
    levels: list  # [bids, asks] as lists of {"px", "sz", "n"} wire dicts


@dataclass
class _Trades:
    t: int
    coin: str
    trades: list  # wire dicts


class _Reader:
    """Messages of a recording in file order, with their exchange times."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.line_no = 0
        self.skipped = 0
        self.ignored = 0

    def _open(self) -> io.TextIOBase:
        with open(self.path, "rb") as f:
            magic = f.read(2)
        if magic == b"\x1f\x8b":
            return io.TextIOWrapper(gzip.open(self.path, "rb"), encoding="utf-8", errors="replace")
        return open(self.path, encoding="utf-8", errors="replace")

    def __iter__(self) -> Iterator[_Book | _Trades]:
        self.line_no = 0
        with self._open() as f:
            while True:
                try:
                    line = f.readline()
                except (EOFError, OSError, gzip.BadGzipFile) as exc:  # a truncated or corrupt stream
                    self.skip(f"the compressed stream breaks here ({exc}); replaying what came before")
                    return
                if not line:
                    return
                self.line_no += 1
                line = line.strip()
                if not line:
                    continue
                msg = self._parse(line)
                if msg is not None:
                    yield msg

    def skip(self, reason: str) -> None:
        self.skipped += 1
        if self.skipped <= _LOGGED_SKIPS:
            log.warning("sim_replay_skipped", file=os.path.basename(self.path), line=self.line_no, reason=reason)

    def _parse(self, line: str) -> _Book | _Trades | None:
        local_ms = None
        text = line
        if line[0].isdigit():
            head, _, text = line.partition(" ")
            if not head.isdigit() or not text:
                self.skip("expected '<local_ts_ns> <frame>'")
                return None
            local_ms = int(head) // 1_000_000
        try:
            obj = orjson.loads(text)
        except orjson.JSONDecodeError:
            self.skip("not JSON")
            return None
        if not isinstance(obj, dict):
            self.skip("not a JSON object")
            return None
        if "channel" in obj:
            frame = obj
        elif isinstance(obj.get("raw"), dict):
            frame = obj["raw"]
        elif isinstance(obj.get("raw_payload"), dict):
            frame = {"channel": "l2Book", "data": obj["raw_payload"]}
            if local_ms is None and isinstance(obj.get("local_ts"), int):
                local_ms = obj["local_ts"] // 1_000_000
        else:
            self.skip("neither a WebSocket frame nor a recorder envelope")
            return None
        channel, data = frame.get("channel"), frame.get("data")
        if channel == "l2Book":
            if not isinstance(data, dict) or not isinstance(data.get("coin"), str):
                self.skip("l2Book without a coin")
                return None
            levels = data.get("levels")
            if not (isinstance(levels, list) and len(levels) == 2 and all(isinstance(s, list) for s in levels)):
                self.skip("l2Book without two sides of levels")
                return None
            t = data.get("time")
            t = t if isinstance(t, int) else local_ms
            if t is None:
                self.skip("l2Book without a time")
                return None
            return _Book(t, data["coin"], levels)
        if channel == "trades":
            if not isinstance(data, list) or not data:
                self.skip("trades without a list of trades")
                return None
            good = [x for x in data if isinstance(x, dict) and isinstance(x.get("coin"), str)]
            if len(good) != len(data):
                self.skip("a trade that is not an object with a coin")
                if not good:
                    return None
            t = good[-1].get("time")
            t = t if isinstance(t, int) else local_ms
            if t is None:
                self.skip("trades without a time")
                return None
            return _Trades(t, good[0]["coin"], good)
        self.ignored += 1
        return None


class ReplayMarket:
    """Drives the sim's book and tape from a recording; see the module docstring."""

    def __init__(self, exchange: "SimExchange", path: str, speed: float = 1.0, loop: bool = False,
                 start_ms: int | None = None) -> None:
        if not (isinstance(speed, (int, float)) and not isinstance(speed, bool) and 0 < speed <= 1e6):
            raise ReplayError(f"replay speed must be a number in (0, 1000000], got {speed!r}")
        if not os.path.isfile(path):
            raise ReplayError(f"replay file {path!r} does not exist or is not a file")
        self.ex = exchange
        self.path = path
        self.speed = float(speed)
        self.loop = bool(loop)
        self.t0 = exchange.now() if start_ms is None else int(start_ms)
        self.maker = flow_address(_REPLAY_MAKER)
        self.taker = flow_address(_REPLAY_TAKER)
        self.T0 = self._first_book_time(path)
        for address in (self.maker, self.taker):
            exchange.create_account(address, FLOW_ACCOUNT_USDC)
        self._reader = _Reader(path)
        self._events: Iterator[_Book | _Trades] | None = iter(self._reader)
        self._pending: _Book | _Trades | None = None
        self._offset = 0.0      # sim ms added to every time (grows by one pass per loop)
        self._last_at = self.t0  # sim time of the last message applied
        self._last_recorded = self.T0
        self._pass_end = self.T0
        self.passes = 0
        self.finished = False
        self.books = self.trades = self.trades_skipped = 0
        self._seen_tids: set[int] = set()
        # the replay maker's orders per coin: (bids, asks) as px -> oid
        self._sides: dict[str, tuple[dict[int, int], dict[int, int]]] = {c: ({}, {}) for c in exchange.venue.coins}
        self._recorded_top: dict[str, tuple[str | None, str | None]] = {}

    @staticmethod
    def coins_in(path: str, max_messages: int = 10_000) -> list[str]:
        """Coins whose l2Books appear among the first ``max_messages`` messages (for setting up a sim)."""
        coins: list[str] = []
        for i, msg in enumerate(_Reader(path)):
            if isinstance(msg, _Book) and msg.coin not in coins:
                coins.append(msg.coin)
            if i >= max_messages:
                break
        return coins

    @staticmethod
    def first_mids(path: str, max_messages: int = 10_000) -> dict[str, float]:
        """The first recorded mid of each coin (for a sim's start prices)."""
        mids: dict[str, float] = {}
        for i, msg in enumerate(_Reader(path)):
            if isinstance(msg, _Book) and msg.coin not in mids:
                try:
                    bid, ask = float(msg.levels[0][0]["px"]), float(msg.levels[1][0]["px"])
                    mids[msg.coin] = (bid + ask) / 2
                except (IndexError, KeyError, TypeError, ValueError):
                    continue
            if i >= max_messages:
                break
        return mids

    def _first_book_time(self, path: str) -> int:
        coins = set(self.ex.venue.coins)
        seen: set[str] = set()
        for msg in _Reader(path):
            if isinstance(msg, _Book):
                if msg.coin in coins:
                    return msg.t
                seen.add(msg.coin)
        found = f"; it has books of {', '.join(sorted(seen))}" if seen else "; it has no l2Book message"
        raise ReplayError(f"replay file {os.path.basename(path)!r} has no l2Book of a coin the sim trades "
                          f"({', '.join(self.ex.venue.coins)}){found}")

    # ---- stepping ----------------------------------------------------------------------
    def _at(self, t_recorded: int) -> int:
        return int(self.t0 + self._offset + (t_recorded - self.T0) / self.speed)

    def _next(self) -> _Book | _Trades | None:
        if self._pending is not None:
            return self._pending
        while self._events is not None:
            msg = next(self._events, None)
            if msg is not None:
                self._pending = msg
                return msg
            self._end_of_pass()
        return None

    def _end_of_pass(self) -> None:
        self.passes += 1
        log.info("sim_replay_pass", file=os.path.basename(self.path), passes=self.passes, books=self.books,
                 trades=self.trades, looping=self.loop)
        if not self.loop or self.books == 0:
            self._events = None
            self.finished = True
            return
        span = (self._pass_end - self.T0) / self.speed
        self._offset += span + LOOP_GAP_MS
        self._seen_tids.clear()
        self._events = iter(self._reader)

    def step(self, now_ms: int) -> None:
        """Apply every recorded message due by ``now_ms``, each at its own time."""
        ex = self.ex
        while True:
            msg = self._next()
            if msg is None:
                return
            at = max(self._at(msg.t), self._last_at)
            if at > now_ms:
                return
            self._pending = None
            ex.flow_time(at)
            self._last_at = at
            self._last_recorded = max(self._last_recorded, msg.t)
            self._pass_end = max(self._pass_end, msg.t)
            if msg.coin not in self._sides:
                self._bad(f"coin {msg.coin!r} is not traded by the sim")
            elif ex.faults.is_frozen(msg.coin):
                continue  # a frozen book ignores the market; the next snapshot resynchronises it
            elif isinstance(msg, _Book):
                self._apply_book(msg)
            else:
                self._apply_trades(msg)

    def _bad(self, reason: str) -> None:
        self._reader.skip(reason)

    # ---- books ---------------------------------------------------------------------------
    def _levels(self, raw: list, coin: str) -> dict[int, int] | None:
        info = self.ex.asset(coin)
        out: dict[int, int] = {}
        for lvl in raw:
            if not isinstance(lvl, dict):
                return None
            try:
                px = wire.wire_to_units(lvl.get("px"), info.px_decimals)
                lots = wire.wire_to_units(lvl.get("sz"), info.sz_decimals)
            except ValueError:
                return None
            if px is None or lots is None or px <= 0 or lots <= 0 or not wire.price_valid(px, info):
                return None
            out[px] = out.get(px, 0) + lots
        return out

    def _apply_book(self, msg: _Book) -> None:
        bids = self._levels(msg.levels[0], msg.coin)
        asks = self._levels(msg.levels[1], msg.coin)
        if bids is None or asks is None:
            self._bad(f"{msg.coin} l2Book with a level that is not a valid price/size")
            return
        if bids and asks and max(bids) >= min(asks):
            self._bad(f"{msg.coin} l2Book is crossed")
            return
        ex, coin = self.ex, msg.coin
        bid_side, ask_side = self._sides[coin]
        place: list[tuple[bool, int, int]] = []
        for side, want, is_buy in ((bid_side, bids, True), (ask_side, asks, False)):
            for px in list(side):
                oid = side[px]
                if want.get(px) == ex.order_lots(oid):
                    continue
                del side[px]
                ex.internal_cancel(self.maker, coin, oid)
            place.extend((is_buy, px, lots) for px, lots in want.items() if px not in side)
        for is_buy, px, lots in place:
            self._rest(coin, is_buy, px, lots)
        self.books += 1
        self._recorded_top[coin] = (msg.levels[0][0]["px"] if msg.levels[0] else None,
                                    msg.levels[1][0]["px"] if msg.levels[1] else None)

    def _rest(self, coin: str, is_buy: bool, px: int, lots: int) -> None:
        status = self.ex.internal_place(self.maker, coin, is_buy, px, lots, "Gtc", min_notional=False)
        resting = status.get("resting")
        if resting is not None:
            self._sides[coin][0 if is_buy else 1][px] = resting["oid"]

    # ---- trades --------------------------------------------------------------------------
    def _apply_trades(self, msg: _Trades) -> None:
        ex = self.ex
        for tr in msg.trades:
            tid, t = tr.get("tid"), tr.get("time")
            if isinstance(t, int) and t < self.T0:
                self.trades_skipped += 1      # history sent on subscribing, before the recording starts
                continue
            if isinstance(tid, int):
                if tid in self._seen_tids:
                    self.trades_skipped += 1  # the same trade pushed twice
                    continue
                self._seen_tids.add(tid)
            coin = tr["coin"]
            if coin not in self._sides:
                self._bad(f"coin {coin!r} is not traded by the sim")
                continue
            side = tr.get("side")
            info = ex.asset(coin)
            try:
                px = wire.wire_to_units(tr.get("px"), info.px_decimals)
                lots = wire.wire_to_units(tr.get("sz"), info.sz_decimals)
            except ValueError:
                px = lots = None
            if side not in ("B", "A") or not px or not lots or px < 0 or lots < 0 or not wire.price_valid(px, info):
                self._bad(f"{coin} trade {tid} is not a side B/A with a valid price and size")
                continue
            self._print(coin, side == "B", px, lots)

    def _print(self, coin: str, is_buy: bool, px: int, lots: int) -> None:
        ex = self.ex
        resting = self._sides[coin][1 if is_buy else 0]
        # replayed levels better than the print were gone when it happened
        for p in [p for p in resting if (p < px if is_buy else p > px)]:
            ex.internal_cancel(self.maker, coin, resting.pop(p))
        oid = resting.get(px)
        left = ex.order_lots(oid) if oid is not None else 0
        if left < lots:
            if oid is not None:
                del resting[px]
                if left:
                    ex.internal_cancel(self.maker, coin, oid)
            self._rest(coin, not is_buy, px, lots)
        status = ex.internal_place(self.taker, coin, is_buy, px, lots, "Ioc", min_notional=False)
        if "filled" in status:
            self.trades += 1
        else:
            self._bad(f"{coin} trade could not be printed: {status.get('error')}")

    # ---- truth ---------------------------------------------------------------------------
    def truth(self) -> dict[str, Any]:
        return {
            "kind": "replay",
            "file": os.path.basename(self.path),
            "speed": self.speed,
            "loop": self.loop,
            "t0": self.t0,
            "recorded_start_ms": self.T0,
            "recorded_time_ms": self._last_recorded,
            "time": self._last_at,
            "passes": self.passes,
            "finished": self.finished,
            "books": self.books,
            "trades": self.trades,
            "trades_skipped": self.trades_skipped,
            "skipped": self._reader.skipped,
            "ignored": self._reader.ignored,
            "accounts": {"maker": self.maker, "taker": self.taker},
            "coins": {c: {"recorded_bid": b, "recorded_ask": a} for c, (b, a) in self._recorded_top.items()},
        }
