"""Hyperliquid action signing and signer recovery (protocol reference §4).

L1 actions (orders, cancels, leverage, ...) are msgpack-hashed into a connectionId,
which is signed as the EIP-712 struct ``Agent(string source,bytes32 connectionId)``
in the domain {Exchange, 1, 1337, 0x0}. User-signed actions (transfers, withdrawals,
agent and builder approvals) sign their own typed fields in the domain
{HyperliquidSignTransaction, 1, signatureChainId, 0x0}.

The EIP-712 encoding is done by hand from precomputed constants (domain separators
and type hashes) instead of through eth-account's generic `encode_typed_data`; the
tests check every official vector bit for bit and cross-check random actions
against eth-account. Signatures come back as the official SDK writes them:
``{"r": hex(r), "s": hex(s), "v": 27|28}`` with r and s not zero-padded.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import msgpack
from coincurve import PublicKey

from hlmm.exchange.ethcrypto import (
    SECP256K1_N,
    address_bytes,
    address_from_public_key,
    checksum_address,
    is_hex,
    keccak256,
)
from hlmm.exchange.keys import Wallet

__all__ = [
    "SigningError",
    "SignatureError",
    "L1_DOMAIN_SEPARATOR",
    "AGENT_TYPEHASH",
    "SIGNATURE_CHAIN_ID",
    "USER_SIGNED_TYPES",
    "user_signed_types",
    "action_hash",
    "l1_digest",
    "sign_l1_action",
    "recover_l1_signer",
    "user_signed_digest",
    "sign_user_signed_action",
    "recover_user_signed_signer",
]


class SigningError(ValueError):
    """An action, nonce, address or key given to signing or recovery is malformed."""


class SignatureError(SigningError):
    """A signature is malformed or recovers no public key."""


# --- EIP-712 constants ---------------------------------------------------------------

_DOMAIN_TYPEHASH = keccak256(b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")


def _domain_separator(name: bytes, chain_id: int) -> bytes:
    return keccak256(
        _DOMAIN_TYPEHASH + keccak256(name) + keccak256(b"1") + chain_id.to_bytes(32, "big") + bytes(32)
    )


#: EIP-712 domain separator of L1 actions: {name: Exchange, version: 1, chainId: 1337, verifyingContract: 0x0}.
L1_DOMAIN_SEPARATOR = _domain_separator(b"Exchange", 1337)
#: keccak256("Agent(string source,bytes32 connectionId)").
AGENT_TYPEHASH = keccak256(b"Agent(string source,bytes32 connectionId)")

_L1_PREFIX = b"\x19\x01" + L1_DOMAIN_SEPARATOR
# typeHash ‖ keccak(source): the constant head of the Agent struct encoding.
_AGENT_HEAD_MAINNET = AGENT_TYPEHASH + keccak256(b"a")
_AGENT_HEAD_TESTNET = AGENT_TYPEHASH + keccak256(b"b")

#: The chain id the official SDK writes into user-signed actions (0x66eee = 421614).
SIGNATURE_CHAIN_ID = "0x66eee"

# msgpack.packb's defaults are what the SDK hashes: str type for strings, smallest int form.
_packb = msgpack.packb

_U64_LIMIT = 1 << 64


# --- L1 actions ----------------------------------------------------------------------


def _u64_bytes(value: object, what: str) -> bytes:
    if type(value) is not int or not 0 <= value < _U64_LIMIT:
        raise SigningError(f"{what} must be an integer in [0, 2**64), got {type(value).__name__}")
    return value.to_bytes(8, "big")


@lru_cache(maxsize=256)
def _vault_suffix(vault_address: str) -> bytes:
    try:
        return b"\x01" + address_bytes(vault_address, "vault_address")
    except ValueError as exc:
        raise SigningError(str(exc)) from None


def action_hash(action: Any, vault_address: str | None, nonce: int, expires_after: int | None) -> bytes:
    """The connectionId of an L1 action: keccak256 of msgpack(action) ‖ nonce ‖ vault ‖ expiry.

    `action` is hashed in its dict insertion order, exactly as it will be sent.
    """
    try:
        data = _packb(action)
    except (TypeError, ValueError, OverflowError) as exc:
        raise SigningError(f"the action cannot be msgpack-encoded: {exc}") from None
    data += _u64_bytes(nonce, "nonce")
    if vault_address is None:
        data += b"\x00"
    elif type(vault_address) is str:
        data += _vault_suffix(vault_address)
    else:
        raise SigningError(f"vault_address must be a 0x-prefixed hex string or None, got {type(vault_address).__name__}")
    if expires_after is not None:
        data += b"\x00" + _u64_bytes(expires_after, "expires_after")
    return keccak256(data)


def l1_digest(connection_id: bytes, is_mainnet: bool) -> bytes:
    """The EIP-712 digest signed for an L1 action with this connectionId."""
    if is_mainnet is True:
        head = _AGENT_HEAD_MAINNET
    elif is_mainnet is False:
        head = _AGENT_HEAD_TESTNET
    else:
        raise SigningError(f"is_mainnet must be True or False, got {type(is_mainnet).__name__}")
    if type(connection_id) is not bytes or len(connection_id) != 32:
        raise SigningError("connection_id must be 32 bytes")
    return keccak256(_L1_PREFIX + keccak256(head + connection_id))


def _as_wallet(key: Wallet | str) -> Wallet:
    if isinstance(key, Wallet):
        return key
    if isinstance(key, str):
        return Wallet.from_hex(key)
    raise SigningError(f"key must be a Wallet or a hex private key string, got {type(key).__name__}")


def _signature_dict(r: int, s: int, v: int) -> dict[str, Any]:
    return {"r": hex(r), "s": hex(s), "v": v}


def sign_l1_action(
    key: Wallet | str,
    action: Any,
    vault_address: str | None,
    nonce: int,
    expires_after: int | None,
    is_mainnet: bool,
) -> dict[str, Any]:
    """Sign an L1 action; returns ``{"r": "0x..", "s": "0x..", "v": 27|28}`` as the SDK does."""
    wallet = _as_wallet(key)
    return _signature_dict(*wallet.sign_digest(l1_digest(action_hash(action, vault_address, nonce, expires_after), is_mainnet)))


def recover_l1_signer(
    action: Any,
    vault_address: str | None,
    nonce: int,
    expires_after: int | None,
    is_mainnet: bool,
    signature: Any,
) -> str:
    """The checksummed address that signed an L1 action (user or agent wallet).

    Raises SignatureError for a malformed signature and SigningError for a malformed
    action, nonce or vault address. A well-formed signature over different data
    recovers *some other* address: compare the result with the expected signer.
    """
    sig65 = _parse_signature(signature)
    digest = l1_digest(action_hash(action, vault_address, nonce, expires_after), is_mainnet)
    return _recover_address(digest, sig65)


# --- signatures ----------------------------------------------------------------------


def _scalar(value: object, what: str) -> int:
    if type(value) is str:
        digits = value[2:]
        if value[:2] not in ("0x", "0X") or not is_hex(digits):
            raise SignatureError(f"signature {what} must be a 0x-prefixed hex string")
        if len(digits) > 64:
            raise SignatureError(f"signature {what} has {len(digits)} hex digits; at most 64 fit in 32 bytes")
        number = int(digits, 16)
    elif type(value) is int:
        number = value
    else:
        raise SignatureError(f"signature {what} must be a 0x-prefixed hex string, got {type(value).__name__}")
    if not 0 < number < SECP256K1_N:
        raise SignatureError(f"signature {what} is out of range (must be between 1 and the secp256k1 order - 1)")
    return number


def _parse_signature(signature: Any) -> bytes:
    """r ‖ s ‖ recovery id (65 bytes) from ``{"r","s","v"}`` or a 65-byte r‖s‖v hex string/bytes."""
    if isinstance(signature, Mapping):
        for field in ("r", "s", "v"):
            if field not in signature:
                raise SignatureError(f"signature is missing {field!r}")
        r = _scalar(signature["r"], "r")
        s = _scalar(signature["s"], "s")
        v = signature["v"]
        if type(v) is not int:
            raise SignatureError(f"signature v must be the integer 27 or 28, got {type(v).__name__}")
    elif isinstance(signature, (str, bytes, bytearray)):
        if isinstance(signature, str):
            if signature[:2] not in ("0x", "0X") or not is_hex(signature[2:]) or len(signature) != 132:
                raise SignatureError("a signature string must be 0x followed by 130 hex digits (r ‖ s ‖ v)")
            raw = bytes.fromhex(signature[2:])
        else:
            raw = bytes(signature)
            if len(raw) != 65:
                raise SignatureError(f"a signature is 65 bytes (r ‖ s ‖ v), got {len(raw)}")
        r = _scalar(int.from_bytes(raw[:32], "big"), "r")
        s = _scalar(int.from_bytes(raw[32:64], "big"), "s")
        v = raw[64]
    else:
        raise SignatureError(f"signature must be an object with r, s and v, got {type(signature).__name__}")
    if v != 27 and v != 28:
        raise SignatureError(f"signature v must be 27 or 28, got {v}")
    return r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes((v - 27,))


def _recover_address(digest: bytes, sig65: bytes) -> str:
    public = None
    try:
        public = PublicKey.from_signature_and_message(sig65, digest, hasher=None)
    except ValueError:
        pass
    if public is None:
        raise SignatureError("the signature does not recover any public key")
    return checksum_address(address_from_public_key(public.format(compressed=False)))


# --- user-signed actions -------------------------------------------------------------


def _fields(*pairs: tuple[str, str]) -> tuple[dict[str, str], ...]:
    return tuple({"name": name, "type": typ} for name, typ in pairs)


_APPROVE_AGENT = "HyperliquidTransaction:ApproveAgent"

#: action type -> (EIP-712 primary type, payload types in the SDK's [{"name","type"}] form).
USER_SIGNED_TYPES: dict[str, tuple[str, tuple[dict[str, str], ...]]] = {
    "approveAgent": (
        _APPROVE_AGENT,
        _fields(("hyperliquidChain", "string"), ("agentAddress", "address"), ("agentName", "string"), ("nonce", "uint64")),
    ),
    "usdSend": (
        "HyperliquidTransaction:UsdSend",
        _fields(("hyperliquidChain", "string"), ("destination", "string"), ("amount", "string"), ("time", "uint64")),
    ),
    "withdraw3": (
        "HyperliquidTransaction:Withdraw",
        _fields(("hyperliquidChain", "string"), ("destination", "string"), ("amount", "string"), ("time", "uint64")),
    ),
    "usdClassTransfer": (
        "HyperliquidTransaction:UsdClassTransfer",
        _fields(("hyperliquidChain", "string"), ("amount", "string"), ("toPerp", "bool"), ("nonce", "uint64")),
    ),
    "approveBuilderFee": (
        "HyperliquidTransaction:ApproveBuilderFee",
        _fields(("hyperliquidChain", "string"), ("maxFeeRate", "string"), ("builder", "address"), ("nonce", "uint64")),
    ),
}


def user_signed_types(action_type: str) -> tuple[str, tuple[dict[str, str], ...]]:
    """(primary type, payload types) of a user-signed action type such as "usdSend"."""
    entry = USER_SIGNED_TYPES.get(action_type)
    if entry is None:
        known = ", ".join(sorted(USER_SIGNED_TYPES))
        raise SigningError(f"{action_type!r} is not a user-signed action type this client signs ({known})")
    return entry


_ATOMIC_TYPES = {"string", "address", "bool", "bytes32"} | {f"uint{8 * i}" for i in range(1, 33)}


@lru_cache(maxsize=64)
def _compile_struct(primary_type: str, fields: tuple[tuple[str, str], ...]) -> bytes:
    for name, typ in fields:
        if typ not in _ATOMIC_TYPES:
            raise SigningError(f"unsupported EIP-712 field type {typ!r} for {name!r} in {primary_type}")
    return keccak256(f"{primary_type}({','.join(f'{t} {n}' for n, t in fields)})".encode())


def _normalize_types(payload_types: Sequence[Any]) -> tuple[tuple[str, str], ...]:
    out = []
    for item in payload_types:
        if isinstance(item, Mapping):
            pair: tuple[Any, ...] = (item.get("name"), item.get("type"))
        else:
            pair = tuple(item) if isinstance(item, (tuple, list)) else ()
        if len(pair) != 2 or not all(type(x) is str for x in pair):
            raise SigningError('payload_types must be a list of {"name": str, "type": str} entries')
        out.append(pair)
    return tuple(out)


def _encode_field(typ: str, value: object, name: str) -> bytes:
    if typ == "string":
        if type(value) is not str:
            raise SigningError(f"field {name!r} must be a string, got {type(value).__name__}")
        return keccak256(value.encode("utf-8"))
    if typ == "address":
        try:
            return bytes(12) + address_bytes(value, f"field {name!r}")
        except ValueError as exc:
            raise SigningError(str(exc)) from None
    if typ == "bool":
        if type(value) is not bool:
            raise SigningError(f"field {name!r} must be true or false, got {type(value).__name__}")
        return int(value).to_bytes(32, "big")
    if typ == "bytes32":
        if isinstance(value, str) and value[:2] in ("0x", "0X") and len(value) == 66 and is_hex(value[2:]):
            return bytes.fromhex(value[2:])
        if isinstance(value, (bytes, bytearray)) and len(value) == 32:
            return bytes(value)
        raise SigningError(f"field {name!r} must be 32 bytes (0x + 64 hex digits)")
    bits = int(typ[4:])  # uintN
    if type(value) is not int or not 0 <= value < (1 << bits):
        raise SigningError(f"field {name!r} must be an integer in [0, 2**{bits}), got {type(value).__name__}")
    return value.to_bytes(32, "big")


@lru_cache(maxsize=16)
def _user_domain_separator(chain_id: int) -> bytes:
    return _domain_separator(b"HyperliquidSignTransaction", chain_id)


def _chain_id(action: Mapping[str, Any]) -> int:
    value = action.get("signatureChainId")
    if type(value) is not str or value[:2] not in ("0x", "0X") or not is_hex(value[2:]) or len(value) > 66:
        raise SigningError("the action's signatureChainId must be a 0x-prefixed hex chain id such as '0x66eee'")
    return int(value[2:], 16)


def user_signed_digest(action: Mapping[str, Any], payload_types: Sequence[Any], primary_type: str) -> bytes:
    """The EIP-712 digest of a user-signed action (its signatureChainId and typed fields).

    A missing ``agentName`` of ApproveAgent counts as "" (the SDK drops an empty name
    from the JSON but signs ""). Any other missing field is an error.
    """
    if not isinstance(action, Mapping):
        raise SigningError(f"the action must be an object, got {type(action).__name__}")
    fields = _normalize_types(payload_types)
    parts = [_compile_struct(primary_type, fields)]
    for name, typ in fields:
        if name in action:
            value = action[name]
        elif name == "agentName" and primary_type == _APPROVE_AGENT:
            value = ""
        else:
            raise SigningError(f"the action lacks field {name!r} signed by {primary_type}")
        parts.append(_encode_field(typ, value, name))
    domain = _user_domain_separator(_chain_id(action))
    return keccak256(b"\x19\x01" + domain + keccak256(b"".join(parts)))


def sign_user_signed_action(
    key: Wallet | str,
    action: dict[str, Any],
    payload_types: Sequence[Any],
    primary_type: str,
    is_mainnet: bool,
) -> dict[str, Any]:
    """Sign a user-signed action, completing it in place as the SDK does.

    Sets ``signatureChainId`` to 0x66eee and ``hyperliquidChain`` to Mainnet/Testnet
    on `action`; for ApproveAgent an empty or None ``agentName`` is removed from the
    action (it is signed as ""). Field values are signed exactly as given: build
    actions with `hlmm.exchange.user_actions`, which lower-cases destinations.
    The action is changed only if signing succeeds.
    """
    if is_mainnet is not True and is_mainnet is not False:
        raise SigningError(f"is_mainnet must be True or False, got {type(is_mainnet).__name__}")
    wallet = _as_wallet(key)
    completed = dict(action)
    completed["signatureChainId"] = SIGNATURE_CHAIN_ID
    completed["hyperliquidChain"] = "Mainnet" if is_mainnet else "Testnet"
    drop_name = primary_type == _APPROVE_AGENT and completed.get("agentName") in (None, "")
    if drop_name:
        completed.pop("agentName", None)
    signature = _signature_dict(*wallet.sign_digest(user_signed_digest(completed, payload_types, primary_type)))
    action["signatureChainId"] = completed["signatureChainId"]
    action["hyperliquidChain"] = completed["hyperliquidChain"]
    if drop_name:
        action.pop("agentName", None)
    return signature


def recover_user_signed_signer(
    action: Mapping[str, Any], payload_types: Sequence[Any], primary_type: str, signature: Any
) -> str:
    """The checksummed address that signed a user-signed action, as received.

    Uses the action's own ``signatureChainId`` and ``hyperliquidChain``.
    """
    sig65 = _parse_signature(signature)
    return _recover_address(user_signed_digest(action, payload_types, primary_type), sig65)
