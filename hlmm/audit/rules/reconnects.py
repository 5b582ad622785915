"""Reconnects, reconnect storms and long WebSocket outages.

Reads ``ws_disconnected``, ``ws_reconnect`` and ``ws_connected``.  A storm is
``--reconnect-storm`` (default 5) reconnects within ``--reconnect-window`` (600 s): warning.  An
outage (disconnect to the next connect) longer than ``risk.max_disconnected_s``: warning.  Other
reconnects: info.
"""
from __future__ import annotations

from collections import deque

from hlmm.audit.context import AuditContext, Rule
from hlmm.audit.findings import Finding, Severity
from hlmm.audit.records import Event


class ReconnectStorms(Rule):
    """WebSocket reconnect storms and outages."""

    id = "reconnect_storm"
    events = ("ws_disconnected", "ws_reconnect", "ws_connected")
    look_at = ["exchange.ws_ping_interval_s", "exchange.ws (reconnect backoff)", "risk.max_disconnected_s",
               "network / venue status"]

    def __init__(self, ctx: AuditContext) -> None:
        super().__init__(ctx)
        self.reconnects = ctx.tally()
        self.storm = ctx.tally()
        self.outages = ctx.tally()
        self.peak = 0
        self.longest_s = 0.0
        self._window: deque[int] = deque()
        self._down_since: int | None = None

    def on_ws_disconnected(self, ev: Event) -> None:
        if self._down_since is None:
            self._down_since = ev.ts

    def on_ws_connected(self, ev: Event) -> None:
        if self._down_since is None:
            return
        seconds = (ev.ts - self._down_since) / 1000.0
        self.longest_s = max(self.longest_s, seconds)
        limit = self.ctx.config.number("risk.max_disconnected_s") or 10.0
        if seconds > limit:
            self.ctx.hit(self.outages, ev)
        self._down_since = None

    def on_ws_reconnect(self, ev: Event) -> None:
        self.ctx.hit(self.reconnects, ev)
        opts = self.ctx.options
        q = self._window
        q.append(ev.ts)
        while q and q[0] <= ev.ts - opts.reconnect_storm_window_s * 1000:
            q.popleft()
        if len(q) >= opts.reconnect_storm_count:
            self.ctx.hit(self.storm, ev)
            self.peak = max(self.peak, len(q))

    def findings(self) -> list[Finding]:
        out = []
        opts = self.ctx.options
        if self.storm:
            out.append(Finding(
                id=self.id, severity=Severity.WARNING, count=self.reconnects.count,
                title=f"reconnect storm: up to {self.peak} reconnects within {opts.reconnect_storm_window_s:g} s "
                      f"({self.reconnects.count} in all)",
                first_ms=self.reconnects.first_ms, last_ms=self.reconnects.last_ms, examples=self.reconnects.examples,
                cause="the connection keeps dropping: missed pings, a slow consumer the server closes, or network "
                      "trouble; each reconnect resubscribes and resyncs",
                look_at=self.look_at, detail={"reconnects": self.reconnects.count, "peak_in_window": self.peak,
                                              "longest_outage_s": self.longest_s}))
        elif self.reconnects:
            out.append(self.reconnects.finding(
                "reconnects", Severity.INFO, f"{self.reconnects.count} WebSocket reconnects",
                "disconnects happen; hlmm resubscribes and resyncs", self.look_at,
                {"longest_outage_s": self.longest_s}))
        if self.outages:
            limit = self.ctx.config.number("risk.max_disconnected_s") or 10.0
            out.append(self.outages.finding(
                "ws_outage", Severity.WARNING,
                f"{self.outages.count} WebSocket outages longer than {limit:g} s (longest {self.longest_s:.1f} s)",
                "orders stayed on the book while hlmm was blind; after risk.max_disconnected_s it must cancel all",
                self.look_at, {"longest_outage_s": self.longest_s, "limit_s": limit}))
        return out
