"""hlmm.config: real TOML files in tmp_path, every validation message, fragments, the example."""
from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import pytest
import tomli
from hypothesis import given, settings
from hypothesis import strategies as st

from hlmm.config import (
    SECTIONS,
    Config,
    ExchangeConfig,
    dump_fragment,
    load_config,
    load_fragment,
    venue_is_mainnet,
)
from hlmm.config_io import render_toml
from hlmm.config_schema import fields_of, spec_of, toml_value
from hlmm.errors import ConfigError, ExitCode, RefusedError

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "hlmm.toml"
FAKE_KEY = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"


def write(tmp_path: Path, text: str, name: str = "hlmm.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    return info.value


# ----------------------------------------------------------------------------- defaults


def test_defaults_are_safe():
    cfg = load_config(None)
    assert cfg == Config()
    assert cfg.exchange.venue == "sim" and not cfg.exchange.is_mainnet
    assert cfg.exchange.mainnet_confirmed is False
    assert cfg.exchange.key_env == "HLMM_PRIVATE_KEY"
    assert cfg.exchange.ws_ping_interval_s == 50.0
    assert cfg.assets.coins == ("BTC",)
    assert cfg.strategy.levels_per_side == 5
    assert cfg.strategy.spread_floor_bps == 8.0
    assert cfg.strategy.market_spread_cap_multiple == 0.0
    m = cfg.strategy.kelly_regime_multipliers
    assert (m.low, m.normal, m.high, m.extreme) == (1.5, 1.0, 0.5, 0.25)
    assert (cfg.strategy.kelly_fraction_min, cfg.strategy.kelly_fraction_max) == (0.05, 0.75)
    assert cfg.strategy.max_order_notional_usd <= 100
    assert cfg.risk.max_position_usd <= 200 and cfg.risk.max_loss_usd <= 50
    assert cfg.risk.kill_action == "stop" and cfg.risk.on_start == "cancel"
    assert cfg.rate.ip_weight_per_minute == 1200 and cfg.rate.min_headroom_fraction == 0.10
    assert cfg.rate.safety_sync_interval_s == 60 and cfg.rate.user_rate_limit_refresh_s == 60
    assert cfg.metrics.port == 0 and cfg.metrics.host == "127.0.0.1"
    assert cfg.calibration.report_interval_s == 300
    assert cfg.warnings() == []


def test_sections_are_frozen():
    cfg = Config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.strategy.gamma = 1.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.risk = cfg.risk  # type: ignore[misc]


def test_file_values_are_typed(tmp_path):
    cfg = load_config(write(tmp_path, """
[exchange]
venue = "testnet"
account_address = "0x5e9ee1089755c3435139848e47e6635505d5a13a"
[assets]
coins = ["BTC", "ETH", "xyz:TSLA"]
[strategy]
gamma = 1          # an integer is accepted for a float key
toxic_hours_utc = []
[strategy.warmup]
min_trades = 5
[calibration]
markout_horizons_s = [1, 5]
"""))
    assert cfg.exchange.venue == "testnet" and cfg.exchange.base_url == "https://api.hyperliquid-testnet.xyz"
    assert cfg.assets.coins == ("BTC", "ETH", "xyz:TSLA")
    assert cfg.strategy.gamma == 1.0 and isinstance(cfg.strategy.gamma, float)
    assert cfg.strategy.toxic_hours_utc == ()
    assert cfg.strategy.warmup.min_trades == 5 and cfg.strategy.warmup.min_seconds == 60.0
    assert cfg.calibration.markout_horizons_s == (1.0, 5.0)


# -------------------------------------------------------------------------- messages

MESSAGES = [
    # unknown keys and did-you-mean
    ("[strategy]\ngama = 0.3\n", 'hlmm.toml:2: strategy.gama: unknown key (did you mean "gamma"?)'),
    ("[stratgy]\ngamma = 0.3\n", 'stratgy: unknown section (did you mean "strategy"?)'),
    ("[strategy]\nmax_position_usd = 5.0\n", "strategy.max_position_usd: unknown key (max_position_usd belongs in [risk])"),
    ("gamma = 0.3\n", "hlmm.toml:1: gamma: not a section (gamma belongs in [strategy])"),
    ("[strategy.kelly_regime_multipliers]\nnormall = 1.0\n", 'strategy.kelly_regime_multipliers.normall: unknown key (did you mean "normal"?)'),
    # types
    ('[strategy]\ngamma = "0.3"\n', 'strategy.gamma = "0.3": expected a number, got a string'),
    ("[strategy]\nlevels_per_side = 5.0\n", "strategy.levels_per_side = 5.0: expected an integer, got a number"),
    ("[risk]\nleverage = true\n", "risk.leverage = true: expected an integer, got a boolean (true/false)"),
    ("[exchange]\nmainnet_confirmed = 1\n", "exchange.mainnet_confirmed = 1: expected a boolean (true/false), got an integer"),
    ('[assets]\ncoins = "BTC"\n', 'assets.coins = "BTC": expected an array, got a string'),
    ("strategy = 3\n", "strategy: expected a table ([strategy]), got an integer"),
    ("[strategy]\nwarmup = 3\n", "strategy.warmup: expected a table ([strategy.warmup]), got an integer"),
    ("[strategy]\ngamma = nan\n", "strategy.gamma = nan: must be a finite number"),
    ("[strategy]\ngamma = inf\n", "strategy.gamma = inf: must be a finite number"),
    # ranges
    ("[strategy]\nlevels_per_side = 30\n", "strategy.levels_per_side = 30: must be between 1 and 25"),
    ("[strategy]\nlevels_per_side = 0\n", "strategy.levels_per_side = 0: must be between 1 and 25"),
    ("[strategy]\ngamma = 0\n", "strategy.gamma = 0: must be greater than 0 and at most 100"),
    ("[strategy]\nalpha_touch = 1.0\n", "strategy.alpha_touch = 1.0: must be at least 0 and less than 1"),
    ("[strategy]\nmarket_spread_cap_multiple = 0.5\n", "strategy.market_spread_cap_multiple = 0.5: must be 0 (off) or between 1 and 100"),
    ("[strategy]\nmax_order_notional_usd = 5\n", "strategy.max_order_notional_usd = 5: must be between 10 and 10000000"),
    ("[exchange]\nws_ping_interval_s = 60\n", "exchange.ws_ping_interval_s = 60: must be at least 5 and less than 60"),
    ("[rate]\nip_weight_per_minute = 5000\n", "rate.ip_weight_per_minute = 5000: must be between 1 and 1200"),
    ("[rate]\ndeadman_seconds_ahead = 3\n", "rate.deadman_seconds_ahead = 3: must be 0 (off) or between 5 and 86400"),
    ("[strategy]\ntoxic_hours_utc = [6, 24]\n", "strategy.toxic_hours_utc[1] = 24: must be between 0 and 23"),
    ("[strategy]\ntoxic_hours_utc = [6, 6]\n", "strategy.toxic_hours_utc = [6, 6]: lists [6] more than once"),
    ("[calibration]\nmarkout_horizons_s = [5, 1]\n", "calibration.markout_horizons_s = [5, 1]: must be in increasing order"),
    ("[calibration]\nmarkout_horizons_s = []\n", "calibration.markout_horizons_s = []: must not be empty"),
    ("[assets]\ncoins = []\n", "assets.coins = []: must not be empty"),
    ('[assets]\ncoins = ["BTC", "B T C"]\n', 'assets.coins = ["BTC", "B T C"]: "B T C" is not a coin name'),
    ('[metrics]\nhost = " "\n', 'metrics.host = " ": must not be empty'),
    # choices
    ('[risk]\nkill_action = "stopp"\n', 'risk.kill_action = "stopp": must be one of "stop", "reduce_only" (did you mean "stop"?)'),
    ('[risk]\non_start = "keep"\n', 'risk.on_start = "keep": must be one of "cancel", "adopt"'),
    ('[logging]\nconsole = "text"\n', 'logging.console = "text": must be one of "human", "json", "off"'),
    ('[logging]\nlevel = "warn"\n', 'logging.level = "warn": must be one of "debug", "info", "warning", "error", "critical" (did you mean "warning"?)'),
    # custom checks
    ('[exchange]\nvenue = "mainet"\n', 'exchange.venue = "mainet": must be "sim", "testnet", "mainnet" or a base URL such as "http://127.0.0.1:3001" (did you mean "mainnet"?)'),
    ('[exchange]\nvenue = "http://127.0.0.1:3001/api"\n', 'exchange.venue = "http://127.0.0.1:3001/api": must be "sim"'),
    ('[exchange]\nvenue = "http://127.0.0.1:99999"\n', 'exchange.venue = "http://127.0.0.1:99999": the URL has a bad port'),
    ('[exchange]\naccount_address = "0x1234"\n', 'exchange.account_address = "0x1234": must be empty or an address: "0x" followed by 40 hex digits'),
    ('[exchange]\nkey_env = "MY-KEY"\n', 'exchange.key_env = "MY-KEY": must be an environment variable name (letters, digits, _)'),
    # relations between keys
    ("[strategy]\ntau_min_s = 700\n", "strategy.tau_min_s = 700.0: must be less than tau_max_s (600.0)"),
    ("[strategy]\nkelly_fraction_min = 0.8\n", "strategy.kelly_fraction_min = 0.8: must be less than kelly_fraction_max (0.75)"),
    ("[strategy]\ntoxicity_widen_threshold = 0.9\n", "strategy.toxicity_widen_threshold = 0.9: must be less than toxicity_pull_threshold (0.8)"),
    ("[strategy.kelly_regime_multipliers]\nhigh = 2.0\n", "strategy.kelly_regime_multipliers.high = 2.0: must not exceed normal (1.0)"),
    ("[rate]\ndeadman_refresh_interval_s = 45\n", "rate.deadman_refresh_interval_s = 45.0: must be at most half of deadman_seconds_ahead (60.0)"),
    # per-asset overrides
    ('[assets]\ncoins = ["BTC"]\n[assets.overrides.ETH.strategy]\ngamma = 1\n', 'assets.overrides.ETH: ETH is not in assets.coins = ["BTC"]'),
    ('[assets]\ncoins = ["BTC"]\n[assets.overrides.BTC.stratgy]\ngamma = 1\n', 'assets.overrides.BTC.stratgy: unknown key (did you mean "strategy"?)'),
    ('[assets]\ncoins = ["BTC"]\n[assets.overrides.BTC.risk]\nmax_loss_usd = 1\n', "assets.overrides.BTC.risk.max_loss_usd: max_loss_usd is account-wide and cannot be set per asset"),
    ('[assets]\ncoins = ["BTC"]\n[assets.overrides.BTC.strategy]\nlevels_per_side = 99\n', "assets.overrides.BTC.strategy.levels_per_side = 99: must be between 1 and 25"),
    ('[assets]\ncoins = ["BTC"]\n[assets.overrides.BTC.strategy]\ntau_min_s = 900\n', "assets.overrides.BTC.strategy.tau_min_s = 900.0: must be less than tau_max_s (600.0)"),
    ('[assets]\ncoins = ["BTC"]\n[assets.overrides.BTC.strategy.warmup]\nmin_trade = 9\n', 'assets.overrides.BTC.strategy.warmup.min_trade: unknown key (did you mean "min_trades"?)'),
    ('[assets]\ncoins = ["BTC"]\n[assets.overrides]\nBTC = 3\n', "assets.overrides.BTC: expected a table with strategy and/or risk tables, got an integer"),
]


@pytest.mark.parametrize("text, expected", MESSAGES, ids=[m[1][:60] for m in MESSAGES])
def test_validation_message(tmp_path, text, expected):
    err = error_of(tmp_path, text)
    assert expected in str(err), str(err)
    assert err.exit_code == ExitCode.CONFIG == 3
    assert len(err.issues) == 1


def test_message_names_file_and_line(tmp_path):
    err = error_of(tmp_path, "# comment\n\n[risk]\nleverage = 3\nkill_action = \"halt\"\n")
    assert str(err).startswith(f"{tmp_path / 'hlmm.toml'}:5: risk.kill_action = \"halt\"")


def test_problems_are_listed_in_file_order(tmp_path):
    err = error_of(tmp_path, '[risk]\nkill_action = "halt"\nmax_position_usd = "100"\n')
    assert [key for key, _ in err.issues] == ["risk.kill_action", "risk.max_position_usd"]  # not field order
    assert [text.split(": ")[0][-1] for _, text in err.issues] == ["2", "3"]


def test_every_problem_is_reported_at_once(tmp_path):
    err = error_of(tmp_path, """
[strategy]
gama = 0.3
levels_per_side = 40
[rate]
ip_weight_per_minute = 0
[assets]
coins = ["BTC"]
[assets.overrides.BTC.risk]
max_loss_usd = 3
""")
    keys = [key for key, _ in err.issues]
    assert keys == ["strategy.gama", "strategy.levels_per_side", "rate.ip_weight_per_minute",
                    "assets.overrides.BTC.risk.max_loss_usd"]
    assert str(err).splitlines()[0].endswith("4 problems in the configuration")


def test_from_dict_messages_have_no_file_prefix():
    with pytest.raises(ConfigError) as info:
        Config.from_dict({"strategy": {"levels_per_side": 26}})
    assert str(info.value) == "strategy.levels_per_side = 26: must be between 1 and 25"
    with pytest.raises(ConfigError, match="expected a table at the top level"):
        Config.from_dict([1, 2])  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="include: only read from a config file"):
        Config.from_dict({"include": ["x.toml"]})


