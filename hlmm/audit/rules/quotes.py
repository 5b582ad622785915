"""Quotes at or through the mid: a bid at/above mid or an ask at/below mid.

Reads ``quote_crossed`` (side px mid: the engine caught a crossing quote and did not send that
side) and ``quote_cycle`` (mid bid_px ask_px: the best prices actually quoted that cycle).
A sent quote touching or crossing the mid is critical (it trades at a loss against the fair
price); a crossing the engine blocked is a warning (the guard worked, the model did not).
"""
from __future__ import annotations

from hlmm.audit.context import AuditContext, Rule
from hlmm.audit.findings import Finding, Severity
from hlmm.audit.records import Event, num


class QuotesThroughMid(Rule):
    """Quotes touching or crossing the mid (sent, or blocked by the engine)."""

    id = "quote_crossed_mid"
    events = ("quote_crossed", "quote_cycle")
    requires = ("quote_cycle",)
    look_at = ["estimators.microprice (EMA seeded at mid, reset past 100 bps, no one-sided clamp)",
               "strategy.spread_floor_bps", "engine.quote (cross-mid guard)"]

    def __init__(self, ctx: AuditContext) -> None:
        super().__init__(ctx)
        self.blocked = ctx.tally()
        self.sent = ctx.tally()
        self.blocked_sides = {"bid": 0, "ask": 0}
        self.sent_sides = {"bid": 0, "ask": 0}
        self.worst_bps = 0.0

    def on_quote_crossed(self, ev: Event) -> None:
        self.ctx.hit(self.blocked, ev)
        side = str(ev.get("side") or "").lower()
        key = "bid" if side in ("b", "bid", "buy") else "ask" if side in ("a", "ask", "sell") else None
        if key:
            self.blocked_sides[key] += 1

    def on_quote_cycle(self, ev: Event) -> None:
        rec = ev.rec
        if rec is None:
            return
        mid = num(rec.get("mid"))
        if mid is None or mid <= 0:
            return
        bid, ask = num(rec.get("bid_px")), num(rec.get("ask_px"))
        hit = False
        if bid is not None and bid >= mid:
            self.sent_sides["bid"] += 1
            self.worst_bps = max(self.worst_bps, (bid - mid) / mid * 1e4)
            hit = True
        if ask is not None and ask <= mid:
            self.sent_sides["ask"] += 1
            self.worst_bps = max(self.worst_bps, (mid - ask) / mid * 1e4)
            hit = True
        if hit:
            self.ctx.hit(self.sent, ev)

    def findings(self) -> list[Finding]:
        out = []
        if self.sent:
            out.append(self.sent.finding(
                "quote_at_or_through_mid", Severity.CRITICAL,
                f"{self.sent.count} quote cycles sent a bid at/above mid or an ask at/below mid "
                f"(worst {self.worst_bps:.1f} bps through)",
                "the fair price moved through the mid and the spread floor did not hold it back: a microprice "
                "outlier (warm-up, static betas) or a clamp such as max(microprice, mid)",
                self.look_at, {"sides": self.sent_sides, "worst_bps_through_mid": round(self.worst_bps, 3)}))
        if self.blocked:
            out.append(self.blocked.finding(
                "quote_crossed_mid", Severity.WARNING,
                f"{self.blocked.count} quotes would have crossed the mid (blocked, side not sent)",
                "the model's price crossed the mid; the engine's guard kept it off the book, but that side "
                "was not quoted — usually the microprice diverging from mid",
                self.look_at, {"sides": self.blocked_sides}))
        return out
