"""The sim's synthetic market: a book and a tape whose ground truth is known.

``SyntheticMarket(exchange, params)`` is attached to a ``SimExchange``
(``exchange.attach_market``). It trades through the exchange's internal flow API
(``hlmm.sim.flow_api``), i.e. through the same matching, fees, margin and events as
signed client orders, so a client's orders meet its flow like any other order.

Time. The market lives on a fixed grid ``t_k = t0 + k * step_ms`` (``t0`` = the
exchange's clock when the market is created). ``step(now_ms)`` runs every step with
``t_k <= now_ms`` that has not run yet; what happens inside a step is stamped with its
own time (``flow_time``), and all draws come from numpy Generators seeded from ``(seed,
coin)``. Hence two sims with the same seed and the same ``t0`` and no clients produce the
same trades, books and truth at any time, whatever the pattern of ``advance()`` calls. A
coin's path does not depend on which other coins are simulated.

Step ``k`` covers ``(t_{k-1}, t_k]``; step 0 only builds the first books.

1. **Takers.** ``Poisson(2 * A * dt)`` taker orders of each coin arrive at their own
   (drawn) milliseconds inside the step; all coins' takers act in time order. Each one is
   *informed* with probability ``alpha`` (``toxic_informed_share`` in ``toxic_hours``
   UTC, else ``informed_share``), else *noise*. A noise taker buys or sells with
   probability 1/2; an informed taker trades in the direction of the fair price's move
   over the next ``informed_horizon_s`` (``sign(X(t_{k-1} + h) - X(t_{k-1}))``): it
   trades ahead of the move, which is the adverse selection a resting quote suffers.
   Every taker draws a **reach** ``R ~ Exponential(kappa)`` in bps and sends an Ioc whose
   limit is ``R`` bps beyond the book's mid (mid at its arrival; rounded to a valid price
   toward the mid) and whose size is everything resting up to that limit (capped at
   ``taker_max_notional_usd``): a sweep. Noise and informed takers use separate accounts,
   so fills can be labelled.
2. **Fair price**, at ``t_k``. The latent log fair price moves one step of a
   regime-switching jump-diffusion (``hlmm.sim.fair_price``): regimes low/normal/high/
   extreme with known sigma each, Markov switching with known mean dwell times,
   compound-Poisson normal jumps. The oracle is set to the fair price.
3. **Background makers** (``makers`` accounts), at ``t_k``, re-center their ladders on
   the new fair price: ``levels`` price levels a side on a fixed price grid (``level_spacing_bps``
   rounded to whole ticks), bids from ``fair * (1 - half_spread_bps)`` down, asks from
   ``fair * (1 + half_spread_bps)`` up, sizes ``touch_notional_usd * size_growth**i`` at
   depth index ``i`` times a fixed per-price jitter in [0.6, 1.4]. Levels that left the
   window are canceled; levels that were hit (left below half their target) or drifted
   to a depth whose target differs more than 2x are replaced. Makers place Gtc orders: a
   new level that crosses a client's stale quote trades with it (the fair price moved
   through the quote) and rests the rest.

**Fill intensity, exactly.** Per side, taker orders whose limit lies at least ``delta``
bps beyond the mid arrive at rate

    lambda(delta) = A * exp(-kappa * delta)        (per second, per side; delta in bps)

with ``A = taker_rate`` and ``kappa`` in 1/bp; both sides together ``2 A exp(-kappa
delta)``. Because every taker sweeps to its limit, **any resting order at depth delta
from the mid** (a client's included, as long as less than ``taker_max_notional_usd``
rests ahead of it) **is filled at exactly that rate by taker flow** - the quantity
GLFT's ``A`` and ``kappa`` describe. (A quote also fills when the fair price moves
through it, step 3: that part is driven by sigma and jumps, not by lambda.) On the tape a
taker order is one transaction: its prints share ``hash`` and ``time`` (each taker has its
own millisecond), and its deepest print is the last resting level inside its reach.
``hlmm._core.intensity.FillIntensity`` fed the prints with the mid before them (it merges
the same-side prints of one millisecond into one arrival at the deepest distance) and
``delta0_bps = half_spread_bps`` recovers ``kappa`` up to the book's granularity (the
deepest print sits on average about half a level inside the reach, and the touch on
average half a level beyond the half-spread; the two offsets cancel to first order: the
tests see kappa about 5 % low with BTC's 0.3 bp levels), and a pooled arrival rate of
about ``2 A exp(-kappa * (half_spread_bps + level_spacing_bps / 2))``, since takers whose
reach stops short of the touch do not trade. hlmm's engine gives each print the half-spread of
the book it printed into as its floor instead (``floor_bps``, no sim parameter needed); that
removes the touch's offset and leaves the deepest print's, so it reads kappa a few % high
(~+7 % on BTC's defaults; a floor of 0 reads it ~27 % low).

**simTruth** (``{"type":"simTruth"}`` -> ``{"time", "truth"}``), ``truth()``::

    {"kind": "synthetic", "seed": 7, "step_ms": 100, "t0": ms, "time": ms of the last step,
     "steps": k, "regimes": ["low", "normal", "high", "extreme"], "toxic_hours_utc": [...],
     "accounts": {"makers": [...], "noise_taker": "0x..", "informed_taker": "0x.."},
     "coins": {"BTC": {
        "fair_px": float, "regime": "normal", "regime_index": 1,
        "sigma": per sqrt(s) (log units, current regime), "sigma_bps": same x 1e4,
        "sigma_by_regime_bps": {"low": .., ...}, "regime_dwell_s": {...},
        "regime_transitions": {"low": {"normal": 1.0}, ...},
        "jump_rate_per_s": .., "jump_std_bps": .., "jumps": count so far,
        "variance_per_s": sigma^2 + jump_rate * jump_std^2 (current regime),
        "integrated_variance": quadratic variation of log fair since t0,
        "kappa_per_bps": .., "A_per_side_per_s": .., "taker_rate_per_s": 2A,
        "informed_share": alpha now, "informed_share_base": .., "informed_share_toxic": ..,
        "informed_horizon_s": .., "half_spread_bps": .., "level_spacing_bps": (effective),
        "levels": .., "takers": {"noise": n, "informed": n, "noise_traded": n, "informed_traded": n}}}}
"""
from __future__ import annotations

