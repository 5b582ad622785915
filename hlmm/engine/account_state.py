"""What the ladder needs to know about the account for one coin: position, free margin, in-flight orders.

``AccountState`` is a frozen value the quote cycle hands to
:meth:`hlmm.engine.market_model.MarketModel.params`.  Its ``available_margin`` is the
exchange's own figure, used as is: the exchange already nets the margin of open positions
out of it, so nothing downstream may subtract position margin again (DESIGN §5: "margin
counted twice").

Build one from a ``clearinghouseState`` answer with :meth:`AccountState.from_clearinghouse`
(the engine's safety sync), or for a what-if with :meth:`AccountState.hypothetical`
(``hlmm ladder-preview``: no key, no account).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from hlmm.errors import InputError


class AccountStateError(InputError):
    """An account figure is unusable (not finite, negative where it cannot be, unparsable)."""


def _finite(name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise AccountStateError(f"AccountState.{name} must be a number, got {value!r}")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise AccountStateError(f"AccountState.{name} must be a number, got {value!r}") from None
    if not math.isfinite(x):
        raise AccountStateError(f"AccountState.{name} must be finite, got {value!r}")
    return x


@dataclass(frozen=True, slots=True)
class AccountState:
    """The account as the ladder sees it, for one coin.

    position: signed coins (+ long).
    available_margin: USD the exchange reports as free (``withdrawable``), as is.
    inflight_bid / inflight_ask: coins of our buy / sell orders that stay live or are in
        flight this cycle (they use position room).
    account_value: USD, informational (reports and the preview), may be None.
    """

    position: float = 0.0
    available_margin: float = 0.0
    inflight_bid: float = 0.0
    inflight_ask: float = 0.0
    account_value: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "position", _finite("position", self.position))
        for name in ("available_margin", "inflight_bid", "inflight_ask"):
            value = _finite(name, getattr(self, name))
            if value < 0:
                raise AccountStateError(f"AccountState.{name} must be >= 0, got {value!r}")
            object.__setattr__(self, name, value)
        if self.account_value is not None:
            object.__setattr__(self, "account_value", _finite("account_value", self.account_value))

    @classmethod
    def from_clearinghouse(cls, state: Mapping[str, Any], coin: str, *, inflight_bid: float = 0.0,
                           inflight_ask: float = 0.0) -> "AccountState":
        """From a ``clearinghouseState`` answer: ``coin``'s ``szi`` as the position, the
        exchange's ``withdrawable`` as the available margin (as is) and
        ``marginSummary.accountValue`` as the account value."""
        if not isinstance(state, Mapping):
            raise AccountStateError(f"clearinghouseState must be an object, got {type(state).__name__}")
        position = 0.0
        for i, entry in enumerate(state.get("assetPositions") or []):
            pos = entry.get("position") if isinstance(entry, Mapping) else None
            if not isinstance(pos, Mapping):
                raise AccountStateError(f"clearinghouseState.assetPositions[{i}] has no 'position' object")
            if pos.get("coin") == coin:
                position = _finite(f"position ({coin} szi)", pos.get("szi"))
        if "withdrawable" not in state:
            raise AccountStateError("clearinghouseState has no 'withdrawable' (the exchange's free margin)")
        available = _finite("available_margin (withdrawable)", state["withdrawable"])
        summary = state.get("marginSummary")
        value = None
        if isinstance(summary, Mapping) and "accountValue" in summary:
            value = _finite("account_value (marginSummary.accountValue)", summary["accountValue"])
        return cls(position, max(0.0, available), inflight_bid, inflight_ask, value)

    @classmethod
    def hypothetical(cls, account_value: float, position: float, mark_px: float,
                     leverage: float) -> "AccountState":
        """A what-if account of ``account_value`` USD holding ``position`` coins: the free margin
        the exchange would report, ``account_value - |position| * mark_px / leverage`` (at least
        0).  This stands in for the exchange's figure when there is no account to ask; the
        ladder then uses it as is, like the real one."""
        value = _finite("account_value", account_value)
        pos = _finite("position", position)
        px = _finite("mark_px", mark_px)
        lev = _finite("leverage", leverage)
        if value < 0:
            raise AccountStateError(f"account value must be >= 0 USD, got {account_value!r}")
        if px <= 0 or lev <= 0:
            raise AccountStateError(f"mark price and leverage must be > 0, got {mark_px!r} and {leverage!r}")
        return cls(pos, max(0.0, value - abs(pos) * px / lev), 0.0, 0.0, value)

    def to_dict(self) -> dict[str, Any]:
        return {"position": self.position, "available_margin": self.available_margin,
                "inflight_bid": self.inflight_bid, "inflight_ask": self.inflight_ask,
                "account_value": self.account_value}
