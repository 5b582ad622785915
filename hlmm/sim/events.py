"""Buffered push events of the sim, flushed to listeners once per operation.

During one operation (an /exchange action, an internal order, a clock step) the
venue records what happened; ``flush`` then sends one message per (channel, key)
in a fixed order, so a taker order that trades with five makers produces one
``trades`` message for the coin and one ``user``/``userFills``/``orderUpdates``
message per user involved, not five of each.

Listener signature (TEAM.md contract): ``fn(channel, key, data)`` with ``key`` the
coin for market channels, the lower-case user address for user channels, None for
``allMids``; ``data`` is the WebSocket ``data`` payload as Hyperliquid sends it.
A listener that raises is logged and skipped; it cannot corrupt the exchange.
"""
from __future__ import annotations

import logging
from typing import Callable

Listener = Callable[[str, "str | None", object], None]

log = logging.getLogger("hlmm.sim.exchange")


class EventSink:
    """Collects events of one operation and fans them out on ``flush``."""

    def __init__(self) -> None:
        self.listeners: list[Listener] = []
        self._trades: dict[str, list] = {}
        self._updates: dict[str, list] = {}
        self._fills: dict[str, list] = {}
        self._non_user_cancels: dict[str, list] = {}
        self._user_events: list[tuple[str, dict]] = []
        self._market: list[tuple[str, str | None, object]] = []

    def trade(self, coin: str, trade: dict) -> None:
        self._trades.setdefault(coin, []).append(trade)

    def order_update(self, user: str, entry: dict) -> None:
        self._updates.setdefault(user, []).append(entry)

    def fill(self, user: str, fill: dict) -> None:
        self._fills.setdefault(user, []).append(fill)

    def non_user_cancel(self, user: str, coin: str, oid: int) -> None:
        self._non_user_cancels.setdefault(user, []).append({"coin": coin, "oid": oid})

    def user_event(self, user: str, data: dict) -> None:
        """A ``user`` channel message other than fills (funding...)."""
        self._user_events.append((user, data))

    def market(self, channel: str, key: str | None, data: object) -> None:
        """A market message sent after the per-user ones (bbo, allMids)."""
        self._market.append((channel, key, data))

    def flush(self) -> None:
        if not (self._trades or self._updates or self._fills or self._non_user_cancels
                or self._user_events or self._market):
            return
        trades, self._trades = self._trades, {}
        updates, self._updates = self._updates, {}
        fills, self._fills = self._fills, {}
        cancels, self._non_user_cancels = self._non_user_cancels, {}
        user_events, self._user_events = self._user_events, []
        market, self._market = self._market, []
        for coin, batch in trades.items():
            self.emit("trades", coin, batch)
        for user, batch in updates.items():
            self.emit("orderUpdates", user, batch)
        for user, batch in fills.items():
            self.emit("user", user, {"fills": batch})
            self.emit("userFills", user, {"isSnapshot": False, "user": user, "fills": batch})
        for user, batch in cancels.items():
            self.emit("user", user, {"nonUserCancel": batch})
        for user, data in user_events:
            self.emit("user", user, data)
        for channel, key, data in market:
            self.emit(channel, key, data)

    def emit(self, channel: str, key: str | None, data: object) -> None:
        for fn in self.listeners:
            try:
                fn(channel, key, data)
            except Exception:  # a broken listener must not break the exchange
                log.exception("sim listener failed on %s/%s", channel, key)
