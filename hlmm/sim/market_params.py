"""Parameters of the sim's synthetic market (``hlmm.sim.market``): the ground truth it runs on.

Units are the ones hlmm's estimators report, so a parameter can be compared with an
estimate directly:

* ``sigma_bps``: volatility of the latent fair price in **bps of log return per
  sqrt(second)** (``hlmm._core.volatility``'s ``sigma_bps``), per regime as
  ``sigma_bps * REGIME_SIGMA_MULT[regime]`` unless ``regime_sigma_bps`` is given;
* ``kappa``: per **bp** of distance from the mid; ``taker_rate``: taker orders per second
  **per side**; together ``lambda(delta) = taker_rate * exp(-kappa * delta)`` per side
  (``hlmm._core.intensity``; the exact meaning is in ``hlmm.sim.market``);
* ``informed_share``: the fraction of taker orders that are informed (in toxic UTC hours
  ``toxic_informed_share``); ``informed_horizon_s``: how far ahead they know the fair price;
* jumps: Poisson ``jump_rate_per_hour``, log sizes normal with std ``jump_std_bps``;
* book shape: ``half_spread_bps`` (touch distance from the fair price), ``level_spacing_bps``
  (rounded up to whole ticks), ``levels`` per side, ``touch_notional_usd`` growing by
  ``size_growth`` per level (each level's size jittered by a fixed factor in [0.6, 1.4]).

``MarketParams`` holds the market-wide settings and one ``CoinParams`` per coin (defaults
depend on the coin, see ``default_coin_params``); ``MarketParams.with_overrides`` applies
settings to every coin (the CLI's flags). Values are validated; a bad one raises
``MarketParamsError`` naming it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Any, Iterable, Mapping

REGIMES = ("low", "normal", "high", "extreme")
REGIME_SIGMA_MULT = (0.5, 1.0, 2.0, 4.0)
# Mean time spent in each regime before switching (seconds).
DEFAULT_REGIME_DWELL_S = (1800.0, 3600.0, 900.0, 300.0)
# Where a regime goes when it switches (rows: from; columns: to; the diagonal is 0).
DEFAULT_REGIME_TRANSITIONS = (
    (0.0, 1.0, 0.0, 0.0),
    (0.5, 0.0, 0.5, 0.0),
    (0.0, 0.75, 0.0, 0.25),
    (0.0, 0.0, 1.0, 0.0),
)


class MarketParamsError(ValueError):
    """A synthetic-market parameter is invalid; the message names it."""


@dataclass(frozen=True)
class CoinParams:
    """The ground truth of one coin's synthetic market (units in the module docstring)."""

    sigma_bps: float = 1.0
    regime_sigma_bps: tuple[float, float, float, float] | None = None
    jump_rate_per_hour: float = 2.0
    jump_std_bps: float = 12.0
    kappa: float = 0.6
    taker_rate: float = 1.0
    informed_share: float = 0.1
    toxic_informed_share: float = 0.3
    informed_horizon_s: float = 5.0
    half_spread_bps: float = 0.5
    level_spacing_bps: float = 0.3
    levels: int = 25
    touch_notional_usd: float = 8_000.0
    size_growth: float = 1.1
    taker_max_notional_usd: float = 1_000_000.0

    def sigmas_bps(self) -> tuple[float, ...]:
        """sigma (bps per sqrt(s)) of each regime."""
        if self.regime_sigma_bps is not None:
            return tuple(float(s) for s in self.regime_sigma_bps)
        return tuple(self.sigma_bps * m for m in REGIME_SIGMA_MULT)

    def validate(self, coin: str) -> None:
        where = f"market[{coin}]"
        positive = ("sigma_bps", "kappa", "informed_horizon_s", "half_spread_bps", "level_spacing_bps",
                    "touch_notional_usd", "taker_max_notional_usd")
        for name in positive:
            _check_number(f"{where}.{name}", getattr(self, name), lo=0.0, lo_open=True)
        for name in ("jump_rate_per_hour", "jump_std_bps", "taker_rate"):
            _check_number(f"{where}.{name}", getattr(self, name), lo=0.0)
        for name in ("informed_share", "toxic_informed_share"):
            _check_number(f"{where}.{name}", getattr(self, name), lo=0.0, hi=1.0)
        _check_number(f"{where}.size_growth", self.size_growth, lo=1.0, hi=2.0)
        if not isinstance(self.levels, int) or isinstance(self.levels, bool) or not 1 <= self.levels <= 200:
            raise MarketParamsError(f"{where}.levels must be an integer in [1, 200], got {self.levels!r}")
        if self.regime_sigma_bps is not None:
            sig = self.regime_sigma_bps
            if not isinstance(sig, (tuple, list)) or len(sig) != 4:
                raise MarketParamsError(f"{where}.regime_sigma_bps must be 4 numbers (low, normal, high, extreme)")
            for name, s in zip(REGIMES, sig):
                _check_number(f"{where}.regime_sigma_bps[{name}]", s, lo=0.0, lo_open=True)
        if max(self.sigmas_bps()) > 500:
            raise MarketParamsError(f"{where}: a regime sigma above 500 bps per sqrt(second) is not a market")


