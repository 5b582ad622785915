"""Trade-history analysis: where the PnL came from, with the statistics to trust it.

By default PnL is attributed to entries (:func:`attribute_to_entries`): a round trip's
result counts at the hour and size of the fill that opened it, which is what the
toxic-hour and size recommendations act on.  ``attribution="close"`` keeps the export's
own booking (at the closing fill).  Totals are the same either way.

:func:`analyze` turns a :class:`~hlmm.calibration.fills.FillTable` into an
:class:`Analysis`: totals and per-coin figures, edge by size bucket and by UTC hour (with
intervals and verdicts), maker vs taker, FIFO round trips, the worst fills, the filters the
data supports (toxic hours, a size cap) and what they would have done, in sample and out
of sample.  :mod:`hlmm.calibration.recommend` turns the findings into config values.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np

from hlmm.calibration import stats
from hlmm.calibration.fees import maker_taker
from hlmm.calibration.fills import KIND_NAMES, FillTable
from hlmm.calibration.groups import (
    HOUR_MS,
    INCONCLUSIVE,
    INSUFFICIENT,
    TOXIC,
    GroupStats,
    StatOptions,
    bucket_labels,
    bucket_of,
    cluster_ids,
    group_stats,
    money,
)
from hlmm.calibration.roundtrips import RoundTripSummary, match_round_trips, summarize
from hlmm.calibration.scenarios import OutOfSample, Scenario, evaluate, filter_weights, scenarios
from hlmm.calibration.stats import Estimate

DEFAULT_BUCKETS = (500.0, 2000.0)
MAX_TOXIC_HOURS = 7  # more significantly losing hours than this: the losses are not about the hour of day


@dataclass(frozen=True)
class AnalysisOptions:
    """What to compute."""

    buckets: tuple[float, ...] = DEFAULT_BUCKETS
    stats: StatOptions = field(default_factory=StatOptions)
    worst: int = 10
    out_of_sample: bool = True
    attribution: str = "entry"  # "entry": a round trip's PnL counts at its opening fill; "close": as exported


@dataclass
class Findings:
    """The filters the data supports, and the hours it could not judge."""

    toxic_hours: list[int]
    inconclusive_hours: list[int]
    insufficient_hours: list[int]
    size_cap: float | None
    size_cap_reason: str

    @property
    def hour_filter(self) -> list[int]:
        """The toxic hours as a filter, unless so many hours lose that the hour is not the cause."""
        return self.toxic_hours if len(self.toxic_hours) <= MAX_TOXIC_HOURS else []

    def to_dict(self) -> dict:
        return {"toxic_hours_utc": self.toxic_hours, "hour_filter_utc": self.hour_filter,
                "inconclusive_hours_utc": self.inconclusive_hours,
                "insufficient_hours_utc": self.insufficient_hours, "size_cap_usd": self.size_cap,
                "size_cap_reason": self.size_cap_reason}


@dataclass
class Analysis:
    """Everything :func:`analyze` found (``to_dict`` is the ``--json`` payload)."""

    options: AnalysisOptions
    first_ms: int
    last_ms: int
    days: int
    totals: GroupStats
    per_coin: list[GroupStats]
    buckets: list[GroupStats]
    hours: list[GroupStats]
    maker_taker: list[GroupStats]
    maker_taker_basis: str
    maker_taker_exact: bool
    round_trips: RoundTripSummary
    worst: list[dict]
    findings: Findings
    scenarios: list[Scenario]
    out_of_sample: OutOfSample | None
    spread_capture_bps: Estimate | None  # from mid_at_fill, when the source has it
    post_filter_edge_bps: Estimate
    post_filter_gross_edge_bps: float
    table: FillTable  # the fills as analysed (PnL attributed as the options say); not in to_dict
    notes: list[str] = field(default_factory=list)

    @property
    def maker_fee_bps(self) -> float:
        maker = self.maker_taker[0]
        return maker.fee_rate_bps if maker.fills else self.totals.fee_rate_bps

    def to_dict(self) -> dict:
        opts = self.options
        return {
            "period": {"first": _iso(self.first_ms), "last": _iso(self.last_ms), "days": self.days},
            "options": {"buckets_usd": list(opts.buckets), "confidence": opts.stats.confidence,
                        "ci_method": opts.stats.method, "bootstrap_resamples": opts.stats.n_boot,
                        "seed": opts.stats.seed, "min_fills": opts.stats.min_fills,
                        "min_clusters": opts.stats.min_clusters, "cluster": "UTC hour block",
                        "attribution": opts.attribution},
            "totals": self.totals.to_dict(),
            "per_coin": [g.to_dict() for g in self.per_coin],
            "size_buckets": [g.to_dict() for g in self.buckets],
            "hours_utc": [dict(g.to_dict(), hour=h) for h, g in enumerate(self.hours)],
            "maker_taker": {"basis": self.maker_taker_basis, "exact": self.maker_taker_exact,
                            "groups": [g.to_dict() for g in self.maker_taker]},
            "round_trips": self.round_trips.to_dict(),
            "worst_fills": self.worst,
            "findings": self.findings.to_dict(),
            "scenarios": [s.to_dict() for s in self.scenarios],
            "out_of_sample": None if self.out_of_sample is None else self.out_of_sample.to_dict(),
            "spread_capture_bps": None if self.spread_capture_bps is None else self.spread_capture_bps.to_dict(4),
            "post_filter_edge_bps": self.post_filter_edge_bps.to_dict(4),
            "notes": list(self.notes),
        }


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def dir_label(kind: int, pos_side: int) -> str:
    """A readable dir for a fill (``Open Long``, ``Close Short``, ``Long > Short``, ``Buy``)."""
    name = KIND_NAMES[kind]
    side = "Long" if pos_side > 0 else "Short"
    other = "Short" if pos_side > 0 else "Long"
    return {"open": f"Open {side}", "close": f"Close {side}", "flip": f"{side} > {other}", "spot_buy": "Buy",
            "spot_sell": "Sell"}.get(name, "Other")


# ----------------------------------------------------------------------------- pieces


def _common(t: FillTable, opts: StatOptions) -> dict:
    return dict(pnl=t.pnl, notional=t.ntl, fees=t.fee, closing=t.decides, time_ms=t.time_ms, opts=opts,
                clusters=cluster_ids(t.time_ms, opts))


def hour_stats(t: FillTable, opts: StatOptions) -> list[GroupStats]:
    """Stats per UTC hour of day, with verdicts and each hour's edge against the rest."""
    hour = (t.time_ms // HOUR_MS) % 24
    common = _common(t, opts)
    out = group_stats(hour, 24, [f"{h:02d}:00" for h in range(24)], tag="hour", with_verdict=True, **common)
    # each cluster (hour block) lies in one hour of the day: totals once, then split per hour
    dense = common["clusters"]
    clusters = t.time_ms // opts.cluster_ms
    k = int(dense[-1]) + 1 if len(dense) else 0
    p = np.bincount(dense, weights=t.pnl * 1e4, minlength=k)
    q = np.bincount(dense, weights=t.ntl, minlength=k)
    first = np.r_[0, np.flatnonzero(np.diff(dense)) + 1]
    cluster_hour = hour[first] if opts.cluster_ms == HOUR_MS else None
    for h, g in enumerate(out):
        if not g.fills or g.fills == len(t):
            continue
        if cluster_hour is not None:
            a = cluster_hour == h
            g.vs_rest_bps = stats.difference_from_totals(p[a], q[a], p[~a], q[~a], n=len(t), tag=f"hour-rest/{h}",
                                                         **opts.ci_kwargs())
        else:
            g.vs_rest_bps = stats.difference_ci(t.pnl * 1e4, t.ntl, clusters, hour == h, tag=f"hour-rest/{h}",
                                                **opts.ci_kwargs())
    return out


def bucket_stats(t: FillTable, bounds: tuple[float, ...], opts: StatOptions) -> list[GroupStats]:
    """Stats per size bucket (fill notional), with verdicts."""
    labels = bucket_labels(bounds)
    return group_stats(bucket_of(t.ntl, bounds), len(labels), labels, tag="bucket", with_verdict=True,
                       **_common(t, opts))


def size_cap(buckets: list[GroupStats], bounds: tuple[float, ...]) -> tuple[float | None, str]:
    """The cap the size buckets support: below the run of significantly losing top buckets."""
    if not bounds:
        return None, "one size bucket only"
    top = len(buckets) - 1
    i = top
    while i >= 0 and buckets[i].status == TOXIC:
        i -= 1
    if i == top:
        status = buckets[top].status
        why = {INSUFFICIENT: "has too little data to judge", INCONCLUSIVE: "loses, but not significantly"}.get(
            status, "does not lose")
        return None, f"the largest bucket ({buckets[top].label}) {why}"
    if i < 0:
        return None, "every size bucket loses significantly: size is not the lever, the spread is"
    losing = ", ".join(f"{b.label} {b.edge_bps.value:+.1f} bps [{b.edge_bps.low:+.1f}, {b.edge_bps.high:+.1f}]"
                       for b in buckets[i + 1:])
    return bounds[i], f"fills of {money(bounds[i])} and more lose significantly ({losing})"


def find_filters(t: FillTable, bounds: tuple[float, ...], opts: StatOptions
                 ) -> tuple[list[GroupStats], list[GroupStats], Findings]:
    """Hour and bucket stats and the filters they support."""
    hours = hour_stats(t, opts)
    buckets = bucket_stats(t, bounds, opts)
    cap, reason = size_cap(buckets, bounds)
    findings = Findings(
        toxic_hours=[h for h, g in enumerate(hours) if g.status == TOXIC],
        inconclusive_hours=[h for h, g in enumerate(hours) if g.status == INCONCLUSIVE],
        insufficient_hours=[h for h, g in enumerate(hours) if g.status == INSUFFICIENT and g.fills],
        size_cap=cap, size_cap_reason=reason)
    return hours, buckets, findings


def worst_fills(t: FillTable, n: int, toxic_hours: list[int], bounds: tuple[float, ...]) -> list[dict]:
    """The ``n`` fills with the lowest net PnL."""
    if n <= 0 or not len(t):
        return []
    order = np.argsort(t.pnl, kind="stable")[:n]
    labels = bucket_labels(bounds)
    out = []
    for i in order.tolist():
        if t.pnl[i] >= 0:
            break
        hour = int((t.time_ms[i] // HOUR_MS) % 24)
        out.append({
            "time": _iso(int(t.time_ms[i])), "coin": t.coins[t.coin[i]],
            "dir": dir_label(int(t.kind[i]), int(t.pos_side[i])), "px": float(t.px[i]),
            "notional_usd": round(float(t.ntl[i]), 6), "pnl_usd": round(float(t.pnl[i]), 6),
            "edge_bps": round(float(1e4 * t.pnl[i] / t.ntl[i]), 4), "hour_utc": hour,
            "toxic_hour": hour in toxic_hours, "size_bucket": labels[int(bucket_of(t.ntl[i:i + 1], bounds)[0])],
            "line": int(t.line[i]),
        })
    return out


def out_of_sample(t: FillTable, bounds: tuple[float, ...], opts: StatOptions) -> OutOfSample | None:
    """Learn the filters on the first half of the days, measure them on the second."""
    day = t.time_ms // (24 * HOUR_MS)
    days = np.unique(day)
    if len(days) < 4:
        return None
    split_day = days[len(days) // 2]
    split_ms = int(split_day * 24 * HOUR_MS)
    learn, test = t.take(day < split_day), t.take(day >= split_day)
    _, _, found = find_filters(learn, bounds, opts)
    if not found.hour_filter and not found.size_cap:
        return OutOfSample(split_ms, len(learn), len(test), [], None, None, None,
                           "the first half supports no filter, so there is nothing to test")
    current = evaluate(test, np.ones(len(test)), "test_current", "second half as traded", 0.0, opts)
    filtered = evaluate(test, filter_weights(test, found.hour_filter, found.size_cap), "test_filtered",
                        "second half with the first half's filters", current.pnl, opts)
    gain = filtered.edge_bps.value - current.edge_bps.value
    if not math.isfinite(gain):
        verdict = "the filters leave no fills in the second half"
    elif filtered.improvement > 0:
        verdict = (f"the first half's filters would have improved the second half by ${filtered.improvement:,.2f} "
                   f"({gain:+.2f} bps of edge)")
    else:
        verdict = (f"the first half's filters would NOT have helped in the second half (${filtered.improvement:,.2f}, "
                   f"{gain:+.2f} bps): treat them with suspicion")
    return OutOfSample(split_ms, len(learn), len(test), found.hour_filter, found.size_cap, current, filtered,
                       verdict)


# --------------------------------------------------------------------------------- main

ATTRIBUTIONS = ("entry", "close")


def attribute_to_entries(t: FillTable, rt) -> FillTable:
    """``t`` with each round trip's price PnL moved from its closing fill to its opening fill.

    The export books a loss when the position is closed; the fill that was picked off is
    the one that opened it, and widening quotes at the hour (or size) of *that* fill is
    what prevents the loss.  Every fill keeps its own fee; whatever a closing fill
    realized beyond its matched round trips (positions opened before the file, average-
    versus FIFO-entry differences) stays on it, so totals are unchanged.  The fills that
    opened a round trip decide wins and losses.
    """
    n = len(t)
    pnl = -t.fee + np.bincount(rt.open_index, weights=rt.gross, minlength=n)
    matched = np.bincount(rt.close_index, weights=rt.gross, minlength=n)
    pnl += t.gross - matched
    decisive = np.zeros(len(t), dtype=np.int8)
    decisive[rt.open_index] = 1
    return t.with_pnl(pnl, decisive)



def analyze(table: FillTable, options: AnalysisOptions | None = None) -> Analysis:
    """The whole analysis of ``table`` (time-ordered fills)."""
    opts = options or AnalysisOptions()
    if opts.attribution not in ATTRIBUTIONS:
        raise ValueError(f"attribution must be one of {ATTRIBUTIONS}, got {opts.attribution!r}")
    so = opts.stats
    if not len(table):
        raise ValueError("no fills to analyse")
    rt = match_round_trips(table)
    t = attribute_to_entries(table, rt) if opts.attribution == "entry" else table
    common = _common(t, so)
    totals = group_stats(np.zeros(len(t), dtype=np.int64), 1, ["all"], tag="total", **common)[0]
    per_coin = group_stats(t.coin, len(t.coins), list(t.coins), tag="coin", **common)
    per_coin = sorted((g for g in per_coin if g.fills), key=lambda g: -g.notional)
    hours, buckets, findings = find_filters(t, opts.buckets, so)
    mt = maker_taker(t)
    mt_stats = group_stats(mt.taker.astype(np.int64), 2, ["maker", "taker"], tag="maker_taker", **common)
    rt_summary = summarize(rt, mt.taker, so)
    fallback_cap = opts.buckets[-1] if opts.buckets else None
    scen = scenarios(t, findings.toxic_hours, findings.size_cap, fallback_cap, so)
    weight = filter_weights(t, findings.hour_filter, findings.size_cap)
    post = evaluate(t, weight, "post_filter", "with the supported filters", totals.pnl, so)
    spread_capture = None
    has_mid = np.isfinite(t.mid) & (t.mid > 0)
    if np.any(has_mid):
        sc = t.side[has_mid] * (t.mid[has_mid] - t.px[has_mid]) / t.mid[has_mid] * 1e4
        spread_capture = stats.ratio_ci(sc * t.ntl[has_mid], t.ntl[has_mid], t.time_ms[has_mid] // so.cluster_ms,
                                        tag="spread_capture", **so.ci_kwargs())
    days = int(len(np.unique(t.time_ms // (24 * HOUR_MS))))
    notes = []
    if len(findings.toxic_hours) > MAX_TOXIC_HOURS:
        notes.append(f"{len(findings.toxic_hours)} hours lose significantly: losses are not concentrated in a few "
                     "hours; the spread floor is the lever, not toxic-hour scaling")
    tested = sum(1 for g in hours if g.status != INSUFFICIENT)
    if tested:
        alpha = 1 - so.confidence
        notes.append(f"{tested} hours had enough data to judge; at {so.confidence:.0%} confidence about "
                     f"{tested * alpha / 2:.1f} of them could be flagged toxic by chance if no hour were special")
    return Analysis(
        options=opts, first_ms=int(t.time_ms[0]), last_ms=int(t.time_ms[-1]), days=days, totals=totals,
        per_coin=per_coin, buckets=buckets, hours=hours, maker_taker=mt_stats, maker_taker_basis=mt.description,
        maker_taker_exact=mt.all_exact, round_trips=rt_summary,
        worst=worst_fills(t, opts.worst, findings.toxic_hours, opts.buckets), findings=findings, scenarios=scen,
        out_of_sample=out_of_sample(t, opts.buckets, so) if opts.out_of_sample else None,
        spread_capture_bps=spread_capture, post_filter_edge_bps=post.edge_bps,
        post_filter_gross_edge_bps=post.gross_edge_bps, table=t, notes=notes,
    )
