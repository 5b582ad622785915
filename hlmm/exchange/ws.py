"""WebSocket client for Hyperliquid's ``/ws`` API, driven by the caller's ``select`` loop.

No threads: the engine's one loop selects on ``fileno()`` and calls ``poll()``, which
drains every frame already received (including data buffered inside TLS), dispatches
each to the callbacks registered for its channel, then runs the client's timers
(ping, pong watchdog, post timeouts, reconnect).  ``next_deadline()`` tells the loop
when the next timer is due, so a loop that blocks in ``select`` wakes in time.

* Subscriptions are remembered and re-sent after every reconnect; ``on_state`` hears
  ``connected``, ``disconnected`` and, once every re-sent subscription is
  acknowledged, ``resubscribed`` (the moment to resync local state).
* ``post_info`` / ``post_action`` return a ``PendingPost`` at once; the reply is
  matched by id in a later ``poll()``.  No reply within the timeout is NOT a
  rejection: the handle ends in ``timeout`` with ``outcome_unknown`` set, and a late
  reply is still recorded on it (and reported to ``on_late_reply``).
* A malformed frame (not JSON, wrong shape) is logged and counted, never fatal.
  A callback that raises is logged and counted too; the loop goes on.

Dispatch is cheap on purpose: the channel name is read from the frame's first bytes
(``{"channel":"..."``) without parsing; callbacks registered with ``raw=True`` get the
frame bytes untouched (the Cython book parses them itself), the others get the
decoded ``data`` (decoded once per frame with orjson).
"""
from __future__ import annotations

import random
import select
import socket
import ssl
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Literal

import orjson
import websocket
from websocket import ABNF

from hlmm.exchange.errors import ConnectError, ConnectionLost, ExchangeError, PostError, RequestTimeout
from hlmm.exchange.urls import ws_url
from hlmm.log import get_logger

log = get_logger("exchange.ws")

BANNER = b"Websocket connection established."
_PREFIX = b'{"channel":"'
_PREFIX_LEN = len(_PREFIX)
_PING = '{"method":"ping"}'
_INTERNAL = (b"pong", b"post", b"subscriptionResponse", b"error")
# Channels Hyperliquid sends (protocol reference §WS), counted per name in ``stats.by_channel``
# with those a caller listens on; any other name goes to one bucket so a broken or hostile server
# cannot grow the counters for a whole session.
KNOWN_CHANNELS = frozenset(name.encode() for name in (
    "allMids", "l2Book", "trades", "bbo", "candle", "orderUpdates", "user", "userFills", "userFundings",
    "userNonFundingLedgerUpdates", "activeAssetCtx", "activeSpotAssetCtx", "activeAssetData", "webData2",
    "webData3", "notification", "twapStates", "clearinghouseState", "openOrders", "userTwapSliceFills",
    "userTwapHistory", "spotState", "allDexsClearinghouseState", "allDexsAssetCtxs", "fastAssetCtxs",
)) | frozenset(_INTERNAL)
OTHER_CHANNELS = b"(other)"

StateEvent = Literal["connected", "disconnected", "resubscribed"]
PostState = Literal["pending", "ok", "error", "timeout", "lost"]


@dataclass(eq=False)
class PendingPost:
    """One WebSocket post in flight, and later its outcome.

    ``state``: ``pending`` → ``ok`` (``response`` holds the info data or the /exchange
    JSON), ``error`` (the server answered with an error payload: ``error``), ``timeout``
    or ``lost`` (connection dropped after sending): for an action these two mean the
    outcome is unknown.  A reply arriving after ``timeout`` sets ``late`` and
    ``response``/``error`` without changing ``state``.
    """

    id: int
    kind: Literal["info", "action"]
    payload: dict
    sent_at: float
    deadline: float
    callback: Callable[["PendingPost"], None] | None = None
    state: PostState = "pending"
    response: Any = None
    error: ExchangeError | None = None
    late: bool = False
    answered_at: float | None = None

    @property
    def done(self) -> bool:
        return self.state != "pending"

    @property
    def outcome_unknown(self) -> bool:
        return self.state in ("timeout", "lost") and not self.late


@dataclass
class _Handler:
    callback: Callable[[Any], None]
    raw: bool


