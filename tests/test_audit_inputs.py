"""hlmm audit inputs: corrupt lines, files that are not logs, compression, rotated sets, time windows."""
from __future__ import annotations

import bz2
import gzip
import lzma
import os
import random
import shutil
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hlmm.audit import AuditOptions, Severity, audit, parse_time_bound
from hlmm.audit.sources import not_a_log_reason
from hlmm.errors import InputError
from loggen import LogBuilder, Scenario, epoch, write_session
from test_audit_rules import START, T0, begin, build, cycle, fill, one, run


def summary(r):
    """What must not change with the way the same log is stored."""
    return (r.lines["hlmm_events"], r.events, r.session and r.session["fills"], r.session and r.session["orders"],
            sorted((f.id, f.severity, f.count) for f in r.findings))


@pytest.fixture(scope="module")
def session_log(tmp_path_factory):
    path = tmp_path_factory.mktemp("sess") / "mm.log"
    sc = Scenario(untracked_fill_share=0.25, reject_storm=11, microprice_divergence_cycles=3, crossed_quotes=1,
                  low_headroom=True, reconnect_storm=5, stale_books=1, calibration_zero_samples=True)
    write_session(path, seconds=900, fill_rate_per_s=0.2, scenario=sc, seed=5)
    return path


# -------------------------------------------------------------------------- broken lines


def test_truncated_last_line_is_counted_not_fatal(tmp_path):
    def write(b):
        begin(b)
        fill(b, 1)
        write.cut = b.raw('{"ts":"2026-01-13T22:14:02.000Z","level":"info","component":"engine.fills","event":"fill",'
                          '"tid":2,"px":"9', newline=False)

    path = build(tmp_path, write)
    r = run(path)
    f = one(r, "truncated_lines")
    assert f.severity is Severity.INFO and f.examples == [f"{path}:{write.cut}"] and "last line" in f.title
    assert r.lines["truncated"] == 1 and r.session["fills"]["total"] == 1


def test_truncated_lines_inside_the_file_are_a_warning(tmp_path):
    def write(b):
        begin(b)
        b.raw('{"ts":"2026-01-13T22:14:02.000Z","level":"info","component":"eng')
        fill(b, 1)

    assert one(run(build(tmp_path, write)), "truncated_lines").severity is Severity.WARNING


def test_binary_garbage_and_corrupt_bodies(tmp_path):
    def write(b):
        begin(b)
        write.bin = b.raw(b"\x00\x00\x00\x7fELF\x00garbage")
        # a good header with a broken body, on an event a rule decodes
        write.bad = b.raw('{"ts":"2026-01-13T22:14:02.000Z","level":"info","component":"engine.fills","event":"fill",'
                          '"tid":2,,"px":}')
        write.badjson = b.raw('{"timestamp": "2026-01-13T22:14:03Z", "level": ')
        fill(b, 3)

    path = build(tmp_path, write)
    r = run(path)
    assert one(r, "binary_garbage").examples == [f"{path}:{write.bin}"]
    corrupt = one(r, "corrupt_lines")
    assert corrupt.count == 2 and corrupt.examples == [f"{path}:{write.bad}", f"{path}:{write.badjson}"]
    assert corrupt.detail == {"hlmm": 1, "other_json": 1}
    assert r.session["fills"]["total"] == 1  # the corrupt fill is not counted as one
    assert r.lines["binary"] == 1 and r.lines["corrupt"] == 1 and r.lines["invalid_json"] == 1


def test_mixed_formats_get_both_analyses(tmp_path):
    def write(b):
        begin(b)
        fill(b, 1)
        b.raw('{"timestamp":"2026-01-13T22:14:03.5Z","level":"ERROR","fields":{"message":"Bid crossed market mid: '
              '97010 > 97000"},"target":"other_mm::quote"}')
        b.raw("Traceback (most recent call last):")
        b.raw('  File "x.py", line 3, in <module>')

    r = run(build(tmp_path, write))
    mixed = one(r, "mixed_formats")
    assert mixed.count == 3 and r.lines["foreign_json"] == 1 and r.lines["text"] == 2
    assert r.generic["formats"] == {"tracing": 1, "text": 2}
    assert r.generic["levels"] == {"error": 2, "unknown": 1}
    assert one(r, "generic.quote_crossed_mid").count == 1
    assert r.session["fills"]["total"] == 1


