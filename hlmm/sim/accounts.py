"""Accounts of the simulated exchange: USDC, cross-margin positions, PnL, fees, funding.

Money is integer micro-USD; positions are signed lots; prices are price units
(see ``hlmm.sim.numbers``).  Since ``px_units * lots`` is micro-USD for perps, all
of the following are exact integers:

* ``Position.basis`` = sum of ``px_units * lots`` over the opening fills of the
  open size (so the entry price is ``basis / |lots|`` units, the size-weighted
  average of the opening fills).  A close of ``c`` lots releases
  ``basis * c / |lots|`` (rounded to a micro-USD) and realizes
  ``side * (px * c - released)``.  A fill that flips the position closes the old
  size in full and opens the rest at the fill price.
* ``Account.cash`` = deposits + realized PnL - fees - funding paid.  Account value
  = cash + unrealized PnL at mark; Hyperliquid's ``totalRawUsd`` = account value -
  signed position value.

Margin (cross only).  A position's leverage is the user's setting capped by the
asset's margin tier at the position's notional.  ``marginUsed`` = position value at
mark / leverage.  For placing orders, an asset requires
``max(|S + B|, |S - A|, |S|) / leverage`` where S is the signed position value at
mark and B / A the notional (at limit price) of the account's resting
non-reduce-only buy / sell orders: the worst of "all my buys fill" and "all my
sells fill".  An order that raises the total requirement above account value is
rejected (``Insufficient margin to place order.``); an order that does not raise
it (e.g. one that reduces) always passes.

Maintenance margin = position value / (2 * tier max leverage) (half the initial
rate at max leverage, reference §8).  The liquidation price is reported; the sim
does not liquidate.
"""
from __future__ import annotations

from collections import deque
from fractions import Fraction

from hlmm.sim.config import AssetConfig
from hlmm.sim.nonces import NonceSet
from hlmm.sim.numbers import MICRO, div_ceil, div_round


def tier_max_leverage(asset: AssetConfig, notional_micro: int) -> int:
    """The margin table's leverage cap at a position notional."""
    lev = asset.max_leverage
    for tier in asset.tiers():
        if notional_micro >= tier.lower_bound_usd * MICRO:
            lev = tier.max_leverage
    return lev


def fill_direction(start_lots: int, is_buy: bool, lots: int) -> str:
    """Hyperliquid's ``dir`` of a perp fill from the position before it."""
    if start_lots == 0:
        return "Open Long" if is_buy else "Open Short"
    if start_lots > 0:
        if is_buy:
            return "Open Long"
        return "Close Long" if lots <= start_lots else "Long > Short"
    if not is_buy:
        return "Open Short"
    return "Close Short" if lots <= -start_lots else "Short > Long"


class Position:
    """One asset's position: signed lots, cost basis and funding counters (micro-USD)."""

    __slots__ = ("lots", "basis", "funding_all", "funding_open", "funding_change")

    def __init__(self) -> None:
        self.lots = 0
        self.basis = 0
        # Funding paid (positive = paid out), since forever / since open / since size change.
        self.funding_all = 0
        self.funding_open = 0
        self.funding_change = 0

    def apply_fill(self, is_buy: bool, px: int, lots: int) -> int:
        """Apply a fill; returns the realized PnL in micro-USD (0 for opening fills)."""
        start = self.lots
        signed = lots if is_buy else -lots
        if start == 0 or (start > 0) == is_buy:
            self.basis += px * lots
            self.lots = start + signed
            self.funding_change = 0
            return 0
        held = abs(start)
        close = min(lots, held)
        released = div_round(self.basis * close, held)
        pnl = (px * close - released) if start > 0 else (released - px * close)
        self.basis -= released
        self.lots = start + signed
        opened = lots - close
        if opened:
            self.basis = px * opened
        if self.lots == 0:
            self.basis = 0
        if self.lots == 0 or opened:
            self.funding_open = 0
        self.funding_change = 0
        return pnl

    def entry_units(self) -> Fraction | None:
        """Entry price in price units (size-weighted over opening fills), None when flat."""
        return Fraction(self.basis, abs(self.lots)) if self.lots else None

    def upnl(self, mark: int) -> int:
        """Unrealized PnL at ``mark`` units, micro-USD."""
        if self.lots > 0:
            return mark * self.lots - self.basis
        if self.lots < 0:
            return self.basis + mark * self.lots
        return 0


