"""The internal API market-flow agents use (``hlmm.sim.market``): accounts and orders
without signatures, nonces or rate limits, through the SAME matching, fees, margin
and events as signed requests.  ``SimExchange`` inherits it.

    create_account(address, usdc=0)          open an account (address lower-cased), deposit usdc
    fund(address, usdc)                      deposit USDC (> 0)
    controls(master, sub)                    let master (and its agents) act for sub via vaultAddress
    internal_place(account, coin, is_buy, px_units, sz_lots, tif="Gtc",
                   reduce_only=False, cloid=None, min_notional=True) -> status
        the order-response status: {"resting": {"oid"}} | {"filled": {"totalSz","avgPx","oid"}} |
        {"error": text}; prices in price units, sizes in lots (``hlmm._core.rounding`` units);
        min_notional=False lets an agent place below $10 (a replayed book holds such remainders)
    internal_cancel(account, coin, oid) -> bool          False if not open (or the book is frozen)
    internal_cancel_all(account, coin=None) -> int       how many were canceled
    set_oracle(coin, px)                     oracle price (float) used by funding and the premium
    book_top(coin) -> (bid_px, bid_lots, ask_px, ask_lots)   units / lots, 0 for an empty side
    depth_lots(coin, is_bid, limit_px) -> int   lots resting on a side at limit_px or better
    order_lots(oid) -> int                   lots an open order has left (0 if it is not open)
    position_lots(account, coin) -> int      signed
    open_orders_of(account, coin=None) -> [(oid, is_buy, px_units, lots)], oldest first
    asset(coin) -> AssetInfo                 decimals and asset id
    now() -> ms                              the sim's clock (advance's now_ms inside market.step)
    attach_market(market)                    market.step(now_ms) runs from SimExchange.advance() and
                                             before every request (so flow due by a request's time
                                             happens first); market.truth() (JSON-able dict) answers
                                             {"type":"simTruth"}
    flow_time(t_ms)                          inside market.step(now_ms): stamp the internal operations
                                             that follow with t_ms <= now_ms (a market on a fixed
                                             time grid runs each due step at its own time)

Caller mistakes (unknown account or coin, bad tif, bad cloid, non-positive deposit)
raise ``SimError``; exchange rejections come back as ``{"error": text}`` statuses.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Protocol

from hlmm.exchange import wire
from hlmm.exchange.assets import AssetInfo
from hlmm.sim import parse
from hlmm.sim.accounts import Account
from hlmm.sim.errors import SimError
from hlmm.sim.numbers import usd_to_micro

if TYPE_CHECKING:
    from hlmm.sim.exchange_faults import ExchangeFaults
    from hlmm.sim.venue import Venue


class Market(Protocol):
    """What the sim needs of an attached market-flow object."""

    def step(self, now_ms: int) -> None: ...

    def truth(self) -> dict: ...


class MarketFlowAPI:
    """Mixin: the internal API above.  Needs ``venue``, ``faults``, ``market`` and ``now()``."""

    venue: "Venue"
    faults: "ExchangeFaults"
    market: Market | None
    now: Callable[[], int]
    _step_time: int | None   # the time internal operations are stamped with while a step runs
    _step_now: int           # now_ms of the running step

    def attach_market(self, market: Market) -> None:
        """Attach the market-flow object: ``step(now_ms)`` from advance(), ``truth()`` for simTruth."""
        self.market = market

    def create_account(self, address: str, usdc: float | int | str = 0) -> None:
        """Open an account (an address the sim knows) and deposit ``usdc``."""
        if not parse.is_address(address):
            raise SimError(f"account address must be 0x + 40 hex digits, got {address!r}")
        address = address.lower()
        if address in self.venue.accounts:
            raise SimError(f"account {address} already exists")
        self.venue.create_account(address)
        if usdc:
            self.fund(address, usdc)

    def fund(self, address: str, usdc: float | int | str) -> None:
        """Deposit ``usdc`` (> 0) into an existing account."""
        acct = self._internal_account(address)
        try:
            micro = usd_to_micro(usdc)
        except (ValueError, ZeroDivisionError):
            raise SimError(f"USDC amount must be a number, got {usdc!r}") from None
        if micro <= 0:
            raise SimError(f"a deposit must be positive, got {usdc!r}")
        self.venue.deposit(acct, micro)

    def controls(self, master: str, sub_account: str) -> None:
        """Let ``master`` (and its agents) act for ``sub_account`` via vaultAddress."""
        self._internal_account(master).controls.add(self._internal_account(sub_account).address)

    def _internal_account(self, address: str) -> Account:
        acct = self.venue.accounts.get(address.lower()) if isinstance(address, str) else None
        if acct is None:
            raise SimError(f"unknown account {address!r}; create it with create_account()")
        return acct

    def asset(self, coin: str) -> AssetInfo:
        asset = self.venue.asset_of.get(coin)
        if asset is None:
            raise SimError(f"unknown coin {coin!r}; the sim trades {', '.join(self.venue.coins)}")
        return self.venue.infos[asset]

    def internal_place(self, account: str, coin: str, is_buy: bool, px_units: int, sz_lots: int,
                       tif: str = "Gtc", reduce_only: bool = False, cloid: str | None = None,
                       min_notional: bool = True) -> dict:
        """Place an order for an internal account; returns the order status as the wire would.

        ``min_notional=False`` skips the $10 minimum (tick and size rules still apply): a
        replayed book holds partially filled remainders worth less than $10.
        """
        acct = self._internal_account(account)
        info = self.asset(coin)
        if tif not in ("Gtc", "Alo", "Ioc"):
            raise SimError(f"tif must be Gtc, Alo or Ioc, got {tif!r}")
        if cloid is not None:
            cloid = parse.cloid(cloid)
        problem = wire.check_order(int(px_units), int(sz_lots), info, reduce_only or not min_notional)
        if problem is not None:
            return {"error": problem}
        now = self.now()
        try:
            return self.venue.place(acct, info.asset_id, bool(is_buy), int(px_units), int(sz_lots), tif,
                                    reduce_only, cloid, now, self.venue.new_hash())
        finally:
            self.venue.flush(now)

    def internal_cancel(self, account: str, coin: str, oid: int) -> bool:
        """Cancel an internal account's open order; False if it is not open (or the book is frozen)."""
        acct = self._internal_account(account)
        info = self.asset(coin)
        rec = self.venue.orders.open.get(oid)
        if rec is None or rec.user != acct.address or rec.asset != info.asset_id or self.faults.is_frozen(coin):
            return False
        now = self.now()
        self.venue.cancel(rec, "canceled", now)
        self.venue.flush(now)
        return True

    def internal_cancel_all(self, account: str, coin: str | None = None) -> int:
        """Cancel every open order of an internal account (on one coin); returns how many."""
        acct = self._internal_account(account)
        asset = None if coin is None else self.asset(coin).asset_id
        now = self.now()
        n = 0
        for rec in list(self.venue.orders.open_of(acct.address).values()):
            if (asset is None or rec.asset == asset) and not self.faults.is_frozen(rec.coin):
                self.venue.cancel(rec, "canceled", now)
                n += 1
        self.venue.flush(now)
        return n

    def set_oracle(self, coin: str, px: float) -> None:
        """Set the oracle price (funding and premium use it)."""
        info = self.asset(coin)
        if not isinstance(px, (int, float)) or isinstance(px, bool) or not px > 0:
            raise SimError(f"oracle price must be a positive number, got {px!r}")
        self.venue.oracle[info.asset_id] = max(1, round(px * 10 ** info.px_decimals))

    def book_top(self, coin: str) -> tuple[int, int, int, int]:
        bp, bl, _bn, ap, al, _an = self.venue.books[self.asset(coin).asset_id].bbo()
        return bp, bl, ap, al

    def depth_lots(self, coin: str, is_bid: bool, limit_px: int) -> int:
        """Lots resting on one side at ``limit_px`` or better (bids >= it, asks <= it): what an
        Ioc reaching ``limit_px`` could take."""
        total = 0
        for px, lots, _n in self.venue.books[self.asset(coin).asset_id].iter_levels(is_bid):
            if (px < limit_px) if is_bid else (px > limit_px):
                break
            total += lots
        return total

    def order_lots(self, oid: int) -> int:
        """Lots an open order has left; 0 if it is not open."""
        rec = self.venue.orders.open.get(oid)
        return rec.lots if rec is not None else 0

    def flow_time(self, t_ms: int) -> None:
        """Inside ``market.step(now_ms)``: stamp the internal operations that follow with ``t_ms``.

        A market on a fixed time grid runs each step that is due at the step's own time, so
        its path does not depend on when ``advance()`` happens to be called.
        """
        if self._step_time is None:
            raise SimError("flow_time() is only valid inside market.step()")
        if not isinstance(t_ms, int) or isinstance(t_ms, bool) or t_ms > self._step_now:
            raise SimError(f"flow time must be an integer ms <= the step's now ({self._step_now}), got {t_ms!r}")
        self._step_time = t_ms

    def position_lots(self, account: str, coin: str) -> int:
        return self._internal_account(account).position_lots(self.asset(coin).asset_id)

    def open_orders_of(self, account: str, coin: str | None = None) -> list[tuple[int, bool, int, int]]:
        """(oid, is_buy, px units, lots) of an account's open orders, oldest first."""
        acct = self._internal_account(account)
        asset = None if coin is None else self.asset(coin).asset_id
        return [(r.oid, r.is_buy, r.limit_px, r.lots) for r in self.venue.orders.open_of(acct.address).values()
                if asset is None or r.asset == asset]
