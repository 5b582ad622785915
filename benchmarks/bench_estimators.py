"""Estimator update cost: Cython core vs a plain-Python implementation of the same math, same run.

For each estimator three benchmarks share a group:
  * ``cython``  - a Python loop calling the Cython object's ``update`` (what a Python caller pays);
  * ``python``  - the same loop calling the plain-Python reference below (the baseline);
  * ``batch``   - the Cython ``update_many`` over typed memoryviews (no Python per element).
Each round feeds N_UPDATES observations to a fresh object (setup is not timed): divide the
median by N_UPDATES for the per-update cost. Before timing, every benchmark checks that the
Cython and reference implementations agree, so with ``--benchmark-disable`` this file is a test.

    pytest benchmarks/bench_estimators.py --benchmark-enable -q
"""
from __future__ import annotations

import bisect
import math
import sys
from collections import deque
from pathlib import Path

import numpy as np
import pytest

from hlmm._core.flow import OrderFlow
from hlmm._core.intensity import FillIntensity
from hlmm._core.markouts import Markouts
from hlmm._core.microprice import Microprice
from hlmm._core.toxicity import Toxicity
from hlmm._core.volatility import Volatility

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))   # tests/synthetic.py
from synthetic import exponential_trades, gbm, microprice_series  # noqa: E402

N_UPDATES = 2000
ROUNDS = 200
LN2 = math.log(2.0)


# ----------------------------------------------------------------------------------------------
# Plain-Python references: the same formulas and state machines as the Cython modules.
# ----------------------------------------------------------------------------------------------
class PyVolatility:
    def __init__(self, fast_half_life_s=60.0, slow_half_life_s=1800.0, min_samples=30, low_enter=0.5,
                 low_exit=0.65, high_enter=1.5, high_exit=1.25, extreme_enter=3.0, extreme_exit=2.5,
                 min_dwell_ms=30_000):
        self.rates = (LN2 / fast_half_life_s, LN2 / slow_half_life_s)
        self.sums = [[0.0] * 5, [0.0] * 5]        # rv, bv, dt, bvdt, n
        self.th = (low_enter, low_exit, high_enter, high_exit, extreme_enter, extreme_exit)
        self.min_samples, self.min_dwell_ms = min_samples, min_dwell_ms
        self.anchor = None
        self.prev = None
        self.samples = 0
        self.regime, self.regime_since = 1, 0

    def update(self, t_ms, price):
        if not (price > 0.0 and math.isfinite(price)):
            return False
        if self.anchor is None:
            self.anchor = (t_ms, math.log(price))
            self.regime_since = t_ms
            return False
        if t_ms - self.anchor[0] < 1:
            return False
        logp = math.log(price)
        r = logp - self.anchor[1]
        dt = (t_ms - self.anchor[0]) * 1e-3
        self.anchor = (t_ms, logp)
        for rate, s in zip(self.rates, self.sums):
            w = math.exp(-rate * dt)
            s[0] = s[0] * w + r * r
            s[2] = s[2] * w + dt
            s[4] = s[4] * w + 1.0
            s[1] *= w
            s[3] *= w
            if self.prev is not None:
                s[1] += abs(r) * self.prev[0]
                s[3] += math.sqrt(dt * self.prev[1])
        self.prev = (abs(r), dt)
        self.samples += 1
        self._step(t_ms)
        return True

    def var(self):
        s = self.sums[0]
        return s[0] / s[2] if s[2] > 0 else 0.0

    def var_bv(self, i=0):
        s = self.sums[i]
        return 0.5 * math.pi * s[1] / s[3] if s[3] > 0 else 0.0

    def _step(self, t_ms):
        if not (self.samples >= self.min_samples and self.sums[0][1] > 0 and self.sums[1][1] > 0):
            return
        base = self.var_bv(1)
        x = math.sqrt(self.var_bv(0) / base) if base > 0 else 0.0
        if x <= 0:
            return
        le, lx, he, hx, ee, ex = self.th
        cur = self.regime
        if cur == 3:
            tgt = 3 if x >= ex else 2 if x >= hx else 0 if x <= le else 1
        elif x >= ee:
            tgt = 3
        elif cur == 2:
            tgt = 2 if x >= hx else 0 if x <= le else 1
        elif x >= he:
            tgt = 2
        elif cur == 0:
            tgt = 0 if x <= lx else 1
        else:
            tgt = 0 if x <= le else 1
        if tgt == cur or (tgt < cur and t_ms - self.regime_since < self.min_dwell_ms):
            return
        self.regime, self.regime_since = tgt, t_ms


