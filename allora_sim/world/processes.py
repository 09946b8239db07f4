"""Ground-truth processes a topic predicts: every function draws whole paths at once.

Each returns ``(T, E)`` arrays for ``T`` topics and ``E`` epochs from the generator it is given, so
a model's world depends only on its own seed. Draws are made epoch by epoch (epoch-major), so the
first ``E`` epochs of a longer path are the path of ``E`` epochs: a longer run extends a shorter
one.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "gbm_log_returns",
    "prices_from_log_returns",
    "regime_path",
    "standard_normals",
    "uniform_contexts",
]


def gbm_log_returns(
    drift: float, volatility: float, shape: tuple[int, int], rng: np.random.Generator
) -> np.ndarray:
    """Per-epoch log-returns of a geometric Brownian motion with drift ``μ`` and volatility ``σ``
    per epoch: ``r = (μ − σ²/2) + σ·Z`` (Itô), so ``E[price growth] = e^μ`` per epoch."""
    return (drift - 0.5 * volatility**2) + volatility * standard_normals(shape, rng)


def standard_normals(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Standard normal ``(T, E)`` draws, epoch-major."""
    return _epoch_major(rng.standard_normal, shape)


def _epoch_major(draw, shape: tuple[int, int], **kw) -> np.ndarray:  # type: ignore[no-untyped-def]
    """``draw`` of a ``(T, E)`` array filled epoch after epoch."""
    return draw(size=(shape[1], shape[0]), **kw).T


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
    regime = np.empty(shape, dtype=np.int64)
    regime[:, 0] = rng.integers(n_regimes, size=n_topics)
    # each epoch's leave and hop draws side by side: (E, 2T), epoch-major
    u = _epoch_major(rng.random, (2 * n_topics, n_epochs))
    leave = u[:n_topics] < 1.0 / mean_dwell
    hop = 1 + np.minimum((u[n_topics:] * (max(n_regimes, 2) - 1)).astype(np.int64), n_regimes - 2)
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
    return _epoch_major(rng.integers, shape, low=0, high=n_contexts)
