"""``--since`` / ``--until`` values: ISO timestamps, durations ago, or offsets from the log's ends.

Accepted forms (all times UTC; a timestamp without a zone is UTC):

* ``2026-01-13``, ``2026-01-13T22:15``, ``2026-01-13 22:15:30.250``, ``2026-01-13T22:15:30Z``,
  ``2026-01-13T23:15:30+01:00``
* a duration before now: ``90s``, ``15m``, ``2h``, ``1d``, ``1h30m``, optionally with a leading
  ``-`` or a trailing ``ago`` (``2h ago``)
* an offset from the first or last timestamp of the input: ``start+10m``, ``end-30m``

A :class:`TimeBound` keeps the anchor; :meth:`TimeBound.resolve` turns it into epoch
milliseconds once the input's first/last timestamps are known.
"""
from __future__ import annotations

import datetime as _dt
import re
import time
from dataclasses import dataclass

from hlmm._core.logscan import parse_iso_ms
from hlmm.errors import InputError

_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_ANCHORED = re.compile(r"^(start|end)\s*([+-])\s*(.+)$")


def parse_duration_ms(text: str) -> int:
    """Milliseconds of ``1h30m``-style text; raises ``ValueError`` if it is not a duration."""
    s = text.strip().lower().replace(" ", "")
    if not s:
        raise ValueError("empty duration")
    pos = 0
    total = 0.0
    for m in _DURATION.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS_MS[m.group(2)]
        pos = m.end()
    if pos != len(s) or pos == 0:
        raise ValueError(f"not a duration: {text!r}")
    return int(round(total))


def _iso_ms(text: str) -> int | None:
    s = text.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
        s += "T00:00:00"
    elif re.fullmatch(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}", s):
        s += ":00"
    return parse_iso_ms(s)


@dataclass(frozen=True)
class TimeBound:
    """One end of the audit window: absolute (``anchor='abs'``) or relative to now/start/end."""

    text: str
    anchor: str  # "abs", "now", "start", "end"
    offset_ms: int  # abs: epoch ms; else signed offset from the anchor

    def resolve(self, now_ms: int, start_ms: int | None, end_ms: int | None) -> int | None:
        """Epoch ms of the bound; ``None`` when its anchor is unknown (an input without timestamps)."""
        if self.anchor == "abs":
            return self.offset_ms
        if self.anchor == "now":
            return now_ms + self.offset_ms
        base = start_ms if self.anchor == "start" else end_ms
        return None if base is None else base + self.offset_ms

    @property
    def needs_end(self) -> bool:
        return self.anchor == "end"


def parse_time_bound(text: str, option: str = "--since") -> TimeBound:
    """Parse a ``--since``/``--until`` value; :class:`InputError` names the forms accepted."""
    raw = text.strip()
    low = raw.lower()
    ms = _iso_ms(raw)
    if ms is not None:
        return TimeBound(raw, "abs", ms)
    m = _ANCHORED.match(low)
    try:
        if m:
            offset = parse_duration_ms(m.group(3))
            return TimeBound(raw, m.group(1), offset if m.group(2) == "+" else -offset)
        body = low[:-3].strip() if low.endswith("ago") else low
        body = body[1:] if body.startswith("-") else body
        return TimeBound(raw, "now", -parse_duration_ms(body))
    except ValueError:
        pass
    raise InputError(
        f"{option} {text!r} is not a time",
        hint="use an ISO time (2026-01-13T22:15:00Z), a duration ago (90s, 15m, 2h, 1d) "
             "or an offset from the log's ends (start+10m, end-30m)")


def now_ms() -> int:
    """The current time in epoch milliseconds."""
    return int(time.time() * 1000)


def iso(ms: int | None) -> str | None:
    """``YYYY-MM-DDTHH:MM:SS.mmmZ`` of epoch ms (``None`` stays ``None``)."""
    if ms is None:
        return None
    t = _dt.datetime.fromtimestamp(ms / 1000, tz=_dt.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