class PyFillIntensity:
    def __init__(self, window_ms=600_000, delta0_bps=0.0):
        self.window_ms, self.delta0 = window_ms, delta0_bps
        self.buf = deque()
        self.n = {1: 0, -1: 0, 0: 0}
        self.s = {1: 0.0, -1: 0.0, 0: 0.0}
        self.sum_floor = 0.0
        self.origin = None
        self.now = 0

    def update(self, t_ms, price, mid, side, floor_bps=-1.0):
        if not (price > 0 and mid > 0 and math.isfinite(price) and math.isfinite(mid) and math.isfinite(floor_bps)):
            return False
        floor = self.delta0 if floor_bps < 0 else floor_bps
        d = abs(price - mid) / mid * 1e4 if side == 0 else side * (price - mid) / mid * 1e4
        if self.origin is None:
            self.origin = self.now = t_ms
        t_ms = max(t_ms, self.now)
        self.now = t_ms
        cutoff = t_ms - self.window_ms
        while self.buf and self.buf[0][0] <= cutoff:
            _, e, sd, f = self.buf.popleft()
            self.n[sd] -= 1
            self.s[sd] -= e
            self.sum_floor -= f
        if self.buf and self.buf[-1][0] == t_ms and self.buf[-1][2] == side:   # same sweep: its first floor
            ex = max(d - self.buf[-1][3], 0.0)
            if ex > self.buf[-1][1]:
                self.s[side] += ex - self.buf[-1][1]
                self.buf[-1] = (t_ms, ex, side, self.buf[-1][3])
            return True
        ex = max(d - floor, 0.0)
        self.buf.append((t_ms, ex, side, floor))
        self.n[side] += 1
        self.s[side] += ex
        self.sum_floor += floor
        return True

    def kappa(self):
        tot = sum(self.s.values())
        return sum(self.n.values()) / tot if tot > 0 else 0.0

    def mean_floor(self):
        n = sum(self.n.values())
        return self.sum_floor / n if n > 0 else self.delta0

    def rate(self):
        el = (self.now - max(self.now - self.window_ms, self.origin)) * 1e-3
        return sum(self.n.values()) / el if el > 0 else 0.0


class PyOrderFlow:
    def __init__(self, half_life_s=30.0, v_ref=0.0, mu=0.5, alpha=1.0, beta=2.0):
        self.rate, self.v_ref = LN2 / half_life_s, v_ref
        self.mu, self.alpha, self.beta = mu, alpha, beta
        self.buy = self.sell = self.count = self.excite = 0.0
        self.last = None
        self.events = deque(maxlen=16384)

    def update(self, t_ms, size, side):
        if not (size > 0 and math.isfinite(size)) or side not in (1, -1):
            return False
        if self.last is None:
            self.last = t_ms
        t_ms = max(t_ms, self.last)
        if t_ms > self.last:
            dt = (t_ms - self.last) * 1e-3
            d = math.exp(-self.rate * dt)
            self.buy *= d
            self.sell *= d
            self.count *= d
            self.excite *= math.exp(-self.beta * dt)
            self.last = t_ms
        if side > 0:
            self.buy += size
        else:
            self.sell += size
        self.count += 1.0
        self.excite += self.alpha
        self.events.append(t_ms)
        return True

    def imbalance(self):
        tot = self.buy + self.sell
        return (self.buy - self.sell) / tot if tot > 0 else 0.0


