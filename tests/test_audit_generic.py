"""Generic analysis of other market makers' logs: real tracing-JSON and text samples, templates, bursts."""
from __future__ import annotations

import gzip
import json
import re
from collections import Counter

import pytest

from hlmm.audit import AuditOptions, Severity, audit
from hlmm.audit import generic as generic_mod
from hlmm.audit.foreign import from_json, from_text
from hlmm.audit.templates import template
from test_audit_rules import one

TRUDUMB_BTC = "trudumb_hyper_make_mm_BTC_2025-12-30_no_prometheus.log.gz"
TRUDUMB_V2 = "trudumb_hyperliquid_mm_v2_HYPE_2025-10-26_head4000.log.gz"
JP81 = "jp81_bot_log_lines_12000-13199.log"
_TRACING_LEVELS = {"DEBUG": "debug", "INFO": "info", "WARN": "warning", "ERROR": "error", "TRACE": "debug"}


def tracing_lines(path):
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def test_trudumb_btc_untracked_fills(fixtures_dir):
    path = fixtures_dir / TRUDUMB_BTC
    lines = tracing_lines(path)
    r = audit([str(path)])
    g = r.generic
    assert r.session is None and r.lines["foreign_json"] == len(lines) == g["lines"] == g["formats"]["tracing"]
    assert g["levels"] == dict(Counter(_TRACING_LEVELS[o["level"]] for o in lines))
    targets = Counter(o["target"] for o in lines)
    assert g["sources"][0] == {"source": targets.most_common(1)[0][0], "count": targets.most_common(1)[0][1]}
    untracked = [o for o in lines if "Untracked order filled" in o["fields"]["message"]]
    unmatched = [o for o in lines if "unmatched fill" in o["fields"]["message"]]
    assert len(untracked) == 24 and len(unmatched) == 24
    full = audit([str(path)], AuditOptions(templates=1000)).generic["templates"]
    by_template = [t for t in full if t["template"].startswith("[Fill] Untracked order filled: oid=<n> tid=<n>")]
    assert sum(t["count"] for t in by_template) == len(untracked)
    assert {t["level"] for t in by_template} == {"warning"}
    assert any(t["template"] == "[Fill] Untracked order filled: oid=<n> tid=<n> cloid=None sold <n> BTC | "
                                "position updated to <n>" for t in by_template)
    f = one(r, "generic.untracked_fills")
    assert f.count == len(untracked) + len(unmatched) and f.severity is Severity.WARNING
    first = min(o["timestamp"] for o in untracked + unmatched)
    assert f.to_dict()["first"] == first[:23] + "Z"
    reduce_only = one(r, "generic.reduce_only")
    assert reduce_only.count == sum(1 for o in lines if re.search(r"reduce.?only", o["fields"]["message"], re.I))
    assert r.exit_code == 0


def test_trudumb_v2_errors_and_untracked(fixtures_dir):
    path = fixtures_dir / TRUDUMB_V2
    lines = tracing_lines(path)
    r = audit([str(path)])
    errors = [o for o in lines if o["level"] == "ERROR"]
    assert r.generic["levels"]["error"] == len(errors) == 126
    untracked = sum(1 for o in lines if "untracked" in o["fields"]["message"].lower())
    assert one(r, "generic.untracked_fills").count == untracked
    margin = sum(1 for o in lines if "Insufficient margin" in o["fields"]["message"])
    assert one(r, "generic.rejects").count >= margin > 0
    burst = one(r, "generic.error_burst")
    windows = Counter(o["timestamp"][:16] for o in errors)  # errors per minute (the default window)
    assert burst.detail["bursts"][0]["count"] >= max(windows.values())


def test_jp81_plain_text_log(fixtures_dir):
    path = fixtures_dir / JP81
    text = path.read_text(encoding="utf-8").splitlines()
    r = audit([str(path)], AuditOptions(templates=1000))
    g = r.generic
    assert g["formats"] == {"text": len(text)} and r.lines["text"] == len(text)
    assert g["levels"]["error"] == sum(1 for t in text if t.startswith("Error"))
    assert g["levels"]["info"] == sum(1 for t in text if t.startswith("[INFO]"))
    margin = sum(t["count"] for t in g["templates"] if "Insufficient margin to place order" in t["template"])
    assert margin == sum(1 for t in text if "Insufficient margin to place order" in t)
    stamps = [m.group(1) for t in text for m in [re.search(r"ts=(\S+Z)", t)] if m]
    assert g["start"] == min(stamps) and g["end"] == max(stamps)
    assert one(r, "generic.rejects").severity is Severity.WARNING


