"""The audit report as readable text: input, session accounting, findings, generic analysis."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hlmm.audit.findings import Finding, Severity
from hlmm.audit.report import AuditReport
from hlmm.audit.sources import display_size


def render(report: AuditReport) -> str:
    """The whole report as text (no trailing newline)."""
    out: list[str] = []
    _header(report, out)
    if report.session is not None:
        _session(report.session, out)
    _findings(report.findings, out)
    if report.generic is not None:
        _generic(report.generic, out)
    code = report.exit_code
    verdict = "critical findings" if code else "no finding at or above the failure level"
    out.append("")
    out.append(f"exit code {code} ({verdict})")
    return "\n".join(out)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], indent: str = "  ") -> list[str]:
    """Left-aligned columns (numbers right-aligned); the last column is not padded."""
    cells = [[str(c) for c in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    n = len(headers)
    widths = [max(len(r[i]) for r in cells) for i in range(n)]
    numeric = [all(_is_number(r[i]) for r in cells[1:]) and len(cells) > 1 for i in range(n)]
    lines = []
    for r in cells:
        parts = []
        for i, cell in enumerate(r):
            if i == n - 1:
                parts.append(cell)
            elif numeric[i]:
                parts.append(cell.rjust(widths[i]))
            else:
                parts.append(cell.ljust(widths[i]))
        lines.append((indent + "  ".join(parts)).rstrip())
    return lines


def _is_number(text: str) -> bool:
    t = text.replace(",", "").replace("%", "").replace("$", "").strip()
    if t in ("", "-"):
        return True
    try:
        float(t)
        return True
    except ValueError:
        return False


# ----------------------------------------------------------------------------- formats


def _usd(x: float | None, sign: bool = True) -> str:
    if x is None:
        return "n/a"
    return f"{x:+,.2f}" if sign else f"{x:,.2f}"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def _dur(seconds: float) -> str:
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}h{m:02d}m{sec:02d}s" if h else f"{m}m{sec:02d}s"


def _oe(e: dict[str, Any]) -> str:
    """The fill model's observed/expected fills with its interval ("" for models without one)."""
    if "oe" not in e:
        return ""
    if not all(isinstance(e.get(k), (int, float)) for k in ("oe", "oe_low", "oe_high")):
        return _num(e.get("oe"))
    return f"{e['oe']:.2f} [{e['oe_low']:.2f}, {e['oe_high']:.2f}]"


def _num(x: Any, digits: int = 2) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}"
    if isinstance(x, float):
        return f"{x:,.{digits}f}"
    return str(x)


def _short_ts(iso: str | None) -> str:
    return "-" if not iso else iso.replace("T", " ").rstrip("Z")


# ------------------------------------------------------------------------------ sections


def _header(report: AuditReport, out: list[str]) -> None:
    lines = report.lines
    speed = report.log_bytes / report.elapsed_s / 1e6 if report.elapsed_s > 0 and report.log_bytes else None
    n_in = len(report.inputs)
    size = display_size(report.log_bytes)
    if report.log_bytes != report.bytes_read:
        size += f" ({display_size(report.bytes_read)} on disk)"
    out.append(f"hlmm audit: {n_in} input{'s' if n_in != 1 else ''}, {size}, "
               f"{lines['total']:,} lines in {report.elapsed_s:.2f} s"
               + (f" ({speed:,.0f} MB/s)" if speed else ""))
    out.append("")
    out.append("INPUT")
    rows = []
    for i in report.inputs:
        note = i["problem"] or i["read_error"] or ("empty" if i["empty"] else (i["compression"] or ""))
        rows.append((i["path"], i["size_text"], f"{i['lines']:,}", _short_ts(i["first"]), note))
    out += table(("PATH", "SIZE", "LINES", "FIRST", "NOTE"), rows)
    w = report.window
    if w["since"] or w["until"]:
        out.append(f"  window: {_short_ts(w['since']) if w['since'] else 'start'} .. "
                   f"{_short_ts(w['until']) if w['until'] else 'end'} ({lines['outside_window']:,} lines outside)")
    parts = [f"{lines['hlmm_events']:,} hlmm events"]
    for key, label in (("foreign_json", "other JSON"), ("text", "text"), ("blank", "blank"), ("truncated", "truncated"),
                       ("corrupt", "corrupt"), ("invalid_json", "invalid JSON"), ("binary", "binary"),
                       ("overlong", "overlong")):
        if lines[key]:
            parts.append(f"{lines[key]:,} {label}")
    out.append("  lines: " + " · ".join(parts))


