"""What every ``hlmm`` subcommand shares: global options, config loading, output.

Subcommands read the global options (``--config``, ``--log-file``, ``--json``) through
:func:`state`, load the configuration with :func:`load_cli_config`, and print with
:func:`print_table` or :func:`print_json` (tables by default, JSON with ``--json``).
Errors are raised as :class:`hlmm.errors.HlmmError`; ``cli.main`` prints them.
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from hlmm.config import Config, default_config_path, load_config
from hlmm.log import configure_logging_from, to_json

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class CliState:
    """The global options, stored on the root click context as ``ctx.obj``."""

    config_path: Path | None = None
    log_file: Path | None = None
    json: bool = False


def state(ctx: click.Context | None = None) -> CliState:
    """The global options of the running command (defaults outside ``hlmm``)."""
    ctx = ctx or click.get_current_context()
    obj = ctx.find_root().obj
    return obj if isinstance(obj, CliState) else CliState()


def json_option(fn: F) -> F:
    """``--json`` on a subcommand (same effect as the global ``hlmm --json``)."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(fn)


def wants_json(as_json: bool = False) -> bool:
    """True if this command's ``--json`` or the global ``--json`` was given."""
    return as_json or state().json


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The config file to use: ``explicit``, else ``--config``/``HLMM_CONFIG``, else ``./hlmm.toml`` if present."""
    if explicit is not None:
        return Path(explicit)
    return state().config_path or default_config_path()


def load_cli_config(explicit: str | os.PathLike[str] | None = None) -> Config:
    """Load the config file :func:`config_path` picks (the defaults when there is none)."""
    return load_config(config_path(explicit))


def setup_logging(cfg: Config) -> None:
    """Configure logging from ``[logging]``, with ``--log-file`` taking precedence."""
    configure_logging_from(cfg.logging, file=state().log_file)


def print_json(obj: Any) -> None:
    """One JSON document on stdout (numpy values, enums… encoded like log fields)."""
    click.echo(json.dumps(json.loads(to_json(obj)), indent=2))


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Left-aligned columns with a header line; the last column is not padded."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers) - 1)]
    for row in cells:
        padded = [cell.ljust(width) for cell, width in zip(row, widths)] + [row[-1]]
        click.echo("  ".join(padded).rstrip())
