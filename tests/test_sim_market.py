"""The synthetic market (hlmm.sim.market): its tape and book agree with its ground truth.

Each statistical test runs the real exchange (matching, fees, margin, events) for a long
simulated stretch on a fake clock and compares what a client could observe (books,
trades, fills) with ``simTruth``.  Tolerances are stated next to each check, from the
sample sizes of these seeded runs.
"""
from __future__ import annotations

import json
import math
import random
import time
from collections import defaultdict

import numpy as np
import pytest
import websocket

from hlmm._core import rounding
from hlmm._core.intensity import FillIntensity
from hlmm._core.volatility import Volatility
from hlmm.exchange.urls import ws_url
from hlmm.sim.config import SimConfig, default_assets
from hlmm.sim.exchange import SimExchange
from hlmm.sim.fair_price import CHUNK_STEPS, FairPath
from hlmm.sim.market import SyntheticMarket
from hlmm.sim.market_params import CoinParams, MarketParams, MarketParamsError, parse_hours
from hlmm.sim.market_setup import load_market_params, synthetic_market
from hlmm.sim.runner import SimThread
from tests.simproc import SimProcess

T0 = 1_700_000_000_000          # 2023-11-14 22:13:20 UTC
HOUR = 3_600_000
BTC, ETH = default_assets()[0], default_assets()[1]


class Run:
    """A SimExchange with a synthetic market on a fake clock, and what a client would record."""

    def __init__(self, params: MarketParams, assets=(BTC,), seed: int = 21, t0: int = T0) -> None:
        self.now = t0
        self.ex = SimExchange(SimConfig(seed=seed, assets=tuple(assets)), now_ms=lambda: self.now)
        self.market = SyntheticMarket(self.ex, params)
        self.ex.attach_market(self.market)
        self.step_ms = params.step_ms
        self.taker_orders: list[dict] = []      # one per taker transaction: time, side, prints, pre-trade mid
        self.trades: list[dict] = []
        self._bbo_mid: dict[str, float] = {}
        self.ex.add_listener(self._on_event)

    def _on_event(self, channel: str, key, data) -> None:
        if channel == "bbo":
            bid, ask = data["bbo"]
            if bid and ask:
                self._bbo_mid[key] = (float(bid["px"]) + float(ask["px"])) / 2
        elif channel == "trades":
            self.trades.extend(data)
            groups: dict[str, list] = {}
            for t in data:
                groups.setdefault(t["hash"], []).append(t)
            for prints in groups.values():
                self.taker_orders.append({"coin": key, "time": prints[0]["time"], "side": prints[0]["side"],
                                          "prints": prints, "mid": self._bbo_mid.get(key)})

    def run_to(self, t_ms: int, every=None) -> None:
        """Advance step by step; ``every(ex, t)`` after each step."""
        while self.now < t_ms:
            self.now += self.step_ms
            self.ex.advance(self.now)
            if every is not None:
                every(self.ex, self.now)

    def mid(self, coin: str = "BTC") -> float:
        bp, _, ap, _ = self.ex.book_top(coin)
        return (bp + ap) / 2 / 10 ** self.ex.asset(coin).px_decimals

    def truth(self) -> dict:
        return self.ex.handle_info({"type": "simTruth"})["truth"]


def quiet_btc(**coin) -> MarketParams:
    """One regime, no jumps: sigma is a constant, so a realized sigma can be compared with it."""
    return MarketParams(regimes=False).with_overrides(["BTC"], jump_rate_per_hour=0.0, **coin)


# ============================================================ one long BTC run, many checks
@pytest.fixture(scope="module")
def btc_run():
    run = Run(quiet_btc(informed_share=0.2))
    mids: dict[int, float] = {}

    def record(ex, t):
        bp, _, ap, _ = ex.book_top("BTC")
        mids[t] = (bp + ap) / 2
    run.run_to(T0 + 2400 * 1000, record)
    run.mids = mids
    return run


