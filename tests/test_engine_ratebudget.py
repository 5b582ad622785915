"""Rate budget accounting against the reference rules (§7) and the sim's own limiter, and the
dead-man switch bookkeeping."""
from __future__ import annotations

import pytest

from engine_harness import Venue
from hlmm.engine.deadman import DEFAULT_MARGIN_MS, MIN_AHEAD_MS, DeadMan
from hlmm.engine.ratebudget import (
    ADDRESS_EXHAUSTED, ADDRESS_LOW, CANCEL_ALLOWANCE_EXHAUSTED, IP_WINDOW_FULL, OK, REST_BLOCKED, RateBudget,
    RateDecision,
)
from hlmm.log import capture_logs

T0 = 1_700_000_000_000


def test_ip_weight_is_a_sliding_60s_window():
    r = RateBudget()
    r.record_ip(600, T0)
    r.record_ip(500, T0 + 30_000)
    assert r.ip_used(T0 + 59_999) == 1100 and r.ip_available(T0 + 59_999) == 100
    assert r.ip_used(T0 + 60_000) == 500
    r.record_action("order", 80, T0 + 60_000)          # 1 + 80 // 40 = 3
    assert r.ip_used(T0 + 60_000) == 503


def test_a_batch_costs_n_requests_and_one_weight_per_40():
    r = RateBudget()
    r.record_action("order", 39, T0)
    r.record_action("batchModify", 40, T0)
    r.record_action("cancel", 1, T0)
    assert r.used == 80 and r.ip_used(T0) == 1 + 2 + 1


def test_user_rate_limit_answer_replaces_local_figures_and_fills_grow_the_cap():
    r = RateBudget()
    assert r.cap == 10_000 and r.headroom == 1.0
    assert r.on_user_rate_limit({"cumVlm": "2854574.593578", "nRequestsUsed": 2890, "nRequestsCap": 2864574,
                                 "nRequestsSurplus": 0}, T0)
    assert (r.used, r.cap) == (2890, 2864574) and r.cap == 10_000 + int(2854574.593578)
    r.on_fill_volume(0.5)
    assert r.cap == 2864575                                  # floor(cumVlm) crossed an integer
    r.on_fill_volume(0.3)
    assert r.cap == 2864575
    with capture_logs() as logs:
        assert not r.on_user_rate_limit({"cumVlm": "x"}, T0)
    assert logs[0]["event"] == "error"


def test_refresh_is_due_every_interval_always():
    r = RateBudget(refresh_interval_ms=60_000)
    assert r.refresh_due(T0)
    body = r.refresh_request("0xabc", T0)
    assert body == {"type": "userRateLimit", "user": "0xabc"} and r.ip_used(T0) == 20
    assert not r.refresh_due(T0 + 59_999) and r.refresh_due(T0 + 60_000)


def test_headroom_low_and_exhausted_decisions():
    r = RateBudget(min_headroom_fraction=0.10)
    r.on_user_rate_limit({"cumVlm": "0", "nRequestsUsed": 9_000, "nRequestsCap": 10_000}, T0)
    assert r.check(1, 2, 3, T0) == r.check(1, 2, 3, T0) and r.check(1, 2, 3, T0).reason == OK
    r.used = 9_500
    d = r.check(0, 10, 0, T0)
    assert d.reason == ADDRESS_LOW and d.requotes == 10 and r.low
    r.used = 9_995
    d = r.check(2, 10, 0, T0)
    assert d.reason == ADDRESS_EXHAUSTED and (d.cancels, d.requotes) == (2, 3)
    r.used = 10_000
    d = r.check(5, 4, 4, T0)
    assert d.reason == ADDRESS_EXHAUSTED and d.cancels == 5 and d.requotes == 1     # 1 request per 10 s
    r.record_action("order", 1, T0)
    assert r.check(0, 1, 0, T0 + 9_999).requotes == 0 and r.check(0, 1, 0, T0 + 10_001).requotes == 1


def test_cancels_pass_past_the_cap_up_to_the_allowance():
    r = RateBudget()
    r.on_user_rate_limit({"cumVlm": "0", "nRequestsUsed": 10_000, "nRequestsCap": 10_000}, T0)
    assert r.cancel_cap == 20_000                          # min(cap + 100000, 2 * cap)
    assert r.check(50, 0, 0, T0).cancels == 50
    r.used = 19_990
    d = r.check(50, 0, 0, T0)
    assert d.cancels == 10 and d.reason == CANCEL_ALLOWANCE_EXHAUSTED
    big = RateBudget()
    big.on_user_rate_limit({"cumVlm": "1000000", "nRequestsUsed": 0, "nRequestsCap": 1_010_000}, T0)
    assert big.cancel_cap == 1_110_000


