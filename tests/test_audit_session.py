"""Session accounting of hlmm audit: account value, PnL split, fills, orders, rates, risk, calibration."""
from __future__ import annotations

import pytest

from hlmm.audit import AuditOptions, audit
from loggen import Scenario, write_session
from test_audit_rules import begin, build, cycle, fill, place, run, status


def test_pnl_split_computed_from_events(tmp_path):
    def write(b):
        begin(b)
        b.emit("safety_sync", open_orders=0, positions=1, account_value=1000.0, margin_available=800.0,
               mismatches=0, duration_ms=20.0)
        # bought 0.01 @ 96990 with mid 97000: spread capture 0.1; sold 0.02 @ 97020, mid 97000: 0.4
        fill(b, 1, side="B", px=96990.0, sz=0.01, mid=97000.0, fee=0.15, position=0.01)
        fill(b, 2, side="A", px=97020.0, sz=0.02, mid=97000.0, fee=0.30, position=-0.01)
        for tid, notional, as_bps in ((1, 969.9, 2.0), (2, 1940.4, 4.0)):
            b.emit("markout", "debug", coin="BTC", tid=tid, side="B", horizon_s=1.0, markout_bps=1.0,
                   spread_capture_bps=1.0, adverse_selection_bps=100.0)  # shorter horizon: not used for USD
            b.emit("markout", "debug", coin="BTC", tid=tid, side="B", horizon_s=60.0, markout_bps=-1.0,
                   spread_capture_bps=1.0, adverse_selection_bps=as_bps)
        b.emit("funding", coin="BTC", rate=0.0001, payment_usd=-0.05, position=-0.01)
        b.advance(60)
        b.emit("safety_sync", open_orders=0, positions=1, account_value=999.5, margin_available=800.0,
               mismatches=0, duration_ms=20.0)

    r = run(build(tmp_path, write))
    s = r.session
    assert s["account_value"] == {"start": 1000.0, "end": 999.5, "change": pytest.approx(-0.5)}
    p = s["pnl"]
    assert p["source"] == "computed from fills, markouts and funding"
    assert p["spread_capture_usd"] == pytest.approx(0.1 + 0.4)
    assert p["fees_usd"] == pytest.approx(0.45) and p["funding_usd"] == pytest.approx(-0.05)
    assert p["adverse_selection_horizon_s"] == 60.0
    assert p["adverse_selection_usd"] == pytest.approx((2.0 * 96990 * 0.01 + 4.0 * 97020 * 0.02) / 1e4)
    explained = 0.5 - p["adverse_selection_usd"] - 0.45 - 0.05
    assert p["total_usd"] == pytest.approx(-0.5) and p["residual_usd"] == pytest.approx(-0.5 - explained)
    assert s["volume_usd"] == pytest.approx(96990 * 0.01 + 97020 * 0.02)
    assert s["position"] == {"BTC": -0.01}
    assert s["fills"]["buys"] == 1 and s["fills"]["sells"] == 1


def test_pnl_from_session_summaries_adds_sessions(tmp_path):
    def summary(b, realized, fees):
        b.emit("session_summary", duration_s=60.0, fills=3, volume_usd=100.0, realized_pnl_usd=realized,
               unrealized_pnl_usd=0.5, fees_usd=fees, spread_capture_usd=2.0, adverse_selection_usd=1.0,
               funding_usd=0.1, position=0.0, notional_usd=0.0, kill_switch_fired=False, exit_code=0)

    def write(b):
        begin(b)
        summary(b, 1.0, 0.2)
        b.advance(10)
        begin(b)
        summary(b, -3.0, 0.3)

    r = run(build(tmp_path, write))
    p = r.session["pnl"]
    assert r.session["sessions"] == 2
    assert (p["source"], p["realized_usd"], p["unrealized_usd"], p["fees_usd"]) == ("session_summary", -2.0, 1.0, 0.5)
    assert p["spread_capture_usd"] == 4.0
    assert p["adverse_selection_usd"] == 2.0 and p["funding_usd"] == pytest.approx(0.2)
    # the engine's definitions: realized is gross of fees; total = realized + unrealized - fees + funding
    assert p["total_usd"] == pytest.approx(-2.0 + 1.0 - 0.5 + 0.2)
    assert p["residual_usd"] == pytest.approx(p["total_usd"] - (4.0 - 2.0 - 0.5 + 0.2))


