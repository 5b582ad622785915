"""Recognize and mask text that looks like a secp256k1 private key.

A Hyperliquid private key is 32 bytes, written as 64 hex digits (often with ``0x``).
hlmm never puts a key in a log line, an error or a config file; this module is the
defense in depth behind that rule: the logger and every ``HlmmError`` pass their text
through :func:`redact`, and the config loader refuses any value :func:`looks_like_private_key`.

The pattern is deliberately broad: any run of 64 or more hex digits that is not part
of a longer word of hex digits.  A 32-byte hash or a signature is masked too; losing
one is cheap, leaking a key is not.
"""
from __future__ import annotations

import re

REDACTED = "[REDACTED]"

# (?<![0-9a-fA-F]) stops a match from starting inside a longer hex word, the
# optional 0x makes the prefix part of the masked text, {64,} also catches a key
# glued to more hex digits.
PRIVATE_KEY_RE = re.compile(r"(?<![0-9A-Fa-f])(?:0[xX])?[0-9A-Fa-f]{64,}")


# The regex is slow on lines full of digits (it retries at every hex character), so
# the common case — no key — is decided by mapping each byte to b"1" (hex digit) or
# b"0" and searching for 64 ones: two C loops over the bytes.  Exactly equivalent:
# PRIVATE_KEY_RE matches iff the text has a run of 64+ hex digits.
_HEX_BYTES = frozenset(b"0123456789abcdefABCDEF")
_HEX_MAP = bytes(0x31 if i in _HEX_BYTES else 0x30 for i in range(256))
_KEY_RUN = b"1" * 64


def looks_like_private_key(text: str) -> bool:
    """True if ``text`` contains a run of 64+ hex digits (a private key's shape)."""
    return _KEY_RUN in text.encode("utf-8", "surrogatepass").translate(_HEX_MAP)


def redact(text: str) -> str:
    """``text`` with every key-shaped run of hex digits replaced by ``[REDACTED]``."""
    if _KEY_RUN not in text.encode("utf-8", "surrogatepass").translate(_HEX_MAP):
        return text
    return PRIVATE_KEY_RE.sub(REDACTED, text)
