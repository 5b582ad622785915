"""hlmm.exchange.assets: the registry built from real meta / spotMeta / perpDexs responses."""
import copy
import json

import pytest
from hypothesis import given, strategies as st

from hlmm.errors import InputError
from hlmm.exchange.assets import AssetInfo, AssetRegistry, MarginTier, MetaError, UnknownAssetError


def load(fixtures_dir, name):
    return json.loads((fixtures_dir / name).read_text())


@pytest.fixture
def meta(fixtures_dir):
    return load(fixtures_dir, "meta_perp_main_227_assets.json")


@pytest.fixture
def registry(meta):
    return AssetRegistry.from_meta(meta)


def test_real_meta_loads_every_asset(registry, meta):
    assert len(registry) == 227
    assert registry.names == [a["name"] for a in meta["universe"]]
    for index, raw in enumerate(meta["universe"]):
        a = registry[raw["name"]]
        assert a.asset_id == index
        assert registry.by_id(index) is a
        assert a.sz_decimals == raw["szDecimals"]
        assert a.px_decimals == 6 - raw["szDecimals"]
        assert a.max_leverage == raw["maxLeverage"]
        assert a.is_delisted is raw.get("isDelisted", False)
        assert a.margin_mode == raw.get("marginMode")
        assert not a.is_spot and a.dex == "" and a.max_decimals == 6 and a.min_notional == 10.0
    assert sum(a.is_delisted for a in registry) == 38


def test_btc_eth_rules(registry):
    btc, eth = registry["BTC"], registry["ETH"]
    assert (btc.asset_id, btc.sz_decimals, btc.px_decimals) == (0, 5, 1)
    assert (eth.asset_id, eth.sz_decimals, eth.px_decimals) == (1, 4, 2)
    assert btc.margin_table_id == 56
    assert btc.margin_tiers == (MarginTier(0.0, 40), MarginTier(150_000_000.0, 20))


@pytest.mark.parametrize(
    "coin, notional, lev",
    [
        ("BTC", 0.0, 40),
        ("BTC", 149_999_999.99, 40),
        ("BTC", 150_000_000.0, 20),  # a tier applies from its lowerBound
        ("BTC", -200_000_000.0, 20),  # shorts count by size
        ("ETH", 99_000_000.0, 25),
        ("ETH", 100_000_000.0, 15),
        ("BNB", 3_000_000.0, 5),  # table 51 "tiered 10x"
        ("BNB", 2_999_999.0, 10),
        ("ATOM", 1e12, 5),  # table id 5 < 50: one tier at 5x
        ("MATIC", 1.0, 20),  # id 20
    ],
)
def test_allowed_leverage_from_margin_tables(registry, coin, notional, lev):
    assert registry.allowed_leverage(coin, notional) == lev


@given(notional=st.floats(min_value=0, max_value=1e10, allow_nan=False))
def test_allowed_leverage_never_rises_with_notional(notional):
    btc = AssetInfo("BTC", 0, 5, 1, 40, (MarginTier(0.0, 40), MarginTier(150e6, 20)), 56)
    assert btc.allowed_leverage(notional) >= btc.allowed_leverage(notional * 2 + 1)
    assert 1 <= btc.allowed_leverage(notional) <= btc.max_leverage


def test_every_real_asset_has_sane_tiers(registry):
    for a in registry:
        tiers = a.margin_tiers
        assert tiers[0].lower_bound == 0.0
        assert all(x.lower_bound < y.lower_bound for x, y in zip(tiers, tiers[1:]))
        assert a.allowed_leverage(0) <= a.max_leverage
        assert a.allowed_leverage(1e15) >= 1


def test_unknown_coin_suggests_names(registry):
    with pytest.raises(UnknownAssetError) as e:
        registry["btc"]
    assert str(e.value) == "unknown coin 'btc' (did you mean 'BTC'?)"
    with pytest.raises(KeyError):  # lookups raise a KeyError, as a mapping would
        registry["kpepe"]
    with pytest.raises(InputError, match=r"did you mean 'kPEPE'"):
        registry.get("kpepe")
    with pytest.raises(UnknownAssetError, match=r"did you mean .*'ETH'"):
        registry["ETHH"]
    with pytest.raises(UnknownAssetError, match=r"227 coins are known; names are case-sensitive"):
        registry["ZZZZZZZZZZ"]
    with pytest.raises(UnknownAssetError, match="unknown asset id 227"):
        registry.by_id(227)
    assert "BTC" in registry and "btc" not in registry


def test_old_schema_meta_without_margin_tables(fixtures_dir):
    reg = AssetRegistry.from_meta(load(fixtures_dir, "pysdk_meta_2023_28_assets.json"))
    assert len(reg) == 28
    btc = reg["BTC"]
    assert btc.margin_table_id is None and btc.margin_tiers == (MarginTier(0.0, 50),)
    assert reg.allowed_leverage("BTC", 1e9) == 50


