"""``hlmm trade``: quote ladders on a venue until stopped, then cancel everything and report (wiring only)."""
from __future__ import annotations

import dataclasses
import signal
import sys
from pathlib import Path

import click

from cli.common import config_path, json_option, load_cli_config, print_json, state, wants_json
from hlmm.config import Config
from hlmm.engine.engine import Engine
from hlmm.engine.status import StatusPanel
from hlmm.errors import ConfigError, ExitCode, RefusedError
from hlmm.exchange.keys import Credentials, Wallet
from hlmm.log import configure_logging_from
from hlmm.metrics import Metrics, MetricsServer
from hlmm.sim.embedded import EmbeddedSim
from hlmm.sim.runner import known_assets

# The embedded sim's market: livelier than mainnet BTC so a first run fills within a minute
# (takers reach deeper: kappa 0.25/bp instead of 0.8), books pushed every 200 ms.
EMBEDDED_SIM_ARGS = ("--market", "synthetic", "--book-interval-ms", "200", "--kappa", "0.25", "--taker-rate", "1.0")
EMBEDDED_SIM_FUND_USDC = 10_000.0
# With the built-in warm-up (60 s of data) a new user would wait a minute for the first quote
# on a sim that has no history; the embedded sim's demo uses a shorter one unless the config sets it.
DEMO_WARMUP = {"min_seconds": 15.0, "min_book_updates": 30}


@click.command("trade", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--venue", default=None, metavar="VENUE",
              help="sim (an embedded local sim with a throwaway key), testnet, mainnet or a base URL. "
                   "Default: exchange.venue (sim).")
