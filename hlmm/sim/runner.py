"""Run the local sim: build a ``SimExchange``, serve it, hand out a funded demo key.

* ``run_sim(...)`` serves until stopped (a signal, or ``stop`` set); ``hlmm sim`` uses it.
* ``SimThread`` runs the same server on a background thread with its own asyncio
  loop, for tests and for embedding next to a synchronous engine.  Touch the
  exchange only through ``SimThread.call`` (it runs on the sim's loop).
* ``market``: a factory ``exchange -> market`` attached to the exchange (e.g.
  ``lambda ex: SyntheticMarket(ex, params)`` or ``ReplayMarket(ex, path)``); without
  one the book holds only what clients place.

The demo key is a throwaway secp256k1 key created at start and funded in the sim;
it exists only so a user can trade against the sim at once.  It is never reused and
controls nothing outside this process.
"""
from __future__ import annotations

import asyncio
import secrets
import signal
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, TypeVar

from hlmm.exchange.ethcrypto import SECP256K1_N
from hlmm.exchange.keys import Wallet
from hlmm.sim.config import AssetConfig, MarginTier, SimConfig, default_assets
from hlmm.sim.faults import TransportFaults
from hlmm.sim.server import ServerOptions, SimServer

T = TypeVar("T")
MarketFactory = Callable[[Any], Any]

DEFAULT_ASSETS = ("BTC", "ETH", "SOL")
DEFAULT_DEMO_FUND_USDC = 100_000.0

# Mainnet-like decimals and leverage for the coins the sim knows by name; others can
# be given in full as NAME:szDecimals:maxLeverage:startPx.
_CATALOG: dict[str, AssetConfig] = {a.name: a for a in default_assets()}
_CATALOG.update({
    "HYPE": AssetConfig("HYPE", 2, 10, 40.0, impact_notional_usd=6_000.0),
    "AVAX": AssetConfig("AVAX", 2, 10, 30.0, impact_notional_usd=6_000.0),
    "DOGE": AssetConfig("DOGE", 0, 10, 0.2, impact_notional_usd=6_000.0),
    "ARB": AssetConfig("ARB", 1, 10, 0.5, impact_notional_usd=6_000.0),
    "XRP": AssetConfig("XRP", 0, 20, 2.5, (MarginTier(0.0, 20),), impact_notional_usd=6_000.0),
})


class SimSetupError(ValueError):
    """A sim option (asset list, funding entry) is unusable; the message says which."""


def known_assets() -> list[str]:
    """Coins ``--assets`` accepts by name alone."""
    return sorted(_CATALOG)


def parse_asset(spec: str) -> AssetConfig:
    """``BTC`` (from the catalog) or ``NAME:szDecimals:maxLeverage:startPx``."""
    text = spec.strip()
    if ":" not in text:
        asset = _CATALOG.get(text.upper())
        if asset is None:
            raise SimSetupError(
                f"unknown asset {text!r}: known are {', '.join(known_assets())}, "
                "or give NAME:szDecimals:maxLeverage:startPx"
            )
        return asset
    parts = text.split(":")
    if len(parts) != 4:
        raise SimSetupError(f"asset {text!r}: expected NAME:szDecimals:maxLeverage:startPx")
    name, sz, lev, px = parts
    try:
        return AssetConfig(name.upper(), int(sz), int(lev), float(px))
    except ValueError as exc:
        raise SimSetupError(f"asset {text!r}: szDecimals and maxLeverage are integers, startPx a number") from exc


def parse_fund(entry: str) -> tuple[str, float]:
    """``0xADDRESS=USDC`` → (lower-case address, amount)."""
    address, sep, amount = entry.partition("=")
    address = address.strip()
    if not sep or not (address.startswith("0x") and len(address) == 42):
        raise SimSetupError(f"fund entry {entry!r}: expected 0xADDRESS=USDC")
    try:
        int(address, 16)
        usdc = float(amount)
    except ValueError as exc:
        raise SimSetupError(f"fund entry {entry!r}: the address must be hex and USDC a number") from exc
    if not usdc >= 0 or usdc == float("inf"):
        raise SimSetupError(f"fund entry {entry!r}: USDC must be a finite number >= 0")
    return address.lower(), usdc


@dataclass(frozen=True)
class DemoAccount:
    """The throwaway funded account of one sim run.  ``key`` is printed once by ``hlmm sim``."""

    address: str
    key: str
    usdc: float

    def wallet(self) -> Wallet:
        return Wallet.from_hex(self.key)

    def __repr__(self) -> str:   # never show the key in a repr, even a throwaway one
        return f"DemoAccount(address={self.address}, usdc={self.usdc:g})"


def new_demo_account(usdc: float = DEFAULT_DEMO_FUND_USDC) -> DemoAccount:
    """A fresh random key (uniform in [1, n-1]) and its address."""
    while True:
        secret = secrets.token_bytes(32)
        if 0 < int.from_bytes(secret, "big") < SECP256K1_N:
            break
    key = "0x" + secret.hex()
    return DemoAccount(Wallet.from_hex(key).address, key, usdc)


def build_config(
    seed: int = 0,
    assets: Iterable[str | AssetConfig] = DEFAULT_ASSETS,
    fund: Mapping[str, float] | None = None,
    **overrides: Any,
) -> SimConfig:
    """A ``SimConfig`` from asset names/specs, funded accounts and any other SimConfig field."""
    configs = tuple(a if isinstance(a, AssetConfig) else parse_asset(a) for a in assets)
    accounts = {addr.lower(): float(usdc) for addr, usdc in (fund or {}).items()}
    return SimConfig(assets=configs, seed=seed, demo_accounts=accounts, **overrides)


