"""Network losses: the stake-weighted mean of the reputers' reported log-losses (§3.1).

Mirrors ``CalcNetworkLosses`` (``x/emissions/keeper/inference_synthesis/network_losses.go``) and
the bundle filtering of ``CloseReputerNonce`` / ``FilterUnacceptedWorkersFromReputerValueBundle``
(``x/emissions/keeper/actor_utils/losses.go``).
"""

from __future__ import annotations

import numpy as np

from allora_sim.core.bundle import ValueBundle
from allora_sim.core.maths import Array, Mask

__all__ = ["accepted_reports", "network_losses"]


def accepted_reports(
    reports: ValueBundle,
    reputer_accepted: Mask,
    inferer_present: Mask,
    forecaster_present: Mask,
) -> ValueBundle:
    """The reputer bundles the chain keeps at nonce close (§3.1; ``CloseReputerNonce``).

    Reputers not accepted (absent, or stake below ``RequiredMinimumStake``) are dropped whole;
    entries for workers not accepted at the nonce are dropped; a reputer's one-out inferer values
    are dropped when its bundle has at most one accepted inferer value. Dropped = NaN.

    Shapes: reports fields ``(B, M, ...)``, ``reputer_accepted (B, M)``, ``inferer_present
    (B, N)``, ``forecaster_present (B, K)`` (forecasters with a forecast at the nonce).
    """
    rep = reputer_accepted

    def keep(x: Array, mask: Mask) -> Array:
        return np.where(mask, x, np.nan)

    inf_mask = rep[..., None] & inferer_present[:, None, :]
    fc_mask = rep[..., None] & forecaster_present[:, None, :]
    inferer = keep(reports.inferer, inf_mask)
    many_inferers = (np.isfinite(inferer).sum(axis=-1) > 1)[..., None]
    return ValueBundle(
        combined=keep(reports.combined, rep),
        naive=keep(reports.naive, rep),
        inferer=inferer,
        forecaster=keep(reports.forecaster, fc_mask),
        oneout_inferer=keep(reports.oneout_inferer, inf_mask & many_inferers),
        oneout_forecaster=keep(reports.oneout_forecaster, fc_mask),
        onein_forecaster=keep(reports.onein_forecaster, fc_mask),
        oneout_inferer_forecaster=keep(
            reports.oneout_inferer_forecaster, fc_mask[..., None] & inf_mask[..., None, :]
        ),
    )


def _stake_weighted(losses: Array, stake: Array) -> Array:
    """Σ_m S_m·L_m / Σ_m S_m over the reputers that reported, one final division (§3.1).

    ``losses (B, M, ...)``, ``stake (B, M)``; NaN where no reputer with stake reported."""
    reported = np.isfinite(losses)
    s = stake.reshape(stake.shape + (1,) * (losses.ndim - 2))
    num = np.where(reported, losses * s, 0.0).sum(axis=1)
    den = np.where(reported, s, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den != 0.0, num / den, np.nan)


def network_losses(reports: ValueBundle, stake: Array) -> tuple[ValueBundle, Mask]:
    """Stake-weighted network losses of every entry (``CalcNetworkLosses``, §3.1).

    ``reports`` are the accepted bundles (:func:`accepted_reports`), ``stake (B, M)`` the
    reputers' stake (reputer authority, token units). Returns the network-loss bundle and, per
    topic, whether it exists: zero total stake on the combined or naive entry is an error on
    chain (no bundle, no regret update, no rewards for the nonce).

    As in the chain, the one-out/one-in families keep only workers that also have a plain
    inferer (forecaster) loss: they are read back by the sorted keys of those maps.
    """
    out = reports.map(lambda x: _stake_weighted(x, stake))
    has_inf = np.isfinite(out.inferer)
    has_fc = np.isfinite(out.forecaster)
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
    return out, ok
