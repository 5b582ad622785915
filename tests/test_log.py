"""hlmm.log: JSON lines in real files, streams, rotation, redaction, strict event contract."""
from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import io
import json
import logging
import os
import re
import stat
import threading
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hlmm import log
from hlmm.config import LoggingConfig
from hlmm.errors import ConfigError
from hlmm.log_events import COMMON_FIELDS, EVENTS, RESERVED_FIELDS, STREAMS, field_order
from hlmm.redaction import PRIVATE_KEY_RE, REDACTED, looks_like_private_key, redact

KEY = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
ADDRESS = "0x5e9ee1089755c3435139848e47e6635505d5a13a"
CLOID = "0x00000000000000000000000000000001"
T0 = 1768317233.123456  # 2026-01-13T15:13:53.123Z
TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture(autouse=True)
def _reset_logging():
    strict = log.is_strict()
    yield
    log.shutdown_logging()
    log.set_strict(strict)


@pytest.fixture
def non_strict():
    log.set_strict(False)


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# ---------------------------------------------------------------------- line format


def test_each_line_is_one_json_object_with_the_contract_keys(tmp_path):
    path = tmp_path / "logs" / "hlmm.jsonl"
    log.configure_logging(path, level="debug", console="off", clock=lambda: T0)
    orders = log.get_logger("engine.orders")
    orders.info("order_resting", cloid=CLOID, oid=123, side="B", px="97000", sz="0.001", coin="BTC")
    orders.debug("order_cancel_sent", cloid=CLOID, oid=123, reason="requote")
    log.get_logger("engine.fills").warning("untracked_fill", tid=9, oid=5, cloid=None, side="A", px=1.5, sz=2.0,
                                           cause="unknown_oid")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3
    records = [json.loads(line) for line in lines]
    first = records[0]
    assert list(first)[:4] == ["ts", "level", "component", "event"]
    assert first == {"ts": "2026-01-13T15:13:53.123Z", "level": "info", "component": "engine.orders",
                     "event": "order_resting", "cloid": CLOID, "oid": 123, "side": "B", "px": "97000",
                     "sz": "0.001", "coin": "BTC"}
    assert [r["level"] for r in records] == ["info", "debug", "warning"]
    assert records[2]["cloid"] is None
    assert all(" " not in line.split('"ts"')[0] for line in lines)  # compact separators
    assert all(line.isascii() for line in lines)


def test_timestamps_are_utc_iso_with_milliseconds(tmp_path):
    clock_values = iter([0.0, 0.9999999, 1_700_000_000.5, 1_700_000_000.5004])
    path = tmp_path / "t.jsonl"
    log.configure_logging(path, console="off", clock=lambda: next(clock_values))
    lg = log.get_logger("engine")
    for _ in range(4):
        lg.info("shutdown", reason="test")
    ts = [r["ts"] for r in read_lines(path)]
    assert ts == ["1970-01-01T00:00:00.000Z", "1970-01-01T00:00:00.999Z",
                  "2023-11-14T22:13:20.500Z", "2023-11-14T22:13:20.500Z"]
    assert all(TS_RE.match(t) for t in ts)
    parsed = dt.datetime.fromisoformat(ts[2].replace("Z", "+00:00"))
    assert parsed.timestamp() == 1_700_000_000.5


def test_real_clock_timestamps_are_now(tmp_path):
    path = tmp_path / "now.jsonl"
    log.configure_logging(path, console="off")
    before = dt.datetime.now(dt.timezone.utc)
    log.get_logger("engine").info("shutdown", reason="x")
    stamp = dt.datetime.fromisoformat(read_lines(path)[0]["ts"].replace("Z", "+00:00"))
    assert abs((stamp - before).total_seconds()) < 5


def test_level_filtering_per_sink(tmp_path):
    path = tmp_path / "f.jsonl"
    console = io.StringIO()
    log.configure_logging(path, level="warning", console="json", console_level="error", console_stream=console)
    lg = log.get_logger("engine.risk")
    assert not lg.enabled("info") and lg.enabled("warning")
    lg.debug("book_stale", age_s=1)
    lg.info("book_stale", age_s=2)
    lg.warning("book_stale", age_s=3)
    lg.error("book_stale", age_s=4)
    lg.critical("kill_switch", reason="max_loss")
    assert [r["age_s"] for r in read_lines(path) if "age_s" in r] == [3, 4]
    assert [r.get("age_s", r["event"]) for r in map(json.loads, console.getvalue().splitlines())] == [4, "kill_switch"]