def test_bid_crossed_market_mid_errors(tmp_path):
    """The reference system's 10 'CRITICAL: Bid crossed market mid' errors, as tracing lines."""
    path = tmp_path / "mm.log"
    rows = []
    for i in range(10):
        rows.append({"timestamp": f"2026-01-13T22:14:{10 + i:02d}.5Z", "level": "ERROR",
                     "fields": {"message": f"CRITICAL: Bid crossed market mid! bid={97000 + i}.0 mid=95400.5"},
                     "target": "hyperliquid_rust_sdk::market_maker::quoting"})
        rows.append({"timestamp": f"2026-01-13T22:14:{10 + i:02d}.6Z", "level": "INFO",
                     "fields": {"message": "Reconciling ladder", "bids": 25}, "target": "x"})
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    r = audit([str(path)])
    f = one(r, "generic.quote_crossed_mid")
    assert f.count == 10 and f.examples[:2] == [f"{path}:1", f"{path}:3"]
    top = r.generic["templates"][0]
    assert (top["count"], top["level"], top["template"]) == (
        10, "error", "CRITICAL: Bid crossed market mid! bid=<n> mid=<n>")
    assert one(r, "generic.error_burst").count == 10


@pytest.mark.parametrize("message, expected", [
    ("oid=293489830558 sold 0.00103 BTC at -1.5e-3", "oid=<n> sold <n> BTC at <n>"),
    ("wallet 0x" + "Ab" * 20 + " hash 0xdeadbeef", "wallet <addr> hash <hex>"),
    ("at 2025-12-30T22:42:29.842892Z id 123e4567-e89b-12d3-a456-426614174000", "at <ts> id <uuid>"),
    ("L2Book v2 processed in 12ms", "L2Book v2 processed in <n>ms"),
    ("trace 9f86d081884c7d659a2feaa0c55ad015 done", "trace <hex> done"),
    ("first line 1\nsecond line 2", "first line <n>"),
    ("Reconciling   ladder", "Reconciling ladder"),
])
def test_templates(message, expected):
    assert template(message) == expected


def test_long_messages_are_cut():
    assert template("x" * 500) == "x" * 200 + "…"


def test_foreign_json_shapes():
    a = from_json({"time": 1768342441123, "levelname": "WARNING", "msg": "hi", "logger": "bot.core"})
    assert (a.ts, a.level, a.message, a.source, a.fmt) == (1768342441123, "warning", "hi", "bot.core", "json")
    b = from_json({"timestamp": 1768342441.5, "event": "order placed", "level": 40})
    assert (b.ts, b.level, b.message) == (1768342441500, "error", "order placed")
    c = from_json({"ts": "2026-01-13T22:14:01Z", "severity": "fatal", "foo": 1})
    assert c.level == "critical" and c.message == "foo"
    d = from_json({"timestamp": "2026-01-13T22:14:01.5Z", "level": "WARN", "fields": {"message": "m"},
                   "target": "t"})
    assert (d.fmt, d.ts % 1000, d.level, d.source) == ("tracing", 500, "warning", "t")


def test_foreign_text_shapes():
    a = from_text("2026-01-13 22:14:01,250 ERROR [engine] boom 42")
    assert (a.level, a.source, a.message, a.ts % 1000) == ("error", "engine", "[engine] boom 42", 250)
    b = from_text("msg=x level=warn something")
    assert b.level == "warning" and b.ts is None
    c = from_text("Traceback (most recent call last):")
    assert c.level == "error"
    assert from_text("  at Object.<anonymous> (x.js:1:2)").level == "unknown"


def test_template_table_is_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(generic_mod, "MAX_TEMPLATES", 5)
    path = tmp_path / "t.log"
    path.write_text("".join(f"[INFO] message kind {chr(97 + i)}\n" for i in range(20)))
    g = audit([str(path)]).generic
    assert g["distinct_templates"] == 6 and g["templates_beyond_limit"] == 15
    assert sum(t["count"] for t in g["templates"]) == 20
    assert any(t["template"] == "(other)" and t["count"] == 15 for t in g["templates"])
