"""Reading log lines that are not hlmm events: tracing-style JSON, other JSON, plain text.

* tracing (Rust ``tracing_subscriber`` JSON): ``{"timestamp", "level", "fields": {"message",
  ...}, "target"}`` — the format of the other Hyperliquid market makers' logs.
* other JSON objects: the usual keys for time (``timestamp``, ``time``, ``ts``, ``@timestamp``;
  ISO text or epoch s/ms/µs/ns), level (``level``, ``severity``, ``levelname``), message
  (``message``, ``msg``, ``fields.message``, structlog's ``event``) and source (``target``,
  ``logger``, ``name``, ``component``, ``module``).
* text: an ISO timestamp anywhere in the line (also ``ts=…``), a level word (``[INFO]``,
  ``WARN``, ``level=error``; ``Error…``/``Traceback`` count as errors), a ``[Bracketed]`` tag as
  the source.

Levels are normalised to debug, info, warning, error, critical or unknown.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from hlmm._core.logscan import parse_iso_ms

_LEVELS = {
    "trace": "debug", "debug": "debug", "dbg": "debug", "verbose": "debug",
    "info": "info", "information": "info", "notice": "info",
    "warn": "warning", "warning": "warning",
    "error": "error", "err": "error",
    "critical": "critical", "crit": "critical", "fatal": "critical", "panic": "critical", "alert": "critical",
    "emergency": "critical",
}
_TS = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?")
_LEVEL_WORD = re.compile(r"\b(TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|ERR|CRITICAL|FATAL|PANIC)\b")
_LEVEL_BRACKET = re.compile(r"\[(trace|debug|info|warn|warning|error|err|critical|fatal)\]", re.I)
_LEVEL_KV = re.compile(r"\b(?:level|lvl|severity)=\"?(\w+)", re.I)
_ERRORISH = re.compile(r"^\s*(?:Traceback \(most recent call last\)|[\w.]*(?:Error|Exception)\b[:(]|Error\b|"
                       r"panicked at|FATAL\b|Uncaught)")
_TAG = re.compile(r"\[([^\[\]]{1,40})\]")
_LEAD = re.compile(r"^\s*(?:" + _TS.pattern + r")?\s*(?:\[?(?:TRACE|DEBUG|INFO|NOTICE|WARNING|WARN|ERROR|ERR|"
                   r"CRITICAL|FATAL)\b\]?:?)?\s*", re.I)

TS_KEYS = ("timestamp", "time", "ts", "@timestamp", "datetime", "date", "t")
LEVEL_KEYS = ("level", "severity", "levelname", "lvl", "log.level")
MESSAGE_KEYS = ("message", "msg", "event", "text")
SOURCE_KEYS = ("target", "logger", "logger_name", "name", "component", "module", "source")


@dataclass(slots=True)
class ForeignLine:
    """A non-hlmm line reduced to what the generic analysis needs."""

    ts: int | None
    level: str
    source: str
    message: str
    fmt: str  # "tracing", "json" or "text"


def level_of(value: Any) -> str:
    if isinstance(value, str):
        return _LEVELS.get(value.strip().lower(), "unknown")
    if isinstance(value, int) and not isinstance(value, bool):  # Python logging's numeric levels
        for floor, name in ((50, "critical"), (40, "error"), (30, "warning"), (20, "info")):
            if value >= floor:
                return name
        return "debug"
    return "unknown"


def ts_of(value: Any) -> int | None:
    """Epoch ms of an ISO string or an epoch number in s, ms, µs or ns."""
    if isinstance(value, str):
        return parse_iso_ms(value.strip())
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        v = float(value)
        if v > 1e17:
            return int(v / 1e6)
        if v > 1e14:
            return int(v / 1e3)
        if v > 1e11:
            return int(v)
        return int(v * 1000)
    return None


def from_json(obj: dict[str, Any]) -> ForeignLine:
    """A JSON log object (tracing or another shape)."""
    fields = obj.get("fields")
    fields = fields if isinstance(fields, dict) else {}
    tracing = "timestamp" in obj and ("target" in obj or fields)
    ts = None
    for key in TS_KEYS:
        if key in obj:
            ts = ts_of(obj[key])
            if ts is not None:
                break
    level = "unknown"
    for key in LEVEL_KEYS:
        if key in obj:
            level = level_of(obj[key])
            break
    message = fields.get("message")
    if not isinstance(message, str):
        message = next((obj[k] for k in MESSAGE_KEYS if isinstance(obj.get(k), str)), None)
    if message is None:
        message = " ".join(sorted(k for k in obj if k not in TS_KEYS and k not in LEVEL_KEYS))
    source = next((obj[k] for k in SOURCE_KEYS if isinstance(obj.get(k), str)), None)
    if source is None:
        source = fields.get("log.target") if isinstance(fields.get("log.target"), str) else ""
    return ForeignLine(ts, level, source, message, "tracing" if tracing else "json")


def from_text(line: str) -> ForeignLine:
    """A plain-text log line."""
    head = line[:80]
    m = _TS.search(line)
    ts = parse_iso_ms(m.group(0)) if m else None
    level = "unknown"
    lm = _LEVEL_BRACKET.search(head) or _LEVEL_WORD.search(head) or _LEVEL_KV.search(line)
    if lm:
        level = _LEVELS.get(lm.group(1).lower(), "unknown")
    elif _ERRORISH.match(line):
        level = "error"
    source = ""
    for tm in _TAG.finditer(head):
        tag = tm.group(1).strip()
        if tag.lower() not in _LEVELS and not _TS.fullmatch(tag):
            source = tag
            break
    message = _LEAD.sub("", line, count=1) if (m and m.start() < 4) or lm else line
    return ForeignLine(ts, level, source, message.strip(), "text")