def test_nothing_is_written_before_configuration(tmp_path, capsys):
    log.get_logger("engine").error("error", where="x", error="y")
    assert capsys.readouterr() == ("", "")


# ------------------------------------------------------------------ value encoding


class Side(enum.Enum):
    BUY = "B"
    SELL = "A"


class Regime(enum.IntEnum):
    LOW = 0
    HIGH = 2


class Obscure(enum.Enum):
    X = (1, 2)


@dataclasses.dataclass(frozen=True)
class Level:
    px: Decimal
    sz: float
    side: Side


def test_non_json_values_serialize_cleanly():
    with log.capture_logs() as records:
        log.get_logger("strategy.ladder").info(
            "ladder_computed",
            bids=[Level(Decimal("97000.5"), 0.001, Side.BUY)],
            asks=np.array([1.5, 2.5]),
            half_spread_bid_bps=np.float32(4.25),
            half_spread_ask_bps=np.float64(4.5),
            skew_bps=np.int64(-3),
            kelly_fraction=Decimal("0.20"),
            binding=Side.SELL,
            coin="BTC",
        )
        log.get_logger("engine").info(
            "session_start", version=Regime.HIGH, venue=Obscure.X, account=b"\x01\x02",
            coins={"ETH", "BTC"}, config_file=Path("/etc/hlmm.toml"), pid=np.bool_(True),
            vault=dt.datetime(2026, 1, 13, 15, 0, tzinfo=dt.timezone.utc),
        )
        log.get_logger("engine").error("error", where="loop", error=ValueError("bad frame"),
                                       detail=dt.timedelta(seconds=1.5))
    a, b, c = records
    assert a["bids"] == [{"px": "97000.5", "sz": 0.001, "side": "B"}]
    assert a["asks"] == [1.5, 2.5]
    assert a["half_spread_bid_bps"] == 4.25 and a["half_spread_ask_bps"] == 4.5 and a["skew_bps"] == -3
    assert a["kelly_fraction"] == "0.20" and a["binding"] == "A"
    assert b["version"] == 2 and b["venue"] == "X" and b["account"] == "0x0102"
    assert b["coins"] == ["BTC", "ETH"] and b["config_file"] == "/etc/hlmm.toml" and b["pid"] is True
    assert b["vault"] == "2026-01-13T15:00:00+00:00"
    assert c["error"] == "ValueError: bad frame" and c["detail"] == 1.5


def test_nan_and_infinity_become_strings_so_lines_stay_strict_json():
    with log.capture_logs() as records:
        log.get_logger("engine.quote").debug("quote_cycle", mid=float("nan"), sigma=float("inf"),
                                             microprice=[1.0, float("-inf")], kappa=np.float64("nan"))
    r = records[0]
    assert (r["mid"], r["sigma"], r["microprice"], r["kappa"]) == ("NaN", "Infinity", [1.0, "-Infinity"], "NaN")


def test_unencodable_values_never_raise():
    loop: list = []
    loop.append(loop)

    class Weird:
        def __repr__(self) -> str:
            return "<weird>"

    with log.capture_logs() as records:
        log.get_logger("engine").info("shutdown", reason=loop, signal={(1, 2): "tuple key"})
        log.get_logger("engine").info("shutdown", reason=Weird())
    assert records[0]["reason"] == "[[...]]"
    assert "tuple key" in records[0]["signal"]
    assert records[1]["reason"] == "<weird>"


# ----------------------------------------------------------------------- redaction


def test_redaction_patterns():
    assert looks_like_private_key(KEY) and looks_like_private_key("0x" + KEY.upper())
    assert looks_like_private_key("prefix " + KEY + KEY[:10] + " suffix")  # longer runs too
    assert not looks_like_private_key(ADDRESS) and not looks_like_private_key(CLOID)
    assert not looks_like_private_key(KEY[:63])
    assert redact(f"key=0x{KEY}, again {KEY}.") == f"key={REDACTED}, again {REDACTED}."
    assert redact("abc" + KEY) == REDACTED  # a longer hex run is masked whole
    assert looks_like_private_key("g" + KEY)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(["0x", "a", "F", "9", "0", "g", " ", "é", "\"", KEY[:20], KEY[:44], KEY]),
                max_size=12).map("".join))
