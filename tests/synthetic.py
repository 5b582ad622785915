"""Synthetic market data with known parameters, for the estimator tests (numpy, fixed seeds).

Every generator takes a ``seed`` and returns plain numpy arrays; timestamps are int64 exchange
milliseconds, prices floats, distances in bps of mid. Nothing here touches hlmm: the tests
compare hlmm's estimators against the parameters these functions were given.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def sample_times_ms(n: int, mean_dt_ms: float, rng: np.random.Generator, irregular: bool) -> np.ndarray:
    """n strictly increasing int64 ms timestamps starting at 1_700_000_000_000.

    Irregular spacing draws exponential gaps (at least 1 ms) with mean ``mean_dt_ms``.
    """
    if irregular:
        gaps = np.maximum(1, np.round(rng.exponential(mean_dt_ms, n))).astype(np.int64)
    else:
        gaps = np.full(n, int(mean_dt_ms), dtype=np.int64)
    gaps[0] = 0
    return 1_700_000_000_000 + np.cumsum(gaps)


def gbm(n: int, sigma: float, mean_dt_ms: float = 100.0, s0: float = 100.0, seed: int = 0,
        irregular: bool = True, jump_prob: float = 0.0, jump_sigmas: float = 0.0,
        sigma_path: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Geometric Brownian motion sampled at (ir)regular times, optional jumps.

    ``sigma`` is per sqrt(second) in log-return units (``sigma_path`` overrides it per return).
    A jump happens on a return with probability ``jump_prob`` and has size
    ``+-jump_sigmas * sigma * sqrt(dt)`` (random sign), added on top of the diffusion.
    Returns (t_ms int64, price float64); the first price is ``s0``.
    """
    rng = np.random.default_rng(seed)
    t = sample_times_ms(n, mean_dt_ms, rng, irregular)
    dt_s = np.diff(t) / 1000.0
    sig = np.full(n - 1, sigma) if sigma_path is None else np.asarray(sigma_path, float)[1:]
    r = sig * np.sqrt(dt_s) * rng.standard_normal(n - 1) - 0.5 * sig**2 * dt_s
    if jump_prob > 0:
        jumps = rng.random(n - 1) < jump_prob
        signs = rng.choice([-1.0, 1.0], n - 1)
        r = r + jumps * signs * jump_sigmas * sig * np.sqrt(dt_s)
    logp = np.log(s0) + np.concatenate([[0.0], np.cumsum(r)])
    return t, np.exp(logp)


@dataclass
class TradePrints:
    """Trade prints around a mid: aggressor side (+1 buy, -1 sell), price, distance from mid in bps."""

    t_ms: np.ndarray
    side: np.ndarray
    price: np.ndarray
    mid: np.ndarray
    size: np.ndarray
    distance_bps: np.ndarray


def exponential_trades(rate_per_s: float, kappa_per_bps: float, duration_s: float, mid: float = 2000.0,
                       delta0_bps: float = 0.0, seed: int = 0) -> TradePrints:
    """Poisson(rate) trade arrivals whose distance from mid is delta0 + Exp(kappa) bps.

    Buys print above the mid, sells below; sides are equally likely. With these prints the
    intensity of prints at distance >= d (either side) is ``rate * exp(-kappa * (d - delta0))``.
    """
    rng = np.random.default_rng(seed)
    n = rng.poisson(rate_per_s * duration_s)
    t_s = np.sort(rng.uniform(0.0, duration_s, n))
    t_ms = 1_700_000_000_000 + np.floor(t_s * 1000.0).astype(np.int64)
    side = rng.choice(np.array([-1, 1], dtype=np.int64), n)
    dist = delta0_bps + rng.exponential(1.0 / kappa_per_bps, n)
    price = mid * (1.0 + side * dist * 1e-4)
    size = rng.lognormal(0.0, 1.0, n)
    return TradePrints(t_ms, side, price, np.full(n, mid), size, dist)


def hawkes_times(mu: float, alpha: float, beta: float, horizon_s: float, seed: int = 0) -> np.ndarray:
    """Event times (seconds) of a Hawkes process with intensity mu + sum alpha*exp(-beta*(t-t_i)).

    Ogata thinning: between events the intensity only decays, so its current value bounds it.
    """
    if alpha >= beta:
        raise ValueError("alpha/beta must be < 1 for a stationary process")
    rng = np.random.default_rng(seed)
    times = []
    t = 0.0
    excite = 0.0  # sum alpha*exp(-beta*(t - t_i)) at time t
    while True:
        lam_bar = mu + excite
        w = rng.exponential(1.0 / lam_bar)
        excite *= np.exp(-beta * w)
        t += w
        if t >= horizon_s:
            break
        if rng.random() * lam_bar <= mu + excite:
            times.append(t)
            excite += alpha
    return np.asarray(times)


def microprice_series(n: int, beta_book_bps: float, beta_flow_bps: float, noise_bps: float,
                      dt_ms: int = 1000, mid0: float = 100.0, seed: int = 0
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mids whose next-step return (bps) is beta_book*book_imb + beta_flow*flow_imb + noise.

    Features are correlated (flow partly follows the book) and lie in [-1, 1]. Returns
    (t_ms, mid, book_imbalance, flow_imbalance), one row every ``dt_ms``.
    """
    rng = np.random.default_rng(seed)
    book = np.clip(rng.normal(0.0, 0.45, n), -1.0, 1.0)
    flow = np.clip(0.4 * book + rng.normal(0.0, 0.4, n), -1.0, 1.0)
    ret_bps = beta_book_bps * book + beta_flow_bps * flow + noise_bps * rng.standard_normal(n)
    mid = mid0 * np.exp(np.concatenate([[0.0], np.cumsum(ret_bps[:-1] * 1e-4)]))
    t = 1_700_000_000_000 + np.arange(n, dtype=np.int64) * dt_ms
    return t, mid, book, flow


def logistic_samples(weights: np.ndarray, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Features (first column 1, the rest uniform in [-1, 1]) and 0/1 labels from a logistic model."""
    rng = np.random.default_rng(seed)
    k = len(weights)
    x = np.empty((n, k))
    x[:, 0] = 1.0
    x[:, 1:] = rng.uniform(-1.0, 1.0, (n, k - 1))
    p = 1.0 / (1.0 + np.exp(-(x @ weights)))
    y = (rng.random(n) < p).astype(np.int64)
    return x, y


@dataclass
class MarkoutSample:
    """Fills at known depths with adverse moves from an informed share alpha(d) = a_touch*exp(-d/d_char)."""

    depth_bps: np.ndarray
    side: np.ndarray
    informed: np.ndarray
    move_bps: np.ndarray   # signed mid move at the horizon, in the fill's favour (+) or against it (-)


def depth_decay_markouts(n: int, alpha_touch: float, delta_char_bps: float, jump_bps: float,
                         noise_bps: float, max_depth_bps: float = 30.0, seed: int = 0) -> MarkoutSample:
    """Fills uniformly spread over depth; informed fills see the mid move ``jump_bps`` against them.

    Expected adverse selection at depth d is ``alpha_touch * jump_bps * exp(-d / delta_char)``,
    i.e. AS0 = alpha_touch * jump_bps.
    """
    rng = np.random.default_rng(seed)
    depth = rng.uniform(0.0, max_depth_bps, n)
    side = rng.choice(np.array([-1, 1], dtype=np.int64), n)
    informed = rng.random(n) < alpha_touch * np.exp(-depth / delta_char_bps)
    move = -jump_bps * informed + noise_bps * rng.standard_normal(n)
    return MarkoutSample(depth, side, informed, move)