# ----------------------------------------------------------------------- file errors


def test_toml_syntax_error_gives_file_line_column(tmp_path):
    err = error_of(tmp_path, "[strategy]\ngamma = 0.3\nlevels_per_side = \n")
    path = tmp_path / "hlmm.toml"
    assert str(err) == f"{path}:3:19: TOML syntax error: Invalid value"
    err = error_of(tmp_path, "[strategy]\ngamma = 0.3\ngamma = 0.4\n")
    assert str(err).startswith(f"{path}:3:") and "TOML syntax error" in str(err)


def test_missing_unreadable_and_binary_files(tmp_path):
    with pytest.raises(ConfigError, match="config file not found: .*nope.toml"):
        load_config(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="config path is a directory"):
        load_config(tmp_path)
    bad = tmp_path / "bin.toml"
    bad.write_bytes(b"[strategy]\ngamma = \xff\n")
    with pytest.raises(ConfigError, match=r"bin.toml: not UTF-8 text \(bad byte at offset 19\)"):
        load_config(bad)


# ------------------------------------------------------------------- private keys


@pytest.mark.parametrize("text, line", [
    (f'[exchange]\nprivate_key = "{FAKE_KEY}"\n', 2),
    (f'[exchange]\nkey_env = "0x{FAKE_KEY}"\n', 2),
    (f'[exchange]\nvenue = "sim"\n# old key: 0x{FAKE_KEY.upper()}\n', 3),
    (f'[exchange]\nkeystore = "/keys/{FAKE_KEY}.json"\n', 2),
])
def test_key_shaped_values_are_refused_without_quoting_them(tmp_path, text, line):
    err = error_of(tmp_path, text)
    message = str(err)
    assert f"hlmm.toml:{line}: this line looks like a private key (64 hex digits)" in message
    assert "HLMM_PRIVATE_KEY" in message and "exchange.keystore" in message
    assert FAKE_KEY not in message.lower() and FAKE_KEY[:16] not in message.lower()