def _session(s: dict[str, Any], out: list[str]) -> None:
    out.append("")
    coins = ", ".join(s["coins"]) or "?"
    venue = ", ".join(s["venues"])
    restarts = f" · {s['sessions']} sessions" if s["sessions"] > 1 else ""
    out.append(f"SESSION  {_short_ts(s['start'])} -> {_short_ts(s['end'])} ({_dur(s['duration_s'])}) · {coins}"
               + (f" · {venue}" if venue else "") + restarts)
    av = s["account_value"]
    pnl = s["pnl"]
    rows: list[tuple[str, str]] = []
    rows.append(("account value", f"{_usd(av['start'], False)} -> {_usd(av['end'], False)} ({_usd(av['change'])})"
                 if av["start"] is not None else "n/a (no safety_sync)"))
    split = [f"spread capture {_usd(pnl.get('spread_capture_usd'))}"]
    if pnl.get("adverse_selection_usd") is not None:
        horizon = pnl.get("adverse_selection_horizon_s")
        split.append(f"adverse selection {_usd(-pnl['adverse_selection_usd'])}"
                     + (f" (at {horizon:g} s)" if horizon else ""))
    split.append(f"fees {_usd(-pnl['fees_usd'])}")
    split.append(f"funding {_usd(pnl['funding_usd'])}")
    if pnl.get("residual_usd") is not None:
        split.append(f"residual {_usd(pnl['residual_usd'])}")
    rows.append(("PnL", f"{_usd(pnl['total_usd'])}  [{pnl['source']}]"))
    rows.append(("  split", " · ".join(split)))
    if pnl["source"] == "session_summary":
        rows.append(("  realized / unrealized", f"{_usd(pnl['realized_usd'])} / {_usd(pnl['unrealized_usd'])}"))
    f = s["fills"]
    rows.append(("fills", f"{f['total']:,} ({f['tracked']:,} tracked, {f['untracked']:,} untracked) · "
                          f"{f['buys']:,} buys / {f['sells']:,} sells · {f['taker']:,} taker · "
                          f"volume ${s['volume_usd']:,.0f}"))
    pos = ", ".join(f"{c} {p:g}" for c, p in s["position"].items()) or "n/a"
    rows.append(("final position", pos))
    o = s["orders"]
    missed = f" ({o['modify_missed']:,} too late: the order had already ended)" if o.get("modify_missed") else ""
    rows.append(("orders", f"{o['placed']:,} placed · {o['modified']:,} modified{missed} · {o['cancel_sent']:,} cancels sent · "
                           f"{o['cancelled']:,} cancelled · {o['rejected']:,} rejected · "
                           f"{o['unknown_timeouts']:,} timed out"))
    for reason, n in list(o["rejected_by_reason"].items())[:8]:
        rows.append(("  rejected", f"{n:,}  {reason}"))
    rq = s["requotes"]
    cpm = s["quote_cycles_per_min"]
    logged = "" if s["quote_cycles_logged"] == s["quote_cycles"] else f" ({s['quote_cycles_logged']:,} logged)"
    rows.append(("quote cycles", f"{s['quote_cycles']:,}" + logged + (f" · {cpm:,.1f}/min" if cpm is not None else "")
                 + (f" · {rq['per_cycle']:.2f} order actions per cycle" if rq["per_cycle"] is not None else "")
                 + (f" ({rq['per_min']:,.1f}/min)" if rq["per_min"] is not None else "")))
    rh = s["rate_headroom"]
    rows.append(("rate headroom", (f"min {_pct(rh['min'])} · mean {_pct(rh['mean'])} · "
                                   f"{rh['time_below_s']:,.0f} s below {rh['threshold']:.0%}" if rh["samples"]
                                   else "no rate_limit_status")
                 + f" · {rh['throttled']:,} throttled · {rh['rate_limited']:,} refused"))
    c = s["connection"]
    rows.append(("connection", f"{c['reconnects']:,} reconnects · {c['disconnects']:,} disconnects · "
                               f"{c['post_timeouts']:,} post timeouts"))
    r = s["risk"]
    kill = ", ".join(f"{k} ×{v}" for k, v in r["kill_switch"].items()) or "not fired"
    gates = ", ".join(f"{k} ×{v}" for k, v in list(r["gates"].items())[:5]) or "none"
    pulls = sum(r["toxicity_pulls"].values())
    rows.append(("kill switch", kill))
    rows.append(("gates", f"{gates} · {pulls:,} toxicity pulls · {r['inventory_forcing']:,} inventory forcing · "
                          f"{r['reduce_only_on']:,} reduce-only · {r['book_stale']:,} stale books"))
    rows.append(("config", s["config"]))
    width = max(len(k) for k, _ in rows)
    out += [f"  {k.ljust(width)}  {v}" for k, v in rows]
    cal = s["calibration"]
    if cal["models"]:
        out.append("  calibration")
        out += table(("MODEL", "REPORTS", "SAMPLES", "O/E [95%]", "BRIER", "INFO RATIO", "CAL ERROR", "VALIDATED"),
                     [(m, e.get("reports"), _num(e.get("samples")), _oe(e), _num(e.get("brier"), 4),
                       _num(e.get("information_ratio")), _num(e.get("calibration_error"), 4), _num(e.get("validated")))
                      for m, e in cal["models"].items()], indent="    ")
    else:
        out.append("  calibration  no calibration_report")
    if s["markouts"]:
        out.append("  markouts by horizon (bps of mid; edge = spread capture - adverse selection - fee)")
        out += table(("HORIZON", "FILLS", "SPREAD CAP", "ADVERSE SEL", "MID MOVE", "EDGE", "± SE"),
                     [(f"{m['horizon_s']:g} s", f"{m['n']:,}", _num(m["spread_capture_bps"]),
                       _num(m["adverse_selection_bps"]), _num(m["mid_move_bps"]), _num(m["edge_bps"]),
                       _num(m["edge_se_bps"])) for m in s["markouts"]], indent="    ")


