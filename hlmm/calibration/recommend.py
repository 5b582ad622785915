"""Config values the trade history supports, each with its evidence.

Only a value the data supports is written to the fragment; everything else is reported
with the reason it was not written.  The rules:

* ``strategy.toxic_hours_utc`` / ``toxic_gamma_multiplier``: the hours whose edge interval
  lies below zero (:mod:`hlmm.calibration.groups`), for an account that mostly makes
  liquidity (these keys price quotes; a taker's losing hours are not about quotes).  The multiplier widens a half-spread
  of the reference size (the observed spread capture, or the current floor) by the gap
  between those hours' edge and the rest of the day's: ``(ref + gap) / ref``.  With 8 or
  more toxic hours the losses are not about the hour of day and nothing is written.
* ``strategy.max_order_notional_usd``: the bucket boundary below the run of significantly
  losing top size buckets, written only when it is below the current value (the data can
  say "smaller", never "larger").
* ``strategy.spread_floor_bps``: break-even = maker fee + adverse selection, where
  adverse selection = spread captured - gross edge per fill (after the filters above).
  Spread capture comes from ``mid_at_fill`` when the source has it (hlmm logs); otherwise
  the current floor is taken as what was captured, and the report says so.  Written when
  it raises the floor and the filtered fills lose significantly.
* ``strategy.alpha_touch``: the share of maker-opened round trips that lost before fees,
  written with enough round trips (``min_fills`` over ``min_clusters`` hour blocks) and an
  interval no wider than +-0.15.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hlmm.calibration import stats
from hlmm.calibration.analysis import MAX_TOXIC_HOURS, Analysis
from hlmm.calibration.groups import HOUR_MS, money
from hlmm.config import Config, dump_fragment

FLOOR_STEP_BPS = 0.5
MAX_ALPHA_HALF_WIDTH = 0.15  # an informed share known only within +-0.15 is not written


@dataclass
class Recommendation:
    """One config key: the value the data supports, or why none is written."""

    key: str  # dotted, e.g. "strategy.spread_floor_bps"
    value: Any
    current: Any
    written: bool
    reason: str
    evidence: list[str] = field(default_factory=list)
    low: float | None = None  # range the data allows, when it has one
    high: float | None = None
    samples: int = 0

    def to_dict(self) -> dict:
        return {"key": self.key, "value": plain(self.value), "current": plain(self.current), "written": self.written,
                "reason": self.reason, "evidence": list(self.evidence), "low": self.low, "high": self.high,
                "samples": self.samples}


@dataclass
class Recommendations:
    """All recommendations and the fragment made of the written ones."""

    items: list[Recommendation]
    base: Config

    def fragment(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for rec in self.items:
            if not rec.written:
                continue
            node = out
            *path, leaf = rec.key.split(".")
            for part in path:
                node = node.setdefault(part, {})
            node[leaf] = plain(rec.value)
        return out

    def to_toml(self, header: str) -> str:
        """The fragment as TOML (checked over the base config, so it loads as is)."""
        lines = [header.rstrip(), ""] if header else []
        for rec in self.items:
            mark = "written" if rec.written else "not written"
            lines.append(f"{rec.key} ({mark}): {rec.reason}")
            lines.extend(f"  {e}" for e in rec.evidence)
        return dump_fragment(self.fragment(), base=self.base, header="\n".join(lines))

    def to_dict(self) -> dict:
        return {"fragment": self.fragment(), "items": [r.to_dict() for r in self.items]}


def plain(value: Any) -> Any:
    """``value`` with numpy scalars as Python numbers (TOML and JSON writers need built-in types)."""
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _f(x: float, digits: int = 1) -> str:
    return f"{x:+.{digits}f}" if math.isfinite(x) else "n/a"


def _ci(e: stats.Estimate, digits: int = 1) -> str:
    if not e.has_interval:
        return f"{_f(e.value, digits)} (no interval)"
    return f"{_f(e.value, digits)} [{_f(e.low, digits)}, {_f(e.high, digits)}]"


def _share(e: stats.Estimate) -> str:
    if not math.isfinite(e.value):
        return "n/a"
    if not e.has_interval:
        return f"{e.value:.3f} (no interval)"
    return f"{e.value:.3f} [{e.low:.3f}, {e.high:.3f}]"


def maker_share(analysis: Analysis) -> float:
    """Share of the notional filled as maker (exact or estimated, see the analysis)."""
    maker, taker = analysis.maker_taker
    total = maker.notional + taker.notional
    return maker.notional / total if total else 0.0


def reference_half_spread(analysis: Analysis, base: Config) -> tuple[float, str]:
    """The half-spread the fills captured: measured from mids, or assumed to be the floor."""
    sc = analysis.spread_capture_bps
    if sc is not None and sc.n >= 10 and math.isfinite(sc.value) and sc.value > 0:
        return sc.value, f"measured spread capture {_ci(sc, 2)} bps over {sc.n} fills with a mid"
    floor = base.strategy.spread_floor_bps
    return floor, (f"spread capture assumed = the current floor ({floor:g} bps): the source has no mid prices, "
                   "so adverse selection is inferred, not measured")


def _toxic(analysis: Analysis, base: Config, ref: float, ref_text: str) -> list[Recommendation]:
    table = analysis.table
    f = analysis.findings
    s = base.strategy
    hours = f.toxic_hours
    so = analysis.options.stats
    inconclusive = f"{len(f.inconclusive_hours)} hours inconclusive (negative, interval reaches 0)"
    insufficient = f"{len(f.insufficient_hours)} with too little data"
    hour_of = (table.time_ms // HOUR_MS) % 24
    if not hours or len(hours) > MAX_TOXIC_HOURS:
        if hours:
            reason = (f"{len(hours)} hours lose significantly: losses are spread over the day, so hour-of-day "
                      "scaling is the wrong lever (see the spread floor)")
        else:
            reason = f"no hour loses significantly ({inconclusive}, {insufficient})"
        evidence = []
        if s.toxic_hours_utc:
            mask = np.isin(hour_of, list(s.toxic_hours_utc))
            if np.any(mask):
                e = stats.ratio_ci(table.pnl[mask] * 1e4, table.ntl[mask], table.time_ms[mask] // so.cluster_ms,
                                   tag="configured-toxic", **so.ci_kwargs())
                evidence.append(f"configured toxic hours {list(s.toxic_hours_utc)}: edge {_ci(e)} bps over "
                                f"{e.n} fills")
        return [Recommendation("strategy.toxic_hours_utc", list(s.toxic_hours_utc), list(s.toxic_hours_utc), False,
                               reason, evidence)]
    if maker_share(analysis) < 0.5:
        return [Recommendation("strategy.toxic_hours_utc", list(s.toxic_hours_utc), list(s.toxic_hours_utc), False,
                               f"hours {', '.join(f'{h:02d}' for h in hours)} lose significantly, but the account "
                               f"mostly takes liquidity ({maker_share(analysis):.0%} maker): toxic-hour scaling "
                               "widens quotes, which would not have changed these fills",
                               [f"{h:02d}:00 UTC: edge {_ci(analysis.hours[h].edge_bps)} bps" for h in hours])]
    evidence = []
    for h in hours:
        g = analysis.hours[h]
        vs = f", {_ci(g.vs_rest_bps)} vs the rest" if g.vs_rest_bps is not None else ""
        evidence.append(f"{h:02d}:00 UTC: edge {_ci(g.edge_bps)} bps{vs}, {g.fills} fills over "
                        f"{g.edge_bps.clusters} hour blocks")
    evidence.append(f"{inconclusive}, {insufficient}")
    recs = [Recommendation("strategy.toxic_hours_utc", sorted(hours), list(s.toxic_hours_utc), True,
                           f"{len(hours)} hour{'s' if len(hours) > 1 else ''} with an edge interval below zero",
                           evidence, samples=sum(analysis.hours[h].fills for h in hours))]
    mask = np.isin(hour_of, hours)
    tox = 1e4 * table.pnl[mask].sum() / table.ntl[mask].sum()
    rest_ntl = table.ntl[~mask].sum()
    rest = 1e4 * table.pnl[~mask].sum() / rest_ntl if rest_ntl > 0 else 0.0
    gap = rest - tox
    evidence = [f"toxic hours edge {tox:+.1f} bps, rest of the day {rest:+.1f} bps", ref_text]
    if gap <= 0:
        recs.append(Recommendation("strategy.toxic_gamma_multiplier", s.toxic_gamma_multiplier,
                                   s.toxic_gamma_multiplier, False,
                                   "the toxic hours lose, but no more than the rest of the day: no extra widening",
                                   evidence, samples=int(mask.sum())))
        return recs
    def multiplier(g: float) -> float:
        return float(min(20.0, max(1.0, round((ref + g) / ref, 1))))

    mult = multiplier(gap)
    diff = stats.difference_ci(table.pnl * 1e4, table.ntl, table.time_ms // so.cluster_ms, mask, tag="toxic-vs-rest",
                               **so.ci_kwargs())
    low = high = None
    if diff.has_interval:
        low, high = multiplier(max(0.0, -diff.high)), multiplier(max(0.0, -diff.low))
        evidence.append(f"gap {gap:.1f} bps, interval {max(0.0, -diff.high):.1f} to {-diff.low:.1f} bps: "
                        f"multiplier {low:g} to {high:g}")
    recs.append(Recommendation(
        "strategy.toxic_gamma_multiplier", mult, s.toxic_gamma_multiplier, True,
        f"widens a {ref:.1f} bps half-spread by the {gap:.1f} bps the toxic hours lose against the rest",
        evidence, low, high, samples=int(mask.sum())))
    return recs


def _size(analysis: Analysis, base: Config) -> Recommendation:
    f = analysis.findings
    current = base.strategy.max_order_notional_usd
    evidence = [f"{b.label}: edge {_ci(b.edge_bps)} bps, {b.fills} fills, {b.status}" for b in analysis.buckets]
    if f.size_cap is None:
        return Recommendation("strategy.max_order_notional_usd", current, current, False, f.size_cap_reason,
                              evidence)
    cap = max(10.0, float(f.size_cap))
    if cap >= current:
        return Recommendation("strategy.max_order_notional_usd", current, current, False,
                              f"{f.size_cap_reason}; the current {money(current)} is already below {money(cap)}",
                              evidence)
    return Recommendation("strategy.max_order_notional_usd", cap, current, True, f.size_cap_reason, evidence,
                          samples=analysis.totals.fills)


def _floor(analysis: Analysis, base: Config, ref: float, ref_text: str) -> Recommendation:
    current = base.strategy.spread_floor_bps
    key = "strategy.spread_floor_bps"
    net = analysis.post_filter_edge_bps
    gross = analysis.post_filter_gross_edge_bps
    fee = analysis.maker_fee_bps if math.isfinite(analysis.maker_fee_bps) else analysis.totals.fee_rate_bps
    maker = analysis.maker_taker[0]
    evidence = [ref_text]
    share = maker_share(analysis)
    if not math.isfinite(gross) or not net.has_interval:
        return Recommendation(key, current, current, False, "not enough data for an edge interval", evidence)
    adverse = ref - gross
    breakeven = fee + adverse
    fee_shift = gross - net.value  # fee rate of the filtered fills
    lo = fee + ref - (net.high + fee_shift)
    hi = fee + ref - (net.low + fee_shift)
    evidence = [
        f"edge per fill after the filters: {_ci(net)} bps net, {gross:+.1f} bps gross",
        f"{'maker fee' if maker.fills else 'fee (no maker fill)'} {fee:.2f} bps + adverse selection {adverse:.1f} bps "
        f"(= {ref:.1f} captured - ({gross:+.1f}) gross) = break-even {breakeven:.1f} bps (range {lo:.1f} to {hi:.1f})",
        ref_text,
        f"maker share of notional {share:.0%} ({analysis.maker_taker_basis})",
    ]
    value = max(1.0, math.ceil(breakeven / FLOOR_STEP_BPS) * FLOOR_STEP_BPS)
    if share < 0.5:
        return Recommendation(key, current, current, False,
                              "the account mostly takes liquidity; a spread floor prices quotes (maker fills), so "
                              "this history cannot calibrate it", evidence, lo, hi, net.n)
    if net.high < 0 and value > current:
        return Recommendation(key, value, current, True,
                              f"the filtered fills lose significantly; break-even needs {breakeven:.1f} bps",
                              evidence, lo, hi, net.n)
    if net.high < 0:
        return Recommendation(key, current, current, False,
                              f"the fills lose, but break-even ({breakeven:.1f} bps) is not above the current floor: "
                              "the losses are not the floor's", evidence, lo, hi, net.n)
    if net.low > 0 and value < current:
        return Recommendation(key, current, current, False,
                              f"the fills earn significantly; the data would allow {value:g} bps, but lowering the "
                              "floor is left to you", evidence, lo, hi, net.n)
    return Recommendation(key, current, current, False,
                          "the edge interval includes zero: the data cannot tell whether the floor is too low",
                          evidence, lo, hi, net.n)


def _alpha(analysis: Analysis, base: Config) -> Recommendation:
    rt = analysis.round_trips
    e = rt.informed_share
    so = analysis.options.stats
    current = base.strategy.alpha_touch
    key = "strategy.alpha_touch"
    evidence = [f"{rt.informed_basis}: {_share(e)}"]
    if not rt.informed_maker_only:
        return Recommendation(key, current, current, False, "no round trip was opened by a maker fill", evidence)
    if e.n < so.min_fills or e.clusters < so.min_clusters or not e.has_interval:
        return Recommendation(key, current, current, False,
                              f"too few round trips ({e.n} over {e.clusters} hour blocks; need {so.min_fills} over "
                              f"{so.min_clusters})", evidence, samples=e.n)
    if (e.high - e.low) / 2 > MAX_ALPHA_HALF_WIDTH:
        return Recommendation(key, current, current, False,
                              f"the interval is too wide to act on (half-width {(e.high - e.low) / 2:.2f} > "
                              f"{MAX_ALPHA_HALF_WIDTH}): the round trips cluster in a few hours", evidence,
                              round(e.low, 3), round(e.high, 3), e.n)
    value = round(min(0.99, max(0.01, e.value)), 3)
    return Recommendation(key, value, current, True, "share of maker-opened round trips that lost before fees",
                          evidence, round(e.low, 3), round(e.high, 3), e.n)


def recommend(analysis: Analysis, base: Config | None = None) -> Recommendations:
    """Recommendations from ``analysis`` against ``base`` (default: the defaults)."""
    base = base or Config()
    ref, ref_text = reference_half_spread(analysis, base)
    items = _toxic(analysis, base, ref, ref_text)
    items.append(_size(analysis, base))
    items.append(_floor(analysis, base, ref, ref_text))
    items.append(_alpha(analysis, base))
    return Recommendations(items=items, base=base)


def fragment_header(sources: list[str], analysis: Analysis) -> str:
    """The comment block on top of a written fragment."""
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    first = dt.datetime.fromtimestamp(analysis.first_ms / 1000, tz=dt.timezone.utc).strftime("%Y-%m-%d")
    last = dt.datetime.fromtimestamp(analysis.last_ms / 1000, tz=dt.timezone.utc).strftime("%Y-%m-%d")
    return (f"Calibrated by hlmm calibrate at {now} from {', '.join(sources)}\n"
            f"{analysis.totals.fills} fills, {first} to {last}. Include it from hlmm.toml: include = [\"<this file>\"]\n"
            "Only keys the data supports are set; the evidence for each key follows.")