def test_key_shaped_values_in_dicts_are_refused():
    with pytest.raises(ConfigError) as info:
        Config.from_dict({"assets": {"coins": ["BTC", FAKE_KEY]}})
    assert str(info.value).startswith("assets.coins[1]: this value looks like a private key")
    assert FAKE_KEY not in str(info.value)
    with pytest.raises(ConfigError, match="a key name looks like a private key"):
        Config.from_dict({"strategy": {FAKE_KEY: 1}})


def test_addresses_and_short_hex_are_not_keys(tmp_path):
    cfg = load_config(write(tmp_path, '[exchange]\nvault_address = "0x' + "ab" * 20 + '"\n'))
    assert cfg.exchange.vault_address == "0x" + "ab" * 20


# ------------------------------------------------------------------ mainnet guard


@pytest.mark.parametrize("venue, mainnet", [
    ("mainnet", True),
    ("https://api.hyperliquid.xyz", True),
    ("https://api.hyperliquid.xyz:443/", True),
    ("http://API.HYPERLIQUID.XYZ", True),
    ("testnet", False),
    ("https://api.hyperliquid-testnet.xyz", False),
    ("http://127.0.0.1:3001", False),
    ("sim", False),
])
def test_mainnet_is_refused_unless_confirmed(venue, mainnet):
    cfg = Config.from_dict({"exchange": {"venue": venue}})
    assert cfg.exchange.is_mainnet is mainnet == venue_is_mainnet(venue)
    if mainnet:
        with pytest.raises(RefusedError) as info:
            cfg.exchange.require_confirmed()
        assert info.value.exit_code == ExitCode.REFUSED == 7
        assert "mainnet_confirmed" in str(info.value)
        assert any("mainnet_confirmed is false" in w for w in cfg.warnings())
        confirmed = Config.from_dict({"exchange": {"venue": venue, "mainnet_confirmed": True}})
        confirmed.exchange.require_confirmed()
        assert confirmed.warnings() == []
    else:
        cfg.exchange.require_confirmed()


