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

from dataclasses import dataclass
from typing import Protocol

from hlmm._core.ladder import Ladder, MarketParams
from hlmm.engine.account_state import AccountState
from hlmm.engine.market_model import MarketModel, QuoteExplanation
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


@dataclass(frozen=True)
class Quote:
    """A strategy's answer: the target (a computed ladder, or arrays of price units / lots per
    side, touch first) and, when the model made it, the snapshot and its explanation."""

    target: Ladder | Target
    params: MarketParams | None = None
    explanation: QuoteExplanation | None = None

    @property
    def ladder(self) -> Ladder | None:
        return self.target if isinstance(self.target, Ladder) else None


class Strategy(Protocol):
    """Anything with ``quote(ctx) -> Quote``."""

    def quote(self, ctx: QuoteContext) -> Quote:
        """The target for ``ctx.coin`` this cycle (raise ``MarketNotReady`` when there is none)."""


class ModelStrategy:
    """The default: the market model's GLFT spreads and Kelly sizes (``MarketModel.quote``)."""

    def quote(self, ctx: QuoteContext) -> Quote:
        # now_ms=None: the model's own newest exchange time, so equal inputs give equal ladders
        # (hlmm ladder-preview quotes the same way)
        params, ladder, why = ctx.model.quote(ctx.account, warmup=False)   # the engine tracks warm-up itself
        return Quote(ladder, params, why)

    def __repr__(self) -> str:
        return "ModelStrategy()"
