"""hlmm._core.tradecsv: the compiled column parser against Python's own float() and datetime."""
from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hlmm._core import tradecsv as t


@settings(max_examples=2000, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False, width=64))
def test_numbers_round_trip_exactly_like_python_float(x):
    for text in (repr(x), f"{x:.17g}", f"{x:.6f}", f"{x:e}"):
        assert t.parse_number_py(text.encode()) == float(text)


@settings(max_examples=1000, deadline=None)
@given(st.integers(-10**20, 10**20), st.integers(0, 25))
def test_decimal_strings_match_python_float(mantissa, scale):
    digits = str(abs(mantissa)).rjust(scale + 1, "0")
    sign = "-" if mantissa < 0 else ""
    decimal = f"{sign}{digits[:-scale]}.{digits[-scale:]}" if scale else f"{sign}{digits}"
    assert t.parse_number_py(decimal.encode()) == float(decimal)


@pytest.mark.parametrize("text", [b"499.48524999999995", b"-0.03473888512000001", b"5.53e-7", b"+3.25E+2",
                                  b".5", b"5.", b"  12  ", b"0.000000000000000000000001", b"-0"])
def test_number_forms_from_real_exports(text):
    assert t.parse_number_py(text) == float(text)


@pytest.mark.parametrize("text", [b"abc", b"1e", b"nan", b"inf", b"0x10", b"1,2", b"-", b"1.2.3", b"--1", b"1e5x"])
def test_bad_numbers_are_refused(text):
    with pytest.raises(ValueError):
        t.parse_number_py(text)


def test_blank_number_is_none():
    assert t.parse_number_py(b"") is None
    assert t.parse_number_py(b"   ") is None


@pytest.mark.parametrize("text,parts", [
    (b"06/01/2025 - 17:38:42", (6, 1, 2025, 17, 38, 42, 0)),
    (b"9/18/2025 - 14:59:56", (9, 18, 2025, 14, 59, 56, 0)),
    (b"25/09/2025 13:33:06", (25, 9, 2025, 13, 33, 6, 0)),
    (b"14:11:28 27/6/2026", (27, 6, 2026, 14, 11, 28, 0)),
    (b"2025-06-01T17:38:42Z", (2025, 6, 1, 17, 38, 42, 0)),
    (b"2025-06-01 17:38:42.123456", (2025, 6, 1, 17, 38, 42, 123)),
    (b"02-12-2024 22:50", (2, 12, 2024, 22, 50, 0, 0)),
    (b"6/27/2026, 2:11:28 PM", (6, 27, 2026, 14, 11, 28, 0)),
    (b"12:00:00 AM 1/1/2025", (1, 1, 2025, 0, 0, 0, 0)),
    (b"1/1/2025 12:30:00 PM", (1, 1, 2025, 12, 30, 0, 0)),
])
def test_datetime_layouts(text, parts):
    assert t.parse_datetime_py(text)[:7] == parts


def test_datetime_flags():
    flags = t.parse_datetime_py(b"14:11:28 27/6/2026")[7]
    assert flags & t.FLAG_TIME_FIRST and not flags & t.FLAG_PADDED
    assert t.parse_datetime_py(b"06/01/2025 - 17:38:42")[7] & t.FLAG_PADDED
    assert not t.parse_datetime_py(b"9/18/2025 - 14:59:56")[7] & t.FLAG_PADDED
    assert t.parse_datetime_py(b"2025-06-01 17:38:42")[7] & t.FLAG_YEAR_FIRST


@pytest.mark.parametrize("text", [b"bad", b"32:00:00 1/1/2025", b"1/1/2025 10:61:00", b"1/1/2025 13:00:00 PM",
                                  b"1/1 10:00:00", b"10:00:00", b"1/1/2025 1/2/2025", b"1/1/2025 - x"])
