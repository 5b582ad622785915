"""``hlmm ladder-preview`` and ``hlmm trade`` quote through one code path: the preview of the
engine's inputs equals the first ladder the engine sent.

The engine records what it fed each coin's market model until its first quote (the cold-start
``/info`` history, funding, then live book and trade frames). Two checks close the loop:

1. ``build_preview`` (the preview command's function) on the engine's cold-start data gives the
   same ladder as a model warmed from that data the way the engine warms it;
2. that model, fed the engine's live frames in order and asked for the engine's account, gives the
   engine's first ladder exactly (prices and sizes, level by level) and the same frozen parameters.
"""
from __future__ import annotations

import pytest

from hlmm.engine.account_state import AccountState
from hlmm.engine.engine import Engine
from hlmm.engine.market_model import MarketModel
from hlmm.engine.preview import MarketData, build_preview
from hlmm.engine.quoting import ladder_arrays
from hlmm.exchange.keys import Credentials
from tests.trade_helpers import start_sim, trade_config

pytestmark = pytest.mark.slow


def test_preview_equals_the_first_ladder_the_engine_quotes():
    sim = start_sim(("BTC",), seed=31)
    try:
        cfg = trade_config()
        engine = Engine(cfg, sim.url, Credentials(sim.wallet), venue="sim", record_inputs=True)
        engine.on_cycle(lambda out: engine.coin_states["BTC"].first_quote and engine.stop("first quote"))
        engine.run(30)
    finally:
        sim.stop()
    st = engine.coin_states["BTC"]
    first = st.first_quote
    assert first is not None and first["ladder"]["bids_px"] and first["ladder"]["asks_px"]
    inputs = st.recorded_inputs
    funding = [v for kind, v in inputs if kind == "funding"]
    history = [v for kind, v in inputs if kind == "history"]
    assert len(history) == 1 and funding
    candles, trades, book = history[0]

    # 1. the preview's function on the engine's cold-start data == a model warmed the engine's way
    preview = build_preview(cfg, MarketData("BTC", st.asset, "venue", book, trades, candles, funding[0]),
                            position=0.0, account_value=10_000.0)
    model = MarketModel.from_config(cfg, st.asset)
    model.on_funding(funding[0])
    model.warm_from_history(candles, trades, book)
    mid = model.book.mid()
    account0 = AccountState.hypothetical(10_000.0, 0.0, mid, model.allowed_leverage(0.0, mid))
    _params, ladder0, _ = model.quote(account0)
    assert ladder_arrays(preview.ladder) == ladder_arrays(ladder0)
    assert preview.params.to_dict() == _params.to_dict()

    # 2. a model fed the engine's inputs in order (the quotes it computed while warming up
    #    included: each samples toxicity) quotes the engine's first ladder
    model = MarketModel.from_config(cfg, st.asset)
    quotes = [v for kind, v in inputs if kind == "quote"]
    assert quotes[-1] == first["account"]
    for kind, value in inputs[:-1]:
        if kind == "history":
            model.warm_from_history(*value)
        elif kind == "funding":
            model.on_funding(value)
        elif kind == "book":
            model.on_book(*value)
        elif kind == "trades":
            model.on_trades(value)
        elif kind == "quote":
            model.quote(value)
    assert inputs[-1] == ("quote", first["account"])
    params, ladder, _why = model.quote(first["account"])
    assert ladder_arrays(ladder) == first["ladder"]
    assert params.to_dict() == first["params"]
