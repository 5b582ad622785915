"""Ethereum hashing and address primitives shared by keys and signing.

Keccak-256 comes from safe-pysha3 (the maintained fork of pysha3, a C extension and
one of eth-hash's backends): ~1 us a call. pycryptodome's `Crypto.Hash.keccak` costs
~4-6 us of Python-level setup per call, and a signature takes three hashes. Tests
cross-check it against pycryptodome. `hashlib.sha3_256` is *not* Keccak-256
(different padding).
"""
from __future__ import annotations

from functools import lru_cache

from sha3 import keccak_256 as _keccak_256


def keccak256(data: bytes) -> bytes:
    """Keccak-256 digest (Ethereum's hash) of `data`."""
    return _keccak_256(data).digest()


__all__ = [
    "SECP256K1_N",
    "keccak256",
    "checksum_address",
    "address_bytes",
    "address_from_public_key",
    "is_hex",
]

#: Order of the secp256k1 group: private keys and signature scalars lie in [1, N).
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def is_hex(text: str) -> bool:
    """True if `text` is non-empty and made only of hexadecimal digits (no prefix)."""
    return bool(text) and all(c in _HEX_DIGITS for c in text)


def address_bytes(address: object, what: str = "address") -> bytes:
    """The 20 bytes of a ``0x``-prefixed hex address (any letter case).

    Raises ValueError with a message naming `what` when `address` is not one.
    """
    if not isinstance(address, str):
        raise ValueError(f"{what} must be a 0x-prefixed hex string, got {type(address).__name__}")
    # The value is not quoted back: a private key pasted in the wrong place must not leak.
    if address[:2] not in ("0x", "0X") or not is_hex(address[2:]):
        raise ValueError(f"{what} must be 0x followed by 40 hex digits")
    if len(address) != 42:
        raise ValueError(f"{what} must be 0x followed by 40 hex digits, got {len(address) - 2} digits")
    return bytes.fromhex(address[2:])


@lru_cache(maxsize=4096)
def checksum_address(address20: bytes) -> str:
    """EIP-55 mixed-case checksum form of a 20-byte address.

    Cached: a process sees few distinct addresses (its own, the simulator's users),
    and the simulator recovers an address for every action it receives.
    """
    if len(address20) != 20:
        raise ValueError(f"an address is 20 bytes, got {len(address20)}")
    lower = address20.hex()
    nibbles = keccak256(lower.encode("ascii")).hex()
    return "0x" + "".join(c.upper() if int(h, 16) >= 8 else c for c, h in zip(lower, nibbles))


def address_from_public_key(uncompressed: bytes) -> bytes:
    """The 20-byte address of a 65-byte uncompressed secp256k1 public key (0x04‖X‖Y)."""
    return keccak256(uncompressed[1:])[12:]
