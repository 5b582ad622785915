"""JSON trade files: the API's ``userFills`` and hlmm's session logs.

Accepted shapes:

* a list of fills (``info`` ``userFills`` / ``userFillsByTime`` response), or of
  ``{"fill": {...}, "twapId": n}`` (``userTwapSliceFills``);
* a WebSocket message ``{"channel": "userFills", "data": {"fills": [...]}}`` or
  ``{"channel": "user", "data": {"fills": [...]}}``; any object with a ``fills`` list;
* JSON lines of the above, or of hlmm log records (the ``fill`` events; other events
  are ignored).

API fills carry ``closedPnl`` before fees (``"0.0"`` on opening fills), so the fee is
subtracted here; ``crossed`` says maker or taker exactly.  Fills are de-duplicated by
``tid`` (a snapshot and the stream overlap).  The ``fill`` event of an hlmm log carries
the same numbers as the API fill it came from (``closed_pnl`` before fees) plus
``mid_at_fill``; its ``dir`` is derived from ``start_position`` and ``side``.
"""
from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import numpy as np

from hlmm.calibration.fills import (
    FLAG_LIQUIDATION,
    FLAG_SPOT,
    KIND_CLOSE,
    KIND_FLIP,
    KIND_OPEN,
    KIND_OTHER,
    KIND_SPOT_BUY,
    FillTable,
    canonical_coin,
    parse_dir,
)
from hlmm.calibration.tradefile import ReadOptions, ReadResult, TradeFileError

_STABLE_FEE_TOKENS = frozenset({"USDC", "USDH", "USDT", "USDT0", "USDE", "USD"})


def _is_fill(obj: Any) -> bool:
    return isinstance(obj, dict) and "coin" in obj and "px" in obj and "sz" in obj


def _extract(value: Any) -> list[dict] | None:
    """The fills in one JSON value, or None if it holds none of the known shapes."""
    if isinstance(value, list):
        if not value:
            return []
        if all(isinstance(v, dict) and isinstance(v.get("fill"), dict) for v in value):
            return [v["fill"] for v in value]
        if any(_is_fill(v) for v in value):
            return list(value)
        return None
    if isinstance(value, dict):
        if _is_fill(value):
            return [value]
        data = value.get("data")
        if isinstance(data, dict) and isinstance(data.get("fills"), list):
            return list(data["fills"])
        if isinstance(value.get("fills"), list):
            return list(value["fills"])
        if isinstance(data, list):
            return _extract(data)
    return None


def _iso_ms(text: Any) -> int | None:
    if not isinstance(text, str):
        return None
    try:
        stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.timezone.utc)
    return int(round(stamp.timestamp() * 1000))


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            out = float(value)
        except ValueError:
            return None
        return out if math.isfinite(out) else None
    return None


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        keys = ", ".join(list(value)[:6])
        return f"a JSON object with keys {keys}" if keys else "an empty JSON object"
    if isinstance(value, list):
        return f"a JSON list of {len(value)} {type(value[0]).__name__ if value else 'item'}s"
    return f"a JSON {type(value).__name__}"


class _Rows:
    """Column lists being filled fill by fill."""

    def __init__(self) -> None:
        self.cols: dict[str, list] = {k: [] for k in (
            "time_ms", "coin", "side", "px", "sz", "ntl", "fee", "pnl", "kind", "pos_side", "crossed",
            "start_pos", "mid", "line", "flags")}
        self.coins: dict[str, int] = {}
        self.tids: set[int] = set()
        self.missing_fee = 0  # fills of the old API schema (no fee field)

    def add(self, **values: Any) -> None:
        for key, col in self.cols.items():
            col.append(values[key])

    def table(self) -> FillTable:
        return FillTable.from_columns({k: np.array(v) for k, v in self.cols.items()} if self.cols["time_ms"] else {},
                                      coins=list(self.coins), accounts=[""])


