"""Embed hlmm's engine in your own program: your quoting rule, your callbacks, hlmm's execution.

    python examples/embed_engine.py [SECONDS]

It starts hlmm's simulator in its own process (a throwaway key, no network), then runs the
engine with a custom strategy: one order a side, a fixed distance from the model's microprice,
shifted against the position. Everything else is hlmm's: the reconciler, every gate (warm-up,
stale book, position limit, rate budget, kill switch), the one rounding path, the safety sync,
the dead-man switch, and cancel-everything at the end.
"""
from __future__ import annotations

import sys

from hlmm.config import Config
from hlmm.engine import Engine, EngineStatus, Quote, QuoteContext, Target
from hlmm.engine.engine import FillEvent
from hlmm.exchange import wire
from hlmm.exchange.keys import Credentials
from hlmm.sim.embedded import EmbeddedSim


class FixedWidth:
    """One order per side ``half_width_bps`` from the microprice, skewed by the position."""

    def __init__(self, half_width_bps: float = 5.0, notional_usd: float = 15.0, skew_bps_at_max: float = 4.0):
        self.half_width = half_width_bps / 1e4
        self.notional = notional_usd
        self.skew = skew_bps_at_max / 1e4

    def quote(self, ctx: QuoteContext) -> Quote:
        params, _ladder, why = ctx.model.quote(ctx.account, warmup=False)   # the model's fair price
        fair = params.microprice
        inventory = ctx.account.position / ctx.max_position if ctx.max_position > 0 else 0.0
        center = fair * (1 - self.skew * inventory)                         # long: quote lower
        bid = wire.price_units(center * (1 - self.half_width), ctx.asset, wire.DOWN)
        ask = wire.price_units(center * (1 + self.half_width), ctx.asset, wire.UP)
        lots = wire.size_lots(self.notional / fair, ctx.asset)
        return Quote(Target([bid], [lots], [ask], [lots]), params, why)


def main(seconds: float) -> int:
    config = Config.from_dict({
        "assets": {"coins": ["BTC"]},
        "strategy": {"warmup": {"min_seconds": 3, "min_trades": 3, "min_book_updates": 5}},
        "calibration": {"learned_file": ""},
    })
    with EmbeddedSim(["BTC"], seed=42, extra_args=["--market", "synthetic", "--kappa", "0.25"]) as sim:
        engine = Engine(config, sim.url, Credentials(sim.wallet), strategy=FixedWidth(), venue="embedded sim")

        def on_fill(fill: FillEvent) -> None:
            print(f"fill   {fill.coin} {fill.side:3} {fill.sz} @ {fill.px}  fee {fill.fee}  "
                  f"position {fill.position:+g}")

        def on_status(status: EngineStatus) -> None:
            if int(status.uptime_s) % 5 == 0:
                a = status.assets[0]
                print(f"status {status.state:10} mid {a.mid:.1f}  bid {a.best_bid:.0f}  ask {a.best_ask:.0f}  "
                      f"orders {a.levels_bid}/{a.levels_ask}  position {a.position:+g}  pnl {a.pnl.total:+.4f} USD")

        engine.on_fill(on_fill)
        engine.on_status(on_status)
        summary = engine.run(seconds)
    print(summary.render())
    return summary.exit_code


if __name__ == "__main__":
    sys.exit(main(float(sys.argv[1]) if len(sys.argv) > 1 else 30.0))
