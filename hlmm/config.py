"""hlmm's configuration: a TOML file read into typed, frozen sections.

::

    cfg = load_config("hlmm.toml")        # or load_config(None) for the defaults
    cfg.strategy.gamma, cfg.risk.max_position_usd
    cfg.strategy_for("ETH")               # with [assets.overrides.ETH.strategy] applied

The defaults are safe for someone who writes nothing: the local simulator, one coin,
$50 orders, a $100 position limit, a $25 loss limit, and mainnet refused unless the
file says ``exchange.mainnet_confirmed = true``.  ``examples/hlmm.toml`` documents every
key with its default.

Validation collects every problem in one :class:`~hlmm.errors.ConfigError`: each message
names the dotted key, the value and what is allowed; unknown keys get a "did you mean"
hint; a TOML syntax error gives ``file:line:column`` and the parser's text.

A private key never belongs here: any value (or comment) shaped like one — 64 hex
digits — is refused with a pointer to ``exchange.key_env`` / ``exchange.keystore``.

Fragments: a file may list ``include = ["calibrated.toml"]``; each fragment is merged
over the file in order (later wins).  ``hlmm calibrate`` writes such a fragment with
:func:`dump_fragment`; :meth:`Config.merged` applies one from code.  Fragments may not
touch ``[exchange]``: the venue and the mainnet confirmation live in the main file only.
"""
from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from hlmm.config_io import (
    config_error,
    deep_merge,
    key_issues,
    leaf_keys,
    read_toml,
    render_toml,
)
from hlmm.config_schema import (
    Issues,
    build_section,
    did_you_mean,
    option,
    to_plain,
    toml_value,
    type_name,
    unknown_key_message,
)
from hlmm.errors import ConfigError, RefusedError

__all__ = [
    "ConfigError",
    "AssetOverride",
    "AssetsConfig",
    "CalibrationConfig",
    "Config",
    "ExchangeConfig",
    "KellyRegimeMultipliers",
    "LoggingConfig",
    "MetricsConfig",
    "RateConfig",
    "RiskConfig",
    "StrategyConfig",
    "WarmupConfig",
    "SECTIONS",
    "DEFAULT_CONFIG_FILE",
    "default_config_path",
    "dump_fragment",
    "load_config",
    "load_fragment",
    "venue_is_mainnet",
]

DEFAULT_CONFIG_FILE = "hlmm.toml"
MAINNET_URL = "https://api.hyperliquid.xyz"
TESTNET_URL = "https://api.hyperliquid-testnet.xyz"
VENUE_NAMES = ("sim", "testnet", "mainnet")

_ADDRESS_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_COIN_RE = re.compile(r"^(?:[a-z0-9]{1,12}:)?[A-Za-z0-9]{1,20}$")

# ------------------------------------------------------------------------ value checks


def _check_venue(value: str) -> str | None:
    if value in VENUE_NAMES:
        return None
    parts = urlsplit(value)
    if parts.scheme in ("http", "https") and parts.hostname and parts.path in ("", "/"):
        try:
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError:
            return "the URL has a bad port"
        if parts.query or parts.fragment:
            return "the URL must not have a query or fragment"
        return None
    return 'must be "sim", "testnet", "mainnet" or a base URL such as "http://127.0.0.1:3001"' + did_you_mean(
        value, VENUE_NAMES
    )


def _check_address(value: str) -> str | None:
    if value == "" or _ADDRESS_RE.match(value):
        return None
    return 'must be empty or an address: "0x" followed by 40 hex digits'


def _check_env_name(value: str) -> str | None:
    return None if _ENV_NAME_RE.match(value) else "must be an environment variable name (letters, digits, _)"


def _check_coin(value: str) -> str | None:
    return None if _COIN_RE.match(value) else 'is not a coin name (e.g. "BTC", "kPEPE", "xyz:TSLA")'


