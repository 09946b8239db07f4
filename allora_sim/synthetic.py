"""Synthetic topic-epochs for tests, benchmarks and examples (not a behavioural model).

:func:`random_epoch_inputs` draws one epoch for a batch of topics: a ground truth, inferences
around it, forecasts of each inferer's log-loss, and reputer reports of the log10 squared error of
every network-inference entry (computed with :func:`allora_sim.core.synthesize` from the topic's
current state, exactly the values the reputers would be asked to score), with noise, optional
missing reports and optional under-staked reputers.
"""

from __future__ import annotations

import numpy as np

from allora_sim.core import EpochInputs, MechanismParams, TopicState, ValueBundle, synthesize

__all__ = ["random_epoch_inputs"]


def _log_loss(value: np.ndarray, truth: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.log10((value - truth) ** 2 + 1e-12)


def random_epoch_inputs(
    rng: np.random.Generator,
    state: TopicState,
    params: MechanismParams,
    scale: float = 1.0,
    missing: float = 0.0,
    reputer_noise: float = 0.05,
    stake_range: tuple[float, float] = (1e21, 1e24),
    under_staked: float = 0.0,
    topic_reward: float = 1e22,
) -> EpochInputs:
    """One epoch of submissions for the topics and participant slots of ``state``.

    Args:
        rng: the random generator (the only source of randomness).
        state: current topic state; its slot ids define who takes part (``-1`` = empty slot).
        scale: spread of the truth and the inferences (tests use wide ranges).
        missing: probability that a forecast element or a reputer's entry is missing.
        reputer_noise: standard deviation (dex) of reputers' errors on reported log-losses.
        stake_range: uniform range of reputer stakes (uallo).
        under_staked: probability that a reputer's stake is below ``RequiredMinimumStake``.
        topic_reward: the topic reward E_t (uallo).
    """
    inf_ids, fc_ids, rep_ids = state.inferer_ids, state.forecaster_ids, state.reputer_ids
    b, n = inf_ids.shape
    k, m = fc_ids.shape[1], rep_ids.shape[1]
    truth = rng.normal(0.0, scale, size=b)
    skill = rng.uniform(0.01, 1.0, size=(b, n)) * scale
    inference = truth[:, None] + rng.normal(0.0, 1.0, size=(b, n)) * skill
    inferer_present = inf_ids >= 0
    inference = np.where(inferer_present, inference, np.nan)
    true_loss = _log_loss(inference, truth[:, None])
    forecast = true_loss[:, None, :] + rng.normal(0.0, 0.3, size=(b, k, n))
    drop = rng.random((b, k, n)) < missing
    # The chain keeps at most MaxElementsPerForecast elements per forecast (top inferers by score
    # EMA); here a random subset of that size stands in for the top set.
    limit = params.module.max_elements_per_forecast
    if n > limit:
        rank = np.argsort(rng.random((b, k, n)), axis=-1).argsort(axis=-1)
        drop |= rank >= limit
    forecast = np.where(drop | ~inferer_present[:, None, :], np.nan, forecast)

    element = (fc_ids >= 0)[:, :, None] & inferer_present[:, None, :] & np.isfinite(forecast)
    net = synthesize(
        inference,
        inferer_present,
        forecast,
        element,
        state.regrets,
        state.initial_regret,
        state.network_loss,
        params.topic.epsilon,
        params.topic.p_norm,
        params.module.c_norm,
        params.module.epsilon_safe_div,
    ).values

    def report(values: np.ndarray, can_miss: bool = True) -> np.ndarray:
        t = truth.reshape((b,) + (1,) * (values.ndim - 1))
        exact = _log_loss(values, t)  # (B, ...)
        shape = (b, m, *values.shape[1:])
        noisy = exact[:, None] + rng.normal(0.0, reputer_noise, size=shape)
        gone = (rng.random(shape) < missing) & can_miss
        present = (rep_ids >= 0).reshape((b, m) + (1,) * (values.ndim - 1))
        return np.where(gone | ~present | ~np.isfinite(noisy), np.nan, noisy)

    losses = net.map(report)
    # a payload always carries the combined and naive losses
    losses = ValueBundle(
        combined=report(net.combined, can_miss=False),
        naive=report(net.naive, can_miss=False),
        inferer=losses.inferer,
        forecaster=losses.forecaster,
        oneout_inferer=losses.oneout_inferer,
        oneout_forecaster=losses.oneout_forecaster,
        onein_forecaster=losses.onein_forecaster,
        oneout_inferer_forecaster=losses.oneout_inferer_forecaster,
    )
    lo, hi = stake_range
    stake = np.floor(rng.uniform(lo, hi, size=(b, m)))
    low = rng.random((b, m)) < under_staked
    stake = np.where(low, float(params.module.required_minimum_stake) / 2.0, stake)
    stake = np.where(rep_ids >= 0, stake, 0.0)
    delegated = np.floor(stake * rng.uniform(0.0, 0.5, size=(b, m)))
    return EpochInputs(
        inferer_ids=inf_ids,
        inference=inference,
        forecaster_ids=fc_ids,
        forecast=forecast,
        reputer_ids=rep_ids,
        stake=stake,
        reputer_losses=losses,
        topic_reward=np.full(b, float(topic_reward)),
        delegated_stake=delegated,
    )
