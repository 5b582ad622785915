"""Typed results of ``/exchange`` answers, shared by the HTTP client and WebSocket posts.

A top-level ``{"status":"err","response":text}`` raises ``ActionError``; per-order
statuses come back as ``OrderResult`` / ``CancelResult`` values, one per request
item, in request order: a rejected order is data, not an exception.  (The action
bodies themselves are built by ``hlmm.exchange.wire``.)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from hlmm.exchange.errors import ActionError, ProtocolError

OrderStatus = Literal["resting", "filled", "error", "waitingForFill", "waitingForTrigger", "success"]


@dataclass(frozen=True, slots=True)
class OrderResult:
    """One order's outcome in an order/modify/batchModify response.

    ``status`` is ``resting`` (``oid``, maybe ``cloid``), ``filled`` (``oid``,
    ``total_sz``, ``avg_px``), ``error`` (``error`` holds the exchange's text),
    ``waitingForFill``/``waitingForTrigger`` (TP/SL children) or ``success``
    (a modify/batchModify entry with no detail).  ``batch_error`` marks an error
    the exchange gave once for the whole batch (pre-validation), copied to each order.
    """

    status: OrderStatus
    oid: int | None = None
    cloid: str | None = None
    total_sz: str | None = None
    avg_px: str | None = None
    error: str | None = None
    batch_error: bool = False

    @property
    def ok(self) -> bool:
        return self.status != "error"


@dataclass(frozen=True, slots=True)
class CancelResult:
    """One cancel's outcome: ``ok`` or the exchange's ``error`` text."""

    ok: bool
    error: str | None = None


def response_data(response: Any) -> dict[str, Any]:
    """The ``response`` object of an ok answer; raises ``ActionError`` on ``status: err``."""
    if not isinstance(response, dict) or response.get("status") not in ("ok", "err"):
        raise ProtocolError(f"unexpected /exchange answer: {str(response)[:300]}")
    if response["status"] == "err":
        text = response.get("response")
        raise ActionError(text if isinstance(text, str) else str(text))
    body = response.get("response")
    if not isinstance(body, dict):
        raise ProtocolError(f"/exchange answer has no response object: {str(response)[:300]}")
    return body


def _statuses(response: Any, expected: int) -> list[Any]:
    body = response_data(response)
    data = body.get("data")
    statuses = data.get("statuses") if isinstance(data, dict) else None
    if not isinstance(statuses, list):
        raise ProtocolError(f"/exchange answer has no statuses: {str(response)[:300]}")
    if len(statuses) != expected:
        # pre-validation: the exchange answers a whole batch with one error
        if len(statuses) == 1 and isinstance(statuses[0], dict) and "error" in statuses[0]:
            return [{"error": statuses[0]["error"], "_batch": True}] * expected
        raise ProtocolError(f"/exchange answered {len(statuses)} statuses for {expected} items")
    return statuses


def parse_order_statuses(response: Any, expected: int) -> list[OrderResult]:
    """Typed per-order results of an order/modify/batchModify answer (request order)."""
    results = []
    for status in _statuses(response, expected):
        results.append(_order_result(status))
    return results


def parse_single_modify(response: Any) -> OrderResult:
    """The result of a ``modify`` action: its one status, or ``success`` for a bare ok."""
    body = response_data(response)
    if body.get("type") == "default" and "data" not in body:
        return OrderResult("success")
    return parse_order_statuses(response, 1)[0]


def _order_result(status: Any) -> OrderResult:
    if isinstance(status, str):
        if status in ("waitingForFill", "waitingForTrigger", "success"):
            return OrderResult(status)  # type: ignore[arg-type]
        raise ProtocolError(f"unknown order status {status!r}")
    if not isinstance(status, dict) or len(status) == 0:
        raise ProtocolError(f"unknown order status {status!r}")
    if "error" in status:
        return OrderResult("error", error=str(status["error"]), batch_error=bool(status.get("_batch")))
    if "resting" in status:
        body = status["resting"]
        return OrderResult("resting", oid=int(body["oid"]), cloid=body.get("cloid"))
    if "filled" in status:
        body = status["filled"]
        return OrderResult("filled", oid=int(body["oid"]), cloid=body.get("cloid"),
                           total_sz=str(body["totalSz"]), avg_px=str(body["avgPx"]))
    raise ProtocolError(f"unknown order status {status!r}")


def parse_cancel_statuses(response: Any, expected: int) -> list[CancelResult]:
    """Typed per-cancel results of a cancel/cancelByCloid answer (request order)."""
    results = []
    for status in _statuses(response, expected):
        if status == "success":
            results.append(CancelResult(True))
        elif isinstance(status, dict) and "error" in status:
            results.append(CancelResult(False, str(status["error"])))
        else:
            raise ProtocolError(f"unknown cancel status {status!r}")
    return results


def check_default(response: Any) -> None:
    """Accept an ok answer without statuses (``{"type":"default"}`` and friends)."""
    response_data(response)