class Account:
    """One address: balance, positions, leverage settings, open-order exposure, history."""

    def __init__(self, address: str, owner: int, fills_kept: int) -> None:
        self.address = address        # lower-case 0x...
        self.owner = owner            # small int the matching engine knows it by
        self.cash = 0                 # micro-USD
        self.deposited = False
        self.positions: dict[int, Position] = {}
        self.leverage: dict[int, int] = {}
        # notional (micro) of resting non-reduce-only orders, per asset and side
        self.open_buy_ntl: dict[int, int] = {}
        self.open_sell_ntl: dict[int, int] = {}
        self.cum_vlm = 0              # micro-USD traded (maker + taker)
        self.fills: deque[dict] = deque(maxlen=fills_kept)
        self.fundings: deque[dict] = deque(maxlen=fills_kept)
        self.nonces = NonceSet()
        # name -> agent address ("" = the unnamed agent)
        self.agents: dict[str, str] = {}
        # sub-accounts / vaults this address controls (their addresses)
        self.controls: set[str] = set()
        self.schedule_cancel_at: int | None = None
        self.schedule_fired: tuple[int, int] = (-1, 0)  # (UTC day, triggers that day)
        # address rate limit
        self.n_requests_used = 0
        self.last_throttled_ms: int | None = None

    def position(self, asset: int) -> Position:
        pos = self.positions.get(asset)
        if pos is None:
            pos = self.positions[asset] = Position()
        return pos

    def position_lots(self, asset: int) -> int:
        pos = self.positions.get(asset)
        return pos.lots if pos else 0

    def leverage_for(self, asset: int, default: int, max_leverage: int) -> int:
        return self.leverage.get(asset, min(default, max_leverage))

    # ---- margin --------------------------------------------------------------
    def effective_leverage(self, asset_cfg: AssetConfig, asset: int, notional: int, default_lev: int) -> int:
        user = self.leverage_for(asset, default_lev, asset_cfg.max_leverage)
        return min(user, tier_max_leverage(asset_cfg, notional))

    def upnl_total(self, marks: list[int]) -> int:
        return sum(p.upnl(marks[a]) for a, p in self.positions.items() if p.lots)

    def account_value(self, marks: list[int]) -> int:
        return self.cash + self.upnl_total(marks)

    def margin_used(self, assets: tuple[AssetConfig, ...], marks: list[int], default_lev: int) -> int:
        total = 0
        for a, p in self.positions.items():
            if p.lots:
                value = abs(p.lots) * marks[a]
                total += div_ceil(value, self.effective_leverage(assets[a], a, value, default_lev))
        return total

    def asset_requirement(self, assets: tuple[AssetConfig, ...], marks: list[int], asset: int,
                          default_lev: int, extra_buy: int = 0, extra_sell: int = 0) -> int:
        """Initial margin one asset needs with positions and resting orders (+ a candidate order)."""
        signed = self.position_lots(asset) * marks[asset]
        buys = self.open_buy_ntl.get(asset, 0) + extra_buy
        sells = self.open_sell_ntl.get(asset, 0) + extra_sell
        worst = max(abs(signed + buys), abs(signed - sells), abs(signed))
        if worst == 0:
            return 0
        return div_ceil(worst, self.effective_leverage(assets[asset], asset, worst, default_lev))

    def total_requirement(self, assets: tuple[AssetConfig, ...], marks: list[int], default_lev: int) -> int:
        involved = set(self.open_buy_ntl) | set(self.open_sell_ntl) | {
            a for a, p in self.positions.items() if p.lots}
        return sum(self.asset_requirement(assets, marks, a, default_lev) for a in involved)

    def maintenance(self, assets: tuple[AssetConfig, ...], marks: list[int]) -> int:
        total = 0
        for a, p in self.positions.items():
            if p.lots:
                value = abs(p.lots) * marks[a]
                total += div_ceil(value, 2 * tier_max_leverage(assets[a], value))
        return total
