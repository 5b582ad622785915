"""Each finding rule of hlmm audit on hand-made logs: exact counts, severities and file:line examples.

Logs are written by hlmm's own logger (tests/loggen.LogBuilder, strict event checks), so every
event and field used here is in the documented contract (hlmm/log_events.py).
"""
from __future__ import annotations

import pytest

from hlmm.audit import AuditOptions, Severity, audit
from hlmm.audit.report import AuditReport
from hlmm.audit.timebounds import iso
from loggen import LogBuilder, epoch

START = "2026-01-13T22:14:01Z"
T0 = int(epoch(START) * 1000)


def build(tmp_path, write, name="mm.log", start=START):
    path = tmp_path / name
    with LogBuilder(path, start) as b:
        write(b)
    return path


def run(path, **options) -> AuditReport:
    return audit([str(path)], AuditOptions(**options))


def one(report: AuditReport, finding_id: str):
    found = report.by_id(finding_id)
    assert len(found) == 1, [f.id for f in report.findings]
    return found[0]


def begin(b: LogBuilder, coins=("BTC",), config=None, warm=True) -> None:
    b.emit("session_start", version="0.1.0", venue="sim", account="0x" + "ab" * 20, vault="", coins=list(coins),
           config_file="hlmm.toml", pid=1)
    b.emit("config_loaded", file="hlmm.toml", includes=[], warnings=[], config=config or {})
    if warm:
        for coin in coins:
            b.emit("estimator_warm", coin=coin, elapsed_s=60.0, trades=20, book_updates=60)


def cycle(b: LogBuilder, mid=97000.0, micro=None, bid_px=None, ask_px=None, bid_levels=5, ask_levels=5,
          bid_binding="none", ask_binding="none", coin="BTC") -> int:
    return b.emit("quote_cycle", "debug", coin=coin, cycle=1, mid=mid, microprice=mid if micro is None else micro,
                  sigma=1e-4, kappa=250.0, regime="normal", gamma=0.3, position=0.0, bid_levels=bid_levels,
                  ask_levels=ask_levels, bid_px=str(bid_px if bid_px is not None else mid - 80),
                  ask_px=str(ask_px if ask_px is not None else mid + 80), bid_binding=bid_binding,
                  ask_binding=ask_binding, latency_us=40)


def place(b: LogBuilder, coin="BTC", px="96900") -> int:
    return b.emit("order_place_sent", coin=coin, cloid="0x" + "1" * 32, side="B", px=px, sz="0.001", tif="Alo",
                  reduce_only=False, ladder_level=0, post_id=1)


def fill(b: LogBuilder, tid, side="B", px=96990.0, sz=0.001, mid=97000.0, fee=0.0145, coin="BTC", position=0.0) -> int:
    return b.emit("fill", coin=coin, tid=tid, oid=tid + 1000, cloid="0x" + "2" * 32, side=side, px=str(px),
                  sz=str(sz), fee=str(fee), fee_token="USDC", crossed=False, closed_pnl="0.0", start_position="0",
                  position=position, mid_at_fill=mid, ladder_level=0)


def at(path, line: int) -> str:
    return f"{path}:{line}"


# -------------------------------------------------------------------------- quotes vs mid


def test_quotes_at_or_through_mid(tmp_path):
    lines = {}

    def write(b):
        begin(b)
        cycle(b)                                             # normal
        b.advance(1)
        lines["bid_through"] = cycle(b, bid_px=97010.0)      # bid above mid
        b.advance(1)
        lines["ask_touch"] = cycle(b, ask_px=97000.0)        # ask at mid
        b.advance(1)
        lines["blocked"] = b.emit("quote_crossed", "error", coin="BTC", side="B", px="97001", mid=97000.0)
        cycle(b, bid_px=96999.0)

    path = build(tmp_path, write)
    r = run(path)
    sent = one(r, "quote_at_or_through_mid")
    assert sent.severity is Severity.CRITICAL and sent.count == 2
    assert sent.examples == [at(path, lines["bid_through"]), at(path, lines["ask_touch"])]
    assert sent.first_ms == T0 + 1000 and sent.last_ms == T0 + 2000
    assert sent.detail["sides"] == {"bid": 1, "ask": 1}
    assert sent.detail["worst_bps_through_mid"] == pytest.approx(10 / 97000 * 1e4, abs=1e-3)
    blocked = one(r, "quote_crossed_mid")
    assert blocked.severity is Severity.WARNING and blocked.count == 1
    assert blocked.examples == [at(path, lines["blocked"])] and blocked.detail["sides"] == {"bid": 1, "ask": 0}
    assert r.exit_code == 5


