"""Predictions never validated (the calibration loop is not fed by the trading path), or refuted.

Reads ``calibration_report`` (model samples validated information_ratio calibration_error; for
the fill model oe oe_low oe_high observed expected) and ``model_unvalidated`` (model reason
samples), with the session's fill count and span.

* No ``calibration_report`` at all although the session quoted for longer than 1.5 ×
  ``calibration.report_interval_s``: critical (the subsystem is never called).
* A model whose latest report has 0 samples although there were fills: critical (predictions
  are made, outcomes never recorded — the reference system showed ``fill_samples=0`` after 32 fills);
  a warning instead when every fill it waits for is younger than its markout horizon
  (``awaiting_markout`` > 0, ``markout_overdue`` 0: the session ended too soon after its fills).
* A model with samples but not validated (or ``model_unvalidated`` events): warning.
* The fill model's latest observed/expected fills (every order scored over its exposure, so
  requotes do not bias it) with its whole 95 % interval beyond a factor :data:`OE_FACTOR` of 1:
  warning (``fill_model_miscalibrated``: the ladder's fill probabilities are off by that much).
"""
from __future__ import annotations

from typing import Any

from hlmm.audit.context import AuditContext, Rule
from hlmm.audit.findings import Finding, Severity, Tally
from hlmm.audit.records import Event, num

FILL_MODEL = "fill_probability"
OE_FACTOR = 1.5  # an O/E interval wholly above 1.5 or below 1/1.5 is a finding (smaller gaps: noise or tolerable)


def _oe_off(rec: dict[str, Any]) -> bool:
    low, high = num(rec.get("oe_low")), num(rec.get("oe_high"))
    return (low is not None and low > OE_FACTOR) or (high is not None and high < 1.0 / OE_FACTOR)