def test_full_ip_window_holds_requotes_never_cancels():
    r = RateBudget(ip_weight_per_minute=10)
    r.record_ip(9, T0)
    d = r.check(3, 2, 2, T0)
    assert d.reason == IP_WINDOW_FULL and (d.cancels, d.requotes) == (3, 0)
    r.record_ip(1, T0)
    d = r.check(3, 0, 0, T0)                     # a stale quote costs more than the weight a cancel uses
    assert d.cancels == 3 and d.reason == IP_WINDOW_FULL
    assert r.check(3, 1, 0, T0 + 60_000) == RateDecision(3, 1, OK, 1.0)


def test_an_http_429_blocks_the_rest_transport_only_and_never_cancels():
    r = RateBudget(ip_weight_per_minute=1200)
    assert r.blocked_transport(T0) is None and not r.rest_blocked(T0)
    with capture_logs() as logs:
        r.on_rate_limited("ip", "HTTP 429", T0)
    assert [(x["event"], x["scope"]) for x in logs] == [("rate_limited", "ip")]
    assert r.blocked_transport(T0 + 59_999) == "rest" and r.rest_blocked(T0 + 59_999)
    assert r.blocked_transport(T0 + 60_000) is None
    # the WebSocket path has its own limits: a REST 429 says nothing about it
    assert r.check(2, 3, 1, T0 + 1, transport="ws") == r.check(2, 3, 1, T0 + 1) == RateDecision(2, 4, OK, 1.0)
    assert r.ip_available(T0 + 1) == 1200 and r.ip_available(T0 + 1, transport="rest") == 0
    # over REST nothing but cancels until the block ends
    d = r.check(2, 3, 1, T0 + 1, transport="rest")
    assert (d.cancels, d.requotes, d.reason) == (2, 0, REST_BLOCKED)
    assert r.check(2, 3, 1, T0 + 60_000, transport="rest").reason == OK
    with pytest.raises(ValueError, match="transport"):
        r.check(1, 0, 0, T0, transport="carrier pigeon")


def test_actions_sent_after_a_refresh_request_are_kept_on_top_of_its_answer():
    r = RateBudget()
    r.record_action("order", 5, T0)
    r.record_action("order", 3, T0 + 100)
    r.on_user_rate_limit({"cumVlm": "0", "nRequestsUsed": 5, "nRequestsCap": 10_000}, T0 + 200, requested_ms=T0 + 50)
    assert r.used == 8


def test_scarcer_budget():
    r = RateBudget(ip_weight_per_minute=100)
    assert r.scarcer(T0) == "address"
    r.record_ip(95, T0)
    assert r.scarcer(T0) == "ip"


def test_local_accounting_matches_the_sim_after_real_actions():
    v = Venue()
    r = RateBudget()
    r.on_user_rate_limit(v.info({"type": "userRateLimit", "user": v.user}), v.now)
    orders = [{"a": 0, "b": True, "p": str(90_000 + i), "s": "0.001", "r": False, "t": {"limit": {"tif": "Alo"}}}
              for i in range(7)]
    resp = v.post({"type": "order", "orders": orders, "grouping": "na"})
    r.record_action("order", 7, v.now)
    oids = [s["resting"]["oid"] for s in resp["response"]["data"]["statuses"]]
    v.post({"type": "cancel", "cancels": [{"a": 0, "o": o} for o in oids[:3]]})
    r.record_action("cancel", 3, v.now)
    answer = v.info({"type": "userRateLimit", "user": v.user})
    assert answer["nRequestsUsed"] == r.used == 10 and answer["nRequestsCap"] == r.cap


# ---------------------------------------------------------------------- dead-man switch

