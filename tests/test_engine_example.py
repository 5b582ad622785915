"""examples/engine_core.py runs and ends with the engine agreeing with the exchange."""
from __future__ import annotations

import runpy
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "engine_core.py"


def test_engine_core_example_runs(capsys):
    runpy.run_path(str(EXAMPLE), run_name="__main__")
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "cycle 1: {'keep': 0, 'modify': 0, 'cancel': 0, 'place': 6}"
    assert out[2] == "cycle 2 (same market): {'keep': 6, 'modify': 0, 'cancel': 0, 'place': 0}"
    assert out[5] == "position: engine 150 lots, exchange szi 0.0015 -> True"
    assert "address requests used 11 of 10149" in out[6] and "'nRequestsUsed': 11" in out[6]
