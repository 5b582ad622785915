"""The reconcile diff (hlmm._core.reconcile) and the Reconciler: agreement with a pure-Python
reference, minimality, cost-based modify vs cancel+place, frozen/doomed orders, determinism."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from hlmm._core.ladder import LadderConfig, MarketParams, compute_ladder
from hlmm._core.reconcile import DOOMED, FROZEN, LiveSide, diff_arrays, diff_ladder
from hlmm.exchange.assets import AssetRegistry
from hlmm.exchange.cloid import CloidFactory
from hlmm.engine.order_state import ASK, BID
from hlmm.engine.orders import OrderManager
from hlmm.engine.plan import PlanCost
from hlmm.engine.reconcile import Reconciler, Target, choose_mode

import reconcile_reference as ref

FIX = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def assets():
    return AssetRegistry.from_meta(json.loads((FIX / "meta_perp_main_227_assets.json").read_text()))


def arr(xs):
    return np.asarray(xs, dtype=np.int64)


def side_of(entries, side=0):
    ls = LiveSide(side)
    for e in entries:
        ls.upsert(*e)
    return ls


# ---------------------------------------------------------------------- the C diff

def test_unchanged_target_is_an_empty_diff():
    live = side_of([(1, 1000, 10, 0, 0), (2, 990, 10, 1, 0), (3, 980, 10, 2, 0)])
    d = diff_arrays(arr([1000, 990, 980]), arr([10, 10, 10]), live, 0.0, 0.0)
    assert d.empty and d.n_keep == 3 and d.changes() == ([], [], [], [])


def test_shift_by_one_level_keeps_all_but_the_ends():
    live = side_of([(1, 1000, 10, 0, 0), (2, 990, 10, 1, 0), (3, 980, 10, 2, 0)])
    d = diff_arrays(arr([990, 980, 970]), arr([10, 10, 10]), live, 0.0, 0.0)
    relabels, modifies, cancels, places = d.changes()
    assert (d.n_keep, d.n_modify, d.n_cancel, d.n_place) == (2, 1, 0, 0)
    assert relabels == [(2, 0), (3, 1)]
    assert modifies == [(1, 2, 970, 10, 1000, 10)]


def test_one_tick_move_is_all_modifies_without_tolerance_and_all_keeps_within_it():
    live = side_of([(1, 1000, 10, 0, 0), (2, 990, 10, 1, 0)], side=1)
    d = diff_arrays(arr([1001, 991]), arr([10, 10]), live, 0.0, 0.0)
    assert (d.n_keep, d.n_modify) == (0, 2)
    d = diff_arrays(arr([1001, 991]), arr([10, 10]), live, 11.0, 0.0)   # 1 unit of 1000 = 10 bps
    assert d.empty and d.n_keep == 2


def test_size_tolerance_is_a_fraction_of_the_target():
    live = side_of([(1, 1000, 9, 0, 0)])
    assert diff_arrays(arr([1000]), arr([10]), live, 0.0, 0.1).n_keep == 1
    assert diff_arrays(arr([1000]), arr([10]), live, 0.0, 0.05).n_modify == 1


def test_frozen_order_blocks_its_slot_and_is_never_touched():
    live = side_of([(1, 1000, 10, 0, FROZEN), (2, 500, 10, 1, 0)])
    d = diff_arrays(arr([1010, 990]), arr([10, 10]), live, 0.0, 0.0)
    assert d.levels() == ["blocked", "modified"]
    assert dict((h, a) for h, a, _ in d.live()) == {1: "frozen", 2: "modify"}
    assert d.n_blocked == 1 and d.n_place == 0


def test_doomed_order_is_cancelled_even_at_a_target_price():
    live = side_of([(1, 1000, 10, -1, DOOMED)])
    d = diff_arrays(arr([1000]), arr([10]), live, 5.0, 0.5)
    assert d.changes() == ([], [], [1], [(0, 1000, 10)])


def test_order_on_the_wrong_side_of_mid_is_never_kept():
    live = side_of([(1, 1000, 10, 0, 0)])
    assert diff_arrays(arr([1000]), arr([10]), live, 1.0, 0.0, mid_units=1000).n_modify == 1
    assert diff_arrays(arr([1000]), arr([10]), live, 1.0, 0.0, mid_units=1001).n_keep == 1


def test_extra_orders_cancel_and_extra_levels_place_from_the_deep_end():
    live = side_of([(1, 1000, 10, 0, 0), (2, 900, 10, 1, 0), (3, 800, 10, 2, 0)])
    d = diff_arrays(arr([995]), arr([10]), live, 0.0, 0.0)
    _, modifies, cancels, places = d.changes()
    assert [m[0] for m in modifies] == [1] and cancels == [2, 3] and places == []
    live = side_of([(1, 1000, 10, 0, 0)])
    d = diff_arrays(arr([995, 985, 975]), arr([10, 10, 10]), live, 0.0, 0.0)
    _, modifies, cancels, places = d.changes()
    assert [m[1] for m in modifies] == [0] and places == [(1, 985, 10), (2, 975, 10)]


def test_zero_size_levels_are_not_quoted():
    live = side_of([])
    d = diff_arrays(arr([1000, 990, 980]), arr([10, 0, 10]), live, 0.0, 0.0)
    assert [p[0] for p in d.changes()[3]] == [0, 2] and d.levels()[1] == "none"


def test_intents_are_the_changes_as_named_tuples():
    from hlmm.engine.plan import Cancel, Modify, Place
    live = side_of([(1, 1000, 10, 0, 0), (2, 900, 10, 1, 0), (3, 800, 10, 2, DOOMED)], side=0)
    d = diff_arrays(arr([995, 985, 975]), arr([10, 10, 10]), live, 0.0, 0.0)
    relabels, modifies, cancels, places = d.changes()
    r2, m2, c2, p2 = d.intents("BTC", Modify, Place, Cancel, "Alo")
    assert r2 == relabels
    assert m2 == [Modify(h, "BTC", 0, lvl, px, sz, opx, osz) for h, lvl, px, sz, opx, osz in modifies]
    assert c2 == [Cancel(3, "BTC", 0, "orphan")] and cancels == [3]
    assert p2 == [Place("BTC", 0, lvl, px, sz) for lvl, px, sz in places]
    assert all(type(x) is Modify and x.reduce_only is False for x in m2)


def test_target_validation_messages():
    with pytest.raises(ValueError, match="differ in length"):
        diff_arrays(arr([1, 2]), arr([1]), LiveSide(0), 0.0, 0.0)
    with pytest.raises(ValueError, match="at most 64"):
        diff_arrays(arr(range(1, 66)), arr([1] * 65), LiveSide(0), 0.0, 0.0)
    with pytest.raises(ValueError, match="tolerances"):
        diff_arrays(arr([1]), arr([1]), LiveSide(0), -1.0, 0.0)
    with pytest.raises(ValueError, match="side must be"):
        LiveSide(2)


def test_live_side_upsert_remove_and_growth():
    ls = LiveSide(1, capacity=1)
    for h in range(100):
        ls.upsert(h, 1000 + h, 5, h % 7, 0)
    assert len(ls) == 100 and 42 in ls
    ls.upsert(42, 7, 8, 3, FROZEN)
    assert (42, 7, 8, 3, FROZEN) in ls.entries()
    assert ls.remove(42) and not ls.remove(42) and len(ls) == 99


@st.composite
def side_case(draw):
    side = draw(st.sampled_from([0, 1]))
    n = draw(st.integers(0, 12))
    base = draw(st.integers(1000, 200_000))
    steps = draw(st.lists(st.integers(1, 40), min_size=n, max_size=n))
    px, p = [], base
    for s in steps:
        px.append(p)
        p = p - s if side == 0 else p + s
    px = [max(1, x) for x in px]
    sz = draw(st.lists(st.integers(0, 50), min_size=n, max_size=n))
    m = draw(st.integers(0, 14))
    live, frozen_levels = [], set()
    for h in range(m):
        lpx = base + draw(st.integers(-600, 600))
        lsz = draw(st.integers(1, 60))
        level = draw(st.integers(-1, 14))
        flags = draw(st.sampled_from([0, 0, 0, FROZEN, DOOMED]))
        if flags & FROZEN and level in frozen_levels:
            flags = 0               # the order manager never has two live orders in one slot
        if flags & FROZEN:
            frozen_levels.add(level)
        live.append((h + 1, max(1, lpx), lsz, level, flags))
    tol = draw(st.sampled_from([0.0, 0.5, 1.0, 3.0, 25.0]))
    stol = draw(st.sampled_from([0.0, 0.1, 0.5, 0.99]))
    mid = draw(st.sampled_from([0, base + (3 if side == 0 else -3)]))
    return side, px, sz, live, tol, stol, mid


@settings(max_examples=600, deadline=None)
@given(side_case())
def test_c_diff_agrees_with_the_python_reference(case):
    side, px, sz, live, tol, stol, mid = case
    d = diff_arrays(arr(px), arr(sz), side_of(live, side), tol, stol, mid)
    r = ref.diff_side(px, sz, live, side, tol, stol, mid)
    assert {h: (a, lvl) for h, a, lvl in d.live()} == r["live"]
    assert d.levels() == r["levels"]
    c = ref.plan_counts(r)
    assert (d.n_keep, d.n_modify, d.n_cancel, d.n_place) == (c["keep"], c["modify"], c["cancel"], c["place"])


@settings(max_examples=400, deadline=None)
@given(side_case())
def test_diff_invariants(case):
    side, px, sz, live, tol, stol, mid = case
    d = diff_arrays(arr(px), arr(sz), side_of(live, side), tol, stol, mid)
    acts = d.live()
    used = [lvl for _, a, lvl in acts if a in ("keep", "modify")]
    assert len(used) == len(set(used)), "a target level served twice"
    levels = d.levels()
    for lvl in used:
        assert levels[lvl] in ("kept", "modified")
    frozen = {e[0] for e in live if e[4] & FROZEN}
    assert {h for h, a, _ in acts if a == "frozen"} == frozen
    for h, a, lvl in acts:
        if a == "keep":
            e = next(e for e in live if e[0] == h)
            assert abs(e[1] - px[lvl]) * 1e4 <= tol * px[lvl] + 1e-9
            assert abs(e[2] - sz[lvl]) <= stol * sz[lvl] + 1e-9
    # cost identity: every movable order and every free level is used exactly once
    movable = [e for e in live if not e[4] & (FROZEN | DOOMED)]
    free = [j for j in range(len(px)) if levels[j] in ("kept", "modified", "place")]
    assert d.n_keep + d.n_modify + d.n_place == len(free)
    assert d.n_keep + d.n_modify + (d.n_cancel - sum(1 for e in live if e[4] & DOOMED and not e[4] & FROZEN)) == len(movable)


def _max_keeps(px, sz, movable, tol, stol):
    """Maximum bipartite matching (augmenting paths) of live orders to levels by tolerance."""
    adj = {h: [j for j in range(len(px)) if sz[j] > 0 and abs(p - px[j]) * 1e4 <= tol * px[j]
                and abs(s - sz[j]) <= stol * sz[j]] for h, p, s, _, _ in movable}
    match: dict[int, int] = {}

    def augment(h, seen):
        for j in adj[h]:
            if j in seen:
                continue
            seen.add(j)
            if j not in match or augment(match[j], seen):
                match[j] = h
                return True
        return False

    return sum(augment(h, set()) for h in adj)


@settings(max_examples=400, deadline=None)
@given(side_case())
def test_keeps_are_maximal_when_only_price_matters(case):
    side, px, sz, live, tol, _stol, _mid = case
    live = [(h, p, s, lvl, 0) for h, p, s, lvl, _ in live]
    sz = [max(1, s) for s in sz]
    big = 1e9   # every size fits: the greedy walk is then an optimal interval matching
    d = diff_arrays(arr(px), arr(sz), side_of(live, side), tol, big)
    assert d.n_keep == _max_keeps(px, sz, live, tol, big)


# ---------------------------------------------------------------------- cost choice

def test_modify_costs_one_request_against_two_for_cancel_and_place():
    assert choose_mode(0, 5, 0, "address") == ("modify", PlanCost(5, 1, 1))
    # sparing IP weight: folding the pairs into cancel/order actions already being sent is cheaper
    assert choose_mode(1, 2, 1, "ip") == ("cancel_place", PlanCost(6, 2, 2))
    assert choose_mode(1, 2, 1, "address") == ("modify", PlanCost(4, 3, 3))
    # with nothing else to send, one batchModify beats a cancel + an order action on both counts
    assert choose_mode(0, 3, 0, "ip")[0] == "modify"


def test_ip_weight_grows_every_40_items():
    assert PlanCost.of(0, 0, 39).ip_weight == 1
    assert PlanCost.of(0, 0, 40).ip_weight == 2
    assert PlanCost.of(80, 1, 0) == PlanCost(81, 4, 2)


# ---------------------------------------------------------------------- the Reconciler over the order manager

def _resting(manager, plan, now=1000):
    acts = manager.submit(plan, now)
    for a in acts:
        n = a.n
        resp = {"status": "ok", "response": {"type": "order", "data": {"statuses": [
            {"resting": {"oid": 500 + 10 * a.batch_id + i}} for i in range(n)]}}}
        manager.on_action_result(a.batch_id, resp, now + 1)
    return acts


def test_reconciler_plan_is_empty_for_an_unchanged_ladder_and_deterministic(assets):
    m = OrderManager(assets, CloidFactory(session=3))
    r = Reconciler(m, price_tolerance_bps=0.0, size_tolerance=0.0)
    params = MarketParams(mid=95_000.0, sigma=1.2e-4, kappa=0.08, A=0.6, gamma=0.05, max_position=0.08,
                          available_margin=2_500.0, allowed_leverage=40, as_bps=8.0, sz_decimals=5)
    ladder = compute_ladder(params, LadderConfig(levels_per_side=25, level_spacing_bps=1.5))
    plan = r.plan("BTC", ladder)
    assert len(plan.places) == ladder.bids.n_quoted + ladder.asks.n_quoted
    assert [(p.side, p.level) for p in plan.places] == sorted((p.side, p.level) for p in plan.places)
    _resting(m, plan)
    again = r.plan("BTC", ladder)
    assert again.empty and again.kept == len(plan.places) and again.relabels == []
    m.check_invariants()
    moved = compute_ladder(params.replace(mid=95_000.0 + 9.5, microprice=95_009.5),
                           LadderConfig(levels_per_side=25, level_spacing_bps=1.5))
    p1, p2 = r.plan("BTC", moved), r.plan("BTC", moved)
    assert p1.modifies == p2.modifies and p1.cancels == p2.cancels and p1.places == p2.places
    assert p1.modifies and not p1.cancels and p1.mode == "modify"


def test_reconciler_cancel_place_mode_turns_pairs_into_cancels_and_places(assets):
    m = OrderManager(assets, CloidFactory(session=4))
    r = Reconciler(m, price_tolerance_bps=0.0, size_tolerance=0.0)
    _resting(m, r.plan("BTC", Target([950_000, 949_000], [100, 100], [951_000], [100])))
    # the bid touch moves, a new ask level appears, an old bid level goes away
    t = Target([949_990], [100], [951_000, 952_000], [100, 100])
    as_ip = r.plan("BTC", t, prefer="ip")
    as_addr = r.plan("BTC", t, prefer="address")
    assert as_addr.mode == "modify" and len(as_addr.modifies) == 1
    assert as_ip.mode == "cancel_place" and not as_ip.modifies
    assert as_ip.cost.ip_weight < as_addr.cost.ip_weight
    assert as_ip.cost.address_requests > as_addr.cost.address_requests


def test_reconciler_empty_target_cancels_every_movable_order(assets):
    m = OrderManager(assets, CloidFactory(session=5))
    r = Reconciler(m)
    _resting(m, r.plan("BTC", Target([950_000], [100], [951_000], [100])))
    plan = r.plan("BTC", Target.empty())
    assert sorted(c.side for c in plan.cancels) == [BID, ASK] and not plan.places


def test_diff_ladder_reads_the_ladder_in_place():
    params = MarketParams(mid=95_000.0, sigma=1.2e-4, kappa=0.08, A=0.6, gamma=0.05, max_position=0.08,
                          available_margin=2_500.0, allowed_leverage=40, as_bps=8.0, sz_decimals=5)
    lad = compute_ladder(params, LadderConfig(levels_per_side=10))
    db, da = diff_ladder(lad, LiveSide(0), LiveSide(1), 1.0, 0.1)
    assert db.n_place == lad.bids.n_quoted and da.n_place == lad.asks.n_quoted
    assert [p[1] for p in db.changes()[3]] == [int(x) for x in lad.bids.px_units[lad.bids.quoted]]
    with pytest.raises(ValueError, match="bid LiveSide then the ask"):
        diff_ladder(lad, LiveSide(1), LiveSide(0), 1.0, 0.1)