def test_deadman_arms_refreshes_and_counts_triggers():
    d = DeadMan(seconds_ahead=60, refresh_interval_s=20, max_triggers_per_day=2)
    assert d.due(T0)
    assert d.action(T0) == {"type": "scheduleCancel", "time": T0 + 60_000}
    assert not d.due(T0 + 1)                     # an answer is awaited
    d.on_result(True, T0 + 5)
    assert d.armed_until_ms == T0 + 60_000
    assert not d.due(T0 + 19_999) and d.due(T0 + 20_000)
    assert not d.due(T0 + 20_000, healthy=False)     # unhealthy: let it fire
    with capture_logs() as logs:
        d.due(T0 + 60_000, healthy=False)
    assert d.triggers_today == 1
    assert [(x["event"], x["triggers_today"]) for x in logs] == [("deadman_triggered", 1)]
    d.action(T0 + 61_000)
    d.on_result(True, T0 + 61_000)
    d.due(T0 + 121_000, healthy=False)
    assert d.triggers_today == 2 and not d.enabled and not d.due(T0 + 122_000)
    # the counter resets at 00:00 UTC
    next_day = (T0 // 86_400_000 + 1) * 86_400_000
    assert d.due(next_day + 1) and d.enabled


def test_deadman_refusal_and_lost_answers():
    d = DeadMan(seconds_ahead=30, refresh_interval_s=10, answer_timeout_s=5)
    d.action(T0)
    assert not d.due(T0 + 4_999) and d.due(T0 + 5_000)      # the answer was lost: retry
    d.action(T0 + 5_000)
    d.on_result(False, T0 + 5_001, "Cannot set scheduled cancel time until enough volume traded. Required: $1000000.")
    assert not d.enabled and not d.due(T0 + 100_000)
    d.reset()
    assert d.due(T0 + 100_000)
    assert d.kill_action(T0)["time"] == T0 + MIN_AHEAD_MS + DEFAULT_MARGIN_MS
    assert d.disarm_action() == {"type": "scheduleCancel"}


@pytest.mark.parametrize("which", ["kill", "action"])
def test_deadman_times_survive_the_trip_to_the_exchange(which):
    # built at `now`, read by the exchange a little later: exactly now + 5 s would be "too early"
    v = Venue()
    d = DeadMan(seconds_ahead=5, refresh_interval_s=2)
    built_at = v.now
    act = d.kill_action(built_at) if which == "kill" else d.action(built_at)
    assert act["time"] >= built_at + MIN_AHEAD_MS + DEFAULT_MARGIN_MS
    v.advance(200)
    resp = v.post(act)
    assert resp["status"] == "ok", resp
    d.on_result(True, v.now)
    assert d.enabled and d.armed_until_ms == act["time"]


def test_deadman_margin_is_configurable_and_checked():
    assert DeadMan(seconds_ahead=60, refresh_interval_s=30, margin_s=2.5).kill_action(T0)["time"] == T0 + 7_500
    assert DeadMan(seconds_ahead=60, refresh_interval_s=30, margin_s=2.5).action(T0)["time"] == T0 + 60_000
    for bad in (-1.0, float("nan"), float("inf"), 61.0):
        with pytest.raises(ValueError, match="margin_s"):
            DeadMan(seconds_ahead=60, refresh_interval_s=30, margin_s=bad)


def test_deadman_config_rules():
    assert not DeadMan(seconds_ahead=0).enabled and not DeadMan(seconds_ahead=0).due(T0)
    with pytest.raises(ValueError, match=">= 5 s"):
        DeadMan(seconds_ahead=4)
    with pytest.raises(ValueError, match="refresh_interval_s"):
        DeadMan(seconds_ahead=10, refresh_interval_s=10)


def test_deadman_against_the_sim_cancels_when_not_refreshed():
    v = Venue()
    d = DeadMan(seconds_ahead=10, refresh_interval_s=4)
    resp = v.post({"type": "order", "orders": [{"a": 0, "b": True, "p": "90000", "s": "0.001", "r": False,
                                                "t": {"limit": {"tif": "Alo"}}}], "grouping": "na"})
    assert "resting" in resp["response"]["data"]["statuses"][0]
    assert d.due(v.now)
    d.on_result(v.post(d.action(v.now))["status"] == "ok", v.now)
    v.advance(4_000)
    assert d.due(v.now)
    d.on_result(v.post(d.action(v.now))["status"] == "ok", v.now)
    v.advance(9_000)                                     # still within the refreshed deadline
    assert len(v.info({"type": "openOrders", "user": v.user})) == 1
    v.advance(2_000)                                     # not refreshed: it fires
    assert v.info({"type": "openOrders", "user": v.user}) == []
    d.due(v.now, healthy=False)
    assert d.triggers_today == 1
