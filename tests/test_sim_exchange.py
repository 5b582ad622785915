"""SimExchange end to end: real signatures (hlmm.exchange.signing / keys), every info type's
shape, every action and its error texts, matching edge cases through the wire, PnL / fee /
entry math checked by hand, margin, nonces, rate limits, scheduleCancel, funding, agents,
faults, listener events and determinism."""
from __future__ import annotations

import json

import pytest

from hlmm.exchange.keys import Wallet
from hlmm.exchange.signing import USER_SIGNED_TYPES, sign_l1_action, sign_user_signed_action
from hlmm.exchange.user_actions import approve_agent_action
from hlmm.sim.config import SimConfig
from hlmm.sim.errors import DESERIALIZE_FAILED, SimError, SimRequestError
from hlmm.sim.exchange import SimExchange

T0 = 1_700_000_000_000          # 2023-11-14 22:13:20 UTC
HOUR = 3_600_000
NEXT_HOUR = (T0 // HOUR + 1) * HOUR
BTC, ETH, SOL = 0, 1, 2
MM = "0x" + "aa" * 20           # internal market-maker account
MM2 = "0x" + "bb" * 20
CLOID_1 = "0x00000000000000000000000000000001"
CLOID_2 = "0x000000000000000000000000000000ff"


def wallet(i: int) -> Wallet:
    return Wallet.from_hex(f"{i:064x}")


ALICE_W, BOB_W, AGENT_W, STRANGER_W = wallet(0xA11CE), wallet(0xB0B), wallet(0xA9E27), wallet(0x5778)
ALICE, BOB, AGENT = ALICE_W.address.lower(), BOB_W.address.lower(), AGENT_W.address.lower()


class Clock:
    def __init__(self, t: int = T0) -> None:
        self.t = t

    def __call__(self) -> int:
        return self.t


class Client:
    """Signs actions like hlmm's client (testnet source "b") and posts them to the sim."""

    def __init__(self, ex: SimExchange, w: Wallet, clock: Clock, vault: str | None = None) -> None:
        self.ex, self.wallet, self.clock, self.vault = ex, w, clock, vault
        self.last_nonce = 0

    def next_nonce(self) -> int:
        self.last_nonce = max(self.clock.t, self.last_nonce + 1)
        return self.last_nonce

    def body(self, action: dict, nonce: int | None = None, expires: int | None = None) -> dict:
        n = self.next_nonce() if nonce is None else nonce
        sig = sign_l1_action(self.wallet, action, self.vault, n, expires, False)
        return {"action": action, "nonce": n, "signature": sig, "vaultAddress": self.vault, "expiresAfter": expires}

    def post(self, action: dict, nonce: int | None = None, expires: int | None = None) -> dict:
        return self.ex.handle_exchange(self.body(action, nonce, expires))

    def order(self, *wires: dict) -> dict:
        return self.post({"type": "order", "orders": list(wires), "grouping": "na"})

    def statuses(self, *wires: dict) -> list:
        resp = self.order(*wires)
        assert resp["status"] == "ok", resp
        return resp["response"]["data"]["statuses"]

    def cancel(self, *pairs: tuple[int, int]) -> dict:
        return self.post({"type": "cancel", "cancels": [{"a": a, "o": o} for a, o in pairs]})


def W(a: int, is_buy: bool, p: str, s: str, tif: str = "Gtc", r: bool = False, c: str | None = None) -> dict:
    w = {"a": a, "b": is_buy, "p": p, "s": s, "r": r, "t": {"limit": {"tif": tif}}}
    if c is not None:
        w["c"] = c
    return w


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make(clock: Clock, **cfg) -> SimExchange:
    cfg.setdefault("demo_accounts", {ALICE: 100_000, BOB: 100_000})
    ex = SimExchange(SimConfig(seed=1, **cfg), now_ms=clock)
    ex.create_account(MM, 100_000_000)
    ex.create_account(MM2, 100_000_000)
    return ex


@pytest.fixture
def ex(clock: Clock) -> SimExchange:
    return make(clock)


@pytest.fixture
def alice(ex: SimExchange, clock: Clock) -> Client:
    return Client(ex, ALICE_W, clock)


@pytest.fixture
def bob(ex: SimExchange, clock: Clock) -> Client:
    return Client(ex, BOB_W, clock)


@pytest.fixture
def events(ex: SimExchange) -> list:
    got: list = []
    ex.add_listener(lambda ch, key, data: got.append((ch, key, json.loads(json.dumps(data)))))
    return got


def mm_quote(ex: SimExchange, bid_units: int = 999_990, ask_units: int = 1_000_010, lots: int = 1000,
             account: str = MM, coin: str = "BTC") -> tuple[int, int]:
    b = ex.internal_place(account, coin, True, bid_units, lots)["resting"]["oid"]
    a = ex.internal_place(account, coin, False, ask_units, lots)["resting"]["oid"]
    return b, a


def chs(ex: SimExchange, user: str) -> dict:
    return ex.handle_info({"type": "clearinghouseState", "user": user})


def position(ex: SimExchange, user: str, coin: str = "BTC") -> dict | None:
    for p in chs(ex, user)["assetPositions"]:
        if p["position"]["coin"] == coin:
            return p["position"]
    return None


# ==================================================================== info shapes

def test_meta_and_asset_ctxs_shapes(ex: SimExchange):
    meta = ex.handle_info({"type": "meta", "dex": ""})
    assert [u["name"] for u in meta["universe"]] == ["BTC", "ETH", "SOL"]
    assert meta["universe"][0] == {"name": "BTC", "szDecimals": 5, "maxLeverage": 40, "marginTableId": 51}
    tables = dict((i, t) for i, t in meta["marginTables"])
    assert tables[51]["marginTiers"] == [{"lowerBound": "0.0", "maxLeverage": 40},
                                         {"lowerBound": "150000000.0", "maxLeverage": 20}]
    assert tables[20] == {"description": "", "marginTiers": [{"lowerBound": "0.0", "maxLeverage": 20}]}
    mm_quote(ex)
    m, ctxs = ex.handle_info({"type": "metaAndAssetCtxs"})
    assert m == meta and len(ctxs) == 3
    assert list(ctxs[0]) == ["dayNtlVlm", "funding", "impactPxs", "markPx", "midPx", "openInterest",
                             "oraclePx", "premium", "prevDayPx", "dayBaseVlm"]
    c = ctxs[0]
    assert c["midPx"] == "100000.0" and c["markPx"] == "100000.0"   # median(99999, 100001, 100000)
    assert c["funding"] == "0.0000125" and c["openInterest"] == "0.0" and c["dayNtlVlm"] == "0.0"
    assert c["impactPxs"] is None  # 0.01 BTC per side < $20,000 impact notional
    assert ctxs[1]["midPx"] is None and ctxs[1]["markPx"] == "3500.0"


def test_all_mids_uses_book_mid_or_last_trade(ex: SimExchange):
    ex.internal_place(MM, "BTC", True, 999_990, 1000)
    ex.internal_place(MM, "BTC", False, 1_000_020, 1000)
    mids = ex.handle_info({"type": "allMids"})
    assert mids == {"BTC": "100000.5", "ETH": "3500.0", "SOL": "150.0"}


def test_l2_book_full_and_aggregated(ex: SimExchange):
    for units, lots in [(999_990, 100), (999_980, 200), (999_950, 300), (999_000, 400)]:
        ex.internal_place(MM, "BTC", True, units, lots)
    for units, lots in [(1_000_010, 100), (1_000_040, 50)]:
        ex.internal_place(MM, "BTC", False, units, lots)
    full = ex.handle_info({"type": "l2Book", "coin": "BTC"})
    assert full["coin"] == "BTC" and full["time"] == T0
    assert full["levels"][0][:2] == [{"px": "99999.0", "sz": "0.001", "n": 1}, {"px": "99998.0", "sz": "0.002", "n": 1}]
    assert full["levels"][1] == [{"px": "100001.0", "sz": "0.001", "n": 1}, {"px": "100004.0", "sz": "0.0005", "n": 1}]
    agg = ex.handle_info({"type": "l2Book", "coin": "BTC", "nSigFigs": 4, "mantissa": None})
    # 4 significant figures: $10 buckets below 100000, $100 above; bids round down, asks up
    assert agg["levels"][0] == [{"px": "99990.0", "sz": "0.006", "n": 3}, {"px": "99900.0", "sz": "0.004", "n": 1}]
    assert agg["levels"][1] == [{"px": "100100.0", "sz": "0.0015", "n": 2}]
    five = ex.l2_book("BTC", 5, 5)  # 5 figures x mantissa 5: $5 buckets below 100000, $50 above
    assert five["levels"][0] == [{"px": "99995.0", "sz": "0.006", "n": 3}, {"px": "99900.0", "sz": "0.004", "n": 1}]
    assert five["levels"][1] == [{"px": "100050.0", "sz": "0.0015", "n": 2}]
    assert ex.handle_info({"type": "l2Book", "coin": "NOPE"}) is None
    for bad in ({"type": "l2Book", "coin": "BTC", "nSigFigs": 6},
                {"type": "l2Book", "coin": "BTC", "nSigFigs": 4, "mantissa": 2},
                {"type": "l2Book", "coin": 5}):
        with pytest.raises(SimRequestError):
            ex.handle_info(bad)


def test_l2_book_caps_at_20_levels(ex: SimExchange):
    for i in range(25):
        ex.internal_place(MM, "BTC", True, 990_000 - 10 * i, 100)
    assert len(ex.l2_book("BTC")["levels"][0]) == 20


def test_malformed_info_bodies_are_422(ex: SimExchange):
    for bad in ([], {"type": "nope"}, {"type": "clearinghouseState", "user": "0x12"},
                {"type": "openOrders"}, {"type": "meta", "dex": "xyz"},
                {"type": "candleSnapshot", "req": {"coin": "BTC", "interval": "7m", "startTime": 0}},
                {"type": "orderStatus", "user": ALICE, "oid": "0x12"},
                {"type": "userFillsByTime", "user": ALICE}):
        with pytest.raises(SimRequestError) as e:
            ex.handle_info(bad)
        assert e.value.status == 422 and e.value.text == DESERIALIZE_FAILED


def test_user_info_for_unknown_address_is_empty(ex: SimExchange):
    nobody = "0x" + "12" * 20
    assert ex.handle_info({"type": "openOrders", "user": nobody}) == []
    assert ex.handle_info({"type": "userFills", "user": nobody}) == []
    assert ex.handle_info({"type": "userRateLimit", "user": nobody}) == {
        "cumVlm": "0.0", "nRequestsUsed": 0, "nRequestsCap": 10000, "nRequestsSurplus": 0}
    state = chs(ex, nobody)
    assert state["marginSummary"]["accountValue"] == "0.0" and state["assetPositions"] == []


def test_spot_meta_and_sim_truth(ex: SimExchange):
    assert ex.handle_info({"type": "spotMeta"}) == {"universe": [], "tokens": []}
    assert ex.handle_info({"type": "spotClearinghouseState", "user": ALICE}) == {"balances": []}
    assert ex.handle_info({"type": "simTruth"}) == {"time": T0, "truth": None}

    class Flow:
        def __init__(self):
            self.steps = []

        def step(self, now_ms):
            self.steps.append(now_ms)

        def truth(self):
            return {"sigma": 0.5, "informed_share": 0.1}

    flow = Flow()
    ex.attach_market(flow)
    ex.advance(T0 + 1000)
    assert flow.steps == [T0 + 1000]
    assert ex.handle_info({"type": "simTruth"})["truth"] == {"sigma": 0.5, "informed_share": 0.1}


# ==================================================================== orders

def test_resting_order_with_cloid_and_open_order_shapes(ex, alice):
    st = alice.statuses(W(BTC, True, "99000", "0.001", c=CLOID_1), W(BTC, False, "101000", "0.002"))
    oid1, oid2 = st[0]["resting"]["oid"], st[1]["resting"]["oid"]
    assert st[0] == {"resting": {"oid": oid1, "cloid": CLOID_1}} and st[1] == {"resting": {"oid": oid2}}
    assert oid2 == oid1 + 1
    oo = ex.handle_info({"type": "openOrders", "user": ALICE})
    assert oo[1] == {"coin": "BTC", "limitPx": "99000.0", "oid": oid1, "side": "B", "sz": "0.001",
                     "timestamp": T0, "cloid": CLOID_1}
    assert oo[0] == {"coin": "BTC", "limitPx": "101000.0", "oid": oid2, "side": "A", "sz": "0.002", "timestamp": T0}
    fo = ex.handle_info({"type": "frontendOpenOrders", "user": ALICE})
    assert fo[1] == {"coin": "BTC", "side": "B", "limitPx": "99000.0", "sz": "0.001", "oid": oid1, "timestamp": T0,
                     "triggerCondition": "N/A", "isTrigger": False, "triggerPx": "0.0", "children": [],
                     "isPositionTpsl": False, "reduceOnly": False, "orderType": "Limit", "origSz": "0.001",
                     "tif": "Gtc", "cloid": CLOID_1}
    assert fo[0]["cloid"] is None


def test_order_status_by_oid_and_cloid(ex, alice, bob):
    oid = alice.statuses(W(BTC, True, "99000", "0.001", c=CLOID_1))[0]["resting"]["oid"]
    by_oid = ex.handle_info({"type": "orderStatus", "user": ALICE, "oid": oid})
    by_cloid = ex.handle_info({"type": "orderStatus", "user": ALICE, "oid": CLOID_1})
    assert by_oid == by_cloid
    assert by_oid["status"] == "order" and by_oid["order"]["status"] == "open"
    assert by_oid["order"]["statusTimestamp"] == T0 and by_oid["order"]["order"]["cloid"] == CLOID_1
    assert ex.handle_info({"type": "orderStatus", "user": BOB, "oid": oid}) == {"status": "unknownOid"}
    assert ex.handle_info({"type": "orderStatus", "user": ALICE, "oid": 5}) == {"status": "unknownOid"}
    alice.cancel((BTC, oid))
    assert ex.handle_info({"type": "orderStatus", "user": ALICE, "oid": CLOID_1})["order"]["status"] == "canceled"


def test_rejected_order_is_queryable_by_cloid(ex, alice):
    mm_quote(ex)
    st = alice.statuses(W(BTC, True, "100001", "0.001", tif="Alo", c=CLOID_2))
    assert st == [{"error": "Post only order would have immediately matched, bbo was 99999@100001."}]
    got = ex.handle_info({"type": "orderStatus", "user": ALICE, "oid": CLOID_2})
    assert got["order"]["status"] == "badAloPxRejected"


def test_taker_fill_response_fees_and_fill_shape(ex, alice, events):
    mm_quote(ex)
    events.clear()
    st = alice.statuses(W(BTC, True, "100001", "0.0005", tif="Ioc", c=CLOID_1))
    oid = st[0]["filled"]["oid"]
    assert st == [{"filled": {"totalSz": "0.0005", "avgPx": "100001.0", "oid": oid, "cloid": CLOID_1}}]
    fills = ex.handle_info({"type": "userFills", "user": ALICE})
    assert len(fills) == 1
    f = fills[0]
    assert list(f)[:14] == ["closedPnl", "coin", "crossed", "dir", "hash", "oid", "px", "side", "startPosition",
                            "sz", "time", "fee", "feeToken", "tid"]
    # taker fee 0.045% of $50.0005 = 0.0225002 -> rounded to a micro-USD
    assert f["fee"] == "0.0225" and f["crossed"] is True and f["dir"] == "Open Long"
    assert f["px"] == "100001.0" and f["sz"] == "0.0005" and f["startPosition"] == "0.0"
    assert f["closedPnl"] == "0.0" and f["cloid"] == CLOID_1 and f["feeToken"] == "USDC"
    assert f["hash"].startswith("0x") and len(f["hash"]) == 66
    mm_fill = ex.handle_info({"type": "userFills", "user": MM})[0]
    assert mm_fill["tid"] == f["tid"] and mm_fill["crossed"] is False and mm_fill["side"] == "A"
    assert mm_fill["fee"] == "0.0075" and mm_fill["dir"] == "Open Short" and "cloid" not in mm_fill
    # events: one trades message, user + userFills per user, orderUpdates
    channels = [(c, k) for c, k, _ in events]
    assert ("trades", "BTC") in channels and ("userFills", ALICE) in channels and ("user", ALICE) in channels
    trade = next(d for c, k, d in events if c == "trades")[0]
    assert trade == {"coin": "BTC", "side": "B", "px": "100001.0", "sz": "0.0005", "hash": f["hash"],
                     "time": T0, "tid": f["tid"], "users": [ALICE, MM]}
    uf = next(d for c, k, d in events if c == "userFills" and k == ALICE)
    assert uf == {"isSnapshot": False, "user": ALICE, "fills": [f]}
    assert next(d for c, k, d in events if c == "user" and k == ALICE) == {"fills": [f]}
    ou = next(d for c, k, d in events if c == "orderUpdates" and k == ALICE)
    assert ou == [{"order": {"coin": "BTC", "side": "B", "limitPx": "100001.0", "sz": "0.0", "oid": oid,
                             "timestamp": T0, "origSz": "0.0005", "cloid": CLOID_1},
                   "status": "filled", "statusTimestamp": T0}]
    mm_ou = next(d for c, k, d in events if c == "orderUpdates" and k == MM)
    assert mm_ou[0]["status"] == "open" and mm_ou[0]["order"]["sz"] == "0.0095"
    bbo = next(d for c, k, d in events if c == "bbo")
    assert bbo == {"coin": "BTC", "time": T0, "bbo": [{"px": "99999.0", "sz": "0.01", "n": 1},
                                                      {"px": "100001.0", "sz": "0.0095", "n": 1}]}
    assert ex.user_fills_snapshot(ALICE) == [f]
    assert ex.dirty_books() == ["BTC"] and ex.dirty_books() == []


def test_per_order_validation_texts(ex, alice):
    st = alice.statuses(
        W(BTC, True, "99000.5", "0.001"),         # BTC: 1 decimal allowed but 6 significant figures
        W(BTC, True, "99000", "0.000001"),        # 6 decimals > szDecimals 5
        W(BTC, True, "99000", "0.0001"),          # $9.90 < $10
        W(BTC, True, "99000", "0"),
        W(7, True, "1", "1"),
        {"a": 0, "b": True, "p": "99000", "s": "0.001", "r": False,
         "t": {"trigger": {"isMarket": True, "triggerPx": "99000", "tpsl": "sl"}}},
    )
    assert st == [{"error": "Price must be divisible by tick size."}, {"error": "Order has invalid size."},
                  {"error": "Order must have minimum value of $10."}, {"error": "Order has zero size."},
                  {"error": "Asset 7 does not exist (simulator)."},
                  {"error": "Trigger orders are not supported by the simulator."}]
    assert ex.handle_info({"type": "openOrders", "user": ALICE}) == []


def test_whole_batch_prevalidation(ex, alice):
    assert alice.post({"type": "order", "orders": [], "grouping": "na"}) == {
        "status": "err", "response": "Empty batch of orders"}
    assert alice.post({"type": "order", "orders": [W(BTC, True, "99000", "0.001")], "grouping": "normalTpsl"}) == {
        "status": "err", "response": 'Only grouping "na" is supported by the simulator.'}
    assert alice.post({"type": "order", "orders": [W(BTC, True, "99000", "0.001")], "grouping": "na",
                       "builder": {"b": "0x" + "ab" * 20, "f": 10}}) == {
        "status": "err", "response": "Builder fees are not supported by the simulator."}
    assert ex.handle_info({"type": "openOrders", "user": ALICE}) == []


def test_alo_rejected_when_crossing_and_rests_otherwise(ex, alice):
    mm_quote(ex)
    st = alice.statuses(W(BTC, False, "99999", "0.001", tif="Alo"), W(BTC, False, "100000", "0.001", tif="Alo"))
    assert st[0] == {"error": "Post only order would have immediately matched, bbo was 99999@100001."}
    assert "resting" in st[1]


def test_ioc_without_liquidity_and_partial_ioc(ex, alice):
    st = alice.statuses(W(BTC, True, "100000", "0.001", tif="Ioc"))
    assert st == [{"error": "Order could not immediately match against any resting orders."}]
    ex.internal_place(MM, "BTC", False, 1_000_000, 40)
    st = alice.statuses(W(BTC, True, "100000", "0.001", tif="Ioc"))
    assert st[0]["filled"]["totalSz"] == "0.0004"
    status = ex.handle_info({"type": "orderStatus", "user": ALICE, "oid": st[0]["filled"]["oid"]})
    assert status["order"]["status"] == "canceled" and status["order"]["order"]["sz"] == "0.0006"
    assert ex.handle_info({"type": "openOrders", "user": ALICE}) == []


def test_price_time_priority_and_partial_fills_across_levels(ex, alice):
    o1 = ex.internal_place(MM, "BTC", False, 1_000_010, 100)["resting"]["oid"]
    o2 = ex.internal_place(MM2, "BTC", False, 1_000_010, 100)["resting"]["oid"]
    o3 = ex.internal_place(MM, "BTC", False, 1_000_000, 50)["resting"]["oid"]
    st = alice.statuses(W(BTC, True, "100001", "0.0022", tif="Gtc"))
    # 0.0005 @ 100000 (best price), then 0.001 @ 100001 from o1 (older), then 0.0007 from o2
    assert st[0]["filled"] == {"totalSz": "0.0022", "avgPx": "100000.8", "oid": st[0]["filled"]["oid"]}
    fills = ex.handle_info({"type": "userFills", "user": ALICE, "aggregateByTime": False})
    assert [(f["px"], f["sz"]) for f in reversed(fills)] == [("100000.0", "0.0005"), ("100001.0", "0.001"),
                                                             ("100001.0", "0.0007")]
    assert len({f["tid"] for f in fills}) == 3
    agg = ex.handle_info({"type": "userFills", "user": ALICE, "aggregateByTime": True})
    assert len(agg) == 1 and agg[0]["sz"] == "0.0022"
    assert ex.handle_info({"type": "orderStatus", "user": MM, "oid": o3})["order"]["status"] == "filled"
    assert ex.handle_info({"type": "orderStatus", "user": MM, "oid": o1})["order"]["status"] == "filled"
    o2_state = ex.handle_info({"type": "orderStatus", "user": MM2, "oid": o2})["order"]
    assert o2_state["status"] == "open" and o2_state["order"]["sz"] == "0.0003"


def test_gtc_partially_filled_rests_remainder(ex, alice):
    ex.internal_place(MM, "BTC", False, 1_000_000, 30)
    st = alice.statuses(W(BTC, True, "100000", "0.001"))
    oid = st[0]["resting"]["oid"]
    assert ex.handle_info({"type": "openOrders", "user": ALICE})[0]["sz"] == "0.0007"
    assert ex.l2_book("BTC")["levels"][0][0] == {"px": "100000.0", "sz": "0.0007", "n": 1}
    assert position(ex, ALICE)["szi"] == "0.0003"
    assert ex.handle_info({"type": "orderStatus", "user": ALICE, "oid": oid})["order"]["order"]["origSz"] == "0.001"


def test_self_trade_cancels_the_resting_order(ex, alice, events):
    mine = alice.statuses(W(BTC, False, "100000", "0.001"))[0]["resting"]["oid"]
    ex.internal_place(MM, "BTC", False, 1_000_010, 100)
    events.clear()
    st = alice.statuses(W(BTC, True, "100001", "0.001", tif="Ioc"))
    assert st[0]["filled"]["totalSz"] == "0.001" and st[0]["filled"]["avgPx"] == "100001.0"
    got = ex.handle_info({"type": "orderStatus", "user": ALICE, "oid": mine})
    assert got["order"]["status"] == "selfTradeCanceled"
    assert ("user", ALICE, {"nonUserCancel": [{"coin": "BTC", "oid": mine}]}) in events
    assert position(ex, ALICE)["szi"] == "0.001"


def test_pnl_fees_and_entry_by_hand(ex, alice):
    # buy 0.001 @ 100000 and 0.002 @ 101000 (taker), then sell 0.0015 @ 102000
    ex.internal_place(MM, "BTC", False, 1_000_000, 100)
    ex.internal_place(MM, "BTC", False, 1_010_000, 200)
    alice.statuses(W(BTC, True, "101000", "0.003", tif="Ioc"))
    p = position(ex, ALICE)
    assert p["szi"] == "0.003" and p["entryPx"] == "100666.7"     # 302 / 0.003
    ex.internal_place(MM, "BTC", True, 1_020_000, 150)
    alice.statuses(W(BTC, False, "102000", "0.0015", tif="Ioc"))
    last = ex.handle_info({"type": "userFills", "user": ALICE})[0]
    # released basis = 302 * 0.0015 / 0.003 = 151; proceeds 153 -> closedPnl 2.0
    assert last["closedPnl"] == "2.0" and last["dir"] == "Close Long" and last["startPosition"] == "0.003"
    assert last["fee"] == "0.06885"                                   # 153 * 0.045 %
    p = position(ex, ALICE)
    assert p["szi"] == "0.0015" and p["entryPx"] == "100666.7"
    # mark = median(bid none -> last trade) = 102000: uPnL = 0.0015 * 102000 - 151 = 2.0
    assert p["unrealizedPnl"] == "2.0" and p["positionValue"] == "153.0"
    assert p["marginUsed"] == "7.65"                                  # 153 / 20x default
    fees = 0.045 + 0.0909 + 0.06885                                   # 100, 202, 153 notional at 0.045 %
    state = chs(ex, ALICE)["marginSummary"]
    assert state["accountValue"] == f"{100_000 + 2.0 + 2.0 - fees:.6f}".rstrip("0")
    assert state["totalRawUsd"] == f"{100_000 + 2.0 + 2.0 - fees - 153:.6f}".rstrip("0")


def test_flip_long_to_short_in_one_fill(ex, alice):
    ex.internal_place(MM, "BTC", False, 1_000_000, 100)
    alice.statuses(W(BTC, True, "100000", "0.001", tif="Ioc"))
    ex.internal_place(MM, "BTC", True, 1_010_000, 300)
    alice.statuses(W(BTC, False, "101000", "0.003", tif="Ioc"))
    f = ex.handle_info({"type": "userFills", "user": ALICE})[0]
    assert f["dir"] == "Long > Short" and f["startPosition"] == "0.001" and f["sz"] == "0.003"
    assert f["closedPnl"] == "1.0"                     # the 0.001 closed: (101000 - 100000) * 0.001
    p = position(ex, ALICE)
    assert p["szi"] == "-0.002" and p["entryPx"] == "101000.0"
    mm = ex.handle_info({"type": "userFills", "user": MM})[0]
    assert mm["dir"] == "Short > Long" and mm["startPosition"] == "-0.001" and mm["closedPnl"] == "-1.0"


def test_reduce_only_rules(ex, alice):
    st = alice.statuses(W(BTC, False, "100000", "0.001", r=True))
    assert st == [{"error": "Reduce only order would increase position."}]
    ex.internal_place(MM, "BTC", False, 1_000_000, 100)
    alice.statuses(W(BTC, True, "100000", "0.001", tif="Ioc"))
    assert alice.statuses(W(BTC, True, "99000", "0.001", r=True)) == [
        {"error": "Reduce only order would increase position."}]
    # a reduce-only sell larger than the position is clipped to it; below $10 is fine when reducing
    st = alice.statuses(W(BTC, False, "105000", "0.005", r=True))
    oid = st[0]["resting"]["oid"]
    assert ex.handle_info({"type": "openOrders", "user": ALICE})[0]["sz"] == "0.001"
    # the position closes elsewhere: the resting reduce-only order can no longer reduce -> canceled
    ex.internal_place(MM, "BTC", True, 990_000, 100)
    alice.statuses(W(BTC, False, "99000", "0.001", tif="Ioc"))
    got = ex.handle_info({"type": "orderStatus", "user": ALICE, "oid": oid})
    assert got["order"]["status"] == "reduceOnlyCanceled"


def test_resting_reduce_only_is_rechecked_when_hit(ex, alice, bob):
    ex.internal_place(MM, "BTC", False, 1_000_000, 200)
    alice.statuses(W(BTC, True, "100000", "0.002", tif="Ioc"))
    # two reduce-only asks that together exceed the 0.002 long
    a1 = alice.statuses(W(BTC, False, "101000", "0.002", r=True))[0]["resting"]["oid"]
    a2 = alice.statuses(W(BTC, False, "101000", "0.002", r=True))[0]["resting"]["oid"]
    st = bob.statuses(W(BTC, True, "101000", "0.004", tif="Ioc"))
    assert st[0]["filled"]["totalSz"] == "0.002"      # only a1 could trade; a2 then could not reduce
    assert position(ex, ALICE) is None
    assert ex.handle_info({"type": "orderStatus", "user": ALICE, "oid": a1})["order"]["status"] == "filled"
    assert ex.handle_info({"type": "orderStatus", "user": ALICE, "oid": a2})["order"]["status"] == "reduceOnlyCanceled"


def test_margin_rejection_and_leverage(ex, alice, clock):
    poor = Wallet.from_hex("0x" + "77" * 32)
    ex.create_account(poor.address, 100)
    c = Client(ex, poor, clock)
    ex.internal_place(MM, "BTC", False, 1_000_000, 100_000)
    # $100 at 20x supports $2000 of notional
    assert c.statuses(W(BTC, True, "100000", "0.021")) == [{"error": "Insufficient margin to place order."}]
    assert "resting" in c.statuses(W(BTC, True, "99000", "0.02"))[0]
    # a second buy adds to the worst case; an opposite-side sell that only offsets does not
    assert c.statuses(W(BTC, True, "99000", "0.001")) == [{"error": "Insufficient margin to place order."}]
    assert "resting" in c.statuses(W(BTC, False, "101000", "0.001"))[0]
    got = ex.handle_info({"type": "orderStatus", "user": poor.address.lower(), "oid": 1})
    assert got == {"status": "unknownOid"}
    assert c.post({"type": "updateLeverage", "asset": BTC, "isCross": True, "leverage": 40}) == {
        "status": "ok", "response": {"type": "default"}}
    assert "resting" in c.statuses(W(BTC, True, "99000", "0.02"))[0]
    assert c.post({"type": "updateLeverage", "asset": BTC, "isCross": True, "leverage": 41}) == {
        "status": "err", "response": "Invalid leverage value"}
    assert c.post({"type": "updateLeverage", "asset": BTC, "isCross": False, "leverage": 5}) == {
        "status": "err", "response": "Isolated margin is not supported by the simulator."}


def test_leverage_changes_margin_used(ex, alice):
    ex.internal_place(MM, "BTC", False, 1_000_000, 1000)
    alice.statuses(W(BTC, True, "100000", "0.01", tif="Ioc"))
    ex.internal_place(MM, "BTC", True, 999_990, 1000)  # mark = median(99999, 100000, 100000) = 100000
    assert position(ex, ALICE)["marginUsed"] == "50.0" and position(ex, ALICE)["leverage"] == {
        "type": "cross", "value": 20}
    assert alice.post({"type": "updateLeverage", "asset": BTC, "isCross": True, "leverage": 10})["status"] == "ok"
    assert position(ex, ALICE)["marginUsed"] == "100.0"
    assert position(ex, ALICE)["leverage"]["value"] == 10


def test_open_order_limit(clock):
    ex = make(clock, open_order_limit=2)
    a = Client(ex, ALICE_W, clock)
    st = a.statuses(*[W(BTC, True, str(90000 + i), "0.001") for i in range(3)],
                    W(BTC, True, "90000", "0.001", tif="Ioc"))
    assert "resting" in st[0] and "resting" in st[1]
    assert st[2] == {"error": "Too many open orders."}
    assert st[3] == {"error": "Order could not immediately match against any resting orders."}


# ==================================================================== cancels and modifies

def test_cancel_and_cancel_by_cloid(ex, alice, bob):
    st = alice.statuses(W(BTC, True, "99000", "0.001"), W(ETH, True, "3000", "0.01", c=CLOID_1))
    o1 = st[0]["resting"]["oid"]
    assert alice.cancel((BTC, o1), (BTC, o1), (ETH, o1)) == {"status": "ok", "response": {"type": "cancel", "data": {
        "statuses": ["success", {"error": "Order was never placed, already canceled, or filled."},
                     {"error": "Order was never placed, already canceled, or filled."}]}}}
    assert bob.post({"type": "cancelByCloid", "cancels": [{"asset": ETH, "cloid": CLOID_1}]})["response"][
        "data"]["statuses"] == [{"error": "Order was never placed, already canceled, or filled."}]
    resp = alice.post({"type": "cancelByCloid", "cancels": [{"asset": ETH, "cloid": CLOID_1}]})
    assert resp == {"status": "ok", "response": {"type": "cancel", "data": {"statuses": ["success"]}}}
    assert ex.handle_info({"type": "openOrders", "user": ALICE}) == []


def test_modify_replaces_with_new_oid_and_keeps_cloid(ex, alice, events):
    oid = alice.statuses(W(BTC, True, "99000", "0.001", c=CLOID_1))[0]["resting"]["oid"]
    events.clear()
    resp = alice.post({"type": "modify", "oid": oid, "order": W(BTC, True, "99500", "0.002")})
    assert resp == {"status": "ok", "response": {"type": "default"}}
    oo = ex.handle_info({"type": "openOrders", "user": ALICE})
    assert len(oo) == 1 and oo[0]["oid"] != oid and oo[0]["cloid"] == CLOID_1
    assert oo[0]["limitPx"] == "99500.0" and oo[0]["sz"] == "0.002"
    assert ex.handle_info({"type": "orderStatus", "user": ALICE, "oid": oid})["order"]["status"] == "canceled"
    ups = next(d for c, k, d in events if c == "orderUpdates")
    assert [(u["order"]["oid"], u["status"]) for u in ups] == [(oid, "canceled"), (oo[0]["oid"], "open")]
    # modify by cloid, in a batch, plus a missing target
    resp = alice.post({"type": "batchModify", "modifies": [
        {"oid": CLOID_1, "order": W(BTC, True, "99600", "0.002", c=CLOID_1)},
        {"oid": 12345, "order": W(BTC, True, "99600", "0.002")}]})
    st = resp["response"]["data"]["statuses"]
    assert resp["response"]["type"] == "order"
    assert st[0] == {"resting": {"oid": st[0]["resting"]["oid"], "cloid": CLOID_1}}
    assert st[1] == {"error": "Cannot modify canceled or filled order."}
    assert alice.post({"type": "modify", "oid": oid, "order": W(BTC, True, "99500", "0.002")}) == {
        "status": "err", "response": "Cannot modify canceled or filled order."}


def test_schedule_cancel_fires_on_advance(ex, alice, clock, events):
    o1, o2 = [s["resting"]["oid"] for s in alice.statuses(W(BTC, True, "99000", "0.001"),
                                                          W(ETH, False, "4000", "0.01"))]
    assert alice.post({"type": "scheduleCancel", "time": T0 + 4999}) == {
        "status": "err", "response": "Scheduled cancel time too early, must be at least 5 seconds from now."}
    assert alice.post({"type": "scheduleCancel", "time": T0 + 10_000}) == {"status": "ok", "response": {"type": "default"}}
    ex.advance(T0 + 9_999)
    assert len(ex.handle_info({"type": "openOrders", "user": ALICE})) == 2
    events.clear()
    clock.t = T0 + 10_000
    ex.advance(T0 + 10_000)
    assert ex.handle_info({"type": "openOrders", "user": ALICE}) == []
    for oid in (o1, o2):
        got = ex.handle_info({"type": "orderStatus", "user": ALICE, "oid": oid})["order"]
        assert got["status"] == "scheduledCancel" and got["statusTimestamp"] == T0 + 10_000
    assert ("user", ALICE, {"nonUserCancel": [{"coin": "BTC", "oid": o1}, {"coin": "ETH", "oid": o2}]}) in events
    # unset by leaving time out
    alice.statuses(W(BTC, True, "99000", "0.001"))
    alice.post({"type": "scheduleCancel", "time": clock.t + 10_000})
    assert alice.post({"type": "scheduleCancel"})["status"] == "ok"
    ex.advance(clock.t + 60_000)
    assert len(ex.handle_info({"type": "openOrders", "user": ALICE})) == 1


def test_schedule_cancel_limits(clock):
    ex = make(clock, schedule_cancel_max_per_day=1, schedule_cancel_min_volume_usd=0)
    a = Client(ex, ALICE_W, clock)
    a.post({"type": "scheduleCancel", "time": T0 + 5000})
    clock.t += 5000
    ex.advance(clock.t)
    assert a.post({"type": "scheduleCancel", "time": clock.t + 5000}) == {
        "status": "err", "response": "Too many scheduled cancel triggers today"}
    gated = make(Clock(), schedule_cancel_min_volume_usd=1_000_000)
    b = Client(gated, ALICE_W, Clock())
    assert b.post({"type": "scheduleCancel", "time": T0 + 60_000}) == {
        "status": "err",
        "response": "Cannot set scheduled cancel time until enough volume traded. Required: $1000000. Traded: $0."}


def test_noop_burns_the_nonce(ex, alice):
    n = alice.next_nonce()
    assert alice.post({"type": "noop"}, nonce=n) == {"status": "ok", "response": {"type": "default"}}
    assert alice.post({"type": "noop"}, nonce=n) == {"status": "err", "response": f"Invalid nonce: duplicate nonce {n}"}


# ==================================================================== signatures, agents, nonces

def test_unknown_signer_and_must_deposit(ex, clock):
    stranger = Client(ex, STRANGER_W, clock)
    assert stranger.post({"type": "noop"}) == {
        "status": "err", "response": f"User or API Wallet {STRANGER_W.address.lower()} does not exist."}
    ex.create_account(STRANGER_W.address)
    assert stranger.post({"type": "noop"}) == {
        "status": "err", "response": f"Must deposit before performing actions. User: {STRANGER_W.address.lower()}"}
    ex.fund(STRANGER_W.address, 50)
    assert stranger.post({"type": "noop"})["status"] == "ok"


def test_tampered_action_recovers_another_signer(ex, alice):
    body = alice.body({"type": "order", "orders": [W(BTC, True, "99000", "0.001")], "grouping": "na"})
    body["action"]["orders"][0]["p"] = "98000"
    resp = ex.handle_exchange(body)
    assert resp["status"] == "err" and resp["response"].startswith("User or API Wallet 0x")
    assert ex.handle_info({"type": "openOrders", "user": ALICE}) == []


def test_bad_signature_and_malformed_bodies(ex, alice):
    body = alice.body({"type": "noop"})
    body["signature"] = {"r": "0x1", "s": "0x1", "v": 27}
    resp = ex.handle_exchange(body)
    assert resp["status"] == "err"
    for bad in ({}, {"action": {"type": "order"}, "nonce": 1, "signature": {}},
                {"action": {"type": "teleport"}, "nonce": 1, "signature": {}},
                {"action": {"type": "noop"}, "nonce": "1", "signature": {}},
                {"action": {"type": "order", "orders": [{"a": 0}], "grouping": "na"}, "nonce": 1, "signature": {}},
                {"action": {"type": "order", "orders": [W(0, True, "1", "1", tif="Fok")], "grouping": "na"},
                 "nonce": 1, "signature": {}},
                {"action": {"type": "cancel", "cancels": [{"a": 0, "o": -1}]}, "nonce": 1, "signature": {}}):
        with pytest.raises(SimRequestError) as e:
            ex.handle_exchange(bad)
        assert (e.value.status, e.value.text) == (422, DESERIALIZE_FAILED)


def test_unsupported_real_actions_are_refused_by_name(ex, alice):
    assert alice.post({"type": "updateIsolatedMargin", "asset": 0, "isBuy": True, "ntli": 1000000}) == {
        "status": "err", "response": "Action updateIsolatedMargin is not supported by the simulator."}
    assert alice.post({"type": "twapCancel", "a": 0, "t": 1})["response"] == \
        "Action twapCancel is not supported by the simulator."


def test_nonce_window_and_highest_100(ex, alice, clock):
    too_low = T0 - 2 * 86_400_000
    assert alice.post({"type": "noop"}, nonce=too_low)["response"] == \
        f"Invalid nonce: nonce too low {too_low} < {too_low + 1}"
    too_high = T0 + 86_400_000
    assert alice.post({"type": "noop"}, nonce=too_high)["response"] == \
        f"Invalid nonce: nonce too high {too_high} > {too_high - 1}"
    for i in range(100):
        assert alice.post({"type": "noop"}, nonce=T0 + 1000 + i)["status"] == "ok"
    # 100 kept (T0+1000 .. T0+1099): a nonce must now exceed the smallest
    assert alice.post({"type": "noop"}, nonce=T0 + 1000)["response"] == f"Invalid nonce: duplicate nonce {T0 + 1000}"
    assert alice.post({"type": "noop"}, nonce=T0 + 999)["response"] == \
        f"Invalid nonce: nonce too low {T0 + 999} < {T0 + 1000}"
    assert alice.post({"type": "noop"}, nonce=T0 + 1500)["status"] == "ok"
    # the set dropped T0+1000; T0+1001 is now the floor and an unused nonce above it still works
    assert alice.post({"type": "noop"}, nonce=T0 + 1000)["response"].startswith("Invalid nonce: nonce too low")
    assert alice.post({"type": "noop"}, nonce=T0 + 1200)["status"] == "ok"


def test_nonce_window_edges_are_accepted(alice):
    assert alice.post({"type": "noop"}, nonce=T0 - 2 * 86_400_000 + 1)["status"] == "ok"
    assert alice.post({"type": "noop"}, nonce=T0 + 86_400_000 - 1)["status"] == "ok"


def test_rejected_request_does_not_burn_nonce(clock):
    ex = make(clock, address_budget_start=0)
    a = Client(ex, ALICE_W, clock)
    n = T0 + 5
    a.post({"type": "noop"}, nonce=n)  # passes on the trickle
    r = a.post({"type": "noop"}, nonce=n + 1)
    assert r["response"].startswith("Too many cumulative requests")
    clock.t += 10_000
    assert a.post({"type": "noop"}, nonce=n + 1)["status"] == "ok"


def _approve(ex: SimExchange, master: Wallet, agent: str, name: str, nonce: int) -> dict:
    action = approve_agent_action(agent, name, nonce)
    primary, types = USER_SIGNED_TYPES["approveAgent"]
    sig = sign_user_signed_action(master, action, types, primary, False)
    return ex.handle_exchange({"action": action, "nonce": nonce, "signature": sig, "vaultAddress": None})


def test_agent_approval_then_agent_signed_order(ex, clock):
    assert Client(ex, AGENT_W, clock).post({"type": "noop"})["response"] == \
        f"User or API Wallet {AGENT} does not exist."
    assert _approve(ex, ALICE_W, AGENT_W.address, "bot", T0) == {"status": "ok", "response": {"type": "default"}}
    agent = Client(ex, AGENT_W, clock)
    agent.last_nonce = T0 + 50
    st = agent.statuses(W(BTC, True, "99000", "0.001", c=CLOID_1))
    oid = st[0]["resting"]["oid"]
    oo = ex.handle_info({"type": "openOrders", "user": ALICE})
    assert [o["oid"] for o in oo] == [oid]
    assert ex.handle_info({"type": "openOrders", "user": AGENT}) == []
    # the agent's nonces are its own: alice may reuse the number the agent used
    alice = Client(ex, ALICE_W, clock)
    assert alice.post({"type": "noop"}, nonce=agent.last_nonce)["status"] == "ok"
    # the agent cannot approve agents; re-approving the name replaces the old agent
    assert _approve(ex, AGENT_W, "0x" + "cd" * 20, "x", T0 + 1)["response"] == "Agents cannot approve agents (simulator)."
    other = wallet(0x0DD)
    assert _approve(ex, ALICE_W, other.address, "bot", T0 + 2)["status"] == "ok"
    assert agent.post({"type": "noop"})["response"] == f"User or API Wallet {AGENT} does not exist."
    assert Client(ex, other, clock).cancel((BTC, oid))["response"]["data"]["statuses"] == ["success"]


def test_agent_valid_until_and_chain(ex, clock):
    assert _approve(ex, ALICE_W, AGENT_W.address, f"bot valid_until {T0 + 1000}", T0)["status"] == "ok"
    agent = Client(ex, AGENT_W, clock)
    assert agent.post({"type": "noop"})["status"] == "ok"
    clock.t = T0 + 1001
    assert agent.post({"type": "noop"})["response"] == f"User or API Wallet {AGENT} does not exist."
    action = approve_agent_action(AGENT_W.address, "", clock.t)
    primary, types = USER_SIGNED_TYPES["approveAgent"]
    sig = sign_user_signed_action(ALICE_W, action, types, primary, True)   # signed for mainnet
    resp = ex.handle_exchange({"action": action, "nonce": clock.t, "signature": sig, "vaultAddress": None})
    assert resp == {"status": "err", "response": "Invalid hyperliquidChain: this exchange is Testnet (simulator)."}


def test_vault_address_acts_for_a_controlled_account(ex, clock):
    sub = "0x" + "5b" * 20
    ex.create_account(sub, 1000)
    as_sub = Client(ex, ALICE_W, clock, vault=sub)
    assert as_sub.post({"type": "noop"}) == {
        "status": "err", "response": f"Vault or sub-account {sub} is not controlled by {ALICE} (simulator)."}
    ex.controls(ALICE, sub)
    oid = as_sub.statuses(W(BTC, True, "99000", "0.001"))[0]["resting"]["oid"]
    assert [o["oid"] for o in ex.handle_info({"type": "openOrders", "user": sub})] == [oid]
    assert ex.handle_info({"type": "openOrders", "user": ALICE}) == []
    assert ex.handle_info({"type": "userRateLimit", "user": sub})["nRequestsUsed"] == 1


def test_expired_action_is_refused_and_costs_5x(ex, alice, clock):
    resp = alice.post({"type": "noop"}, expires=T0 - 1)
    assert resp == {"status": "err", "response": "Action already expired"}
    assert ex.handle_info({"type": "userRateLimit", "user": ALICE})["nRequestsUsed"] == 5
    assert alice.post({"type": "noop"}, expires=T0 + 1000)["status"] == "ok"


# ==================================================================== rate limits

def test_address_rate_limit_trickle_and_cancel_allowance(clock):
    ex = make(clock, address_budget_start=3)
    a = Client(ex, ALICE_W, clock)
    oids = [s["resting"]["oid"] for s in a.statuses(W(BTC, True, "99000", "0.001"), W(BTC, True, "98000", "0.001"))]
    assert a.post({"type": "noop"})["status"] == "ok"                     # 3 of 3 used
    r = a.post({"type": "noop"})                                          # first one past the cap: trickle
    assert r["status"] == "ok"
    r = a.post({"type": "noop"})
    assert r == {"status": "err", "response": "Too many cumulative requests sent (5 > 3) for cumulative volume "
                                              "traded $0. Place taker orders to free up 1 request per USDC traded."}
    # cancels pass up to min(cap + 100000, 2 * cap) = 6
    assert a.cancel((BTC, oids[0]))["response"]["data"]["statuses"] == ["success"]       # 5
    assert a.cancel((BTC, oids[1]))["response"]["data"]["statuses"] == ["success"]       # 6
    assert a.cancel((BTC, 1))["response"].startswith("Too many cumulative requests sent (7 > 3)")
    clock.t += 9_999
    assert a.post({"type": "noop"})["status"] == "err"
    clock.t += 1
    assert a.post({"type": "noop"})["status"] == "ok"                     # one per 10 s
    assert ex.handle_info({"type": "userRateLimit", "user": ALICE}) == {
        "cumVlm": "0.0", "nRequestsUsed": 7, "nRequestsCap": 3, "nRequestsSurplus": 0}


def test_volume_raises_the_address_budget(clock):
    ex = make(clock, address_budget_start=1)
    a = Client(ex, ALICE_W, clock)
    ex.internal_place(MM, "BTC", False, 1_000_000, 5000)
    a.statuses(W(BTC, True, "100000", "0.05", tif="Ioc"))                # $5000 traded
    info = ex.handle_info({"type": "userRateLimit", "user": ALICE})
    assert info == {"cumVlm": "5000.0", "nRequestsUsed": 1, "nRequestsCap": 5001, "nRequestsSurplus": 0}
    # a batch of n orders costs n
    a.statuses(*[W(BTC, True, str(90000 + i), "0.001") for i in range(7)])
    assert ex.handle_info({"type": "userRateLimit", "user": ALICE})["nRequestsUsed"] == 8


def test_ip_weights(ex):
    assert ex.info_weight({"type": "l2Book", "coin": "BTC"}, {}) == 2
    assert ex.info_weight({"type": "meta"}, {}) == 20
    assert ex.info_weight({"type": "userRole"}, {}) == 60
    assert ex.info_weight({"type": "userFills"}, [{}] * 45) == 22
    assert ex.info_weight({"type": "candleSnapshot"}, [{}] * 130) == 22
    assert ex.exchange_weight({"action": {"type": "order", "orders": [{}] * 79}}) == 2
    assert ex.exchange_weight({"action": {"type": "noop"}}) == 1
    assert ex.exchange_weight("junk") == 1


# ==================================================================== funding, candles, history

def test_hourly_funding_payment_event_and_history(ex, alice, clock, events):
    ex.internal_place(MM, "BTC", False, 1_000_000, 1000)
    alice.statuses(W(BTC, True, "100000", "0.01", tif="Ioc"))             # long 0.01 BTC
    ex.set_oracle("BTC", 100_000.0)
    events.clear()
    ex.advance(NEXT_HOUR - 1)
    assert not [e for e in events if e[0] == "user"]
    ex.advance(NEXT_HOUR)
    # no impact prices -> premium 0 -> rate = 0.01 % / 8 = 0.0000125; payment = 0.01 * 100000 * rate
    ev = next(d for c, k, d in events if c == "user" and k == ALICE)
    assert ev == {"funding": {"time": NEXT_HOUR, "coin": "BTC", "usdc": "-0.0125", "szi": "0.01",
                              "fundingRate": "0.0000125"}}
    mm_ev = next(d for c, k, d in events if c == "user" and k == MM)
    assert mm_ev["funding"]["usdc"] == "0.0125" and mm_ev["funding"]["szi"] == "-0.01"
    assert position(ex, ALICE)["cumFunding"] == {"allTime": "0.0125", "sinceChange": "0.0125", "sinceOpen": "0.0125"}
    hist = ex.handle_info({"type": "fundingHistory", "coin": "BTC", "startTime": T0})
    assert hist == [{"coin": "BTC", "fundingRate": "0.0000125", "premium": "0.0", "time": NEXT_HOUR}]
    uf = ex.handle_info({"type": "userFunding", "user": ALICE, "startTime": T0})
    assert uf[0]["delta"] == {"type": "funding", "coin": "BTC", "usdc": "-0.0125", "szi": "0.01",
                              "fundingRate": "0.0000125", "nSamples": None}
    ex.advance(NEXT_HOUR + 2 * HOUR)
    assert len(ex.handle_info({"type": "fundingHistory", "coin": "BTC", "startTime": T0})) == 3


def test_funding_follows_premium_of_impact_prices_vs_oracle(ex, alice, clock):
    ex.internal_place(MM, "BTC", False, 1_000_000, 100)
    alice.statuses(W(BTC, True, "100000", "0.001", tif="Ioc"))
    # deep book 1 % above the oracle: premium = +1 %, clamp keeps F8h = premium - 0.05 % + ... -> capped formula
    ex.internal_place(MM, "BTC", True, 1_010_000, 100_000)
    ex.internal_place(MM, "BTC", False, 1_010_100, 100_000)
    ex.set_oracle("BTC", 100_000.0)
    ex.advance(NEXT_HOUR)
    hist = ex.handle_info({"type": "fundingHistory", "coin": "BTC", "startTime": T0})[0]
    # avg premium 0.01 (bid impact 101000 vs oracle 100000); F8h = 0.01 + clamp(0.0001 - 0.01, +-0.0005) = 0.0095
    assert hist["premium"] == "0.01" and hist["fundingRate"] == "0.0011875"


def test_candles_and_recent_trades(ex, alice, clock):
    ex.internal_place(MM, "BTC", False, 1_000_000, 100)
    ex.internal_place(MM, "BTC", False, 1_000_100, 100)
    alice.statuses(W(BTC, True, "100010", "0.002", tif="Ioc"))
    clock.t = T0 + 60_000   # next minute, same 15-minute candle
    ex.internal_place(MM, "BTC", True, 999_000, 100)
    alice.statuses(W(BTC, False, "99900", "0.001", tif="Ioc"))
    candles = ex.handle_info({"type": "candleSnapshot", "req": {"coin": "BTC", "interval": "15m",
                                                                 "startTime": T0 - HOUR, "endTime": T0 + HOUR}})
    t = T0 // 900_000 * 900_000
    assert candles == [{"T": t + 900_000 - 1, "c": "99900.0", "h": "100010.0", "i": "15m", "l": "99900.0", "n": 3,
                        "o": "100000.0", "s": "BTC", "t": t, "v": "0.003"}]
    one_min = ex.handle_info({"type": "candleSnapshot", "req": {"coin": "BTC", "interval": "1m",
                                                                 "startTime": T0, "endTime": T0 + HOUR}})
    assert [c["n"] for c in one_min] == [2, 1]
    trades = ex.handle_info({"type": "recentTrades", "coin": "BTC"})
    assert [(tr["px"], tr["side"]) for tr in trades] == [("100000.0", "B"), ("100010.0", "B"), ("99900.0", "A")]
    ctx = ex.handle_info({"type": "metaAndAssetCtxs"})[1][0]
    assert ctx["dayNtlVlm"] == "299.91" and ctx["dayBaseVlm"] == "0.003" and ctx["prevDayPx"] == "100000.0"
    by_time = ex.handle_info({"type": "userFillsByTime", "user": ALICE, "startTime": T0 + 1})
    assert [f["time"] for f in by_time] == [T0 + 60_000]


# ==================================================================== faults, internal API, determinism

def test_fault_reject_next_and_freeze_book(ex, alice, events):
    ex.faults.reject_next(2)
    st = alice.statuses(W(BTC, True, "99000", "0.001"), W(BTC, True, "99000", "0.001"),
                        W(BTC, True, "99000", "0.001"))
    assert st[:2] == [{"error": "Order rejected by injected fault (simulator)."}] * 2 and "resting" in st[2]
    oid = st[2]["resting"]["oid"]
    ex.dirty_books()
    ex.faults.freeze_book("BTC", True)
    events.clear()
    assert alice.statuses(W(BTC, True, "99000", "0.001")) == [{"error": "Book is frozen by injected fault (simulator)."}]
    assert alice.cancel((BTC, oid))["response"]["data"]["statuses"] == [
        {"error": "Book is frozen by injected fault (simulator)."}]
    assert ex.internal_place(MM, "BTC", True, 990_000, 100) == {"error": "Book is frozen by injected fault (simulator)."}
    assert "resting" in alice.statuses(W(ETH, True, "3000", "0.01"))[0]
    assert ex.dirty_books() == ["ETH"]
    assert not [e for e in events if e[1] == "BTC"]
    ex.faults.freeze_book("BTC", False)
    assert ex.dirty_books() == ["BTC"]
    assert alice.cancel((BTC, oid))["response"]["data"]["statuses"] == ["success"]
    ex.faults.freeze_book(True)
    assert ex.faults.to_dict()["frozen"] == ["BTC", "ETH", "SOL"]
    ex.faults.freeze_book(False)
    with pytest.raises(ValueError):
        ex.faults.freeze_book("DOGE", True)


def test_internal_api_errors_and_queries(ex):
    with pytest.raises(SimError, match="unknown account"):
        ex.internal_place("0x" + "01" * 20, "BTC", True, 990_000, 100)
    with pytest.raises(SimError, match="unknown coin"):
        ex.internal_place(MM, "DOGE", True, 990_000, 100)
    with pytest.raises(SimError, match="already exists"):
        ex.create_account(MM, 5)
    with pytest.raises(SimError, match="positive"):
        ex.fund(MM, -5)
    assert ex.internal_place(MM, "BTC", True, 990_001, 100) == {"error": "Price must be divisible by tick size."}
    oid = ex.internal_place(MM, "BTC", True, 990_000, 100)["resting"]["oid"]
    assert ex.book_top("BTC") == (990_000, 100, 0, 0)
    assert ex.open_orders_of(MM) == [(oid, True, 990_000, 100)]
    assert ex.internal_cancel(MM, "BTC", oid) is True and ex.internal_cancel(MM, "BTC", oid) is False
    mm_quote(ex)
    assert ex.internal_cancel_all(MM, "BTC") == 2 and ex.book_top("BTC") == (0, 0, 0, 0)
    assert ex.position_lots(MM, "BTC") == 0


def test_all_mids_event_on_advance(ex, events):
    ex.advance(T0 + 1)
    assert events[-1] == ("allMids", None, {"mids": {"BTC": "100000.0", "ETH": "3500.0", "SOL": "150.0"}})
    n = len(events)
    ex.advance(T0 + 2)
    assert len(events) == n   # unchanged mids are not re-sent
    mm_quote(ex, 999_990, 1_000_030)
    ex.advance(T0 + 3)
    assert events[-1][2]["mids"]["BTC"] == "100001.0"


def test_listener_failure_does_not_break_the_exchange(ex, alice):
    def broken(channel, key, data):
        raise RuntimeError("listener bug")

    ex.add_listener(broken)
    mm_quote(ex)
    assert "filled" in alice.statuses(W(BTC, True, "100001", "0.001", tif="Ioc"))[0]


def _scripted_run() -> tuple[list, list]:
    clock = Clock()
    ex = make(clock)
    got: list = []
    ex.add_listener(lambda c, k, d: got.append((c, k, json.dumps(d, sort_keys=True))))
    a = Client(ex, ALICE_W, clock)
    out = []
    mm_quote(ex)
    out.append(a.order(W(BTC, True, "100001", "0.002", tif="Gtc", c=CLOID_1)))
    clock.t += 1000
    out.append(a.order(W(BTC, False, "99999", "0.0015", tif="Ioc")))
    ex.advance(NEXT_HOUR)
    out.append(ex.handle_info({"type": "userFills", "user": ALICE}))
    return out, got


def test_same_inputs_same_outputs():
    assert _scripted_run() == _scripted_run()


def test_config_validation_messages():
    from hlmm.sim.config import AssetConfig, SimConfigError
    with pytest.raises(SimConfigError, match="sz_decimals"):
        SimConfig(assets=(AssetConfig("X", 9, 10, 1.0),))
    with pytest.raises(SimConfigError, match="demo_accounts"):
        SimConfig(demo_accounts={"alice": 5})
    with pytest.raises(SimConfigError, match="unknown sim config key"):
        SimConfig.from_dict({"asets": []})
    cfg = SimConfig.from_dict({"assets": [{"name": "BTC", "sz_decimals": 5, "max_leverage": 40, "start_px": 1e5,
                                           "margin_tiers": [[0, 40], [1e8, 20]]}], "address_budget_start": 7})
    assert cfg.assets[0].tiers()[1].max_leverage == 20 and cfg.address_budget_start == 7


# ==================================================================== state-machine invariants

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

FLOW = ["0x" + f"{i:02x}" * 20 for i in (0xC1, 0xC2, 0xC3)]

flow_ops = st.lists(
    st.one_of(
        st.tuples(st.just("place"), st.integers(0, 2), st.booleans(), st.integers(-6, 6),
                  st.integers(10, 400), st.sampled_from(["Gtc", "Gtc", "Ioc", "Alo"]), st.booleans()),
        st.tuples(st.just("cancel"), st.integers(0, 2), st.integers(0, 30)),
    ),
    max_size=60,
)


def _check_invariants(ex: SimExchange, fees_paid: list[int], closes: int) -> None:
    v = ex.venue
    accounts = [v.accounts[a] for a in FLOW]
    for asset in range(len(v.assets)):
        lots = [acct.position_lots(asset) for acct in accounts]
        assert sum(lots) == 0                                     # every fill has two sides
        assert v.open_interest[asset] == sum(x for x in lots if x > 0)
        book = v.books[asset]
        bid, ask = book.best_bid(), book.best_ask()
        assert not (bid and ask and bid >= ask)                    # never crossed
    resting = {}
    for acct in accounts:
        buys: dict[int, int] = {}
        sells: dict[int, int] = {}
        for rec in v.orders.open_of(acct.address).values():
            o = v.books[rec.asset].order(rec.oid)
            assert o is not None and o.lots == rec.lots > 0 and o.px == rec.limit_px
            resting[rec.oid] = rec
            if rec.reduce_only:                                   # can still reduce, by at most the position
                pos = acct.position_lots(rec.asset)
                assert (pos > 0 and not rec.is_buy) or (pos < 0 and rec.is_buy)
                assert rec.lots <= abs(pos)
            else:
                side = buys if rec.is_buy else sells
                side[rec.asset] = side.get(rec.asset, 0) + rec.limit_px * rec.lots
        assert {a: n for a, n in acct.open_buy_ntl.items() if n} == buys
        assert {a: n for a, n in acct.open_sell_ntl.items() if n} == sells
    assert sum(len(b) for b in v.books) == len(resting)
    # zero-sum: cash + uPnL at any common price = deposits - fees (basis rounding: <= 1 micro per close)
    marks = v.marks()
    total = sum(acct.account_value(marks) for acct in accounts)
    assert abs(total - (3 * 1_000_000 * 1_000_000 - sum(fees_paid))) <= closes


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flow_ops)
def test_internal_flow_keeps_the_books_consistent(seq):
    ex = SimExchange(SimConfig(seed=3), now_ms=Clock())
    for a in FLOW:
        ex.create_account(a, 1_000_000)
    fees: list[int] = []
    closes = 0

    def on_event(channel, key, data):
        nonlocal closes
        if channel == "user" and "fills" in data:
            for f in data["fills"]:
                fees.append(round(float(f["fee"]) * 1_000_000))
                closes += f["dir"] not in ("Open Long", "Open Short")

    ex.add_listener(on_event)
    for op in seq:
        if op[0] == "place":
            _, who, is_buy, off, lots, tif, ro = op
            ex.internal_place(FLOW[who], "BTC", is_buy, 1_000_000 + 10 * off, lots, tif, reduce_only=ro)
        else:
            _, who, k = op
            mine = ex.open_orders_of(FLOW[who])
            if mine:
                ex.internal_cancel(FLOW[who], "BTC", mine[k % len(mine)][0])
        _check_invariants(ex, fees, closes)


@settings(max_examples=300, deadline=None)
@given(st.integers(-10**18, 10**18), st.integers(0, 10))
def test_fmt_fixed_matches_decimal(n, decimals):
    from decimal import Decimal

    from hlmm.sim.numbers import div_round, fmt_fixed
    ref = format(Decimal(n).scaleb(-decimals), "f")
    if "." in ref:
        ref = ref.rstrip("0")
        ref = ref + "0" if ref.endswith(".") else ref
    else:
        ref += ".0"
    assert fmt_fixed(n, decimals) == ref
    assert div_round(n, 7) == int((Decimal(n) / 7).quantize(Decimal(1), rounding="ROUND_HALF_UP"))
