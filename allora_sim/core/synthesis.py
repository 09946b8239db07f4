"""Inference synthesis: the network inferences the chain's query returns (`mechanism.md` §2).

All variants the chain computes one by one — combined, naive, one-out per inferer (with the
forecast-implied inferences recomputed without that inferer), one-out per forecaster, one-in per
forecaster — are evaluated together: each variant is a row of membership masks and regrets over
the concatenated inferer + forecaster axis, and one call of :func:`regret_weights` plus one
weighted average does them all. Shapes: ``B`` topics, ``N`` inferer slots, ``K`` forecaster slots.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from allora_sim.core.bundle import ValueBundle
from allora_sim.core.maths import (
    Array,
    Mask,
    expand,
    masked_median,
    masked_std,
    take_last,
)

__all__ = [
    "ERROR_BAR_PERCENTILES",
    "Mode",
    "NetworkInferences",
    "RegretStore",
    "forecast_implied_inferences",
    "regret_weights",
    "synthesize",
    "weighted_percentiles",
]

ERROR_BAR_PERCENTILES = np.array([2.28, 15.87, 50.0, 84.13, 97.72])
_FLOAT_MAX = float(np.finfo(np.float64).max)


@dataclass(frozen=True)
class RegretStore:
    """The topic's nine regret stores (§3.2), NaN where nothing is stored yet.

    ``oneout_inferer_inferer[b, j', j]`` is inferer j's regret in the network without inferer j';
    the other pair stores follow the same (withheld or one-in worker, worker) key order.
    """

    inferer: Array  # (B, N)  R_j
    forecaster: Array  # (B, K)  R_k
    naive_inferer: Array  # (B, N)  R⁻_j
    oneout_inferer_inferer: Array  # (B, N, N)  R⁻_{j'→j}
    oneout_inferer_forecaster: Array  # (B, N, K)  R⁻_{j'→k}
    oneout_forecaster_inferer: Array  # (B, K, N)  R⁻_{k'→j}
    oneout_forecaster_forecaster: Array  # (B, K, K)  R⁻_{k'→k}
    onein_forecaster_inferer: Array  # (B, K, N)  R⁺_{k→j}
    onein_forecaster_self: Array  # (B, K)  R⁺_{k→k}

    @staticmethod
    def empty(b: int, n: int, k: int) -> RegretStore:
        def nan(*shape: int) -> Array:
            return np.full((b, *shape), np.nan)

        return RegretStore(
            nan(n), nan(k), nan(n), nan(n, n), nan(n, k), nan(k, n), nan(k, k), nan(k, n), nan(k)
        )


class Mode:
    """How ``GetNetworkInferences`` answered (``NetworkInferences.mode``)."""

    NONE = 0  # no inference
    SINGLE = 1  # one inference: it is the network inference
    MEDIAN = 2  # no network-loss bundle yet: the median, and a placeholder 0 as naive value
    FULL = 3  # the regret-weighted synthesis


@dataclass(frozen=True)
class NetworkInferences:
    """What ``GetNetworkInferences`` returns, plus the values reputers need to report losses.

    ``values`` holds every entry (NaN where the chain computes none). ``inferer_weight`` /
    ``forecaster_weight`` are the combined inference's regret-informed weights (NaN when the
    chain returns none: single inference or median mode). ``error_bars`` are the weighted
    percentiles :data:`ERROR_BAR_PERCENTILES` (§2.5). ``forecasted_regret[b, k, j]`` is
    ``L_prev − f_kj`` (§2.3). ``mode``: a :class:`Mode` code.

    ``error_bars`` and ``forecasted_regret`` are computed on first access from the inputs kept
    in ``_extras`` (always batched): the query returns them, but nothing downstream of the
    epoch (losses, regrets, rewards) reads them, and a simulation that never looks at them
    should not pay for the sort behind the percentiles on every epoch.
    """

    values: ValueBundle
    inferer_weight: Array  # (B, N)
    forecaster_weight: Array  # (B, K)
    mode: np.ndarray  # (B,) int
    _extras: dict[str, Any] = field(repr=False, compare=False)

    @cached_property
    def error_bars(self) -> Array:
        """``(B, 5)`` weighted percentiles of the combined inference's values (§2.5)."""
        x = self._extras
        values0 = np.concatenate([x["inference"], x["fc_implied"]], axis=-1)
        bars = weighted_percentiles(
            values0, x["weights0"], x["member0"] & np.isfinite(values0), ERROR_BAR_PERCENTILES
        )
        return self._as_fields(np.where(x["full"][:, None], bars, np.nan))

    @cached_property
    def forecasted_regret(self) -> Array:
        """``(B, K, N)`` ``L_prev − f_kj`` for each forecast element once a loss exists (§2.3)."""
        x = self._extras
        return self._as_fields(
            np.where(
                x["has_loss"][:, None, None] & x["element"],
                x["loss_prev"][:, None, None] - x["forecast"],
                np.nan,
            )
        )

    def _as_fields(self, batched: Array) -> Array:
        # ``_extras`` stays batched when an unbatched caller's result drops the batch axis
        return batched if self.mode.ndim else batched[0]


