"""What one quote cycle wants to send: keep / modify / cancel / place intents, their cost, and
the gates' verdicts on them.

The reconciler (``hlmm.engine.reconcile``) produces a :class:`Plan` per coin; the gates
(``hlmm.engine.gates``) return a filtered plan with one :class:`Decision` per intent they held
back or changed; the order manager turns the gated plan into the action dicts it sends
(``OrderManager.submit``), assigning cloids there, after the gates, so no prediction is
recorded for an order that is never sent.

Cost (reference §7): an action with n items costs n address requests and ``1 + n // 40`` IP
weight; a plan sends at most one action per kind (cancel, batchModify, order).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from hlmm.engine.order_state import SIDE_NAMES

IP_BATCH_STEP = 40  # one more IP weight per 40 items in one action


def action_weight(n: int) -> int:
    """IP weight of one /exchange action with n items (0 when nothing is sent)."""
    return 1 + n // IP_BATCH_STEP if n > 0 else 0


@dataclass(frozen=True, slots=True)
class PlanCost:
    """Address requests and IP weight a plan spends, and the number of actions it sends."""

    address_requests: int
    ip_weight: int
    actions: int

    @staticmethod
    def of(n_cancel: int, n_modify: int, n_place: int) -> "PlanCost":
        """The cost of one cancel, one batchModify and one order action of these sizes."""
        return PlanCost(
            n_cancel + n_modify + n_place,
            action_weight(n_cancel) + action_weight(n_modify) + action_weight(n_place),
            (n_cancel > 0) + (n_modify > 0) + (n_place > 0),
        )

    def __add__(self, other: "PlanCost") -> "PlanCost":
        return PlanCost(self.address_requests + other.address_requests, self.ip_weight + other.ip_weight,
                        self.actions + other.actions)


# The intents are NamedTuples: immutable, and cheap to build (a full reprice builds 50 of them
# per cycle; a frozen dataclass costs ~4x more per instance).

class Place(NamedTuple):
    """A new order for a ladder level (``side`` 0 bid, 1 ask)."""

    coin: str
    side: int
    level: int
    px_units: int
    sz_lots: int
    reduce_only: bool = False
    tif: str = "Alo"


class Modify(NamedTuple):
    """Move a live order (``handle``) to a level's price and size (a cancel-replace on the exchange)."""

    handle: int
    coin: str
    side: int
    level: int
    px_units: int
    sz_lots: int
    old_px_units: int
    old_sz_lots: int
    reduce_only: bool = False


class Cancel(NamedTuple):
    """Cancel a live order; ``reason`` says why (``reconcile``, ``orphan``, ``requote``, or a gate's name)."""

    handle: int
    coin: str
    side: int
    reason: str = "reconcile"


class Decision(NamedTuple):
    """A gate's verdict on one intent: ``approved`` (changed but sent), ``deferred`` (not sent this
    cycle), ``converted`` (a keep or modify turned into a cancel) or ``rejected``."""

    kind: str           # place | modify | keep | cancel
    coin: str
    side: int
    level: int | None
    verdict: str
    gate: str
    reason: str
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "coin": self.coin, "side": SIDE_NAMES[self.side], "level": self.level,
                "verdict": self.verdict, "gate": self.gate, "reason": self.reason, "detail": self.detail}


@dataclass(slots=True)
class Plan:
    """The diff of one coin's target ladder against its live orders, in send order."""

    coin: str
    relabels: list[tuple[int, int]] = field(default_factory=list)   # kept orders changing slot
    modifies: list[Modify] = field(default_factory=list)
    cancels: list[Cancel] = field(default_factory=list)
    places: list[Place] = field(default_factory=list)
    kept: int = 0
    frozen: int = 0
    blocked: int = 0
    mode: str = "modify"            # "modify" or "cancel_place": how mispriced orders are moved
    decisions: list[Decision] = field(default_factory=list)
    ladder: Any = None              # the hlmm._core.ladder.Ladder the target came from, if any

    @property
    def cost(self) -> PlanCost:
        return PlanCost.of(len(self.cancels), len(self.modifies), len(self.places))

    @property
    def empty(self) -> bool:
        """Nothing to send (relabels alone change no exchange state)."""
        return not (self.modifies or self.cancels or self.places)

    @property
    def requotes(self) -> int:
        """Modifies plus places: the part of the plan a rate throttle may hold back."""
        return len(self.modifies) + len(self.places)

    def summary(self) -> dict[str, Any]:
        """Counts for the ``reconcile_diff`` log event."""
        return {"keep": self.kept, "modify": len(self.modifies), "cancel": len(self.cancels),
                "place": len(self.places)}

    def explain(self) -> list[dict[str, Any]]:
        """Every gate decision as a dict (what was held back or changed, and why)."""
        return [d.to_dict() for d in self.decisions]
