"""``hlmm sim``: serve the local Hyperliquid-compatible simulator (wiring only)."""
from __future__ import annotations

import json
import sys

import click

from cli.common import json_option, state, wants_json
from hlmm.errors import ExitCode
from hlmm.sim.config import SimConfigError
from hlmm.sim.faults import FAULT_KEYS, FaultConfigError, TransportFaults
from hlmm.sim.market_params import MarketParamsError, parse_hours
from hlmm.sim.market_setup import load_market_params, replay_assets, replay_market, synthetic_market
from hlmm.sim.replay import ReplayError
from hlmm.sim.runner import (DEFAULT_DEMO_FUND_USDC, SimReady, SimSetupError, known_assets, parse_asset, parse_fund,
                             run_sim)
from hlmm.sim.server import ServerOptions

_FAULT_FLAGS = [
    ("--drop-ws-every", "drop_ws_every_s", float, "S"),
    ("--push-delay-ms", "push_delay_ms", float, "MS"),
    ("--push-delay-prob", "push_delay_prob", float, "P"),
    ("--push-delay-every", "push_delay_every", int, "N"),
    ("--push-dup-prob", "push_dup_prob", float, "P"),
    ("--push-dup-every", "push_dup_every", int, "N"),
    ("--push-drop-prob", "push_drop_prob", float, "P"),
    ("--push-drop-every", "push_drop_every", int, "N"),
    ("--post-delay-ms", "post_delay_ms", float, "MS"),
    ("--http-429-next", "http_429_next", int, "N"),
]


def _fault_options(fn):
    for flag, key, kind, metavar in reversed(_FAULT_FLAGS):
        fn = click.option(flag, key, type=kind, default=None, metavar=metavar,
                          help=f"Fault: {FAULT_KEYS[key][1]}.")(fn)
    return fn


# Synthetic-market settings applied to every coin: (flag, CoinParams field, type, metavar, help)
_MARKET_FLAGS = [
    ("--sigma", "sigma_bps", click.FloatRange(0, min_open=True), "BPS",
     "volatility of the fair price in the normal regime, bps per sqrt(second) (low/high/extreme: x0.5/x2/x4)."),
    ("--kappa", "kappa", click.FloatRange(0, min_open=True), "PER_BP",
     "decay of taker fill intensity lambda(delta) = A*exp(-kappa*delta), per bp from the mid."),
    ("--taker-rate", "taker_rate", click.FloatRange(0), "A", "taker orders per second per side (A)."),
    ("--informed-share", "informed_share", click.FloatRange(0, 1), "ALPHA",
     "share of taker orders that know the next fair-price move."),
    ("--toxic-informed-share", "toxic_informed_share", click.FloatRange(0, 1), "ALPHA",
     "informed share during --toxic-hours."),
    ("--jump-rate", "jump_rate_per_hour", click.FloatRange(0), "PER_HOUR", "fair-price jumps per hour."),
    ("--half-spread", "half_spread_bps", click.FloatRange(0, min_open=True), "BPS",
     "distance of the background makers' touch from the fair price."),
]


def _market_options(fn):
    for flag, key, kind, metavar, text in reversed(_MARKET_FLAGS):
        fn = click.option(flag, key, type=kind, default=None, metavar=metavar,
                          help=f"Synthetic market: {text} Default per coin.")(fn)
    return fn


@click.command("sim", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on (keep it loopback).")
@click.option("--port", default=3001, show_default=True, type=click.IntRange(0, 65535),
              help="TCP port; 0 picks a free one (the ready line shows it).")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0), help="Seed of the market and of faults.")
@click.option("--assets", default="BTC,ETH,SOL", show_default=True, metavar="LIST",
              help=f"Comma-separated coins: {', '.join(known_assets())}, or NAME:szDecimals:maxLeverage:startPx.")
@click.option("--fund", "funds", multiple=True, metavar="ADDRESS=USDC",
              help="Deposit USDC to an address at start (repeatable).")
@click.option("--demo-fund", default=DEFAULT_DEMO_FUND_USDC, show_default=True, type=click.FloatRange(0),
              help="USDC deposited to the demo account.")
@click.option("--book-interval-ms", default=500, show_default=True, type=click.IntRange(10),
              help="l2Book push cadence (pushes only books that changed).")
@click.option("--tick-ms", default=50, show_default=True, type=click.IntRange(1),
              help="How often the sim's clock advances the exchange (funding, market flow, scheduled cancels).")
@click.option("--market", "market_kind", default="synthetic", show_default=True,
              type=click.Choice(["none", "synthetic", "replay"]),
              help="The market the sim runs: none (the book holds only clients' orders), synthetic flow with "
                   "known ground truth (simTruth), or a replayed recording (--replay-file).")
@click.option("--market-params", type=click.Path(exists=True, dir_okay=False), default=None, metavar="FILE",
              help="Synthetic market parameters (JSON or TOML, per coin); flags below override them.")
@click.option("--market-step-ms", type=click.IntRange(10, 10_000), default=None, metavar="MS",
              help="Synthetic market: time step of the market's grid [default: 100].")
@_market_options
@click.option("--toxic-hours", default=None, metavar="HOURS",
              help="Synthetic market: UTC hours with the toxic informed share, e.g. 13-16,20.")
@click.option("--no-regimes", is_flag=True, help="Synthetic market: stay in the normal volatility regime.")
@click.option("--replay-file", type=click.Path(exists=True, dir_okay=False), default=None, metavar="FILE",
              help="Recording of Hyperliquid WebSocket l2Book/trades messages (raw frames or JSON lines, "
                   "gzip ok) for --market replay.")