import math
import zlib
from typing import TYPE_CHECKING, Any

import numpy as np

from hlmm._core import rounding as _r
from hlmm.sim.config import SimConfigError
from hlmm.sim.fair_price import CHUNK_STEPS, FairPath
from hlmm.sim.market_params import REGIMES, CoinParams, MarketParams

if TYPE_CHECKING:
    from hlmm.sim.exchange import SimExchange

HOUR_MS = 3_600_000
# Internal accounts are funded with this much USDC: margin must never limit the market's flow.
FLOW_ACCOUNT_USDC = 10**12
_MAKER, _NOISE, _INFORMED = 0x5E, 0x7A, 0x1F


def flow_address(kind: int, i: int = 0) -> str:
    """A recognisable internal address: 0x<kind>00...00<i>."""
    return "0x" + f"{kind:02x}" + "00" * 18 + f"{i:02x}"


def _seed_rng(seed: int, coin: str, stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=(zlib.crc32(coin.encode()), stream)))


class _TakerDraws:
    """The exogenous draws of the taker flow of one coin, chunked like the fair path."""

    __slots__ = ("rng", "lam", "_chunks", "_next")

    def __init__(self, rng: np.random.Generator, lam_per_step: float) -> None:
        self.rng = rng
        self.lam = lam_per_step
        self._chunks: dict[int, tuple[list, list, list, list, list, list]] = {}
        self._next = 0

    def at(self, k: int) -> tuple[int, int, list, list, list, list]:
        """(first index, count, u_side, reach_exp, u_informed, u_time) of step ``k``."""
        c = k // CHUNK_STEPS
        chunk = self._chunks.get(c)
        if chunk is None:
            while self._next <= c:
                self._chunks[self._next] = self._draw()
                self._next += 1
            for old in [o for o in self._chunks if o < c]:
                del self._chunks[old]
            chunk = self._chunks[c]
        offsets, counts, side, reach, inf, when = chunk
        i = k % CHUNK_STEPS
        return offsets[i], counts[i], side, reach, inf, when

    def _draw(self) -> tuple[list, list, list, list, list, list]:
        rng = self.rng
        counts = rng.poisson(self.lam, CHUNK_STEPS) if self.lam > 0 else np.zeros(CHUNK_STEPS, dtype=np.int64)
        total = int(counts.sum())
        offsets = np.concatenate(([0], np.cumsum(counts)[:-1]))
        return (offsets.tolist(), counts.tolist(), rng.random(total).tolist(),
                rng.standard_exponential(total).tolist(), rng.random(total).tolist(), rng.random(total).tolist())