def test_base_urls():
    assert ExchangeConfig(venue="mainnet").base_url == "https://api.hyperliquid.xyz"
    assert ExchangeConfig(venue="sim").base_url is None
    assert Config.from_dict({"exchange": {"venue": "http://127.0.0.1:3001/"}}).exchange.base_url == \
        "http://127.0.0.1:3001"


def test_risky_settings_are_warned_about():
    cfg = Config.from_dict({
        "strategy": {"market_spread_cap_multiple": 5, "levels_per_side": 25, "max_order_notional_usd": 500},
        "metrics": {"port": 9100, "host": "0.0.0.0"},
    })
    text = "\n".join(cfg.warnings())
    assert "market_spread_cap_multiple = 5.0" in text
    assert "levels_per_side = 25" in text
    assert "max_order_notional_usd = 500.0 exceeds risk.max_position_usd = 100.0" in text
    assert 'metrics.host = "0.0.0.0"' in text


# ------------------------------------------------------------------------ overrides


def test_per_asset_overrides(tmp_path):
    cfg = load_config(write(tmp_path, """
[assets]
coins = ["BTC", "ETH"]
[strategy]
gamma = 0.5
[assets.overrides.ETH.strategy]
levels_per_side = 3
[assets.overrides.ETH.strategy.warmup]
min_trades = 50
[assets.overrides.ETH.risk]
max_position_usd = 40
leverage = 2
"""))
    eth, btc = cfg.strategy_for("ETH"), cfg.strategy_for("BTC")
    assert (eth.levels_per_side, eth.gamma, eth.warmup.min_trades, eth.warmup.min_seconds) == (3, 0.5, 50, 60.0)
    assert btc == cfg.strategy and btc.levels_per_side == 5
    assert cfg.risk_for("ETH").max_position_usd == 40.0 and cfg.risk_for("ETH").leverage == 2
    assert cfg.risk_for("ETH").max_loss_usd == cfg.risk.max_loss_usd
    assert cfg.risk_for("BTC") == cfg.risk
    with pytest.raises(KeyError):
        cfg.strategy_for("SOL")
    assert Config.from_dict(cfg.to_dict()) == cfg