def test_per_coin_and_total_summaries_are_not_added_twice(tmp_path):
    def line(b, coin=None, realized=0.0):
        kw = {"coin": coin} if coin else {}
        b.emit("session_summary", duration_s=60.0, fills=1, volume_usd=10.0, realized_pnl_usd=realized,
               unrealized_pnl_usd=0.0, fees_usd=0.0, spread_capture_usd=0.0, adverse_selection_usd=0.0,
               funding_usd=0.0, notional_usd=0.0, kill_switch_fired=False, exit_code=0, **kw)

    def write(b):
        begin(b, coins=("BTC", "ETH"))
        line(b, "BTC", 1.0)
        line(b, "ETH", 2.0)
        line(b, None, 3.0)          # the engine's total line
        begin(b, coins=("BTC",))    # a second session without a total line
        line(b, "BTC", 10.0)

    p = run(build(tmp_path, write)).session["pnl"]
    assert p["realized_usd"] == pytest.approx(13.0)


def test_orders_cycles_and_requotes(tmp_path):
    def write(b):
        begin(b)
        for _ in range(6):
            cycle(b)
            b.advance(10)  # 6 cycles over 60 s
        for _ in range(3):
            place(b)
        b.emit("order_modify_sent", coin="BTC", cloid="0x" + "3" * 32, oid=5, side="A", px="1", sz="1", old_px="1",
               old_sz="1", post_id=2)
        for _ in range(2):
            b.emit("order_cancel_sent", coin="BTC", cloid="0x" + "3" * 32, oid=5, reason="reprice", post_id=3)
        b.emit("order_cancelled", coin="BTC", cloid="0x" + "3" * 32, oid=5, status="canceled")
        b.emit("order_unknown_timeout", coin="BTC", cloid="0x" + "3" * 32, action="order", post_id=4, elapsed_ms=5000)
        b.emit("order_modify_missed", coin="BTC", cloid="0x" + "3" * 32, oid=5,
               reason="Cannot modify canceled or filled order.")

    r = run(build(tmp_path, write))
    s = r.session
    assert s["quote_cycles"] == 6 and s["quote_cycles_per_min"] == pytest.approx(6.0)
    assert s["quote_cycles_logged"] == 6
    o = s["orders"]
    assert (o["placed"], o["modified"], o["cancel_sent"], o["cancelled"], o["unknown_timeouts"]) == (3, 1, 2, 1, 1)
    # a modify that raced a fill is counted on its own, not as a reject
    assert o["modify_missed"] == 1 and o["rejected"] == 0 and o["rejected_by_reason"] == {}
    assert s["requotes"] == {"order_actions": 6, "per_cycle": 1.0, "per_min": 6.0}
    assert s["duration_s"] == 60.0


def test_quote_cycles_from_the_cycle_counter(tmp_path):
    """The engine may log a sample of its cycles; the counter tells how many ran (restarts included)."""
    def write(b):
        begin(b, coins=("BTC", "ETH"))
        for n in (1, 29, 57):
            b.emit("quote_cycle", coin="BTC", cycle=n, mid=1.0, microprice=1.0, bid_levels=5, ask_levels=5)
        b.emit("quote_cycle", coin="ETH", cycle=10, mid=1.0, microprice=1.0, bid_levels=5, ask_levels=5)
        b.emit("quote_cycle", coin="ETH", cycle=20, mid=1.0, microprice=1.0, bid_levels=5, ask_levels=5)
        begin(b, coins=("BTC",))
        for n in (1, 5):
            b.emit("quote_cycle", coin="BTC", cycle=n, mid=1.0, microprice=1.0, bid_levels=5, ask_levels=5)

    s = run(build(tmp_path, write)).session
    assert s["quote_cycles_logged"] == 7 and s["quote_cycles"] == 57 + 11 + 5


