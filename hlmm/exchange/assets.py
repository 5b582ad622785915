"""Asset metadata: the per-coin rules (decimals, asset id, leverage tiers) read from ``meta``.

Built from the info endpoint's own JSON, so the registry is exactly what the exchange
says.  Asset ids (protocol reference §2):

- default-dex perp: its index in ``meta.universe`` (BTC = 0);
- HIP-3 perp: ``100000 + perp_dex_index * 10000 + index`` where ``perp_dex_index`` is the
  dex's position in the ``perpDexs`` response (position 0 is the default dex, ``null``);
- spot: ``10000 + spotMeta.universe[i].index`` (PURR/USDC = 10000).

Allowed leverage comes from ``marginTables``: an asset's ``marginTableId`` below 50 means one
tier at that leverage; otherwise the table's tiers apply by ``lowerBound`` (position notional
in USD).  Assets of the old schema (no ``marginTableId``) get one tier at ``maxLeverage``.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping, Sequence

from hlmm.errors import InputError

PERP_MAX_DECIMALS = 6
SPOT_MAX_DECIMALS = 8
PERP_MIN_NOTIONAL = 10.0  # USD; spot: 10 of the quote token
SPOT_ASSET_OFFSET = 10000
HIP3_ASSET_OFFSET = 100000
HIP3_DEX_STRIDE = 10000
SINGLE_TIER_TABLE_LIMIT = 50  # marginTableId < 50 means "one tier, maxLeverage = id"


class MetaError(InputError):
    """A ``meta`` / ``spotMeta`` / ``perpDexs`` response could not be used."""


class UnknownAssetError(InputError, KeyError):
    """A coin name or asset id that the registry does not hold."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return InputError.__str__(self)


@dataclass(frozen=True, slots=True)
class MarginTier:
    """One tier of a margin table: from ``lower_bound`` USD of notional, at most ``max_leverage``."""

    lower_bound: float
    max_leverage: int


@dataclass(frozen=True, slots=True)
class AssetInfo:
    """Everything the rounding path and the risk gates need to know about one tradable asset."""

    name: str  # the coin as the API names it: "BTC", "xyz:TSLA", "PURR/USDC", "@107"
    asset_id: int  # the "a" of an order wire
    sz_decimals: int
    px_decimals: int  # MAX_DECIMALS (6 perp, 8 spot) - sz_decimals
    max_leverage: int  # 1 for spot
    margin_tiers: tuple[MarginTier, ...] = (MarginTier(0.0, 1),)
    margin_table_id: int | None = None
    is_spot: bool = False
    dex: str = ""  # "" = the default perp dex; HIP-3 dex name otherwise
    is_delisted: bool = False
    only_isolated: bool = False
    margin_mode: str | None = None  # "strictIsolated" | "noCross" | None (cross allowed)
    quote_token: str = "USDC"
    min_notional: float = PERP_MIN_NOTIONAL

    @property
    def max_decimals(self) -> int:
        """6 for perps, 8 for spot."""
        return SPOT_MAX_DECIMALS if self.is_spot else PERP_MAX_DECIMALS

    @property
    def cross_allowed(self) -> bool:
        """False when the asset trades isolated only."""
        return not (self.only_isolated or self.margin_mode in ("strictIsolated", "noCross"))

    def allowed_leverage(self, notional_usd: float) -> int:
        """The highest leverage the exchange allows for a position of this notional (USD)."""
        notional = abs(notional_usd)
        lev = self.margin_tiers[0].max_leverage
        for tier in self.margin_tiers:
            if notional >= tier.lower_bound:
                lev = tier.max_leverage
            else:
                break
        return min(lev, self.max_leverage)


