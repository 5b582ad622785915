"""`hlmm ladder-preview`: against the real sim (embedded process and an in-process sim URL), saved real
l2Book files, an unreachable venue (a closed loopback port), bad book files, the JSON schema, --position."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli
from hlmm.config import Config
from hlmm.engine.account_state import AccountState
from hlmm.engine.market_model import MarketModel
from hlmm.engine.preview import SCHEMA, build_preview, fetch_market_data, offline_market_data, read_book_file
from hlmm.exchange import wire
from hlmm.exchange.http import InfoClient
from hlmm.sim.runner import SimThread

REPO = Path(__file__).resolve().parents[1]
FX = REPO / "tests" / "fixtures"
BTC_INFO = FX / "l2book_btc_info_2026-05-29.json"          # /info answer, BTC 20x20
HYPE_WS = FX / "l2book_hype_ws_2025-01-12.json"            # WebSocket message, HYPE 20x20
SOL_WS = FX / "l2book_sol_ws_2026-04-01.json"              # WebSocket message, SOL 20x20
BTC_PRETTY = FX / "l2book_btc_http_nautilus.json"          # /info answer, pretty-printed, 5 levels, no n


def invoke(*args: str):
    result = CliRunner().invoke(cli, list(args), env={"HLMM_CONFIG": None})
    assert "Traceback" not in result.stdout and "Traceback" not in (result.stderr or "")
    return result


def closed_port_url() -> str:
    """A loopback URL nobody listens on (the port was just released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# ------------------------------------------------------------------ unreachable venue


def test_an_unreachable_venue_is_one_line_exit_4_with_the_offline_alternatives():
    url = closed_port_url()
    env = {k: v for k, v in os.environ.items() if k != "HLMM_CONFIG"}
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run([sys.executable, "-m", "cli.main", "ladder-preview", "--asset", "BTC", "--venue", url],
                          capture_output=True, text=True, timeout=60, cwd=REPO, env=env)
    assert done.returncode == 4
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"hlmm: error: cannot reach {url}: ")
    assert "--venue sim" in lines[0] and "--book FILE" in lines[0]


def test_the_default_venue_is_mainnet(monkeypatch):
    import hlmm.engine.preview as preview

    url = closed_port_url()
    monkeypatch.setattr(preview, "MAINNET_API_URL", url)    # keep the test off the internet either way
    result = invoke("ladder-preview", "--asset", "BTC")
    assert result.exit_code == 4
    assert f"cannot reach mainnet ({url})" in result.stderr


# ------------------------------------------------------------------ saved books


@pytest.mark.parametrize("book, coin", [(BTC_INFO, "BTC"), (HYPE_WS, "HYPE"), (SOL_WS, "SOL"), (BTC_PRETTY, "BTC")])
def test_a_saved_book_previews_offline_with_the_bundled_meta_and_says_it_is_cold(book, coin):
    result = invoke("ladder-preview", "--asset", coin, "--book", str(book))
    assert result.exit_code == 0, result.stdout + result.stderr
    out = result.stdout
    assert out.startswith(f"hlmm ladder-preview {coin}: book file {book}")
    assert "[COLD: volatility, intensity, microprice from priors]" in out
    assert "from hlmm's bundled copy of Hyperliquid's mainnet meta" in out
    assert "only a book was given" in out
    assert "SIDE  LVL  PRICE" in out and "\nbids: " in out and "\nasks: " in out


def test_book_preview_numbers_follow_the_file_and_the_asset_rules():
    data = json.loads(BTC_INFO.read_text())
    result = invoke("ladder-preview", "--asset", "BTC", "--book", str(BTC_INFO), "--json")
    doc = json.loads(result.stdout)
    assert doc["model"]["mid"] == (73681.0 + 73682.0) / 2
    assert doc["time_ms"] == data["time"] and doc["time_utc"] == "2026-05-29 08:51:16 UTC"
    assert doc["source"] == {"venue": None, "url": None, "book_file": str(BTC_INFO), "meta": "bundled",
                             "meta_description": doc["source"]["meta_description"],
                             "fetched": {"trades": 0, "candles": 0, "book_levels": [20, 20], "funding": None}}
    btc = offline_market_data("BTC", read_book_file(BTC_INFO), BTC_INFO).asset
    for row in doc["levels"]:
        units = wire.price_units(row["price"], btc, 0)
        assert wire.check_order(units, wire.size_lots(row["size"], btc), btc, False) is None
        if row["side"] == "bid":
            assert row["price"] < doc["model"]["mid"]
        else:
            assert row["price"] > doc["model"]["mid"]