# ------------------------------------------------------------------------------- microprice


def test_microprice_divergence_thresholds_and_warmup(tmp_path):
    lines = {}

    def write(b):
        begin(b, warm=False)
        lines["warm1"] = cycle(b, mid=95400.0, micro=95400.0 * 1.02)   # 200 bps, before warm
        b.advance(1)
        b.emit("estimator_warm", coin="BTC", elapsed_s=1.0, trades=20, book_updates=60)
        cycle(b, mid=97000.0, micro=97000.0 * (1 + 10e-4 / 10))         # 1 bps: fine
        lines["warn"] = cycle(b, mid=97000.0, micro=97000.0 * 1.0025)  # 25 bps
        b.emit("microprice_reset", coin="BTC", microprice=98000.0, mid=97000.0, divergence_bps=103.1)

    path = build(tmp_path, write)
    f = one(run(path), "microprice_divergence")
    assert f.severity is Severity.CRITICAL and f.count == 2
    assert f.examples == [at(path, lines["warm1"]), at(path, lines["warn"])]
    assert f.detail["max_bps"] == pytest.approx(200.0, abs=0.01) and f.detail["during_warmup"] == 1
    assert f.detail["resets"] == 1 and f.detail["cycles"] == 3
    # with a higher threshold only the 200 bps cycle remains; below critical -> warning
    f2 = one(run(path, microprice_warn_bps=30.0, microprice_critical_bps=500.0), "microprice_divergence")
    assert f2.count == 1 and f2.severity is Severity.WARNING


def test_microprice_reset_alone_is_info(tmp_path):
    def write(b):
        begin(b)
        cycle(b)
        b.emit("microprice_reset", coin="BTC", microprice=98000.0, mid=97000.0, divergence_bps=103.1)

    assert one(run(build(tmp_path, write)), "microprice_reset").severity is Severity.INFO


# ----------------------------------------------------------------------------------- warm-up


def test_quoting_during_warmup_per_coin_and_per_session(tmp_path):
    lines = {}

    def write(b):
        place(b)                                       # no session_start yet: not judged
        begin(b, coins=("BTC", "ETH"), warm=False)
        lines["btc_early"] = place(b, "BTC")
        b.advance(5)
        b.emit("estimator_warm", coin="BTC", elapsed_s=5.0, trades=20, book_updates=60)
        place(b, "BTC")                                # BTC warm: fine
        lines["eth_early"] = b.emit("order_modify_sent", coin="ETH", cloid="0x" + "3" * 32, oid=5, side="A",
                                    px="3301", sz="0.01", old_px="3302", old_sz="0.01", post_id=2)
        b.emit("estimator_warm", coin="ETH", elapsed_s=6.0, trades=20, book_updates=60)
        place(b, "ETH")                                # fine
        b.advance(100)
        begin(b, coins=("BTC",), warm=False)           # a restart: warm-up again
        lines["restart"] = place(b, "BTC")
        b.emit("estimator_warm", coin="BTC", elapsed_s=5.0, trades=20, book_updates=60)
        place(b, "BTC")

    path = build(tmp_path, write)
    f = one(run(path), "quoting_during_warmup")
    assert f.severity is Severity.CRITICAL and f.count == 3
    assert f.examples == [at(path, lines[k]) for k in ("btc_early", "eth_early", "restart")]
    assert f.detail["by_coin"] == {"BTC": 2, "ETH": 1}


