"""Errors the engine caught and survived, and bursts of error-level lines.

Reads ``error`` (where error) and every line logged at ``error`` or ``critical`` level (whatever
its event: the scanner hands them over by level).  Caught errors: warning, grouped by where.
Windows of ``--burst-window`` seconds with at least ``--burst-min`` error lines: warning.
"""
from __future__ import annotations

from collections import Counter

from hlmm.audit.bursts import Bursts
from hlmm.audit.context import AuditContext, Rule
from hlmm.audit.findings import Finding, Severity
from hlmm.audit.records import Event


class Errors(Rule):
    """Caught errors and error bursts."""

    id = "errors"
    events = ("error",)
    look_at = ["the code at 'where'", "HLMM_TRACEBACK / logged traceback field"]

    def __init__(self, ctx: AuditContext) -> None:
        super().__init__(ctx)
        self.tally = ctx.tally()
        self.where: Counter[str] = Counter()
        self.by_event: Counter[str] = Counter()
        opts = ctx.options
        self.bursts = Bursts(int(opts.burst_window_s * 1000), opts.burst_min)

    def on_error(self, ev: Event) -> None:
        self.ctx.hit(self.tally, ev)
        where, err = ev.get("where"), ev.get("error")
        key = f"{where or '?'}: {str(err).split(':')[0] if err else '?'}"
        self.where[key] += 1

    def error_line(self, ev: Event) -> None:
        """Any event line at error level or above (called by the runner)."""
        self.by_event[ev.name] += 1
        self.bursts.add(ev.ts, self.ctx.where(ev))

    def findings(self) -> list[Finding]:
        out = []
        if self.tally:
            top = ", ".join(f"{k} ×{n}" for k, n in self.where.most_common(3))
            out.append(self.tally.finding(
                "errors_caught", Severity.WARNING, f"{self.tally.count} unexpected errors caught ({top})",
                "exceptions in the loop that were survived; each one skipped some work", self.look_at,
                {"by_where": dict(self.where.most_common(20))}))
        bursts = self.bursts.bursts()
        if bursts:
            b = bursts[0]
            out.append(Finding(
                id="error_burst", severity=Severity.WARNING, count=sum(x.count for x in bursts),
                title=f"{len(bursts)} error bursts (≥ {self.bursts.min_count} error lines per "
                      f"{self.bursts.window_ms / 1000:g} s); worst: {b.count} lines",
                first_ms=min(x.first_ms for x in bursts), last_ms=max(x.last_ms for x in bursts),
                examples=[x.example for x in bursts[: self.ctx.options.examples]],
                cause="many errors at once: see the events in detail.by_event for what failed",
                look_at=["the events listed in detail.by_event"],
                detail={"bursts": [x.to_dict() for x in bursts[:10]], "by_event": dict(self.by_event.most_common(10))}))
        return out
