"""One audit pass: inputs → scanner → consumers → findings → :class:`AuditReport`.

The hot path is the C scanner (:mod:`hlmm._core.logscan`): it counts every event line and hands
back only the lines some consumer reads (by event name, or by level for error bursts) and the
lines that are not hlmm events.  Python then decodes those few lines and calls the consumers'
``on_<event>`` methods in log order.

A JSON line that carries hlmm's keys in another order (not written by :mod:`hlmm.log`) takes
the slow path: decoded, then counted and dispatched like any other event line.  Other lines go
to the generic analysis or, when broken, to the input-integrity counts.
"""
from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

from hlmm._core.logscan import LEVEL_NAMES, LogScanner, parse_iso_ms
from hlmm.audit.context import AuditContext, Consumer, Rule
from hlmm.audit.findings import Finding
from hlmm.audit.foreign import from_json, from_text
from hlmm.audit.generic import GenericAnalysis
from hlmm.audit.integrity import InputStats, coverage_findings, integrity_findings
from hlmm.audit.options import AuditOptions
from hlmm.audit.reader import KIND_OVERLONG, scan_source
from hlmm.audit.records import Event, decode
from hlmm.audit.rules import RULES
from hlmm.audit.rules.errors import Errors
from hlmm.audit.session import ConfigTracker, SessionAccount
from hlmm.audit.sources import Source, discover, display_size, last_timestamp_ms
from hlmm.audit.timebounds import TimeBound, iso, now_ms
from hlmm.audit.report import AuditReport
from hlmm.errors import InputError

_KIND_TRUNCATED, _KIND_BAD_HLMM, _KIND_JSON, _KIND_TEXT, _KIND_BINARY = 1, 2, 3, 4, 5
_ERROR_LEVEL = 3  # index of "error" in LEVEL_NAMES
_LEVEL_INDEX = {name: i for i, name in enumerate(LEVEL_NAMES)}
_LEVEL_INDEX["warn"] = 2
_LEVEL_INDEX["fatal"] = 4

Progress = Callable[[int, int], None]  # (bytes done, bytes total; 0 when unknown)


def audit(paths: list[str], options: AuditOptions | None = None, *, rotated: bool = False,
          progress: Progress | None = None) -> AuditReport:
    """Audit the logs at ``paths`` (files, directories, ``-``); see :mod:`hlmm.audit`.

    Raises :class:`~hlmm.errors.InputError` when a path does not exist, when no input is a
    log, or when a ``--since``/``--until`` anchor cannot be resolved.
    """
    return _Audit(options or AuditOptions(), progress).run(discover(paths, rotated=rotated))


