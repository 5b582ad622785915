"""The latent fair price of one coin: a regime-switching jump-diffusion on a fixed time grid.

Step ``k`` (``k >= 1``) covers ``(t0 + (k-1) dt, t0 + k dt]``; step 0 is the start. In
each step the regime may switch first (continuous-time Markov chain: it leaves regime
``r`` with probability ``1 - exp(-dt / dwell[r])`` and goes to ``r'`` with probability
``transitions[r][r']``), then the log price moves by

    dX_k = sigma[r_k] * sqrt(dt) * Z_k + sum of N_k jumps,   Z_k ~ N(0, 1),
    N_k ~ Poisson(jump_rate * dt),  each jump ~ N(0, jump_std^2)   (log units)

so ``sigma`` is per sqrt(second) of log return, exactly what ``hlmm._core.volatility``
estimates (``sigma_bps = sigma * 1e4``). The path is a martingale in log price (no drift).
It is also kept: ``integrated_variance(k)`` = sum of ``sigma[r_j]^2 dt + J_j^2`` over steps
1..k, the exact quadratic variation of the log path, so a realized variance over any
window can be checked against the truth of that window.

The path is drawn in chunks of steps from its own numpy ``Generator`` and is exogenous: it
depends on the seed and the parameters only, never on trading or on when it is read, so
it can be read ahead (informed traders know ``log_px(k + h)``).
"""
from __future__ import annotations

import math

import numpy as np

from hlmm.sim.market_params import CoinParams, MarketParams

CHUNK_STEPS = 1024


class _Chunk:
    __slots__ = ("logx", "regime", "ivar", "jumps", "jump")

    def __init__(self, logx: list, regime: list, ivar: list, jumps: list, jump: list) -> None:
        self.logx = logx      # log fair price after step k
        self.regime = regime  # regime during step k
        self.ivar = ivar      # integrated variance up to step k
        self.jumps = jumps    # jumps up to step k (count)
        self.jump = jump      # summed jump log size in step k (0.0 when none)


class FairPath:
    """The log fair price of one coin at every step of the market's grid (see module docstring)."""

    def __init__(self, start_px: float, coin: CoinParams, market: MarketParams, rng: np.random.Generator) -> None:
        if not (start_px > 0 and math.isfinite(start_px)):
            raise ValueError(f"start price must be a positive number, got {start_px!r}")
        dt = market.step_ms / 1000.0
        self.dt = dt
        self.rng = rng
        self.sigmas = tuple(s * 1e-4 for s in coin.sigmas_bps())           # per sqrt(s), log units
        self._step_sd = [s * math.sqrt(dt) for s in self.sigmas]
        self._step_var = [s * s * dt for s in self.sigmas]
        if market.regimes:
            self._p_leave = [1.0 - math.exp(-dt / d) for d in market.regime_dwell_s]
        else:
            self._p_leave = [0.0] * 4
        self._cum = [list(np.cumsum(row)) for row in market.regime_transitions]
        self.jump_rate = coin.jump_rate_per_hour / 3600.0                    # per second
        self.jump_std = coin.jump_std_bps * 1e-4                             # log units
        self._jump_lam = self.jump_rate * dt
        self._chunks: dict[int, _Chunk] = {}
        self._next = 0
        # state after the last generated step
        self._x = math.log(start_px)
        self._r = market.regime_index()
        self._ivar = 0.0
        self._njumps = 0

    # ---- reading -----------------------------------------------------------------
    def _chunk(self, k: int) -> _Chunk:
        c = k // CHUNK_STEPS
        chunk = self._chunks.get(c)
        if chunk is None:
            if c < self._next:
                raise ValueError(f"step {k} was released; the path only keeps recent steps")
            while self._next <= c:
                self._chunks[self._next] = self._generate(self._next)
                self._next += 1
            chunk = self._chunks[c]
        return chunk

    def log_px(self, k: int) -> float:
        """Log fair price after step ``k``."""
        return self._chunk(k).logx[k % CHUNK_STEPS]

    def regime(self, k: int) -> int:
        """Regime index during step ``k`` (0 low .. 3 extreme)."""
        return self._chunk(k).regime[k % CHUNK_STEPS]

    def integrated_variance(self, k: int) -> float:
        """Quadratic variation of the log price over steps 1..k."""
        return self._chunk(k).ivar[k % CHUNK_STEPS]

    def jumps(self, k: int) -> int:
        """How many jumps happened in steps 1..k."""
        return self._chunk(k).jumps[k % CHUNK_STEPS]

    def jump(self, k: int) -> float:
        """Summed log size of the jumps in step ``k`` (0.0 when none)."""
        return self._chunk(k).jump[k % CHUNK_STEPS]

    def release_before(self, k: int) -> None:
        """Forget chunks that end before step ``k`` (memory stays bounded)."""
        for c in [c for c in self._chunks if (c + 1) * CHUNK_STEPS <= k]:
            del self._chunks[c]

    # ---- drawing -----------------------------------------------------------------
    def _generate(self, c: int) -> _Chunk:
        n = CHUNK_STEPS
        rng = self.rng
        z = rng.standard_normal(n)
        u_leave = rng.random(n).tolist()
        u_to = rng.random(n).tolist()
        counts = rng.poisson(self._jump_lam, n) if self._jump_lam > 0 else np.zeros(n, dtype=np.int64)
        total = int(counts.sum())
        sizes = rng.standard_normal(total) * self.jump_std if total else np.zeros(0)
        jump = np.zeros(n)
        if total:
            idx = np.repeat(np.arange(n), counts)
            np.add.at(jump, idx, sizes)
        if c == 0:  # step 0 is the start: no switch, no move
            u_leave[0] = 1.0
            counts[0] = 0
            jump[0] = 0.0
            z[0] = 0.0
        regimes = [0] * n
        r = self._r
        p_leave, cum = self._p_leave, self._cum
        for i in range(n):
            if u_leave[i] < p_leave[r]:
                row, u = cum[r], u_to[i]
                nxt = 0
                while nxt < 3 and u >= row[nxt]:
                    nxt += 1
                r = nxt
            regimes[i] = r
        reg = np.asarray(regimes, dtype=np.int64)
        sd = np.asarray(self._step_sd)[reg]
        var = np.asarray(self._step_var)[reg]
        dx = sd * z + jump
        dvar = var + jump * jump
        if c == 0:
            dvar[0] = 0.0
        logx = self._x + np.cumsum(dx)
        ivar = self._ivar + np.cumsum(dvar)
        njumps = self._njumps + np.cumsum(counts)
        self._x, self._r = float(logx[-1]), r
        self._ivar, self._njumps = float(ivar[-1]), int(njumps[-1])
        return _Chunk(logx.tolist(), regimes, ivar.tolist(), njumps.tolist(), jump.tolist())
