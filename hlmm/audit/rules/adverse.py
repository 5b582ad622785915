"""Adverse selection by horizon: do fills still make money once the mid has moved?

Reads ``markout`` (tid horizon_s spread_capture_bps adverse_selection_bps).  The session
accounting aggregates the *edge* of each fill by horizon (spread capture − adverse selection −
fee, in bps of the mid at the fill); this rule flags horizons whose mean edge is negative with
t ≤ −2: warning.
"""
from __future__ import annotations

from hlmm.audit.context import AuditContext, Rule
from hlmm.audit.findings import Finding, Severity
from hlmm.audit.records import Event, num

_EXAMPLES_PER_HORIZON = 20


class AdverseSelection(Rule):
    """Horizons at which the average fill loses money."""

    id = "adverse_selection"
    events = ("markout",)
    requires_with_fills = ("markout",)
    look_at = ["strategy.spread_floor_bps", "strategy.toxicity_widen_threshold",
               "strategy.toxicity_pull_threshold", "strategy.alpha_touch / strategy.delta_char_bps (hlmm calibrate)",
               "strategy.toxic_hours_utc"]

    def __init__(self, ctx: AuditContext) -> None:
        super().__init__(ctx)
        self.examples: dict[float, list[tuple[float, str, int]]] = {}  # horizon -> worst fills seen

    def on_markout(self, ev: Event) -> None:
        rec, s = ev.rec, self.ctx.session
        if rec is None or s is None:
            return
        h, m = num(rec.get("horizon_s")), s.edge_bps(rec)
        if h is None or m is None or m >= 0:
            return
        worst = self.examples.setdefault(h, [])
        if len(worst) < _EXAMPLES_PER_HORIZON:
            worst.append((m, self.ctx.where(ev), ev.ts))
            worst.sort()
        elif m < worst[-1][0]:
            worst[-1] = (m, self.ctx.where(ev), ev.ts)
            worst.sort()

    def findings(self) -> list[Finding]:
        s = self.ctx.session
        if s is None or not s.markouts:
            return []
        rows = []
        bad = []
        for h, (a, sc, _, e) in sorted(s.markouts.items()):
            t = e.t
            row = {"horizon_s": h, "n": e.n, "edge_bps": e.mean, "edge_se_bps": e.se, "spread_capture_bps": sc.mean,
                   "adverse_selection_bps": a.mean, "t": t}
            rows.append(row)
            if e.n >= 2 and e.mean is not None and e.mean < 0 and t is not None and t <= -2.0:
                bad.append(row)
        if not bad:
            return []
        first = bad[0]
        worst = min(bad, key=lambda r: r["edge_bps"])
        examples = [w for _, w, _ in self.examples.get(worst["horizon_s"], [])][: self.ctx.options.examples]
        times = [t for _, _, t in self.examples.get(worst["horizon_s"], [])]
        horizons = ", ".join(f"{r['horizon_s']:g} s" for r in bad)
        return [Finding(
            id=self.id, severity=Severity.WARNING, count=worst["n"],
            title=f"fills lose money from {first['horizon_s']:g} s on: mean edge {worst['edge_bps']:+.2f} bps at "
                  f"{worst['horizon_s']:g} s (spread capture {worst['spread_capture_bps']:.2f} bps, adverse selection "
                  f"{worst['adverse_selection_bps']:.2f} bps, n={worst['n']})",
            first_ms=min(times) if times else None, last_ms=max(times) if times else None, examples=examples,
            cause=f"adverse selection exceeds spread capture plus fees at {horizons}: quotes are too tight for the "
                  "informed flow that fills them, or toxic sides are widened but still quoted",
            look_at=self.look_at, detail={"by_horizon": rows})]
