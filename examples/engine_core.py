"""The engine core, one quote cycle after another, against hlmm's in-process simulated exchange.

Start-up sync, three quote cycles (place, keep, modify), a taker filling our bids, and the
position checked against the exchange's ``szi``. Every order is signed for real and executed by
the simulator. Run: ``python examples/engine_core.py``. A trading session (``hlmm trade``,
``hlmm.engine.engine.Engine``) makes the same calls around real sockets and timers.
"""
import json

from hlmm._core.ladder import LadderConfig, MarketParams, compute_ladder
from hlmm.exchange.assets import AssetRegistry
from hlmm.exchange.cloid import CloidFactory
from hlmm.exchange.keys import Wallet
from hlmm.exchange.signing import sign_l1_action
from hlmm.sim.config import SimConfig
from hlmm.sim.exchange import SimExchange
from hlmm.engine.deadman import DeadMan
from hlmm.engine.fills import FillProcessor
from hlmm.engine.gates import GateConfig, Gates
from hlmm.engine.orders import OrderManager
from hlmm.engine.ratebudget import RateBudget
from hlmm.engine.reconcile import Reconciler
from hlmm.engine.snapshot import MarketInputs

now = 1_700_000_000_000
wallet = Wallet.from_hex("0x" + "a7" * 32)           # a throwaway demo key
user = wallet.address.lower()
ex = SimExchange(SimConfig(seed=7, demo_accounts={wallet.address: 10_000}), now_ms=lambda: now)
OTHER = "0x" + "dd" * 20                                  # a background maker, later a taker
ex.create_account(OTHER, 10_000_000)
ex.internal_place(OTHER, "BTC", True, 999_000, 50_000)     # $99,900 bid, $100,100 ask (price units)
ex.internal_place(OTHER, "BTC", False, 1_001_000, 50_000)
pushes = []
ex.add_listener(lambda ch, key, data: pushes.append((ch, json.loads(json.dumps(data)))) if key == user else None)
nonce = [0]

def post(action):                                        # what the executor does: sign once, post
    nonce[0] = max(now, nonce[0] + 1)
    sig = sign_l1_action(wallet, action, None, nonce[0], None, False)
    return ex.handle_exchange({"action": action, "nonce": nonce[0], "signature": sig,
                               "vaultAddress": None, "expiresAfter": None})

assets = AssetRegistry.from_meta(ex.handle_info({"type": "meta"}))
orders = OrderManager(assets, CloidFactory(), orphan_policy="cancel")
fills = FillProcessor(assets, orders)
rate = RateBudget()
gates = Gates(GateConfig(max_position_usd=1_000.0), orders, rate, assets)
deadman = DeadMan(seconds_ahead=60, refresh_interval_s=30)
reconciler = Reconciler(orders, price_tolerance_bps=1.0, size_tolerance=0.1)

# start-up: the rate budget, the position baseline and the open orders from the exchange
rate.on_user_rate_limit(ex.handle_info(rate.refresh_request(user, now)), now)
state = ex.handle_info({"type": "clearinghouseState", "user": user})
fills.init_position("BTC", "0", None, state["time"])
orders.apply_open_orders(ex.handle_info({"type": "openOrders", "user": user}), now, now)
deadman.on_result(post(deadman.action(now))["status"] == "ok", now)
rate.record_action("scheduleCancel", 1, now)

def cycle(mid):
    lot = 1e-5                                           # BTC szDecimals 5
    params = MarketParams(mid=mid, sigma=1.2e-4, kappa=0.08, A=0.6, gamma=0.05, as_bps=8.0, sz_decimals=5,
                          position=fills.position_lots("BTC") * lot, max_position=1_000.0 / mid,
                          inflight_bid=orders.frozen_lots("BTC", 0) * lot,     # orders the diff cannot touch
                          inflight_ask=orders.frozen_lots("BTC", 1) * lot,
                          available_margin=10_000.0, allowed_leverage=assets["BTC"].allowed_leverage(0),
                          tod_gamma_mult=gates.tod_gamma_mult(now))
    ladder = compute_ladder(params, LadderConfig(levels_per_side=3, max_order_notional=100.0))
    plan = reconciler.plan("BTC", ladder, mid_units=int(mid * 10), prefer=rate.scarcer(now))
    gated = gates.apply(plan, MarketInputs("BTC", now, mid=mid, sigma=1.2e-4, kappa=0.08, A=0.6, as_bps=8.0,
                                           book_ms=now), fills.position_lots("BTC"), now)
    for action in orders.submit(gated, now):             # tracked (cloids) before anything leaves
        rate.record_action(action.kind, action.n, now)
        report = orders.on_action_result(action.batch_id, post(action.action), now)
        print(f"  sent {action.kind} x{action.n} (IP weight {action.ip_weight}): resting={report.resting}")
    if gated.requotes:
        gates.note_requoted("BTC", now)
    return gated

def deliver():                                           # the WebSocket pushes of our account
    for channel, data in pushes:
        if channel == "orderUpdates":
            orders.on_order_updates(data, now)
        elif channel in ("user", "userFills") and "fills" in data:
            rate.on_fill_volume(fills.on_fills(data["fills"], now, source=channel).volume_usd)
    pushes.clear()

print("cycle 1:", cycle(100_000.0).summary())
deliver()
now += 1_000
print("cycle 2 (same market):", cycle(100_000.0).summary())
now += 1_000
print("cycle 3 (mid +3 bps):", cycle(100_030.0).summary())
deliver()
ex.internal_place(OTHER, "BTC", False, 990_000, 150, tif="Ioc")   # a taker sells 0.0015 BTC into our bids
deliver()
szi = next(p["position"]["szi"] for p in ex.handle_info({"type": "clearinghouseState", "user": user})["assetPositions"])
print("position: engine", fills.position_lots("BTC"), "lots, exchange szi", szi,
      "->", fills.check_position("BTC", szi, now).ok)
print("orders:", orders.counts(), "| address requests used", rate.used, "of", rate.cap,
      "| exchange says", ex.handle_info({"type": "userRateLimit", "user": user}))
orders.check_invariants()
