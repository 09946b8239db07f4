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
target's typical per-epoch surprise, the unit in which behaviours state their skill and the
``std`` of the ``zptae`` loss: the σ of the log-returns (the regimes' stationary σ for
``regime``), the start price × σ for a price target, and for ``csv`` the σ of the whole file's
returns or price changes — never of the simulated epochs only, so that it does not depend on
the run's length. The loss
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
    standard_normals,
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


def _surprise(target: str, series: np.ndarray) -> float:
    """σ of a series' per-epoch change (price) or of the series itself (log-returns)."""
    x = np.diff(series) if target == "price" else series
    s = float(np.std(x, ddof=1)) if x.size >= 2 else 0.0
    return s if s > 0 else 1.0


def simulate_world(
    cfg: WorldConfig, n_topics: int, n_epochs: int, rng: np.random.Generator
) -> WorldPaths:
    """Every topic's path for ``n_epochs`` epochs, drawn with ``rng`` only.

    The path and the scale do not depend on ``n_epochs`` beyond its length (the draws go epoch
    by epoch, in separate streams for the target and the context, and the scale is a property
    of the process or of the whole series file): a longer run extends a shorter one.
    """
    kind, target = cfg.kind.value, cfg.target.value
    shape = (n_topics, n_epochs)
    target_rng, context_rng = rng.spawn(2)
    if kind == "csv":
        whole = csv_target(
            load_series(cfg.csv_path, cfg.time_column, cfg.value_column),
            target,
            cfg.csv_path,
            cfg.value_column,
        )
        if whole.size < n_epochs:
            raise SeriesError(
                f"{cfg.csv_path}: gives {whole.size} epochs of {target}; {n_epochs} are needed"
            )
        truth = np.broadcast_to(whole[:n_epochs], shape).copy()
        context = uniform_contexts(cfg.n_contexts, shape, context_rng)
        scale = np.full(n_topics, _surprise(target, whole))
        return WorldPaths(truth, context, cfg.n_contexts, scale, log10_loss(cfg.loss.value, scale))
    if kind == "regime":
        n_regimes = len(cfg.regime_means)
        context = regime_path(n_regimes, cfg.mean_dwell, shape, context_rng)
        vol = np.asarray(cfg.regime_volatilities, dtype=float)
        mean = np.asarray(cfg.regime_means, dtype=float)
        returns = mean[context] + vol[context] * standard_normals(shape, target_rng)
        # the stationary σ of the returns: every regime is equally likely in the long run
        n_contexts, sigma = n_regimes, float(np.sqrt(np.mean(vol**2) + np.var(mean)))
    else:
        returns = gbm_log_returns(cfg.drift, cfg.volatility, shape, target_rng)
        context = uniform_contexts(cfg.n_contexts, shape, context_rng)
        n_contexts, sigma = cfg.n_contexts, cfg.volatility
    if target == "price":
        with np.errstate(over="ignore"):
            truth = prices_from_log_returns(cfg.start_price, returns)
        if not np.isfinite(truth).all():
            raise ValueError(
                f"world: the price path leaves float64's range (world.start_price="
                f"{cfg.start_price:g}, world.drift={cfg.drift:g} over {n_epochs} epochs)"
            )
        sigma = cfg.start_price * sigma  # the first epochs' σ of the price change
    else:
        truth = returns
    scale = np.full(n_topics, sigma)
    return WorldPaths(truth, context, n_contexts, scale, log10_loss(cfg.loss.value, scale))
