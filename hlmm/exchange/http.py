"""HTTP clients for Hyperliquid's ``POST /info`` and ``POST /exchange`` (any base URL).

``InfoClient`` reads; ``ExchangeClient`` signs and sends actions.  Both keep one
persistent HTTP/1.1 connection (stdlib ``http.client``), reopened when the server
closed it while idle.  They are synchronous and single-threaded by design: the
engine calls them from its one loop (DESIGN §1 property 2).

Errors (``hlmm.exchange.errors``), each carrying the exchange's text:
HTTP 429 → ``RateLimitedError``; other 4xx (422: body did not deserialize) →
``BadRequestError``; 5xx → ``ServerError``; ``{"status":"err"}`` → ``ActionError``;
no reply in time → ``RequestTimeout`` and a connection lost after sending →
``ConnectionLost`` (both: outcome unknown, NOT a rejection); connection refused →
``ConnectError`` (nothing sent).  Per-order errors are typed results, not exceptions.
"""
from __future__ import annotations

import http.client
import select
import socket
import time
from typing import Any, Mapping, Sequence
from urllib.parse import urlsplit

import orjson

from hlmm.exchange import results as res
from hlmm.exchange import wire
from hlmm.exchange.results import CancelResult, OrderResult
from hlmm.exchange.errors import (
    BadRequestError,
    ConnectError,
    ConnectionLost,
    ExchangeError,
    ProtocolError,
    RateLimitedError,
    RequestTimeout,
    ServerError,
    TransportError,
)
from hlmm.exchange.keys import Credentials
from hlmm.exchange.nonces import NonceSource
from hlmm.exchange.signing import USER_SIGNED_TYPES, sign_l1_action, sign_user_signed_action
from hlmm.exchange.urls import base_url as normalize_base_url
from hlmm.exchange.user_actions import approve_agent_action
from hlmm.exchange.urls import is_mainnet
from hlmm.log import get_logger

log = get_logger("exchange.http")

DEFAULT_TIMEOUT_S = 10.0
_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


