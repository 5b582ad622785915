"""``hlmm calibrate``: learn strategy parameters from a real trade history (wiring only)."""
from __future__ import annotations

import importlib.util
import json
import math
import os
import sys
import time
from pathlib import Path

import click

from cli.common import config_path, json_option, wants_json
from hlmm.errors import HlmmError

EPILOG = """\b
Inputs (detected from the content; gzip is fine):
  Hyperliquid web-UI Trade History CSV export (time,coin,dir,px,sz,ntl,fee,closedPnl)
  API userFills JSON (a list, an info response, or a WebSocket userFills message)
  hlmm session logs (JSON lines; the fill events)
  Primetrade per-fill CSV (a userFills re-export)

\b
Exit codes:
  0  report printed (and --out / --plot written)
  1  unusable input: wrong file type, empty file, no valid fill, bad --tz;
     --plot without matplotlib; an output file that cannot be written
  2  bad command line (unknown option, bad --buckets, missing file)
  3  the config (hlmm --config) or the --merge file is invalid
"""


def _buckets(ctx, param, value: str) -> tuple[float, ...]:
    try:
        bounds = tuple(float(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected increasing dollar amounts such as 500,2000") from None
    if not bounds or any(not math.isfinite(b) or b <= 0 for b in bounds) or list(bounds) != sorted(set(bounds)):
        raise click.BadParameter(f"{value!r}: expected increasing positive dollar amounts such as 500,2000")
    return bounds


@click.command("calibrate", epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@json_option
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), metavar="PARAMS.toml",
              help="Write the supported values as a config fragment that hlmm.toml can include.")
@click.option("--force", is_flag=True, help="Let --out replace a file hlmm calibrate did not write.")
@click.option("--merge", "merge_path", type=click.Path(dir_okay=False, path_type=Path), metavar="LEARNED.toml",
              help="Merge parameters a trading session learned (its learned-parameters file).")
@click.option("--buckets", default="500,2000", show_default=True, callback=_buckets, metavar="USD,USD",
              help="Size-bucket boundaries (fill notional).")
@click.option("--dayfirst", "date_order", flag_value="day-first", help="Read dates as day/month.")
@click.option("--monthfirst", "date_order", flag_value="month-first", help="Read dates as month/day.")
@click.option("--tz", metavar="ZONE", help="Time zone of a UI export's times (e.g. Europe/Paris, +05:30). Default UTC.")
@click.option("--account", metavar="ADDRESS", help="Analyse one account of a multi-account file.")
@click.option("--include-spot", is_flag=True, help="Keep spot fills (left out by default: hlmm quotes perps).")
@click.option("--confidence", default=0.95, show_default=True, type=click.FloatRange(0.5, 0.999),
              help="Confidence level of the intervals.")
@click.option("--ci", "ci_method", default="t", show_default=True, type=click.Choice(["t", "bootstrap"]),
              help="Interval method: cluster-robust t, or percentile bootstrap of hour blocks.")
@click.option("--bootstrap", "n_boot", default=2000, show_default=True, type=click.IntRange(100, 100000),
              help="Bootstrap resamples (--ci bootstrap).")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0), help="Bootstrap seed.")
@click.option("--min-fills", default=30, show_default=True, type=click.IntRange(2),
              help="Fills a group needs for a verdict.")
@click.option("--min-blocks", default=5, show_default=True, type=click.IntRange(2),
              help="Independent hour blocks a group needs for a verdict (for an hour of day: days).")
@click.option("--attribution", default="entry", show_default=True, type=click.Choice(["entry", "close"]),
              help="Count a round trip's PnL at its opening fill (entry) or at the closing fill, as the export does.")
@click.option("--worst", default=10, show_default=True, type=click.IntRange(0, 1000), help="Worst fills listed.")
@click.option("--plot", "plot_dir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Write PNG charts (needs matplotlib: pip install 'hlmm[plot]').")
@click.option("--progress/--no-progress", default=None,
              help="Progress on stderr (default: only when stderr is a terminal).")
