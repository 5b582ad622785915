"""The long fault soak: ``hlmm sim`` and ``hlmm trade`` (the real commands) for N minutes of faults.

    python examples/soak.py --minutes 10 [--workdir DIR]

1. starts ``hlmm sim`` (synthetic market) with WebSocket drops every 30 s and duplicated and
   delayed pushes;
2. runs ``hlmm trade --venue <the sim's URL>`` with the sim's demo key (from the ready line;
   a throwaway key) and a JSON-lines log;
3. every minute injects, through ``POST /sim/control``: 3 rejected orders, 5 HTTP 429s, and post
   replies delayed past the request timeout for 20 s;
4. 45 s before the end freezes the book: the stale book pulls the quotes, the kill switch fires
   (exit code 6) and the book thaws 20 s later so the shutdown's cancels go through;
5. checks the outcome against the sim's own answers and prints a report; exits 1 if a check failed.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

CONFIG = """
[strategy]
spread_floor_bps = 6.0

[strategy.warmup]
min_seconds = 15.0

[risk]
# the injected rejects (3 a minute) plus what a frozen book refuses must not fire the reject-storm
# kill before the stale-book one this run is about
reject_storm_count = 100

[rate]
safety_sync_interval_s = 15.0

[calibration]
report_interval_s = 60.0
learned_file = ""
"""


def post(url: str, path: str, body: dict) -> dict:
    req = urllib.request.Request(url + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    for attempt in range(20):             # the sim's injected 429s also hit this script
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as exc:
            if exc.code != 429:
                raise
            time.sleep(0.5)
    raise RuntimeError(f"{path} kept answering 429")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--workdir", default="soak-run")
    args = ap.parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    (work / "hlmm.toml").write_text(CONFIG)
    env = {k: v for k, v in os.environ.items() if k not in ("HLMM_PRIVATE_KEY", "HLMM_CONFIG")}
    env["PYTHONUNBUFFERED"] = "1"
    sim = subprocess.Popen(
        ["hlmm", "sim", "--port", "0", "--json", "--seed", "7", "--assets", "BTC", "--market", "synthetic",
         "--kappa", "0.25", "--book-interval-ms", "200", "--drop-ws-every", "30", "--push-dup-prob", "0.05",
         "--push-delay-prob", "0.05", "--push-delay-ms", "300"],
        cwd=work, env=env, stdout=subprocess.PIPE, stderr=open(work / "sim.stderr", "w"), text=True)
    ready = json.loads(sim.stdout.readline())
    url = ready["url"]
    user = ready["demo_address"].lower()
    total_s = args.minutes * 60
    trade = subprocess.Popen(
        ["hlmm", "trade", "--venue", url, "--json", "--log-file", "soak.jsonl"], cwd=work,
        env=dict(env, HLMM_PRIVATE_KEY=ready["demo_key"]), stdout=subprocess.PIPE,
        stderr=open(work / "trade.stderr", "w"), text=True)
    started = time.monotonic()
    injected: Counter = Counter()
    freeze_at = total_s - 45
    frozen = thawed = False
    next_round = 60.0
    slow_until = None
    try:
        while trade.poll() is None:
            t = time.monotonic() - started
            if t >= next_round and t < freeze_at - 30:
                post(url, "/sim/control", {"reject_next_orders": 3, "http_429_next": 5, "post_delay_ms": 12000})
                injected.update({"rejects": 3, "429s": 5, "slow_post_windows": 1})
                slow_until = t + 20
                next_round += 60
            if slow_until is not None and t >= slow_until:
                post(url, "/sim/control", {"post_delay_ms": 0})
                slow_until = None
            if not frozen and t >= freeze_at:
                post(url, "/sim/control", {"drop_ws_every_s": 0, "push_dup_prob": 0, "push_delay_prob": 0,
                                           "freeze_book": True})
                frozen = True
            if frozen and not thawed and t >= freeze_at + 20:
                post(url, "/sim/control", {"freeze_book": False})
                thawed = True
            if t > total_s + 120:
                trade.terminate()
            time.sleep(0.5)
        out = trade.stdout.read()
        code = trade.returncode
        state = post(url, "/sim/control", {})
        fills = post(url, "/info", {"type": "userFills", "user": user})
        left = post(url, "/info", {"type": "openOrders", "user": user})
    finally:
        if trade.poll() is None:
            trade.kill()
        sim.terminate()
        sim.wait(15)
    summary = json.loads(out)
    events = Counter()
    seen = set()
    dup_fills = 0
    for line in (work / "soak.jsonl").read_text().splitlines():
        rec = json.loads(line)
        events[rec["event"]] += 1
        if rec["event"] == "fill":
            key = (rec["tid"], rec["oid"])
            dup_fills += key in seen
            seen.add(key)
    checks = {
        "exit code 6 (kill switch on the frozen book)": code == 6 and summary["kill_switch"].startswith("stale_book"),
        "fills logged == the exchange's userFills": seen == {(f["tid"], f["oid"]) for f in fills},
        "no fill counted twice": dup_fills == 0,
        "no position mismatch at any sync": events["position_mismatch"] == 0 and summary["position_mismatches"] == 0,
        "nothing open at exit (the exchange says)": left == [] and summary["open_orders_at_exit"] == 0,
        "every WebSocket drop resynced": summary["resyncs"] >= summary["reconnects"] > 0,
        "PnL split adds up to the account value change": abs(summary["pnl"]["total"] - summary["account_change_usd"])
        <= 1e-6 * (len(fills) + 1),
    }
    report = {
        "minutes": round((time.monotonic() - started) / 60, 2), "exit_code": code, "fills": len(fills),
        "reconnects": summary["reconnects"], "resyncs": summary["resyncs"], "safety_syncs": summary["safety_syncs"],
        "post_timeouts": events["ws_post_timeout"], "late_replies": events["ws_late_reply"],
        "orders_rejected_by_the_exchange": state["exchange_faults"]["rejected"],
        "http_429_served": state["faults"]["forced_429s"], "pushes_duplicated": state["faults"]["pushes_duplicated"],
        "pushes_delayed": state["faults"]["pushes_delayed"], "ws_dropped": state["stats"]["ws_dropped_by_fault"],
        "kill_switch": summary["kill_switch"], "pnl_usd": summary["pnl"]["total"],
        "account_change_usd": summary["account_change_usd"], "injected": dict(injected),
        "checks": checks,
    }
    print(json.dumps(report, indent=2))
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