class PyMicroprice:
    def __init__(self, horizon_ms=1000, forgetting=0.999, ema_half_life_ms=500.0, max_divergence_bps=100.0,
                 min_samples=100, max_feed_gap_ms=5000, p0=1000.0, p_max=1e6):
        self.h, self.lam, self.hl, self.maxdiv = horizon_ms, forgetting, ema_half_life_ms, max_divergence_bps
        self.min_samples, self.gap, self.p_max = min_samples, max_feed_gap_ms, p_max
        self.beta = [0.0, 0.0, 0.0]
        self.P = [[p0 if i == j else 0.0 for j in range(3)] for i in range(3)]
        self.pending = deque()
        self.samples = 0
        self.ema = None
        self.last_ms, self.last_logmid = 0, 0.0
        self.microprice = 0.0

    def _rls(self, x1, x2, y):
        x = (1.0, x1, x2)
        P, lam = self.P, self.lam
        px = [P[i][0] * x[0] + P[i][1] * x[1] + P[i][2] * x[2] for i in range(3)]
        denom = lam + x[0] * px[0] + x[1] * px[1] + x[2] * px[2]
        err = y - (self.beta[0] * x[0] + self.beta[1] * x[1] + self.beta[2] * x[2])
        k = [p / denom for p in px]
        for i in range(3):
            self.beta[i] += k[i] * err
        for i in range(3):
            for j in range(i, 3):
                P[i][j] = (P[i][j] - k[i] * px[j]) / lam
                P[j][i] = P[i][j]
        tr = P[0][0] + P[1][1] + P[2][2]
        if tr > self.p_max:
            sc = self.p_max / tr
            for i in range(3):
                for j in range(3):
                    P[i][j] *= sc
        self.samples += 1

    def update(self, t_ms, mid, book, flow):
        if not (mid > 0 and abs(book) <= 1 and abs(flow) <= 1) or (self.ema is not None and t_ms < self.last_ms):
            return self.microprice
        logmid = math.log(mid)
        if self.ema is not None:
            while self.pending and self.pending[0][0] + self.h < t_ms:
                t0, lm0, a, b = self.pending.popleft()
                if t0 + self.h - self.last_ms <= self.gap:
                    self._rls(a, b, (self.last_logmid - lm0) * 1e4)
        self.pending.append((t_ms, logmid, book, flow))
        raw = self.beta[1] * book + self.beta[2] * flow if self.samples >= self.min_samples else 0.0
        if self.ema is None:
            self.ema = 0.0
        else:
            a = 1.0 - math.exp(-LN2 * (t_ms - self.last_ms) / self.hl)
            self.ema += a * (raw - self.ema)
            if abs(self.ema) > self.maxdiv:
                self.ema = 0.0
        self.last_ms, self.last_logmid = t_ms, logmid
        self.microprice = mid * (1.0 + self.ema * 1e-4)
        return self.microprice


class PyToxicity:
    W = (-3.0, 1.5, 2.0, 1.0, 2.5, 0.5)

    def __init__(self, funding_scale=1e-4, k=0.5, h=5.0, z_clip=3.0, cp_memory_ms=30_000.0):
        self.fs, self.k, self.hh, self.zc, self.mem = funding_scale, k, h, z_clip, cp_memory_ms
        self.sp = self.sn = 0.0
        self.up_ms = self.down_ms = -1
        self.last = None
        self.bid = self.ask = 0.0

    def _cp(self, stat, last_alarm, now):
        v = min(stat / self.hh, 1.0)
        if last_alarm >= 0:
            v = max(v, math.exp(-(now - last_alarm) / self.mem))
        return v

    def sample(self, now, mid, sigma, book, flow, regime, funding):
        logmid = math.log(mid)
        if self.last is not None and now > self.last[0] and sigma > 0:
            z = (logmid - self.last[1]) / (sigma * math.sqrt((now - self.last[0]) * 1e-3))
            z = max(-self.zc, min(self.zc, z))
            self.sp = max(0.0, self.sp + z - self.k)
            self.sn = max(0.0, self.sn - z - self.k)
            if self.sp > self.hh:
                self.sp, self.up_ms = 0.0, now
            if self.sn > self.hh:
                self.sn, self.down_ms = 0.0, now
        self.last = (now, logmid)
        f = max(-1.0, min(1.0, funding / self.fs))
        reg = regime / 3.0
        xb = (1.0, -book, -flow, reg, self._cp(self.sn, self.down_ms, now), f)
        xa = (1.0, book, flow, reg, self._cp(self.sp, self.up_ms, now), -f)
        self.bid = 1.0 / (1.0 + math.exp(-sum(w * x for w, x in zip(self.W, xb))))
        self.ask = 1.0 / (1.0 + math.exp(-sum(w * x for w, x in zip(self.W, xa))))
        return self.bid, self.ask


