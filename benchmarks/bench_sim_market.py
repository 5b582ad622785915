"""The sim's market: how much faster than real time it runs (simulated seconds per wall second).

Synthetic: 4 assets (BTC, ETH, SOL, HYPE) at their default, mainnet-like activity (about
20 taker orders a second sweeping ~50 prints, ladders of 25 levels a side re-centred every
100 ms), driven like the server drives it (``advance()`` every 50 ms), through the full
exchange (matching, margin, fees, events). One round = 60 simulated seconds.

Baseline (same run): the same market with the straightforward ladder refresh - every step
cancels each background order and places the ladder again - instead of the incremental
one (move only the levels that left or were hit).

Replay: a real 25 s BTC recording (46 l2Book snapshots, 34 prints) looped at full speed:
messages applied per second; baseline: only decoding the same lines with ``json.loads``.

``pytest benchmarks/bench_sim_market.py --benchmark-enable -q``; the real-time factor is
``SIM_SECONDS / median``.
"""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from hlmm.sim.config import SimConfig
from hlmm.sim.exchange import SimExchange
from hlmm.sim.market import SyntheticMarket
from hlmm.sim.replay import LOOP_GAP_MS, ReplayMarket
from hlmm.sim.runner import parse_asset

T0 = 1_700_000_000_000
SIM_SECONDS = 60
ASSETS = tuple(parse_asset(c) for c in ("BTC", "ETH", "SOL", "HYPE"))
RECORDING = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "ws_raw_btc_hftbacktest_2025-01-26.gz"


class _Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


def _naive_refresh(flow) -> None:
    """Cancel every background order of the coin, then place the whole ladder again."""
    ex, coin = flow.ex, flow.coin
    for maker in flow.makers:
        ex.internal_cancel_all(maker, coin)
    units = flow.fair * flow.px_scale
    g = flow.grid
    bid_top = int(units * flow._lo) // g * g
    ask_top = -(-int(units * flow._hi + 0.999999) // g) * g
    for is_bid, top in ((True, bid_top), (False, ask_top)):
        for px, lots in flow._targets(top, is_bid).items():
            ex.internal_place(flow.maker_of(px), coin, is_bid, px, lots, "Gtc")


def synthetic(naive: bool = False) -> tuple[SimExchange, _Clock]:
    clock = _Clock()
    ex = SimExchange(SimConfig(seed=1, assets=ASSETS), now_ms=clock)
    market = SyntheticMarket(ex)
    if naive:
        for flow in market.flows:
            flow._refresh = (lambda f: lambda: _naive_refresh(f))(flow)
    ex.attach_market(market)
    for _ in range(200):                       # 10 s of warm-up: books built, regimes drawn
        clock.now += 50
        ex.advance(clock.now)
    return ex, clock


def run_synthetic(ex: SimExchange, clock: _Clock) -> int:
    end = clock.now + SIM_SECONDS * 1000
    while clock.now < end:
        clock.now += 50
        ex.advance(clock.now)
    return sum(f.counts["noise_traded"] + f.counts["informed_traded"] for f in ex.market.flows)


def test_bench_synthetic_market_4_assets(benchmark):
    benchmark.extra_info["sim_seconds"] = SIM_SECONDS
    benchmark.extra_info["assets"] = [a.name for a in ASSETS]
    trades = benchmark.pedantic(run_synthetic, setup=lambda: (synthetic(), {}), rounds=5, iterations=1)
    assert trades > SIM_SECONDS * 5


def test_bench_synthetic_market_baseline_full_requote(benchmark):
    benchmark.extra_info["sim_seconds"] = SIM_SECONDS
    trades = benchmark.pedantic(run_synthetic, setup=lambda: (synthetic(naive=True), {}), rounds=5, iterations=1)
    assert trades > SIM_SECONDS * 5


# ---------------------------------------------------------------------------- replay
PASSES = 20


def replay() -> tuple[SimExchange, ReplayMarket]:
    clock = _Clock()
    ex = SimExchange(SimConfig(seed=1, assets=(parse_asset("BTC"),)), now_ms=clock)
    market = ReplayMarket(ex, str(RECORDING), speed=1e6, loop=True)
    ex.attach_market(market)
    clock.now = T0 + PASSES * (LOOP_GAP_MS + 1)
    return ex, market


def run_replay(ex: SimExchange, market: ReplayMarket) -> int:
    ex.advance(ex.now())
    return market.books + market.trades


def test_bench_replay_messages(benchmark):
    applied = benchmark.pedantic(run_replay, setup=lambda: (replay(), {}), rounds=5, iterations=1)
    benchmark.extra_info["messages"] = applied
    assert applied >= (PASSES - 1) * (46 + 34)


def test_bench_replay_baseline_json_decode(benchmark):
    lines = gzip.open(RECORDING, "rt").read().splitlines()

    def decode() -> int:
        n = 0
        for _ in range(PASSES):
            for line in lines:
                json.loads(line.split(" ", 1)[1])
                n += 1
        return n
    assert benchmark.pedantic(decode, rounds=5, iterations=1) == PASSES * len(lines)


@pytest.mark.parametrize("naive", [False, True])
def test_both_ladders_keep_a_full_book(naive):
    ex, clock = synthetic(naive)
    run_synthetic(ex, clock)
    for coin in ("BTC", "ETH", "SOL", "HYPE"):
        bids, asks = ex.l2_book(coin)["levels"]
        assert len(bids) == 20 and len(asks) == 20
