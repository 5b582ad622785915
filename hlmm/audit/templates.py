"""Message templates: the same log statement with its variable parts masked.

``Untracked order filled: oid=293489830558 tid=99 cloid=None sold 0.00103 BTC`` and the same
line with other numbers both become ``Untracked order filled: oid=<n> tid=<n> cloid=None sold
<n> BTC``.  Masked: timestamps, UUIDs, addresses (0x + 40 hex), other hex, long bare hex,
numbers.  Only the first line of a message, and its first :data:`MAX_CHARS` characters, count.
"""
from __future__ import annotations

import re

MAX_CHARS = 200

_MASKS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?"), "<ts>"),
    (re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"), "<uuid>"),
    (re.compile(r"\b0x[0-9a-fA-F]{40}\b"), "<addr>"),
    (re.compile(r"\b0x[0-9a-fA-F]+\b"), "<hex>"),
    (re.compile(r"\b(?=[0-9a-fA-F]*[a-fA-F])(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{16,}\b"), "<hex>"),
    (re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"), "<n>"),
)
_SPACES = re.compile(r"\s+")
_DIGIT = re.compile(r"\d")


def template(message: str) -> str:
    """The masked form of ``message`` (first line, first :data:`MAX_CHARS` characters)."""
    nl = message.find("\n")
    text = message[:nl] if nl >= 0 else message
    cut = len(text) > MAX_CHARS
    text = text[:MAX_CHARS]
    if _DIGIT.search(text):  # every mask needs a digit; most messages without one are templates already
        for pattern, repl in _MASKS:
            text = pattern.sub(repl, text)
    text = _SPACES.sub(" ", text).strip()
    return text + "…" if cut else text
