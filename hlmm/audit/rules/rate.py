"""Rate-limit pressure: low address-budget headroom, throttled requotes, refused requests.

Reads ``rate_limit_status`` (headroom_fraction), ``rate_limit_throttle``, ``rate_limited``
(scope detail) and ``inventory_forcing``; the threshold is the session's
``rate.min_headroom_fraction`` (default 10 %).  Headroom below it or throttled requotes: warning.
The exchange refusing requests (``rate_limited``): critical — quotes go stale while it lasts.
"""
from __future__ import annotations

from collections import Counter

from hlmm.audit.context import AuditContext, Rule
from hlmm.audit.findings import Finding, Severity
from hlmm.audit.records import Event, num


class RateLimitPressure(Rule):
    """Headroom below the threshold, throttling, and requests refused for rate reasons."""

    id = "rate_limit_pressure"
    events = ("rate_limit_status", "rate_limit_throttle", "rate_limited", "inventory_forcing")
    requires = ("rate_limit_status",)
    look_at = ["rate.min_headroom_fraction", "strategy.requote_price_tolerance_bps",
               "strategy.min_requote_interval_ms", "engine.rate (budget check on every requote)"]

    def __init__(self, ctx: AuditContext) -> None:
        super().__init__(ctx)
        self.low = ctx.tally()
        self.throttled = ctx.tally()
        self.refused = ctx.tally()
        self.forcing = ctx.tally()
        self.scopes: Counter[str] = Counter()

    def on_rate_limit_status(self, ev: Event) -> None:
        h = num(ev.get("headroom_fraction"))
        threshold = self.ctx.config.number("rate.min_headroom_fraction") or 0.10
        if h is not None and h < threshold:
            self.ctx.hit(self.low, ev)

    def on_rate_limit_throttle(self, ev: Event) -> None:
        self.ctx.hit(self.throttled, ev)

    def on_rate_limited(self, ev: Event) -> None:
        self.ctx.hit(self.refused, ev)
        self.scopes[str(ev.get("scope") or "?")] += 1

    def on_inventory_forcing(self, ev: Event) -> None:
        self.ctx.hit(self.forcing, ev)

    def findings(self) -> list[Finding]:
        out = []
        s = self.ctx.session
        threshold = self.ctx.config.number("rate.min_headroom_fraction") or 0.10
        stats = {
            "min_headroom": s.headroom_min if s else None,
            "mean_headroom": s.headroom.mean if s else None,
            "time_below_s": s.headroom_below_ms / 1000.0 if s else None,
            "threshold": threshold,
            "throttled": self.throttled.count,
            "inventory_forcing": self.forcing.count,
        }
        if self.refused:
            causes = []
            if self.scopes.get("ip"):
                causes.append("HTTP 429: the IP weight (1200 per minute) ran out, or the venue throttled")
            if set(self.scopes) - {"ip"}:
                causes.append("the address budget ran out: requotes spent it faster than volume refills it "
                              "(1 request per USDC traded + 10 000)")
            out.append(self.refused.finding(
                "rate_limited", Severity.CRITICAL,
                f"the exchange refused {self.refused.count} requests for rate reasons",
                "; ".join(causes) + "; orders could not be replaced while refused",
                self.look_at, {**stats, "scopes": dict(self.scopes)}))
        if self.low or self.throttled:
            basis = self.low if self.low else self.throttled
            lo = stats["min_headroom"]
            title = (f"rate headroom below {threshold:.0%} in {self.low.count} samples (min {lo:.1%}, "
                     f"{stats['time_below_s']:.0f} s below)" if self.low and lo is not None
                     else f"{self.throttled.count} requotes throttled to save rate budget")
            out.append(basis.finding(
                self.id, Severity.WARNING, title,
                "requotes spend the address budget faster than traded volume adds to it; hlmm throttles and, "
                "with a position, quotes only the reducing side (inventory forcing)",
                self.look_at, stats))
        return out