def test_fast_path_agrees_with_the_regex(text):
    assert looks_like_private_key(text) is (PRIVATE_KEY_RE.search(text) is not None)
    assert redact(text) == PRIVATE_KEY_RE.sub(REDACTED, text)


def test_keys_are_redacted_from_every_field_and_message(tmp_path):
    path = tmp_path / "r.jsonl"
    console = io.StringIO()
    log.configure_logging(path, console="human", console_stream=console, level="debug", console_level="debug")
    lg = log.get_logger("engine")
    lg.error("error", where=f"loading 0x{KEY}", error=ValueError(f"bad key {KEY}"),
             detail={"nested": [KEY.upper()]}, traceback=bytes.fromhex(KEY))
    lg.info("session_start", account=ADDRESS, vault=CLOID)
    text = path.read_text()
    assert KEY not in text.lower() and KEY[:40] not in text.lower()
    record, safe = read_lines(path)
    assert record["where"] == f"loading {REDACTED}"
    assert record["error"] == f"ValueError: bad key {REDACTED}"
    assert record["detail"] == {"nested": [REDACTED]}
    assert record["traceback"] == REDACTED
    assert safe["account"] == ADDRESS and safe["vault"] == CLOID
    assert KEY not in console.getvalue().lower() and REDACTED in console.getvalue()


# -------------------------------------------------------------------- strict mode


def test_strict_mode_rejects_undocumented_events_and_fields():
    log.set_strict(True)
    lg = log.get_logger("engine.orders")
    with pytest.raises(log.UnknownLogEvent, match="log event 'order_sent' is not documented"):
        lg.info("order_sent", cloid=CLOID)
    with pytest.raises(log.UnknownLogEvent, match="has no field 'prize'.*add it to hlmm/log_events.py"):
        lg.debug("order_resting", cloid=CLOID, prize=1)  # checked even below the level
    lg.info("order_resting", cloid=CLOID, coin="BTC", session_id="s1")  # common fields are fine


def test_non_strict_mode_still_writes_undocumented_events(non_strict):
    with log.capture_logs() as records:
        log.get_logger("engine").info("made_up_event", x=1)
        log.get_logger("engine").info("shutdown", ts="spoof", level="x", component="y")
    assert records[0]["event"] == "made_up_event" and records[0]["undocumented"] is True
    spoof = records[1]
    assert spoof["level"] == "info" and spoof["component"] == "engine" and TS_RE.match(spoof["ts"])
    assert (spoof["field_ts"], spoof["field_level"], spoof["field_component"]) == ("spoof", "x", "y")


def test_get_logger_validates_component():
    assert log.get_logger("exchange.ws") is log.get_logger("exchange.ws")
    with pytest.raises(ValueError, match="dotted lower-case"):
        log.get_logger("Engine Orders")


# ------------------------------------------------------------------ files and streams


def test_operational_diagnostic_and_error_streams(tmp_path):
    log.configure_logging(tmp_path / "all.jsonl", level="debug", console="off", ops_file=tmp_path / "ops.jsonl",
                          diag_file=tmp_path / "diag.jsonl", error_file=tmp_path / "err.jsonl")
    lg = log.get_logger("engine")
    lg.info("fill", tid=1)  # ops
    lg.debug("quote_cycle", cycle=1)  # diag
    lg.warning("book_stale", age_s=9)  # ops, warning
    lg.error("library_log", logger="x", message="boom")  # diag, error
    events = {name: [r["event"] for r in read_lines(tmp_path / f"{name}.jsonl")]
              for name in ("all", "ops", "diag", "err")}
    assert events == {
        "all": ["fill", "quote_cycle", "book_stale", "library_log"],
        "ops": ["fill", "book_stale"],
        "diag": ["quote_cycle", "library_log"],
        "err": ["book_stale", "library_log"],
    }
    mode = stat.S_IMODE(os.stat(tmp_path / "all.jsonl").st_mode)
    assert mode & 0o077 == 0  # logs hold positions and addresses: owner only


