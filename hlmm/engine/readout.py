"""The engine's read-out: session counters, PnL per coin, the status snapshot and the summary.

Everything shown to the user (panel, metrics, summary) is derived here from the engine's own
state — positions and money from the fill processor's exact accounting, orders from the
order manager, limits from the rate budget and the gates — once per status tick.
"""
from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from hlmm.engine.fills import Fill
from hlmm.engine.order_state import ASK, BID
from hlmm.engine.orders import ActionReport, OutboundAction
from hlmm.engine.quoting import CycleOutcome
from hlmm.engine.status import AssetStatus, EngineStatus, PnL
from hlmm.engine.summary import OrderCounts, SessionSummary
from hlmm.errors import ExitCode

if TYPE_CHECKING:
    from hlmm.engine.engine import Engine

_BUSY_WINDOW = 2048


@dataclass
class _CoinTotals:
    fills_bid: int = 0
    fills_ask: int = 0
    volume: Fraction = Fraction(0)
    spread_capture: Fraction = Fraction(0)
    notional_measured: Fraction = Fraction(0)


class Readout:
    """Counters fed by the engine, and the snapshots built from them."""

    def __init__(self, engine: "Engine") -> None:
        self.e = engine
        self.totals: dict[str, _CoinTotals] = {c: _CoinTotals() for c in engine.coins}
        self._busy: deque[float] = deque(maxlen=_BUSY_WINDOW)
        self.start_clearinghouse: dict[str, Any] | None = None
        self.final_clearinghouse: dict[str, Any] | None = None

    # ------------------------------------------------------------------ feeds
    def on_fill(self, f: Fill) -> None:
        t = self.totals.setdefault(f.coin, _CoinTotals())
        if f.side == BID:
            t.fills_bid += 1
        else:
            t.fills_ask += 1
        size = Fraction(f.sz)
        t.volume += f.px_q * size
        st = self.e.coin_states.get(f.coin)
        if st is not None and st.model.book.two_sided:
            s = 1 if f.side == BID else -1
            t.spread_capture += s * (Fraction(repr(st.model.book.mid())) - f.px_q) * size
            t.notional_measured += f.px_q * size

    def on_cycle(self, out: CycleOutcome) -> None:
        return None

    def on_iteration(self, busy_s: float) -> None:
        self._busy.append(busy_s)

    def count_sent(self, action: OutboundAction) -> None:
        for coin, n in self._coins_of(action).items():
            c = self.e.counts.setdefault(coin, OrderCounts())
            if action.kind == "order":
                c.placed += n
            elif action.kind == "batchModify":
                c.modified += n
            else:
                c.cancelled += n

    def count_action(self, action: OutboundAction, rep: ActionReport) -> set[str]:
        """Count an answer's rejects and fills; returns the coins the action touched."""
        coins = self._coins_of(action)
        if coins:
            first = next(iter(coins))
            c = self.e.counts.setdefault(first, OrderCounts())
            c.rejected += len(rep.rejects)
            c.filled += rep.filled
        return set(coins)

    def _coins_of(self, action: OutboundAction) -> dict[str, int]:
        a = action.action
        reg = self.e.registry
        if action.kind == "order":
            ids = [o["a"] for o in a.get("orders", ())]
        elif action.kind == "batchModify":
            ids = [m["order"]["a"] for m in a.get("modifies", ())]
        elif action.kind == "cancel":
            ids = [c["a"] for c in a.get("cancels", ())]
        elif action.kind == "cancelByCloid":
            ids = [c["asset"] for c in a.get("cancels", ())]
        else:
            ids = []
        out: dict[str, int] = {}
        for i in ids:
            try:
                coin = reg.by_id(i).name
            except (KeyError, AttributeError):
                continue
            out[coin] = out.get(coin, 0) + 1
        return out

    # ------------------------------------------------------------------ money
    def _mid(self, coin: str) -> float | None:
        st = self.e.coin_states.get(coin)
        if st is None or not st.model.book.two_sided:
            return None
        return st.model.book.mid()

    def coin_pnl(self, coin: str) -> PnL:
        """The coin's session PnL split (unrealized net of the position held at the start)."""
        e = self.e
        p = e.fills.position(coin)
        mid = self._mid(coin)
        unreal = float(p.unrealized(mid)) if mid is not None else 0.0
        if mid is not None and coin not in e._pnl_base:
            e._pnl_base[coin] = unreal if p.fills == 0 else 0.0
        unreal -= e._pnl_base.get(coin, 0.0)
        t = self.totals.get(coin, _CoinTotals())
        return PnL(realized=float(p.realized), unrealized=unreal, fees=float(p.fees), funding=float(p.funding),
                   spread_capture=float(t.spread_capture), adverse_selection=self._adverse(coin))

    def _adverse(self, coin: str) -> float:
        """Adverse selection in USD at the attribution horizon: the coin's mean markout there
        (over the fills whose horizon has passed) times their average notional."""
        e = self.e
        mk = e.fills.markouts(coin).summary()
        horizon = e.fills.attribution_horizon_ms
        t = self.totals.get(coin, _CoinTotals())
        fills = t.fills_bid + t.fills_ask
        for row in mk["horizons"]:
            if row["horizon_ms"] == horizon and row["n"] and fills and math.isfinite(row["as_mean_bps"]):
                return row["as_mean_bps"] * row["n"] * float(t.notional_measured) / fills / 1e4
        return 0.0

    def session_pnl(self) -> tuple[float, dict[str, float]]:
        """Total session PnL (USD) and each coin's position notional at the mid (for the gates)."""
        total = 0.0
        notional = {}
        for coin in self.e.coins:
            total += self.coin_pnl(coin).total
            mid = self._mid(coin)
            if mid is not None:
                notional[coin] = float(self.e.fills.position(coin).size) * mid
        return total, notional

    # ------------------------------------------------------------------ snapshots
    def asset(self, coin: str) -> AssetStatus:
        e = self.e
        st = e.coin_states[coin]
        book = st.model.book
        mid = book.mid() if book.two_sided else math.nan
        p = e.fills.position(coin)
        size = float(p.size)
        entry = p.entry_px
        bids = e.manager.live_orders(coin, BID)
        asks = e.manager.live_orders(coin, ASK)
        scale = 10.0 ** -st.asset.px_decimals
        t = self.totals.get(coin, _CoinTotals())
        gates = sorted({f"{side}:{gate}" if side != "both" else gate
                        for c, side, gate, _r in e.gates.active_gates() if c in (coin, "both")})
        marks = {}
        for row in e.fills.markouts(coin).summary()["horizons"]:
            if row["n"]:
                marks[f"{row['horizon_ms'] / 1000:g}s"] = row["as_mean_bps"]
        return AssetStatus(
            coin=coin, mid=mid, market_spread_bps=book.spread_bps() if book.two_sided else math.nan,
            best_bid=max((o.px_units for o in bids), default=math.nan) * scale if bids else math.nan,
            best_ask=min((o.px_units for o in asks), default=math.nan) * scale if asks else math.nan,
            levels_bid=len(bids), levels_ask=len(asks), levels_target=st.model.strategy.levels_per_side,
            position=size, notional_usd=abs(size) * mid if math.isfinite(mid) else 0.0,
            entry_px=float(entry) if entry is not None else math.nan, pnl=self.coin_pnl(coin),
            fills=t.fills_bid + t.fills_ask, fills_bid=t.fills_bid, fills_ask=t.fills_ask,
            volume_usd=float(t.volume), regime=st.regime, sigma_bps=st.sigma_bps,
            book_age_s=(e_now_ms() - st.book_changed_ms) / 1000 if st.book_changed_ms else math.nan,
            gates=gates, markouts_bps=marks, quote_cycles=st.cycles)

    def loop_p99_ms(self) -> float:
        if not self._busy:
            return math.nan
        data = sorted(self._busy)
        return data[min(len(data) - 1, int(0.99 * len(data)))] * 1000

    def status(self) -> EngineStatus:
        e = self.e
        ready = e.manager is not None and e.gates is not None
        now = e_now_ms()
        state = "stopping" if e.stopping else ("running" if e._ready else "starting")
        if ready and e._ready and not all(st.warm for st in e.coin_states.values()):
            state = "warming_up"
        if ready and e._resync_since_ms is not None:
            state = "resyncing"
        return EngineStatus(
            venue=e.venue, account=e.user, uptime_s=time_since(e.started_mono),
            assets=[self.asset(c) for c in e.coins] if ready else [],
            ws_connected=e.ws.connected, reconnects=e.reconnects, rate_headroom=e.rate.headroom,
            ip_weight_used=e.rate.ip_used(now), ip_weight_limit=e.rate.ip_limit,
            address_requests_used=e.rate.used, address_requests_cap=e.rate.cap,
            account_value=e.account.account_value if e.account is not None else math.nan,
            kill_switch=e.kill_reason, loop_busy_ms_p99=self.loop_p99_ms(), loop_errors=e.loop.stats.errors,
            open_orders=len(e.manager.live_orders()) if ready else 0, model_scores=e.predictions.scores(),
            state=state)

    def summary(self, reason: str, open_left: int, confirmed: bool) -> SessionSummary:
        """The session summary; its unrealized PnL is the exchange's (at its mark price) when the
        final clearinghouseState was read, so the PnL total matches the account value change."""
        e = self.e
        status = self.status()
        status.state = "stopped"
        if self.final_clearinghouse is not None:
            start = _unrealized(self.start_clearinghouse)
            end = _unrealized(self.final_clearinghouse)
            for a in status.assets:
                a.pnl.unrealized = end.get(a.coin, 0.0) - start.get(a.coin, 0.0)
        killed = e.gates is not None and e.gates.killed
        code = ExitCode.KILL_SWITCH if killed else (ExitCode.INTERRUPTED if reason == "SIGINT" else ExitCode.OK)
        now = datetime.now(timezone.utc)
        return SessionSummary.build(
            status, started_at=e.started_iso(), ended_at=now.isoformat(timespec="milliseconds"),
            duration_s=time_since(e.started_mono), stop_reason=reason, exit_code=int(code),
            orders={c: e.counts.get(c, OrderCounts()) for c in e.coins}, open_orders_at_exit=open_left,
            cancel_all_confirmed=confirmed, safety_syncs=e.sync.completed if e.sync else 0,
            position_mismatches=e.sync.mismatches_total if e.sync else 0, resyncs=e.resyncs,
            untracked_fills=e.untracked_fills, duplicate_fills=e.duplicate_fills,
            account_value_start=e.account_start.account_value if e.account_start else math.nan,
            account_value_end=e.account.account_value if e.account else math.nan, params_file=e.params_file)


def _unrealized(ch: dict[str, Any] | None) -> dict[str, float]:
    """Each coin's unrealizedPnl in a clearinghouseState (the exchange's mark)."""
    out: dict[str, float] = {}
    for entry in (ch or {}).get("assetPositions") or []:
        pos = entry.get("position") if isinstance(entry, dict) else None
        if isinstance(pos, dict) and "coin" in pos:
            try:
                out[pos["coin"]] = float(pos.get("unrealizedPnl") or 0.0)
            except (TypeError, ValueError):
                continue
    return out


def e_now_ms() -> int:
    return time.time_ns() // 1_000_000


def time_since(mono: float) -> float:
    return time.monotonic() - mono