class PredictionsValidated(Rule):
    """Whether the models' predictions are scored against outcomes."""

    id = "predictions_unvalidated"
    events = ("calibration_report", "model_unvalidated")
    look_at = ["calibration (prediction ids carried by the order's cloid)",
               "engine.fills -> calibration outcome recording", "calibration.report_interval_s"]

    def __init__(self, ctx: AuditContext) -> None:
        super().__init__(ctx)
        self.latest: dict[str, dict[str, Any]] = {}
        self.zero: dict[str, Tally] = {}
        self.unvalidated: dict[str, Tally] = {}
        self.reasons: dict[str, str] = {}
        self.oe_off = ctx.tally()

    def on_calibration_report(self, ev: Event) -> None:
        rec = ev.rec
        if rec is None:
            return
        model = str(rec.get("model") or "?")
        self.latest[model] = rec
        samples = num(rec.get("samples"))
        if samples is not None and samples <= 0:
            self.ctx.hit(self.zero.setdefault(model, self.ctx.tally()), ev)
        elif rec.get("validated") is False:
            self.ctx.hit(self.unvalidated.setdefault(model, self.ctx.tally()), ev)
        if model == FILL_MODEL and _oe_off(rec):
            self.ctx.hit(self.oe_off, ev)

    def on_model_unvalidated(self, ev: Event) -> None:
        model = str(ev.get("model") or "?")
        self.ctx.hit(self.unvalidated.setdefault(model, self.ctx.tally()), ev)
        reason = ev.get("reason")
        if reason:
            self.reasons[model] = str(reason)

    def findings(self) -> list[Finding]:
        ctx = self.ctx
        s = ctx.session
        fills = s.fills if s is not None else 0
        out = []
        interval = ctx.config.number("calibration.report_interval_s") or 300.0
        if not self.latest:
            if ctx.span_s > 1.5 * interval and ctx.total("quote_cycle", "order_place_sent") > 0:
                out.append(Finding(
                    id="calibration_never_reported", severity=Severity.CRITICAL, count=0,
                    title=f"no calibration_report in {ctx.span_s / 60:.0f} min of quoting "
                          f"(reports are due every {interval:g} s)",
                    first_ms=ctx.start_ms, last_ms=ctx.end_ms, examples=[],
                    cause="the calibration subsystem is not called by the trading path: no prediction is ever scored",
                    look_at=self.look_at, detail={"fills": fills, "report_interval_s": interval}))
            return out
        for model, rec in sorted(self.latest.items()):
            samples = num(rec.get("samples"))
            if samples is not None and samples <= 0 and fills > 0:
                tally = self.zero[model]
                reason = self.reasons.get(model)
                waiting, overdue = num(rec.get("awaiting_markout")) or 0, num(rec.get("markout_overdue")) or 0
                if waiting > 0 and overdue <= 0:   # too soon after the fills, not a broken wire
                    out.append(tally.finding(
                        self.id, Severity.WARNING,
                        f"model '{model}': 0 calibration samples yet: {int(waiting)} fills were still waiting "
                        f"for their markout when the session's last report ran ({tally.count} reports)",
                        f"the engine says: {reason}" if reason else "the session ended before the fills' markout "
                        "horizon", ["a session that runs on for the markout horizon (10 s) after its last fill"],
                        {"model": model, "fills": fills, "reports": tally.count, "awaiting_markout": int(waiting)}))
                    continue
                out.append(tally.finding(
                    self.id, Severity.CRITICAL,
                    f"model '{model}': 0 calibration samples after {fills} fills ({tally.count} reports)",
                    f"the engine says: {reason}" if reason else
                    "predictions are made but outcomes are never recorded against them (prediction ids lost "
                    "between the quote and the fill)", self.look_at,
                    {"model": model, "fills": fills, "reports": tally.count}))
            elif model in self.unvalidated and rec.get("validated") is not True:
                tally = self.unvalidated[model]
                detail = {k: rec.get(k) for k in ("samples", "oe", "oe_low", "oe_high", "brier", "information_ratio",
                                                  "calibration_error") if k in rec}
                reason = self.reasons.get(model)
                out.append(tally.finding(
                    "model_unvalidated", Severity.WARNING,
                    f"model '{model}' not validated ({int(samples or 0)} samples"
                    + (f", information ratio {num(rec.get('information_ratio')):.2f}"
                       if num(rec.get("information_ratio")) is not None else "") + ")",
                    reason or "too few outcomes yet, or the scores say the predictions do not beat the baseline",
                    self.look_at, {"model": model, **detail}))
        fill = self.latest.get(FILL_MODEL)
        if fill is not None and _oe_off(fill):
            oe, low, high = num(fill.get("oe")), num(fill.get("oe_low")), num(fill.get("oe_high"))
            under = low is not None and low > OE_FACTOR
            curve = fill.get("oe_curve") if isinstance(fill.get("oe_curve"), list) else []
            out.append(self.oe_off.finding(
                "fill_model_miscalibrated", Severity.WARNING,
                f"fill model {'under' if under else 'over'}-predicts fills: observed/expected "
                f"{oe:.2f} [{low:.2f}, {high:.2f}] over {int(num(fill.get('samples')) or 0)} orders "
                f"({int(num(fill.get('observed')) or 0)} fills, {num(fill.get('expected')) or 0.0:.1f} expected)",
                "the ladder's fill probabilities do not match how often its orders fill over the time they rest "
                "(every order counts, requoted ones by their exposure); its depth/size trade-off is off by as much",
                ["strategy.fill_probability_model (first_passage_takers adds the takers' A e^(-kappa d))",
                 "strategy.delta_char_bps", "strategy.tau_min_s", "strategy.tau_max_s",
                 "ladder fill probability erfc(d / (sigma sqrt(2 tau))) and its sigma (engine.market_model)",
                 "calibration_report oe_curve (which predictions are off)"],
                {"model": FILL_MODEL, **{k: fill.get(k) for k in ("oe", "oe_low", "oe_high", "observed", "expected",
                                                                  "samples", "censored")},
                 "oe_curve": curve}))
        return out