# ------------------------------------------------------------------------ fragments


def test_include_fragments_merge_in_order(tmp_path):
    (tmp_path / "frag").mkdir()
    write(tmp_path, "[strategy]\nalpha_touch = 0.3\ndelta_char_bps = 20.0\n", "frag/cal1.toml")
    write(tmp_path, "[strategy]\nalpha_touch = 0.35\n", "frag/cal2.toml")
    main = write(tmp_path, 'include = ["frag/cal1.toml", "frag/cal2.toml"]\n[strategy]\nalpha_touch = 0.1\ngamma = 2\n')
    cfg = load_config(main)
    assert (cfg.strategy.alpha_touch, cfg.strategy.delta_char_bps, cfg.strategy.gamma) == (0.35, 20.0, 2.0)
    assert cfg.sources["strategy.alpha_touch"].endswith("cal2.toml")
    assert cfg.sources["strategy.delta_char_bps"].endswith("cal1.toml")
    assert cfg.sources["strategy.gamma"] == str(main)
    assert "strategy.tau_min_s" not in cfg.sources


def test_fragment_errors_name_the_fragment(tmp_path):
    write(tmp_path, "[strategy]\n\nalpha_touch = 1.5\n", "cal.toml")
    err = error_of(tmp_path, 'include = ["cal.toml"]\n')
    assert str(err) == f"{tmp_path / 'cal.toml'}:3: strategy.alpha_touch = 1.5: must be at least 0 and less than 1"
    write(tmp_path, '[exchange]\nmainnet_confirmed = true\n', "evil.toml")
    err = error_of(tmp_path, 'include = ["evil.toml"]\n')
    assert "exchange: not allowed in a fragment" in str(err)
    err = error_of(tmp_path, 'include = ["absent.toml"]\n')
    assert "config file not found" in str(err) and "absent.toml" in str(err)
    err = error_of(tmp_path, "include = 3\n")
    assert "include = 3: expected an array of file paths" in str(err)


