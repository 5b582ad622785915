"""Reading trade files: every real export, hand-made files with known totals, bad rows, wrong file types."""
from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from hlmm.calibration import dates
from hlmm.calibration.fills import FLAG_HIP3, FLAG_LIQUIDATION, FLAG_PRICE_IMPROVED, FLAG_SPOT, KIND_FLIP
from hlmm.calibration.tradefile import ReadOptions, TradeFileError, read_trade_file
from hlmm.errors import ExitCode

FIX = Path(__file__).parent / "fixtures"
HEADER = "time,coin,dir,px,sz,ntl,fee,closedPnl\n"


def _ms(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc).timestamp() * 1000)


# --------------------------------------------------------------------------- real UI exports

UI_FIXTURES = [
    # file, rows, fills (spot left out), date order, decided by a value above 12
    ("ui_trades_0xsmit_dmy_dash_head2349.csv", 2349, 2349, dates.DAY_FIRST, True),
    ("ui_trades_varial17_hip3_spot_no_eol.csv", 14, 13, dates.DAY_FIRST, True),
    ("ui_trades_amauryleproux_dmy_space_flips.csv", 1524, 1522, dates.DAY_FIRST, False),
    ("ui_trades_fede_vwap_flips.csv", 312, 312, dates.DAY_FIRST, True),
    ("ui_trades_fightingentropy_dmy_dash.csv", 415, 415, dates.DAY_FIRST, True),
    ("ui_trades_kagruni_dmy_dash.csv", 489, 489, dates.DAY_FIRST, True),
    ("ui_trades_quannsql_mdy.csv", 605, 605, dates.MONTH_FIRST, True),
    ("ui_trades_quannsql_time_first_dmy.csv", 178, 178, dates.DAY_FIRST, True),
]


@pytest.mark.parametrize("name,rows,fills,order,proved", UI_FIXTURES)
def test_every_ui_export_parses_with_the_right_date_order(name, rows, fills, order, proved):
    r = read_trade_file(FIX / name)
    assert r.format == "ui_csv"
    assert r.rows_seen == rows
    assert len(r.table) == fills
    assert r.bad_count == 0
    assert r.date_order.order == order
    assert r.date_order.ambiguous is (not proved)
    assert r.timezone_assumed
    t = r.table
    assert np.all(np.diff(t.time_ms) >= 0)
    assert np.all(t.px > 0) and np.all(t.sz > 0) and np.all(t.ntl > 0)
    # the export's closedPnl is net of the fee: opening fills show exactly -fee
    opens = t.kind == 0
    assert np.allclose(t.pnl[opens], -t.fee[opens])


def test_ui_totals_match_the_raw_columns():
    import csv

    path = FIX / "ui_trades_kagruni_dmy_dash.csv"
    raw = list(csv.DictReader(path.open()))
    t = read_trade_file(path).table
    assert t.pnl.sum() == pytest.approx(sum(float(r["closedPnl"]) for r in raw), rel=1e-12)
    assert t.fee.sum() == pytest.approx(sum(float(r["fee"]) for r in raw), rel=1e-12)
    assert t.ntl.sum() == pytest.approx(sum(float(r["ntl"]) for r in raw), rel=1e-12)


def test_mdy_and_time_first_exports_of_one_account_agree():
    """Two locales of the same account: the overlapping fills must land on the same UTC instants."""
    mdy = read_trade_file(FIX / "ui_trades_quannsql_mdy.csv").table
    tf = read_trade_file(FIX / "ui_trades_quannsql_time_first_dmy.csv").table
    key = lambda t, i: (int(t.time_ms[i]), t.coins[t.coin[i]], float(t.px[i]), float(t.sz[i]))  # noqa: E731
    a = {key(mdy, i) for i in range(len(mdy))}
    b = {key(tf, i) for i in range(len(tf))}
    assert len(b) > 150 and b <= a
    assert int(tf.time_ms[0]) == _ms("2026-06-27T14:11:28")


