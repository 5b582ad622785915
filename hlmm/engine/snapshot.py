"""The frozen per-cycle inputs of the quote cycle: what the market looks like right now.

The loop fills a :class:`MarketInputs` per coin from its book and estimators at one instant
(every signal sampled together, so toxicity, flow and the book agree) and hands it to
``Engine.quote_cycle``. The engine adds the risk state it owns (exact position, orders in
flight, margin, allowed leverage, time-of-day gamma) and freezes the ladder's
``MarketParams`` from both: nothing the cycle reads can change under it.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True, slots=True)
class MarketInputs:
    """One coin's market estimates at ``now_ms`` (units as in ``hlmm._core.ladder.MarketParams``).

    ``book_ms``: local time the book last changed (the stale-book gate compares it with
    ``now_ms``). ``warm``: the estimators met their warm-up requirements (``warm_detail`` says
    what is missing when not).
    """

    coin: str
    now_ms: int
    mid: float
    sigma: float                 # per sqrt(second), log-return units
    kappa: float                 # per bps
    A: float                     # fills per second at the touch
    as_bps: float                # adverse move of an informed fill, bps
    book_ms: int
    microprice: float | None = None
    regime: int | str = 1
    tox_bid: float = 0.0
    tox_ask: float = 0.0
    market_spread_bps: float = 0.0
    warm: bool = True
    warm_detail: str = ""

    def replace(self, **changes: Any) -> "MarketInputs":
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    """The account as the last ``clearinghouseState`` reported it (``time_ms`` exchange time)."""

    account_value: float
    available_margin: float      # the exchange's figure as is: it already nets position margin
    time_ms: int
