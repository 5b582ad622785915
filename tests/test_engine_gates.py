"""Gates: every reason code, the kill switch's triggers and latch, side blocks applied to plans,
reduce-only, inventory forcing, toxicity, requote throttling, exposure, rate budget, logs."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from hlmm.config import Config
from hlmm.exchange.assets import AssetRegistry
from hlmm.exchange.cloid import CloidFactory
from hlmm.engine import gates as g
from hlmm.engine.gates import GateConfig, Gates
from hlmm.engine.order_state import ASK, BID
from hlmm.engine.orders import OrderManager
from hlmm.engine.ratebudget import RateBudget
from hlmm.engine.reconcile import Reconciler, Target
from hlmm.engine.snapshot import MarketInputs
from hlmm.log import capture_logs

FIX = Path(__file__).parent / "fixtures"
T0 = 1_700_000_000_000 - (1_700_000_000_000 % 86_400_000) + 10 * 3_600_000   # 10:00 UTC: not a toxic hour
MID = 95_000.0


@pytest.fixture(scope="module")
def assets():
    return AssetRegistry.from_meta(json.loads((FIX / "meta_perp_main_227_assets.json").read_text()))


class World:
    def __init__(self, assets, **cfg):
        cfg.setdefault("max_position_usd", 1000.0)
        self.m = OrderManager(assets, CloidFactory(session=1))
        self.rate = RateBudget()
        self.g = Gates(GateConfig(**cfg), self.m, self.rate, assets)
        self.r = Reconciler(self.m, price_tolerance_bps=0.0, size_tolerance=0.0)

    def inputs(self, now=T0, **kw):
        kw.setdefault("book_ms", now)
        return MarketInputs("BTC", now, mid=MID, sigma=1e-4, kappa=0.1, A=0.5, as_bps=5.0, **kw)

    def rest(self, target, now=T0 - 10_000):
        for a in self.m.submit(self.r.plan("BTC", target), now):
            self.m.on_action_result(a.batch_id, {"status": "ok", "response": {"type": "order", "data": {
                "statuses": [{"resting": {"oid": 1000 * a.batch_id + i}} for i in range(a.n)]}}}, now)


TARGET = Target([949_000, 948_000], [100, 100], [951_000, 952_000], [100, 100])
MOVED = Target([949_100, 948_100, 947_100], [100, 100, 100], [951_100, 952_100, 953_100], [100, 100, 100])


@pytest.fixture
def w(assets):
    return World(assets)


def verdicts(plan):
    return sorted((d.kind, d.side, d.verdict, d.gate) for d in plan.decisions)


# ---------------------------------------------------------------------- kill switch

def test_kill_on_max_loss_is_latched_until_reset(w):
    with capture_logs() as logs:
        w.g.on_account(T0, -24.99)
        assert not w.g.killed
        w.g.on_account(T0, -25.0)
        w.g.on_account(T0, +100.0)
    assert w.g.killed and w.g.stopped and w.g.kill.reason == g.KILL_MAX_LOSS
    (ev,) = [x for x in logs if x["event"] == "kill_switch"]
    assert ev["reason"] == "max_loss" and ev["action"] == "stop" and ev["level"] == "critical"
    w.g.reset_kill()
    assert not w.g.killed


def test_kill_on_drawdown_from_the_peak_in_usd_and_fraction(assets):
    w = World(assets, max_loss_usd=1e9, max_drawdown_usd=50.0, max_drawdown_fraction=0.5)
    w.g.on_account(T0, 0.0, account_value=1000.0)
    w.g.on_account(T0, 40.0)
    w.g.on_account(T0, -9.0)                 # 49 below the peak of 1040
    assert not w.g.killed
    w.g.on_account(T0, -10.0)
    assert w.g.kill.reason == g.KILL_MAX_DRAWDOWN and "below its peak 1040.00" in w.g.kill.detail
    w2 = World(assets, max_loss_usd=1e9, max_drawdown_usd=1e9, max_drawdown_fraction=0.1)
    w2.g.on_account(T0, 0.0, account_value=100.0)
    w2.g.on_account(T0, -9.0)
    assert not w2.g.killed
    w2.g.on_account(T0, -10.0)
    assert w2.g.kill.reason == g.KILL_MAX_DRAWDOWN and "10.0%" in w2.g.kill.detail


def test_kill_on_position_beyond_the_hard_limit(assets):
    w = World(assets, max_position_usd=100.0, kill_position_multiple=1.5,
              per_coin_max_position_usd={"ETH": 10.0})
    w.g.on_account(T0, 0.0, position_notional={"BTC": -150.0, "ETH": 14.0})
    assert not w.g.killed
    w.g.on_account(T0, 0.0, position_notional={"ETH": 15.01})
    assert w.g.kill.reason == g.KILL_MAX_POSITION and w.g.kill.detail.startswith("ETH")


def test_reject_storm_within_the_window(assets):
    w = World(assets, reject_storm_count=3, reject_storm_window_ms=1000)
    w.g.on_reject(T0, "a")
    w.g.on_reject(T0 + 600, "b")
    w.g.on_reject(T0 + 1200, "c")          # the first one left the window
    assert not w.g.killed
    w.g.on_reject(T0 + 1300, "Insufficient margin to place order.")
    assert w.g.kill.reason == g.KILL_REJECT_STORM and "Insufficient margin" in w.g.kill.detail


def test_position_mismatch_blocks_the_coin_then_kills_when_persistent(w):
    w.rest(TARGET)
    w.g.on_position_mismatch("BTC", "local 0 vs exchange 5", T0, persistent=False)
    gated = w.g.apply(w.r.plan("BTC", MOVED), w.inputs(), 0, T0)
    assert not gated.places and not gated.modifies and len(gated.cancels) == 4
    assert {d.gate for d in gated.decisions} == {g.POSITION_MISMATCH}
    w.g.on_position_match("BTC")
    assert w.g.apply(w.r.plan("BTC", MOVED), w.inputs(), 0, T0).places
    w.g.on_position_mismatch("BTC", "again", T0, persistent=True)
    assert w.g.kill.reason == g.KILL_POSITION_MISMATCH


def test_kill_action_reduce_only(assets):
    w = World(assets, kill_action="reduce_only")
    with capture_logs() as logs:
        w.g.fire(g.KILL_MANUAL, "operator", T0)
    assert w.g.reduce_only and not w.g.stopped
    assert [x["event"] for x in logs] == ["kill_switch", "reduce_only_mode"]


# ---------------------------------------------------------------------- side gates on a plan

def test_stale_book_blocks_both_sides_and_logs_transitions(w):
    w.rest(TARGET)
    with capture_logs() as logs:
        gated = w.g.apply(w.r.plan("BTC", MOVED), w.inputs(book_ms=T0 - 6_000), 0, T0)
        w.g.apply(w.r.plan("BTC", MOVED), w.inputs(now=T0 + 1, book_ms=T0 - 5_999), 0, T0 + 1)   # still stale
        w.g.apply(w.r.plan("BTC", MOVED), w.inputs(now=T0 + 2_000, book_ms=T0 + 1_990), 0, T0 + 2_000)
    assert not gated.places and not gated.modifies and len(gated.cancels) == 4
    assert sorted((d.kind, d.verdict, d.gate) for d in gated.decisions) == \
        [("modify", "converted", "stale_book")] * 4 + [("place", "deferred", "stale_book")] * 2
    active = [x for x in logs if x["event"] == "gate_active"]
    cleared = [x for x in logs if x["event"] == "gate_cleared"]
    assert [(x["side"], x["gate"], x["reason"]) for x in active] == [("bid", "stale_book", "no_book_update"),
                                                                     ("ask", "stale_book", "no_book_update")]
    assert [(x["side"], x["gate"], x["duration_s"]) for x in cleared] == [("bid", "stale_book", 2.0),
                                                                          ("ask", "stale_book", 2.0)]


def test_cancels_always_pass_and_frozen_orders_are_left_alone(w):
    w.rest(TARGET)
    w.m.submit(w.r.plan("BTC", MOVED), T0)            # everything now has an action in flight
    gated = w.g.apply(w.r.plan("BTC", Target.empty()), w.inputs(warm=False, warm_detail="9 of 20 trades"), 0, T0)
    assert gated.empty and all(d.gate == g.WARMUP for d in gated.decisions)


def test_warmup_and_disconnection(w):
    gated = w.g.apply(w.r.plan("BTC", TARGET), w.inputs(warm=False, warm_detail="9 of 20 trades"), 0, T0)
    assert not gated.places and {d.reason for d in gated.decisions} == {"estimators_not_ready"}
    w.g.on_connection(False, T0)
    assert not w.g.disconnected_too_long(T0 + 9_999)
    assert w.g.disconnected_too_long(T0 + 10_000)
    w.g.on_connection(True, T0 + 12_000)
    gated = w.g.apply(w.r.plan("BTC", TARGET), w.inputs(now=T0 + 12_000), 0, T0 + 12_000)
    assert not gated.places and gated.decisions[0].gate == g.DISCONNECTED      # until resynced
    w.g.on_resynced()
    assert w.g.apply(w.r.plan("BTC", TARGET), w.inputs(now=T0 + 12_001), 0, T0 + 12_001).places


def test_toxicity_pulls_one_side(w):
    w.rest(TARGET)
    with capture_logs() as logs:
        gated = w.g.apply(w.r.plan("BTC", MOVED), w.inputs(tox_bid=0.81, tox_ask=0.79), 0, T0)
    assert {c.side for c in gated.cancels} == {BID} and all(p.side == ASK for p in gated.places)
    assert all(m.side == ASK for m in gated.modifies)
    (ev,) = [x for x in logs if x["event"] == "toxicity_pull"]
    assert ev["side"] == "bid" and ev["score"] == 0.81


def test_reduce_only_quotes_only_the_reducing_side_capped_at_the_position(w):
    w.g.set_reduce_only(True)
    long_lots = 150
    gated = w.g.apply(w.r.plan("BTC", TARGET), w.inputs(), long_lots, T0)
    assert all(p.side == ASK and p.reduce_only for p in gated.places)
    assert [p.sz_lots for p in gated.places] == [100, 50]
    gated = w.g.apply(w.r.plan("BTC", TARGET), w.inputs(), 0, T0)          # flat: nothing to reduce
    assert not gated.places


def test_inventory_forcing_under_low_headroom(w):
    w.rate.on_user_rate_limit({"cumVlm": "0", "nRequestsUsed": 9_500, "nRequestsCap": 10_000}, T0)
    with capture_logs() as logs:
        gated = w.g.apply(w.r.plan("BTC", TARGET), w.inputs(), -100, T0)     # short: buys reduce
    assert {p.side for p in gated.places} == {BID}
    (ev,) = [x for x in logs if x["event"] == "inventory_forcing"]
    assert ev["reduce_side"] == "bid" and ev["headroom_fraction"] == 0.05
    flat = w.g.apply(w.r.plan("BTC", TARGET), w.inputs(now=T0 + 10_000), 0, T0 + 10_000)
    assert {p.side for p in flat.places} == {BID, ASK}


def test_requote_interval_defers_requotes_but_not_cancels(assets):
    w = World(assets, min_requote_interval_ms=100, throttled_requote_interval_ms=5_000)
    w.rest(TARGET)
    w.g.note_requoted("BTC", T0)
    plan = w.r.plan("BTC", Target([949_100], [100], [], []))
    gated = w.g.apply(plan, w.inputs(now=T0 + 50), 0, T0 + 50)
    assert not gated.modifies and len(gated.cancels) == 3
    assert {(d.gate, d.reason) for d in gated.decisions} == {(g.REQUOTE_INTERVAL, "min_interval")}
    assert w.g.apply(plan, w.inputs(now=T0 + 100), 0, T0 + 100).modifies
    w.rate.on_user_rate_limit({"cumVlm": "0", "nRequestsUsed": 9_500, "nRequestsCap": 10_000}, T0)
    gated = w.g.apply(plan, w.inputs(now=T0 + 4_000), 0, T0 + 4_000)
    assert not gated.modifies and gated.decisions[-1].reason == "low_rate_headroom"


def test_a_held_back_modify_keeps_its_target_slot(assets):
    # the ask modify goes to level 2 of the asks while a bid place is kept by the rate budget; the
    # held-back modify's order must not keep a slot label another order is about to take
    w = World(assets)
    w.rest(Target([], [], [951_000, 952_000], [100, 100]))
    w.m.check_invariants()
    w.rate.on_user_rate_limit({"cumVlm": "0", "nRequestsUsed": 9_999, "nRequestsCap": 10_000}, T0)
    plan = w.r.plan("BTC", Target([949_000], [100], [952_000, 953_000, 954_000], [100, 100, 100]))
    assert [(m.level) for m in plan.modifies] == [1] and [(p.side, p.level) for p in plan.places] == [(0, 0), (1, 2)]
    gated = w.g.apply(plan, w.inputs(), 0, T0)
    assert [(p.side, p.level) for p in gated.places] == [(BID, 0)] and not gated.modifies
    assert (plan.modifies[0].handle, 1) in gated.relabels
    w.m.submit(gated, T0)
    w.m.check_invariants()


def test_exposure_counts_position_open_and_in_flight_orders(assets):
    w = World(assets, max_position_usd=400.0)        # 400 / 95000 = 0.00421 BTC = 421 lots
    w.rest(Target([949_000], [100], [], []))
    w.m.submit(w.r.plan("BTC", Target([949_000, 948_000], [100, 100], [], [])), T0)   # one more in flight
    plan = w.r.plan("BTC", Target([949_000, 948_000, 947_000, 946_000], [100, 100, 100, 100], [], []))
    assert plan.blocked == 1 and [p.level for p in plan.places] == [2, 3]
    gated = w.g.apply(plan, w.inputs(), 150, T0)     # 150 long + 200 open or in flight = 350: 71 lots of room
    assert [(p.level, p.sz_lots) for p in gated.places] == [(2, 71)]
    assert sorted((d.level, d.verdict, d.reason) for d in gated.decisions) == [(2, "approved", "trimmed"),
                                                                                (3, "deferred", "exposure")]
    # short of the same size: the bid side has 150 more lots of room
    assert [(p.level, p.sz_lots) for p in w.g.apply(plan, w.inputs(), -150, T0).places] == [(2, 100), (3, 100)]


def test_exposure_trims_then_defers(assets):
    w = World(assets, max_position_usd=400.0)
    plan = w.r.plan("BTC", Target([949_000, 948_000, 947_000], [200, 200, 200], [951_000], [500]))
    gated = w.g.apply(plan, w.inputs(), 0, T0)
    bids = [(p.level, p.sz_lots) for p in gated.places if p.side == BID]
    asks = [(p.level, p.sz_lots) for p in gated.places if p.side == ASK]
    assert bids == [(0, 200), (1, 200), (2, 21)] and asks == [(0, 421)]     # 421 lots = $400 / 95000
    kinds = sorted((d.side, d.level, d.verdict, d.reason) for d in gated.decisions)
    assert kinds == [(BID, 2, "approved", "trimmed"), (ASK, 0, "approved", "trimmed")]
    tiny = w.g.apply(w.r.plan("BTC", Target([949_000, 948_000], [415, 100], [], [])), w.inputs(), 0, T0)
    assert [(p.level, p.sz_lots) for p in tiny.places] == [(0, 415)]       # 6 lots = $5.69 < $10: deferred
    assert tiny.decisions[0].reason == "exposure"


def test_rate_budget_keeps_the_touch_and_cancels(w):
    w.rest(TARGET)
    # 3 requests left: the 2 cancels take 2, one requote goes (the touch)
    w.rate.on_user_rate_limit({"cumVlm": "0", "nRequestsUsed": 9_997, "nRequestsCap": 10_000}, T0)
    plan = w.r.plan("BTC", Target([949_100, 948_100, 947_100], [100, 100, 100], [], []))
    with capture_logs() as logs:
        gated = w.g.apply(plan, w.inputs(), 0, T0)
    assert len(gated.cancels) == 2                                   # the asks: always pass
    assert [m.level for m in gated.modifies] + [p.level for p in gated.places] == [0]
    assert any(x["event"] == "rate_limit_throttle" and x["skipped"] == 2 for x in logs)


def test_toxic_hours_multiplier(assets):
    w = World(assets, toxic_hours_utc=(6, 14), toxic_gamma_multiplier=2.0)
    day = T0 - 10 * 3_600_000
    with capture_logs() as logs:
        assert w.g.tod_gamma_mult(day + 6 * 3_600_000 + 5) == 2.0
        assert w.g.tod_gamma_mult(day + 7 * 3_600_000) == 1.0
    assert [(x["event"], x["gate"]) for x in logs] == [("gate_active", "toxic_hours"), ("gate_cleared", "toxic_hours")]


def test_stopped_kill_switch_cancels_everything_movable(w):
    w.rest(TARGET)
    w.g.fire(g.KILL_MANUAL, "test", T0)
    gated = w.g.apply(w.r.plan("BTC", MOVED), w.inputs(), 0, T0)
    assert len(gated.cancels) == 4 and not gated.places and not gated.modifies
    assert w.g.active_gates()[0][2] == g.KILL_SWITCH


def test_gate_config_from_the_config_file_sections():
    cfg = Config.from_dict({"risk": {"max_position_usd": 500.0, "reject_storm_window_s": 30.0},
                            "rate": {"throttled_requote_interval_s": 2.5},
                            "assets": {"coins": ["BTC", "ETH"], "overrides": {"ETH": {"risk": {"max_position_usd": 50.0}}}}})
    gc = GateConfig.from_config(cfg)
    assert gc.reject_storm_window_ms == 30_000 and gc.throttled_requote_interval_ms == 2_500
    assert gc.max_position_usd_for("BTC") == 500.0 and gc.max_position_usd_for("ETH") == 50.0
    assert gc.kill_position_multiple == 1.5 and gc.toxicity_pull == 0.8
