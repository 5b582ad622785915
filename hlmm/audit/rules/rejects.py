"""Rejected orders by reason, and reject storms.

Reads ``order_rejected`` (reason).  A storm is ``risk.reject_storm_count`` (default 10)
rejections of one reason within ``risk.reject_storm_window_s`` (60 s): critical (the kill switch
is meant to fire there).  Rejections below that: info, listed by reason with the likely cause.
"""
from __future__ import annotations

import re
from collections import deque

from hlmm.audit.context import AuditContext, Rule
from hlmm.audit.findings import Finding, Severity, Tally
from hlmm.audit.records import Event

# (pattern in the exchange's text, likely cause, where to look)
_REASONS: tuple[tuple[re.Pattern[str], str, list[str]], ...] = (
    (re.compile(r"insufficient margin", re.I),
     "orders need more margin than is free: ladder sized on margin counted twice, or on current instead of "
     "allowed leverage", ["strategy.levels_per_side", "risk.leverage", "risk.max_position_usd", "hlmm._core.ladder"]),
    (re.compile(r"post only|would have immediately matched|immediately match", re.I),
     "post-only quotes at or through the touch: a stale book or a fair price off the market",
     ["strategy.spread_floor_bps", "risk.stale_book_s", "estimators.microprice"]),
    (re.compile(r"minimum value|min(imum)? notional|\$10", re.I),
     "a level below the $10 minimum after rounding", ["hlmm._core.ladder (min notional)", "strategy.levels_per_side"]),
    (re.compile(r"tick|divisible|invalid price|significant figures", re.I),
     "a price off the tick grid: a number bypassed the one rounding path",
     ["hlmm._core.rounding", "hlmm.exchange.wire"]),
    (re.compile(r"reduce only", re.I),
     "a reduce-only order that would grow the position", ["engine.risk (reduce-only mode)", "risk.kill_action"]),
    (re.compile(r"too many|rate limit|cumulative requests", re.I),
     "the address or IP budget is exhausted", ["rate.min_headroom_fraction", "strategy.min_requote_interval_ms"]),
    (re.compile(r"max(imum)? position|leverage", re.I),
     "the position would exceed what the leverage tier allows", ["risk.max_position_usd", "risk.leverage"]),
)


def explain(reason: str) -> tuple[str, list[str]]:
    """Likely cause and where to look for an exchange rejection text."""
    for pattern, cause, look in _REASONS:
        if pattern.search(reason):
            return cause, look
    return "see the exchange's message", ["engine.orders"]


class RejectStorms(Rule):
    """Rejections by reason; bursts of one reason within the storm window."""

    id = "reject_storm"
    events = ("order_rejected",)

    def __init__(self, ctx: AuditContext) -> None:
        super().__init__(ctx)
        self.by_reason: dict[str, Tally] = {}
        self.windows: dict[str, deque[int]] = {}
        self.storms: dict[str, Tally] = {}
        self.peak: dict[str, int] = {}

    def on_order_rejected(self, ev: Event) -> None:
        reason = ev.get("reason")
        reason = str(reason) if reason else "(no reason)"
        tally = self.by_reason.get(reason)
        if tally is None:
            tally = self.by_reason[reason] = self.ctx.tally()
        self.ctx.hit(tally, ev)
        count = int(self.ctx.config.number("risk.reject_storm_count") or 10)
        window_ms = int((self.ctx.config.number("risk.reject_storm_window_s") or 60.0) * 1000)
        q = self.windows.setdefault(reason, deque())
        q.append(ev.ts)
        while q and q[0] <= ev.ts - window_ms:
            q.popleft()
        if len(q) >= count:
            storm = self.storms.get(reason)
            if storm is None:
                storm = self.storms[reason] = self.ctx.tally()
            self.ctx.hit(storm, ev)
            self.peak[reason] = max(self.peak.get(reason, 0), len(q))

    def findings(self) -> list[Finding]:
        out = []
        count = int(self.ctx.config.number("risk.reject_storm_count") or 10)
        window_s = self.ctx.config.number("risk.reject_storm_window_s") or 60.0
        for reason, tally in sorted(self.by_reason.items(), key=lambda kv: -kv[1].count):
            cause, look = explain(reason)
            storm = self.storms.get(reason)
            if storm is not None:
                out.append(Finding(
                    id=self.id, severity=Severity.CRITICAL, count=tally.count,
                    title=f"reject storm: up to {self.peak[reason]} '{reason}' rejections within {window_s:g} s "
                          f"({tally.count} in all)",
                    first_ms=tally.first_ms, last_ms=tally.last_ms, examples=tally.examples, cause=cause,
                    look_at=look + ["risk.reject_storm_count"],
                    detail={"reason": reason, "total": tally.count, "peak_in_window": self.peak[reason],
                            "storm_from": storm.first_ms, "threshold": count, "window_s": window_s}))
            else:
                out.append(tally.finding(
                    "orders_rejected", Severity.INFO, f"{tally.count} orders rejected: '{reason}'", cause, look,
                    {"reason": reason}))
        return out
