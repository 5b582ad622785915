"""QA fix: `hlmm --version` / `--help` must not import every command module (scipy, aiohttp, numpy…).

The command modules are loaded when their command runs; `--help` still lists every command with the
same short help it had when all were imported up front.
"""
from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import click
from click.testing import CliRunner

from cli.main import COMMANDS, cli

REPO = Path(__file__).resolve().parent.parent

# Modules that made startup slow (or that only a running command needs).
HEAVY = ("scipy", "numpy", "aiohttp", "pandas", "hlmm.engine", "hlmm.sim", "hlmm.calibration",
         "cli.trade", "cli.sim", "cli.calibrate", "cli.audit", "cli.ladder_preview", "cli.config")

_REPORT_HEAVY = """
import sys
{body}
heavy = {heavy!r}
print(",".join(sorted(m for m in sys.modules if m.split(".")[0] in heavy or
                      any(m == h or m.startswith(h + ".") for h in heavy))))
"""


def _python(code: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "HLMM_CONFIG"}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO,
                          env=env)


def test_importing_cli_main_pulls_in_no_command_module_and_no_heavy_library() -> None:
    proc = _python(_REPORT_HEAVY.format(body="import cli.main", heavy=HEAVY))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ""


def test_version_and_help_run_without_importing_the_commands() -> None:
    for argv in (["--version"], ["--help"]):
        body = ("import contextlib, io\nsys.argv = ['hlmm', *%r]\nfrom cli.main import main\n"
                "with contextlib.redirect_stdout(io.StringIO()):\n"
                "    try:\n        main()\n    except SystemExit as e:\n        assert e.code in (0, None), e.code\n"
                % (argv,))
        proc = _python(_REPORT_HEAVY.format(body=body, heavy=HEAVY))
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == "", argv


def _eager_short_help(limit: int) -> dict[str, str]:
    """Each command's short help as click makes it from the imported command object."""
    out = {}
    for spec in COMMANDS:
        module_name, _, attribute = spec.partition(":")
        cmd = getattr(importlib.import_module(module_name), attribute)
        out[cmd.name] = cmd.get_short_help_str(limit)
    return out


def test_the_table_names_and_short_help_match_the_real_commands() -> None:
    """The static table cannot drift from the commands' own docstrings."""
    ctx = click.Context(cli)
    real = _eager_short_help(limit=10_000)
    table = {entry.name: entry.short_help for entry in COMMANDS.values()}
    assert cli.list_commands(ctx) == sorted(real)
    assert table == real
    for name in real:
        assert cli.get_command(ctx, name).name == name


def test_help_lists_every_command_with_its_short_help_as_before() -> None:
    out = CliRunner().invoke(cli, ["--help"], terminal_width=80)
    assert out.exit_code == 0, out.output
    section = out.output.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    rows = [line.split(None, 1) for line in section.splitlines()]
    names = [row[0] for row in rows]
    width = max(len(n) for n in names)
    expected = _eager_short_help(limit=80 - 6 - width)  # click's own limit for this column
    assert names == sorted(expected)
    assert {row[0]: row[1] for row in rows} == expected


def test_a_command_loads_and_runs_on_demand() -> None:
    out = CliRunner().invoke(cli, ["config", "events"])
    assert out.exit_code == 0, out.output
    out = CliRunner().invoke(cli, ["ladder-preview", "--help"])
    assert out.exit_code == 0 and "Usage: cli ladder-preview" in out.output
    out = CliRunner().invoke(cli, ["no-such-command"])
    assert out.exit_code == 2 and "No such command" in out.output
