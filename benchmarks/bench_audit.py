"""`hlmm audit` throughput on a generated 200 MB hlmm log (target: >= 100 MB/s of log).

The log is written by hlmm's own logger (``tests/loggen.write_session``): two coins quoting
every 0.5 s at debug level for a few hours (quote cycles, ladders, reconcile diffs, order
traffic, fills with six markouts each, rate/sync/calibration reports) with every fault of
:class:`loggen.Scenario` switched on at a low rate, so every rule has work to do.  It lives in
a temporary directory, never in the repository.

Contenders, same run, same file (page-cached: the file was just written):

- ``audit``: :func:`hlmm.audit.audit` — the whole report (session accounting, every rule);
- ``grep_count``: ``grep -c -F '"event":"fill"'`` in a subprocess, what one runs by hand;
- ``json_loads_per_line``: the naive pure-Python audit core: ``json.loads`` of every line and a
  count per event (no rules at all);
- ``audit_gzip``: the same log gzip-compressed (level 1), audited from the ``.gz``;
- ``audit_tracing``: the generic analysis of another market maker's tracing-JSON log (the
  trimmed trudumb sample repeated to about 20 MB).

A check first proves the audit counts every event exactly as ``json.loads`` per line does.
Besides wall-clock time (what pytest-benchmark times), each benchmark records the CPU time it
used (``time.process_time`` for in-process work, ``RUSAGE_CHILDREN`` for grep): on a shared
machine the wall clock measures the neighbours as much as the code.
With ``--benchmark-disable`` (the normal test run) the log is 16 MB and each body runs once;
``pytest benchmarks/bench_audit.py --benchmark-enable -q`` generates the 200 MB log.
MB/s figures are stored in each benchmark's ``extra_info``.
"""
from __future__ import annotations

import gzip
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from hlmm.audit import audit

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from loggen import Scenario, write_session  # noqa: E402

FULL_BYTES = 200_000_000
QUICK_BYTES = 16_000_000
FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
TRACING_SAMPLE = FIXTURES / "trudumb_hyper_make_mm_BTC_2025-12-30_no_prometheus.log.gz"


def _enabled(request) -> bool:
    return not (request.config.getoption("benchmark_disable") and not request.config.getoption("benchmark_enable"))


@pytest.fixture(scope="module")
def hlmm_log(request, tmp_path_factory) -> Path:
    size = FULL_BYTES if _enabled(request) else QUICK_BYTES
    path = tmp_path_factory.mktemp("bench_audit") / "mm.log"
    sc = Scenario(warmup_quote_cycles=3, microprice_divergence_cycles=20, crossed_quotes=5, untracked_fill_share=0.05,
                  low_headroom=True, funded_levels=4, stale_books=20, reject_storm=15, toxic_hour=22,
                  position_mismatches=5, reconnect_storm=8)
    write_session(path, seconds=1e9, target_bytes=size, coins=("BTC", "ETH"), fill_rate_per_s=0.2, scenario=sc,
                  seed=2026)
    _settle(path)
    return path


def _settle(path: Path) -> None:
    """Flush the new file to disk and read it once, so that no contender pays for write-back."""
    with open(path, "rb") as f:
        os.fsync(f.fileno())
        while f.read(1 << 24):
            pass


@pytest.fixture(scope="module")
def hlmm_log_gz(hlmm_log) -> Path:
    packed = hlmm_log.with_suffix(".log.gz")
    with open(hlmm_log, "rb") as src, gzip.open(packed, "wb", compresslevel=1) as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    _settle(packed)
    return packed


@pytest.fixture(scope="module")
def tracing_log(request, tmp_path_factory) -> Path:
    sample = gzip.decompress(TRACING_SAMPLE.read_bytes())
    target = 20_000_000 if _enabled(request) else 4_000_000
    path = tmp_path_factory.mktemp("bench_audit_tracing") / "other_mm.log"
    with open(path, "wb") as f:
        written = 0
        while written < target:
            f.write(sample)
            written += len(sample)
    _settle(path)
    return path


