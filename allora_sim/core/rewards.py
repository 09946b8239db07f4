"""Reward allocation inside a topic (§6.3–§6.6).

Mirrors ``x/emissions/module/rewards``: ``GetScoreFractions`` / ``GetMappingFunctionValues``,
``CalculateReputerRewardFractions``, ``getInferenceOrForecastTaskEntropy`` /
``GetReputerTaskEntropy`` (``NumberRatio``, ``ModifiedRewardFractions``, ``Entropy``),
``ForecastingUtility`` / ``NormalizationFactor`` / ``GetChiAndGamma``, the three
``GetRewardFor…TaskInTopic`` functions, ``GetRewardPerWorker`` / ``GetRewardPerReputer`` /
``GetRewardForReputerFromTotalReward`` and the integer truncation of ``payoutRewards``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from allora_sim.core.maths import Array, Mask, ema, masked_std, phi
from allora_sim.core.uallo import Uallo

__all__ = [
    "ENTROPY_SINGLE_PARTICIPANT",
    "chi_from_ratio",
    "class_rewards",
    "delegator_cut",
    "forecasting_utility",
    "normalization_factor",
    "payouts_uallo",
    "payouts_uallo_amounts",
    "payouts_uallo_rows",
    "reputer_reward_fractions",
    "smoothed_fractions_and_entropy",
    "take_back",
    "worker_reward_fractions",
]

ENTROPY_SINGLE_PARTICIPANT = 0.173286795139986


def worker_reward_fractions(
    score: Array, scored: Mask, history: Array, p_reward: float, c_reward: float, epsilon: float
) -> Array:
    """Instant reward fractions of inferers or forecasters (``GetScoreFractions``, §6.3).

    σ is the sample standard deviation of the score window ``history (B, W)`` (0 for ≤ 1 score);
    if σ < ε every worker maps to 1, else ``M_j = φ_{p,c}(T_j/(σ + ε))``; ``u_j = M_j / Σ M``.
    """
    window = np.isfinite(history)
    sd = np.abs(masked_std(history, window))
    flat = (sd < epsilon)[:, None]
    with np.errstate(invalid="ignore"):
        mapped = phi(p_reward, c_reward, score / (sd + epsilon)[:, None])
    mapped = np.where(flat, 1.0, mapped)
    mapped = np.where(scored, mapped, 0.0)
    total = mapped.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = mapped / total
    # Every M_j below float64's range (φ(x) = e^{p(x−c)} there; the chain's decimals still
    # hold them): the same ratios from the exponents, M_j / Σ M = softmax(p(x_j − c)).
    lost = (total[:, 0] == 0.0) & scored.any(axis=-1)
    if lost.any():
        z = np.where(scored[lost], p_reward * score[lost] / (sd[lost] + epsilon)[:, None], -np.inf)
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        frac[lost] = e / e.sum(axis=-1, keepdims=True)
    return np.where(scored, frac, np.nan)


def reputer_reward_fractions(stake: Array, score: Array, member: Mask, p_reward: float) -> Array:
    """``CalculateReputerRewardFractions`` (§6.3): ``(S·T)^p / Σ (S·T)^p``; exact zeros stay 0."""
    powered = np.where(member, (stake * np.where(member, score, 0.0)) ** p_reward, 0.0)
    total = powered.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(powered == 0.0, 0.0, powered / total)
    return np.where(member, frac, np.nan)


def smoothed_fractions_and_entropy(
    fraction: Array, member: Mask, previous: Array, alpha: float, beta: float
) -> tuple[Array, Array, Mask, Mask]:
    """EMA'd fractions, their normalisation and the class entropy (§6.4).

    ``ẽ_i = EMA_α(f_i, f̂_prev,i)`` (``f_i`` when no previous fraction is stored, NaN in
    ``previous``); ``N_eff = 1/Σ ẽ²`` on the un-normalised ẽ; ``f̂ = ẽ/Σ ẽ`` (stored as next
    epoch's previous fraction); ``H = −Σ f̂ ln f̂ · (N_eff/N)^β`` for N > 1, else the chain's
    constant 0.173286795139986.

    Returns ``(entropy (B,), smoothed (B, n), stored (B,), ok (B,))``: the chain stores the
    smoothed fractions unless the class is empty or Σẽ² = 0 (``stored``), then fails computing
    the entropy if a smoothed fraction is exactly 0 (``Ln(0)``; possible only for a reputer with
    zero stake): ``ok`` is False wherever the chain errors.
    """
    e = ema(alpha, fraction, previous, np.isnan(previous))
    e = np.where(member, e, 0.0)
    n = member.sum(axis=-1)
    sum_sq = np.einsum("bi,bi->b", e, e)
    total = e.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        n_eff = 1.0 / sum_sq
        smooth = e / total
        safe = np.where(member & (smooth > 0.0), smooth, 1.0)
        plogp = np.where(member, smooth * np.log(safe), 0.0)
        entropy = -plogp.sum(axis=-1) * (n_eff / n) ** beta
    has_zero = (member & (smooth == 0.0)).any(axis=-1)
    entropy = np.where(n > 1, entropy, ENTROPY_SINGLE_PARTICIPANT)
    stored = (n > 0) & (sum_sq > 0.0) & np.isfinite(sum_sq)
    ok = stored & ~((n > 1) & has_zero)
    return entropy, np.where(member, smooth, np.nan), stored, ok


def forecasting_utility(
    task_score: Array, inferer_score: Array, scored: Mask, ratio_prev: Array, alpha: float
) -> tuple[Array, Array]:
    """χ and the updated forecaster score ratio (``ForecastingUtility``, §6.5).

    m = max(0, max_j T_j); if m = 0 and T_F = 0: χ = 0.5 and the stored ratio becomes 0;
    ratio_inst = T_F/|m| (or T_F/|T_F| when m = 0); ratio = α·ratio_inst + (1−α)·ratio_prev;
    χ from the ratio as in :func:`chi_from_ratio`.
    """
    # the chain's running maximum starts at 0 (an uninitialised Dec)
    m = np.max(np.where(scored, inferer_score, 0.0), axis=-1, initial=0.0)
    zero_m = m == 0.0
    denom = np.where(zero_m, np.abs(task_score), np.abs(m))
    numer = task_score - np.minimum(0.0, m)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = alpha * (numer / denom) + (1.0 - alpha) * ratio_prev
    degenerate = zero_m & (task_score == 0.0)
    return np.where(degenerate, 0.5, chi_from_ratio(ratio)), np.where(degenerate, 0.0, ratio)


def chi_from_ratio(ratio: Array) -> Array:
    """χ of ``ForecastingUtility`` (§6.5): 0.1 below 0, 0.5 from 1, else 0.1 + 0.4·ratio."""
    return np.where(ratio < 0.0, 0.1, np.where(ratio >= 1.0, 0.5, 0.1 + 0.4 * ratio))


def normalization_factor(entropy_inf: Array, entropy_fc: Array, chi: Array) -> Array:
    """``NormalizationFactor`` γ = (F + G) / ((1 − χ)·F + χ·G) (§6.5)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return (entropy_inf + entropy_fc) / ((1.0 - chi) * entropy_inf + chi * entropy_fc)


def class_rewards(
    entropy_inf: Array,
    entropy_fc: Array,
    entropy_rep: Array,
    topic_reward: Array,
    chi: Array,
    gamma: Array,
) -> tuple[Array, Array, Array]:
    """Class totals U, V, W (§6.6; ``GetRewardFor{Inference,Forecasting,Reputer}TaskInTopic``)."""
    total = entropy_inf + entropy_fc + entropy_rep
    u = (1.0 - chi) * gamma * entropy_inf * topic_reward / total
    v = chi * gamma * entropy_fc * topic_reward / total
    w = entropy_rep * topic_reward / total
    return u, v, w


def delegator_cut(reward: Array, stake: Array, delegated: Array) -> tuple[Array, Array]:
    """Split a reputer's reward with its delegators (``GetRewardForReputerFromTotalReward``, §6.6).

    The delegators get ``trunc(W_m·D_m/S_m)`` (an integer amount; ``reward`` in uallo); the reputer
    keeps the rest, which the chain re-stakes. Returns ``(reputer_part, delegator_part)``.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(stake > 0.0, delegated / stake, 0.0)
    cut = np.trunc(reward * share)
    cut = np.where(np.isfinite(cut) & (cut > 0.0), cut, 0.0)
    return reward - cut, cut


def payouts_uallo(rewards: np.ndarray, available: int) -> list[int]:
    """Integer payouts (uallo) of rewards as ``payoutRewards`` truncates them (``SdkIntTrim``).

    ``rewards`` are float64 images of the chain's 34-digit decimals. The chain's truncated
    payouts never exceed the topic reward; float64 rounding of fractions that sum to one can make
    them exceed it by a few uallo at large magnitudes, so any excess over ``available`` is taken
    back from the largest payouts (tokens are never created by rounding).
    """
    flat = np.asarray(rewards, dtype=np.float64).ravel()
    return payouts_uallo_rows(flat[None], [int(available)])[0]


def payouts_uallo_rows(rewards: np.ndarray, available: Sequence[int]) -> list[list[int]]:
    """:func:`payouts_uallo` for each row of ``rewards (T, P)`` with its own ``available[t]``."""
    return payouts_uallo_amounts(rewards, available).ints()


def take_back(amounts: list[int], excess: int, by: np.ndarray) -> None:
    """Reduce the integer ``amounts`` by ``excess`` in total (if positive), in place, taking from
    the largest ``by`` first (ties in order), never below 0: rounding never creates tokens."""
    for i in np.argsort(-by, kind="stable").tolist():
        if excess <= 0:
            break
        take = min(excess, amounts[i])
        amounts[i] -= take
        excess -= take


def payouts_uallo_amounts(rewards: np.ndarray, available: Sequence[int]) -> Uallo:
    """:func:`payouts_uallo_rows` as exact :class:`~allora_sim.core.uallo.Uallo` arrays
    ``(T, P)`` (no Python ``int`` per payout)."""
    rewards = np.asarray(rewards, dtype=np.float64)
    clean = np.trunc(np.where(np.isfinite(rewards) & (rewards > 0.0), rewards, 0.0))
    out = Uallo.of_integral(clean)
    if clean.size == 0:
        return out
    t, p = clean.shape
    sums = Uallo(out.hi.ravel(), out.lo.ravel()).sum_runs(np.arange(t) * p)
    cap = Uallo.of_ints([int(a) for a in available])
    over = np.flatnonzero(cap.below(sums))
    if over.size:
        # float rounding made a row's payouts exceed its reward by an excess that the largest
        # payout (first in take_back's order) almost always covers alone: one limb subtraction
        excess = sums[over].minus(cap[over])
        first = np.argmax(np.where(np.isnan(rewards[over]), -np.inf, rewards[over]), axis=1)
        largest = out[over, first]
        alone = ~largest.below(excess)
        rest = largest.minus(Uallo(np.where(alone, excess.hi, 0), np.where(alone, excess.lo, 0)))
        out.hi[over, first], out.lo[over, first] = rest.hi, rest.lo
        for row in over[~alone].tolist():
            ints = out[row].ints()
            take_back(ints, sum(ints) - int(available[row]), rewards[row])
            fixed = Uallo.of_ints(ints)
            out.hi[row], out.lo[row] = fixed.hi, fixed.lo
    return out
