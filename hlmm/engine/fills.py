"""The fill processor: every fill of the account counted exactly once, matched, attributed.

For each fill (WebSocket ``user`` / ``userFills`` frames, or a REST ``userFills`` answer):

1. **Parse** it strictly (a malformed fill is logged with what is wrong; it never raises).
2. **Deduplicate** by ``(tid, oid)``: the same fill arrives on ``user`` *and* ``userFills``, and
   again in the snapshot after a reconnect. (A ``tid`` names a trade; its two sides have
   different oids, so the pair identifies one fill even if both sides were ours.)
3. **Baseline**: a fill at or before the time of the position snapshot the coin started from
   (``init_position``) is already in that snapshot: recorded as seen, not applied again.
4. **Match** cloid first (carried in the fill itself), then oid. A fill no tracked order claims
   is *adopted*: applied to the position like any other and logged ``untracked_fill`` with its
   cause (no cloid and unknown oid, a foreign cloid, a cloid of an earlier hlmm session...).
5. **Apply** to the coin's :class:`~hlmm.engine.position.Position` in integer lots (so the
   position equals the exchange's ``szi`` exactly after the same fills), entry basis, realized
   PnL and fees (negative = rebate), and to the order (``OrderManager.apply_fill``).
6. **Attribute**: spread capture vs the mid prevailing at the fill (``on_mid`` feeds it), the
   fee, and, later, adverse selection from markouts (``hlmm._core.markouts``) at each horizon;
   :meth:`poll_markouts` drains them.
7. **Resolve** the calibration prediction the order carried (the leg's prediction id, or the
   cloid's tag for an untracked fill of an earlier session) through the ``OutcomeSink``.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any, Iterable, Mapping

from hlmm._core.markouts import DEFAULT_HORIZONS_MS, Markouts
from hlmm.exchange import wire
from hlmm.exchange.assets import AssetInfo
from hlmm.exchange.cloid import is_valid_cloid, parse_cloid
from hlmm.engine.order_state import ASK, BID, SIDE_NAMES, TrackedOrder
from hlmm.engine.orders import OrderManager
from hlmm.engine.outcomes import NO_OUTCOMES, OutcomeSink
from hlmm.engine.position import ZERO, Position, to_fraction
from hlmm.log import get_logger

log = get_logger("engine.fills")
pos_log = get_logger("engine.position")
mk_log = get_logger("calibration.markouts")


class FillFormatError(ValueError):
    """A fill message lacks a field or carries a value that cannot be read exactly."""


@dataclass(frozen=True, slots=True)
class Fill:
    """One fill as the exchange reported it, with its size in lots and price as an exact Fraction."""

    tid: int
    oid: int
    coin: str
    side: int           # BID (we bought) / ASK (we sold)
    px: str             # the exchange's strings, kept for logs
    sz: str
    px_q: Fraction
    lots: int
    time_ms: int
    fee: Fraction
    fee_token: str
    crossed: bool
    cloid: str | None
    start_position: str | None
    dir: str
    closed_pnl: str | None
    liquidation: bool

    @property
    def key(self) -> tuple[int, int]:
        return (self.tid, self.oid)

    @property
    def notional(self) -> Fraction:
        return self.px_q * Fraction(self.sz)

    @staticmethod
    def parse(raw: Mapping[str, Any], asset: AssetInfo) -> "Fill":
        """Read one fill object (reference §8 fields); FillFormatError says what is wrong."""
        if not isinstance(raw, Mapping):
            raise FillFormatError(f"a fill is an object, got {type(raw).__name__}")
        try:
            tid, oid, time_ms = int(raw["tid"]), int(raw["oid"]), int(raw["time"])
            px, sz, side = str(raw["px"]), str(raw["sz"]), raw["side"]
        except KeyError as exc:
            raise FillFormatError(f"fill lacks {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise FillFormatError(f"fill has a non-integer tid/oid/time: {exc}") from None
        if side not in ("B", "A"):
            raise FillFormatError(f"fill side must be 'B' or 'A', got {side!r}")
        try:
            lots = wire.wire_to_units(sz, asset.sz_decimals)
            px_q = Fraction(Decimal(px))
            fee = Fraction(Decimal(str(raw.get("fee", "0"))))
        except (ValueError, InvalidOperation) as exc:
            raise FillFormatError(f"fill px/sz/fee is not a decimal ({px!r}, {sz!r}, {raw.get('fee')!r}): {exc}") from None
        if lots is None or lots <= 0:
            raise FillFormatError(f"fill size {sz!r} is not a positive multiple of {asset.name}'s lot "
                                  f"(szDecimals {asset.sz_decimals})")
        if px_q <= 0:
            raise FillFormatError(f"fill price {px!r} is not positive")
        cloid = raw.get("cloid")
        if cloid is not None and not is_valid_cloid(cloid):
            raise FillFormatError(f"fill cloid {cloid!r} is not '0x' + 32 hex digits")
        sp = raw.get("startPosition")
        return Fill(tid=tid, oid=oid, coin=asset.name, side=BID if side == "B" else ASK, px=px, sz=sz, px_q=px_q,
                    lots=lots, time_ms=time_ms, fee=fee, fee_token=str(raw.get("feeToken", "USDC")),
                    crossed=bool(raw.get("crossed", False)), cloid=cloid.lower() if cloid else None,
                    start_position=str(sp) if sp is not None else None, dir=str(raw.get("dir", "")),
                    closed_pnl=str(raw["closedPnl"]) if raw.get("closedPnl") is not None else None,
                    liquidation=raw.get("liquidation") is not None)


@dataclass(slots=True)
class FillReport:
    """What one batch of fills did."""

    applied: list[Fill] = field(default_factory=list)
    duplicates: int = 0
    pre_baseline: int = 0
    untracked: list[tuple[Fill, str]] = field(default_factory=list)   # (fill, cause)
    malformed: list[str] = field(default_factory=list)
    volume_usd: float = 0.0
    coins: set[str] = field(default_factory=set)


@dataclass(slots=True)
class Attribution:
    """Session PnL attribution, USD: spread capture vs mid at fill, adverse selection at the
    attribution horizon (from markouts, as they resolve), fees (negative = rebates)."""

    spread_capture: Fraction = ZERO
    adverse_selection: Fraction = ZERO
    fees: Fraction = ZERO
    fills: int = 0
    fills_without_mid: int = 0
    markouts_resolved: int = 0

    def to_dict(self) -> dict[str, float | int]:
        return {"spread_capture_usd": float(self.spread_capture),
                "adverse_selection_usd": float(self.adverse_selection), "fees_usd": float(self.fees),
                "fills": self.fills, "fills_without_mid": self.fills_without_mid,
                "markouts_resolved": self.markouts_resolved}


@dataclass(frozen=True, slots=True)
class PositionCheck:
    """The local position vs the exchange's at the exchange's snapshot time, in lots."""

    coin: str
    local_lots: int
    exchange_lots: int
    time_ms: int

    @property
    def ok(self) -> bool:
        return self.local_lots == self.exchange_lots


class FillProcessor:
    """Applies fills to positions and orders; see the module doc for the rules."""

    def __init__(self, assets: Mapping[str, AssetInfo] | Any, manager: OrderManager, *,
                 outcomes: OutcomeSink = NO_OUTCOMES, markout_horizons_ms: Iterable[int] = DEFAULT_HORIZONS_MS,
                 attribution_horizon_ms: int = 10_000, seen_capacity: int = 200_000) -> None:
        horizons = tuple(int(h) for h in markout_horizons_ms)
        if attribution_horizon_ms not in horizons:
            raise ValueError(f"attribution_horizon_ms {attribution_horizon_ms} must be one of the markout "
                             f"horizons {horizons}")
        self.assets = assets
        self.manager = manager
        self.outcomes = outcomes
        self.horizons_ms = horizons
        self.attribution_horizon_ms = attribution_horizon_ms
        self._h_attr = horizons.index(attribution_horizon_ms)
        self.positions: dict[str, Position] = {}
        self.attribution = Attribution()
        self._seen: set[tuple[int, int]] = set()
        self._seen_order: deque[tuple[int, int]] = deque()
        self._seen_capacity = seen_capacity
        self._markouts: dict[str, Markouts] = {}
        self._mk_fills: dict[int, tuple[int, str, int, int, Fraction]] = {}  # seq -> tid, coin, side, pid, notional
        self._mk_seq = 0
        self._last_mid: dict[str, tuple[int, float]] = {}
        self._baseline_ms: int | None = None     # the session's start snapshot (its exchange time)

    # ------------------------------------------------------------------ positions
    def position(self, coin: str) -> Position:
        """The coin's position (created flat on first use)."""
        p = self.positions.get(coin)
        if p is None:
            # a coin first seen after the session's snapshot was flat at its time (call
            # init_position for every coin the snapshot lists, not only the quoted ones)
            p = self.positions[coin] = Position(coin, self.assets[coin].sz_decimals, baseline_ms=self._baseline_ms)
        return p

    def position_lots(self, coin: str) -> int:
        p = self.positions.get(coin)
        return p.lots if p is not None else 0

    def init_position(self, coin: str, szi: str, entry_px: str | None, time_ms: int) -> Position:
        """Start ``coin`` from the exchange's position (``clearinghouseState``) at exchange time
        ``time_ms``: fills at or before it are in that snapshot and will not be applied again, and
        any of them applied already (a fills snapshot that came first) leave the session's PnL."""
        p = self.position(coin)
        lots = self._szi_lots(coin, szi)
        p.reset_to(lots, to_fraction(entry_px) if entry_px else None, time_ms, session_start=True)
        if self._baseline_ms is None or time_ms > self._baseline_ms:
            self._baseline_ms = time_ms
        pos_log.info("position_update", coin=coin, position=str(p.size), entry_px=_num(p.entry_px),
                     notional_usd=None, unrealized_pnl_usd=None, source="clearinghouseState")
        return p

    def start_session(self, positions: Mapping[str, tuple[str, str | None]], time_ms: int) -> None:
        """Start every position from one ``clearinghouseState`` at exchange time ``time_ms``:
        ``positions`` maps each listed coin to ``(szi, entryPx)``; any other coin known to the
        processor (fills already seen) was flat at that time. Coins unknown to the registry are
        logged and skipped."""
        for coin in sorted(set(positions) | set(self.positions)):
            if coin not in self.assets:
                log.error("error", where="engine.fills.start_session", error="unknown_coin",
                          detail=f"clearinghouseState lists {coin!r}, which the asset registry does not hold")
                continue
            szi, entry = positions.get(coin, ("0", None))
            self.init_position(coin, szi, entry, time_ms)

    def _szi_lots(self, coin: str, szi: str) -> int:
        lots = wire.wire_to_units(str(szi), self.assets[coin].sz_decimals)
        if lots is None:
            raise FillFormatError(f"{coin} szi {szi!r} has more decimals than szDecimals "
                                  f"{self.assets[coin].sz_decimals}")
        return lots

    def check_position(self, coin: str, szi: str, time_ms: int) -> PositionCheck:
        """Compare with the exchange's ``szi`` at snapshot time ``time_ms`` (exact, in lots)."""
        p = self.position(coin)
        return PositionCheck(coin, p.lots_as_of(time_ms), self._szi_lots(coin, szi), time_ms)

    def adopt_exchange_position(self, coin: str, szi: str, entry_px: str | None, time_ms: int) -> None:
        """The exchange's position wins (after a confirmed mismatch): reset to it at ``time_ms``."""
        p = self.position(coin)
        before = p.lots
        p.reset_to(self._szi_lots(coin, szi), to_fraction(entry_px) if entry_px else None, time_ms)
        p.corrections += 1
        pos_log.warning("position_update", coin=coin, position=str(p.size), entry_px=_num(p.entry_px),
                        notional_usd=None, unrealized_pnl_usd=None, source=f"exchange_correction from {before} lots")

    def session_pnl(self, marks: Mapping[str, float]) -> Fraction:
        """Realized + unrealized - fees + funding over every coin, USD (marks: coin -> price)."""
        return sum((p.pnl(marks.get(c)) for c, p in self.positions.items()), ZERO)

    # ------------------------------------------------------------------ mids and markouts
    def on_mid(self, coin: str, t_ms: int, mid: float) -> None:
        """A mid for ``coin`` at exchange time ``t_ms`` (each book update, and each quote cycle)."""
        if not (mid > 0 and math.isfinite(mid)):
            return
        last = self._last_mid.get(coin)
        if last is None or t_ms >= last[0]:
            self._last_mid[coin] = (t_ms, mid)
        self._markouts_of(coin).on_mid(t_ms, mid)

    def _markouts_of(self, coin: str) -> Markouts:
        mk = self._markouts.get(coin)
        if mk is None:
            mk = self._markouts[coin] = Markouts(horizons_ms=self.horizons_ms,
                                                 model_horizon_ms=self.attribution_horizon_ms)
        return mk

    def markouts(self, coin: str) -> Markouts:
        """The coin's markout estimator (summaries, the depth-decay AS model)."""
        return self._markouts_of(coin)

    def poll_markouts(self, flush: bool = False) -> int:
        """Drain fills whose every horizon has resolved: adverse selection into the attribution,
        ``markout`` events, and the predictions' ``on_markout``. Returns how many fills drained.

        ``flush=True`` (shutdown) also drains fills whose longest horizons have not elapsed yet:
        the horizons they reached are reported, the others are NaN and skipped."""
        n = 0
        for coin, mk in self._markouts.items():
            rows = mk.drain_resolved(force=flush)
            for row in rows:
                info = self._mk_fills.pop(int(row["fill_id"]), None)
                if info is None:
                    continue
                tid, _coin, side, pid, notional = info
                n += 1
                as_attr = float(row["as_bps"][self._h_attr])
                if math.isfinite(as_attr):
                    self.attribution.adverse_selection += Fraction(repr(as_attr)) * notional / 10_000
                    self.attribution.markouts_resolved += 1
                for k, h in enumerate(self.horizons_ms):
                    as_bps, edge = float(row["as_bps"][k]), float(row["edge_bps"][k])
                    if flush and not math.isfinite(as_bps):
                        continue                 # a horizon the session ended before
                    if pid:
                        self.outcomes.on_markout(pid, coin=coin, side=side, tid=tid, horizon_ms=h, as_bps=as_bps,
                                                 edge_bps=edge)
                    # info, one line per horizon: the audit's adverse-selection and toxic-hours
                    # rules read these at the default level, keyed by horizon_s
                    mk_log.info("markout", coin=coin, tid=tid, side=SIDE_NAMES[side], horizon_s=h / 1000,
                                markout_bps=_finite(-as_bps), spread_capture_bps=_finite(float(row["sc_bps"])),
                                adverse_selection_bps=_finite(as_bps))
        return n

    # ------------------------------------------------------------------ fills
    def on_fills(self, fills: Iterable[Any], now_ms: int, *, source: str = "userFills") -> FillReport:
        """Apply a batch of fills (any order, duplicates allowed); returns what happened."""
        report = FillReport()
        for raw in fills:
            try:
                coin = raw["coin"] if isinstance(raw, Mapping) else None
                asset = self.assets[coin]
            except (KeyError, TypeError) as exc:
                msg = f"fill for an unknown coin {str(raw)[:200]}: {exc}"
                report.malformed.append(msg)
                log.error("error", where="engine.fills", error="unknown_coin", detail=msg)
                continue
            try:
                fill = Fill.parse(raw, asset)
            except FillFormatError as exc:
                report.malformed.append(str(exc))
                log.error("error", where="engine.fills", error="malformed_fill", detail=f"{exc}: {str(raw)[:200]}")
                continue
            self._apply(fill, now_ms, source, report)
        return report

    def _remember(self, key: tuple[int, int]) -> None:
        self._seen.add(key)
        self._seen_order.append(key)
        if len(self._seen_order) > self._seen_capacity:
            self._seen.discard(self._seen_order.popleft())

    def _apply(self, f: Fill, now_ms: int, source: str, report: FillReport) -> None:
        if f.key in self._seen:
            report.duplicates += 1
            if log.enabled("debug"):
                log.debug("fill_duplicate", coin=f.coin, tid=f.tid, oid=f.oid)
            return
        self._remember(f.key)
        p = self.position(f.coin)
        if p.baseline_ms is not None and f.time_ms <= p.baseline_ms:
            report.pre_baseline += 1     # already inside the position snapshot we started from
            return
        order, cause = self._match(f)
        p.apply_fill(f.side == BID, f.px_q, f.lots, f.fee, f.time_ms)
        report.applied.append(f)
        report.coins.add(f.coin)
        report.volume_usd += float(f.notional)
        mid = self._mid_at(f.coin)
        s = 1 if f.side == BID else -1
        self.attribution.fills += 1
        self.attribution.fees += f.fee
        if mid is not None:
            self.attribution.spread_capture += s * (Fraction(repr(mid)) - f.px_q) * Fraction(f.sz)
        else:
            self.attribution.fills_without_mid += 1
        pid, level, fraction = 0, None, 1.0
        if order is not None:
            level = order.slot
            pid, fraction = _fill_leg(order, f.oid, f.lots)
        else:
            parts = parse_cloid(f.cloid) if f.cloid else None
            pid = parts.tag if parts is not None else 0
            report.untracked.append((f, cause))
            log.warning("untracked_fill", coin=f.coin, tid=f.tid, oid=f.oid, cloid=f.cloid,
                        side=SIDE_NAMES[f.side], px=f.px, sz=f.sz, cause=cause)
        # The outcome first: a completing fill ends the order, and the order's end releases its
        # prediction in the store; resolved the other way round, the fill's outcome was unknown.
        if pid:
            self.outcomes.on_fill(pid, coin=f.coin, side=f.side, tid=f.tid, time_ms=f.time_ms, px=float(f.px_q),
                                  sz=float(Fraction(f.sz)), fee=float(f.fee), mid=mid, filled_fraction=min(1.0, fraction))
        if order is not None:
            self.manager.apply_fill(order, f.oid, f.lots, now_ms)
        self._mk_seq += 1
        if self._markouts_of(f.coin).add_fill(self._mk_seq, f.time_ms, s, float(f.px_q), float(Fraction(f.sz)),
                                              float(f.fee)):
            self._mk_fills[self._mk_seq] = (f.tid, f.coin, f.side, pid, f.notional)
        log.info("fill", coin=f.coin, tid=f.tid, oid=f.oid, cloid=f.cloid, side=SIDE_NAMES[f.side], px=f.px, sz=f.sz,
                 fee=str(_dec(f.fee)), fee_token=f.fee_token,
                 crossed=f.crossed, closed_pnl=f.closed_pnl, start_position=f.start_position,
                 position=str(_dec(p.size)), mid_at_fill=mid, ladder_level=level)
        pos_log.info("position_update", coin=f.coin, position=str(_dec(p.size)), entry_px=_num(p.entry_px),
                     notional_usd=float(abs(p.size) * f.px_q), unrealized_pnl_usd=float(p.unrealized(f.px_q)),
                     source=source)

    def _match(self, f: Fill):
        """(order, cause): cloid first, then oid; the cause says why nothing matched."""
        if f.cloid is not None:
            o = self.manager.by_cloid(f.cloid)
            if o is not None:
                return o, ""
        o = self.manager.by_oid(f.oid)
        if o is not None:
            return o, ""
        if f.cloid is None:
            return None, "liquidation" if f.liquidation else "no_cloid_unknown_oid"
        if self.manager.cloids.is_ours(f.cloid):
            return None, "our_cloid_not_tracked"
        if parse_cloid(f.cloid) is not None:
            return None, "earlier_session_cloid"
        return None, "foreign_cloid"

    def _mid_at(self, coin: str) -> float | None:
        last = self._last_mid.get(coin)
        return last[1] if last is not None else None

    def on_funding(self, entry: Mapping[str, Any]) -> None:
        """A ``user`` channel ``funding`` entry: ``usdc`` is added to the coin's funding PnL."""
        try:
            coin = str(entry["coin"])
            usdc = to_fraction(str(entry["usdc"]))
        except (KeyError, TypeError, ValueError) as exc:
            log.error("error", where="engine.fills.on_funding", error="malformed_funding",
                      detail=f"{exc}: {str(entry)[:200]}")
            return
        if coin not in self.assets:
            return
        p = self.position(coin)
        p.funding += usdc
        pos_log.info("funding", coin=coin, rate=entry.get("fundingRate"), payment_usd=float(usdc), position=str(_dec(p.size)))


def _dec(q: Fraction) -> Decimal:
    return Decimal(q.numerator) / Decimal(q.denominator)


def _num(q: Fraction | None) -> float | None:
    return float(q) if q is not None else None


def _fill_leg(o: TrackedOrder, oid: int, lots: int) -> tuple[int, float]:
    """(prediction id, filled fraction once counted) of the leg a fill of ``lots`` under ``oid``
    belongs to, read before ``OrderManager.apply_fill`` changes the order (same leg rules)."""
    if oid in o.old_oids:           # a replaced leg: its own prediction; its size is gone, the order's is kept
        frac = o.filled_lots / o.sz_lots if o.sz_lots > 0 else 1.0
        return o.leg_predictions.get(oid, o.prediction_id), frac
    pm = o.pending_modify
    if pm is not None and o.oid is not None and oid != o.oid and o.live:   # the fill proves the modify landed
        return pm.prediction_id, (lots / pm.sz_lots if pm.sz_lots > 0 else 1.0)
    frac = (o.filled_lots + lots) / o.sz_lots if o.sz_lots > 0 else 1.0
    return o.leg_predictions.get(oid, o.prediction_id), frac


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None
