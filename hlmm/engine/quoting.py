"""One coin's quote cycle: frozen snapshot → strategy (ladder) → reconcile → gates → submit → send.

DESIGN §3, run by the engine on book changes (at most every ``min_requote_interval_ms``), after
fills and order answers, and on a 1 s risk tick (so a stale book or a fired kill switch pulls
the quotes even when nothing arrives):

1. the account as the ladder sees it (exact position, the exchange's free margin as is, orders
   in flight or unknown as ``inflight_*``) and the market model's snapshot, frozen together;
2. the strategy's target (default: ``MarketModel.quote``, the ``hlmm ladder-preview`` path);
   a quote on the wrong side of the mid is never sent (``quote_crossed``);
3. the reconcile diff against live orders (keep / modify / cancel / place);
4. the gates, each with a reason code (kill switch, disconnected, stale book, warm-up, position
   mismatch, reduce-only, inventory forcing, toxicity, requote interval, position limit, rate
   budget): blocked sides are pulled, cancels always pass;
5. the order manager assigns cloids (tag = prediction id, recorded first) and returns at most
   one action per kind, each signed once and posted.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from hlmm._core.ladder import REGIMES, Ladder
from hlmm.engine.account_state import AccountState
from hlmm.engine.fills import FillProcessor
from hlmm.engine.gates import Gates
from hlmm.engine.market_model import MarketModel, MarketNotReady
from hlmm.engine.order_state import ASK, BID, SIDE_NAMES
from hlmm.engine.orders import OrderManager, OutboundAction
from hlmm.engine.plan import Cancel
from hlmm.engine.predictions import Predictions
from hlmm.engine.ratebudget import RateBudget
from hlmm.engine.reconcile import Reconciler, Target
from hlmm.engine.snapshot import AccountSnapshot, MarketInputs
from hlmm.engine.strategy import Quote, QuoteContext, Strategy
from hlmm.exchange import wire
from hlmm.exchange.assets import AssetInfo
from hlmm.log import get_logger

log = get_logger("engine.quote")
ladder_log = get_logger("strategy.ladder")
est_log = get_logger("estimators")

QUOTE_LOG_EVERY_MS = 5_000     # an unchanged cycle is logged at most this often (a changed one always)


@dataclass
class CoinState:
    """Per-coin state of the quote cycle."""

    coin: str
    asset: AssetInfo
    model: MarketModel
    book_changed_ms: int = 0          # local wall time the book's levels last changed
    book_frame_ms: int = 0            # local wall time of the last book frame
    last_levels: bytes = b""
    warm: bool = False
    warm_detail: str = "no data yet"
    cycles: int = 0
    last_logged_ms: int = 0
    last_tick_ns: int = 0             # receive time of the book frame that triggered the pending cycle
    first_quote: dict[str, Any] | None = None
    last_quote: Quote | None = None
    stale_since_ms: int | None = None
    recorded_inputs: list[tuple[str, Any]] | None = None
    regime: str = "-"
    sigma_bps: float = math.nan
    tox: tuple[float, float] = (0.0, 0.0)
    binding: tuple[str, str] = ("-", "-")
    account_cache: tuple | None = None   # (lots and frozen lots, account snapshot, the AccountState of them)


@dataclass
class CycleOutcome:
    """What one cycle sent (for callbacks, metrics and tests)."""

    coin: str
    actions: list[OutboundAction] = field(default_factory=list)
    post_ids: list[Any] = field(default_factory=list)   # per action: WebSocket post id, or "http"
    gated: Any = None
    quote: Quote | None = None
    latency_us: float = 0.0
    skipped: str = ""
    book_time_ms: int = 0          # exchange time of the book snapshot the cycle quoted on
    tick_ns: int | None = None     # receive time (monotonic ns) of the book frame that triggered it


class Quoter:
    """Runs quote cycles for every coin (see the module docstring)."""

    def __init__(self, coins: dict[str, CoinState], *, strategy: Strategy, manager: OrderManager,
                 reconciler: Reconciler, gates: Gates, rate: RateBudget, fills: FillProcessor,
                 predictions: Predictions, send: Callable[[OutboundAction], Any],
                 account: Callable[[], AccountSnapshot | None], wall_ms: Callable[[], int],
                 max_position_usd: Callable[[str], float],
                 on_cycle: Callable[[CycleOutcome], None] | None = None) -> None:
        self.coins = coins
        self.strategy = strategy
        self.manager = manager
        self.reconciler = reconciler
        self.gates = gates
        self.rate = rate
        self.fills = fills
        self.predictions = predictions
        self.send = send            # signs once and posts (the engine's executor path); returns the post id
        self.account = account
        self.wall_ms = wall_ms
        self.max_position_usd = max_position_usd
        self.on_cycle = on_cycle
        self.cycles = 0
        self.strategy_errors = 0

    # ------------------------------------------------------------------ inputs
    def account_state(self, st: CoinState) -> AccountState:
        """Position (exact), the exchange's free margin as is, and frozen orders per side in coins.

        The same state as the last cycle's is the same object (most cycles: nothing filled, nothing
        in flight, no new account snapshot)."""
        snap = self.account()
        pos = self.fills.position(st.coin)
        key = (pos.lots, pos.sz_decimals, self.manager.frozen_lots(st.coin, BID), self.manager.frozen_lots(st.coin, ASK))
        last = st.account_cache
        if last is not None and last[1] is snap and last[0] == key:
            return last[2]
        lot = 10.0 ** -st.asset.sz_decimals
        state = AccountState(
            # lots / 10**szDecimals is float(Position.size) (both the correctly rounded quotient), without Fractions
            position=pos.lots / 10 ** pos.sz_decimals,
            available_margin=snap.available_margin if snap is not None else 0.0,
            inflight_bid=key[2] * lot,
            inflight_ask=key[3] * lot,
            account_value=snap.account_value if snap is not None else None)
        st.account_cache = (key, snap, state)
        return state

    def _inputs(self, st: CoinState, d: dict[str, Any] | None, now_ms: int) -> MarketInputs:
        """The gates' inputs: from the snapshot's fields ``d`` (``MarketParams.to_dict()``) when the
        quote has one, else from the book."""
        book = st.model.book
        mid = book.mid() if book.two_sided else math.nan
        if d is not None:
            return MarketInputs(st.coin, now_ms, d["mid"], d["sigma"], d["kappa"], d["A"], d["as_bps"],
                                st.book_changed_ms, d["microprice"], d["regime"], d["tox_bid"], d["tox_ask"],
                                d["market_spread_bps"], st.warm, st.warm_detail)
        return MarketInputs(st.coin, now_ms, mid, math.nan, math.nan, math.nan, math.nan, st.book_changed_ms,
                            None, 1, 0.0, 0.0, book.spread_bps() if book.two_sided else 0.0, st.warm,
                            st.warm_detail)

    # ------------------------------------------------------------------ the cycle
    def cycle(self, coin: str) -> CycleOutcome:
        """One quote cycle for ``coin``; returns what it sent."""
        t0 = time.perf_counter_ns()
        st = self.coins[coin]
        now_ms = self.wall_ms()
        self.manager.release_cancel_holds(now_ms)
        out = CycleOutcome(coin, book_time_ms=st.model.book.time_ms)
        self._update_warm(st, now_ms)
        account = self.account_state(st)
        quote: Quote | None = None
        target: Ladder | Target = Target.empty()
        book = st.model.book
        if book.two_sided:
            max_pos = self.max_position_usd(coin) / book.mid()
            ctx = QuoteContext(coin, now_ms, st.asset, st.model, account, max_pos)
            if st.recorded_inputs is not None and st.first_quote is None:
                st.recorded_inputs.append(("quote", account))   # quoting samples toxicity: part of the inputs
            try:
                quote = self.strategy.quote(ctx)
                target = self._checked(st, quote.target)
            except MarketNotReady as exc:
                out.skipped = str(exc)
            except Exception as exc:   # a strategy bug pulls this coin's quotes, never the loop
                self.strategy_errors += 1
                log.error("error", where=f"engine.quote strategy {coin}", error=f"{type(exc).__name__}: {exc}")
                quote = None
        out.quote = quote
        d = quote.params.to_dict() if quote is not None and quote.params is not None else None   # once a cycle
        inputs = self._inputs(st, d, now_ms)
        position_lots = self.fills.position_lots(coin)
        mid_units = (book.best_bid_units() + book.best_ask_units()) // 2 if book.two_sided else 0
        s = st.model.strategy        # the coin's [strategy], per-coin overrides applied
        plan = self.reconciler.plan(coin, target, mid_units=mid_units, prefer=self.rate.scarcer(now_ms),
                                    price_tolerance_bps=s.requote_price_tolerance_bps,
                                    size_tolerance=s.requote_size_tolerance)
        gated = self._uncrossed(st, self.gates.apply(plan, inputs, position_lots, now_ms))
        out.gated = gated
        ladder = quote.ladder if quote is not None else None
        if ladder is not None and d is not None:
            max_pos = d["max_position"]
            self.predictions.begin_cycle(coin, ladder, as_bps=d["as_bps"], regime=d["regime"],
                                         position_frac=d["position"] / max_pos if max_pos > 0 else 0.0,
                                         now_ms=now_ms, signal_bps=(d["microprice"] - d["mid"]) / d["mid"] * 1e4)
        else:
            self.predictions.begin_cycle(coin, None, as_bps=0.0, regime=1, position_frac=0.0, now_ms=now_ms)
        if not gated.empty:
            actions = self.manager.submit(gated, now_ms, predict=self.predictions.predictor)
            for action in actions:
                out.post_ids.append(self.send(action))
            out.actions = actions
            if gated.modifies or gated.places:
                self.gates.note_requoted(coin, now_ms)
        st.cycles += 1
        self.cycles += 1
        st.last_quote = quote
        out.latency_us = (time.perf_counter_ns() - t0) / 1000
        self._record(st, quote, d, account, out, now_ms)
        if self.on_cycle is not None:
            self.on_cycle(out)
        return out

    def _checked(self, st: CoinState, target: Ladder | Target) -> Ladder | Target:
        """A custom target's levels that are not valid orders are dropped with the exchange's reason
        (a computed ladder is valid by construction; the mid is checked on what goes out:
        :meth:`_uncrossed`)."""
        if isinstance(target, Ladder):
            return target
        sides = []
        for side, px_list, sz_list in ((BID, target.bid_px, target.bid_sz), (ASK, target.ask_px, target.ask_sz)):
            px_out, sz_out = [int(px) for px in px_list], [int(sz) for sz in sz_list]
            for level, (px, sz) in enumerate(zip(px_out, sz_out)):
                why = wire.check_order(px, sz, st.asset) if sz > 0 else None
                if why is not None:
                    ladder_log.info("ladder_level_dropped", coin=st.coin, side=SIDE_NAMES[side], ladder_level=level,
                                    px=str(px), sz=str(sz), notional_usd=None, cause=why)
                    sz_out[level] = 0
            sides.append((px_out, sz_out))
        return Target(sides[0][0], sides[0][1], sides[1][0], sides[1][1])

    def _uncrossed(self, st: CoinState, gated: Any) -> Any:
        """The last guard before sending: a place or modify at or through the mid is not sent (a
        modify becomes a cancel), whatever produced it. Checks only what goes out, in integers."""
        book = st.model.book
        mid2 = book.best_bid_units() + book.best_ask_units()
        if mid2 <= 0:
            return gated

        def crossed(side: int, px: int) -> bool:
            return 2 * px >= mid2 if side == BID else 2 * px <= mid2

        bad = [p for p in gated.places if crossed(p.side, p.px_units)]
        bad_m = [m for m in gated.modifies if crossed(m.side, m.px_units)]
        if not bad and not bad_m:
            return gated
        for it in (*bad, *bad_m):
            log.warning("quote_crossed", coin=st.coin, side=SIDE_NAMES[it.side],
                        px=wire.price_to_wire(it.px_units, st.asset), mid=book.mid())
        gated.places = [p for p in gated.places if p not in bad]
        gated.modifies = [m for m in gated.modifies if m not in bad_m]
        gated.cancels = list(gated.cancels) + [Cancel(m.handle, m.coin, m.side, "quote_crossed") for m in bad_m]
        return gated

    def _update_warm(self, st: CoinState, now_ms: int) -> None:
        if st.warm:
            return
        w = st.model.warmup_status()
        if w.ready_to_quote:
            st.warm = True
            st.warm_detail = ""
            est_log.info("estimator_warm", coin=st.coin, elapsed_s=round(w.seconds_observed, 3), trades=w.trades,
                         book_updates=w.book_updates)
        else:
            req = w.required
            st.warm_detail = (f"{w.seconds_observed:.0f}/{req['min_seconds']:g} s, {w.trades}/{req['min_trades']:g} "
                              f"trades, {w.book_updates}/{req['min_book_updates']:g} book updates")

    def _record(self, st: CoinState, quote: Quote | None, d: dict[str, Any] | None, account: AccountState,
                out: CycleOutcome, now_ms: int) -> None:
        why = quote.why if quote is not None else None    # written or deferred: read without writing it
        if why is not None:
            st.regime = why.regime
            st.sigma_bps = why.sigma_bps
            st.tox = (why.toxicity_bid, why.toxicity_ask)
        ladder = quote.ladder if quote is not None else None
        if ladder is not None:
            st.binding = (ladder.bids.binding_reason, ladder.asks.binding_reason)
            if st.first_quote is None and out.actions:
                st.first_quote = {"account": account, "ladder": ladder_arrays(ladder), "now_ms": now_ms,
                                  "params": dict(d) if d is not None else None}
        changed = bool(out.actions)
        if not changed and now_ms - st.last_logged_ms < QUOTE_LOG_EVERY_MS:
            return
        st.last_logged_ms = now_ms
        # the live orders' mirror per side (the reconciler's): no scan of every order remembered
        bids = self.manager.live_side(st.coin, BID).entries()
        asks = self.manager.live_side(st.coin, ASK).entries()
        best_bid = max((e[1] for e in bids), default=None)
        best_ask = min((e[1] for e in asks), default=None)
        d = d if d is not None else {}
        book = st.model.book
        log.info("quote_cycle", coin=st.coin, cycle=st.cycles, mid=book.mid() if book.two_sided else None,
                 microprice=d.get("microprice"), sigma=d.get("sigma"), kappa=d.get("kappa"),
                 regime=REGIMES[d["regime"]] if "regime" in d else None, gamma=d.get("gamma"),
                 position=account.position, bid_levels=len(bids), ask_levels=len(asks),
                 bid_px=wire.price_to_wire(best_bid, st.asset) if best_bid else None,
                 ask_px=wire.price_to_wire(best_ask, st.asset) if best_ask else None,
                 bid_binding=st.binding[0], ask_binding=st.binding[1], latency_us=round(out.latency_us, 1))


def ladder_arrays(ladder: Ladder) -> dict[str, list[int]]:
    """A ladder's quoted levels as plain lists (price units, lots), touch first, for comparisons."""
    out = {}
    for name in ("bids", "asks"):
        s = ladder.side(name[:-1])
        q = np.asarray(s.quoted, dtype=bool)
        out[f"{name}_px"] = [int(x) for x in np.asarray(s.px_units)[q]]
        out[f"{name}_sz"] = [int(x) for x in np.asarray(s.sz_lots)[q]]
    return out
