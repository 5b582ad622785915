"""One hlmm event line handed to the audit rules, decoded only if a rule asks for its fields.

The scanner returns the raw bytes of each line some rule consumes; :attr:`Event.rec` parses
them on first use (``orjson`` when installed, else ``json``) and caches the dict.  A line whose
body does not parse gives ``rec is None`` and is counted as corrupt by the runner.
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

_BAD = object()


def decode(raw: bytes) -> Any:
    """Parse one JSON value; raises ``ValueError`` if it is not JSON."""
    try:
        return _loads(raw)
    except _DecodeErrors as exc:
        raise ValueError(str(exc)) from None


class Event:
    """A wanted event line: name, time (epoch ms), where it is (``src`` index, line) and its bytes."""

    __slots__ = ("name", "ts", "src", "line", "raw", "_rec")

    def __init__(self, name: str, ts: int, src: int, line: int, raw: bytes, rec: Any = None) -> None:
        self.name = name
        self.ts = ts
        self.src = src
        self.line = line
        self.raw = raw
        self._rec = rec

    @property
    def rec(self) -> dict[str, Any] | None:
        """The decoded line, or ``None`` if its body is corrupt."""
        rec = self._rec
        if rec is None:
            try:
                rec = decode(self.raw)
                if not isinstance(rec, dict):
                    rec = _BAD
            except ValueError:
                rec = _BAD
            self._rec = rec
        return None if rec is _BAD else rec

    @property
    def corrupt(self) -> bool:
        """True once decoding was attempted and failed."""
        return self._rec is _BAD

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
