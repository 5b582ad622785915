"""Ladder optimizer: one full 2 x 25-level ladder from a frozen snapshot (target <= 30 us median).

"Full quote computation" = GLFT depths and skew, the Kelly horizon, per-level rounding to
valid price units, fill probability, informed share, edge and Kelly weight, the side budgets,
water-filled allocation under margin / position room / max order notional, min-notional drops
with re-allocation, lot rounding and the exact min-notional check, for both sides.

Two snapshots (``funded``, ``thin_margin``, see SCENARIOS), each with both fill-probability models
(``first_passage``, ``first_passage_takers``). Contenders, same run, same snapshot, checked to agree exactly on units, lots and codes:
- ``cython_reuse``: ``compute_ladder(params, config, out=ladder)``, what the quote cycle does
  (frozen MarketParams / LadderConfig, a reused Ladder; Python call overhead included).
- ``cython_from_dict``: the same, building MarketParams from a dict each time (validation
  included), what a Python embedder does.
- ``python_reference``: ``tests/ladder_reference.py``, the same math in plain Python floats.

Run: ``pytest benchmarks/bench_ladder.py --benchmark-enable -q``.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from hlmm._core.ladder import FILL_PROBABILITY_MODELS, Ladder, LadderConfig, MarketParams, compute_ladder

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import ladder_reference as ref  # noqa: E402

LEVELS = 25

SNAPSHOT = dict(
    mid=95_000.0, microprice=95_003.5, sigma=1.2e-4, kappa=0.08, A=0.6, gamma=0.05, regime=1,
    tod_gamma_mult=1.0, tox_bid=0.15, tox_ask=0.35, position=0.012, max_position=0.08,
    inflight_bid=0.0, inflight_ask=0.0, available_margin=2_500.0, allowed_leverage=40.0,
    market_spread_bps=0.4, as_bps=8.0, sz_decimals=5,
)
CONFIG = dict(levels_per_side=LEVELS, level_spacing_bps=1.5, max_order_notional=2_000.0)
# "funded": most of the 25 levels per side get an order. "thin_margin": margin funds about half
# of them, so the optimizer drops the weakest level and re-splits the budget a dozen times a side.
SCENARIOS = {"funded": {}, "thin_margin": {"available_margin": 60.0}}


@pytest.fixture(scope="module", params=sorted(SCENARIOS))
def params(request) -> MarketParams:
    return MarketParams(**{**SNAPSHOT, **SCENARIOS[request.param]})


@pytest.fixture(scope="module", params=FILL_PROBABILITY_MODELS)
def config(request) -> LadderConfig:
    return LadderConfig(**CONFIG, fill_probability_model=request.param)


def test_contenders_agree(params, config):
    lad = compute_ladder(params, config)
    r = ref.compute_ladder_reference(params.to_dict(), config.to_dict())
    for side, name in ((lad.bids, "bids"), (lad.asks, "asks")):
        assert side.n == LEVELS
        assert side.px_units.tolist() == r[name]["px_units"]
        assert side.sz_lots.tolist() == r[name]["sz_lots"]
        assert side.code.tolist() == r[name]["code"]
        assert 0 < side.n_quoted < LEVELS or params.available_margin > 1000


def test_bench_ladder_cython_reuse(benchmark, params, config):
    out = Ladder()
    benchmark.extra_info["levels"] = 2 * LEVELS
    lad = benchmark(compute_ladder, params, config, out)
    benchmark.extra_info["quoted"] = lad.bids.n_quoted + lad.asks.n_quoted


def test_bench_ladder_cython_from_dict(benchmark, params, config):
    out = Ladder()
    snap = params.to_dict()
    benchmark.extra_info["levels"] = 2 * LEVELS
    benchmark(lambda: compute_ladder(MarketParams(**snap), config, out))


def test_bench_ladder_python_reference(benchmark, params, config):
    p, c = params.to_dict(), config.to_dict()
    benchmark.extra_info["levels"] = 2 * LEVELS
    r = benchmark(ref.compute_ladder_reference, p, c)
    assert r["bids"]["n_quoted"] + r["asks"]["n_quoted"] > 0
