"""The Engine: several coins, one loop, the engine core, the exchange clients.

::

    engine = Engine(load_config("hlmm.toml"), "https://api.hyperliquid-testnet.xyz", credentials)
    engine.on_fill(lambda fill: print(fill.coin, fill.side, fill.px, fill.sz))
    summary = engine.run(duration_s=600)         # blocks; SIGINT/SIGTERM are the CLI's to route to stop()

Lifecycle (``run``):

1. **Start** (blocking requests): ``meta``; leverage set per coin (``risk.leverage`` capped at the
   coin's maximum); the position read from ``clearinghouseState`` is the baseline; the
   WebSocket connected and subscribed; estimators warmed from ``candleSnapshot``,
   ``recentTrades`` and ``l2Book``; then a first safety sync (open orders cancelled or adopted
   per ``risk.on_start``). Nothing is quoted before it completes.
2. **Trade**: the loop (:mod:`hlmm.engine.loop`) with, by priority: maintenance (dead-man
   re-arm, userRateLimit refresh, orderStatus of unknown orders, stale books, disconnects,
   the safety sync every ``rate.safety_sync_interval_s``), order and fill frames, market
   data, quote cycles (:mod:`hlmm.engine.quoting`), reports (status every second, calibration
   every ``calibration.report_interval_s``). Every reconnect runs a resync before quoting again.
3. **Stop** (``stop()``, ``duration_s``, the kill switch with ``kill_action = "stop"``): cancel
   everything, wait until the exchange confirms (re-sending cancels that were refused), a final
   sync, disarm the dead-man switch, the calibration report, learned parameters saved, and the
   :class:`~hlmm.engine.summary.SessionSummary` returned.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from hlmm import __version__
from hlmm.calibration.store import PredictionStore
from hlmm.config import Config
from hlmm.engine.deadman import DeadMan
from hlmm.engine.executor import OK, Answer, Executor
from hlmm.engine.feeds import FeedHandlers, Feeds
from hlmm.engine.fills import Fill, FillProcessor, FillReport
from hlmm.engine.gates import GateConfig, Gates
from hlmm.engine.loop import MAINTENANCE, QUOTE, REPORT, EventLoop, wall_ms
from hlmm.engine.market_model import MarketModel
from hlmm.engine.order_state import BID
from hlmm.engine.orders import OrderManager, OutboundAction
from hlmm.engine.predictions import Predictions
from hlmm.engine.quoting import CoinState, CycleOutcome, Quoter
from hlmm.engine.ratebudget import RateBudget
from hlmm.engine.readout import Readout
from hlmm.engine.shutdown import RECANCEL_EVERY_S, ShutdownSteps
from hlmm.engine.startup import StartupSteps
from hlmm.engine.reconcile import Reconciler
from hlmm.engine.snapshot import AccountSnapshot
from hlmm.engine.strategy import ModelStrategy, Strategy
from hlmm.engine.summary import OrderCounts, SessionSummary
from hlmm.engine.sync import SafetySync, SyncResult, account_snapshot
from hlmm.errors import ConfigError, VenueUnreachableError
from hlmm.exchange.assets import AssetRegistry
from hlmm.exchange.cloid import CloidFactory
from hlmm.exchange.errors import TransportError
from hlmm.exchange.http import ExchangeClient, InfoClient
from hlmm.exchange.keys import Credentials
from hlmm.exchange.ws import WsClient
from hlmm.log import get_logger

log = get_logger("engine")
orders_log = get_logger("engine.orders")
risk_log = get_logger("engine.risk")
cal_log = get_logger("calibration")

MAINTENANCE_EVERY_S = 1.0
ACCOUNT_REFRESH_S = 5.0            # free margin for the ladder between safety syncs
HAWKES_REFIT_S = 300.0
FUNDING_REFRESH_S = 300.0


@dataclass(frozen=True)
class FillEvent:
    """A fill as an embedder sees it (``Engine.on_fill``)."""

    coin: str
    side: str                 # "bid" (we bought) / "ask" (we sold)
    px: str
    sz: str
    fee: str
    tid: int
    oid: int
    cloid: str | None
    time_ms: int
    position: float           # the coin's position after the fill
    untracked: str | None     # the cause when no tracked order claimed it


class Engine(StartupSteps, ShutdownSteps):
    """Quotes ``config.assets.coins`` on ``url`` as ``credentials`` (see the module docstring).

    ``strategy``: replaces the model's ladder (:mod:`hlmm.engine.strategy`). ``venue``: a label
    for logs and the status line. ``record_inputs``: keep every input fed to each coin's market
    model until its first quote (tests compare that first ladder with ``hlmm ladder-preview``).
    """

    def __init__(self, config: Config, url: str, credentials: Credentials, *, strategy: Strategy | None = None,
                 venue: str | None = None, record_inputs: bool = False, store: PredictionStore | None = None,
                 config_file: str | None = None) -> None:
        self.config = config
        self.url = url
        self.credentials = credentials
        self.user = credentials.state_address.lower()
        self.venue = venue or url
        self.config_file = config_file
        self.strategy: Strategy = strategy or ModelStrategy()
        self.record_inputs = record_inputs
        self.coins = tuple(config.assets.coins)
        timeout = config.exchange.request_timeout_s
        self.loop = EventLoop()
        self.info = InfoClient(url, timeout=timeout)
        self.exchange = ExchangeClient(url, credentials, timeout=timeout)
        self.ws = WsClient(url, on_state=self._on_ws_state, ping_interval_s=config.exchange.ws_ping_interval_s,
                           post_timeout_s=timeout)
        self.predictions = Predictions(store)
        self.rate = RateBudget(ip_weight_per_minute=config.rate.ip_weight_per_minute,
                               min_headroom_fraction=config.rate.min_headroom_fraction,
                               refresh_interval_ms=int(config.rate.user_rate_limit_refresh_s * 1000))
        self.deadman = DeadMan(config.rate.deadman_seconds_ahead, config.rate.deadman_refresh_interval_s,
                               answer_timeout_s=timeout)
        self.executor = Executor(self.exchange, self.info, self.ws, self.loop, on_sent=self._on_sent)
        self.ws.on_late_reply = self.executor.on_late_reply
        # built in start(), once meta is known
        self.registry: AssetRegistry | None = None
        self.manager: OrderManager | None = None
        self.fills: FillProcessor | None = None
        self.gates: Gates | None = None
        self.sync: SafetySync | None = None
        self.quoter: Quoter | None = None
        self.coin_states: dict[str, CoinState] = {}
        self.feeds: Feeds | None = None
        self.account: AccountSnapshot | None = None
        self.account_start: AccountSnapshot | None = None
        self.readout = Readout(self)
        self.counts: dict[str, OrderCounts] = {c: OrderCounts() for c in self.coins}
        self._fill_cbs: list[Callable[[FillEvent], None]] = []
        self._status_cbs: list[Callable[[Any], None]] = []
        self._sync_cbs: list[Callable[[SyncResult], None]] = []
        self._cycle_cbs: list[Callable[[CycleOutcome], None]] = []
        self._scheduled: set[str] = set()
        self._last_cycle: dict[str, float] = {}
        self._tick_ns: dict[str, int] = {}
        self._resync_since_ms: int | None = None
        self._ready = False
        self._stopping: str | None = None
        self._kill_handled = False
        self._disconnect_cancel_ms = 0
        self._pnl_base: dict[str, float] = {}
        self.started_wall = time.time()
        self.started_mono = time.monotonic()
        self.reconnects = 0
        self.resyncs = 0
        self.untracked_fills = 0
        self.duplicate_fills = 0
        self.params_file: str | None = None
        self.summary: SessionSummary | None = None
        self.metrics = None        # hlmm.metrics.Metrics, set by the caller to publish
        self.panel = None          # hlmm.engine.status.StatusPanel, set by the caller to draw

    # ------------------------------------------------------------------ embedding API
    def on_fill(self, fn: Callable[[FillEvent], None]) -> None:
        """Call ``fn(FillEvent)`` for every fill applied (stream or sync, tracked or not)."""
        self._fill_cbs.append(fn)

    def on_status(self, fn: Callable[[Any], None]) -> None:
        """Call ``fn(EngineStatus)`` every status tick (once a second)."""
        self._status_cbs.append(fn)

    def on_sync(self, fn: Callable[[SyncResult], None]) -> None:
        """Call ``fn(SyncResult)`` after every completed safety sync (positions checked in lots)."""
        self._sync_cbs.append(fn)

    def on_cycle(self, fn: Callable[[CycleOutcome], None]) -> None:
        """Call ``fn(CycleOutcome)`` after every quote cycle."""
        self._cycle_cbs.append(fn)

    def stop(self, reason: str = "embedder") -> None:
        """Begin the shutdown (safe from a signal handler: it only sets a flag and wakes the loop)."""
        if self._stopping is None:
            self._stopping = reason
        self.loop.wakeup()

    @property
    def stopping(self) -> str | None:
        return self._stopping

    @property
    def kill_reason(self) -> str | None:
        g = self.gates
        return None if g is None or g.kill is None else f"{g.kill.reason}: {g.kill.detail}"

    def status(self):
        """The current :class:`~hlmm.engine.status.EngineStatus`."""
        return self.readout.status()

    # ------------------------------------------------------------------ run
    def run(self, duration_s: float | None = None) -> SessionSummary:
        """Start, trade until stopped (or ``duration_s``), shut down; returns the session summary."""
        try:
            self._start()
            if duration_s is not None:
                self.loop.call_later(duration_s, lambda: self.stop("duration"), MAINTENANCE, "duration")
            self.loop.run(until=lambda: self._stopping is not None)
            return self._shutdown()
        finally:
            self.ws.close()
            self.info.close()
            self.exchange.close()
            self.loop.close()

    def _start(self) -> None:
        cfg = self.config
        try:
            meta_ctxs = self._http(self.info.meta_and_asset_ctxs)
            self.rate.record_ip(20, wall_ms())
        except TransportError as exc:
            raise VenueUnreachableError(f"cannot reach {self.url}: {exc}") from None
        if not (isinstance(meta_ctxs, list) and len(meta_ctxs) == 2 and isinstance(meta_ctxs[1], list)):
            raise VenueUnreachableError(f"{self.url} answered metaAndAssetCtxs with {str(meta_ctxs)[:80]}")
        self.registry = AssetRegistry.from_meta(meta_ctxs[0])
        missing = [c for c in self.coins if c not in self.registry]
        if missing:
            raise ConfigError(f"assets.coins: {', '.join(missing)} not listed by {self.venue}'s meta",
                              hint=f"available: {', '.join(sorted(a.name for a in self.registry)[:20])}")
        log.info("session_start", version=__version__, venue=self.venue, account=self.user,
                 vault=self.credentials.vault_address, coins=list(self.coins), config_file=self.config_file,
                 pid=os.getpid())
        log.info("config_loaded", file=self.config_file, includes=[], warnings=cfg.warnings(), config=cfg.to_dict())
        self._build_core()
        self._on_asset_ctxs(meta_ctxs[1])
        self._set_leverage()
        self._read_baseline()
        self.sync = SafetySync(self.user, self.coins, self.executor, self.manager, self.fills, self.gates,
                               now_ms=wall_ms, on_fills=self._after_fills, on_done=self._on_sync,
                               on_status_query=self._send_status_query,
                               record_ip=lambda w: self.rate.record_ip(w, wall_ms()))
        self.sync.last_fill_ms = self.account_start.time_ms if self.account_start else None
        self.feeds = Feeds(self.ws, self.loop, self.coins, self.user, FeedHandlers(
            self._on_book, self._on_trades, self._on_order_updates, self._on_user_fills, self._on_user_events))
        try:
            self.ws.connect()
        except TransportError as exc:
            raise VenueUnreachableError(f"cannot open the WebSocket of {self.url}: {exc}") from None
        self.loop.add_source(self.ws)
        self._warm_from_history()
        self.sync.start("startup")
        deadline = time.monotonic() + 3 * cfg.exchange.request_timeout_s
        while self.sync.completed == 0 and time.monotonic() < deadline and self._stopping is None:
            self.loop.run_once(0.2)
        if self.sync.completed == 0 and self._stopping is None:
            raise VenueUnreachableError(f"the startup sync with {self.venue} did not complete "
                                        f"within {3 * cfg.exchange.request_timeout_s:g} s")
        self._ready = True
        self._schedule_timers()
        for coin in self.coins:
            self._want_quote(coin)

    def _build_core(self) -> None:
        """The trading parts, once the registry is known: order manager, fills, gates, one market
        model per coin and the quoter (no request is made; ``_start`` does the rest)."""
        cfg = self.config
        self.manager = OrderManager(self.registry, CloidFactory(), orphan_policy=cfg.risk.on_start,
                                    outcomes=self.predictions)
        horizons = tuple(int(round(h * 1000)) for h in cfg.calibration.markout_horizons_s)
        attr = 10_000 if 10_000 in horizons else horizons[-1]
        self.fills = FillProcessor(self.registry, self.manager, outcomes=self.predictions,
                                   markout_horizons_ms=horizons, attribution_horizon_ms=attr)
        self.gates = Gates(GateConfig.from_config(cfg), self.manager, self.rate, self.registry)
        for coin in self.coins:
            asset = self.registry[coin]
            model = MarketModel.from_config(cfg, asset)
            self.coin_states[coin] = CoinState(coin, asset, model, recorded_inputs=[] if self.record_inputs else None)
        limits = {coin: cfg.risk_for(coin).max_position_usd for coin in self.coins}   # the config is frozen
        self.quoter = Quoter(self.coin_states, strategy=self.strategy, manager=self.manager,
                             reconciler=Reconciler(self.manager,
                                                   price_tolerance_bps=cfg.strategy.requote_price_tolerance_bps,
                                                   size_tolerance=cfg.strategy.requote_size_tolerance),
                             gates=self.gates, rate=self.rate, fills=self.fills, predictions=self.predictions,
                             send=self._send, account=lambda: self.account, wall_ms=wall_ms,
                             max_position_usd=limits.__getitem__,
                             on_cycle=self._after_cycle)

    def _schedule_timers(self) -> None:
        cfg = self.config
        lp = self.loop
        lp.call_every(MAINTENANCE_EVERY_S, self._maintenance, MAINTENANCE, "maintenance", first_delay_s=0)
        lp.call_every(cfg.rate.safety_sync_interval_s, lambda: self.sync.start("periodic"), MAINTENANCE,
                      "safety sync")
        lp.call_every(ACCOUNT_REFRESH_S, self._refresh_account, MAINTENANCE, "account refresh")
        lp.call_every(1.0, self._risk_tick, QUOTE, "risk tick")
        lp.call_every(1.0, self._report_tick, REPORT, "status")
        lp.call_every(cfg.calibration.report_interval_s, self._calibration_report, REPORT, "calibration report")
        lp.call_every(HAWKES_REFIT_S, self._refit, REPORT, "hawkes refit")
        lp.call_every(FUNDING_REFRESH_S, self._refresh_funding, MAINTENANCE, "funding refresh")
        lp.on_iteration = self._on_iteration

    # ------------------------------------------------------------------ market data
    def _on_book(self, coin: str, raw: bytes, recv_ns: int) -> None:
        st = self.coin_states[coin]
        try:
            applied = st.model.on_book(raw, recv_ns)
        except ValueError as exc:       # a BookError: the book keeps its previous state
            log.warning("error", where="engine.book", error=type(exc).__name__, detail=f"{coin}: {exc}")
            return
        if not applied:
            return
        if st.recorded_inputs is not None and st.first_quote is None:
            st.recorded_inputs.append(("book", (raw, recv_ns)))
        now = wall_ms()
        st.book_frame_ms = now
        i = raw.find(b'"levels"')
        levels = raw[i:] if i >= 0 else raw
        if levels != st.last_levels:
            st.last_levels = levels
            st.book_changed_ms = now
        book = st.model.book
        if book.two_sided:
            self.fills.on_mid(coin, book.time_ms, book.mid())
        self._tick_ns.setdefault(coin, recv_ns)
        self._want_quote(coin)

    def _on_trades(self, coin: str, data: list) -> None:
        st = self.coin_states[coin]
        if st.recorded_inputs is not None and st.first_quote is None:
            st.recorded_inputs.append(("trades", data))
        st.model.on_trades(data)

    # ------------------------------------------------------------------ account frames
    def _on_order_updates(self, data: list) -> None:
        self.manager.on_order_updates(data, wall_ms())
        for coin in {e.get("order", {}).get("coin") for e in data if isinstance(e, dict)}:
            if coin in self.coin_states:
                self._want_quote(coin)

    def _on_user_fills(self, data: dict) -> None:
        report = self.fills.on_fills(data["fills"], wall_ms(), source="userFills")
        self._after_fills(report)

    def _on_user_events(self, data: dict) -> None:
        now = wall_ms()
        if isinstance(data.get("fills"), list):
            self._after_fills(self.fills.on_fills(data["fills"], now, source="user"))
        if isinstance(data.get("funding"), dict):
            self.fills.on_funding(data["funding"])
        if isinstance(data.get("nonUserCancel"), list):
            self.manager.on_non_user_cancel(data["nonUserCancel"], now)
            for coin in {e.get("coin") for e in data["nonUserCancel"] if isinstance(e, dict)}:
                if coin in self.coin_states:
                    self._want_quote(coin)
        if data.get("liquidation") is not None:
            risk_log.error("error", where="engine.user", error="liquidation", detail=str(data["liquidation"])[:300])

    def _after_fills(self, report: FillReport) -> None:
        self.duplicate_fills += report.duplicates
        if not report.applied:
            return
        self.rate.on_fill_volume(report.volume_usd)
        self.sync.note_fills(report)
        untracked = {id(f): cause for f, cause in report.untracked}
        self.untracked_fills += len(untracked)
        for f in report.applied:
            self.readout.on_fill(f)
            if self._fill_cbs:
                self._emit_fill(f, untracked.get(id(f)))
        self._check_account()
        for coin in report.coins:
            self._want_quote(coin)

    def _emit_fill(self, f: Fill, cause: str | None) -> None:
        event = FillEvent(f.coin, "bid" if f.side == BID else "ask", f.px, f.sz, str(float(f.fee)), f.tid, f.oid,
                          f.cloid, f.time_ms, float(self.fills.position(f.coin).size), cause)
        for fn in self._fill_cbs:
            try:
                fn(event)
            except Exception as exc:
                log.error("error", where="engine.on_fill callback", error=f"{type(exc).__name__}: {exc}")

    # ------------------------------------------------------------------ actions
    def _on_sent(self, kind: str, items: int, via: str) -> None:
        now = wall_ms()
        if kind in ("order", "batchModify", "cancel", "cancelByCloid"):
            self.rate.record_action(kind, items, now)
        elif via == "http":
            self.rate.record_ip(1 + items // 40, now)

    def _on_action_answer(self, action: OutboundAction, answer: Answer) -> None:
        now = wall_ms()
        m = self.manager
        if answer.kind == OK:
            rep = m.on_action_result(action.batch_id, answer.response, now)
        elif answer.kind == "error":
            if answer.rate_limited:   # blocks the REST transport only: the WebSocket path keeps going
                self.rate.on_rate_limited("ip", answer.error.text[:200] if answer.error else "429", now)
            rep = m.on_action_error(action.batch_id, answer.error, now, outcome_unknown=False)
        else:
            rep = m.on_action_timeout(action.batch_id, now)
        coins = self.readout.count_action(action, rep)
        if rep.rate_limited:
            self.rate.on_rate_limited("address", rep.error or "", now)
        if not answer.rate_limited:
            for reason in rep.rejects:
                self.gates.on_reject(now, reason)
        self._check_kill()
        for coin in coins:
            self._want_quote(coin)

    def _send_status_query(self, query: Any) -> None:
        body = {"type": "orderStatus", "user": self.user, "oid": query.ref}
        self.executor.send_info(body, lambda a, q=query: self._on_status_answer(q, a))

    def _on_status_answer(self, query: Any, answer: Answer) -> None:
        if answer.kind == OK and isinstance(answer.response, dict):
            self.manager.on_order_status(query, answer.response, wall_ms())
            self._want_quote(query.coin)

    # ------------------------------------------------------------------ quoting
    def _can_quote(self) -> bool:
        return self._ready and self._stopping is None and self.ws.connected and self._resync_since_ms is None

    def _want_quote(self, coin: str) -> None:
        """Schedule a quote cycle for ``coin`` (once; no sooner than the minimum requote interval)."""
        if coin in self._scheduled or not self._can_quote():
            return
        self._scheduled.add(coin)
        interval = self.coin_states[coin].model.strategy.min_requote_interval_ms / 1000.0
        due = max(self.loop.clock(), self._last_cycle.get(coin, 0.0) + interval + 0.002)
        self.loop.call_at(due, lambda c=coin: self._run_cycle(c), QUOTE, "quote cycle")

    def _run_cycle(self, coin: str) -> None:
        self._scheduled.discard(coin)
        if not self._can_quote():
            return
        self._last_cycle[coin] = self.loop.clock()
        self.quoter.cycle(coin)

    def _after_cycle(self, out: CycleOutcome) -> None:
        tick = self._tick_ns.pop(out.coin, None)
        out.tick_ns = tick
        if self.metrics is not None:
            self.metrics.observe_cycle(out.coin, out.latency_us / 1e6)
            if tick is not None and out.actions:
                self.metrics.observe_tick_to_order(out.coin, (time.monotonic_ns() - tick) / 1e9)
        self.readout.on_cycle(out)
        for fn in self._cycle_cbs:
            try:
                fn(out)
            except Exception as exc:
                log.error("error", where="engine.on_cycle callback", error=f"{type(exc).__name__}: {exc}")
        self._check_kill()

    # ------------------------------------------------------------------ maintenance
    def _maintenance(self) -> None:
        now = wall_ms()
        healthy = self.ws.connected and self._resync_since_ms is None and not (self.gates and self.gates.killed)
        if self.deadman.due(now, healthy):
            self.executor.send_action(self.deadman.action(now), self._on_deadman_answer, kind="scheduleCancel")
        if self.rate.refresh_due(now):
            body = self.rate.refresh_request(self.credentials.account_address.lower(), now)
            self.executor.send_info(body, self._on_rate_answer)
        for query in self.manager.status_queries(now):
            self._send_status_query(query)
        self.fills.poll_markouts()
        self.predictions.settle()

    def _on_deadman_answer(self, answer: Answer) -> None:
        now = wall_ms()
        if answer.kind == OK:
            resp = answer.response
            ok = isinstance(resp, dict) and resp.get("status") == "ok"
            self.deadman.on_result(ok, now, "" if ok else str(resp.get("response") if isinstance(resp, dict) else resp))
        elif answer.kind == "error":
            self.deadman.on_result(False, now, answer.error.text if answer.error else "refused")
        else:
            self.deadman.on_timeout(now)

    def _on_rate_answer(self, answer: Answer) -> None:
        if answer.kind == OK and isinstance(answer.response, dict):
            self.rate.on_user_rate_limit(answer.response, wall_ms())

    def _refresh_account(self) -> None:
        if not self.ws.connected:
            return
        self.executor.send_info({"type": "clearinghouseState", "user": self.user}, self._on_account_answer)

    def _on_account_answer(self, answer: Answer) -> None:
        if answer.kind != OK or not isinstance(answer.response, dict):
            return
        t = int(answer.response.get("time") or wall_ms())
        if self.account is None or t >= self.account.time_ms:
            self.account = account_snapshot(answer.response, t)
        self._check_account()

    def _refresh_funding(self) -> None:
        self.executor.send_info({"type": "metaAndAssetCtxs"}, self._on_ctxs_answer)

    def _on_ctxs_answer(self, answer: Answer) -> None:
        resp = answer.response
        if answer.kind == OK and isinstance(resp, list) and len(resp) == 2 and isinstance(resp[1], list):
            self._on_asset_ctxs(resp[1])

    def _on_asset_ctxs(self, ctxs: list) -> None:
        """Each coin's current funding rate into its model (the toxicity score reads it)."""
        for coin, st in self.coin_states.items():
            i = st.asset.asset_id
            ctx = ctxs[i] if 0 <= i < len(ctxs) and isinstance(ctxs[i], dict) else None
            try:
                rate = float(ctx["funding"]) if ctx is not None else math.nan
            except (KeyError, TypeError, ValueError):
                rate = math.nan
            if math.isfinite(rate):
                st.model.on_funding(rate)
                if st.recorded_inputs is not None and st.first_quote is None:
                    st.recorded_inputs.append(("funding", rate))

    def _risk_tick(self) -> None:
        """Every second: stale books, long disconnects, the account limits; and a quote cycle per coin
        so that a gate that starts blocking pulls the quotes even when no book arrives."""
        if not self._ready or self._stopping is not None:
            return
        now = wall_ms()
        limit_ms = self.config.risk.stale_book_s * 1000
        kill_ms = limit_ms + self.config.risk.max_disconnected_s * 1000
        for coin, st in self.coin_states.items():
            age = now - st.book_changed_ms
            if age > limit_ms and self.ws.connected and self._resync_since_ms is None:
                if st.stale_since_ms is None:
                    st.stale_since_ms = now
                    risk_log.warning("book_stale", coin=coin, age_s=round(age / 1000, 3),
                                     threshold_s=self.config.risk.stale_book_s)
                if age > kill_ms:
                    self.gates.fire("stale_book", f"{coin} book unchanged for {age / 1000:.1f} s "
                                                  f"(stale after {limit_ms / 1000:g} s, kill after "
                                                  f"{kill_ms / 1000:g} s)", now)
            elif age <= limit_ms:
                st.stale_since_ms = None
        if not self.ws.connected or self._resync_since_ms is not None:
            if self.gates.disconnected_too_long(now) and self.manager.live_orders() and \
                    now - self._disconnect_cancel_ms >= RECANCEL_EVERY_S * 1000:
                self._disconnect_cancel_ms = now
                self._cancel_all("disconnected")
        self._check_account()
        for coin in self.coins:
            self._want_quote(coin)

    def _check_account(self) -> None:
        if self.gates is None:
            return
        pnl, notional = self.readout.session_pnl()
        value = self.account.account_value if self.account is not None else None
        self.gates.on_account(wall_ms(), pnl, value if value is not None and math.isfinite(value) else None,
                              notional)
        self._check_kill()

    def _check_kill(self) -> None:
        g = self.gates
        if g is None or g.kill is None or self._kill_handled:
            return
        self._kill_handled = True
        now = wall_ms()
        if g.kill.action == "stop":
            self._cancel_all(f"kill_switch: {g.kill.reason}")
            if self.deadman.enabled:   # the earliest scheduled cancel allowed: a backstop behind the cancels
                self.executor.send_action(self.deadman.kill_action(now), self._on_deadman_answer,
                                          kind="scheduleCancel")
            self.stop("kill_switch")

    def _cancel_all(self, reason: str) -> int:
        actions = self.manager.cancel_all(wall_ms(), reason=reason)
        for a in actions:
            self._send(a)
        n = sum(a.n for a in actions)
        if n:
            orders_log.info("shutdown_cancel_all", reason=reason, coins=list(self.coins), n_orders=n, ok=None,
                            error=None)
        return n

    def _send(self, action: OutboundAction) -> int | str:
        post_id = self.executor.send_action(action.action, lambda ans, a=action: self._on_action_answer(a, ans),
                                            kind=action.kind, items=action.n)
        self.manager.mark_sent(action.batch_id, post_id, wall_ms())
        self.readout.count_sent(action)
        return post_id

    # ------------------------------------------------------------------ connection
    def _on_ws_state(self, event: str, detail: dict) -> None:
        now = wall_ms()
        if event == "disconnected":
            self.gates and self.gates.on_connection(False, now)
            if self._ready:
                self._resync_since_ms = now
        elif event == "connected" and detail.get("reconnect"):
            self.reconnects += 1
        elif event == "resubscribed":
            self.gates and self.gates.on_connection(True, now)
            if self._ready:
                self._resync_since_ms = now
                self.resyncs += 1
                self.sync.start("resync")

    def _on_sync(self, result: SyncResult) -> None:
        if self.account is None or result.account.time_ms >= self.account.time_ms:
            self.account = result.account
        if self._resync_since_ms is not None and result.started_ms >= self._resync_since_ms and \
                not result.suspect and self.ws.connected:
            self._resync_since_ms = None
            self.gates.on_resynced()
            for coin in self.coins:
                self._want_quote(coin)
        for fn in self._sync_cbs:
            try:
                fn(result)
            except Exception as exc:
                log.error("error", where="engine.on_sync callback", error=f"{type(exc).__name__}: {exc}")
        self._check_account()

    # ------------------------------------------------------------------ reports
    def _on_iteration(self, busy_s: float) -> None:
        self.readout.on_iteration(busy_s)
        if self.metrics is not None:
            self.metrics.observe_loop(busy_s)

    def _report_tick(self) -> None:
        status = self.readout.status()
        if self.panel is not None:
            self.panel.update(status)
        if self.metrics is not None:
            self.metrics.update(status)
        for fn in self._status_cbs:
            try:
                fn(status)
            except Exception as exc:
                log.error("error", where="engine.on_status callback", error=f"{type(exc).__name__}: {exc}")

    def _calibration_report(self, final: bool = False) -> None:
        # at exit, fills younger than the longest markout horizon still report what they reached
        self.fills.poll_markouts(flush=final)
        self.predictions.resolve_due(final)
        self.predictions.store.log_report(cal_log)

    def _refit(self) -> None:
        for st in self.coin_states.values():
            st.model.refit_hawkes()

    def started_iso(self) -> str:
        return datetime.fromtimestamp(self.started_wall, timezone.utc).isoformat(timespec="milliseconds")


__all__ = ["Engine", "FillEvent"]
