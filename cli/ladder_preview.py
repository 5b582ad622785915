"""``hlmm ladder-preview``: the ladder hlmm would quote now, explained; nothing is sent (wiring only)."""
from __future__ import annotations

from pathlib import Path

import click

from cli.common import json_option, load_cli_config, print_json, print_table, state, wants_json
from hlmm.engine.preview import (
    DEFAULT_ACCOUNT_VALUE_USD,
    MAX_WHAT_IF_USD,
    SIM_BOOK_WAIT_S,
    WhatIfError,
    check_what_if,
    preview_from_book,
    preview_from_venue,
    venue_session,
)
from hlmm.engine.preview_plot import plot_preview, require_matplotlib


def _venue_param(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None or value in ("mainnet", "testnet", "sim"):
        return value
    from hlmm.engine.preview import resolve_venue

    try:
        resolve_venue(value)
    except ValueError as exc:
        raise click.BadParameter(f"{exc} (or one of mainnet, testnet, sim)") from None
    return value


def _what_if(ctx: click.Context, param: click.Parameter, value: float) -> float:
    """--position / --account-value: the library's range check, as a usage error naming the option."""
    try:
        if param.name == "position":
            check_what_if(value, DEFAULT_ACCOUNT_VALUE_USD)
        else:
            check_what_if(0.0, value)
    except WhatIfError as exc:
        raise click.BadParameter(exc.reason) from None
    return value


@click.command("ladder-preview", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--asset", "coin", required=True, metavar="COIN", help="Coin to preview, e.g. BTC (case-sensitive).")
@click.option("--venue", default=None, callback=_venue_param, metavar="mainnet|testnet|sim|URL",
              help="Where to read public market data: mainnet (default), testnet, sim (start hlmm's simulator on a "
                   "free loopback port for the preview) or a base URL. With --book: only asset rules are read "
                   "from it (default: the bundled meta).")
@click.option("--book", "book_file", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="FILE",
              help="Preview a saved l2Book (an /info l2Book answer or a WebSocket l2Book message) instead of the "
                   "venue's live book; works offline.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              metavar="FILE", help="Config file (TOML); overrides the global --config.")
@click.option("--position", default=0.0, show_default=True, type=float, callback=_what_if, metavar="Q",
              help=f"What-if position in coins (negative = short); |Q x mid| at most ${MAX_WHAT_IF_USD:g}.")
@click.option("--account-value", default=DEFAULT_ACCOUNT_VALUE_USD, show_default=True, type=float,
              callback=_what_if, metavar="USD",
              help=f"What-if account value (0 to {MAX_WHAT_IF_USD:g}); the free margin is what the exchange would "
                   "report for it.")
@click.option("--levels", default=None, type=click.IntRange(1, 25), metavar="N",
              help="Levels per side (default: strategy.levels_per_side).")
@json_option
@click.option("--plot", "plot_file", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="FILE",
              help="Also write a PNG of the book and the ladder (needs the plot extra: pip install 'hlmm[plot]').")
def ladder_preview(coin: str, venue: str | None, book_file: Path | None, config_file: Path | None, position: float,
                   account_value: float, levels: int | None, as_json: bool, plot_file: Path | None) -> None:
    """Show the ladder hlmm would quote for COIN now, and why. Places nothing, needs no key.

    Reads meta, the l2Book, recent trades and 1-minute candles from the venue, warms the
    estimators from them (volatility and regime, fill intensity, microprice, flow, toxicity)
    and quotes through the same model as `hlmm trade`, for a what-if account (--position,
    --account-value). With --book FILE only the saved book is used: the estimators are cold
    and the preview says so (conservative priors).

    Exit codes: 0 shown, 1 bad book file or input, 2 bad option, 3 config error,
    4 venue unreachable.
    """
    cfg = load_cli_config(config_file)
    if state().log_file is not None:
        from hlmm.log import configure_logging

        configure_logging(state().log_file, console="off")
    if plot_file is not None:
        require_matplotlib()                 # fail before any network work
    options = {"position": position, "account_value": account_value, "levels": levels}
    try:
        if book_file is not None:
            if venue is None:
                preview = preview_from_book(cfg, coin, book_file, **options)
            else:
                with venue_session(venue, coin) as where:
                    preview = preview_from_book(cfg, coin, book_file, venue=where, **options)
        else:
            with venue_session(venue or "mainnet", coin) as (name, url):
                preview = preview_from_venue(cfg, coin, name, url,
                                             book_wait_s=SIM_BOOK_WAIT_S if name == "sim" else 0.0, **options)
    except WhatIfError as exc:  # the position's notional, known once the mid is
        raise click.BadParameter(exc.reason, param_hint=f"'--{exc.field.replace('_', '-')}'") from None
    as_json = wants_json(as_json)
    if as_json:
        print_json(preview.to_dict())
    else:
        for line in preview.header_lines():
            click.echo(line)
        click.echo()
        rows = preview.table_rows()
        if rows:
            print_table(preview.TABLE_HEADERS, rows)
        else:
            click.echo("no level is quoted")
        click.echo()
        for line in preview.footer_lines():
            click.echo(line)
    if plot_file is not None:
        written = plot_preview(preview, plot_file)
        click.echo(f"plot written to {written}", err=as_json)
