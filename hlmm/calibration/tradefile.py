"""Reading a trade file of any supported kind: what it is, its fills, and what was wrong with it.

Supported inputs (detected from the content, not the file name):

* Hyperliquid's web-UI **Trade History** CSV export (``time,coin,dir,px,sz,ntl,fee,closedPnl``)
* the API's ``userFills`` JSON: a list of fills, an info response, or a WebSocket
  ``userFills`` / ``user`` message (one JSON document or JSON lines)
* hlmm's own session logs (JSON lines; the ``fill`` events of :mod:`hlmm.log_events`)
* the "Primetrade" per-fill CSV (a third-party re-export of ``userFills``)

Any of them may be gzip-compressed.  A file of another kind (the UI's *Funding History*
export, an image, a spreadsheet, an empty file) raises :class:`TradeFileError` with one
line saying what the file is and what to give instead.  Bad rows inside a good file do
not stop the run: each is reported with its line number and the rest is analysed.
"""
from __future__ import annotations

import gzip
import os
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hlmm.calibration.dates import DateOrder
from hlmm.calibration.fills import FLAG_SPOT, FillTable
from hlmm.errors import InputError

FORMAT_NAMES = {
    "ui_csv": "Hyperliquid web-UI trade-history export (CSV)",
    "userfills_json": "Hyperliquid API userFills (JSON)",
    "hlmm_log": "hlmm session log (JSON lines, fill events)",
    "primetrade_csv": "Primetrade per-fill CSV (userFills re-export)",
}

MAX_LISTED_BAD_ROWS = 20

Progress = Callable[[str], None]


class TradeFileError(InputError):
    """The file is not a trade file hlmm can read, or it holds no usable fill."""


@dataclass
class BadRow:
    """One row that could not be used, and why."""

    line: int
    reason: str  # short, groupable ("px is not a number")
    detail: str = ""  # the offending text
    unit: str = "line"  # "line" of a text file, or "fill" (1-based position in a JSON list)

    def message(self) -> str:
        return f"{self.unit} {self.line}: {self.reason}" + (f": {self.detail}" if self.detail else "")


@dataclass
class ReadResult:
    """The fills of one file plus everything the reader had to say about it."""

    path: str
    format: str
    table: FillTable
    rows_seen: int = 0
    bad_rows: list[BadRow] = field(default_factory=list)  # the first MAX_LISTED_BAD_ROWS
    bad_reasons: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)  # left out on purpose: reason -> rows
    skipped_pnl: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    date_order: DateOrder | None = None
    timezone: str = "UTC"
    timezone_assumed: bool = False
    crossed_known: bool = False
    compressed: bool = False
    row_unit: str = "line"

    @property
    def format_name(self) -> str:
        return FORMAT_NAMES.get(self.format, self.format)

    @property
    def bad_count(self) -> int:
        return sum(self.bad_reasons.values())

    def add_bad(self, line: int, reason: str, detail: str = "") -> None:
        self.bad_reasons[reason] += 1
        if len(self.bad_rows) < MAX_LISTED_BAD_ROWS:
            self.bad_rows.append(BadRow(int(line), reason, detail, self.row_unit))

    def skip(self, reason: str, count: int = 1, pnl: float = 0.0) -> None:
        if count:
            self.skipped[reason] += count
            self.skipped_pnl[reason] = self.skipped_pnl.get(reason, 0.0) + float(pnl)

    def bad_summary(self) -> str:
        """``"3 bad rows (2 px is not a number, 1 wrong number of fields)"`` or ``""``."""
        if not self.bad_count:
            return ""
        parts = ", ".join(f"{n} {reason}" for reason, n in self.bad_reasons.most_common())
        return f"{self.bad_count} bad row{'s' if self.bad_count != 1 else ''} ({parts})"

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "format": self.format,
            "format_name": self.format_name,
            "compressed": self.compressed,
            "rows_seen": self.rows_seen,
            "fills": len(self.table),
            "bad_rows": self.bad_count,
            "bad_reasons": dict(self.bad_reasons),
            "bad_rows_listed": [{b.unit: b.line, "reason": b.reason, "detail": b.detail} for b in self.bad_rows],
            "skipped": dict(self.skipped),
            "skipped_pnl": self.skipped_pnl,
            "date_order": None if self.date_order is None else {
                "order": self.date_order.order, "reason": self.date_order.reason,
                "ambiguous": self.date_order.ambiguous, "forced": self.date_order.forced},
            "timezone": self.timezone,
            "timezone_assumed": self.timezone_assumed,
            "maker_taker_source": "exact (crossed)" if self.crossed_known else "estimated from fee rates",
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class ReadOptions:
    """Reader settings from the command line."""

    date_order: str | None = None  # force DAY_FIRST / MONTH_FIRST
    tz: str | None = None  # exporter's time zone for UI exports (None: UTC)
    account: str | None = None  # keep one account of a multi-account file
    include_spot: bool = False  # hlmm quotes perps; spot fills are left out (and counted) unless asked
    progress: Progress | None = None
    chunk_bytes: int = 8 << 20