def _check_increasing(values: tuple[float, ...]) -> str | None:
    return None if list(values) == sorted(values) else "must be in increasing order"


def venue_is_mainnet(venue: str) -> bool:
    """True for ``mainnet`` and for any URL on Hyperliquid's mainnet hosts (real money)."""
    if venue == "mainnet":
        return True
    host = (urlsplit(venue).hostname or "").lower()
    return host == "hyperliquid.xyz" or host.endswith(".hyperliquid.xyz")


# ---------------------------------------------------------------------------- sections


@dataclass(frozen=True)
class ExchangeConfig:
    """Where to trade and as whom (never the key itself)."""

    venue: str = option("sim", "sim (local simulator), testnet, mainnet, or a base URL", check=_check_venue)
    account_address: str = option(
        "", "the account traded (empty: the key's own address; set it when the key is an API wallet)",
        check=_check_address)
    vault_address: str = option("", "trade for this vault or sub-account (empty: none)", check=_check_address)
    key_env: str = option("HLMM_PRIVATE_KEY", "name of the environment variable holding the private key",
                          check=_check_env_name)
    keystore: str = option("", "path of an encrypted keystore file (used instead of key_env when set)")
    keystore_password_env: str = option(
        "HLMM_KEYSTORE_PASSWORD", "environment variable holding the keystore password (prompted if unset)",
        check=_check_env_name)
    mainnet_confirmed: bool = option(False, "must be true to trade on mainnet (real money)")
    request_timeout_s: float = option(10.0, "timeout of one HTTP request or WebSocket post", gt=0, hi=120, unit="s")
    ws_ping_interval_s: float = option(50.0, "WebSocket ping interval (the server drops a silent connection at 60 s)",
                                       lo=5, lt=60, unit="s")

    @property
    def is_mainnet(self) -> bool:
        """True when orders would move real money."""
        return venue_is_mainnet(self.venue)

    @property
    def base_url(self) -> str | None:
        """The REST base URL, or ``None`` for ``sim`` (the sim's address is chosen when it starts)."""
        if self.venue == "sim":
            return None
        if self.venue == "mainnet":
            return MAINNET_URL
        if self.venue == "testnet":
            return TESTNET_URL
        return self.venue.rstrip("/")

    def require_confirmed(self) -> None:
        """Raise :class:`RefusedError` (exit 7) for mainnet without ``mainnet_confirmed``."""
        if self.is_mainnet and not self.mainnet_confirmed:
            raise RefusedError(
                f"refusing to trade on mainnet (exchange.venue = {toml_value(self.venue)}): "
                "exchange.mainnet_confirmed is false",
                hint="set exchange.mainnet_confirmed = true in the config file to trade real money",
            )


@dataclass(frozen=True)
class AssetOverride:
    """Per-coin values replacing ``[strategy]`` / ``[risk]`` keys (checked like them)."""

    strategy: Mapping[str, Any] = dataclasses.field(default_factory=lambda: MappingProxyType({}))
    risk: Mapping[str, Any] = dataclasses.field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class AssetsConfig:
    """Which coins to quote, with optional per-coin overrides."""

    coins: tuple[str, ...] = option(("BTC",), "perpetuals to quote (HIP-3 coins as dex:COIN)",
                                    nonempty=True, unique=True)
    overrides: Mapping[str, AssetOverride] = option(
        MappingProxyType({}), "per-coin [strategy]/[risk] values: [assets.overrides.<COIN>.strategy]", raw=True)

    def cross_check(self) -> list[tuple[str, str]]:
        bad = [c for c in self.coins if _check_coin(c)]
        if bad:
            return [("coins", f"{toml_value(bad[0])} is not a coin name (e.g. \"BTC\", \"kPEPE\", \"xyz:TSLA\")")]
        return []


