"""A coin's position in exact arithmetic: signed lots, entry basis, realized PnL, fees, funding.

The size is an integer number of lots (``size * 10**szDecimals``): adding fills can never drift
from the exchange's ``szi`` the way float sums do. Money is kept as ``Fraction`` of USD, built
from the exchange's decimal strings, so nothing is rounded until it is shown.

Entry price is the size-weighted average over opening fills (reference §8). A closing fill
realizes ``(exit - entry) * closed size`` (sign-aware) and removes its share of the entry basis;
a flipping fill (``Long > Short``, ``Short > Long``) closes the whole position and opens the
rest at the same price.

For the safety sync the position keeps its recent changes with their exchange times, so it can
say what it was *as of* the time of a ``clearinghouseState`` snapshot.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

ZERO = Fraction(0)


def to_fraction(value: str | int | float | Fraction | None) -> Fraction:
    """An exact Fraction from an exchange decimal string (or a number; None -> 0)."""
    if value is None:
        return ZERO
    if isinstance(value, Fraction):
        return value
    if isinstance(value, float):
        return Fraction(repr(value))
    return Fraction(value)


@dataclass(slots=True)
class Position:
    """The position of one coin, built from a baseline snapshot plus every fill after it."""

    coin: str
    sz_decimals: int
    lots: int = 0
    open_cost: Fraction = ZERO      # USD: sum of entry price x size over the open position
    realized: Fraction = ZERO       # USD, gross of fees
    fees: Fraction = ZERO           # USD paid (negative = rebates)
    funding: Fraction = ZERO        # USD received (negative = paid)
    volume: Fraction = ZERO         # USD traded
    fills: int = 0
    baseline_ms: int | None = None  # exchange time of the snapshot the position started from
    corrections: int = 0            # times the exchange's position replaced ours
    recent: deque = field(default_factory=lambda: deque(maxlen=100_000))  # (time_ms, is_buy, px, lots, realized, fee)

    @property
    def lot(self) -> Fraction:
        return Fraction(1, 10 ** self.sz_decimals)

    @property
    def size(self) -> Fraction:
        """Signed size in coins (+ long)."""
        return self.lots * self.lot

    @property
    def entry_px(self) -> Fraction | None:
        """Size-weighted entry price of the open position (None when flat)."""
        if self.lots == 0:
            return None
        return self.open_cost / (abs(self.lots) * self.lot)

    def unrealized(self, mark: float | Fraction | None) -> Fraction:
        """PnL of the open position at ``mark`` (0 when flat or mark unknown)."""
        if self.lots == 0 or mark is None:
            return ZERO
        value = to_fraction(mark) * abs(self.lots) * self.lot
        return value - self.open_cost if self.lots > 0 else self.open_cost - value

    def pnl(self, mark: float | Fraction | None) -> Fraction:
        """Realized + unrealized - fees + funding, USD."""
        return self.realized + self.unrealized(mark) - self.fees + self.funding

    def apply_fill(self, is_buy: bool, px: Fraction, lots: int, fee: Fraction, time_ms: int) -> Fraction:
        """Apply one fill (``px`` USD, ``lots`` > 0, ``fee`` USD); returns the PnL it realized
        (gross of its fee)."""
        if lots <= 0:
            raise ValueError(f"fill size must be > 0 lots, got {lots}")
        realized = self._move(is_buy, px, lots)
        self.realized += realized
        self.fees += fee
        self.volume += px * lots * self.lot
        self.fills += 1
        self.recent.append((time_ms, is_buy, px, lots, realized, fee))
        return realized

    def _move(self, is_buy: bool, px: Fraction, lots: int) -> Fraction:
        """Size and entry basis of one fill; returns the PnL realized by its closing part."""
        lot = self.lot
        realized = ZERO
        remaining = lots
        if self.lots != 0 and (self.lots > 0) != is_buy:
            closed = min(remaining, abs(self.lots))
            basis = self.open_cost * closed / abs(self.lots)
            proceeds = px * closed * lot
            realized = proceeds - basis if self.lots > 0 else basis - proceeds
            self.open_cost -= basis
            self.lots += closed if is_buy else -closed
            remaining -= closed
            if self.lots == 0:
                self.open_cost = ZERO
        if remaining:
            self.open_cost += px * remaining * lot
            self.lots += remaining if is_buy else -remaining
        return realized

    def lots_as_of(self, time_ms: int) -> int:
        """The position as it stood at exchange time ``time_ms`` (fills up to and including it)."""
        later = 0
        for t, is_buy, _px, lots, _r, _f in reversed(self.recent):
            if t <= time_ms:
                break
            later += lots if is_buy else -lots
        return self.lots - later

    def reset_to(self, lots: int, entry_px: Fraction | None, time_ms: int, *, session_start: bool = False) -> None:
        """Take the exchange's position at ``time_ms`` as the truth. Fills already applied with a
        later time are not in that snapshot: their sizes are moved on top of it again (their
        realized PnL and fees stay counted once).

        ``session_start``: the snapshot is where the session begins; fills at or before it that
        were applied already (a fills snapshot that arrived first) belong to history: their PnL,
        fees and volume are taken out of the session's figures."""
        later = [e for e in self.recent if e[0] > time_ms]
        if session_start:
            for t, _b, px, n, realized, fee in self.recent:
                if t <= time_ms:
                    self.realized -= realized
                    self.fees -= fee
                    self.volume -= px * n * self.lot
                    self.fills -= 1
            self.recent = deque(later, maxlen=self.recent.maxlen)
        self.lots = lots
        self.open_cost = (entry_px or ZERO) * abs(lots) * self.lot
        for _t, is_buy, px, n, _r, _f in later:
            self._move(is_buy, px, n)
        self.baseline_ms = time_ms if self.baseline_ms is None else max(self.baseline_ms, time_ms)

    def summary(self, mark: float | None = None) -> dict[str, Any]:
        entry = self.entry_px
        return {
            "coin": self.coin, "lots": self.lots, "size": float(self.size),
            "entry_px": float(entry) if entry is not None else None,
            "realized_pnl_usd": float(self.realized), "unrealized_pnl_usd": float(self.unrealized(mark)),
            "fees_usd": float(self.fees), "funding_usd": float(self.funding), "volume_usd": float(self.volume),
            "fills": self.fills, "corrections": self.corrections,
        }
