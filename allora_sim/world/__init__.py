"""The world: the ground truth each topic predicts, its observable context and its loss.

``simulate_world(cfg, n_topics, n_epochs, rng)`` draws every topic's whole path up front
(:class:`WorldPaths`), from three kinds of world (``world.kind``):

* ``gbm`` — a geometric Brownian motion price (:func:`~allora_sim.world.processes.gbm_log_returns`)
  with an observable context drawn uniformly each epoch: the default synthetic topic of research
  target T26 (which inferer is the epoch's outperformer depends on the context);
* ``regime`` — log-returns whose mean and volatility switch between regimes (a Markov chain with
  mean dwell ``mean_dwell`` epochs); the regime is the observable context, and regime specialists
  and context-aware forecasters exploit it;
* ``csv`` — the user's own series (:func:`~allora_sim.world.series.load_series`), shared by every
  topic, with a uniform context as for ``gbm``.

The target (``world.target``) is the epoch's log-return or the price itself; ``scale`` is the
target's typical per-epoch surprise (σ of the log-returns, or of the price changes), the unit in
which behaviours state their skill and the ``std`` of the ``zptae`` loss. The loss
(``world.loss``: squared error, absolute error or ZPTAE, :mod:`~allora_sim.world.losses`) is
reported in log10 as reputers report it on chain. Ground-truth timing (epoch length and lag in
blocks) lives in the same config and is applied by the model: an epoch's losses are known only
``ceil(ground_truth_lag / epoch_length)`` epochs later.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from allora_sim.world.losses import LOSSES, log10_loss
from allora_sim.world.processes import (
    gbm_log_returns,
    prices_from_log_returns,
    regime_path,
    uniform_contexts,
)
from allora_sim.world.series import SeriesError, load_series, show

if TYPE_CHECKING:
    from allora_sim.config import WorldConfig

__all__ = [
    "LOSSES",
    "SeriesError",
    "WorldPaths",
    "csv_target",
    "load_series",
    "log10_loss",
    "simulate_world",
]


@dataclass(frozen=True)
class WorldPaths:
    """Pre-simulated ground truth of every topic.

    ``truth (T, E)`` the epochs' targets, ``context (T, E)`` the observable context (regime) in
    ``[0, n_contexts)``, ``scale (T,)`` the target's typical per-epoch surprise and
    ``loss(prediction, truth)`` the topics' log10 loss (topics on the first axis).
    """

    truth: np.ndarray
    context: np.ndarray
    n_contexts: int
    scale: np.ndarray
    loss: Callable[[np.ndarray, np.ndarray], np.ndarray]


def csv_target(
    values: np.ndarray, target: str, source: str = "series", column: str = "value"
) -> np.ndarray:
    """The per-epoch target of a price series: its log-returns (``len − 1`` epochs; the prices
    must be positive) or the prices themselves."""
    if target == "price":
        return np.asarray(values, dtype=float)
    if np.any(values <= 0):
        i = int(np.flatnonzero(values <= 0)[0])
        raise SeriesError(
            f"{source}: column {column!r} row {i + 2} is {show(values[i])}: log-returns need "
            "positive values (use world.target=price for a series that can be zero or negative)"
        )
    return np.diff(np.log(values))


def _surprise(target: str, truth: np.ndarray) -> np.ndarray:
    """σ of the target's per-epoch change (price) or of the target itself (log-returns)."""
    x = np.diff(truth, axis=1) if target == "price" else truth
    if x.shape[1] < 2:
        return np.ones(truth.shape[0])
    s = np.std(x, axis=1, ddof=1)
    return np.where(s > 0, s, 1.0)


def simulate_world(
    cfg: WorldConfig, n_topics: int, n_epochs: int, rng: np.random.Generator
) -> WorldPaths:
    """Every topic's path for ``n_epochs`` epochs, drawn with ``rng`` only."""
    kind, target = cfg.kind.value, cfg.target.value
    shape = (n_topics, n_epochs)
    if kind == "csv":
        series = csv_target(
            load_series(cfg.csv_path, cfg.time_column, cfg.value_column),
            target,
            cfg.csv_path,
            cfg.value_column,
        )
        if series.size < n_epochs:
            raise SeriesError(
                f"{cfg.csv_path}: gives {series.size} epochs of {target}; {n_epochs} are needed"
            )
        truth = np.broadcast_to(series[:n_epochs], shape).copy()
        context = uniform_contexts(cfg.n_contexts, shape, rng)
        return WorldPaths(
            truth,
            context,
            cfg.n_contexts,
            _surprise(target, truth),
            log10_loss(cfg.loss.value, _surprise(target, truth)),
        )
    if kind == "regime":
        n_regimes = len(cfg.regime_means)
        context = regime_path(n_regimes, cfg.mean_dwell, shape, rng)
        vol = np.asarray(cfg.regime_volatilities, dtype=float)[context]
        returns = np.asarray(cfg.regime_means, dtype=float)[context] + vol * rng.standard_normal(
            shape
        )
        n_contexts, sigma = n_regimes, float(np.mean(cfg.regime_volatilities))
    else:
        returns = gbm_log_returns(cfg.drift, cfg.volatility, shape, rng)
        context = uniform_contexts(cfg.n_contexts, shape, rng)
        n_contexts, sigma = cfg.n_contexts, cfg.volatility
    if target == "price":
        truth = prices_from_log_returns(cfg.start_price, returns)
        scale = _surprise(target, truth)
    else:
        truth, scale = returns, np.full(n_topics, sigma)
    return WorldPaths(truth, context, n_contexts, scale, log10_loss(cfg.loss.value, scale))
