"""Reputer consensus: adjusted stakes, consensus losses, scores and listening coefficients (§4).

Mirrors ``GenerateReputerScores`` (``x/emissions/module/rewards/scores.go``) and
``GetAllReputersOutput`` / ``GetAllConsensusScores`` / ``GetStakeWeightedLossMatrix`` /
``GetConsensusScore`` / ``GetAdjustedStake`` (``x/emissions/module/rewards/rewards_internal.go``).

The chain evaluates the consensus scores once at the current coefficients and once per reputer
with that reputer's coefficient nudged by ±0.001 (the finite-difference gradient). Here all
``M + 1`` coefficient vectors of an iteration are evaluated together. When some reputer
missed an entry (:func:`_scores_general`), distances to a nudged consensus are computed relative
to the un-nudged one,
``‖L_m − L̄_c‖² = ‖L_m − L̄_0‖² − 2 (L_m − L̄_0)·Δ_c + ‖Δ_c‖²`` with ``Δ_c = L̄_c − L̄_0`` small,
which keeps float64 accuracy (no cancellation between large norms) while turning the bulk of the
work into one batched matrix product. The search loop keeps the topic axis last (``(C, M, B)``):
its sums run over the few reputers, which numpy then adds as whole rows of topics instead of
reducing thousands of length-6 rows one by one.
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


def _scores_general(
    adj: Array,
    losses0: Array,
    reported: Array,
    filled: Array,
    not_entry: Array,
    eps_reputer: float,
    eps_safe: float,
) -> Array:
    """Consensus scores ``(B, M, C)`` for ``C`` adjusted-stake vectors ``adj (B, C, M)``.

    ``losses0 (B, M, E)`` reported losses (missing = 0), ``reported (B, M, E)`` as 0/1,
    ``filled`` missing entries replaced by the most distant value, ``not_entry (B, 1, E)`` 1.0
    for entries nobody reported (excluded). The consensus of an entry averages only the
    reputers that reported it (``GetStakeWeightedLossMatrix``); distances to the nudged consensus
    vectors are taken relative to the first (un-nudged) one.
    """
    consensus = (adj @ losses0) / (adj @ reported + not_entry)  # (B, C, E)
    norm = np.sqrt((consensus * consensus).sum(axis=-1))  # (B, C)
    base = consensus[:, :1]
    dev0 = filled - base  # (B, M, E); zero on non-entries (both are 0 there)
    delta = consensus - base  # (B, C, E)
    d2 = (
        (dev0 * dev0).sum(axis=-1)[:, :, None]
        - 2.0 * (dev0 @ delta.transpose(0, 2, 1))
        + (delta * delta).sum(axis=-1)[:, None, :]
    )  # (B, M, C)
    return _score(d2, norm, eps_reputer, eps_safe)


def _gram(losses: Array, member: Mask, all_members: bool = False) -> tuple[Array, Array, Array]:
    """Precomputation for :func:`_scores_gram`: the reputers' loss vectors relative to their plain
    mean ``r``, their Gram matrix ``H``, their projections ``q = X·r`` and ``‖r‖²``.
    ``all_members``: every slot is a member (the mask multiplies by 1: skipped)."""
    mf = member.astype(np.float64)
    ref = (mf[:, None, :] @ losses) / np.maximum(mf.sum(axis=-1), 1.0)[:, None, None]  # (B,1,E)
    x = losses - ref
    if not all_members:
        x *= mf[:, :, None]
    gram = x @ x.transpose(0, 2, 1)  # (B, M, M)
    q = (x @ ref.transpose(0, 2, 1))[..., 0]  # (B, M)
    rr = (ref @ ref.transpose(0, 2, 1))[:, 0, 0]  # (B,)
    return gram, q, rr


def _scores_gram(
    adj: Array,
    gram: Array,
    diag: Array,
    q: Array,
    rr: Array,
    eps_reputer: float,
    eps_safe: float,
) -> Array:
    """Consensus scores ``(C, M, B)`` when every reputer reported every entry.

    The consensus is then one combination of the reputers' loss vectors,
    ``L̄_c = Σ_m π_cm L_m`` with ``π_c = Ŝ_c / Σ Ŝ_c``: written around the reputers' mean ``r``
    (``L_m = r + X_m``), every distance and norm is a quadratic form in ``π_c`` of the Gram
    matrix ``H = X Xᵀ`` (:func:`_gram`), so an iteration costs O(M²) whatever the number of
    entries: ``‖L_m − L̄_c‖² = H_mm − 2 (π_c H)_m + π_c H π_cᵀ`` and
    ``‖L̄_c‖² = ‖r‖² + 2 π_c·q + π_c H π_cᵀ``. Centring on ``r`` keeps the quadratic forms of the
    size of the distances (no cancellation), so the nudged vectors are evaluated directly: the
    golden listening coefficients agree to 2.3·10⁻¹³ (2.2·10⁻¹³ when the nudged forms were
    accumulated as corrections to the un-nudged one).

    Topic axis last: ``adj (C, M, B)``, ``gram (M, M, B)``, ``diag``/``q (M, B)``, ``rr (B,)``.
    """
    add = np.add.reduce
    pi = adj / add(adj, axis=1)[:, None]  # (C, M, B)
    h_pi = add(pi[:, :, None] * gram, axis=1)  # (C, M, B): (π_c H)_m
    quad = add(h_pi * pi, axis=1)  # (C, B): π_c H π_cᵀ
    pi *= q
    norm_sq = rr + 2.0 * add(pi, axis=1) + quad  # (C, B)
    # d2 = H_mm − 2 (π_c H)_m + π_c H π_cᵀ, in place of (π_c H)
    h_pi *= -2.0
    h_pi += diag
    h_pi += quad[:, None]  # (C, M, B)
    np.maximum(norm_sq, 0.0, out=norm_sq)
    return _score(h_pi, np.sqrt(norm_sq, out=norm_sq), eps_reputer, eps_safe)


def _score(d2: Array, norm: Array, eps_reputer: float, eps_safe: float) -> Array:
    """``GetConsensusScore``: 1 / (‖L_m − L̄‖ / ‖L̄‖ + ε_rep); ‖L̄‖ = 0 → EpsilonSafeDiv.

    ``d2 (X, M, Y)`` squared distances (a temporary: overwritten with the scores),
    ``norm (X, Y)`` consensus norms."""
    norm = np.where(norm == 0.0, eps_safe, norm)
    np.maximum(d2, 0.0, out=d2)
    np.sqrt(d2, out=d2)  # the distances
    d2 /= norm[:, None, :]
    d2 += eps_reputer
    return np.divide(1.0, d2, out=d2)


def reputer_consensus(
    losses: Array,
    reported: Mask,
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
        losses: ``(B, M, E)`` each reputer's reported loss per entry (``ValueBundle.flat()``
            order), any finite value where not reported (``losses.accepted_reports``).
        reported: ``(B, M, E)`` the entries reported; entries nobody reported are not part of
            the vector.
        member: ``(B, M)`` reputers whose bundles are stored at the nonce.
        stake: ``(B, M)`` stake reputer authority (token units; the maths is scale-free).
        coefficient: ``(B, M)`` stored listening coefficients, NaN = never set (default 1).
    """
    b, m, _ = losses.shape
    if member.all() and reported.all():
        # every slot a member that reported every entry (the common case): nothing to mask
        general = np.empty(0, dtype=np.intp)
        fast = np.arange(b)
        gram, q, rr = _gram(losses, member, all_members=True)
    else:
        reported = np.logical_and(reported, member[:, :, None])
        entry: np.ndarray = np.asarray(reported.any(axis=1))  # (B, E)
        # zero outside the member reputers' reported entries
        losses0 = losses * reported
        # Topics where every reputer reported every entry take the Gram-matrix path.
        complete = (reported == (entry[:, None, :] & member[:, :, None])).all(axis=(1, 2))
        general = np.flatnonzero(~complete)
        fast = np.flatnonzero(complete)
        if fast.size == b:
            gram, q, rr = _gram(losses0, member)
        else:
            gram, q, rr = _gram(losses0[fast], member[fast])
            rep_gen, loss_gen = reported[general], losses0[general]
            # Missing reports take the most distant value: the reported value maximising
            # consensus − value, i.e. the smallest.
            smallest = np.min(np.where(rep_gen, loss_gen, np.inf), axis=1)  # (G, E)
            smallest = np.where(entry[general], smallest, 0.0)
            filled_gen = np.where(rep_gen, loss_gen, smallest[:, None, :])
            not_entry = (~entry[general]).astype(np.float64)[:, None, :]
            rep_gen = rep_gen.astype(np.float64)
    # topic axis last from here on (module docstring)
    gram = np.ascontiguousarray(gram.transpose(1, 2, 0))  # (M, M, F)
    diag = np.ascontiguousarray(np.diagonal(gram).T)  # (M, F)
    q = np.ascontiguousarray(q.T)  # (M, F)
    s = np.where(member, stake, 0.0)
    sum_s = s.sum(axis=-1)
    s_t = np.ascontiguousarray(s.T)  # (M, B)
    member_t = np.ascontiguousarray(member.T)
    n_rep = member.sum(axis=-1).astype(np.float64)  # (B,)

    a = np.where(member_t, np.where(np.isnan(coefficient.T), 1.0, coefficient.T), 0.0)  # (M, B)
    a_scored = a.copy()
    score_out = np.zeros((m, b))
    running: np.ndarray = np.asarray(member.any(axis=-1))
    iterations = np.zeros(b, dtype=np.int64)
    # row 0: the current coefficients; row 1 + c: reputer c's coefficient nudged
    nudge = np.concatenate([np.zeros((1, m)), np.eye(m)])[:, :, None]  # (C, M, 1)
    add = np.add.reduce
    with np.errstate(invalid="ignore", divide="ignore"):
        for _ in range(max_iters):
            if not running.any():
                break
            step = np.where(a == 1.0, -0.001, 0.001)  # (M, B)
            # GetAdjustedStake: min(1, N·a·S / Σ a·S) for the current and every nudged vector
            a_s = nudge * step
            a_s += a
            a_s *= s_t  # (C, M, B)
            total = add(a_s, axis=1)  # (C, B)
            a_s *= (n_rep / total)[:, None]
            adj = np.minimum(a_s, 1.0, out=a_s)
            if general.size == 0:
                score = _scores_gram(adj, gram, diag, q, rr, epsilon_reputer, epsilon_safe_div)
            else:
                score = np.empty((m + 1, m, b))
                score[..., fast] = _scores_gram(
                    adj[..., fast], gram, diag, q, rr, epsilon_reputer, epsilon_safe_div
                )
                score[..., general] = _scores_general(
                    adj[..., general].transpose(2, 0, 1),
                    loss_gen,
                    rep_gen,
                    filled_gen,
                    not_entry,
                    epsilon_reputer,
                    epsilon_safe_div,
                ).transpose(2, 1, 0)
            weighted = add(score * s_t, axis=1)  # (C, B): Σ_m S_m · score_m
            grad = (1.0 - weighted[:1] / weighted[1:]) / step
            grad *= learning_rate
            grad += a
            new = np.minimum(np.maximum(grad, 0.0, out=grad), 1.0, out=grad)
            new = np.where(member_t, new, 0.0)
            f_new = add(new * s_t, axis=0) / sum_s
            below = f_new < min_stake_fraction
            if below.any():
                f_old = total[0] / sum_s  # row 0 is a·S unchanged
                stuck = below & (f_new == f_old)
                scale = (min_stake_fraction - f_old) / (f_new - f_old)
                rescaled = a + (new - a) * scale
                nxt = np.where(below, np.where(stuck, a, rescaled), new)
                nxt = np.where(member_t, nxt, 0.0)
            else:
                stuck, nxt = below, new
            g_max = np.maximum.reduce(np.abs(nxt - a), axis=0) / learning_rate
            if running.all():
                score_out, a_scored, a = score[0], a, nxt
            else:
                score_out = np.where(running, score[0], score_out)
                a_scored = np.where(running, a, a_scored)
                a = np.where(running, nxt, a)
            iterations = iterations + running
            running = running & ~stuck & (g_max >= max_gradient_threshold)
    score_out, a_scored, a = score_out.T, a_scored.T, a.T
    adj_scored = adjusted_stakes(a_scored, s, member)
    return ReputerConsensus(
        score=np.where(member, score_out, np.nan),
        coefficient=np.where(member, a, np.nan),
        adjusted_stake=np.where(member, adj_scored, np.nan),
        iterations=iterations,
    )
