"""Configuration of the simulated exchange (``SimConfig``).

Everything the exchange's state machine needs to know before it starts: the perp
universe (szDecimals, maxLeverage, margin tiers, start price), fee rates, funding
parameters, the address rate-limit budget, the open-order limit, the seed and the
demo accounts to fund.  Values are validated on construction; a bad value raises
``SimConfigError`` naming the field and the value.

``SimConfig.from_dict`` builds one from plain data (a TOML table or JSON), so the
CLI and tests share one parser.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields
from fractions import Fraction
from typing import Any, Mapping

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
PERP_MAX_DECIMALS = 6


class SimConfigError(ValueError):
    """A sim configuration value is invalid; the message names it."""


@dataclass(frozen=True)
class MarginTier:
    """From ``lower_bound_usd`` of position notional up, leverage is capped at ``max_leverage``."""

    lower_bound_usd: float
    max_leverage: int


@dataclass(frozen=True)
class AssetConfig:
    """One perpetual of the sim's universe (its index is its position in ``SimConfig.assets``)."""

    name: str
    sz_decimals: int
    max_leverage: int
    start_px: float
    # Tiers by position notional; empty = one tier at max_leverage.
    margin_tiers: tuple[MarginTier, ...] = ()
    # Notional (USD) used for the impact prices in metaAndAssetCtxs.
    impact_notional_usd: float = 20_000.0

    @property
    def px_decimals(self) -> int:
        return PERP_MAX_DECIMALS - self.sz_decimals

    def tiers(self) -> tuple[MarginTier, ...]:
        """The effective tiers (a single 0-bound tier when none were configured)."""
        return self.margin_tiers or (MarginTier(0.0, self.max_leverage),)

    def validate(self) -> None:
        where = f"asset {self.name!r}"
        if not isinstance(self.name, str) or not re.fullmatch(r"[A-Za-z0-9]{1,20}", self.name):
            raise SimConfigError(f"{where}: name must be 1-20 letters/digits")
        if not isinstance(self.sz_decimals, int) or not 0 <= self.sz_decimals <= PERP_MAX_DECIMALS:
            raise SimConfigError(f"{where}: sz_decimals must be an integer in [0, 6], got {self.sz_decimals!r}")
        if not isinstance(self.max_leverage, int) or not 1 <= self.max_leverage <= 200:
            raise SimConfigError(f"{where}: max_leverage must be an integer in [1, 200], got {self.max_leverage!r}")
        if not _positive_number(self.start_px):
            raise SimConfigError(f"{where}: start_px must be a positive number, got {self.start_px!r}")
        # from one price unit up to exact float units: a price the rounding path can express
        lo, hi = 10.0 ** -self.px_decimals, 2.0 ** 53 / 10 ** self.px_decimals
        if not lo <= self.start_px <= hi:
            raise SimConfigError(f"{where}: start_px must be between {lo:g} and {hi:.6g} with "
                                 f"sz_decimals {self.sz_decimals}, got {self.start_px!r}")
        if not _positive_number(self.impact_notional_usd):
            raise SimConfigError(f"{where}: impact_notional_usd must be positive, got {self.impact_notional_usd!r}")
        if self.margin_tiers:
            bounds = [t.lower_bound_usd for t in self.margin_tiers]
            if bounds[0] != 0 or bounds != sorted(bounds) or len(set(bounds)) != len(bounds):
                raise SimConfigError(f"{where}: margin tier bounds must start at 0 and increase, got {bounds}")
            levs = [t.max_leverage for t in self.margin_tiers]
            if levs[0] != self.max_leverage or levs != sorted(levs, reverse=True) or min(levs) < 1:
                raise SimConfigError(
                    f"{where}: margin tier leverages must start at max_leverage and not increase, got {levs}"
                )


def _finite_number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _positive_number(x: object) -> bool:
    return _finite_number(x) and x > 0  # type: ignore[operator]


def default_assets() -> tuple[AssetConfig, ...]:
    """BTC, ETH and SOL with mainnet-like decimals, leverage and one tiered margin table."""
    return (
        AssetConfig("BTC", 5, 40, 100_000.0,
                    (MarginTier(0.0, 40), MarginTier(150_000_000.0, 20))),
        AssetConfig("ETH", 4, 25, 3_500.0,
                    (MarginTier(0.0, 25), MarginTier(100_000_000.0, 15))),
        AssetConfig("SOL", 2, 20, 150.0, impact_notional_usd=6_000.0),
    )


