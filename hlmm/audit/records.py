"""One hlmm event line handed to the audit consumers, decoded once for all of them.

The scanner returns the raw bytes of each line some consumer reads; :class:`Event` parses them
(``orjson`` when installed, else ``json``).  A line whose body does not parse has ``rec is None``
and ``corrupt`` set; the runner counts it.
"""
from __future__ import annotations

import json
import math
from typing import Any

try:  # orjson parses a log line ~5x faster; json is the always-present fallback
    import orjson as _orjson

    _loads = _orjson.loads
    _DecodeErrors: tuple[type[BaseException], ...] = (_orjson.JSONDecodeError, ValueError, TypeError)
except ImportError:  # pragma: no cover - depends on the environment
    _loads = json.loads
    _DecodeErrors = (ValueError, TypeError)

def decode(raw: bytes) -> Any:
    """Parse one JSON value; raises ``ValueError`` if it is not JSON."""
    try:
        return _loads(raw)
    except _DecodeErrors as exc:
        raise ValueError(str(exc)) from None


class Event:
    """A wanted event line: name, time (epoch ms), where it is (``src`` index, line), its bytes and
    its decoded fields ``rec`` (``None`` when the body does not parse: then ``corrupt`` is true)."""

    __slots__ = ("name", "ts", "src", "line", "raw", "rec", "corrupt")

    def __init__(self, name: str, ts: int, src: int, line: int, raw: bytes, rec: Any = None) -> None:
        self.name = name
        self.ts = ts
        self.src = src
        self.line = line
        self.raw = raw
        self.corrupt = False
        if rec is None:  # decode now: every wanted line is read by some consumer
            try:
                rec = _loads(raw)
            except _DecodeErrors:
                rec = None
            if type(rec) is not dict:
                rec = None
                self.corrupt = True
        self.rec: dict[str, Any] | None = rec

    def get(self, key: str, default: Any = None) -> Any:
        rec = self.rec
        return default if rec is None else rec.get(key, default)


def num(value: Any) -> float | None:
    """A finite float from a log field (numbers, numeric strings), else ``None``."""
    t = type(value)
    if t is float:
        return value if value - value == 0.0 else None  # NaN and ±inf give NaN here
    if t is int:
        return float(value)
    if value is None or t is bool:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return f if math.isfinite(f) else None


def side_sign(side: Any) -> int:
    """+1 for a buy/bid side (``B``, ``buy``, ``bid``), -1 for a sell/ask side, 0 if unknown."""
    if not isinstance(side, str) or not side:
        return 0
    s = side.strip().lower()
    if s in ("b", "buy", "bid", "bids", "long"):
        return 1
    if s in ("a", "s", "sell", "ask", "asks", "short"):
        return -1
    return 0