# ------------------------------------------------------------------------------- sniffing

_MAGIC = [
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (an .xlsx workbook?)"),
    (b"\xd0\xcf\x11\xe0", "an old Excel/Office document"),
    (b"SQLite format 3", "an SQLite database"),
    (b"BZh", "a bzip2 archive"),
    (b"\xfd7zXZ", "an xz archive"),
]

_WHAT_TO_GIVE = ("give Hyperliquid's Trade History CSV export, a userFills JSON, or an hlmm log")


def read_bytes(path: Path) -> tuple[bytes, bool]:
    """The file's bytes (gunzipped when gzip-compressed) and whether it was compressed."""
    shown = os.fspath(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise TradeFileError(f"{shown}: no such file") from None
    except IsADirectoryError:
        raise TradeFileError(f"{shown}: is a directory, not a trade file") from None
    except OSError as exc:
        raise TradeFileError(f"{shown}: cannot read: {exc.strerror or exc}") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw), True
        except (OSError, EOFError, zlib.error) as exc:
            raise TradeFileError(f"{shown}: a damaged gzip file ({exc})") from None
    return raw, False


def sniff(data: bytes, shown: str) -> str:
    """``"csv"`` or ``"json"``; a :class:`TradeFileError` for anything that is neither."""
    if not data or data.isspace():
        raise TradeFileError(f"{shown}: the file is empty; {_WHAT_TO_GIVE}")
    for magic, what in _MAGIC:
        if data.startswith(magic):
            hint = ("export the trade history as CSV from the Hyperliquid web UI"
                    if "ZIP" in what or "Excel" in what else _WHAT_TO_GIVE)
            raise TradeFileError(f"{shown}: this is {what}, not a trade file; {hint}")
    head = data[:65536]
    if b"\x00" in head:
        raise TradeFileError(f"{shown}: a binary file, not a trade file; {_WHAT_TO_GIVE}")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the sample's end
            raise TradeFileError(f"{shown}: not UTF-8 text (bad byte at offset {exc.start}); {_WHAT_TO_GIVE}") \
                from None
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    return "json" if text[:1] in (b"[", b"{") else "csv"


def read_trade_file(path: str | os.PathLike[str], options: ReadOptions | None = None) -> ReadResult:
    """Read one trade file of any supported kind (see the module docstring)."""
    from hlmm.calibration import jsonfills, uicsv

    options = options or ReadOptions()
    file = Path(path)
    shown = os.fspath(path)
    data, compressed = read_bytes(file)
    kind = sniff(data, shown)
    if options.progress:
        options.progress(f"reading {shown} ({len(data) / 1e6:.1f} MB{', gunzipped' if compressed else ''})")
    if kind == "json":
        result = jsonfills.read_json_fills(data, shown, options)
    else:
        result = uicsv.read_csv_fills(data, shown, options)
    result.compressed = compressed
    if options.account is not None:
        _keep_account(result, options.account)
    if not options.include_spot:
        _drop_spot(result)
    if len(result.table) == 0:
        raise TradeFileError(_nothing_valid(result))
    return result


def _keep_account(result: ReadResult, account: str) -> None:
    wanted = account.lower()
    names = [a.lower() for a in result.table.accounts]
    if wanted not in names:
        listed = ", ".join(a for a in result.table.accounts if a) or "none"
        raise TradeFileError(f"{result.path}: account {account} is not in the file (accounts: {listed})")
    code = names.index(wanted)
    keep = result.table.account == code
    result.skip("other accounts (--account)", int(np.count_nonzero(~keep)))
    result.table = result.table.take(keep)


def _drop_spot(result: ReadResult) -> None:
    spot = (result.table.flags & FLAG_SPOT) != 0
    count = int(np.count_nonzero(spot))
    if count:
        coins = sorted({result.table.coins[c] for c in np.unique(result.table.coin[spot])})
        shown = ", ".join(coins[:4]) + (", ..." if len(coins) > 4 else "")
        result.skip(f"spot fills ({shown}; hlmm quotes perpetuals; --include-spot keeps them)", count,
                    float(result.table.pnl[spot].sum()))
        result.table = result.table.take(~spot)
        result.notes = [n for n in result.notes if "spot fill" not in n]


def _nothing_valid(result: ReadResult) -> str:
    text = f"{result.path}: no usable fill in {result.rows_seen} row{'s' if result.rows_seen != 1 else ''}"
    reasons = [result.bad_summary()] if result.bad_count else []
    reasons += [f"{n} skipped: {reason}" for reason, n in result.skipped.most_common(3)]
    if reasons:
        text += " (" + "; ".join(reasons) + ")"
    if result.bad_rows:
        text += f"; first: {result.bad_rows[0].message()}"
    return text