@dataclass
class SimConfig:
    """All settings of a ``SimExchange``.  Construct, then it validates itself."""

    assets: tuple[AssetConfig, ...] = field(default_factory=default_assets)
    # Tier-0 perp fees (reference §8): maker 0.015 %, taker 0.045 %.
    maker_fee_rate: float = 0.00015
    taker_fee_rate: float = 0.00045
    # Funding (reference §8): hourly; F8h = avgPremium + clamp(interest - avgPremium, +-clamp).
    funding_interest_8h: float = 0.0001
    funding_clamp_8h: float = 0.0005
    funding_cap_hourly: float = 0.04
    premium_sample_ms: int = 5_000
    # Address rate limit (reference §7): start budget, +1 per USDC traded.
    address_budget_start: int = 10_000
    rate_limited_interval_ms: int = 10_000
    cancel_allowance_extra: int = 100_000
    open_order_limit: int = 1_000
    min_notional_usd: float = 10.0
    default_leverage: int = 20
    # scheduleCancel: the volume an address must have traded first (mainnet gates it), and
    # how many times per UTC day it may fire.
    schedule_cancel_min_volume_usd: float = 0.0
    schedule_cancel_max_per_day: int = 10
    seed: int = 0
    # address -> USDC to deposit at start
    demo_accounts: dict[str, float] = field(default_factory=dict)
    # How many fills per user, trades per coin and finished orders are kept for queries.
    user_fills_kept: int = 10_000
    trades_kept: int = 10_000
    finished_orders_kept: int = 200_000
    # The sim signs and verifies as testnet (a local URL signs with source "b").
    is_mainnet: bool = False

    def __post_init__(self) -> None:
        self.assets = tuple(self.assets)
        self.validate()

    # ---- derived -------------------------------------------------------------
    @property
    def maker_rate(self) -> Fraction:
        return Fraction(str(self.maker_fee_rate))

    @property
    def taker_rate(self) -> Fraction:
        return Fraction(str(self.taker_fee_rate))

    def asset_index(self, coin: str) -> int | None:
        for i, a in enumerate(self.assets):
            if a.name == coin:
                return i
        return None

    def validate(self) -> None:
        """Raise ``SimConfigError`` on the first invalid value."""
        if not self.assets:
            raise SimConfigError("assets: at least one asset is required")
        names = [a.name for a in self.assets]
        if len(set(names)) != len(names):
            raise SimConfigError(f"assets: duplicate names in {names}")
        for a in self.assets:
            if not isinstance(a, AssetConfig):
                raise SimConfigError(f"assets: expected AssetConfig entries, got {a!r}")
            a.validate()
        for name in ("maker_fee_rate", "taker_fee_rate"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not -0.001 <= v <= 0.01:
                raise SimConfigError(f"{name} must be a number in [-0.001, 0.01], got {v!r}")
        if self.maker_fee_rate + self.taker_fee_rate < 0:
            raise SimConfigError("maker_fee_rate + taker_fee_rate must not be negative (the exchange would pay)")
        for name in ("funding_interest_8h", "funding_clamp_8h", "funding_cap_hourly"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 <= v <= 1:
                raise SimConfigError(f"{name} must be a number in [0, 1], got {v!r}")
        for name, lo in (("premium_sample_ms", 1), ("address_budget_start", 0),
                         ("rate_limited_interval_ms", 1), ("cancel_allowance_extra", 0),
                         ("open_order_limit", 1), ("default_leverage", 1),
                         ("schedule_cancel_max_per_day", 0), ("user_fills_kept", 1),
                         ("trades_kept", 1), ("finished_orders_kept", 1), ("seed", 0)):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < lo:
                raise SimConfigError(f"{name} must be an integer >= {lo}, got {v!r}")
        for name in ("min_notional_usd", "schedule_cancel_min_volume_usd"):
            v = getattr(self, name)
            if not _finite_number(v) or v < 0:
                raise SimConfigError(f"{name} must be a finite number >= 0, got {v!r}")
        if not isinstance(self.demo_accounts, dict):
            raise SimConfigError("demo_accounts must be a mapping address -> USDC")
        for addr, usdc in self.demo_accounts.items():
            if not isinstance(addr, str) or not _ADDRESS.match(addr):
                raise SimConfigError(f"demo_accounts: {addr!r} is not a 0x-prefixed 40-hex address")
            if not _finite_number(usdc) or usdc < 0:
                raise SimConfigError(f"demo_accounts[{addr}]: USDC must be a finite number >= 0, got {usdc!r}")

    # ---- construction from plain data -----------------------------------------
    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SimConfig":
        """Build from a mapping (TOML/JSON).  ``assets`` entries are tables with
        ``name, sz_decimals, max_leverage, start_px`` and optional ``margin_tiers``
        (a list of ``[lower_bound_usd, max_leverage]``) and ``impact_notional_usd``."""
        if not isinstance(data, Mapping):
            raise SimConfigError("sim config must be a table/object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SimConfigError(f"unknown sim config key(s): {', '.join(unknown)}")
        kwargs = dict(data)
        if "assets" in kwargs:
            kwargs["assets"] = tuple(_asset_from_dict(a) for a in kwargs["assets"])
        if "demo_accounts" in kwargs:
            kwargs["demo_accounts"] = dict(kwargs["demo_accounts"])
        return cls(**kwargs)


def _asset_from_dict(raw: Any) -> AssetConfig:
    if isinstance(raw, AssetConfig):
        return raw
    if not isinstance(raw, Mapping):
        raise SimConfigError(f"assets: each entry must be a table, got {raw!r}")
    allowed = {"name", "sz_decimals", "max_leverage", "start_px", "margin_tiers", "impact_notional_usd"}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise SimConfigError(f"asset {raw.get('name')!r}: unknown key(s) {', '.join(unknown)}")
    missing = sorted({"name", "sz_decimals", "max_leverage", "start_px"} - set(raw))
    if missing:
        raise SimConfigError(f"asset {raw.get('name')!r}: missing key(s) {', '.join(missing)}")
    tiers = []
    for t in raw.get("margin_tiers", ()):
        if not isinstance(t, (list, tuple)) or len(t) != 2:
            raise SimConfigError(f"asset {raw['name']!r}: a margin tier is [lower_bound_usd, max_leverage], got {t!r}")
        tiers.append(MarginTier(float(t[0]), t[1]))
    kwargs = {k: raw[k] for k in ("name", "sz_decimals", "max_leverage", "start_px")}
    if "impact_notional_usd" in raw:
        kwargs["impact_notional_usd"] = raw["impact_notional_usd"]
    return AssetConfig(margin_tiers=tuple(tiers), **kwargs)
