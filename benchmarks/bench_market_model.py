"""MarketModel: the per-asset model's two hot paths, on real BTC data.

``on_book`` (group ``on-book``): one real 20x20 BTC l2Book WebSocket frame (2025-01-26) -> book
updated, volatility (1 s grid), microprice, flow and intensity clocks advanced. Each round gets
the frame with the next timestamp (+500 ms, the mainnet push cadence; made in an untimed setup),
so the estimators do their real work every time.
- ``model_raw_bytes``: ``model.on_book(raw_bytes)``, what the engine does with the socket's bytes.
- ``baseline_json_dict``: ``json.loads`` then ``model.on_book(dict)``: the same model work, the
  frame parsed by Python first (what a plain Python client does).
- ``book_only``: ``L2Book.apply_message`` alone: what the estimators add to the book.

``quote`` (group ``quote``): the model warmed on 9 minutes of real BTC bbo + trades, a 2 x 25-level
ladder for a long position. Checked first: every contender produces the same ladder.
- ``quote_hot``: ``model.quote(account, out=ladder, warmup=False)``: snapshot (toxicity sampled,
  MarketParams frozen) + Cython ladder + explanation, the engine's cycle.
- ``quote_full``: ``model.quote(account)`` with the warm-up report (the preview).
- ``baseline_python_ladder``: ``model.params(account)`` + ``tests/ladder_reference.py`` (the same
  ladder math in plain Python).

Run: ``pytest benchmarks/bench_market_model.py --benchmark-enable -q``.
"""
from __future__ import annotations

import dataclasses
import json
import sys
from itertools import count
from pathlib import Path

import pytest

from hlmm._core.book import L2Book
from hlmm._core.ladder import Ladder
from hlmm.config import RiskConfig, StrategyConfig
from hlmm.engine.account_state import AccountState
from hlmm.engine.market_model import MarketModel

TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path.insert(0, str(TESTS))
import ladder_reference as ref  # noqa: E402
from test_market_model import BTC, _replay_btc  # noqa: E402


def _btc_frame_template() -> tuple[bytes, int]:
    for line in (TESTS / "fixtures" / "l2book_btc_ws_hftbacktest_2025-01-26_head.txt").read_text().splitlines():
        frame = line.split(" ", 1)[1]
        if '"channel":"l2Book"' in frame:
            t = json.loads(frame)["data"]["time"]
            return frame.replace(f'"time":{t}', '"time":@T@').encode(), t
    raise AssertionError("no l2Book frame")


TEMPLATE, T0 = _btc_frame_template()


def _frames():
    clock = count(T0, 500)
    return lambda: ((TEMPLATE.replace(b"@T@", str(next(clock)).encode()),), {})


@pytest.mark.benchmark(group="on-book")
def test_model_raw_bytes(benchmark):
    model = MarketModel(BTC)
    benchmark.pedantic(model.on_book, setup=_frames(), rounds=20_000, warmup_rounds=100)
    assert model.book_updates >= 1 and model.volatility.last_ms >= T0


@pytest.mark.benchmark(group="on-book")
def test_baseline_json_dict(benchmark):
    model = MarketModel(BTC)
    benchmark.pedantic(lambda raw: model.on_book(json.loads(raw)), setup=_frames(), rounds=20_000, warmup_rounds=100)
    assert model.book_updates >= 1


@pytest.mark.benchmark(group="on-book")
def test_book_only(benchmark):
    book = L2Book("BTC", 5)
    benchmark.pedantic(book.apply_message, setup=_frames(), rounds=20_000, warmup_rounds=100)
    assert book.applied_count >= 1


@pytest.fixture(scope="module")
def warm_model() -> MarketModel:
    model = MarketModel(BTC, dataclasses.replace(StrategyConfig(), levels_per_side=25, max_order_notional_usd=500.0),
                        RiskConfig(max_position_usd=5_000.0, leverage=10))
    _replay_btc(model)
    return model


ACCOUNT = AccountState(position=0.004, available_margin=3_000.0)


def test_contenders_agree(warm_model):
    params, ladder, _ = warm_model.quote(ACCOUNT)
    hot = warm_model.quote(ACCOUNT, out=Ladder(), warmup=False)[1]
    r = ref.compute_ladder_reference(warm_model.params(ACCOUNT).to_dict(), warm_model.ladder_config().to_dict())
    for side, name in ((ladder.bids, "bids"), (ladder.asks, "asks")):
        assert side.n == 25 and side.n_quoted > 0
        assert side.px_units.tolist() == r[name]["px_units"] == hot.side(name[:-1]).px_units.tolist()
        assert side.sz_lots.tolist() == r[name]["sz_lots"] == hot.side(name[:-1]).sz_lots.tolist()


@pytest.mark.benchmark(group="quote")
def test_quote_hot(benchmark, warm_model):
    out = Ladder()
    benchmark(warm_model.quote, ACCOUNT, None, out, warmup=False)


@pytest.mark.benchmark(group="quote")
def test_quote_full(benchmark, warm_model):
    benchmark(warm_model.quote, ACCOUNT)


@pytest.mark.benchmark(group="quote")
def test_baseline_python_ladder(benchmark, warm_model):
    config = warm_model.ladder_config().to_dict()
    benchmark(lambda: ref.compute_ladder_reference(warm_model.params(ACCOUNT).to_dict(), config))
