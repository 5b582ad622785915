"""Shared pieces of the ``hlmm trade`` tests: a lively embedded sim, a fast test config, exact checks.

Every check compares the engine with the sim's own answers over its real HTTP API.
"""
from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

from hlmm.config import Config
from hlmm.engine.sync import SyncResult
from hlmm.sim.embedded import EmbeddedSim

# A market where takers reach deep (kappa 0.25/bp) and the test ladder sits close (4 bps floor):
# fills arrive within seconds, so a 30 s session has plenty.
SIM_ARGS = ("--market", "synthetic", "--book-interval-ms", "200", "--kappa", "0.25", "--taker-rate", "1.0")


def trade_config(**sections: dict[str, Any]) -> Config:
    """Defaults plus what a short test session needs (merged with ``sections``)."""
    base: dict[str, Any] = {
        "strategy": {"spread_floor_bps": 4.0, "levels_per_side": 3,
                     "warmup": {"min_seconds": 3.0, "min_trades": 3, "min_book_updates": 5}},
        "rate": {"safety_sync_interval_s": 5.0},
        "calibration": {"learned_file": ""},
    }
    for name, values in sections.items():
        merged = dict(base.get(name, {}))
        for k, v in values.items():
            if isinstance(v, dict) and isinstance(merged.get(k), dict):
                merged[k] = {**merged[k], **v}
            else:
                merged[k] = v
        base[name] = merged
    data = Config().to_dict()
    for name, values in base.items():
        for k, v in values.items():
            if isinstance(v, dict):
                data[name][k] = {**data[name][k], **v}
            else:
                data[name][k] = v
    return Config.from_dict(data, origin="test")


def start_sim(coins=("BTC",), seed: int = 7, *extra: str) -> EmbeddedSim:
    return EmbeddedSim(coins, seed=seed, fund_usdc=10_000, extra_args=(*SIM_ARGS, *extra)).start()


def exchange_fills(sim: EmbeddedSim) -> list[dict]:
    return sim.info({"type": "userFills", "user": sim.address.lower()})


def open_orders(sim: EmbeddedSim) -> list[dict]:
    return sim.info({"type": "openOrders", "user": sim.address.lower()})


MICRO = Fraction(1, 1_000_000)


class SyncChecker:
    """At every safety sync: position in lots equals ``szi`` exactly; and, when no fill after the
    snapshot time was applied yet, the engine's PnL equals the exchange's account value change.

    The engine keeps money as exact fractions; the exchange rounds each fill's PnL and the entry
    basis to a micro-USD. So money must agree to the exchange's precision: within one micro-USD
    per fill booked (and unrealized PnL within one micro-USD).
    """

    def __init__(self, engine: Any, start_value: str = "10000.0") -> None:
        self.engine = engine
        self.start = Fraction(Decimal(start_value))
        self.results: list[SyncResult] = []
        self.pnl_checks = 0
        self.failures: list[str] = []

    def __call__(self, result: SyncResult) -> None:
        self.results.append(result)
        fills = self.engine.fills
        for c in result.coins:
            if not c.ok:
                self.failures.append(f"{result.reason} sync at {result.time_ms}: {c.coin} local {c.local_lots} "
                                     f"lots vs exchange {c.exchange_lots}")
        later = any(t > result.time_ms for coin in self.engine.coins for t, *_ in fills.position(coin).recent)
        if later or result.suspect:
            return
        local = Fraction(0)
        for c in result.coins:
            p = fills.position(c.coin)
            if p.lots:
                mark = Fraction(Decimal(c.position_value)) / (abs(p.lots) * p.lot)
                unreal = p.unrealized(mark)
                if abs(unreal - Fraction(Decimal(c.unrealized_pnl))) > MICRO:
                    self.failures.append(f"{c.coin} unrealized {float(unreal)} vs exchange {c.unrealized_pnl}")
            else:
                unreal = Fraction(0)
            local += p.realized - p.fees + p.funding + unreal
        value = Fraction(Decimal(result.clearinghouse["marginSummary"]["accountValue"]))
        booked = sum(fills.position(c.coin).fills for c in result.coins)
        if abs(local - (value - self.start)) > MICRO * (booked + 1):
            self.failures.append(f"sync at {result.time_ms}: engine PnL {float(local)!r} vs exchange "
                                 f"{float(value - self.start)!r}")
        self.pnl_checks += 1