@dataclass
class WsStats:
    """Counters a caller (or the metrics module) can read at any time."""

    frames: int = 0
    malformed: int = 0
    handler_errors: int = 0
    unhandled: int = 0
    connects: int = 0
    disconnects: int = 0
    posts: int = 0
    post_timeouts: int = 0
    late_replies: int = 0
    server_errors: int = 0
    by_channel: dict = field(default_factory=dict)  # channel -> frames; unknown names under OTHER_CHANNELS


def subscription_key(subscription: dict[str, Any]) -> str:
    """A canonical identity of a subscription (user addresses compared in lower case)."""
    norm = {k: (v.lower() if k == "user" and isinstance(v, str) else v) for k, v in subscription.items()}
    return orjson.dumps(norm, option=orjson.OPT_SORT_KEYS).decode()


class WsClient:
    """Hyperliquid WebSocket client for a ``select`` loop (see the module docstring)."""

    def __init__(
        self,
        url: str,
        *,
        on_state: Callable[[StateEvent, dict], None] | None = None,
        on_late_reply: Callable[[PendingPost], None] | None = None,
        ping_interval_s: float = 50.0,
        pong_timeout_s: float = 15.0,
        post_timeout_s: float = 10.0,
        connect_timeout_s: float = 10.0,
        io_timeout_s: float = 5.0,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        stable_after_s: float = 10.0,
        seed: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sslopt: dict | None = None,
    ) -> None:
        self.url = ws_url(url)
        self.on_state = on_state
        self.on_late_reply = on_late_reply
        self.ping_interval_s = ping_interval_s
        self.pong_timeout_s = pong_timeout_s
        self.post_timeout_s = post_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.io_timeout_s = io_timeout_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.stable_after_s = stable_after_s
        self.stats = WsStats()
        self.banner: str | None = None
        self._rng = random.Random(seed)
        self._clock = clock
        self._sslopt = sslopt
        self._ws: websocket.WebSocket | None = None
        self._handlers: dict[bytes, list[_Handler]] = {}
        self._parsed_channels: set[bytes] = set()       # channels with at least one decoded-data handler
        self._subs: dict[str, dict] = {}             # key -> subscription, in subscribe order
        self._acked: set[str] = set()
        self._awaiting_resub: set[str] | None = None  # keys to ack before "resubscribed"
        self._posts: dict[int, PendingPost] = {}
        self._expired: dict[int, PendingPost] = {}    # timed out, kept a while for late replies
        self._next_id = 1
        self._attempt = 0
        self._reconnect_at: float | None = None
        self._closed = False
        self._ever_connected = False
        self._connected_at = 0.0
        self._last_send = 0.0
        self._last_recv = 0.0
        self._ping_sent_at: float | None = None

    # ------------------------------------------------------------------ public API
    @property
    def connected(self) -> bool:
        return self._ws is not None

    @property
    def subscriptions(self) -> list[dict]:
        """Subscriptions to keep (re-sent on every reconnect), in subscribe order."""
        return list(self._subs.values())

    def is_acked(self, subscription: dict) -> bool:
        """True once the server acknowledged this subscription on the current connection."""
        return subscription_key(subscription) in self._acked

    def on(self, channel: str, callback: Callable[[Any], None], *, raw: bool = False) -> None:
        """Call ``callback(data)`` for each frame of ``channel`` (``callback(frame_bytes)`` if raw).

        Channels are the server's: ``l2Book``, ``trades``, ``bbo``, ``allMids``,
        ``orderUpdates``, ``userFills``, ``user`` (userEvents), and ``error``.
        """
        self._handlers.setdefault(channel.encode(), []).append(_Handler(callback, raw))
        if not raw:
            self._parsed_channels.add(channel.encode())

    def connect(self) -> None:
        """Open the connection now (blocking, ``connect_timeout_s``); raise ``ConnectError`` on failure.

        Sends every remembered subscription.  After ``close()`` the client stays closed.
        """
        if self._closed:
            raise ConnectError("this WsClient was closed")
        if self._ws is not None:
            return
        self._open()

    def start(self) -> bool:
        """Connect if possible, otherwise schedule reconnects; True if connected now."""
        try:
            self.connect()
            return True
        except ConnectError as exc:
            self._schedule_reconnect(str(exc))
            return False

    def close(self) -> None:
        """Close for good: pending posts end as ``lost``; no reconnect."""
        self._closed = True
        self._reconnect_at = None
        if self._ws is not None:
            self._drop("closed by the client", notify=True, graceful=True)

    def fileno(self) -> int:
        """The socket's fd for ``select`` (-1 while disconnected: wait on ``next_deadline``)."""
        if self._ws is None or self._ws.sock is None:
            return -1
        return self._ws.sock.fileno()

    def has_buffered(self) -> bool:
        """True if TLS holds decrypted bytes that ``select`` cannot see: call ``poll`` now."""
        if self._ws is None:
            return False
        sock = self._ws.sock
        return isinstance(sock, ssl.SSLSocket) and sock.pending() > 0

    def subscribe(self, subscription: dict[str, Any]) -> None:
        """Subscribe now (or on connect) and keep the subscription across reconnects."""
        key = subscription_key(subscription)
        if key in self._subs:
            return
        self._subs[key] = dict(subscription)
        if self._ws is not None:
            self._send_json({"method": "subscribe", "subscription": subscription})
            log.debug("subscribe", subscription=subscription)

    def unsubscribe(self, subscription: dict[str, Any]) -> None:
        """Stop a subscription and forget it (no resubscribe)."""
        key = subscription_key(subscription)
        sub = self._subs.pop(key, None)
        self._acked.discard(key)
        if sub is not None and self._ws is not None:
            self._send_json({"method": "unsubscribe", "subscription": sub})

    def post_info(self, payload: dict[str, Any], callback: Callable[[PendingPost], None] | None = None,
                  timeout_s: float | None = None) -> PendingPost:
        """Send an /info body as a post; the handle resolves in a later ``poll()``."""
        return self._post("info", payload, callback, timeout_s)

    def post_action(self, payload: dict[str, Any], callback: Callable[[PendingPost], None] | None = None,
                    timeout_s: float | None = None) -> PendingPost:
        """Send a signed /exchange body (``ExchangeClient.signed_payload``) as a post."""
        return self._post("action", payload, callback, timeout_s)

    def poll(self) -> int:
        """Drain and dispatch every frame available now, then run timers; never blocks on data.

        Returns the number of data frames handled.  Safe to call at any time, also
        while disconnected (it reconnects when the backoff delay has passed).
        """
        handled = self._drain() if self._ws is not None else 0
        self._run_timers(self._clock())
        return handled

    def next_deadline(self) -> float | None:
        """Monotonic time by which ``poll()`` must run again (None: only when readable)."""
        times = []
        if self._reconnect_at is not None:
            times.append(self._reconnect_at)
        if self._ws is not None:
            times.append(self._last_send + self.ping_interval_s)
            if self._ping_sent_at is not None:
                times.append(self._ping_sent_at + self.pong_timeout_s)
        if self._posts:
            times.append(min(p.deadline for p in self._posts.values()))
        return min(times) if times else None

    def wait(self, timeout_s: float) -> int:
        """Block up to ``timeout_s`` in ``select`` on this client alone, then ``poll()``.

        A convenience for scripts and tests; an engine selects on many fds itself.
        """
        end = self._clock() + timeout_s
        deadline = self.next_deadline()
        wait_s = max(0.0, min(end, deadline) - self._clock()) if deadline is not None else timeout_s
        fd = self.fileno()
        if self.has_buffered():
            wait_s = 0.0
        if fd >= 0:
            select.select([fd], [], [], wait_s)
        else:
            time.sleep(wait_s)
        return self.poll()

    def run_until(self, predicate: Callable[[], bool], timeout_s: float) -> bool:
        """Poll until ``predicate()`` is true or ``timeout_s`` passes; returns the predicate."""
        end = self._clock() + timeout_s
        while not predicate():
            left = end - self._clock()
            if left <= 0:
                return predicate()
            self.wait(min(left, 0.5))
        return True

    # ------------------------------------------------------------------ connection
    def _open(self) -> None:
        started = self._clock()
        ws = websocket.WebSocket(skip_utf8_validation=True, enable_multithread=False, sslopt=self._sslopt)
        try:
            ws.connect(self.url, timeout=self.connect_timeout_s)
        except (OSError, websocket.WebSocketException) as exc:
            try:
                ws.shutdown()
            except Exception:  # the half-open socket may already be gone
                pass
            raise ConnectError(f"cannot open WebSocket {self.url}: {exc}") from exc
        ws.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ws.sock.settimeout(self.io_timeout_s)
        self._ws = ws
        now = self._clock()
        self._connected_at = self._last_send = self._last_recv = now
        self._ping_sent_at = None
        self._reconnect_at = None
        self._acked.clear()
        self.stats.connects += 1
        reconnect = self._ever_connected
        self._ever_connected = True
        log.info("ws_connected", url=self.url, attempt=self._attempt, elapsed_ms=round((now - started) * 1000, 1))
        self._notify("connected", {"url": self.url, "reconnect": reconnect})
        subs = list(self._subs.items())
        self._awaiting_resub = {key for key, _ in subs} if reconnect else None
        for _key, sub in subs:
            if self._ws is None:
                return
            self._send_json({"method": "subscribe", "subscription": sub})
        if reconnect and not subs:
            self._resubscribed()

    def _drop(self, reason: str, *, notify: bool = True, graceful: bool = False, code: int | None = None) -> None:
        """Forget the connection, fail its pending posts, schedule a reconnect unless closed."""
        ws = self._ws
        if ws is None:
            return
        self._ws = None
        try:
            if graceful:
                ws.close(timeout=1)
            else:
                ws.shutdown()
        except Exception:  # the socket may be half dead already; it is discarded either way
            pass
        self.stats.disconnects += 1
        connected_s = self._clock() - self._connected_at
        self._acked.clear()
        self._awaiting_resub = None
        self._ping_sent_at = None
        log.warning("ws_disconnected", url=self.url, reason=reason, code=code, connected_s=round(connected_s, 3))
        lost = list(self._posts.values())
        self._posts.clear()
        for post in lost:
            self._finish(post, "lost", error=ConnectionLost(
                f"WebSocket closed before post {post.id} was answered ({reason}); outcome unknown"))
        if notify:
            self._notify("disconnected", {"url": self.url, "reason": reason, "code": code})
        if not self._closed:
            self._schedule_reconnect(reason)

    def _schedule_reconnect(self, reason: str) -> None:
        if self._closed:
            return
        base = min(self.backoff_max_s, self.backoff_initial_s * (2 ** self._attempt))
        delay = base * (0.5 + 0.5 * self._rng.random())     # jitter: spread clients apart
        self._attempt += 1
        self._reconnect_at = self._clock() + delay
        log.info("ws_reconnect", url=self.url, attempt=self._attempt, delay_s=round(delay, 3))

    def _notify(self, event: StateEvent, info: dict) -> None:
        if self.on_state is None:
            return
        try:
            self.on_state(event, info)
        except Exception as exc:
            self._handler_failed(f"on_state({event})", exc)

    def _resubscribed(self) -> None:
        self._awaiting_resub = None
        self._notify("resubscribed", {"url": self.url, "subscriptions": len(self._subs)})

    # ------------------------------------------------------------------ sending
    def _send_json(self, obj: Any) -> bool:
        return self._send_raw(orjson.dumps(obj).decode())

    def _post(self, kind: Literal["info", "action"], payload: dict, callback: Callable | None,
              timeout_s: float | None) -> PendingPost:
        now = self._clock()
        post = PendingPost(self._next_id, kind, payload, now, now + (timeout_s or self.post_timeout_s), callback)
        self._next_id += 1
        self.stats.posts += 1
        if self._ws is None:
            self._finish(post, "error", error=ConnectError(f"WebSocket {self.url} is not connected; post not sent"))
            return post
        self._posts[post.id] = post
        frame = {"method": "post", "id": post.id, "request": {"type": kind, "payload": payload}}
        self._send_json(frame)   # a failed send drops the connection, which ends the post as lost
        return post

    # ------------------------------------------------------------------ receiving
    def _drain(self) -> int:
        ws = self._ws
        if ws is None:
            return 0
        sock = ws.sock
        handled = 0
        sock.settimeout(0)
        try:
            while True:
                try:
                    opcode, frame = ws.recv_data_frame(True)
                except (BlockingIOError, ssl.SSLWantReadError, InterruptedError):
                    break
                except websocket.WebSocketConnectionClosedException:
                    self._drop("connection closed by the server")
                    break
                except (OSError, websocket.WebSocketException) as exc:
                    self._drop(f"receive failed: {exc}")
                    break
                self._last_recv = self._clock()
                self._ping_sent_at = None
                if opcode == ABNF.OPCODE_TEXT or opcode == ABNF.OPCODE_BINARY:
                    self.dispatch_frame(frame.data)
                    handled += 1
                elif opcode == ABNF.OPCODE_CLOSE:
                    code = int.from_bytes(frame.data[:2], "big") if len(frame.data) >= 2 else None
                    text = frame.data[2:].decode("utf-8", "replace")
                    self._drop(f"closed by the server ({code} {text})".strip(), code=code)
                    break
                if self._ws is None:      # a callback closed the client
                    break
        finally:
            if self._ws is ws and ws.sock is not None:
                ws.sock.settimeout(self.io_timeout_s)
        return handled

    def dispatch_frame(self, data: bytes) -> None:
        """Handle one received frame (also usable to replay recorded frames): route by channel."""
        stats = self.stats
        stats.frames += 1
        if data.startswith(_PREFIX):
            end = data.find(b'"', _PREFIX_LEN)
            channel = data[_PREFIX_LEN:end] if end > 0 else b""
        elif data == BANNER:
            self.banner = BANNER.decode()
            return
        else:
            channel = b""
        msg = None
        if not channel:
            # a valid frame with keys in another order still works, just slower
            msg = self._decode(data, b"")
            if msg is None:
                return
            name = msg.get("channel")
            if not isinstance(name, str):
                self._malformed(data, b"", "no channel")
                return
            channel = name.encode()
        by_channel = stats.by_channel
        counted = channel if channel in KNOWN_CHANNELS or channel in self._handlers else OTHER_CHANNELS
        by_channel[counted] = by_channel.get(counted, 0) + 1
        if channel in _INTERNAL:
            if msg is None:
                msg = self._decode(data, channel)
                if msg is None:
                    return
            self._internal(channel, msg, data)
            if channel != b"error":
                return
        handlers = self._handlers.get(channel)
        if not handlers:
            if channel != b"error":
                stats.unhandled += 1
            return
        payload: Any = None
        if channel in self._parsed_channels:
            # validate once, before any handler runs: all of them see the frame or none does
            if msg is None:
                msg = self._decode(data, channel)
                if msg is None:
                    return
            if "data" not in msg:
                self._malformed(data, channel, "no data field")
                return
            payload = msg["data"]
        for handler in handlers:
            try:
                handler.callback(data if handler.raw else payload)
            except Exception as exc:
                self._handler_failed(f"{channel.decode()} handler ({len(data)}-byte frame)", exc)

    def _decode(self, data: bytes, channel: bytes) -> dict | None:
        try:
            msg = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            self._malformed(data, channel, f"not JSON: {exc}")
            return None
        if not isinstance(msg, dict):
            self._malformed(data, channel, "not a JSON object")
            return None
        return msg

    def _malformed(self, data: bytes, channel: bytes, reason: str) -> None:
        self.stats.malformed += 1
        preview = data[:120].decode("utf-8", "replace")
        log.warning("ws_malformed_frame", channel=channel.decode("utf-8", "replace") or None,
                    reason=reason, length=len(data), preview=preview)

    def _handler_failed(self, where: str, exc: Exception) -> None:
        self.stats.handler_errors += 1
        log.error("error", where=f"exchange.ws {where}", error=f"{type(exc).__name__}: {exc}",
                  traceback=traceback.format_exc())

    def _internal(self, channel: bytes, msg: dict, data: bytes) -> None:
        body = msg.get("data")
        if channel == b"pong":
            return
        if channel == b"post":
            self._on_post_reply(body, data)
        elif channel == b"subscriptionResponse":
            if not isinstance(body, dict) or not isinstance(body.get("subscription"), dict):
                self._malformed(data, channel, "subscriptionResponse without a subscription")
                return
            key = subscription_key(body["subscription"])
            if body.get("method") == "subscribe":
                self._acked.add(key)
                self._resub_done(key)
        elif channel == b"error":
            self.stats.server_errors += 1
            text = body if isinstance(body, str) else str(body)
            log.warning("ws_server_error", url=self.url, error=text[:300])
            # a refused resubscription must not hold "resubscribed" back forever
            if self._awaiting_resub:
                start = text.find("{")
                if start >= 0:
                    try:
                        sub = orjson.loads(text[start:])
                    except orjson.JSONDecodeError:
                        sub = None
                    if isinstance(sub, dict):
                        self._resub_done(subscription_key(sub))

    def _resub_done(self, key: str) -> None:
        waiting = self._awaiting_resub
        if waiting is not None and key in waiting:
            waiting.discard(key)
            if not waiting:
                self._resubscribed()

    def _on_post_reply(self, body: Any, data: bytes) -> None:
        if not isinstance(body, dict) or type(body.get("id")) is not int:  # JSON true is not post 1
            self._malformed(data, b"post", "post reply without an id")
            return
        response = body.get("response")
        if not isinstance(response, dict) or response.get("type") not in ("info", "action", "error"):
            self._malformed(data, b"post", "post reply without a typed response")
            return
        post_id = body["id"]
        kind, payload = response["type"], response.get("payload")
        post = self._posts.pop(post_id, None)
        late = False
        if post is None:
            post = self._expired.pop(post_id, None)
            if post is None:
                self._malformed(data, b"post", f"reply for unknown post id {post_id}")
                return
            late = True
        if kind == "error":
            error: ExchangeError | None = PostError(payload if isinstance(payload, str) else str(payload))
            result = None
        else:
            error = None
            result = payload.get("data", payload) if kind == "info" and isinstance(payload, dict) else payload
        if late:
            post.late = True
            post.response, post.error = result, error
            post.answered_at = self._clock()
            self.stats.late_replies += 1
            log.warning("ws_late_reply", post_id=post_id, elapsed_ms=round((post.answered_at - post.sent_at) * 1000, 1))
            if self.on_late_reply is not None:
                try:
                    self.on_late_reply(post)
                except Exception as exc:
                    self._handler_failed("on_late_reply", exc)
            return
        self._finish(post, "error" if error else "ok", response=result, error=error)

    def _finish(self, post: PendingPost, state: PostState, *, response: Any = None,
                error: ExchangeError | None = None) -> None:
        post.state, post.response, post.error = state, response, error
        post.answered_at = self._clock()
        if post.callback is not None:
            try:
                post.callback(post)
            except Exception as exc:
                self._handler_failed(f"post {post.id} callback", exc)

    # ------------------------------------------------------------------ timers
    def _run_timers(self, now: float) -> None:
        if self._ws is None:
            if self._reconnect_at is not None and now >= self._reconnect_at and not self._closed:
                self._reconnect_at = None
                try:
                    self._open()
                except ConnectError as exc:
                    self._schedule_reconnect(str(exc))
            return
        if self._attempt and now - self._connected_at >= self.stable_after_s:
            self._attempt = 0        # the link held: the next drop starts the backoff afresh
        if self._posts:
            for post in [p for p in self._posts.values() if now >= p.deadline]:
                del self._posts[post.id]
                self.stats.post_timeouts += 1
                self._expired[post.id] = post
                action = post.payload.get("action") if post.kind == "action" else None
                log.warning("ws_post_timeout", post_id=post.id,
                            action=action.get("type") if isinstance(action, dict) else post.payload.get("type"),
                            elapsed_ms=round((now - post.sent_at) * 1000, 1))
                self._finish(post, "timeout", error=RequestTimeout(
                    f"no reply to WebSocket post {post.id} within {post.deadline - post.sent_at:g} s; outcome unknown"))
        if self._expired:
            for post_id in [i for i, p in self._expired.items() if now - p.deadline > 300]:
                del self._expired[post_id]
        if self._ping_sent_at is not None and now - self._ping_sent_at >= self.pong_timeout_s:
            self._drop(f"no frame for {self.pong_timeout_s:g} s after a ping")
            return
        if now - self._last_send >= self.ping_interval_s:
            if self._send_raw(_PING):
                self._ping_sent_at = now

    def _send_raw(self, text: str) -> bool:
        ws = self._ws
        if ws is None:
            return False
        try:
            ws.send(text)
        except (OSError, websocket.WebSocketException) as exc:
            self._drop(f"send failed: {exc}")
            return False
        self._last_send = self._clock()
        return True
