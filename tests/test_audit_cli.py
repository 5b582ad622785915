"""`hlmm audit` on the command line: exit codes, --json, --fail-on, --rules, progress, errors."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli
from hlmm.audit.rules import RULES
from loggen import Scenario, write_session
from test_audit_rules import begin, build, cycle, fill

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    base = tmp_path_factory.mktemp("cli")
    write_session(base / "bad.log", seconds=400, fill_rate_per_s=0.2,
                  scenario=Scenario(untracked_fill_share=0.5, warmup_quote_cycles=2), seed=3)
    write_session(base / "good.log", seconds=400, fill_rate_per_s=0.2, seed=3)
    return base


def run_hlmm(*args, stdin=None):
    env = {k: v for k, v in os.environ.items() if k != "HLMM_CONFIG"}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True, timeout=120, cwd=REPO,
                          env=env, input=stdin)


def test_critical_findings_exit_5_and_clean_logs_exit_0(runner, logs):
    bad = runner.invoke(cli, ["audit", str(logs / "bad.log")])
    assert bad.exit_code == 5, bad.output
    assert "CRITICAL untracked_fills" in bad.output and "CRITICAL quoting_during_warmup" in bad.output
    assert "SESSION" in bad.output and "FINDINGS" in bad.output and bad.output.rstrip().endswith(
        "exit code 5 (critical findings)")
    good = runner.invoke(cli, ["audit", str(logs / "good.log")])
    assert good.exit_code == 0, good.output
    assert "0 critical" in good.output


def test_fail_on(runner, logs, tmp_path):
    def write(b):
        begin(b)
        cycle(b)
        b.emit("book_stale", "warning", coin="BTC", age_s=7.5, threshold_s=5.0)

    path = str(build(tmp_path, write))
    assert runner.invoke(cli, ["audit", path]).exit_code == 0
    assert runner.invoke(cli, ["audit", "--fail-on", "warning", path]).exit_code == 5
    assert runner.invoke(cli, ["audit", "--fail-on", "never", str(logs / "bad.log")]).exit_code == 0


def test_json_local_and_global(runner, logs):
    for args in (["audit", "--json", str(logs / "bad.log")], ["--json", "audit", str(logs / "bad.log")]):
        out = runner.invoke(cli, args)
        assert out.exit_code == 5
        doc = json.loads(out.output)
        assert doc["exit_code"] == 5 and doc["summary"]["critical"] >= 2
        ids = {f["id"] for f in doc["findings"]}
        assert {"untracked_fills", "quoting_during_warmup"} <= ids
        assert doc["session"]["fills"]["untracked"] > 0
        f = next(f for f in doc["findings"] if f["id"] == "untracked_fills")
        assert f["severity"] == "critical" and f["examples"][0].startswith(str(logs / "bad.log") + ":")


def test_not_a_log_is_one_line_and_exit_1(tmp_path):
    path = tmp_path / "blob.bin"
    path.write_bytes(bytes(range(256)) * 40)
    out = run_hlmm("audit", str(path))
    assert out.returncode == 1
    assert out.stderr.decode() == f"hlmm: error: {path}: binary data, not a text log\n"
    assert out.stdout == b""
    csv = tmp_path / "trades.csv"
    csv.write_text("time,coin,dir,px,sz\n1,BTC,Open Long,1,1\n2,BTC,Close Long,1,1\n")
    out = run_hlmm("audit", str(csv))
    assert out.returncode == 1 and b"a CSV table (columns: time, coin, dir, px, sz), not a log" in out.stderr


def test_usage_errors(runner, tmp_path):
    assert runner.invoke(cli, ["audit"]).exit_code == 2
    out = runner.invoke(cli, ["audit", str(tmp_path / "missing.log")])
    assert out.exit_code == 1 and "no such file" in out.output
    path = str(build(tmp_path, lambda b: cycle(b)))
    out = runner.invoke(cli, ["audit", "--since", "last tuesday", path])
    assert out.exit_code == 1 and "--since 'last tuesday' is not a time" in out.output


def test_since_until_options(runner, tmp_path):
    def write(b):
        begin(b)
        for i in range(5):
            fill(b, i)
            b.advance(60)

    path = str(build(tmp_path, write))
    out = runner.invoke(cli, ["--json", "audit", "--since", "start+1m", "--until", "end-1m", path])
    doc = json.loads(out.output)
    assert doc["session"]["fills"]["total"] == 2  # fills at +1 and +2 min; the last line (+4 min) - 1 min excluded
    assert doc["window"]["since"] == "2026-01-13T22:15:01.000Z"
    assert doc["window"]["until"] == "2026-01-13T22:17:01.000Z"


def test_rules_listing(runner):
    out = runner.invoke(cli, ["audit", "--rules"])
    assert out.exit_code == 0
    for cls in RULES:
        assert cls.id in out.output
    doc = json.loads(runner.invoke(cli, ["audit", "--rules", "--json"]).output)
    ladder = next(r for r in doc if r["id"] == "ladder_underfunded")
    assert ladder["events"][0] == "quote_cycle" and "gate_active" in ladder["events"]
    assert ladder["counted_fields"] == ["ladder_level_dropped.cause"]
    assert doc[0]["id"] == "session" and "fill" in doc[0]["events"]


def test_progress_on_request_only(logs):
    quiet = run_hlmm("audit", "--fail-on", "never", str(logs / "good.log"))
    assert quiet.returncode == 0 and quiet.stderr == b""
    shown = run_hlmm("audit", "--progress", "--fail-on", "never", str(logs / "good.log"))
    lines = shown.stderr.decode().splitlines()
    assert lines and all(line.startswith("auditing ") for line in lines) and "100.0%" in lines[-1]


def test_stdin_and_gzip_on_stdin(logs):
    import gzip

    data = (logs / "bad.log").read_bytes()
    plain = run_hlmm("--json", "audit", "-", stdin=data)
    packed = run_hlmm("--json", "audit", "-", stdin=gzip.compress(data))
    assert plain.returncode == packed.returncode == 5
    a, b = json.loads(plain.stdout), json.loads(packed.stdout)
    assert a["session"] == b["session"] and a["lines"] == b["lines"]
    assert a["inputs"][0]["path"] == "<stdin>" and b["inputs"][0]["compression"] == "gzip"
    assert a["findings"][0]["examples"][0].startswith("<stdin>:")


def test_rotated_flag(runner, tmp_path):
    write_session(tmp_path / "mm.log", seconds=600, max_bytes=300_000, seed=2)
    one = json.loads(runner.invoke(cli, ["--json", "audit", str(tmp_path / "mm.log")]).output)
    allf = json.loads(runner.invoke(cli, ["--json", "audit", "-r", str(tmp_path / "mm.log")]).output)
    assert len(allf["inputs"]) > 1 and len(one["inputs"]) == 1
    assert allf["lines"]["total"] > one["lines"]["total"]