def _kind_from_positions(start: float | None, side: int, sz: float) -> tuple[int, int]:
    """Kind and position side of a fill from the position before it (no ``dir`` given)."""
    if start is None or side == 0:
        return KIND_OTHER, 0
    after = start + side * sz
    eps = 1e-12 * max(1.0, abs(start), abs(after))
    if abs(start) <= eps:
        return KIND_OPEN, 1 if side > 0 else -1
    pos_side = 1 if start > 0 else -1
    if side == pos_side:
        return KIND_OPEN, pos_side
    if abs(after) <= eps or (after > 0) == (start > 0):
        return KIND_CLOSE, pos_side
    return KIND_FLIP, pos_side


def _add_fill(rows: _Rows, fill: dict, where: int, result: ReadResult, *, log: bool) -> None:
    """Validate one fill (API or log shape) and append it; problems become bad rows."""
    get = fill.get
    coin_raw = get("coin")
    if not isinstance(coin_raw, str) or not coin_raw.strip():
        result.add_bad(where, "missing coin")
        return
    values = {}
    for key in ("px", "sz"):
        v = _num(get(key))
        if v is None or v <= 0:
            result.add_bad(where, f"{key} is missing or not a positive number", repr(get(key)))
            return
        values[key] = v
    px, sz = values["px"], values["sz"]
    if log:
        time_ms = _num(get("time")) if "time" in fill else _iso_ms(get("ts"))
    else:
        time_ms = _num(get("time"))
    if time_ms is None:
        result.add_bad(where, "time is missing or not a time", repr(get("time", get("ts"))))
        return
    side_raw = str(get("side", "")).strip().upper()
    side = 1 if side_raw in ("B", "BUY", "BID") else -1 if side_raw in ("A", "S", "SELL", "ASK") else 0
    fee_raw = get("fee")
    fee = _num(fee_raw)
    if fee_raw is None:
        fee = 0.0
        rows.missing_fee += 1
    elif fee is None:
        result.add_bad(where, "fee is not a number", repr(fee_raw))
        return
    closed_raw = get("closed_pnl") if log else get("closedPnl")
    closed = _num(closed_raw) if closed_raw is not None else 0.0
    if closed is None:
        result.add_bad(where, "closedPnl is not a number", repr(closed_raw))
        return
    start = _num(get("start_position") if log else get("startPosition"))
    coin, flags = canonical_coin(coin_raw)
    dir_text = get("dir")
    if isinstance(dir_text, str) and dir_text:
        info = parse_dir(dir_text)
        if info is None:
            result.skip(f'dir "{dir_text}" not understood', 1, closed - fee)
            return
        if info.kind == KIND_OTHER:
            result.skip(f'"{dir_text}" (not a trade)', 1, closed - fee)
            return
        kind, pos_side, flags = info.kind, info.pos_side, flags | info.flags
        side = side or info.side
    elif flags & FLAG_SPOT:
        kind, pos_side = (KIND_SPOT_BUY if side > 0 else KIND_SPOT_BUY + 1), 0
    else:
        kind, pos_side = _kind_from_positions(start, side, sz)
    if side == 0:
        result.add_bad(where, "side is missing (expected B or A)", repr(get("side")))
        return
    if get("liquidation"):
        flags |= FLAG_LIQUIDATION
    token = str(get("fee_token") if log else get("feeToken") or "USDC").strip().upper()
    if token not in _STABLE_FEE_TOKENS and (flags & FLAG_SPOT) and side > 0:
        fee = fee * px  # spot buys pay the fee in the bought token
    crossed_raw = get("crossed")
    crossed = -1 if not isinstance(crossed_raw, bool) else int(crossed_raw)
    mid = _num(get("mid_at_fill")) if log else None
    tid = get("tid")
    if isinstance(tid, int) and not isinstance(tid, bool):
        if tid in rows.tids:
            result.skip("duplicate fills (same tid)", 1)
            return
        rows.tids.add(tid)
    code = rows.coins.setdefault(coin, len(rows.coins))
    rows.add(time_ms=int(time_ms), coin=code, side=side, px=px, sz=sz, ntl=px * sz, fee=fee, pnl=closed - fee,
             kind=kind, pos_side=pos_side, crossed=crossed, start_pos=np.nan if start is None else start,
             mid=np.nan if mid is None else mid, line=where, flags=flags)


