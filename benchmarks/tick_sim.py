"""An instrumented ``hlmm sim`` for the tick-to-order benchmark (run as a script, not a test).

    python benchmarks/tick_sim.py RECORDS_FILE [--assets BTC] [--seed N] [--fund ADDRESS=USDC]

Serves the sim with its synthetic market on a free loopback port and prints one JSON ready line.
It appends one JSON line per event to RECORDS_FILE, timed with ``time.monotonic_ns()`` (the
system-wide monotonic clock, comparable across processes on Linux):

* ``{"e": "book", "coin": ..., "t": <exchange ms of the snapshot>, "ns": ...}`` when an l2Book
  snapshot is queued to a subscriber (the writer sends it on the next loop turn);
* ``{"e": "post", "id": <post id>, "kind": "info"|"action", "type": ..., "ns": ...}`` when a
  WebSocket post arrives, before the exchange handles it.

SIGTERM stops it.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import orjson

from hlmm.sim import server as sim_server
from hlmm.sim.market_setup import synthetic_market
from hlmm.sim.runner import parse_fund, run_sim
from hlmm.sim.server import ServerOptions


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("records")
    ap.add_argument("--assets", default="BTC")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fund", action="append", default=[])
    ap.add_argument("--kappa", type=float, default=0.25)
    args = ap.parse_args()
    out = open(args.records, "ab", buffering=0)

    def record(obj: dict) -> None:
        out.write(orjson.dumps(obj) + b"\n")

    Server = sim_server.SimServer
    orig_push = Server._push
    orig_post = Server._post

    def push(self, conn, text):
        if text.startswith('{"channel":"l2Book"'):
            data = orjson.loads(text)["data"]
            record({"e": "book", "coin": data["coin"], "t": data["time"], "ns": time.monotonic_ns()})
        orig_push(self, conn, text)

    def post(self, conn, msg):
        ns = time.monotonic_ns()
        request = msg.get("request") or {}
        payload = request.get("payload") or {}
        kind = (payload.get("action") or {}).get("type") if request.get("type") == "action" else payload.get("type")
        record({"e": "post", "id": msg.get("id"), "kind": request.get("type"), "type": kind, "ns": ns})
        orig_post(self, conn, msg)

    Server._push = push
    Server._post = post
    coins = [a for a in args.assets.split(",") if a]
    fund = dict(parse_fund(f) for f in args.fund)

    def ready(info) -> None:
        print(json.dumps({"status": "ready", "url": info.url, "port": info.port}), flush=True)

    run_sim("127.0.0.1", 0, args.seed, coins, fund, demo_fund=0,
            options=ServerOptions(l2_book_interval_ms=200, clock_interval_ms=10),
            market=synthetic_market(coins, kappa=args.kappa), on_ready=ready, handle_signals=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