@pytest.mark.parametrize("content, expected", [
    (b"", "empty l2Book message"),
    (b"this is not json", "malformed JSON"),
    (b"[1, 2, 3]", "message must be a JSON object"),
    (b'{"channel":"trades","data":[]}', "expected channel 'l2Book', got 'trades'"),
    (b'{"coin":"BTC","time":1}', "missing field 'levels'"),
    (b'{"coin":"ETH","time":1,"levels":[[],[]]}', "the file holds a 'ETH' l2Book, not 'BTC' (use --asset ETH)"),
    (HYPE_WS.read_bytes(), "the file holds a 'HYPE' l2Book, not 'BTC' (use --asset HYPE)"),
    (b'{"coin":"BTC","time":1,"levels":[[{"px":"101.0","sz":"1"}],[{"px":"100.0","sz":"1"}]]}', "crossed book"),
    (b'{"coin":"BTC","time":1,"levels":[[{"px":"100.0","sz":"1"}],[]]}', "the book is not two-sided"),
])
def test_a_bad_book_file_is_a_clear_one_line_error(tmp_path, content, expected):
    path = tmp_path / "book.json"
    path.write_bytes(content)
    result = invoke("ladder-preview", "--asset", "BTC", "--book", str(path))
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hlmm: error: ") and expected in lines[0], result.stderr


def test_a_missing_book_file_and_an_unknown_coin(tmp_path):
    result = invoke("ladder-preview", "--asset", "BTC", "--book", str(tmp_path / "nope.json"))
    assert result.exit_code == 1 and "cannot read the file: No such file or directory" in result.stderr
    result = invoke("ladder-preview", "--asset", "btc", "--book", str(BTC_INFO))
    assert result.exit_code == 1 and "unknown coin 'btc' (did you mean 'BTC'?)" in result.stderr


def test_bad_options_are_usage_errors():
    for args, text in ((["--venue", "ftp://x"], "--venue"), (["--position", "nan"], "finite"),
                       (["--levels", "0"], "--levels"), (["--account-value", "-5"], "--account-value")):
        result = invoke("ladder-preview", "--asset", "BTC", "--book", str(BTC_INFO), *args)
        assert result.exit_code == 2 and text in result.stderr, (args, result.stderr)


# ------------------------------------------------------------------ JSON schema


def test_json_output_schema():
    result = invoke("--json", "ladder-preview", "--asset", "BTC", "--book", str(BTC_INFO), "--position", "0.0005",
                    "--account-value", "400", "--levels", "8")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["schema"] == SCHEMA
    assert set(doc) == {"schema", "coin", "time_ms", "time_utc", "cold", "source", "model", "warmup", "account",
                        "params", "ladder", "levels", "dropped", "notes"}
    assert doc["cold"] is True and set(doc["warmup"]["cold"]) == {"volatility", "intensity", "microprice"}
    for key in ("mid", "microprice", "sigma_bps", "regime", "kappa", "A", "gamma_base", "tod_gamma_mult",
                "regime_gamma_mult", "gamma_eff", "delta_star_bps", "skew_bps", "toxicity_bid", "toxicity_ask"):
        assert key in doc["model"]
    assert set(doc["warmup"]["estimators"]) == {"volatility", "intensity", "flow", "microprice", "toxicity"}
    assert doc["account"]["position"] == 0.0005 and doc["account"]["account_value"] == 400
    # the exchange's figure for this what-if: value minus the position's margin at the allowed leverage
    lev = doc["params"]["allowed_leverage"]
    assert doc["account"]["available_margin"] == pytest.approx(400 - 0.0005 * doc["model"]["mid"] / lev)
    assert doc["params"]["available_margin"] == doc["account"]["available_margin"]
    assert doc["ladder"]["sides"]["bid"]["levels"] == 8
    level_keys = {"side", "level", "price", "size", "notional", "depth_mid_bps", "depth_fair_bps", "p_fill",
                  "edge_bps", "cum_size", "cum_margin", "bound_by"}
    assert doc["levels"] and all(set(r) == level_keys for r in doc["levels"])
    assert all(set(d) == {"side", "level", "reason", "price", "allocated_usd"} for d in doc["dropped"])
    assert len(doc["levels"]) + len(doc["dropped"]) == 16
    for side in ("bid", "ask"):
        rows = [r for r in doc["levels"] if r["side"] == side]
        summary = doc["ladder"]["sides"][side]
        assert rows[-1]["cum_size"] == pytest.approx(summary["size_total"])
        assert rows[-1]["cum_margin"] == pytest.approx(summary["margin_used"])
        assert [r["level"] for r in rows] == sorted(r["level"] for r in rows)
        assert all(b["depth_mid_bps"] > a["depth_mid_bps"] for a, b in zip(rows, rows[1:]))


