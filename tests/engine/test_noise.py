"""The bulk single-precision normals (``allora_sim.agents.noise``) against scipy's Φ⁻¹ and as a
sample: right quantiles everywhere, right distribution, reproducible from the seed."""

from __future__ import annotations

import numpy as np
from scipy import stats
from scipy.special import ndtri

from allora_sim.agents.noise import normal_quantile32, standard_normal32


def test_quantiles_match_scipy_at_every_reachable_uniform() -> None:
    # every value the 23-bit uniforms can take, both tails included
    p = ((np.arange(2**23) + 0.5) * 2.0**-23).astype(np.float32)
    z = normal_quantile32(p)
    ref = ndtri(p.astype(np.float64))
    assert (np.abs(z - ref) <= 4e-7 * np.abs(ref) + 1e-7).all()
    np.testing.assert_array_equal(z, -z[::-1])  # symmetric: 1 − p is exact
    assert np.isfinite(z).all() and np.abs(z).max() < 5.4


def test_draws_are_standard_normal_and_reproducible() -> None:
    x = standard_normal32(np.random.default_rng(7), (400, 2_501))
    assert x.shape == (400, 2_501) and x.dtype == np.float32
    y = x.astype(np.float64).ravel()
    n = y.size
    assert abs(y.mean()) < 5 / np.sqrt(n)
    assert abs(y.var() - 1.0) < 5 * np.sqrt(2 / n)
    assert abs(stats.kurtosis(y)) < 5 * np.sqrt(24 / n)
    assert stats.kstest(y, "norm").pvalue > 1e-3
    np.testing.assert_array_equal(x, standard_normal32(np.random.default_rng(7), (400, 2_501)))
    assert not np.array_equal(x, standard_normal32(np.random.default_rng(8), (400, 2_501)))
