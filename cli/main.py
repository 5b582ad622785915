"""Entry point of the ``hlmm`` command: global options, error reporting, the subcommand list.

Subcommands live in their own modules under ``cli/`` and are listed in
:data:`COMMANDS` as ``"module:attribute"`` (the click command object) with the command's
name and short help.  A module is imported only when its command runs: the commands pull
in scipy, numpy and aiohttp, which made even ``hlmm --version`` take seconds.  Add a line
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
from typing import Any, NamedTuple

import click

from cli.common import CliState
from cli.exit_codes import help_text
from hlmm import __version__
from hlmm.errors import ExitCode, HlmmError
from hlmm.redaction import redact

class CommandInfo(NamedTuple):
    """What ``hlmm --help`` shows for a command without importing its module."""

    name: str
    short_help: str  # the first sentence of the command's docstring (a test keeps them equal)


COMMANDS: dict[str, CommandInfo] = {
    "cli.audit:audit": CommandInfo("audit", "Audit hlmm logs: session accounting and findings, in seconds."),
    "cli.calibrate:calibrate": CommandInfo(
        "calibrate", "Learn parameters from real trades: edge by size and hour with confidence intervals, "
                     "round trips, scenarios, and config values with their evidence."),
    "cli.config:config": CommandInfo("config", "Check configuration files and list the log events."),
    "cli.ladder_preview:ladder_preview": CommandInfo(
        "ladder-preview", "Show the ladder hlmm would quote for COIN now, and why."),
    "cli.sim:sim": CommandInfo(
        "sim", "Serve a local exchange that speaks Hyperliquid's API (HTTP /info, /exchange, WS /ws)."),
    "cli.trade:trade": CommandInfo(
        "trade", "Quote two-sided ladders, keep them reconciled with the exchange, report at exit."),
}


class LazyGroup(click.Group):
    """A click group whose commands come from :data:`COMMANDS`, each imported when first asked for.

    Commands added with :meth:`add_command` take precedence (tests add throwaway ones).
    """

    def __init__(self, *args: Any, lazy_commands: dict[str, CommandInfo], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lazy_specs = {info.name: spec for spec, info in lazy_commands.items()}
        self._lazy_help = {info.name: info.short_help for info in lazy_commands.values()}
        self._loaded: dict[str, click.Command] = {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self._lazy_specs) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        spec = self._lazy_specs.get(cmd_name)
        if spec is None:
            return None
        if cmd_name not in self._loaded:
            module_name, _, attribute = spec.partition(":")
            command = getattr(importlib.import_module(module_name), attribute)
            if not isinstance(command, click.Command) or command.name != cmd_name:
                raise RuntimeError(f"COMMANDS lists {spec!r} as {cmd_name!r}, but it is {command!r}")
            self._loaded[cmd_name] = command
        return self._loaded[cmd_name]

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from the table (no import); added commands speak for themselves."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)  # click's own column budget
        rows = []
        for name in names:
            command = self.commands.get(name)
            if command is not None:
                if not command.hidden:
                    rows.append((name, command.get_short_help_str(limit)))
            else:
                # click's public shortening, without importing the command's module
                rows.append((name, click.Command(name, help=self._lazy_help[name]).get_short_help_str(limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class HlmmGroup(LazyGroup):
    """A click group that turns hlmm's errors into one line and a stable exit code.

    Loading a command module happens inside :meth:`invoke`, so a Ctrl-C or an error then is reported the same way.
    """

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


@click.group(cls=HlmmGroup, lazy_commands=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]},
             epilog=help_text())
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


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="hlmm")


if __name__ == "__main__":
    sys.exit(main())
