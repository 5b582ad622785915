"""The fill processor and positions: dedup, reordering, exact lots, entry/realized/fees, flips,
untracked fills and their causes, baselines, malformed input, markouts and calibration hooks."""
from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from hlmm.exchange.assets import AssetRegistry
from hlmm.exchange.cloid import CloidFactory, make_cloid
from hlmm.engine.fills import Fill, FillFormatError, FillProcessor
from hlmm.engine.order_state import BID, OrderState
from hlmm.engine.orders import OrderManager
from hlmm.engine.outcomes import RecordingOutcomes
from hlmm.engine.plan import Modify, Place, Plan
from hlmm.engine.position import Position
from hlmm.log import capture_logs

FIX = Path(__file__).parent / "fixtures"
T0 = 1_700_000_000_000


@pytest.fixture(scope="module")
def assets():
    return AssetRegistry.from_meta(json.loads((FIX / "meta_perp_main_227_assets.json").read_text()))


@pytest.fixture
def outcomes():
    return RecordingOutcomes()


@pytest.fixture
def mgr(assets, outcomes):
    return OrderManager(assets, CloidFactory(session=0x77), outcomes=outcomes)


@pytest.fixture
def fp(assets, mgr, outcomes):
    p = FillProcessor(assets, mgr, outcomes=outcomes, markout_horizons_ms=(500, 1000, 10_000),
                      attribution_horizon_ms=1000)
    p.init_position("BTC", "0", None, T0)
    return p


def fill(tid, side, px, sz, oid=1, t=T0 + 1, cloid=None, fee="0.01", coin="BTC", **extra):
    d = {"coin": coin, "px": px, "sz": sz, "side": side, "time": t, "startPosition": "0", "dir": "Open Long",
         "closedPnl": "0.0", "hash": "0x" + "00" * 32, "oid": oid, "crossed": False, "fee": fee, "tid": tid,
         "feeToken": "USDC"}
    if cloid:
        d["cloid"] = cloid
    d.update(extra)
    return d


# ---------------------------------------------------------------------- positions

def test_entry_price_is_size_weighted_over_opening_fills():
    p = Position("X", 2)
    p.apply_fill(True, Fraction(100), 100, Fraction(0), 1)
    p.apply_fill(True, Fraction(110), 300, Fraction(0), 2)
    assert p.lots == 400 and p.entry_px == Fraction(215, 2)          # 107.5
    r = p.apply_fill(False, Fraction(120), 200, Fraction("0.5"), 3)
    assert r == Fraction(25) and p.entry_px == Fraction(215, 2)        # (120 - 107.5) * 2
    assert p.realized == 25 and p.fees == Fraction("0.5")


def test_a_flipping_fill_closes_then_opens_at_its_price():
    p = Position("X", 3)
    p.apply_fill(True, Fraction(100), 3, Fraction(0), 1)               # long 0.003 @ 100
    r = p.apply_fill(False, Fraction(90), 5, Fraction(0), 2)          # Long > Short
    assert r == Fraction(-3, 100)                                      # (90 - 100) * 0.003
    assert p.lots == -2 and p.entry_px == 90
    assert p.unrealized(80) == Fraction(2, 100)                        # short 0.002 from 90 to 80


def test_rebates_are_negative_fees_and_pnl_adds_funding():
    p = Position("X", 0)
    p.apply_fill(True, Fraction(10), 5, Fraction("-0.02"), 1)
    p.funding += Fraction("-0.5")
    assert p.fees == Fraction("-0.02")
    assert p.pnl(Fraction(11)) == 5 + Fraction("0.02") - Fraction("0.5")


def test_lots_as_of_and_reset_keep_later_fills():
    p = Position("X", 1)
    p.apply_fill(True, Fraction(100), 10, Fraction(0), 1000)
    p.apply_fill(True, Fraction(100), 5, Fraction(0), 2000)
    assert p.lots_as_of(1500) == 10 and p.lots_as_of(2000) == 15 and p.lots_as_of(0) == 0
    p.reset_to(12, Fraction(101), 1500)        # the exchange at 1500 said 1.2 @ 101
    assert p.lots == 17 and p.entry_px == Fraction(12 * 101 + 5 * 100, 17)