class PyMarkouts:
    H = (500, 1000, 2000, 5000, 10000, 60000)

    def __init__(self, max_feed_gap_ms=5000):
        self.gap = max_feed_gap_ms
        self.mt, self.mv = [], []
        self.fills = []                  # [t, side, px, size, fee_bps, mid0 or None, mids]
        self.cur0 = 0
        self.cur = [0] * len(self.H)
        self.stats = [[0, 0.0, 0.0, 0.0] for _ in self.H]    # n, sum_as, sum_as2, sum_edge

    def _prevailing(self, at):
        i = bisect.bisect_right(self.mt, at) - 1
        if i < 0 or at - self.mt[i] > self.gap:
            return math.nan
        return self.mv[i]

    def on_mid(self, t, mid):
        self.mt.append(t)
        self.mv.append(mid)
        cutoff = t - (60_000 + 120_000)
        if len(self.mt) > 2 and self.mt[1] <= cutoff:
            del self.mt[0], self.mv[0]
        self._resolve(t)

    def add_fill(self, t, side, px, size, fee):
        self.fills.append([t, side, px, size, fee / (px * size) * 1e4, None, [math.nan] * len(self.H)])
        if self.mt:
            self._resolve(self.mt[-1])

    def _resolve(self, now):
        while self.cur0 < len(self.fills) and self.fills[self.cur0][0] - 1 < now:
            f = self.fills[self.cur0]
            f[5] = self._prevailing(f[0] - 1)
            self.cur0 += 1
        for k, h in enumerate(self.H):
            while self.cur[k] < len(self.fills) and self.fills[self.cur[k]][0] + h < now:
                f = self.fills[self.cur[k]]
                m = f[6][k] = self._prevailing(f[0] + h)
                if not (math.isnan(m) or math.isnan(f[5])):
                    a = f[1] * (f[5] - m) / f[5] * 1e4
                    e = f[1] * (f[5] - f[2]) / f[5] * 1e4 - a - f[4]
                    s = self.stats[k]
                    s[0] += 1
                    s[1] += a
                    s[2] += a * a
                    s[3] += e
                self.cur[k] += 1


# ----------------------------------------------------------------------------------------------
# Data (fixed seeds) shared by the benchmarks
# ----------------------------------------------------------------------------------------------
_T, _PX = gbm(N_UPDATES + 1, 2e-4, mean_dt_ms=100, seed=1)
VOL = (_T[:N_UPDATES].tolist(), _PX[:N_UPDATES].tolist())
_TP = exponential_trades(20.0, 0.8, duration_s=N_UPDATES / 20.0 * 1.2, seed=2)
TRADES = tuple(a[:N_UPDATES] for a in (_TP.t_ms, _TP.price, _TP.mid, _TP.side, _TP.size))
# per-print floors (the book's half-spread at each print, 0.2-1 bp), the same prints pushed out beyond them
TRADE_FLOORS = np.random.default_rng(5).uniform(0.2, 1.0, N_UPDATES)
TRADES_FLOORED = (TRADES[0], TRADES[2] * (1 + TRADES[3] * (_TP.distance_bps[:N_UPDATES] + TRADE_FLOORS) * 1e-4),
                  TRADES[2], TRADES[3], TRADE_FLOORS)
_MT, _MM, _MB, _MF = microprice_series(N_UPDATES, 3.0, 1.5, 2.0, dt_ms=100, seed=3)
MICRO = (_MT, _MM, _MB, _MF)
_rng = np.random.default_rng(4)
TOX = (_T[:N_UPDATES].tolist(), _PX[:N_UPDATES].tolist(), _rng.uniform(-1, 1, N_UPDATES).tolist(),
       _rng.uniform(-1, 1, N_UPDATES).tolist(), _rng.integers(0, 4, N_UPDATES).tolist(),
       _rng.normal(0, 5e-5, N_UPDATES).tolist())
# markouts: a mid every 100 ms and a fill every 10th mid (after that mid)
MK_MIDS = (_T[:N_UPDATES].tolist(), _PX[:N_UPDATES].tolist())
MK_FILLS = [(i, int(_T[i]) + 1, 1 if i % 20 else -1, float(_PX[i]) * (1 - (1 if i % 20 else -1) * 2e-4), 0.5,
             float(_PX[i]) * 0.5 * 1.5e-4) for i in range(0, N_UPDATES, 10)]


