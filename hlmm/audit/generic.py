"""Generic analysis of logs that are not hlmm events (other market makers' tracing JSON, text).

For every such line (see :mod:`hlmm.audit.foreign`): counts by level and by source
(target/logger/tag), message templates ranked by count (:mod:`hlmm.audit.templates`), error
bursts, silences between timestamped lines, and *generic findings*: templates whose wording
matches a known market-making problem (untracked fills, quotes crossing the mid, rate-limit
pressure, rejections, reconnects, stale data, kill switch, calibration with zero samples,
microprice drift, position mismatches).

Lines without a timestamp take the last timestamp seen in the same input (for the time window
and bursts).  Memory is bounded: at most :data:`MAX_TEMPLATES` templates and
:data:`MAX_SOURCES` sources are told apart (the rest are counted as ``(other)``).
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Any

from hlmm.audit.bursts import Bursts
from hlmm.audit.context import AuditContext
from hlmm.audit.findings import Finding, Severity
from hlmm.audit.foreign import ForeignLine
from hlmm.audit.templates import template
from hlmm.audit.timebounds import iso

MAX_TEMPLATES = 20_000
MAX_SOURCES = 2_000
_OTHER = "(other)"

# (finding id, pattern over templates, severity, what it suggests, where to look)
KNOWN_PROBLEMS: tuple[tuple[str, re.Pattern[str], Severity, str, list[str]], ...] = (
    ("generic.untracked_fills", re.compile(r"untracked|unmatched fill|fill for (an )?unknown", re.I), Severity.WARNING,
     "fills of orders the bot did not track: the cloid/oid of the fill message is not matched (hlmm: "
     "untracked_fills)", ["fill processing: match cloid first, then oid"]),
    ("generic.quote_crossed_mid", re.compile(r"cross(ed|es|ing)? (the )?(market )?mid|mid.{0,20}cross", re.I),
     Severity.WARNING, "a quote at or through the mid: the fair price (microprice) diverged from the mid",
     ["microprice EMA seeding/reset", "spread floor"]),
    ("generic.microprice_drift", re.compile(r"microprice.{0,40}(diverg|drift|reset)|price drift", re.I),
     Severity.WARNING, "the microprice estimator drifted from the mid", ["microprice estimator warm-up"]),
    ("generic.rate_limit", re.compile(r"rate.?limit|headroom|too many (cumulative )?requests|\b429\b|quota", re.I),
     Severity.WARNING, "rate-limit pressure: requotes spend the request budget", ["requote throttling", "batching"]),
    ("generic.rejects", re.compile(r"reject|insufficient margin|error (with )?placing order|order failed|"
                                   r"would have immediately matched|min(imum)? (value|notional)", re.I),
     Severity.WARNING, "orders refused by the exchange", ["order sizing", "margin", "rounding"]),
    ("generic.reconnects", re.compile(r"reconnect|disconnect|websocket (closed|error)|connection (lost|reset|closed)",
                                      re.I),
     Severity.INFO, "connection drops", ["WebSocket keep-alive"]),
    ("generic.stale_data", re.compile(r"\bstale\b|no (book|data|market data) update", re.I), Severity.WARNING,
     "market data stopped updating", ["data feed"]),
    ("generic.kill_switch", re.compile(r"kill.?switch (fired|triggered|activated)|circuit breaker (tripped|open)",
                                       re.I),
     Severity.WARNING, "the kill switch / circuit breaker fired", ["risk limits"]),
    ("generic.reduce_only", re.compile(r"reduce.?only", re.I), Severity.INFO,
     "reduce-only mode (position limit reached)", ["position limits"]),
    ("generic.calibration_zero", re.compile(r"\b\w*samples=<n>", re.I), Severity.INFO,
     "calibration sample counts are logged; check for samples=0 (predictions never validated)",
     ["calibration wiring"]),
    ("generic.position_mismatch", re.compile(r"position mismatch|mismatch.{0,30}position|position.{0,30}mismatch",
                                             re.I),
     Severity.WARNING, "local position disagreed with the exchange", ["fill processing", "safety sync"]),
)


class GenericAnalysis:
    """Aggregates non-hlmm lines; see the module docstring."""

    def __init__(self, ctx: AuditContext) -> None:
        self.ctx = ctx
        self.lines = 0
        self.formats: Counter[str] = Counter()
        self.levels: Counter[str] = Counter()
        self.sources: Counter[str] = Counter()
        self.templates: dict[tuple[str, str, str], list[Any]] = {}  # key -> [count, first, last, examples]
        self.templates_dropped = 0
        self.bursts = Bursts(int(ctx.options.burst_window_s * 1000), ctx.options.burst_min)
        self.gap_ms = int(ctx.options.gap_s * 1000)
        self.gaps: list[tuple[int, int, str]] = []  # (from, to, where), longest kept
        self.n_gaps = 0
        self.first_ms: int | None = None
        self.last_ms: int | None = None
        self.outside = 0
        self._last_ts: dict[int, int] = {}  # per input
        self._max_ts: int | None = None

    def add(self, src: int, line: int, fl: ForeignLine, since_ms: int | None, until_ms: int | None) -> bool:
        """Count one line; False if it lies outside the time window."""
        ts = fl.ts
        if ts is None:
            ts = self._last_ts.get(src)
        else:
            self._last_ts[src] = ts
        if ts is not None and ((since_ms is not None and ts < since_ms) or (until_ms is not None and ts >= until_ms)):
            self.outside += 1
            return False
        if ts is None and since_ms is not None:
            self.outside += 1  # cannot be placed in the window
            return False
        where = self.ctx.where_at(src, line)
        self.lines += 1
        self.formats[fl.fmt] += 1
        self.levels[fl.level] += 1
        source = fl.source or "-"
        if source not in self.sources and len(self.sources) >= MAX_SOURCES:
            source = _OTHER
        self.sources[source] += 1
        if fl.ts is not None:
            self._timestamps(fl.ts, where)
        key = (fl.level, source, template(fl.message))
        entry = self.templates.get(key)
        if entry is None:
            if len(self.templates) >= MAX_TEMPLATES:
                self.templates_dropped += 1
                key = (fl.level, source, _OTHER)
                entry = self.templates.get(key)
            if entry is None:
                entry = self.templates[key] = [0, ts, ts, []]
        entry[0] += 1
        if len(entry[3]) < self.ctx.options.examples:
            entry[3].append(where)
        if ts is not None:
            if entry[1] is None or ts < entry[1]:
                entry[1] = ts
            if entry[2] is None or ts > entry[2]:
                entry[2] = ts
        if fl.level in ("error", "critical"):
            self.bursts.add(ts, where)
        return True

    def _timestamps(self, ts: int, where: str) -> None:
        if self.first_ms is None or ts < self.first_ms:
            self.first_ms = ts
        if self.last_ms is None or ts > self.last_ms:
            self.last_ms = ts
        prev = self._max_ts
        if prev is not None and ts - prev > self.gap_ms:
            self.n_gaps += 1
            self.gaps.append((prev, ts, where))
            if len(self.gaps) > 50:
                self.gaps.sort(key=lambda g: g[0] - g[1])
                del self.gaps[20:]
        if prev is None or ts > prev:
            self._max_ts = ts

    # -- results ------------------------------------------------------------------------------

    def ranked(self) -> list[tuple[tuple[str, str, str], list[Any]]]:
        return sorted(self.templates.items(), key=lambda kv: (-kv[1][0], kv[0]))

    def findings(self) -> list[Finding]:
        if not self.lines:
            return []
        out = []
        examples = self.ctx.options.examples
        ranked = self.ranked()
        for fid, pattern, severity, cause, look in KNOWN_PROBLEMS:
            hits = [(k, v) for k, v in ranked if pattern.search(k[2])]
            if not hits:
                continue
            count = sum(v[0] for _, v in hits)
            firsts = [v[1] for _, v in hits if v[1] is not None]
            lasts = [v[2] for _, v in hits if v[2] is not None]
            levels = Counter()
            for k, v in hits:
                levels[k[0]] += v[0]
            out.append(Finding(
                id=fid, severity=severity, count=count,
                title=f"{count} lines like '{hits[0][0][2]}'"
                      + (f" (and {len(hits) - 1} more templates)" if len(hits) > 1 else ""),
                first_ms=min(firsts) if firsts else None, last_ms=max(lasts) if lasts else None,
                examples=[w for _, v in hits for w in v[3]][:examples], cause=cause, look_at=look,
                detail={"templates": [{"count": v[0], "level": k[0], "source": k[1], "template": k[2]} for k, v in hits[:10]],
                 "levels": dict(levels)}))
        bursts = self.bursts.bursts()
        if bursts:
            b = bursts[0]
            out.append(Finding(
                id="generic.error_burst", severity=Severity.WARNING, count=sum(x.count for x in bursts),
                title=f"{len(bursts)} error bursts (≥ {self.bursts.min_count} errors per "
                      f"{self.bursts.window_ms / 1000:g} s); worst: {b.count} errors",
                first_ms=min(x.first_ms for x in bursts), last_ms=max(x.last_ms for x in bursts),
                examples=[x.example for x in bursts[:examples]], cause="many errors at once: see the top error templates",
                look_at=["the error templates"], detail={"bursts": [x.to_dict() for x in bursts[:10]]}))
        if self.n_gaps:
            gaps = sorted(self.gaps, key=lambda g: g[0] - g[1])[:10]
            out.append(Finding(
                id="generic.log_gaps", severity=Severity.INFO, count=self.n_gaps,
                title=f"{self.n_gaps} silences longer than {self.gap_ms / 1000:g} s "
                      f"(longest {(gaps[0][1] - gaps[0][0]) / 1000:.0f} s)",
                first_ms=min(g[0] for g in gaps), last_ms=max(g[1] for g in gaps), examples=[g[2] for g in gaps[:examples]],
                cause="the process stalled, restarted or was stopped", look_at=["process supervision"],
                detail={"gaps": [{"from": iso(a), "to": iso(b), "seconds": (b - a) / 1000, "at": w} for a, b, w in gaps]}))
        return out

    def to_dict(self) -> dict[str, Any]:
        n = self.ctx.options.templates
        return {
            "lines": self.lines,
            "formats": dict(self.formats),
            "start": iso(self.first_ms),
            "end": iso(self.last_ms),
            "levels": dict(self.levels.most_common()),
            "sources": [{"source": s, "count": c} for s, c in self.sources.most_common(15)],
            "templates": [
                {"count": v[0], "level": k[0], "source": k[1], "template": k[2], "first": iso(v[1]),
                 "last": iso(v[2]), "example": v[3][0] if v[3] else None}
                for k, v in self.ranked()[:n]
            ],
            "distinct_templates": len(self.templates),
            "templates_beyond_limit": self.templates_dropped,
            "error_bursts": [b.to_dict() for b in self.bursts.bursts()[:10]],
        }
