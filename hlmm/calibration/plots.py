"""PNG charts of a calibration (``hlmm calibrate --plot DIR``); needs the ``plot`` extra.

* ``pnl_by_hour.png``: net PnL per UTC hour (bars) and edge with its interval (points);
* ``edge_by_size.png``: edge per size bucket with its interval;
* ``cumulative_pnl.png``: cumulative net and gross PnL over time.

matplotlib is imported only here, inside :func:`write_charts`, with the non-interactive
Agg backend, so the library imports without it.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from hlmm.calibration.analysis import Analysis
from hlmm.calibration.fills import FillTable
from hlmm.errors import HlmmError

_VERDICT_COLORS = {"toxic": "#c0392b", "inconclusive": "#e67e22", "ok": "#27ae60", "insufficient": "#95a5a6"}


def _errors(estimates) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    value = np.array([e.value for e in estimates], dtype=float)
    low = np.array([e.low if e.has_interval else e.value for e in estimates], dtype=float)
    high = np.array([e.high if e.has_interval else e.value for e in estimates], dtype=float)
    return value, np.nan_to_num(value - low), np.nan_to_num(high - value)


def write_charts(analysis: Analysis, table: FillTable, out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write the three charts into ``out_dir`` (created if needed); returns their paths."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise HlmmError("--plot needs matplotlib, which is not installed (pip install 'hlmm[plot]')") from None
    directory = Path(out_dir)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise HlmmError(f"--plot {directory}: cannot create the directory: {exc.strerror or exc}") from None
    conf = f"{analysis.options.stats.confidence:.0%}"
    paths = []

    # PnL and edge by hour
    fig, ax = plt.subplots(figsize=(11, 5))
    hours = np.arange(24)
    pnl = np.array([g.pnl for g in analysis.hours])
    colors = [_VERDICT_COLORS.get(g.status, "#95a5a6") for g in analysis.hours]
    ax.bar(hours, pnl, color=colors, alpha=0.75)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xlabel("UTC hour")
    ax.set_ylabel("net PnL (USD)")
    ax.set_xticks(hours)
    ax2 = ax.twinx()
    value, lo, hi = _errors([g.edge_bps for g in analysis.hours])
    ax2.errorbar(hours, value, yerr=[lo, hi], fmt="o", color="#2c3e50", capsize=3, markersize=4)
    ax2.set_ylabel(f"edge (bps, {conf} interval)")
    ax.set_title("Net PnL by UTC hour (bar colour: red toxic, orange inconclusive, green ok, grey too little data)")
    paths.append(_save(fig, directory / "pnl_by_hour.png", plt))

    # edge by size bucket
    fig, ax = plt.subplots(figsize=(7, 5))
    labels = [g.label for g in analysis.buckets]
    value, lo, hi = _errors([g.edge_bps for g in analysis.buckets])
    x = np.arange(len(labels))
    ax.bar(x, np.nan_to_num(value), color=[_VERDICT_COLORS.get(g.status, "#95a5a6") for g in analysis.buckets],
           alpha=0.75)
    ax.errorbar(x, value, yerr=[lo, hi], fmt="none", color="#2c3e50", capsize=5)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(x, [f"{label}\n{g.fills} fills" for label, g in zip(labels, analysis.buckets)])
    ax.set_ylabel(f"net edge (bps, {conf} interval)")
    ax.set_title("Edge by fill size")
    paths.append(_save(fig, directory / "edge_by_size.png", plt))

    # cumulative PnL
    fig, ax = plt.subplots(figsize=(11, 5))
    times = table.time_ms.astype("datetime64[ms]")
    ax.plot(times, np.cumsum(table.pnl), label="net", color="#2c3e50")
    ax.plot(times, np.cumsum(table.pnl + table.fee), label="gross (before fees)", color="#7f8c8d", linestyle="--")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_ylabel("cumulative PnL (USD)")
    ax.set_title("Cumulative PnL")
    ax.legend()
    fig.autofmt_xdate()
    paths.append(_save(fig, directory / "cumulative_pnl.png", plt))
    return paths


def _save(fig, path: Path, plt) -> Path:
    try:
        fig.tight_layout()
        fig.savefig(path, dpi=100)
    except OSError as exc:
        raise HlmmError(f"--plot: cannot write {path}: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)
    return path


__all__ = ["write_charts"]
