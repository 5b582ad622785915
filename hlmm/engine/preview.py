"""``hlmm ladder-preview``: the ladder hlmm would quote right now, computed and explained, nothing sent.

The preview reads public market data, warms a :class:`~hlmm.engine.market_model.MarketModel` from
it and asks it for a quote, exactly as ``hlmm trade`` does for its first ladder (same model, same
``quote()``), for a what-if account (``--position``, ``--account-value``).  It needs no key.

Where the data comes from:

* a venue (:func:`fetch_market_data`): ``metaAndAssetCtxs`` (szDecimals, margin tiers, funding),
  ``l2Book``, ``recentTrades`` and the last :data:`CANDLE_MINUTES` one-minute candles.  An
  unreachable venue is a :class:`~hlmm.errors.VenueUnreachableError` (exit 4) that names the
  offline alternatives;
* a saved l2Book file (:func:`read_book_file`): an ``/info`` answer or a WebSocket ``l2Book``
  message, read by the Cython book.  Without a venue, szDecimals and margin tiers come from the
  bundled real meta (:mod:`hlmm.data`).  Only a book: every estimator but the book is cold, and
  the preview says so (conservative priors, :class:`~hlmm.engine.market_model.Priors`).

:class:`Preview` holds the result: the model's snapshot, the ladder, per-level rows (price, size,
notional, depth from mid, fill probability, edge, cumulative size and margin, the constraint that
bound the level), the dropped levels with their reasons, and ``to_dict()`` (schema
:data:`SCHEMA`).  Rendering into text lives here too, so the CLI only wires options to it.
"""
from __future__ import annotations

import dataclasses
import json
import math
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from hlmm._core.book import BookError, L2Book
from hlmm._core.ladder import Ladder, MarketParams
from hlmm.config import Config
from hlmm.data import BUNDLED_META_DESCRIPTION, bundled_registry
from hlmm.engine.account_state import AccountState
from hlmm.engine.market_model import HISTORY_CANDLE_MINUTES, MarketModel, MarketNotReady, QuoteExplanation
from hlmm.errors import InputError, VenueUnreachableError
from hlmm.exchange.assets import AssetInfo, AssetRegistry
from hlmm.exchange.errors import TransportError
from hlmm.exchange.http import InfoClient
from hlmm.exchange.urls import MAINNET_API_URL, TESTNET_API_URL, base_url

SCHEMA = "hlmm.ladder_preview/1"
DEFAULT_ACCOUNT_VALUE_USD = 1_000.0
CANDLE_MINUTES = HISTORY_CANDLE_MINUTES   # the model's cold-start window, as hlmm trade reads it
SIM_BOOK_WAIT_S = 10.0          # a freshly started sim's market needs a moment to post its book
MAX_BOOK_FILE_BYTES = 1 << 20
OFFLINE_HINT = "use --venue sim for hlmm's local simulated exchange, or --book FILE for a saved l2Book"
# The what-if account's range: beyond any real account, a preview's skew and sizes stop meaning anything.
MAX_WHAT_IF_USD = 1e12          # account value, and the position's notional at the mid
MAX_WHAT_IF_POSITION = 1e15     # coins: the bound known before the mid is (cheap coins trade in billions)

# What each reason code means in a preview: for a quoted level (what bound its size) and for a dropped one.
BOUND_MEANING = {
    "none": "full fractional-Kelly demand funded",
    "margin": "size bound by the side's budget: Kelly fraction x (available margin x allowed leverage / 2 "
              "+ the inventory the side closes)",
    "position": "size bound by the position room (risk.max_position_usd)",
    "max_notional": "at the per-order cap (strategy.max_order_notional_usd)",
}
DROP_MEANING = {
    "margin": "no margin at all for this side",
    "position": "no position room left on this side",
    "min_notional": "its share of the budget fell below the exchange's minimum order value after rounding",
    "toxicity_gate": "side toxicity above strategy.toxicity_pull_threshold: the side is pulled",
    "negative_edge": "expected edge <= 0 at this depth",
    "zero_fill_prob": "fill probability underflows to 0 at this depth",
    "price_collision": "rounds onto the previous level's price (tick coarser than the level spacing)",
    "invalid_price": "no valid price on its side of the mid",
}


# ----------------------------------------------------------------------------- the what-if account


class WhatIfError(InputError):
    """A what-if value outside the range a preview means anything for; ``field`` names the argument
    (``position`` or ``account_value``) and ``reason`` says what range it must lie in."""

    def __init__(self, field: str, reason: str) -> None:
        self.field, self.reason = field, reason
        super().__init__(f"{field}: {reason}")


