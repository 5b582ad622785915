"""The sim's network face: Hyperliquid's HTTP and WebSocket API on one port (aiohttp).

Routes (one host:port, like ``api.hyperliquid.xyz``):

* ``POST /info`` and ``POST /exchange``: JSON in, JSON out, answered by ``SimExchange``.
  A body that is not a JSON object gets 422 ``Failed to deserialize the JSON body into
  the target type``; a client IP over its weight budget (1200/min) gets 429.
* ``GET /ws``: the WebSocket API (subscriptions, ``ping``, ``post``).
* ``POST /sim/control`` (and ``GET`` to read): sim-only fault injection; see ``control``.

Everything runs on one asyncio loop.  ``SimExchange`` is synchronous; its listener
events are turned into frames and queued per connection on the spot, so the order
of frames on a socket is the order in which the exchange produced them.  A clock
task calls ``exchange.advance(now_ms)`` every ``clock_interval_ms`` and pushes
changed books every ``l2_book_interval_ms``.
"""
from __future__ import annotations

import asyncio
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

import orjson
from aiohttp import WSMsgType, web

from hlmm.log import get_logger
from hlmm.sim.errors import SimRequestError
from hlmm.sim.faults import FAULT_KEYS, FaultConfigError, TransportFaults
from hlmm.sim.subscriptions import (
    CHANNEL_TO_SUBSCRIPTION,
    USER_SUBSCRIPTIONS,
    SubscriptionError,
    subscription_key,
)

log = get_logger("sim.server")

BANNER = "Websocket connection established."
DESERIALIZE_ERROR = "Failed to deserialize the JSON body into the target type"
RATE_LIMIT_TEXT = "Too many requests: the IP weight limit ({limit} per minute) is exceeded"
PONG_FRAME = '{"channel":"pong"}'

# control-request keys beside the transport faults (FAULT_KEYS), with their meaning
CONTROL_KEYS = {
    "clear": "true: turn every transport and exchange fault off (applied first)",
    "drop_ws_now": 'true or "close": close every WebSocket now (code 1012); "abort": cut the TCP connections',
    "reject_next_orders": "the exchange rejects the next N signed orders",
    "freeze_book": 'true/false for every coin, or {"BTC": true}: the book neither changes nor is pushed',
}

@dataclass
class ServerOptions:
    """Transport settings of the sim server (mainnet's values by default)."""

    l2_book_interval_ms: int = 500      # l2Book push cadence; pushes only books that changed
    clock_interval_ms: int = 50         # how often exchange.advance(now) runs
    idle_timeout_s: float = 60.0        # drop a WS client that sent nothing for this long
    ip_weight_per_min: int = 1200       # REST weight budget per client IP
    max_queued_frames: int = 20000      # a client this far behind is disconnected
    max_subscriptions: int = 1000       # per connection
    max_users: int = 10                 # distinct users in user subscriptions, per connection


class WeightLimiter:
    """Per-IP token bucket: ``per_min`` weight per minute, refilled continuously.

    A request is admitted when the bucket holds its base weight (known before it
    runs); its full weight is charged afterwards (an info request's weight grows
    with the size of its response), so the bucket may go negative and later
    requests wait until it refills.
    """

    def __init__(self, per_min: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_min = per_min
        self._rate = per_min / 60.0
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}   # ip -> (tokens, last refill)

    def _level(self, ip: str) -> float:
        now = self._clock()
        tokens, last = self._buckets.get(ip, (float(self.per_min), now))
        tokens = min(float(self.per_min), tokens + (now - last) * self._rate)
        self._buckets[ip] = (tokens, now)
        return tokens

    def admits(self, ip: str, weight: int = 1) -> bool:
        return self._level(ip) >= weight

    def charge(self, ip: str, weight: int) -> None:
        tokens = self._level(ip)
        self._buckets[ip] = (tokens - weight, self._buckets[ip][1])

    def remaining(self, ip: str) -> float:
        return self._level(ip)