@dataclass(frozen=True)
class KellyRegimeMultipliers:
    """Kelly fraction multiplier per volatility regime (calmer market: larger bets)."""

    low: float = option(1.5, "multiplier in the Low volatility regime", gt=0, hi=10)
    normal: float = option(1.0, "multiplier in the Normal regime", gt=0, hi=10)
    high: float = option(0.5, "multiplier in the High regime", gt=0, hi=10)
    extreme: float = option(0.25, "multiplier in the Extreme regime", gt=0, hi=10)

    def cross_check(self) -> list[tuple[str, str]]:
        order = [("low", self.low), ("normal", self.normal), ("high", self.high), ("extreme", self.extreme)]
        for (name_a, a), (name_b, b) in zip(order, order[1:]):
            if b > a:
                return [(name_b, f"must not exceed {name_a} ({a}): more volatility must not mean larger bets")]
        return []


@dataclass(frozen=True)
class WarmupConfig:
    """What the estimators must have seen before the first quote."""

    min_seconds: float = option(60.0, "seconds of market data", lo=0, hi=3600, unit="s")
    min_trades: int = option(20, "public trades observed", lo=0, hi=100000)
    min_book_updates: int = option(60, "l2Book updates observed", lo=1, hi=100000)


@dataclass(frozen=True)
class StrategyConfig:
    """The quoting model (GLFT spreads, Kelly sizes) and its guards."""

    gamma: float = option(0.3, "GLFT risk aversion (larger: wider spreads, stronger inventory skew)", gt=0, hi=100)
    levels_per_side: int = option(5, "ladder levels per side", lo=1, hi=25)
    level_spacing_bps: float = option(3.0, "minimum distance between adjacent levels", gt=0, hi=1000, unit="bps")
    spread_floor_bps: float = option(8.0, "minimum distance of the best quote from fair price, per side",
                                     lo=1, hi=1000, unit="bps")
    market_spread_cap_multiple: float = option(
        0.0, "cap the half-spread at this multiple of the market's (0 = off)", off=0, lo=1, hi=100)
    kelly_fraction: float = option(0.2, "fraction of the Kelly-optimal size", gt=0, hi=1)
    kelly_fraction_min: float = option(0.05, "lower clamp of kelly_fraction x regime multiplier", gt=0, hi=1)
    kelly_fraction_max: float = option(0.75, "upper clamp of kelly_fraction x regime multiplier", gt=0, hi=1)
    kelly_regime_multipliers: KellyRegimeMultipliers = option(KellyRegimeMultipliers(),
                                                              "kelly_fraction multiplier per volatility regime")
    alpha_touch: float = option(0.25, "informed-flow share of fills at the touch", lo=0, lt=1)
    delta_char_bps: float = option(15.0, "characteristic depth: informed share decays as exp(-depth/delta_char)",
                                   gt=0, hi=1000, unit="bps")
    tau_min_s: float = option(10.0, "lower clamp of the fill-probability horizon (delta_char/sigma)^2",
                              gt=0, hi=86400, unit="s")
    tau_max_s: float = option(600.0, "upper clamp of the fill-probability horizon", gt=0, hi=86400, unit="s")
    fill_probability_model: str = option(
        "first_passage", "fill probability within the horizon: first_passage (mid diffusion only) or "
        "first_passage_takers (or a taker arrives)",
        choices=("first_passage", "first_passage_takers"))
    max_order_notional_usd: float = option(
        50.0, "largest single order (Hyperliquid's minimum is $10)", lo=10, hi=10_000_000, unit="USD")
    requote_price_tolerance_bps: float = option(
        1.0, "keep a live order whose price is within this distance of the target", lo=0, hi=100, unit="bps")
    requote_size_tolerance: float = option(
        0.1, "keep a live order whose size is within this fraction of the target", lo=0, lt=1)
    min_requote_interval_ms: int = option(100, "minimum time between requotes of one coin", lo=10, hi=600000,
                                          unit="ms")
    toxic_hours_utc: tuple[int, ...] = option(
        (6, 7, 14), "UTC hours when gamma is multiplied by toxic_gamma_multiplier", lo=0, hi=23, unique=True)
    toxic_gamma_multiplier: float = option(2.0, "gamma multiplier during toxic hours", lo=1, hi=20)
    toxicity_widen_threshold: float = option(0.5, "toxicity score (0 to 1) above which a side is widened",
                                             lo=0, hi=1)
    toxicity_pull_threshold: float = option(0.8, "toxicity score (0 to 1) above which a side is not quoted at all",
                                            lo=0, hi=1)
    warmup: WarmupConfig = option(WarmupConfig(), "requirements before the first quote")

    def cross_check(self) -> list[tuple[str, str]]:
        problems = []
        if self.kelly_fraction_min >= self.kelly_fraction_max:
            problems.append(("kelly_fraction_min", f"must be less than kelly_fraction_max ({self.kelly_fraction_max})"))
        if self.tau_min_s >= self.tau_max_s:
            problems.append(("tau_min_s", f"must be less than tau_max_s ({self.tau_max_s})"))
        if self.toxicity_widen_threshold >= self.toxicity_pull_threshold:
            problems.append(("toxicity_widen_threshold",
                             f"must be less than toxicity_pull_threshold ({self.toxicity_pull_threshold})"))
        return problems