def _run_vol(update, t, px):
    for i in range(N_UPDATES):
        update(t[i], px[i])


def _run_trades(update, t, price, mid, side):
    for i in range(N_UPDATES):
        update(t[i], price[i], mid[i], side[i])


def _run_trades_floored(update, t, price, mid, side, floor):
    for i in range(N_UPDATES):
        update(t[i], price[i], mid[i], side[i], floor[i])


def _run_flow(update, t, size, side):
    for i in range(N_UPDATES):
        update(t[i], size[i], side[i])


def _run_micro(update, t, mid, b, f):
    for i in range(N_UPDATES):
        update(t[i], mid[i], b[i], f[i])


def _run_tox(sample, t, px, b, f, reg, fund):
    for i in range(N_UPDATES):
        sample(t[i], px[i], 2e-4, b[i], f[i], reg[i], fund[i])


def _run_markouts_cy(mk, t, mid, fills):
    j = 0
    on_mid, add_fill = mk.on_mid, mk.add_fill
    for i in range(N_UPDATES):
        on_mid(t[i], mid[i])
        if i % 10 == 0:
            fid, ft, side, px, size, fee = fills[j]
            add_fill(fid, ft, side, px, size, fee)
            j += 1


def _run_markouts_py(mk, t, mid, fills):
    j = 0
    on_mid, add_fill = mk.on_mid, mk.add_fill
    for i in range(N_UPDATES):
        on_mid(t[i], mid[i])
        if i % 10 == 0:
            _, ft, side, px, size, fee = fills[j]
            add_fill(ft, side, px, size, fee)
            j += 1


def _bench(benchmark, fn, make, *data):
    benchmark.extra_info["updates_per_round"] = N_UPDATES
    benchmark.pedantic(fn, setup=lambda: ((make(),) + data, {}), rounds=ROUNDS, iterations=1,
                       warmup_rounds=2)


# ----------------------------------------------------------------------------------------------
# Volatility
# ----------------------------------------------------------------------------------------------
def test_volatility_reference_agrees():
    cy, py = Volatility(fast_half_life_s=20.0, slow_half_life_s=200.0, min_dwell_ms=5000), \
        PyVolatility(fast_half_life_s=20.0, slow_half_life_s=200.0, min_dwell_ms=5000)
    t, px = gbm(20_000, 2e-4, sigma_path=np.where(np.arange(20_000) > 12_000, 6e-4, 2e-4), seed=9)
    for ti, pi in zip(t.tolist(), px.tolist()):
        cy.update(ti, pi)
        py.update(ti, pi)
        assert cy.regime == py.regime
    assert cy.sigma == pytest.approx(math.sqrt(py.var()), rel=1e-12)
    assert cy.sigma_bv == pytest.approx(math.sqrt(py.var_bv()), rel=1e-12)
    assert cy.transitions > 0


@pytest.mark.benchmark(group="volatility")
def test_bench_volatility_cython(benchmark):
    _bench(benchmark, lambda v, t, px: _run_vol(v.update, t, px), Volatility, *VOL)


@pytest.mark.benchmark(group="volatility")
def test_bench_volatility_python(benchmark):
    _bench(benchmark, lambda v, t, px: _run_vol(v.update, t, px), PyVolatility, *VOL)


@pytest.mark.benchmark(group="volatility")
def test_bench_volatility_batch(benchmark):
    t, px = np.array(VOL[0], dtype=np.int64), np.array(VOL[1])
    _bench(benchmark, lambda v, t, px: v.update_many(t, px), Volatility, t, px)


# ----------------------------------------------------------------------------------------------
# Fill intensity
# ----------------------------------------------------------------------------------------------
def test_intensity_reference_agrees():
    tp = exponential_trades(5.0, 0.8, duration_s=1200.0, seed=8)
    cy, py = FillIntensity(window_ms=60_000, delta0_bps=0.1), PyFillIntensity(window_ms=60_000, delta0_bps=0.1)
    for row in zip(tp.t_ms.tolist(), tp.price.tolist(), tp.mid.tolist(), tp.side.tolist()):
        cy.update(*row)
        py.update(*row)
    assert cy.kappa == pytest.approx(py.kappa(), rel=1e-9)
    assert cy.rate == pytest.approx(py.rate(), rel=1e-12)


