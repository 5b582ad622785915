"""A PNG of a ladder preview: the market's book and the ladder hlmm would place on it.

Needs matplotlib (the ``plot`` extra: ``pip install 'hlmm[plot]'``); without it
:func:`require_matplotlib` raises :class:`PlotUnavailableError` with that instruction.
Sizes are drawn in coins against price: the book's resting size per level as light bars, the
ladder's orders as dark bars, the mid and the fair price (microprice) as vertical lines.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from hlmm._core.book import ASK, BID
from hlmm.errors import HlmmError, InputError

if TYPE_CHECKING:
    from hlmm.engine.preview import Preview


class PlotUnavailableError(HlmmError):
    """--plot was asked for but matplotlib (the ``plot`` extra) is not installed."""


def require_matplotlib() -> Any:
    """The ``matplotlib.pyplot`` module on the non-interactive Agg backend, or PlotUnavailableError."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise PlotUnavailableError("--plot needs matplotlib, which is not installed",
                                   hint="pip install 'hlmm[plot]'") from None
    return plt


def plot_preview(preview: "Preview", path: str | Path) -> Path:
    """Write the PNG; InputError if the file cannot be written."""
    plt = require_matplotlib()
    book, e = preview.model.book, preview.explanation
    fig, ax = plt.subplots(figsize=(11, 5.5), dpi=110)
    try:
        for side, colour in ((BID, "#7fbf7f"), (ASK, "#e38f8f")):
            px, sz = book.levels(side)
            if len(px):
                width = _bar_width(px)
                ax.bar(px, sz, width=width, color=colour, alpha=0.55,
                       label=f"book {'bids' if side == BID else 'asks'}")
        for name, colour in (("bid", "#1b7f1b"), ("ask", "#b22222")):
            rows = [r for r in preview.rows if r.side == name]
            if rows:
                prices = [r.price for r in rows]
                ax.bar(prices, [r.size for r in rows], width=_bar_width(prices) * 0.6, color=colour,
                       label=f"hlmm {name}s ({len(rows)})")
        ax.axvline(e.mid, color="black", linewidth=1, label=f"mid {e.mid:.10g}")
        if e.microprice != e.mid:
            ax.axvline(e.microprice, color="#555555", linestyle="--", linewidth=1, label="fair (microprice)")
        cold = "  [cold: priors]" if preview.cold else ""
        ax.set_title(f"{preview.coin} ladder preview, {e.regime} regime, sigma {e.sigma_bps:.2f} bps/s^0.5, "
                     f"delta* {e.delta_star_bps:.2f} bps, skew {e.skew_bps:+.2f} bps{cold}")
        ax.set_xlabel("price")
        ax.set_ylabel(f"size ({preview.coin})")
        ax.legend(loc="upper right", fontsize="small")
        ax.grid(alpha=0.3)
        out = Path(path)
        try:
            fig.savefig(out, format="png", bbox_inches="tight")
        except OSError as exc:
            raise InputError(f"--plot {out}: cannot write the file: {exc.strerror or exc}") from None
        return out
    finally:
        plt.close(fig)


def _bar_width(prices: Any) -> float:
    """A bar width that keeps neighbouring levels apart: 80% of the smallest gap between them."""
    ps = sorted(float(p) for p in prices)
    gaps = [b - a for a, b in zip(ps, ps[1:]) if b > a]
    return 0.8 * min(gaps) if gaps else max(ps[0] * 1e-4, 1e-9)
