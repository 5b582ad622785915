"""Per-signer nonce rules of Hyperliquid (reference §4d).

Each signer (the user, or the agent when an API wallet signs) keeps its 100
highest nonces.  A new nonce must be unused, must exceed the smallest kept one
once 100 are kept, and must lie in the open window (T - 2 days, T + 1 day) of the
exchange's time T.  A rejected nonce changes nothing; an accepted one is recorded
only when the action passed every other check (``NonceSet.commit``), so a
rate-limited or badly signed request does not burn it.
"""
from __future__ import annotations

import bisect

from hlmm.sim import errors

KEEP = 100
WINDOW_PAST_MS = 2 * 24 * 3600 * 1000
WINDOW_FUTURE_MS = 1 * 24 * 3600 * 1000


class NonceSet:
    """The kept nonces of one signer (sorted ascending, at most ``KEEP``)."""

    __slots__ = ("_kept",)

    def __init__(self) -> None:
        self._kept: list[int] = []

    def check(self, nonce: int, now_ms: int) -> str | None:
        """The exchange's error text if ``nonce`` is not acceptable now, else None."""
        # the window is open: the texts name the first / last acceptable value
        lowest = now_ms - WINDOW_PAST_MS + 1
        if nonce < lowest:
            return errors.nonce_too_low(nonce, lowest)
        highest = now_ms + WINDOW_FUTURE_MS - 1
        if nonce > highest:
            return errors.nonce_too_high(nonce, highest)
        kept = self._kept
        i = bisect.bisect_left(kept, nonce)
        if i < len(kept) and kept[i] == nonce:
            return errors.nonce_duplicate(nonce)
        if len(kept) >= KEEP and nonce <= kept[0]:
            return errors.nonce_too_low(nonce, kept[0])
        return None

    def commit(self, nonce: int) -> None:
        """Record an accepted nonce, dropping the smallest beyond ``KEEP``."""
        bisect.insort(self._kept, nonce)
        if len(self._kept) > KEEP:
            del self._kept[0]

    @property
    def smallest(self) -> int | None:
        return self._kept[0] if self._kept else None

    def __len__(self) -> int:
        return len(self._kept)