@pytest.mark.benchmark(group="intensity")
def test_bench_intensity_cython(benchmark):
    data = tuple(a.tolist() for a in TRADES[:4])
    _bench(benchmark, lambda e, *d: _run_trades(e.update, *d), FillIntensity, *data)


@pytest.mark.benchmark(group="intensity")
def test_bench_intensity_python(benchmark):
    data = tuple(a.tolist() for a in TRADES[:4])
    _bench(benchmark, lambda e, *d: _run_trades(e.update, *d), PyFillIntensity, *data)


@pytest.mark.benchmark(group="intensity")
def test_bench_intensity_batch(benchmark):
    _bench(benchmark, lambda e, *d: e.update_many(*d), FillIntensity, *TRADES[:4])


# the same three with a per-print floor (what the engine feeds: the book's half-spread at each print)
def test_intensity_reference_agrees_with_floors():
    cy, py = FillIntensity(window_ms=10_000), PyFillIntensity(window_ms=10_000)
    rows = list(zip(*(a.tolist() for a in TRADES_FLOORED)))
    for row in rows:
        assert cy.update(*row) == py.update(*row)
    assert cy.kappa == pytest.approx(py.kappa(), rel=1e-9)
    assert cy.rate == pytest.approx(py.rate(), rel=1e-12)
    assert cy.mean_floor_bps == pytest.approx(py.mean_floor(), rel=1e-9)
    batch = FillIntensity(window_ms=10_000)
    batch.update_many(*TRADES_FLOORED)
    assert batch.snapshot() == cy.snapshot()


@pytest.mark.benchmark(group="intensity")
def test_bench_intensity_cython_floor(benchmark):
    data = tuple(a.tolist() for a in TRADES_FLOORED)
    _bench(benchmark, lambda e, *d: _run_trades_floored(e.update, *d), FillIntensity, *data)


@pytest.mark.benchmark(group="intensity")
def test_bench_intensity_python_floor(benchmark):
    data = tuple(a.tolist() for a in TRADES_FLOORED)
    _bench(benchmark, lambda e, *d: _run_trades_floored(e.update, *d), PyFillIntensity, *data)


@pytest.mark.benchmark(group="intensity")
def test_bench_intensity_batch_floor(benchmark):
    _bench(benchmark, lambda e, *d: e.update_many(*d), FillIntensity, *TRADES_FLOORED)


# ----------------------------------------------------------------------------------------------
# Order flow
# ----------------------------------------------------------------------------------------------
def test_flow_reference_agrees():
    tp = exponential_trades(5.0, 0.8, duration_s=1200.0, seed=7)
    cy, py = OrderFlow(), PyOrderFlow()
    for row in zip(tp.t_ms.tolist(), tp.size.tolist(), tp.side.tolist()):
        cy.update(*row)
        py.update(*row)
    assert cy.imbalance == pytest.approx(py.imbalance(), rel=1e-9)
    assert cy.hawkes_intensity == pytest.approx(py.mu + py.excite, rel=1e-12)


@pytest.mark.benchmark(group="flow")
def test_bench_flow_cython(benchmark):
    data = (TRADES[0].tolist(), TRADES[4].tolist(), TRADES[3].tolist())
    _bench(benchmark, lambda e, *d: _run_flow(e.update, *d), OrderFlow, *data)


@pytest.mark.benchmark(group="flow")
def test_bench_flow_python(benchmark):
    data = (TRADES[0].tolist(), TRADES[4].tolist(), TRADES[3].tolist())
    _bench(benchmark, lambda e, *d: _run_flow(e.update, *d), PyOrderFlow, *data)


@pytest.mark.benchmark(group="flow")
def test_bench_flow_batch(benchmark):
    _bench(benchmark, lambda e, *d: e.update_many(*d), OrderFlow, TRADES[0], TRADES[4], TRADES[3])


