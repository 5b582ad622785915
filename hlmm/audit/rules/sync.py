"""State drift found by the safety sync: position mismatches and orders missing on the exchange.

Reads ``position_mismatch`` (coin local exchange) and ``order_missing`` (cloid oid).  The
exchange's figure wins, but a mismatch means a fill was missed or counted twice: warning;
``--mismatch-critical`` (default 3) or more mismatches: critical.  Orders missing: warning.
"""
from __future__ import annotations

from collections import Counter

from hlmm.audit.context import AuditContext, Rule
from hlmm.audit.findings import Finding, Severity
from hlmm.audit.records import Event, num


class SyncMismatches(Rule):
    """Position mismatches and missing orders at safety sync."""

    id = "position_mismatch"
    events = ("position_mismatch", "order_missing")
    requires = ("safety_sync",)
    look_at = ["engine.fills (dedup by tid, adopt unknown fills)", "engine.sync", "rate.safety_sync_interval_s"]

    def __init__(self, ctx: AuditContext) -> None:
        super().__init__(ctx)
        self.mismatch = ctx.tally()
        self.missing = ctx.tally()
        self.coins: Counter[str] = Counter()
        self.max_diff = 0.0

    def on_position_mismatch(self, ev: Event) -> None:
        self.ctx.hit(self.mismatch, ev)
        self.coins[str(ev.get("coin") or "?")] += 1
        local, exch = num(ev.get("local")), num(ev.get("exchange"))
        if local is not None and exch is not None:
            self.max_diff = max(self.max_diff, abs(local - exch))

    def on_order_missing(self, ev: Event) -> None:
        self.ctx.hit(self.missing, ev)

    def findings(self) -> list[Finding]:
        out = []
        if self.mismatch:
            critical = self.mismatch.count >= self.ctx.options.mismatch_critical_count
            out.append(self.mismatch.finding(
                self.id, Severity.CRITICAL if critical else Severity.WARNING,
                f"local position differed from the exchange's at {self.mismatch.count} safety syncs "
                f"(largest difference {self.max_diff:g})",
                "fills missed (untracked, dropped on reconnect) or counted twice (no tid dedup), or trades made "
                "outside hlmm on the same account", self.look_at,
                {"by_coin": dict(self.coins), "max_difference": self.max_diff}))
        if self.missing:
            out.append(self.missing.finding(
                "orders_missing", Severity.WARNING,
                f"{self.missing.count} orders thought open were not on the exchange at sync",
                "cancel or fill updates (orderUpdates) were missed", ["exchange.ws orderUpdates", "engine.sync"]))
        return out
