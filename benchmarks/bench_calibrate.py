"""`hlmm calibrate` on a generated 1 M-row Hyperliquid UI export (target: 1 M rows in <= 2 s).

Contenders, same run, same file (500 000 round trips = 1 000 000 fills, five coins, 30 days,
``DD/MM/YYYY - HH:MM:SS`` dates, JavaScript-float ``ntl``/``closedPnl`` as the UI writes them):

- ``read``: :func:`hlmm.calibration.tradefile.read_trade_file` (the compiled column parser,
  date-order decision, validation, the fill table);
- ``read_csv_baseline``: the obvious pure-Python reader of the same columns: ``csv.reader``,
  ``float()`` per number, ``datetime.strptime`` per date, lists into numpy arrays;
- ``analyze``: :func:`hlmm.calibration.analysis.analyze` on the table (round trips in C,
  every interval, verdict, scenario and the out-of-sample check);
- ``calibrate_end_to_end``: read + analyze + recommend, what ``hlmm calibrate FILE`` does
  before printing.

With ``--benchmark-disable`` (the normal test run) the file has 20 000 rows so the bodies
run once quickly; the 1 M-row file is generated when benchmarks are enabled:
``pytest benchmarks/bench_calibrate.py --benchmark-enable -q``.
"""
from __future__ import annotations

import csv
import datetime as dt
import sys
from pathlib import Path

import numpy as np
import pytest

from hlmm.calibration.analysis import analyze
from hlmm.calibration.recommend import recommend
from hlmm.calibration.tradefile import read_trade_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import synthetic_trades as st  # noqa: E402

FULL_ROWS = 1_000_000
QUICK_ROWS = 20_000


@pytest.fixture(scope="module")
def trade_file(request, tmp_path_factory) -> Path:
    disabled = request.config.getoption("benchmark_disable") and not request.config.getoption("benchmark_enable")
    rows = QUICK_ROWS if disabled else FULL_ROWS
    trips = st.mm_round_trips(rows // 2, seed=1, days=30, toxic_hours=(6, 7, 14), large_edge_bps=-10.0)
    return st.write_ui_csv(tmp_path_factory.mktemp("bench_calibrate") / "trade_history.csv", trips)


def read_csv_baseline(path: Path) -> dict[str, np.ndarray]:
    """The same columns with the csv module, float() and strptime (no validation beyond Python's)."""
    times, coins, dirs, px, sz, ntl, fee, pnl = [], [], [], [], [], [], [], []
    coin_codes: dict[str, int] = {}
    epoch = dt.datetime(1970, 1, 1)
    with path.open(newline="") as fh:
        reader = csv.reader(fh)
        next(reader)
        for row in reader:
            stamp = dt.datetime.strptime(row[0], "%d/%m/%Y - %H:%M:%S")
            times.append(int((stamp - epoch).total_seconds() * 1000))
            coins.append(coin_codes.setdefault(row[1], len(coin_codes)))
            dirs.append(row[2])
            px.append(float(row[3]))
            sz.append(float(row[4]))
            ntl.append(float(row[5]))
            fee.append(float(row[6]))
            pnl.append(float(row[7]))
    return {"time_ms": np.array(times, dtype=np.int64), "coin": np.array(coins, dtype=np.int32),
            "px": np.array(px), "sz": np.array(sz), "ntl": np.array(ntl), "fee": np.array(fee),
            "pnl": np.array(pnl), "dirs": dirs}


def test_both_readers_agree(trade_file):
    fast = read_trade_file(trade_file).table
    slow = read_csv_baseline(trade_file)
    assert len(fast) == len(slow["px"]) and fast.coins == list(dict.fromkeys(fast.coins))
    assert np.array_equal(np.sort(fast.time_ms), np.sort(slow["time_ms"]))
    for col in ("px", "sz", "ntl", "fee", "pnl"):
        assert np.array_equal(getattr(fast, col), slow[col]), col  # bit-identical floats


def test_read(benchmark, trade_file):
    result = benchmark.pedantic(read_trade_file, args=(trade_file,), rounds=5, iterations=1)
    assert result.bad_count == 0


def test_read_csv_baseline(benchmark, trade_file):
    cols = benchmark.pedantic(read_csv_baseline, args=(trade_file,), rounds=2, iterations=1)
    assert len(cols["px"]) > 0


def test_analyze(benchmark, trade_file):
    table = read_trade_file(trade_file).table
    analysis = benchmark.pedantic(analyze, args=(table,), rounds=5, iterations=1)
    assert analysis.totals.fills == len(table)


def _end_to_end(path: Path):
    result = read_trade_file(path)
    analysis = analyze(result.table)
    return recommend(analysis)


def test_calibrate_end_to_end(benchmark, trade_file):
    recs = benchmark.pedantic(_end_to_end, args=(trade_file,), rounds=5, iterations=1)
    assert recs.items