def test_no_warmup_finding_when_orders_wait(tmp_path):
    def write(b):
        begin(b)
        for _ in range(3):
            place(b)

    r = run(build(tmp_path, write))
    assert not r.by_id("quoting_during_warmup")


# --------------------------------------------------------------------------- untracked fills


def test_untracked_fills_share_and_tid_dedup(tmp_path):
    lines = []

    def write(b):
        begin(b)
        for tid in range(1, 11):
            fill(b, tid)
            if tid in (3, 7):
                lines.append(b.emit("untracked_fill", "warning", coin="BTC", tid=tid, oid=tid + 1000, cloid=None,
                                    side="B", px="96990", sz="0.001", cause="cloid_missing"))
        fill(b, 10)  # the same tid again: not a new fill
        lines.append(b.emit("untracked_fill", "warning", coin="BTC", tid=99, oid=1, cloid="0x" + "9" * 32, side="A",
                            px="97010", sz="0.001", cause="unknown_cloid"))  # no fill line for it

    path = build(tmp_path, write)
    r = run(path)
    assert r.session["fills"] == {"total": 11, "tracked": 8, "untracked": 3, "buys": 10, "sells": 0, "taker": 0}
    f = one(r, "untracked_fills")
    assert f.severity is Severity.CRITICAL and f.count == 3
    assert f.examples == [at(path, n) for n in lines]
    assert f.detail["causes"] == {"cloid_missing": 2, "unknown_cloid": 1}
    assert f.detail["share"] == pytest.approx(3 / 11, abs=1e-4)
    assert "cloid is not passed" in f.cause and "2 of them arrived without a cloid" in f.cause
    g = one(run(path, untracked_critical_share=0.5), "untracked_fills")
    assert g.severity is Severity.WARNING


# ------------------------------------------------------------------------------- rate budget


def status(b, headroom):
    return b.emit("rate_limit_status", ip_weight_used=100, ip_weight_limit=1200, address_requests_used=9000,
                  address_requests_cap=10000, headroom_fraction=headroom, cum_volume_usd=0.0)


def test_rate_headroom_time_below_and_refusals(tmp_path):
    lines = {}

    def write(b):
        begin(b, config={"rate": {"min_headroom_fraction": 0.1}})
        status(b, 0.5)
        b.advance(60)
        lines["low1"] = status(b, 0.08)
        b.advance(60)
        lines["low2"] = status(b, 0.05)
        b.emit("rate_limit_throttle", "warning", headroom_fraction=0.05, reason="low_headroom", skipped=1)
        b.advance(60)
        status(b, 0.2)
        b.advance(60)
        lines["refused"] = b.emit("rate_limited", "error", scope="address", detail="Too many cumulative requests")

    path = build(tmp_path, write)
    r = run(path)
    rh = r.session["rate_headroom"]
    assert rh["samples"] == 4 and rh["min"] == 0.05 and rh["mean"] == pytest.approx((0.5 + 0.08 + 0.05 + 0.2) / 4)
    assert rh["time_below_s"] == 120.0 and rh["throttled"] == 1 and rh["rate_limited"] == 1
    low = one(r, "rate_limit_pressure")
    assert low.severity is Severity.WARNING and low.count == 2
    assert low.examples == [at(path, lines["low1"]), at(path, lines["low2"])]
    refused = one(r, "rate_limited")
    assert refused.severity is Severity.CRITICAL and refused.examples == [at(path, lines["refused"])]
    assert refused.detail["scopes"] == {"address": 1} and refused.cause.startswith("the address budget ran out")


def test_headroom_threshold_comes_from_the_sessions_config(tmp_path):
    def write(b):
        begin(b, config={"rate": {"min_headroom_fraction": 0.3}})
        status(b, 0.25)

    assert one(run(build(tmp_path, write)), "rate_limit_pressure").count == 1


# -------------------------------------------------------------------------------- rejections


def reject(b, reason):
    return b.emit("order_rejected", "warning", coin="BTC", cloid="0x" + "4" * 32, side="B", px="96000", sz="0.001",
                  reason=reason)