@dataclass(frozen=True)
class RiskConfig:
    """Limits and what happens when one is hit."""

    max_position_usd: float = option(100.0, "largest position per coin (absolute notional)", gt=0, hi=1e9, unit="USD")
    max_loss_usd: float = option(25.0, "session loss (realized + unrealized + fees) that fires the kill switch",
                                 gt=0, hi=1e9, unit="USD", per_asset=False)
    max_drawdown_usd: float = option(25.0, "drop from the session's peak account value that fires the kill switch",
                                     gt=0, hi=1e9, unit="USD", per_asset=False)
    max_drawdown_fraction: float = option(0.1, "the same drop as a fraction of the peak account value",
                                          gt=0, hi=1, per_asset=False)
    stale_book_s: float = option(5.0, "stop quoting a coin whose book has not updated for this long",
                                 lo=0.5, hi=300, unit="s")
    max_disconnected_s: float = option(10.0, "cancel everything when the WebSocket stays down this long",
                                       lo=1, hi=600, unit="s", per_asset=False)
    reject_storm_count: int = option(10, "this many rejections within reject_storm_window_s fire the kill switch",
                                     lo=1, hi=100000, per_asset=False)
    reject_storm_window_s: float = option(60.0, "window of reject_storm_count", gt=0, hi=3600, unit="s",
                                          per_asset=False)
    kill_action: str = option("stop", "on kill: stop (cancel all, quote nothing) or reduce_only (quote to flatten)",
                              choices=("stop", "reduce_only"), per_asset=False)
    on_start: str = option("cancel", "open orders found at start: cancel them or adopt them",
                           choices=("cancel", "adopt"), per_asset=False)
    kill_position_multiple: float = option(
        1.5, "the kill switch fires when a coin's position notional exceeds this multiple of max_position_usd",
        gt=1, hi=100, per_asset=False)
    leverage: int = option(3, "cross leverage requested per coin (capped at the coin's allowed maximum)",
                           lo=1, hi=100)


