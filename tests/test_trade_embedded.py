"""The embedded sim: its own process on a free port, a throwaway key funded by address only."""
from __future__ import annotations

import os

import pytest

from hlmm.errors import VenueUnreachableError
from hlmm.exchange.http import InfoClient
from hlmm.sim.embedded import EmbeddedSim


def test_embedded_sim_funds_a_throwaway_key_and_stops_cleanly(monkeypatch):
    monkeypatch.setenv("HLMM_PRIVATE_KEY", "0x" + "11" * 32)       # must not reach the child
    sim = EmbeddedSim(assets=("BTC", "ETH"), seed=5, fund_usdc=2_500)
    try:
        sim.start()
        assert sim.running and sim.url.startswith("http://127.0.0.1:")
        assert "demo_key" not in sim.ready
        argv = " ".join(sim.argv())
        assert sim.address.lower() in argv and "11" * 32 not in argv
        with open(f"/proc/{sim.proc.pid}/environ", "rb") as f:
            env = f.read()
        assert b"HLMM_PRIVATE_KEY" not in env
        assert os.getsid(sim.proc.pid) != os.getsid(0)           # its own session: Ctrl-C does not reach it
        info = InfoClient(sim.url)
        state = info.clearinghouse_state(sim.address)
        assert state["marginSummary"]["accountValue"] == "2500.0"
        assert {a["name"] for a in info.meta()["universe"]} == {"BTC", "ETH"}
        assert sim.control({"push_dup_prob": 0.0})["status"] == "ok"
        info.close()
    finally:
        code = sim.stop()
    assert code == 0
    assert not sim.running


def test_a_sim_that_cannot_start_is_reported_with_its_stderr():
    sim = EmbeddedSim(assets=("NOPE",), ready_timeout_s=20)
    with pytest.raises(VenueUnreachableError) as err:
        sim.start()
    assert "exited before it was ready" in str(err.value)
    assert "unknown asset" in str(err.value)
    assert not sim.running


def test_repr_never_shows_the_key():
    sim = EmbeddedSim()
    assert sim.address in repr(sim) and "not started" in repr(sim)
