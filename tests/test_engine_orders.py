"""The order manager: tracked before sending, every exchange answer and status applied, a timeout
is not a rejection, one live order per slot, modify legs, safety sync, orphans, status queries."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from hlmm.exchange.assets import AssetRegistry
from hlmm.exchange.cloid import CloidFactory, parse_cloid
from hlmm.exchange.errors import ActionError, RequestTimeout
from hlmm.exchange.results import OrderResult
from hlmm.engine.order_state import BID, OrderState, classify_status
from hlmm.engine.orders import OrderManager, SlotConflict, StatusQuery
from hlmm.engine.outcomes import RecordingOutcomes
from hlmm.engine.plan import Cancel, Modify, Place, Plan
from hlmm.engine.reconcile import Reconciler, Target
from hlmm.log import capture_logs

FIX = Path(__file__).parent / "fixtures"
S = OrderState


@pytest.fixture(scope="module")
def assets():
    return AssetRegistry.from_meta(json.loads((FIX / "meta_perp_main_227_assets.json").read_text()))


@pytest.fixture
def outcomes():
    return RecordingOutcomes()


@pytest.fixture
def m(assets, outcomes):
    return OrderManager(assets, CloidFactory(session=0xABC), outcomes=outcomes, query_delay_ms=500,
                        query_interval_ms=2000, unknown_oid_grace_ms=10_000)


def ok_order(*statuses):
    return {"status": "ok", "response": {"type": "order", "data": {"statuses": list(statuses)}}}


def ok_cancel(*statuses):
    return {"status": "ok", "response": {"type": "cancel", "data": {"statuses": list(statuses)}}}


def place_plan(coin="BTC", side=BID, levels=((0, 950_000, 100),)):
    return Plan(coin, places=[Place(coin, side, lvl, px, sz) for lvl, px, sz in levels])


def update(o, status, ts, sz=None, oid=None, px="95000.0", cloid=True):
    order = {"coin": o.coin, "side": "B" if o.side == BID else "A", "limitPx": px,
             "sz": sz if sz is not None else "0.001", "oid": o.oid if oid is None else oid, "timestamp": ts,
             "origSz": "0.001"}
    if cloid and o.cloid:
        order["cloid"] = o.cloid
    return {"order": order, "status": status, "statusTimestamp": ts}


def resting(m, plan, now=1000, first_oid=100):
    acts = m.submit(plan, now)
    (a,) = acts
    m.on_action_result(a.batch_id, ok_order(*[{"resting": {"oid": first_oid + i}} for i in range(a.n)]), now + 5)
    return m.live_orders()


# ---------------------------------------------------------------------- sending

def test_order_is_tracked_with_its_cloid_before_the_action_leaves(m):
    preds = iter([77, 78])
    acts = m.submit(place_plan(levels=((0, 950_000, 100), (1, 949_000, 100))), 1000,
                    predict=lambda coin, side, level, px, sz: next(preds))
    (a,) = acts
    assert a.kind == "order" and a.n == 2 and a.ip_weight == 1
    wires = a.action["orders"]
    for w, o in zip(wires, m.live_orders()):
        assert o.state is S.PENDING and o.inflight == "place" and o.frozen
        assert w["c"] == o.cloid and m.by_cloid(o.cloid) is o
        assert w["p"] == "95000" or w["p"] == "94900"
        assert w["t"] == {"limit": {"tif": "Alo"}}
    assert [parse_cloid(w["c"]).tag for w in wires] == [77, 78]
    assert m.slot_owner("BTC", BID, 0).cloid == wires[0]["c"]
    m.check_invariants()


def test_invalid_order_is_refused_locally_with_the_exchange_text(m):
    with capture_logs() as logs:
        acts = m.submit(place_plan(levels=((0, 950_000, 1),)), 1000)     # $9.50 < $10
    assert acts == []
    assert [o for o in m.live_orders()] == []
    rej = [r for r in logs if r["event"] == "order_rejected"]
    assert rej and "Order must have minimum value of $10." in rej[0]["reason"]


def test_two_orders_for_one_slot_are_refused(m):
    m.submit(place_plan(), 1000)
    with pytest.raises(SlotConflict):
        m.submit(place_plan(levels=((0, 949_000, 100),)), 1001)


def test_prediction_ids_must_fit_the_cloid_tag(m):
    with pytest.raises(ValueError, match="cloid tag"):
        m.submit(place_plan(), 1000, predict=lambda *a: 1 << 40)


# ---------------------------------------------------------------------- place answers

def test_place_statuses_resting_filled_error(m, outcomes):
    (a,) = m.submit(place_plan(levels=((0, 950_000, 100), (1, 949_000, 100), (2, 948_000, 100))), 1000,
                    predict=lambda *x: 5)
    rep = m.on_action_result(a.batch_id, ok_order({"resting": {"oid": 11}},
                                                  {"filled": {"totalSz": "0.001", "avgPx": "94900", "oid": 12}},
                                                  {"error": "Post only order would have immediately matched, bbo was 1@2."}),
                             1010)
    assert (rep.resting, rep.filled, rep.rejects) == (1, 1, ["Post only order would have immediately matched, bbo was 1@2."])
    o11, o12 = m.by_oid(11), m.by_oid(12)
    assert o11.state is S.RESTING and not o11.frozen and o11.slot == 0
    assert o12.state is S.FILLED and o12.slot is None
    rejected = [o for o in m._orders.values() if o.state is S.REJECTED]
    assert len(rejected) == 1 and rejected[0].reason.startswith("Post only") and rejected[0].slot is None
    assert sorted(kw["status"] for _, kw in outcomes.of("end")) == ["filled", "rejected"]
    m.check_invariants()


def test_typed_results_are_accepted_too(m):
    (a,) = m.submit(place_plan(), 1000)
    m.on_action_result(a.batch_id, [OrderResult("resting", oid=9)], 1001)
    assert m.by_oid(9).state is S.RESTING


def test_whole_action_error_rejects_the_batch_and_flags_rate_limits(m):
    (a,) = m.submit(place_plan(levels=((0, 950_000, 100), (1, 949_000, 100))), 1000)
    text = "Too many cumulative requests sent (15401 > 14642) for cumulative volume traded $4643."
    rep = m.on_action_result(a.batch_id, {"status": "err", "response": text}, 1001)
    assert rep.rate_limited and len(rep.rejects) == 2
    assert all(o.state is S.REJECTED for o in m._orders.values()) and not m.live_orders()
    m.check_invariants()


def test_a_timeout_is_not_a_rejection(m):
    (a,) = m.submit(place_plan(), 1000)
    with capture_logs() as logs:
        rep = m.on_action_timeout(a.batch_id, 11_000)
    (o,) = m.live_orders()
    assert rep.unknown == 1 and o.state is S.UNKNOWN and o.unknown_action == "place" and o.slot == 0
    assert any(r["event"] == "order_unknown_timeout" and r["action"] == "place" for r in logs)
    # the slot stays held: the reconciler blocks it instead of placing a duplicate
    plan = Reconciler(m).plan("BTC", Target([950_000], [100], [], []))
    assert plan.empty and plan.blocked == 1 and plan.frozen == 1
    # resolved by the stream
    m.on_order_updates([update(o, "open", 1500, oid=31)], 11_100)
    assert o.state is S.RESTING and o.oid == 31 and not o.frozen
    m.check_invariants()


def test_late_reply_after_a_timeout_still_resolves(m):
    (a,) = m.submit(place_plan(), 1000)
    m.on_action_timeout(a.batch_id, 11_000)
    m.on_action_result(a.batch_id, ok_order({"error": "Insufficient margin to place order."}), 12_000)
    assert not m.live_orders()
    (o,) = m._orders.values()
    assert o.state is S.REJECTED and o.reason == "Insufficient margin to place order."


def test_transport_errors_follow_outcome_unknown(m):
    (a,) = m.submit(place_plan(), 1000)
    m.on_action_error(a.batch_id, RequestTimeout("no reply in 10 s"), 2000)
    (o,) = m.live_orders()
    assert o.state is S.UNKNOWN
    (b,) = m.submit(place_plan(levels=((1, 949_000, 100),)), 3000)
    m.on_action_error(b.batch_id, ActionError("Invalid nonce: duplicate nonce 3000"), 3001)
    assert m.slot_owner("BTC", BID, 1) is None


def test_unknown_place_queries_and_unknown_oid_after_grace(m):
    (a,) = m.submit(place_plan(), 1000)
    m.on_action_timeout(a.batch_id, 2000)
    (o,) = m.live_orders()
    assert m.status_queries(2100) == []                       # within query_delay_ms
    (q,) = m.status_queries(2600)
    assert q == StatusQuery(o.handle, o.cloid, "BTC")
    assert m.status_queries(3000) == []                       # query_interval_ms
    m.on_order_status(q, {"status": "unknownOid"}, 5000)       # too early to conclude
    assert o.state is S.UNKNOWN
    m.on_order_status(q, {"status": "unknownOid"}, 11_001)
    assert o.state is S.REJECTED and "unknownOid" in o.reason


def test_order_status_answer_resolves_an_unknown_place(m):
    (a,) = m.submit(place_plan(), 1000)
    m.on_action_timeout(a.batch_id, 2000)
    (o,) = m.live_orders()
    answer = {"status": "order", "order": {"order": {"coin": "BTC", "side": "B", "limitPx": "95000.0", "sz": "0.0007",
                                                     "oid": 44, "timestamp": 1000, "cloid": o.cloid},
                                           "status": "open", "statusTimestamp": 1200}}
    m.on_order_status(StatusQuery(o.handle, o.cloid, "BTC"), answer, 3000)
    assert o.state is S.RESTING and o.oid == 44 and o.remaining_lots == 70


# ---------------------------------------------------------------------- order updates

@pytest.mark.parametrize("status,state", [
    ("canceled", S.CANCELLED), ("marginCanceled", S.CANCELLED), ("selfTradeCanceled", S.CANCELLED),
    ("reduceOnlyCanceled", S.CANCELLED), ("scheduledCancel", S.CANCELLED), ("liquidatedCanceled", S.CANCELLED),
    ("filled", S.FILLED), ("badAloPxRejected", S.REJECTED), ("perpMarginRejected", S.REJECTED),
    ("tickRejected", S.REJECTED), ("rejected", S.REJECTED),
])
def test_order_update_vocabulary(m, status, state):
    resting(m, place_plan())
    (o,) = m.live_orders()
    m.on_order_updates([update(o, status, 5000)], 5001)
    assert o.state is state and o.reason == status and o.slot is None
    m.check_invariants()


def test_classify_status_handles_new_suffixes():
    assert classify_status("someNewCanceled") is S.CANCELLED
    assert classify_status("brandNewRejected") is S.REJECTED
    assert classify_status("triggered") is S.RESTING
    assert classify_status("mystery") is None


def test_stale_and_unknown_updates_change_nothing(m):
    resting(m, place_plan())
    (o,) = m.live_orders()
    m.on_order_updates([update(o, "open", 5000, sz="0.0006")], 5001)
    assert o.remaining_lots == 60
    m.on_order_updates([update(o, "canceled", 4000)], 5002)        # older than what we know
    assert o.state is S.RESTING
    with capture_logs() as logs:
        m.on_order_updates([update(o, "mystery", 6000), {"order": "x"}, 5], 6001)
    assert o.state is S.RESTING
    assert sum(r["event"] == "error" for r in logs) == 3


def test_remaining_size_only_shrinks(m):
    resting(m, place_plan())
    (o,) = m.live_orders()
    m.on_order_updates([update(o, "open", 5000, sz="0.0004")], 5001)
    m.on_order_updates([update(o, "open", 5000, sz="0.0009")], 5002)
    assert o.remaining_lots == 40
    assert m.open_lots("BTC", BID) == 40 and m.frozen_lots("BTC", BID) == 0


# ---------------------------------------------------------------------- modify legs

def _modify(m, o, px=949_500, sz=100, level=0, now=2000):
    plan = Plan(o.coin, modifies=[Modify(o.handle, o.coin, o.side, level, px, sz, o.px_units, o.sz_lots)])
    (a,) = m.submit(plan, now, predict=lambda *x: 9)
    assert a.kind == "batchModify" and a.action["modifies"][0]["oid"] == o.oid
    assert a.action["modifies"][0]["order"]["c"] == o.cloid
    return a


def test_modify_new_leg_from_the_reply_old_leg_cancel_ignored(m, outcomes):
    resting(m, place_plan())
    (o,) = m.live_orders()
    a = _modify(m, o)
    assert o.frozen and o.pending_modify is not None
    assert m.open_lots("BTC", BID) == 100
    m.on_order_updates([update(o, "canceled", 2001)], 2002)       # the cancel half of the modify
    assert o.live and o.pending_modify.old_leg_gone
    m.on_action_result(a.batch_id, ok_order({"resting": {"oid": 201}}), 2003)
    assert o.state is S.RESTING and o.oid == 201 and o.old_oids == [100] and o.px_units == 949_500
    assert o.prediction_id == 9 and ("end", 0) not in [(k, p) for k, p, _ in outcomes.calls]
    m.on_order_updates([update(o, "canceled", 2001, oid=100)], 2004)   # replays of the old leg
    assert o.live
    m.check_invariants()


def test_modify_new_leg_seen_on_the_stream_before_the_reply(m):
    resting(m, place_plan())
    (o,) = m.live_orders()
    a = _modify(m, o)
    m.on_order_updates([update(o, "canceled", 2001), update(o, "open", 2001, oid=202, px="94950.0")], 2002)
    assert o.oid == 202 and o.state is S.RESTING and not o.frozen
    m.on_action_result(a.batch_id, ok_order({"resting": {"oid": 202}}), 2010)   # only confirms
    assert o.oid == 202 and o.state is S.RESTING
    m.check_invariants()


def test_fill_on_a_new_leg_proves_the_modify(m):
    resting(m, place_plan())
    (o,) = m.live_orders()
    _modify(m, o, sz=100)
    assert m.apply_fill(o, 203, 30, 2005) == "new"
    assert o.oid == 203 and o.filled_lots == 30 and o.state is S.PARTIAL
    assert m.apply_fill(o, 100, 5, 2006) == "old"                 # a late fill of the replaced leg
    assert o.filled_lots == 30 and o.filled_total_lots == 35


def test_modify_error_after_the_old_leg_was_cancelled_closes_the_order(m):
    resting(m, place_plan())
    (o,) = m.live_orders()
    a = _modify(m, o)
    m.on_order_updates([update(o, "canceled", 2001)], 2002)
    m.on_action_result(a.batch_id, ok_order({"error": "Post only order would have immediately matched, bbo was 1@2."}),
                       2003)
    assert o.state is S.CANCELLED and "modify failed" in o.reason


def test_ambiguous_modify_error_goes_unknown_and_is_resolved_by_order_status(m):
    resting(m, place_plan())
    (o,) = m.live_orders()
    a = _modify(m, o)
    m.on_action_result(a.batch_id, ok_order({"error": "Insufficient margin to place order."}), 2003)
    assert o.state is S.UNKNOWN and o.unknown_action == "modify" and o.slot == 0
    (q,) = m.status_queries(3000)
    assert q.ref == 100                                            # the old leg, by oid
    old_open = {"status": "order", "order": {"order": {"coin": "BTC", "side": "B", "limitPx": "95000.0",
                                                       "sz": "0.001", "oid": 100, "timestamp": 1, "cloid": o.cloid},
                                             "status": "open", "statusTimestamp": 1}}
    m.on_order_status(q, old_open, 3001)
    assert o.state is S.RESTING and o.pending_modify is None and o.px_units == 950_000
    m.check_invariants()


@pytest.mark.parametrize("old_leg_gone", [False, True])
def test_every_counted_modify_reject_is_logged_as_order_rejected_once(m, old_leg_gone):
    # the reject-storm gate counts report.rejects; the audit's reject rules read order_rejected
    resting(m, place_plan(levels=((0, 950_000, 100), (1, 949_000, 100))))
    o1, o2 = m.live_orders()
    plan = Plan("BTC", modifies=[Modify(o.handle, o.coin, o.side, o.slot, o.px_units - 500, o.sz_lots, o.px_units,
                                        o.sz_lots) for o in (o1, o2)])
    (a,) = m.submit(plan, 2000)
    if old_leg_gone:
        m.on_order_updates([update(o1, "canceled", 2001)], 2002)
    with capture_logs() as logs:
        r = m.on_action_result(a.batch_id, ok_order({"error": "Order rejected by injected fault"},
                                                    {"resting": {"oid": 301}}), 2003)
    assert r.rejects == ["Order rejected by injected fault"] and r.resting == 1
    (ev,) = [x for x in logs if x["event"] == "order_rejected"]
    assert ev["reason"] == "Order rejected by injected fault" and ev["cloid"] == o1.cloid
    assert ev["px"] == "94950" and ev["sz"] == "0.001"          # the modify's target, as wire strings
    m.check_invariants()


def test_a_modify_that_raced_a_fill_is_not_a_reject(m):
    # the order filled (or was cancelled) before the modify arrived: the exchange's "gone" answer is the
    # market racing us, so it must not feed the reject storm (a fast market would kill a healthy engine)
    resting(m, place_plan(levels=((0, 950_000, 100),)))
    (o,) = m.live_orders()
    plan = Plan("BTC", modifies=[Modify(o.handle, o.coin, o.side, o.slot, o.px_units - 500, o.sz_lots, o.px_units,
                                        o.sz_lots)])
    (a,) = m.submit(plan, 2000)
    with capture_logs() as logs:
        r = m.on_action_result(a.batch_id, ok_order({"error": "Cannot modify canceled or filled order."}), 2003)
    assert r.rejects == [] and r.cancelled == 1
    assert [x["event"] for x in logs if x["event"] in ("order_rejected", "order_modify_missed")] == \
        ["order_modify_missed"]
    assert not o.live and m.live_orders() == []
    m.check_invariants()


def test_every_counted_place_reject_is_logged_as_order_rejected_once(m):
    (a,) = m.submit(place_plan(levels=((0, 950_000, 100), (1, 949_000, 100))), 1000)
    with capture_logs() as logs:
        r = m.on_action_result(a.batch_id, ok_order({"error": "Order rejected by injected fault"},
                                                    {"resting": {"oid": 5}}), 1005)
    assert [x["reason"] for x in logs if x["event"] == "order_rejected"] == r.rejects == [
        "Order rejected by injected fault"]
    (b,) = m.submit(place_plan(levels=((2, 948_000, 100),)), 1010)
    with capture_logs() as logs:
        r = m.on_action_result(b.batch_id, {"status": "err", "response": "Too many cumulative requests"}, 1015)
    assert [x["reason"] for x in logs if x["event"] == "order_rejected"] == r.rejects == [
        "Too many cumulative requests"]


def test_unknown_modify_old_leg_cancelled_then_new_leg_found_by_cloid(m):
    resting(m, place_plan())
    (o,) = m.live_orders()
    a = _modify(m, o)
    m.on_action_timeout(a.batch_id, 5000)
    q = m.status_queries(6000)[0]
    closed = {"status": "order", "order": {"order": {"coin": "BTC", "side": "B", "limitPx": "95000.0", "sz": "0.0",
                                                     "oid": 100, "timestamp": 1, "cloid": o.cloid},
                                           "status": "canceled", "statusTimestamp": 2001}}
    m.on_order_status(q, closed, 6001)
    q2 = m.status_queries(6002)[0]
    assert q2.ref == o.cloid
    new = {"status": "order", "order": {"order": {"coin": "BTC", "side": "B", "limitPx": "94950.0", "sz": "0.001",
                                                  "oid": 300, "timestamp": 2001, "cloid": o.cloid},
                                        "status": "open", "statusTimestamp": 2001}}
    m.on_order_status(q2, new, 6003)
    assert o.state is S.RESTING and o.oid == 300 and o.old_oids == [100]


# ---------------------------------------------------------------------- cancels


def test_a_refused_cancel_is_held_with_a_doubling_backoff_but_never_from_the_kill_switch(m):
    # the quote cycle pulls quotes every cycle: a venue that refuses cancels must not get them at the
    # cycle's rate (the soak once sent 40 cancels a second into a frozen book)
    resting(m, place_plan())
    (o,) = m.live_orders()
    refused = {"error": "Book is frozen by injected fault (simulator)."}
    (a,) = m.submit(Plan("BTC", cancels=[Cancel(o.handle, "BTC", BID)]), 2000)
    with capture_logs() as logs:
        m.on_action_result(a.batch_id, ok_cancel(refused), 2001)
    assert [r["retry_in_ms"] for r in logs if r["event"] == "order_cancel_failed"] == [500]
    assert o.live and o.frozen and o.inflight is None
    m.check_invariants()
    assert m.submit(Plan("BTC", cancels=[Cancel(o.handle, "BTC", BID)]), 2200) == []   # held: skipped
    assert m.release_cancel_holds(2500) == 0 and o.frozen
    assert m.release_cancel_holds(2501) == 1 and not o.frozen
    m.check_invariants()
    (a,) = m.submit(Plan("BTC", cancels=[Cancel(o.handle, "BTC", BID)]), 2600)
    with capture_logs() as logs:
        m.on_action_result(a.batch_id, {"status": "err", "response": "Too many cumulative requests"}, 2601)
    assert [r["retry_in_ms"] for r in logs if r["event"] == "order_cancel_failed"] == [1000]   # doubled
    assert o.cancel_hold_until_ms == 3601
    # the kill switch / shutdown cancel does not wait out the hold
    (k,) = m.cancel_all(2700, reason="kill_switch: test")
    assert o.inflight == "cancel" and o.cancel_hold_until_ms == 0 and k.n == 1
    m.check_invariants()
    m.on_action_result(k.batch_id, ok_cancel("success"), 2701)
    assert o.state is S.CANCELLED and m.release_cancel_holds(10_000) == 0
    m.check_invariants()

def test_cancel_statuses(m):
    resting(m, place_plan(levels=((0, 950_000, 100), (1, 949_000, 100), (2, 948_000, 100))))
    o1, o2, o3 = m.live_orders()
    (a,) = m.submit(Plan("BTC", cancels=[Cancel(o.handle, "BTC", BID) for o in (o1, o2, o3)]), 2000)
    assert a.kind == "cancel" and [c["o"] for c in a.action["cancels"]] == [100, 101, 102]
    assert all(o.inflight == "cancel" and o.slot is None for o in (o1, o2, o3))
    with capture_logs() as logs:
        m.on_action_result(a.batch_id, ok_cancel("success", {"error": "Order was never placed, already canceled, or filled."},
                                                 {"error": "Book is frozen by injected fault (simulator)."}), 2001)
    assert o1.state is S.CANCELLED and o2.state is S.CANCELLED and o3.state is S.RESTING
    assert o3.frozen and o3.cancel_hold_until_ms == 2001 + 500     # refused: not re-sent before its hold
    assert any(r["event"] == "order_cancel_failed" for r in logs)
    # a cancelled order that turns out filled is corrected
    m.apply_fill(o2, 101, 100, 2002)
    assert o2.state is S.FILLED


def test_cancel_timeout_goes_unknown_and_an_open_status_returns_it(m):
    resting(m, place_plan())
    (o,) = m.live_orders()
    (a,) = m.submit(Plan("BTC", cancels=[Cancel(o.handle, "BTC", BID)]), 2000)
    m.on_action_timeout(a.batch_id, 12_000)
    assert o.state is S.UNKNOWN and o.unknown_action == "cancel" and o.slot is None
    m.on_order_updates([update(o, "open", 12_500)], 12_501)
    assert o.state is S.RESTING and not o.frozen


def test_cancel_all_uses_cloids_and_reaches_orders_in_flight(m):
    resting(m, place_plan())
    m.submit(place_plan(levels=((1, 949_000, 100),)), 2000)          # still pending
    acts = m.cancel_all(2001, reason="kill")
    (a,) = acts
    assert a.kind == "cancelByCloid" and a.n == 2
    pending = m.slot_owner("BTC", BID, 1)
    m.on_action_result(a.batch_id, ok_cancel("success", {"error": "Order was never placed, already canceled, or filled."}),
                       2002)
    assert not m.by_oid(100).live
    assert pending.state is S.PENDING          # its place is still in flight: the place answer decides


# ---------------------------------------------------------------------- safety sync

def _open(oid, px="95000.0", sz="0.001", side="B", cloid=None, coin="BTC"):
    d = {"coin": coin, "limitPx": px, "oid": oid, "side": side, "sz": sz, "timestamp": 1}
    if cloid:
        d["cloid"] = cloid
    return d


def test_sync_adopts_or_dooms_orphans_by_policy(assets):
    for policy, doomed in (("cancel", True), ("adopt", False)):
        mm = OrderManager(assets, CloidFactory(session=1), orphan_policy=policy)
        with capture_logs() as logs:
            rep = mm.apply_open_orders([_open(900, cloid="0x" + "11" * 16), _open(901, side="A", px="96000.0")], 1000, 1001)
        assert len(rep.doomed if doomed else rep.adopted) == 2
        o = mm.by_oid(900)
        assert o.live and o.adopted and o.doomed is doomed and o.slot is None
        assert any(r["event"] == ("orphan_cancelled" if doomed else "order_adopted") for r in logs)
        plan = Reconciler(mm).plan("BTC", Target([950_000], [100], [960_000], [100]))
        if doomed:
            assert len(plan.cancels) == 2 and len(plan.places) == 2
        else:
            assert plan.empty and plan.kept == 2 and sorted(plan.relabels) == sorted([(1, 0), (2, 0)])
        mm.check_invariants()


def test_sync_closes_missing_orders_and_queries_unknown_ones(m):
    resting(m, place_plan(levels=((0, 950_000, 100), (1, 949_000, 100))))
    o1, o2 = m.live_orders()
    (a,) = m.submit(place_plan(levels=((2, 948_000, 100),)), 2000)
    m.on_action_timeout(a.batch_id, 3000)
    o3 = m.slot_owner("BTC", BID, 2)
    with capture_logs() as logs:
        rep = m.apply_open_orders([_open(100, cloid=o1.cloid)], 4000, 4001)
    assert rep.missing == [o2.handle] and rep.coins_to_check == {"BTC"}
    assert o2.state is S.CANCELLED and o2.reason == "missing_on_exchange"
    assert [q.handle for q in rep.queries] == [o3.handle] and o3.state is S.UNKNOWN
    assert any(r["event"] == "order_missing" for r in logs)
    m.check_invariants()


def test_sync_ignores_orders_changed_after_it_was_requested(m):
    resting(m, place_plan(), now=5000)
    rep = m.apply_open_orders([], 4000, 6000)          # snapshot asked before the order was acked
    assert rep.missing == [] and m.live_orders()


def test_sync_confirms_an_unknown_place(m):
    (a,) = m.submit(place_plan(), 1000)
    m.on_action_timeout(a.batch_id, 2000)
    (o,) = m.live_orders()
    rep = m.apply_open_orders([_open(77, cloid=o.cloid, sz="0.0005")], 3000, 3001)
    assert rep.resolved == [o.handle] and o.state is S.RESTING and o.oid == 77 and o.remaining_lots == 50


def test_sync_revives_an_order_closed_on_a_guess(m):
    resting(m, place_plan())
    (o,) = m.live_orders()
    (a,) = m.submit(Plan("BTC", cancels=[Cancel(o.handle, "BTC", BID)]), 2000)
    m.on_action_result(a.batch_id, ok_cancel({"error": "Order was never placed, already canceled, or filled."}), 2001)
    assert not o.live
    rep = m.apply_open_orders([_open(100, cloid=o.cloid)], 3000, 3001)   # the exchange still has it
    assert rep.doomed == [o.handle] and o.live and o.doomed
    m.check_invariants()


def test_check_invariants_detects_a_corrupted_mirror(m):
    resting(m, place_plan())
    (o,) = m.live_orders()
    m.live_side("BTC", BID).upsert(o.handle, 1, 1, 0, 0)
    with pytest.raises(AssertionError, match="disagrees"):
        m.check_invariants()


def test_modify_reject_is_counted_and_logged_even_after_the_streams_ended_the_order(m):
    # the exchange refused the modify; that the order meanwhile filled (streams first) does not
    # make the refusal vanish from the reject storm or from the audit's log
    resting(m, place_plan())
    (o,) = m.live_orders()
    a = _modify(m, o)
    m.on_order_updates([update(o, "filled", 2001, sz="0.0")], 2002)
    assert not o.live
    with capture_logs() as logs:
        r = m.on_action_result(a.batch_id, ok_order({"error": "Order rejected by injected fault"}), 2003)
    assert r.rejects == ["Order rejected by injected fault"]
    (ev,) = [x for x in logs if x["event"] == "order_rejected"]
    assert ev["cloid"] == o.cloid and ev["reason"] == "Order rejected by injected fault"
    m.check_invariants()