@dataclass(frozen=True)
class RateConfig:
    """Rate budget, safety sync and the dead-man switch."""

    ip_weight_per_minute: int = option(1200, "IP weight budget per minute (Hyperliquid allows 1200)", lo=1, hi=1200)
    min_headroom_fraction: float = option(
        0.10, "below this address-budget headroom: throttle requotes, quote only the reducing side", gt=0, hi=0.5)
    safety_sync_interval_s: float = option(60.0, "reconcile against clearinghouseState/openOrders this often",
                                           lo=5, hi=3600, unit="s")
    user_rate_limit_refresh_s: float = option(60.0, "refresh userRateLimit this often", lo=5, hi=3600, unit="s")
    deadman_seconds_ahead: float = option(
        60.0, "scheduleCancel this far ahead, so orders die if hlmm does (0 = off)", off=0, lo=5, hi=86400, unit="s")
    deadman_refresh_interval_s: float = option(30.0, "push the scheduled cancel forward this often",
                                               lo=1, hi=86400, unit="s")
    throttled_requote_interval_s: float = option(
        5.0, "minimum time between requotes of one coin while headroom is below min_headroom_fraction",
        lo=0.1, hi=600, unit="s")

    def cross_check(self) -> list[tuple[str, str]]:
        if self.deadman_seconds_ahead and self.deadman_refresh_interval_s > self.deadman_seconds_ahead / 2:
            return [("deadman_refresh_interval_s",
                     f"must be at most half of deadman_seconds_ahead ({self.deadman_seconds_ahead}), "
                     "so that one late refresh does not cancel every order")]
        return []


@dataclass(frozen=True)
class LoggingConfig:
    """JSON-lines logs (see ``hlmm config events`` for the event list)."""

    file: str = option("logs/hlmm.jsonl", "JSON-lines log of every event (empty: none)")
    level: str = option("info", "lowest level written to the files",
                        choices=("debug", "info", "warning", "error", "critical"))
    console: str = option("human", "console (stderr) format", choices=("human", "json", "off"))
    console_level: str = option("info", "lowest level shown on the console",
                                choices=("debug", "info", "warning", "error", "critical"))
    ops_file: str = option("", "separate file for operational events: orders, fills, risk (empty: none)")
    diag_file: str = option("", "separate file for diagnostic events: model internals (empty: none)")
    error_file: str = option("", "separate file for warnings and errors (empty: none)")
    max_bytes: int = option(100 * 1024 * 1024, "rotate a log file at this size (0 = never)", lo=0, hi=1 << 40,
                            unit="bytes")
    backups: int = option(10, "rotated files kept per log (name.1 ... name.N)", lo=0, hi=1000)


@dataclass(frozen=True)
class MetricsConfig:
    """Prometheus metrics over HTTP."""

    port: int = option(0, "serve /metrics on this port (0 = off)", lo=0, hi=65535)
    host: str = option("127.0.0.1", "address to bind (keep it on loopback unless behind a firewall)", nonempty=True)


@dataclass(frozen=True)
class CalibrationConfig:
    """Prediction scoring, markouts and the calibrated-parameters file."""

    report_interval_s: float = option(300.0, "log a calibration_report this often", lo=10, hi=86400, unit="s")
    markout_horizons_s: tuple[float, ...] = option(
        (0.5, 1.0, 2.0, 5.0, 10.0, 60.0), "mid-move horizons measured after each fill", gt=0, hi=3600,
        nonempty=True, unique=True, check=_check_increasing, unit="s")
    params_file: str = option("calibrated.toml", "where hlmm calibrate writes its fragment (include it to use it)",
                              nonempty=True)
    learned_file: str = option("learned.toml", "where a trading session saves, at exit, the parameters it learned "
                               "(hlmm calibrate --merge reads it; empty: not saved)")


SECTIONS: dict[str, type] = {
    "exchange": ExchangeConfig,
    "assets": AssetsConfig,
    "strategy": StrategyConfig,
    "risk": RiskConfig,
    "rate": RateConfig,
    "logging": LoggingConfig,
    "metrics": MetricsConfig,
    "calibration": CalibrationConfig,
}
PER_ASSET_SECTIONS = ("strategy", "risk")

# key -> section, for "x belongs in [risk]" hints
_KEY_HOMES: dict[str, str] = {}
for _section_name, _cls in SECTIONS.items():
    for _f in dataclasses.fields(_cls):
        _KEY_HOMES.setdefault(_f.name, _section_name)


# -------------------------------------------------------------------------------- Config


