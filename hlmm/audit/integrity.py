"""The state of the input itself: unreadable files, corrupt and foreign lines, undocumented events.

Nothing here raises: a truncated line, binary garbage or a gzip stream cut short is counted,
located (``file:line``) and reported as a finding, and the audit goes on with what it can read.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hlmm.audit.context import AuditContext, Rule
from hlmm.audit.findings import Finding, Severity, Tally
from hlmm.audit.sources import Source
from hlmm.log_events import EVENTS


@dataclass
class InputStats:
    """Line counts by kind, with example locations for the bad ones."""

    examples: int = 5
    lines: int = 0
    blank: int = 0
    events: int = 0                 # hlmm event lines inside the window
    events_slow: int = 0            # ... of which not in hlmm's canonical key order (decoded to be read)
    outside_window: int = 0
    foreign_json: int = 0
    text: int = 0
    truncated: Tally = field(default_factory=Tally)
    corrupt: Tally = field(default_factory=Tally)     # hlmm-looking line whose JSON does not parse
    bad_json: Tally = field(default_factory=Tally)    # JSON-looking line that does not parse
    binary: Tally = field(default_factory=Tally)
    overlong: Tally = field(default_factory=Tally)
    foreign_examples: list[str] = field(default_factory=list)
    last_lines: dict[int, int] = field(default_factory=dict)  # input index -> number of lines
    backwards: int = 0

    def __post_init__(self) -> None:
        for t in (self.truncated, self.corrupt, self.bad_json, self.binary, self.overlong):
            t.max_examples = self.examples

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.lines,
            "hlmm_events": self.events,
            "hlmm_events_noncanonical": self.events_slow,
            "outside_window": self.outside_window,
            "foreign_json": self.foreign_json,
            "text": self.text,
            "blank": self.blank,
            "truncated": self.truncated.count,
            "corrupt": self.corrupt.count,
            "invalid_json": self.bad_json.count,
            "binary": self.binary.count,
            "overlong": self.overlong.count,
            "timestamps_backwards": self.backwards,
        }


def integrity_findings(stats: InputStats, ctx: AuditContext, skipped: list[Source],
                       readable: list[Source]) -> list[Finding]:
    """Findings about the input: skipped files, broken streams and lines, contract drift."""
    out: list[Finding] = []
    look = ["the log file (disk full, a crash mid-write, two writers, copy in progress)"]
    problems = [f"{s.name}: {s.problem}" for s in skipped] + [f"{s.name}: {s.read_error}" for s in readable
                                                             if s.read_error]
    if problems:
        out.append(Finding(
            id="unreadable_input", severity=Severity.WARNING, count=len(problems),
            title=f"{len(problems)} inputs could not be read completely", first_ms=None, last_ms=None,
            examples=problems[: ctx.options.examples],
            cause="not a log, or a compressed stream cut short: the audit covers only what it could read",
            look_at=["the files listed"], detail={"problems": problems}))
    t = stats.truncated
    if t:
        only_tail = t.count == 1 and _is_last_line(t.examples[0], stats, ctx)
        out.append(t.finding(
            "truncated_lines", Severity.INFO if only_tail else Severity.WARNING,
            f"{t.count} truncated log lines" + (" (the last line of its file)" if only_tail else ""),
            "the writer stopped mid-line (killed, crashed, disk full)" if only_tail
            else "lines cut short in the middle of the file: interleaved writers or a damaged file", look))
    bad = stats.corrupt.count + stats.bad_json.count
    if bad:
        basis = stats.corrupt if stats.corrupt else stats.bad_json
        out.append(Finding(
            id="corrupt_lines", severity=Severity.WARNING, count=bad,
            title=f"{bad} lines that look like JSON but do not parse", first_ms=basis.first_ms,
            last_ms=basis.last_ms, examples=(stats.corrupt.examples + stats.bad_json.examples)[: ctx.options.examples],
            cause="damaged or interleaved writes; these lines were skipped", look_at=look,
            detail={"hlmm": stats.corrupt.count, "other_json": stats.bad_json.count}))
    if stats.binary:
        out.append(stats.binary.finding("binary_garbage", Severity.WARNING,
                                        f"{stats.binary.count} lines of binary data (NUL bytes)",
                                        "file corruption (e.g. NUL blocks after a crash or power loss)", look))
    if stats.overlong:
        out.append(stats.overlong.finding("overlong_lines", Severity.WARNING,
                                          f"{stats.overlong.count} lines longer than 16 MiB (skipped)",
                                          "a runaway field or a missing newline", look))
    foreign = stats.foreign_json + stats.text
    if stats.events and foreign:
        out.append(Finding(
            id="mixed_formats", severity=Severity.INFO, count=foreign,
            title=f"{foreign} lines are not hlmm events ({stats.foreign_json} JSON, {stats.text} text)",
            first_ms=None, last_ms=None, examples=stats.foreign_examples[: ctx.options.examples],
            cause="another program wrote to the same file (stderr redirected, a traceback); they are analysed as "
                  "a generic log", look_at=["how the process's output is redirected"]))
    undocumented = {name: n for name, n in ctx.counts.items() if name not in EVENTS}
    if undocumented:
        names = ", ".join(f"{k} ×{v}" for k, v in sorted(undocumented.items(), key=lambda kv: -kv[1])[:8])
        out.append(Finding(
            id="undocumented_events", severity=Severity.INFO, count=sum(undocumented.values()),
            title=f"{sum(undocumented.values())} lines with events not in hlmm/log_events.py: {names}",
            first_ms=None, last_ms=None, examples=[],
            cause="a newer or older hlmm, or an event added without documenting it; the audit does not read them",
            look_at=["hlmm/log_events.py"], detail={"events": undocumented}))
    if stats.backwards:
        out.append(Finding(
            id="timestamps_backwards", severity=Severity.INFO, count=stats.backwards,
            title=f"{stats.backwards} event lines stamped more than 1 s before an earlier line",
            first_ms=None, last_ms=None, examples=[],
            cause="inputs that overlap in time (e.g. separate ops/diag files) or a clock step",
            look_at=["pass one stream's files, or the combined log"]))
    if stats.events == 0 and foreign == 0:
        empty = [s.name for s in readable if s.empty]
        out.append(Finding(
            id="no_log_lines", severity=Severity.WARNING, count=0,
            title="no log lines to audit" + (" in the time window" if stats.outside_window else ""),
            first_ms=None, last_ms=None, examples=empty[: ctx.options.examples],
            cause="--since/--until exclude every line" if stats.outside_window else "the input has no log lines",
            look_at=["the input files", "--since / --until"]))
    return out


def _is_last_line(where: str, stats: InputStats, ctx: AuditContext) -> bool:
    name, _, line = where.rpartition(":")
    for i, src in enumerate(ctx.sources):
        if src.name == name:
            return str(stats.last_lines.get(i)) == line
    return False


def coverage_findings(rules: list[Rule], ctx: AuditContext) -> list[Finding]:
    """A warning naming the rules that had nothing to read in a session that traded.

    An audit must not pass a session because the events it checks were never logged (e.g.
    ``quote_cycle`` written at debug level while the log is at info).
    """
    fills = ctx.session.fills if ctx.session is not None else 0
    if not ctx.total("order_place_sent", "order_modify_sent", "quote_cycle") and not fills:
        return []
    blind: dict[str, list[str]] = {}
    for rule in rules:
        needed = rule.requires + (rule.requires_with_fills if fills else ())
        missing = [e for e in needed if not ctx.total(e)]
        if missing:
            blind[rule.id] = missing
    if not blind:
        return []
    events = sorted({e for m in blind.values() for e in m})
    return [Finding(
        id="missing_inputs", severity=Severity.WARNING, count=len(blind),
        title=f"{len(blind)} checks could not run: no {', '.join(events)} events in the log",
        first_ms=None, last_ms=None, examples=[],
        cause="the engine did not log these events, or logged them below the file's level "
              "(quote_cycle and markout are diagnostic events)",
        look_at=["logging.level (debug keeps diagnostic events)", "logging.diag_file"],
        detail={"rules": blind})]
