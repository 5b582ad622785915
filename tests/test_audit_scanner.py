"""The C log scanner (hlmm._core.logscan) and the block reader around it."""
from __future__ import annotations

import datetime as dt
import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hlmm._core.logscan import KINDS, LEVEL_NAMES, LogScanner, parse_iso_ms
from hlmm.audit.reader import scan_source
from hlmm.audit.sources import Source, sniff

T0 = "2026-01-13T22:14:01.000Z"


def line(event: str, ts: str = T0, level: str = "info", component: str = "engine", **fields) -> bytes:
    rec = {"ts": ts, "level": level, "component": component, "event": event, **fields}
    return json.dumps(rec, separators=(",", ":")).encode()


def iso_ms(ms: int) -> str:
    t = dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


BASE = parse_iso_ms(T0)


# ------------------------------------------------------------------------ timestamps


@given(st.datetimes(min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2200, 12, 31)),
       st.sampled_from(["T", " "]), st.integers(-14 * 60, 14 * 60))
def test_parse_iso_ms_matches_datetime(t, sep, offset_min):
    tz = dt.timezone(dt.timedelta(minutes=offset_min))
    aware = t.replace(tzinfo=tz)
    expected = int(aware.timestamp() * 1000) if aware.microsecond == 0 else \
        int((aware - dt.timedelta(microseconds=aware.microsecond)).timestamp() * 1000) + aware.microsecond // 1000
    text = aware.strftime(f"%Y-%m-%d{sep}%H:%M:%S.%f")
    sign = "+" if offset_min >= 0 else "-"
    hh, mm = divmod(abs(offset_min), 60)
    assert parse_iso_ms(f"{text}{sign}{hh:02d}:{mm:02d}") == expected
    assert parse_iso_ms(f"{text}{sign}{hh:02d}{mm:02d}") == expected
    if offset_min == 0:
        assert parse_iso_ms(text + "Z") == expected
        assert parse_iso_ms(text) == expected  # no zone = UTC


@pytest.mark.parametrize("text", ["", "2026-01-13", "2026-13-01T00:00:00Z", "2026-01-13T25:00:00Z",
                                  "2026-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "1900-02-29T00:00:00Z",
                                  "2026-01-13T22:14:01.Z", "2026-01-13T22:14:01Zjunk", "not a time",
                                  "2026-01-13T22:14:01+1"])
def test_parse_iso_ms_rejects(text):
    assert parse_iso_ms(text) is None


def test_parse_iso_ms_leap_days():
    assert parse_iso_ms("2024-02-29T00:00:00Z") == parse_iso_ms("2024-02-28T00:00:00Z") + 86_400_000
    assert parse_iso_ms("2000-02-29T12:00:00Z") is not None


def test_parse_iso_ms_fraction_digits():
    assert parse_iso_ms("2025-12-30T22:42:29.842892Z") == parse_iso_ms("2025-12-30T22:42:29.842Z")
    assert parse_iso_ms("2025-12-30T22:42:29.8Z") == parse_iso_ms("2025-12-30T22:42:29.800Z")
    assert parse_iso_ms("2025-12-30T22:42:29,5Z") == parse_iso_ms("2025-12-30T22:42:29.500Z")


# --------------------------------------------------------------------- classification