# ---------------------------------------------------------------------- the processor

def test_duplicates_from_both_channels_count_once(fp):
    f = fill(5, "B", "95000.0", "0.001")
    with capture_logs() as logs:
        r1 = fp.on_fills([f], T0 + 2, source="user")
        r2 = fp.on_fills([f, dict(f)], T0 + 3)
    assert len(r1.applied) == 1 and r2.duplicates == 2 and not r2.applied
    assert fp.position_lots("BTC") == 100
    assert [r["event"] for r in logs].count("fill") == 1
    assert [r["event"] for r in logs].count("fill_duplicate") == 2


def test_same_tid_other_oid_is_another_fill(fp):
    fp.on_fills([fill(5, "B", "95000.0", "0.001", oid=1), fill(5, "A", "95000.0", "0.001", oid=2)], T0)
    assert fp.position("BTC").fills == 2 and fp.position_lots("BTC") == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(1, 500), st.integers(900_000, 1_100_000)), min_size=1,
                max_size=25), st.randoms(use_true_random=False), st.data())
def test_position_is_the_exact_sum_of_fills_in_any_order_with_duplicates(assets, spec, rnd, data):
    fills = [fill(i + 1, "B" if b else "A", str(Decimal(px) / 10), str(Decimal(lots) / 10 ** 5), oid=10 + i)
             for i, (b, lots, px) in enumerate(spec)]
    stream = fills + [data.draw(st.sampled_from(fills)) for _ in range(data.draw(st.integers(0, 10)))]
    rnd.shuffle(stream)
    p = FillProcessor(assets, OrderManager(assets, CloidFactory(session=1)))
    p.on_fills(stream, T0)
    want = sum(Decimal(f["sz"]) * (1 if f["side"] == "B" else -1) for f in fills)
    assert Decimal(p.position_lots("BTC")) / 10 ** 5 == want
    assert p.position("BTC").fills == len(fills)


def test_fills_before_the_baseline_are_already_in_it(fp):
    fp.init_position("ETH", "-0.5", "3000.0", T0 + 100)
    r = fp.on_fills([fill(1, "A", "3000.0", "0.5", coin="ETH", t=T0 + 100),
                     fill(2, "B", "3001.0", "0.1", coin="ETH", t=T0 + 101)], T0 + 200)
    assert r.pre_baseline == 1 and len(r.applied) == 1
    assert fp.position("ETH").lots == -4000 and fp.position("ETH").entry_px == 3000


def test_history_delivered_before_the_session_snapshot_leaves_the_session_pnl(assets):
    p = FillProcessor(assets, OrderManager(assets, CloidFactory(session=1)))
    # the userFills snapshot (history) arrives before clearinghouseState
    p.on_fills([fill(1, "B", "3000.0", "1.0", coin="ETH", t=T0 - 5000, fee="1.35"),
                fill(2, "A", "3100.0", "0.4", coin="ETH", t=T0 - 4000, fee="0.56"),
                fill(3, "B", "95000.0", "0.01", coin="BTC", t=T0 - 3000, fee="0.4")], T0)
    assert p.position("ETH").realized == 40
    p.init_position("ETH", "0.6", "3000.0", T0)          # the session starts here
    eth = p.position("ETH")
    assert (eth.lots, eth.realized, eth.fees, eth.volume, eth.fills) == (6000, 0, 0, 0, 0)
    assert eth.entry_px == 3000
    p.on_fills([fill(4, "A", "3010.0", "0.1", coin="ETH", t=T0 + 1, fee="0.1")], T0 + 2)
    assert eth.lots == 5000 and eth.realized == 1 and eth.fees == Fraction("0.1")
    # a coin first seen after the snapshot was flat at its time: its older fills are history
    assert p.position("SOL").baseline_ms == T0
    p.on_fills([fill(5, "B", "150.0", "1", coin="SOL", t=T0 - 1)], T0 + 3)
    assert p.position("SOL").lots == 0
    assert p.position("BTC").lots == 1000 and p.position("BTC").fills == 1     # never started: still counted