class HttpTransport:
    """One keep-alive connection to a base URL; posts JSON and maps failures to errors."""

    def __init__(self, base_url: str, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self.base_url = normalize_base_url(base_url)
        parts = urlsplit(self.base_url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None
        self._used = False          # the current connection has carried a request
        self.requests = 0

    def close(self) -> None:
        """Close the connection (a later request opens a new one)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _open(self) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        conn = cls(self._host, self._port, timeout=self.timeout)
        try:
            conn.connect()
        except socket.timeout as exc:
            conn.close()
            raise ConnectError(f"connect to {self.base_url} timed out after {self.timeout:g} s") from exc
        except OSError as exc:
            conn.close()
            raise ConnectError(f"cannot connect to {self.base_url}: {exc.strerror or exc}") from exc
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._conn, self._used = conn, False
        return conn

    def _dropped(self, conn: http.client.HTTPConnection) -> bool:
        """An idle keep-alive socket that is readable was closed by the server (or is broken)."""
        sock = conn.sock
        if sock is None:
            return True
        try:
            readable, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)

    def post(self, path: str, payload: Any, *, idempotent: bool) -> tuple[int, bytes]:
        """POST JSON; return (status, body).  Retries once on a stale connection if safe.

        ``idempotent`` (info requests) allows one retry when a reused connection
        breaks; an action is never resent, because the exchange may have acted on it.
        """
        body = orjson.dumps(payload)
        for attempt in (0, 1):
            conn = self._conn
            if conn is not None and self._used and self._dropped(conn):
                self.close()
                conn = None
            if conn is None:
                conn = self._open()
            reused = self._used
            self._used = True
            try:
                conn.request("POST", path, body=body, headers=_HEADERS)
            except socket.timeout as exc:
                self.close()
                raise RequestTimeout(f"sending {path} to {self.base_url} timed out after {self.timeout:g} s") from exc
            except OSError as exc:
                self.close()
                # the server refused the bytes: it cannot have read the whole request
                if attempt == 0 and reused:
                    continue
                raise ConnectionLost(f"connection to {self.base_url} broke while sending {path}: {exc}") from exc
            try:
                response = conn.getresponse()
                data = response.read()
            except socket.timeout as exc:
                self.close()
                raise RequestTimeout(
                    f"no reply to {path} from {self.base_url} within {self.timeout:g} s (outcome unknown)"
                ) from exc
            except (http.client.HTTPException, OSError) as exc:
                self.close()
                if attempt == 0 and reused and idempotent:
                    continue
                raise ConnectionLost(
                    f"connection to {self.base_url} lost before the reply to {path} (outcome unknown): {exc}"
                ) from exc
            self.requests += 1
            if response.will_close:
                self.close()
            return response.status, data
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def post_json(self, path: str, payload: Any, *, idempotent: bool) -> Any:
        """POST and decode a 200 JSON answer; raise the typed error for anything else."""
        started = time.perf_counter()
        try:
            status, data = self.post(path, payload, idempotent=idempotent)
        except TransportError as exc:
            log.warning("http_error", endpoint=path, type=_request_type(path, payload), status=None,
                        error=exc.text[:300], outcome_unknown=exc.outcome_unknown)
            raise
        if log.enabled("debug"):
            log.debug("http_request", endpoint=path, type=_request_type(path, payload), status=status,
                      elapsed_ms=round((time.perf_counter() - started) * 1000, 3))
        if status == 200:
            try:
                return orjson.loads(data)
            except orjson.JSONDecodeError as exc:
                raise ProtocolError(f"{path} answered 200 with a body that is not JSON: {data[:200]!r}") from exc
        text = data.decode("utf-8", "replace").strip() or http.client.responses.get(status, "")
        log.warning("http_error", endpoint=path, type=_request_type(path, payload), status=status,
                    error=text[:300], outcome_unknown=status >= 500 and path == "/exchange")
        if status == 429:
            raise RateLimitedError(text, status=status)
        if 400 <= status < 500:
            raise BadRequestError(text, status=status)
        if status >= 500:
            raise ServerError(text, status=status)
        raise ProtocolError(f"unexpected HTTP status {status} on {path}: {text[:200]}", status=status)


def _request_type(path: str, payload: Any) -> str | None:
    body = payload.get("action") if path == "/exchange" else payload
    kind = body.get("type") if isinstance(body, dict) else None
    return kind if isinstance(kind, str) else None


class InfoClient:
    """``POST /info`` with one typed helper per request type hlmm uses."""

    def __init__(self, base_url: str, *, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self.transport = HttpTransport(base_url, timeout)
        self.base_url = self.transport.base_url

    def close(self) -> None:
        self.transport.close()

    def post(self, body: Mapping[str, Any]) -> Any:
        """Any info request, raw: the decoded JSON answer."""
        return self.transport.post_json("/info", dict(body), idempotent=True)

    # -- market data -----------------------------------------------------------------
    def meta(self, dex: str = "") -> dict[str, Any]:
        """Perp universe, margin tables (``{"universe":[...],"marginTables":[...]}``)."""
        return self.post({"type": "meta", "dex": dex})

    def meta_and_asset_ctxs(self, dex: str = "") -> list[Any]:
        """``[meta, [assetCtx, ...]]`` with ctxs in universe order."""
        return self.post({"type": "metaAndAssetCtxs", "dex": dex})

    def all_mids(self, dex: str = "") -> dict[str, str]:
        """``{coin: mid}`` (decimal strings)."""
        return self.post({"type": "allMids", "dex": dex})

    def l2_book(self, coin: str, n_sig_figs: int | None = None, mantissa: int | None = None) -> dict[str, Any]:
        """``{"coin","time","levels":[bids, asks]}``, ≤ 20 levels a side."""
        body: dict[str, Any] = {"type": "l2Book", "coin": coin}
        if n_sig_figs is not None:
            body["nSigFigs"] = n_sig_figs
        if mantissa is not None:
            body["mantissa"] = mantissa
        return self.post(body)

    def recent_trades(self, coin: str) -> list[dict[str, Any]]:
        return self.post({"type": "recentTrades", "coin": coin})

    def candle_snapshot(self, coin: str, interval: str, start_time: int, end_time: int) -> list[dict[str, Any]]:
        return self.post({"type": "candleSnapshot",
                          "req": {"coin": coin, "interval": interval, "startTime": start_time, "endTime": end_time}})

    def funding_history(self, coin: str, start_time: int, end_time: int | None = None) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"type": "fundingHistory", "coin": coin, "startTime": start_time}
        if end_time is not None:
            body["endTime"] = end_time
        return self.post(body)

    # -- account state ---------------------------------------------------------------
    def clearinghouse_state(self, user: str, dex: str = "") -> dict[str, Any]:
        """Positions, margin summaries, withdrawable (query the account, not an agent)."""
        return self.post({"type": "clearinghouseState", "user": user, "dex": dex})

    def open_orders(self, user: str, dex: str = "") -> list[dict[str, Any]]:
        return self.post({"type": "openOrders", "user": user, "dex": dex})

    def frontend_open_orders(self, user: str, dex: str = "") -> list[dict[str, Any]]:
        return self.post({"type": "frontendOpenOrders", "user": user, "dex": dex})

    def user_fills(self, user: str, aggregate_by_time: bool = False) -> list[dict[str, Any]]:
        return self.post({"type": "userFills", "user": user, "aggregateByTime": aggregate_by_time})

    def user_fills_by_time(self, user: str, start_time: int, end_time: int | None = None,
                           aggregate_by_time: bool = False) -> list[dict[str, Any]]:
        return self.post({"type": "userFillsByTime", "user": user, "startTime": start_time,
                          "endTime": end_time, "aggregateByTime": aggregate_by_time})

    def order_status(self, user: str, oid: wire.Oid) -> dict[str, Any]:
        """``{"status":"order","order":{...}}`` or ``{"status":"unknownOid"}``; oid or cloid."""
        return self.post({"type": "orderStatus", "user": user, "oid": oid})

    def user_rate_limit(self, user: str) -> dict[str, Any]:
        """``{"cumVlm","nRequestsUsed","nRequestsCap",...}``: the address budget."""
        return self.post({"type": "userRateLimit", "user": user})


class ExchangeClient:
    """Signs L1 actions and posts them to ``/exchange``.

    ``is_mainnet`` (the signature's source) follows the URL: only the mainnet URL signs
    as mainnet.  ``nonce_source`` defaults to the signer's process-wide source, so two
    clients of one signer never reuse a nonce.  ``signed_payload`` builds the exact
    body a WebSocket post carries, so HTTP and WS share signing.
    """

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        nonce_source: NonceSource | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        expires_after_ms: int | None = None,
    ) -> None:
        self.transport = HttpTransport(base_url, timeout)
        self.base_url = self.transport.base_url
        self.credentials = credentials
        self.nonces = nonce_source if nonce_source is not None else credentials.nonces
        self.is_mainnet = is_mainnet(self.base_url)
        # ms after the nonce at which the exchange must drop the action (None: never)
        self.expires_after_ms = expires_after_ms

    def __repr__(self) -> str:
        return f"ExchangeClient({self.base_url}, {self.credentials!r})"

    def close(self) -> None:
        self.transport.close()

    # -- signing -------------------------------------------------------------------
    def signed_payload(self, action: dict[str, Any], nonce: int | None = None) -> dict[str, Any]:
        """The full /exchange body for an L1 action: action, nonce, signature, vaultAddress, expiresAfter."""
        nonce = self.nonces.next() if nonce is None else nonce
        vault = self.credentials.vault_address
        expires = nonce + self.expires_after_ms if self.expires_after_ms is not None else None
        signature = sign_l1_action(self.credentials.wallet, action, vault, nonce, expires, self.is_mainnet)
        # both optional keys are always sent, as the official SDK does
        return {"action": action, "nonce": nonce, "signature": signature, "vaultAddress": vault,
                "expiresAfter": expires}

    def post_action(self, action: dict[str, Any]) -> Any:
        """Sign and post one L1 action; return the raw JSON answer (no err check)."""
        return self.post_payload(self.signed_payload(action))

    def post_payload(self, payload: dict[str, Any]) -> Any:
        """Post an already signed body (e.g. one built for a WS post, sent by HTTP instead)."""
        return self.transport.post_json("/exchange", payload, idempotent=False)

    # -- actions -------------------------------------------------------------------
    def order(self, orders: Sequence[Mapping[str, Any]], grouping: str = "na",
              builder: Mapping[str, Any] | None = None) -> list[OrderResult]:
        """Place a batch; one ``OrderResult`` per order (resting / filled / error)."""
        action = wire.order_action(orders, grouping, builder)
        return res.parse_order_statuses(self.post_action(action), len(action["orders"]))

    def cancel(self, cancels: Sequence[tuple[int, int]]) -> list[CancelResult]:
        """Cancel by (asset, oid); one ``CancelResult`` per cancel."""
        action = wire.cancel_action(cancels)
        return res.parse_cancel_statuses(self.post_action(action), len(action["cancels"]))

    def cancel_by_cloid(self, cancels: Sequence[tuple[int, str]]) -> list[CancelResult]:
        """Cancel by (asset, cloid); one ``CancelResult`` per cancel."""
        action = wire.cancel_by_cloid_action(cancels)
        return res.parse_cancel_statuses(self.post_action(action), len(action["cancels"]))

    def modify(self, oid: wire.Oid, order: Mapping[str, Any]) -> OrderResult:
        """Modify one order (by oid or cloid) with the ``modify`` action.

        The exchange may answer ``{"type":"default"}`` (no status, no new oid):
        that is ``OrderResult("success")``; ``batch_modify`` reports the new oid.
        """
        return res.parse_single_modify(self.post_action(wire.modify_action(oid, order)))

    def batch_modify(self, modifies: Sequence[tuple[wire.Oid, Mapping[str, Any]]]) -> list[OrderResult]:
        """Modify several orders at once; one ``OrderResult`` per modify."""
        action = wire.batch_modify_action(modifies)
        return res.parse_order_statuses(self.post_action(action), len(action["modifies"]))

    def schedule_cancel(self, time_ms: int | None) -> None:
        """Arm (``time_ms``, ≥ 5 s ahead) or clear (``None``) the dead-man switch."""
        res.check_default(self.post_action(wire.schedule_cancel_action(time_ms)))

    def update_leverage(self, asset: int, is_cross: bool, leverage: int) -> None:
        res.check_default(self.post_action(wire.update_leverage_action(asset, is_cross, leverage)))

    def noop(self) -> None:
        """Burn one nonce (e.g. to invalidate an action sent but not answered)."""
        res.check_default(self.post_action(wire.noop_action()))

    def approve_agent(self, agent_address: str, agent_name: str | None = None) -> None:
        """Approve an API wallet for this account (a user-signed action, so the master must sign)."""
        if self.credentials.is_agent:
            raise ExchangeError("approveAgent must be signed by the master account, not an agent wallet")
        nonce = self.nonces.next()
        action = approve_agent_action(agent_address, agent_name, nonce)
        primary_type, payload_types = USER_SIGNED_TYPES["approveAgent"]
        signature = sign_user_signed_action(self.credentials.wallet, action, payload_types, primary_type,
                                            self.is_mainnet)
        payload = {"action": action, "nonce": nonce, "signature": signature, "vaultAddress": None}
        res.check_default(self.post_payload(payload))
