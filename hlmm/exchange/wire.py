"""The Python face of the one rounding path: every number that reaches the exchange.

Prices and sizes travel as integer price units / lots (see ``hlmm._core.rounding``) and
become Hyperliquid's decimal strings only here, formatted exactly from the integers
("100" not "100.0", "1670.1", "0.0147"; no exponent, no trailing zeros), so no float
formatting drift can reach a signature.

- ``price_units`` / ``size_lots``: float -> integer, directed (bids down, asks up, sizes down).
- ``round_price`` / ``round_size``: the same, back to a float, for Python callers.
- ``price_to_wire`` / ``size_to_wire``: integer -> wire string.
- ``check_order`` / ``check_order_wire``: the exchange's own rejection text for tick, size and
  minimum-notional violations, shared by the client (to not send them) and the simulator.
- ``order_wire`` and the action builders: dicts in msgpack hashing key order (protocol §3).
- ``float_to_wire`` / ``float_to_int_for_hashing`` / ``float_to_usd_int``: the SDK's helpers.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterable, Literal, Mapping, Sequence, Union

from hlmm._core import rounding as _r
from hlmm.exchange.assets import AssetInfo
from hlmm.exchange.cloid import is_valid_cloid

DOWN, NEAREST, UP = -1, 0, 1

# The exchange's per-order rejection texts (protocol reference §3 / §5).
ERR_TICK = "Price must be divisible by tick size."
ERR_MIN_NOTIONAL = "Order must have minimum value of $10."
ERR_MIN_NOTIONAL_SPOT = "Order must have minimum value of 10 {quote_token}."
ERR_INVALID_PRICE = "Order has invalid price."
ERR_INVALID_SIZE = "Order has invalid size."
ERR_ZERO_SIZE = "Order has zero size."

Tif = Literal["Alo", "Ioc", "Gtc"]
TIFS = ("Alo", "Ioc", "Gtc")
Oid = Union[int, str]  # an exchange oid, or a cloid


class InvalidOrderError(ValueError):
    """An order the exchange would reject; ``exchange_text`` is the exchange's own words."""

    def __init__(self, exchange_text: str, detail: str = "") -> None:
        self.exchange_text = exchange_text
        super().__init__(f"{exchange_text} ({detail})" if detail else exchange_text)


# --------------------------------------------------------------------------- SDK number helpers

def float_to_wire(x: float) -> str:
    """The SDK's ``float_to_wire``: 8 decimals at most, normalized ("100", "1670.1", "0.00000001").

    Raises ValueError("float_to_wire causes rounding") when x has more precision than
    8 decimals can carry (same test as the SDK: |float(s) - x| >= 1e-12). Identical to the
    SDK for every finite float, including its quirk ``-0.0 -> "-0"``; NaN and infinities
    raise here (the SDK would emit "NaN"/"Infinity", which the exchange rejects).
    Prefer ``price_to_wire`` / ``size_to_wire``, which format from integers.
    """
    if not math.isfinite(x):
        raise ValueError("float_to_wire: not a finite number", x)
    s = f"{x:.8f}"
    if abs(float(s) - x) >= 1e-12:
        raise ValueError("float_to_wire causes rounding", x)
    if len(s) > 37:  # beyond 28 significant digits the SDK's Decimal.normalize() rounds; follow it
        return f"{Decimal(s).normalize():f}"
    s = s.rstrip("0")
    return s[:-1] if s.endswith(".") else s


def float_to_int(x: float, power: int) -> int:
    """round(x * 10**power), refusing when that drops more than 1e-3 (the SDK's rule)."""
    if not math.isfinite(x):
        raise ValueError("float_to_int: not a finite number", x)
    scaled = x * 10**power
    n = round(scaled)
    if abs(n - scaled) >= 1e-3:
        raise ValueError("float_to_int causes rounding", x)
    return n


def float_to_int_for_hashing(x: float) -> int:
    """x * 1e8 as an int (SDK ``float_to_int_for_hashing``)."""
    return float_to_int(x, 8)


def float_to_usd_int(x: float) -> int:
    """USD * 1e6 as an int (SDK ``float_to_usd_int``; e.g. updateIsolatedMargin's ``ntli``)."""
    return float_to_int(x, 6)


# --------------------------------------------------------------------------- rounding

def price_units(px: float, asset: AssetInfo, direction: int) -> int:
    """Float price -> valid price units: -1 down (bids), +1 up (asks), 0 nearest. 0 = no valid price."""
    return _r.py_price_to_units(px, asset.px_decimals, direction)