def json_loads_per_line(path: Path) -> Counter:
    """The naive audit core: decode every line, count events."""
    counts: Counter = Counter()
    with open(path, "rb") as f:
        for line in f:
            try:
                counts[json.loads(line)["event"]] += 1
            except (ValueError, KeyError, TypeError):
                counts["(not an event)"] += 1
    return counts


def grep_count(path: Path) -> int:
    out = subprocess.run(["grep", "-c", "-F", '"event":"fill"', str(path)], capture_output=True, check=True)
    return int(out.stdout)


class CpuTimed:
    """Wraps a function; remembers the least CPU time one call used (this process + children)."""

    def __init__(self, fn):
        self.fn = fn
        self.best = float("inf")

    def __call__(self, *args):
        own, kids = time.process_time(), resource.getrusage(resource.RUSAGE_CHILDREN)
        out = self.fn(*args)
        kids2 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = time.process_time() - own + (kids2.ru_utime - kids.ru_utime) + (kids2.ru_stime - kids.ru_stime)
        self.best = min(self.best, cpu)
        return out


def _mb_per_s(benchmark, nbytes: int, timed: CpuTimed) -> None:
    benchmark.extra_info["MB"] = round(nbytes / 1e6, 1)
    if timed.best > 0:
        benchmark.extra_info["cpu_s"] = round(timed.best, 3)
        benchmark.extra_info["cpu_MB/s"] = round(nbytes / timed.best / 1e6, 1)
    stats = getattr(benchmark, "stats", None)
    if stats is not None and getattr(stats, "stats", None) is not None:
        benchmark.extra_info["MB/s"] = round(nbytes / stats.stats.median / 1e6, 1)


def test_audit_counts_every_event_like_json_loads(hlmm_log):
    report = audit([str(hlmm_log)])
    naive = json_loads_per_line(hlmm_log)
    assert {name: sum(levels.values()) for name, levels in report.events.items()} == dict(naive)
    assert report.lines["total"] == sum(naive.values())
    assert grep_count(hlmm_log) == naive["fill"]
    ids = {f.id for f in report.findings}
    assert {"quoting_during_warmup", "microprice_divergence", "untracked_fills", "rate_limit_pressure",
            "ladder_underfunded", "stale_data", "reject_storm", "toxic_hours", "position_mismatch",
            "reconnect_storm", "quote_crossed_mid"} <= ids


def test_bench_audit(benchmark, hlmm_log):
    timed = CpuTimed(audit)
    report = benchmark.pedantic(timed, args=([str(hlmm_log)],), rounds=3, iterations=1, warmup_rounds=0)
    assert report.exit_code == 5
    _mb_per_s(benchmark, hlmm_log.stat().st_size, timed)


def test_bench_grep_count(benchmark, hlmm_log):
    timed = CpuTimed(grep_count)
    n = benchmark.pedantic(timed, args=(hlmm_log,), rounds=3, iterations=1, warmup_rounds=0)
    assert n > 0
    _mb_per_s(benchmark, hlmm_log.stat().st_size, timed)


def test_bench_json_loads_per_line(benchmark, hlmm_log):
    timed = CpuTimed(json_loads_per_line)
    counts = benchmark.pedantic(timed, args=(hlmm_log,), rounds=1, iterations=1, warmup_rounds=0)
    assert counts["quote_cycle"] > 0
    _mb_per_s(benchmark, hlmm_log.stat().st_size, timed)


def test_bench_audit_gzip(benchmark, hlmm_log, hlmm_log_gz):
    timed = CpuTimed(audit)
    report = benchmark.pedantic(timed, args=([str(hlmm_log_gz)],), rounds=2, iterations=1, warmup_rounds=0)
    assert report.log_bytes == hlmm_log.stat().st_size
    _mb_per_s(benchmark, report.log_bytes, timed)


def test_bench_audit_tracing(benchmark, tracing_log):
    timed = CpuTimed(audit)
    report = benchmark.pedantic(timed, args=([str(tracing_log)],), rounds=2, iterations=1, warmup_rounds=0)
    assert report.generic is not None and report.by_id("generic.untracked_fills")
    _mb_per_s(benchmark, tracing_log.stat().st_size, timed)