def _tiers_from_table(raw: Mapping[str, Any], table_id: int) -> tuple[MarginTier, ...]:
    try:
        tiers = tuple(
            MarginTier(float(t["lowerBound"]), int(t["maxLeverage"])) for t in raw["marginTiers"]
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise MetaError(f"marginTables: table {table_id} is malformed ({exc!r})") from None
    if not tiers:
        raise MetaError(f"marginTables: table {table_id} has no tiers")
    if any(b.lower_bound <= a.lower_bound for a, b in zip(tiers, tiers[1:])):
        raise MetaError(f"marginTables: table {table_id} tiers are not in increasing lowerBound order")
    if tiers[0].lower_bound != 0.0:
        raise MetaError(f"marginTables: table {table_id} does not start at lowerBound 0")
    if any(t.max_leverage < 1 for t in tiers):
        raise MetaError(f"marginTables: table {table_id} has a leverage below 1")
    return tiers


def _margin_tables(meta: Mapping[str, Any], where: str) -> dict[int, tuple[MarginTier, ...]]:
    tables: dict[int, tuple[MarginTier, ...]] = {}
    for entry in meta.get("marginTables") or []:
        try:
            table_id, raw = entry
            table_id = int(table_id)
        except (TypeError, ValueError):
            raise MetaError(f"{where}: marginTables entry {entry!r} is not [id, table]") from None
        tables[table_id] = _tiers_from_table(raw, table_id)
    return tables


def _perp_assets(meta: Mapping[str, Any], dex: str, id_offset: int) -> list[AssetInfo]:
    where = f"meta(dex={dex!r})"
    if not isinstance(meta, Mapping) or not isinstance(meta.get("universe"), list):
        raise MetaError(f"{where}: expected an object with a 'universe' list")
    tables = _margin_tables(meta, where)
    out = []
    for index, raw in enumerate(meta["universe"]):
        try:
            name = str(raw["name"])
            sz_decimals = int(raw["szDecimals"])
        except (KeyError, TypeError, ValueError):
            raise MetaError(f"{where}: universe[{index}] lacks name/szDecimals: {raw!r}") from None
        if dex and not name.startswith(dex + ":"):
            name = f"{dex}:{name}"
        if not 0 <= sz_decimals <= PERP_MAX_DECIMALS:
            raise MetaError(f"{where}: {name} has szDecimals {sz_decimals}, outside 0..{PERP_MAX_DECIMALS}")
        table_id = raw.get("marginTableId")
        max_leverage = raw.get("maxLeverage")
        if table_id is None:
            if max_leverage is None:
                raise MetaError(f"{where}: {name} has neither marginTableId nor maxLeverage")
            tiers = (MarginTier(0.0, int(max_leverage)),)
        else:
            table_id = int(table_id)
            if table_id < SINGLE_TIER_TABLE_LIMIT:
                tiers = (MarginTier(0.0, table_id),)
            elif table_id in tables:
                tiers = tables[table_id]
            else:
                raise MetaError(
                    f"{where}: {name} uses marginTableId {table_id}, which marginTables does not define"
                )
        if max_leverage is None:
            max_leverage = tiers[0].max_leverage
        out.append(
            AssetInfo(
                name=name,
                asset_id=id_offset + index,
                sz_decimals=sz_decimals,
                px_decimals=PERP_MAX_DECIMALS - sz_decimals,
                max_leverage=int(max_leverage),
                margin_tiers=tiers,
                margin_table_id=table_id,
                dex=dex,
                is_delisted=bool(raw.get("isDelisted", False)),
                only_isolated=bool(raw.get("onlyIsolated", False)),
                margin_mode=raw.get("marginMode"),
            )
        )
    return out


def _spot_assets(spot_meta: Mapping[str, Any]) -> tuple[list[AssetInfo], dict[str, str]]:
    """Spot pairs, plus aliases "BASE/QUOTE" -> "@n" for the non-canonical names."""
    try:
        tokens = {int(t["index"]): t for t in spot_meta["tokens"]}
        universe = spot_meta["universe"]
    except (KeyError, TypeError, ValueError):
        raise MetaError("spotMeta: expected 'tokens' and 'universe' lists") from None
    out, aliases = [], {}
    for raw in universe:
        try:
            name = str(raw["name"])
            base_i, quote_i = raw["tokens"]
            base, quote = tokens[int(base_i)], tokens[int(quote_i)]
            index = int(raw["index"])
            sz_decimals = int(base["szDecimals"])
        except (KeyError, TypeError, ValueError):
            raise MetaError(f"spotMeta: universe entry {raw!r} is malformed") from None
        if not 0 <= sz_decimals <= SPOT_MAX_DECIMALS:
            raise MetaError(f"spotMeta: {name} has szDecimals {sz_decimals}, outside 0..{SPOT_MAX_DECIMALS}")
        out.append(
            AssetInfo(
                name=name,
                asset_id=SPOT_ASSET_OFFSET + index,
                sz_decimals=sz_decimals,
                px_decimals=SPOT_MAX_DECIMALS - sz_decimals,
                max_leverage=1,
                is_spot=True,
                quote_token=str(quote["name"]),
            )
        )
        pair = f"{base['name']}/{quote['name']}"
        if pair != name:
            aliases.setdefault(pair, name)
    return out, aliases


class AssetRegistry:
    """Lookup of :class:`AssetInfo` by coin name or asset id."""

    def __init__(self, assets: Iterable[AssetInfo], aliases: Mapping[str, str] | None = None) -> None:
        self._by_name: dict[str, AssetInfo] = {}
        self._by_id: dict[int, AssetInfo] = {}
        for a in assets:
            if a.name in self._by_name:
                raise MetaError(f"asset name {a.name!r} appears twice")
            if a.asset_id in self._by_id:
                raise MetaError(f"asset id {a.asset_id} is used by both {self._by_id[a.asset_id].name} and {a.name}")
            self._by_name[a.name] = a
            self._by_id[a.asset_id] = a
        self._aliases = {k: v for k, v in (aliases or {}).items() if k not in self._by_name}

    @classmethod
    def from_meta(
        cls,
        meta: Mapping[str, Any],
        perp_dexs: Sequence[Mapping[str, Any] | None] | None = None,
        dex_metas: Mapping[str, Mapping[str, Any]] | None = None,
        spot_meta: Mapping[str, Any] | None = None,
    ) -> "AssetRegistry":
        """Build from info responses: ``meta`` (default dex), optionally ``perpDexs`` with a
        ``{dex_name: meta}`` map for HIP-3 dexs, and ``spotMeta``."""
        assets = _perp_assets(meta, "", 0)
        if dex_metas:
            if perp_dexs is None:
                raise MetaError("HIP-3 metas need the perpDexs response to number their assets")
            dex_index = {d["name"]: i for i, d in enumerate(perp_dexs) if d is not None and i > 0}
            for dex, dex_meta in dex_metas.items():
                if dex not in dex_index:
                    raise MetaError(f"dex {dex!r} is not in perpDexs ({sorted(dex_index)})")
                offset = HIP3_ASSET_OFFSET + dex_index[dex] * HIP3_DEX_STRIDE
                assets += _perp_assets(dex_meta, dex, offset)
        aliases: dict[str, str] = {}
        if spot_meta is not None:
            spot, aliases = _spot_assets(spot_meta)
            assets += spot
        return cls(assets, aliases)

    def __len__(self) -> int:
        return len(self._by_name)

    def __iter__(self) -> Iterator[AssetInfo]:
        return iter(self._by_name.values())

    def __contains__(self, name: object) -> bool:
        return name in self._by_name or name in self._aliases

    def __getitem__(self, name: str) -> AssetInfo:
        return self.get(name)

    @property
    def names(self) -> list[str]:
        """Every coin name, in meta order."""
        return list(self._by_name)

    def get(self, name: str) -> AssetInfo:
        """The asset called ``name`` (spot pairs also by "BASE/QUOTE"); UnknownAssetError if none."""
        a = self._by_name.get(name)
        if a is None and name in self._aliases:
            a = self._by_name[self._aliases[name]]
        if a is None:
            raise UnknownAssetError(f"unknown coin {name!r}", hint=self._did_you_mean(name))
        return a

    def by_id(self, asset_id: int) -> AssetInfo:
        """The asset with this wire id; UnknownAssetError if none."""
        a = self._by_id.get(asset_id)
        if a is None:
            raise UnknownAssetError(f"unknown asset id {asset_id}")
        return a

    def allowed_leverage(self, name: str, notional_usd: float) -> int:
        """Highest leverage allowed for a ``name`` position of ``notional_usd`` (margin tiers)."""
        return self.get(name).allowed_leverage(notional_usd)

    def _did_you_mean(self, name: str) -> str | None:
        pool = list(self._by_name) + list(self._aliases)
        folded = {n.casefold(): n for n in pool}
        hits = []
        if isinstance(name, str):
            if name.casefold() in folded:
                hits = [folded[name.casefold()]]
            else:
                hits = [folded[h] for h in difflib.get_close_matches(name.casefold(), list(folded), n=3, cutoff=0.6)]
        if not hits:
            return f"{len(self._by_name)} coins are known; names are case-sensitive"
        return "did you mean " + " or ".join(repr(h) for h in hits) + "?"
