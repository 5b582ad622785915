"""QA: hostile request bodies against the sim exchange.

A JSON array or object where Hyperliquid expects a string (an action/info ``type``, a tif,
a candle interval) must be a 422 like any other body that does not deserialize, never an
internal error. A price or size string too long for an int64 must be a per-order rejection:
the exception used to escape after earlier orders of the batch were placed and the nonce was
spent, so the client saw a 500 for a batch that had partly executed."""
from __future__ import annotations

import pytest

from hlmm.exchange.keys import Wallet
from hlmm.exchange.signing import sign_l1_action
from hlmm.sim.config import SimConfig
from hlmm.sim.errors import SimRequestError
from hlmm.sim.exchange import SimExchange

T0 = 1_700_000_000_000
TRADER = Wallet.from_hex("0x" + "a1" * 32)
MM = "0x" + "aa" * 20
UNHASHABLE = ([], {}, [1], {"a": 1})


@pytest.fixture
def ex() -> SimExchange:
    clock = [T0]
    ex = SimExchange(SimConfig(seed=1, demo_accounts={TRADER.address: 100_000}), now_ms=lambda: clock[0])
    ex.create_account(MM, 100_000_000)
    ex.internal_place(MM, "BTC", True, 999_990, 2_000)
    ex.internal_place(MM, "BTC", False, 1_000_010, 2_000)
    return ex


def signed(action: dict, nonce: int) -> dict:
    return {"action": action, "nonce": nonce, "signature": sign_l1_action(TRADER, action, None, nonce, None, False)}


def order(p: str = "99000", s: str = "0.001", tif: object = "Gtc") -> dict:
    return {"a": 0, "b": True, "p": p, "s": s, "r": False, "t": {"limit": {"tif": tif}}}


@pytest.mark.parametrize("value", UNHASHABLE)
def test_info_type_that_is_not_a_string_is_422(ex: SimExchange, value: object) -> None:
    with pytest.raises(SimRequestError) as err:
        ex.handle_info({"type": value})
    assert err.value.status == 422


@pytest.mark.parametrize("value", UNHASHABLE)
def test_candle_interval_that_is_not_a_string_is_422(ex: SimExchange, value: object) -> None:
    req = {"coin": "BTC", "interval": value, "startTime": 0}
    with pytest.raises(SimRequestError) as err:
        ex.handle_info({"type": "candleSnapshot", "req": req})
    assert err.value.status == 422


@pytest.mark.parametrize("value", UNHASHABLE)
def test_action_type_that_is_not_a_string_is_422(ex: SimExchange, value: object) -> None:
    with pytest.raises(SimRequestError) as err:
        ex.handle_exchange(signed({"type": value}, T0))
    assert err.value.status == 422


@pytest.mark.parametrize("value", UNHASHABLE)
def test_order_tif_that_is_not_a_string_is_422(ex: SimExchange, value: object) -> None:
    action = {"type": "order", "orders": [order(tif=value)], "grouping": "na"}
    with pytest.raises(SimRequestError) as err:
        ex.handle_exchange(signed(action, T0))
    assert err.value.status == 422
    # nothing was spent: the same nonce still works
    assert ex.handle_exchange(signed({"type": "noop"}, T0))["status"] == "ok"


@pytest.mark.parametrize("field, text", [("p", "Order has invalid price."), ("s", "Order has invalid size.")])
@pytest.mark.parametrize("digits", [19, 25, 400])
def test_price_or_size_beyond_int64_is_a_per_order_rejection(ex: SimExchange, field: str, text: str,
                                                              digits: int) -> None:
    huge = order()
    huge[field] = "9" * digits
    action = {"type": "order", "orders": [order(), huge], "grouping": "na"}
    resp = ex.handle_exchange(signed(action, T0))
    assert resp["status"] == "ok", resp
    first, second = resp["response"]["data"]["statuses"]
    assert "resting" in first
    assert second == {"error": text}
    # the exchange's view agrees with the answer: exactly the first order rests
    open_orders = ex.handle_info({"type": "openOrders", "user": TRADER.address.lower()})
    assert [o["oid"] for o in open_orders] == [first["resting"]["oid"]]
