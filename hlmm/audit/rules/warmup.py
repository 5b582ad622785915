"""Quoting during warm-up: orders sent before the estimators were warm.

Reads ``session_start`` (coins), ``estimator_warm`` (coin; none = every coin) and
``order_place_sent`` / ``order_modify_sent`` (coin).  After a ``session_start``, an order for a
coin that has not logged ``estimator_warm`` yet was quoted on unreliable estimates (the
reference system quoted with 9 of 10 volume ticks).  Critical.  A log that starts mid-session
(no ``session_start``) is not judged.
"""
from __future__ import annotations

from typing import Any

from hlmm.audit.context import AuditContext, Rule
from hlmm.audit.findings import Finding, Severity
from hlmm.audit.records import Event


class QuotingDuringWarmup(Rule):
    """Orders placed before estimator_warm in a session."""

    id = "quoting_during_warmup"
    events = ("session_start", "estimator_warm")
    dynamic_events = ("order_place_sent", "order_modify_sent")  # only while a session warms up
    barriers = ("session_start",)
    requires = ("session_start", "estimator_warm")
    look_at = ["strategy.warmup.min_seconds", "strategy.warmup.min_trades", "strategy.warmup.min_book_updates",
               "engine.quote (warm-up gate before the first quote)"]

    def __init__(self, ctx: AuditContext) -> None:
        super().__init__(ctx)
        self.tally = ctx.tally()
        self.coins: dict[str, int] = {}
        self._active = False           # inside a session whose warm-up is not over
        self._pending: set[str] | None = None  # coins not warm yet (None: unknown list)
        self._warm: set[str] = set()

    def on_session_start(self, ev: Event) -> None:
        coins = ev.get("coins")
        self._pending = {c for c in coins if isinstance(c, str)} if isinstance(coins, list) and coins else None
        self._warm = set()
        self._set_active(True)

    def _set_active(self, on: bool) -> None:
        self._active = on
        for event in self.dynamic_events:
            self.ctx.want(self, event, on)

    def on_estimator_warm(self, ev: Event) -> None:
        if not self._active:
            return
        coin = ev.get("coin")
        if not isinstance(coin, str):
            self._set_active(False)
            return
        self._warm.add(coin)
        if self._pending is not None:
            self._pending.discard(coin)
            if not self._pending:
                self._set_active(False)

    def _order(self, ev: Event) -> None:
        if not self._active:
            return  # cheap: no decoding once every coin is warm
        coin: Any = ev.get("coin")
        if isinstance(coin, str) and coin in self._warm:
            return
        self.ctx.hit(self.tally, ev)
        key = coin if isinstance(coin, str) else "?"
        self.coins[key] = self.coins.get(key, 0) + 1

    on_order_place_sent = _order
    on_order_modify_sent = _order

    def findings(self) -> list[Finding]:
        if not self.tally:
            return []
        return [self.tally.finding(
            self.id, Severity.CRITICAL,
            f"{self.tally.count} orders sent before the estimators were warm",
            "the quote cycle does not wait for estimator_warm (or a warm-up requirement is bypassed): quotes "
            "used volatility, intensity and microprice estimates that were not ready",
            self.look_at, {"by_coin": self.coins})]
