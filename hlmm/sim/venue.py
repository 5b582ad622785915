"""The sim's trading state machine: books, orders, accounts, fills, funding, dead-man switch.

``Venue`` is what both entry doors share: signed requests (``SimExchange``) and
internal market-flow accounts (``SimExchange.internal_*``) reach the same
``place`` / ``cancel`` and therefore the same matching, fees, margin and events.
It trusts its callers: prices and sizes arrive as validated integers (units,
lots), accounts exist, assets are in range.

Order placement, in order: frozen book -> open-order limit (resting tifs) ->
reduce-only (the order must reduce; its size is clipped to the position) -> Alo
cross check -> margin (see ``hlmm.sim.accounts``) -> matching -> rest / cancel the
rest.  Rejected orders are recorded with Hyperliquid's rejection status.

Self-trades: the resting order is canceled (``selfTradeCanceled``) and the taker
keeps matching behind it (Hyperliquid's expire-maker behaviour).  Resting
reduce-only orders are flagged in the book; when a taker reaches one, its
allowed size is re-checked against the owner's position at that moment (canceled
as ``reduceOnlyCanceled`` when it could no longer reduce, shrunk when it could
reduce less), and after every fill an owner's reduce-only orders that can no
longer reduce are canceled the same way.

Fills: one trade id (``tid``) per maker/taker match, shared by the two fills and
the public trade; one transaction ``hash`` per operation.  Fees: taker/maker rate
of the config on the fill notional, rounded to a micro-USD, positive = paid.

Funding: premium samples every ``premium_sample_ms`` (impact prices vs oracle),
settled at each hour boundary: rate = (avgPremium + clamp(interest - avgPremium,
+-clamp)) / 8, capped, quantized to 1e-8; payment = szi * oracle * rate (longs pay
a positive rate).  The oracle is what the attached market sets
(``set_oracle``); without one it is the mark.  Mark = median(best bid, best ask,
last trade) with both sides present, else the last trade (start price before any).
"""
from __future__ import annotations

import hashlib
import random
from fractions import Fraction
from typing import Callable

from hlmm.exchange import wire
from hlmm.exchange.assets import AssetInfo
from hlmm.sim import errors
from hlmm.sim.accounts import Account, fill_direction
from hlmm.sim.config import SimConfig
from hlmm.sim.events import EventSink
from hlmm.sim.marketdata import HOUR, CoinData
from hlmm.sim.matching import OrderBook
from hlmm.sim.numbers import MICRO, div_round, fmt_derived_px, fmt_fixed, fmt_usd
from hlmm.sim.orders import OrderRecord, OrderStore

DAY_MS = 86_400_000
_E8 = 100_000_000


def _median3(a: int, b: int, c: int) -> int:
    return max(min(a, b), min(max(a, b), c))