def test_dropped_levels_are_listed_with_their_reason():
    # a small account: margin funds only some of 25 levels; the rest are min_notional drops with their budget
    result = invoke("ladder-preview", "--asset", "BTC", "--book", str(BTC_INFO), "--levels", "25",
                    "--account-value", "60")
    assert result.exit_code == 0
    assert "dropped bid levels" in result.stdout and "min_notional" in result.stdout and "minimum $10" in result.stdout
    doc = json.loads(invoke("ladder-preview", "--asset", "BTC", "--book", str(BTC_INFO), "--levels", "25",
                            "--account-value", "60", "--json").stdout)
    drops = [d for d in doc["dropped"] if d["reason"] == "min_notional"]
    assert drops and all(0 < d["allocated_usd"] < 10 + d["price"] * 1e-5 for d in drops)


# ------------------------------------------------------------------ --position


def test_a_long_position_skews_the_ladder_down_and_a_short_one_up():
    def ladder(position: str) -> dict:
        out = invoke("ladder-preview", "--asset", "BTC", "--book", str(BTC_INFO), "--json", "--position", position,
                     "--account-value", "5000", "--config", str(_config(max_position_usd=1000.0)))
        assert out.exit_code == 0, out.stderr
        return json.loads(out.stdout)

    flat, long_, short = ladder("0"), ladder("0.005"), ladder("-0.005")
    best = {name: {s: [r["price"] for r in doc["levels"] if r["side"] == s][0] for s in ("bid", "ask")}
            for name, doc in (("flat", flat), ("long", long_), ("short", short))}
    assert long_["model"]["skew_bps"] > 0 > short["model"]["skew_bps"]
    assert best["long"]["bid"] < best["flat"]["bid"] and best["long"]["ask"] <= best["flat"]["ask"]
    assert best["short"]["ask"] > best["flat"]["ask"] and best["short"]["bid"] >= best["flat"]["bid"]
    # the long's asks close the position: they need no margin
    asks = [r for r in long_["levels"] if r["side"] == "ask"]
    assert asks[0]["cum_margin"] == 0.0


_CONFIGS: dict = {}


def _config(**risk) -> Path:
    import tempfile

    key = tuple(sorted(risk.items()))
    if key not in _CONFIGS:
        fd, name = tempfile.mkstemp(suffix=".toml")
        with os.fdopen(fd, "w") as f:
            f.write("[risk]\n" + "".join(f"{k} = {v!r}\n" for k, v in risk.items()))
        _CONFIGS[key] = Path(name)
    return _CONFIGS[key]


# ------------------------------------------------------------------ the real sim


def _seed_sim_market(sim: SimThread, coin: str = "BTC", mid: float = 100_000.0) -> None:
    """Real liquidity on the sim: a maker's 10-level book, then takers crossing it both ways."""
    ex = sim.exchange
    maker, taker = "0x" + "aa" * 20, "0x" + "bb" * 20

    def setup() -> None:
        ex.create_account(maker, 5_000_000)
        ex.create_account(taker, 5_000_000)
        a = ex.asset(coin)
        for i in range(10):
            bid = wire.price_units(mid * (1 - (1 + i) * 2e-4), a, wire.DOWN)
            ask = wire.price_units(mid * (1 + (1 + i) * 2e-4), a, wire.UP)
            ex.internal_place(maker, coin, True, bid, wire.size_lots(0.5, a), "Gtc")
            ex.internal_place(maker, coin, False, ask, wire.size_lots(0.5, a), "Gtc")
        for k in range(6):
            is_buy = k % 2 == 0
            px = wire.price_units(mid * (1.01 if is_buy else 0.99), a, wire.UP if is_buy else wire.DOWN)
            ex.internal_place(taker, coin, is_buy, px, wire.size_lots(0.05, a), "Ioc")

    sim.call(setup)


def test_against_an_in_process_sim_url():
    with SimThread(seed=11, assets=("BTC", "ETH")) as sim:
        _seed_sim_market(sim)
        book = InfoClient(sim.url).l2_book("BTC")
        result = invoke("ladder-preview", "--asset", "BTC", "--venue", sim.url, "--json", "--position", "-0.0003")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["source"]["venue"] == sim.url and doc["source"]["meta"] == "venue"
    assert doc["source"]["fetched"]["trades"] == 6 and doc["source"]["fetched"]["candles"] >= 1
    assert doc["source"]["fetched"]["book_levels"] == [len(book["levels"][0]), len(book["levels"][1])]
    best_bid, best_ask = float(book["levels"][0][0]["px"]), float(book["levels"][1][0]["px"])
    assert doc["model"]["mid"] == (best_bid + best_ask) / 2
    assert doc["warmup"]["estimators"]["flow"]["samples"] == 6
    assert doc["levels"] and doc["account"]["position"] == -0.0003