def check_what_if(position: float, account_value: float, mid: float | None = None) -> None:
    """Raise :class:`WhatIfError` unless the what-if account is finite and in range (the position's
    notional is checked too once ``mid`` is known)."""
    if not math.isfinite(position):
        raise WhatIfError("position", f"must be a finite number, got {position}")
    if abs(position) > MAX_WHAT_IF_POSITION:
        raise WhatIfError("position", f"must be between {-MAX_WHAT_IF_POSITION:g} and {MAX_WHAT_IF_POSITION:g} "
                                      f"coins, got {position:g}")
    if mid is not None and abs(position) * mid > MAX_WHAT_IF_USD:
        raise WhatIfError("position", f"|position x mid| must be at most ${MAX_WHAT_IF_USD:g}, got "
                                      f"{abs(position):g} x {mid:g} = ${abs(position) * mid:.4g}")
    if not math.isfinite(account_value):
        raise WhatIfError("account_value", f"must be a finite number, got {account_value}")
    if not 0 <= account_value <= MAX_WHAT_IF_USD:
        raise WhatIfError("account_value", f"must be between 0 and {MAX_WHAT_IF_USD:g} USD, got {account_value:g}")


# ----------------------------------------------------------------------------- market data


@dataclass(frozen=True)
class MarketData:
    """Everything a preview reads: asset rules, one book, and (from a venue) trades, candles, funding."""

    coin: str
    asset: AssetInfo
    meta_source: str                       # "venue" or "bundled"
    l2book: bytes | Mapping[str, Any]
    recent_trades: Sequence[Mapping[str, Any]] = ()
    candles: Sequence[Mapping[str, Any]] = ()
    funding: float | None = None
    fetched_ms: int | None = None          # local wall-clock time of the candle request


def resolve_venue(venue: str) -> tuple[str, str]:
    """(name, base URL) of ``mainnet``, ``testnet`` or an ``http(s)://host:port`` URL.
    ValueError with a specific message for anything else."""
    if venue == "mainnet":
        return "mainnet", MAINNET_API_URL
    if venue == "testnet":
        return "testnet", TESTNET_API_URL
    url = base_url(venue)
    return url, url


@contextmanager
def venue_session(venue: str, coin: str) -> Iterator[tuple[str, str]]:
    """(name, base URL) of ``venue`` for the duration of a preview.  ``sim`` starts hlmm's simulator
    as ``hlmm trade`` does (its own process, a free loopback port, a synthetic market for ``coin``)
    and stops it on exit; the other venues are only named."""
    if venue != "sim":
        yield resolve_venue(venue)
        return
    from hlmm.sim.embedded import EmbeddedSim
    from hlmm.sim.runner import known_assets

    if coin not in known_assets():
        raise InputError(f"the sim has no market for {coin!r}: it knows {', '.join(known_assets())}")
    sim = EmbeddedSim(assets=(coin,), fund_usdc=0.0, extra_args=("--market", "synthetic"))
    sim.start()
    try:
        yield "sim", sim.url
    finally:
        sim.stop()


def unreachable(name: str, url: str, exc: TransportError) -> VenueUnreachableError:
    """The one-line error for a venue that did not answer, naming the offline alternatives."""
    where = name if name == url else f"{name} ({url})"
    text = " ".join(exc.text.split())
    return VenueUnreachableError(f"cannot reach {where}: {text}", hint=OFFLINE_HINT)


def _registry_from_venue(meta_ctxs: Any) -> tuple[AssetRegistry, list[Any]]:
    if not (isinstance(meta_ctxs, list) and len(meta_ctxs) == 2 and isinstance(meta_ctxs[1], list)):
        raise InputError(f"metaAndAssetCtxs: expected [meta, [ctx, ...]], got {str(meta_ctxs)[:80]}")
    return AssetRegistry.from_meta(meta_ctxs[0]), meta_ctxs[1]


def _funding_of(ctxs: list[Any], asset: AssetInfo) -> float | None:
    if asset.dex or not 0 <= asset.asset_id < len(ctxs) or not isinstance(ctxs[asset.asset_id], Mapping):
        return None
    try:
        rate = float(ctxs[asset.asset_id].get("funding"))
    except (TypeError, ValueError):
        return None
    return rate if math.isfinite(rate) else None


