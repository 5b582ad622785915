"""The per-asset market model: one coin's book and estimators, and the frozen snapshot the ladder quotes from.

``hlmm trade`` and ``hlmm ladder-preview`` both quote through :meth:`MarketModel.quote`, so a
preview shows exactly the ladder the engine would send for the same inputs::

    model = MarketModel.from_config(cfg, registry["BTC"])
    model.warm_from_history(candles, recent_trades, l2book)     # cold start from /info data
    model.on_funding(0.0000125)                                   # hourly funding rate
    ...                                                           # then, live:
    model.on_book(raw_ws_frame, recv_ns)                          # every l2Book push
    model.on_trades(trades_payload)                               # every trades push
    params, ladder, why = model.quote(AccountState(...))          # each quote cycle

What it owns (``hlmm._core``): an :class:`~hlmm._core.book.L2Book` and the estimators
- volatility + regime (``Volatility``, sampled on book mids on a 1 s grid, and on the closes of
  1-minute candles at a cold start),
- fill intensity κ, A (``FillIntensity``, from trade prints measured against the mid prevailing
  when they printed, beyond that book's half-spread ``(ask - bid) / 2 / mid`` in bps: a print
  cannot land inside the touch; prints from before the first book are not measured, never guessed),
- order flow imbalance + Hawkes intensity (``OrderFlow``),
- microprice (``Microprice``: the mid until its betas have learned),
- per-side toxicity (``Toxicity``, sampled once per quote at the quote's instant).

The snapshot (:meth:`MarketModel.params`) takes the account from an
:class:`~hlmm.engine.account_state.AccountState` and follows DESIGN §4/§5:

- ``available_margin`` is the exchange's figure as is (never minus position margin);
- ``allowed_leverage`` is ``min(risk.leverage, the asset's tier leverage)`` where the tier is read
  at the largest notional the ladder can reach (``max(|position|, max_position) * mid``), from
  the margin tables in ``meta`` (``AssetInfo.allowed_leverage``); never the account's current
  leverage.  ``risk.leverage`` is the leverage hlmm sets on the coin, so the exchange computes
  order margin with it;
- ``max_position`` is ``risk.max_position_usd / mid`` coins; in-flight orders per side come from
  the account state;
- γ is ``strategy.gamma``; ``tod_gamma_mult`` is ``strategy.toxic_gamma_multiplier`` during the
  UTC hours in ``strategy.toxic_hours_utc``, else 1; the ladder applies the regime multiplier;
- toxicity: the estimator's scores s in [0, 1] are mapped onto the ladder's scale by the config's
  thresholds (see :func:`toxicity_for_ladder`): nothing below ``toxicity_widen_threshold``, a side
  widened linearly above it and pulled above ``toxicity_pull_threshold``;
- ``market_spread_bps`` is the book's spread.

An estimator that is not warm is replaced by a documented, conservative prior (:class:`Priors`)
and named in :meth:`MarketModel.warmup_status` and in the explanation, so nobody mistakes a
prior for a measurement.  Time is exchange time in ms; ``now_ms`` defaults to the newest
exchange time the model has seen, so equal inputs give equal ladders.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from hlmm._core.book import L2Book, MalformedMessageError, WrongChannelError
from hlmm._core.flow import OrderFlow
from hlmm._core.intensity import FillIntensity
from hlmm._core.ladder import REGIMES, Ladder, LadderConfig, MarketParams, compute_ladder
from hlmm._core.microprice import Microprice
from hlmm._core.toxicity import Toxicity
from hlmm._core.volatility import Volatility
from hlmm.config import Config, RiskConfig, StrategyConfig
from hlmm.engine.account_state import AccountState
from hlmm.engine.ladder_mapping import (
    ALPHA_TOUCH_MIN,
    HOUR_MS,
    TOXICITY_WIDEN,
    ladder_config_from_strategy,
    time_of_day_multiplier,
    toxicity_for_ladder,
)
from hlmm.engine.model_report import DeferredExplanation, EstimatorStatus, QuoteExplanation, WarmupStatus
from hlmm.errors import HlmmError, InputError
from hlmm.exchange.assets import AssetInfo

__all__ = [
    "ALPHA_TOUCH_MIN", "HISTORY_CANDLE_MINUTES", "TOXICITY_WIDEN", "AccountState", "DeferredExplanation", "EstimatorStatus", "MarketModel", "MarketNotReady", "Priors", "QuoteExplanation",
    "WarmupStatus", "ladder_config_from_strategy", "time_of_day_multiplier", "toxicity_for_ladder",
]

IMBALANCE_LEVELS = 5            # book imbalance over the top 5 levels: the touch alone flips with one small order
FLOW_V_REF_USD = 100_000.0      # flow imbalance is shrunk towards 0 until this much notional traded recently
VOL_GRID_MS = 1_000             # volatility samples book mids on a 1 s grid (tick-discrete mids bias bipower)
HISTORY_CANDLE_MINUTES = 120    # 1-minute candles a cold start reads: 4 half-lives of the regime's 30-minute baseline
_TID_MEMORY = 8192              # trade ids remembered for de-duplication (recentTrades overlaps the stream)


# What the snapshot uses for an estimator that is not warm: a prior, the mid, or its partial state.
_COLD_SOURCE = {"volatility": "prior", "intensity": "prior", "microprice": "mid", "flow": "warming",
                "toxicity": "warming"}


class MarketNotReady(HlmmError):
    """The model cannot produce a snapshot yet (no two-sided book)."""


@dataclass(frozen=True)
class Priors:
    """Conservative stand-ins for estimators that are not warm (each errs towards wider, smaller quotes).

    sigma_bps: 2.0 bps/√s, about 3x the σ of Hyperliquid BTC (0.69 bps/√s on the real
        2025-09-03 sample): a cold model assumes a fast market.
    kappa: 0.5 per bps: prints decay slowly with depth (real BTC: ~3/bps), so GLFT quotes wider.
    A: 0.5 fills per second per side at the touch.
    regime: "high" while volatility is cold: halves the Kelly fraction and scales γ by 1.5.
    as_bps: 10 bps adverse move when an informed trader fills us (real BTC touch prints:
        0.5 bps mean 1 s markout, i.e. ~2 bps per informed fill at a 25% informed share).
        Replace it with a calibrated value through :meth:`MarketModel.set_adverse_selection`.
    """

    sigma_bps: float = 2.0
    kappa: float = 0.5
    A: float = 0.5
    regime: str = "high"
    as_bps: float = 10.0

    def __post_init__(self) -> None:
        for name in ("sigma_bps", "kappa", "A", "as_bps"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise InputError(f"Priors.{name} must be a finite number > 0, got {value!r}")
        if self.regime not in REGIMES:
            raise InputError(f"Priors.regime must be one of {', '.join(REGIMES)}, got {self.regime!r}")


# ----------------------------------------------------------------------------- the model


def _side_of(value: Any) -> int:
    if value == "B":
        return 1
    if value == "A":
        return -1
    raise ValueError(f"side must be 'B' or 'A', got {value!r}")


class MarketModel:
    """One coin's book, estimators and snapshot builder (see the module docstring)."""

    def __init__(self, asset: AssetInfo, strategy: StrategyConfig | None = None, risk: RiskConfig | None = None,
                 *, priors: Priors | None = None, book_capacity: int = 20) -> None:
        if asset.is_spot:
            raise InputError(f"{asset.name} is a spot pair; hlmm quotes perpetuals")
        self.asset = asset
        self.strategy = strategy or StrategyConfig()
        self.risk = risk or RiskConfig()
        self.priors = priors or Priors()
        self.book = L2Book(asset.name, asset.sz_decimals, px_decimals=asset.px_decimals, capacity=book_capacity)
        self.volatility = Volatility(min_interval_ms=VOL_GRID_MS)
        self.intensity = FillIntensity()
        self.flow: OrderFlow | None = None       # built at the first price: v_ref is in coins
        self.microprice = Microprice()
        self.toxicity = Toxicity()
        self._ladder_config = ladder_config_from_strategy(self.strategy)
        self.funding_rate = 0.0
        self.as_bps = self.priors.as_bps
        self.as_source = "prior"
        self.book_updates = 0
        self.trades_seen = 0
        self.trades_rejected = 0
        self.trades_duplicate = 0
        self.first_ms: int | None = None          # earliest exchange time fed (history included)
        self.last_ms: int | None = None           # newest exchange time fed
        self._first_book_ms: int | None = None
        self._tids: set[int] = set()
        self._tid_order: deque[int] = deque()
        self._history: dict[str, int] = {}        # estimator -> samples it had right after warm_from_history

    @classmethod
    def from_config(cls, cfg: Config, asset: AssetInfo, *, priors: Priors | None = None) -> "MarketModel":
        """A model with ``[strategy]``/``[risk]`` for ``asset`` (its per-coin overrides when it is in
        ``assets.coins``, else the base sections)."""
        if asset.name in cfg.assets.coins:
            return cls(asset, cfg.strategy_for(asset.name), cfg.risk_for(asset.name), priors=priors)
        return cls(asset, cfg.strategy, cfg.risk, priors=priors)

    # ------------------------------------------------------------------ inputs
    def _seen(self, t_ms: int) -> None:
        if self.first_ms is None or t_ms < self.first_ms:
            self.first_ms = t_ms
        if self.last_ms is None or t_ms > self.last_ms:
            self.last_ms = t_ms

    def _ensure_flow(self, price: float) -> OrderFlow:
        if self.flow is None:
            self.flow = OrderFlow(v_ref=FLOW_V_REF_USD / price)
        return self.flow

    def on_book(self, message: bytes | str | Mapping[str, Any], recv_ns: int = -1) -> bool:
        """Apply one l2Book snapshot: a raw WebSocket frame or ``/info`` answer (bytes or str, read
        by the Cython scanner), or the same already decoded (a dict, envelope or bare).  Returns
        False when it was older than the book (ignored).  A malformed snapshot raises a
        ``hlmm._core.book.BookError`` (a ValueError) naming the problem; the model is unchanged."""
        applied = _apply_book(self.book, message, recv_ns)
        if applied:
            self._after_book()
        return applied

    def _after_book(self) -> None:
        book = self.book
        t = book.time_ms
        self.book_updates += 1
        self._seen(t)
        if not book.two_sided:
            return
        if self._first_book_ms is None:
            self._first_book_ms = t
        mid = book.mid()
        flow = self._ensure_flow(mid)
        flow.advance(t)
        self.intensity.advance(t)
        self.volatility.update(t, mid)
        self.microprice.update(t, mid, book.imbalance(IMBALANCE_LEVELS), flow.imbalance_weighted)

    def on_trades(self, trades: Iterable[Mapping[str, Any]]) -> int:
        """Feed trade prints (the WebSocket ``trades`` data or ``recentTrades``: coin, side "B"/"A"
        of the aggressor, px, sz, time, tid).  Duplicates (same tid) and other coins are skipped;
        a malformed print is counted in ``trades_rejected`` and skipped.  Returns prints used."""
        used = 0
        for trade in trades:
            try:
                if trade.get("coin", self.asset.name) != self.asset.name:
                    raise ValueError("another coin")
                t = int(trade["time"])
                px = float(trade["px"])
                sz = float(trade["sz"])
                side = _side_of(trade["side"])
                if not (math.isfinite(px) and px > 0 and math.isfinite(sz) and sz > 0 and t >= 0):
                    raise ValueError("bad number")
                tid = trade.get("tid")
                tid = int(tid) if tid is not None else None
            except (AttributeError, KeyError, TypeError, ValueError):
                self.trades_rejected += 1
                continue
            if tid is not None:
                if tid in self._tids:
                    self.trades_duplicate += 1
                    continue
                self._remember(tid)
            self._ensure_flow(px).update(t, sz, side)
            # a print is measured against the mid prevailing when it printed, beyond that book's
            # half-spread (it cannot print inside the touch); none before the first book
            if self._first_book_ms is not None and t >= self._first_book_ms and self.book.two_sided:
                self.intensity.update(t, px, self.book.mid(), side, self.book.spread_bps() / 2.0)
            self._seen(t)
            self.trades_seen += 1
            used += 1
        return used

    def _remember(self, tid: int) -> None:
        self._tids.add(tid)
        self._tid_order.append(tid)
        if len(self._tid_order) > _TID_MEMORY:
            self._tids.discard(self._tid_order.popleft())

    def on_funding(self, rate: float) -> None:
        """The coin's current hourly funding rate (a fraction; ``metaAndAssetCtxs`` ``funding``)."""
        value = float(rate)
        if not math.isfinite(value):
            raise InputError(f"funding rate must be finite, got {rate!r}")
        self.funding_rate = value

    def set_adverse_selection(self, as_bps: float, source: str = "calibrated") -> None:
        """Replace the prior adverse move per informed fill (bps), e.g. from markouts."""
        value = float(as_bps)
        if not (math.isfinite(value) and value >= 0):
            raise InputError(f"adverse selection must be a finite number of bps >= 0, got {as_bps!r}")
        self.as_bps, self.as_source = value, source

    def refit_hawkes(self, min_events: int = 200) -> dict[str, Any] | None:
        """Refit the flow's Hawkes parameters by maximum likelihood when enough events are buffered
        (the engine calls this every few minutes); None when there are too few."""
        if self.flow is None or self.flow.events < min_events:
            return None
        return self.flow.fit_hawkes(min_events)

    def warm_from_history(self, candles: Sequence[Mapping[str, Any]] = (),
                          recent_trades: Sequence[Mapping[str, Any]] = (),
                          l2book: bytes | str | Mapping[str, Any] | None = None,
                          now_ms: int | None = None) -> None:
        """Cold start from ``/info`` data: 1-minute ``candleSnapshot`` candles, ``recentTrades`` and an
        ``l2Book`` answer (raw or decoded).  Closes of the candles completed by the book's time
        (else by ``now_ms``) feed volatility (σ, regime) and the toxicity changepoint detector;
        the candle still forming is left to the book's mid.  Then the trades and the book go
        through :meth:`on_trades` and :meth:`on_book` in time order (prints before the book feed
        the flow only: their mid is unknown).  With 1-minute returns and a 60 s fast half-life
        the fast σ rests on the last few candles: unbiased but noisy until live mids arrive.
        A malformed candle raises :class:`InputError` naming it; a bad book a ``BookError``."""
        book_time = None
        if l2book is not None:
            probe = L2Book(self.asset.name, self.asset.sz_decimals, px_decimals=self.asset.px_decimals,
                           capacity=self.book.capacity)
            _apply_book(probe, l2book, -1)
            book_time = probe.time_ms
        self._warm_candles(candles, book_time if book_time is not None else now_ms)
        trades = [t for t in recent_trades if isinstance(t, Mapping)]
        trades.sort(key=_time_of)
        if book_time is None:
            self.on_trades(trades)
        else:
            self.on_trades([t for t in trades if _time_of(t) < book_time])
            self.on_book(l2book)
            self.on_trades([t for t in trades if _time_of(t) >= book_time])
        self._history = {s.name: s.samples for s in self._statuses()}

    def _warm_candles(self, candles: Sequence[Mapping[str, Any]], until_ms: int | None) -> None:
        rows = []
        for i, c in enumerate(candles):
            try:
                close_t, close = int(c["T"]), float(c["c"])
            except (KeyError, TypeError, ValueError):
                raise InputError(f"candle {i}: expected an object with 'T' (close time, ms) and 'c' (close price), "
                                 f"got {c!r:.80}") from None
            if not (math.isfinite(close) and close > 0):
                raise InputError(f"candle {i}: close price must be > 0, got {c.get('c')!r}")
            rows.append((close_t, close))
        rows.sort()
        prior_sigma = self.priors.sigma_bps * 1e-4
        for close_t, close in rows:
            if until_ms is not None and close_t > until_ms:
                continue          # the candle still forming: the book's mid stands for it
            self.volatility.update(close_t, close)
            vol = self.volatility
            sigma = vol.sigma_bv if vol.ready else prior_sigma
            regime = vol.regime if vol.ready else REGIMES.index(self.priors.regime)
            self.toxicity.sample(close_t, close, sigma, 0.0, 0.0, regime, self.funding_rate)
            self._seen(close_t)

    # ------------------------------------------------------------------ warm-up
    def _statuses(self) -> list[EstimatorStatus]:
        vol, inten, micro, tox, flow = self.volatility, self.intensity, self.microprice, self.toxicity, self.flow
        p = self.priors
        rows = [
            ("volatility", vol.ready, vol.samples, vol.ready_reason,
             f"sigma {vol.sigma_bps:.3f} bps/s^0.5, regime {vol.regime_name}" if vol.ready
             else f"prior sigma {p.sigma_bps:g} bps/s^0.5, regime {p.regime}"),
            ("intensity", inten.ready, inten.samples, inten.ready_reason,
             f"kappa {inten.kappa:.4g}/bps, A {inten.A / 2:.4g}/s per side" if inten.ready
             else f"prior kappa {p.kappa:g}/bps, A {p.A:g}/s per side"),
            ("flow", flow is not None and flow.ready, 0 if flow is None else flow.trades,
             "no trades yet" if flow is None else flow.ready_reason,
             "imbalance and Hawkes intensity (shrunk towards 0 while volume is small)"),
            ("microprice", micro.ready, micro.samples, micro.ready_reason,
             "learned microprice" if micro.ready else "the mid"),
            ("toxicity", tox.ready, tox.cusum.samples, tox.ready_reason,
             "scores from book, flow, regime, changepoint, funding" if tox.ready
             else "scores from book, flow, regime and funding; changepoint detector warming"),
        ]
        out = []
        for name, ready, samples, reason, using in rows:
            before = self._history.get(name)
            if not ready:
                source = _COLD_SOURCE[name]
            elif before is None:
                source = "live"
            else:
                source = "history" if samples <= before else ("history+live" if before else "live")
            out.append(EstimatorStatus(name, bool(ready), int(samples), source, reason, using))
        return out

    def warmup_status(self) -> WarmupStatus:
        """Per estimator: ready, samples, source, what is missing and what the snapshot uses; plus
        the ``[strategy.warmup]`` requirements (seconds of data, trades, book updates)."""
        w = self.strategy.warmup
        seconds = 0.0 if self.first_ms is None else (self.last_ms - self.first_ms) / 1000.0
        statuses = self._statuses()
        cold = tuple(s.name for s in statuses if not s.ready and s.name in ("volatility", "intensity", "microprice"))
        ready = (seconds >= w.min_seconds and self.trades_seen >= w.min_trades
                 and self.book_updates >= w.min_book_updates)
        return WarmupStatus(tuple(statuses), self.book_updates, self.trades_seen, seconds,
                            {"min_seconds": w.min_seconds, "min_trades": w.min_trades,
                             "min_book_updates": w.min_book_updates}, ready, cold)

    # ------------------------------------------------------------------ snapshot
    def ladder_config(self, strategy_cfg: StrategyConfig | None = None) -> LadderConfig:
        """The ladder configuration of ``strategy_cfg`` (default: this model's strategy)."""
        if strategy_cfg is None or strategy_cfg is self.strategy:
            return self._ladder_config
        return ladder_config_from_strategy(strategy_cfg)

    def allowed_leverage(self, position: float, mid: float) -> float:
        """``min(risk.leverage, tier leverage)`` at the largest notional the ladder can reach."""
        max_coins = self.risk.max_position_usd / mid
        notional = max(abs(position), max_coins) * mid
        return float(min(self.risk.leverage, self.asset.allowed_leverage(notional)))

    def params(self, account: AccountState, now_ms: int | None = None) -> MarketParams:
        """The frozen snapshot for the ladder (samples toxicity at ``now_ms``)."""
        return self._snapshot(account, now_ms)[0]

    def _snapshot(self, account: AccountState, now_ms: int | None) -> tuple[MarketParams, tuple]:
        book = self.book
        if not book.two_sided:
            raise MarketNotReady(f"{self.asset.name}: no two-sided book yet ({book.bid_depth} bid and "
                                 f"{book.ask_depth} ask levels)")
        if now_ms is None:
            now_ms = self.last_ms if self.last_ms is not None else book.time_ms
        mid = book.mid()
        vol, inten, micro, p = self.volatility, self.intensity, self.microprice, self.priors
        flow = self._ensure_flow(mid)
        flow.advance(now_ms)
        vol_ready = vol.ready
        sigma = vol.sigma if vol_ready else p.sigma_bps * 1e-4
        regime = vol.regime if vol_ready else REGIMES.index(p.regime)
        if inten.ready:
            kappa, a_side, inten_src = inten.kappa, inten.A / 2.0, "estimate"
        else:
            kappa, a_side, inten_src = p.kappa, p.A, "prior"
        micro_px = micro.microprice if (micro.ready and micro.mid == mid) else mid
        book_imb = book.imbalance(IMBALANCE_LEVELS)
        flow_imb = flow.imbalance_weighted
        self.toxicity.sample(now_ms, mid, vol.sigma_bv if vol_ready else sigma, book_imb, flow_imb, regime,
                             self.funding_rate)
        s = self.strategy
        tox_bid = toxicity_for_ladder(self.toxicity.bid_score, s.toxicity_widen_threshold)
        tox_ask = toxicity_for_ladder(self.toxicity.ask_score, s.toxicity_widen_threshold)
        tod = time_of_day_multiplier(now_ms, s)
        leverage = self.allowed_leverage(account.position, mid)
        max_position = self.risk.max_position_usd / mid
        params = MarketParams(
            mid=mid, microprice=micro_px, sigma=sigma, kappa=kappa, A=a_side, gamma=s.gamma, regime=regime,
            tod_gamma_mult=tod, tox_bid=tox_bid, tox_ask=tox_ask, position=account.position,
            max_position=max_position, inflight_bid=account.inflight_bid, inflight_ask=account.inflight_ask,
            available_margin=account.available_margin, allowed_leverage=leverage,
            market_spread_bps=book.spread_bps(), as_bps=self.as_bps, sz_decimals=self.asset.sz_decimals,
            px_decimals=self.asset.px_decimals, min_notional=self.asset.min_notional,
        )
        # what the explanation needs besides the snapshot (its regime and sigma are the params' own values)
        context = (now_ms, vol_ready, inten_src, book_imb, flow_imb, flow.intensity_at(now_ms), regime, sigma)
        return params, context

    def quote(self, account: AccountState, now_ms: int | None = None, out: Ladder | None = None,
              *, warmup: bool = True) -> tuple[MarketParams, Ladder, QuoteExplanation]:
        """The snapshot, the ladder computed from it (into ``out`` if given), and the explanation of
        both.  ``warmup=False`` leaves ``explanation.warmup`` None (about 10 us less per quote);
        the snapshot and the ladder are the same either way."""
        params, ladder, why = self.quote_deferred(account, now_ms, out, warmup=warmup)
        return params, ladder, why.build()

    def quote_deferred(self, account: AccountState, now_ms: int | None = None, out: Ladder | None = None,
                       *, warmup: bool = True) -> tuple[MarketParams, Ladder, DeferredExplanation]:
        """:meth:`quote` with the explanation not written yet: what it needs is frozen now and
        ``why.build()`` writes the explanation :meth:`quote` would have returned, whatever the
        model did in between.  The engine's quote cycle quotes this way (it rarely reads one)."""
        params, ctx = self._snapshot(account, now_ms)
        ladder = compute_ladder(params, self._ladder_config, out)
        tox = self.toxicity
        # the ladder's scalars are copied: ``out`` may be reused by the next quote
        facts = (ladder.gamma_eff, ladder.half_spread_bps, ladder.quoted_half_spread_bps, ladder.skew_bps, ladder.q,
                 ladder.kelly_fraction, ladder.tau)
        state = (tox.bid_score, tox.ask_score, self.microprice.ready, self.as_source, self.funding_rate)
        warm = self.warmup_status() if warmup else None
        why = DeferredExplanation(self._explain, (params, facts, ctx, state, warm), regime=REGIMES[ctx[6]],
                                  sigma_bps=ctx[7] * 1e4, toxicity_bid=state[0], toxicity_ask=state[1])
        return params, ladder, why

    def _explain(self, params: MarketParams, facts: tuple, ctx: tuple, state: tuple,
                 warm: WarmupStatus | None) -> QuoteExplanation:
        """The explanation of a quote from what :meth:`quote_deferred` froze (the model's own
        constants, asset, priors and ladder config, never change)."""
        now_ms, vol_ready, inten_src, book_imb, flow_imb, hawkes = ctx[:6]
        gamma_eff, half_spread, quoted_half_spread, skew, q, kelly, tau = facts
        tox_bid, tox_ask, micro_ready, as_source, funding = state
        cold = tuple(name for name, ok in (("volatility", vol_ready), ("intensity", inten_src != "prior"),
                                           ("microprice", micro_ready)) if not ok)
        d = params.to_dict()
        regime, tod, pr = d["regime"], d["tod_gamma_mult"], self.priors
        notes = []
        if not vol_ready:
            notes.append(f"volatility is cold: sigma and regime are priors ({pr.sigma_bps:g} bps/s^0.5, {pr.regime})")
        if inten_src == "prior":
            notes.append(f"fill intensity is cold: kappa {pr.kappa:g}/bps and A {pr.A:g}/s are priors")
        if not micro_ready:
            notes.append("microprice is cold: the ladder is centred on the mid")
        if as_source == "prior":
            notes.append(f"adverse selection per informed fill is the prior {d['as_bps']:g} bps")
        if tod != 1.0:
            notes.append(f"toxic hour (UTC {(now_ms // HOUR_MS) % 24:02d}): gamma x{tod:g}")
        return QuoteExplanation(
            coin=self.asset.name, time_ms=int(now_ms), mid=d["mid"], microprice=d["microprice"],
            spread_bps=d["market_spread_bps"], sigma_bps=d["sigma"] * 1e4,
            sigma_source="estimate" if vol_ready else "prior", regime=REGIMES[regime],
            regime_source="estimate" if vol_ready else "prior", kappa=d["kappa"], A=d["A"],
            intensity_source=inten_src, gamma_base=d["gamma"], tod_gamma_mult=tod,
            regime_gamma_mult=self._ladder_config.gamma_regime_mult[regime], gamma_eff=gamma_eff,
            delta_star_bps=half_spread, quoted_half_spread_bps=quoted_half_spread,
            skew_bps=skew, q=q, kelly_fraction=kelly, tau_s=tau,
            toxicity_bid=tox_bid, toxicity_ask=tox_ask,
            ladder_tox_bid=d["tox_bid"], ladder_tox_ask=d["tox_ask"], flow_imbalance=flow_imb,
            book_imbalance=book_imb, hawkes_intensity=hawkes, funding_rate=funding,
            as_bps=d["as_bps"], as_source=as_source, allowed_leverage=d["allowed_leverage"],
            max_position=d["max_position"], available_margin=d["available_margin"], warmup=warm,
            cold=cold, notes=tuple(notes),
        )


def _apply_book(book: L2Book, message: Any, recv_ns: int) -> bool:
    """One l2Book snapshot into ``book``: raw bytes/str through the scanner, a decoded dict (WS
    envelope or bare /info answer) through ``apply_levels``."""
    if isinstance(message, (bytes, bytearray, memoryview, str)):
        return book.apply_message(bytes(message) if isinstance(message, bytearray) else message, recv_ns)
    if isinstance(message, Mapping):
        data: Any = message
        if "channel" in message:
            if message.get("channel") != "l2Book":
                raise WrongChannelError(f"expected an l2Book message, got channel {message.get('channel')!r}")
            data = message.get("data")
        if not isinstance(data, Mapping):
            raise MalformedMessageError(f"l2Book: expected an object with coin, time, levels, got {data!r:.60}")
        return book.apply_levels(data.get("levels"), data.get("time"), recv_ns, coin=data.get("coin"))
    raise TypeError(f"on_book takes bytes, str or a decoded l2Book dict, not {type(message).__name__}")


def _time_of(trade: Mapping[str, Any]) -> int:
    t = trade.get("time")
    return t if isinstance(t, int) and not isinstance(t, bool) else -1
