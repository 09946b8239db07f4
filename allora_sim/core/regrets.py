"""Regret updates and the topic initial regret (§3.2–§3.3).

Mirrors ``GetCalcSetNetworkRegrets`` and ``CalcTopicInitialRegret``
(``x/emissions/keeper/inference_synthesis/network_regrets.go``).
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np

from allora_sim.core.bundle import ValueBundle
from allora_sim.core.maths import Array, Mask, ema, masked_std, nan_to_zero, quantile_of_decs
from allora_sim.core.synthesis import RegretStore

__all__ = ["topic_initial_regret", "update_regrets"]


def update_regrets(
    store: RegretStore,
    losses: ValueBundle,
    alpha: float,
    initial_regret: Array,
    ooif_listed: Mask,
) -> RegretStore:
    """All nine regret families after a network-loss bundle (``GetCalcSetNetworkRegrets``, §3.2).

    Each family updates exactly the keys the chain's loops visit, by ``ComputeAndBuildEMRegret``:
    ``CalcEma(α, L_a − L_b, R_prev, firstTime=false)`` with ``R_prev`` defaulting to the topic's
    InitialRegret; entries not visited keep their value. Where the chain reads a loss that is not
    in the bundle it gets the Go zero value, so a missing one-out inferer-forecaster loss or a
    one-in forecaster without a forecaster loss is read as 0 (§14). ``ooif_listed (B, K)``: the
    forecasters listed in ``OneOutInfererForecasterValues`` (:func:`losses.network_losses`).

    The nine families are laid side by side in one ``(B, Σ sizes)`` array so that the blend runs
    once; the returned families are views of it.
    """
    comb = losses.combined[:, None]
    naive = losses.naive[:, None]
    l_inf, l_fc = losses.inferer, losses.forecaster
    has_inf, has_fc = np.isfinite(l_inf), np.isfinite(l_fc)
    oo_inf, oo_fc, onein = losses.oneout_inferer, losses.oneout_forecaster, losses.onein_forecaster
    has_oo_inf, has_oo_fc, has_onein = np.isfinite(oo_inf), np.isfinite(oo_fc), np.isfinite(onein)
    ooif = losses.oneout_inferer_forecaster  # (B, K, N) [forecaster, withheld inferer]
    ooif_read = nan_to_zero(ooif.transpose(0, 2, 1))  # (B, N', K), zero if missing
    l_fc_read = nan_to_zero(l_fc)
    # per family: (L_a, L_b, visited as (mask) or (row mask, column mask)), in RegretStore order
    col, row = (slice(None), None), (slice(None), slice(None), None)
    families = (
        (comb, l_inf, (has_inf,)),
        (comb, l_fc, (has_fc,)),
        (naive, l_inf, (has_inf,)),
        (oo_inf[row], l_inf[col], (has_oo_inf, has_inf)),
        (oo_inf[row], ooif_read, (has_oo_inf, ooif_listed)),
        (oo_fc[row], l_inf[col], (has_oo_fc, has_inf)),
        (oo_fc[row], l_fc[col], (has_oo_fc, has_fc)),
        (onein[row], l_inf[col], (has_onein, has_inf)),
        (onein, l_fc_read, (has_onein,)),
    )
    previous = [getattr(store, f.name) for f in fields(RegretStore)]
    b = initial_regret.shape[0]
    sizes = [p.size // b if b else 0 for p in previous]
    ends = np.cumsum(sizes).tolist()
    total = ends[-1]
    current = np.empty((b, total))
    prev = np.empty((b, total))
    visit = np.empty((b, total), dtype=bool)

    def view(flat: Array, i: int) -> Array:
        return flat[:, ends[i] - sizes[i] : ends[i]].reshape(previous[i].shape)

    # every key visited (every loss present, every listed forecaster): the common case
    everywhere = all(bool(mask.all()) for _, _, visited in families for mask in visited)
    for i, (loss_a, loss_b, visited) in enumerate(families):
        np.subtract(loss_a, loss_b, out=view(current, i))
        view(prev, i)[...] = previous[i]
        if everywhere:
            continue
        if len(visited) == 1:
            view(visit, i)[...] = visited[0]
        else:
            np.logical_and(visited[0][:, :, None], visited[1][:, None, :], out=view(visit, i))
    unset = np.isnan(prev)
    if unset.any():
        filled = np.where(unset, initial_regret[:, None], prev)
    else:  # every regret stored (the steady state): blended in place when all are visited
        filled = prev if everywhere else prev.copy()
    # losses are finite or NaN: no error state to manage
    filled = ema(alpha, current, filled, False, finite=True, overwrite=True)
    if not everywhere:
        np.copyto(prev, filled, where=visit)
        filled = prev
    return RegretStore(*(view(filled, i) for i in range(len(previous))))


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