def test_reject_storm_by_reason(tmp_path):
    lines = []

    def write(b):
        begin(b, config={"risk": {"reject_storm_count": 5, "reject_storm_window_s": 30.0}})
        for _ in range(4):                      # 4 in 30 s: no storm yet
            lines.append(reject(b, "Insufficient margin to place order. asset=0"))
            b.advance(5)
        b.advance(30)
        for _ in range(5):                      # 5 within 30 s: a storm
            lines.append(reject(b, "Insufficient margin to place order. asset=0"))
            b.advance(2)
        reject(b, "Post only order would have immediately matched, bbo was 97000@97001. asset=0")

    path = build(tmp_path, write)
    r = run(path)
    storm = one(r, "reject_storm")
    assert storm.severity is Severity.CRITICAL and storm.count == 9
    assert storm.detail["peak_in_window"] == 5 and storm.detail["threshold"] == 5
    assert storm.examples == [at(path, n) for n in lines[:5]]
    assert storm.first_ms == T0 and "margin" in storm.cause
    assert iso(storm.detail["storm_from"]) == iso(T0 + (20 + 30 + 8) * 1000)
    info = one(r, "orders_rejected")
    assert info.severity is Severity.INFO and info.count == 1 and "post-only" in info.cause
    assert r.session["orders"]["rejected_by_reason"] == {
        "Insufficient margin to place order. asset=0": 9,
        "Post only order would have immediately matched, bbo was 97000@97001. asset=0": 1}


# ---------------------------------------------------------------------------------- ladder


def test_ladder_short_on_position_room_is_info(tmp_path):
    def write(b):
        begin(b, config={"strategy": {"levels_per_side": 5}})
        for _ in range(3):
            cycle(b, bid_levels=5, ask_levels=2, ask_binding="position")

    f = one(run(build(tmp_path, write)), "ladder_underfunded")
    assert f.severity is Severity.INFO and f.count == 3 and "binding: position" in f.title


def test_ladder_not_judged_during_warmup(tmp_path):
    def write(b):
        begin(b, warm=False, config={"strategy": {"levels_per_side": 5}})
        cycle(b, bid_levels=0, ask_levels=0, bid_binding="position", ask_binding="position")
        b.emit("estimator_warm", coin="BTC", elapsed_s=15.0, trades=20, book_updates=60)
        cycle(b)

    assert not run(build(tmp_path, write)).by_id("ladder_underfunded")


def test_ladder_funded_vs_configured(tmp_path):
    lines = []

    def write(b):
        begin(b, coins=("BTC", "ETH"), config={"strategy": {"levels_per_side": 25},
                         "assets": {"overrides": {"ETH": {"strategy": {"levels_per_side": 3}}}}})
        for i in range(4):
            lines.append(cycle(b, bid_levels=13, ask_levels=17, bid_binding="margin", ask_binding="margin"))
            for lvl in range(13, 25):
                b.emit("ladder_level_dropped", "debug", coin="BTC", side="B", ladder_level=lvl, px="96000",
                       sz="0.0001", notional_usd=9.6, cause="min_notional")
        cycle(b, bid_levels=25, ask_levels=25)                      # fully funded
        cycle(b, bid_levels=0, ask_levels=25, bid_binding="toxicity_gate")  # pulled, not under-funded
        cycle(b, coin="ETH", bid_levels=3, ask_levels=3)            # the ETH override: fully funded
        b.emit("gate_active", "warning", coin="BTC", side="bid", gate="toxicity", reason="score 0.9", detail="")
        cycle(b, bid_levels=0, ask_levels=25)                       # the bid side is gated: not judged
        b.emit("gate_cleared", coin="BTC", side="bid", gate="toxicity", duration_s=1.0)

    path = build(tmp_path, write)
    f = one(run(path), "ladder_underfunded")
    assert f.count == 4 and f.severity is Severity.WARNING  # 4 of 8 cycles
    assert f.examples == [at(path, n) for n in lines]
    d = f.detail
    assert d["configured"] == {"BTC": 25, "ETH": 3} and d["cycles"] == 8 and d["gated_sides_skipped"] == 1
    assert d["short_by_side"] == {"bid": 4, "ask": 4} and d["typical_funded"] == {"bid": 13, "ask": 17}
    assert d["binding"] == {"margin": 8} and d["drop_causes"] == {"min_notional": 48}
    assert "configured for 25 levels" in f.title and "binding: margin" in f.title


