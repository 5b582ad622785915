"""The hlmm CLI shell: global options, error reporting and exit codes, `hlmm config`."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from cli.common import state
from cli.config import _rows
from cli.exit_codes import EXIT_CODES
from cli.main import COMMANDS, cli
from hlmm import __version__
from hlmm.config import Config, dump_fragment
from hlmm.errors import (
    ConfigError,
    CriticalFindingsError,
    ExitCode,
    HlmmError,
    InputError,
    KillSwitchError,
    RefusedError,
    VenueUnreachableError,
)
from hlmm.log_events import EVENTS

# every key `hlmm config check` lists for the built-in defaults (grows as options are added)
N_KEYS = len(_rows(Config()))

REPO = Path(__file__).resolve().parents[1]
KEY = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def temp_command():
    """Register a throwaway subcommand on the real group for one test."""
    added: list[str] = []

    def add(cmd: click.Command) -> None:
        cli.add_command(cmd)
        added.append(cmd.name)

    yield add
    for name in added:
        cli.commands.pop(name, None)


def run_hlmm(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k != "HLMM_CONFIG"}
    full_env.update(env or {}, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True, text=True, timeout=60,
                          cwd=cwd or REPO, env=full_env)


# ------------------------------------------------------------------ help and version


def test_version_and_help(runner):
    out = runner.invoke(cli, ["--version"])
    assert out.exit_code == 0 and out.output == f"hlmm, version {__version__}\n"
    out = runner.invoke(cli, ["--help"])
    assert out.exit_code == 0
    for option in ("--config FILE", "--log-file PATH", "--json"):
        assert option in out.output
    assert "Exit codes:" in out.output
    for code, meaning in EXIT_CODES:
        assert f"{int(code):>3}  {meaning}" in out.output


def test_every_exit_code_is_documented_and_errors_map_to_them():
    assert [code for code, _ in EXIT_CODES] == list(ExitCode)
    assert {int(c) for c in ExitCode} == {0, 1, 2, 3, 4, 5, 6, 7, 130}
    assert HlmmError("x").exit_code == 1 and InputError("x").exit_code == 1
    assert ConfigError("x").exit_code == 3
    assert VenueUnreachableError("x").exit_code == 4
    assert CriticalFindingsError("x").exit_code == 5
    assert KillSwitchError("x").exit_code == 6
    assert RefusedError("x").exit_code == 7


def test_usage_errors_exit_2(runner):
    out = runner.invoke(cli, ["config", "check", "--nope"])
    assert out.exit_code == ExitCode.USAGE == 2
    out = runner.invoke(cli, ["no-such-command"])
    assert out.exit_code == 2


def test_commands_are_registered_from_their_modules():
    assert "cli.config:config" in COMMANDS
    ctx = click.Context(cli)
    assert {"config"} <= set(cli.list_commands(ctx))
    assert set(cli.get_command(ctx, "config").commands) == {"check", "events"}


# ------------------------------------------------------------------- error reporting


@pytest.mark.parametrize("error, code", [
    (HlmmError("generic failure"), 1),
    (ConfigError("bad file"), 3),
    (VenueUnreachableError("no answer from http://127.0.0.1:3001"), 4),
    (CriticalFindingsError("2 critical findings"), 5),
    (KillSwitchError("max loss hit"), 6),
    (RefusedError("refusing mainnet", hint="set exchange.mainnet_confirmed = true"), 7),
])
def test_hlmm_errors_print_one_line_and_exit_with_their_code(runner, temp_command, error, code):
    @click.command("boom")
    def boom() -> None:
        raise error

    temp_command(boom)
    out = runner.invoke(cli, ["boom"])
    assert out.exit_code == code
    assert out.stdout == ""
    assert out.stderr == f"hlmm: error: {error}\n"
    assert "Traceback" not in out.output


def test_keyboard_interrupt_exits_130(runner, temp_command):
    @click.command("wait")
    def wait() -> None:
        raise KeyboardInterrupt

    temp_command(wait)
    out = runner.invoke(cli, ["wait"])
    assert out.exit_code == ExitCode.INTERRUPTED == 130
    assert out.stderr.strip() == "hlmm: interrupted"


def test_internal_errors_are_one_line_and_redacted(runner, temp_command, monkeypatch):
    @click.command("bug")
    def bug() -> None:
        raise ValueError(f"unexpected state with {KEY}")

    temp_command(bug)
    monkeypatch.delenv("HLMM_TRACEBACK", raising=False)
    out = runner.invoke(cli, ["bug"])
    assert out.exit_code == 1
    assert out.stderr.splitlines() == ["hlmm: internal error: ValueError: unexpected state with [REDACTED]",
                                       "hlmm: set HLMM_TRACEBACK=1 to see the traceback"]
    monkeypatch.setenv("HLMM_TRACEBACK", "1")
    out = runner.invoke(cli, ["bug"])
    assert "Traceback (most recent call last)" in out.stderr and KEY not in out.stderr


def test_global_options_reach_subcommands(runner, temp_command, tmp_path):
    @click.command("show")
    def show() -> None:
        s = state()
        click.echo(json.dumps({"config": str(s.config_path), "log": str(s.log_file), "json": s.json}))

    temp_command(show)
    out = runner.invoke(cli, ["--config", str(tmp_path / "x.toml"), "--log-file", "run.jsonl", "--json", "show"])
    assert json.loads(out.stdout) == {"config": str(tmp_path / "x.toml"), "log": "run.jsonl", "json": True}
    out = runner.invoke(cli, ["show"], env={"HLMM_CONFIG": "/etc/hlmm.toml"})
    assert json.loads(out.stdout) == {"config": "/etc/hlmm.toml", "log": "None", "json": False}


def test_log_file_option_overrides_the_config(runner, temp_command, tmp_path):
    from cli.common import load_cli_config, setup_logging
    from hlmm.log import get_logger, shutdown_logging

    @click.command("emit")
    def emit() -> None:
        setup_logging(load_cli_config())
        get_logger("engine").info("shutdown", reason="cli test")
        shutdown_logging()

    temp_command(emit)
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[logging]\nfile = "{tmp_path / "from_config.jsonl"}"\nconsole = "off"\n')
    out = runner.invoke(cli, ["--config", str(cfg), "--log-file", str(tmp_path / "cli.jsonl"), "emit"])
    assert out.exit_code == 0, out.output
    assert json.loads((tmp_path / "cli.jsonl").read_text())["reason"] == "cli test"
    assert not (tmp_path / "from_config.jsonl").exists()
    (tmp_path / "blocker").write_text("")
    out = runner.invoke(cli, ["--config", str(cfg), "--log-file", str(tmp_path / "blocker" / "y.jsonl"), "emit"])
    assert out.exit_code == 3
    assert out.stderr.startswith(f"hlmm: error: cannot open log file {tmp_path / 'blocker' / 'y.jsonl'}")


# ---------------------------------------------------------------------- config check


def test_config_check_prints_the_effective_config(runner, tmp_path):
    path = tmp_path / "hlmm.toml"
    path.write_text('[exchange]\nvenue = "testnet"\n[assets]\ncoins = ["BTC", "ETH"]\n'
                    '[assets.overrides.ETH.strategy]\nlevels_per_side = 3\n')
    out = runner.invoke(cli, ["config", "check", str(path)])
    assert out.exit_code == 0, out.output
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["KEY", "VALUE", "SOURCE"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:] if line and not line.startswith(str(path))}
    assert rows["exchange.venue"] == ['"testnet"', str(path)]
    assert rows["assets.coins"] == ['["BTC",', '"ETH"]', str(path)]
    assert rows["assets.overrides.ETH.strategy.levels_per_side"] == ["3", str(path)]
    assert rows["strategy.gamma"] == ["0.3", "default"]
    # the ETH override adds a row: 3 values set, the other N_KEYS + 1 - 3 are defaults
    assert lines[-1] == f"{path}: valid (3 values set in config files, {N_KEYS - 2} defaults)"


def test_config_check_json(runner, tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[exchange]\nvenue = "mainnet"\n')
    for args in (["config", "check", "--json", str(path)], ["--json", "config", "check", str(path)]):
        out = runner.invoke(cli, args)
        assert out.exit_code == 0
        doc = json.loads(out.stdout)
        assert doc["valid"] is True and doc["file"] == str(path)
        assert Config.from_dict(doc["config"]).exchange.venue == "mainnet"
        assert doc["sources"] == {"exchange.venue": str(path)}
        assert any("mainnet_confirmed is false" in w for w in doc["warnings"])


def test_config_check_errors_exit_3(runner, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[strategy]\ngama = 0.3\n[risk]\nkill_action = "halt"\n')
    out = runner.invoke(cli, ["config", "check", str(path)])
    assert out.exit_code == ExitCode.CONFIG
    assert out.stdout == ""
    assert out.stderr.splitlines() == [
        f"hlmm: error: {path}: 2 problems in the configuration",
        f'  {path}:2: strategy.gama: unknown key (did you mean "gamma"?)',
        f'  {path}:4: risk.kill_action = "halt": must be one of "stop", "reduce_only"',
    ]
    out = runner.invoke(cli, ["config", "check", "--json", str(path)])
    assert out.exit_code == 3
    assert json.loads(out.stdout) == {"file": str(path), "valid": False, "errors": [
        f'{path}:2: strategy.gama: unknown key (did you mean "gamma"?)',
        f'{path}:4: risk.kill_action = "halt": must be one of "stop", "reduce_only"',
    ]}
    out = runner.invoke(cli, ["config", "check", "--json", str(tmp_path / "missing.toml")])
    assert out.exit_code == 3
    assert json.loads(out.stdout)["errors"] == [f"config file not found: {tmp_path / 'missing.toml'}"]


def test_config_check_finds_the_file(runner, tmp_path):
    with runner.isolated_filesystem(temp_dir=tmp_path):
        out = runner.invoke(cli, ["config", "check"], env={"HLMM_CONFIG": None})
        assert out.exit_code == 0 and out.stdout.splitlines()[-1].startswith("no config file")
        Path("hlmm.toml").write_text("[risk]\nleverage = 2\n")
        out = runner.invoke(cli, ["config", "check"], env={"HLMM_CONFIG": None})
        assert out.stdout.splitlines()[-1] == f"hlmm.toml: valid (1 value set in config files, {N_KEYS - 1} defaults)"
        Path("other.toml").write_text("[risk]\nleverage = 0\n")
        out = runner.invoke(cli, ["config", "check"], env={"HLMM_CONFIG": "other.toml"})
        assert out.exit_code == 3 and "other.toml:2: risk.leverage = 0" in out.stderr
        out = runner.invoke(cli, ["--config", "hlmm.toml", "config", "check"], env={"HLMM_CONFIG": "other.toml"})
        assert out.exit_code == 0


def test_config_check_shows_included_fragment_sources(runner, tmp_path):
    (tmp_path / "calibrated.toml").write_text(dump_fragment({"strategy": {"alpha_touch": 0.3}}))
    main = tmp_path / "hlmm.toml"
    main.write_text('include = ["calibrated.toml"]\n')
    out = runner.invoke(cli, ["config", "check", str(main)])
    row = next(line for line in out.stdout.splitlines() if line.startswith("strategy.alpha_touch"))
    assert row.split() == ["strategy.alpha_touch", "0.3", str(tmp_path / "calibrated.toml")]


def test_config_check_never_echoes_a_key(runner, tmp_path):
    path = tmp_path / "leak.toml"
    path.write_text(f'[exchange]\nprivate_key = "0x{KEY}"\n')
    out = runner.invoke(cli, ["config", "check", str(path)])
    assert out.exit_code == 3
    assert "looks like a private key" in out.stderr and "HLMM_PRIVATE_KEY" in out.stderr
    assert KEY not in out.output


def test_the_example_file_checks_clean(runner):
    out = runner.invoke(cli, ["config", "check", str(REPO / "examples" / "hlmm.toml")])
    assert out.exit_code == 0
    assert "warning:" not in out.stdout


# --------------------------------------------------------------------- config events


def test_config_events_lists_the_contract(runner):
    out = runner.invoke(cli, ["config", "events", "--json"])
    assert out.exit_code == 0
    doc = json.loads(out.stdout)
    assert set(doc) == set(EVENTS)
    assert doc["untracked_fill"]["component"] == "engine.fills"
    assert "cause" in doc["untracked_fill"]["fields"]
    out = runner.invoke(cli, ["config", "events"])
    lines = out.stdout.splitlines()
    assert lines[0].split()[:3] == ["EVENT", "COMPONENT", "STREAM"]
    assert len(lines) == len(EVENTS) + 1
    fill = next(line for line in lines if line.startswith("fill "))
    assert fill.split()[1:3] == ["engine.fills", "ops"] and "[tid oid cloid" in fill


def test_config_events_component_filter(runner):
    out = runner.invoke(cli, ["--json", "config", "events", "--component", "exchange.ws"])
    names = set(json.loads(out.stdout))
    assert "ws_connected" in names and "error" in names  # '*' events belong to every component
    assert "fill" not in names


# ------------------------------------------------------------------------ subprocess


def test_subprocess_exit_codes_and_streams(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[strategy]\ngamma = \n")
    done = run_hlmm("config", "check", str(bad))
    assert done.returncode == 3
    assert done.stdout == ""
    assert done.stderr == f"hlmm: error: {bad}:2:9: TOML syntax error: Invalid value\n"
    done = run_hlmm("config", "check", str(REPO / "examples" / "hlmm.toml"))
    # examples/hlmm.toml sets every key: a new option must be documented there too
    assert done.returncode == 0 and done.stdout.splitlines()[-1].endswith(f"valid ({N_KEYS} values set in config "
                                                                          "files, 0 defaults)")
    done = run_hlmm("--bogus")
    assert done.returncode == 2 and "No such option" in done.stderr
    done = run_hlmm("--help")
    assert done.returncode == 0 and "130  interrupted" in done.stdout


def test_a_closed_pipe_is_not_an_error():
    env = {k: v for k, v in os.environ.items() if k != "HLMM_CONFIG"}
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line (like `| head -0`): deterministic EPIPE
    try:
        done = subprocess.run([sys.executable, "-m", "cli.main", "config", "events"], cwd=REPO, env=env,
                              stdout=write_end, stderr=subprocess.PIPE, timeout=60)
    finally:
        os.close(write_end)
    assert done.returncode == 1
    assert done.stderr == b""


def test_installed_entry_point(tmp_path):
    done = subprocess.run(["hlmm", "config", "check", "--json"], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path, env={k: v for k, v in os.environ.items() if k != "HLMM_CONFIG"})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["config"] == Config().to_dict()
