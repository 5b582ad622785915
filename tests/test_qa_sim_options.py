"""QA: `hlmm sim` options and sim settings that are not finite or not representable are usage
errors (exit 2, one line), never an internal error or a silently ignored NaN."""
from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hlmm.sim.config import AssetConfig, SimConfig, SimConfigError
from hlmm.sim.faults import FaultConfigError, TransportFaults

ADDR = "0x" + "ab" * 20
REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("args", [
    ["--demo-fund", "nan"], ["--push-drop-prob", "nan"], ["--assets", "X:2:5:1e300"], ["--assets", "X:2:5:1e-300"],
])
def test_non_finite_or_unrepresentable_option_is_a_usage_error(args: list[str]) -> None:
    # a subprocess with a timeout: an accepted option would start a sim that runs until killed
    env = {k: v for k, v in os.environ.items() if k != "HLMM_CONFIG"}
    env["PYTHONPATH"] = str(REPO)
    proc = subprocess.run([sys.executable, "-m", "cli.main", "sim", "--port", "0", *args], capture_output=True,
                          text=True, timeout=60, cwd=REPO, env=env)
    assert proc.returncode == 2, proc.stderr
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stdout == ""


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("key", ["push_drop_prob", "push_delay_ms", "drop_ws_every_s", "push_drop_every",
                                 "http_429_next"])
def test_fault_settings_must_be_finite(key: str, value: float) -> None:
    faults = TransportFaults()
    before = faults.to_dict()
    with pytest.raises(FaultConfigError, match=key):
        faults.update({key: value})
    assert faults.to_dict() == before


@pytest.mark.parametrize("field", ["min_notional_usd", "schedule_cancel_min_volume_usd"])
@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_sim_config_money_must_be_finite(field: str, value: float) -> None:
    with pytest.raises(SimConfigError, match=field):
        SimConfig(**{field: value}).validate()


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_demo_account_funds_must_be_finite(value: float) -> None:
    with pytest.raises(SimConfigError, match="demo_accounts"):
        SimConfig(demo_accounts={ADDR: value}).validate()


@pytest.mark.parametrize("start_px", [1e-300, 1e-5, 1e12, 1e300])
def test_start_price_must_be_on_a_representable_price_grid(start_px: float) -> None:
    # sz_decimals 2 -> 4 price decimals: one unit is 0.0001; 2**53 units is about 9e11
    with pytest.raises(SimConfigError, match="start_px"):
        AssetConfig("X", 2, 5, start_px).validate()


def test_real_start_prices_still_pass() -> None:
    for px in (1e-4, 0.5, 100_000.0, 9e11):
        AssetConfig("X", 2, 5, px).validate()
    AssetConfig("BTC", 5, 40, 100_000.0).validate()
