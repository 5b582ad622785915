"""The rate budget: Hyperliquid's two limits, accounted locally and corrected by the exchange.

- **IP weight** (reference §7): 1200 per minute, shared by every REST request; an
  ``/exchange`` action costs ``1 + n // 40``, ``/info`` 2, 20 or 60 (+ per items returned).
  Kept as a sliding 60 s window of what was sent (:meth:`RateBudget.record_ip`).
- **Address budget**: ``cap = 10000 + floor(cumulative USDC volume)`` requests; every order,
  modify or cancel in an action is one request. ``used`` and ``cap`` come from ``userRateLimit``,
  which is refreshed every ``refresh_interval_ms`` **always** (:meth:`refresh_due`: nothing can
  switch it off; the reference system once hid this check behind an unrelated feature flag), and
  are advanced locally between refreshes by what is sent and by the volume our fills trade.
  Past the cap the exchange lets one request through every 10 s, and **cancels** up to
  ``min(cap + 100000, 2 * cap)``, so cancels are never throttled before that allowance.

``headroom = (cap - used) / cap``. Below ``min_headroom_fraction`` (10 %) the engine throttles
requotes and, holding a position, quotes only the side that reduces it (``hlmm.engine.gates``).

:meth:`check` turns a plan's cost into a :class:`RateDecision` with a reason code. **Cancels always
pass** the IP window and an IP block (a stale quote on the book costs more than the weight); only
the exchange's own cancel allowance above caps them.

**An HTTP 429 blocks the REST transport only** (:meth:`on_rate_limited` with scope ``"ip"``): the
IP weight limit is REST's, and the WebSocket path has separate limits (connections, messages per
minute, posts in flight), so a 429 says nothing about it. For ``window_ms`` after a 429,
:meth:`blocked_transport` answers ``"rest"`` and ``check(..., transport="rest")`` holds every
requote (reason ``rest_blocked``); over ``transport="ws"`` (the default: the engine's action path)
the block does not apply. The caller picks the transport; it is told which one is blocked.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Mapping

from hlmm.engine.plan import PlanCost, action_weight
from hlmm.log import get_logger

log = get_logger("engine.rate")

INITIAL_ADDRESS_BUDGET = 10_000
CANCEL_EXTRA = 100_000
LIMITED_INTERVAL_MS = 10_000
INFO_WEIGHT_USER_RATE_LIMIT = 20

# RateDecision.reason codes
OK = "ok"
IP_WINDOW_FULL = "ip_window_full"
ADDRESS_EXHAUSTED = "address_exhausted"
ADDRESS_LOW = "address_low"
CANCEL_ALLOWANCE_EXHAUSTED = "cancel_allowance_exhausted"
RATE_LIMITED = "rate_limited"
REST_BLOCKED = "rest_blocked"

TRANSPORTS = ("ws", "rest")


@dataclass(frozen=True, slots=True)
class RateDecision:
    """How much of a plan may be sent now: ``cancels`` and ``requotes`` (modifies + places) are
    the numbers of items allowed (the plan's own counts when nothing is held back)."""

    cancels: int
    requotes: int
    reason: str
    headroom: float

    @property
    def throttled(self) -> bool:
        return self.reason != OK


class RateBudget:
    """IP weight window + address budget; see the module doc."""

    def __init__(self, *, ip_weight_per_minute: int = 1200, min_headroom_fraction: float = 0.10,
                 refresh_interval_ms: int = 60_000, window_ms: int = 60_000,
                 initial_cap: int = INITIAL_ADDRESS_BUDGET) -> None:
        self.ip_limit = ip_weight_per_minute
        self.min_headroom_fraction = min_headroom_fraction
        self.refresh_interval_ms = refresh_interval_ms
        self.window_ms = window_ms
        self._ip: deque[tuple[int, int]] = deque()
        self._ip_sum = 0
        self.rest_blocked_until_ms = 0   # after an HTTP 429: no REST request until then
        self.cum_volume = 0.0            # USD, exchange figure + our fills since
        self.used = 0                    # address requests used (exchange figure + sent since)
        self.cap = initial_cap
        self.surplus = 0
        self.last_refresh_sent_ms: int | None = None
        self.last_refresh_ms: int | None = None   # when an answer was applied
        self.refreshes = 0
        self._last_limited_request_ms = -LIMITED_INTERVAL_MS
        self._sent: deque[tuple[int, int]] = deque()   # (time, requests) of recent actions

    # ------------------------------------------------------------------ IP weight
    def _trim(self, now_ms: int) -> None:
        cutoff = now_ms - self.window_ms
        while self._ip and self._ip[0][0] <= cutoff:
            self._ip_sum -= self._ip.popleft()[1]

    def record_ip(self, weight: int, now_ms: int) -> None:
        """A request of this IP weight was sent (every /info and /exchange request, any kind)."""
        if weight > 0:
            self._ip.append((now_ms, weight))
            self._ip_sum += weight

    def ip_used(self, now_ms: int) -> int:
        self._trim(now_ms)
        return self._ip_sum

    def ip_available(self, now_ms: int, transport: str = "ws") -> int:
        """IP weight free in the window; 0 over ``transport="rest"`` while a 429 blocks it."""
        if _transport(transport) == "rest" and self.rest_blocked(now_ms):
            return 0
        return max(0, self.ip_limit - self.ip_used(now_ms))

    def rest_blocked(self, now_ms: int) -> bool:
        """An HTTP 429 came less than ``window_ms`` ago: REST requests would be refused again."""
        return now_ms < self.rest_blocked_until_ms

    def blocked_transport(self, now_ms: int) -> str | None:
        """``"rest"`` while an HTTP 429 blocks REST, else None (the WebSocket path is never blocked here)."""
        return "rest" if self.rest_blocked(now_ms) else None

    # ------------------------------------------------------------------ address budget
    @property
    def remaining(self) -> int:
        return self.cap - self.used

    @property
    def cancel_cap(self) -> int:
        """Past the cap, cancels still pass up to this many used requests."""
        return min(self.cap + CANCEL_EXTRA, 2 * self.cap)

    @property
    def headroom(self) -> float:
        """(cap - used) / cap, clamped to [0, 1]."""
        if self.cap <= 0:
            return 0.0
        return max(0.0, min(1.0, (self.cap - self.used) / self.cap))

    @property
    def low(self) -> bool:
        """Headroom below ``min_headroom_fraction``: throttle requotes, force inventory."""
        return self.headroom < self.min_headroom_fraction

    def record_action(self, kind: str, n: int, now_ms: int) -> None:
        """An /exchange action with n items was sent: n address requests, ``1 + n // 40`` IP weight."""
        if n <= 0:
            return
        self.used += n
        self._sent.append((now_ms, n))
        while self._sent and self._sent[0][0] < now_ms - 5 * self.window_ms:
            self._sent.popleft()
        self.record_ip(action_weight(n), now_ms)
        if self.used > self.cap and kind not in ("cancel", "cancelByCloid"):
            self._last_limited_request_ms = now_ms

    def on_fill_volume(self, notional_usd: float) -> None:
        """Our fills traded this much: the cap grows by one request per USDC."""
        if notional_usd > 0:
            before = int(self.cum_volume)
            self.cum_volume += notional_usd
            self.cap += int(self.cum_volume) - before

    def refresh_due(self, now_ms: int) -> bool:
        """True when ``userRateLimit`` should be asked again (every refresh interval, always)."""
        return self.last_refresh_sent_ms is None or now_ms - self.last_refresh_sent_ms >= self.refresh_interval_ms

    def refresh_request(self, user: str, now_ms: int) -> dict[str, Any]:
        """The ``/info`` body to send (and its IP weight is accounted here)."""
        self.last_refresh_sent_ms = now_ms
        self.record_ip(INFO_WEIGHT_USER_RATE_LIMIT, now_ms)
        return {"type": "userRateLimit", "user": user}

    def on_user_rate_limit(self, answer: Mapping[str, Any], now_ms: int, requested_ms: int | None = None) -> bool:
        """Apply a ``userRateLimit`` answer (the exchange's figures replace the local ones).

        ``requested_ms``: when the request was sent. Actions recorded since then may not be in
        the exchange's count yet, so they are added on top (a possible over-count, never an
        under-count). Returns False (and logs) for a malformed answer."""
        try:
            cum = float(answer["cumVlm"])
            used = int(answer["nRequestsUsed"])
            cap = int(answer["nRequestsCap"])
            surplus = int(answer.get("nRequestsSurplus", 0) or 0)
        except (KeyError, TypeError, ValueError) as exc:
            log.error("error", where="engine.rate.on_user_rate_limit", error="malformed_answer",
                      detail=f"{exc}: {str(answer)[:200]}")
            return False
        if requested_ms is not None:
            used += sum(n for t, n in self._sent if t >= requested_ms)
        self.cum_volume, self.used, self.cap, self.surplus = cum, used, cap, surplus
        self.last_refresh_ms = now_ms
        if self.last_refresh_sent_ms is None:
            self.last_refresh_sent_ms = now_ms
        self.refreshes += 1
        log.info("rate_limit_status", **self.status(now_ms))
        return True

    def on_rate_limited(self, scope: str, detail: str, now_ms: int) -> None:
        """The exchange refused a request for rate reasons: ``scope`` "ip" (an HTTP 429: the REST
        transport is blocked for ``window_ms``; the WebSocket path is not) or "address" (the
        budget is spent: used = cap)."""
        if scope == "ip":
            self.rest_blocked_until_ms = max(self.rest_blocked_until_ms, now_ms + self.window_ms)
        else:
            self.used = max(self.used, self.cap)
            self._last_limited_request_ms = now_ms
        log.warning("rate_limited", scope=scope, detail=detail)

    # ------------------------------------------------------------------ decisions
    def scarcer(self, now_ms: int) -> str:
        """Which budget to spare first: ``address`` unless the IP window is the tighter one."""
        ip_free = self.ip_available(now_ms) / self.ip_limit if self.ip_limit else 0.0
        return "ip" if ip_free < self.headroom else "address"

    def check(self, n_cancel: int, n_modify: int, n_place: int, now_ms: int, *,
              transport: str = "ws") -> RateDecision:
        """How much of a plan with these counts may go now over ``transport`` (``"ws"`` or
        ``"rest"``), and why not all of it. Cancels are never held by the IP window or a 429."""
        requotes = n_modify + n_place
        head = self.headroom
        cancels = n_cancel
        reason = OK
        if self.used + n_cancel > self.cancel_cap:
            cancels = max(0, self.cancel_cap - self.used)
            reason = CANCEL_ALLOWANCE_EXHAUSTED
        if _transport(transport) == "rest" and self.rest_blocked(now_ms):
            return RateDecision(cancels, 0, REST_BLOCKED if reason == OK else reason, head)
        if PlanCost.of(n_cancel, n_modify, n_place).ip_weight > self.ip_available(now_ms):
            return RateDecision(cancels, 0, IP_WINDOW_FULL if reason == OK else reason, head)
        if self.used >= self.cap:
            limited_ok = now_ms - self._last_limited_request_ms >= LIMITED_INTERVAL_MS
            return RateDecision(cancels, min(requotes, 1) if limited_ok else 0,
                                reason if reason != OK else ADDRESS_EXHAUSTED, head)
        room = self.cap - self.used - cancels
        if requotes > room:
            return RateDecision(cancels, max(0, room), ADDRESS_EXHAUSTED, head)
        if head < self.min_headroom_fraction:
            reason = ADDRESS_LOW if reason == OK else reason
        return RateDecision(cancels, requotes, reason, head)

    def status(self, now_ms: int) -> dict[str, Any]:
        """The fields of the ``rate_limit_status`` event."""
        return {"ip_weight_used": self.ip_used(now_ms), "ip_weight_limit": self.ip_limit,
                "address_requests_used": self.used, "address_requests_cap": self.cap,
                "headroom_fraction": round(self.headroom, 6), "cum_volume_usd": round(self.cum_volume, 6)}


def _transport(name: str) -> str:
    if name not in TRANSPORTS:
        raise ValueError(f"transport must be one of {', '.join(TRANSPORTS)}, got {name!r}")
    return name
