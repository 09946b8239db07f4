"""Regret updates and the topic initial regret (§3.2–§3.3).

Mirrors ``GetCalcSetNetworkRegrets`` and ``CalcTopicInitialRegret``
(``x/emissions/keeper/inference_synthesis/network_regrets.go``).
"""

from __future__ import annotations

import numpy as np

from allora_sim.core.bundle import ValueBundle
from allora_sim.core.maths import Array, Mask, ema, masked_std, quantile_of_decs
from allora_sim.core.synthesis import RegretStore

__all__ = ["topic_initial_regret", "update_regrets"]


def _ema_regret(
    loss_a: Array, loss_b: Array, previous: Array, update: Mask, alpha: float, initial: Array
) -> Array:
    """``ComputeAndBuildEMRegret``: ``CalcEma(α, L_a − L_b, R_prev, firstTime=false)``, R_prev
    defaulting to the topic's InitialRegret. Entries not in ``update`` keep their value."""
    shape = (initial.shape[0],) + (1,) * (previous.ndim - 1)
    prev = np.where(np.isnan(previous), initial.reshape(shape), previous)
    # losses are finite or NaN: no error state to manage
    new = ema(alpha, loss_a - loss_b, prev, False, finite=True)
    return np.where(update, new, previous)


def update_regrets(
    store: RegretStore, losses: ValueBundle, alpha: float, initial_regret: Array
) -> RegretStore:
    """All nine regret families after a network-loss bundle (``GetCalcSetNetworkRegrets``, §3.2).

    Each family updates exactly the keys the chain's loops visit. Where the chain reads a loss
    that is not in the bundle it gets the Go zero value, so a missing one-out inferer-forecaster
    loss or a one-in forecaster without a forecaster loss is read as 0 (§14).
    """
    comb = losses.combined[:, None]
    naive = losses.naive[:, None]
    l_inf, l_fc = losses.inferer, losses.forecaster
    has_inf, has_fc = np.isfinite(l_inf), np.isfinite(l_fc)
    oo_inf, oo_fc, onein = losses.oneout_inferer, losses.oneout_forecaster, losses.onein_forecaster
    has_oo_inf, has_oo_fc, has_onein = np.isfinite(oo_inf), np.isfinite(oo_fc), np.isfinite(onein)
    # OneOutInfererForecasterValues lists a forecaster when it has any one-out entry.
    ooif = losses.oneout_inferer_forecaster  # (B, K, N) [forecaster, withheld inferer]
    ooif_listed = np.isfinite(ooif).any(axis=-1)  # (B, K)
    ooif_read = np.nan_to_num(ooif.transpose(0, 2, 1), nan=0.0)  # (B, N', K), zero if missing
    l_fc_read = np.nan_to_num(l_fc, nan=0.0)
    init = initial_regret

    def pair(a: Mask, b: Mask) -> Mask:
        return a[:, :, None] & b[:, None, :]

    return RegretStore(
        inferer=_ema_regret(comb, l_inf, store.inferer, has_inf, alpha, init),
        forecaster=_ema_regret(comb, l_fc, store.forecaster, has_fc, alpha, init),
        naive_inferer=_ema_regret(naive, l_inf, store.naive_inferer, has_inf, alpha, init),
        oneout_inferer_inferer=_ema_regret(
            oo_inf[:, :, None],
            l_inf[:, None, :],
            store.oneout_inferer_inferer,
            pair(has_oo_inf, has_inf),
            alpha,
            init,
        ),
        oneout_inferer_forecaster=_ema_regret(
            oo_inf[:, :, None],
            ooif_read,
            store.oneout_inferer_forecaster,
            pair(has_oo_inf, ooif_listed),
            alpha,
            init,
        ),
        oneout_forecaster_inferer=_ema_regret(
            oo_fc[:, :, None],
            l_inf[:, None, :],
            store.oneout_forecaster_inferer,
            pair(has_oo_fc, has_inf),
            alpha,
            init,
        ),
        oneout_forecaster_forecaster=_ema_regret(
            oo_fc[:, :, None],
            l_fc[:, None, :],
            store.oneout_forecaster_forecaster,
            pair(has_oo_fc, has_fc),
            alpha,
            init,
        ),
        onein_forecaster_inferer=_ema_regret(
            onein[:, :, None],
            l_inf[:, None, :],
            store.onein_forecaster_inferer,
            pair(has_onein, has_inf),
            alpha,
            init,
        ),
        onein_forecaster_self=_ema_regret(
            onein, l_fc_read, store.onein_forecaster_self, has_onein, alpha, init
        ),
    )


def topic_initial_regret(
    regrets: Array,
    member: Mask,
    epsilon: float,
    p_norm: float,
    c_norm: float,
    quantile: float,
    p_norm_safe_div: float,
) -> Array:
    """``CalcTopicInitialRegret`` (§3.3): ``Q_q(X) + (c − PNormSafeDiv/p)·(σ(X) + ε)``.

    ``regrets (B, n)`` with ``member`` marking the experienced workers' new network regrets X.
    """
    sd = masked_std(regrets, member)
    offset = c_norm - p_norm_safe_div / p_norm
    return quantile_of_decs(regrets, member, quantile) + offset * (sd + epsilon)


def experienced(had_regret: Mask, inclusions: np.ndarray, alpha: float) -> Mask:
    """``isExperiencedActor``: a stored regret before this update and ``inclusions ≥ 1/α``."""
    return had_regret & (inclusions >= 1.0 / alpha)
