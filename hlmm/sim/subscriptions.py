"""WebSocket subscriptions the sim serves: validation, routing keys, refusal texts.

A subscription object becomes a routing key (a tuple) that the server indexes its
sockets by, and that the exchange's listener events map onto:
``("allMids",)``, ``("l2Book", coin, nSigFigs, mantissa)``, ``("trades"|"bbo", coin)``,
``("orderUpdates"|"userFills"|"userEvents", lower-case user)``.  A refused one raises
``SubscriptionError`` whose text goes to the client in an ``error`` frame.
"""
from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

import orjson

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
# subscription type -> the string field that names its coin or user (None: allMids)
SUBSCRIPTION_FIELD: dict[str, str | None] = {
    "allMids": None,
    "l2Book": "coin",
    "trades": "coin",
    "bbo": "coin",
    "orderUpdates": "user",
    "userFills": "user",
    "userEvents": "user",
}
# exchange listener channel -> subscription type that receives it
CHANNEL_TO_SUBSCRIPTION = {
    "trades": "trades",
    "bbo": "bbo",
    "orderUpdates": "orderUpdates",
    "userFills": "userFills",
    "user": "userEvents",
    "allMids": "allMids",
}
KNOWN_UNSERVED = {
    "candle", "activeAssetCtx", "activeAssetData", "webData2", "webData3", "notification",
    "userFundings", "userNonFundingLedgerUpdates", "twapStates", "clearinghouseState",
    "openOrders", "userTwapSliceFills", "userTwapHistory", "spotState",
    "allDexsClearinghouseState", "allDexsAssetCtxs", "fastAssetCtxs",
}

USER_SUBSCRIPTIONS = frozenset({"orderUpdates", "userFills", "userEvents"})


class SubscriptionError(ValueError):
    """A subscribe/unsubscribe request the server refuses; the text goes to the client."""


def subscription_key(sub: Any, coins: Collection[str]) -> tuple:
    """Validate a subscription object against the sim's ``coins``; return its routing key."""
    shown = orjson.dumps(sub).decode() if sub is not None else "null"
    if not isinstance(sub, dict) or not isinstance(sub.get("type"), str):
        raise SubscriptionError(f"Invalid subscription: expected an object with a type: {shown}")
    kind = sub["type"]
    if kind in KNOWN_UNSERVED:
        raise SubscriptionError(f"Subscription type {kind} is not served by the sim: {shown}")
    if kind not in SUBSCRIPTION_FIELD:
        raise SubscriptionError(f"Invalid subscription: unknown type {kind!r}: {shown}")
    need = SUBSCRIPTION_FIELD[kind]
    if need is None:
        dex = sub.get("dex", "")
        if dex not in ("", None):
            raise SubscriptionError(f"Invalid subscription: unknown dex {dex!r}: {shown}")
        return ("allMids",)
    value = sub.get(need)
    if not isinstance(value, str):
        raise SubscriptionError(f"Invalid subscription: missing field {need}: {shown}")
    if need == "user":
        if not _ADDRESS.match(value):
            raise SubscriptionError(f"Invalid subscription: user must be a 0x address: {shown}")
        return (kind, value.lower())
    if value not in coins:
        raise SubscriptionError(f"Invalid subscription: unknown coin {value!r}: {shown}")
    if kind != "l2Book":
        return (kind, value)
    n_sig, mantissa = sub.get("nSigFigs"), sub.get("mantissa")
    if n_sig not in (None, 2, 3, 4, 5) or isinstance(n_sig, bool):
        raise SubscriptionError(f"Invalid subscription: nSigFigs must be 2, 3, 4, 5 or null: {shown}")
    if mantissa is not None and (n_sig != 5 or mantissa not in (1, 2, 5) or isinstance(mantissa, bool)):
        raise SubscriptionError(f"Invalid subscription: mantissa must be 1, 2 or 5 and needs nSigFigs 5: {shown}")
    return ("l2Book", value, n_sig, mantissa)