@dataclass(frozen=True)
class Config:
    """The whole configuration: one frozen section per TOML table."""

    exchange: ExchangeConfig = dataclasses.field(default_factory=ExchangeConfig)
    assets: AssetsConfig = dataclasses.field(default_factory=AssetsConfig)
    strategy: StrategyConfig = dataclasses.field(default_factory=StrategyConfig)
    risk: RiskConfig = dataclasses.field(default_factory=RiskConfig)
    rate: RateConfig = dataclasses.field(default_factory=RateConfig)
    logging: LoggingConfig = dataclasses.field(default_factory=LoggingConfig)
    metrics: MetricsConfig = dataclasses.field(default_factory=MetricsConfig)
    calibration: CalibrationConfig = dataclasses.field(default_factory=CalibrationConfig)
    # Where values came from: dotted key -> file (keys not listed are defaults).
    sources: Mapping[str, str] = dataclasses.field(default_factory=lambda: MappingProxyType({}),
                                                    compare=False, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, origin: str | None = None) -> Config:
        """Validate plain data (as parsed from TOML); raise :class:`ConfigError` listing every problem."""
        config, issues = _validate(data)
        if issues:
            raise config_error(origin, issues)
        return config  # type: ignore[return-value]

    def to_dict(self) -> dict[str, Any]:
        """Plain data (dicts, lists, scalars) that :meth:`from_dict` turns back into an equal Config."""
        out = {name: to_plain(getattr(self, name)) for name in SECTIONS}
        out["assets"]["overrides"] = {
            coin: {k: v for k, v in parts.items() if v} for coin, parts in out["assets"]["overrides"].items()
        }
        return out

    def merged(self, fragment: Mapping[str, Any], *, origin: str = "fragment") -> Config:
        """This config with ``fragment`` (a partial config, e.g. calibrated values) merged over it."""
        issues = _fragment_issues(fragment, self.to_dict())
        if issues:
            raise config_error(origin, issues)
        result, _ = _validate(deep_merge(self.to_dict(), fragment))
        sources = dict(self.sources)
        sources.update({key: origin for key in leaf_keys(fragment)})
        return dataclasses.replace(result, sources=MappingProxyType(sources))

    def strategy_for(self, coin: str) -> StrategyConfig:
        """``[strategy]`` with ``[assets.overrides.<coin>.strategy]`` applied."""
        return _apply(self.strategy, self._override(coin).strategy)

    def risk_for(self, coin: str) -> RiskConfig:
        """``[risk]`` with ``[assets.overrides.<coin>.risk]`` applied."""
        return _apply(self.risk, self._override(coin).risk)

    def _override(self, coin: str) -> AssetOverride:
        if coin not in self.assets.coins:
            raise KeyError(f"{coin!r} is not in assets.coins")
        return self.assets.overrides.get(coin, AssetOverride())

    def warnings(self) -> list[str]:
        """Legal but risky settings, in words (``hlmm config check`` prints them)."""
        notes = []
        ex = self.exchange
        if ex.is_mainnet and not ex.mainnet_confirmed:
            notes.append(f"exchange.venue = {toml_value(ex.venue)} is mainnet but exchange.mainnet_confirmed is "
                         "false: trading will be refused")
        if self.metrics.port and self.metrics.host not in ("127.0.0.1", "localhost", "::1"):
            notes.append(f"metrics.host = {toml_value(self.metrics.host)} exposes positions and PnL beyond this "
                         "machine")
        for coin in self.assets.coins:
            strategy, risk = self.strategy_for(coin), self.risk_for(coin)
            where = "" if len(self.assets.coins) == 1 and not self.assets.overrides else f" ({coin})"
            if strategy.market_spread_cap_multiple:
                notes.append(f"strategy.market_spread_cap_multiple = {strategy.market_spread_cap_multiple}{where} "
                             "caps model spreads at a multiple of the market's; a cap cost the reference system "
                             "most of its edge (0 = off)")
            if strategy.levels_per_side > 15:
                notes.append(f"strategy.levels_per_side = {strategy.levels_per_side}{where}: margin often cannot "
                             "fund that many; unfunded levels are dropped (ladder_level_dropped)")
            if strategy.max_order_notional_usd > risk.max_position_usd:
                notes.append(f"strategy.max_order_notional_usd = {strategy.max_order_notional_usd}{where} exceeds "
                             f"risk.max_position_usd = {risk.max_position_usd}; orders will be cut to the position "
                             "room")
        return notes