def test_start_session_starts_every_coin_from_one_snapshot(assets):
    p = FillProcessor(assets, OrderManager(assets, CloidFactory(session=1)))
    p.on_fills([fill(1, "B", "95000.0", "0.01", t=T0 - 3000, fee="0.4"),
                fill(2, "B", "150.0", "2", coin="SOL", t=T0 - 10)], T0)
    with capture_logs() as logs:
        p.start_session({"SOL": ("2", "150.0"), "NOPE": ("1", None)}, T0)
    assert p.position("BTC").lots == 0 and p.position("BTC").fees == 0 and p.position("BTC").fills == 0
    assert p.position("SOL").lots == 200 and p.position("SOL").entry_px == 150
    assert [x["error"] for x in logs if x["event"] == "error"] == ["unknown_coin"]


def test_cloid_first_then_oid_and_the_order_is_told(fp, mgr, outcomes):
    (a,) = mgr.submit(Plan("BTC", places=[Place("BTC", BID, 0, 950_000, 100)]), T0, predict=lambda *x: 42)
    (o,) = mgr.live_orders()
    # the fill names the cloid but an oid we never heard of (the place answer is still in flight)
    r = fp.on_fills([fill(7, "B", "95000.0", "0.0004", oid=555, cloid=o.cloid)], T0 + 5)
    assert not r.untracked and o.oid == 555 and o.state is OrderState.PARTIAL and o.filled_lots == 40
    # then by oid alone
    fp.on_fills([fill(8, "B", "95000.0", "0.0006", oid=555)], T0 + 6)
    assert o.state is OrderState.FILLED
    (f1, kw1), (f2, kw2) = outcomes.of("fill")
    assert f1 == f2 == 42 and kw1["filled_fraction"] == pytest.approx(0.4) and kw2["filled_fraction"] == 1.0
    assert [pid for pid, kw in outcomes.of("end")] == [42]
    mgr.check_invariants()


def test_a_completing_fill_resolves_the_prediction_before_the_order_ends(fp, mgr, outcomes):
    # the order's end releases its prediction in the store: the fill must reach it first
    mgr.submit(Plan("BTC", places=[Place("BTC", BID, 0, 950_000, 100)]), T0, predict=lambda *x: 42)
    (o,) = mgr.live_orders()
    fp.on_fills([fill(7, "B", "95000.0", "0.001", oid=555, cloid=o.cloid)], T0 + 5)
    assert o.state is OrderState.FILLED
    assert [(k, pid) for k, pid, _ in outcomes.calls] == [("fill", 42), ("end", 42)]
    assert outcomes.of("fill")[0][1]["filled_fraction"] == 1.0
    assert outcomes.of("end")[0][1]["status"] == "filled"


def test_a_fill_of_a_modify_s_new_leg_resolves_the_new_leg_s_prediction(fp, mgr, outcomes):
    mgr.submit(Plan("BTC", places=[Place("BTC", BID, 0, 950_000, 100)]), T0, predict=lambda *x: 42)
    (o,) = mgr.live_orders()
    fp.on_fills([fill(7, "B", "95000.0", "0.0004", oid=555, cloid=o.cloid)], T0 + 5)   # rests as oid 555
    mgr.submit(Plan("BTC", modifies=[Modify(o.handle, "BTC", BID, 0, 949_000, 50, o.px_units, o.sz_lots)]),
               T0 + 6, predict=lambda *x: 43)
    assert o.pending_modify is not None
    # the modify's answer is still in flight; a fill under the new oid proves it landed
    fp.on_fills([fill(8, "B", "94900.0", "0.0005", oid=556, cloid=o.cloid)], T0 + 7)
    assert o.oid == 556 and o.state is OrderState.FILLED
    assert [(k, pid) for k, pid, _ in outcomes.calls] == [("fill", 42), ("fill", 43), ("end", 42), ("end", 43)]
    assert outcomes.of("fill")[1][1]["filled_fraction"] == 1.0
    assert [kw["status"] for _, kw in outcomes.of("end")] == ["replaced", "filled"]
    mgr.check_invariants()


