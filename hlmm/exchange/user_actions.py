"""Builders for user-signed actions (protocol reference §4b).

Each returns the action dict ready for `signing.sign_user_signed_action` with the
matching entry of `signing.USER_SIGNED_TYPES`. Addresses are lower-cased: for
``destination`` (an EIP-712 *string*) the letter case changes the signed hash, so one
canonical form is used everywhere. Amounts are decimal strings, never floats.
"""
from __future__ import annotations

import re
from typing import Any

from hlmm.exchange.ethcrypto import address_bytes

__all__ = [
    "approve_agent_action",
    "usd_send_action",
    "withdraw_action",
    "usd_class_transfer_action",
    "approve_builder_fee_action",
]

_DECIMAL = re.compile(r"(0|[1-9][0-9]*)(\.[0-9]+)?")
_FEE_RATE = re.compile(r"(0|[1-9][0-9]*)(\.[0-9]+)?%")


def _lower_address(address: str, what: str) -> str:
    return "0x" + address_bytes(address, what).hex()


def _amount(amount: str) -> str:
    if type(amount) is not str or not _DECIMAL.fullmatch(amount):
        raise ValueError(f"amount must be a decimal string such as '12.5', got {type(amount).__name__} {amount!r}")
    return amount


def _ms(value: int, what: str) -> int:
    if type(value) is not int or value < 0:
        raise ValueError(f"{what} must be a non-negative integer (ms timestamp), got {value!r}")
    return value


def approve_agent_action(agent_address: str, agent_name: str | None, nonce: int) -> dict[str, Any]:
    """approveAgent: let `agent_address` (an API wallet) sign L1 actions for this account.

    An empty or None name registers the unnamed agent; the signer then drops the
    field from the JSON and signs "".
    """
    return {
        "type": "approveAgent",
        "agentAddress": _lower_address(agent_address, "agent_address"),
        "agentName": agent_name or "",
        "nonce": _ms(nonce, "nonce"),
    }


def usd_send_action(destination: str, amount: str, time: int) -> dict[str, Any]:
    """usdSend: transfer USDC (perp balance) to another address. `time` must equal the nonce."""
    return {
        "type": "usdSend",
        "destination": _lower_address(destination, "destination"),
        "amount": _amount(amount),
        "time": _ms(time, "time"),
    }


def withdraw_action(destination: str, amount: str, time: int) -> dict[str, Any]:
    """withdraw3: withdraw USDC to `destination` on Arbitrum. `time` must equal the nonce."""
    return {
        "type": "withdraw3",
        "destination": _lower_address(destination, "destination"),
        "amount": _amount(amount),
        "time": _ms(time, "time"),
    }


def usd_class_transfer_action(
    amount: str, to_perp: bool, nonce: int, vault_address: str | None = None
) -> dict[str, Any]:
    """usdClassTransfer: move USDC between spot and perp balances.

    For a sub-account the SDK appends `` subaccount:<address>`` to the amount.
    """
    if type(to_perp) is not bool:
        raise ValueError(f"to_perp must be True or False, got {to_perp!r}")
    text = _amount(amount)
    if vault_address is not None:
        text += f" subaccount:{_lower_address(vault_address, 'vault_address')}"
    return {"type": "usdClassTransfer", "amount": text, "toPerp": to_perp, "nonce": _ms(nonce, "nonce")}


def approve_builder_fee_action(builder: str, max_fee_rate: str, nonce: int) -> dict[str, Any]:
    """approveBuilderFee: allow `builder` to charge up to `max_fee_rate` (a percent string, e.g. "0.001%")."""
    if type(max_fee_rate) is not str or not _FEE_RATE.fullmatch(max_fee_rate):
        raise ValueError(f"max_fee_rate must be a percent string such as '0.001%', got {max_fee_rate!r}")
    return {
        "type": "approveBuilderFee",
        "maxFeeRate": max_fee_rate,
        "builder": _lower_address(builder, "builder"),
        "nonce": _ms(nonce, "nonce"),
    }
