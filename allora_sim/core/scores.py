"""Worker scores and the score history used to scale reward fractions (§5).

Mirrors ``GenerateInferenceScores``, ``GenerateForecastScores`` (``x/emissions/module/rewards/
scores.go``), ``GetfUniqueAgg`` / ``GetFinalWorkerPerformanceScore`` (``rewards_internal.go``)
and ``InsertWorkerInferenceScore`` / ``GetInferenceScoresUntilBlock`` (``x/emissions/keeper``).
"""

from __future__ import annotations

import numpy as np

from allora_sim.core.bundle import ValueBundle
from allora_sim.core.maths import Array, Mask, take_last

__all__ = [
    "append_score_history",
    "compact_left",
    "forecaster_scores",
    "forecasting_task_score",
    "inferer_scores",
]


def compact_left(values: Array, mask: Mask) -> tuple[Array, np.ndarray]:
    """Move the masked elements of each row to the front, keeping their order (NaN after).

    Returns the compacted rows and the count per row."""
    order = np.argsort(~mask, axis=-1, kind="stable")
    packed = take_last(np.where(mask, values, np.nan), order)
    return packed, mask.sum(axis=-1)


def inferer_scores(losses: ValueBundle) -> tuple[Array, Mask, Mask]:
    """One-out inferer scores ``T_j = L⁻_j − L`` (``GenerateInferenceScores``, §5.1).

    Returns ``(score (B, N), scored (B, N), single (B,))``. When the bundle has exactly one
    inferer loss, that inferer scores 0 and ``single`` is set: the chain then stores the score
    but updates no EMA and no topic quantile.
    """
    has_inf = np.isfinite(losses.inferer)
    single = has_inf.sum(axis=-1) == 1
    oneout = np.isfinite(losses.oneout_inferer)
    with np.errstate(invalid="ignore"):
        score = losses.oneout_inferer - losses.combined[:, None]
    score = np.where(
        single[:, None], np.where(has_inf, 0.0, np.nan), np.where(oneout, score, np.nan)
    )
    return score, np.isfinite(score), single


def forecaster_scores(losses: ValueBundle) -> tuple[Array, Mask, Mask, Mask]:
    """One-in/one-out forecaster scores (``GenerateForecastScores``, §5.2).

    ``T_k = f⁺·(L⁻ − L⁺_k) + (1 − f⁺)·(L⁻_k − L)``, ``f⁺ = 1/2^(N_f − 1)`` with N_f the number of
    one-out forecaster losses. As on chain the one-in and one-out lists are paired by position
    (both sorted by forecaster); a one-in forecaster without a positional partner makes the
    chain fail (``mismatch``). Exactly one forecaster loss → that forecaster scores 0 (``single``).

    Returns ``(score (B, K), scored (B, K), single (B,), mismatch (B,))``.
    """
    has_fc = np.isfinite(losses.forecaster)
    single = has_fc.sum(axis=-1) == 1
    oneout_ok = np.isfinite(losses.oneout_forecaster)
    onein_ok = np.isfinite(losses.onein_forecaster)
    n_out = oneout_ok.sum(axis=-1)
    f_unique = 1.0 / 2.0 ** (n_out - 1.0)
    with np.errstate(invalid="ignore"):
        out_score = losses.oneout_forecaster - losses.combined[:, None]
        in_score = losses.naive[:, None] - losses.onein_forecaster
    packed_out, _ = compact_left(out_score, oneout_ok)
    # Position of each one-in forecaster within the one-in list = index into the one-out list.
    pos = np.cumsum(onein_ok, axis=-1) - 1
    paired = take_last(
        np.concatenate([packed_out, np.full_like(packed_out[:, :1], np.nan)], axis=-1),
        np.minimum(np.maximum(pos, 0), packed_out.shape[-1]),
    )
    paired = np.where(onein_ok & (pos < n_out[:, None]), paired, np.nan)
    mismatch = (onein_ok & (pos >= n_out[:, None])).any(axis=-1)
    fu = f_unique[:, None]
    with np.errstate(invalid="ignore"):
        score = fu * in_score + (1.0 - fu) * paired
    score = np.where(onein_ok, score, np.nan)
    score = np.where(single[:, None], np.where(has_fc, 0.0, np.nan), score)
    mismatch = mismatch & ~single
    return score, np.isfinite(score), single, mismatch


def forecasting_task_score(losses: ValueBundle) -> Array:
    """``ForecastingPerformanceScore``: ``T_F = L⁻ − L`` (§5.2)."""
    return losses.naive - losses.combined


def append_score_history(history: Array, score: Array, scored: Mask) -> Array:
    """The latest ``W`` individual scores after storing this epoch's (§5.4).

    The chain keeps at most ``MaxSamplesToScaleScores`` scores per block (the oldest of that block
    dropped) and reads blocks from the newest down, taking scores in stored order until ``W`` are
    collected. ``history (B, W)`` is that window (newest block first, NaN padding);
    ``score (B, n)`` in stored (slot) order.
    """
    w = history.shape[-1]
    packed, count = compact_left(score, scored)
    take = np.minimum(count, w)  # scores of this block that survive
    offset = np.maximum(count - w, 0)  # the oldest of the block are dropped
    t = np.arange(w)[None, :]
    from_block = t < take[:, None]
    idx_block = np.minimum(offset[:, None] + t, packed.shape[-1] - 1) if packed.shape[-1] else t
    idx_old = np.minimum(np.maximum(t - take[:, None], 0), w - 1)
    block_vals = take_last(packed, idx_block) if packed.shape[-1] else np.full_like(history, np.nan)
    old_vals = take_last(history, idx_old)
    old_ok = (t - take[:, None]) < w
    return np.where(from_block, block_vals, np.where(old_ok, old_vals, np.nan))
