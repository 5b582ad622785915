"""The engine's shutdown: cancel everything, wait for the exchange's confirmation, read its final
state, report.

Cancels the exchange refused are re-sent until each order is confirmed gone (or
``SHUTDOWN_CONFIRM_S`` passes); a final safety sync (over the WebSocket while it is up: no REST
weight) is the exchange's word on what is left, and orders still open on our coins are cancelled
and the sync repeated. Then the dead-man switch is disarmed, the last calibration report logged,
the learned parameters saved, and the session summary built. A mixin of
:class:`hlmm.engine.engine.Engine`.
"""
from __future__ import annotations

import time

from hlmm.engine.loop import wall_ms
from hlmm.engine.summary import SessionSummary
from hlmm.engine.sync import SyncResult, account_snapshot
from hlmm.exchange.errors import ExchangeError
from hlmm.log import get_logger

log = get_logger("engine")
cal_log = get_logger("calibration")

SHUTDOWN_CONFIRM_S = 20.0          # how long shutdown waits for the exchange to confirm the cancels
RECANCEL_EVERY_S = 2.0             # refused cancels are sent again this often


class ShutdownSteps:
    """Shutdown of the Engine (uses its loop, order manager, sync, executor and readout)."""

    def _shutdown(self) -> SessionSummary:
        reason = self._stopping or "stopped"
        log.info("shutdown", reason=reason, signal=reason if reason.startswith("SIG") else None)
        confirmed = self._cancel_and_confirm(reason)
        final = self._final_sync()
        if self.deadman.armed_until_ms is not None or self.deadman.pending_time_ms is not None:
            try:
                self._http(self.exchange.post_action, self.deadman.disarm_action())
            except ExchangeError as exc:
                log.warning("deadman_unavailable", reason=f"could not disarm at exit: {exc.text}")
        self._calibration_report(final=True)
        self.params_file = self._save_learned()
        open_left = final if final is not None else len(self.manager.live_orders())
        self.summary = self.readout.summary(reason, open_left, confirmed and open_left == 0)
        self.summary.log()
        if self.panel is not None:
            self._report_tick()
            self.panel.close()
        return self.summary

    def _cancel_and_confirm(self, reason: str) -> bool:
        """Stop quoting; cancel every live order and wait until the exchange confirms."""
        if self.manager is None or not self._ready:
            return True
        self._ready = False          # no more quote cycles
        return self._confirm_cancels(reason)

    def _confirm_cancels(self, reason: str) -> bool:
        """Cancel every live order; wait until the exchange confirms, re-sending refused cancels."""
        deadline = time.monotonic() + SHUTDOWN_CONFIRM_S
        last_sent = 0.0
        while self.manager.live_orders() and time.monotonic() < deadline:
            if time.monotonic() - last_sent >= RECANCEL_EVERY_S:
                last_sent = time.monotonic()
                self._cancel_all(f"shutdown ({reason})")
            self.loop.run_once(0.1)
            for query in self.manager.status_queries(wall_ms()):
                self._send_status_query(query)
        left = self.manager.live_orders()
        if left:
            log.error("error", where="engine.shutdown", error="cancels_not_confirmed",
                      detail=f"{len(left)} orders still live after {SHUTDOWN_CONFIRM_S:g} s: "
                             + ", ".join(o.describe() for o in left[:5]))
        return not left

    def _final_sync(self) -> int | None:
        """The exchange's word at exit: one more safety sync, over the WebSocket while it is up (no
        REST weight spent), else over HTTP. Orders still open on our coins (an answer lost, someone
        else's) are cancelled and the sync repeated. Returns how many stay open (None: unknown)."""
        result = self._sync_now()
        if result is None:
            return self._final_sync_http()
        if result.open_orders:
            log.warning("shutdown_cancel_all", reason="open at the final sync", coins=list(self.coins),
                        n_orders=result.open_orders, ok=None, error=None)
            self._confirm_cancels("final sync")
            result = self._sync_now() or result
        self.account = result.account
        self.readout.final_clearinghouse = dict(result.clearinghouse)
        return result.open_orders

    def _sync_now(self, timeout_s: float = 10.0) -> SyncResult | None:
        """Run a safety sync now over the WebSocket and wait for it (None if the socket is down or
        no sync completed in time)."""
        if not self.ws.connected or self.sync is None:
            return None
        asked = wall_ms()
        self.sync.start("final")
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            last = self.sync.last
            if last is not None and last.started_ms >= asked and not last.suspect:
                return last
            self.loop.run_once(0.1)
        return None

    def _final_sync_http(self) -> int | None:
        try:
            orders = [o for o in self._http(self.info.open_orders, self.user) if o.get("coin") in self.coins]
            if orders:
                cancels = [(self.registry[o["coin"]].asset_id, int(o["oid"])) for o in orders]
                results = self._http(self.exchange.cancel, cancels)
                log.warning("shutdown_cancel_all", reason="open at the final sync", coins=list(self.coins),
                            n_orders=len(cancels), ok=sum(r.ok for r in results), error=None)
                orders = [o for o in self._http(self.info.open_orders, self.user) if o.get("coin") in self.coins]
            ch = self._http(self.info.clearinghouse_state, self.user)
            self.account = account_snapshot(ch, int(ch.get("time") or wall_ms()))
            self.readout.final_clearinghouse = ch
            return len(orders)
        except ExchangeError as exc:
            log.error("error", where="engine.shutdown", error="final_sync_failed", detail=exc.text)
            return None

    def _save_learned(self) -> str | None:
        path = self.config.calibration.learned_file
        if not path:
            return None
        try:
            self.predictions.store.save_learned(path, session=f"{self.venue} {self.user}",
                                                spread_floor_bps=self.config.strategy.spread_floor_bps,
                                                base=self.config, logger=cal_log)
            return path
        except Exception as exc:   # the session's results must not be lost over a parameter file
            log.error("error", where="engine.save_learned", error=f"{type(exc).__name__}: {exc}")
            return None