# Per-coin defaults: BTC-like majors quieter and deeper, small alts wilder and thinner.
_COIN_DEFAULTS: dict[str, dict[str, Any]] = {
    "BTC": dict(sigma_bps=0.8, kappa=0.8, taker_rate=1.5, half_spread_bps=0.4, level_spacing_bps=0.3,
                touch_notional_usd=6_000.0),
    "ETH": dict(sigma_bps=1.1, kappa=0.7, taker_rate=1.2, half_spread_bps=0.5, level_spacing_bps=0.3,
                touch_notional_usd=4_000.0),
    "SOL": dict(sigma_bps=1.5, kappa=0.5, taker_rate=1.0, half_spread_bps=0.6, level_spacing_bps=0.5,
                touch_notional_usd=2_500.0),
}
_ALT_DEFAULTS: dict[str, Any] = dict(sigma_bps=1.8, kappa=0.4, taker_rate=0.6, half_spread_bps=1.0,
                                     level_spacing_bps=1.0, touch_notional_usd=1_500.0)


def default_coin_params(coin: str) -> CoinParams:
    """The defaults for ``coin`` (BTC, ETH, SOL have their own; any other coin gets alt defaults)."""
    return CoinParams(**_COIN_DEFAULTS.get(coin.upper(), _ALT_DEFAULTS))