# ------------------------------------------------------------------------------ stale data


def test_stale_books_and_log_gaps(tmp_path):
    lines = {}

    def write(b):
        begin(b)
        lines["stale"] = b.emit("book_stale", "warning", coin="BTC", age_s=7.5, threshold_s=5.0)
        b.advance(120)
        lines["after_gap"] = cycle(b)

    path = build(tmp_path, write)
    r = run(path)
    stale = one(r, "stale_data")
    assert stale.count == 1 and stale.severity is Severity.WARNING and stale.examples == [at(path, lines["stale"])]
    assert stale.detail == {"by_coin": {"BTC": 1}, "max_age_s": 7.5}
    gaps = one(r, "log_gaps")
    assert gaps.severity is Severity.INFO and gaps.count == 1 and gaps.examples == [at(path, lines["after_gap"])]
    assert gaps.detail["gaps"][0]["seconds"] == 120.0


# -------------------------------------------------------------------------- markouts and AS


def markout(b, tid, h, edge, sc=9.0):
    """A markout whose edge (spread capture - adverse selection - fee) is ``edge`` for a fill without fee."""
    a = sc - edge
    return b.emit("markout", "debug", coin="BTC", tid=tid, side="B", horizon_s=h, markout_bps=-a,
                  spread_capture_bps=sc, adverse_selection_bps=a)


def test_adverse_selection_by_horizon(tmp_path):
    def write(b):
        begin(b)
        for tid, e in enumerate([-3.0, -4.0, -5.0, -2.0]):
            fill(b, tid, fee=0.0)
            markout(b, tid, 1.0, 2.0 + tid)
            markout(b, tid, 60.0, e)

    r = run(build(tmp_path, write))
    f = one(r, "adverse_selection")
    assert f.severity is Severity.WARNING and f.count == 4
    rows = {row["horizon_s"]: row for row in f.detail["by_horizon"]}
    assert rows[1.0]["edge_bps"] == pytest.approx(3.5) and rows[60.0]["edge_bps"] == pytest.approx(-3.5)
    assert rows[60.0]["adverse_selection_bps"] == pytest.approx(12.5) and rows[60.0]["spread_capture_bps"] == 9.0
    assert "from 60 s on" in f.title and len(f.examples) == 4
    m = {row["horizon_s"]: row for row in r.session["markouts"]}
    assert list(m) == [1.0, 60.0] and m[60.0]["mid_move_bps"] == pytest.approx(-12.5)


def test_edge_subtracts_the_fill_fee(tmp_path):
    """Spread capture 9 bps, adverse selection 8 bps: +1 bps before fees, -1 bps after a 2 bps fee."""
    def write(b):
        begin(b)
        for tid in range(6):
            fill(b, tid, px=100.0, sz=1.0, fee=0.02 + tid * 1e-4)  # ~2 bps of a $100 fill
            markout(b, tid, 60.0, 1.0)

    r = run(build(tmp_path, write))
    edge = r.session["markouts"][0]["edge_bps"]
    assert edge == pytest.approx(1.0 - (2.0 + 2.5 * 0.01))
    assert one(r, "adverse_selection").detail["by_horizon"][0]["edge_bps"] == pytest.approx(edge)


def test_no_adverse_selection_finding_when_edges_are_positive(tmp_path):
    def write(b):
        begin(b)
        for tid in range(5):
            fill(b, tid, fee=0.0)
            markout(b, tid, 60.0, 1.0 + tid)

    assert not run(build(tmp_path, write)).by_id("adverse_selection")