def test_risk_and_calibration_tables(tmp_path):
    def write(b):
        begin(b, coins=("BTC", "ETH"))
        b.emit("gate_active", coin="BTC", side="B", gate="toxicity", reason="score 0.9", detail="")
        b.emit("gate_active", coin="BTC", side="B", gate="toxicity", reason="score 0.9", detail="")
        b.emit("gate_active", coin="ETH", side="A", gate="reduce_only", reason="", detail="")
        b.emit("toxicity_pull", coin="BTC", side="B", score=0.91, threshold=0.8)
        b.emit("inventory_forcing", "warning", coin="BTC", position=0.01, reduce_side="A", headroom_fraction=0.05)
        b.emit("reduce_only_mode", active=True, reason="max position")
        b.emit("reduce_only_mode", active=False, reason="")
        b.emit("calibration_report", model="fill_probability", samples=10, brier=0.3, log_loss=0.7,
               information_ratio=0.2, calibration_error=0.1, validated=False)
        b.emit("calibration_report", model="fill_probability", samples=60, brier=0.19, log_loss=0.56,
               information_ratio=1.4, calibration_error=0.02, validated=True)
        b.emit("position_update", coin="ETH", position=-0.5, entry_px=3300.0, notional_usd=1650.0,
               unrealized_pnl_usd=0.0, source="fill")
        b.emit("position_update", coin="ETH", position=-0.25, entry_px=3300.0, notional_usd=825.0,
               unrealized_pnl_usd=0.0, source="sync")

    r = run(build(tmp_path, write))
    risk = r.session["risk"]
    assert risk["gates"] == {"toxicity: score 0.9": 2, "reduce_only": 1}
    assert risk["toxicity_pulls"] == {"B": 1} and risk["inventory_forcing"] == 1 and risk["reduce_only_on"] == 1
    assert r.session["calibration"]["models"] == {"fill_probability": {
        "reports": 2, "samples": 60, "brier": 0.19, "log_loss": 0.56, "information_ratio": 1.4,
        "calibration_error": 0.02, "validated": True}}
    assert r.session["position"] == {"ETH": -0.25}
    assert r.session["coins"] == ["BTC", "ETH"]
    assert not r.by_id("predictions_unvalidated") and not r.by_id("model_unvalidated")


def test_generated_session_totals_match_what_was_written(tmp_path):
    sc = Scenario(untracked_fill_share=0.2, reject_storm=4, warmup_quote_cycles=2)
    stats = write_session(tmp_path / "s.log", seconds=400, fill_rate_per_s=0.3, coins=("BTC", "ETH"), scenario=sc,
                          seed=11)
    r = audit([str(tmp_path / "s.log")])
    s = r.session
    assert r.lines["total"] == stats.lines == r.lines["hlmm_events"]
    assert s["fills"]["total"] == stats.fills and s["fills"]["untracked"] == stats.untracked
    o = s["orders"]
    assert (o["placed"], o["modified"], o["cancel_sent"]) == (stats.places, stats.modifies, stats.cancels)
    assert o["rejected_by_reason"] == stats.rejects
    assert s["quote_cycles"] == stats.cycles
    assert s["coins"] == ["BTC", "ETH"]
    warm = r.by_id("quoting_during_warmup")[0]
    assert warm.count >= stats.warmup_places  # places, plus the modifies of those cycles
    pnl = s["pnl"]
    assert pnl["source"] == "session_summary" and pnl["spread_capture_usd"] > 0


def test_headroom_time_below_counts_until_the_end(tmp_path):
    def write(b):
        begin(b)
        status(b, 0.5)
        b.advance(30)
        status(b, 0.02)
        b.advance(45)
        cycle(b)  # the session ends here: 45 s below

    s = run(build(tmp_path, write)).session
    assert s["rate_headroom"]["time_below_s"] == 45.0


def test_session_window_excludes_events(tmp_path):
    def write(b):
        begin(b)
        for i in range(10):
            fill(b, i)
            b.advance(60)

    path = build(tmp_path, write)
    from hlmm.audit import parse_time_bound
    r = audit([str(path)], AuditOptions(since=parse_time_bound("start+2m"), until=parse_time_bound("start+5m")))
    assert r.session["fills"]["total"] == 3  # fills at 2, 3 and 4 minutes
    assert r.lines["outside_window"] == 3 + 7