class Venue:
    """All trading state of the sim.  See the module docstring."""

    def __init__(self, config: SimConfig, infos: list[AssetInfo], is_frozen: Callable[[int], bool]) -> None:
        self.config = config
        self.assets = config.assets
        self.infos = infos
        self.coins = [a.name for a in config.assets]
        self.asset_of = {name: i for i, name in enumerate(self.coins)}
        self.is_frozen = is_frozen
        self.books = [OrderBook() for _ in self.assets]
        self.data = [
            CoinData(a.name, a.px_decimals, a.sz_decimals,
                     wire.price_units(a.start_px, info, wire.NEAREST), config.trades_kept)
            for a, info in zip(self.assets, infos)
        ]
        self.accounts: dict[str, Account] = {}
        self._owners: list[Account] = []
        self.orders = OrderStore(config.finished_orders_kept)
        self.oracle: list[int | None] = [None] * len(self.assets)
        self.open_interest = [0] * len(self.assets)  # long lots
        self.events = EventSink()
        self._maker_rate = config.maker_rate
        self._taker_rate = config.taker_rate
        rng = random.Random(config.seed)
        self._next_oid = 10_000_000_000 + rng.randrange(1_000_000_000)
        self._next_tid = 100_000_000_000_000 + rng.randrange(10_000_000_000_000)
        self._hash_key = rng.getrandbits(128).to_bytes(16, "big")
        self._hash_seq = 0
        self._dirty: set[str] = set()
        self._bbo_pending: set[int] = set()
        self._bbo_last: list[tuple | None] = [None] * len(self.assets)
        self._ro_orders: dict[tuple[str, int], set[int]] = {}
        self._scheduled: dict[str, int] = {}
        self._touched: set[tuple[str, int]] = set()
        # clock state: last premium sample boundary and last funding hour (set on the first settle)
        self._last_sample: int | None = None
        self._last_hour: int | None = None

    # ---- ids -----------------------------------------------------------------
    def new_oid(self) -> int:
        self._next_oid += 1
        return self._next_oid

    def new_tid(self) -> int:
        self._next_tid += 1
        return self._next_tid

    def new_hash(self) -> str:
        """A transaction hash for one operation (deterministic from the seed)."""
        self._hash_seq += 1
        digest = hashlib.sha256(self._hash_key + self._hash_seq.to_bytes(8, "big")).hexdigest()
        return "0x" + digest

    # ---- accounts ------------------------------------------------------------
    def create_account(self, address: str) -> Account:
        acct = Account(address, len(self._owners), self.config.user_fills_kept)
        self.accounts[address] = acct
        self._owners.append(acct)
        return acct

    def deposit(self, acct: Account, micro: int) -> None:
        acct.cash += micro
        if micro > 0:
            acct.deposited = True

    # ---- prices --------------------------------------------------------------
    def mark(self, asset: int) -> int:
        book = self.books[asset]
        bid, ask = book.best_bid(), book.best_ask()
        last = self.data[asset].last_px
        if bid and ask:
            return _median3(bid, ask, last)
        return last

    def marks(self) -> list[int]:
        return [self.mark(a) for a in range(len(self.assets))]

    def oracle_px(self, asset: int) -> int:
        o = self.oracle[asset]
        return o if o is not None else self.mark(asset)

    def mid_halves(self, asset: int) -> int | None:
        """bid + ask (the mid in half price units), None unless both sides exist."""
        book = self.books[asset]
        bid, ask = book.best_bid(), book.best_ask()
        return bid + ask if bid and ask else None

    def impact_px(self, asset: int, is_bid: bool) -> Fraction | None:
        """Average price (units) to trade the asset's impact notional against one side."""
        target = int(self.assets[asset].impact_notional_usd * MICRO)
        ntl = lots = 0
        for px, lvl_lots, _n in self.books[asset].iter_levels(is_bid):
            need = target - ntl
            if px * lvl_lots >= need:
                take = -(-need // px)
                return Fraction(ntl + px * take, lots + take)
            ntl += px * lvl_lots
            lots += lvl_lots
        return None

    def open_order_limit(self, acct: Account) -> int:
        """Base limit + 1 per 5M USDC traded, up to 5000 (reference §3)."""
        base = self.config.open_order_limit
        return min(max(base, 5000), base + acct.cum_vlm // (5_000_000 * MICRO))

    # ---- order placement -----------------------------------------------------
    def place(self, acct: Account, asset: int, is_buy: bool, px: int, lots: int, tif: str,
              reduce_only: bool, cloid: str | None, now: int, tx_hash: str) -> dict:
        """Place one validated limit order; returns its wire status."""
        info = self.infos[asset]
        if self.is_frozen(asset):
            return {"error": errors.FROZEN}
        rec = OrderRecord(self.new_oid(), acct.address, info.name, asset, is_buy, px, lots, now, tif,
                          reduce_only, cloid, info.px_decimals, info.sz_decimals)

        def reject(text: str, status: str) -> dict:
            self.orders.finish(rec, status, now)
            return {"error": text}

        if tif != "Ioc" and self.orders.open_count(acct.address) >= self.open_order_limit(acct):
            return reject(errors.TOO_MANY_ORDERS, "rejected")
        book = self.books[asset]
        if reduce_only:
            pos = acct.position_lots(asset)
            if pos == 0 or (pos > 0) == is_buy:
                return reject(errors.REDUCE_ONLY, "reduceOnlyRejected")
            if lots > abs(pos):
                rec.orig_lots = rec.lots = lots = abs(pos)
        if tif == "Alo":
            bid, ask = book.best_bid(), book.best_ask()
            if (ask and px >= ask) if is_buy else (bid and px <= bid):
                return reject(errors.bad_alo(self._wire_px(bid, info), self._wire_px(ask, info)),
                              "badAloPxRejected")
        if not reduce_only and not self._margin_ok(acct, asset, is_buy, px * lots):
            return reject(errors.MARGIN, "perpMarginRejected")

        filled_lots, filled_ntl = self._take(acct, rec, now, tx_hash)
        rem = rec.lots
        self._settle_touched(now)
        cloid_part = {"cloid": cloid} if cloid is not None else {}
        if rem == 0 or tif == "Ioc":
            if filled_lots == 0:
                return reject(errors.IOC_CANCEL, "iocCancelRejected")
            self.orders.finish(rec, "filled" if rem == 0 else "canceled", now)
            self.events.order_update(acct.address, rec.update_json())
            avg = Fraction(filled_ntl, filled_lots) / 10 ** info.px_decimals
            return {"filled": {"totalSz": fmt_fixed(filled_lots, info.sz_decimals),
                               "avgPx": fmt_derived_px(avg, info.px_decimals), "oid": rec.oid, **cloid_part}}
        self._rest(acct, rec)
        self.events.order_update(acct.address, rec.update_json())
        return {"resting": {"oid": rec.oid, **cloid_part}}

    @staticmethod
    def _wire_px(units: int, info: AssetInfo) -> str:
        return wire.price_to_wire(units, info) if units else "0"

    def _margin_ok(self, acct: Account, asset: int, is_buy: bool, notional: int) -> bool:
        marks = self.marks()
        dl = self.config.default_leverage
        before = acct.asset_requirement(self.assets, marks, asset, dl)
        after = acct.asset_requirement(self.assets, marks, asset, dl,
                                       extra_buy=notional if is_buy else 0,
                                       extra_sell=0 if is_buy else notional)
        if after <= before:
            return True
        total = acct.total_requirement(self.assets, marks, dl) - before + after
        return total <= acct.account_value(marks)

    def _rest(self, acct: Account, rec: OrderRecord) -> None:
        self.books[rec.asset].add(rec.oid, acct.owner, rec.is_buy, rec.limit_px, rec.lots, rec.reduce_only)
        self.orders.add_open(rec)
        if rec.reduce_only:
            self._ro_orders.setdefault((acct.address, rec.asset), set()).add(rec.oid)
        else:
            side = acct.open_buy_ntl if rec.is_buy else acct.open_sell_ntl
            side[rec.asset] = side.get(rec.asset, 0) + rec.limit_px * rec.lots
        self._book_changed(rec.asset)

    def _take(self, acct: Account, rec: OrderRecord, now: int, tx_hash: str) -> tuple[int, int]:
        """Match ``rec`` as a taker; returns (filled lots, filled notional micro)."""
        asset, is_buy, limit = rec.asset, rec.is_buy, rec.limit_px
        book = self.books[asset]
        fills: list = []
        expired: list = []
        rem = rec.lots
        filled = ntl = 0
        while True:
            if rem > 0:
                rem = book.match(acct.owner, is_buy, limit, rem, fills, expired)
            if expired:
                for oid, _lots in expired:
                    self._finish_removed(self.orders.open[oid], "selfTradeCanceled", now)
                expired.clear()
            if fills:
                for maker_oid, maker_owner, px, lots, left in fills:
                    self._trade(acct, rec, self._owners[maker_owner], self.orders.open[maker_oid],
                                px, lots, left, now, tx_hash)
                    filled += lots
                    ntl += px * lots
                fills.clear()
            if rem == 0:
                break
            front = book.front(is_buy)
            if front is None or not front.flagged or ((front.px > limit) if is_buy else (front.px < limit)):
                break
            # a resting reduce-only order: its allowed size depends on its owner's position now
            maker = self._owners[front.owner]
            mrec = self.orders.open[front.oid]
            cap = self._reduce_capacity(maker, asset, front.is_buy)
            if cap == 0:
                self.cancel(mrec, "reduceOnlyCanceled", now, non_user=True)
                continue
            if cap < front.lots:
                book.reduce(front.oid, cap)
                mrec.lots = cap
            rem = book.fill_front(is_buy, rem, fills)
        rec.lots = rem
        if filled:
            self._book_changed(asset)
        return filled, ntl

    @staticmethod
    def _reduce_capacity(acct: Account, asset: int, is_buy: bool) -> int:
        pos = acct.position_lots(asset)
        if is_buy:
            return -pos if pos < 0 else 0
        return pos if pos > 0 else 0

    def _trade(self, taker: Account, trec: OrderRecord, maker: Account, mrec: OrderRecord,
               px: int, lots: int, maker_left: int, now: int, tx_hash: str) -> None:
        tid = self.new_tid()
        self._fill(taker, trec, px, lots, True, tid, now, tx_hash)
        self._fill(maker, mrec, px, lots, False, tid, now, tx_hash)
        if not mrec.reduce_only:
            side = maker.open_buy_ntl if mrec.is_buy else maker.open_sell_ntl
            side[mrec.asset] -= mrec.limit_px * lots
        mrec.lots = maker_left
        if maker_left == 0:
            self._forget_open(maker, mrec)
            self.orders.finish(mrec, "filled", now)
        self.events.order_update(maker.address, mrec.update_json())
        info = self.infos[trec.asset]
        buyer, seller = (taker, maker) if trec.is_buy else (maker, taker)
        trade = {"coin": info.name, "side": trec.side, "px": fmt_fixed(px, info.px_decimals),
                 "sz": fmt_fixed(lots, info.sz_decimals), "hash": tx_hash, "time": now, "tid": tid,
                 "users": [buyer.address, seller.address]}
        self.data[trec.asset].record_trade(trade, px, lots, now)
        self.events.trade(info.name, trade)

    def _fill(self, acct: Account, rec: OrderRecord, px: int, lots: int, crossed: bool,
              tid: int, now: int, tx_hash: str) -> None:
        asset = rec.asset
        info = self.infos[asset]
        pos = acct.position(asset)
        start = pos.lots
        direction = fill_direction(start, rec.is_buy, lots)
        pnl = pos.apply_fill(rec.is_buy, px, lots)
        notional = px * lots
        rate = self._taker_rate if crossed else self._maker_rate
        fee = div_round(notional * rate.numerator, rate.denominator)
        acct.cash += pnl - fee
        acct.cum_vlm += notional
        self.open_interest[asset] += max(0, pos.lots) - max(0, start)
        fill = {"closedPnl": fmt_usd(pnl), "coin": info.name, "crossed": crossed, "dir": direction,
                "hash": tx_hash, "oid": rec.oid, "px": fmt_fixed(px, info.px_decimals), "side": rec.side,
                "startPosition": fmt_fixed(start, info.sz_decimals), "sz": fmt_fixed(lots, info.sz_decimals),
                "time": now, "fee": fmt_usd(fee), "feeToken": "USDC", "tid": tid}
        if rec.cloid is not None:
            fill["cloid"] = rec.cloid
        acct.fills.append(fill)
        self.events.fill(acct.address, fill)
        self._touched.add((acct.address, asset))

    def _settle_touched(self, now: int) -> None:
        """After fills: cancel or shrink reduce-only orders their owners' positions no longer allow."""
        touched, self._touched = self._touched, set()
        for user, asset in sorted(touched):
            oids = self._ro_orders.get((user, asset))
            if not oids:
                continue
            acct = self.accounts[user]
            for oid in sorted(oids):
                rec = self.orders.open[oid]
                cap = self._reduce_capacity(acct, asset, rec.is_buy)
                if cap == 0:
                    self.cancel(rec, "reduceOnlyCanceled", now, non_user=True)
                elif cap < rec.lots:
                    self.books[asset].reduce(oid, cap)
                    rec.lots = cap
                    self._book_changed(asset)

    # ---- cancels -------------------------------------------------------------
    def cancel(self, rec: OrderRecord, status: str, now: int, non_user: bool = False) -> None:
        """Take an open order off the book with a final status (canceled, scheduledCancel...)."""
        self.books[rec.asset].cancel(rec.oid)
        self._finish_removed(rec, status, now, non_user)

    def _finish_removed(self, rec: OrderRecord, status: str, now: int, non_user: bool = True) -> None:
        """Bookkeeping for an order already removed from the book."""
        acct = self.accounts[rec.user]
        if not rec.reduce_only:
            side = acct.open_buy_ntl if rec.is_buy else acct.open_sell_ntl
            side[rec.asset] -= rec.limit_px * rec.lots
        self._forget_open(acct, rec)
        self.orders.finish(rec, status, now)
        self.events.order_update(rec.user, rec.update_json())
        if non_user:
            self.events.non_user_cancel(rec.user, rec.coin, rec.oid)
        self._book_changed(rec.asset)

    def _forget_open(self, acct: Account, rec: OrderRecord) -> None:
        if rec.reduce_only:
            oids = self._ro_orders.get((acct.address, rec.asset))
            if oids is not None:
                oids.discard(rec.oid)
                if not oids:
                    del self._ro_orders[(acct.address, rec.asset)]
        else:
            side = acct.open_buy_ntl if rec.is_buy else acct.open_sell_ntl
            if side.get(rec.asset) == 0:
                del side[rec.asset]

    # ---- book change tracking ------------------------------------------------
    def _book_changed(self, asset: int) -> None:
        self._dirty.add(self.coins[asset])
        self._bbo_pending.add(asset)

    def take_dirty(self) -> list[str]:
        dirty = [c for c in self.coins if c in self._dirty]
        self._dirty.clear()
        return dirty

    def mark_dirty(self, asset: int) -> None:
        self._book_changed(asset)

    def flush(self, now: int) -> None:
        """Queue bbo changes, then send every buffered event."""
        for asset in sorted(self._bbo_pending):
            if self.is_frozen(asset):
                continue
            bbo = self.books[asset].bbo()
            if bbo != self._bbo_last[asset]:
                self._bbo_last[asset] = bbo
                self.events.market("bbo", self.coins[asset], self.bbo_json(asset, now))
        self._bbo_pending.clear()
        self.events.flush()

    def bbo_json(self, asset: int, now: int) -> dict:
        info = self.infos[asset]
        bp, bl, bn, ap, al, an = self.books[asset].bbo()
        pd, sd = info.px_decimals, info.sz_decimals

        def level(px: int, lots: int, n: int) -> dict | None:
            return {"px": fmt_fixed(px, pd), "sz": fmt_fixed(lots, sd), "n": n} if px else None

        return {"coin": info.name, "time": now, "bbo": [level(bp, bl, bn), level(ap, al, an)]}

    # ---- clock: dead-man switch, premium samples, funding ----------------------
    def schedule_cancel(self, acct: Account, at: int | None) -> None:
        acct.schedule_cancel_at = at
        if at is None:
            self._scheduled.pop(acct.address, None)
        else:
            self._scheduled[acct.address] = at

    def settle(self, now: int) -> None:
        """Run everything due up to ``now``: scheduled cancels, premium samples, funding."""
        if self._scheduled:
            due = sorted((t, user) for user, t in self._scheduled.items() if t <= now)
            for t, user in due:
                self._fire_scheduled_cancel(self.accounts[user], t)
        if self._last_hour is None:
            self._last_hour = now // HOUR * HOUR
            self._last_sample = now // self.config.premium_sample_ms * self.config.premium_sample_ms
            return
        while self._last_hour + HOUR <= now:
            hour = self._last_hour + HOUR
            self._sample_premiums(hour)
            self._pay_funding(hour)
            self._last_hour = hour
        self._sample_premiums(now)

    def _fire_scheduled_cancel(self, acct: Account, t: int) -> None:
        for rec in sorted(self.orders.open_of(acct.address).values(), key=lambda r: r.oid):
            if not self.is_frozen(rec.asset):
                self.cancel(rec, "scheduledCancel", t, non_user=True)
        day = t // DAY_MS
        fired_day, count = acct.schedule_fired
        acct.schedule_fired = (day, count + 1 if fired_day == day else 1)
        self.schedule_cancel(acct, None)

    def fired_today(self, acct: Account, now: int) -> int:
        day, count = acct.schedule_fired
        return count if day == now // DAY_MS else 0

    def _sample_premiums(self, until: int) -> None:
        step = self.config.premium_sample_ms
        n = until // step - self._last_sample // step
        if n <= 0:
            return
        for asset, data in enumerate(self.data):
            data.premium_sum += self.premium(asset) * n
            data.premium_n += n
        self._last_sample = until // step * step

    def premium(self, asset: int) -> float:
        """(max(impact bid - oracle, 0) - max(oracle - impact ask, 0)) / oracle; 0 without impact prices."""
        oracle = self.oracle_px(asset)
        bid, ask = self.impact_px(asset, True), self.impact_px(asset, False)
        if bid is None or ask is None or oracle <= 0:
            return 0.0
        return float((max(bid - oracle, 0) - max(oracle - ask, 0)) / oracle)

    def funding_rate_e8(self, asset: int) -> tuple[int, int]:
        """(hourly rate, average premium) in 1e-8 units from the samples since the last hour."""
        cfg = self.config
        data = self.data[asset]
        avg = data.premium_sum / data.premium_n if data.premium_n else 0.0
        rate8h = avg + min(max(cfg.funding_interest_8h - avg, -cfg.funding_clamp_8h), cfg.funding_clamp_8h)
        hourly = min(max(rate8h / 8, -cfg.funding_cap_hourly), cfg.funding_cap_hourly)
        return round(hourly * _E8), round(avg * _E8)

    def _pay_funding(self, hour: int) -> None:
        for asset, data in enumerate(self.data):
            rate, premium = self.funding_rate_e8(asset)
            data.premium_sum, data.premium_n = 0.0, 0
            info = self.infos[asset]
            data.funding_history.append({"coin": info.name, "fundingRate": fmt_fixed(rate, 8),
                                         "premium": fmt_fixed(premium, 8), "time": hour})
            oracle = self.oracle_px(asset)
            for acct in self._owners:
                pos = acct.positions.get(asset)
                if pos is None or pos.lots == 0:
                    continue
                payment = div_round(pos.lots * oracle * rate, _E8)  # paid by the account
                acct.cash -= payment
                pos.funding_all += payment
                pos.funding_open += payment
                pos.funding_change += payment
                usdc = fmt_usd(-payment)
                szi = fmt_fixed(pos.lots, info.sz_decimals)
                rate_s = fmt_fixed(rate, 8)
                acct.fundings.append({"time": hour, "coin": info.name, "usdc": usdc, "szi": szi,
                                      "fundingRate": rate_s})
                self.events.user_event(acct.address, {"funding": {"time": hour, "coin": info.name, "usdc": usdc,
                                                                  "szi": szi, "fundingRate": rate_s}})
