"""Loopback tick-to-order latency: the sim publishes a book → the sim receives the resulting action.

Both ends are timed *inside the sim process* (``benchmarks/tick_sim.py``, an instrumented
``hlmm sim`` with the synthetic market): the moment an l2Book snapshot is queued to the engine's
WebSocket, and the moment a post arrives. The engine runs in this process (its own process,
as in production) and tells which book each quote cycle quoted on and which post ids it sent,
so every pair is a real cause and effect:

    book published (sim) → frame received, book applied, quote cycle (snapshot → ladder →
    reconcile → gates → cloids → sign) → WebSocket post → action received (sim)

Baseline in the same run (the transport floor): a bare client on the same sim that answers every
l2Book frame at once with a WebSocket post (an ``allMids`` info request: no decode of the book,
no model, no signature). The ratio says what hlmm's processing adds on top of two loopback hops.

p50/p99 are reported in ``extra_info`` (never asserted):
``pytest benchmarks/bench_tick_to_order.py --benchmark-enable -q -s``.
"""
from __future__ import annotations

import json
import os
import selectors
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from hlmm.config import Config
from hlmm.engine.engine import Engine
from hlmm.exchange.keys import Credentials, Wallet
from hlmm.exchange.ws import WsClient

REPO = Path(__file__).resolve().parent.parent
SESSION_S = float(os.environ.get("HLMM_BENCH_TICK_S", "25"))


class TickSim:
    """benchmarks/tick_sim.py in a subprocess; ``records()`` reads what it timed."""

    def __init__(self, fund_address: str) -> None:
        self.dir = tempfile.TemporaryDirectory(prefix="hlmm-tick-")
        self.path = Path(self.dir.name) / "records.jsonl"
        env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, str(REPO / "benchmarks" / "tick_sim.py"), str(self.path), "--seed", "9",
             "--fund", f"{fund_address.lower()}=10000"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True, env=env, start_new_session=True)
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        if not sel.select(30):
            self.proc.kill()
            raise RuntimeError("the instrumented sim did not start")
        self.url = json.loads(self.proc.stdout.readline())["url"]

    def records(self) -> list[dict]:
        return [json.loads(line) for line in self.path.read_text().splitlines() if line]

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(15)
        self.dir.cleanup()


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return {"n": len(ordered), "p50_us": round(statistics.median(ordered) / 1e3, 1), "p99_us": round(p99 / 1e3, 1),
            "mean_us": round(statistics.fmean(ordered) / 1e3, 1)}


def engine_session(seconds: float) -> dict[str, float]:
    """Run the engine against the instrumented sim; latencies of book-triggered actions."""
    wallet = Wallet.generate()
    sim = TickSim(wallet.address)
    try:
        cfg = Config.from_dict({
            "strategy": {"spread_floor_bps": 4.0, "min_requote_interval_ms": 10,
                         "warmup": {"min_seconds": 2, "min_trades": 2, "min_book_updates": 3}},
            "calibration": {"learned_file": ""}, "logging": {"file": ""}})
        engine = Engine(cfg, sim.url, Credentials(wallet), venue="bench")
        caused: dict[int, tuple[str, int]] = {}     # post id -> (coin, book time) it answered
        inside: list[int] = []                      # frame received -> actions sent, in this process

        def on_cycle(out):
            if out.tick_ns is not None and out.post_ids:
                inside.append(time.monotonic_ns() - out.tick_ns)
                for pid in out.post_ids:
                    if isinstance(pid, int):
                        caused[pid] = (out.coin, out.book_time_ms)

        engine.on_cycle(on_cycle)
        engine.run(seconds)
        records = sim.records()
    finally:
        sim.stop()
    published = {(r["coin"], r["t"]): r["ns"] for r in records if r["e"] == "book"}
    latencies = []
    for r in records:
        if r["e"] == "post" and r["kind"] == "action" and r["id"] in caused:
            pub = published.get(caused[r["id"]])
            if pub is not None:
                latencies.append(r["ns"] - pub)
    out = _percentiles(latencies)
    out.update({f"inside_{k}": v for k, v in _percentiles(inside).items() if k != "n"})
    return out


def floor_session(seconds: float) -> dict[str, float]:
    """A bare client that posts the moment each l2Book frame arrives (the transport floor)."""
    sim = TickSim(Wallet.generate().address)
    sent: dict[int, int] = {}
    try:
        ws = WsClient(sim.url)
        book_times: list[int] = []

        def on_book(raw: bytes) -> None:
            i = raw.find(b'"time":')
            t = int(raw[i + 7:raw.find(b",", i)])
            post = ws.post_info({"type": "allMids"})
            sent[post.id] = t
            book_times.append(t)

        ws.on("l2Book", on_book, raw=True)
        ws.subscribe({"type": "l2Book", "coin": "BTC"})
        ws.connect()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ws.wait(0.2)
        ws.close()
        records = sim.records()
    finally:
        sim.stop()
    published = {r["t"]: r["ns"] for r in records if r["e"] == "book"}
    latencies = [r["ns"] - published[sent[r["id"]]] for r in records
                 if r["e"] == "post" and r["id"] in sent and sent[r["id"]] in published]
    return _percentiles(latencies)


@pytest.mark.slow
def test_tick_to_order_loopback(benchmark):
    results = {}

    def run():
        results["engine"] = engine_session(SESSION_S)
        results["floor"] = floor_session(min(SESSION_S, 10.0))
        return results

    benchmark.group = "tick-to-order"
    benchmark.pedantic(run, rounds=1, iterations=1)
    eng, floor = results["engine"], results["floor"]
    assert eng["n"] > 0 and floor["n"] > 0
    info = {f"engine_{k}": v for k, v in eng.items()}
    info.update({f"floor_{k}": v for k, v in floor.items()})
    info["p50_ratio_vs_floor"] = round(eng["p50_us"] / floor["p50_us"], 2)
    benchmark.extra_info.update(info)
    print("\ntick-to-order (sim publishes a book -> sim receives the action):", json.dumps(info))