class _LadderSide:
    """The background orders of one side of one coin: px -> (oid, lots left when last seen).

    Trades take the best price first, so while the side's best background order is
    untouched no deeper background order on that side can have traded: the known sizes
    are then current and no order needs to be looked up.
    """

    __slots__ = ("flow", "is_bid", "oids", "lots", "best", "last_want")

    def __init__(self, flow: "_CoinFlow", is_bid: bool) -> None:
        self.flow = flow
        self.is_bid = is_bid
        self.oids: dict[int, int] = {}
        self.lots: dict[int, int] = {}
        self.best = 0  # best price among oids (0 = none)
        self.last_want: dict[int, int] | None = None

    def rested(self, px: int, oid: int, lots: int) -> None:
        self.oids[px] = oid
        self.lots[px] = lots
        if not self.best or (px > self.best if self.is_bid else px < self.best):
            self.best = px

    def diff(self, want: dict[int, int], place: list) -> None:
        """Cancel what is no longer wanted (or was hit, or is far off its target) and queue
        the placements that make the side match ``want``."""
        flow = self.flow
        ex, coin = flow.ex, flow.coin
        oids, known = self.oids, self.lots
        best = self.best
        touched = bool(best) and ex.order_lots(oids[best]) != known[best]
        if not touched and want is self.last_want:
            return  # same ladder as last time (memoized targets) and nothing traded
        self.last_want = want
        for px in [p for p in oids if p not in want]:
            oid = oids.pop(px)
            left = ex.order_lots(oid) if touched else known[px]
            del known[px]
            if left:
                ex.internal_cancel(flow.maker_of(px), coin, oid)
        for px, target in want.items():
            oid = oids.get(px)
            if oid is not None:
                left = ex.order_lots(oid) if touched else known[px]
                if 2 * left >= target and left <= 2 * target:
                    known[px] = left
                    continue
                del oids[px], known[px]
                if left:
                    ex.internal_cancel(flow.maker_of(px), coin, oid)
            place.append((self.is_bid, px, target))
        if oids:
            self.best = max(oids) if self.is_bid else min(oids)
        else:
            self.best = 0


