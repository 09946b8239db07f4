"""Ground-truth processes a topic predicts: every function draws whole paths at once.

Each returns ``(T, E)`` arrays for ``T`` topics and ``E`` epochs from the generator it is given, so
a model's world depends only on its own seed.
"""

from __future__ import annotations

import numpy as np

__all__ = ["gbm_log_returns", "prices_from_log_returns", "regime_path", "uniform_contexts"]


def gbm_log_returns(
    drift: float, volatility: float, shape: tuple[int, int], rng: np.random.Generator
) -> np.ndarray:
    """Per-epoch log-returns of a geometric Brownian motion with drift ``μ`` and volatility ``σ``
    per epoch: ``r = (μ − σ²/2) + σ·Z`` (Itô), so ``E[price growth] = e^μ`` per epoch."""
    return (drift - 0.5 * volatility**2) + volatility * rng.standard_normal(shape)


def prices_from_log_returns(start: float, log_returns: np.ndarray) -> np.ndarray:
    """Price at the end of each epoch, starting from ``start``."""
    return start * np.exp(np.cumsum(log_returns, axis=-1))


def regime_path(
    n_regimes: int, mean_dwell: float, shape: tuple[int, int], rng: np.random.Generator
) -> np.ndarray:
    """A Markov chain over ``n_regimes`` regimes: each epoch the regime is left with probability
    ``1/mean_dwell`` (so a regime lasts ``mean_dwell`` epochs on average) for one of the others,
    uniformly. The first epoch's regime is uniform."""
    n_topics, n_epochs = shape
    leave = rng.random(shape) < 1.0 / mean_dwell
    hop = rng.integers(1, max(n_regimes, 2), size=shape)
    regime = np.empty(shape, dtype=np.int64)
    regime[:, 0] = rng.integers(n_regimes, size=n_topics)
    for e in range(1, n_epochs):  # over epochs, vectorised over topics
        regime[:, e] = np.where(
            leave[:, e], (regime[:, e - 1] + hop[:, e]) % n_regimes, regime[:, e - 1]
        )
    return regime


def uniform_contexts(
    n_contexts: int, shape: tuple[int, int], rng: np.random.Generator
) -> np.ndarray:
    """An observable context drawn uniformly each epoch (research target T26: which inferer is the
    epoch's outperformer); all zeros when ``n_contexts`` is 0."""
    if n_contexts <= 0:
        return np.zeros(shape, dtype=np.int64)
    return rng.integers(n_contexts, size=shape)
