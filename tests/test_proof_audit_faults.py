"""Proof that ``hlmm audit`` reports the faults a real session lived through, with the right counts.

One real engine session (the in-process ``Engine``, as ``hlmm trade`` runs it) against the real sim
subprocess, its JSON-lines log written by hlmm's own ``FileSink``. Faults are injected through
``POST /sim/control`` on a schedule measured from the first quote:

* 2 s: ``reject_next_orders`` N = 4 — the exchange refuses the next 4 signed orders;
* 6 s and 12 s: ``drop_ws_now`` — the sim closes every WebSocket (K = 2 drops);
* 18 s: ``freeze_book`` — the book stops updating; the engine must see a stale book and fire the
  kill switch (``risk.stale_book_s`` = 3 s). The book is thawed 3 s after the kill so the
  shutdown's cancels go through.

Then the real CLI, ``hlmm audit --json LOG``, audits the file, and its counts are compared with
the truth read from the sim itself (``GET /sim/control``: ``exchange_faults.rejected`` = orders
the exchange actually refused by the injected fault, ``stats.ws_dropped_by_fault`` and
``stats.ws_connections`` = WebSockets the sim closed / accepted), never with counts read from the log.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from hlmm.engine.engine import Engine
from hlmm.errors import ExitCode
from hlmm.exchange.keys import Credentials
from hlmm.log import FileSink, add_sink, remove_sink
from hlmm.sim.errors import FAULT_REJECT, FROZEN
from tests.trade_helpers import start_sim, trade_config

REPO = Path(__file__).resolve().parent.parent

N_REJECTS = 4
DROP_TIMES = (6.0, 12.0)
FREEZE_AT = 18.0


class Schedule:
    """Applies the faults at fixed times after the engine's first quote (driven by its status tick)."""

    def __init__(self, sim) -> None:
        self.sim = sim
        self.t0: float | None = None
        self.done: set[str] = set()
        self.drop_answers: list[dict] = []
        self.kill_at: float | None = None
        self.thawed = False
        self.steps = [(2.0, "rejects", {"reject_next_orders": N_REJECTS})]
        self.steps += [(t, f"drop{i}", {"drop_ws_now": True}) for i, t in enumerate(DROP_TIMES)]
        self.steps.append((FREEZE_AT, "freeze", {"freeze_book": True}))

    def __call__(self, status) -> None:
        if self.t0 is None:
            if status.open_orders:
                self.t0 = time.monotonic()
            return
        t = time.monotonic() - self.t0
        for at, name, settings in self.steps:
            if t >= at and name not in self.done:
                self.done.add(name)
                answer = self.sim.control(settings)
                if name.startswith("drop"):
                    self.drop_answers.append(answer)
        if status.kill_switch and self.kill_at is None:
            self.kill_at = time.monotonic()

    def thaw_when_due(self) -> None:
        if self.kill_at is not None and not self.thawed and time.monotonic() - self.kill_at >= 3:
            self.thawed = True
            self.sim.control({"freeze_book": False})


def audit_json(log: Path) -> tuple[int, dict]:
    env = {k: v for k, v in os.environ.items() if k not in ("HLMM_PRIVATE_KEY", "HLMM_CONFIG")}
    env["PYTHONPATH"] = str(REPO)
    proc = subprocess.run([sys.executable, "-m", "cli.main", "audit", "--json", str(log)], cwd=log.parent,
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode in (0, 5), proc.stderr[-2000:]
    return proc.returncode, json.loads(proc.stdout)


def test_audit_reports_each_injected_fault_with_the_sims_count(tmp_path):
    log = Path(os.environ.get("PROOF_LOG_DIR", tmp_path)) / "mm.log"
    sim = start_sim(("BTC",), seed=31)
    sink = FileSink(log, max_bytes=0)
    add_sink(sink)
    try:
        cfg = trade_config(risk={"stale_book_s": 3.0, "max_disconnected_s": 10.0})
        engine = Engine(cfg, sim.url, Credentials(sim.wallet), venue="sim proof")
        sched = Schedule(sim)
        engine.on_status(sched)
        engine.loop.call_every(0.5, sched.thaw_when_due)
        summary = engine.run(75)
        truth = sim.control({})
    finally:
        remove_sink(sink)
        sim.stop()

    assert sched.done == {"rejects", "drop0", "drop1", "freeze"}
    # the sim's own account of what it did
    rejected_by_sim = truth["exchange_faults"]["rejected"]
    assert rejected_by_sim == N_REJECTS, truth          # every injected rejection was consumed by an order
    drops_by_sim = truth["stats"]["ws_dropped_by_fault"]
    assert [a["dropped"] for a in sched.drop_answers] == [1, 1], sched.drop_answers  # one engine socket each time
    assert drops_by_sim == len(DROP_TIMES)
    # every accepted connection but the first is a reconnect (the sim closed nothing else)
    assert truth["stats"]["ws_idle_closed"] == 0 and truth["stats"]["ws_slow_closed"] == 0
    reconnects_by_sim = truth["stats"]["ws_connections"] - 1
    assert reconnects_by_sim == drops_by_sim
    assert summary.exit_code == ExitCode.KILL_SWITCH and summary.stop_reason == "kill_switch"

    code, report = audit_json(log)
    assert code == 5                                      # the kill switch is critical
    session = report["sessions"][0] if "sessions" in report else report["session"]
    text = json.dumps(session)
    findings = {f["id"]: f for f in report["findings"]}

    # N rejections: the fault's reason counted exactly N times; nothing else was rejected before the freeze
    orders = _find(session, "rejected_by_reason")
    assert orders[FAULT_REJECT] == rejected_by_sim, orders
    assert set(orders) <= {FAULT_REJECT, FROZEN}, orders
    rej = findings.get("orders_rejected") or findings.get("reject_storm")
    assert rej is not None and FAULT_REJECT in json.dumps(rej), findings.keys()

    # K drops: reconnects = the drops the engine experienced, as the sim counted them
    assert _find(session, "reconnects") == reconnects_by_sim, text[:2000]
    assert findings["reconnects"]["count"] == reconnects_by_sim

    # the frozen book: a stale-data finding and the kill switch on a stale book
    assert "stale_data" in findings, list(findings)
    assert findings["stale_data"]["severity"] == "warning"
    assert findings["kill_switch"]["severity"] == "critical" and findings["kill_switch"]["count"] == 1
    assert _find(session, "kill_switch") == {"stale_book": 1}


def _find(obj, key):
    """The value of ``key`` anywhere in a nested JSON document (the first found, depth first)."""
    if isinstance(obj, dict):
        if key in obj:
            return obj[key]
        for v in obj.values():
            found = _find(v, key)
            if found is not None:
                return found
    elif isinstance(obj, list):
        for v in obj:
            found = _find(v, key)
            if found is not None:
                return found
    return None
