"""Toxic hours seen in this session: UTC hours whose fills were adversely selected.

Reads ``markout`` (via the session accounting: the edge of fills by UTC hour of the fill, at
the longest horizon logged) and compares with ``strategy.toxic_hours_utc``.  An hour with at
least ``toxic_min_fills`` fills, a negative mean edge and t ≤ −2 is toxic.  Toxic hours missing
from the configured list: warning; all covered: info.
"""
from __future__ import annotations

from hlmm.audit.context import AuditContext, Rule
from hlmm.audit.findings import Finding, Severity
from hlmm.audit.records import Event, num


class ToxicHours(Rule):
    """UTC hours whose fills lost money (negative edge), vs the configured toxic hours."""

    id = "toxic_hours"
    events = ("markout",)
    requires_with_fills = ("markout",)
    look_at = ["strategy.toxic_hours_utc", "strategy.toxic_gamma_multiplier", "strategy.toxicity_pull_threshold"]

    def __init__(self, ctx: AuditContext) -> None:
        super().__init__(ctx)
        self.examples: dict[int, list[str]] = {}

    def on_markout(self, ev: Event) -> None:
        rec, s = ev.rec, self.ctx.session
        if rec is None or s is None:
            return
        h, m = num(rec.get("horizon_s")), s.edge_bps(rec)
        if h is None or m is None or m >= 0:
            return
        hour = int(((ev.ts - h * 1000.0) // 3_600_000) % 24)
        ex = self.examples.setdefault(hour, [])
        if len(ex) < self.ctx.options.examples:
            ex.append(self.ctx.where(ev))

    def findings(self) -> list[Finding]:
        s = self.ctx.session
        h = s.longest_horizon if s is not None else None
        if h is None:
            return []
        rows = []
        toxic = []
        for (hz, hour), stat in sorted(s.markouts_by_hour.items()):
            if hz != h:
                continue
            t = stat.t
            rows.append({"hour_utc": hour, "n": stat.n, "edge_bps": stat.mean, "t": t})
            if stat.n >= self.ctx.options.toxic_min_fills and stat.mean is not None and stat.mean < 0 \
                    and t is not None and t <= -2.0:
                toxic.append(hour)
        if not toxic:
            return []
        configured = self.ctx.config.get("strategy.toxic_hours_utc") or []
        configured = sorted(int(x) for x in configured if isinstance(x, (int, float)))
        missing = [hr for hr in toxic if hr not in configured]
        n = sum(r["n"] for r in rows if r["hour_utc"] in toxic)
        examples = [w for hr in toxic for w in self.examples.get(hr, [])][: self.ctx.options.examples]
        names = ", ".join(f"{hr:02d}" for hr in toxic)
        return [Finding(
            id=self.id, severity=Severity.WARNING if missing else Severity.INFO, count=n,
            title=f"toxic hours (UTC) in this session: {names} — "
                  + (f"not in strategy.toxic_hours_utc {configured}" if missing else "all already configured as toxic"),
            first_ms=None, last_ms=None, examples=examples,
            cause=f"fills in these hours lost money at {h:g} s (informed flow: session opens, news, funding)",
            look_at=self.look_at, detail={"horizon_s": h, "toxic": toxic, "configured": configured,
                                          "missing": missing, "fills_in_toxic_hours": n, "by_hour": rows})]