def read_json_fills(data: bytes, shown: str, options: ReadOptions) -> ReadResult:
    """Fills from a userFills JSON document, JSON lines, or an hlmm log."""
    text = data.decode("utf-8", "replace").lstrip("\ufeff")
    result = ReadResult(path=shown, format="userfills_json", table=FillTable.empty(), crossed_known=True)
    rows = _Rows()
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        value = None
        first_error = exc
    else:
        first_error = None
        if isinstance(value, dict) and isinstance(value.get("event"), str):
            # a one-line hlmm log is also one JSON document: read it as log lines
            first_error = json.JSONDecodeError("a log record", text, 0)
    if first_error is None:
        fills = _extract(value)
        if fills is None:
            raise TradeFileError(f"{shown}: {_describe(value)}, not fills; give a userFills response, a WebSocket "
                                 "userFills message or an hlmm log")
        result.row_unit = "fill"
        result.rows_seen = len(fills)
        for i, fill in enumerate(fills, 1):
            if not isinstance(fill, dict):
                result.add_bad(i, "not a JSON object", type(fill).__name__)
                continue
            _add_fill(rows, fill, i, result, log=False)
    else:
        _read_lines(text, shown, result, rows, first_error)
    if rows.missing_fee:
        result.notes.append(f"{rows.missing_fee} fills have no fee field (the pre-2023 API schema): their fee is "
                            "counted as 0, so net PnL is overstated")
    result.table = rows.table().sorted_by_time()
    if result.timezone == "UTC":
        result.timezone = "UTC (epoch milliseconds)"
    crossed = result.table.crossed
    if len(crossed) and np.any(crossed < 0):
        result.crossed_known = bool(np.all(crossed >= 0))
        if not result.crossed_known:
            result.notes.append(f"{int(np.count_nonzero(crossed < 0))} fills without crossed: maker/taker "
                                "estimated from fee rates for those")
    liq = int(np.count_nonzero(result.table.flags & FLAG_LIQUIDATION))
    if liq:
        result.notes.append(f"{liq} liquidation fill{'s' if liq != 1 else ''} included")
    return result


def _read_lines(text: str, shown: str, result: ReadResult, rows: _Rows, first_error: json.JSONDecodeError) -> None:
    """JSON lines: hlmm log records (``fill`` events) or fill containers, one per line."""
    lines = text.splitlines()
    parsed_any = False
    log_lines = other_events = without_fills = 0
    first_without = ""
    events: dict[str, int] = {}
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped[:1] not in ("{", "["):
            result.add_bad(number, "not a JSON line", stripped[:40])
            continue
        try:
            value = json.loads(stripped)
        except json.JSONDecodeError as exc:
            result.add_bad(number, "not valid JSON (truncated line?)", exc.msg)
            continue
        parsed_any = True
        if isinstance(value, dict) and isinstance(value.get("event"), str):
            log_lines += 1
            name = value["event"]
            events[name] = events.get(name, 0) + 1
            if name == "fill":
                result.rows_seen += 1
                _add_fill(rows, value, number, result, log=True)
            else:
                other_events += 1
            continue
        fills = _extract(value)
        if fills is None:
            without_fills += 1
            first_without = first_without or _describe(value)
            result.add_bad(number, "a JSON line without fills", _describe(value))
            continue
        for fill in fills:
            result.rows_seen += 1
            if isinstance(fill, dict):
                _add_fill(rows, fill, number, result, log=False)
            else:
                result.add_bad(number, "not a JSON object", type(fill).__name__)
    if not parsed_any:
        raise TradeFileError(f"{shown}: not valid JSON ({first_error.msg} at line {first_error.lineno} column "
                             f"{first_error.colno})")
    if without_fills and not result.rows_seen and not log_lines:
        raise TradeFileError(f"{shown}: JSON lines without fills ({without_fills} lines, the first {first_without}); "
                             "give a userFills response, a WebSocket userFills message or an hlmm log")
    if log_lines:
        result.format = "hlmm_log"
        if not events.get("fill"):
            top = ", ".join(f"{k} x{v}" for k, v in sorted(events.items(), key=lambda kv: -kv[1])[:3])
            raise TradeFileError(f"{shown}: an hlmm log with no fill events ({log_lines} records: {top})")