_SEV = {Severity.CRITICAL: "CRITICAL", Severity.WARNING: "WARNING", Severity.INFO: "info"}


def _findings(findings: list[Finding], out: list[str]) -> None:
    out.append("")
    counts = {sev: sum(1 for f in findings if f.severity == sev) for sev in Severity}
    out.append(f"FINDINGS  {counts[Severity.CRITICAL]} critical · {counts[Severity.WARNING]} warning · "
               f"{counts[Severity.INFO]} info")
    if not findings:
        out.append("  none")
    for f in findings:
        out.append(f"  {_SEV[f.severity]:<8} {f.id}: {f.title}")
        when = ""
        if f.first_ms is not None:
            first, last = f.to_dict()["first"], f.to_dict()["last"]
            when = f" · {_short_ts(first)}" + (f" -> {_short_ts(last)}" if last and last != first else "")
        out.append(f"           count {f.count:,}{when}")
        if f.examples:
            out.append(f"           at {', '.join(f.examples)}")
        out.append(f"           cause: {f.cause}")
        if f.look_at:
            out.append(f"           look at: {', '.join(f.look_at)}")


def _generic(g: dict[str, Any], out: list[str]) -> None:
    out.append("")
    fmts = ", ".join(f"{n:,} {k}" for k, n in g["formats"].items())
    span = f" · {_short_ts(g['start'])} -> {_short_ts(g['end'])}" if g["start"] else ""
    out.append(f"GENERIC LOG  {g['lines']:,} lines ({fmts}){span}")
    out.append("  levels: " + " · ".join(f"{k} {v:,}" for k, v in g["levels"].items()))
    if g["sources"]:
        out.append("  sources: " + " · ".join(f"{s['source']} {s['count']:,}" for s in g["sources"][:8]))
    out.append(f"  top message templates ({g['distinct_templates']:,} distinct):")
    out += table(("COUNT", "LEVEL", "TEMPLATE", "EXAMPLE"),
                 [(f"{t['count']:,}", t["level"], _clip(t["template"], 90), t["example"]) for t in g["templates"]],
                 indent="    ")
    if g["error_bursts"]:
        out.append("  error bursts:")
        out += table(("FROM", "TO", "ERRORS", "AT"),
                     [(_short_ts(b["first"]), _short_ts(b["last"]), f"{b['count']:,}", b["example"])
                      for b in g["error_bursts"]], indent="    ")


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
