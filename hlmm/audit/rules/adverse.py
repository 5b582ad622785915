"""Adverse selection by horizon: do fills still make money once the mid has moved?

Reads ``markout`` (tid horizon_s markout_bps adverse_selection_bps; markout = spread capture −
adverse selection − fee, in bps of the mid at the fill).  The session accounting aggregates them
by horizon; this rule flags horizons whose mean markout is negative with |t| ≥ 2: warning.
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
        h, m = num(ev.get("horizon_s")), num(ev.get("markout_bps"))
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
        for h, (a, m) in sorted(s.markouts.items()):
            t = m.t
            row = {"horizon_s": h, "n": m.n, "markout_bps": m.mean, "markout_se_bps": m.se,
                   "adverse_selection_bps": a.mean, "t": t}
            rows.append(row)
            if m.n >= 2 and m.mean is not None and m.mean < 0 and t is not None and t <= -2.0:
                bad.append(row)
        if not bad:
            return []
        first = bad[0]
        worst = min(bad, key=lambda r: r["markout_bps"])
        examples = [w for _, w, _ in self.examples.get(worst["horizon_s"], [])][: self.ctx.options.examples]
        times = [t for _, _, t in self.examples.get(worst["horizon_s"], [])]
        horizons = ", ".join(f"{r['horizon_s']:g} s" for r in bad)
        return [Finding(
            id=self.id, severity=Severity.WARNING, count=worst["n"],
            title=f"fills lose money from {first['horizon_s']:g} s on: mean markout {worst['markout_bps']:+.2f} bps "
                  f"at {worst['horizon_s']:g} s (adverse selection {worst['adverse_selection_bps']:.2f} bps, "
                  f"n={worst['n']})",
            first_ms=min(times) if times else None, last_ms=max(times) if times else None, examples=examples,
            cause=f"adverse selection exceeds spread capture plus fees at {horizons}: quotes are too tight for the "
                  "informed flow that fills them, or toxic sides are widened but still quoted",
            look_at=self.look_at, detail={"by_horizon": rows})]
