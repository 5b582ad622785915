"""Log emit cost: one ``fill`` event (13 fields) appended as a JSON line to a file.

Contenders, same run, same event, same fields:
- ``hlmm``: ``get_logger("engine.fills").info("fill", **fields)`` with a size-rotating
  file sink (rotation on, redaction on, production mode: strict checks off).
- ``stdlib``: the usual way: a ``logging.Logger`` with a ``FileHandler`` (formatter
  ``%(message)s``, no rotation) and ``logger.info(json.dumps({...}))`` building the same
  object (ISO ms timestamp via ``datetime``), no redaction.

Both flush every line to the OS (one write per line) so a crash loses nothing.
Also measured: a ``debug`` call filtered out by the level (the cost a hot loop pays
for a disabled diagnostic line): called with its 14 keyword fields, and guarded by
``enabled("debug")``, against stdlib's ``isEnabledFor`` guard.

A check first proves both write the same objects (apart from ``ts``).
Run: ``pytest benchmarks/bench_log.py --benchmark-enable -q``.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import re

import pytest

from hlmm import log

FIELDS = {
    "tid": 118_906_512_689_004,
    "oid": 293_489_830_558,
    "cloid": "0x1c5ee2a0000000010000002a00000007",
    "side": "A",
    "px": "97215.0",
    "sz": "0.00103",
    "fee": "0.015013",
    "fee_token": "USDC",
    "crossed": False,
    "closed_pnl": "0.0",
    "start_position": "-0.0104",
    "position": -0.01143,
    "mid_at_fill": 97210.5,
    "coin": "BTC",
}


@pytest.fixture
def hlmm_logger(tmp_path):
    strict = log.is_strict()
    log.set_strict(False)  # production mode: the contract is enforced in tests, not in the loop
    log.configure_logging(tmp_path / "hlmm.jsonl", level="info", console="off",
                          max_bytes=64 * 1024 * 1024, backups=1)
    yield log.get_logger("engine.fills"), tmp_path / "hlmm.jsonl"
    log.shutdown_logging()
    log.set_strict(strict)


@pytest.fixture
def stdlib_logger(tmp_path):
    logger = logging.getLogger("bench.stdlib.fills")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    handler = logging.FileHandler(tmp_path / "stdlib.jsonl", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    yield logger, tmp_path / "stdlib.jsonl"
    logger.removeHandler(handler)
    handler.close()


def stdlib_emit(logger: logging.Logger, fields: dict) -> None:
    record = {
        "ts": dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "level": "info",
        "component": "engine.fills",
        "event": "fill",
        **fields,
    }
    logger.info(json.dumps(record, separators=(",", ":")))


def stdlib_debug_guarded(logger: logging.Logger, fields: dict) -> None:
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug(json.dumps({"event": "fill", **fields}, separators=(",", ":")))


def test_both_write_the_same_objects(hlmm_logger, stdlib_logger):
    (lg, hpath), (std, spath) = hlmm_logger, stdlib_logger
    lg.info("fill", **FIELDS)
    stdlib_emit(std, FIELDS)
    ours = json.loads(hpath.read_text().splitlines()[0])
    theirs = json.loads(spath.read_text().splitlines()[0])
    ts_format = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
    assert ts_format.match(ours.pop("ts")) and ts_format.match(theirs.pop("ts"))
    assert ours == theirs


def test_bench_log_emit_hlmm(benchmark, hlmm_logger):
    lg, path = hlmm_logger
    benchmark(lambda: lg.info("fill", **FIELDS))
    assert path.stat().st_size > 0


def test_bench_log_emit_stdlib_json(benchmark, stdlib_logger):
    std, path = stdlib_logger
    benchmark(stdlib_emit, std, FIELDS)
    assert path.stat().st_size > 0


def test_bench_log_filtered_debug_hlmm(benchmark, hlmm_logger):
    lg, path = hlmm_logger
    before = path.stat().st_size
    benchmark(lambda: lg.debug("fill", **FIELDS))
    assert path.stat().st_size == before


def test_bench_log_filtered_debug_hlmm_guarded(benchmark, hlmm_logger):
    """The hot-loop idiom: skip building the fields when the level is off."""
    lg, path = hlmm_logger
    before = path.stat().st_size

    def guarded() -> None:
        if lg.enabled("debug"):
            lg.debug("fill", **FIELDS)

    benchmark(guarded)
    assert path.stat().st_size == before


def test_bench_log_filtered_debug_stdlib(benchmark, stdlib_logger):
    std, path = stdlib_logger
    benchmark(stdlib_debug_guarded, std, FIELDS)
    assert path.stat().st_size == 0