def _validate(data: Any) -> tuple[Config | None, Issues]:
    """A Config from plain data, or every problem found (the config is None then)."""
    issues = key_issues(data)
    if issues:
        return None, issues
    if not isinstance(data, Mapping):
        return None, [("", f"expected a table at the top level, got {type_name(data)}")]
    for key in data:
        if key not in SECTIONS:
            if key == "include":
                issues.append((key, "include: only read from a config file (load_config)"))
            elif key in _KEY_HOMES:
                issues.append((key, f"{key}: not a section ({key} belongs in [{_KEY_HOMES[key]}])"))
            else:
                issues.append((key, f"{key}: unknown section{did_you_mean(key, SECTIONS)}"))
    built: dict[str, Any] = {}
    failed: set[str] = set()
    for name, section_cls in SECTIONS.items():
        if name in data:
            elsewhere = {k: v for k, v in _KEY_HOMES.items() if v != name}
            obj = build_section(section_cls, data[name], name, issues, elsewhere=elsewhere)
            if obj is None:
                failed.add(name)
            else:
                built[name] = obj
    overrides: Mapping[str, AssetOverride] = MappingProxyType({})
    if "assets" not in failed:
        # overrides are checked against their (valid) base sections even if others failed
        partial = Config(**built)
        overrides = _build_overrides(partial, partial.assets.overrides, issues, skip=failed)
    if issues:
        return None, issues
    config = Config(**built)
    return dataclasses.replace(config, assets=dataclasses.replace(config.assets, overrides=overrides)), issues


def _apply(section: Any, override: Mapping[str, Any]) -> Any:
    """``section`` with override values replaced (nested sections merged, not replaced)."""
    if not override:
        return section
    values = {}
    for key, value in override.items():
        current = getattr(section, key)
        values[key] = _apply(current, value) if dataclasses.is_dataclass(current) else value
    return dataclasses.replace(section, **values)


def _build_overrides(
    config: Config, raw: Mapping[str, Any], issues: Issues, skip: set[str]
) -> Mapping[str, AssetOverride]:
    """Check ``[assets.overrides.*]`` against the sections they override (except ``skip``ped ones)."""
    result: dict[str, AssetOverride] = {}
    for coin, parts in raw.items():
        path = f"assets.overrides.{coin}"
        if coin not in config.assets.coins:
            issues.append((path, f"{path}: {coin} is not in assets.coins = {toml_value(list(config.assets.coins))}"
                           f"{did_you_mean(coin, config.assets.coins)}"))
            continue
        if not isinstance(parts, Mapping):
            issues.append((path, f"{path}: expected a table with strategy and/or risk tables, got {type_name(parts)}"))
            continue
        checked: dict[str, Mapping[str, Any]] = {}
        for part, values in parts.items():
            if part not in PER_ASSET_SECTIONS:
                issues.append((f"{path}.{part}", unknown_key_message(f"{path}.{part}", part, PER_ASSET_SECTIONS, {})
                               + " (overrides hold [strategy] and [risk] keys)"))
                continue
            if part in skip:
                continue
            before = len(issues)
            base = getattr(config, part)
            obj = build_section(SECTIONS[part], values, f"{path}.{part}", issues, base=base, per_asset_only=True)
            if obj is not None and len(issues) == before:
                checked[part] = MappingProxyType(_typed_override(obj, values))
        result[coin] = AssetOverride(**checked)
    return MappingProxyType(result)


