"""A real venue for the engine tests: hlmm's SimExchange, driven with real signatures.

``Venue`` signs the engine's actions exactly like the client does (``sign_l1_action``, testnet
source for a local venue), posts them to the sim's ``handle_exchange``, answers ``/info``
requests from ``handle_info``, and buffers the WebSocket pushes addressed to our account
(``orderUpdates``, ``user``, ``userFills``) so a test can deliver them when, how often and in
what order it wants (late, duplicated, reordered, dropped). ``trade_against`` makes another
account take our resting orders (fills at the maker's price, like a real taker).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hlmm.exchange.assets import AssetRegistry
from hlmm.exchange.keys import Wallet
from hlmm.exchange.signing import sign_l1_action
from hlmm.sim.config import SimConfig
from hlmm.sim.exchange import SimExchange

T0 = 1_700_000_000_000
TAKER = "0x" + "cc" * 20
MAKER = "0x" + "dd" * 20


@dataclass
class Push:
    channel: str
    data: Any


class Venue:
    """A SimExchange with our signed account and the pushes addressed to it."""

    def __init__(self, seed: int = 7, usdc: float = 100_000.0, t0: int = T0) -> None:
        self.now = t0
        self.wallet = Wallet.from_hex("0x" + "a7" * 32)
        self.user = self.wallet.address.lower()
        self.ex = SimExchange(SimConfig(seed=seed, demo_accounts={self.wallet.address: usdc}), now_ms=lambda: self.now)
        self.ex.create_account(TAKER, 10_000_000)
        self.ex.create_account(MAKER, 10_000_000)
        self.pushes: list[Push] = []
        self.ex.add_listener(self._listen)
        self._nonce = 0
        self.assets = AssetRegistry.from_meta(self.ex.handle_info({"type": "meta"}))

    def _listen(self, channel: str, key: Any, data: Any) -> None:
        if channel in ("orderUpdates", "user", "userFills") and key == self.user:
            self.pushes.append(Push(channel, json.loads(json.dumps(data))))

    def advance(self, ms: int) -> None:
        self.now += ms
        self.ex.advance(self.now)

    def post(self, action: dict) -> dict:
        self._nonce = max(self.now, self._nonce + 1)
        sig = sign_l1_action(self.wallet, action, None, self._nonce, None, False)
        return self.ex.handle_exchange({"action": action, "nonce": self._nonce, "signature": sig,
                                        "vaultAddress": None, "expiresAfter": None})

    def info(self, body: dict) -> Any:
        return json.loads(json.dumps(self.ex.handle_info(body)))

    def take_pushes(self) -> list[Push]:
        out, self.pushes = self.pushes, []
        return out

    def quote_market(self, coin: str, bid_units: int, ask_units: int, lots: int) -> None:
        """A background maker so the book has a touch (our orders rest behind or inside it)."""
        self.ex.internal_place(MAKER, coin, True, bid_units, lots)
        self.ex.internal_place(MAKER, coin, False, ask_units, lots)

    def trade_against(self, coin: str, is_buy: bool, px_units: int, lots: int) -> dict:
        """A taker's IOC order: fills whatever rests up to px_units (ours included)."""
        return self.ex.internal_place(TAKER, coin, is_buy, px_units, lots, tif="Ioc")

    def position_szi(self, coin: str) -> str:
        state = self.info({"type": "clearinghouseState", "user": self.user})
        for ap in state["assetPositions"]:
            if ap["position"]["coin"] == coin:
                return ap["position"]["szi"]
        return "0"

    def position_lots(self, coin: str) -> int:
        return self.ex.position_lots(self.user, coin)