def test_hip3_coins_spot_and_missing_final_newline():
    r = read_trade_file(FIX / "ui_trades_varial17_hip3_spot_no_eol.csv", ReadOptions(include_spot=True))
    t = r.table
    assert set(t.coins) == {"HYPE", "ETH", "xyz:NVDA", "xyz:GOOGL", "HYPE/USDC"}
    nvda = [i for i in range(len(t)) if t.coins[t.coin[i]] == "xyz:NVDA"]
    assert len(nvda) == 3 and all(t.flags[i] & FLAG_HIP3 for i in nvda)
    spot = np.flatnonzero(t.flags & FLAG_SPOT)
    assert len(spot) == 1
    i = int(spot[0])
    # the spot buy's fee is in HYPE: 0.00019487 HYPE at 57.193 = the closedPnl's 0.01114519991 USDC
    assert t.fee[i] == pytest.approx(0.00019487 * 57.193, rel=1e-12)
    assert t.pnl[i] == pytest.approx(-0.01114519991, rel=1e-9)
    assert int(t.time_ms[-1]) == _ms("2026-05-22T16:56:25")  # the last row, which has no newline
    default = read_trade_file(FIX / "ui_trades_varial17_hip3_spot_no_eol.csv")
    assert len(default.table) == 13
    (reason, count), = default.skipped.items()
    assert count == 1 and "spot" in reason and "HYPE/USDC" in reason


def test_flips_and_price_improved_rows():
    t = read_trade_file(FIX / "ui_trades_amauryleproux_dmy_space_flips.csv").table
    assert int(np.count_nonzero(t.kind == KIND_FLIP)) == 83
    t2 = read_trade_file(FIX / "ui_trades_0xsmit_dmy_dash_head2349.csv").table
    assert int(np.count_nonzero(t2.flags & FLAG_PRICE_IMPROVED)) == 7  # lines 67, 69, 126, 910, 919, 988, 1079
    assert int(np.count_nonzero(t2.kind == KIND_FLIP)) == 1


def test_ambiguous_dates_say_so_and_can_be_forced():
    body = HEADER + "03/04/2025 10:00:00,ETH,Open Long,1000,1,1000,0.1,-0.1\n" \
                    "05/04/2025 10:00:00,ETH,Close Long,1010,1,1010,0.1,9.9\n"
    r = _read_text(body)
    assert r.date_order.order == dates.DAY_FIRST  # 03/04 then 05/04 is in order either way; zero-padded
    assert r.date_order.ambiguous
    forced = _read_text(body, ReadOptions(date_order=dates.MONTH_FIRST))
    assert forced.date_order.forced and int(forced.table.time_ms[0]) == _ms("2025-03-04T10:00:00")


def test_time_order_decides_undecidable_dates():
    # read month-first these run 2025-01-02, 01-03, 01-04 (in order); day-first they would jump around
    body = HEADER + "".join(f"1/{d}/2025 - 10:00:00,ETH,Open Long,1000,1,1000,0.1,-0.1\n" for d in (2, 3, 4)) \
        + "2/1/2025 - 10:00:00,ETH,Close Long,1000,3,3000,0.3,-0.3\n"
    r = _read_text(body)
    assert r.date_order.order == dates.MONTH_FIRST and not r.date_order.ambiguous
    assert "time order" in r.date_order.reason


def test_time_zone_conversion():
    body = HEADER + "15/01/2025 - 10:00:00,ETH,Open Long,1000,1,1000,0.1,-0.1\n" \
                    "15/07/2025 - 10:00:00,ETH,Close Long,1000,1,1000,0.1,-0.1\n"
    paris = _read_text(body, ReadOptions(tz="Europe/Paris")).table
    assert int(paris.time_ms[0]) == _ms("2025-01-15T09:00:00")  # CET
    assert int(paris.time_ms[1]) == _ms("2025-07-15T08:00:00")  # CEST
    ist = _read_text(body, ReadOptions(tz="+05:30")).table
    assert int(ist.time_ms[0]) == _ms("2025-01-15T04:30:00")
    with pytest.raises(TradeFileError, match="unknown time zone"):
        _read_text(body, ReadOptions(tz="Mars/Olympus"))


# ----------------------------------------------------------------------- hand-made, known totals

