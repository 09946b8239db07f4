"""Topic weights, the fee-revenue drip and topic rewards (`mechanism.md` §6.1, §7.1–§7.3).

Arrays run over topics (leading axis). Mirrors ``GetTargetWeight`` / ``GetCurrentTopicWeight``
(``x/emissions/keeper/topic_weight.go``), ``DripTopicFeeRevenue`` (``keeper.go``),
``GetAndUpdateActiveTopicWeights`` / ``CalcTopicRewards`` / ``SkimTopTopicsByWeightDesc``
(``x/emissions/module/rewards``) and the activation limits of ``ActivateTopic``
(``x/emissions/keeper/topic_activation.go``).
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Context, Decimal, localcontext

import numpy as np

from allora_sim.core.maths import Array, Mask

__all__ = [
    "activate_within_places",
    "drip",
    "epochs_per_week",
    "skim_top_topics",
    "target_weight",
    "topic_rewards",
    "topic_weight",
]


def target_weight(
    stake: Array,
    revenue: Array,
    epoch_length: Array | int,
    stake_importance: float,
    fee_importance: float,
) -> Array:
    """``GetTargetWeight``: ``S^μ · (C/ℓ)^ν`` (§7.1)."""
    stake = np.asarray(stake, dtype=np.float64)
    revenue = np.asarray(revenue, dtype=np.float64)
    if (stake < 0).any() or (revenue < 0).any():
        raise ValueError("topic stake and fee revenue must be >= 0")
    return stake**stake_importance * (revenue / epoch_length) ** fee_importance


def topic_weight(
    stake: Array,
    revenue: Array,
    epoch_length: Array | int,
    previous: Array,
    alpha: float,
    stake_importance: float,
    fee_importance: float,
) -> Array:
    """``GetCurrentTopicWeight``: 0 when the fee revenue is 0, else ``EMA_α(target, previous)``
    (the target itself when no previous weight is stored, NaN in ``previous``) (§7.1)."""
    target = target_weight(stake, revenue, epoch_length, stake_importance, fee_importance)
    prev = np.asarray(previous, dtype=np.float64)
    first = np.isnan(prev)
    with np.errstate(invalid="ignore"):
        ema = np.where(first | (target == prev), target, alpha * target + (1 - alpha) * prev)
    return np.where(np.asarray(revenue, dtype=np.float64) == 0, 0.0, ema)


def epochs_per_week(blocks_per_month: int, epoch_length: Array | int) -> Array:
    """``N_epw = (BlocksPerMonth / 4.345) / EpochLength`` (``calculateBlocksPerWeek``)."""
    return (blocks_per_month / 4.345) / np.asarray(epoch_length, dtype=np.float64)


def drip(
    revenue: list[int] | np.ndarray, blocks_per_month: int, epoch_length: Array | int
) -> np.ndarray:
    """``DripTopicFeeRevenue``: ``C ← max(0, trunc(C − C/N_epw))`` once per epoch (§7.2).

    ``revenue`` holds exact integer uallo (object array); the result too. The divisions are
    done as the chain's ``Dec.Quo`` does them: 34 significant digits, rounded down. ``N_epw``
    is such a decimal (:func:`_epochs_per_week_dec`); the rest is exact integer arithmetic with
    the same result (:func:`_drip_one`).
    """
    rev = np.asarray(revenue, dtype=object)
    values = rev.ravel().tolist()
    if np.ndim(epoch_length) == 0:  # one epoch length for all (the model's)
        lengths = [int(epoch_length)] * len(values)
    else:
        lengths = np.broadcast_to(np.asarray(epoch_length), rev.shape).ravel().tolist()
    epw = {e: _epochs_per_week_dec(int(blocks_per_month), int(e)) for e in set(lengths)}
    out = np.empty(len(values), dtype=object)
    out[:] = [_drip_one(int(c), epw[e]) for c, e in zip(values, lengths, strict=True)]
    return out.reshape(rev.shape)


_DEC34 = Context(prec=34, rounding=ROUND_DOWN)  # the chain's decimals: 34 digits, rounded down


def _epochs_per_week_dec(blocks_per_month: int, epoch_length: int) -> tuple[int, int] | None:
    """``N_epw`` as the chain's decimal (34 digits, rounded down): ``(n, d)`` with the value
    ``n / d``; ``None`` where the chain does not drip (``ℓ ≤ 0`` or ``N_epw = 0``)."""
    if epoch_length <= 0:
        return None
    with localcontext(_DEC34):
        epw = Decimal(blocks_per_month) / Decimal("4.345") / Decimal(epoch_length)
    if epw == 0:
        return None
    n, d = epw.as_integer_ratio()
    return n, d


_E28 = 10**28
_E34 = 10**34


def _drip_one(c: int, epw: tuple[int, int] | None) -> int:
    """``max(0, trunc(C − q))`` with ``q = C / N_epw`` truncated to 34 significant digits, for
    ``N_epw = n/d``, in integers (``None``: no drip; ``N_epw = 0`` or ``ℓ ≤ 0``).

    For ``C < 10^34`` the decimal subtraction ``C − q``, rounded down to 34 digits, keeps its
    integer part and only drops fractional digits, as ``trunc`` does: the result is
    ``C − ⌈q⌉``. With ``C·d = fl·n + r`` (``fl = ⌊C/N_epw⌋``): ``⌈q⌉ = fl`` when ``r = 0``;
    ``1`` when ``fl = 0`` (34 digits of a positive ``q < 1`` are not all zero); otherwise ``fl``
    plus one if the ``k = 34 − digits(fl)`` fractional digits kept are not all zero
    (``r·10^k ≥ n``; ``k ≥ 6`` when ``fl < 10^28``, so a fraction of at least 10⁻⁶ settles it
    at once), or, when ``fl`` has more than 34 digits, ``fl`` with its digits beyond the 34th
    zeroed. Larger or negative ``C`` (beyond any supply) and a negative ``N_epw`` take the
    decimal route itself.
    """
    if epw is None:
        return c
    if c == 0:
        return 0
    n, d = epw
    if not 0 < c < _E34 or n < 0:  # beyond any revenue or N_epw (from invalid parameters)
        with localcontext(_DEC34):
            return max(0, int(Decimal(c) - Decimal(c) / (Decimal(n) / Decimal(d))))
    fl, r = divmod(c * d, n)
    if r == 0:
        q = fl
    elif fl == 0 or (fl < _E28 and r * 1_000_000 >= n):
        q = fl + 1
    else:
        k = 34 - len(str(fl))
        q = fl + (r * 10**k >= n) if k > 0 else fl - fl % 10**-k
    return max(0, c - q)


def skim_top_topics(weights: Array, active: Mask, limit: int) -> Mask:
    """``SkimTopTopicsByWeightDesc``: the ``limit`` heaviest active topics, ties by topic id
    (the chain's "random" tiebreaker compares ids, §14)."""
    w = np.where(active, np.asarray(weights, dtype=np.float64), -np.inf)
    order = np.lexsort((np.arange(len(w)), -w))
    keep = np.zeros(len(w), dtype=bool)
    chosen = [i for i in order if active[i]][: max(limit, 0)]
    keep[chosen] = True
    return keep


def activate_within_places(
    active: Mask, weights: Array, candidates: Mask, places: int
) -> tuple[Mask, Mask]:
    """``ActivateTopic`` → ``addTopicToActiveSetRespectingLimitsWithoutMinWeightReset`` (§7.3):
    the candidate topics (inactive, current weight ≥ MinTopicWeight) are tried in id order; one
    takes a free place, or, when all ``places`` are taken, replaces the lightest active topic
    (the first of the lightest) if its weight is at least that one's; otherwise it stays out.

    Returns ``(active, replaced)``: the active topics after, and those that lost their place.
    """
    active = np.array(active, dtype=bool)
    weights = np.asarray(weights, dtype=np.float64)
    replaced = np.zeros(active.shape, dtype=bool)
    for t in np.flatnonzero(np.asarray(candidates, dtype=bool) & ~active).tolist():
        if np.count_nonzero(active) >= places:
            on = np.flatnonzero(active)
            lightest = int(on[np.argmin(weights[on])])
            if weights[t] < weights[lightest]:
                continue
            active[lightest] = False
            replaced[lightest] = True
        active[t] = True
    return active, replaced


def topic_rewards(
    weights: Array,
    sum_weights: float,
    block_emission: float,
    epoch_length: Array | int,
    treasury: float,
) -> Array:
    """``CalcTopicRewards`` (§6.1): ``E_t = (w_t / W_sum) · e_block · ℓ_t`` for the topics
    rewarded this block (``weights`` holds only those; weight 0 gets nothing). If their total
    exceeds the rewards treasury, a single topic gets the whole treasury, several share it as
    ``treasury · w_t ℓ_t / Σ w ℓ``."""
    w = np.asarray(weights, dtype=np.float64)
    ell = np.broadcast_to(np.asarray(epoch_length, dtype=np.float64), w.shape)
    if sum_weights <= 0:
        raise ValueError(f"sum of topic weights is {sum_weights!r}: must be > 0")
    per = np.where(w == 0, 0.0, (w / sum_weights) * block_emission * ell)
    if per.sum() <= treasury:
        return per
    if len(w) == 1:
        return np.full(1, float(treasury))
    factor = w * ell
    return treasury * factor / factor.sum()