@pytest.mark.parametrize("cloid,cause", [
    (None, "no_cloid_unknown_oid"),
    ("0x" + "ab" * 16, "foreign_cloid"),
    (make_cloid(0x99, 3, 17), "earlier_session_cloid"),
    (make_cloid(0x77, 9999, 0), "our_cloid_not_tracked"),
])
def test_untracked_fills_are_adopted_with_their_cause(fp, outcomes, cloid, cause):
    with capture_logs() as logs:
        r = fp.on_fills([fill(9, "A", "95000.0", "0.002", oid=4242, cloid=cloid)], T0 + 1)
    assert r.untracked and r.untracked[0][1] == cause
    assert fp.position_lots("BTC") == -200                 # counted, never dropped
    (ev,) = [x for x in logs if x["event"] == "untracked_fill"]
    assert ev["cause"] == cause and ev["tid"] == 9
    if cause == "earlier_session_cloid":
        assert outcomes.of("fill")[0][0] == 17             # the prediction id from the cloid's tag


def test_liquidation_fill_fixture_is_read(assets):
    frame = json.loads((FIX / "ws_user_fill_liquidation_nautilus.json").read_text())
    p = FillProcessor(assets, OrderManager(assets, CloidFactory(session=1)))
    r = p.on_fills(frame["data"]["fills"], T0)
    assert r.untracked and r.untracked[0][1] == "foreign_cloid" and p.position_lots("BTC") == -100


def test_malformed_fills_are_reported_and_the_rest_applied(fp):
    bad = [fill(1, "B", "95000.0", "0.000001"),            # below one lot
           {k: v for k, v in fill(2, "B", "95000.0", "0.001").items() if k != "tid"},
           fill(3, "X", "95000.0", "0.001"), fill(4, "B", "abc", "0.001"),
           fill(5, "B", "95000.0", "0.001", coin="NOPE"), "garbage",
           fill(6, "B", "95000.0", "0.001", cloid="0xnothex")]
    with capture_logs() as logs:
        r = fp.on_fills(bad + [fill(7, "B", "95000.0", "0.001")], T0)
    assert len(r.malformed) == 7 and len(r.applied) == 1
    msgs = " | ".join(r.malformed)
    for needle in ("not a positive multiple", "lacks 'tid'", "side must be", "not a decimal", "unknown coin",
                   "'0x' + 32 hex"):
        assert needle in msgs
    assert sum(x["event"] == "error" for x in logs) == 7


def test_dust_conversion_fixture_spot_coins_are_unknown_to_a_perp_registry(assets):
    fills = json.loads((FIX / "userfills_dust_conversion_nautilus.json").read_text())
    p = FillProcessor(assets, OrderManager(assets, CloidFactory(session=1)))
    r = p.on_fills(fills, T0)
    assert [(f.coin, f.lots) for f in r.applied] == [("ARB", 85523), ("JUP", 440), ("MANTA", 1143)]
    assert len(r.malformed) == 2 and "unknown coin '@156'" in r.malformed[0] and "'@142'" in r.malformed[1]
    assert p.position("MANTA").lots == -1143          # a "Net Child Vaults" fill moves the position too


def test_check_position_uses_the_snapshot_time(fp):
    fp.on_fills([fill(1, "B", "95000.0", "0.001", t=T0 + 10), fill(2, "B", "95000.0", "0.002", t=T0 + 30)], T0 + 40)
    assert fp.check_position("BTC", "0.001", T0 + 20).ok
    assert fp.check_position("BTC", "0.003", T0 + 30).ok
    bad = fp.check_position("BTC", "0.0025", T0 + 30)
    assert not bad.ok and (bad.local_lots, bad.exchange_lots) == (300, 250)
    fp.adopt_exchange_position("BTC", "0.0005", "94000.0", T0 + 20)
    assert fp.position_lots("BTC") == 250 and fp.position("BTC").corrections == 1


