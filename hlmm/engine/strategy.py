"""The strategy hook: what ladder to quote for one coin, given the market model and the account.

The engine asks its strategy once per quote cycle per coin. The default,
:class:`ModelStrategy`, is the GLFT/Kelly ladder of :meth:`MarketModel.quote` — the same code
path as ``hlmm ladder-preview``. An embedder replaces it with any object that has a
``quote(ctx) -> Quote`` method::

    class Tight:
        def quote(self, ctx: QuoteContext) -> Quote:
            params, ladder, why = ctx.model.quote(ctx.account)        # start from the model...
            mid = ctx.model.book.mid()
            bid = wire.price_units(mid * (1 - 5e-4), ctx.asset, wire.DOWN)   # ...or build your own
            ask = wire.price_units(mid * (1 + 5e-4), ctx.asset, wire.UP)
            lots = wire.size_lots(15 / mid, ctx.asset)
            return Quote(Target([bid], [lots], [ask], [lots]))

Whatever the strategy returns still goes through the reconciler, every gate (kill switch,
stale book, warm-up, position limit, rate budget...) and the one rounding path's checks; a
level that is not a valid order is dropped with the exchange's reason. Predictions for the
calibration store are recorded only for a :class:`~hlmm._core.ladder.Ladder` target (it
carries fill probabilities); a raising strategy pulls the coin's quotes for that cycle.
"""
from __future__ import annotations

from dataclasses import FrozenInstanceError, dataclass
from typing import Protocol

from hlmm._core.ladder import Ladder, MarketParams
from hlmm.engine.account_state import AccountState
from hlmm.engine.market_model import DeferredExplanation, MarketModel, QuoteExplanation
from hlmm.engine.reconcile import Target
from hlmm.exchange.assets import AssetInfo


@dataclass(frozen=True)
class QuoteContext:
    """What a strategy sees: the coin's model (book and estimators), the account, the clock."""

    coin: str
    now_ms: int
    asset: AssetInfo
    model: MarketModel
    account: AccountState
    max_position: float          # coins (risk.max_position_usd at the mid)


class Quote:
    """A strategy's answer: the target (a computed ladder, or arrays of price units / lots per
    side, touch first) and, when the model made it, the snapshot and its explanation.

    The explanation is given written (``explanation``) or deferred (``deferred``, from
    :meth:`MarketModel.quote_deferred`: written on first read of :attr:`explanation`). Frozen.
    """

    __slots__ = ("target", "params", "_why")

    def __init__(self, target: Ladder | Target, params: MarketParams | None = None,
                 explanation: QuoteExplanation | None = None, *, deferred: DeferredExplanation | None = None) -> None:
        if explanation is not None and deferred is not None:
            raise ValueError("Quote takes an explanation or a deferred one, not both")
        object.__setattr__(self, "target", target)
        object.__setattr__(self, "params", params)
        object.__setattr__(self, "_why", explanation if deferred is None else deferred)

    @property
    def explanation(self) -> QuoteExplanation | None:
        why = self._why
        return why.build() if isinstance(why, DeferredExplanation) else why

    @property
    def why(self) -> QuoteExplanation | DeferredExplanation | None:
        """The explanation as held, deferred or written: both carry ``regime``, ``sigma_bps``,
        ``toxicity_bid`` and ``toxicity_ask`` (what the engine reads each cycle)."""
        return self._why

    @property
    def ladder(self) -> Ladder | None:
        return self.target if isinstance(self.target, Ladder) else None

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Quote):
            return NotImplemented
        return (self.target, self.params, self.explanation) == (other.target, other.params, other.explanation)

    def __hash__(self) -> int:
        return hash((self.target, self.params, self.explanation))

    def __repr__(self) -> str:
        return f"Quote(target={self.target!r}, params={self.params!r}, explanation={self._why!r})"


class Strategy(Protocol):
    """Anything with ``quote(ctx) -> Quote``."""

    def quote(self, ctx: QuoteContext) -> Quote:
        """The target for ``ctx.coin`` this cycle (raise ``MarketNotReady`` when there is none)."""


class ModelStrategy:
    """The default: the market model's GLFT spreads and Kelly sizes (``MarketModel.quote``)."""

    def quote(self, ctx: QuoteContext) -> Quote:
        # now_ms=None: the model's own newest exchange time, so equal inputs give equal ladders
        # (hlmm ladder-preview quotes the same way)
        # the engine tracks warm-up itself; the explanation is written only if someone reads it
        params, ladder, why = ctx.model.quote_deferred(ctx.account, warmup=False)
        return Quote(ladder, params, deferred=why)

    def __repr__(self) -> str:
        return "ModelStrategy()"