@dataclass(frozen=True)
class MarketParams:
    """Market-wide settings plus per-coin ``CoinParams`` (coins without an entry use defaults)."""

    step_ms: int = 100
    regimes: bool = True
    regime_dwell_s: tuple[float, float, float, float] = DEFAULT_REGIME_DWELL_S
    regime_transitions: tuple[tuple[float, ...], ...] = DEFAULT_REGIME_TRANSITIONS
    start_regime: str = "normal"
    toxic_hours: tuple[int, ...] = ()
    makers: int = 3
    coins: Mapping[str, CoinParams] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "toxic_hours", tuple(sorted(set(self.toxic_hours))))
        object.__setattr__(self, "coins", dict(self.coins))
        self.validate()

    def coin(self, name: str) -> CoinParams:
        """The parameters of ``name`` (its entry, or the coin's defaults)."""
        params = self.coins.get(name)
        return params if params is not None else default_coin_params(name)

    def regime_index(self) -> int:
        return REGIMES.index(self.start_regime)

    def validate(self) -> None:
        if not isinstance(self.step_ms, int) or isinstance(self.step_ms, bool) or not 10 <= self.step_ms <= 10_000:
            raise MarketParamsError(f"market.step_ms must be an integer in [10, 10000], got {self.step_ms!r}")
        if self.start_regime not in REGIMES:
            raise MarketParamsError(f"market.start_regime must be one of {', '.join(REGIMES)}, got {self.start_regime!r}")
        if len(self.regime_dwell_s) != 4:
            raise MarketParamsError("market.regime_dwell_s must be 4 numbers (low, normal, high, extreme)")
        for name, d in zip(REGIMES, self.regime_dwell_s):
            _check_number(f"market.regime_dwell_s[{name}]", d, lo=1.0)
        rows = self.regime_transitions
        if len(rows) != 4 or any(len(r) != 4 for r in rows):
            raise MarketParamsError("market.regime_transitions must be a 4x4 matrix (rows: from, columns: to)")
        for i, row in enumerate(rows):
            for p in row:
                _check_number(f"market.regime_transitions[{REGIMES[i]}]", p, lo=0.0, hi=1.0)
            if row[i] != 0 or abs(sum(row) - 1.0) > 1e-9:
                raise MarketParamsError(
                    f"market.regime_transitions[{REGIMES[i]}] must sum to 1 with 0 on the diagonal, got {list(row)}")
        for h in self.toxic_hours:
            if not isinstance(h, int) or isinstance(h, bool) or not 0 <= h <= 23:
                raise MarketParamsError(f"market.toxic_hours must be UTC hours 0-23, got {h!r}")
        if not isinstance(self.makers, int) or isinstance(self.makers, bool) or not 1 <= self.makers <= 16:
            raise MarketParamsError(f"market.makers must be an integer in [1, 16], got {self.makers!r}")
        for coin, params in self.coins.items():
            if not isinstance(params, CoinParams):
                raise MarketParamsError(f"market.coins[{coin}] must be CoinParams, got {params!r}")
            params.validate(coin)

    def with_overrides(self, coins: Iterable[str], **settings: Any) -> "MarketParams":
        """A copy where every coin of ``coins`` gets ``settings`` (CoinParams fields) on top of
        its current parameters.  ``None`` values are ignored."""
        settings = {k: v for k, v in settings.items() if v is not None}
        known = {f.name for f in fields(CoinParams)}
        unknown = sorted(set(settings) - known)
        if unknown:
            raise MarketParamsError(f"unknown market parameter(s): {', '.join(unknown)}")
        merged = dict(self.coins)
        for coin in coins:
            merged[coin] = replace(self.coin(coin), **settings)
        return replace(self, coins=merged)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "MarketParams":
        """From plain data (TOML/JSON): market-wide keys plus ``coins = {BTC = {...}}``."""
        if not isinstance(data, Mapping):
            raise MarketParamsError("market parameters must be a table/object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise MarketParamsError(f"unknown market key(s): {', '.join(unknown)}")
        kwargs = dict(data)
        if isinstance(kwargs.get("toxic_hours"), str):
            kwargs["toxic_hours"] = parse_hours(kwargs["toxic_hours"])
        for key in ("regime_dwell_s", "toxic_hours"):
            if key in kwargs:
                kwargs[key] = tuple(kwargs[key])
        if "regime_transitions" in kwargs:
            kwargs["regime_transitions"] = tuple(tuple(r) for r in kwargs["regime_transitions"])
        coins = {}
        for coin, raw in dict(kwargs.pop("coins", {})).items():
            if not isinstance(raw, Mapping):
                raise MarketParamsError(f"market.coins[{coin}] must be a table")
            bad = sorted(set(raw) - {f.name for f in fields(CoinParams)})
            if bad:
                raise MarketParamsError(f"market.coins[{coin}]: unknown key(s) {', '.join(bad)}")
            values = dict(raw)
            if "regime_sigma_bps" in values and values["regime_sigma_bps"] is not None:
                values["regime_sigma_bps"] = tuple(values["regime_sigma_bps"])
            coins[coin] = replace(default_coin_params(coin), **values)
        try:
            return cls(coins=coins, **kwargs)
        except TypeError as exc:
            raise MarketParamsError(f"market parameters: {exc}") from None


def parse_hours(text: str) -> tuple[int, ...]:
    """``"13-16,20"`` -> (13, 14, 15, 16, 20): UTC hours, ranges inclusive, wrapping past midnight
    (``"22-1"`` -> 22, 23, 0, 1).  Empty text -> ()."""
    hours: set[int] = set()
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        lo_s, sep, hi_s = part.partition("-")
        try:
            lo = int(lo_s)
            hi = int(hi_s) if sep else lo
        except ValueError:
            raise MarketParamsError(f"toxic hours: {part!r} is not an hour or a range like 13-16") from None
        if not (0 <= lo <= 23 and 0 <= hi <= 23):
            raise MarketParamsError(f"toxic hours: {part!r} is outside 0-23 (UTC hours)")
        h = lo
        while True:
            hours.add(h)
            if h == hi:
                break
            h = (h + 1) % 24
    return tuple(sorted(hours))


def _check_number(name: str, v: object, lo: float | None = None, hi: float | None = None,
                  lo_open: bool = False) -> None:
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    if ok and lo is not None:
        ok = v > lo if lo_open else v >= lo
    if ok and hi is not None:
        ok = v <= hi
    if not ok:
        bound = []
        if lo is not None:
            bound.append(f"{'>' if lo_open else '>='} {lo:g}")
        if hi is not None:
            bound.append(f"<= {hi:g}")
        raise MarketParamsError(f"{name} must be a finite number {' and '.join(bound)}, got {v!r}")
