"""Structural validation of request bodies: anything that would not deserialize into
Hyperliquid's request types raises ``SimRequestError`` (HTTP 422), before any
signature is looked at.  Semantic problems (bad tick, unknown asset) are not
checked here; they become per-order error statuses.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple, TypeVar

from hlmm.sim.errors import bad_request

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_CLOID = re.compile(r"^0x[0-9a-fA-F]{32}$")
TIFS = {"Alo": "Alo", "Ioc": "Ioc", "Gtc": "Gtc", "FrontendMarket": "Ioc", "LiquidationMarket": "Ioc"}
_U64 = 1 << 64
T = TypeVar("T")


def is_address(x: object) -> bool:
    return isinstance(x, str) and _ADDRESS.match(x) is not None


def address(x: object) -> str:
    """A 0x-40-hex address, lower-cased."""
    if not is_address(x):
        raise bad_request()
    return x.lower()  # type: ignore[union-attr]


def uint(x: object) -> int:
    if isinstance(x, bool) or not isinstance(x, int) or not 0 <= x < _U64:
        raise bad_request()
    return x


def opt_uint(x: object) -> int | None:
    return None if x is None else uint(x)


def boolean(x: object) -> bool:
    if not isinstance(x, bool):
        raise bad_request()
    return x


def string(x: object) -> str:
    if not isinstance(x, str):
        raise bad_request()
    return x


def obj(x: object) -> dict:
    if not isinstance(x, dict):
        raise bad_request()
    return x


def array(x: object) -> list:
    if not isinstance(x, list):
        raise bad_request()
    return x


def cloid(x: object) -> str:
    if not isinstance(x, str) or _CLOID.match(x) is None:
        raise bad_request()
    return x.lower()


def choice(x: object, table: Mapping[str, T]) -> T | None:
    """``table[x]`` when ``x`` is one of its string keys, else None (a JSON array or object
    sent where a name belongs is a bad body, not an unhashable-key crash)."""
    return table.get(x) if isinstance(x, str) else None


def oid_or_cloid(x: object) -> int | str:
    return cloid(x) if isinstance(x, str) else uint(x)


class OrderWire(NamedTuple):
    """A received order wire, structure checked; ``p``/``s`` still the strings as sent."""

    asset: int
    is_buy: bool
    p: str
    s: str
    reduce_only: bool
    tif: str | None      # None for a trigger order
    cloid: str | None


def order_wire(w: Any) -> OrderWire:
    w = obj(w)
    for key in ("a", "b", "p", "s", "r", "t"):
        if key not in w:
            raise bad_request()
    t = obj(w["t"])
    if len(t) != 1:
        raise bad_request()
    if "limit" in t:
        limit = obj(t["limit"])
        tif = choice(limit.get("tif"), TIFS)
        if tif is None:
            raise bad_request()
    elif "trigger" in t:
        trig = obj(t["trigger"])
        boolean(trig.get("isMarket"))
        string(trig.get("triggerPx"))
        if trig.get("tpsl") not in ("tp", "sl"):
            raise bad_request()
        tif = None
    else:
        raise bad_request()
    return OrderWire(uint(w["a"]), boolean(w["b"]), string(w["p"]), string(w["s"]), boolean(w["r"]), tif,
                     cloid(w["c"]) if w.get("c") is not None else None)


def grouping(x: object) -> str:
    """"na" | "normalTpsl" | "positionTpsl" | {"p": int} (returned as "p")."""
    if x in ("na", "normalTpsl", "positionTpsl"):
        return x  # type: ignore[return-value]
    if isinstance(x, dict) and set(x) == {"p"}:
        uint(x["p"])
        return "p"
    raise bad_request()
