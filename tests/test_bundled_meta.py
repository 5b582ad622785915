"""hlmm.data: the bundled trimmed mainnet meta agrees with the full real meta it was cut from."""
from __future__ import annotations

import json
from pathlib import Path

from hlmm.data import bundled_meta, bundled_registry
from hlmm.exchange.assets import AssetRegistry

FULL = AssetRegistry.from_meta(json.loads((Path(__file__).parent / "fixtures" / "meta_perp_main_227_assets.json")
                                          .read_text()))


def test_bundled_coins_match_the_full_meta_including_asset_ids_and_tiers():
    reg = bundled_registry()
    assert reg.names == ["BTC", "ETH", "SOL", "AVAX", "ARB", "DOGE", "XRP", "HYPE"]
    for asset in reg:
        assert asset == FULL[asset.name]          # same id, decimals, leverage, margin tiers
    assert reg["HYPE"].asset_id == 159 and reg.allowed_leverage("BTC", 2e8) == 20


def test_bundled_meta_is_small_and_documents_its_source():
    meta = bundled_meta()
    assert "mainnet" in meta["_source"] and len(json.dumps(meta)) < 4000
    assert sorted(t[0] for t in meta["marginTables"]) == [51, 52, 53, 54, 55, 56]
