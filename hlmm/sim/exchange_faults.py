"""Exchange-level faults of the sim (``SimExchange.faults``).

* ``reject_next(n)``: the next ``n`` orders placed through signed ``/exchange``
  requests (order, modify, batchModify) get an error status instead of reaching
  the book.  Internal market-flow orders do not consume it.
* ``freeze_book(coin, on)``: while a coin is frozen its book does not change and
  is not pushed: orders and cancels on it get an error status, internal flow on it
  is refused, and a firing dead-man switch leaves its orders in place.  ``coin``
  None (or a bare bool first argument: ``freeze_book(True)``) means every coin.
  Unfreezing marks the coin dirty so pushes resume with a fresh snapshot.

Transport faults (dropped sockets, delayed pushes, forced 429s) are the
transport's (``hlmm.sim.faults``).
"""
from __future__ import annotations

from typing import Callable, Sequence


class ExchangeFaults:
    """Current exchange-fault settings."""

    def __init__(self, coins: Sequence[str], on_unfreeze: Callable[[str], None] | None = None) -> None:
        self._coins = list(coins)
        self._reject_next = 0
        self._frozen: set[str] = set()
        self._on_unfreeze = on_unfreeze
        self.rejected = 0  # orders rejected so far by reject_next

    def reject_next(self, n: int) -> None:
        """Make the next ``n`` signed orders fail (replaces any budget left)."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"reject_next needs a whole number >= 0, got {n!r}")
        self._reject_next = n

    def take_reject(self) -> bool:
        """True (and count one down) while a reject budget remains."""
        if self._reject_next > 0:
            self._reject_next -= 1
            self.rejected += 1
            return True
        return False

    def freeze_book(self, coin: str | None | bool = None, on: bool = True) -> None:
        """Freeze (``on``) or unfreeze one coin's book, or every coin's when ``coin`` is None."""
        if isinstance(coin, bool):
            coin, on = None, coin
        if coin is not None and coin not in self._coins:
            raise ValueError(f"unknown coin {coin!r}; the sim trades {', '.join(self._coins)}")
        targets = self._coins if coin is None else [coin]
        for c in targets:
            if on:
                self._frozen.add(c)
            elif c in self._frozen:
                self._frozen.discard(c)
                if self._on_unfreeze is not None:
                    self._on_unfreeze(c)

    def is_frozen(self, coin: str) -> bool:
        return coin in self._frozen

    def clear(self) -> None:
        """Turn every exchange fault off."""
        self._reject_next = 0
        self.freeze_book(None, False)

    def to_dict(self) -> dict:
        return {"reject_next": self._reject_next, "rejected": self.rejected,
                "frozen": [c for c in self._coins if c in self._frozen]}