def test_fragment_overrides_can_target_coins_of_the_main_file(tmp_path):
    write(tmp_path, "[assets.overrides.ETH.strategy]\ngamma = 0.9\n", "cal.toml")
    cfg = load_config(write(tmp_path, 'include = ["cal.toml"]\n[assets]\ncoins = ["BTC", "ETH"]\n'))
    assert cfg.strategy_for("ETH").gamma == 0.9


def test_dump_fragment_loads_as_is(tmp_path):
    base = Config.from_dict({"assets": {"coins": ["BTC", "ETH"]}})
    fragment = {
        "strategy": {"alpha_touch": 0.31, "delta_char_bps": 17.5, "kelly_regime_multipliers": {"low": 1.25}},
        "assets": {"overrides": {"ETH": {"strategy": {"gamma": 0.45}}}},
    }
    text = dump_fragment(fragment, base=base, header="written by hlmm calibrate\nsamples: 412")
    assert text.startswith("# written by hlmm calibrate\n# samples: 412\n")
    path = write(tmp_path, text, "calibrated.toml")
    assert load_fragment(path, base=base) == fragment
    merged = base.merged(fragment, origin="calibrated.toml")
    assert merged.strategy.alpha_touch == 0.31 and merged.strategy.kelly_regime_multipliers.low == 1.25
    assert merged.strategy_for("ETH").gamma == 0.45
    assert merged.sources["strategy.alpha_touch"] == "calibrated.toml"
    main = write(tmp_path, 'include = ["calibrated.toml"]\n[assets]\ncoins = ["BTC", "ETH"]\n')
    assert load_config(main) == merged


def test_dump_fragment_refuses_what_would_not_load():
    with pytest.raises(ConfigError, match="strategy.alpha_touch = 2.0: must be at least 0"):
        dump_fragment({"strategy": {"alpha_touch": 2.0}})
    with pytest.raises(ConfigError, match="exchange: not allowed in a fragment"):
        dump_fragment({"exchange": {"venue": "mainnet"}})
    with pytest.raises(ConfigError, match="not allowed in a fragment"):
        Config().merged({"exchange": {"mainnet_confirmed": True}})


# ------------------------------------------------------------- round trips (property)


def _leaf_options():
    out = []

    def walk(cls, path):
        for f, tp in fields_of(cls):
            if dataclasses.is_dataclass(tp):
                walk(tp, [*path, f.name])
            elif not spec_of(f).raw:
                out.append(([*path, f.name], tp, spec_of(f)))

    for name, cls in SECTIONS.items():
        walk(cls, [name])
    return out


LEAVES = _leaf_options()


def _number(tp, spec):
    low = spec.lo if spec.lo is not None else spec.gt
    high = spec.hi if spec.hi is not None else spec.lt
    if tp is int:
        return st.integers(int(low), int(high)).filter(lambda v: spec.gt is None or v > spec.gt)
    return st.floats(low, high, exclude_min=spec.gt is not None, exclude_max=spec.lt is not None,
                     allow_nan=False)


def _value(tp, spec):
    if tp is bool:
        return st.booleans()
    if spec.choices:
        return st.sampled_from(spec.choices)
    if tp is str:
        return st.sampled_from(["x", "logs/a.jsonl", ""]) if not spec.check else st.nothing()
    if tp in (int, float):
        return _number(tp, spec)
    return st.nothing()


@st.composite
def one_valid_setting(draw):
    path, tp, spec = draw(st.sampled_from([leaf for leaf in LEAVES if leaf[1] in (bool, int, float, str)]))
    value = draw(_value(tp, spec))
    if tp is str and spec.nonempty and not value:
        value = "x"
    return path, tp, value


