"""The reconciler: a target ladder vs the live orders of one coin -> a :class:`~hlmm.engine.plan.Plan`.

The diff itself runs in C (``hlmm._core.reconcile``): frozen orders (in flight / unknown)
hold their slots, doomed orders are cancelled, live orders are matched to target levels by
price (within ``price_tolerance_bps``) and size (within ``size_tolerance``, a fraction) to
maximise keeps, and the rest is paired touch first into modifies, with extra orders cancelled
and extra levels placed.

Then one cost question: a pair (live order, target level) can move by a modify (1 address
request, in a batchModify action) or by cancel + place (2 address requests, folded into the
cancel and order actions the plan may send anyway). Hyperliquid's batchModify keeps one
request per order (reference §7), so:

    modify mode:        PlanCost.of(cancels,     modifies, places)
    cancel_place mode:  PlanCost.of(cancels + m, 0,        places + m)

``prefer="address"`` (the default: the address budget is the scarce one, 10000 + volume)
minimises address requests, then IP weight; ``prefer="ip"`` the other way round (when the IP
window is the tighter one, ``RateBudget.scarcer()``). The plan records the mode it chose.
Output order is deterministic: bids then asks, touch first.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from hlmm._core.ladder import Ladder
from hlmm._core.reconcile import SideDiff, diff_arrays, diff_ladder
from hlmm.engine.order_state import ASK, BID
from hlmm.engine.orders import OrderManager
from hlmm.engine.plan import Cancel, Modify, Place, Plan, PlanCost
from hlmm.log import get_logger

log = get_logger("engine.reconcile")


@dataclass(frozen=True, slots=True)
class Target:
    """A target ladder given as arrays per side, level order (touch first): price units and size
    lots (0 lots = no order at that level)."""

    bid_px: Sequence[int]
    bid_sz: Sequence[int]
    ask_px: Sequence[int]
    ask_sz: Sequence[int]

    @staticmethod
    def empty() -> "Target":
        """No order wanted on either side (everything movable is cancelled)."""
        return Target((), (), (), ())


def choose_mode(n_cancel: int, n_modify: int, n_place: int, prefer: str = "address") -> tuple[str, PlanCost]:
    """``("modify" | "cancel_place", cost)``: the cheaper way to move ``n_modify`` mispriced orders."""
    as_modify = PlanCost.of(n_cancel, n_modify, n_place)
    if n_modify == 0:
        return "modify", as_modify
    as_cp = PlanCost.of(n_cancel + n_modify, 0, n_place + n_modify)
    if prefer == "ip":
        key_m, key_c = (as_modify.ip_weight, as_modify.address_requests), (as_cp.ip_weight, as_cp.address_requests)
    else:
        key_m, key_c = (as_modify.address_requests, as_modify.ip_weight), (as_cp.address_requests, as_cp.ip_weight)
    return ("cancel_place", as_cp) if key_c < key_m else ("modify", as_modify)


def _level(p: Place) -> int:
    return p.level


class Reconciler:
    """Builds the plan of one coin from its target and the order manager's live orders."""

    def __init__(self, manager: OrderManager, *, price_tolerance_bps: float = 1.0, size_tolerance: float = 0.1,
                 default_tif: str = "Alo") -> None:
        if not (price_tolerance_bps >= 0 and 0 <= size_tolerance < 1):
            raise ValueError(f"price_tolerance_bps must be >= 0 and size_tolerance in [0, 1), got "
                             f"{price_tolerance_bps}, {size_tolerance}")
        self.manager = manager
        self.price_tolerance_bps = float(price_tolerance_bps)
        self.size_tolerance = float(size_tolerance)
        self.default_tif = default_tif
        self._diffs: dict[str, tuple[SideDiff, SideDiff]] = {}

    def plan(self, coin: str, target: Ladder | Target, *, mid_units: int = 0, prefer: str = "address",
             price_tolerance_bps: float | None = None, size_tolerance: float | None = None) -> Plan:
        """The plan for ``coin``: a computed :class:`Ladder` (read in place) or a :class:`Target`.

        ``mid_units``: the current mid in price units; a live order on the wrong side of it is
        never kept. ``prefer``: which budget to spare first (see the module doc).
        """
        ptol = self.price_tolerance_bps if price_tolerance_bps is None else price_tolerance_bps
        stol = self.size_tolerance if size_tolerance is None else size_tolerance
        pair = self._diffs.get(coin)
        if pair is None:
            pair = self._diffs[coin] = (SideDiff(), SideDiff())
        bids = self.manager.live_side(coin, BID)
        asks = self.manager.live_side(coin, ASK)
        if isinstance(target, Ladder):
            db, da = diff_ladder(target, bids, asks, ptol, stol, mid_units, pair[0], pair[1])
            ladder: Any = target
        else:
            db = diff_arrays(np.asarray(target.bid_px, dtype=np.int64), np.asarray(target.bid_sz, dtype=np.int64),
                             bids, ptol, stol, mid_units, pair[0])
            da = diff_arrays(np.asarray(target.ask_px, dtype=np.int64), np.asarray(target.ask_sz, dtype=np.int64),
                             asks, ptol, stol, mid_units, pair[1])
            ladder = None
        plan = Plan(coin, kept=db.n_keep + da.n_keep, frozen=db.n_frozen + da.n_frozen,
                    blocked=db.n_blocked + da.n_blocked, ladder=ladder)
        if db.empty and da.empty and db.n_relabel == 0 and da.n_relabel == 0:
            return plan
        n_mod = db.n_modify + da.n_modify
        mode, _ = choose_mode(db.n_cancel + da.n_cancel, n_mod, db.n_place + da.n_place, prefer)
        plan.mode = mode
        for side, d in ((BID, db), (ASK, da)):
            if d.empty and d.n_relabel == 0:
                continue
            relabels, modifies, cancels, places = d.intents(coin, Modify, Place, Cancel, self.default_tif)
            plan.relabels.extend(relabels)
            plan.cancels.extend(cancels)
            if mode == "modify":
                plan.modifies.extend(modifies)
            else:
                for m in modifies:
                    plan.cancels.append(Cancel(m.handle, coin, side, "requote"))
                    places.append(Place(coin, side, m.level, m.px_units, m.sz_lots, False, self.default_tif))
                places.sort(key=_level)
            plan.places.extend(places)
        if log.enabled("debug"):
            log.debug("reconcile_diff", coin=coin, **plan.summary())
        return plan