def test_size_rotation_keeps_backups_and_whole_lines(tmp_path):
    path = tmp_path / "rot.jsonl"
    log.configure_logging(path, console="off", max_bytes=2000, backups=2, clock=lambda: T0)
    lg = log.get_logger("engine.fills")
    for i in range(200):
        lg.info("fill", tid=i, px="97000.5", sz="0.001")
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["rot.jsonl", "rot.jsonl.1", "rot.jsonl.2"]
    tids = []
    for name in ("rot.jsonl.2", "rot.jsonl.1", "rot.jsonl"):
        p = tmp_path / name
        assert p.stat().st_size <= 2000
        tids += [r["tid"] for r in read_lines(p)]
    assert tids == list(range(200 - len(tids), 200))  # the newest lines, in order, none torn
    assert len(tids) > 30


def test_rotation_continues_an_existing_file(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text('{"old":1}\n' * 150)  # 1500 bytes already there
    log.configure_logging(path, console="off", max_bytes=1600, backups=1)
    for i in range(5):
        log.get_logger("engine").info("shutdown", reason=str(i))
    assert (tmp_path / "c.jsonl.1").read_text().startswith('{"old":1}')
    assert [r["reason"] for r in read_lines(path)][-1] == "4"


def test_zero_backups_truncates(tmp_path):
    path = tmp_path / "z.jsonl"
    log.configure_logging(path, console="off", max_bytes=500, backups=0)
    for i in range(50):
        log.get_logger("engine").info("shutdown", reason=str(i))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["z.jsonl"]
    assert read_lines(path)[-1]["reason"] == "49" and path.stat().st_size <= 500


def test_concurrent_writers_do_not_tear_lines(tmp_path):
    path = tmp_path / "threads.jsonl"
    log.configure_logging(path, console="off", max_bytes=20000, backups=50)

    def work(n: int) -> None:
        lg = log.get_logger("sim")
        for i in range(300):
            lg.info("sim_fault", fault=f"t{n}", detail=i)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    records = [r for p in tmp_path.iterdir() for r in read_lines(p)]
    assert len(records) == 1200
    for n in range(4):
        assert sorted(r["detail"] for r in records if r["fault"] == f"t{n}") == list(range(300))


def test_human_console_format():
    console = io.StringIO()
    log.configure_logging(None, console="human", console_stream=console, clock=lambda: T0)
    log.get_logger("engine.reconcile").info("reconcile_diff", keep=3, modify=0, cancel=1, place=2, coin="BTC")
    log.get_logger("engine.fills").info("fill", px=Decimal("97215.0"), side=Side.BUY, fee_token=Decimal("1E+2"),
                                        cloid=b"\x01", start_position=[1, "a b"])
    log.get_logger("engine.orders").warning("order_rejected", cloid=CLOID, reason="Post only order would have "
                                            "immediately matched", px=97000.5, side="B", sz=None)
    lines = console.getvalue().splitlines()
    assert lines[0] == "15:13:53 INFO  engine.reconcile reconcile_diff keep=3 modify=0 cancel=1 place=2 coin=BTC"
    assert lines[1] == ('15:13:53 INFO  engine.fills fill px=97215.0 side=B fee_token=1E+2 cloid=0x01 '
                        'start_position=[1,"a b"]')
    assert lines[2] == (f"15:13:53 WARNING engine.orders order_rejected cloid={CLOID} "
                        'reason="Post only order would have immediately matched" px=97000.5 side=B sz=null')


def test_configure_from_config_section_and_override(tmp_path):
    cfg = LoggingConfig(file=str(tmp_path / "from_cfg.jsonl"), level="debug", console="off",
                        error_file=str(tmp_path / "e.jsonl"))
    log.configure_logging_from(cfg, file=tmp_path / "override.jsonl")
    log.get_logger("engine").debug("shutdown", reason="x")
    assert read_lines(tmp_path / "override.jsonl")[0]["reason"] == "x"
    assert not (tmp_path / "from_cfg.jsonl").exists()
    assert (tmp_path / "e.jsonl").read_text() == ""


def test_reconfigure_and_shutdown_close_files(tmp_path):
    log.configure_logging(tmp_path / "a.jsonl", console="off")
    log.get_logger("engine").info("shutdown", reason="a")
    log.configure_logging(tmp_path / "b.jsonl", console="off")
    log.get_logger("engine").info("shutdown", reason="b")
    log.shutdown_logging()
    log.get_logger("engine").info("shutdown", reason="c")
    assert [r["reason"] for r in read_lines(tmp_path / "a.jsonl")] == ["a"]
    assert [r["reason"] for r in read_lines(tmp_path / "b.jsonl")] == ["b"]


def test_bad_arguments_and_unwritable_paths(tmp_path):
    with pytest.raises(ValueError, match="logging level must be one of"):
        log.configure_logging(None, level="verbose")
    with pytest.raises(ValueError, match="console format must be one of"):
        log.configure_logging(None, console="xml")
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match=r"cannot open log file .*file/sub/x.jsonl: .*check logging.file") as info:
        log.configure_logging(blocker / "sub" / "x.jsonl", console="off")
    assert info.value.exit_code == 3