# ----------------------------------------------------------------------------------------------
# Microprice
# ----------------------------------------------------------------------------------------------
def test_microprice_reference_agrees():
    t, mid, b, f = microprice_series(5000, 3.0, 1.5, 2.0, dt_ms=250, seed=6)
    cy, py = Microprice(), PyMicroprice()
    for row in zip(t.tolist(), mid.tolist(), b.tolist(), f.tolist()):
        assert cy.update(*row) == pytest.approx(py.update(*row), rel=1e-12)
    assert cy.beta_book == pytest.approx(py.beta[1], rel=1e-9)
    assert cy.beta_flow == pytest.approx(py.beta[2], rel=1e-9)


@pytest.mark.benchmark(group="microprice")
def test_bench_microprice_cython(benchmark):
    data = tuple(a.tolist() for a in MICRO)
    _bench(benchmark, lambda e, *d: _run_micro(e.update, *d), Microprice, *data)


@pytest.mark.benchmark(group="microprice")
def test_bench_microprice_python(benchmark):
    data = tuple(a.tolist() for a in MICRO)
    _bench(benchmark, lambda e, *d: _run_micro(e.update, *d), PyMicroprice, *data)


@pytest.mark.benchmark(group="microprice")
def test_bench_microprice_batch(benchmark):
    _bench(benchmark, lambda e, *d: e.update_many(*d), Microprice, *MICRO)


# ----------------------------------------------------------------------------------------------
# Toxicity (one sample() per quote cycle)
# ----------------------------------------------------------------------------------------------
def test_toxicity_reference_agrees():
    cy, py = Toxicity(), PyToxicity()
    t, px = gbm(5000, 2e-4, sigma_path=np.where(np.arange(5000) > 3000, 5e-4, 2e-4), seed=5)
    px = px * np.exp(np.where(np.arange(5000) > 3000, 1e-5, 0.0).cumsum())
    rng = np.random.default_rng(1)
    for ti, pi in zip(t.tolist(), px.tolist()):
        args = (ti, pi, 2e-4, float(rng.uniform(-1, 1)), float(rng.uniform(-1, 1)), int(rng.integers(0, 4)),
                float(rng.normal(0, 5e-5)))
        assert cy.sample(*args) == pytest.approx(py.sample(*args), rel=1e-12)
    assert cy.cusum.alarms_up > 0


@pytest.mark.benchmark(group="toxicity")
def test_bench_toxicity_cython(benchmark):
    _bench(benchmark, lambda e, *d: _run_tox(e.sample, *d), Toxicity, *TOX)


@pytest.mark.benchmark(group="toxicity")
def test_bench_toxicity_python(benchmark):
    _bench(benchmark, lambda e, *d: _run_tox(e.sample, *d), PyToxicity, *TOX)


# ----------------------------------------------------------------------------------------------
# Markouts (N_UPDATES mids + N_UPDATES/10 fills per round)
# ----------------------------------------------------------------------------------------------
def test_markouts_reference_agrees():
    cy, py = Markouts(), PyMarkouts()
    t, px = gbm(30_000, 2e-4, mean_dt_ms=100, seed=3)
    for i, (ti, pi) in enumerate(zip(t.tolist(), px.tolist())):
        cy.on_mid(ti, pi)
        py.on_mid(ti, pi)
        if i % 10 == 0:
            side = 1 if i % 20 else -1
            fpx = pi * (1 - side * 2e-4)
            cy.add_fill(i, ti + 1, side, fpx, 0.5, fpx * 0.5 * 1.5e-4)
            py.add_fill(ti + 1, side, fpx, 0.5, fpx * 0.5 * 1.5e-4)
    for k, h in enumerate(cy.summary()["horizons"]):
        n, s_as, _, s_edge = py.stats[k]
        assert h["n"] == n
        assert h["as_mean_bps"] == pytest.approx(s_as / n, rel=1e-9)
        assert h["edge_mean_bps"] == pytest.approx(s_edge / n, rel=1e-9)


@pytest.mark.benchmark(group="markouts")
def test_bench_markouts_cython(benchmark):
    _bench(benchmark, _run_markouts_cy, Markouts, *MK_MIDS, MK_FILLS)


@pytest.mark.benchmark(group="markouts")
def test_bench_markouts_python(benchmark):
    _bench(benchmark, _run_markouts_py, PyMarkouts, *MK_MIDS, MK_FILLS)
