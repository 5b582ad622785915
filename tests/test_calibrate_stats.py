"""hlmm.calibration.stats: interval coverage on synthetic data with a known mean, and the helpers."""
from __future__ import annotations

import math

import numpy as np
import pytest

from hlmm.calibration import stats

TRUE_EDGE = -5e-4


def _clustered(k: int, m: int, rng: np.random.Generator):
    """k clusters of m fills; a shared shock per cluster and fat-tailed noise; the ratio of sums has mean TRUE_EDGE."""
    cl = np.repeat(np.arange(k), m)
    notional = rng.lognormal(6, 1, k * m)
    shock = rng.normal(0, 8e-4, k)[cl]
    noise = rng.standard_t(3, k * m) * 1e-3
    return notional * (TRUE_EDGE + shock + noise), notional, cl


@pytest.mark.parametrize("method,k,lo,hi", [
    ("t", 6, 0.90, 0.99),
    ("t", 30, 0.91, 0.99),
    ("t", 200, 0.91, 0.99),
    ("bootstrap", 30, 0.90, 0.99),
    ("bootstrap", 200, 0.91, 0.99),
])
def test_interval_covers_the_known_mean_at_the_nominal_rate(method, k, lo, hi):
    rng = np.random.default_rng(7)
    reps = 300
    hits = 0
    for r in range(reps):
        p, n, cl = _clustered(k, 20, rng)
        e = stats.ratio_ci(p, n, cl, method=method, n_boot=600, seed=r, confidence=0.95)
        hits += e.low <= TRUE_EDGE <= e.high
    assert lo <= hits / reps <= hi


def test_treating_clustered_fills_as_independent_would_be_far_too_confident():
    """The reason intervals resample hour blocks: per-fill intervals miss the truth most of the time."""
    rng = np.random.default_rng(3)
    reps, hits_fill, hits_cluster = 200, 0, 0
    for r in range(reps):
        p, n, cl = _clustered(20, 50, rng)
        per_fill = stats.ratio_ci(p, n, np.arange(len(p)), method="t")
        per_cluster = stats.ratio_ci(p, n, cl, method="t")
        hits_fill += per_fill.low <= TRUE_EDGE <= per_fill.high
        hits_cluster += per_cluster.low <= TRUE_EDGE <= per_cluster.high
    assert hits_fill / reps < 0.75 < 0.9 < hits_cluster / reps


def test_bootstrap_is_reproducible_and_seeded():
    rng = np.random.default_rng(1)
    p, n, cl = _clustered(15, 10, rng)
    a = stats.ratio_ci(p, n, cl, method="bootstrap", seed=5, tag="x")
    b = stats.ratio_ci(p, n, cl, method="bootstrap", seed=5, tag="x")
    c = stats.ratio_ci(p, n, cl, method="bootstrap", seed=6, tag="x")
    assert (a.low, a.high) == (b.low, b.high)
    assert (a.low, a.high) != (c.low, c.high)
    assert a.value == pytest.approx(p.sum() / n.sum())


def test_one_cluster_has_no_interval():
    e = stats.ratio_ci(np.array([1.0, 2.0]), np.array([1.0, 1.0]), np.array([5, 5]))
    assert e.value == 1.5 and not e.has_interval and e.method == "none" and e.clusters == 1
    empty = stats.ratio_ci(np.array([]), np.array([]), np.array([]))
    assert empty.n == 0 and math.isnan(empty.value)


def test_grouped_equals_one_by_one():
    rng = np.random.default_rng(2)
    p, n, cl = _clustered(40, 10, rng)
    groups = rng.integers(0, 4, len(p))
    grouped = stats.grouped_ratio_ci(p, n, groups, 4, cl, method="t")
    for g in range(4):
        m = groups == g
        single = stats.ratio_ci(p[m], n[m], cl[m], method="t")
        assert grouped[g].value == pytest.approx(single.value)
        assert grouped[g].low == pytest.approx(single.low)
        assert grouped[g].clusters == single.clusters and grouped[g].n == single.n


def test_dense_ids_sorted_fast_path_matches_unique():
    values = np.array([3, 3, 5, 9, 9, 9, 12])
    assert stats.dense_ids(values).tolist() == [0, 0, 1, 2, 2, 2, 3]
    shuffled = np.array([9, 3, 12, 3, 5])
    assert stats.dense_ids(shuffled).tolist() == np.unique(shuffled, return_inverse=True)[1].tolist()


def test_difference_detects_a_worse_group_and_not_an_equal_one():
    rng = np.random.default_rng(4)
    k = 60
    cl = np.repeat(np.arange(k), 30)
    n = rng.lognormal(6, 0.5, len(cl))
    in_a = cl < 20
    worse = n * (np.where(in_a, -10e-4, 0.0) + rng.normal(0, 5e-4, k)[cl] + rng.normal(0, 1e-3, len(cl)))
    d = stats.difference_ci(worse, n, cl, in_a, method="t")
    assert d.high < 0 and d.value == pytest.approx(-10e-4, abs=4e-4)
    same = n * (rng.normal(0, 5e-4, k)[cl] + rng.normal(0, 1e-3, len(cl)))
    d2 = stats.difference_ci(same, n, cl, in_a, method="bootstrap", n_boot=800)
    assert d2.low < 0 < d2.high


def test_wilson_and_degenerate_shares():
    lo, hi = stats.wilson(0, 10)
    assert lo == 0.0 and 0.2 < hi < 0.35
    all_hits = stats.proportion_ci(np.ones(40, bool), np.repeat(np.arange(8), 5))
    assert all_hits.value == 1.0 and all_hits.method == "wilson" and all_hits.low < 1.0 == all_hits.high
    mixed = stats.proportion_ci(np.array([1, 0] * 20, bool), np.repeat(np.arange(8), 5))
    assert 0 <= mixed.low < 0.5 < mixed.high <= 1


def test_estimate_scaling_and_dict():
    e = stats.Estimate(0.1, 0.05, 0.2, 10, 5, "t", 0.95)
    assert e.scaled(-2).low == -0.4 and e.scaled(-2).high == -0.1
    assert e.to_dict()["value"] == 0.1
    assert stats.Estimate(math.nan, math.nan, math.nan, 0, 0, "none", 0.95).to_dict()["value"] is None


def test_bad_arguments():
    with pytest.raises(ValueError):
        stats.ratio_from_totals(np.ones(3), np.ones(3), n=3, method="magic")
    with pytest.raises(ValueError):
        stats.ratio_from_totals(np.ones(3), np.ones(3), n=3, confidence=1.5)