def test_realized_sigma_of_the_mid_matches_truth(btc_run):
    truth = btc_run.truth()["coins"]["BTC"]
    per_second = np.array([btc_run.mids[t] for t in sorted(btc_run.mids) if (t - T0) % 1000 == 0])
    r = np.diff(np.log(per_second))
    sigma_bps = r.std() * 1e4
    # 2400 one-second returns: standard error 1/sqrt(2*2400) = 1.4 %; the book's grid adds a little
    assert truth["sigma_bps"] == pytest.approx(0.8)
    assert sigma_bps == pytest.approx(truth["sigma_bps"], rel=0.06)
    assert math.sqrt(truth["integrated_variance"] / 2400) * 1e4 == pytest.approx(0.8, rel=1e-9)
    # hlmm's own volatility estimator, fed the sim's mids, sees the same sigma (slow baseline, 30 min)
    vol = Volatility(fast_half_life_s=60, slow_half_life_s=1800)
    for t in sorted(btc_run.mids):
        if (t - T0) % 1000 == 0:
            vol.update(t, btc_run.mids[t])
    assert vol.sigma_baseline * 1e4 == pytest.approx(truth["sigma_bps"], rel=0.10)


def test_intensity_estimator_fed_by_the_tape_recovers_kappa(btc_run):
    truth = btc_run.truth()["coins"]["BTC"]
    kappa, a, h = truth["kappa_per_bps"], truth["A_per_side_per_s"], truth["half_spread_bps"]
    est = FillIntensity(window_ms=10**10, delta0_bps=h, min_samples=50)
    for order in btc_run.taker_orders:                  # every print, with the mid before the order
        side = 1 if order["side"] == "B" else -1
        for p in order["prints"]:
            est.update(p["time"], float(p["px"]), order["mid"], side)
    est.advance(T0 + 2400 * 1000)
    # the estimator merges a sweep's prints (same side, same ms) into one arrival: one per taker order
    assert abs(est.samples - len(btc_run.taker_orders)) <= 0.01 * len(btc_run.taker_orders)
    assert est.samples > 4000
    # n > 4000: statistical error ~1.6 %; the book's 0.3 bp grid biases by a few percent
    assert est.kappa == pytest.approx(kappa, rel=0.10)
    assert est.kappa_bid == pytest.approx(kappa, rel=0.12) and est.kappa_ask == pytest.approx(kappa, rel=0.12)
    # lambda(delta) per side at 2 bps: the estimator's curve against A exp(-kappa delta).  Takers whose
    # reach ends between the half-spread and the touch (on average half a level further out) do not
    # print, so the estimator's rate misses a factor exp(-kappa * spacing / 2) (~0.89 here)
    granularity = math.exp(-kappa * truth["level_spacing_bps"] / 2)
    assert est.intensity(2.0) / 2 == pytest.approx(a * math.exp(-kappa * 2.0) * granularity, rel=0.08)