def test_toxic_hours_vs_configured(tmp_path):
    def write(b):
        begin(b, config={"strategy": {"toxic_hours_utc": [6, 7, 14]}})
        for day_hour, m0 in (("2026-01-14T06:10:00Z", -12.0), ("2026-01-14T09:10:00Z", -14.0),
                             ("2026-01-14T11:10:00Z", 3.0)):
            b.at(day_hour)
            for i in range(12):
                tid = 1000 * int(day_hour[11:13]) + i
                fill(b, tid, fee=0.0)
                b.advance(60)  # the markout arrives 60 s after its fill
                markout(b, tid, 60.0, m0 + (i % 3) * 0.5)

    f = one(run(build(tmp_path, write)), "toxic_hours")
    assert f.detail["toxic"] == [6, 9] and f.detail["missing"] == [9] and f.severity is Severity.WARNING
    assert f.count == 24 and "09" in f.title
    hours = {row["hour_utc"]: row["n"] for row in f.detail["by_hour"]}
    assert hours == {6: 12, 9: 12, 11: 12}


# ------------------------------------------------------------------------------ calibration


def report_line(b, model, samples, validated):
    return b.emit("calibration_report", model=model, samples=samples, brier=0.2 if samples else 0.0,
                  log_loss=0.6, information_ratio=0.4 if samples else 0.0, calibration_error=0.05,
                  validated=validated)


def test_zero_calibration_samples_after_fills_is_critical(tmp_path):
    lines = []

    def write(b):
        begin(b)
        fill(b, 1)
        lines.append(report_line(b, "fill_probability", 0, False))
        b.advance(300)
        lines.append(report_line(b, "fill_probability", 0, False))
        report_line(b, "adverse_selection", 40, False)
        b.emit("model_unvalidated", model="adverse_selection", reason="information ratio 0.4 < 1", samples=40,
               information_ratio=0.4)

    path = build(tmp_path, write)
    r = run(path)
    zero = one(r, "predictions_unvalidated")
    assert zero.severity is Severity.CRITICAL and zero.count == 2 and zero.examples == [at(path, n) for n in lines]
    assert "fill_probability" in zero.title and "prediction ids lost" in zero.cause
    unval = one(r, "model_unvalidated")
    assert unval.severity is Severity.WARNING and unval.count == 2 and unval.cause == "information ratio 0.4 < 1"
    assert r.session["calibration"]["models"]["fill_probability"]["reports"] == 2


def test_zero_samples_while_fills_wait_for_their_markout_is_a_warning(tmp_path):
    def write(b, overdue):
        begin(b)
        fill(b, 1)
        fill(b, 2)
        b.emit("calibration_report", model="adverse_selection", samples=0, brier=0.0, log_loss=None,
               information_ratio=None, calibration_error=None, validated=False, awaiting_markout=2 - overdue,
               markout_overdue=overdue)

    f = one(run(build(tmp_path / "soon", lambda b: write(b, 0))), "predictions_unvalidated")
    assert f.severity is Severity.WARNING and "2 fills were still waiting for their markout" in f.title
    f = one(run(build(tmp_path / "broken", lambda b: write(b, 1))), "predictions_unvalidated")
    assert f.severity is Severity.CRITICAL and "0 calibration samples after 2 fills" in f.title


def test_zero_samples_cause_comes_from_the_engine(tmp_path):
    def write(b):
        begin(b)
        fill(b, 1)
        report_line(b, "signal", 0, False)
        b.emit("model_unvalidated", "warning", model="signal", samples=0, information_ratio=None,
               reason="no predictions recorded: the model is not wired into the quote cycle")

    f = one(run(build(tmp_path, write)), "predictions_unvalidated")
    assert f.cause == "the engine says: no predictions recorded: the model is not wired into the quote cycle"


def fill_report(b, oe, low, high, samples=420, observed=66, expected=6.46):
    return b.emit("calibration_report", model="fill_probability", samples=samples, oe=oe, oe_low=low, oe_high=high,
                  observed=observed, expected=expected, exposure_s=503.0, brier_samples=observed, brier=0.12,
                  log_loss=0.42, information_ratio=0.0, calibration_error=0.33, validated=True, pending=3,
                  censored=354, curve=[], oe_curve=[{"low": 0.7, "high": 0.8, "orders": 110, "observed": 29,
                                                     "expected": 4.84, "oe": 5.99}])