def test_docs_meta_isolated_only_assets(fixtures_dir):
    docs = load(fixtures_dir, "docs_examples_meta_hip3.json")
    reg = AssetRegistry.from_meta(docs["meta"])
    hpos, loom, btc = reg["HPOS"], reg["LOOM"], reg["BTC"]
    assert hpos.only_isolated and not hpos.cross_allowed and hpos.max_leverage == 3
    assert loom.is_delisted and loom.margin_mode == "strictIsolated" and not loom.cross_allowed
    assert btc.cross_allowed


def test_hip3_dex_asset_ids(fixtures_dir, meta):
    docs = load(fixtures_dir, "docs_examples_meta_hip3.json")
    hip3_meta = docs["metaAndAssetCtxs_hip3_dex"][0]
    # the docs' perpDexs example lists one builder dex, "test", at position 1:
    reg = AssetRegistry.from_meta(meta, perp_dexs=docs["perpDexs"], dex_metas={"test": docs["meta"]})
    assert reg["test:BTC"].asset_id == 110000  # docs: "test:ABC on testnet = 110000"
    assert reg["test:LOOM"].asset_id == 110003
    assert reg["test:BTC"].dex == "test"
    assert reg["BTC"].asset_id == 0  # the default dex is untouched
    # the docs' HIP-3 meta names its coins "xyz:..." already; put xyz second in perpDexs
    perp_dexs = docs["perpDexs"] + [{"name": "xyz"}]
    reg = AssetRegistry.from_meta(meta, perp_dexs=perp_dexs, dex_metas={"xyz": hip3_meta})
    x = reg["xyz:XYZ100"]
    assert (x.asset_id, x.sz_decimals, x.px_decimals, x.dex) == (120000, 4, 2, "xyz")
    assert reg["xyz:NVDA"].asset_id == 120002
    assert reg.allowed_leverage("xyz:TSLA", 1e9) == 10  # marginTableId 10 -> one tier at 10x
    assert x.margin_mode == "strictIsolated" and not x.cross_allowed
    assert reg.by_id(120001).name == "xyz:TSLA"


def test_hip3_errors(fixtures_dir, meta):
    docs = load(fixtures_dir, "docs_examples_meta_hip3.json")
    with pytest.raises(MetaError, match="need the perpDexs"):
        AssetRegistry.from_meta(meta, dex_metas={"test": docs["meta"]})
    with pytest.raises(MetaError, match=r"dex 'nope' is not in perpDexs \(\['test'\]\)"):
        AssetRegistry.from_meta(meta, perp_dexs=docs["perpDexs"], dex_metas={"nope": docs["meta"]})


def test_spot_meta(fixtures_dir, meta):
    spot = load(fixtures_dir, "pysdk_spot_meta_trimmed.json")
    reg = AssetRegistry.from_meta(meta, spot_meta=spot)
    purr = reg["PURR/USDC"]
    assert (purr.asset_id, purr.sz_decimals, purr.px_decimals, purr.is_spot) == (10000, 0, 8, True)
    assert purr.max_decimals == 8 and purr.quote_token == "USDC"
    hfun = reg["@1"]
    assert hfun.asset_id == 10001 and hfun.sz_decimals == 2 and hfun.px_decimals == 6
    assert reg["HFUN/USDC"] is hfun  # the SDK's "BASE/QUOTE" alias for non-canonical pairs
    for raw in spot["universe"]:
        assert reg[raw["name"]].asset_id == 10000 + raw["index"]  # index, not position
    assert reg.by_id(10000) is purr


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda m: m.pop("universe"), "expected an object with a 'universe' list"),
        (lambda m: m["universe"][0].pop("szDecimals"), r"universe\[0\] lacks name/szDecimals"),
        (lambda m: m["universe"][0].update(szDecimals=9), "BTC has szDecimals 9, outside 0..6"),
        (lambda m: m["universe"][0].update(marginTableId=77), "BTC uses marginTableId 77, which marginTables does not define"),
        (lambda m: m["marginTables"].append([60]), r"marginTables entry \[60\] is not \[id, table\]"),
        (lambda m: m["marginTables"][0][1].update(marginTiers=[]), "table 50 has no tiers"),
        (lambda m: m["marginTables"][1][1]["marginTiers"].reverse(), "table 51 tiers are not in increasing lowerBound order"),
        (lambda m: m["marginTables"][1][1]["marginTiers"][0].update(lowerBound="abc"), "table 51 is malformed"),
        (lambda m: m["universe"].append(dict(m["universe"][0])), "asset name 'BTC' appears twice"),
    ],
)
def test_malformed_meta_gives_specific_errors(meta, mutate, message):
    bad = copy.deepcopy(meta)
    mutate(bad)
    with pytest.raises(MetaError, match=message):
        AssetRegistry.from_meta(bad)


def test_asset_info_is_frozen(registry):
    with pytest.raises(AttributeError):
        registry["BTC"].sz_decimals = 3  # type: ignore[misc]
