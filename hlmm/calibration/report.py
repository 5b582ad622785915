"""The readable ``hlmm calibrate`` report: plain-text tables, one section per question.

Intervals are printed as ``value [low, high]``; a verdict column says what the data
supports (see :mod:`hlmm.calibration.groups`).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

from hlmm.calibration.analysis import Analysis
from hlmm.calibration.groups import GroupStats
from hlmm.calibration.recommend import Recommendations
from hlmm.calibration.stats import Estimate
from hlmm.calibration.tradefile import ReadResult

MAX_COINS = 15


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool] | None = None) -> str:
    """A plain-text table: a header, a rule, the rows; numbers right-aligned."""
    right = list(right) if right is not None else [i > 0 for i in range(len(headers))]
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def usd(x: float) -> str:
    if not math.isfinite(x):
        return "n/a"
    return f"-${abs(x):,.2f}" if x < 0 else f"${x:,.2f}"


def bps(e: Estimate | float, digits: int = 1) -> str:
    if isinstance(e, Estimate):
        if not math.isfinite(e.value):
            return "n/a"
        if not e.has_interval:
            return f"{e.value:+.{digits}f}"
        return f"{e.value:+.{digits}f} [{e.low:+.{digits}f}, {e.high:+.{digits}f}]"
    return "n/a" if not math.isfinite(e) else f"{e:+.{digits}f}"


def pct(e: Estimate) -> str:
    if not math.isfinite(e.value):
        return "n/a"
    if not e.has_interval:
        return f"{e.value:.0%}"
    return f"{e.value:.0%} [{max(0.0, e.low):.0%}, {min(1.0, e.high):.0%}]"


def duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "n/a"
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.1f}m"
    if seconds < 86400:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def _group_rows(groups: Sequence[GroupStats], status: bool = False, vs_rest: bool = False) -> list[list[str]]:
    rows = []
    for g in groups:
        if not g.fills:
            continue
        row = [g.label, f"{g.fills:,}", usd(g.notional), usd(g.pnl), bps(g.edge_bps), bps(g.gross_edge_bps),
               pct(g.win_rate)]
        if vs_rest:
            row.append(bps(g.vs_rest_bps) if g.vs_rest_bps is not None else "")
        if status:
            row.append(g.status)
        rows.append(row)
    return rows


_GROUP_HEAD = ["", "fills", "notional", "net PnL", "edge bps [CI]", "gross bps", "win rate"]


def _section(title: str) -> str:
    return f"\n{title}\n{'=' * len(title)}"


def render_inputs(results: Sequence[ReadResult]) -> str:
    out = []
    for r in results:
        out.append(f"{r.path}: {r.format_name}{' (gzip)' if r.compressed else ''}")
        out.append(f"  {r.rows_seen:,} rows read, {len(r.table):,} fills analysed")
        if r.date_order is not None:
            out.append(f"  {r.date_order.describe()}")
        if r.timezone_assumed:
            out.append("  times taken as UTC (the export is in the exporter's local time; pass --tz if it was not UTC)")
        elif r.timezone:
            out.append(f"  time zone: {r.timezone}")
        if r.bad_count:
            out.append(f"  {r.bad_summary()}:")
            out.extend(f"    {b.message()}" for b in r.bad_rows)
            if r.bad_count > len(r.bad_rows):
                out.append(f"    ... and {r.bad_count - len(r.bad_rows)} more")
        for reason, count in r.skipped.most_common():
            pnl = r.skipped_pnl.get(reason, 0.0)
            out.append(f"  skipped {count:,} {reason}" + (f" (net PnL {usd(pnl)})" if pnl else ""))
        out.extend(f"  note: {n}" for n in r.notes)
    return "\n".join(out)


def render(results: Sequence[ReadResult], analysis: Analysis, recs: Recommendations | None,
           merge_text: str = "") -> str:
    """The whole report as text."""
    a = analysis
    t = a.totals
    so = a.options.stats
    out = ["hlmm calibrate", "==============", render_inputs(results)]
    out.append(_section("Totals"))
    first, last = a.to_dict()["period"]["first"], a.to_dict()["period"]["last"]
    out.append(f"period      {first} to {last} ({a.days} UTC days with fills)")
    entry = a.options.attribution == "entry"
    out.append(f"fills       {t.fills:,} ({t.closing:,} {'opened a round trip' if entry else 'closing'})")
    out.append(f"notional    {usd(t.notional)}")
    out.append(f"net PnL     {usd(t.pnl)}   (fees {usd(t.fees)}, gross {usd(t.gross)})")
    out.append(f"edge        {bps(t.edge_bps, 2)} bps net, {bps(t.gross_edge_bps, 2)} bps gross, "
               f"fee rate {t.fee_rate_bps:.2f} bps")
    out.append(f"win rate    {pct(t.win_rate)} of "
               + ("entries (their positions' net PnL)" if entry else "closing fills"))
    out.append("attribution " + ("a round trip's PnL counts at its opening fill (hour, size); --attribution close "
                                 "books it at the close, as the export does" if entry else
                                 "PnL booked at the closing fill, as the export does"))
    out.append(f"intervals   {so.confidence:.0%}, {so.method}"
               + (f" ({so.n_boot} resamples, seed {so.seed})" if so.method == "bootstrap" else "")
               + ", resampling UTC hour blocks (fills of one hour are not independent)")

    out.append(_section("By coin"))
    coins = a.per_coin[:MAX_COINS]
    rows = _group_rows(coins)
    for row, g in zip(rows, coins):
        row.append(f"{g.fee_rate_bps:.2f}")
    out.append(render_table([*_GROUP_HEAD, "fee bps"], rows))
    if len(a.per_coin) > MAX_COINS:
        out.append(f"... and {len(a.per_coin) - MAX_COINS} more coins (see --json)")

    out.append(_section("By size (fill notional)"))
    out.append(render_table([*_GROUP_HEAD, "verdict"], _group_rows(a.buckets, status=True)))

    out.append(_section("By UTC hour"))
    out.append(render_table([*_GROUP_HEAD, "vs rest bps", "verdict"], _group_rows(a.hours, status=True, vs_rest=True)))
    f = a.findings
    out.append(f"toxic: {_hours(f.toxic_hours)}; inconclusive: {_hours(f.inconclusive_hours)}; "
               f"too little data: {_hours(f.insufficient_hours)}")
    out.append(f"(a verdict needs {so.min_fills} fills over {so.min_clusters} hour blocks; toxic = the whole "
               "interval below 0)")

    out.append(_section("Maker vs taker"))
    out.append(render_table([*_GROUP_HEAD, "fee bps"],
                            [row + [f"{g.fee_rate_bps:.2f}"] for row, g in
                             zip(_group_rows(a.maker_taker), [g for g in a.maker_taker if g.fills])]))
    out.append(f"source: {a.maker_taker_basis}")

    rt = a.round_trips
    out.append(_section("Round trips (FIFO per coin)"))
    if rt.count:
        hq = rt.hold_quantiles_s
        out.append(f"{rt.count:,} round trips, net {usd(rt.net)} (gross {usd(rt.gross)}, fees {usd(rt.fees)}), "
                   f"edge {bps(rt.edge_bps)} bps of entry notional")
        out.append(f"win rate {pct(rt.win_rate)}; holding time p10 {duration(hq['p10'])}, median "
                   f"{duration(hq['p50'])}, p90 {duration(hq['p90'])}")
        out.append(render_table(["holding", "trips", "entry notional", "net PnL", "edge bps [CI]", "gross bps",
                                 "win rate"], _group_rows(rt.by_hold)))
        out.append(f"informed share: {pct(rt.informed_share)} ({rt.informed_basis})")
    else:
        out.append("no round trip could be matched")
    out.extend(f"note: {n}" for n in rt.notes)

    out.append(_section(f"Worst {len(a.worst)} fills"))
    if a.worst:
        out.append(render_table(
            ["time (UTC)", "coin", "dir", "notional", "net PnL", "edge bps", "toxic hour", "size", "line"],
            [[w["time"].replace("T", " ").rstrip("Z"), w["coin"], w["dir"], usd(w["notional_usd"]), usd(w["pnl_usd"]),
              f"{w['edge_bps']:+.1f}", "yes" if w["toxic_hour"] else "", w["size_bucket"], str(w["line"])]
             for w in a.worst], right=[False, False, False, True, True, True, False, False, True]))
    else:
        out.append("no losing fill")

    out.append(_section("Scenarios (fills treated independently; in-sample)"))
    base_pnl = a.scenarios[0].pnl if a.scenarios else 0.0
    out.append(render_table(
        ["scenario", "fills", "notional", "net PnL", "change", "edge bps [CI]", "gross bps"],
        [[s.name + ("" if s.applicable else " (n/a)"), f"{s.fills:,}", usd(s.notional), usd(s.pnl),
          usd(s.pnl - base_pnl), bps(s.edge_bps), bps(s.gross_edge_bps)] for s in a.scenarios]))
    out.extend(f"{s.name}: {s.description}" for s in a.scenarios[1:])
    if a.out_of_sample is not None:
        out.append(f"out of sample: {a.out_of_sample.verdict}")
    else:
        out.append("out of sample: fewer than 4 days of data, not tested")

    if recs is not None:
        out.append(_section("Recommendations"))
        for rec in recs.items:
            mark = "WRITE" if rec.written else "keep "
            change = f"{rec.current} -> {rec.value}" if rec.written else f"{rec.current}"
            out.append(f"[{mark}] {rec.key} = {change}: {rec.reason}")
            out.extend(f"        {e}" for e in rec.evidence)
    if merge_text:
        out.append(_section("Merged with learned parameters"))
        out.append(merge_text)
    if a.notes:
        out.append(_section("Notes"))
        out.extend(a.notes)
    return "\n".join(out) + "\n"


def _hours(hours: Sequence[int]) -> str:
    return ", ".join(f"{h:02d}" for h in hours) if hours else "none"