def test_fill_model_far_off_by_observed_over_expected_is_a_warning(tmp_path):
    lines = []

    def write(b):
        begin(b)
        fill(b, 1)
        fill_report(b, 1.2, 0.9, 1.6)                   # the interval reaches 1: fine
        b.advance(300)
        lines.append(fill_report(b, 10.21, 7.9, 12.99))
        b.advance(300)
        lines.append(fill_report(b, 9.8, 8.1, 11.7))

    path = build(tmp_path, write)
    r = run(path)
    f = one(r, "fill_model_miscalibrated")
    assert f.severity is Severity.WARNING and f.count == 2 and f.examples == [at(path, n) for n in lines]
    assert f.title == ("fill model under-predicts fills: observed/expected 9.80 [8.10, 11.70] over 420 orders "
                       "(66 fills, 6.5 expected)")
    assert f.detail["oe_curve"][0]["oe"] == 5.99 and f.detail["censored"] == 354
    assert "strategy.tau_min_s" in f.look_at
    assert not r.by_id("model_unvalidated") and not r.by_id("predictions_unvalidated")
    fm = r.session["calibration"]["models"]["fill_probability"]
    assert (fm["oe"], fm["oe_low"], fm["oe_high"], fm["samples"]) == (9.8, 8.1, 11.7, 420)
    from hlmm.audit.render import render
    row = next(line for line in render(r).splitlines() if line.strip().startswith("fill_probability"))
    assert "9.80 [8.10, 11.70]" in row


@pytest.mark.parametrize("oe,low,high,found", [(0.3, 0.2, 0.45, True), (0.55, 0.45, 0.7, False),
                                               (1.8, 1.52, 2.1, True), (1.6, 1.3, 2.0, False)])
def test_fill_model_finding_needs_the_whole_interval_beyond_the_factor(tmp_path, oe, low, high, found):
    def write(b):
        begin(b)
        fill_report(b, oe, low, high)

    hits = run(build(tmp_path, write)).by_id("fill_model_miscalibrated")
    assert len(hits) == (1 if found else 0)
    if found:
        assert ("over-predicts" if oe < 1 else "under-predicts") in hits[0].title


def test_calibration_never_reported(tmp_path):
    def write(b):
        begin(b, config={"calibration": {"report_interval_s": 60.0}})
        for _ in range(20):
            cycle(b)
            b.advance(10)

    f = one(run(build(tmp_path, write)), "calibration_never_reported")
    assert f.severity is Severity.CRITICAL and "no calibration_report in 3 min" in f.title


def test_short_session_without_reports_is_not_flagged(tmp_path):
    def write(b):
        begin(b)
        cycle(b)

    assert not run(build(tmp_path, write)).by_id("calibration_never_reported")


# ---------------------------------------------------------------------------- sync, reconnects


def test_position_mismatch_severity_by_count(tmp_path):
    def write_n(n):
        def write(b):
            begin(b)
            for i in range(n):
                b.emit("position_mismatch", "warning", coin="BTC", local=0.001 * i, exchange=0.002 * i)
            b.emit("order_missing", "warning", coin="BTC", cloid="0x" + "5" * 32, oid=3)
        return write

    r1 = run(build(tmp_path, write_n(1), "one.log"))
    assert one(r1, "position_mismatch").severity is Severity.WARNING
    assert one(r1, "orders_missing").count == 1
    r3 = run(build(tmp_path, write_n(3), "three.log"))
    f = one(r3, "position_mismatch")
    assert f.severity is Severity.CRITICAL and f.count == 3 and f.detail["max_difference"] == pytest.approx(0.002)


