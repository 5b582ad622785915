"""CSV trade files: Hyperliquid's web-UI Trade History export and the Primetrade re-export.

The body is parsed by the compiled column parser (:mod:`hlmm._core.tradecsv`) in chunks
(progress between chunks); rows with quote characters go through the ``csv`` module and
the same field parsers.  Columns are found by header name, so column order does not matter.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

import numpy as np

from hlmm._core import tradecsv
from hlmm.calibration import dates
from hlmm.calibration.fills import (
    FLAG_LIQUIDATION,
    FLAG_SPOT,
    KIND_OTHER,
    KIND_SPOT_BUY,
    FillTable,
    canonical_coin,
    parse_dir,
)
from hlmm.calibration.tradefile import ReadOptions, ReadResult, TradeFileError

UI_COLUMNS = ("time", "coin", "dir", "px", "sz", "ntl", "fee", "closedpnl")
UI_REQUIRED = frozenset(UI_COLUMNS) - {"ntl"}
FUNDING_COLUMNS = frozenset({"time", "coin", "sz", "side", "payment", "rate"})
PRIMETRADE_COLUMNS = ("account", "coin", "executionprice", "sizetokens", "sizeusd", "side", "timestampist",
                      "startposition", "direction", "closedpnl", "crossed", "fee")

_STATUS_REASON = {
    tradecsv.STATUS_FIELD_COUNT: "wrong number of fields",
}


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-]", "", name.strip().lower())


@dataclass
class _Body:
    """Parsed CSV body: per-row status and line, and the columns asked for."""

    line: np.ndarray
    status: np.ndarray
    err_col: np.ndarray
    columns: list
    names: list[str]  # header names, as written
    interns: list[dict]


class _Lines:
    """File lines by number, split only if some row needs its text."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._lines: list[bytes] | None = None

    def text(self, line: int) -> str:
        if self._lines is None and line <= 64:
            # an early line (an example, a header-adjacent problem): no need to split everything
            start = 0
            for _ in range(line - 1):
                start = self._data.find(b"\n", start) + 1
                if start == 0:
                    return ""
            end = self._data.find(b"\n", start)
            raw = self._data[start:] if end < 0 else self._data[start:end]
            return raw.rstrip(b"\r").decode("utf-8", "replace")
        if self._lines is None:
            self._lines = self._data.split(b"\n")
        if 1 <= line <= len(self._lines):
            return self._lines[line - 1].rstrip(b"\r").decode("utf-8", "replace")
        return ""


def _header(data: bytes, shown: str) -> tuple[list[str], int, int]:
    """Header fields, the byte offset of the body and its first line number."""
    start = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    line = 1
    while True:
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end
        raw = data[start:end].rstrip(b"\r")
        if raw.strip():
            break
        if end >= len(data):
            raise TradeFileError(f"{shown}: the file is empty")
        start, line = end + 1, line + 1
    text = raw.decode("utf-8", "replace")
    if ";" in text and "," not in text:
        raise TradeFileError(f"{shown}: semicolon-separated values (re-saved by a spreadsheet?); use the CSV "
                             "exactly as Hyperliquid exports it (comma-separated)")
    fields = next(csv.reader([text]))
    return [f.strip() for f in fields], min(end + 1, len(data)), line + 1


def read_csv_fills(data: bytes, shown: str, options: ReadOptions) -> ReadResult:
    """Fills from a CSV trade file (format chosen by its header)."""
    names, body_start, first_line = _header(data, shown)
    normed = [_norm(n) for n in names]
    have = set(normed)
    if UI_REQUIRED <= have:
        return _read_ui(data, shown, options, names, normed, body_start, first_line)
    if set(PRIMETRADE_COLUMNS) <= have:
        return _read_primetrade(data, shown, options, names, normed, body_start, first_line)
    if FUNDING_COLUMNS <= have:
        raise TradeFileError(f"{shown}: this is Hyperliquid's Funding History export (time,coin,sz,side,payment,"
                             "rate): funding payments, not trades; export Trade History instead")
    shown_header = ",".join(names)
    if len(shown_header) > 80:
        shown_header = shown_header[:77] + "..."
    if len(names) < 4:
        raise TradeFileError(f"{shown}: not a trade CSV (first line \"{shown_header}\"); give Hyperliquid's Trade "
                             "History CSV export, a userFills JSON, or an hlmm log")
    missing = sorted(UI_REQUIRED - have)
    raise TradeFileError(f"{shown}: unrecognised CSV header \"{shown_header}\"; expected Hyperliquid's Trade History "
                         f"export (time,coin,dir,px,sz,ntl,fee,closedPnl); missing {', '.join(missing)}")