def test_informed_takers_trade_ahead_of_the_move(btc_run):
    acc = btc_run.truth()["accounts"]
    horizon = int(btc_run.truth()["coins"]["BTC"]["informed_horizon_s"] * 1000)
    moves = {"informed": [], "noise": []}      # side x (mid after the horizon - mid before the trade)
    marks = {"informed": [], "noise": []}      # the taker's markout at the horizon, from its VWAP
    for order in btc_run.taker_orders:
        step_after = T0 + -(-(order["time"] + horizon - T0) // 100) * 100    # mids are recorded each step
        later = btc_run.mids.get(step_after)
        if later is None:
            continue
        later /= 10                                                   # BTC mids are in units of 0.1
        prints = order["prints"]
        side = 1 if order["side"] == "B" else -1
        taker = prints[0]["users"][0 if side == 1 else 1]
        lots = sum(float(p["sz"]) for p in prints)
        vwap = sum(float(p["px"]) * float(p["sz"]) for p in prints) / lots
        kind = "informed" if taker == acc["informed_taker"] else "noise"
        assert kind == "informed" or taker == acc["noise_taker"]
        moves[kind].append(side * (later - order["mid"]) / order["mid"] * 1e4)
        marks[kind].append(side * (later - vwap) / vwap * 1e4)

    def t_stat(x):
        x = np.asarray(x)
        return x.mean() / (x.std() / math.sqrt(len(x)))
    assert len(moves["informed"]) > 500 and len(moves["noise"]) > 2000
    # informed orders precede a move in their direction; noise orders do not
    assert t_stat(moves["informed"]) > 10
    assert abs(t_stat(moves["noise"])) < 4
    # so resting quotes lose to informed flow: the takers' markouts differ with that sign
    inf, noise = np.array(marks["informed"]), np.array(marks["noise"])
    se = math.sqrt(inf.var() / len(inf) + noise.var() / len(noise))
    assert inf.mean() > 0 > noise.mean()
    assert (inf.mean() - noise.mean()) / se > 10
    # the informed share of taker orders is the truth's alpha (reach does not depend on the type)
    n = len(inf) + len(noise)
    assert abs(len(inf) / n - 0.2) < 4 * math.sqrt(0.2 * 0.8 / n)


def test_book_shape_and_consistency(btc_run):
    ex = btc_run.ex
    book = ex.l2_book("BTC")
    bids, asks = book["levels"]
    assert len(bids) == 20 and len(asks) == 20
    bid, ask = float(bids[0]["px"]), float(asks[0]["px"])
    spread_bps = (ask - bid) / ((ask + bid) / 2) * 1e4
    assert 0.8 <= spread_bps <= 2.0
    fair = btc_run.truth()["coins"]["BTC"]["fair_px"]
    assert bid < fair < ask
    # sizes grow with depth (1.1x a level, jittered): the deep half outweighs the near half
    for side in (bids, asks):
        sizes = [float(x["sz"]) for x in side]
        assert sum(sizes[10:]) > 1.5 * sum(sizes[:10])
    # every position has a counterparty
    for asset in range(len(ex.venue.coins)):
        assert sum(a.position_lots(asset) for a in ex.venue.accounts.values()) == 0
    assert sum(a.position_lots(0) for a in ex.venue.accounts.values() if a.address in
               btc_run.truth()["accounts"]["makers"]) != 0   # the makers did trade


# ============================================================ fills of a resting quote at depth delta
def test_resting_quotes_at_depth_fill_at_lambda_of_delta():
    """A client's quotes kept at 1.5 and 3 bps from the mid are filled by takers at A exp(-kappa delta)."""
    kappa, a = 0.6, 2.0
    params = quiet_btc(kappa=kappa, taker_rate=a)
    run = Run(params, seed=5)
    dt = params.step_ms / 1000
    probe = "0x" + "ab" * 20
    run.ex.create_account(probe, 10_000_000)
    acc = run.truth()["accounts"]
    takers = {acc["noise_taker"], acc["informed_taker"]}
    depths = (1.5, 3.0)
    live: dict[tuple, tuple[int, int, float]] = {}   # (is_buy, depth) -> (oid, px, depth from the mid)
    key_of_px: dict[tuple, tuple] = {}              # (is_buy, px) -> (is_buy, depth)
    expected: dict[float, float] = defaultdict(float)
    filled: dict[float, int] = defaultdict(int)
    by_maker = [0]

    def on_trade(channel, key, data):
        if channel != "trades":
            return
        for t in data:
            buyer, seller = t["users"]
            if probe not in (buyer, seller):
                continue
            is_buy = buyer == probe
            depth = key_of_px[(is_buy, round(float(t["px"]) * 10))][1]
            if (seller if is_buy else buyer) in takers:
                filled[depth] += 1
            else:
                by_maker[0] += 1   # the fair price moved through the quote (makers re-centering)
    run.ex.add_listener(on_trade)

    def tend(ex, t):
        bp, _, ap, _ = ex.book_top("BTC")
        mid = (bp + ap) / 2
        for is_buy in (True, False):
            for depth in depths:
                key = (is_buy, depth)
                if key in live:
                    oid, px, _ = live[key]
                    now_depth = (mid - px if is_buy else px - mid) / mid * 1e4
                    if ex.order_lots(oid) and abs(now_depth - depth) <= 0.2:
                        live[key] = (oid, px, now_depth)
                    else:
                        ex.internal_cancel(probe, "BTC", oid)
                        del live[key]
                if key not in live:
                    px = (rounding.py_round_price_units(int(mid * (1 - depth * 1e-4)), 1, -1) if is_buy else
                          rounding.py_round_price_units(math.ceil(mid * (1 + depth * 1e-4)), 1, 1))
                    st = ex.internal_place(probe, "BTC", is_buy, px, 20, "Alo")   # 0.0002 BTC (~$20)
                    assert "resting" in st, st
                    live[key] = (st["resting"]["oid"], px, (mid - px if is_buy else px - mid) / mid * 1e4)
                    key_of_px[(is_buy, px)] = key
                # exposure of the coming step: P(some taker reaches this depth) under the truth
                expected[depth] += 1 - math.exp(-a * dt * math.exp(-kappa * live[key][2]))

    run.run_to(T0 + 1200 * 1000, tend)
    # expected ~970 fills at 1.5 bps and ~400 at 3 bps (Poisson errors 3.2 % and 5 %)
    assert filled[1.5] == pytest.approx(expected[1.5], rel=0.10)
    assert filled[3.0] == pytest.approx(expected[3.0], rel=0.15)
    assert filled[1.5] > 2 * filled[3.0]
    assert by_maker[0] < 0.02 * (filled[1.5] + filled[3.0])


# ============================================================ regimes and jumps
def test_regimes_and_jumps_match_the_integrated_variance():
    """Short dwell times and frequent jumps: realized variance = the path's quadratic variation,
    and within each regime the jump-free returns have that regime's sigma."""
    cycle = ((0, 1, 0, 0), (0, 0, 1, 0), (0, 0, 0, 1), (1, 0, 0, 0))       # low > normal > high > extreme > low
    params = MarketParams(regime_dwell_s=(90.0, 90.0, 90.0, 90.0), regime_transitions=cycle).with_overrides(
        ["BTC"], sigma_bps=1.5, jump_rate_per_hour=40.0, jump_std_bps=15.0)
    run = Run(params, seed=8)
    seconds: list[tuple[float, int, int]] = []     # (mid, regime, jumps so far), each second

    def record(ex, t):
        if (t - T0) % 1000 == 0:
            c = run.market.flows[0]
            seconds.append((run.mid(), c.path.regime(c.k), c.path.jumps(c.k)))
    run.run_to(T0 + 1800 * 1000, record)
    truth = run.truth()["coins"]["BTC"]
    mids = np.array([s[0] for s in seconds])
    r = np.diff(np.log(mids))
    assert truth["jumps"] >= 10
    # realized variance of 1 s mid returns against the exact quadratic variation of the fair price
    assert (r ** 2).sum() == pytest.approx(truth["integrated_variance"], rel=0.10)
    by_regime: dict[int, list[float]] = defaultdict(list)
    for i in range(1, len(seconds)):
        (_, reg0, j0), (_, reg1, j1) = seconds[i - 1], seconds[i]
        if reg0 == reg1 and j0 == j1:
            by_regime[reg1].append(r[i - 1])
    assert all(len(by_regime[reg]) >= 150 for reg in range(4)), {k: len(v) for k, v in by_regime.items()}
    for reg in range(4):
        xs = np.array(by_regime[reg])
        expected = truth["sigma_by_regime_bps"][("low", "normal", "high", "extreme")[reg]]
        # >= 150 jump-free returns a regime: standard error <= 6 %
        assert np.sqrt((xs ** 2).mean()) * 1e4 == pytest.approx(expected, rel=0.15), reg
    assert truth["variance_per_s"] == pytest.approx(
        (truth["sigma"]) ** 2 + truth["jump_rate_per_s"] * (15e-4) ** 2)


def test_fair_path_is_the_same_whatever_is_read_ahead():
    cp, mp = CoinParams(jump_rate_per_hour=100.0), MarketParams(regime_dwell_s=(30.0, 30.0, 30.0, 30.0))
    a = FairPath(100.0, cp, mp, np.random.default_rng(3))
    b = FairPath(100.0, cp, mp, np.random.default_rng(3))
    far = 3 * CHUNK_STEPS + 17
    ahead = b.log_px(far)                         # b draws three chunks before anything else
    seq = [a.log_px(k) for k in range(far + 1)]
    assert seq[-1] == ahead
    assert [b.log_px(k) for k in range(far + 1)] == seq
    assert a.log_px(0) == math.log(100.0) and a.integrated_variance(0) == 0.0 and a.jumps(0) == 0
    regimes = {a.regime(k) for k in range(far + 1)}
    assert len(regimes) >= 2 and a.jumps(far) > 0
    a.release_before(2 * CHUNK_STEPS)
    with pytest.raises(ValueError, match="released"):
        a.log_px(5)
    assert a.log_px(far) == ahead


# ============================================================ determinism
def _trades_books_truth(run: Run, coins) -> tuple:
    books = [run.ex.l2_book(c) for c in coins]
    return run.trades, books, run.truth()


def test_same_seed_same_market_whatever_the_call_pattern():
    params = MarketParams().with_overrides(["BTC", "ETH"], jump_rate_per_hour=60.0)
    regular = Run(params, assets=(BTC, ETH), seed=42)
    jittery = Run(params, assets=(BTC, ETH), seed=42)
    other = Run(params, assets=(BTC, ETH), seed=43)
    rng = random.Random(1)
    end = T0 + 120_000
    for checkpoint in range(T0 + 10_000, end + 1, 10_000):
        regular.run_to(checkpoint)
        other.run_to(checkpoint)
        while jittery.now < checkpoint:            # irregular advance() calls and requests in between
            jittery.now = min(checkpoint, jittery.now + rng.choice((1, 7, 49, 100, 333, 1250)))
            if rng.random() < 0.3:
                jittery.ex.handle_info({"type": "l2Book", "coin": "ETH"})
            else:
                jittery.ex.advance(jittery.now)
        jittery.ex.advance(checkpoint)
        a, b = _trades_books_truth(regular, ("BTC", "ETH")), _trades_books_truth(jittery, ("BTC", "ETH"))
        assert a[0] == b[0]               # every trade: time, px, sz, hash, tid, users
        assert a[1] == b[1]               # the books
        assert a[2] == b[2]               # the truth
    assert len(regular.trades) > 300
    assert regular.trades != other.trades and regular.truth() != other.truth()
    # a coin's path does not depend on which other coins are simulated
    alone = Run(params, assets=(BTC,), seed=42)
    alone.run_to(end)
    assert alone.truth()["coins"]["BTC"]["fair_px"] == regular.truth()["coins"]["BTC"]["fair_px"]


# ============================================================ toxic hours
def test_toxic_hours_raise_the_informed_share():
    start = (T0 // HOUR + 1) * HOUR - 300_000            # 5 minutes before an hour boundary
    toxic_hour = (start // HOUR + 1) % 24
    params = MarketParams(regimes=False, toxic_hours=(toxic_hour,)).with_overrides(
        ["BTC"], informed_share=0.05, toxic_informed_share=0.6, taker_rate=5.0)
    run = Run(params, t0=start)
    run.run_to(start + 299_900)
    before = run.truth()
    assert before["coins"]["BTC"]["informed_share"] == 0.05 and before["toxic_hours_utc"] == [toxic_hour]
    run.run_to(start + 600_000)
    after = run.truth()
    assert after["coins"]["BTC"]["informed_share"] == 0.6
    informed = after["accounts"]["informed_taker"]

    def share(lo, hi):
        orders = [o for o in run.taker_orders if lo <= o["time"] < hi]
        who = [o["prints"][0]["users"][0 if o["side"] == "B" else 1] for o in orders]
        return sum(w == informed for w in who) / len(who), len(who)
    s0, n0 = share(start, start + 300_000)
    s1, n1 = share(start + 300_000, start + 600_000)
    assert n0 > 1000 and n1 > 1000
    assert abs(s0 - 0.05) < 4 * math.sqrt(0.05 * 0.95 / n0)
    assert abs(s1 - 0.6) < 4 * math.sqrt(0.6 * 0.4 / n1)


# ============================================================ clients in the synthetic market
def test_a_stale_client_quote_is_run_over_and_positions_net_to_zero():
    run = Run(quiet_btc(sigma_bps=3.0))
    client = "0x" + "cd" * 20
    run.ex.create_account(client, 1_000_000)
    run.run_to(T0 + 1000)
    bid, _, ask, _ = run.ex.book_top("BTC")
    # a bid one tick under the ask: the next up-move of the fair price puts the makers' asks through it
    st = run.ex.internal_place(client, "BTC", True, ask - 10, 100, "Alo")
    oid = st["resting"]["oid"]
    for _ in range(600):
        run.run_to(run.now + 1000)
        if run.ex.order_lots(oid) == 0:
            break
    assert run.ex.order_lots(oid) == 0
    fills = [t for t in run.trades if client in t["users"]]
    assert fills and all(float(t["px"]) == (ask - 10) / 10 for t in fills)
    assert run.ex.position_lots(client, "BTC") == 100
    for asset in range(len(run.ex.venue.coins)):
        assert sum(a.position_lots(asset) for a in run.ex.venue.accounts.values()) == 0


def test_frozen_book_holds_the_flow_and_unfreezing_recenters():
    run = Run(quiet_btc(sigma_bps=5.0))
    run.run_to(T0 + 5000)
    run.ex.faults.freeze_book("BTC", True)
    frozen = run.ex.l2_book("BTC")
    n = len(run.trades)
    run.run_to(T0 + 65_000)
    assert len(run.trades) == n
    assert run.ex.l2_book("BTC")["levels"] == frozen["levels"]
    run.ex.faults.freeze_book("BTC", False)
    run.run_to(T0 + 65_100)
    fair = run.truth()["coins"]["BTC"]["fair_px"]
    bid, _, ask, _ = run.ex.book_top("BTC")
    assert bid / 10 < fair < ask / 10


def test_sim_truth_through_info():
    run = Run(MarketParams(), assets=(BTC, ETH), seed=3)
    run.run_to(T0 + 2000)
    answer = run.ex.handle_info({"type": "simTruth"})
    assert answer["time"] == T0 + 2000
    truth = answer["truth"]
    assert truth["kind"] == "synthetic" and truth["seed"] == 3 and truth["steps"] == 20
    assert truth["time"] == T0 + 2000 and truth["t0"] == T0 and truth["step_ms"] == 100
    assert set(truth["coins"]) == {"BTC", "ETH"}
    btc = truth["coins"]["BTC"]
    assert btc["regime"] == "normal" and btc["sigma_bps"] == pytest.approx(0.8)
    assert btc["sigma_by_regime_bps"] == pytest.approx({"low": 0.4, "normal": 0.8, "high": 1.6, "extreme": 3.2})
    assert btc["kappa_per_bps"] == 0.8 and btc["A_per_side_per_s"] == 1.5 and btc["taker_rate_per_s"] == 3.0
    assert btc["informed_share"] == 0.1 and btc["informed_horizon_s"] == 5.0
    assert btc["level_spacing_bps"] == pytest.approx(0.3, rel=0.01)
    json.dumps(truth)   # JSON-able as the transport sends it


# ============================================================ parameters
def test_parameters_are_validated_with_their_names():
    with pytest.raises(MarketParamsError, match=r"market\[BTC\]\.kappa must be a finite number > 0"):
        MarketParams().with_overrides(["BTC"], kappa=0.0)
    with pytest.raises(MarketParamsError, match=r"informed_share must be a finite number >= 0 and <= 1"):
        MarketParams().with_overrides(["ETH"], informed_share=1.5)
    with pytest.raises(MarketParamsError, match="unknown market parameter"):
        MarketParams().with_overrides(["ETH"], sigma=1.0)
    with pytest.raises(MarketParamsError, match="step_ms"):
        MarketParams(step_ms=5)
    with pytest.raises(MarketParamsError, match=r"regime_transitions\[high\] must sum to 1"):
        MarketParams(regime_transitions=((0, 1, 0, 0), (0.5, 0, 0.5, 0), (0, 0.5, 0, 0.4), (0, 0, 1, 0)))
    with pytest.raises(MarketParamsError, match="toxic_hours"):
        MarketParams(toxic_hours=(24,))
    with pytest.raises(MarketParamsError, match="levels"):
        MarketParams().with_overrides(["BTC"], levels=0)
    # parameters of coins the sim does not trade are allowed (one file for a whole universe)
    market = SyntheticMarket(SimExchange(SimConfig(assets=(BTC,)), now_ms=lambda: T0),
                             MarketParams().with_overrides(["XRP"], kappa=1.0))
    assert [f.coin for f in market.flows] == ["BTC"]
    assert parse_hours("13-16, 20") == (13, 14, 15, 16, 20)
    assert parse_hours("22-1") == (0, 1, 22, 23)
    assert parse_hours("") == ()
    for bad in ("x", "3-", "7-30"):
        with pytest.raises(MarketParamsError, match="toxic hours"):
            parse_hours(bad)


def test_parameters_from_a_file(tmp_path):
    path = tmp_path / "market.toml"
    path.write_text('step_ms = 200\nregimes = false\ntoxic_hours = "13-14"\n'
                    '[coins.BTC]\nsigma_bps = 1.2\nkappa = 0.5\n[coins.HYPE]\nregime_sigma_bps = [1, 2, 3, 4]\n')
    params = load_market_params(str(path))
    assert params.step_ms == 200 and not params.regimes and params.toxic_hours == (13, 14)
    assert params.coin("BTC").sigma_bps == 1.2 and params.coin("BTC").half_spread_bps == 0.4   # BTC defaults kept
    assert params.coin("HYPE").sigmas_bps() == (1, 2, 3, 4)
    assert params.coin("ETH").sigma_bps == 1.1                                                # no entry: defaults
    (tmp_path / "bad.json").write_text('{"coins": {"BTC": {"sigma": 1}}}')
    with pytest.raises(MarketParamsError, match=r"market.coins\[BTC\]: unknown key"):
        load_market_params(str(tmp_path / "bad.json"))
    (tmp_path / "broken.toml").write_text("step_ms = \n")
    with pytest.raises(MarketParamsError, match="do not parse"):
        load_market_params(str(tmp_path / "broken.toml"))
    factory = synthetic_market(["BTC"], params, step_ms=50, regimes=True, kappa=2.0)
    ex = SimExchange(SimConfig(assets=(BTC,)), now_ms=lambda: T0)
    market = factory(ex)
    assert market.params.step_ms == 50 and market.params.regimes
    assert market.params.coin("BTC").kappa == 2.0 and market.params.coin("BTC").sigma_bps == 1.2


# ============================================================ over real sockets
def test_hlmm_sim_serves_the_synthetic_market_and_its_truth():
    with SimProcess(seed=9, assets="BTC,ETH", market="synthetic", sigma=2.5, kappa=0.9, informed_share=0.15,
                    toxic_hours="0-23", toxic_informed_share=0.4, no_regimes=True) as sim:
        time.sleep(1.0)
        from tests.simproc import Trader
        from hlmm.exchange.keys import Wallet
        info = Trader(sim.url, Wallet.generate()).info
        truth = info.post({"type": "simTruth"})["truth"]
        assert truth["kind"] == "synthetic" and truth["seed"] == 9 and truth["toxic_hours_utc"] == list(range(24))
        for coin in ("BTC", "ETH"):
            c = truth["coins"][coin]
            assert c["sigma_bps"] == 2.5 and c["kappa_per_bps"] == 0.9 and c["informed_share"] == 0.4
            assert c["regime_dwell_s"]["normal"] is None
        book = info.l2_book("BTC")
        assert len(book["levels"][0]) == 20 and len(book["levels"][1]) == 20


@pytest.mark.parametrize("interval_ms", [200, 1000])
def test_book_interval_reaches_the_push_cadence(interval_ms):
    """With the market moving every 100 ms, l2Book pushes come at the configured cadence."""
    params = MarketParams()
    from hlmm.sim.server import ServerOptions
    with SimThread(seed=4, assets=("BTC",), options=ServerOptions(l2_book_interval_ms=interval_ms),
                   market=lambda ex: SyntheticMarket(ex, params)) as sim:
        ws = websocket.create_connection(ws_url(sim.url), timeout=5)
        try:
            ws.recv()   # banner
            ws.send(json.dumps({"method": "subscribe", "subscription": {"type": "l2Book", "coin": "BTC"}}))
            stamps = []
            while len(stamps) < 7:
                msg = json.loads(ws.recv())
                if msg.get("channel") == "l2Book":
                    stamps.append(time.monotonic())
        finally:
            ws.close()
    gaps = np.diff(stamps[2:])
    assert np.median(gaps) == pytest.approx(interval_ms / 1000, rel=0.3)


# ============================================================ the flow API the market uses
def test_flow_api_depth_order_lots_and_flow_time():
    ex = SimExchange(SimConfig(assets=(BTC,)), now_ms=lambda: T0)
    mm = "0x" + "aa" * 20
    ex.create_account(mm, 10_000_000)
    oids = [ex.internal_place(mm, "BTC", False, px, 100)["resting"]["oid"] for px in (1_000_010, 1_000_020, 1_000_050)]
    ex.internal_place(mm, "BTC", True, 999_990, 300)
    assert ex.depth_lots("BTC", False, 1_000_020) == 200 and ex.depth_lots("BTC", False, 1_000_000) == 0
    assert ex.depth_lots("BTC", True, 999_990) == 300 and ex.depth_lots("BTC", True, 1_000_000) == 0
    assert ex.order_lots(oids[0]) == 100 and ex.order_lots(123) == 0
    # below $10 only with min_notional=False (a replayed remainder)
    assert "error" in ex.internal_place(mm, "BTC", False, 1_000_100, 5)
    assert "resting" in ex.internal_place(mm, "BTC", False, 1_000_100, 5, min_notional=False)
    with pytest.raises(Exception, match="only valid inside market.step"):
        ex.flow_time(T0)

    class Flow:
        seen: list = []

        def step(self, now_ms):
            ex.flow_time(now_ms - 40)
            st = ex.internal_place(mm, "BTC", True, 999_980, 100)
            self.seen.append((now_ms, ex.handle_info({"type": "orderStatus", "user": mm,
                                                       "oid": st["resting"]["oid"]})["order"]["statusTimestamp"]))
            with pytest.raises(Exception, match="flow time must be"):
                ex.flow_time(now_ms + 1)

        def truth(self):
            return {}
    ex.attach_market(Flow())
    ex.handle_info({"type": "meta"})            # a request runs the market's due flow first
    assert Flow.seen == [(T0, T0 - 40)]