def test_reconnect_storm_and_outage(tmp_path):
    lines = []

    def write(b):
        begin(b, config={"risk": {"max_disconnected_s": 10.0}})
        for i in range(6):
            b.emit("ws_disconnected", "warning", url="ws://x", reason="reset", code=1006, connected_s=30.0)
            lines.append(b.emit("ws_reconnect", url="ws://x", attempt=i + 1, delay_s=1.0))
            b.advance(25 if i == 2 else 2)
            b.emit("ws_connected", url="ws://x", attempt=i + 1, elapsed_ms=5.0)
            b.advance(60)

    path = build(tmp_path, write)
    r = run(path)
    storm = one(r, "reconnect_storm")
    assert storm.count == 6 and storm.detail["peak_in_window"] == 6 and storm.detail["longest_outage_s"] == 25.0
    assert storm.examples == [at(path, n) for n in lines[:5]]
    outage = one(r, "ws_outage")
    assert outage.count == 1 and outage.severity is Severity.WARNING
    assert r.session["connection"]["reconnects"] == 6


def test_few_reconnects_are_info(tmp_path):
    def write(b):
        begin(b)
        b.emit("ws_reconnect", url="ws://x", attempt=1, delay_s=1.0)

    assert one(run(build(tmp_path, write)), "reconnects").severity is Severity.INFO


# ------------------------------------------------------------------------ kill switch, errors


def test_kill_switch_is_critical(tmp_path):
    def write(b):
        begin(b)
        n = b.emit("kill_switch", "critical", reason="max_loss", detail="loss 25.3 >= 25", action="stop")
        write.line = n

    path = build(tmp_path, write)
    r = run(path)
    f = one(r, "kill_switch")
    assert f.severity is Severity.CRITICAL and f.examples == [at(path, write.line)]
    assert f.detail["reasons"] == {"max_loss": 1} and f.cause == "loss 25.3 >= 25"
    assert r.session["risk"]["kill_switch"] == {"max_loss": 1} and r.exit_code == 5


def test_caught_errors_and_error_bursts(tmp_path):
    def write(b):
        begin(b)
        b.emit("error", "error", where="quote_cycle", error="ZeroDivisionError: float division", detail="")
        for _ in range(12):
            b.emit("http_error", "error", endpoint="/exchange", type="order", status=502, error="Bad Gateway",
                   outcome_unknown=True)
            b.advance(1)

    r = run(build(tmp_path, write), burst_min=10, burst_window_s=60.0)
    caught = one(r, "errors_caught")
    assert caught.count == 1 and caught.detail["by_where"] == {"quote_cycle: ZeroDivisionError": 1}
    burst = one(r, "error_burst")
    assert burst.count == 13 and burst.detail["by_event"] == {"http_error": 12, "error": 1}


# ------------------------------------------------------------------------------- coverage


def test_missing_inputs_are_reported(tmp_path):
    def write(b):
        begin(b)
        place(b)
        fill(b, 1)

    f = one(run(build(tmp_path, write)), "missing_inputs")
    assert f.severity is Severity.WARNING
    assert set(f.detail["rules"]) == {"quote_crossed_mid", "microprice_divergence", "ladder_underfunded",
                                      "rate_limit_pressure", "position_mismatch", "adverse_selection", "toxic_hours"}
    assert f.detail["rules"]["adverse_selection"] == ["markout"]


def test_undocumented_events_are_counted(tmp_path):
    def write(b):
        begin(b)
        b.raw('{"ts":"2026-01-13T22:14:02.000Z","level":"info","component":"engine","event":"brand_new","x":1}')
        b.raw('{"ts":"2026-01-13T22:14:02.000Z","level":"info","component":"engine","event":"brand_new","x":2}')

    f = one(run(build(tmp_path, write)), "undocumented_events")
    assert f.severity is Severity.INFO and f.detail["events"] == {"brand_new": 2}


def test_noncanonical_key_order_is_read_the_same(tmp_path):
    """A JSON event whose keys are in another order (not written by hlmm.log) is still an event."""
    def write(b):
        begin(b)
        write.line = b.raw('{"event":"kill_switch","level":"critical","ts":"2026-01-13T22:14:05Z",'
                           '"component":"engine.risk","reason":"max_drawdown","detail":"","action":"stop"}')

    path = build(tmp_path, write)
    r = run(path)
    assert one(r, "kill_switch").examples == [at(path, write.line)] and write.line == 4
    assert r.lines["hlmm_events_noncanonical"] == 1 and r.events["kill_switch"] == {"critical": 1}
