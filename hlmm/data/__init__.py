"""Data shipped with hlmm: a trimmed copy of Hyperliquid's real perp ``meta``.

``meta_perp.json`` is the mainnet ``meta`` answer of about January 2026 (227 assets), cut down to
the coins hlmm's simulator knows by name (BTC, ETH, SOL, AVAX, ARB, DOGE, XRP, HYPE) and the margin
tables they use, entries unmodified.  ``_asset_ids`` records each coin's index in the full universe,
i.e. its real asset id, which the cut would otherwise renumber.

It lets ``hlmm ladder-preview --book FILE`` run offline with the real szDecimals and margin tiers.
Nothing that sends orders may use it: a live session always reads ``meta`` from its venue.
"""
from __future__ import annotations

import dataclasses
import json
from importlib import resources
from typing import Any

from hlmm.exchange.assets import AssetRegistry

BUNDLED_META_FILE = "meta_perp.json"
BUNDLED_META_DESCRIPTION = "hlmm's bundled copy of Hyperliquid's mainnet meta (about January 2026)"


def bundled_meta() -> dict[str, Any]:
    """The bundled ``meta`` (with its ``_source`` and ``_asset_ids`` keys)."""
    return json.loads(resources.files(__package__).joinpath(BUNDLED_META_FILE).read_text(encoding="utf-8"))


def bundled_registry() -> AssetRegistry:
    """An :class:`AssetRegistry` of the bundled coins, each with its real asset id."""
    meta = bundled_meta()
    ids = meta["_asset_ids"]
    registry = AssetRegistry.from_meta({k: v for k, v in meta.items() if not k.startswith("_")})
    return AssetRegistry(dataclasses.replace(asset, asset_id=int(ids[asset.name])) for asset in registry)
