"""Entry point of the ``hlmm`` command: global options, error reporting, the subcommand list.

Subcommands live in their own modules under ``cli/`` and are listed in
:data:`COMMANDS` as ``"module:attribute"`` (the click command object).  Add a line
when the module exists; there are no placeholders for commands not written yet.

Any :class:`hlmm.errors.HlmmError` escaping a command is printed as ``hlmm: error: …``
on stderr, without a traceback, and the process exits with the error's code.
"""
from __future__ import annotations

import importlib
import os
import sys
import traceback
from pathlib import Path
from typing import Any

import click

from cli.common import CliState
from cli.exit_codes import help_text
from hlmm import __version__
from hlmm.errors import ExitCode, HlmmError
from hlmm.redaction import redact

COMMANDS: tuple[str, ...] = (
    "cli.audit:audit",
    "cli.calibrate:calibrate",
    "cli.config:config",
    "cli.ladder_preview:ladder_preview",
    "cli.sim:sim",
    "cli.trade:trade",
)


class HlmmGroup(click.Group):
    """A click group that turns hlmm's errors into one line and a stable exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HlmmError as exc:
            click.echo(f"hlmm: error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("\nhlmm: interrupted", err=True)
            ctx.exit(ExitCode.INTERRUPTED)
        except BrokenPipeError:  # the reader went away (`hlmm … | head`): stop quietly
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush cannot fail again
            ctx.exit(ExitCode.FAILURE)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:  # a bug: say so in one line, keep the traceback opt-in
            click.echo(f"hlmm: internal error: {redact(f'{type(exc).__name__}: {exc}')}", err=True)
            if os.environ.get("HLMM_TRACEBACK"):
                click.echo(redact(traceback.format_exc()), err=True)
            else:
                click.echo("hlmm: set HLMM_TRACEBACK=1 to see the traceback", err=True)
            ctx.exit(ExitCode.FAILURE)


@click.group(cls=HlmmGroup, context_settings={"help_option_names": ["-h", "--help"]}, epilog=help_text())
@click.version_option(__version__, "-V", "--version", prog_name="hlmm")
@click.option("--config", "config_file", type=click.Path(dir_okay=True, path_type=Path), envvar="HLMM_CONFIG",
              metavar="FILE", help="Config file (TOML). Default: $HLMM_CONFIG, else ./hlmm.toml if present, "
                                   "else the built-in defaults.")
@click.option("--log-file", type=click.Path(dir_okay=False, path_type=Path), metavar="PATH",
              help="JSON-lines log file (overrides logging.file).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables (every command).")
@click.pass_context
def cli(ctx: click.Context, config_file: Path | None, log_file: Path | None, as_json: bool) -> None:
    """hlmm: a market maker for Hyperliquid perpetuals.

    Run `hlmm COMMAND --help` for a command's options.
    """
    ctx.obj = CliState(config_path=config_file, log_file=log_file, json=as_json)


def _register(group: click.Group, specs: tuple[str, ...]) -> None:
    for spec in specs:
        module_name, _, attribute = spec.partition(":")
        group.add_command(getattr(importlib.import_module(module_name), attribute))


try:
    _register(cli, COMMANDS)
except KeyboardInterrupt:  # Ctrl-C in the seconds the commands take to import (scipy, aiohttp)
    sys.stderr.write("\nhlmm: interrupted\n")
    raise SystemExit(ExitCode.INTERRUPTED) from None


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="hlmm")


if __name__ == "__main__":
    sys.exit(main())