def calibrate(files, as_json, out, force, merge_path, buckets, date_order, tz, account, include_spot, confidence,
              ci_method, n_boot, seed, min_fills, min_blocks, attribution, worst, plot_dir, progress):
    """Learn parameters from real trades: edge by size and hour with confidence intervals,
    round trips, scenarios, and config values with their evidence.

    FILES are trade histories (several are analysed together).  By default a report is
    printed; --json prints everything as JSON; --out writes the supported values as a
    config fragment (load it with include = ["params.toml"] in hlmm.toml).  Current
    values are read from the config (hlmm --config FILE, else ./hlmm.toml, else the
    defaults).
    """
    as_json = wants_json(as_json)
    from hlmm.calibration.analysis import AnalysisOptions, analyze
    from hlmm.calibration.dates import parse_tz
    from hlmm.calibration.fills import FillTable
    from hlmm.calibration.groups import StatOptions
    from hlmm.calibration.learned import merge_learned, read_learned
    from hlmm.calibration.recommend import fragment_header, recommend
    from hlmm.calibration.report import render
    from hlmm.calibration.tradefile import ReadOptions, TradeFileError, read_trade_file
    from hlmm.config import load_config

    if plot_dir is not None and importlib.util.find_spec("matplotlib") is None:
        raise HlmmError("--plot needs matplotlib, which is not installed (pip install 'hlmm[plot]')")
    if tz:
        try:
            parse_tz(tz)
        except ValueError as exc:
            raise TradeFileError(f"--tz: {exc}") from None
    show_progress = sys.stderr.isatty() if progress is None else progress
    started = time.perf_counter()

    def report_progress(text: str) -> None:
        if show_progress:
            click.echo(f"calibrate: {text} ({time.perf_counter() - started:.1f} s)", err=True)

    base = load_config(config_path())
    learned = read_learned(merge_path, base) if merge_path else None

    options = ReadOptions(date_order=date_order, tz=tz, account=account, include_spot=include_spot,
                          progress=report_progress if show_progress else None)
    results = []
    for path in files:
        results.append(read_trade_file(path, options))
        report_progress(f"{path}: {len(results[-1].table):,} fills")
    table = results[0].table if len(results) == 1 else FillTable.concat([r.table for r in results]).sorted_by_time()
    stat_opts = StatOptions(confidence=confidence, method=ci_method, n_boot=n_boot, seed=seed, min_fills=min_fills,
                            min_clusters=min_blocks)
    analysis = analyze(table, AnalysisOptions(buckets=buckets, stats=stat_opts, worst=worst, attribution=attribution))
    report_progress("analysed")
    recs = recommend(analysis, base)
    merge_text = ""
    merged = None
    if learned is not None:
        merged = merge_learned(recs, learned)
        recs = merged.recommendations
        merge_text = merged.describe()

    written = None
    if out is not None:
        header = fragment_header([os.fspath(f) for f in files] + ([os.fspath(merge_path)] if merge_path else []),
                                 analysis)
        text = recs.to_toml(header)
        _write_fragment(out, text, force)
        written = os.fspath(out)
    charts = []
    if plot_dir is not None:
        from hlmm.calibration.plots import write_charts

        charts = write_charts(analysis, table, plot_dir)
        report_progress(f"{len(charts)} charts in {plot_dir}")

    if as_json:
        payload = {
            "inputs": [r.to_dict() for r in results],
            "analysis": analysis.to_dict(),
            "recommendations": recs.to_dict(),
            "merge": None if merged is None else merged.to_dict(),
            "written": written,
            "charts": [os.fspath(c) for c in charts],
        }
        click.echo(json.dumps(_finite(payload), indent=2, allow_nan=False, default=_json_default))
    else:
        click.echo(render(results, analysis, recs, merge_text), nl=False)
        if written:
            keys = len(recs.fragment().get("strategy", {}))
            click.echo(f"\nwrote {written}: {keys} calibrated key{'s' if keys != 1 else ''} "
                       f"(include it from hlmm.toml: include = [\"{written}\"])")
        for chart in charts:
            click.echo(f"wrote {chart}")


def _finite(obj):
    """The payload with NaN/inf as null (strict JSON) and numpy scalars as Python numbers."""
    if isinstance(obj, dict):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _json_default(obj):
    return str(obj)


_OUR_HEADER = "# Calibrated by hlmm calibrate"


def _write_fragment(path: Path, text: str, force: bool) -> None:
    if path.exists() and not force:
        try:
            head = path.read_text(encoding="utf-8", errors="replace")[:200]
        except OSError:
            head = ""
        if not head.startswith(_OUR_HEADER):
            raise HlmmError(f"--out {path}: the file exists and was not written by hlmm calibrate; not replacing it "
                            "(use another path, or --force)")
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise HlmmError(f"--out {path}: cannot write: {exc.strerror or exc}") from None
