"""The status panel (terminal and plain-line modes) and the session summary's rendering."""
from __future__ import annotations

import io
import json
import math

from hlmm.engine.status import AssetStatus, EngineStatus, PnL, StatusPanel, fmt_px, panel_lines, plain_line
from hlmm.engine.summary import OrderCounts, SessionSummary
from hlmm.log import capture_logs


def _status() -> EngineStatus:
    btc = AssetStatus("BTC", mid=100_012.5, market_spread_bps=0.1, best_bid=99_930.0, best_ask=100_095.0,
                      levels_bid=3, levels_ask=3, levels_target=3, position=-0.0012, notional_usd=120.02,
                      pnl=PnL(realized=0.5, unrealized=0.25, fees=0.05, spread_capture=0.9, adverse_selection=0.2),
                      fills=4, fills_bid=1, fills_ask=3, volume_usd=480.0, regime="normal",
                      gates=["bid:toxicity"], markouts_bps={"1s": 0.4})
    eth = AssetStatus("ETH", mid=3_500.25, levels_bid=0, levels_ask=0, gates=["stale_book"])
    return EngineStatus(venue="sim http://127.0.0.1:1", account="0xabc", uptime_s=83, assets=[btc, eth],
                        ws_connected=True, rate_headroom=0.987, ip_weight_used=12, open_orders=6,
                        loop_busy_ms_p99=0.4, model_scores={"fill": {"samples": 10, "brier": 0.2}})


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_fmt_px_keeps_hyperliquid_precision():
    assert fmt_px(100_012.5) == "100012.5"
    assert fmt_px(3_500.25) == "3500.25"
    assert fmt_px(0.20001) == "0.200010"
    assert fmt_px(math.nan) == "-"


def test_panel_shows_every_asset_and_a_total():
    lines = panel_lines(_status())
    text = "\n".join(lines)
    assert "up 00:01:23" in lines[0] and "rate headroom 98.7%" in lines[0] and "ws up" in lines[0]
    assert lines[1].split()[:3] == ["COIN", "MID", "MKT"]
    btc = next(line for line in lines if line.startswith("BTC"))
    assert "100012.5" in btc and "3/3" in btc and "-0.0012" in btc and "bid:toxicity" in btc and "1/3" in btc
    assert "+0.70" in btc          # total = 0.5 + 0.25 - 0.05
    assert any(line.startswith("total") for line in lines)
    assert "models: fill n=10 brier=0.2000" in text


def test_models_line_leads_the_fill_model_with_observed_over_expected():
    s = _status()
    s.model_scores = {"fill_probability": {"samples": 400, "oe": 0.9712, "oe_low": 0.84, "oe_high": 1.113,
                                           "brier": 0.1812, "information_ratio": 0.4, "validated": True},
                      "adverse_selection": {"samples": 40, "brier": 3.5}}
    models = next(line for line in panel_lines(s) if line.startswith("models: "))
    assert models == ("models: adverse_selection n=40 brier=3.5000 | "
                      "fill_probability n=400 O/E=0.97 [0.84,1.11] brier=0.1812 IR=0.40")


def test_plain_line_is_one_line_of_key_values():
    line = plain_line(_status())
    assert "\n" not in line
    assert "BTC mid=100012.5" in line and "levels=3/3" in line and "gates=bid:toxicity" in line
    assert "ETH mid=3500.25" in line and "gates=stale_book" in line


def test_non_tty_stream_gets_one_line_per_update():
    out = io.StringIO()
    panel = StatusPanel(out)
    assert panel.tty is False
    panel.update(_status())
    panel.update(_status())
    assert out.getvalue().count("\n") == 2
    assert "\x1b[" not in out.getvalue()


def test_tty_panel_redraws_in_place_and_prints_logs_above():
    out = FakeTty()
    panel = StatusPanel(out)
    assert panel.tty is True
    panel.update(_status())
    n = len(panel_lines(_status()))
    first = out.getvalue()
    assert first.count("\n") == n and "\x1b[" in first
    panel.update(_status())
    assert out.getvalue()[len(first):].startswith(f"\x1b[{n}F\x1b[J")   # moved up over the old panel
    console = panel.console(out)
    console.write("12:00:00 WARNING engine something\n")
    tail = out.getvalue().split("12:00:00 WARNING engine something\n")
    assert tail[0].endswith(f"\x1b[{n}F\x1b[J")          # the panel was erased first
    assert tail[1].count("\n") == n                       # and redrawn below the log line


def test_disabled_panel_draws_nothing():
    out = io.StringIO()
    StatusPanel(out, enabled=False).update(_status())
    assert out.getvalue() == ""


def _summary() -> SessionSummary:
    return SessionSummary.build(_status(), started_at="2026-11-21T05:00:00.000Z",
                                ended_at="2026-11-21T05:01:23.000Z", duration_s=83.0, stop_reason="duration",
                                exit_code=0, orders={"BTC": OrderCounts(placed=10, cancelled=7, filled=4)},
                                open_orders_at_exit=0, cancel_all_confirmed=True, safety_syncs=2,
                                account_value_start=10_000.0, account_value_end=10_000.70)


def test_summary_renders_a_table_and_round_trips_as_json():
    s = _summary()
    text = s.render()
    assert "stopped by duration, exit code 0" in text
    assert "open orders at exit: 0 (all cancels confirmed)" in text
    assert "10,000.00 -> 10,000.70" in text
    d = json.loads(json.dumps(s.to_dict()))
    assert d["fills"] == 4 and d["orders"]["BTC"]["placed"] == 10
    assert d["pnl"]["total"] == 0.7
    assert d["assets"][0]["coin"] == "BTC"


def test_summary_logs_session_summary_events():
    with capture_logs() as records:
        _summary().log()
    ev = [r for r in records if r["event"] == "session_summary"]
    assert [r.get("coin") for r in ev] == ["BTC", "ETH", None]
    assert ev[0]["fills"] == 4 and ev[-1]["exit_code"] == 0 and ev[-1]["kill_switch_fired"] is False
