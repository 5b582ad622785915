"""``hlmm audit``: what went wrong in a session and how it did, from its logs (wiring only)."""
from __future__ import annotations

import sys
import time

import click

from cli.common import config_path, json_option, print_json, wants_json
from hlmm.audit import AuditOptions, Severity, audit as run_audit, parse_time_bound
from hlmm.audit.render import render, table
from hlmm.audit.rules import RULES
from hlmm.audit.session import ConfigTracker, SessionAccount
from hlmm.config import load_config
from hlmm.errors import ExitCode

_PROGRESS_MIN_BYTES = 64 << 20  # an automatic progress bar only for inputs this large
_FAIL_ON = {"critical": Severity.CRITICAL, "warning": Severity.WARNING, "never": None}


class _Progress:
    """Progress on stderr: one updating line on a terminal, a line per 10 % otherwise.

    Nothing is shown for inputs smaller than ``min_total`` bytes.
    """

    def __init__(self, tty: bool, min_total: int = 0) -> None:
        self.tty = tty
        self.min_total = min_total
        self.t0 = time.perf_counter()
        self.last_draw = 0.0
        self.last_decile = -1
        self.drawn = False

    def __call__(self, done: int, total: int) -> None:
        if total < self.min_total:
            return
        now = time.perf_counter()
        frac = done / total if total else 0.0
        speed = done / (now - self.t0) / 1e6 if now > self.t0 else 0.0
        text = f"auditing {frac:6.1%}  {done / 1e6:,.0f}/{total / 1e6:,.0f} MB  {speed:,.0f} MB/s"
        if self.tty:
            if now - self.last_draw >= 0.1 or done >= total:
                sys.stderr.write("\r" + text)
                sys.stderr.flush()
                self.last_draw = now
                self.drawn = True
        else:
            decile = int(frac * 10)
            if decile != self.last_decile:
                self.last_decile = decile
                sys.stderr.write(text + "\n")
                sys.stderr.flush()

    def close(self) -> None:
        if self.tty and self.drawn:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _rules_table() -> list[dict]:
    session = {"id": "session", "events": list(ConfigTracker.events + SessionAccount.events), "counted_fields": [],
               "requires": [], "summary": "session accounting (no findings)"}
    return [session] + [cls.describe() for cls in RULES]


@click.command("audit")
@click.argument("paths", nargs=-1, metavar="LOG...", type=click.Path(allow_dash=True, path_type=str))
@click.option("--since", metavar="TIME", help="Only lines at or after TIME: ISO (2026-01-13T22:15Z), a duration ago "
                                             "(90s, 15m, 2h, 1d) or start+DURATION / end-DURATION.")
@click.option("--until", metavar="TIME", help="Only lines before TIME (same forms as --since).")
@click.option("-r", "--rotated", is_flag=True, help="Also read each file's rotated siblings (mm.log.1 ... mm.log.N, "
                                                    "optionally .gz).")
@click.option("--fail-on", type=click.Choice(list(_FAIL_ON)), default="critical", show_default=True,
              help="Exit with code 5 when a finding is at least this severe.")
@click.option("--progress/--no-progress", default=None,
              help="Progress on stderr (default: on a terminal, for inputs over 64 MB).")
@click.option("--examples", type=click.IntRange(1, 100), default=5, show_default=True,
              help="Example locations (file:line) shown per finding.")
@click.option("--templates", type=click.IntRange(1, 1000), default=20, show_default=True,
              help="Message templates listed for non-hlmm logs.")
@click.option("--microprice-bps", type=click.FloatRange(0, min_open=True), default=20.0, show_default=True,
              help="Microprice farther than this from mid is a finding (critical from 100 bps).")
@click.option("--gap", "gap_s", type=click.FloatRange(0, min_open=True), default=30.0, show_default=True,
              metavar="SECONDS", help="Report silences longer than this between log lines.")
@click.option("--burst-window", type=click.FloatRange(0, min_open=True), default=60.0, show_default=True,
              metavar="SECONDS", help="Error bursts: window length.")
@click.option("--burst-min", type=click.IntRange(1), default=10, show_default=True,
              help="Error bursts: errors per window.")
@click.option("--rules", "list_rules", is_flag=True, help="List the finding rules and the events they read, and exit.")
@json_option
@click.pass_context
def audit(ctx: click.Context, paths: tuple[str, ...], since: str | None, until: str | None, rotated: bool,
          fail_on: str, progress: bool | None, examples: int, templates: int, microprice_bps: float, gap_s: float,
          burst_window: float, burst_min: int, list_rules: bool, as_json: bool) -> None:
    """Audit hlmm logs: session accounting and findings, in seconds.

    LOG... are JSON-lines logs written by hlmm (files, directories, rotated sets, .gz/.bz2/.xz,
    or - for standard input), read in time order.  Logs of other market makers (tracing-style
    JSON or plain text) get a generic analysis: levels, sources, message templates, error
    bursts, silences.  A file that is not a log (binary, CSV) is skipped with a one-line
    reason; if no input is a log the exit code is 1.

    Exit code 5 when a finding is critical (see --fail-on), so a deployment script can gate
    on it.
    """
    if list_rules:
        rows = _rules_table()
        if wants_json(as_json):
            print_json(rows)
        else:
            for line in table(("RULE", "SUMMARY", "READS"),
                              [(r["id"], r["summary"], " ".join(r["events"] + r["counted_fields"])) for r in rows],
                              indent=""):
                click.echo(line)
        return
    if not paths:
        raise click.UsageError("give at least one LOG (a file, a directory, or - for standard input)")
    path = config_path()
    options = AuditOptions(
        since=parse_time_bound(since, "--since") if since else None,
        until=parse_time_bound(until, "--until") if until else None,
        examples=examples,
        templates=templates,
        microprice_warn_bps=microprice_bps,
        gap_s=gap_s,
        burst_window_s=burst_window,
        burst_min=burst_min,
        fail_on=_FAIL_ON[fail_on],
        config=load_config(path) if path is not None else None,
    )
    bar = None
    if progress or (progress is None and sys.stderr.isatty()):
        bar = _Progress(sys.stderr.isatty(), min_total=0 if progress else _PROGRESS_MIN_BYTES)
    try:
        report = run_audit(list(paths), options, rotated=rotated, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    if wants_json(as_json):
        print_json(report.to_dict())
    else:
        click.echo(render(report))
    if report.exit_code != ExitCode.OK:
        ctx.exit(report.exit_code)
