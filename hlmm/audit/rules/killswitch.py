"""The kill switch fired.

Reads ``kill_switch`` (reason detail action).  Critical: the session stopped quoting for a risk
reason, and a deployment should not go ahead without knowing why.
"""
from __future__ import annotations

from collections import Counter

from hlmm.audit.context import AuditContext, Rule
from hlmm.audit.findings import Finding, Severity
from hlmm.audit.records import Event


class KillSwitch(Rule):
    """Kill-switch activations by reason."""

    id = "kill_switch"
    events = ("kill_switch",)
    look_at = ["risk.max_loss_usd", "risk.max_drawdown_usd", "risk.reject_storm_count", "risk.kill_action"]

    def __init__(self, ctx: AuditContext) -> None:
        super().__init__(ctx)
        self.tally = ctx.tally()
        self.reasons: Counter[str] = Counter()
        self.details: list[str] = []

    def on_kill_switch(self, ev: Event) -> None:
        self.ctx.hit(self.tally, ev)
        self.reasons[str(ev.get("reason") or "(no reason)")] += 1
        detail = ev.get("detail")
        if detail and len(self.details) < 5:
            self.details.append(str(detail))

    def findings(self) -> list[Finding]:
        if not self.tally:
            return []
        reasons = ", ".join(f"{r} ×{n}" if n > 1 else r for r, n in self.reasons.most_common())
        return [self.tally.finding(
            self.id, Severity.CRITICAL, f"kill switch fired: {reasons}",
            "; ".join(self.details) or "a risk limit was hit", self.look_at,
            {"reasons": dict(self.reasons), "details": self.details})]
