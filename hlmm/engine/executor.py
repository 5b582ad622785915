"""The executor: each outbound action signed once and sent as a WebSocket post (HTTP as fallback).

Answers are matched by post id and handed back to the loop's ``ORDERS`` stage, never handled
inside the socket read. What an answer means is decided elsewhere (the order manager, the
dead-man switch); the executor only routes, with the one rule that matters here: **a timeout
or a lost connection is not a rejection** — it is reported as *unknown*, and a reply that
arrives after the timeout is still delivered (``late=True``).

* Actions go over the WebSocket while it is connected (no REST weight spent); otherwise over
  HTTP, which blocks the loop for at most the request timeout.
* Info requests (``orderStatus``, ``clearinghouseState``...) go the same way.
* Every send is logged (``batch_sent``) and accounted in the rate budget by the caller's
  ``on_sent`` hook.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

from hlmm.exchange.errors import ExchangeError, RateLimitedError
from hlmm.exchange.http import ExchangeClient, InfoClient
from hlmm.exchange.ws import PendingPost, WsClient
from hlmm.engine.loop import ORDERS, EventLoop
from hlmm.log import get_logger

log = get_logger("engine.executor")

# outcome kinds handed to answer callbacks
OK, ERROR, UNKNOWN = "ok", "error", "unknown"


@dataclass(slots=True)
class Answer:
    """The outcome of one request. ``kind``: ``ok`` (``response`` holds the /exchange JSON or the
    info data), ``error`` (the exchange answered with a refusal: ``error``, not executed) or
    ``unknown`` (no answer in time, or the connection dropped after sending)."""

    kind: str
    response: Any = None
    error: ExchangeError | None = None
    via: str = "ws"              # ws | http
    late: bool = False           # a reply that came after the request had timed out
    elapsed_ms: float = 0.0
    post_id: int | None = None

    @property
    def rate_limited(self) -> bool:
        return isinstance(self.error, RateLimitedError)


AnswerFn = Callable[[Answer], None]


class Executor:
    """Sends signed actions and info requests; delivers each :class:`Answer` in the ORDERS stage."""

    def __init__(self, exchange: ExchangeClient, info: InfoClient, ws: WsClient, loop: EventLoop, *,
                 on_sent: Callable[[str, int, str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.exchange = exchange
        self.info = info
        self.ws = ws
        self.loop = loop
        self.on_sent = on_sent          # (kind, items, via): rate accounting
        self.clock = clock
        self._waiting: dict[int, tuple[AnswerFn, float]] = {}   # post id -> callback, sent at
        self._timed_out: dict[int, tuple[AnswerFn, float]] = {}
        self.sent_ws = 0
        self.sent_http = 0
        self.unknown = 0
        self.late = 0

    # ------------------------------------------------------------------ actions
    def send_action(self, action: dict[str, Any], on_answer: AnswerFn, *, kind: str | None = None,
                    items: int = 1, force_http: bool = False) -> int | str:
        """Sign ``action`` once and send it; ``on_answer`` runs later in the ORDERS stage.

        Returns the post id (WebSocket) or ``"http"``.
        """
        payload = self.exchange.signed_payload(action)
        kind = kind or str(action.get("type"))
        if self.ws.connected and not force_http:
            post = self.ws.post_action(payload, callback=self._on_post)
            if post.state == "pending":
                self._waiting[post.id] = (on_answer, self.clock())
                self.sent_ws += 1
                self._sent(kind, items, "ws", post.id, payload)
                return post.id
            # the WebSocket went away between the check and the send: nothing was sent, use HTTP
        return self._http_action(payload, on_answer, kind, items)

    def _http_action(self, payload: dict[str, Any], on_answer: AnswerFn, kind: str, items: int) -> str:
        self.sent_http += 1
        self._sent(kind, items, "http", None, payload)
        started = self.clock()
        try:
            response = self.exchange.post_payload(payload)
        except ExchangeError as exc:
            answer = Answer(UNKNOWN if exc.outcome_unknown else ERROR, error=exc, via="http",
                            elapsed_ms=(self.clock() - started) * 1000)
        else:
            answer = Answer(OK, response=response, via="http", elapsed_ms=(self.clock() - started) * 1000)
        if answer.kind == UNKNOWN:
            self.unknown += 1
        self.loop.post(ORDERS, on_answer, answer)
        return "http"

    def _sent(self, kind: str, items: int, via: str, post_id: int | None, payload: dict[str, Any]) -> None:
        if self.on_sent is not None:
            self.on_sent(kind, items, via)
        if log.enabled("debug"):
            log.debug("batch_sent", kind=kind, n=items, post_id=post_id if post_id is not None else via,
                      weight=1 + items // 40, nonce=payload.get("nonce"))

    # ------------------------------------------------------------------ info
    def send_info(self, body: dict[str, Any], on_answer: AnswerFn, *, force_http: bool = False) -> int | str:
        """An /info request over the WebSocket (HTTP when it is down); answered in the ORDERS stage."""
        if self.ws.connected and not force_http:
            post = self.ws.post_info(body, callback=self._on_post)
            if post.state == "pending":
                self._waiting[post.id] = (on_answer, self.clock())
                return post.id
        started = self.clock()
        try:
            response = self.info.post(body)
        except ExchangeError as exc:
            answer = Answer(UNKNOWN if exc.outcome_unknown else ERROR, error=exc, via="http",
                            elapsed_ms=(self.clock() - started) * 1000)
        else:
            answer = Answer(OK, response=response, via="http", elapsed_ms=(self.clock() - started) * 1000)
        self.loop.post(ORDERS, on_answer, answer)
        return "http"

    # ------------------------------------------------------------------ answers
    def _on_post(self, post: PendingPost) -> None:
        """Called by the WebSocket client inside its poll: only route, handle in the ORDERS stage."""
        entry = self._waiting.pop(post.id, None)
        if entry is None:
            return
        on_answer, sent_at = entry
        elapsed = (self.clock() - sent_at) * 1000
        if post.state == "ok":
            answer = Answer(OK, response=post.response, elapsed_ms=elapsed, post_id=post.id)
        elif post.state == "error":
            answer = Answer(ERROR, error=post.error, elapsed_ms=elapsed, post_id=post.id)
        else:   # timeout / lost: the exchange may have acted
            self.unknown += 1
            self._timed_out[post.id] = entry
            while len(self._timed_out) > 4096:
                self._timed_out.pop(next(iter(self._timed_out)))
            answer = Answer(UNKNOWN, error=post.error, elapsed_ms=elapsed, post_id=post.id)
        self.loop.post(ORDERS, on_answer, answer)

    def on_late_reply(self, post: PendingPost) -> None:
        """The WebSocket client's late-reply hook: the real answer to a request that timed out."""
        entry = self._timed_out.pop(post.id, None)
        if entry is None:
            return
        on_answer, sent_at = entry
        self.late += 1
        elapsed = (self.clock() - sent_at) * 1000
        if post.error is not None:
            answer = Answer(ERROR, error=post.error, late=True, elapsed_ms=elapsed, post_id=post.id)
        else:
            answer = Answer(OK, response=post.response, late=True, elapsed_ms=elapsed, post_id=post.id)
        self.loop.post(ORDERS, on_answer, answer)

    @property
    def in_flight(self) -> int:
        """Requests sent and not answered yet (timed-out ones not counted)."""
        return len(self._waiting)
