"""Stale market data: ``book_stale`` events, and silences in the log itself.

Reads ``book_stale`` (coin age_s threshold_s): warning (quoting on a book that stopped updating
is quoting blind; ``risk.stale_book_s`` decides when hlmm stops).  Silences longer than
``--gap`` between consecutive event lines come from the scanner: info (a stalled loop, or a
quiet log level).
"""
from __future__ import annotations

from collections import Counter

from hlmm.audit.context import AuditContext, Rule
from hlmm.audit.findings import Finding, Severity
from hlmm.audit.records import Event, num
from hlmm.audit.timebounds import iso


class StaleData(Rule):
    """Books that stopped updating, and gaps in the log."""

    id = "stale_data"
    events = ("book_stale",)
    look_at = ["risk.stale_book_s", "exchange.ws (l2Book subscription, reconnects)", "exchange.ws_ping_interval_s"]

    def __init__(self, ctx: AuditContext) -> None:
        super().__init__(ctx)
        self.tally = ctx.tally()
        self.coins: Counter[str] = Counter()
        self.max_age = 0.0

    def on_book_stale(self, ev: Event) -> None:
        self.ctx.hit(self.tally, ev)
        self.coins[str(ev.get("coin") or "?")] += 1
        self.max_age = max(self.max_age, num(ev.get("age_s")) or 0.0)

    def findings(self) -> list[Finding]:
        out = []
        if self.tally:
            out.append(self.tally.finding(
                self.id, Severity.WARNING,
                f"book went stale {self.tally.count} times (longest {self.max_age:.1f} s without an update)",
                "the l2Book stream stopped (disconnect, dropped subscription, frozen venue); hlmm stops "
                "quoting a coin after risk.stale_book_s",
                self.look_at, {"by_coin": dict(self.coins), "max_age_s": self.max_age}))
        ctx = self.ctx
        if ctx.n_gaps:
            gaps = sorted(ctx.gaps, key=lambda g: g[2] - g[3])  # longest first
            rows = [{"at": ctx.where_at(src, line), "from": iso(a), "to": iso(b), "seconds": (b - a) / 1000.0}
                    for src, line, a, b in gaps[:10]]
            longest = rows[0]["seconds"] if rows else 0.0
            examples = [r["at"] for r in rows[: ctx.options.examples]]
            out.append(Finding(
                id="log_gaps", severity=Severity.INFO, count=ctx.n_gaps,
                title=f"{ctx.n_gaps} silences longer than {ctx.options.gap_s:g} s between log lines "
                      f"(longest {longest:.0f} s)",
                first_ms=min(g[2] for g in ctx.gaps), last_ms=max(g[3] for g in ctx.gaps), examples=examples,
                cause="the event loop stalled or was stopped, the process was suspended, or the log level hides "
                      "routine events",
                look_at=["logging.level", "engine loop latency (quote_cycle.latency_us)"],
                detail={"gaps": rows, "threshold_s": ctx.options.gap_s}))
        return out

