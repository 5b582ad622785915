"""Untracked fills: fills of orders hlmm did not track.

Reads ``untracked_fill`` (tid oid cloid cause) and the session's fill total.  Any untracked fill
is a warning; a share at or above ``untracked_critical_share`` (default 10 %) is critical (the
reference system lost 67 % of fills because the cloid was not carried from userFills).
"""
from __future__ import annotations

from collections import Counter

from hlmm.audit.context import AuditContext, Rule
from hlmm.audit.findings import Finding, Severity
from hlmm.audit.records import Event

_CAUSES = {
    "cloid_missing": "the userFills message's cloid is not passed to the fill processor",
    "unknown_cloid": "the cloid is not in the order table (placed outside hlmm or by another session)",
    "unknown_oid": "no order with this oid (the order was never acknowledged or already dropped)",
    "adopted": "an order adopted at start (risk.on_start = adopt)",
}


class UntrackedFills(Rule):
    """Fills whose order hlmm did not track."""

    id = "untracked_fills"
    events = ("untracked_fill",)
    look_at = ["engine.fills (match cloid first, then oid)", "exchange.ws userFills parsing (cloid)",
               "risk.on_start"]

    def __init__(self, ctx: AuditContext) -> None:
        super().__init__(ctx)
        self.tally = ctx.tally()
        self.causes: Counter[str] = Counter()
        self.without_cloid = 0

    def on_untracked_fill(self, ev: Event) -> None:
        self.ctx.hit(self.tally, ev)
        cause = ev.get("cause")
        self.causes[str(cause) if cause else "(not given)"] += 1
        if not ev.get("cloid"):
            self.without_cloid += 1

    def findings(self) -> list[Finding]:
        if not self.tally:
            return []
        session = self.ctx.session
        total = session.fills if session is not None and session.fills else self.tally.count
        share = self.tally.count / total if total else 1.0
        critical = share >= self.ctx.options.untracked_critical_share
        top = self.causes.most_common(1)[0][0]
        cause = _CAUSES.get(top, f"cause logged: {top}")
        if self.without_cloid:
            cause += f"; {self.without_cloid} of them arrived without a cloid"
        return [self.tally.finding(
            self.id, Severity.CRITICAL if critical else Severity.WARNING,
            f"{self.tally.count} of {total} fills untracked ({share:.0%})",
            cause, self.look_at, {"share": round(share, 4), "fills": total, "causes": dict(self.causes)})]
