"""Exceptions raised by hlmm's Hyperliquid clients (HTTP and WebSocket).

Every exception carries ``text``: the exchange's own words when it gave any (a 422
body, an ``{"status":"err"}`` string, a WS error payload), else a description of
what failed.  Per-order rejections inside an accepted batch are *not* exceptions:
they come back as typed results (``hlmm.exchange.actions.OrderResult``).

Outcome semantics matter for a trading system:

* ``outcome_unknown`` is True when the request may have reached the exchange but
  no answer arrived (a timeout, a connection lost after sending).  The caller must
  not treat that as a rejection; the order's state is unknown until the exchange's
  streams or an ``orderStatus`` query say otherwise.
* It is False when the exchange answered (any HTTP status, an error payload) or
  when nothing was sent (the connection could not be opened).
"""
from __future__ import annotations

from hlmm.errors import ExitCode, HlmmError


class ExchangeError(HlmmError):
    """Base of every client error.  ``text`` is the exchange's message when it gave one."""

    outcome_unknown: bool = False

    def __init__(self, text: str, *, status: int | None = None) -> None:
        super().__init__(text)
        self.text = self.message     # redacted by HlmmError, like every user-facing message
        self.status = status

    def __str__(self) -> str:
        return self.text if self.status is None else f"HTTP {self.status}: {self.text}"


class HttpStatusError(ExchangeError):
    """The server answered with a non-200 HTTP status."""


class BadRequestError(HttpStatusError):
    """HTTP 4xx other than 429: the request did not deserialize or was refused (e.g. 422)."""


class RateLimitedError(HttpStatusError):
    """HTTP 429: the per-IP weight budget (1200/min) is spent.  Nothing was executed."""


class ServerError(HttpStatusError):
    """HTTP 5xx.  For an action, the outcome is unknown (the server may have failed after acting)."""

    outcome_unknown = True


class ActionError(ExchangeError):
    """A whole action was refused: ``{"status":"err","response":text}`` (HTTP 200)."""


class PostError(ExchangeError):
    """A WebSocket post was answered with ``{"type":"error","payload":text}``."""


class TransportError(ExchangeError):
    """The request or its reply did not make it across the network."""

    exit_code = ExitCode.VENUE_UNREACHABLE


class ConnectError(TransportError):
    """The connection could not be opened: nothing was sent."""


class ConnectionLost(TransportError):
    """The connection dropped after the request was sent: the outcome is unknown."""

    outcome_unknown = True


class RequestTimeout(TransportError):
    """No reply within the timeout.  NOT a rejection: the outcome is unknown."""

    outcome_unknown = True


class ProtocolError(ExchangeError):
    """The server's reply did not have the documented shape (not JSON, wrong fields)."""

    outcome_unknown = True