def size_lots(sz: float, asset: AssetInfo, direction: int = DOWN) -> int:
    """Float size -> lots, down by default (never more than intended). 0 = nothing to send."""
    return _r.py_size_to_lots(sz, asset.sz_decimals, direction)


def round_price(px: float, asset: AssetInfo, direction: int) -> float:
    """The nearest valid price in ``direction``, as a float (0.0 = no valid price)."""
    return _r.py_units_to_price(_r.py_price_to_units(px, asset.px_decimals, direction), asset.px_decimals)


def round_size(sz: float, asset: AssetInfo, direction: int = DOWN) -> float:
    """The size rounded to whole lots (down by default), as a float (0.0 = below one lot)."""
    return _r.py_lots_to_size(_r.py_size_to_lots(sz, asset.sz_decimals, direction), asset.sz_decimals)


def units_to_price(px_units: int, asset: AssetInfo) -> float:
    """Price units -> float."""
    return _r.py_units_to_price(px_units, asset.px_decimals)


def lots_to_size(lots: int, asset: AssetInfo) -> float:
    """Lots -> float."""
    return _r.py_lots_to_size(lots, asset.sz_decimals)


def price_valid(px_units: int, asset: AssetInfo) -> bool:
    """True iff the exchange accepts this price (tick rule)."""
    return _r.py_price_units_valid(px_units, asset.px_decimals)


def min_lots(px_units: int, asset: AssetInfo) -> int:
    """Fewest lots reaching the asset's minimum notional at px_units (0 if px_units <= 0)."""
    return _r.py_min_lots_for_notional(px_units, asset.px_decimals, asset.sz_decimals, asset.min_notional)


# --------------------------------------------------------------------------- wire strings

def price_to_wire(px_units: int, asset: AssetInfo) -> str:
    """A valid price in units -> the exchange's string. Raises InvalidOrderError for an invalid price."""
    if not _r.py_price_units_valid(px_units, asset.px_decimals):
        raise InvalidOrderError(ERR_TICK if px_units > 0 else ERR_INVALID_PRICE,
                                f"{asset.name} price units {px_units} at {asset.px_decimals} decimals")
    return _r.units_to_wire(px_units, asset.px_decimals)


def size_to_wire(lots: int, asset: AssetInfo) -> str:
    """Lots (>= 0) -> the exchange's string ("0.0147"). Raises InvalidOrderError for negative lots."""
    if lots < 0:
        raise InvalidOrderError(ERR_INVALID_SIZE, f"{asset.name} size lots {lots}")
    return _r.units_to_wire(lots, asset.sz_decimals)


_DECIMAL_RE = re.compile(r"-?(\d+)(?:\.(\d+))?")


def wire_to_units(s: str, decimals: int) -> int | None:
    """Parse a wire decimal string exactly into units of 10**-decimals.

    Returns None when the string carries a non-zero digit beyond ``decimals`` (not
    representable: for a price that is a tick violation). Raises ValueError when it is
    not a plain decimal (exponent, sign "+", spaces, "nan", empty). Trailing zeros are
    accepted ("2000.0").
    """
    if not isinstance(s, str):
        raise ValueError(f"expected a decimal string, got {type(s).__name__}")
    m = _DECIMAL_RE.fullmatch(s)
    if m is None:
        raise ValueError(f"not a decimal string: {s[:40]!r}")
    int_part, frac = m.group(1), m.group(2) or ""
    extra = frac[decimals:]
    if extra.strip("0"):
        return None
    frac = frac[:decimals].ljust(decimals, "0")
    v = int(int_part + frac) if decimals else int(int_part)
    return -v if s.startswith("-") else v


# --------------------------------------------------------------------------- validation