@dataclass(eq=False)
class _Conn:
    """One WebSocket client: its socket, outgoing queue and subscriptions."""

    ws: web.WebSocketResponse
    ip: str
    request: web.Request
    queue: deque = field(default_factory=deque)         # (not_before loop time, text)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    subs: dict = field(default_factory=dict)             # key -> subscription dict as sent
    closed: bool = False
    writer: asyncio.Task | None = None


class SimServer:
    """Serves one ``SimExchange`` over HTTP + WebSocket on one port."""

    def __init__(
        self,
        exchange: Any,
        *,
        options: ServerOptions | None = None,
        faults: TransportFaults | None = None,
        clock_ms: Callable[[], int] | None = None,
    ) -> None:
        self.exchange = exchange
        self.options = options or ServerOptions()
        self.faults = faults or TransportFaults()
        self.clock_ms = clock_ms or (lambda: int(time.time() * 1000))
        self.limiter = WeightLimiter(self.options.ip_weight_per_min)
        self.port: int | None = None
        self.host: str | None = None
        self._conns: set[_Conn] = set()
        self._index: dict[tuple, set[_Conn]] = {}           # subscription key -> conns
        self._last_bbo: dict[str, Any] = {}
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task] = []
        self._last_drop = time.monotonic()
        self._coins = self._read_coins()
        self.stats = {"http_requests": 0, "http_429": 0, "ws_connections": 0, "ws_dropped_by_fault": 0,
                      "ws_idle_closed": 0, "ws_slow_closed": 0, "frames_sent": 0, "advance_errors": 0}
        exchange.add_listener(self._on_exchange_event)

    # ------------------------------------------------------------------ lifecycle
    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_post("/info", self._handle_info)
        app.router.add_post("/exchange", self._handle_exchange)
        app.router.add_get("/ws", self._handle_ws)
        app.router.add_post("/sim/control", self._handle_control)
        app.router.add_get("/sim/control", self._handle_control)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Bind, start the clock, return the bound port (``port=0`` picks a free one)."""
        self._runner = web.AppRunner(self.make_app(), access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.host = host
        self.port = self._runner.addresses[0][1]
        self._tasks.append(asyncio.create_task(self._clock_loop(), name="sim-clock"))
        log.info("sim_start", host=host, port=self.port, coins=sorted(self._coins), seed=self.faults.seed)
        return self.port

    @property
    def url(self) -> str:
        host = self.host or "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    async def stop(self) -> None:
        """Stop the clock, close every WebSocket (1001 going away) and the listener."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
        self._tasks.clear()
        for conn in list(self._conns):
            await self._close_conn(conn, code=1001, message=b"server shutting down")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------------ HTTP
    async def _handle_info(self, request: web.Request) -> web.Response:
        return await self._rest(request, "info")

    async def _handle_exchange(self, request: web.Request) -> web.Response:
        return await self._rest(request, "exchange")

    async def _rest(self, request: web.Request, kind: str) -> web.Response:
        self.stats["http_requests"] += 1
        ip = request.remote or "unknown"
        raw = await request.read()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        if self.faults.take_forced_429() or not self.limiter.admits(ip, self._base_weight(kind, body)):
            self.stats["http_429"] += 1
            return web.Response(status=429, text=RATE_LIMIT_TEXT.format(limit=self.options.ip_weight_per_min))
        if not isinstance(body, dict):
            return web.Response(status=422, text=DESERIALIZE_ERROR)
        ok, result, weight = self._call_exchange(kind, body)
        self.limiter.charge(ip, weight)
        if not ok:
            status, text = result
            return web.Response(status=status, text=text)
        return web.Response(body=orjson.dumps(result), content_type="application/json")

    def _base_weight(self, kind: str, body: Any) -> int:
        """IP weight known before running a request (info: without per-item extras)."""
        if not isinstance(body, dict):
            return 1
        try:
            if kind == "info":
                return int(self.exchange.info_weight(body, None))
            return int(self.exchange.exchange_weight(body))
        except Exception:   # a body too odd to weigh is refused later with 422
            return 1

    def _call_exchange(self, kind: str, body: dict) -> tuple[bool, Any, int]:
        """Run one info/exchange request: (ok, response | (status, text), IP weight)."""
        weight = 1
        try:
            if kind == "info":
                response = self.exchange.handle_info(body)
                weight = self.exchange.info_weight(body, response)
            else:
                weight = self.exchange.exchange_weight(body)
                response = self.exchange.handle_exchange(body)
        except SimRequestError as exc:
            return False, (exc.status, exc.text), weight
        except Exception as exc:  # a sim bug must not kill the server; the client sees a 500
            _log_exception(f"sim.server {kind} request {str(body)[:200]}", exc)
            return False, (500, "internal error in the sim exchange (see the sim's log)"), weight
        return True, response, weight

    # ------------------------------------------------------------------ control
    async def _handle_control(self, request: web.Request) -> web.Response:
        settings: Any = {}
        if request.method == "POST":
            raw = await request.read()
            try:
                settings = orjson.loads(raw) if raw.strip() else {}
            except orjson.JSONDecodeError:
                return web.Response(status=400, text="control request body must be a JSON object")
        try:
            state = self.control(settings)
        except FaultConfigError as exc:
            return web.Response(status=400, text=str(exc))
        return web.Response(body=orjson.dumps(state), content_type="application/json")

    def control(self, settings: dict[str, Any]) -> dict[str, Any]:
        """Apply a control request (see the module doc and readme) and return the state.

        Keys: any transport fault of ``hlmm.sim.faults.FAULT_KEYS`` and the keys of
        ``CONTROL_KEYS`` (``reject_next_orders`` and ``freeze_book`` go to the
        exchange's own faults).  Validated as a whole before anything changes.
        """
        if not isinstance(settings, dict):
            raise FaultConfigError("control request body must be a JSON object")
        unknown = sorted(set(settings) - set(FAULT_KEYS) - set(CONTROL_KEYS))
        if unknown:
            raise FaultConfigError(f"unknown control key(s) {', '.join(map(repr, unknown))}; known: "
                                   f"{', '.join([*CONTROL_KEYS, *FAULT_KEYS])}")
        settings = dict(settings)
        clear = settings.pop("clear", False)
        drop = settings.pop("drop_ws_now", None)
        reject = settings.pop("reject_next_orders", None)
        freeze = settings.pop("freeze_book", None)
        if drop not in (None, False, True, "close", "abort"):
            raise FaultConfigError('drop_ws_now must be true, "close" or "abort"')
        if reject is not None and (isinstance(reject, bool) or not isinstance(reject, int) or reject < 0):
            raise FaultConfigError(f"reject_next_orders must be a whole number >= 0, got {reject!r}")
        if freeze is not None and not isinstance(freeze, bool) and not (
                isinstance(freeze, dict) and all(isinstance(v, bool) for v in freeze.values())):
            raise FaultConfigError(f'freeze_book must be true, false or {{"COIN": true|false}}, got {freeze!r}')
        if isinstance(freeze, dict):
            unknown = sorted(set(freeze) - self._coins)
            if unknown:
                raise FaultConfigError(f"freeze_book: unknown coin(s) {', '.join(unknown)}")
        if not isinstance(clear, bool):
            raise FaultConfigError(f"clear must be true or false, got {clear!r}")
        shown = {k: v for k, v in settings.items()}
        for name, value in (("clear", clear), ("drop_ws_now", drop), ("reject_next_orders", reject),
                            ("freeze_book", freeze)):
            if value not in (None, False):
                shown[name] = value
        if clear:
            self.faults.clear()
            self.exchange.faults.clear()
        self.faults.update(settings)    # validates all keys before applying any
        if "drop_ws_every_s" in settings:
            self._last_drop = time.monotonic()
        if reject is not None:
            self.exchange.faults.reject_next(reject)
        if isinstance(freeze, bool):
            self.exchange.faults.freeze_book(None, freeze)
        elif freeze is not None:
            for coin, on in freeze.items():
                self.exchange.faults.freeze_book(coin, on)
        if shown:
            log.info("sim_fault", fault="control", detail=orjson.dumps(shown).decode())
        dropped = 0
        if drop:
            dropped = self.drop_all_ws(abort=(drop == "abort"))
        return {"status": "ok", "faults": self.faults.to_dict(), "exchange_faults": self.exchange.faults.to_dict(),
                "ws_connections": len(self._conns), "dropped": dropped, "stats": dict(self.stats)}

    def drop_all_ws(self, *, abort: bool = False) -> int:
        """Disconnect every WebSocket client (a fault, or mainnet's routine restarts)."""
        conns = list(self._conns)
        for conn in conns:
            self.stats["ws_dropped_by_fault"] += 1
            if abort:
                conn.closed = True
                transport = conn.request.transport
                if transport is not None:
                    transport.abort()
            else:
                asyncio.ensure_future(self._close_conn(conn, code=1012, message=b"restart"))
        return len(conns)

    # ------------------------------------------------------------------ WebSocket
    async def _handle_ws(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(compress=False, autoping=True, max_msg_size=1024 * 1024)
        await ws.prepare(request)
        conn = _Conn(ws=ws, ip=request.remote or "unknown", request=request)
        self._conns.add(conn)
        self.stats["ws_connections"] += 1
        conn.writer = asyncio.create_task(self._writer(conn))
        self._enqueue(conn, BANNER)
        try:
            while not conn.closed:
                try:
                    msg = await ws.receive(timeout=self.options.idle_timeout_s)
                except asyncio.TimeoutError:
                    self.stats["ws_idle_closed"] += 1
                    log.info("sim_ws_closed", peer=conn.ip, reason=f"silent for {self.options.idle_timeout_s:g} s")
                    break
                if msg.type == WSMsgType.TEXT:
                    self._on_ws_text(conn, msg.data)
                elif msg.type == WSMsgType.BINARY:
                    self._send_error(conn, "Binary frames are not supported; send JSON text frames")
                else:   # CLOSE, CLOSING, CLOSED, ERROR
                    break
        finally:
            await self._close_conn(conn)
        return ws

    async def _writer(self, conn: _Conn) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                while not conn.queue:
                    conn.wake.clear()
                    await conn.wake.wait()
                not_before, text = conn.queue.popleft()
                delay = not_before - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                await conn.ws.send_str(text)
                self.stats["frames_sent"] += 1
        except (ConnectionError, RuntimeError):
            # the peer went away mid-send; the reader side cleans up
            conn.closed = True

    def _enqueue(self, conn: _Conn, text: str, delay_s: float = 0.0) -> None:
        if conn.closed:
            return
        if len(conn.queue) >= self.options.max_queued_frames:
            self.stats["ws_slow_closed"] += 1
            log.warning("sim_ws_closed", peer=conn.ip, reason=f"too slow: {len(conn.queue)} frames queued")
            conn.queue.clear()
            conn.closed = True          # nothing more is queued for it
            asyncio.ensure_future(self._close_conn(conn, code=1008, message=b"too slow"))
            return
        conn.queue.append((asyncio.get_running_loop().time() + delay_s, text))
        conn.wake.set()

    def _push(self, conn: _Conn, text: str) -> None:
        """Queue a data push through the push faults (drop / duplicate / delay)."""
        copies, delay = self.faults.push_plan()
        for _ in range(copies):
            self._enqueue(conn, text, delay)

    async def _close_conn(self, conn: _Conn, code: int = 1000, message: bytes = b"") -> None:
        already = conn.closed and conn not in self._conns
        conn.closed = True
        if conn in self._conns:
            self._conns.discard(conn)
            for key in list(conn.subs):
                self._unindex(conn, key)
            conn.subs.clear()
        if conn.writer is not None and conn.writer is not asyncio.current_task():
            conn.writer.cancel()
        if not already and not conn.ws.closed:
            try:
                await conn.ws.close(code=code, message=message)
            except (ConnectionError, RuntimeError, asyncio.CancelledError):
                pass

    def _send_error(self, conn: _Conn, text: str) -> None:
        self._enqueue(conn, orjson.dumps({"channel": "error", "data": text}).decode())

    def _on_ws_text(self, conn: _Conn, text: str) -> None:
        try:
            msg = orjson.loads(text)
        except orjson.JSONDecodeError:
            self._send_error(conn, f"Error parsing JSON into valid websocket request: {text[:200]}")
            return
        method = msg.get("method") if isinstance(msg, dict) else None
        if method == "ping":
            self._enqueue(conn, PONG_FRAME)
        elif method in ("subscribe", "unsubscribe"):
            try:
                self._subscription(conn, method, msg.get("subscription"))
            except SubscriptionError as exc:
                self._send_error(conn, str(exc))
        elif method == "post":
            self._post(conn, msg)
        else:
            self._send_error(conn, f"Error parsing JSON into valid websocket request: {text[:200]}")

    # ------------------------------------------------------------------ subscriptions
    def _read_coins(self) -> set[str]:
        meta = self.exchange.handle_info({"type": "meta"})
        return {asset["name"] for asset in meta["universe"]}

    def _subscription(self, conn: _Conn, method: str, sub: Any) -> None:
        key = subscription_key(sub, self._coins)
        shown = orjson.dumps(sub).decode()
        if method == "unsubscribe":
            if key not in conn.subs:
                raise SubscriptionError(f"Already unsubscribed: {shown}")
            del conn.subs[key]
            self._unindex(conn, key)
            self._ack(conn, method, sub)
            return
        if key in conn.subs:
            raise SubscriptionError(f"Already subscribed: {shown}")
        if len(conn.subs) >= self.options.max_subscriptions:
            raise SubscriptionError(f"Cannot subscribe to more than {self.options.max_subscriptions} channels.")
        if key[0] in USER_SUBSCRIPTIONS:
            users = {k[1] for k in conn.subs if k[0] in USER_SUBSCRIPTIONS}
            if key[1] not in users and len(users) >= self.options.max_users:
                raise SubscriptionError(f"Cannot track more than {self.options.max_users} total users.")
        conn.subs[key] = sub
        self._index.setdefault(key, set()).add(conn)
        self._ack(conn, method, sub)
        self._send_initial(conn, key)

    def _unindex(self, conn: _Conn, key: tuple) -> None:
        conns = self._index.get(key)
        if conns is not None:
            conns.discard(conn)
            if not conns:
                del self._index[key]

    def _ack(self, conn: _Conn, method: str, sub: dict) -> None:
        frame = {"channel": "subscriptionResponse", "data": {"method": method, "subscription": sub}}
        self._enqueue(conn, orjson.dumps(frame).decode())

    def _send_initial(self, conn: _Conn, key: tuple) -> None:
        """The snapshot a fresh subscriber gets right after the ack (so nothing is missed)."""
        kind = key[0]
        if kind == "l2Book":
            book = self.exchange.l2_book(key[1], key[2], key[3])
            self._push(conn, _frame("l2Book", book))
        elif kind == "userFills":
            fills = self.exchange.user_fills_snapshot(key[1])
            self._push(conn, _frame("userFills", {"isSnapshot": True, "user": key[1], "fills": fills}))
        elif kind == "allMids":
            mids = self.exchange.handle_info({"type": "allMids"})
            self._push(conn, _frame("allMids", {"mids": mids}))

    # ------------------------------------------------------------------ pushes
    def _on_exchange_event(self, channel: str, key: str | None, data: Any) -> None:
        """SimExchange listener: fan one event out to the subscribed sockets."""
        sub_type = CHANNEL_TO_SUBSCRIPTION.get(channel)
        if sub_type is None:
            return
        if channel == "bbo":
            bbo = data.get("bbo") if isinstance(data, dict) else None
            if self._last_bbo.get(key) == bbo:
                return
            self._last_bbo[key] = bbo
        index_key = ("allMids",) if sub_type == "allMids" else (sub_type, key)
        conns = self._index.get(index_key)
        if not conns:
            return
        text = _frame(channel, data)
        for conn in list(conns):
            self._push(conn, text)

    def _push_books(self) -> None:
        dirty = self.exchange.dirty_books()
        if not dirty:
            return
        for key, conns in list(self._index.items()):
            if key[0] != "l2Book" or key[1] not in dirty or not conns:
                continue
            text = _frame("l2Book", self.exchange.l2_book(key[1], key[2], key[3]))
            for conn in list(conns):
                self._push(conn, text)

    async def _clock_loop(self) -> None:
        loop = asyncio.get_running_loop()
        tick = self.options.clock_interval_ms / 1000.0
        book_every = self.options.l2_book_interval_ms / 1000.0
        next_book = loop.time() + book_every
        while True:
            try:
                self.exchange.advance(self.clock_ms())
            except Exception as exc:
                self.stats["advance_errors"] += 1
                if self.stats["advance_errors"] <= 10:
                    _log_exception("sim.server advance()", exc)
            now = loop.time()
            if now >= next_book:
                next_book = max(next_book + book_every, now)
                try:
                    self._push_books()
                except Exception as exc:
                    _log_exception("sim.server l2Book push", exc)
            every = self.faults.drop_ws_every_s
            if every > 0 and time.monotonic() - self._last_drop >= every:
                self._last_drop = time.monotonic()
                if self._conns:
                    log.info("sim_fault", fault="drop_ws", detail=f"{len(self._conns)} connection(s), every {every:g} s")
                    self.drop_all_ws()
            await asyncio.sleep(tick)

    # ------------------------------------------------------------------ post
    def _post(self, conn: _Conn, msg: dict) -> None:
        post_id = msg.get("id")
        request = msg.get("request")
        if isinstance(post_id, bool) or not isinstance(post_id, int) or post_id < 0:
            self._send_error(conn, f"Post request needs a non-negative integer id: {orjson.dumps(msg).decode()[:200]}")
            return
        kind = request.get("type") if isinstance(request, dict) else None
        payload = request.get("payload") if isinstance(request, dict) else None
        if kind not in ("info", "action") or not isinstance(payload, dict):
            response: dict[str, Any] = {"type": "error", "payload": f"422 Unprocessable Entity: {DESERIALIZE_ERROR}"}
        else:
            ok, result, _weight = self._call_exchange("info" if kind == "info" else "exchange", payload)
            if not ok:
                status, text = result
                response = {"type": "error", "payload": f"{status} {text}" if status != 422 else
                            f"422 Unprocessable Entity: {text}"}
            elif kind == "info":
                response = {"type": "info", "payload": {"type": payload.get("type"), "data": result}}
            else:
                response = {"type": "action", "payload": result}
        text = orjson.dumps({"channel": "post", "data": {"id": post_id, "response": response}}).decode()
        delay = self.faults.post_delay_ms / 1000.0
        if delay > 0:
            asyncio.get_running_loop().call_later(delay, self._enqueue, conn, text)
        else:
            self._enqueue(conn, text)


def _log_exception(where: str, exc: Exception) -> None:
    log.error("error", where=where, error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())


def _frame(channel: str, data: Any) -> str:
    return orjson.dumps({"channel": channel, "data": data}).decode()
