"""``POST /info`` of the sim: every supported request type, answered in Hyperliquid's shapes.

Supported types: meta, metaAndAssetCtxs, allMids, l2Book, clearinghouseState,
openOrders, frontendOpenOrders, userFills, userFillsByTime, orderStatus,
userRateLimit, userFunding, fundingHistory, candleSnapshot, recentTrades,
spotMeta (empty universe), spotClearinghouseState (no balances), and the sim-only
``{"type":"simTruth"}`` (the attached market's ground truth).  An unknown type or
a body that does not fit its type raises ``SimRequestError`` (422).  Only the
default perp dex exists: ``dex`` must be absent, null or "".

Queries for an address the sim does not know answer as Hyperliquid does for an
empty account (zero balances, no orders, no fills).
"""
from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Callable

from hlmm.sim import parse
from hlmm.sim.accounts import Account, tier_max_leverage
from hlmm.sim.config import SimConfig
from hlmm.sim.errors import bad_request
from hlmm.sim.marketdata import INTERVALS_MS
from hlmm.sim.numbers import fmt_derived_px, fmt_fixed, fmt_fraction, fmt_usd

if TYPE_CHECKING:
    from hlmm.sim.exchange import SimExchange

MAX_FILLS = 2000
MAX_RANGE_ITEMS = 500
RECENT_TRADES = 10
L2_LEVELS = 20
_ZERO_HASH = "0x" + "0" * 64

# IP weights (reference §7)
_WEIGHT_2 = {"l2Book", "allMids", "clearinghouseState", "orderStatus", "spotClearinghouseState", "exchangeStatus"}
_PER_20_ITEMS = {"recentTrades", "historicalOrders", "userFills", "userFillsByTime", "fundingHistory",
                 "userFunding", "nonUserFundingUpdates", "twapHistory", "userTwapSliceFills",
                 "userTwapSliceFillsByTime", "delegatorHistory", "delegatorRewards", "validatorStats"}


def info_weight(body: object, response: object) -> int:
    """IP weight of one /info request (reference §7)."""
    kind = body.get("type") if isinstance(body, dict) else None
    if kind in _WEIGHT_2:
        weight = 2
    elif kind == "userRole":
        weight = 60
    else:
        weight = 20
    if isinstance(response, list):
        if kind in _PER_20_ITEMS:
            weight += len(response) // 20
        elif kind == "candleSnapshot":
            weight += len(response) // 60
    return weight


def meta_json(config: SimConfig) -> dict:
    """The ``meta`` answer: universe with marginTableId, and the margin tables."""
    universe = []
    tables: dict[int, dict] = {}
    next_id = 51
    for a in config.assets:
        if a.margin_tiers and len(a.margin_tiers) > 1:
            table_id = next_id
            next_id += 1
            desc = f"tiered {a.max_leverage}x"
        else:
            table_id = a.max_leverage
            desc = ""
        tables.setdefault(table_id, {"description": desc, "marginTiers": [
            {"lowerBound": fmt_fraction(Fraction(str(t.lower_bound_usd)), 6), "maxLeverage": t.max_leverage}
            for t in a.tiers()]})
        universe.append({"name": a.name, "szDecimals": a.sz_decimals, "maxLeverage": a.max_leverage,
                         "marginTableId": table_id})
    return {"universe": universe, "marginTables": [[i, t] for i, t in sorted(tables.items())],
            "collateralToken": 0}


