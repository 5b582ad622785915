"""The quote cycle's glue around the core: the deferred explanation and the account state.

A deferred explanation (``MarketModel.quote_deferred``, what the engine quotes with) must be the
explanation ``quote()`` would have returned at quote time, whatever the model did before it is
written; the quote cycle's account state must be the exact position (``float(Position.size)``)
and the same object only while nothing it is made of changed.

Real data: 9 minutes of real Hyperliquid BTC bbo + trades and a real REST l2Book (tests/fixtures),
the real perp meta; the engine's own parts (``Engine._build_core``), no network.
"""
from __future__ import annotations

import dataclasses
import json
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hlmm._core.ladder import Ladder
from hlmm.config import RiskConfig, StrategyConfig
from hlmm.engine.account_state import AccountState
from hlmm.engine.engine import Engine
from hlmm.engine.market_model import DeferredExplanation, MarketModel
from hlmm.engine.snapshot import AccountSnapshot
from hlmm.engine.strategy import ModelStrategy, Quote, QuoteContext
from hlmm.exchange.keys import Credentials, Wallet
from test_market_model import BTC, REG, _btc_info_book, _replay_btc
from trade_helpers import trade_config

ACCT = AccountState(0.0003, 500.0, inflight_bid=0.0001)


def _same(a, b) -> bool:
    """Equal explanation dicts (NaN fields included)."""
    return json.dumps(a.to_dict(), sort_keys=True, default=repr) == json.dumps(b.to_dict(), sort_keys=True,
                                                                               default=repr)


def _move_on(m: MarketModel) -> None:
    """Everything an explanation reads that can change after a quote."""
    m.on_funding(0.0004)
    m.set_adverse_selection(2.5, "markouts")
    t = m.last_ms + 1_000
    m.on_book({"coin": "BTC", "time": t, "levels": [[{"px": "110900.0", "sz": "2.0", "n": 3}],
                                                     [{"px": "110901.0", "sz": "0.1", "n": 1}]]})
    m.on_trades([{"coin": "BTC", "side": "A", "px": "110899.0", "sz": "0.5", "time": t + 1, "tid": 1}])
    m.quote(ACCT)                      # samples toxicity again


@pytest.fixture
def warm_pair():
    """Two models fed the same real data (one quotes eagerly, its twin deferred)."""
    a, b = MarketModel(BTC), MarketModel(BTC)
    _replay_btc(a)
    _replay_btc(b)
    return a, b


@pytest.mark.parametrize("warmup", [False, True])
def test_a_deferred_explanation_is_the_quote_time_explanation(warm_pair, warmup):
    a, b = warm_pair
    pa, la, eager = a.quote(ACCT, warmup=warmup)
    pb, lb, why = b.quote_deferred(ACCT, warmup=warmup)
    assert pa == pb and la.to_dict() == lb.to_dict()
    assert isinstance(why, DeferredExplanation) and "not built" in repr(why)
    _move_on(b)
    built = why.build()
    assert _same(built, eager) and (built.warmup is None) == (not warmup)
    assert why.build() is built and "built" in repr(why)
    # the status line's fields are there before it is written
    assert (why.regime, why.sigma_bps, why.toxicity_bid, why.toxicity_ask) == (
        eager.regime, eager.sigma_bps, eager.toxicity_bid, eager.toxicity_ask)


def test_a_reused_ladder_does_not_change_a_deferred_explanation():
    m = MarketModel(BTC, StrategyConfig(toxic_hours_utc=(8,), toxic_gamma_multiplier=3.0), RiskConfig())
    m.on_book(_btc_info_book())             # a cold model at 08:51 UTC: priors, four notes and the toxic hour
    twin = MarketModel(BTC, StrategyConfig(toxic_hours_utc=(8,), toxic_gamma_multiplier=3.0), RiskConfig())
    twin.on_book(_btc_info_book())
    out = Ladder()
    _, _, eager = twin.quote(AccountState(0, 1000), out=Ladder())
    _, ladder, why = m.quote_deferred(AccountState(0, 1000), out=out)
    assert ladder is out
    m.quote(AccountState(0.004, 1000), out=out)           # the same Ladder recomputed, skewed
    built = why.build()
    assert _same(built, eager) and len(built.notes) == 5 and built.skew_bps == 0.0
    assert any("toxic hour (UTC 08)" in n for n in built.notes)


def test_quote_holds_a_written_or_a_deferred_explanation(warm_pair):
    a, _ = warm_pair
    params, ladder, why = a.quote_deferred(ACCT, warmup=False)
    q = Quote(ladder, params, deferred=why)
    assert q.why is why and q.ladder is ladder
    first = q.explanation
    assert first is q.explanation is why.build()
    assert q == Quote(ladder, params, first) and q.why is why
    with pytest.raises(dataclasses.FrozenInstanceError):
        q.params = None
    with pytest.raises(ValueError, match="not both"):
        Quote(ladder, params, first, deferred=why)
    plain = Quote(ladder)
    assert plain.explanation is None and plain.why is None and plain != q


def test_the_model_strategy_defers_and_quotes_the_models_ladder(warm_pair):
    a, b = warm_pair
    ctx = QuoteContext("BTC", 0, BTC, b, ACCT, 0.01)
    q = ModelStrategy().quote(ctx)
    params, ladder, eager = a.quote(ACCT, warmup=False)
    assert isinstance(q.why, DeferredExplanation)
    assert q.params == params and q.ladder.to_dict() == ladder.to_dict() and _same(q.explanation, eager)


# ------------------------------------------------------------------ the account state of a cycle


@pytest.fixture
def engine():
    e = Engine(trade_config(), "http://127.0.0.1:9", Credentials(Wallet.generate()), venue="test")
    e.registry = REG
    e._build_core()
    yield e
    e.ws.close()
    e.info.close()
    e.exchange.close()
    e.loop.close()


@settings(max_examples=300, deadline=None)
@given(lots=st.integers(-10**15, 10**15), sz_decimals=st.integers(0, 8))
def test_lots_over_a_power_of_ten_is_the_exact_positions_float(lots, sz_decimals):
    assert lots / 10 ** sz_decimals == float(lots * Fraction(1, 10 ** sz_decimals))


def test_the_cycles_account_state_is_exact_and_rebuilt_only_when_it_changes(engine):
    q, st_ = engine.quoter, engine.coin_states["BTC"]
    engine.account = AccountSnapshot(12_000.0, 4_321.5, 1)
    for szi in ("0", "0.00123", "-7.51234", "123.45678"):
        engine.fills.init_position("BTC", szi, "70000" if szi != "0" else None, 1)
        a = q.account_state(st_)
        assert a.position == float(engine.fills.position("BTC").size) == float(szi)
        assert (a.available_margin, a.account_value, a.inflight_bid, a.inflight_ask) == (4_321.5, 12_000.0, 0, 0)
        assert q.account_state(st_) is a                    # nothing changed: the same state
    engine.account = AccountSnapshot(12_000.0, 4_321.5, 2)  # a new snapshot, even with equal figures
    b = q.account_state(st_)
    assert b is not a and b == a
    engine.account = None
    c = q.account_state(st_)
    assert (c.available_margin, c.account_value, c.position) == (0.0, None, 123.45678)
    assert q.account_state(st_) is c