@click.option("--replay-speed", type=click.FloatRange(0, 1e6, min_open=True), default=1.0, show_default=True,
              help="Replay this many times faster than recorded.")
@click.option("--replay-loop/--replay-stop", default=False, show_default=True,
              help="At the end of the recording start again, or stop (the last book stays).")
@click.option("--idle-timeout", default=60.0, show_default=True, type=click.FloatRange(0.1),
              help="Close a WebSocket whose client sent nothing for this many seconds (mainnet: 60).")
@click.option("--ip-weight", default=1200, show_default=True, type=click.IntRange(1),
              help="REST weight budget per client IP per minute (429 beyond it).")
@_fault_options
@click.option("--reject-next-orders", type=click.IntRange(0), default=None, metavar="N",
              help="Fault: the exchange rejects the next N orders.")
@click.option("--freeze-book", is_flag=True, help="Fault: the exchange's book is frozen (no market flow, no matching).")
@json_option
@click.option("--log-level", default="warning", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]), help="Console log level (stderr).")
@click.pass_context
def sim(ctx, host, port, seed, assets, funds, demo_fund, book_interval_ms, tick_ms, idle_timeout, ip_weight,
        reject_next_orders, freeze_book, as_json, log_level, market_kind, market_params,
        market_step_ms, toxic_hours, no_regimes, replay_file, replay_speed, replay_loop, **values):
    """Serve a local exchange that speaks Hyperliquid's API (HTTP /info, /exchange, WS /ws).

    Point any Hyperliquid client at the URL of the ready line, e.g. the official SDK
    with base_url=http://127.0.0.1:3001.  Faults can also be changed while it runs:
    POST /sim/control with a JSON object (see the README).

    At start it creates a throwaway demo key, funds it, and prints its address AND
    its private key on the ready line.  That key is random, local to this process
    and worthless; printing it is the one deliberate exception to hlmm's rule that
    keys are never printed.  Never fund it anywhere real.

    The market (--market): synthetic flow by default, whose ground truth
    (volatility regimes, fill intensity, informed share) is readable with
    POST /info {"type":"simTruth"}; none (the book holds only clients' orders);
    or a replayed recording (--market replay --replay-file FILE).

    Stop with Ctrl-C (exit 130) or SIGTERM (exit 0).
    """
    from hlmm.log import configure_logging

    configure_logging(state().log_file, console="human", console_level=log_level)
    as_json = wants_json(as_json)
    market_values = {key: values.pop(key) for _flag, key, *_ in _MARKET_FLAGS}
    fault_values = values
    asset_list: list = [a for a in assets.split(",") if a.strip()]
    market = None
    try:
        fund = dict(parse_fund(entry) for entry in funds)
        faults = TransportFaults(seed=seed)
        faults.update({k: v for k, v in fault_values.items() if v is not None})
        if market_kind == "replay":
            if replay_file is None:
                raise click.UsageError("--market replay needs --replay-file FILE")
            if ctx.get_parameter_source("assets") is click.core.ParameterSource.DEFAULT:
                asset_list = replay_assets(replay_file, parse_asset)
            market = replay_market(replay_file, replay_speed, replay_loop)
        elif market_kind == "synthetic":
            coins = [a.split(":")[0].strip().upper() for a in asset_list]
            market = synthetic_market(
                coins, load_market_params(market_params) if market_params else None, step_ms=market_step_ms,
                regimes=False if no_regimes else None,
                toxic_hours=parse_hours(toxic_hours) if toxic_hours is not None else None, **market_values)
    except (SimSetupError, FaultConfigError, MarketParamsError, ReplayError) as exc:
        raise click.UsageError(str(exc)) from None
    exchange_faults = {}
    if reject_next_orders is not None:
        exchange_faults["reject_next_orders"] = reject_next_orders
    if freeze_book:
        exchange_faults["freeze_book"] = True
    options = ServerOptions(l2_book_interval_ms=book_interval_ms, clock_interval_ms=tick_ms,
                            idle_timeout_s=idle_timeout, ip_weight_per_min=ip_weight)

    def ready(info: SimReady) -> None:
        if as_json:
            line = json.dumps({"status": "ready", "url": info.url, "port": info.port, "seed": info.seed,
                               "coins": list(info.coins), "demo_address": info.demo.address,
                               "demo_key": info.demo.key})
        else:
            line = (f"hlmm sim ready url={info.url} demo_address={info.demo.address} demo_key={info.demo.key} "
                    f"seed={info.seed} coins={','.join(info.coins)}")
        click.echo(line)
        sys.stdout.flush()

    try:
        stopped_by = run_sim(host, port, seed, asset_list, fund,
                             demo_fund=demo_fund, options=options, faults=faults, market=market,
                             exchange_faults=exchange_faults, on_ready=ready, handle_signals=True)
    except (SimSetupError, SimConfigError, MarketParamsError, ReplayError) as exc:
        raise click.UsageError(str(exc)) from None
    except OSError as exc:
        click.echo(f"hlmm: error: cannot listen on {host}:{port}: {exc.strerror or exc}", err=True)
        ctx.exit(ExitCode.FAILURE)
    click.echo(f"hlmm sim stopped ({stopped_by or 'done'})", err=True)
    ctx.exit(ExitCode.INTERRUPTED if stopped_by == "SIGINT" else ExitCode.OK)
