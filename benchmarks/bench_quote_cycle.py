"""Quote cycle: frozen snapshot -> 2 x 25-level ladder -> reconcile diff vs 50 live orders -> gates
(target <= 30 us median).

One cycle = ``compute_ladder`` (GLFT depths, rounding, Kelly sizes: hlmm._core.ladder) into a
reused Ladder, ``Reconciler.plan`` (the C diff of both sides against the order manager's
LiveSide mirrors of 50 resting orders, read from the Ladder in place, plus the cost-based
modify/cancel+place choice and the intents for what changed), and ``Gates.apply`` (side gates,
requote interval, exposure, rate budget: the plan as it may be sent). Nothing is sent; the live
orders stay as they are, so every round sees the same state.

Scenarios (the live orders are the ladder of a snapshot; the cycle's snapshot differs by):
- ``steady``: nothing (every order kept: the usual cycle, an empty plan);
- ``drift``: the fair price moved by 0.45 bps, just inside the 0.5 bps price tolerance (32 orders
  kept, the 18 whose rounded price moved out of tolerance modified);
- ``jump``: the fair price moved by half a level spacing, 0.75 bps (every order modified: the
  full-reprice worst case, 50 modify intents built and gated).

Baseline, same run, same snapshot and live orders: the straightforward pure-Python version of the
same steps: ``tests/ladder_reference.py`` (the ladder in plain floats) + ``tests/reconcile_reference.py``
(the diff on lists) + the same plan building and the same gates. Both are checked to produce the
same plan first.

Run: ``pytest benchmarks/bench_quote_cycle.py --benchmark-enable -q``.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from hlmm._core.ladder import Ladder, LadderConfig, MarketParams, compute_ladder
from hlmm.exchange.assets import AssetRegistry
from hlmm.exchange.cloid import CloidFactory
from hlmm.engine.gates import GateConfig, Gates
from hlmm.engine.order_state import ASK, BID
from hlmm.engine.orders import OrderManager
from hlmm.engine.plan import Cancel, Modify, Place, Plan
from hlmm.engine.ratebudget import RateBudget
from hlmm.engine.reconcile import Reconciler, choose_mode
from hlmm.engine.snapshot import MarketInputs

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import ladder_reference as lref  # noqa: E402
import reconcile_reference as rref  # noqa: E402

LEVELS = 25
NOW = 1_700_000_000_000 - (1_700_000_000_000 % 86_400_000) + 10 * 3_600_000
SNAPSHOT = dict(
    mid=95_000.0, microprice=95_003.5, sigma=1.2e-4, kappa=0.08, A=0.6, gamma=0.05, regime=1,
    tod_gamma_mult=1.0, tox_bid=0.15, tox_ask=0.35, position=0.0, max_position=0.5,
    inflight_bid=0.0, inflight_ask=0.0, available_margin=5_000.0, allowed_leverage=40.0,
    market_spread_bps=0.4, as_bps=8.0, sz_decimals=5,
)
CONFIG = dict(levels_per_side=LEVELS, level_spacing_bps=1.5, max_order_notional=2_000.0)
SPACING_USD = 95_003.5 * 1.5e-4
SCENARIOS = {"steady": 0.0, "drift": 95_003.5 * 0.45e-4, "jump": SPACING_USD / 2}


class World:
    """50 resting orders (the ladder of the base snapshot) and the components that diff against them."""

    def __init__(self) -> None:
        assets = AssetRegistry.from_meta(json.loads((ROOT / "tests/fixtures/meta_perp_main_227_assets.json").read_text()))
        self.manager = OrderManager(assets, CloidFactory(session=0xBE7C4))
        self.reconciler = Reconciler(self.manager, price_tolerance_bps=0.5, size_tolerance=0.1)
        self.rate = RateBudget()
        self.gates = Gates(GateConfig(max_position_usd=50_000.0, min_requote_interval_ms=100), self.manager,
                           self.rate, assets)
        self.config = LadderConfig(**CONFIG)
        base = MarketParams(**SNAPSHOT)
        ladder = compute_ladder(base, self.config)
        for a in self.manager.submit(self.reconciler.plan("BTC", ladder), NOW - 60_000):
            self.manager.on_action_result(a.batch_id, {"status": "ok", "response": {"type": "order", "data": {
                "statuses": [{"resting": {"oid": 10_000 + i}} for i in range(a.n)]}}}, NOW - 59_000)
        self.live = len(self.manager.live_orders())
        assert self.live == ladder.bids.n_quoted + ladder.asks.n_quoted

    def inputs(self, mid: float) -> MarketInputs:
        return MarketInputs("BTC", NOW, mid=mid, sigma=1.2e-4, kappa=0.08, A=0.6, as_bps=8.0, book_ms=NOW,
                            microprice=mid + 3.5, tox_bid=0.15, tox_ask=0.35)


@pytest.fixture(scope="module")
def world() -> World:
    return World()


@pytest.fixture(scope="module", params=sorted(SCENARIOS))
def scenario(request):
    shift = SCENARIOS[request.param]
    snap = {**SNAPSHOT, "mid": SNAPSHOT["mid"] + shift, "microprice": SNAPSHOT["microprice"] + shift}
    return request.param, snap


def cython_cycle(world: World, params: MarketParams, ladder: Ladder, inputs: MarketInputs) -> Plan:
    compute_ladder(params, world.config, ladder)
    plan = world.reconciler.plan("BTC", ladder, mid_units=int(inputs.mid * 10))
    return world.gates.apply(plan, inputs, 0, NOW)


def python_cycle(world: World, p: dict, c: dict, inputs: MarketInputs) -> Plan:
    """The same steps in plain Python: reference ladder, reference diff, same plan and gates."""
    lad = lref.compute_ladder_reference(p, c)
    plan = Plan("BTC")
    sides = []
    for side, name in ((BID, "bids"), (ASK, "asks")):
        live = world.manager.live_side("BTC", side).entries()
        r = rref.diff_side(lad[name]["px_units"], lad[name]["sz_lots"], live, side, 0.5, 0.1, int(inputs.mid * 10))
        sides.append((side, lad[name], live, r))
    counts = [rref.plan_counts(r) for *_, r in sides]
    mode, _ = choose_mode(sum(x["cancel"] for x in counts), sum(x["modify"] for x in counts),
                          sum(x["place"] for x in counts))
    for side, tgt, live, r in sides:
        by_handle = {e[0]: e for e in live}
        for h, (action, level) in sorted(r["live"].items(), key=lambda kv: kv[1][1]):
            e = by_handle[h]
            if action == "keep":
                plan.kept += 1
                if e[3] != level:
                    plan.relabels.append((h, level))
            elif action == "modify":
                plan.modifies.append(Modify(h, "BTC", side, level, tgt["px_units"][level], tgt["sz_lots"][level],
                                            e[1], e[2]))
            elif action == "cancel":
                plan.cancels.append(Cancel(h, "BTC", side))
        for j, action in enumerate(r["levels"]):
            if action == "place":
                plan.places.append(Place("BTC", side, j, tgt["px_units"][j], tgt["sz_lots"][j]))
    plan.mode = mode
    return world.gates.apply(plan, inputs, 0, NOW)


def test_contenders_agree(world, scenario):
    name, snap = scenario
    params = MarketParams(**snap)
    inputs = world.inputs(snap["mid"])
    fast = cython_cycle(world, params, Ladder(), inputs)
    slow = python_cycle(world, params.to_dict(), world.config.to_dict(), inputs)
    key = lambda pl: (sorted(pl.relabels), sorted((m.handle, m.level, m.px_units, m.sz_lots) for m in pl.modifies),
                      sorted(c.handle for c in pl.cancels), sorted((p.side, p.level, p.px_units, p.sz_lots) for p in pl.places))
    assert key(fast) == key(slow)
    assert world.live == 50 or world.live == 49
    if name == "steady":
        assert fast.empty and fast.kept == world.live
    elif name == "drift":
        assert fast.kept >= world.live // 2 and fast.modifies and not fast.places and not fast.cancels
    else:
        assert len(fast.modifies) >= world.live - 2


def test_bench_quote_cycle_cython(benchmark, world, scenario):
    name, snap = scenario
    params = MarketParams(**snap)
    inputs = world.inputs(snap["mid"])
    ladder = Ladder()
    benchmark.extra_info.update(scenario=name, live_orders=world.live, levels=2 * LEVELS)
    plan = benchmark(cython_cycle, world, params, ladder, inputs)
    benchmark.extra_info.update(kept=plan.kept, modifies=len(plan.modifies), places=len(plan.places))


def test_bench_quote_cycle_python_baseline(benchmark, world, scenario):
    name, snap = scenario
    p, c = MarketParams(**snap).to_dict(), world.config.to_dict()
    inputs = world.inputs(snap["mid"])
    benchmark.extra_info.update(scenario=name, live_orders=world.live, levels=2 * LEVELS)
    benchmark(python_cycle, world, p, c, inputs)


def test_bench_reconcile_diff_only(benchmark, world, scenario):
    """The reconcile step alone (C diff + plan building), for the breakdown."""
    name, snap = scenario
    ladder = compute_ladder(MarketParams(**snap), world.config)
    benchmark.extra_info.update(scenario=name)
    benchmark(world.reconciler.plan, "BTC", ladder, mid_units=int(snap["mid"] * 10))