class _CoinFlow:
    """One coin's fair price, takers and background ladder."""

    def __init__(self, ex: "SimExchange", coin: str, cp: CoinParams, mp: MarketParams, seed: int,
                 makers: list[str], noise: str, informed: str, start_px: float) -> None:
        self.ex = ex
        self.coin = coin
        self.cp = cp
        self.mp = mp
        info = ex.asset(coin)
        self.pxd, self.szd = info.px_decimals, info.sz_decimals
        self.px_scale = 10 ** self.pxd
        self.sz_scale = 10 ** self.szd
        self.path = FairPath(start_px, cp, mp, _seed_rng(seed, coin, 0))
        dt = mp.step_ms / 1000.0
        self.takers = _TakerDraws(_seed_rng(seed, coin, 1), 2.0 * cp.taker_rate * dt)
        self.horizon_steps = max(1, round(cp.informed_horizon_s * 1000 / mp.step_ms))
        self.makers, self.noise, self.informed = makers, noise, informed
        self._salt = zlib.crc32(f"{seed}:{coin}".encode())
        start_units = start_px * self.px_scale
        tick = _r.py_price_tick_units(_r.py_price_to_units(start_px, self.pxd, 0), self.pxd)
        if tick <= 0:  # the rounding path's "no valid value": no grid to quote on (SimConfig refuses
            # such prices, but a replay's first mid or an embedder may hand one in directly)
            raise SimConfigError(f"{coin}: start price {start_px!r} is off the price grid the rounding path can "
                                 f"express with {self.pxd} price decimals")
        want = cp.level_spacing_bps * 1e-4 * start_units
        self.grid = max(tick, math.ceil(want / tick - 1e-9) * tick)
        self.spacing_bps = self.grid / start_units * 1e4
        self._lo = 1.0 - cp.half_spread_bps * 1e-4
        self._hi = 1.0 + cp.half_spread_bps * 1e-4
        self._notional = [cp.touch_notional_usd * cp.size_growth ** i for i in range(cp.levels)]
        self._max_usd = cp.taker_max_notional_usd
        self.bid_side = _LadderSide(self, True)
        self.ask_side = _LadderSide(self, False)
        self._memo_bid: dict[int, dict[int, int]] = {}
        self._memo_ask: dict[int, dict[int, int]] = {}
        self.fair = start_px
        self.k = 0
        self.counts = {"noise": 0, "informed": 0, "noise_traded": 0, "informed_traded": 0}

    # ---- one step: takers arrive inside it, then the fair price moves and makers re-center --
    def arrivals(self, k: int, t_prev: int, index: int, out: list) -> None:
        """Append ``(time, index, j)`` for each taker arriving in step ``k``, i.e. in
        ``(t_prev, t_prev + step_ms]`` (own times, so no two share a print time by construction)."""
        if k == 0 or self.ex.faults.is_frozen(self.coin):
            return  # step 0 builds the first book; a frozen book takes no flow
        first, n, _side, _reach, _inf, when = self.takers.at(k)
        step = self.mp.step_ms
        for j in range(first, first + n):
            out.append((t_prev + 1 + int(when[j] * step), index, j))

    def take(self, k: int, j: int, alpha: float) -> None:
        """Taker ``j`` of step ``k``: informed with probability ``alpha``, sweeping to its reach."""
        _first, _n, u_side, reach, u_inf, _when = self.takers.at(k)
        informed = u_inf[j] < alpha
        if informed:  # it knows the move of the fair price over the next horizon, from now
            move = self.path.log_px(k - 1 + self.horizon_steps) - self.path.log_px(k - 1)
            is_buy = move > 0 if move != 0 else u_side[j] < 0.5
        else:
            is_buy = u_side[j] < 0.5
        self._take(is_buy, reach[j] / self.cp.kappa, informed)

    def finish(self, k: int) -> None:
        """End of step ``k``: the fair price moves, the oracle follows, the makers re-center."""
        path = self.path
        self.fair = math.exp(path.log_px(k))
        self.k = k
        if k % CHUNK_STEPS == 0:
            path.release_before(k - 1)
        if self.ex.faults.is_frozen(self.coin):
            return  # the fault freezes the book: the fair price goes on, the flow waits
        self.ex.set_oracle(self.coin, self.fair)
        self._refresh()

    def _take(self, is_buy: bool, reach_bps: float, informed: bool) -> None:
        kind = "informed" if informed else "noise"
        self.counts[kind] += 1
        ex, coin, pxd = self.ex, self.coin, self.pxd
        bp, _bl, ap, _al = ex.book_top(coin)
        mid = (bp + ap) / 2.0 if bp and ap else self.fair * self.px_scale
        if is_buy:
            if not ap:
                return
            limit = _r.py_round_price_units(math.floor(mid * (1.0 + reach_bps * 1e-4)), pxd, -1)
            if limit < ap:
                return
        else:
            if not bp:
                return
            limit = _r.py_round_price_units(math.ceil(mid * (1.0 - reach_bps * 1e-4)), pxd, 1)
            if limit <= 0 or limit > bp:
                return
        lots = ex.depth_lots(coin, not is_buy, limit)
        cap = int(self._max_usd * self.px_scale * self.sz_scale // limit)
        lots = max(min(lots, cap), _r.py_min_lots_for_notional(limit, pxd, self.szd, 10.0), 1)
        status = ex.internal_place(self.informed if informed else self.noise, coin, is_buy, limit, lots, "Ioc")
        if "filled" in status:
            self.counts[kind + "_traded"] += 1

    # ---- background ladder -------------------------------------------------------------
    def _target_lots(self, px: int, depth: int) -> int:
        jitter = 0.6 + 0.8 * (((px * 2654435761) ^ self._salt) % 1000003) / 1000003.0
        lots = int(self._notional[depth] * jitter * self.px_scale * self.sz_scale / px)
        return max(lots, _r.py_min_lots_for_notional(px, self.pxd, self.szd, 10.0))

    def _refresh(self) -> None:
        """Re-center the background ladder on the fair price (see the module docstring)."""
        units = self.fair * self.px_scale
        g = self.grid
        bid_top = int(units * self._lo) // g * g
        ask_top = -(-math.ceil(units * self._hi) // g) * g
        if ask_top <= bid_top:
            ask_top = bid_top + g
        place: list[tuple[bool, int, int]] = []
        self.bid_side.diff(self._targets(bid_top, True), place)
        self.ask_side.diff(self._targets(ask_top, False), place)
        ex, coin = self.ex, self.coin
        for is_buy, px, lots in place:
            status = ex.internal_place(self.maker_of(px), coin, is_buy, px, lots, "Gtc")
            side = self.bid_side if is_buy else self.ask_side
            resting = status.get("resting")
            if resting is not None:
                side.rested(px, resting["oid"], ex.order_lots(resting["oid"]))
            else:  # filled against a client's stale quote, or refused: look again next step
                side.last_want = None

    def maker_of(self, px: int) -> str:
        """The background maker that quotes price ``px`` (fixed per price level)."""
        return self.makers[(px // self.grid) % len(self.makers)]

    def _targets(self, top: int, is_bid: bool) -> dict[int, int]:
        """px -> target lots of the ladder whose best price is ``top`` (memoized: a pure function)."""
        memo = self._memo_bid if is_bid else self._memo_ask
        out = memo.get(top)
        if out is not None:
            return out
        if len(memo) >= 4096:
            memo.clear()
        out = {}
        step = -self.grid if is_bid else self.grid
        direction = -1 if is_bid else 1
        pxd = self.pxd
        px = top
        for depth in range(self.cp.levels):
            if px <= 0:
                break
            valid = px if _r.py_price_units_valid(px, pxd) else _r.py_round_price_units(px, pxd, direction)
            if valid > 0 and valid not in out:
                out[valid] = self._target_lots(valid, depth)
            px += step
        memo[top] = out
        return out

    # ---- truth ---------------------------------------------------------------------------
    def truth(self, alpha: float) -> dict[str, Any]:
        cp, path, k = self.cp, self.path, self.k
        reg = path.regime(k)
        sigma = path.sigmas[reg]
        mp = self.mp
        return {
            "fair_px": self.fair,
            "regime": REGIMES[reg],
            "regime_index": reg,
            "sigma": sigma,
            "sigma_bps": sigma * 1e4,
            "sigma_by_regime_bps": {name: s * 1e4 for name, s in zip(REGIMES, path.sigmas)},
            "regime_dwell_s": ({name: d for name, d in zip(REGIMES, mp.regime_dwell_s)} if mp.regimes
                               else {name: None for name in REGIMES}),
            "regime_transitions": {REGIMES[i]: {REGIMES[j]: p for j, p in enumerate(row) if p}
                                   for i, row in enumerate(mp.regime_transitions)},
            "jump_rate_per_s": path.jump_rate,
            "jump_std_bps": cp.jump_std_bps,
            "jumps": path.jumps(k),
            "variance_per_s": sigma * sigma + path.jump_rate * path.jump_std ** 2,
            "integrated_variance": path.integrated_variance(k),
            "kappa_per_bps": cp.kappa,
            "A_per_side_per_s": cp.taker_rate,
            "taker_rate_per_s": 2.0 * cp.taker_rate,
            "informed_share": alpha,
            "informed_share_base": cp.informed_share,
            "informed_share_toxic": cp.toxic_informed_share,
            "informed_horizon_s": self.horizon_steps * mp.step_ms / 1000.0,
            "half_spread_bps": cp.half_spread_bps,
            "level_spacing_bps": self.spacing_bps,
            "levels": cp.levels,
            "takers": dict(self.counts),
        }


class SyntheticMarket:
    """Synthetic flow with known ground truth; see the module docstring."""

    def __init__(self, exchange: "SimExchange", params: MarketParams | None = None, seed: int | None = None,
                 start_ms: int | None = None) -> None:
        self.ex = exchange
        self.params = params if params is not None else MarketParams()
        self.seed = exchange.config.seed if seed is None else seed
        self.step_ms = self.params.step_ms
        self.t0 = exchange.now() if start_ms is None else int(start_ms)
        self.k = -1  # the last step that ran (-1: none yet; step 0 places the first book)
        self.makers = [flow_address(_MAKER, i) for i in range(self.params.makers)]
        self.noise = flow_address(_NOISE)
        self.informed = flow_address(_INFORMED)
        for address in (*self.makers, self.noise, self.informed):
            exchange.create_account(address, FLOW_ACCOUNT_USDC)
        self.flows = [
            _CoinFlow(exchange, a.name, self.params.coin(a.name), self.params, self.seed, self.makers,
                      self.noise, self.informed, a.start_px)
            for a in exchange.config.assets
        ]
        self._toxic = frozenset(self.params.toxic_hours)

    def alpha(self, flow: _CoinFlow, t_ms: int) -> float:
        """The informed share in force at ``t_ms`` (toxic UTC hours use the toxic share)."""
        if (t_ms // HOUR_MS) % 24 in self._toxic:
            return flow.cp.toxic_informed_share
        return flow.cp.informed_share

    def step(self, now_ms: int) -> None:
        """Run every grid step due by ``now_ms`` (each at its own time)."""
        last = (now_ms - self.t0) // self.step_ms
        if last <= self.k:
            return
        ex, flows = self.ex, self.flows
        for k in range(self.k + 1, last + 1):
            t = self.t0 + k * self.step_ms
            arrivals: list[tuple[int, int, int]] = []
            for i, flow in enumerate(flows):
                flow.arrivals(k, t - self.step_ms, i, arrivals)
            arrivals.sort()
            for when, i, j in arrivals:
                ex.flow_time(when)
                flows[i].take(k, j, self.alpha(flows[i], when))
            ex.flow_time(t)
            for flow in flows:
                flow.finish(k)
            self.k = k

    def truth(self) -> dict[str, Any]:
        t = self.t0 + max(self.k, 0) * self.step_ms
        return {
            "kind": "synthetic",
            "seed": self.seed,
            "step_ms": self.step_ms,
            "t0": self.t0,
            "time": t,
            "steps": max(self.k, 0),
            "regimes": list(REGIMES),
            "toxic_hours_utc": list(self.params.toxic_hours),
            "accounts": {"makers": list(self.makers), "noise_taker": self.noise, "informed_taker": self.informed},
            "coins": {f.coin: f.truth(self.alpha(f, t)) for f in self.flows},
        }