def test_empty_file(tmp_path):
    path = tmp_path / "empty.log"
    path.write_bytes(b"")
    r = audit([str(path)])
    f = one(r, "no_log_lines")
    assert f.severity is Severity.WARNING and f.examples == [str(path)]
    assert r.session is None and r.generic is None and r.exit_code == 0
    assert r.inputs[0]["empty"] is True


@pytest.mark.parametrize("content, reason", [
    (random.Random(1).randbytes(5000), "binary data, not a text log"),
    (b"time,coin,dir,px,sz,ntl,fee,closedPnl\n01/01/2025 - 10:00:00,BTC,Open Long,97000,0.001,97,0.01,-0.01\n"
     b"01/01/2025 - 10:00:05,BTC,Close Long,97010,0.001,97.01,0.01,0.0\n",
     "a CSV table (columns: time, coin, dir, px, sz, ntl, …), not a log"),
    (b"\x28\xb5\x2f\xfd" + b"\x00" * 100, "compressed with zstd; decompress it first"),
    (b"PK\x03\x04" + b"\x00" * 100, "a zip archive"),
], ids=["binary", "csv", "zstd", "zip"])
def test_files_that_are_not_logs(tmp_path, content, reason):
    path = tmp_path / "input.bin"
    path.write_bytes(content)
    with pytest.raises(InputError) as err:
        audit([str(path)])
    assert str(err.value).startswith(f"{path}: {reason}")
    assert err.value.exit_code == 1


def test_a_log_next_to_a_non_log_is_audited(tmp_path, session_log):
    csv = tmp_path / "trades.csv"
    csv.write_text("time,coin,dir,px\n1,BTC,Open Long,97000\n2,BTC,Close Long,97010\n")
    r = audit([str(session_log), str(csv)])
    f = one(r, "unreadable_input")
    assert f.severity is Severity.WARNING and f.examples[0].startswith(f"{csv}: a CSV table")
    assert r.session is not None


