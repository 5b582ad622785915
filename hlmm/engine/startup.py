"""The engine's start-up steps (blocking requests, before the loop trades).

Meta and funding, leverage per coin, the position baseline from ``clearinghouseState`` (fills up to
its time are history), and the estimators' cold start from ``/info`` history, exactly as
``hlmm ladder-preview`` warms its model. A mixin of :class:`hlmm.engine.engine.Engine`.
"""
from __future__ import annotations

import time
from typing import Any, Callable

from hlmm.engine.loop import wall_ms
from hlmm.engine.market_model import HISTORY_CANDLE_MINUTES
from hlmm.engine.sync import account_snapshot
from hlmm.errors import VenueUnreachableError
from hlmm.exchange.errors import ExchangeError, RateLimitedError, TransportError
from hlmm.log import get_logger

log = get_logger("engine")

CANDLE_HISTORY_MS = HISTORY_CANDLE_MINUTES * 60_000


class StartupSteps:
    """Start-up requests of the Engine (uses its clients, registry, fills and rate budget)."""

    def _http(self, fn: Callable[..., Any], *args: Any, attempts: int = 6) -> Any:
        """A blocking request (start and shutdown only), retried after an HTTP 429 with backoff.

        A 429 blocks the REST transport in the rate budget (``rate_limited`` is logged); the
        WebSocket path the trading loop uses is not held back by it."""
        for attempt in range(attempts):
            try:
                return fn(*args)
            except RateLimitedError as exc:
                self.rate.on_rate_limited("ip", exc.text[:200], wall_ms())   # logs rate_limited
                if attempt == attempts - 1:
                    raise
                time.sleep(min(2.0, 0.25 * 2 ** attempt))
        raise AssertionError("unreachable")

    def _set_leverage(self) -> None:
        for coin in self.coins:
            asset = self.registry[coin]
            want = self.config.risk_for(coin).leverage
            lev = min(want, int(asset.max_leverage))
            try:
                self._http(self.exchange.update_leverage, asset.asset_id, True, lev)
                self.rate.record_action("updateLeverage", 1, wall_ms())
                log.info("leverage_set", coin=coin, requested=want, leverage=lev, max_leverage=asset.max_leverage,
                         is_cross=True, ok=True, error=None)
            except TransportError as exc:
                raise VenueUnreachableError(f"cannot reach {self.url} to set leverage: {exc}") from None
            except ExchangeError as exc:
                log.warning("leverage_set", coin=coin, requested=want, leverage=lev,
                            max_leverage=asset.max_leverage, is_cross=True, ok=False, error=exc.text)

    def _read_baseline(self) -> None:
        """The position snapshot the session starts from (fills up to its time are in it)."""
        try:
            ch = self._http(self.info.clearinghouse_state, self.user)
            self.rate.record_ip(2, wall_ms())
        except TransportError as exc:
            raise VenueUnreachableError(f"cannot read the account from {self.url}: {exc}") from None
        t = int(ch.get("time") or wall_ms())
        positions = {}
        for entry in ch.get("assetPositions") or []:
            pos = entry.get("position") or {}
            positions[pos.get("coin")] = pos
        for coin in self.coins:
            pos = positions.get(coin) or {}
            self.fills.init_position(coin, str(pos.get("szi", "0")), pos.get("entryPx"), t)
        self.account = self.account_start = account_snapshot(ch, t)
        self.readout.start_clearinghouse = ch

    def _warm_from_history(self) -> None:
        now = wall_ms()
        for coin, st in self.coin_states.items():
            try:
                candles = self._http(self.info.candle_snapshot, coin, "1m", now - CANDLE_HISTORY_MS, now)
                trades = self._http(self.info.recent_trades, coin)
                book = self._http(self.info.l2_book, coin)
                self.rate.record_ip(2 + 20 + 20 + len(candles) // 60 + len(trades) // 20, wall_ms())
            except TransportError as exc:
                raise VenueUnreachableError(f"cannot read {coin}'s market history from {self.url}: {exc}") from None
            except ExchangeError as exc:
                log.warning("error", where="engine.warmup", error=type(exc).__name__, detail=f"{coin}: {exc.text}")
                continue
            if st.recorded_inputs is not None:
                st.recorded_inputs.append(("history", (candles, trades, book)))
            st.model.warm_from_history(candles, trades, book)
            if st.model.book.two_sided:
                st.book_changed_ms = st.book_frame_ms = wall_ms()
                self.fills.on_mid(coin, st.model.book.time_ms, st.model.book.mid())