def test_preview_is_market_model_quote_for_the_same_inputs():
    """The same code path as `hlmm trade`: a MarketModel fed the same /info data quotes the same ladder."""
    cfg = Config()
    with SimThread(seed=12, assets=("BTC",)) as sim:
        _seed_sim_market(sim)
        info = InfoClient(sim.url)
        data = fetch_market_data(info, "BTC")
        info.close()
    preview = build_preview(cfg, data, position=0.0004, account_value=2_000.0)
    model = MarketModel.from_config(cfg, data.asset)
    model.warm_from_history(data.candles, data.recent_trades, data.l2book)
    model.on_funding(data.funding)
    mid = model.book.mid()
    account = AccountState.hypothetical(2_000.0, 0.0004, mid, model.allowed_leverage(0.0004, mid))
    params, ladder, _ = model.quote(account)
    assert params == preview.params
    assert ladder.to_dict() == preview.ladder.to_dict()


def test_venue_sim_starts_the_embedded_sim_and_stops_it():
    before = _sim_children()
    result = invoke("ladder-preview", "--asset", "ETH", "--venue", "sim", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["source"]["venue"] == "sim" and doc["source"]["url"].startswith("http://127.0.0.1:")
    assert doc["coin"] == "ETH" and doc["levels"]
    assert _sim_children() == before                          # the sim process is gone
    result = invoke("ladder-preview", "--asset", "PEPE", "--venue", "sim")
    assert result.exit_code == 1 and "the sim has no market for 'PEPE'" in result.stderr


def _sim_children() -> set[int]:
    pids = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes().split(b"\0")
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == os.getpid() and b"sim" in cmd:
                pids.add(int(entry.name))
    return pids


def test_a_book_file_with_a_venue_takes_the_asset_rules_from_the_venue():
    with SimThread(seed=13, assets=("BTC",)) as sim:
        result = invoke("ladder-preview", "--asset", "BTC", "--book", str(BTC_INFO), "--venue", sim.url, "--json")
    doc = json.loads(result.stdout)
    assert result.exit_code == 0 and doc["source"]["meta"] == "venue" and doc["source"]["venue"] == sim.url
    assert "meta_description" not in doc["source"]


# ------------------------------------------------------------------ --plot


def test_plot_writes_a_png(tmp_path):
    out = tmp_path / "ladder.png"
    result = invoke("ladder-preview", "--asset", "HYPE", "--book", str(HYPE_WS), "--plot", str(out))
    assert result.exit_code == 0 and f"plot written to {out}" in result.stdout
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000


def test_plot_without_matplotlib_is_one_line_and_non_zero(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)       # `import matplotlib` now raises ImportError
    out = tmp_path / "ladder.png"
    result = invoke("ladder-preview", "--asset", "BTC", "--book", str(BTC_INFO), "--plot", str(out))
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.strip() == ("hlmm: error: --plot needs matplotlib, which is not installed "
                                     "(pip install 'hlmm[plot]')")
    assert not out.exists()


def test_plot_to_an_unwritable_path(tmp_path):
    result = invoke("ladder-preview", "--asset", "BTC", "--book", str(BTC_INFO), "--plot",
                    str(tmp_path / "missing-dir" / "x.png"))
    assert result.exit_code == 1 and "cannot write the file" in result.stderr


def test_a_preview_with_candle_history_reports_history_warmed_estimators():
    from hlmm.engine.preview import MarketData
    from test_market_model import _synthetic_history

    candles, book, _ = _synthetic_history(5, 1.5e-4, 1.0)
    asset = offline_market_data("BTC", read_book_file(BTC_INFO), BTC_INFO).asset
    trades = [{"coin": "BTC", "side": "B" if i % 3 else "A", "px": book["levels"][1][0]["px"], "sz": "0.01",
               "time": book["time"] - 5_000 + i * 400, "tid": i} for i in range(20)]
    preview = build_preview(Config(), MarketData("BTC", asset, "venue", book, trades, candles, 0.00002))
    why = preview.explanation
    assert why.sigma_source == "estimate" and why.regime_source == "estimate" and why.funding_rate == 0.00002
    assert why.cold == ("intensity", "microprice")            # 20 prints and one book cannot warm these
    status = {e.name: e for e in why.warmup.estimators}
    assert status["volatility"].source == "history"
    assert status["toxicity"].source == "history+live"      # the quote's own sample is a live one
    assert status["flow"].samples == 20
    doc = preview.to_dict()
    assert doc["model"]["sigma_bps"] == pytest.approx(preview.model.volatility.sigma_bps)
    assert doc["source"]["fetched"]["candles"] == len(candles) and doc["source"]["fetched"]["trades"] == 20
    assert "volatility history" in "\n".join(preview.header_lines())
