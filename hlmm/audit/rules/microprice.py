"""Microprice diverging from the mid.

Reads ``quote_cycle`` (mid microprice), ``microprice_reset`` (divergence_bps), and
``session_start``/``estimator_warm`` to tell divergences during warm-up apart.  A divergence
above ``--microprice-bps`` (default 20) is a warning; one at or above 100 bps (the bound at
which the EMA must have been reset to mid) is critical.
"""
from __future__ import annotations

from hlmm.audit.context import AuditContext, Rule
from hlmm.audit.findings import Finding, Severity
from hlmm.audit.records import Event, num


class MicropriceDivergence(Rule):
    """Quote cycles whose microprice is more than a threshold away from the mid."""

    id = "microprice_divergence"
    events = ("quote_cycle", "microprice_reset", "session_start", "estimator_warm")
    requires = ("quote_cycle",)
    look_at = ["estimators.microprice (EMA initialised at mid, reset when > 100 bps from mid)",
               "estimators.microprice betas (must learn, never constant)", "strategy.warmup.*"]

    def __init__(self, ctx: AuditContext) -> None:
        super().__init__(ctx)
        self.tally = ctx.tally()
        self.resets = ctx.tally()
        self.max_bps = 0.0
        self.max_at = ""
        self.cycles = 0
        self.during_warmup = 0
        self._warming = False

    def on_session_start(self, ev: Event) -> None:
        self._warming = True

    def on_estimator_warm(self, ev: Event) -> None:
        self._warming = False

    def on_microprice_reset(self, ev: Event) -> None:
        self.ctx.hit(self.resets, ev)

    def on_quote_cycle(self, ev: Event) -> None:
        rec = ev.rec
        if rec is None:
            return
        mid, micro = num(rec.get("mid")), num(rec.get("microprice"))
        if mid is None or micro is None or mid <= 0:
            return
        self.cycles += 1
        bps = abs(micro - mid) / mid * 1e4
        if bps > self.ctx.options.microprice_warn_bps:
            self.ctx.hit(self.tally, ev)
            if self._warming:
                self.during_warmup += 1
            if bps > self.max_bps:
                self.max_bps = bps
                self.max_at = self.ctx.where(ev)

    def findings(self) -> list[Finding]:
        out = []
        opts = self.ctx.options
        if self.tally:
            critical = self.max_bps >= opts.microprice_critical_bps
            share = self.tally.count / self.cycles if self.cycles else 0.0
            warm = f", {self.during_warmup} of them before estimators were warm" if self.during_warmup else ""
            out.append(self.tally.finding(
                self.id, Severity.CRITICAL if critical else Severity.WARNING,
                f"microprice more than {opts.microprice_warn_bps:g} bps from mid in {self.tally.count} quote cycles "
                f"({share:.1%}; max {self.max_bps:.1f} bps{warm})",
                "an EMA seeded by a warm-up outlier, or regression betas that do not learn; quotes centred on it "
                "land on the wrong side of the market",
                self.look_at,
                {"max_bps": round(self.max_bps, 3), "max_at": self.max_at, "cycles": self.cycles,
                 "during_warmup": self.during_warmup, "resets": self.resets.count,
                 "threshold_bps": opts.microprice_warn_bps}))
        elif self.resets:
            out.append(self.resets.finding(
                "microprice_reset", Severity.INFO,
                f"microprice EMA reset to mid {self.resets.count} times",
                "the EMA drifted past its bound and was reset (the guard worked); frequent resets mean the "
                "imbalance signals are noisy", self.look_at))
        return out
