"""A PNG of a ladder preview: the market's book and the ladder hlmm would place on it.

Needs matplotlib (the ``plot`` extra: ``pip install 'hlmm[plot]'``); without it
:func:`require_matplotlib` raises :class:`PlotUnavailableError` with that instruction.
Two panels share the price axis: the book's resting size per level (coins), and the ladder's
orders (notional in USD, each labelled with its fill probability); the mid and the fair price
(microprice) are vertical lines in both.
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
    """Write the PNG (two panels sharing the price axis: the book's size per level, the ladder's
    notional per order); InputError if the file cannot be written."""
    plt = require_matplotlib()
    book, e = preview.model.book, preview.explanation
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(11, 7), dpi=110,
                                      gridspec_kw={"height_ratios": [1, 1]})
    try:
        for side, colour, name in ((BID, "#7fbf7f", "bids"), (ASK, "#e38f8f", "asks")):
            px, sz = book.levels(side)
            if len(px):
                top.bar(px, sz, width=_bar_width(px), color=colour, label=f"book {name}")
        for name, colour in (("bid", "#1b7f1b"), ("ask", "#b22222")):
            rows = [r for r in preview.rows if r.side == name]
            if rows:
                prices = [r.price for r in rows]
                bars = bottom.bar(prices, [r.notional for r in rows], width=_bar_width(prices) * 0.8, color=colour,
                                  label=f"hlmm {name}s ({len(rows)})")
                for bar, row in zip(bars, rows):
                    bottom.annotate(f"P {row.p_fill:.2f}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                                    ha="center", va="bottom", fontsize="x-small")
        for ax in (top, bottom):
            ax.axvline(e.mid, color="black", linewidth=1, label=f"mid {e.mid:.10g}")
            if e.microprice != e.mid:
                ax.axvline(e.microprice, color="#555555", linestyle="--", linewidth=1, label="fair (microprice)")
            ax.grid(alpha=0.3)
            ax.legend(loc="upper right", fontsize="small")
        cold = "  [cold: priors]" if preview.cold else ""
        top.set_title(f"{preview.coin} ladder preview: {e.regime} regime, sigma {e.sigma_bps:.2f} bps/s^0.5, "
                      f"delta* {e.delta_star_bps:.2f} bps, skew {e.skew_bps:+.2f} bps{cold}")
        top.set_ylabel(f"book size ({preview.coin})")
        bottom.set_ylabel("hlmm order notional (USD)")
        bottom.set_xlabel("price")
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
