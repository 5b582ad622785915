"""The engine's subscriptions, and every pushed frame routed to the right stage of the loop.

The WebSocket client calls these callbacks inside its ``poll()``; they do no work there. They
queue it: account frames (``orderUpdates``, ``userFills``, ``user``) in the ``ORDERS`` stage,
market frames (``l2Book``, ``trades``) in the ``MARKET`` stage, so order handling always runs
first. ``l2Book`` frames are coalesced per coin: each is a full snapshot, so when several
arrive before the loop gets to them only the newest is applied (``books_coalesced`` counts the
others). Book frames are kept as raw bytes for the Cython book's own scanner.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from hlmm.exchange.ws import WsClient
from hlmm.engine.loop import MARKET, ORDERS, EventLoop
from hlmm.log import get_logger

log = get_logger("engine.feeds")

_COIN_KEY = b'"coin":"'


@dataclass
class FeedHandlers:
    """Where each kind of frame goes (each runs later, in its loop stage)."""

    book: Callable[[str, bytes, int], None]          # coin, raw frame, receive time (monotonic ns)
    trades: Callable[[str, list], None]
    order_updates: Callable[[list], None]
    user_fills: Callable[[dict], None]
    user_events: Callable[[dict], None]


class Feeds:
    """Subscribes ``coins`` (book, trades) and ``user`` (orders, fills, events) on ``ws``."""

    def __init__(self, ws: WsClient, loop: EventLoop, coins: Sequence[str], user: str, handlers: FeedHandlers) -> None:
        self.ws = ws
        self.loop = loop
        self.coins = tuple(coins)
        self.user = user
        self.h = handlers
        self._latest: dict[str, tuple[bytes, int]] = {}
        self.books_received = 0
        self.books_coalesced = 0
        self.frames_ignored = 0
        ws.on("l2Book", self._on_book, raw=True)
        ws.on("trades", self._on_trades)
        ws.on("orderUpdates", lambda data: loop.post(ORDERS, self._orders, data))
        ws.on("userFills", lambda data: loop.post(ORDERS, self._fills, data))
        ws.on("user", lambda data: loop.post(ORDERS, self._user, data))
        for coin in self.coins:
            ws.subscribe({"type": "l2Book", "coin": coin})
            ws.subscribe({"type": "trades", "coin": coin})
        ws.subscribe({"type": "orderUpdates", "user": user})
        ws.subscribe({"type": "userFills", "user": user})
        ws.subscribe({"type": "userEvents", "user": user})

    # ------------------------------------------------------------------ market frames
    def _on_book(self, raw: bytes) -> None:
        coin = _coin_of(raw)
        if coin not in self.coins:
            self.frames_ignored += 1
            return
        self.books_received += 1
        if coin in self._latest:
            self.books_coalesced += 1          # a newer snapshot replaces one not applied yet
        else:
            self.loop.post(MARKET, self._apply_book, coin)
        self._latest[coin] = (bytes(raw), time.monotonic_ns())

    def _apply_book(self, coin: str) -> None:
        entry = self._latest.pop(coin, None)
        if entry is not None:
            self.h.book(coin, entry[0], entry[1])

    def _on_trades(self, data: Any) -> None:
        if not isinstance(data, list) or not data or not isinstance(data[0], dict):
            self.frames_ignored += 1
            return
        coin = data[0].get("coin")
        if coin not in self.coins:
            self.frames_ignored += 1
            return
        self.loop.post(MARKET, self.h.trades, coin, data)

    # ------------------------------------------------------------------ account frames
    def _orders(self, data: Any) -> None:
        if isinstance(data, list):
            self.h.order_updates(data)
        else:
            self._bad("orderUpdates", data)

    def _fills(self, data: Any) -> None:
        if isinstance(data, dict) and isinstance(data.get("fills"), list):
            self.h.user_fills(data)
        else:
            self._bad("userFills", data)

    def _user(self, data: Any) -> None:
        if isinstance(data, dict):
            self.h.user_events(data)
        else:
            self._bad("user", data)

    def _bad(self, channel: str, data: Any) -> None:
        self.frames_ignored += 1
        log.warning("ws_malformed_frame", channel=channel, reason="unexpected data shape",
                    length=len(str(data)), preview=str(data)[:120])


def _coin_of(raw: bytes) -> str | None:
    """The coin of an l2Book frame, read from its bytes (the book parses the rest)."""
    i = raw.find(_COIN_KEY)
    if i < 0:
        return None
    start = i + len(_COIN_KEY)
    end = raw.find(b'"', start)
    if end < 0:
        return None
    try:
        return raw[start:end].decode()
    except UnicodeDecodeError:
        return None
