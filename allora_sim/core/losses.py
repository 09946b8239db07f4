"""Network losses: the stake-weighted mean of the reputers' reported log-losses (§3.1).

Mirrors ``CalcNetworkLosses`` (``x/emissions/keeper/inference_synthesis/network_losses.go``) and
the bundle filtering of ``CloseReputerNonce`` / ``FilterUnacceptedWorkersFromReputerValueBundle``
(``x/emissions/keeper/actor_utils/losses.go``).
"""

from __future__ import annotations

import numpy as np

from allora_sim.core.bundle import ValueBundle
from allora_sim.core.maths import Array, Mask

__all__ = ["accepted_reports", "network_losses", "stake_weighted"]


def accepted_reports(
    reports: ValueBundle,
    reputer_accepted: Mask,
    inferer_present: Mask,
    forecaster_present: Mask,
) -> tuple[Array, Mask]:
    """The reputer bundles the chain keeps at nonce close (§3.1; ``CloseReputerNonce``), as the
    flat ``(B, M, E)`` loss matrix of :meth:`ValueBundle.flat` (the consensus works on it):
    ``(losses, reported)`` with ``reported`` marking the entries kept and reported and
    ``losses`` 0 elsewhere (no NaN, so sums and products need no further masking).

    Reputers not accepted (absent, or stake below ``RequiredMinimumStake``) are dropped whole;
    entries for workers not accepted at the nonce are dropped; a reputer's one-out inferer values
    are dropped when its bundle has at most one accepted inferer value. Dropped = NaN.

    Shapes: reports fields ``(B, M, ...)``, ``reputer_accepted (B, M)``, ``inferer_present
    (B, N)``, ``forecaster_present (B, K)`` (forecasters with a forecast at the nonce).
    """
    b, m = reputer_accepted.shape
    n, k = inferer_present.shape[-1], forecaster_present.shape[-1]
    rep = reputer_accepted[..., None]
    inf_mask = rep & inferer_present[:, None, :]
    fc_mask = np.broadcast_to(rep & forecaster_present[:, None, :], (b, m, k))
    many_inferers = (np.isfinite(reports.inferer) & inf_mask).sum(axis=-1) > 1
    keep = np.concatenate(
        [
            np.broadcast_to(rep, (b, m, 2)),
            inf_mask,
            fc_mask,
            (fc_mask[..., None] & inf_mask[..., None, :]).reshape(b, m, k * n),
            inf_mask & many_inferers[..., None],
            fc_mask,
            fc_mask,
        ],
        axis=-1,
    )
    flat = reports.flat()
    keep &= np.isfinite(flat)
    return np.where(keep, flat, 0.0), keep


def stake_weighted(losses: Array, reported: Mask, stake: Array) -> Array:
    """Σ_m S_m·L_m / Σ_m S_m over the reputers that reported, one final division (§3.1).

    ``losses``/``reported (B, M, E)`` as :func:`accepted_reports` returns them, ``stake (B, M)``;
    ``(B, E)``, NaN where no reputer with stake reported.
    """
    num = np.einsum("bme,bm->be", losses, stake)
    den = np.einsum("bme,bm->be", reported, stake)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den != 0.0, num / den, np.nan)


def network_losses(
    losses: Array, reported: Mask, stake: Array, n: int, k: int
) -> tuple[ValueBundle, Mask, Mask]:
    """Stake-weighted network losses of every entry (``CalcNetworkLosses``, §3.1).

    ``losses``/``reported (B, M, E)`` are the accepted bundles as :func:`accepted_reports`
    returns them (``n`` inferer and ``k`` forecaster slots), ``stake (B, M)`` the reputers'
    stake (reputer authority, token units). Returns the network-loss bundle; per topic,
    whether it exists: zero total stake on the combined or naive entry is an error on chain (no
    bundle, no regret update, no rewards for the nonce); and per forecaster ``(B, K)``, whether
    it is listed in the bundle's ``OneOutInfererForecasterValues``.

    As in the chain, the one-out/one-in families keep only workers that also have a plain
    inferer (forecaster) loss: they are read back by the sorted keys of those maps. A
    forecaster with a loss is listed in ``OneOutInfererForecasterValues`` when any reputer
    reported any one-out value for it, even if none of them survives that filter.
    """
    out = ValueBundle.from_flat(stake_weighted(losses, reported, stake), n, k)
    has_inf = np.isfinite(out.inferer)
    has_fc = np.isfinite(out.forecaster)
    listed = has_fc & np.isfinite(out.oneout_inferer_forecaster).any(axis=-1)
    out = ValueBundle(
        combined=out.combined,
        naive=out.naive,
        inferer=out.inferer,
        forecaster=out.forecaster,
        oneout_inferer=np.where(has_inf, out.oneout_inferer, np.nan),
        oneout_forecaster=np.where(has_fc, out.oneout_forecaster, np.nan),
        onein_forecaster=np.where(has_fc, out.onein_forecaster, np.nan),
        oneout_inferer_forecaster=np.where(
            has_fc[..., None] & has_inf[..., None, :], out.oneout_inferer_forecaster, np.nan
        ),
    )
    ok = np.isfinite(out.combined) & np.isfinite(out.naive)
    return out, ok, listed