def regret_weights(
    regret: Array,
    member: Mask,
    epsilon: float,
    p_norm: float,
    c_norm: float,
    axis: int = -1,
    finite: bool = False,
) -> Array:
    """Regret-informed weights over the members of one list (``calcWeightsGivenWorkers`` +
    ``CalcWeightFromNormalizedRegret``, §2.1).

    ``regret`` and ``member`` share a shape ``(..., n)``; the last axis (or ``axis``) is the
    concatenated list of inferers and forecasters whose regrets enter σ and the maximum.
    Non-members get weight 0.
    With ``U = c + 6.75/p``, ``A0 = c − 8.25/p``, ``Z = c − 17.25/p`` and ``r̂ = R/(σ + ε)``:
    ``r = min(r̂, U)``, shifted by ``A0 − max r̂`` when ``max r̂ < A0``; ``w = 0`` below ``Z``,
    else ``φ'_{p,c}(r)``.
    """
    if regret.shape[axis] == 0:
        return np.zeros(regret.shape)
    d = masked_std(regret, member, axis, finite) + epsilon
    # ``finite``: every regret is finite (the caller's guarantee) and so is every σ (regrets
    # below ~1e154): r̂ = R/(σ + ε) everywhere; the maximum runs over the members' r̂ with the
    # others pushed below any of them, and the weights of non-members are dropped with
    # ``keep`` (no select over the array). A non-member's r̂ overflowing to +∞ would top the
    # maximum: then (and for an infinite σ) the select below, whose numbers these are.
    finite = finite and bool(np.isfinite(d).all())
    if finite:
        # (C order, as the select's result: the sums over the list axis below then add in the
        # same order, whatever the layout of a broadcast ``regret``)
        r = np.divide(regret, expand(d, axis), order="C")
        outside = ~member
        r_max = expand(np.maximum.reduce(r - outside * _FLOAT_MAX, axis=axis), axis)
        finite = not np.isposinf(r_max).any()
    if not finite:
        # r̂ = R/(σ + ε) with non-members at −∞: they drop out of the maximum and get
        # weight p/(1 + e^∞) = 0 below without a mask.
        r = np.where(member, regret, -np.inf)
        r /= expand(d, axis)
        r_max = expand(np.maximum.reduce(r, axis=axis), axis)
    anchor = c_norm - 8.25 / p_norm
    np.minimum(r, c_norm + 6.75 / p_norm, out=r)
    # (r − max) + A0 in the chain; adding the per-row offset once is the same up to one ulp
    # (a row without members has r_max = −∞, or −FLOAT_MAX/…: its shift is capped so that it
    # stays −∞, or finite)
    r += np.minimum(np.maximum(anchor - r_max, 0.0), _FLOAT_MAX)
    keep = r >= c_norm - 17.25 / p_norm
    if finite:
        keep &= member
    np.subtract(c_norm, r, out=r)
    with np.errstate(over="ignore"):  # rows without members (finite): p·(c − r) → −∞
        r *= p_norm
        np.exp(r, out=r)
    r += 1.0
    np.divide(p_norm, r, out=r)
    r *= keep
    return r


