"""examples/embed_engine.py runs as documented: a custom strategy and callbacks on the real sim."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def test_embed_engine_example_runs_against_the_sim(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "HLMM_PRIVATE_KEY"}
    env.update(PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
    proc = subprocess.run([sys.executable, str(REPO / "examples" / "embed_engine.py"), "20"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    fills = [line for line in out.splitlines() if line.startswith("fill   BTC")]
    assert fills, out[-2000:]
    statuses = [line for line in out.splitlines() if line.startswith("status running")]
    assert statuses
    # at most one order a side: the custom strategy's target, not the model's five-level ladder
    assert all("orders 1/1" in line or "orders 0/1" in line or "orders 1/0" in line for line in statuses)
    assert "open orders at exit: 0 (all cancels confirmed)" in out
    assert "stopped by duration, exit code 0" in out