def make_exchange(config: SimConfig, now_ms: Callable[[], int] | None = None) -> Any:
    """The exchange state machine for ``config`` (imported here: the server only needs the contract)."""
    from hlmm.sim.exchange import SimExchange

    return SimExchange(config, now_ms=now_ms)


@dataclass(frozen=True)
class SimReady:
    """What a started sim tells its caller."""

    url: str
    host: str
    port: int
    demo: DemoAccount
    seed: int
    coins: tuple[str, ...]


def _prepare(seed: int, assets: Iterable[str | AssetConfig], fund: Mapping[str, float] | None,
             demo_fund: float, config_overrides: Mapping[str, Any] | None,
             options: ServerOptions | None, faults: TransportFaults | None,
             clock_ms: Callable[[], int] | None,
             market: MarketFactory | None = None) -> tuple[SimServer, DemoAccount, SimConfig]:
    demo = new_demo_account(demo_fund)
    funded = dict(fund or {})
    funded[demo.address.lower()] = demo_fund
    config = build_config(seed, assets, funded, **dict(config_overrides or {}))
    clock = clock_ms or (lambda: time.time_ns() // 1_000_000)
    exchange = make_exchange(config, now_ms=clock)
    if market is not None:
        exchange.attach_market(market(exchange))
    faults = faults if faults is not None else TransportFaults(seed=seed)
    server = SimServer(exchange, options=options, faults=faults, clock_ms=clock)
    return server, demo, config


def run_sim(
    host: str = "127.0.0.1",
    port: int = 3001,
    seed: int = 0,
    assets: Iterable[str | AssetConfig] = DEFAULT_ASSETS,
    fund: Mapping[str, float] | None = None,
    *,
    demo_fund: float = DEFAULT_DEMO_FUND_USDC,
    config_overrides: Mapping[str, Any] | None = None,
    options: ServerOptions | None = None,
    faults: TransportFaults | None = None,
    exchange_faults: Mapping[str, Any] | None = None,
    market: MarketFactory | None = None,
    on_ready: Callable[[SimReady], None] | None = None,
    stop: threading.Event | None = None,
    handle_signals: bool = False,
) -> str | None:
    """Serve a sim until stopped; returns the name of the signal that stopped it (or None).

    ``on_ready`` is called once the port is bound.  Stop it with ``stop.set()`` or,
    with ``handle_signals``, SIGINT/SIGTERM (the main thread only).
    ``exchange_faults`` takes the control request's exchange keys
    (``reject_next_orders``, ``freeze_book``).
    """
    server, demo, config = _prepare(seed, assets, fund, demo_fund, config_overrides, options, faults, None,
                                    market)
    stopped_by: list[str] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        done = asyncio.Event()
        if handle_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, lambda s=sig: (stopped_by.append(s.name), done.set()))
        bound = await server.start(host, port)
        if exchange_faults:
            server.control(dict(exchange_faults))
        if on_ready is not None:
            on_ready(SimReady(server.url, host, bound, demo, seed, tuple(a.name for a in config.assets)))
        while not done.is_set() and not (stop is not None and stop.is_set()):
            try:
                await asyncio.wait_for(done.wait(), timeout=0.1)
            except asyncio.TimeoutError:
                pass
        await server.stop()

    asyncio.run(main())
    return stopped_by[0] if stopped_by else None


class SimThread:
    """A sim served from a background thread (tests, embedding).  Use as a context manager.

    ``url``, ``port``, ``demo`` are set once ``start()`` returns.  ``call(fn, *args)``
    runs ``fn`` on the sim's loop and returns its result: the only safe way to touch
    ``exchange`` or ``server`` from another thread.
    """

    def __init__(
        self,
        seed: int = 0,
        assets: Iterable[str | AssetConfig] = DEFAULT_ASSETS,
        fund: Mapping[str, float] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        demo_fund: float = DEFAULT_DEMO_FUND_USDC,
        config_overrides: Mapping[str, Any] | None = None,
        options: ServerOptions | None = None,
        faults: TransportFaults | None = None,
        clock_ms: Callable[[], int] | None = None,
        market: MarketFactory | None = None,
    ) -> None:
        self.server, self.demo, self.config = _prepare(
            seed, assets, fund, demo_fund, config_overrides, options, faults, clock_ms, market)
        self.exchange = self.server.exchange
        self._host, self._port = host, port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="hlmm-sim", daemon=True)
        self._started = threading.Event()
        self._error: BaseException | None = None
        self.port: int | None = None
        self.url: str | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self.port = self._loop.run_until_complete(self.server.start(self._host, self._port))
            self.url = self.server.url
        except BaseException as exc:  # reported to start(), which re-raises in the caller's thread
            self._error = exc
            self._started.set()
            return
        self._started.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self.server.stop())
        self._loop.close()

    def start(self, timeout_s: float = 10.0) -> "SimThread":
        self._thread.start()
        if not self._started.wait(timeout_s):
            raise TimeoutError(f"the sim did not start within {timeout_s:g} s")
        if self._error is not None:
            raise self._error
        return self

    def call(self, fn: Callable[..., T], *args: Any, timeout_s: float = 10.0) -> T:
        """Run ``fn(*args)`` on the sim's loop thread and return its result."""
        async def run() -> T:
            return fn(*args)
        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout_s)

    def control(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        """Apply a control request (same keys as ``POST /sim/control``)."""
        return self.call(self.server.control, dict(settings))

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def __enter__(self) -> "SimThread":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