def forecast_implied_inferences(
    inference: Array,
    forecast: Array,
    element: Mask,
    network_loss: Array,
    all_new: Mask,
    epsilon: float,
    p_norm: float,
    c_norm: float,
) -> Array:
    """Forecast-implied inference of every forecaster, with the full inferer list and with each
    inferer withheld (``CalcForecastImpliedInferences`` as called by ``GetCalcNetworkInferenceArgs``
    and ``calcOneOutInfererInference``, §2.3–§2.4).

    Args:
        inference: ``(B, N)`` inferences I_j.
        forecast: ``(B, K, N)`` forecasted losses f_kj.
        element: ``(B, K, N)`` forecast elements whose inferer has an inference.
        network_loss: ``(B,)`` the latest network loss L_prev.
        all_new: ``(B,)`` topic initial regret is exactly 0 (median of the elements' inferences).

    Returns:
        ``(B, 1 + N, K)``: row 0 with the full inferer list, row ``1 + j`` with inferer j
        withheld (σ and the maximum then run over the forecast's other elements). NaN where the
        forecaster has no element or its weight sum is exactly 0 (the chain then drops it).

    A forecast's value changes with the withheld inferer only if that inferer is one of its
    elements, so the work is done on each forecast's compacted element list (at most
    ``MaxElementsPerForecast`` long on chain) and spread back.
    """
    b, k, n = forecast.shape
    if n == 0:
        return np.full((b, 1 + n, k), np.nan)
    before = np.cumsum(element, axis=-1)  # elements up to and including each inferer
    n_elements = before[..., -1]  # (B, K)
    e_max = int(n_elements.max()) if n_elements.size else 0
    if e_max == 0:
        return np.full((b, 1 + n, k), np.nan)
    # each forecast's elements first, then the other inferers, each in inferer order (a stable
    # sort of ~element), from the counts: an element's place is the elements before it, another
    # inferer's is after all elements and the other inferers before it
    j = np.arange(n)
    place = np.where(element, before - 1, n_elements[..., None] + j - before)
    order = np.empty_like(place)
    np.put_along_axis(order, place, np.broadcast_to(j, place.shape), axis=-1)
    order = order[..., :e_max]  # (B, K, E)
    # Element slot axis first, (E, ...): the weights' sums and maximum over a forecast's few
    # elements then add whole rows instead of reducing many short rows.
    valid_bke = take_last(element, order)
    valid = valid_bke.transpose(2, 0, 1)  # (E, B, K)
    # the elements' regrets, 0 in the slots beyond a forecast's elements: all finite
    regret = np.where(valid_bke, take_last(network_loss[:, None, None] - forecast, order), 0.0)
    value = take_last(
        np.broadcast_to(
            np.where(np.isfinite(inference), inference, 0.0)[:, None, :], forecast.shape
        ),
        order,
    ).transpose(2, 0, 1)
    # Context 0: every element; context 1 + s: element slot s withheld.
    kept = np.concatenate([np.ones((e_max, 1), dtype=bool), ~np.eye(e_max, dtype=bool)], axis=1)
    member = valid[:, None] & kept[:, :, None, None]  # (E, 1+E, B, K)
    w = regret_weights(
        np.broadcast_to(regret.transpose(2, 0, 1)[:, None], member.shape),
        member,
        epsilon,
        p_norm,
        c_norm,
        axis=0,
        finite=True,
    )
    # A forecast with a single element gives that element weight 1, whatever the list.
    single = n_elements == 1
    if single.any():
        w = np.where(single & valid[:, None], 1.0, w)
    add = np.add.reduce
    den = add(w, axis=0)
    w *= value[:, None]
    num = add(w, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        compact = np.where(den != 0.0, num / den, np.nan).transpose(1, 0, 2)  # (B, 1+E, K)
    if all_new.any():
        median = masked_median(np.broadcast_to(inference[:, None, :], element.shape), element)
        compact = np.where(all_new[:, None, None], median[:, None, :], compact)
    compact = np.where((n_elements > 0)[:, None, :], compact, np.nan)
    # Spread back: withholding inferer j changes forecaster k only if j is one of its elements,
    # whose slot in the compacted list is the number of elements before it.
    ctx = np.where(element, before, 0).transpose(0, 2, 1)  # (B, N, K): element slot + 1
    bi = np.arange(b)[:, None, None]
    ki = np.arange(k)[None, None, :]
    oneout = compact[bi, ctx, ki]  # (B, N, K)
    return np.concatenate([compact[:, :1], oneout], axis=1)


def _weighted_average(
    weights: Array,
    inference: Array,
    inf_member: Mask,
    fc_values: Array,
    all_new: Mask,
    eps_safe: float,
) -> Array:
    """``calcWeightedInference`` (§2.2) of every variant row: Σ w·v / Σ w over the usable
    members (weight ≠ 0, value finite), the denominator raised to EpsilonSafeDiv; the plain mean
    of the member inferers' values in the "all new" mode.

    ``weights (B, V, N + K)`` (0 for non-members), ``inference (B, N)``, ``inf_member (B, V, N)``,
    ``fc_values (B, V, K)`` forecast-implied values per row (NaN = the chain drops that forecaster).
    """
    n = inference.shape[-1]
    w_inf = weights[..., :n]
    fc_ok = np.isfinite(fc_values)
    w_fc = np.where(fc_ok, weights[..., n:], 0.0)
    inf0 = np.where(np.isfinite(inference), inference, 0.0)
    num = np.einsum("bvj,bj->bv", w_inf, inf0) + np.einsum(
        "bvk,bvk->bv", w_fc, np.where(fc_ok, fc_values, 0.0)
    )
    den = np.add.reduce(w_inf, axis=-1) + np.add.reduce(w_fc, axis=-1)
    out: Array = num / np.maximum(den, eps_safe)
    if all_new.any():
        count = np.add.reduce(inf_member, axis=-1)
        total = np.einsum("bvj,bj->bv", inf_member.astype(np.float64), inf0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(count < 1, 0.0, total / count)
        out = np.where(all_new[:, None], mean, out)
    return out


def weighted_percentiles(values: Array, weights: Array, valid: Mask, percentiles: Array) -> Array:
    """``alloraMath.WeightedPercentile`` (§2.5) on rows: sort by value, plotting positions
    ``(C_i − w_i/2)/C_n``, linear interpolation clamped to the end values. ``(B, P) → (B, Q)``."""
    if values.shape[-1] == 0:
        return np.full((values.shape[0], len(percentiles)), np.nan)
    order = np.argsort(np.where(valid, values, np.inf), axis=-1, kind="stable")
    v = take_last(values, order)
    w = take_last(np.where(valid, weights, 0.0), order)
    ok = take_last(valid, order)
    n = ok.sum(axis=-1)
    csw = np.cumsum(w, axis=-1)
    total = take_last(csw, np.maximum(n - 1, 0)[:, None])
    with np.errstate(invalid="ignore", divide="ignore"):
        xp = np.where(ok, (csw - w / 2.0) / total, np.inf)
    q = (percentiles / 100.0)[None, :]  # (1, Q)
    last = np.maximum(n - 1, 0)[:, None]
    x_first = xp[:, :1]
    x_last = take_last(xp, last)
    v_first = v[:, :1]
    v_last = take_last(v, last)
    # j = number of interior knots xp[1..n-1] at or below q (sort.Search in the chain)
    j = (xp[:, None, 1:] <= q[:, :, None]).sum(axis=-1)  # (B, Q)
    j1 = np.minimum(j + 1, np.maximum(n - 1, 0)[:, None])
    xj = take_last(xp, j)
    xj1 = take_last(xp, j1)
    vj = take_last(v, j)
    vj1 = take_last(v, j1)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = (q - xj) / (xj1 - xj)
        inner = vj * (1.0 - t) + vj1 * t
    out = np.where(q <= x_first, v_first, np.where(q >= x_last, v_last, inner))
    return np.where((n > 0)[:, None], out, np.nan)


def synthesize(
    inference: Array,
    inferer_present: Mask,
    forecast: Array,
    forecast_element: Mask,
    regrets: RegretStore,
    initial_regret: Array,
    network_loss: Array,
    epsilon: float,
    p_norm: float,
    c_norm: float,
    epsilon_safe_div: float,
) -> NetworkInferences:
    """All network inferences of one epoch for a batch of topics (``GetNetworkInferences`` →
    ``CalcNetworkInferences``, §2).

    Args:
        inference: ``(B, N)`` inferences; ``inferer_present`` marks submitted slots.
        forecast: ``(B, K, N)`` forecasted losses; ``forecast_element`` marks elements present
            (forecaster submitted the element and the inferer has an inference).
        regrets: the regret stores after the previous epoch (NaN = not stored → the topic's
            ``initial_regret``, as the keeper's getters return).
        initial_regret: ``(B,)`` topic InitialRegret; exactly 0 means "all inferers new".
        network_loss: ``(B,)`` combined loss of the latest network-loss bundle; NaN when the
            topic has none yet (median mode).
        epsilon, p_norm: topic ε and PNorm; c_norm, epsilon_safe_div: module CNorm, EpsilonSafeDiv.
    """
    b, n = inference.shape
    k = forecast.shape[1]
    n_inf = inferer_present.sum(axis=-1)
    has_loss = np.isfinite(network_loss)
    mode = np.where(
        n_inf == 0,
        Mode.NONE,
        np.where(n_inf == 1, Mode.SINGLE, np.where(has_loss, Mode.FULL, Mode.MEDIAN)),
    )
    all_new = initial_regret == 0.0
    loss_prev = np.where(has_loss, network_loss, 0.0)
    element = forecast_element & inferer_present[:, None, :]

    # Forecast-implied inferences for the full inferer list (row 0) and each one-out list.
    implied = forecast_implied_inferences(
        inference, forecast, element, loss_prev, all_new, epsilon, p_norm, c_norm
    )
    fc_implied = implied[:, 0]  # (B, K)
    fc_in = np.isfinite(fc_implied)  # forecasters the chain keeps (K)
    n_fc = np.add.reduce(fc_in, axis=-1)
    multi_fc = (n_fc >= 2)[:, None]

    # Variant rows: combined, naive, one-out inferers (N), one-out forecasters (K), one-in (K),
    # over the columns inferers (N) ‖ forecasters (K).
    v = 2 + n + 2 * k
    rows_oo, rows_oof, rows_oni = slice(2, 2 + n), slice(2 + n, 2 + n + k), slice(2 + n + k, v)
    eye_n = np.eye(n, dtype=bool)
    eye_k = np.eye(k, dtype=bool)
    member = np.empty((b, v, n + k), dtype=bool)
    member[:, :, :n] = inferer_present[:, None, :]
    member[:, rows_oo, :n] &= ~eye_n
    member[:, :, n:] = fc_in[:, None, :]
    member[:, 1, n:] = False
    member[:, rows_oof, n:] &= ~eye_k
    member[:, rows_oni, n:] &= eye_k
    # Stored regrets, NaN (not stored) read as the topic's initial regret; one-in rows hold the
    # forecaster's own regret R⁺_{k→k} on the diagonal (the only forecaster member there).
    regret = np.empty((b, v, n + k))
    regret[:, 0, :n] = regrets.inferer
    regret[:, 1, :n] = regrets.naive_inferer
    regret[:, rows_oo, :n] = regrets.oneout_inferer_inferer
    regret[:, rows_oof, :n] = regrets.oneout_forecaster_inferer
    regret[:, rows_oni, :n] = regrets.onein_forecaster_inferer
    regret[:, 0, n:] = regrets.forecaster
    regret[:, 1, n:] = 0.0
    regret[:, rows_oo, n:] = regrets.oneout_inferer_forecaster
    regret[:, rows_oof, n:] = regrets.oneout_forecaster_forecaster
    regret[:, rows_oni, n:] = regrets.onein_forecaster_self[:, :, None]
    # one pass finds both: regrets not stored yet (NaN) and whether all are finite (stored
    # regrets and the initial regret are; a NaN initial regret would not be)
    finite = bool(np.isfinite(regret).all())
    if not finite:
        np.copyto(regret, initial_regret[:, None, None], where=np.isnan(regret))
        finite = bool(np.isfinite(regret).all())
    fc_values = np.empty((b, v, k))
    fc_values[:, 0] = fc_implied
    fc_values[:, 1] = np.nan
    fc_values[:, rows_oo] = implied[:, 1:]
    fc_values[:, 2 + n :] = fc_implied[:, None, :]

    weights = regret_weights(regret, member, epsilon, p_norm, c_norm, finite=finite)
    averaged = _weighted_average(
        weights, inference, member[..., :n], fc_values, all_new, epsilon_safe_div
    )

    full = mode == Mode.FULL
    combined = averaged[:, 0]
    naive = averaged[:, 1]
    oneout_inf = np.where(inferer_present, averaged[:, 2 : 2 + n], np.nan)
    oneout_fc = np.where(fc_in & multi_fc, averaged[:, 2 + n : 2 + n + k], np.nan)
    onein_fc = np.where(fc_in & multi_fc, averaged[:, 2 + n + k :], np.nan)
    # One-out forecast-implied values (k, withheld j) for the forecasters the chain keeps.
    oo_implied = np.where(
        fc_in[:, :, None] & inferer_present[:, None, :], implied[:, 1:].transpose(0, 2, 1), np.nan
    )

    if not full.all():
        single_value = np.where(inferer_present, inference, 0.0).sum(axis=-1)
        median = masked_median(inference, inferer_present)
        combined = np.where(full, combined, np.where(mode == Mode.SINGLE, single_value, median))
        naive = np.where(full, naive, np.where(mode == Mode.SINGLE, single_value, 0.0))
    combined = np.where(mode == Mode.NONE, np.nan, combined)
    naive = np.where(mode == Mode.NONE, np.nan, naive)
    full_b = full[:, None]
    # written into its flat ExtractValues layout, which every reader needs (reports, losses)
    values_out = ValueBundle.from_flat(np.full((b, 2 + 2 * n + k * (n + 3)), np.nan), n, k)
    values_out.combined[...] = combined
    values_out.naive[...] = naive
    np.copyto(values_out.inferer, inference, where=inferer_present)
    np.copyto(values_out.forecaster, fc_implied, where=full_b & fc_in)
    np.copyto(values_out.oneout_inferer, oneout_inf, where=full_b)
    np.copyto(values_out.oneout_forecaster, oneout_fc, where=full_b)
    np.copyto(values_out.onein_forecaster, onein_fc, where=full_b)
    np.copyto(values_out.oneout_inferer_forecaster, oo_implied, where=full[:, None, None])

    inf_w = np.where(full_b & inferer_present, weights[:, 0, :n], np.nan)
    fc_w = np.where(full_b & fc_in, weights[:, 0, n:], np.nan)
    return NetworkInferences(
        values=values_out,
        inferer_weight=inf_w,
        forecaster_weight=fc_w,
        mode=mode,
        # own copies: the caller may reuse its input arrays, and a view would keep the whole
        # weight and member arrays of every variant alive
        _extras={
            "inference": inference.copy(),
            "fc_implied": fc_implied.copy(),
            "weights0": weights[:, 0].copy(),
            "member0": member[:, 0].copy(),
            "full": full,
            "has_loss": has_loss,
            "element": element,
            "loss_prev": loss_prev,
            "forecast": forecast.copy(),
        },
    )
