"""Prometheus metrics for ``hlmm trade --metrics-port N``, served from the engine's own loop.

:class:`Metrics` owns a private ``CollectorRegistry`` (several engines in one process never
share series). The engine feeds it the same :class:`~hlmm.engine.status.EngineStatus`
snapshot the status panel draws (``update``), plus latencies as they happen
(``observe_loop``, ``observe_cycle``, ``observe_tick_to_order``).

:class:`MetricsServer` answers ``GET /metrics`` on a non-blocking socket that the engine's
``select`` loop polls: no thread is started (``prometheus_client.start_http_server`` would
start one). A request is read in whatever pieces arrive; a client that sends nothing useful
for a few seconds is dropped.

Series (``hlmm_`` prefix): position, position_notional_usd, pnl_usd{component},
mid_usd, spread_bps{kind=market|quoted}, levels_quoted{side}, fills_total{side},
fill_volume_usd_total, markout_adverse_selection_bps{horizon}, rate_headroom_fraction,
ip_weight_used, address_requests_used / _cap, account_value_usd, model_score{model,score},
loop_busy_seconds, quote_cycle_seconds, tick_to_order_seconds, gate_active{gate},
kill_switch, ws_connected, ws_reconnects_total, loop_errors_total, open_orders.
"""
from __future__ import annotations

import math
import socket
import time
from typing import Any, Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from hlmm.engine.status import EngineStatus
from hlmm.log import get_logger

log = get_logger("engine.metrics")

_LATENCY_BUCKETS = (5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1.0)
_PNL_COMPONENTS = ("realized", "unrealized", "fees", "funding", "spread_capture", "adverse_selection",
                   "inventory", "total")