def test_kinds_counts_and_wanted_lines():
    s = LogScanner()
    fill_id = s.want("fill")
    lines = [
        line("session_start"),                                              # 1
        line("fill", level="info", component="engine.fills", tid=1),       # 2 wanted
        b"",                                                                # 3 blank
        b"plain text line",                                                 # 4 text
        b'{"timestamp":"2025-01-01T00:00:00Z","level":"INFO"}',             # 5 other json
        line("quote_cycle", level="debug", component="engine.quote") + b"\r",  # 6 CRLF
        b'{"ts":"2026-01-13T22:14:01.000Z","level":"info","comp',           # 7 truncated
        b'{"ts":"garbage","level":"info","component":"x","event":"y"}',     # 8 bad header
        b"bin\x00ary",                                                      # 9 binary
        line("error", level="error", where="loop") + b"  ",                 # 10 trailing spaces
    ]
    buf = b"\n".join(lines) + b"\n"
    end, n, wanted, other, stopped = s.scan(buf, 0, False)
    assert (end, n, stopped) == (len(buf), 10, False)
    assert [(w[0], w[1]) for w in wanted] == [(fill_id, 2)]
    assert wanted[0][2] == BASE and LEVEL_NAMES[wanted[0][3]] == "info" and wanted[0][4] == lines[1]
    assert [(KINDS[k], no) for k, no, _ in other] == [("text", 4), ("json", 5), ("truncated", 7),
                                                      ("bad_header", 8), ("binary", 9)]
    assert s.n_lines == 10 and s.n_blank == 1 and s.n_events == 4
    assert s.event_counts() == {"session_start": [0, 1, 0, 0, 0, 0], "fill": [0, 1, 0, 0, 0, 0],
                                "quote_cycle": [1, 0, 0, 0, 0, 0], "error": [0, 0, 0, 1, 0, 0]}
    assert s.component_counts() == {"engine": 2, "engine.fills": 1, "engine.quote": 1}
    assert s.level_counts_dict() == {"debug": 1, "info": 2, "error": 1}


def test_incomplete_last_line_is_left_unless_final():
    s = LogScanner()
    buf = line("fill") + b"\n" + line("fill")[:30]
    end, n, *_ = s.scan(buf)
    assert (end, n) == (len(line("fill")) + 1, 1)
    end, n, wanted, other, _ = s.scan(buf, 0, True, end)
    assert (end, n) == (len(buf), 1) and KINDS[other[0][0]] == "truncated" and other[0][1] == 1


def test_want_by_level_returns_error_lines_of_any_event():
    s = LogScanner()
    s.want_level = LEVEL_NAMES.index("error")
    buf = b"\n".join([line("a", level="warning"), line("b", level="error"), line("c", level="critical"),
                      line("d", level="weird")]) + b"\n"
    _, _, wanted, _, _ = s.scan(buf)
    assert [w[1] for w in wanted] == [2, 3]


def test_window_gaps_and_backwards():
    s = LogScanner()
    s.since_ms = BASE + 1000
    s.until_ms = BASE + 100_000
    s.gap_ms = 30_000
    times = [0, 1000, 2000, 40_000, 39_000, 30_000, 100_000, 75_000]
    buf = b"\n".join(line("x", ts=iso_ms(BASE + t)) for t in times) + b"\n"
    s.scan(buf)
    assert s.n_events == 6 and s.n_outside == 2           # 0 before since, 100 000 at until (exclusive)
    assert (s.min_ts, s.max_ts) == (BASE + 1000, BASE + 75_000)
    assert (s.first_ts, s.last_ts) == (BASE + 1000, BASE + 75_000)
    assert s.n_gaps == 2 and s.gap_list() == [(0, 4, BASE + 2000, BASE + 40_000), (0, 8, BASE + 40_000, BASE + 75_000)]
    assert s.n_backwards == 1                              # 30 000 is > 1 s before 40 000; 39 000 is not
    assert s.event_times() == {"x": (BASE + 1000, BASE + 75_000)}


def test_barrier_pauses_and_resumes():
    s = LogScanner()
    s.set_barrier("session_start")
    buf = b"\n".join([line("a"), line("session_start"), line("b"), line("session_start"), line("c")]) + b"\n"
    stops = []
    end = 0
    base = 0
    while True:
        end, n, _, _, stopped = s.scan(buf, base, False, end)
        base += n
        stops.append((base, stopped))
        if not stopped:
            break
    assert stops == [(2, True), (4, True), (5, False)]
    assert end == len(buf) and s.n_events == 5