def check_order(px_units: int, sz_lots: int, asset: AssetInfo, reduce_only: bool = False) -> str | None:
    """The exchange's rejection text for this order's price, size or notional; None if acceptable.

    Checked in this order: price > 0, tick (<= 5 significant figures unless an integer, at most
    px_decimals decimals), size > 0, minimum notional at the limit price ($10 on perps,
    10 quote tokens on spot). Reduce-only orders skip the minimum-notional check: closing a
    position worth under $10 is reported to be accepted (third-party reports, unconfirmed);
    if the exchange does refuse one, that is a plain rejection, while refusing it here would
    leave dust positions that could never be closed.
    """
    # The core checks int64s; a received string ("9" * 25) can parse to more than that.
    if not _INT64_MIN <= px_units <= _INT64_MAX:
        return ERR_INVALID_PRICE
    if not _INT64_MIN <= sz_lots <= _INT64_MAX:
        return ERR_INVALID_SIZE
    code = _r.py_order_check_code(px_units, sz_lots, asset.px_decimals, asset.sz_decimals,
                                  asset.min_notional, reduce_only)
    if code == 0:
        return None
    if code == _r.ORDER_MIN_NOTIONAL and asset.is_spot:
        return ERR_MIN_NOTIONAL_SPOT.format(quote_token=asset.quote_token)
    return _CHECK_TEXT[code]


_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1

_CHECK_TEXT = {
    _r.ORDER_INVALID_PRICE: ERR_INVALID_PRICE,
    _r.ORDER_TICK: ERR_TICK,
    _r.ORDER_INVALID_SIZE: ERR_INVALID_SIZE,
    _r.ORDER_ZERO_SIZE: ERR_ZERO_SIZE,
    _r.ORDER_MIN_NOTIONAL: ERR_MIN_NOTIONAL,
}


def check_order_wire(p: str, s: str, asset: AssetInfo, reduce_only: bool = False) -> str | None:
    """``check_order`` on the strings of a received order wire (the simulator's entry point)."""
    try:
        px_units = wire_to_units(p, asset.px_decimals)
    except ValueError:
        return ERR_INVALID_PRICE
    if px_units is None:
        return ERR_TICK
    try:
        sz_lots = wire_to_units(s, asset.sz_decimals)
    except ValueError:
        return ERR_INVALID_SIZE
    if sz_lots is None:
        return ERR_INVALID_SIZE
    return check_order(px_units, sz_lots, asset, reduce_only)


# --------------------------------------------------------------------------- order wires and actions

@dataclass(frozen=True, slots=True)
class Trigger:
    """A trigger order type: fires on the mark price at ``trigger_px_units``."""

    trigger_px_units: int
    tpsl: Literal["tp", "sl"]
    is_market: bool = True


def order_type_wire(tif: Tif | Trigger, asset: AssetInfo) -> dict[str, Any]:
    """``{"limit":{"tif":..}}`` or ``{"trigger":{"isMarket","triggerPx","tpsl"}}``."""
    if isinstance(tif, Trigger):
        if tif.tpsl not in ("tp", "sl"):
            raise ValueError(f"trigger tpsl must be 'tp' or 'sl', got {tif.tpsl!r}")
        return {"trigger": {"isMarket": bool(tif.is_market),
                            "triggerPx": price_to_wire(tif.trigger_px_units, asset),
                            "tpsl": tif.tpsl}}
    if tif not in TIFS:
        raise ValueError(f"tif must be one of {', '.join(TIFS)}, got {tif!r}")
    return {"limit": {"tif": tif}}


def order_wire(
    asset_id: int,
    is_buy: bool,
    px_units: int,
    sz_lots: int,
    asset: AssetInfo,
    reduce_only: bool,
    tif: Tif | Trigger,
    cloid: str | None = None,
) -> dict[str, Any]:
    """One order as ``{"a","b","p","s","r","t","c"?}`` (msgpack hashing order).

    Refuses (InvalidOrderError, with the exchange's text) any order ``check_order`` rejects,
    so a wire that exists is one the exchange's price/size rules accept.
    """
    if asset_id != asset.asset_id:
        raise ValueError(f"asset id {asset_id} does not match {asset.name} (id {asset.asset_id})")
    problem = check_order(px_units, sz_lots, asset, reduce_only)
    if problem is not None:
        raise InvalidOrderError(problem, f"{asset.name} px_units={px_units} sz_lots={sz_lots}")
    wire: dict[str, Any] = {
        "a": asset_id,
        "b": bool(is_buy),
        "p": _r.units_to_wire(px_units, asset.px_decimals),
        "s": _r.units_to_wire(sz_lots, asset.sz_decimals),
        "r": bool(reduce_only),
        "t": order_type_wire(tif, asset),
    }
    if cloid is not None:
        if not is_valid_cloid(cloid):
            raise ValueError(f"a cloid is '0x' + 32 lower-case hex digits, got {cloid!r}")
        wire["c"] = cloid
    return wire


