"""``hlmm trade`` as a user runs it: the real CLI in a subprocess, against the embedded sim."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

FAST_CONFIG = """
[strategy]
spread_floor_bps = 4.0
levels_per_side = 3

[strategy.warmup]
min_seconds = 3.0
min_trades = 3
min_book_updates = 5

[rate]
safety_sync_interval_s = 5.0

[calibration]
learned_file = "learned.toml"
"""


def hlmm(*args: str, cwd: Path, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k not in ("HLMM_PRIVATE_KEY", "HLMM_CONFIG")}
    full_env.update(PYTHONUNBUFFERED="1", **(env or {}))
    full_env["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout)


def test_first_command_trades_on_the_embedded_sim_and_reports(tmp_path):
    (tmp_path / "hlmm.toml").write_text(FAST_CONFIG)
    proc = hlmm("trade", "--duration", "25", "--json", "--sim-seed", "3", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)
    assert summary["stop_reason"] == "duration" and summary["exit_code"] == 0
    assert summary["open_orders_at_exit"] == 0 and summary["cancel_all_confirmed"] is True
    assert summary["fills"] > 0
    btc = summary["assets"][0]
    assert btc["coin"] == "BTC" and summary["orders"]["BTC"]["placed"] > 0
    assert summary["position_mismatches"] == 0 and summary["loop_errors"] == 0
    # the JSON-lines log has the documented events, and the learned parameters were saved
    events = [json.loads(line) for line in (tmp_path / "logs" / "hlmm.jsonl").read_text().splitlines()]
    names = {e["event"] for e in events}
    assert {"session_start", "fill", "safety_sync", "session_summary", "shutdown_cancel_all"} <= names
    assert (tmp_path / "learned.toml").is_file()
    assert "embedded sim at http://127.0.0.1:" in proc.stderr


def test_plain_status_lines_when_stdout_is_not_a_terminal(tmp_path):
    (tmp_path / "hlmm.toml").write_text(FAST_CONFIG)
    log = tmp_path / "x.jsonl"
    proc = hlmm("trade", "--duration", "8", "--asset", "ETH", "--log-file", str(log), "--sim-seed", "4",
                cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    status = [line for line in proc.stdout.splitlines() if line.startswith("status ")]
    assert len(status) >= 5
    assert all("ETH mid=" in line for line in status)
    assert "\x1b[" not in proc.stdout
    assert "hlmm trade session summary" in proc.stdout and "open orders at exit: 0" in proc.stdout
    assert log.is_file() and not (tmp_path / "logs").exists()


def test_sigint_cancels_everything_and_exits_130(tmp_path):
    (tmp_path / "hlmm.toml").write_text(FAST_CONFIG)
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=str(REPO))
    env.pop("HLMM_PRIVATE_KEY", None)
    proc = subprocess.Popen([sys.executable, "-m", "cli.main", "trade", "--json", "--sim-seed", "5"], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = tmp_path / "logs" / "hlmm.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:   # wait until it quotes
        if log.is_file() and '"event":"order_resting"' in log.read_text():
            break
        time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-3000:]
    summary = json.loads(out)
    assert summary["stop_reason"] == "SIGINT"
    assert summary["open_orders_at_exit"] == 0 and summary["cancel_all_confirmed"] is True
    assert "Traceback" not in err


def test_mainnet_without_confirmation_is_refused(tmp_path):
    proc = hlmm("trade", "--venue", "mainnet", cwd=tmp_path, env={"HLMM_PRIVATE_KEY": "0x" + "11" * 32})
    assert proc.returncode == 7
    assert "refusing to trade on mainnet" in proc.stderr and "--confirm-mainnet" in proc.stderr
    assert "11" * 32 not in proc.stderr + proc.stdout


def test_a_real_venue_needs_a_key(tmp_path):
    proc = hlmm("trade", "--venue", "testnet", cwd=tmp_path)
    assert proc.returncode == 3
    assert "HLMM_PRIVATE_KEY" in proc.stderr and "Traceback" not in proc.stderr


def test_an_unreachable_venue_exits_4(tmp_path):
    proc = hlmm("trade", "--venue", "http://127.0.0.1:9", cwd=tmp_path, env={"HLMM_PRIVATE_KEY": "0x" + "22" * 32})
    assert proc.returncode == 4, proc.stderr
    assert "cannot reach http://127.0.0.1:9" in proc.stderr


@pytest.mark.parametrize("args,text", [
    (("--asset", "NOPE"), "the embedded sim does not list NOPE"),
    (("--duration", "-1"), "--duration"),
    (("--venue", "mainet"), "did you mean"),
])
def test_bad_options_are_usage_errors(tmp_path, args, text):
    proc = hlmm("trade", *args, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert text in proc.stderr and "Traceback" not in proc.stderr


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_metrics_are_served_while_trading(tmp_path):
    import urllib.request
    (tmp_path / "hlmm.toml").write_text(FAST_CONFIG)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("HLMM_PRIVATE_KEY", "HLMM_CONFIG")}
    env.update(PYTHONUNBUFFERED="1", PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "cli.main", "trade", "--duration", "20", "--json",
                             "--metrics-port", str(port), "--sim-seed", "6"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    body = ""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and 'hlmm_levels_quoted{coin="BTC",side="bid"}' not in body:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                body = r.read().decode()
                ctype = r.headers["Content-Type"]
        except OSError:
            time.sleep(0.5)
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err[-2000:]
    assert ctype.startswith("text/plain")
    for series in ("hlmm_position{coin=\"BTC\"}", "hlmm_pnl_usd{coin=\"BTC\",component=\"total\"}",
                   "hlmm_rate_headroom_fraction", "hlmm_loop_busy_seconds_bucket", "hlmm_ws_connected 1.0"):
        assert series in body, series
    assert f"metrics at http://127.0.0.1:{port}/metrics" in err