def test_missing_path(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        audit([str(tmp_path / "nope.log")])


def test_text_log_with_some_binary_is_a_log():
    assert not_a_log_reason(b"[INFO] started\n\x00\x00\x00\n[INFO] running\n") is None
    assert not_a_log_reason("2026-01-01 10:00:00 INFO héllo wörld\n".encode()) is None


# ---------------------------------------------------------------------------- compression


@pytest.mark.parametrize("ext, opener", [(".gz", gzip.open), (".bz2", bz2.open), (".xz", lzma.open)])
def test_compressed_logs_give_the_same_report(tmp_path, session_log, ext, opener):
    packed = tmp_path / ("mm.log" + ext)
    with open(session_log, "rb") as src, opener(packed, "wb") as dst:
        shutil.copyfileobj(src, dst)
    plain, compressed = audit([str(session_log)]), audit([str(packed)])
    assert summary(compressed) == summary(plain)
    assert compressed.inputs[0]["compression"] in ("gzip", "bzip2", "xz")
    assert compressed.log_bytes == os.path.getsize(session_log) and compressed.bytes_read == os.path.getsize(packed)


def test_truncated_gzip_audits_what_decodes(tmp_path, session_log):
    data = gzip.compress(session_log.read_bytes())
    cut = tmp_path / "cut.log.gz"
    cut.write_bytes(data[: len(data) // 2])
    r = audit([str(cut)])
    f = one(r, "unreadable_input")
    assert "gzip stream ends early after" in f.examples[0] and "the lines before were audited" in f.examples[0]
    assert 0 < r.lines["hlmm_events"] < audit([str(session_log)]).lines["hlmm_events"]
    assert r.inputs[0]["read_error"]


def test_gzip_with_a_garbage_start_is_refused(tmp_path):
    path = tmp_path / "bad.gz"
    path.write_bytes(b"\x1f\x8b" + b"\x00garbage" * 20)
    with pytest.raises(InputError, match="gzip data is corrupt or truncated"):
        audit([str(path)])


# ----------------------------------------------------------------------------- rotated sets


@pytest.fixture(scope="module")
def rotated(tmp_path_factory):
    """The same session written once rotated (by hlmm's FileSink) and once in one file."""
    base = tmp_path_factory.mktemp("rot")
    sc = Scenario(untracked_fill_share=0.3, reject_storm=11, low_headroom=True)
    kw = dict(seconds=900, fill_rate_per_s=0.2, scenario=sc, seed=9)
    write_session(base / "rot" / "mm.log", max_bytes=400_000, **kw)
    write_session(base / "one" / "mm.log", **kw)
    return base


def test_rotated_set_equals_the_single_file(rotated):
    files = sorted(os.listdir(rotated / "rot"))
    assert len(files) >= 4 and "mm.log.1" in files
    single = audit([str(rotated / "one" / "mm.log")])
    whole = audit([str(rotated / "rot" / "mm.log")], rotated=True)
    assert summary(whole) == summary(single)
    names = [i["path"].rsplit("/", 1)[1] for i in whole.inputs]
    n = len(files) - 1
    assert names == [f"mm.log.{i}" for i in range(n, 0, -1)] + ["mm.log"]  # oldest first
    only_current = audit([str(rotated / "rot" / "mm.log")])
    assert only_current.lines["hlmm_events"] < single.lines["hlmm_events"]


def test_rotated_files_given_in_any_order_are_read_in_time_order(rotated, tmp_path):
    src = rotated / "rot"
    work = tmp_path / "shuffled"
    shutil.copytree(src, work)
    with open(work / "mm.log.2", "rb") as f, gzip.open(work / "mm.log.2.gz", "wb") as g:
        shutil.copyfileobj(f, g)
    os.remove(work / "mm.log.2")
    paths = [str(p) for p in work.iterdir()]
    random.Random(4).shuffle(paths)
    r = audit(paths)
    firsts = [i["first"] for i in r.inputs]
    assert firsts == sorted(firsts)
    assert summary(r) == summary(audit([str(rotated / "one" / "mm.log")]))
    assert summary(audit([str(work)])) == summary(r)  # a directory: its log files


# ------------------------------------------------------------------------------ time window


def test_since_until_iso_and_anchors(tmp_path):
    def write(b):
        begin(b)
        for i in range(10):   # a cycle per minute, 22:14:01 ... 22:23:01
            cycle(b)
            b.advance(60)

    path = build(tmp_path, write)

    def cycles(**kw):
        opts = {k: parse_time_bound(v) for k, v in kw.items()}
        return audit([str(path)], AuditOptions(**opts)).session["quote_cycles"]

    assert cycles() == 10
    assert cycles(since="2026-01-13T22:16:01Z") == 8
    assert cycles(since="2026-01-13T23:16:01+01:00", until="2026-01-13 22:18:01") == 2
    assert cycles(since="start+2m") == 8
    assert cycles(until="end-3m") == 6      # the last line is the cycle at 22:23:01
    assert cycles(since="2026-01-13") == 10
    r = audit([str(path)], AuditOptions(since=parse_time_bound("2030-01-01")))
    assert r.session is None and one(r, "no_log_lines").title == "no log lines to audit in the time window"


def test_since_relative_to_now(tmp_path):
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))

    def write(b):
        for i in range(6):    # a line every 10 minutes over the last hour
            cycle(b)
            b.advance(600)

    path = build(tmp_path, write, start=start)
    r = audit([str(path)], AuditOptions(since=parse_time_bound("25m")))
    assert r.events["quote_cycle"] == {"debug": 2}
    r2 = audit([str(path)], AuditOptions(since=parse_time_bound("45m ago")))
    assert r2.events["quote_cycle"] == {"debug": 4}


@pytest.mark.parametrize("text", ["yesterday", "5 parsecs", "start+", "2026-02-30"])
def test_bad_time_bounds(text):
    with pytest.raises(InputError, match="is not a time"):
        parse_time_bound(text, "--since")


def test_until_before_since(tmp_path):
    path = build(tmp_path, lambda b: cycle(b))
    with pytest.raises(InputError, match="is not after --since"):
        audit([str(path)], AuditOptions(since=parse_time_bound("2026-01-14"), until=parse_time_bound("2026-01-13")))


def test_text_lines_without_timestamps_follow_the_window(tmp_path):
    path = tmp_path / "bot.log"
    path.write_text("2026-01-13 10:00:00 [INFO] a\n[ERROR] b\n2026-01-13 12:00:00 [INFO] c\n[WARN] d\n")
    r = audit([str(path)], AuditOptions(since=parse_time_bound("2026-01-13T11:00:00Z")))
    assert r.generic["lines"] == 2 and r.generic["levels"] == {"info": 1, "warning": 1}
    assert r.lines["outside_window"] == 2


def test_start_and_end_of_the_input(tmp_path):
    path = build(tmp_path, lambda b: (cycle(b), b.advance(90), cycle(b)))
    r = run(path)
    assert r.window["start"] == "2026-01-13T22:14:01.000Z" and r.window["end"] == "2026-01-13T22:15:31.000Z"
    assert T0 == int(epoch(START) * 1000)


def test_many_files_progress_is_monotonic(tmp_path, rotated):
    seen = []
    audit([str(rotated / "rot" / "mm.log")], rotated=True, progress=lambda done, total: seen.append((done, total)))
    totals = {t for _, t in seen}
    assert len(totals) == 1 and seen[-1][0] == seen[-1][1] == totals.pop()
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_logbuilder_lines_are_exact(tmp_path):
    with LogBuilder(tmp_path / "x.log") as b:
        assert b.emit("shutdown", reason="x", signal="") == 1
        assert b.raw("text") == 2
    assert (tmp_path / "x.log").read_text().count("\n") == 2


# ------------------------------------------------------------------------------- fuzzing

_PIECES = [
    b'{"ts":"2026-01-13T22:14:01.000Z","level":"info","component":"engine.fills","event":"fill","tid":1,"px":"9"}',
    b'{"ts":"2026-01-13T22:14:02.000Z","level":"debug","component":"engine.quote","event":"quote_cycle","mid":null}',
    b'{"ts":"2026-01-13T22:14:03.000Z","level":"warning","component":"engine.fills","event":"untracked_fill"}',
    b'{"ts":"2026-01-13T22:14:04.000Z","level":"info","component":"engine","event":"session_summary","fees_usd":"x"}',
    b'{"ts":"2026-01-13T22:14:05.000Z","level":"info","component":"engine.rate","event":"rate_limit_status",'
    b'"headroom_fraction":"NaN"}',
    b'{"ts":"2026-01-13T22:14:06.000Z","level":"info","component":"engine","event":"config_loaded","config":[1]}',
    b'{"ts":"2026-01-13T22:14:07.000Z","level":"info","component":"calibration.markouts","event":"markout",'
    b'"horizon_s":-1,"spread_capture_bps":"inf","adverse_selection_bps":1e400,"tid":[1]}',
    b'{"ts":"2026-01-13T22:14:08.000Z","level":"info","component":"engine","event":"session_start","coins":"BTC"}',
    b'{"timestamp":"2025-12-30T22:42:29.842892Z","level":"WARN","fields":{"message":"Untracked order filled 1"},'
    b'"target":"x"}',
    b'{"timestamp":12345,"level":{"a":1},"fields":[]}', b"[INFO] text 2026-01-13T22:14:09Z", b"\x00\xff\xfe",
    b"{", b"}", b"[]", b"null", b'"str"', b"", b"   ", b"\r",
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.sampled_from(_PIECES), st.binary(max_size=40)), max_size=40), st.booleans())
def test_any_input_gives_a_report_or_a_clear_input_error(tmp_path, parts, newline_at_end):
    path = tmp_path / "fuzz.log"
    path.write_bytes(b"\n".join(parts) + (b"\n" if newline_at_end else b""))
    try:
        r = audit([str(path)])
    except InputError as exc:
        assert str(exc).startswith(str(path))
        return
    r.to_dict()
    from hlmm.audit.render import render
    assert render(r).endswith(")")