class InfoService:
    """Answers /info bodies from the exchange's state."""

    def __init__(self, exchange: "SimExchange") -> None:
        self.ex = exchange
        self.venue = exchange.venue
        self.config = exchange.config
        self.meta = meta_json(exchange.config)
        self._handlers: dict[str, Callable[[dict, int], Any]] = {
            "meta": self._meta, "metaAndAssetCtxs": self._meta_and_ctxs, "allMids": self._all_mids,
            "l2Book": self._l2_book, "clearinghouseState": self._clearinghouse,
            "openOrders": self._open_orders, "frontendOpenOrders": self._frontend_open_orders,
            "userFills": self._user_fills, "userFillsByTime": self._user_fills_by_time,
            "orderStatus": self._order_status, "userRateLimit": self._user_rate_limit,
            "userFunding": self._user_funding, "fundingHistory": self._funding_history,
            "candleSnapshot": self._candles, "recentTrades": self._recent_trades,
            "spotMeta": self._spot_meta, "spotClearinghouseState": self._spot_state,
            "simTruth": self._sim_truth,
        }

    def handle(self, body: Any, now: int) -> Any:
        if not isinstance(body, dict):
            raise bad_request()
        handler = parse.choice(body.get("type"), self._handlers)
        if handler is None:
            raise bad_request()
        if body.get("dex") not in (None, ""):
            raise bad_request()
        return handler(body, now)

    # ---- helpers ---------------------------------------------------------------
    def _account(self, body: dict) -> Account | None:
        return self.venue.accounts.get(parse.address(body.get("user")))

    def _asset(self, coin: object) -> int | None:
        if not isinstance(coin, str):
            raise bad_request()
        return self.venue.asset_of.get(coin)

    def mid_str(self, asset: int) -> str:
        info = self.venue.infos[asset]
        halves = self.venue.mid_halves(asset)
        if halves is None:
            return fmt_fixed(self.venue.data[asset].last_px, info.px_decimals)
        return fmt_fixed(halves * 5, info.px_decimals + 1)

    # ---- market ----------------------------------------------------------------
    def _meta(self, body: dict, now: int) -> dict:
        return self.meta

    def _meta_and_ctxs(self, body: dict, now: int) -> list:
        v = self.venue
        ctxs = []
        for asset, a in enumerate(v.assets):
            info = v.infos[asset]
            pd, sd = info.px_decimals, info.sz_decimals
            data = v.data[asset]
            ntl, lots, prev = data.day_stats(now)
            rate, _ = v.funding_rate_e8(asset)
            bid, ask = v.impact_px(asset, True), v.impact_px(asset, False)
            impact = None if bid is None or ask is None else [
                fmt_derived_px(bid / 10 ** pd, pd), fmt_derived_px(ask / 10 ** pd, pd)]
            halves = v.mid_halves(asset)
            ctxs.append({
                "dayNtlVlm": fmt_usd(ntl), "funding": fmt_fixed(rate, 8), "impactPxs": impact,
                "markPx": fmt_fixed(v.mark(asset), pd),
                "midPx": None if halves is None else fmt_fixed(halves * 5, pd + 1),
                "openInterest": fmt_fixed(v.open_interest[asset], sd),
                "oraclePx": fmt_fixed(v.oracle_px(asset), pd),
                "premium": None if impact is None else fmt_fixed(round(v.premium(asset) * 1e8), 8),
                "prevDayPx": fmt_fixed(prev, pd), "dayBaseVlm": fmt_fixed(lots, sd),
            })
        return [self.meta, ctxs]

    def _all_mids(self, body: dict, now: int) -> dict:
        return self.all_mids()

    def all_mids(self) -> dict:
        return {coin: self.mid_str(asset) for asset, coin in enumerate(self.venue.coins)}

    def _l2_book(self, body: dict, now: int) -> dict | None:
        n_sig, mantissa = body.get("nSigFigs"), body.get("mantissa")
        asset = self._asset(body.get("coin"))
        if n_sig not in (None, 2, 3, 4, 5) or mantissa not in (None, 1, 2, 5) or isinstance(n_sig, bool) \
                or isinstance(mantissa, bool) or (mantissa is not None and n_sig != 5):
            raise bad_request()
        if asset is None:
            return None
        return self.l2_book(asset, n_sig, mantissa, now)

    def l2_book(self, asset: int, n_sig: int | None, mantissa: int | None, now: int) -> dict:
        """The l2Book payload, aggregated to ``n_sig`` significant figures (x ``mantissa``)."""
        info = self.venue.infos[asset]
        book = self.venue.books[asset]
        pd, sd = info.px_decimals, info.sz_decimals
        sides = []
        for is_bid in (True, False):
            out: list[list[int]] = []
            for px, lots, n in book.iter_levels(is_bid):
                if n_sig is not None:
                    digits = len(str(px))
                    width = (10 ** (digits - n_sig) if digits > n_sig else 1) * (mantissa or 1)
                    px = px // width * width if is_bid else -(-px // width) * width
                if out and out[-1][0] == px:
                    out[-1][1] += lots
                    out[-1][2] += n
                else:
                    if len(out) == L2_LEVELS:
                        break
                    out.append([px, lots, n])
            sides.append([{"px": fmt_fixed(p, pd), "sz": fmt_fixed(lots, sd), "n": n} for p, lots, n in out])
        return {"coin": info.name, "time": now, "levels": sides}

    def _funding_history(self, body: dict, now: int) -> list:
        asset = self._asset(body.get("coin"))
        start = parse.uint(body.get("startTime"))
        end = parse.opt_uint(body.get("endTime"))
        if asset is None:
            return []
        items = [f for f in self.venue.data[asset].funding_history
                 if f["time"] >= start and (end is None or f["time"] <= end)]
        return items[:MAX_RANGE_ITEMS]

    def _candles(self, body: dict, now: int) -> list:
        req = parse.obj(body.get("req"))
        interval = req.get("interval")
        if parse.choice(interval, INTERVALS_MS) is None:
            raise bad_request()
        asset = self._asset(req.get("coin"))
        start = parse.uint(req.get("startTime"))
        end = parse.uint(req.get("endTime")) if req.get("endTime") is not None else now
        if asset is None:
            return []
        return self.venue.data[asset].candles(interval, start, end)

    def _recent_trades(self, body: dict, now: int) -> list:
        asset = self._asset(body.get("coin"))
        if asset is None:
            return []
        trades = self.venue.data[asset].trades
        return list(trades)[-RECENT_TRADES:]

    def _spot_meta(self, body: dict, now: int) -> dict:
        return {"universe": [], "tokens": []}

    def _spot_state(self, body: dict, now: int) -> dict:
        parse.address(body.get("user"))
        return {"balances": []}

    def _sim_truth(self, body: dict, now: int) -> dict:
        market = self.ex.market
        return {"time": now, "truth": market.truth() if market is not None else None}

    # ---- user ------------------------------------------------------------------
    def _clearinghouse(self, body: dict, now: int) -> dict:
        acct = self._account(body)
        return self.clearinghouse_state(acct, now)

    def clearinghouse_state(self, acct: Account | None, now: int) -> dict:
        v = self.venue
        marks = v.marks()
        dl = self.config.default_leverage
        positions = []
        value = margin = ntl = signed_ntl = maint = 0
        if acct is not None:
            value = acct.account_value(marks)
            maint = acct.maintenance(v.assets, marks)
            for asset in sorted(acct.positions):
                pos = acct.positions[asset]
                if not pos.lots:
                    continue
                a, info = v.assets[asset], v.infos[asset]
                pd, sd = info.px_decimals, info.sz_decimals
                mark = marks[asset]
                pos_value = abs(pos.lots) * mark
                lev = acct.effective_leverage(a, asset, pos_value, dl)
                used = -(-pos_value // lev)
                upnl = pos.upnl(mark)
                entry = pos.entry_units()
                margin += used
                ntl += pos_value
                signed_ntl += pos.lots * mark
                roe = Fraction(upnl * lev, pos.basis) if pos.basis else Fraction(0)
                positions.append({"type": "oneWay", "position": {
                    "coin": info.name,
                    "cumFunding": {"allTime": fmt_usd(pos.funding_all), "sinceChange": fmt_usd(pos.funding_change),
                                   "sinceOpen": fmt_usd(pos.funding_open)},
                    "entryPx": fmt_derived_px(entry / 10 ** pd, pd),
                    "leverage": {"type": "cross", "value": acct.leverage_for(asset, dl, a.max_leverage)},
                    "liquidationPx": self._liquidation_px(acct, asset, value - maint, marks),
                    "marginUsed": fmt_usd(used), "maxLeverage": a.max_leverage,
                    "positionValue": fmt_usd(pos_value), "returnOnEquity": fmt_fraction(roe, 8),
                    "szi": fmt_fixed(pos.lots, sd), "unrealizedPnl": fmt_usd(upnl)}})
        summary = {"accountValue": fmt_usd(value), "totalMarginUsed": fmt_usd(margin),
                   "totalNtlPos": fmt_usd(ntl), "totalRawUsd": fmt_usd(value - signed_ntl)}
        return {"assetPositions": positions, "crossMaintenanceMarginUsed": fmt_usd(maint),
                "crossMarginSummary": dict(summary), "marginSummary": summary, "time": now,
                "withdrawable": fmt_usd(max(0, value - margin))}

    def _liquidation_px(self, acct: Account, asset: int, available: int, marks: list[int]) -> str | None:
        """liq = mark - side * available / |size| / (1 - l * side), l = 1 / maintenance leverage."""
        pos = acct.positions[asset]
        mark = marks[asset]
        side = 1 if pos.lots > 0 else -1
        maint_lev = 2 * tier_max_leverage(self.venue.assets[asset], abs(pos.lots) * mark)
        l_rate = Fraction(1, maint_lev)
        liq = mark - side * Fraction(available, abs(pos.lots)) / (1 - l_rate * side)
        if liq <= 0:
            return None
        pd = self.venue.infos[asset].px_decimals
        return fmt_derived_px(liq / 10 ** pd, pd)

    def _open_orders(self, body: dict, now: int) -> list:
        user = parse.address(body.get("user"))
        return [r.open_json() for r in reversed(self.venue.orders.open_of(user).values())]

    def _frontend_open_orders(self, body: dict, now: int) -> list:
        user = parse.address(body.get("user"))
        return [r.frontend_json() for r in reversed(self.venue.orders.open_of(user).values())]

    def _order_status(self, body: dict, now: int) -> dict:
        user = parse.address(body.get("user"))
        ref = parse.oid_or_cloid(body.get("oid"))
        orders = self.venue.orders
        rec = orders.by_cloid(user, ref) if isinstance(ref, str) else orders.get(ref)
        if rec is None or rec.user != user:
            return {"status": "unknownOid"}
        return rec.status_json()

    def _user_rate_limit(self, body: dict, now: int) -> dict:
        acct = self._account(body)
        used = acct.n_requests_used if acct else 0
        vlm = acct.cum_vlm if acct else 0
        return {"cumVlm": fmt_usd(vlm), "nRequestsUsed": used,
                "nRequestsCap": self.ex.request_cap(acct), "nRequestsSurplus": 0}

    def _user_fills(self, body: dict, now: int) -> list:
        acct = self._account(body)
        aggregate = parse.boolean(body.get("aggregateByTime", False))
        if acct is None:
            return []
        fills = list(acct.fills)[::-1][:MAX_FILLS]
        return aggregate_by_time(fills) if aggregate else fills

    def user_fills_snapshot(self, user: str) -> list:
        acct = self.venue.accounts.get(user.lower())
        return [] if acct is None else list(acct.fills)[::-1][:MAX_FILLS]

    def _user_fills_by_time(self, body: dict, now: int) -> list:
        acct = self._account(body)
        start = parse.uint(body.get("startTime"))
        end = parse.opt_uint(body.get("endTime"))
        aggregate = parse.boolean(body.get("aggregateByTime", False))
        if acct is None:
            return []
        fills = [f for f in acct.fills if f["time"] >= start and (end is None or f["time"] <= end)][:MAX_FILLS]
        return aggregate_by_time(fills) if aggregate else fills

    def _user_funding(self, body: dict, now: int) -> list:
        acct = self._account(body)
        start = parse.uint(body.get("startTime"))
        end = parse.opt_uint(body.get("endTime"))
        if acct is None:
            return []
        out = []
        for f in acct.fundings:
            if f["time"] >= start and (end is None or f["time"] <= end):
                out.append({"delta": {"type": "funding", "coin": f["coin"], "usdc": f["usdc"], "szi": f["szi"],
                                      "fundingRate": f["fundingRate"], "nSamples": None},
                            "hash": _ZERO_HASH, "time": f["time"]})
                if len(out) == MAX_RANGE_ITEMS:
                    break
        return out


def _dec_str(d: Decimal) -> str:
    s = format(d.normalize(), "f")
    return s if "." in s else s + ".0"


def aggregate_by_time(fills: list[dict]) -> list[dict]:
    """Merge consecutive fills of one order at one time (one taker order crossing several
    makers): sizes, fees and closed PnL add up, the price is the size-weighted average."""
    out: list[dict] = []
    for f in fills:
        last = out[-1] if out else None
        if last is not None and last["oid"] == f["oid"] and last["time"] == f["time"]:
            sz_a, sz_b = Decimal(last["sz"]), Decimal(f["sz"])
            total = sz_a + sz_b
            px = (Decimal(last["px"]) * sz_a + Decimal(f["px"]) * sz_b) / total
            merged = dict(last)
            merged["sz"] = _dec_str(total)
            merged["px"] = _dec_str(round(px, 8))
            merged["fee"] = _dec_str(Decimal(last["fee"]) + Decimal(f["fee"]))
            merged["closedPnl"] = _dec_str(Decimal(last["closedPnl"]) + Decimal(f["closedPnl"]))
            out[-1] = merged
        else:
            out.append(f)
    return out

