"""What the market model reports besides the snapshot: warm-up state and the explanation of a quote.

Plain frozen values (``to_dict()`` is JSON-ready) built by :class:`hlmm.engine.market_model.MarketModel`
and re-exported there; and :class:`DeferredExplanation`, an explanation not written yet.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Mapping



@dataclass(frozen=True)
class EstimatorStatus:
    """How warm one estimator is and what the snapshot uses instead while it is not."""

    name: str
    ready: bool
    samples: int
    source: str            # "live", "history", "history+live"; not warm: "prior", "mid" or "warming"
    missing: str           # the estimator's own ready_reason ("ready" when warm)
    using: str             # what the snapshot takes from it (or the prior it falls back to)


@dataclass(frozen=True)
class WarmupStatus:
    """Every estimator's state plus the config's warm-up requirements ([strategy.warmup])."""

    estimators: tuple[EstimatorStatus, ...]
    book_updates: int
    trades: int
    seconds_observed: float
    required: Mapping[str, float]
    ready_to_quote: bool   # the [strategy.warmup] requirements are met
    cold: tuple[str, ...]  # estimators the snapshot replaces with a prior (or, microprice, with the mid)

    def to_dict(self) -> dict[str, Any]:
        return {"ready_to_quote": self.ready_to_quote, "cold": list(self.cold),
                "book_updates": self.book_updates, "trades": self.trades,
                "seconds_observed": self.seconds_observed, "required": dict(self.required),
                "estimators": {e.name: {k: v for k, v in asdict(e).items() if k != "name"} for e in self.estimators}}


@dataclass(frozen=True)
class QuoteExplanation:
    """Why the ladder looks the way it does: every model input and the ladder's GLFT quantities."""

    coin: str
    time_ms: int
    mid: float
    microprice: float
    spread_bps: float
    sigma_bps: float
    sigma_source: str
    regime: str
    regime_source: str
    kappa: float
    A: float
    intensity_source: str
    gamma_base: float
    tod_gamma_mult: float
    regime_gamma_mult: float
    gamma_eff: float
    delta_star_bps: float
    quoted_half_spread_bps: float
    skew_bps: float
    q: float
    kelly_fraction: float
    tau_s: float
    toxicity_bid: float
    toxicity_ask: float
    ladder_tox_bid: float
    ladder_tox_ask: float
    flow_imbalance: float
    book_imbalance: float
    hawkes_intensity: float
    funding_rate: float
    as_bps: float
    as_source: str
    allowed_leverage: float
    max_position: float
    available_margin: float
    warmup: WarmupStatus | None      # None when quote(..., warmup=False) (the engine's hot loop)
    cold: tuple[str, ...]            # estimators the snapshot replaced by a prior (or the mid)
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k not in ("warmup", "notes", "cold")}
        out["cold"] = bool(self.cold)
        out["cold_estimators"] = list(self.cold)
        out["warmup"] = None if self.warmup is None else self.warmup.to_dict()
        out["notes"] = list(self.notes)
        return out


class DeferredExplanation:
    """A quote's :class:`QuoteExplanation`, written on first :meth:`build` from values frozen when
    the quote was made (``MarketModel.quote_deferred``).

    The engine quotes every cycle and hardly ever reads the explanation (notes, sources, 38
    fields: about 10 us to write), so its quote cycle keeps the inputs and leaves the writing to
    whoever asks. The result is the explanation the quote would have had, whatever the model
    did since. ``regime``, ``sigma_bps``, ``toxicity_bid`` and ``toxicity_ask`` are read
    without building it (the status line's fields), with the explanation's values.
    """

    __slots__ = ("_build", "_args", "_built", "regime", "sigma_bps", "toxicity_bid", "toxicity_ask")

    def __init__(self, build: Callable[..., QuoteExplanation], args: tuple, *, regime: str, sigma_bps: float,
                 toxicity_bid: float, toxicity_ask: float) -> None:
        self._build = build
        self._args = args
        self._built: QuoteExplanation | None = None
        self.regime = regime
        self.sigma_bps = sigma_bps
        self.toxicity_bid = toxicity_bid
        self.toxicity_ask = toxicity_ask

    def build(self) -> QuoteExplanation:
        """The explanation (written once, then the same object)."""
        if self._built is None:
            self._built = self._build(*self._args)
            self._args = ()
        return self._built

    def __repr__(self) -> str:
        state = "built" if self._built is not None else "not built"
        return f"DeferredExplanation(regime={self.regime!r}, sigma_bps={self.sigma_bps!r}, {state})"