@click.option("--asset", "assets", multiple=True, metavar="COIN",
              help="Coin to quote (repeatable). Default: assets.coins (BTC).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              metavar="FILE", help="Config file (TOML); same as hlmm --config.")
@click.option("--duration", type=click.FloatRange(0, min_open=True), default=None, metavar="SECONDS",
              help="Stop after this many seconds (default: until Ctrl-C or SIGTERM).")
@click.option("--metrics-port", type=click.IntRange(0, 65535), default=None, metavar="N",
              help="Serve Prometheus metrics on http://metrics.host:N/metrics (default: metrics.port; 0 = off).")
@click.option("--log-file", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="PATH",
              help="JSON-lines log file (overrides logging.file and hlmm --log-file).")
@click.option("--confirm-mainnet", is_flag=True,
              help="Trade real money on mainnet (or set exchange.mainnet_confirmed = true).")
@click.option("--sim-seed", type=click.IntRange(0), default=None, metavar="N",
              help="Seed of the embedded sim's market (default: random).")
@json_option
def trade(venue, assets, config_file, duration, metrics_port, log_file, confirm_mainnet, sim_seed, as_json):
    """Quote two-sided ladders, keep them reconciled with the exchange, report at exit.

    With no venue and no config it starts an embedded local sim (its own process on a free
    loopback port), funds a throwaway key there, trades, and stops the sim on exit: no
    network, no key, no setup. Any other venue needs a key from the environment variable
    named by exchange.key_env (default HLMM_PRIVATE_KEY) or from exchange.keystore, never
    from the config file; mainnet also needs --confirm-mainnet or
    exchange.mainnet_confirmed = true.

    Stops on Ctrl-C, SIGTERM or --duration: cancels every order, waits for the exchange to
    confirm, prints the session summary (JSON with --json). Exit codes: 0 done, 3 config,
    4 venue unreachable, 6 kill switch fired, 7 refused (mainnet not confirmed), 130 Ctrl-C.
    """
    as_json = wants_json(as_json)
    cfg = load_cli_config(config_file)
    cfg = _with_overrides(cfg, venue, assets)
    ex = cfg.exchange
    embedded = ex.venue == "sim"
    if not embedded and ex.is_mainnet and not (confirm_mainnet or ex.mainnet_confirmed):
        raise RefusedError(f"refusing to trade on mainnet ({ex.venue}): real money, not confirmed",
                           hint="pass --confirm-mainnet or set exchange.mainnet_confirmed = true")
    if embedded:
        unknown = [c for c in cfg.assets.coins if c not in known_assets()]
        if unknown:
            raise click.UsageError(f"the embedded sim does not list {', '.join(unknown)}; it knows "
                                   f"{', '.join(known_assets())}")
        if not _warmup_set(cfg):
            cfg = cfg.merged({"strategy": {"warmup": DEMO_WARMUP}}, origin="embedded sim demo")
    panel, console = _panel(as_json)
    _logging(cfg, log_file, console, panel)
    credentials = None if embedded else _credentials(cfg)
    sim = None
    metrics_server = None
    try:
        if embedded:
            sim = EmbeddedSim(cfg.assets.coins, seed=sim_seed, fund_usdc=EMBEDDED_SIM_FUND_USDC,
                              extra_args=EMBEDDED_SIM_ARGS).start()
            credentials = Credentials(sim.wallet)
            url, label = sim.url, f"sim {sim.url} (embedded, seed {sim.seed})"
            click.echo(f"hlmm trade: embedded sim at {sim.url} (seed {sim.seed}); throwaway account "
                       f"{sim.address} funded with {EMBEDDED_SIM_FUND_USDC:,.0f} USDC; warm-up "
                       f"{cfg.strategy.warmup.min_seconds:g} s", err=True)
        else:
            url, label = ex.base_url, ex.venue
        engine = Engine(cfg, url, credentials, venue=label, config_file=str(_config_shown(config_file) or "") or None)
        port = metrics_port if metrics_port is not None else cfg.metrics.port
        if port:
            engine.metrics = Metrics()
            try:
                metrics_server = MetricsServer(engine.metrics, cfg.metrics.host, port)
            except OSError as exc:
                raise ConfigError(f"cannot serve metrics on {cfg.metrics.host}:{port}: {exc.strerror or exc}",
                                  hint="choose another --metrics-port") from None
            engine.loop.add_source(metrics_server)
            click.echo(f"hlmm trade: metrics at {metrics_server.url}", err=True)
        engine.panel = panel
        summary = _run(engine, duration)
    finally:
        if metrics_server is not None:
            metrics_server.close()
        if sim is not None:
            sim.stop()
    if as_json:
        print_json(summary.to_dict())
    else:
        click.echo(summary.render())
    if summary.exit_code == ExitCode.KILL_SWITCH:
        click.echo(f"hlmm: error: the kill switch fired: {summary.kill_switch}", err=True)
    sys.exit(summary.exit_code)


def _with_overrides(cfg: Config, venue: str | None, assets: tuple[str, ...]) -> Config:
    if venue is None and not assets:
        return cfg
    data = cfg.to_dict()
    if venue is not None:
        data["exchange"]["venue"] = venue
    if assets:
        data["assets"]["coins"] = list(dict.fromkeys(a.strip() for a in assets))
        data["assets"]["overrides"] = {c: o for c, o in data["assets"]["overrides"].items() if c in assets}
    try:
        out = Config.from_dict(data, origin="command line")
    except ConfigError as exc:
        raise click.UsageError("; ".join(text for _k, text in exc.issues) or str(exc)) from None
    return dataclasses.replace(out, sources=cfg.sources)


def _warmup_set(cfg: Config) -> bool:
    return any(k.startswith("strategy.warmup.") for k in cfg.sources)


def _config_shown(explicit: Path | None) -> Path | None:
    return config_path(explicit)


def _credentials(cfg: Config) -> Credentials:
    ex = cfg.exchange
    if ex.keystore:
        wallet = Wallet.from_keystore(ex.keystore, password_env=ex.keystore_password_env)
    else:
        wallet = Wallet.from_env(ex.key_env)
    return Credentials(wallet, account_address=ex.account_address or None, vault_address=ex.vault_address or None)


def _panel(as_json: bool) -> tuple[StatusPanel, object]:
    if as_json:   # stdout carries the summary document only
        panel = StatusPanel(sys.stderr, enabled=sys.stderr.isatty())
    else:
        panel = StatusPanel(sys.stdout)
    return panel, panel.console(sys.stderr)


def _logging(cfg: Config, log_file: Path | None, console: object, panel: StatusPanel) -> None:
    logging_cfg = cfg.logging
    if "logging.console_level" not in cfg.sources:
        # the status panel (or line) shows the state and the JSON log has every event; the console
        # keeps to what needs attention unless the config asks for more
        logging_cfg = dataclasses.replace(logging_cfg, console_level="warning")
    configure_logging_from(logging_cfg, file=log_file or state().log_file, console_stream=console)


def _run(engine: Engine, duration: float | None):
    signals = {"count": 0}

    def handler(signum, _frame):
        signals["count"] += 1
        name = signal.Signals(signum).name
        if signals["count"] >= 3:
            raise KeyboardInterrupt
        engine.stop(name)

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    engine.loop.install_signal_wakeup()
    try:
        return engine.run(duration)
    finally:
        for s, h in old.items():
            signal.signal(s, h)