HANDMADE = HEADER + (
    "01/02/2025 - 10:00:00,BTC,Open Long,100000,0.01,1000,0.15,-0.15\n"
    "01/02/2025 - 10:05:00,BTC,Close Long,100500,0.01,1005,0.15075,4.84925\n"
    "13/02/2025 - 14:00:00,ETH,Open Short,3000,1,3000,0.45,-0.45\n"
    "13/02/2025 - 14:30:00,ETH,Close Short,3030,1,3030,0.4545,-30.4545\n"
)


def _read_text(text: str, options: ReadOptions | None = None, tmp: Path | None = None, name: str = "t.csv"):
    import tempfile

    directory = Path(tmp) if tmp else Path(tempfile.mkdtemp())
    path = directory / name
    path.write_text(text) if isinstance(text, str) else path.write_bytes(text)
    return read_trade_file(path, options)


def test_handmade_totals(tmp_path):
    r = _read_text(HANDMADE, tmp=tmp_path)
    t = r.table
    assert len(t) == 4 and r.date_order.order == dates.DAY_FIRST
    assert t.pnl.sum() == pytest.approx(-26.20525, abs=1e-9)
    assert t.fee.sum() == pytest.approx(1.20525, abs=1e-9)
    assert t.gross.sum() == pytest.approx(-25.0, abs=1e-9)
    assert t.ntl.sum() == pytest.approx(8035.0)
    assert t.side.tolist() == [1, -1, -1, 1]
    assert t.coins == ["BTC", "ETH"]
    assert int(t.time_ms[2]) == _ms("2025-02-13T14:00:00")


def test_quoted_rows_crlf_and_bom(tmp_path):
    text = "\ufeff" + HANDMADE.replace("\n", "\r\n").replace(",BTC,", ',"BTC",', 1)
    r = _read_text(text.encode("utf-8"), tmp=tmp_path)
    assert len(r.table) == 4 and r.bad_count == 0
    assert r.table.pnl.sum() == pytest.approx(-26.20525, abs=1e-9)


def test_gzip_is_transparent(tmp_path):
    path = tmp_path / "t.csv.gz"
    path.write_bytes(gzip.compress(HANDMADE.encode()))
    r = read_trade_file(path)
    assert r.compressed and len(r.table) == 4


def test_corrupt_rows_are_reported_with_line_numbers(tmp_path):
    lines = HANDMADE.splitlines()
    text = "\n".join([
        lines[0], lines[1],
        "01/02/2025 - 10:01:00,BTC,Open Long,abc,0.01,1000,0.15,-0.15",     # line 3: px not a number
        "31/02/2025 - 10:02:00,BTC,Open Long,100000,0.01,1000,0.15,-0.15",  # line 4: no 31 February
        "01/02/2025 - 10:03:00,BTC,Open Long,100000,0.01,1000,,-0.15",      # line 5: fee missing
        "01/02/2025 - 10:04:00,BTC,Open Long,100000",                       # line 6: too few fields
        "yesterday,BTC,Open Long,100000,0.01,1000,0.15,-0.15",              # line 7: not a date
        "01/02/2025 - 10:04:30,BTC,Open Long,100000,0,0,0,0",               # line 8: zero size
        "01/02/2025 - 10:04:40,BTC,Teleport,100000,0.01,1000,0.15,-0.15",   # line 9: unknown dir
        *lines[2:],
    ]) + "\n"
    r = _read_text(text, tmp=tmp_path)
    assert len(r.table) == 4
    assert r.table.pnl.sum() == pytest.approx(-26.20525, abs=1e-9)
    got = {b.line: b.reason for b in r.bad_rows}
    assert got == {
        3: "px is not a number", 4: "time is not a valid day-first date", 5: "missing fee",
        6: "wrong number of fields (expected 8)", 7: "time is not a date-time", 8: "sz must be positive",
    }
    assert r.bad_count == 6
    assert r.skipped == {'dir "Teleport" not understood': 1}
    assert r.bad_summary().startswith("6 bad rows (")
    messages = [b.message() for b in r.bad_rows]
    assert "line 3: px is not a number: 'abc'" in messages