@settings(max_examples=300, deadline=None)
@given(one_valid_setting())
def test_any_single_valid_value_round_trips_through_toml(setting):
    path, tp, value = setting
    data: dict = {}
    node = data
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value
    try:
        cfg = Config.from_dict(data)
    except ConfigError as err:  # only a relation with another key may refuse an in-range value
        assert all(key.startswith(".".join(path[:-1])) for key, _ in err.issues), str(err)
        assert "must" in str(err)
        return
    obj = cfg
    for part in path:
        obj = getattr(obj, part)
    assert obj == value and type(obj) is tp
    assert Config.from_dict(cfg.to_dict()) == cfg
    assert Config.from_dict(tomli.loads(render_toml(cfg.to_dict()))) == cfg


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(LEAVES), st.one_of(st.text(max_size=5), st.lists(st.integers(), max_size=2),
                                            st.floats(allow_nan=True), st.integers(), st.booleans()))
def test_any_bad_value_gives_a_message_naming_the_key(leaf, value):
    path, _tp, _spec = leaf
    data: dict = {}
    node = data
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value
    try:
        Config.from_dict(data)
    except ConfigError as err:
        assert ".".join(path) in str(err) or ".".join(path[:-1]) in str(err)
        assert "Traceback" not in str(err)


# --------------------------------------------------------------------- the example


def _example_keys(text: str) -> set[str]:
    """Dotted keys the example shows, active or in comments."""
    keys, table = set(), ""
    for line in text.splitlines():
        bare = line.lstrip("# ").rstrip()
        header = re.match(r"^\[([A-Za-z0-9_.<>]+)\]$", bare)
        if header:
            table = header.group(1)
            keys.add(table)
            continue
        keyline = re.match(r"^([a-z_]+) = ", bare)
        if keyline:
            keys.add(f"{table}.{keyline.group(1)}" if table else keyline.group(1))
    return keys


def test_example_file_loads_to_the_defaults():
    cfg = load_config(EXAMPLE)
    assert cfg == Config()


def test_example_documents_every_key():
    text = EXAMPLE.read_text(encoding="utf-8")
    shown = _example_keys(text)
    missing = []

    def walk(cls, path):
        for f, tp in fields_of(cls):
            dotted = f"{path}.{f.name}"
            if dataclasses.is_dataclass(tp):
                walk(tp, dotted)
                if dotted not in shown:
                    missing.append(dotted)
            elif dotted not in shown:
                missing.append(dotted)

    for name, cls in SECTIONS.items():
        walk(cls, name)
    assert "include" in shown
    assert not missing, f"examples/hlmm.toml lacks: {missing}"


def test_every_active_key_in_the_example_has_a_comment_and_its_default():
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    defaults = Config().to_dict()
    table = ""
    for i, line in enumerate(lines):
        header = re.match(r"^\[([a-z_.]+)\]$", line)
        if header:
            table = header.group(1)
            continue
        keyline = re.match(r"^([a-z_]+) = (.*)$", line)
        if not keyline:
            continue
        assert lines[i - 1].startswith("# Default:") or lines[i - 1].startswith("# Allowed:"), line
        assert lines[i - 2].startswith("#"), line
        node = defaults
        for part in table.split("."):
            node = node[part]
        value = node[keyline.group(1)]
        assert f"Default: {toml_value(value)}" in lines[i - 1]


def test_example_comments_match_the_option_docs():
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    docs = {}

    def walk(cls, path):
        for f, tp in fields_of(cls):
            if dataclasses.is_dataclass(tp):
                walk(tp, f"{path}.{f.name}")
            elif not spec_of(f).raw:
                docs[f"{path}.{f.name}"] = spec_of(f).doc

    for name, cls in SECTIONS.items():
        walk(cls, name)
    table, seen = "", set()
    for i, line in enumerate(lines):
        header = re.match(r"^\[([a-z_.]+)\]$", line)
        if header:
            table = header.group(1)
        keyline = re.match(r"^([a-z_]+) = ", line)
        if keyline:
            key = f"{table}.{keyline.group(1)}"
            block = " ".join(lines[i - 3:i])
            assert docs[key] in block, f"{key}: example comment differs from the option doc {docs[key]!r}"
            seen.add(key)
    assert seen == set(docs)


def test_floats_in_messages_are_plain():
    # the value in the message is the TOML literal the user wrote (no float noise)
    with pytest.raises(ConfigError) as info:
        Config.from_dict({"strategy": {"spread_floor_bps": 0.1}})
    assert "strategy.spread_floor_bps = 0.1: must be between 1 and 1000" == str(info.value)
    assert not math.isnan(Config().strategy.gamma)