class Metrics:
    """Every hlmm series, in one private registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        coin = ["coin"]
        self.position = Gauge("hlmm_position", "Signed position in coins", coin, registry=r)
        self.notional = Gauge("hlmm_position_notional_usd", "Absolute position notional at mid", coin, registry=r)
        self.pnl = Gauge("hlmm_pnl_usd", "Session PnL by attribution component", ["coin", "component"], registry=r)
        self.mid = Gauge("hlmm_mid_usd", "Book mid price", coin, registry=r)
        self.spread = Gauge("hlmm_spread_bps", "Market spread and our quoted spread", ["coin", "kind"], registry=r)
        self.levels = Gauge("hlmm_levels_quoted", "Live orders per side", ["coin", "side"], registry=r)
        self.fills = Counter("hlmm_fills", "Fills of our orders", ["coin", "side"], registry=r)
        self.volume = Counter("hlmm_fill_volume_usd", "Filled notional", coin, registry=r)
        self.markout = Gauge("hlmm_markout_adverse_selection_bps", "Mean adverse selection after fills",
                             ["coin", "horizon"], registry=r)
        self.regime = Gauge("hlmm_volatility_regime", "0 low, 1 normal, 2 high, 3 extreme", coin, registry=r)
        self.gate = Gauge("hlmm_gate_active", "1 while a gate blocks (a side of) quoting", ["coin", "gate"],
                          registry=r)
        self.headroom = Gauge("hlmm_rate_headroom_fraction", "Address rate-budget headroom", registry=r)
        self.ip_weight = Gauge("hlmm_ip_weight_used", "IP weight spent in the last minute", registry=r)
        self.addr_used = Gauge("hlmm_address_requests_used", "Address requests used (userRateLimit)", registry=r)
        self.addr_cap = Gauge("hlmm_address_requests_cap", "Address request cap (userRateLimit)", registry=r)
        self.account_value = Gauge("hlmm_account_value_usd", "Account value at the last safety sync", registry=r)
        self.model = Gauge("hlmm_model_score", "Calibration scores per model", ["model", "score"], registry=r)
        self.kill = Gauge("hlmm_kill_switch", "1 once the kill switch fired", registry=r)
        self.ws_up = Gauge("hlmm_ws_connected", "1 while the WebSocket is connected", registry=r)
        self.reconnects = Counter("hlmm_ws_reconnects", "WebSocket reconnects", registry=r)
        self.loop_errors = Counter("hlmm_loop_errors", "Callbacks that raised (logged, survived)", registry=r)
        self.open_orders = Gauge("hlmm_open_orders", "Live orders, all coins", registry=r)
        self.loop_busy = Histogram("hlmm_loop_busy_seconds", "Work time of one loop iteration",
                                   buckets=_LATENCY_BUCKETS, registry=r)
        self.cycle = Histogram("hlmm_quote_cycle_seconds", "One quote cycle: snapshot to actions sent", coin,
                               buckets=_LATENCY_BUCKETS, registry=r)
        self.tick_to_order = Histogram("hlmm_tick_to_order_seconds", "Book frame received to order action sent",
                                       coin, buckets=_LATENCY_BUCKETS, registry=r)
        self._seen: dict[str, float] = {}
        self._gates: set[tuple[str, str]] = set()

    # ------------------------------------------------------------------ feeds
    def observe_loop(self, busy_s: float) -> None:
        self.loop_busy.observe(busy_s)

    def observe_cycle(self, coin: str, seconds: float) -> None:
        self.cycle.labels(coin).observe(seconds)

    def observe_tick_to_order(self, coin: str, seconds: float) -> None:
        self.tick_to_order.labels(coin).observe(seconds)

    def update(self, s: EngineStatus) -> None:
        """Set every gauge from a status snapshot; counters advance by what is new since the last one."""
        for a in s.assets:
            c = a.coin
            self.position.labels(c).set(a.position)
            self.notional.labels(c).set(a.notional_usd)
            pnl = a.pnl.to_dict()
            for comp in _PNL_COMPONENTS:
                self.pnl.labels(c, comp).set(pnl[comp])
            _set(self.mid.labels(c), a.mid)
            _set(self.spread.labels(c, "market"), a.market_spread_bps)
            _set(self.spread.labels(c, "quoted"), a.quoted_spread_bps)
            self.levels.labels(c, "bid").set(a.levels_bid)
            self.levels.labels(c, "ask").set(a.levels_ask)
            self._advance(self.fills.labels(c, "bid"), f"fills:{c}:bid", a.fills_bid)
            self._advance(self.fills.labels(c, "ask"), f"fills:{c}:ask", a.fills_ask)
            self._advance(self.volume.labels(c), f"volume:{c}", a.volume_usd)
            for horizon, value in a.markouts_bps.items():
                _set(self.markout.labels(c, horizon), value)
            self.regime.labels(c).set(_REGIMES.get(a.regime, -1))
            active = {(c, g) for g in a.gates}
            for key in self._gates - active:
                if key[0] == c:
                    self.gate.labels(*key).set(0)
            for key in active:
                self.gate.labels(*key).set(1)
            self._gates = {k for k in self._gates if k[0] != c} | active
        _set(self.headroom, s.rate_headroom)
        self.ip_weight.set(s.ip_weight_used)
        self.addr_used.set(s.address_requests_used)
        self.addr_cap.set(s.address_requests_cap)
        _set(self.account_value, s.account_value)
        for model, scores in s.model_scores.items():
            for name, value in scores.items():
                if isinstance(value, (int, float)):
                    _set(self.model.labels(model, name), float(value))
        self.kill.set(1 if s.kill_switch else 0)
        self.ws_up.set(1 if s.ws_connected else 0)
        self._advance(self.reconnects, "reconnects", s.reconnects)
        self._advance(self.loop_errors, "loop_errors", s.loop_errors)
        self.open_orders.set(s.open_orders)

    def _advance(self, counter: Any, key: str, total: float) -> None:
        delta = total - self._seen.get(key, 0.0)
        if delta > 0:
            counter.inc(delta)
            self._seen[key] = total

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        return generate_latest(self.registry)


_REGIMES = {"low": 0, "normal": 1, "high": 2, "extreme": 3}


def _set(gauge: Any, value: float) -> None:
    gauge.set(value if math.isfinite(value) else math.nan)


class _Client:
    __slots__ = ("sock", "buf", "out", "since")

    def __init__(self, sock: socket.socket, now: float) -> None:
        self.sock = sock
        self.buf = b""
        self.out = b""
        self.since = now


class MetricsServer:
    """``GET /metrics`` over HTTP/1.0 on a non-blocking socket, polled by the engine's loop.

    The loop selects on the listening socket (``fileno``); ``poll`` accepts, reads and answers
    whatever is ready without blocking. Clients are served one response each, then closed.
    """

    MAX_REQUEST = 8192

    def __init__(self, metrics: Metrics, host: str = "127.0.0.1", port: int = 0, *,
                 client_timeout_s: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.metrics = metrics
        self.clock = clock
        self.client_timeout_s = client_timeout_s
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind((host, port))
        except OSError:
            self.sock.close()
            raise
        self.sock.listen(16)
        self.sock.setblocking(False)
        self.host = host
        self.port = self.sock.getsockname()[1]
        self._clients: dict[int, _Client] = {}
        self.served = 0

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def fileno(self) -> int:
        return self.sock.fileno() if self.sock is not None else -1

    def filenos(self) -> list[int]:
        """The listening socket and every client socket (the loop selects on all of them)."""
        if self.sock is None:
            return []
        return [self.sock.fileno(), *self._clients]

    def next_deadline(self) -> float | None:
        """When the oldest client times out (None without clients)."""
        if not self._clients:
            return None
        if any(c.out for c in self._clients.values()):   # a reply waits for socket space: retry soon
            return self.clock() + 0.01
        return min(c.since for c in self._clients.values()) + self.client_timeout_s

    def poll(self) -> None:
        if self.sock is None:
            return
        now = self.clock()
        while True:
            try:
                conn, _addr = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                log.warning("error", where="metrics accept", error=f"{type(exc).__name__}: {exc}")
                break
            conn.setblocking(False)
            self._clients[conn.fileno()] = _Client(conn, now)
        for fd, client in list(self._clients.items()):
            if self._serve(client, now):
                client.sock.close()
                del self._clients[fd]

    def _serve(self, c: _Client, now: float) -> bool:
        """Advance one client; True when it is finished (answered, gone or timed out)."""
        if not c.out:
            try:
                chunk = c.sock.recv(4096)
            except (BlockingIOError, InterruptedError):
                chunk = None
            except OSError:
                return True
            if chunk == b"":
                return True
            if chunk:
                c.buf += chunk
            if b"\r\n\r\n" in c.buf or b"\n\n" in c.buf:
                c.out = self._answer(c.buf)
            elif len(c.buf) > self.MAX_REQUEST:
                c.out = _response(431, b"request header too large\n", "text/plain")
            elif now - c.since > self.client_timeout_s:
                return True
            else:
                return False
        try:
            sent = c.sock.send(c.out)
        except (BlockingIOError, InterruptedError):
            return now - c.since > self.client_timeout_s
        except OSError:
            return True
        c.out = c.out[sent:]
        if c.out:
            return now - c.since > self.client_timeout_s
        self.served += 1
        return True

    def _answer(self, request: bytes) -> bytes:
        line = request.split(b"\n", 1)[0].decode("latin-1").strip()
        parts = line.split()
        if len(parts) < 2 or parts[0] not in ("GET", "HEAD"):
            return _response(405, b"only GET /metrics\n", "text/plain")
        path = parts[1].split("?", 1)[0]
        if path not in ("/metrics", "/"):
            return _response(404, b"not found: try /metrics\n", "text/plain")
        body = self.metrics.exposition()
        return _response(200, b"" if parts[0] == "HEAD" else body, CONTENT_TYPE_LATEST, len(body))

    def close(self) -> None:
        for client in self._clients.values():
            client.sock.close()
        self._clients.clear()
        if self.sock is not None:
            self.sock.close()
            self.sock = None  # type: ignore[assignment]


_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 431: "Request Header Fields Too Large"}


def _response(status: int, body: bytes, content_type: str, length: int | None = None) -> bytes:
    head = (f"HTTP/1.0 {status} {_REASONS[status]}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body) if length is None else length}\r\nConnection: close\r\n\r\n")
    return head.encode("latin-1") + body