# ------------------------------------------------------------------------------- body


def _parse_body(data: bytes, names: list[str], kinds: list[int], body_start: int, first_line: int,
                options: ReadOptions, shown: str) -> _Body:
    interns: list[dict] = [{} for _ in kinds]
    chunks = []
    pos, line = body_start, first_line
    total = max(1, len(data) - body_start)
    while pos < len(data):
        end = min(len(data), pos + options.chunk_bytes)
        if end < len(data):
            nl = data.find(b"\n", end)
            end = len(data) if nl < 0 else nl + 1
        part = tradecsv.parse_columns(data, pos, end, line, kinds, interns)
        chunks.append(part)
        line = part["next_line"]
        pos = end
        if options.progress and end < len(data):
            options.progress(f"parsed {100 * (pos - body_start) / total:.0f}% of {shown}")
    if not chunks:
        chunks.append(tradecsv.parse_columns(data, len(data), len(data), line, kinds, interns))
    cols = []
    for c, kind in enumerate(kinds):
        if kind == tradecsv.DATETIME:
            cols.append((np.concatenate([p["columns"][c][0] for p in chunks]),
                         np.concatenate([p["columns"][c][1] for p in chunks])))
        elif kind == tradecsv.SKIP:
            cols.append(None)
        else:
            cols.append(np.concatenate([p["columns"][c] for p in chunks]))
    body = _Body(
        line=np.concatenate([p["line"] for p in chunks]),
        status=np.concatenate([p["status"] for p in chunks]),
        err_col=np.concatenate([p["err_col"] for p in chunks]),
        columns=cols, names=names, interns=interns,
    )
    _parse_quoted(data, body, kinds)
    return body


def _parse_quoted(data: bytes, body: _Body, kinds: list[int]) -> None:
    """Rows with quote characters: split by the csv module, fields by the same parsers."""
    rows = np.flatnonzero(body.status == tradecsv.STATUS_QUOTED)
    if not len(rows):
        return
    lines = _Lines(data)
    ncols = len(kinds)
    for row in rows.tolist():
        text = lines.text(int(body.line[row]))
        try:
            fields = next(csv.reader(io.StringIO(text)))
        except (csv.Error, StopIteration):
            fields = []
        while len(fields) > ncols and not fields[-1].strip():
            fields.pop()
        status, err = tradecsv.STATUS_OK, -1
        if len(fields) != ncols:
            status, err = tradecsv.STATUS_FIELD_COUNT, min(len(fields), ncols)
        else:
            for c, kind in enumerate(kinds):
                raw = fields[c].strip().encode("utf-8")
                try:
                    if kind == tradecsv.FLOAT:
                        value = tradecsv.parse_number_py(raw)
                        body.columns[c][row] = np.nan if value is None else value
                    elif kind == tradecsv.TEXT:
                        if raw:
                            body.columns[c][row] = body.interns[c].setdefault(raw, len(body.interns[c]))
                    elif kind == tradecsv.DATETIME:
                        parts = tradecsv.parse_datetime_py(raw)
                        if parts is None:
                            raise ValueError("empty")
                        body.columns[c][0][row] = parts[:7]
                        body.columns[c][1][row] = parts[7]
                except ValueError:
                    if status == tradecsv.STATUS_OK:
                        status = tradecsv.STATUS_BAD_NUMBER if kind == tradecsv.FLOAT else tradecsv.STATUS_BAD_DATETIME
                        err = c
        body.status[row] = status
        body.err_col[row] = err


def _report_parse_errors(data: bytes, body: _Body, result: ReadResult, ncols: int) -> np.ndarray:
    """Bad rows from the parser's status codes; returns the mask of rows still good."""
    bad = np.flatnonzero(body.status != tradecsv.STATUS_OK)
    if len(bad):
        lines = _Lines(data)
        for row in bad.tolist():
            status = int(body.status[row])
            line = int(body.line[row])
            col = int(body.err_col[row])
            listing = len(result.bad_rows) < 20
            text = lines.text(line) if listing else ""
            if status == tradecsv.STATUS_FIELD_COUNT:
                got = len(next(csv.reader([text]))) if listing else 0
                result.add_bad(line, f"wrong number of fields (expected {ncols})", f"got {got}" if listing else "")
            else:
                name = body.names[col] if 0 <= col < len(body.names) else "?"
                what = "not a number" if status == tradecsv.STATUS_BAD_NUMBER else "not a date-time"
                detail = ""
                if listing:
                    fields = next(csv.reader([text]), [])
                    detail = repr(fields[col].strip()) if col < len(fields) else ""
                result.add_bad(line, f"{name} is {what}", detail)
    return body.status == tradecsv.STATUS_OK