def test_nothing_valid_is_an_error(tmp_path):
    text = HEADER + "x,BTC,Open Long,1,1,1,0,0\n" + "y,BTC,Open Long,1,1,1,0,0\n"
    with pytest.raises(TradeFileError) as err:
        _read_text(text, tmp=tmp_path)
    assert "no usable fill in 2 rows" in str(err.value) and "line 2" in str(err.value)
    assert err.value.exit_code == ExitCode.FAILURE


# ----------------------------------------------------------------------------- wrong file types

@pytest.mark.parametrize("content,expected", [
    (b"", "the file is empty"),
    (b"  \n\n  ", "the file is empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "a PNG image"),
    (b"PK\x03\x04\x14\x00\x06\x00", "ZIP archive"),
    (b"%PDF-1.7\n", "PDF"),
    (b"abc\x00\x01\x02def", "a binary file"),
    (b"\xff\xfe\xfd time,coin", "not UTF-8"),
    ("caf\u00e9,1\n".encode("latin-1") + b"x" * 10, "not UTF-8"),
    (b"hello world\nthis is a note\n", "not a trade CSV"),
    (b"time_iso,pair,side,price,size,net_pnl,maker\n2025-11-05T00:19:00Z,ZK,A,0.1,10,0.1,T\n",
     "unrecognised CSV header"),
    (b"time;coin;dir;px;sz;ntl;fee;closedPnl\n", "semicolon-separated"),
    (b'{"universe": [{"name": "BTC"}]}', "a JSON object with keys universe, not fills"),
    (b'{"timestamp": 1, "level": "INFO"}\n{"timestamp": 2, "level": "INFO"}\n', "JSON lines without fills"),
    (b'{"ts":"2026-01-01T00:00:00Z","level":"info","component":"engine","event":"session_start"}\n',
     "an hlmm log with no fill events"),
    (b"[1, 2, 3]", "not fills"),
    (b"{not json", "not valid JSON"),
])
def test_wrong_file_types_get_one_line(tmp_path, content, expected):
    path = tmp_path / "input"
    path.write_bytes(content)
    with pytest.raises(TradeFileError) as err:
        read_trade_file(path)
    message = str(err.value)
    assert expected in message and "\n" not in message
    assert err.value.exit_code == ExitCode.FAILURE


def test_funding_export_is_recognised():
    with pytest.raises(TradeFileError, match="Funding History export"):
        read_trade_file(FIX / "ui_funding_amauryleproux.csv")


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(TradeFileError, match="no such file"):
        read_trade_file(tmp_path / "nope.csv")
    with pytest.raises(TradeFileError, match="directory"):
        read_trade_file(tmp_path)


# ------------------------------------------------------------------------------- JSON sources

def test_userfills_response():
    r = read_trade_file(FIX / "userfills_pysdk_2023-05_500.json")
    t = r.table
    assert r.format == "userfills_json" and r.row_unit == "fill" and r.crossed_known
    assert len(t) == 500 and np.all(np.diff(t.time_ms) >= 0)  # the API lists newest first
    raw = json.loads((FIX / "userfills_pysdk_2023-05_500.json").read_text())
    # the API's closedPnl is gross: net = closedPnl - fee
    assert t.pnl.sum() == pytest.approx(sum(float(f["closedPnl"]) - float(f["fee"]) for f in raw), rel=1e-9)
    assert int(np.count_nonzero(t.crossed == 1)) == sum(1 for f in raw if f["crossed"])


def test_userfills_without_fee_field_is_noted():
    r = read_trade_file(FIX / "userfills_pysdk_2023-02_no_fee_400.json")
    assert len(r.table) == 400 and np.all(r.table.fee == 0)
    assert any("no fee field" in n for n in r.notes)


def test_ws_message_liquidation_and_dedup(tmp_path):
    r = read_trade_file(FIX / "ws_user_fill_liquidation_nautilus.json")
    assert len(r.table) == 1 and r.table.flags[0] & FLAG_LIQUIDATION
    message = json.loads((FIX / "ws_user_fill_liquidation_nautilus.json").read_text())
    fill = message["data"]["fills"][0]
    snapshot = {"channel": "userFills", "data": {"isSnapshot": True, "user": "0xabc", "fills": [fill]}}
    path = tmp_path / "stream.jsonl"
    path.write_text(json.dumps(snapshot) + "\n" + json.dumps(message) + "\n")
    r2 = read_trade_file(path)
    assert len(r2.table) == 1 and r2.skipped == {"duplicate fills (same tid)": 1}


def test_non_trade_dirs_are_skipped_and_counted():
    r = read_trade_file(FIX / "userfills_dust_conversion_nautilus.json", ReadOptions(include_spot=True))
    assert r.rows_seen == 5 and len(r.table) == 3
    assert r.skipped['"Spot Dust Conversion" (not a trade)'] == 1
    assert r.skipped['"Net Child Vaults" (not a trade)'] == 1


def test_bad_fills_in_json_are_numbered(tmp_path):
    good = {"coin": "BTC", "px": "100", "sz": "1", "side": "B", "time": 1700000000000, "dir": "Open Long",
            "closedPnl": "0.0", "fee": "0.01", "crossed": False, "tid": 1}
    fills = [good, dict(good, px="x", tid=2), dict(good, side="?", dir="", tid=3), "junk"]
    path = tmp_path / "fills.json"
    path.write_text(json.dumps(fills))
    r = read_trade_file(path)
    assert len(r.table) == 1
    assert [b.message().split(":")[0] for b in r.bad_rows] == ["fill 2", "fill 3", "fill 4"]


def test_hlmm_session_log_fill_events(tmp_path):
    """Fills as hlmm's own logger writes them (the documented fill event), among other events."""
    from hlmm.log import configure_logging, get_logger, shutdown_logging

    path = tmp_path / "session.jsonl"
    clock = iter([1_750_000_000.0 + i for i in range(100)])
    configure_logging(path, console="off", clock=lambda: next(clock))
    log = get_logger("engine.fills")
    try:
        log.info("session_start", version="x", venue="sim", account="0x0", vault="", coins=["BTC"],
                 config_file="", pid=1)
        log.info("fill", coin="BTC", tid=1, oid=11, cloid=None, side="B", px="60000", sz="0.01", fee="0.09",
                 fee_token="USDC", crossed=False, closed_pnl="0.0", start_position="0", position="0.01",
                 mid_at_fill=60003.0, ladder_level=0)
        log.info("fill", coin="BTC", tid=2, oid=12, cloid=None, side="A", px="60010", sz="0.01", fee="0.09",
                 fee_token="USDC", crossed=False, closed_pnl="0.1", start_position="0.01", position="0",
                 mid_at_fill=60007.0, ladder_level=0)
    finally:
        shutdown_logging()
    with open(path, "a") as fh:
        fh.write('{"ts":"2025-06-15T15:06:45.000Z","event":"fill","coin":"BTC","px":"6')  # a truncated last line
    r = read_trade_file(path)
    assert r.format == "hlmm_log" and len(r.table) == 2
    t = r.table
    assert t.kind.tolist() == [0, 1]  # open, then close: derived from start_position and side
    assert t.mid.tolist() == [60003.0, 60007.0]
    assert t.pnl.tolist() == pytest.approx([-0.09, 0.01])
    assert r.bad_count == 1 and "truncated" in r.bad_rows[0].reason


def test_primetrade_csv_crlf_ist_and_accounts():
    r = read_trade_file(FIX / "primetrade_fills_head700.csv", ReadOptions(include_spot=True))
    t = r.table
    assert r.format == "primetrade_csv" and r.crossed_known and r.rows_seen == 700
    # "02-12-2024 22:50" IST is 17:20 UTC
    first_line = int(np.flatnonzero(t.line == 2)[0])
    assert int(t.time_ms[first_line]) == _ms("2024-12-02T17:20:00")
    assert set(t.crossed.tolist()) <= {0, 1}
    assert r.skipped.get('"Spot Dust Conversion" (not a trade)', 0) == 1
    accounts = [a for a in t.accounts]
    one = read_trade_file(FIX / "primetrade_fills_head700.csv", ReadOptions(include_spot=True, account=accounts[0]))
    assert 0 < len(one.table) < len(t)
    with pytest.raises(TradeFileError, match="not in the file"):
        read_trade_file(FIX / "primetrade_fills_head700.csv", ReadOptions(account="0xdead"))