def test_count_field_values():
    s = LogScanner()
    s.count_field("ladder_level_dropped", "cause")
    buf = b"\n".join([
        line("ladder_level_dropped", cause="margin", side="B"),
        line("ladder_level_dropped", side="A", cause="margin"),
        line("ladder_level_dropped", cause="min_notional"),
        line("ladder_level_dropped", side="B"),
        line("ladder_level_dropped", cause='say "hi"'),
        line("other", cause="margin"),
    ]) + b"\n"
    s.scan(buf)
    assert s.field_counts() == {"ladder_level_dropped": {"margin": 2, "min_notional": 1, "(missing)": 1,
                                                         "(escaped)": 1}}


def test_name_table_overflow_goes_to_other():
    s = LogScanner()
    buf = b"\n".join(line(f"ev_{i}") for i in range(2100)) + b"\n"
    s.scan(buf)
    counts = s.event_counts()
    assert len(counts) == 2048  # 2047 names + "(other)"
    assert sum(sum(v) for v in counts.values()) == 2100 and sum(counts["(other)"]) == 2100 - 2047


# ------------------------------------------------------------------- block invariance


def _scan_file(path, block: int) -> tuple:
    src = Source(name=str(path), path=path, order=0)
    sniff(src)
    s = LogScanner()
    s.want("fill")
    s.set_barrier("session_start")
    s.count_field("order_rejected", "reason")
    s.gap_ms = 5000
    wanted, other = [], []
    for w, o in scan_source(s, src, 0, block):
        wanted += [(x[0], x[1], x[2], x[4]) for x in w]
        other += o
    return (s.n_lines, s.n_events, s.n_blank, s.event_counts(), s.gap_list(), s.field_counts(), wanted, other)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 400), st.randoms(use_true_random=False))
def test_results_do_not_depend_on_block_size(tmp_path_factory, block, rnd):
    path = tmp_path_factory.mktemp("blocks") / "mixed.log"
    parts = []
    for i in range(60):
        r = rnd.random()
        ts = iso_ms(BASE + i * 1000 + (10_000 if i == 30 else 0))
        if r < 0.3:
            parts.append(line("fill", ts=ts, tid=i))
        elif r < 0.4:
            parts.append(line("session_start", ts=ts))
        elif r < 0.5:
            parts.append(line("order_rejected", ts=ts, reason=rnd.choice(["a", "b c"])))
        elif r < 0.6:
            parts.append(b"text " * rnd.randint(0, 30))
        elif r < 0.65:
            parts.append(b"")
        else:
            parts.append(line("quote_cycle", ts=ts, level="debug", mid=97000.5))
    data = b"\n".join(parts) + (b"\n" if rnd.random() < 0.5 else b"")
    path.write_bytes(data)
    assert _scan_file(path, block) == _scan_file(path, 1 << 20)


def test_reader_reports_overlong_lines_and_goes_on(tmp_path, monkeypatch):
    from hlmm.audit import reader

    monkeypatch.setattr(reader, "MAX_LINE_BYTES", 100)
    path = tmp_path / "long.log"
    path.write_bytes(line("a") + b"\n" + b"x" * 1000 + b"\n" + line("b") + b"\n")
    src = Source(name="long.log", path=path, order=0)
    sniff(src)
    s = LogScanner()
    s.want("b")
    got = [(w, o) for w, o in scan_source(s, src, 0, 64)]
    wanted = [x for w, _ in got for x in w]
    other = [x for _, o in got for x in o]
    assert [(x[0], x[1]) for x in other] == [(reader.KIND_OVERLONG, 2)]
    assert [x[1] for x in wanted] == [3]  # numbering continues after the skipped line


def test_random_garbage_never_raises():
    rnd = random.Random(3)
    s = LogScanner()
    s.want("fill")
    s.count_field("fill", "side")
    for _ in range(200):
        buf = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 300)))
        buf = b'{"ts":"2026-01-13T22:14:01.000Z","level":"info","component":"e","event":"fill"' + buf
        s.scan(buf, 0, True)
    assert s.n_lines >= 200