def fetch_market_data(info: InfoClient, coin: str, *, candle_minutes: int = CANDLE_MINUTES,
                      book_wait_s: float = 0.0, clock_ms: Callable[[], int] | None = None) -> MarketData:
    """Read meta + funding, the l2Book, recent trades and one-minute candles of ``coin`` from a venue.

    ``book_wait_s``: poll the book this long for a two-sided one (a sim that just started).
    Transport failures raise ``TransportError`` (the caller words them); an unknown coin raises
    ``UnknownAssetError`` with a did-you-mean.
    """
    now = clock_ms or (lambda: time.time_ns() // 1_000_000)
    registry, ctxs = _registry_from_venue(info.meta_and_asset_ctxs())
    asset = registry[coin]
    deadline = time.monotonic() + book_wait_s
    while True:
        book = info.l2_book(coin)
        if not isinstance(book, Mapping):
            raise InputError(f"the venue has no l2Book for {coin} (it answered {str(book)[:60]})")
        levels = book.get("levels")
        two_sided = isinstance(levels, list) and len(levels) == 2 and all(levels)
        if two_sided or time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    trades = info.recent_trades(coin)
    fetched = now()
    candles = info.candle_snapshot(coin, "1m", fetched - candle_minutes * 60_000, fetched)
    return MarketData(coin, asset, "venue", book, trades if isinstance(trades, list) else [],
                      candles if isinstance(candles, list) else [], _funding_of(ctxs, asset), fetched)


def read_book_file(path: str | Path) -> bytes:
    """The bytes of a saved l2Book (an ``/info`` answer or a WebSocket message); InputError if unreadable."""
    p = Path(path)
    try:
        if p.stat().st_size > MAX_BOOK_FILE_BYTES:
            raise InputError(f"--book {p}: {p.stat().st_size} bytes is too large for one l2Book snapshot")
        return p.read_bytes()
    except OSError as exc:
        raise InputError(f"--book {p}: cannot read the file: {exc.strerror or exc}") from None


def check_book_file(raw: bytes, asset: AssetInfo, path: str | Path) -> None:
    """Validate a saved book against the asset's rules (a scratch book); InputError saying what is wrong."""
    probe = L2Book(asset.name, asset.sz_decimals, px_decimals=asset.px_decimals)
    try:
        probe.apply_message(raw)
    except BookError as exc:
        coin = _book_coin(raw)
        if coin is not None and coin != asset.name:    # the scanner may trip on the decimals first
            raise InputError(f"--book {path}: the file holds a {coin!r} l2Book, not {asset.name!r} "
                             f"(use --asset {coin})") from None
        raise InputError(f"--book {path}: not a usable {asset.name} l2Book snapshot (an /info l2Book answer or a "
                         f"WebSocket l2Book message): {exc}") from None


def _book_coin(raw: bytes) -> str | None:
    """The coin a saved l2Book names, if it is JSON of the expected shape (error path only)."""
    try:
        doc = json.loads(raw)
    except ValueError:
        return None
    data = doc.get("data") if isinstance(doc, dict) and "channel" in doc else doc
    coin = data.get("coin") if isinstance(data, dict) else None
    return coin if isinstance(coin, str) else None


def offline_market_data(coin: str, raw_book: bytes, path: str | Path,
                        registry: AssetRegistry | None = None) -> MarketData:
    """A book file with asset rules from ``registry`` (default: the bundled real meta)."""
    meta_source = "venue" if registry is not None else "bundled"
    asset = (registry or bundled_registry())[coin]
    check_book_file(raw_book, asset, path)
    return MarketData(coin, asset, meta_source, raw_book)


# ----------------------------------------------------------------------------- the preview


@dataclass(frozen=True)
class LevelRow:
    """One quoted order of the ladder, as the preview shows it."""

    side: str
    level: int
    price: float
    size: float
    notional: float
    depth_mid_bps: float        # from the mid
    depth_fair_bps: float       # from the fair price (microprice), what the model targets
    p_fill: float
    edge_bps: float
    cum_size: float             # this side, from the touch out
    cum_margin: float           # initial margin of the position-opening part so far, USD
    bound_by: str               # the ladder's reason code name


@dataclass(frozen=True)
class DroppedRow:
    """A configured level that carries no order, and why."""

    side: str
    level: int
    reason: str
    price: float | None
    allocated_usd: float        # the budget it had when dropped (min_notional), else 0


@dataclass
class Preview:
    """A computed preview: the model's snapshot, the ladder and everything to explain them."""

    coin: str
    source: dict[str, Any]
    model: MarketModel
    account: AccountState
    params: MarketParams
    ladder: Ladder
    explanation: QuoteExplanation
    rows: list[LevelRow]
    dropped: list[DroppedRow]
    notes: list[str] = field(default_factory=list)

    @property
    def cold(self) -> bool:
        return bool(self.explanation.cold)

    def to_dict(self) -> dict[str, Any]:
        """The machine output (``--json``): stable keys, see :data:`SCHEMA`."""
        ex = self.explanation.to_dict()
        warm = ex.pop("warmup")
        ex.pop("notes")
        lad = self.ladder
        sides = {name: {k: v for k, v in getattr(lad, name + "s").summary().items() if k != "side"}
                 for name in ("bid", "ask")}
        return {
            "schema": SCHEMA, "coin": self.coin, "time_ms": self.explanation.time_ms,
            "time_utc": _utc(self.explanation.time_ms), "cold": self.cold, "source": self.source,
            "model": ex, "warmup": warm, "account": self.account.to_dict(), "params": self.params.to_dict(),
            "ladder": {"status": lad.status, "fair": lad.fair, "half_spread_bps": lad.half_spread_bps,
                       "quoted_half_spread_bps": lad.quoted_half_spread_bps, "skew_bps": lad.skew_bps,
                       "gamma_eff": lad.gamma_eff, "kelly_fraction": lad.kelly_fraction, "tau_s": lad.tau,
                       "margin_used": lad.margin_used, "sides": sides},
            "levels": [dataclasses.asdict(r) for r in self.rows],
            "dropped": [dataclasses.asdict(d) for d in self.dropped],
            "notes": list(self.notes),
        }

    # ------------------------------------------------------------------ text
    def header_lines(self) -> list[str]:
        """What precedes the level table: source, market, model, account, warm-up."""
        e, p, a = self.explanation, self.params.to_dict(), self.account
        c = self.coin
        src = self.source
        if src.get("book_file"):
            where = f"book file {src['book_file']}"
        elif src.get("venue"):
            where = f"venue {src['venue']}" + (f" ({src['url']})" if src.get("url") and src["url"] != src["venue"]
                                               else "")
        else:
            where = "market data given by the caller"
        lines = [f"hlmm ladder-preview {c}: {where}, {_utc(e.time_ms)}"
                 + ("   [COLD: " + ", ".join(e.cold) + " from priors]" if e.cold else "")]
        if src.get("meta") == "bundled":
            lines.append(f"asset rules (szDecimals {self.model.asset.sz_decimals}, margin tiers) from "
                         f"{BUNDLED_META_DESCRIPTION}")
        micro = "= mid: cold" if e.microprice == e.mid else f"{e.microprice - e.mid:+.6g} from mid"
        lines.append(f"mid {_px(e.mid)}  microprice {_px(e.microprice)} ({micro})  spread {e.spread_bps:.2f} bps  "
                     f"book imbalance {e.book_imbalance:+.2f}  flow imbalance {e.flow_imbalance:+.2f}")
        lines.append(f"sigma {e.sigma_bps:.3f} bps/s^0.5 ({e.sigma_source})  regime {e.regime} ({e.regime_source})  "
                     f"kappa {e.kappa:.4g}/bps  A {e.A:.4g}/s per side ({e.intensity_source})  "
                     f"funding {e.funding_rate * 100:.4f}%/h")
        lines.append(f"gamma {e.gamma_base:g} x time-of-day {e.tod_gamma_mult:g} x regime {e.regime_gamma_mult:g} = "
                     f"{e.gamma_eff:.4g}   delta* {e.delta_star_bps:.3f} bps   skew {e.skew_bps:+.3f} bps "
                     f"(q {e.q:+.3f})   kelly {e.kelly_fraction:.3f}   tau {e.tau_s:.0f} s   "
                     f"adverse selection {e.as_bps:g} bps ({e.as_source})")
        s = self.model.strategy
        lines.append(f"toxicity bid {e.toxicity_bid:.3f} ask {e.toxicity_ask:.3f} (widen above "
                     f"{s.toxicity_widen_threshold:g}, pull above {s.toxicity_pull_threshold:g})")
        value = "n/a" if a.account_value is None else f"${a.account_value:,.2f}"
        lines.append(f"account {value}  position {a.position:g} {c}  available margin ${a.available_margin:,.2f}  "
                     f"leverage {p['allowed_leverage']:g}x (allowed)  max position {p['max_position']:.6g} {c} "
                     f"(${self.model.risk.max_position_usd:,.0f})")
        warm = []
        for st in e.warmup.estimators:
            missing = st.missing.removeprefix("warming: ")
            warm.append(f"{st.name} {st.source}" + ("" if st.ready else f" ({missing})"))
        w = e.warmup
        lines.append("warm-up: " + "; ".join(warm))
        lines.append(f"warm-up for trading ([strategy.warmup]): {'met' if w.ready_to_quote else 'not met'}: "
                     f"{w.seconds_observed:.0f}/{w.required['min_seconds']:g} s of data, {w.trades}/"
                     f"{w.required['min_trades']:g} trades, {w.book_updates}/{w.required['min_book_updates']:g} "
                     "book updates")
        return lines

    TABLE_HEADERS = ("SIDE", "LVL", "PRICE", "SIZE", "NOTIONAL", "DEPTH_BPS", "P_FILL", "EDGE_BPS", "CUM_SIZE",
                     "CUM_MARGIN", "BOUND_BY")

    def table_rows(self) -> list[list[str]]:
        """The quoted levels, asks from the outside in, then bids from the touch out (a book's order)."""
        asks = [r for r in self.rows if r.side == "ask"][::-1]
        bids = [r for r in self.rows if r.side == "bid"]
        return [[r.side, str(r.level), _px(r.price), f"{r.size:g}", f"{r.notional:.2f}", f"{r.depth_mid_bps:.2f}",
                 f"{r.p_fill:.3f}", f"{r.edge_bps:.2f}", f"{r.cum_size:g}", f"{r.cum_margin:.2f}", r.bound_by]
                for r in asks + bids]

    def footer_lines(self) -> list[str]:
        """What follows the table: per-side totals, dropped levels and why, the codes used, notes."""
        lad = self.ladder
        lines = []
        for side in (lad.bids, lad.asks):
            lines.append(f"{side.name}s: {side.n_quoted}/{side.n} quoted, ${side.notional_usd:,.2f} "
                         f"({side.size_total:g} {self.coin}), margin ${side.margin_used:,.2f}, bound by "
                         f"{side.binding_reason}")
        groups: dict[tuple[str, str], list[DroppedRow]] = defaultdict(list)
        for d in self.dropped:
            groups[(d.side, d.reason)].append(d)
        if not groups:
            lines.append("dropped: none")
        for (side, reason), items in groups.items():
            levels = ", ".join(str(d.level) for d in items)
            extra = ""
            if reason == "min_notional":
                extra = " (budget " + ", ".join(f"${d.allocated_usd:.2f}" for d in items) + \
                        f"; minimum ${self.model.asset.min_notional:g})"
            lines.append(f"dropped {side} level{'s' if len(items) > 1 else ''} {levels}: {reason}: "
                         f"{DROP_MEANING.get(reason, reason)}{extra}")
        used = sorted({r.bound_by for r in self.rows})
        if used:
            lines.append("bound by: " + "; ".join(f"{u} = {BOUND_MEANING.get(u, u)}" for u in used))
        lines += [f"note: {n}" for n in self.notes]
        return lines


def _utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _px(x: float) -> str:
    return f"{x:.10g}"


def _rows(ladder: Ladder, params: Mapping[str, Any]) -> tuple[list[LevelRow], list[DroppedRow]]:
    """Per-level rows with cumulative size and margin (the ladder's own margin rule: the inventory a
    side closes needs none), and the dropped levels."""
    rows, dropped = [], []
    mid, lev = params["mid"], params["allowed_leverage"]
    position = params["position"]
    for side in (ladder.bids, ladder.asks):
        if side.name == "bid":
            reduce_left = max(0.0, -position - params["inflight_bid"])
        else:
            reduce_left = max(0.0, position - params["inflight_ask"])
        cum_size = opening = 0.0
        for lv in side.levels():
            if not lv["quoted"]:
                dropped.append(DroppedRow(side.name, lv["level"], lv["reason"], lv["price"],
                                          lv["target_notional"] if lv["reason"] == "min_notional" else 0.0))
                continue
            px, size = lv["price"], lv["size"]
            cum_size += size
            reduced = min(size, reduce_left)
            reduce_left -= reduced
            opening += (size - reduced) * px
            depth_mid = (mid - px) / mid * 1e4 if side.name == "bid" else (px - mid) / mid * 1e4
            rows.append(LevelRow(side.name, lv["level"], px, size, px * size, depth_mid, lv["depth_bps"],
                                 lv["p_fill"], lv["edge_bps"], round(cum_size, 12), opening / lev, lv["reason"]))
    return rows, dropped


def build_preview(cfg: Config, data: MarketData, *, position: float = 0.0,
                  account_value: float = DEFAULT_ACCOUNT_VALUE_USD, levels: int | None = None,
                  source: Mapping[str, Any] | None = None) -> Preview:
    """Warm a model from ``data`` and quote for a what-if account: the same ``MarketModel.quote()``
    ``hlmm trade`` uses.  ``levels`` overrides ``strategy.levels_per_side``.  An out-of-range what-if
    account is a :class:`WhatIfError`."""
    check_what_if(position, account_value)
    model = MarketModel.from_config(cfg, data.asset)
    if levels is not None:
        model = MarketModel(data.asset, dataclasses.replace(model.strategy, levels_per_side=levels), model.risk)
    if data.funding is not None:
        model.on_funding(data.funding)
    try:
        model.warm_from_history(data.candles, data.recent_trades, data.l2book)
    except BookError as exc:
        raise InputError(f"the {data.coin} l2Book is unusable: {exc}") from None
    book = model.book
    if not book.two_sided:
        raise MarketNotReady(f"{data.coin}: the book is not two-sided ({book.bid_depth} bid and {book.ask_depth} "
                             "ask levels): nothing to quote around")
    mid = book.mid()
    check_what_if(position, account_value, mid)
    account = AccountState.hypothetical(account_value, position, mid, model.allowed_leverage(position, mid))
    params, ladder, why = model.quote(account)
    rows, dropped = _rows(ladder, params.to_dict())
    notes = list(why.notes)
    if not data.candles and not data.recent_trades:
        what = "only a book was given" if data.meta_source == "bundled" or isinstance(data.l2book, bytes) \
            else "the venue had no trades or candles yet"
        notes.append(f"{what}: volatility, fill intensity and microprice are cold; the ladder uses "
                     "conservative priors")
    notes.append(f"available margin is what the exchange would report for a ${account_value:,.2f} account "
                 f"holding {position:g} {data.coin}: account value minus that position's margin")
    src = {"venue": None, "url": None, "book_file": None, **(source or {})}
    src.setdefault("meta", data.meta_source)
    if data.meta_source == "bundled":
        src["meta_description"] = f"szDecimals and margin tiers from {BUNDLED_META_DESCRIPTION}"
    src["fetched"] = {"trades": len(data.recent_trades), "candles": len(data.candles),
                      "book_levels": [book.bid_depth, book.ask_depth], "funding": data.funding}
    return Preview(data.coin, src, model, account, params, ladder, why, rows, dropped, notes)


def preview_from_venue(cfg: Config, coin: str, venue_name: str, url: str, *, book_wait_s: float = 0.0,
                       timeout_s: float | None = None, **kw: Any) -> Preview:
    """Fetch from a venue and build the preview; an unreachable venue is a VenueUnreachableError."""
    check_what_if(kw.get("position", 0.0), kw.get("account_value", DEFAULT_ACCOUNT_VALUE_USD))  # before the network
    info = InfoClient(url, timeout=timeout_s or cfg.exchange.request_timeout_s)
    try:
        data = fetch_market_data(info, coin, book_wait_s=book_wait_s)
    except TransportError as exc:
        raise unreachable(venue_name, url, exc) from None
    finally:
        info.close()
    return build_preview(cfg, data, source={"venue": venue_name, "url": url, "book_file": None}, **kw)


def preview_from_book(cfg: Config, coin: str, book_file: str | Path, *, venue: tuple[str, str] | None = None,
                      timeout_s: float | None = None, **kw: Any) -> Preview:
    """A preview of a saved book; asset rules from ``venue`` (name, url) if given, else the bundled meta."""
    check_what_if(kw.get("position", 0.0), kw.get("account_value", DEFAULT_ACCOUNT_VALUE_USD))  # before any I/O
    raw = read_book_file(book_file)
    registry = None
    src: dict[str, Any] = {"venue": None, "url": None, "book_file": str(book_file)}
    if venue is not None:
        name, url = venue
        info = InfoClient(url, timeout=timeout_s or cfg.exchange.request_timeout_s)
        try:
            registry, _ = _registry_from_venue(info.meta_and_asset_ctxs())
        except TransportError as exc:
            raise unreachable(name, url, exc) from None
        finally:
            info.close()
        src.update(venue=name, url=url)
    return build_preview(cfg, offline_market_data(coin, raw, book_file, registry), source=src, **kw)
