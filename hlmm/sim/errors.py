"""Errors of the simulated exchange and the exact texts it answers with.

Two kinds of failure leave the sim:

* ``SimRequestError``: the request itself is unusable (a body that does not
  deserialize into the expected type).  The transport turns it into an HTTP status
  with a text/plain body, as Hyperliquid does (422 ``Failed to deserialize the JSON
  body into the target type``).
* Business errors: answered with HTTP 200, either as a whole-action
  ``{"status":"err","response":<text>}`` or as a per-order ``{"error":<text>}``
  status.  Their texts are the constants and builders below, taken from the
  protocol reference (``/work/shared/reference/hyperliquid-protocol.md`` §3, §4d,
  §7).  Texts the reference marks *unconfirmed* are kept in the shape the reference
  quotes; sim-only conditions say so in their text (``(simulator)``).

``SimError`` is raised by the internal (unsigned) API for caller mistakes such as
an unknown account or coin.
"""
from __future__ import annotations

DESERIALIZE_FAILED = "Failed to deserialize the JSON body into the target type"


class SimRequestError(Exception):
    """A malformed request: the transport answers HTTP ``status`` with body ``text``."""

    def __init__(self, status: int = 422, text: str = DESERIALIZE_FAILED) -> None:
        super().__init__(text)
        self.status = status
        self.text = text

    def __repr__(self) -> str:
        return f"SimRequestError({self.status}, {self.text!r})"


class SimError(ValueError):
    """A caller error on the sim's internal API (unknown account, unknown coin...)."""


def bad_request() -> SimRequestError:
    """The 422 every undeserializable body gets."""
    return SimRequestError(422, DESERIALIZE_FAILED)


# ---- per-order statuses (DOCS error-responses) ----------------------------------
TICK = "Price must be divisible by tick size."
MIN_NOTIONAL = "Order must have minimum value of $10."
INVALID_SIZE = "Order has invalid size."
INVALID_PRICE = "Order has invalid price."
MARGIN = "Insufficient margin to place order."
REDUCE_ONLY = "Reduce only order would increase position."
IOC_CANCEL = "Order could not immediately match against any resting orders."
MISSING_ORDER = "Order was never placed, already canceled, or filled."
MODIFY_MISSING = "Cannot modify canceled or filled order."
TOO_MANY_ORDERS = "Too many open orders."  # *unconfirmed* text (reference §9.1)
TRIGGER_UNSUPPORTED = "Trigger orders are not supported by the simulator."
FAULT_REJECT = "Order rejected by injected fault (simulator)."
FROZEN = "Book is frozen by injected fault (simulator)."


def bad_alo(bid: str, ask: str) -> str:
    """Alo order that would cross: ``bbo was {bid}@{ask}`` (live form, reference §3)."""
    return f"Post only order would have immediately matched, bbo was {bid}@{ask}."


def unknown_asset(asset: object) -> str:
    return f"Asset {asset} does not exist (simulator)."


# ---- whole-action errors ({"status":"err","response":text}) ---------------------
def unknown_signer(address: str) -> str:
    """The recovered signer is neither a user nor an approved agent."""
    return f"User or API Wallet {address} does not exist."


def must_deposit(address: str) -> str:
    return f"Must deposit before performing actions. User: {address}"


UNRECOVERABLE_SIGNER = "Unable to recover signer."
EXPIRED = "Action already expired"
SCHEDULE_TOO_EARLY = "Scheduled cancel time too early, must be at least 5 seconds from now."
SCHEDULE_TOO_MANY = "Too many scheduled cancel triggers today"
INVALID_LEVERAGE = "Invalid leverage value"  # *unconfirmed* text
LEVERAGE_MARGIN = "Insufficient margin to change leverage"  # *unconfirmed* text
ISOLATED_UNSUPPORTED = "Isolated margin is not supported by the simulator."
GROUPING_UNSUPPORTED = "Only grouping \"na\" is supported by the simulator."
BUILDER_UNSUPPORTED = "Builder fees are not supported by the simulator."
EMPTY_BATCH = "Empty batch of orders"  # *unconfirmed* text
AGENT_CANNOT_APPROVE = "Agents cannot approve agents (simulator)."
NONCE_MISMATCH = "Nonce in action does not match the request nonce (simulator)."


def agent_is_user(agent: str) -> str:
    return f"Agent {agent} is a user address (simulator)."


def too_many_agents(limit: int) -> str:
    return f"Too many named agents: at most {limit} (simulator)."


def action_unsupported(kind: str) -> str:
    return f"Action {kind} is not supported by the simulator."


def schedule_volume(required_usd: int, traded_usd: int) -> str:
    return (
        "Cannot set scheduled cancel time until enough volume traded. "
        f"Required: ${required_usd}. Traded: ${traded_usd}."
    )


def nonce_duplicate(nonce: int) -> str:
    return f"Invalid nonce: duplicate nonce {nonce}"


def nonce_too_low(nonce: int, floor: int) -> str:
    return f"Invalid nonce: nonce too low {nonce} < {floor}"


def nonce_too_high(nonce: int, ceiling: int) -> str:
    return f"Invalid nonce: nonce too high {nonce} > {ceiling}"


def rate_limited(used: int, cap: int, volume_usd: int) -> str:
    """The address budget is spent (reference §3, top-level errors)."""
    return (
        f"Too many cumulative requests sent ({used} > {cap}) for cumulative volume traded "
        f"${volume_usd}. Place taker orders to free up 1 request per USDC traded."
    )


def vault_not_controlled(vault: str, user: str) -> str:
    return f"Vault or sub-account {vault} is not controlled by {user} (simulator)."


def chain_mismatch(expected: str) -> str:
    return f"Invalid hyperliquidChain: this exchange is {expected} (simulator)."