def test_a_failing_sink_does_not_break_the_caller(tmp_path, capfd):
    class Broken(io.StringIO):
        def write(self, s: str) -> int:
            raise OSError(28, "No space left on device")

    broken = Broken()
    log.configure_logging(tmp_path / "ok.jsonl", console="json", console_stream=broken)
    for _ in range(3):
        log.get_logger("engine").info("shutdown", reason="still logged")
    assert [r["reason"] for r in read_lines(tmp_path / "ok.jsonl")] == ["still logged"] * 3
    sink = next(s for s in log._router.sinks if isinstance(s, log.StreamSink))
    assert sink.failures == 3
    assert capfd.readouterr().err.count("hlmm: log sink StreamSink failed") == 1


def test_stdlib_warnings_are_bridged(tmp_path):
    path = tmp_path / "lib.jsonl"
    log.configure_logging(path, console="off")
    logging.getLogger("websocket").warning("connection %s closed", "x")
    logging.getLogger("Some-Lib").error("oops")
    logging.getLogger("quiet").info("not at warning")
    records = read_lines(path)
    assert [(r["component"], r["event"], r["level"], r["logger"], r["message"]) for r in records] == [
        ("websocket", "library_log", "warning", "websocket", "connection x closed"),
        ("library", "library_log", "error", "Some-Lib", "oops"),
    ]
    log.shutdown_logging()
    assert not any(isinstance(h, log._StdlibBridge) for h in logging.getLogger().handlers)


# -------------------------------------------------------------------- event table

REQUIRED_EVENTS = """session_start session_summary config_loaded ws_connected ws_disconnected ws_reconnect
ws_malformed_frame subscribe book_stale quote_cycle ladder_computed ladder_level_dropped order_place_sent
order_resting order_filled order_rejected order_cancel_sent order_cancelled order_modify_sent
order_unknown_timeout fill untracked_fill fill_duplicate position_update safety_sync position_mismatch
orphan_cancelled order_adopted gate_active gate_cleared kill_switch reduce_only_mode inventory_forcing
rate_limit_status rate_limit_throttle deadman_armed microprice_reset estimator_warm regime_change toxicity_pull
calibration_report markout funding shutdown_cancel_all error""".split()


def test_event_table_is_complete_and_well_formed():
    missing = [name for name in REQUIRED_EVENTS if name not in EVENTS]
    assert not missing
    for name, spec in EVENTS.items():
        assert re.match(r"^[a-z][a-z0-9_]*$", name)
        assert spec.stream in STREAMS and spec.description
        assert not spec.fields & RESERVED_FIELDS
        assert set(field_order(name)) == spec.fields
    assert {"cause"} <= EVENTS["ladder_level_dropped"].fields and {"cause"} <= EVENTS["untracked_fill"].fields
    assert {"reason"} <= EVENTS["order_rejected"].fields
    assert "coin" in COMMON_FIELDS


def test_event_table_has_no_duplicate_names():
    # a dict literal keeps the last of two equal keys silently; concurrent edits make that easy
    import ast

    import hlmm.log_events as module

    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    tables = [node.value for node in ast.walk(tree)
              if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "_TABLE"]
    names = [key.value for key in tables[0].keys]
    assert len(names) == len(EVENTS)
    assert sorted({n for n in names if names.count(n) > 1}) == []


def test_event_table_rejects_bad_entries():
    from hlmm.log_events import _build

    with pytest.raises(ValueError, match="snake_case"):
        _build({"BadName": ("engine", "ops", "x", "")})
    with pytest.raises(ValueError, match="stream must be one of"):
        _build({"ok": ("engine", "metrics", "x", "")})
    with pytest.raises(ValueError, match="reserved"):
        _build({"ok": ("engine", "ops", "x", "ts")})
    with pytest.raises(ValueError, match="listed twice"):
        _build({"ok": ("engine", "ops", "x", "a a")})