class _Audit:
    def __init__(self, options: AuditOptions, progress: Progress | None) -> None:
        self.options = options
        self.progress = progress
        self.stats = InputStats(examples=options.examples)
        self.slow_counts: dict[str, list[int]] = {}
        self.slow_min: int | None = None
        self.slow_max: int | None = None

    # -- setup ----------------------------------------------------------------------------

    def run(self, sources: list[Source]) -> AuditReport:
        t0 = time.perf_counter()
        readable = [s for s in sources if s.problem is None]
        skipped = [s for s in sources if s.problem is not None]
        if not readable:
            if len(skipped) == 1:
                raise InputError(f"{skipped[0].name}: {skipped[0].problem}")
            raise InputError("no input is a log: " + "; ".join(f"{s.name}: {s.problem}" for s in skipped))
        since_ms, until_ms = self._window(readable)
        self.since_ms, self.until_ms = since_ms, until_ms
        scanner = self.scanner = LogScanner()
        ctx = self.ctx = AuditContext(self.options, readable, want=self._set_want)
        if since_ms is not None:
            scanner.since_ms = since_ms
        if until_ms is not None:
            scanner.until_ms = until_ms
        scanner.gap_ms = int(self.options.gap_s * 1000)
        scanner.want_level = _ERROR_LEVEL
        consumers: list[Consumer] = [ConfigTracker(ctx), SessionAccount(ctx)]
        rules: list[Rule] = [cls(ctx) for cls in RULES]
        consumers += rules
        self.errors = next(r for r in rules if isinstance(r, Errors))
        self.handlers: dict[str, list[Callable[[Event], None]]] = {}
        self.static: set[str] = set()
        self.dynamic_on: dict[str, set[int]] = {}
        for consumer in consumers:
            for event in consumer.events + consumer.dynamic_events:
                self.handlers.setdefault(event, []).append(getattr(consumer, f"on_{event}"))
            self.static.update(consumer.events)
            for event in consumer.barriers:
                scanner.set_barrier(event)
            for event, field_name in consumer.counted_fields:
                scanner.count_field(event, field_name)
        self.table: list[tuple[Callable[[Event], None], ...]] = []
        for event, hs in self.handlers.items():
            eid = scanner.want(event, event in self.static)
            while len(self.table) <= eid:
                self.table.append(())
            self.table[eid] = tuple(hs)
        self.names = scanner.event_names()
        self.generic = GenericAnalysis(ctx)

        total_bytes = sum(s.size for s in readable)
        done_before = 0
        self.line_counts: dict[int, int] = {}
        for index, src in enumerate(readable):
            lines_before = scanner.n_lines + self.stats.overlong.count
            report = None
            if self.progress is not None:
                report = functools.partial(self._report_progress, done_before, total_bytes)
            for wanted, other in scan_source(scanner, src, index, self.options.chunk_bytes, report):
                if wanted:
                    self._wanted(index, wanted)
                if other:
                    self._other(index, other)
            self.line_counts[index] = scanner.n_lines + self.stats.overlong.count - lines_before
            self.stats.last_lines[index] = self.line_counts[index]
            done_before += src.size
        if self.progress is not None:
            self.progress(total_bytes, total_bytes)
        return self._finish(consumers, rules, sources, readable, skipped, time.perf_counter() - t0)

    def _report_progress(self, base: int, total: int, pos: int) -> None:
        assert self.progress is not None
        self.progress(base + pos, total)

    def _set_want(self, consumer: Consumer, event: str, on: bool) -> None:
        keen = self.dynamic_on.setdefault(event, set())
        if on:
            keen.add(id(consumer))
        else:
            keen.discard(id(consumer))
        self.scanner.want(event, event in self.static or bool(keen))

    def _window(self, readable: list[Source]) -> tuple[int | None, int | None]:
        opts = self.options
        bounds: list[tuple[str, TimeBound | None]] = [("--since", opts.since), ("--until", opts.until)]
        if all(b is None for _, b in bounds):
            return None, None
        firsts = [s.first_ms for s in readable if s.first_ms is not None]
        start = min(firsts) if firsts else None
        end = None
        if any(b is not None and b.needs_end for _, b in bounds):
            lasts = [t for t in (last_timestamp_ms(s) for s in readable) if t is not None]
            end = max(lasts) if lasts else None
        now = now_ms()
        out: list[int | None] = []
        for option, bound in bounds:
            if bound is None:
                out.append(None)
                continue
            value = bound.resolve(now, start, end)
            if value is None:
                raise InputError(f"{option} {bound.text!r}: the input has no timestamp to count from")
            out.append(value)
        since, until = out
        if since is not None and until is not None and until <= since:
            raise InputError(f"--until ({iso(until)}) is not after --since ({iso(since)})")
        return since, until

    # -- the pass -------------------------------------------------------------------------

    def _wanted(self, src: int, wanted: list[tuple[int, int, int, int, bytes]]) -> None:
        table, names = self.table, self.names
        ntable = len(table)
        errors = self.errors
        stats = self.stats
        for eid, line, ts, lvl, raw in wanted:
            if eid >= len(names):
                names = self.names = self.scanner.event_names()
            ev = Event(names[eid], ts, src, line, raw)
            if eid < ntable:
                for handler in table[eid]:
                    handler(ev)
            if lvl >= _ERROR_LEVEL:
                errors.error_line(ev)
            if ev.corrupt:
                stats.corrupt.add(ts, self.ctx.where(ev))

    def _other(self, src: int, other: list[tuple[int, int, bytes]]) -> None:
        stats = self.stats
        ctx = self.ctx
        for kind, line, raw in other:
            if kind == _KIND_TRUNCATED:
                stats.truncated.add(None, ctx.where_at(src, line))
            elif kind == _KIND_BINARY:
                stats.binary.add(None, ctx.where_at(src, line))
            elif kind == KIND_OVERLONG:
                stats.overlong.add(None, ctx.where_at(src, line))
            elif kind == _KIND_TEXT:
                text = raw.decode("utf-8", "replace")
                if self.generic.add(src, line, from_text(text), self.since_ms, self.until_ms):
                    stats.text += 1
                    self._foreign_example(src, line)
                else:
                    stats.outside_window += 1
            else:  # _KIND_JSON, _KIND_BAD_HLMM: decode and look
                try:
                    obj = decode(raw)
                except ValueError:
                    (stats.corrupt if kind == _KIND_BAD_HLMM else stats.bad_json).add(None, ctx.where_at(src, line))
                    continue
                if not isinstance(obj, dict):
                    stats.bad_json.add(None, ctx.where_at(src, line))
                elif _is_hlmm(obj):
                    self._slow_event(src, line, obj, raw)
                elif self.generic.add(src, line, from_json(obj), self.since_ms, self.until_ms):
                    stats.foreign_json += 1
                    self._foreign_example(src, line)
                else:
                    stats.outside_window += 1

    def _foreign_example(self, src: int, line: int) -> None:
        ex = self.stats.foreign_examples
        if len(ex) < self.options.examples:
            ex.append(self.ctx.where_at(src, line))

    def _slow_event(self, src: int, line: int, obj: dict[str, Any], raw: bytes) -> None:
        """An hlmm event whose keys are not in :mod:`hlmm.log`'s order: same meaning, decoded path."""
        ts = parse_iso_ms(obj["ts"])
        if ts is None:
            self.stats.corrupt.add(None, self.ctx.where_at(src, line))
            return
        if (self.since_ms is not None and ts < self.since_ms) or (self.until_ms is not None and ts >= self.until_ms):
            self.stats.outside_window += 1
            return
        name = obj["event"]
        lvl = _LEVEL_INDEX.get(str(obj.get("level", "")).lower(), 5)
        row = self.slow_counts.setdefault(name, [0] * 6)
        row[lvl] += 1
        self.stats.events_slow += 1
        self.slow_min = ts if self.slow_min is None else min(self.slow_min, ts)
        self.slow_max = ts if self.slow_max is None else max(self.slow_max, ts)
        ev = Event(name, ts, src, line, raw, obj)
        for handler in self.handlers.get(name, ()):
            handler(ev)
        if 3 <= lvl <= 4:
            self.errors.error_line(ev)

    # -- results --------------------------------------------------------------------------

    def _finish(self, consumers: list[Consumer], rules: list[Rule], sources: list[Source], readable: list[Source],
                skipped: list[Source], elapsed: float) -> AuditReport:
        ctx, scanner, stats = self.ctx, self.scanner, self.stats
        levels_by_event = scanner.event_counts()
        for name, row in self.slow_counts.items():
            base = levels_by_event.setdefault(name, [0] * 6)
            for i, n in enumerate(row):
                base[i] += n
        ctx.level_counts_by_event = levels_by_event
        ctx.counts = {name: sum(row) for name, row in levels_by_event.items()}
        ctx.event_times = scanner.event_times()
        lows = [t for t in (scanner.min_ts if scanner.n_events else None, self.slow_min) if t is not None]
        highs = [t for t in (scanner.max_ts if scanner.n_events else None, self.slow_max) if t is not None]
        if not lows and self.generic.first_ms is not None:
            lows, highs = [self.generic.first_ms], [self.generic.last_ms]
        ctx.start_ms = min(lows) if lows else None
        ctx.end_ms = max(highs) if highs else None
        ctx.field_counts = scanner.field_counts()
        ctx.gaps = scanner.gap_list()
        ctx.n_gaps = scanner.n_gaps
        stats.lines = scanner.n_lines + stats.overlong.count
        stats.blank = scanner.n_blank
        stats.events = scanner.n_events + stats.events_slow
        stats.outside_window += scanner.n_outside
        stats.backwards = scanner.n_backwards
        for c in consumers:
            c.finish()
        findings: list[Finding] = []
        for rule in rules:
            findings.extend(rule.findings())
        findings.extend(integrity_findings(stats, ctx, skipped, readable))
        findings.extend(coverage_findings(rules, ctx))
        findings.extend(self.generic.findings())
        findings.sort(key=lambda f: (-int(f.severity), f.first_ms if f.first_ms is not None else 1 << 62, f.id))
        session = ctx.session.to_dict() if ctx.session is not None and stats.events else None
        components = scanner.component_counts()
        events = {name: dict(zip(LEVEL_NAMES, row)) for name, row in
                  sorted(levels_by_event.items(), key=lambda kv: -sum(kv[1]))}
        events = {name: {k: v for k, v in row.items() if v} for name, row in events.items()}
        lines_of = {id(s): self.line_counts.get(i, 0) for i, s in enumerate(readable)}
        inputs = [_input_dict(s, lines_of.get(id(s), 0)) for s in sources]
        return AuditReport(
            inputs=inputs,
            window={"since": iso(self.since_ms), "until": iso(self.until_ms), "start": iso(ctx.start_ms),
                    "end": iso(ctx.end_ms)},
            lines=stats.to_dict(),
            session=session,
            events=events,
            components=dict(sorted(components.items(), key=lambda kv: -kv[1])),
            findings=findings,
            generic=self.generic.to_dict() if self.generic.lines else None,
            bytes_read=sum(s.size for s in readable),
            log_bytes=sum(s.decoded_bytes for s in readable),
            elapsed_s=elapsed,
            fail_on=self.options.fail_on,
            rules=[type(r).describe() for r in rules],
        )


def _is_hlmm(obj: dict[str, Any]) -> bool:
    return isinstance(obj.get("event"), str) and isinstance(obj.get("ts"), str) and "level" in obj


def _input_dict(src: Source, lines: int) -> dict[str, Any]:
    return {
        "path": src.name,
        "size": src.size,
        "size_text": display_size(src.size),
        "compression": src.compression,
        "first": iso(src.first_ms),
        "lines": lines,
        "log_bytes": src.decoded_bytes,
        "empty": src.empty,
        "problem": src.problem,
        "read_error": src.read_error,
    }