def _oid(oid: Oid) -> Oid:
    if isinstance(oid, str):
        if not is_valid_cloid(oid):
            raise ValueError(f"a cloid is '0x' + 32 lower-case hex digits, got {oid!r}")
        return oid
    if isinstance(oid, bool) or not isinstance(oid, int) or oid < 0:
        raise ValueError(f"an oid is a non-negative int or a cloid, got {oid!r}")
    return oid


def _asset_id(a: int) -> int:
    if isinstance(a, bool) or not isinstance(a, int) or a < 0:
        raise ValueError(f"an asset id is a non-negative int, got {a!r}")
    return a


def order_action(
    orders: Sequence[Mapping[str, Any]], grouping: str = "na", builder: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """``{"type":"order","orders":[W..],"grouping":..,"builder"?:{"b":addr,"f":tenths_of_bp}}``."""
    if not orders:
        raise ValueError("an order action needs at least one order")
    if grouping not in ("na", "normalTpsl", "positionTpsl"):
        raise ValueError(f"grouping must be na, normalTpsl or positionTpsl, got {grouping!r}")
    action: dict[str, Any] = {"type": "order", "orders": [dict(w) for w in orders], "grouping": grouping}
    if builder is not None:
        action["builder"] = {"b": str(builder["b"]).lower(), "f": int(builder["f"])}
    return action


def cancel_action(cancels: Iterable[tuple[int, int]]) -> dict[str, Any]:
    """``{"type":"cancel","cancels":[{"a":asset,"o":oid}..]}``."""
    items = [{"a": _asset_id(a), "o": _oid(int(o))} for a, o in cancels]
    if not items:
        raise ValueError("a cancel action needs at least one (asset, oid)")
    return {"type": "cancel", "cancels": items}


def cancel_by_cloid_action(cancels: Iterable[tuple[int, str]]) -> dict[str, Any]:
    """``{"type":"cancelByCloid","cancels":[{"asset":asset,"cloid":cloid}..]}``."""
    items = [{"asset": _asset_id(a), "cloid": _oid(str(c))} for a, c in cancels]
    if not items:
        raise ValueError("a cancelByCloid action needs at least one (asset, cloid)")
    return {"type": "cancelByCloid", "cancels": items}


def modify_action(oid: Oid, order: Mapping[str, Any]) -> dict[str, Any]:
    """``{"type":"modify","oid":oid|cloid,"order":W}``."""
    return {"type": "modify", "oid": _oid(oid), "order": dict(order)}


def batch_modify_action(modifies: Iterable[tuple[Oid, Mapping[str, Any]]]) -> dict[str, Any]:
    """``{"type":"batchModify","modifies":[{"oid":oid|cloid,"order":W}..]}``."""
    items = [{"oid": _oid(oid), "order": dict(w)} for oid, w in modifies]
    if not items:
        raise ValueError("a batchModify action needs at least one (oid, order)")
    return {"type": "batchModify", "modifies": items}


def schedule_cancel_action(time_ms: int | None = None) -> dict[str, Any]:
    """``{"type":"scheduleCancel","time":ms}``; without a time it unsets the dead-man switch."""
    action: dict[str, Any] = {"type": "scheduleCancel"}
    if time_ms is not None:
        if isinstance(time_ms, bool) or not isinstance(time_ms, int) or time_ms < 0:
            raise ValueError(f"scheduleCancel time is a ms timestamp, got {time_ms!r}")
        action["time"] = time_ms
    return action


def update_leverage_action(asset_id: int, is_cross: bool, leverage: int) -> dict[str, Any]:
    """``{"type":"updateLeverage","asset":a,"isCross":bool,"leverage":int}``."""
    if isinstance(leverage, bool) or not isinstance(leverage, int) or leverage < 1:
        raise ValueError(f"leverage is a whole number >= 1, got {leverage!r}")
    return {"type": "updateLeverage", "asset": _asset_id(asset_id), "isCross": bool(is_cross), "leverage": leverage}


def update_isolated_margin_action(asset_id: int, usd: float) -> dict[str, Any]:
    """``{"type":"updateIsolatedMargin","asset":a,"isBuy":true,"ntli":usd*1e6}`` (negative removes)."""
    return {"type": "updateIsolatedMargin", "asset": _asset_id(asset_id), "isBuy": True,
            "ntli": float_to_usd_int(usd)}


def noop_action() -> dict[str, Any]:
    """``{"type":"noop"}``: burns a nonce."""
    return {"type": "noop"}