def _typed_override(obj: Any, raw: Mapping[str, Any]) -> dict[str, Any]:
    """The overridden keys only, with their checked (typed) values."""
    out = {}
    for key, value in raw.items():
        typed = getattr(obj, key)
        out[key] = MappingProxyType(_typed_override(typed, value)) if dataclasses.is_dataclass(typed) else typed
    return out


# --------------------------------------------------------------------------- file loading


def _check_fragment(fragment: Any) -> Issues:
    if not isinstance(fragment, Mapping):
        return [("", f"a fragment must be a table, got {type_name(fragment)}")]
    issues: Issues = []
    if "exchange" in fragment:
        issues.append(("exchange", "exchange: not allowed in a fragment; the venue and the mainnet confirmation "
                                   "live in the main config file only"))
    if "include" in fragment:
        issues.append(("include", "include: a fragment cannot include other files"))
    return issues


def _fragment_issues(fragment: Any, base: Mapping[str, Any]) -> Issues:
    """Problems of ``fragment`` merged over plain config data ``base``."""
    issues = _check_fragment(fragment)
    if not issues:
        _, issues = _validate(deep_merge(base, fragment))
    return issues


def load_fragment(path: str | os.PathLike[str], base: Config | None = None) -> dict[str, Any]:
    """Read a TOML fragment (a partial config) and check it loads over ``base`` (default: the defaults)."""
    shown = os.fspath(path)
    data, lines = read_toml(Path(path))
    issues = _fragment_issues(data, (base or Config()).to_dict())
    if issues:
        raise config_error(shown, issues, lines)
    return data


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """The configuration in TOML file ``path`` (with its ``include`` fragments), or the defaults for ``None``.

    Problems are reported against the file they are in: the main file is checked on its
    own first, then each fragment merged over what precedes it.
    """
    if path is None:
        return Config()
    file = Path(path)
    shown = os.fspath(path)
    data, lines = read_toml(file)
    includes = data.pop("include", [])
    if isinstance(includes, str):
        includes = [includes]
    if not isinstance(includes, list) or not all(isinstance(i, str) for i in includes):
        raise config_error(shown, [("include", f"include = {toml_value(includes)}: expected an array of file "
                                                "paths")], lines)
    config, issues = _validate(data)
    if issues:
        raise config_error(shown, issues, lines)
    sources = {key: shown for key in leaf_keys(data)}
    merged = data
    include_line = lines.get("include")
    for name in includes:
        inc_path = Path(name) if os.path.isabs(name) else file.parent / name
        inc_shown = os.fspath(inc_path)
        by = f"{shown}:{include_line}" if include_line else shown
        fragment, inc_lines = read_toml(inc_path, included_by=f"{by}: include {toml_value(name)}")
        issues = _fragment_issues(fragment, merged)
        if issues:
            raise config_error(inc_shown, issues, inc_lines)
        merged = deep_merge(merged, fragment)
        sources.update({key: inc_shown for key in leaf_keys(fragment)})
    config, _ = _validate(merged)
    return dataclasses.replace(config, sources=MappingProxyType(sources))  # type: ignore[arg-type]


def default_config_path() -> Path | None:
    """``./hlmm.toml`` if it exists (the CLI's fallback when no --config is given)."""
    path = Path(DEFAULT_CONFIG_FILE)
    return path if path.is_file() else None


def dump_fragment(fragment: Mapping[str, Any], *, base: Config | None = None, header: str = "") -> str:
    """TOML text for a partial config (e.g. calibrated ``[strategy]`` values).

    The fragment is validated over ``base`` (default: the defaults) first, so the text
    written always loads as is.  ``header`` becomes ``#`` comment lines on top.
    """
    issues = _fragment_issues(fragment, (base or Config()).to_dict())
    if issues:
        raise config_error("fragment", issues)
    return render_toml(fragment, header=header)
