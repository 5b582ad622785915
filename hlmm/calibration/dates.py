"""Locale-formatted dates of the UI export: deciding day-first vs month-first, to UTC.

The web UI writes ``time`` in the exporter's locale and time zone: ``06/01/2025 - 17:38:42``
(DD/MM), ``9/18/2025 - 14:59:56`` (M/D), ``25/09/2025 13:33:06``, ``14:11:28 27/6/2026``.
``06/01`` alone cannot be decided, so the order is decided for the whole column:

1. a first field above 12 proves day-first, a second field above 12 proves month-first
   (both in one file: the file mixes formats; rows wrong under the chosen order are bad rows);
2. otherwise the order under which the rows are in time order wins (exports are sorted,
   and the wrong order scrambles them);
3. otherwise a layout hint: time-first or zero-padded dates are day-first locales,
   unpadded date-first is the US locale;
4. the decision says which rule decided, and ``ambiguous`` when only 3 did.

Times are local to the exporter; :func:`local_to_utc_ms` converts with a fixed offset
(``+05:30``) or an IANA zone (``Europe/Paris``, DST-aware).  Without one, times are taken
as UTC and the report says so.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import numpy as np

from hlmm._core import tradecsv

DAY_FIRST = "day-first"
MONTH_FIRST = "month-first"
YEAR_FIRST = "year-first"


@dataclass(frozen=True)
class DateOrder:
    """How the date column was read, and why."""

    order: str  # DAY_FIRST / MONTH_FIRST / YEAR_FIRST
    reason: str
    ambiguous: bool = False
    forced: bool = False
    example: str = ""

    def describe(self) -> str:
        text = f"dates read {self.order} ({self.reason})"
        if self.ambiguous:
            text += "; pass --dayfirst or --monthfirst if that is wrong"
        return text


def _days_from_civil(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 for proleptic Gregorian dates (vectorised, H. Hinnant's algorithm)."""
    y = y.astype(np.int64) - (m <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    mp = (m.astype(np.int64) + 9) % 12
    doy = (153 * mp + 2) // 5 + d.astype(np.int64) - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


def _valid_ymd(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    ok = (m >= 1) & (m <= 12) & (d >= 1) & (y >= 1970) & (y <= 2200)
    mm = np.clip(m, 0, 12)
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    limit = _MONTH_DAYS[mm] + ((mm == 2) & leap)
    return ok & (d <= limit)


def to_epoch_ms(parts: np.ndarray, flags: np.ndarray, order: str) -> tuple[np.ndarray, np.ndarray]:
    """Epoch ms (as if the local time were UTC) and a validity mask, for ``order``."""
    a, b, c = parts[:, 0].astype(np.int64), parts[:, 1].astype(np.int64), parts[:, 2].astype(np.int64)
    year_first = (flags & tradecsv.FLAG_YEAR_FIRST) != 0
    if order == DAY_FIRST:
        y, m, d = c, b, a
    else:
        y, m, d = c, a, b
    y = np.where(year_first, a, y)
    m = np.where(year_first, b, m)
    d = np.where(year_first, c, d)
    y = np.where(y < 100, y + 2000, y)  # two-digit years
    valid = _valid_ymd(y, m, d)
    days = _days_from_civil(np.where(valid, y, 1970), np.where(valid, m, 1), np.where(valid, d, 1))
    ms = (((days * 24 + parts[:, 3]) * 60 + parts[:, 4]) * 60 + parts[:, 5]) * 1000 + parts[:, 6]
    return ms.astype(np.int64), valid


def _inversions(ms: np.ndarray) -> int:
    """Steps against the file's main direction (0 for a sorted column, either way)."""
    if len(ms) < 2:
        return 0
    diff = np.diff(ms)
    return int(min(np.count_nonzero(diff < 0), np.count_nonzero(diff > 0)))


def decide_order(parts: np.ndarray, flags: np.ndarray, forced: str | None = None,
                 texts: list[str] | None = None) -> DateOrder:
    """The date order of a column of parsed date-times (see the module docstring)."""
    example = texts[0] if texts else ""
    year_first = (flags & tradecsv.FLAG_YEAR_FIRST) != 0
    if forced:
        return DateOrder(forced, "as requested on the command line", forced=True, example=example)
    if len(parts) == 0 or np.all(year_first):
        return DateOrder(YEAR_FIRST, "ISO dates (year first)", example=example)
    rows = ~year_first
    first, second = parts[rows, 0], parts[rows, 1]
    day_proof = np.flatnonzero(first > 12)
    month_proof = np.flatnonzero(second > 12)
    if len(day_proof) and not len(month_proof):
        return DateOrder(DAY_FIRST, f"a first field above 12, e.g. {_sample(parts, rows, day_proof)}",
                         example=example)
    if len(month_proof) and not len(day_proof):
        return DateOrder(MONTH_FIRST, f"a second field above 12, e.g. {_sample(parts, rows, month_proof)}",
                         example=example)
    if len(day_proof) and len(month_proof):
        # mixed formats: go with the majority; the other rows become bad rows
        order = DAY_FIRST if len(day_proof) >= len(month_proof) else MONTH_FIRST
        return DateOrder(order, f"mixed: {len(day_proof)} rows prove day-first and {len(month_proof)} prove "
                                f"month-first; the minority are reported as bad rows", ambiguous=True,
                         example=example)
    ms_d, ok_d = to_epoch_ms(parts[rows], flags[rows], DAY_FIRST)
    ms_m, ok_m = to_epoch_ms(parts[rows], flags[rows], MONTH_FIRST)
    inv_d, inv_m = _inversions(ms_d[ok_d]), _inversions(ms_m[ok_m])
    if inv_d != inv_m:
        order = DAY_FIRST if inv_d < inv_m else MONTH_FIRST
        return DateOrder(order, f"no field above 12, but the rows are in time order only when read {order} "
                                f"({min(inv_d, inv_m)} vs {max(inv_d, inv_m)} steps out of order)",
                         example=example)
    time_first = np.count_nonzero(flags[rows] & tradecsv.FLAG_TIME_FIRST)
    padded = np.count_nonzero(flags[rows] & tradecsv.FLAG_PADDED)
    if time_first:
        return DateOrder(DAY_FIRST, "undecidable from the values; time-first layouts are day-first locales",
                         ambiguous=True, example=example)
    if padded:
        return DateOrder(DAY_FIRST, "undecidable from the values; zero-padded dates are day-first locales",
                         ambiguous=True, example=example)
    return DateOrder(MONTH_FIRST, "undecidable from the values; unpadded date-first is the US locale",
                     ambiguous=True, example=example)


def _sample(parts: np.ndarray, rows: np.ndarray, hits: np.ndarray) -> str:
    row = np.flatnonzero(rows)[hits[0]]
    a, b, c = parts[row, :3]
    return f"{a}/{b}/{c}"


# ------------------------------------------------------------------------- time zones

_OFFSET_RE = re.compile(r"^(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)


def parse_tz(text: str) -> dt.tzinfo:
    """A ``--tz`` value: ``UTC``, ``+05:30``, ``-0400``, ``UTC+2`` or an IANA name."""
    value = text.strip()
    if value.upper() in ("UTC", "Z", "GMT"):
        return dt.timezone.utc
    match = _OFFSET_RE.match(value)
    if match:
        sign = -1 if match.group(1) == "-" else 1
        hours, minutes = int(match.group(2)), int(match.group(3) or 0)
        if hours > 14 or minutes > 59:
            raise ValueError(f"time zone offset out of range: {text!r}")
        return dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {text!r} (use an offset such as +02:00 or a name such as "
                         "Europe/Paris)") from None


def local_to_utc_ms(local_ms: np.ndarray, tz: dt.tzinfo) -> np.ndarray:
    """UTC epoch ms for wall-clock times in ``tz`` (given as ms "as if UTC").

    Offsets change only at DST transitions, so they are looked up once per distinct
    local quarter-hour, not per row.
    """
    if len(local_ms) == 0:
        return local_ms.astype(np.int64)
    if isinstance(tz, dt.timezone):
        offset = tz.utcoffset(None)
        return local_ms - int(offset.total_seconds() * 1000)
    quarter = 15 * 60 * 1000
    blocks, inverse = np.unique(local_ms // quarter, return_inverse=True)
    offsets = np.empty(len(blocks), dtype=np.int64)
    epoch = dt.datetime(1970, 1, 1)
    for i, block in enumerate(blocks.tolist()):
        naive = epoch + dt.timedelta(milliseconds=block * quarter)
        offset = naive.replace(tzinfo=tz).utcoffset() or dt.timedelta(0)
        offsets[i] = int(offset.total_seconds() * 1000)
    return local_ms - offsets[inverse]
