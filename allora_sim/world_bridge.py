"""From a world config to the arrays the model needs (target, context, scale, loss function)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from allora_sim.config import WorldConfig, WorldKind

__all__ = ["WorldPaths", "simulate_world"]


@dataclass(frozen=True)
class WorldPaths:
    """Pre-simulated ground truth of every topic.

    ``truth (T, E)`` the epochs' targets, ``context (T, E)`` the observable context (regime) in
    ``[0, n_contexts)``, ``scale (T,)`` the target's typical size (skills are stated in units of
    it) and ``loss(prediction, truth)`` the topic's log10 loss.
    """

    truth: np.ndarray
    context: np.ndarray
    n_contexts: int
    scale: np.ndarray
    loss: Callable[[np.ndarray, np.ndarray], np.ndarray]


def _log10_squared_error(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    return np.log10(np.maximum((pred - truth) ** 2, 1e-30))


def simulate_world(
    cfg: WorldConfig, n_topics: int, n_epochs: int, rng: np.random.Generator
) -> WorldPaths:
    """Simulate every topic's path with ``rng`` (TEMPORARY inline processes)."""
    if cfg.kind == WorldKind.regime:
        k = len(cfg.regime_means)
        stay = 1.0 - 1.0 / cfg.mean_dwell
        ctx = np.zeros((n_topics, n_epochs), dtype=np.int64)
        ctx[:, 0] = rng.integers(k, size=n_topics)
        for e in range(1, n_epochs):
            switch = rng.random(n_topics) > stay
            jump = (ctx[:, e - 1] + rng.integers(1, k, size=n_topics)) % k
            ctx[:, e] = np.where(switch, jump, ctx[:, e - 1])
        means = np.asarray(cfg.regime_means)[ctx]
        vols = np.asarray(cfg.regime_volatilities)[ctx]
        truth = means + vols * rng.normal(size=(n_topics, n_epochs))
        scale = np.full(n_topics, float(np.mean(cfg.regime_volatilities)))
        return WorldPaths(truth, ctx, k, scale, _log10_squared_error)
    truth = cfg.drift + cfg.volatility * rng.normal(size=(n_topics, n_epochs))
    n_ctx = cfg.n_contexts
    ctx = (
        rng.integers(n_ctx, size=(n_topics, n_epochs))
        if n_ctx > 0
        else np.zeros((n_topics, n_epochs), dtype=np.int64)
    )
    return WorldPaths(truth, ctx, n_ctx, np.full(n_topics, cfg.volatility), _log10_squared_error)
