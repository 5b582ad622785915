"""QA fix: ladder-preview's what-if account is bounded (--position 1e300 printed a 300-digit skew).

The CLI refuses out-of-range values as usage errors naming the option and the range; the library
(``hlmm.engine.preview``) refuses the same values with ``WhatIfError`` (an ``InputError``).
"""
from __future__ import annotations

import math
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from cli.main import cli
from hlmm.config import Config
from hlmm.engine.preview import (
    MAX_WHAT_IF_POSITION,
    MAX_WHAT_IF_USD,
    WhatIfError,
    build_preview,
    check_what_if,
    offline_market_data,
    preview_from_book,
    read_book_file,
)
from hlmm.errors import InputError

BTC_INFO = Path(__file__).resolve().parent / "fixtures" / "l2book_btc_info_2026-05-29.json"  # mid 73681.5


def preview(*args: str):
    result = CliRunner().invoke(cli, ["ladder-preview", "--asset", "BTC", "--book", str(BTC_INFO), *args],
                                env={"HLMM_CONFIG": None})
    assert "Traceback" not in result.output
    return result


@pytest.mark.parametrize("args, option, text", [
    (["--position", "1e300"], "--position", "between -1e+15 and 1e+15 coins"),
    (["--position", "-1e300"], "--position", "between -1e+15 and 1e+15 coins"),
    (["--position", "inf"], "--position", "finite"),
    (["--position", "2e7"], "--position", "$1e+12"),              # 2e7 BTC x 73681.5 = $1.47e12
    (["--position", "-2e7"], "--position", "$1e+12"),
    (["--account-value", "1e13"], "--account-value", "between 0 and 1e+12 USD"),
    (["--account-value", "-5"], "--account-value", "between 0 and 1e+12 USD"),
    (["--account-value", "nan"], "--account-value", "finite"),
])
def test_out_of_range_what_if_values_are_usage_errors_naming_the_option_and_range(args, option, text):
    result = preview(*args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert f"'{option}'" in result.stderr and text in result.stderr, result.stderr


def test_large_but_sane_values_still_preview():
    result = preview("--position", "1e7", "--account-value", "1e12", "--json")  # $7.4e11 of BTC
    assert result.exit_code == 0, result.stderr


def test_the_library_refuses_the_same_values():
    data = offline_market_data("BTC", read_book_file(BTC_INFO), BTC_INFO)
    for kwargs, field in (({"position": 1e300}, "position"), ({"position": 2e7}, "position"),
                          ({"position": math.nan}, "position"), ({"account_value": 1e13}, "account_value"),
                          ({"account_value": -1.0}, "account_value")):
        with pytest.raises(WhatIfError) as info:
            build_preview(Config(), data, **kwargs)
        assert isinstance(info.value, InputError) and info.value.field == field
        assert str(info.value).startswith(f"{field}: ")


def test_the_library_checks_before_reading_anything(tmp_path):
    with pytest.raises(WhatIfError, match="position"):
        preview_from_book(Config(), "BTC", tmp_path / "missing.json", position=1e300)


@settings(max_examples=300, deadline=None)
@given(position=st.floats(), account_value=st.floats(), mid=st.floats(min_value=1e-8, max_value=1e9))
def test_accepted_what_ifs_are_finite_and_bounded(position, account_value, mid):
    try:
        check_what_if(position, account_value, mid)
    except WhatIfError as exc:
        assert exc.field in ("position", "account_value")
    else:
        assert abs(position) <= MAX_WHAT_IF_POSITION and abs(position) * mid <= MAX_WHAT_IF_USD
        assert 0 <= account_value <= MAX_WHAT_IF_USD
