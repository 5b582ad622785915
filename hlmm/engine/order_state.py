"""One tracked order: its states, its legs and the exchange's order-status vocabulary.

An order is tracked from the moment hlmm decides to send it (``pending``, with its cloid
already known) until the exchange says it is over. States::

    pending ──► resting ──► partially_filled ──► filled
       │           │               │
       │           └───────────────┴──► cancelled
       ├──► rejected
       └──► unknown  (the request's answer never came: NOT a rejection)

``unknown`` also follows a modify or a cancel whose answer never came. It lasts until the
exchange resolves it: an ``orderUpdates`` frame, an ``orderStatus`` answer, a fill, or the
safety sync. Live states are pending, resting, partially_filled and unknown: each of them
holds the order's ladder slot.

A Hyperliquid modify is a cancel-replace: the order keeps its cloid and gets a new oid. The
tracked order therefore has *legs*: ``oid`` is the current leg's, ``old_oids`` the replaced
ones, whose late ``canceled`` updates and fills are recognised as belonging to an old leg.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Mapping

BID, ASK = 0, 1
SIDE_NAMES = ("bid", "ask")


class OrderState(str, enum.Enum):
    """The lifecycle state of a tracked order (values are the names used in logs)."""

    PENDING = "pending"
    RESTING = "resting"
    PARTIAL = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    UNKNOWN = "unknown"


LIVE_STATES = frozenset({OrderState.PENDING, OrderState.RESTING, OrderState.PARTIAL, OrderState.UNKNOWN})
TERMINAL_STATES = frozenset({OrderState.FILLED, OrderState.CANCELLED, OrderState.REJECTED})

# Hyperliquid's order status vocabulary (reference §2 orderStatus / orderUpdates).
OPEN_STATUSES = frozenset({"open", "triggered"})
FILLED_STATUSES = frozenset({"filled"})
CANCEL_STATUSES = frozenset({
    "canceled", "marginCanceled", "vaultWithdrawalCanceled", "openInterestCapCanceled", "selfTradeCanceled",
    "reduceOnlyCanceled", "siblingFilledCanceled", "delistedCanceled", "liquidatedCanceled", "scheduledCancel",
})
REJECT_STATUSES = frozenset({
    "rejected", "tickRejected", "minTradeNtlRejected", "perpMarginRejected", "reduceOnlyRejected",
    "badAloPxRejected", "iocCancelRejected", "badTriggerPxRejected", "marketOrderNoLiquidityRejected",
    "positionIncreaseAtOpenInterestCapRejected", "positionFlipAtOpenInterestCapRejected",
    "tooAggressiveAtOpenInterestCapRejected", "openInterestIncreaseRejected",
    "insufficientSpotBalanceRejected", "oracleRejected", "perpMaxPositionRejected",
})


def classify_status(status: str) -> OrderState | None:
    """The state an exchange status string means: RESTING (open), FILLED, CANCELLED, REJECTED.

    Statuses newer than the reference are classified by their suffix (``...Canceled`` /
    ``...Cancel`` / ``...Rejected``); anything else returns None (the caller logs it and
    keeps the order's state).
    """
    if status in OPEN_STATUSES:
        return OrderState.RESTING
    if status in FILLED_STATUSES:
        return OrderState.FILLED
    if status in CANCEL_STATUSES or status.endswith("Canceled") or status.endswith("Cancel"):
        return OrderState.CANCELLED
    if status in REJECT_STATUSES or status.endswith("Rejected"):
        return OrderState.REJECTED
    return None


# Texts with which the exchange says an order is no longer open (cancel or modify of it failed).
GONE_TEXTS = (
    "Order was never placed, already canceled, or filled.",
    "Cannot modify canceled or filled order.",
)


def parse_order_status(entry: Mapping[str, Any]) -> tuple[Mapping[str, Any], int, str, int]:
    """``(order, oid, status, statusTimestamp)`` of an ``orderUpdates`` entry or an ``orderStatus``
    answer's ``order`` body (same layout); raises KeyError/TypeError/ValueError/AttributeError."""
    order = entry["order"]
    return order, int(order["oid"]), str(entry["status"]), int(entry.get("statusTimestamp") or 0)


def says_order_gone(text: str | None) -> bool:
    """True if an error text means the order was not open any more (filled or cancelled)."""
    return bool(text) and any(text.startswith(t[:-1]) for t in GONE_TEXTS)


class SlotConflict(RuntimeError):
    """Two live orders would serve one ladder slot: a bug in the caller's plan."""


@dataclass(slots=True)
class PendingModify:
    """A modify sent (or timed out) for an order: the new leg's price, size and prediction."""

    px_units: int
    sz_lots: int
    prediction_id: int
    batch_id: int
    old_leg_gone: bool = False  # the old oid's cancellation was seen (the modify's cancel half)


@dataclass(slots=True, eq=False)
class TrackedOrder:
    """One order hlmm placed (or adopted), with everything needed to resolve it."""

    handle: int                 # the manager's id (also the LiveSide handle)
    cloid: str | None           # None only for adopted foreign orders without one
    coin: str
    asset_id: int
    side: int                   # BID (buy) / ASK (sell)
    px_units: int               # current leg's limit price
    sz_lots: int                # current leg's size as placed
    tif: str
    reduce_only: bool
    prediction_id: int          # current leg's prediction (0 = none)
    slot: int | None            # ladder level it serves; None = none (adopted, or being cancelled)
    state: OrderState
    created_ms: int
    updated_ms: int
    oid: int | None = None
    filled_lots: int = 0        # current leg, from fills
    filled_total_lots: int = 0  # all legs, from fills
    reported_lots: int | None = None  # smallest remaining size the exchange reported for this leg
    status_ts: int = 0          # statusTimestamp of the last exchange status applied
    inflight: str | None = None  # "place" | "modify" | "cancel" while an answer is awaited
    inflight_batch: int | None = None
    unknown_action: str | None = None  # the action whose answer never came (state UNKNOWN)
    unknown_since_ms: int = 0
    pending_modify: PendingModify | None = None
    old_oids: list[int] = field(default_factory=list)
    leg_predictions: dict[int, int] = field(default_factory=dict)  # oid -> prediction of that leg
    reason: str = ""            # final status or error text
    adopted: bool = False
    doomed: bool = False        # cancel whatever the target (orphan under on_start = "cancel")
    last_query_ms: int = 0
    sent_ms: int = 0            # when the current action was submitted
    cancel_hold_until_ms: int = 0  # a refused cancel is not re-sent before this (0 = no hold)
    cancel_failures: int = 0    # refused cancels in a row (sets the next hold)

    @property
    def is_buy(self) -> bool:
        return self.side == BID

    @property
    def live(self) -> bool:
        return self.state in LIVE_STATES

    @property
    def frozen(self) -> bool:
        """An answer is awaited, the outcome is unknown, or a refused cancel waits out its hold: the
        reconciler must not touch it (nor give its slot away: it is still on the book)."""
        return self.inflight is not None or self.state in (OrderState.PENDING, OrderState.UNKNOWN) or \
            self.cancel_hold_until_ms > 0

    @property
    def remaining_lots(self) -> int:
        """Size still on the book for the current leg (never below 0)."""
        left = self.sz_lots - self.filled_lots
        if self.reported_lots is not None and self.reported_lots < left:
            left = self.reported_lots
        return left if left > 0 else 0

    @property
    def exposure_lots(self) -> int:
        """Worst-case size that could still fill: a pending modify may land either way."""
        left = self.remaining_lots
        if self.pending_modify is not None and self.pending_modify.sz_lots > left:
            return self.pending_modify.sz_lots
        return left

    def describe(self) -> str:
        return (f"{self.coin} {SIDE_NAMES[self.side]} cloid={self.cloid} oid={self.oid} "
                f"state={self.state.value} slot={self.slot}")