def test_bad_datetimes_are_refused(text):
    with pytest.raises(ValueError):
        t.parse_datetime_py(text)


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2100, 12, 31)))
def test_generated_datetimes_parse_back(value):
    text = value.strftime("%d/%m/%Y - %H:%M:%S").encode()
    a, b, c, hh, mm, ss, ms, _ = t.parse_datetime_py(text)
    assert (c, b, a, hh, mm, ss) == (value.year, value.month, value.day, value.hour, value.minute, value.second)


KINDS = [t.DATETIME, t.TEXT, t.TEXT, t.FLOAT, t.FLOAT, t.FLOAT, t.FLOAT, t.FLOAT]


def _parse(body: bytes, first_line: int = 2):
    return t.parse_columns(body, 0, len(body), first_line, KINDS, [{} for _ in KINDS])


def test_columns_statuses_and_line_numbers():
    body = (b"08/07/2024 - 09:51:49,kPEPE,Open Long,0.008273,60510,500.59923000000003,0.175209,-0.175209\r\n"
            b"\n"
            b"bad,BCH,x,1,2,3,4,5\n"
            b"08/07/2024 - 10:00:39,\"BCH\",Open Long,310.18,2.416,749.39488,0.262288,-0.262288\n"
            b"1/1/2024 - 00:00:00,A,B,1,2\n"
            b"1/1/2024 - 00:00:00,A,B,1,x,3,4,5\n"
            b"1/1/2024 - 00:00:00,A,B,1,2,3,4,5,,\n"
            b"1/1/2024 - 00:00:00,A,B,1,2,3,4,5,9")
    r = _parse(body)
    assert r["n"] == 7
    assert r["line"].tolist() == [2, 4, 5, 6, 7, 8, 9]
    assert r["status"].tolist() == [t.STATUS_OK, t.STATUS_BAD_DATETIME, t.STATUS_QUOTED, t.STATUS_FIELD_COUNT,
                                    t.STATUS_BAD_NUMBER, t.STATUS_OK, t.STATUS_FIELD_COUNT]
    assert r["err_col"].tolist()[:5] == [-1, 0, -1, 5, 4]
    px = r["columns"][3]
    assert px[0] == 0.008273 and math.isnan(px[2])
    assert r["columns"][5][0] == 500.59923000000003  # a JavaScript float artefact, exactly


def test_text_columns_are_interned_across_calls():
    interns = [{} for _ in KINDS]
    body1 = b"1/1/2024 - 00:00:00,BTC,Open Long,1,1,1,0,0\n1/1/2024 - 00:00:01,ETH,Open Long,1,1,1,0,0\n"
    body2 = b"1/1/2024 - 00:00:02,ETH,Close Long,1,1,1,0,0\n1/1/2024 - 00:00:03,BTC,Open Long,1,1,1,0,0\n"
    r1 = t.parse_columns(body1, 0, len(body1), 2, KINDS, interns)
    r2 = t.parse_columns(body2, 0, len(body2), 4, KINDS, interns)
    assert r1["columns"][1].tolist() == [0, 1] and r2["columns"][1].tolist() == [1, 0]
    assert list(interns[1]) == [b"BTC", b"ETH"]
    assert list(interns[2]) == [b"Open Long", b"Close Long"]
    assert r2["line"].tolist() == [4, 5] and r2["next_line"] == 6


def test_empty_fields_are_nan_and_minus_one():
    r = _parse(b"1/1/2024 - 00:00:00,,Open Long,,1,1,0,0\n")
    assert r["status"].tolist() == [t.STATUS_OK]
    assert r["columns"][1].tolist() == [-1]
    assert np.isnan(r["columns"][3][0])


def test_count_lines_and_bad_arguments():
    data = b"a\nb\nc"
    assert t.count_lines(data, 0, len(data)) == 2
    with pytest.raises(ValueError):
        t.parse_columns(data, 0, 99, 1, [t.FLOAT], [{}])
    with pytest.raises(ValueError):
        t.parse_columns(data, 0, 1, 1, [9], [{}])
    with pytest.raises(ValueError):
        t.parse_columns(data, 0, 1, 1, [t.FLOAT, t.FLOAT], [{}])
