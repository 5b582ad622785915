"""Build the sim's market from user settings (``hlmm sim --market ...`` and embedders).

``synthetic_market(...)`` and ``replay_market(...)`` return a factory ``exchange ->
market`` for ``hlmm.sim.runner`` (``run_sim(market=...)``, ``SimThread(market=...)``),
after validating every setting, so that a bad value is reported before the server
starts. ``replay_assets`` picks the sim's assets for a recording.
"""
from __future__ import annotations

import dataclasses
import json
import os
import tomli
from typing import Any, Callable, Iterable

from hlmm.sim.config import AssetConfig
from hlmm.sim.market import SyntheticMarket
from hlmm.sim.market_params import MarketParams, MarketParamsError
from hlmm.sim.replay import ReplayError, ReplayMarket

MarketFactory = Callable[[Any], Any]


def load_market_params(path: str) -> MarketParams:
    """Market parameters from a JSON or TOML file (``coins = {BTC = {sigma_bps = 1.2}}`` ...)."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise MarketParamsError(f"cannot read market parameters {path!r}: {exc.strerror or exc}") from None
    try:
        data = json.loads(raw) if path.endswith(".json") else tomli.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise MarketParamsError(f"market parameters {path!r} do not parse: {exc}") from None
    if isinstance(data, dict) and isinstance(data.get("market"), dict) and len(data) == 1:
        data = data["market"]  # a file holding a [market] table
    return MarketParams.from_dict(data)


def synthetic_market(coins: Iterable[str], params: MarketParams | None = None, *, step_ms: int | None = None,
                     regimes: bool | None = None, toxic_hours: Iterable[int] | None = None,
                     **coin_settings: Any) -> MarketFactory:
    """A factory of ``SyntheticMarket``: ``params`` (defaults if None) with market-wide
    settings and per-coin settings (``CoinParams`` fields, applied to every coin) on top;
    ``None`` leaves a setting as it is."""
    params = params if params is not None else MarketParams()
    wide: dict[str, Any] = {}
    if step_ms is not None:
        wide["step_ms"] = step_ms
    if regimes is not None:
        wide["regimes"] = regimes
    if toxic_hours is not None:
        wide["toxic_hours"] = tuple(toxic_hours)
    if wide:
        params = dataclasses.replace(params, **wide)
    params = params.with_overrides(list(coins), **coin_settings)
    return lambda exchange: SyntheticMarket(exchange, params)


def replay_market(path: str, speed: float = 1.0, loop: bool = False) -> MarketFactory:
    """A factory of ``ReplayMarket`` for a recording (checked to exist)."""
    if not os.path.isfile(path):
        raise ReplayError(f"replay file {path!r} does not exist or is not a file")
    if not (isinstance(speed, (int, float)) and 0 < speed <= 1e6):
        raise ReplayError(f"replay speed must be a number in (0, 1000000], got {speed!r}")
    return lambda exchange: ReplayMarket(exchange, path, speed=speed, loop=loop)


def replay_assets(path: str, catalog: Callable[[str], AssetConfig]) -> list[AssetConfig]:
    """The sim's assets for a recording: its coins (``catalog(name)`` gives decimals and
    leverage) starting at their first recorded mids."""
    mids = ReplayMarket.first_mids(path)
    if not mids:
        raise ReplayError(f"replay file {os.path.basename(path)!r} has no readable l2Book message")
    return [dataclasses.replace(catalog(coin), start_px=mid) for coin, mid in mids.items()]