def _decode(intern: dict) -> list[str]:
    return [k.decode("utf-8", "replace") for k in intern]


def _require(mask: np.ndarray, values: np.ndarray, name: str, body: _Body, result: ReadResult,
             positive: bool = False) -> np.ndarray:
    """Rows of ``mask`` whose ``values`` are present (and positive) stay; others are bad rows."""
    missing = mask & ~np.isfinite(values)
    for row in np.flatnonzero(missing).tolist():
        result.add_bad(int(body.line[row]), f"missing {name}")
    mask = mask & ~missing
    if positive:
        nonpos = mask & (values <= 0)
        for row in np.flatnonzero(nonpos).tolist():
            result.add_bad(int(body.line[row]), f"{name} must be positive", repr(float(values[row])))
        mask = mask & ~nonpos
    return mask


def _times(body: _Body, col: int, good: np.ndarray, result: ReadResult, options: ReadOptions,
           default_tz: str | None, data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """UTC epoch ms of the date-time column and the rows whose date is valid."""
    parts, flags = body.columns[col]
    lines = _Lines(data)
    example_rows = np.flatnonzero(good)[:1]
    examples = [lines.text(int(body.line[r])).split(",")[col] for r in example_rows.tolist()] if len(example_rows) \
        else []
    order = dates.decide_order(parts[good], flags[good], forced=options.date_order, texts=examples)
    result.date_order = order
    ms, valid = dates.to_epoch_ms(parts, flags, order.order)
    invalid = good & ~valid
    for row in np.flatnonzero(invalid).tolist():
        a, b, c = parts[row, :3]
        result.add_bad(int(body.line[row]), f"{body.names[col]} is not a valid {order.order} date", f"{a}/{b}/{c}")
    good = good & valid
    tz_text = options.tz or default_tz
    if tz_text:
        try:
            tz = dates.parse_tz(tz_text)
        except ValueError as exc:
            raise TradeFileError(str(exc)) from None
        ms = dates.local_to_utc_ms(ms, tz)
        result.timezone = tz_text
    else:
        result.timezone = "UTC"
        result.timezone_assumed = True
    return ms, good


def _coins(intern: dict) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Code map display-code -> canonical code, canonical names, and per-canonical flags."""
    names: list[str] = []
    index: dict[str, int] = {}
    mapping = np.zeros(max(1, len(intern)), dtype=np.int32)
    flags_by_code: list[int] = []
    for code, display in enumerate(_decode(intern)):
        name, flags = canonical_coin(display)
        if name not in index:
            index[name] = len(names)
            names.append(name)
            flags_by_code.append(flags)
        mapping[code] = index[name]
    return mapping, names, np.array(flags_by_code or [0], dtype=np.uint8)


def _dirs(intern: dict):
    """Lookup arrays (kind, pos_side, side, flags, known) indexed by dir code."""
    values = _decode(intern)
    n = max(1, len(values))
    kind = np.full(n, KIND_OTHER, dtype=np.int8)
    pos_side = np.zeros(n, dtype=np.int8)
    side = np.zeros(n, dtype=np.int8)
    flags = np.zeros(n, dtype=np.uint8)
    known = np.zeros(n, dtype=bool)
    for code, text in enumerate(values):
        info = parse_dir(text)
        if info is not None:
            kind[code], pos_side[code], side[code], flags[code] = info.kind, info.pos_side, info.side, info.flags
            known[code] = True
    return values, kind, pos_side, side, flags, known


def _skip_dirs(good: np.ndarray, dir_codes: np.ndarray, values: list[str], kinds: np.ndarray, known: np.ndarray,
               pnl: np.ndarray, body: _Body, result: ReadResult, col_name: str) -> np.ndarray:
    """Leave out rows whose dir is missing, unknown, or not a trade (counted, with their PnL)."""
    missing = good & (dir_codes < 0)
    for row in np.flatnonzero(missing).tolist():
        result.add_bad(int(body.line[row]), f"missing {col_name}")
    good = good & ~missing
    codes = np.where(dir_codes < 0, 0, dir_codes)
    for code, text in enumerate(values):
        rows = good & (codes == code)
        count = int(np.count_nonzero(rows))
        if not count:
            continue
        if not known[code]:
            result.skip(f'dir "{text}" not understood', count, float(np.nansum(pnl[rows])))
            good = good & ~rows
        elif kinds[code] == KIND_OTHER:
            result.skip(f'"{text}" (not a trade)', count, float(np.nansum(pnl[rows])))
            good = good & ~rows
    return good


# ------------------------------------------------------------------------------ UI export


def _read_ui(data: bytes, shown: str, options: ReadOptions, names: list[str], normed: list[str],
             body_start: int, first_line: int) -> ReadResult:
    result = ReadResult(path=shown, format="ui_csv", table=FillTable.empty())
    kinds = []
    want = {"time": tradecsv.DATETIME, "coin": tradecsv.TEXT, "dir": tradecsv.TEXT, "px": tradecsv.FLOAT,
            "sz": tradecsv.FLOAT, "ntl": tradecsv.FLOAT, "fee": tradecsv.FLOAT, "closedpnl": tradecsv.FLOAT}
    col = {}
    for i, name in enumerate(normed):
        kind = want.get(name, tradecsv.SKIP)
        if kind != tradecsv.SKIP and name not in col:
            col[name] = i
        else:
            kind = tradecsv.SKIP
        kinds.append(kind)
    body = _parse_body(data, names, kinds, body_start, first_line, options, shown)
    n = len(body.line)
    result.rows_seen = n
    good = _report_parse_errors(data, body, result, len(kinds))
    time_ms, good = _times(body, col["time"], good, result, options, None, data)
    coin_codes = body.columns[col["coin"]]
    missing_coin = good & (coin_codes < 0)
    for row in np.flatnonzero(missing_coin).tolist():
        result.add_bad(int(body.line[row]), "missing coin")
    good &= ~missing_coin
    px, sz, fee, pnl = (body.columns[col[k]] for k in ("px", "sz", "fee", "closedpnl"))
    ntl = body.columns[col["ntl"]] if "ntl" in col else np.full(n, np.nan)
    good = _require(good, px, names[col["px"]], body, result, positive=True)
    good = _require(good, sz, names[col["sz"]], body, result, positive=True)
    good = _require(good, fee, names[col["fee"]], body, result)
    good = _require(good, pnl, names[col["closedpnl"]], body, result)
    values, dkind, dpos, dside, dflags, known = _dirs(body.interns[col["dir"]])
    dir_codes = body.columns[col["dir"]]
    good = _skip_dirs(good, dir_codes, values, dkind, known, pnl, body, result, names[col["dir"]])

    rows = np.flatnonzero(good)
    cmap, coins, cflags = _coins(body.interns[col["coin"]])
    coin = cmap[coin_codes[rows]]
    d = dir_codes[rows]
    px_g, sz_g = px[rows], sz[rows]
    notional = np.where(np.isfinite(ntl[rows]), ntl[rows], px_g * sz_g)
    kind_g = dkind[d]
    flags = dflags[d] | cflags[coin]
    # spot buys pay the fee in the bought token (closedPnl there is -fee * px)
    fee_g = np.where((kind_g == KIND_SPOT_BUY) & ((flags & FLAG_SPOT) != 0), fee[rows] * px_g, fee[rows])
    table = FillTable.from_columns({
        "time_ms": time_ms[rows], "coin": coin, "side": dside[d], "px": px_g, "sz": sz_g, "ntl": notional,
        "fee": fee_g, "pnl": pnl[rows], "kind": kind_g, "pos_side": dpos[d], "line": body.line[rows],
        "flags": flags,
    }, coins=coins, accounts=[""])
    result.table = table.sorted_by_time()
    _note_common(result)
    return result


def _note_common(result: ReadResult) -> None:
    t = result.table
    liq = int(np.count_nonzero(t.flags & FLAG_LIQUIDATION))
    if liq:
        result.notes.append(f"{liq} liquidation fill{'s' if liq != 1 else ''} included (they are part of the PnL)")
    spot = int(np.count_nonzero(t.flags & FLAG_SPOT))
    if spot:
        result.notes.append(f"{spot} spot fill{'s' if spot != 1 else ''} included (spot-buy fees converted from "
                            "the base token at the fill price)")


# ------------------------------------------------------------------------- Primetrade CSV


def _read_primetrade(data: bytes, shown: str, options: ReadOptions, names: list[str], normed: list[str],
                     body_start: int, first_line: int) -> ReadResult:
    result = ReadResult(path=shown, format="primetrade_csv", table=FillTable.empty(), crossed_known=True)
    want = {"account": tradecsv.TEXT, "coin": tradecsv.TEXT, "executionprice": tradecsv.FLOAT,
            "sizetokens": tradecsv.FLOAT, "sizeusd": tradecsv.FLOAT, "side": tradecsv.TEXT,
            "timestampist": tradecsv.DATETIME, "startposition": tradecsv.FLOAT, "direction": tradecsv.TEXT,
            "closedpnl": tradecsv.FLOAT, "crossed": tradecsv.TEXT, "fee": tradecsv.FLOAT}
    kinds, col = [], {}
    for i, name in enumerate(normed):
        kind = want.get(name, tradecsv.SKIP)
        if kind != tradecsv.SKIP and name not in col:
            col[name] = i
        else:
            kind = tradecsv.SKIP
        kinds.append(kind)
    body = _parse_body(data, names, kinds, body_start, first_line, options, shown)
    n = len(body.line)
    result.rows_seen = n
    good = _report_parse_errors(data, body, result, len(kinds))
    # "Timestamp IST" is India Standard Time (UTC+05:30) with minute resolution
    time_ms, good = _times(body, col["timestampist"], good, result, options, "+05:30", data)
    result.notes.append("times have minute resolution (Timestamp IST); holding times under a minute read as 0")
    px, sz, ntl, start, closed, fee = (body.columns[col[k]] for k in
                                       ("executionprice", "sizetokens", "sizeusd", "startposition", "closedpnl",
                                        "fee"))
    good = _require(good, px, names[col["executionprice"]], body, result, positive=True)
    good = _require(good, sz, names[col["sizetokens"]], body, result, positive=True)
    good = _require(good, fee, names[col["fee"]], body, result)
    good = _require(good, closed, names[col["closedpnl"]], body, result)
    coin_codes = body.columns[col["coin"]]
    missing_coin = good & (coin_codes < 0)
    for row in np.flatnonzero(missing_coin).tolist():
        result.add_bad(int(body.line[row]), "missing coin")
    good &= ~missing_coin
    values, dkind, dpos, dside, dflags, known = _dirs(body.interns[col["direction"]])
    dir_codes = body.columns[col["direction"]]
    good = _skip_dirs(good, dir_codes, values, dkind, known, closed - fee, body, result, names[col["direction"]])
    side_words = [v.upper() for v in _decode(body.interns[col["side"]])]
    side_map = np.array([1 if w in ("BUY", "B") else -1 if w in ("SELL", "A", "S") else 0 for w in side_words] or [0],
                        dtype=np.int8)
    crossed_words = [v.upper() for v in _decode(body.interns[col["crossed"]])]
    crossed_map = np.array([1 if w in ("TRUE", "1") else 0 if w in ("FALSE", "0") else -1 for w in crossed_words]
                           or [-1], dtype=np.int8)
    rows = np.flatnonzero(good)
    cmap, coins, cflags = _coins(body.interns[col["coin"]])
    coin = cmap[coin_codes[rows]]
    d = dir_codes[rows]
    side_codes = body.columns[col["side"]][rows]
    side = np.where(side_codes >= 0, side_map[np.maximum(side_codes, 0)], dside[d])
    crossed_codes = body.columns[col["crossed"]][rows]
    crossed = np.where(crossed_codes >= 0, crossed_map[np.maximum(crossed_codes, 0)], -1)
    accounts = _decode(body.interns[col["account"]]) or [""]
    account_codes = np.maximum(body.columns[col["account"]][rows], 0)
    kind_g = dkind[d]
    flags = dflags[d] | cflags[coin]
    px_g = px[rows]
    fee_g = np.where((kind_g == KIND_SPOT_BUY) & ((flags & FLAG_SPOT) != 0), fee[rows] * px_g, fee[rows])
    notional = np.where(np.isfinite(ntl[rows]) & (ntl[rows] > 0), ntl[rows], px_g * sz[rows])
    table = FillTable.from_columns({
        "time_ms": time_ms[rows], "coin": coin, "side": side, "px": px_g, "sz": sz[rows], "ntl": notional,
        "fee": fee_g, "pnl": closed[rows] - fee_g, "kind": kind_g, "pos_side": dpos[d], "crossed": crossed,
        "start_pos": start[rows], "account": account_codes, "line": body.line[rows], "flags": flags,
    }, coins=coins, accounts=accounts)
    result.table = table.sorted_by_time()
    if len(accounts) > 1 and options.account is None:
        result.notes.append(f"{len(accounts)} accounts pooled; use --account to analyse one")
    _note_common(result)
    return result
