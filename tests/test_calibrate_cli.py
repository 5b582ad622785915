"""`hlmm calibrate` end to end: report, JSON, the params fragment through load_config, exit codes, plots, merge."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import synthetic_trades as st
from cli.main import cli
from hlmm.calibration.learned import LearnedParams, LearnedValue, write_learned
from hlmm.config import load_config

FIX = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[1]
UI = FIX / "ui_trades_fede_vwap_flips.csv"


@pytest.fixture
def runner(monkeypatch, tmp_path) -> CliRunner:
    monkeypatch.delenv("HLMM_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)  # no ./hlmm.toml: the defaults are the base
    return CliRunner()


@pytest.fixture(scope="module")
def toxic_csv(tmp_path_factory) -> Path:
    trips = st.mm_round_trips(12_000, seed=2, days=20, toxic_hours=(6, 7, 14), toxic_edge_bps=-25.0,
                              base_edge_bps=6.0, large_edge_bps=-10.0, fee_bps=1.5)
    return st.write_ui_csv(tmp_path_factory.mktemp("cli") / "toxic.csv", trips)


def test_report_on_a_real_export(runner):
    result = runner.invoke(cli, ["calibrate", str(UI)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    for section in ("Totals", "By coin", "By size (fill notional)", "By UTC hour", "Maker vs taker",
                    "Round trips (FIFO per coin)", "Worst 10 fills", "Scenarios (", "Recommendations"):
        assert f"\n{section}" in out
    assert "dates read day-first (a first field above 12" in out
    assert "times taken as UTC" in out
    assert "estimated from fee rates" in out
    assert "-$719.98" in out  # the export's closedPnl total


def test_json_local_and_global_flags(runner):
    local = runner.invoke(cli, ["calibrate", str(UI), "--json"])
    glob = runner.invoke(cli, ["--json", "calibrate", str(UI)])
    assert local.exit_code == glob.exit_code == 0
    a, b = json.loads(local.stdout), json.loads(glob.stdout)
    assert a["analysis"] == b["analysis"]
    assert a["inputs"][0]["date_order"]["order"] == "day-first"
    assert a["analysis"]["totals"]["pnl_usd"] == pytest.approx(-719.98, abs=0.01)
    assert len(a["analysis"]["hours_utc"]) == 24
    assert {r["key"] for r in a["recommendations"]["items"]} >= {"strategy.toxic_hours_utc",
                                                                 "strategy.spread_floor_bps"}


def test_params_fragment_loads_with_load_config_as_is(runner, toxic_csv, tmp_path):
    out = tmp_path / "params.toml"
    result = runner.invoke(cli, ["calibrate", str(toxic_csv), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    fragment = payload["recommendations"]["fragment"]
    assert fragment["strategy"]["toxic_hours_utc"] == [6, 7, 14]
    cfg = load_config(out)  # the fragment on its own is a valid config file
    for key, value in fragment["strategy"].items():
        got = getattr(cfg.strategy, key)
        assert (list(got) if isinstance(got, tuple) else got) == value
    assert cfg.sources["strategy.toxic_hours_utc"] == str(out)
    # and included from a main config, as the report tells the user to do
    main = tmp_path / "hlmm.toml"
    main.write_text(f'include = ["{out.name}"]\n\n[risk]\nmax_position_usd = 500.0\n')
    full = load_config(main)
    assert full.strategy.toxic_hours_utc == (6, 7, 14) and full.risk.max_position_usd == 500.0
    text = out.read_text()
    assert text.startswith("# Calibrated by hlmm calibrate") and "(written)" in text and "(not written)" in text


def test_config_current_values_come_from_the_global_config(runner, toxic_csv, tmp_path):
    cfg = tmp_path / "base.toml"
    cfg.write_text("[strategy]\nmax_order_notional_usd = 5000.0\n")
    result = runner.invoke(cli, ["--config", str(cfg), "calibrate", str(toxic_csv), "--json"])
    assert result.exit_code == 0, result.output
    items = {r["key"]: r for r in json.loads(result.stdout)["recommendations"]["items"]}
    assert items["strategy.max_order_notional_usd"]["current"] == 5000.0
    assert items["strategy.max_order_notional_usd"]["written"] and \
        items["strategy.max_order_notional_usd"]["value"] == 2000.0


def test_out_does_not_clobber_a_foreign_file(runner, tmp_path):
    precious = tmp_path / "hlmm.toml"
    precious.write_text("[risk]\nmax_position_usd = 1.0\n")
    result = runner.invoke(cli, ["calibrate", str(UI), "--out", str(precious)])
    assert result.exit_code == 1
    assert "was not written by hlmm calibrate" in result.stderr
    assert precious.read_text() == "[risk]\nmax_position_usd = 1.0\n"
    again = runner.invoke(cli, ["calibrate", str(UI), "--out", str(precious), "--force"])
    assert again.exit_code == 0 and load_config(precious) is not None


@pytest.mark.parametrize("content,code,text", [
    (b"", 1, "the file is empty"),
    (b"\x89PNG\r\n\x1a\n", 1, "a PNG image"),
    ((FIX / "ui_funding_amauryleproux.csv").read_bytes(), 1, "Funding History export"),
])
def test_wrong_inputs_exit_codes(runner, tmp_path, content, code, text):
    path = tmp_path / "input.csv"
    path.write_bytes(content)
    result = runner.invoke(cli, ["calibrate", str(path)])
    assert result.exit_code == code
    assert text in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_usage_errors_exit_2(runner, tmp_path):
    assert runner.invoke(cli, ["calibrate", str(UI), "--buckets", "2000,500"]).exit_code == 2
    assert runner.invoke(cli, ["calibrate", str(UI), "--buckets", "abc"]).exit_code == 2
    assert runner.invoke(cli, ["calibrate", str(tmp_path / "missing.csv")]).exit_code == 2
    assert runner.invoke(cli, ["calibrate"]).exit_code == 2


def test_bad_tz_is_an_input_error(runner):
    result = runner.invoke(cli, ["calibrate", str(UI), "--tz", "Mars/Olympus"])
    assert result.exit_code == 1 and "unknown time zone" in result.stderr


def test_options_reach_the_analysis(runner):
    result = runner.invoke(cli, ["calibrate", str(UI), "--json", "--buckets", "1000", "--ci", "bootstrap",
                                 "--bootstrap", "300", "--seed", "4", "--confidence", "0.9", "--min-fills", "5",
                                 "--min-blocks", "3", "--worst", "3", "--attribution", "close"])
    assert result.exit_code == 0, result.output
    a = json.loads(result.stdout)["analysis"]
    assert [b["label"] for b in a["size_buckets"]] == ["< $1k", ">= $1k"]
    assert a["options"]["ci_method"] == "bootstrap" and a["options"]["confidence"] == 0.9
    assert a["options"]["attribution"] == "close" and len(a["worst_fills"]) == 3
    assert any(h["status"] != "insufficient" for h in a["hours_utc"] if h["fills"])


def test_several_files_and_dayfirst_override(runner):
    result = runner.invoke(cli, ["calibrate", str(UI), str(FIX / "ui_trades_kagruni_dmy_dash.csv"), "--json"])
    assert result.exit_code == 0
    d = json.loads(result.stdout)
    assert len(d["inputs"]) == 2 and d["analysis"]["totals"]["fills"] == 312 + 489
    forced = runner.invoke(cli, ["calibrate", str(FIX / "ui_trades_amauryleproux_dmy_space_flips.csv"),
                                 "--monthfirst", "--json"])
    order = json.loads(forced.stdout)["inputs"][0]["date_order"]
    assert order["order"] == "month-first" and order["forced"]


def test_progress_on_request(runner):
    result = runner.invoke(cli, ["calibrate", str(UI), "--progress"])
    assert result.exit_code == 0 and "calibrate: reading" in result.stderr and "analysed" in result.stderr
    quiet = runner.invoke(cli, ["calibrate", str(UI)])
    assert quiet.stderr == ""


def test_plot_without_matplotlib_is_one_line_and_exit_1(runner, monkeypatch, tmp_path):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "matplotlib" else real(name, *a))
    result = runner.invoke(cli, ["calibrate", str(UI), "--plot", str(tmp_path / "charts")])
    assert result.exit_code == 1
    assert "needs matplotlib" in result.stderr and "hlmm[plot]" in result.stderr
    assert not (tmp_path / "charts").exists()


def test_plot_writes_pngs(runner, tmp_path):
    pytest.importorskip("matplotlib", reason="matplotlib (the plot extra) is not installed")
    charts = tmp_path / "charts"
    result = runner.invoke(cli, ["calibrate", str(UI), "--plot", str(charts)])
    assert result.exit_code == 0, result.output
    for name in ("pnl_by_hour.png", "edge_by_size.png", "cumulative_pnl.png"):
        data = (charts / name).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 5000


def test_merge_learned_parameters(runner, toxic_csv, tmp_path):
    learned = tmp_path / "learned.toml"
    write_learned(learned, LearnedParams(values=[
        LearnedValue("strategy.alpha_touch", 0.30, 4000, 0.28, 0.32, "session markouts"),
        LearnedValue("strategy.delta_char_bps", 12.0, 4000, None, None, "session fit"),
        LearnedValue("strategy.toxic_hours_utc", [13], 900, None, None, "session hours"),
    ], session="0xabc"))
    out = tmp_path / "params.toml"
    result = runner.invoke(cli, ["calibrate", str(toxic_csv), "--merge", str(learned), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    d = json.loads(result.stdout)
    lines = {m["key"]: m for m in d["merge"]["keys"]}
    assert lines["strategy.toxic_hours_utc"]["merged"] == [6, 7, 13, 14]
    assert lines["strategy.delta_char_bps"]["merged"] == 12.0
    alpha = lines["strategy.alpha_touch"]
    low, high = sorted([alpha["history"], alpha["learned"]])
    assert low <= alpha["merged"] <= high and "inverse-variance" in alpha["rule"]
    cfg = load_config(out)
    assert cfg.strategy.toxic_hours_utc == (6, 7, 13, 14) and cfg.strategy.delta_char_bps == 12.0


def test_invalid_merge_file_exits_3(runner, tmp_path):
    bad = tmp_path / "learned.toml"
    bad.write_text('format = "hlmm-learned-1"\n[params.strategy]\nalpha_touch = 7.0\n')
    result = runner.invoke(cli, ["calibrate", str(UI), "--merge", str(bad)])
    assert result.exit_code == 3 and "alpha_touch" in result.stderr


def test_real_process_never_prints_a_traceback(tmp_path):
    bad = tmp_path / "trades.csv"
    bad.write_bytes(b"PK\x03\x04 this is really a spreadsheet")
    env = {k: v for k, v in os.environ.items() if k != "HLMM_CONFIG"}
    env["PYTHONPATH"] = str(REPO)
    proc = subprocess.run([sys.executable, "-m", "cli.main", "calibrate", str(bad)], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path, env=env)
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0 and "ZIP archive" in proc.stderr and "Traceback" not in proc.stderr
