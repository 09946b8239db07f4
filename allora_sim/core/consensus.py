"""Reputer consensus: adjusted stakes, consensus losses, scores and listening coefficients (§4).

Mirrors ``GenerateReputerScores`` (``x/emissions/module/rewards/scores.go``) and
``GetAllReputersOutput`` / ``GetAllConsensusScores`` / ``GetStakeWeightedLossMatrix`` /
``GetConsensusScore`` / ``GetAdjustedStake`` (``x/emissions/module/rewards/rewards_internal.go``).

The chain evaluates the consensus scores once at the current coefficients and once per reputer
with that reputer's coefficient nudged by ±0.001 (the finite-difference gradient). Here all
``M + 1`` coefficient vectors of an iteration are evaluated together. Distances to a nudged
consensus are computed relative to the un-nudged one,
``‖L_m − L̄_c‖² = ‖L_m − L̄_0‖² − 2 (L_m − L̄_0)·Δ_c + ‖Δ_c‖²`` with ``Δ_c = L̄_c − L̄_0`` small,
which keeps float64 accuracy (no cancellation between large norms) while turning the bulk of the
work into one batched matrix product.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from allora_sim.core.maths import Array, Mask

__all__ = ["ReputerConsensus", "adjusted_stakes", "reputer_consensus"]


@dataclass(frozen=True)
class ReputerConsensus:
    """Result of the listening-coefficient search for a batch of topics.

    ``score`` are the consensus scores evaluated at the coefficients at the start of the last
    iteration (what the chain returns and stores), ``coefficient`` the coefficients after it,
    ``adjusted_stake`` the adjusted stakes at which ``score`` was evaluated, ``iterations`` the
    number of gradient steps taken. Non-reputer slots are NaN.
    """

    score: Array  # (B, M)
    coefficient: Array  # (B, M)
    adjusted_stake: Array  # (B, M)
    iterations: np.ndarray  # (B,)


def adjusted_stakes(coefficient: Array, stake: Array, member: Mask) -> Array:
    """``GetAdjustedStake`` (§4 step 4): ``min(1, N_r·a_m·S_m / Σ_n a_n·S_n)``.

    ``coefficient`` ``(..., M)`` broadcasts against ``stake``/``member`` ``(B, M)``-like shapes.
    """
    n_rep = member.sum(axis=-1, keepdims=True)
    a_s = np.where(member, coefficient * stake, 0.0)
    denom = a_s.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = (n_rep * coefficient) * stake / denom
    return np.where(member, np.minimum(frac, 1.0), 0.0)


def _scores(
    adj: Array,
    losses0: Array,
    reported: Array,
    filled: Array,
    entry: Mask,
    base_consensus: Array | None,
    eps_reputer: float,
    eps_safe: float,
) -> tuple[Array, Array]:
    """Consensus scores for C coefficient vectors at once.

    adj ``(B, C, M)``; losses0 ``(B, M, E)`` (missing = 0); reported ``(B, M, E)`` as 0/1;
    filled ``(B, M, E)`` missing entries replaced by the most distant value. Returns scores
    ``(B, C, M)`` and the consensus ``(B, C, E)``.
    """
    num = adj @ losses0
    den = adj @ reported
    with np.errstate(invalid="ignore", divide="ignore"):
        consensus = np.where(entry[:, None, :], num / den, 0.0)
    norm = np.sqrt(np.einsum("bce,bce->bc", consensus, consensus))
    norm = np.where(norm == 0.0, eps_safe, norm)
    base = consensus[:, :1] if base_consensus is None else base_consensus
    dev0 = np.where(entry[:, None, :], filled - base, 0.0)  # (B, M, E)
    d0 = np.einsum("bme,bme->bm", dev0, dev0)  # (B, M)
    delta = consensus - base  # (B, C, E)
    cross = dev0 @ delta.transpose(0, 2, 1)  # (B, M, C)
    d2 = d0[:, :, None] - 2.0 * cross + np.einsum("bce,bce->bc", delta, delta)[:, None, :]
    dist = np.sqrt(np.maximum(d2, 0.0)).transpose(0, 2, 1)  # (B, C, M)
    score = 1.0 / (dist / norm[:, :, None] + eps_reputer)
    return score, consensus


def reputer_consensus(
    losses: Array,
    member: Mask,
    stake: Array,
    coefficient: Array,
    learning_rate: float,
    max_iters: int,
    max_gradient_threshold: float,
    min_stake_fraction: float,
    epsilon_reputer: float,
    epsilon_safe_div: float,
) -> ReputerConsensus:
    """Scores and new listening coefficients (``GetAllReputersOutput``, §4 step 7).

    Args:
        losses: ``(B, M, E)`` each reputer's reported loss per entry (``ValueBundle.flat()``);
            NaN = not reported. Entries nobody reported are not part of the vector.
        member: ``(B, M)`` reputers whose bundles are stored at the nonce.
        stake: ``(B, M)`` stake reputer authority (token units; the maths is scale-free).
        coefficient: ``(B, M)`` stored listening coefficients, NaN = never set (default 1).
    """
    b, m, _ = losses.shape
    reported = np.isfinite(losses) & member[:, :, None]
    entry = reported.any(axis=1)  # (B, E)
    losses0 = np.where(reported, losses, 0.0)
    # Most distant value: the reported value maximising consensus − value, i.e. the smallest.
    smallest = np.min(np.where(reported, losses, np.inf), axis=1)  # (B, E)
    smallest = np.where(entry, smallest, 0.0)
    filled = np.where(reported, losses, smallest[:, None, :])
    rep_f = reported.astype(np.float64)
    s = np.where(member, stake, 0.0)
    sum_s = s.sum(axis=-1)

    a = np.where(member, np.where(np.isnan(coefficient), 1.0, coefficient), 0.0)
    a_scored = a.copy()
    score_out = np.zeros((b, m))
    running: np.ndarray = np.asarray(member.any(axis=-1))
    iterations = np.zeros(b, dtype=np.int64)
    eye = np.eye(m, dtype=bool)
    for _ in range(max_iters):
        if not running.any():
            break
        step = np.where(a == 1.0, -0.001, 0.001)
        nudged = a[:, None, :] + np.where(eye[None], step[:, :, None], 0.0)  # (B, M, M)
        coeffs = np.concatenate([a[:, None, :], nudged], axis=1)  # (B, 1+M, M)
        adj = adjusted_stakes(coeffs, s[:, None, :], member[:, None, :])
        score, _ = _scores(
            adj, losses0, rep_f, filled, entry, None, epsilon_reputer, epsilon_safe_div
        )
        weighted = np.einsum("bcm,bm->bc", score, s)
        with np.errstate(invalid="ignore", divide="ignore"):
            grad = (1.0 - weighted[:, :1] / weighted[:, 1:]) / step
        new = np.clip(a + learning_rate * grad, 0.0, 1.0)
        new = np.where(member, new, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            f_old = (a * s).sum(axis=-1) / sum_s
            f_new = (new * s).sum(axis=-1) / sum_s
            below = f_new < min_stake_fraction
            stuck = below & (f_new == f_old)
            rescaled = a + (new - a) * ((min_stake_fraction - f_old) / (f_new - f_old))[:, None]
        nxt = np.where(below[:, None], np.where(stuck[:, None], a, rescaled), new)
        nxt = np.where(member, nxt, 0.0)
        g_max = np.max(np.abs(nxt - a), axis=-1) / learning_rate
        upd = running[:, None]
        score_out = np.where(upd, score[:, 0], score_out)
        a_scored = np.where(upd, a, a_scored)
        a = np.where(upd, nxt, a)
        iterations = iterations + running
        running = running & ~stuck & (g_max >= max_gradient_threshold)
    adj_scored = adjusted_stakes(a_scored, s, member)
    return ReputerConsensus(
        score=np.where(member, score_out, np.nan),
        coefficient=np.where(member, a, np.nan),
        adjusted_stake=np.where(member, adj_scored, np.nan),
        iterations=iterations,
    )
