"""Exchange nonces: millisecond timestamps, strictly increasing per signer.

Hyperliquid keeps the 100 highest nonces of each *signer* (the user, or the agent
wallet when an API wallet signs) and rejects a nonce that is not above the smallest
of them, already used, or outside (now - 2 days, now + 1 day). Sub-accounts and vaults
signed by one agent share that agent's set, so nonces are handed out per signer
address, process-wide, via `nonce_source_for`.
"""
from __future__ import annotations

import threading
import time
from typing import Callable

__all__ = ["NonceSource", "nonce_source_for", "wall_clock_ms"]


def wall_clock_ms() -> int:
    """Current wall-clock time in integer milliseconds since the Unix epoch."""
    return time.time_ns() // 1_000_000


class NonceSource:
    """Hands out ms-timestamp nonces, each strictly above the previous one.

    Two calls in the same millisecond get consecutive values; when the clock is
    ahead of the last nonce the next one jumps forward to the clock; when the clock
    steps back (NTP), nonces keep counting up from the last one instead of repeating.
    Thread-safe.
    """

    __slots__ = ("_clock", "_last", "_lock")

    def __init__(self, clock_ms: Callable[[], int] | None = None, last: int = 0) -> None:
        self._clock = clock_ms if clock_ms is not None else wall_clock_ms
        self._last = int(last)
        self._lock = threading.Lock()

    def next(self) -> int:
        """The next nonce: max(clock now, previous + 1)."""
        with self._lock:
            now = self._clock()
            nonce = now if now > self._last else self._last + 1
            self._last = nonce
            return nonce

    def observe(self, nonce: int) -> None:
        """Record a nonce used elsewhere (e.g. found in a log after a restart) so it is never reissued."""
        with self._lock:
            if nonce > self._last:
                self._last = int(nonce)

    @property
    def last(self) -> int:
        """The most recent nonce handed out or observed (0 before any)."""
        return self._last

    def __repr__(self) -> str:
        return f"NonceSource(last={self._last})"


_registry: dict[str, NonceSource] = {}
_registry_lock = threading.Lock()


def nonce_source_for(signer_address: str) -> NonceSource:
    """The process-wide `NonceSource` of one signer address (any letter case)."""
    key = signer_address.lower()
    with _registry_lock:
        source = _registry.get(key)
        if source is None:
            source = _registry[key] = NonceSource()
        return source