def test_spread_capture_fees_and_markouts(fp, mgr, outcomes):
    mgr.submit(Plan("BTC", places=[Place("BTC", BID, 0, 950_000, 100)]), T0, predict=lambda *x: 5)
    (o,) = mgr.live_orders()
    fp.on_mid("BTC", T0, 95_010.0)
    fp.on_fills([fill(1, "B", "95000.0", "0.001", oid=77, cloid=o.cloid, fee="-0.001", t=T0 + 1)], T0 + 2)
    a = fp.attribution
    assert a.spread_capture == Fraction("0.01") and a.fees == Fraction("-0.001")
    for t, mid in ((T0 + 400, 95_005.0), (T0 + 1200, 94_990.0), (T0 + 12_000, 94_980.0), (T0 + 12_500, 94_980.0)):
        fp.on_mid("BTC", t, mid)
    assert fp.poll_markouts() == 1
    marks = outcomes.of("markout")
    assert [kw["horizon_ms"] for _, kw in marks] == [500, 1000, 10_000] and {p for p, _ in marks} == {5}
    # AS at 1 s: bought at mid 95010, mid prevailing at +1 s is 95005 -> 5.26 bps of 95 USD
    as_bps = (95_010.0 - 95_005.0) / 95_010.0 * 1e4
    assert float(a.adverse_selection) == pytest.approx(as_bps * 95.0 / 1e4, rel=1e-9)
    assert marks[1][1]["as_bps"] == pytest.approx(as_bps)


def test_markouts_are_logged_at_info_one_line_per_horizon_for_the_audit(fp, mgr):
    # the default logging level is info: hlmm audit's adverse-selection and toxic-hours rules read these
    mgr.submit(Plan("BTC", places=[Place("BTC", BID, 0, 950_000, 100)]), T0, predict=lambda *x: 5)
    (o,) = mgr.live_orders()
    fp.on_mid("BTC", T0, 95_010.0)
    fp.on_fills([fill(1, "B", "95000.0", "0.001", oid=77, cloid=o.cloid, t=T0 + 1)], T0 + 2)
    for t, mid in ((T0 + 400, 95_005.0), (T0 + 1200, 94_990.0), (T0 + 12_000, 94_980.0), (T0 + 12_500, 94_980.0)):
        fp.on_mid("BTC", t, mid)
    with capture_logs("info") as logs:
        assert fp.poll_markouts() == 1
    marks = [x for x in logs if x["event"] == "markout"]
    assert [(m["tid"], m["horizon_s"]) for m in marks] == [(1, 0.5), (1, 1.0), (1, 10.0)]
    assert all(m["level"] == "info" for m in marks)
    as_1s = (95_010.0 - 95_005.0) / 95_010.0 * 1e4
    assert marks[1]["adverse_selection_bps"] == pytest.approx(as_1s) and marks[1]["markout_bps"] == pytest.approx(-as_1s)
    assert marks[1]["spread_capture_bps"] == pytest.approx(10 / 95_010.0 * 1e4)
    with capture_logs("info") as logs:
        assert fp.poll_markouts() == 0                   # drained once: never logged twice
    assert not [x for x in logs if x["event"] == "markout"]


def test_funding_is_added_to_the_position(fp):
    with capture_logs() as logs:
        fp.on_funding({"time": T0, "coin": "BTC", "usdc": "-0.25", "szi": "0.001", "fundingRate": "0.0000125"})
        fp.on_funding({"coin": "BTC"})
    assert fp.position("BTC").funding == Fraction("-0.25")
    assert [x["event"] for x in logs] == ["funding", "error"]


def test_fill_parse_keeps_exchange_strings():
    asset = AssetRegistry.from_meta(json.loads((FIX / "meta_perp_main_227_assets.json").read_text()))["ETH"]
    f = Fill.parse(fill(3, "A", "3012.5", "0.0150", coin="ETH", cloid="0x" + "AB" * 16), asset)
    assert (f.px, f.sz, f.lots, f.side, f.cloid) == ("3012.5", "0.0150", 150, 1, "0x" + "ab" * 16)
    with pytest.raises(FillFormatError, match="non-integer"):
        Fill.parse(fill("x", "A", "1", "1", coin="ETH"), asset)
