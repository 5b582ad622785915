"""Exact integer arithmetic and response-number formatting for the sim.

Inside the sim every amount is an integer: prices in price units, sizes in lots,
USD in micro-USD (1e-6, USDC's precision).  For perps ``px_decimals +
sz_decimals == 6``, so ``px_units * lots`` *is* a notional in micro-USD, exactly.

Hyperliquid writes response numbers as decimal strings with no trailing zeros but
at least one decimal (``"113377.0"``, ``"0.0"``, ``"0.0335"``); ``fmt_fixed`` does
that from an exact integer.  (Request strings, which hlmm's client writes, follow
``hlmm.exchange.wire`` instead: ``"100"`` not ``"100.0"``.)
"""
from __future__ import annotations

from fractions import Fraction

MICRO = 1_000_000


def div_round(a: int, b: int) -> int:
    """a / b rounded to the nearest integer, halves away from zero (b > 0)."""
    q, r = divmod(abs(a), b)
    if 2 * r >= b:
        q += 1
    return q if a >= 0 else -q


def div_ceil(a: int, b: int) -> int:
    """ceil(a / b) for b > 0."""
    return -((-a) // b)


def fmt_fixed(n: int, decimals: int) -> str:
    """``n / 10**decimals`` as Hyperliquid formats response numbers."""
    if n < 0:
        return "-" + fmt_fixed(-n, decimals)
    s = str(n)
    if decimals == 0:
        return s + ".0"
    if len(s) <= decimals:
        s = "0" * (decimals + 1 - len(s)) + s
    frac = s[-decimals:].rstrip("0")
    return f"{s[:-decimals]}.{frac or '0'}"


def fmt_usd(micro: int) -> str:
    """A micro-USD amount (``"13104.514502"``)."""
    return fmt_fixed(micro, 6)


def round_fraction(x: Fraction, decimals: int) -> int:
    """``x`` scaled by ``10**decimals`` and rounded half away from zero."""
    scaled = x * 10 ** decimals
    return div_round(scaled.numerator, scaled.denominator)


def fmt_fraction(x: Fraction, decimals: int) -> str:
    return fmt_fixed(round_fraction(x, decimals), decimals)


def derived_px_decimals(px: Fraction, px_decimals: int) -> int:
    """Decimals for a derived price (entry, mark, oracle, impact): 6 significant
    figures, but never fewer decimals than the asset's tick allows."""
    int_digits = len(str(int(abs(px)))) if abs(px) >= 1 else 0
    return max(px_decimals, 6 - int_digits)


def fmt_derived_px(px: Fraction, px_decimals: int) -> str:
    """A price that is not necessarily on a tick (``"2986.3"``, ``"4.33245"``)."""
    return fmt_fraction(px, derived_px_decimals(px, px_decimals))


def usd_to_micro(usd: float | int | str) -> int:
    """A USD amount given by a person or config (float/int/decimal string) in micro-USD."""
    return round_fraction(Fraction(str(usd)), 6)
