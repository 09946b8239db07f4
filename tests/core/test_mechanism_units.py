"""Unit tests of the mechanism's building blocks against the spec, research targets and the
chain's Go test literals (expectations derived independently of the implementation)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from allora_sim.core import ValueBundle
from allora_sim.core.consensus import _gram, _scores_general, _scores_gram
from allora_sim.core.maths import (
    ema,
    masked_median,
    masked_std,
    phi,
    phi_prime,
    quantile_of_decs,
    same,
)
from allora_sim.core.regrets import topic_initial_regret
from allora_sim.core.rewards import (
    ENTROPY_SINGLE_PARTICIPANT,
    chi_from_ratio,
    delegator_cut,
    forecasting_utility,
    normalization_factor,
    payouts_uallo,
    payouts_uallo_rows,
    reputer_reward_fractions,
    smoothed_fractions_and_entropy,
    worker_reward_fractions,
)
from allora_sim.core.scores import append_score_history, forecaster_scores, inferer_scores
from allora_sim.core.synthesis import regret_weights, weighted_percentiles


def test_weight_map_values_of_research_target_t1() -> None:
    x = np.array([0.75, 0.0, 2.0, 1e3])
    got = phi_prime(3.0, 0.75, x)
    np.testing.assert_allclose(got[:3], [1.5, 0.28604839, 2.93106789], rtol=2e-8)
    assert got[3] == pytest.approx(3.0)


def test_potential_is_softplus_and_overflow_safe() -> None:
    x = np.array([-1.0, 0.75, 2.0, 1e6])
    want = [math.log1p(math.exp(3 * (v - 0.75))) for v in x[:3]]
    got = phi(3.0, 0.75, x)
    np.testing.assert_allclose(got[:3], want, rtol=1e-14)
    assert got[3] == pytest.approx(3 * (1e6 - 0.75))


def test_ema_in_place_gives_the_same_numbers() -> None:
    """§0 CalcEma ``α·x + (1−α)·prev`` (x itself the first time or when equal): reusing the
    previous values' array for the result changes no bit, NaN, shortcut and first time included."""
    rng = np.random.default_rng(3)
    cur = rng.normal(size=(4, 50))
    prev = rng.normal(size=(4, 50))
    prev[0, :5] = cur[0, :5]  # the equal-values shortcut
    cur[1, :3] = np.nan
    prev[2, :3] = np.nan
    first = rng.random((4, 50)) < 0.2
    for f in (False, first):
        want = ema(0.3, cur, prev, f)
        mine = prev.copy()
        got = ema(0.3, cur, mine, f, overwrite=True)
        assert got is mine
        np.testing.assert_array_equal(got, want)
        assert np.array_equal(want[0, :5], cur[0, :5])
        if f is not False:
            np.testing.assert_array_equal(want[first], cur[first])


def test_std_is_bessel_corrected_and_zero_for_one_value() -> None:
    x = np.array([[1.0, 2.0, 4.0, np.nan], [5.0, np.nan, np.nan, np.nan]])
    m = np.isfinite(x)
    np.testing.assert_allclose(masked_std(x, m), [np.std([1, 2, 4], ddof=1), 0.0])


def test_quantile_of_decs_matches_linear_percentile() -> None:
    rng = np.random.default_rng(3)
    for n in (1, 2, 5, 8, 13):
        x = rng.normal(size=n)
        for q in (0.0, 0.2, 0.25, 0.5, 0.99):
            got = quantile_of_decs(x[None], np.ones((1, n), bool), q)[0]
            assert got == pytest.approx(np.percentile(x, 100 * q), rel=1e-12, abs=1e-15)
    assert quantile_of_decs(np.zeros((1, 3)), np.zeros((1, 3), bool), 0.5)[0] == 0.0


def test_median_even_count_is_mean_of_middle_values() -> None:
    x = np.array([[4.0, 1.0, 3.0, 2.0]])
    assert masked_median(x, np.ones_like(x, bool))[0] == 2.5


def test_initial_regret_go_literal() -> None:
    # TestCalcTopicInitialRegret (mechanism.md §3.3)
    regrets = np.array(
        [
            [
                0.6445506208021189,
                1.0216386898413485,
                0.6092049398135028,
                0.6971588004566455,
                0.9030751421888253,
                0.8219035038858344,
            ]
        ]
    )
    got = topic_initial_regret(regrets, np.ones_like(regrets, bool), 1e-4, 3.0, 0.75, 0.25, 8.25)
    assert got[0] == pytest.approx(0.33548207605264121, rel=1e-12)


def test_regret_weights_cap_shift_and_cut() -> None:
    p, c, eps = 3.0, 0.75, 0.01
    # Two members with the same regret: σ = 0, normalised regret = R/ε.
    w = regret_weights(np.array([[0.5, 0.5]]), np.ones((1, 2), bool), eps, p, c)
    # 0.5/0.01 = 50 is capped at U = c + 6.75/p = 3
    np.testing.assert_allclose(w, phi_prime(p, c, np.array([[3.0, 3.0]])))
    # All normalised regrets below A0 = c − 8.25/p = −2: the best is shifted to A0, and
    # anything more than 17.25/p − 8.25/p = 3 below it gets weight 0
    r = np.array([[-1.0 - 0.001 * i for i in range(11)] + [-2.0]])
    d = np.std(r, ddof=1) + eps
    assert (r / d).max() < -2
    shifted = r / d - r.max() / d + (c - 8.25 / p)
    assert shifted[0, -1] < c - 17.25 / p
    want = np.where(shifted < c - 17.25 / p, 0.0, phi_prime(p, c, shifted))
    got = regret_weights(r, np.ones((1, 12), bool), eps, p, c)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert got[0, -1] == 0.0
    assert want[0, 0] == pytest.approx(phi_prime(p, c, np.array(-2.0)))
    # Non-members get 0 and do not enter σ
    w = regret_weights(np.array([[1.0, 2.0, 99.0]]), np.array([[True, True, False]]), eps, p, c)
    assert w[0, 2] == 0.0
    # A non-member may hold NaN; a row without members gets zeros, without warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        w = regret_weights(
            np.array([[np.nan, 1.0], [np.nan, np.nan]]),
            np.array([[False, True], [False, False]]),
            eps,
            p,
            c,
        )
    np.testing.assert_array_equal(
        w, [[0.0, phi_prime(p, c, np.array(1.0 / eps).clip(max=3.0))], [0, 0]]
    )


@pytest.mark.parametrize("axis", [-1, 0])
def test_regret_weights_for_finite_regrets_are_the_masked_ones(axis: int) -> None:
    """``finite=True`` (masking by multiplication, non-members pushed below the maximum)
    gives the select-based weights bit for bit: members of any count per row (none, one,
    all), large and tiny regrets, exact ties, both list axes; and a row without members
    warns of nothing."""
    rng = np.random.default_rng(3)
    for trial in range(40):
        shape = (9, 7, 11)
        regret = rng.normal(0.0, 10.0 ** rng.integers(-3, 4), shape)
        regret[0] = 0.25  # ties
        member = rng.random(shape) < rng.choice([0.1, 0.5, 0.9, 1.0])
        member[1] = False  # rows without members
        member[2] = True
        member[3, :, 1:] = False  # a single member
        for p, c in ((3.0, 0.75), (2.0, 0.25), (4.5, 1.0)):
            want = regret_weights(regret, member, 1e-4, p, c, axis=axis)
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                got = regret_weights(regret, member, 1e-4, p, c, axis=axis, finite=True)
            assert np.array_equal(got, want), (trial, p, c)
            assert np.array_equal(
                masked_std(regret, member, axis, finite=True), masked_std(regret, member, axis)
            )
        # regrets broadcast over a context axis (as the forecast-implied inferences pass
        # them): C-ordered weights like the select's, so later sums add in the same order
        base = np.ascontiguousarray(regret[:, 0].T)  # laid out list axis fastest
        shared = np.broadcast_to(base.T[:, None, :], shape)
        assert shared.strides[0] < shared.strides[2]
        got = regret_weights(shared, member, 1e-4, 3.0, 0.75, axis=axis, finite=True)
        assert got.flags.c_contiguous
        assert np.array_equal(got, regret_weights(shared, member, 1e-4, 3.0, 0.75, axis=axis))

    # extreme finite regrets: an overflowing σ, a non-member's r̂ overflowing to +∞ — the
    # finite path hands these to the select, whose numbers they are
    member3 = np.array([[True, True, False]])
    for extreme in ([[1e160, -1e160, 3.0]], [[-1.0, -1.0, 1e307]], [[1e307, -1.0, 2.0]]):
        with np.errstate(invalid="ignore", over="ignore"):  # ∞ − ∞ and ∞/∞ on the way
            want = regret_weights(np.array(extreme), member3, 0.01, 3.0, 0.75)
            got = regret_weights(np.array(extreme), member3, 0.01, 3.0, 0.75, finite=True)
        assert np.array_equal(got, want, equal_nan=True), extreme


def test_same_is_array_equal() -> None:
    ids = np.arange(12).reshape(3, 4)
    cases = [
        (ids, ids.copy()),
        (ids, ids),
        (ids, ids + (ids == 7)),
        (ids, ids.T.copy().T),  # another memory layout
        (ids, ids[:, :3]),
        (ids > 5, ids > 5),
        (ids > 5, ids > 6),
        (ids.astype(np.int32), ids),  # another dtype: compared by value
        (np.array([0.0, 1.0]), np.array([-0.0, 1.0])),  # ±0 are equal
        (np.array([np.nan, 1.0]), np.array([np.nan, 1.0])),  # NaN is not
    ]
    nan = np.array([np.nan])
    cases.append((nan, nan))  # not even itself
    for a, b in cases:
        assert same(a, b) == np.array_equal(a, b), (a, b)


def test_weighted_percentiles_interpolate_plotting_positions() -> None:
    v = np.array([[1.0, 2.0, 3.0]])
    w = np.array([[1.0, 1.0, 2.0]])
    # cumulative 1, 2, 4; positions (C − w/2)/4 = 0.125, 0.375, 0.75
    got = weighted_percentiles(v, w, np.ones((1, 3), bool), np.array([10.0, 25.0, 50.0, 90.0]))
    np.testing.assert_allclose(got[0], [1.0, 1.5, 1 * 0 + 2 + (0.5 - 0.375) / 0.375, 3.0])


def _bundle(**kw) -> ValueBundle:
    n, k = kw.pop("n"), kw.pop("k")
    base = ValueBundle.absent((1,), n, k)
    fields = {f: getattr(base, f) for f in base.__dataclass_fields__}
    fields.update(
        {
            key: np.asarray(val, float)[None] if np.ndim(val) else np.array([val])
            for key, val in kw.items()
        }
    )
    return ValueBundle(**fields)


def test_inferer_scores_are_one_out_minus_combined() -> None:
    b = _bundle(
        n=3,
        k=0,
        combined=-2.0,
        naive=-1.5,
        inferer=[-1.0, -2.0, -3.0],
        oneout_inferer=[-2.5, -1.8, -2.0],
    )
    score, scored, single = inferer_scores(b)
    np.testing.assert_allclose(score[0], [-0.5, 0.2, 0.0])
    assert scored.all() and not single[0]


def test_single_inferer_scores_zero() -> None:
    b = _bundle(n=2, k=0, combined=-2.0, naive=-2.0, inferer=[-1.0, np.nan])
    score, scored, single = inferer_scores(b)
    assert single[0] and score[0, 0] == 0.0 and not scored[0, 1]


def test_forecaster_score_blend_three_forecasters() -> None:
    b = _bundle(
        n=2,
        k=3,
        combined=-2.0,
        naive=-1.0,
        forecaster=[-1.0, -1.1, -1.2],
        oneout_forecaster=[-1.9, -2.1, -2.0],
        onein_forecaster=[-1.5, -0.8, -1.0],
    )
    score, scored, single, mismatch = forecaster_scores(b)
    f = 0.25  # 1/2^(3−1)
    want = [
        f * (-1.0 - x) + (1 - f) * (y + 2.0)
        for x, y in zip([-1.5, -0.8, -1.0], [-1.9, -2.1, -2.0], strict=True)
    ]
    np.testing.assert_allclose(score[0], want)
    assert scored.all() and not single[0] and not mismatch[0]
    # a one-in forecaster without a one-out partner is the chain's index error
    b2 = _bundle(
        n=2,
        k=2,
        combined=-2.0,
        naive=-1.0,
        forecaster=[-1.0, -1.1],
        oneout_forecaster=[-1.9, np.nan],
        onein_forecaster=[-1.5, -0.8],
    )
    assert forecaster_scores(b2)[3][0]


def test_score_window_keeps_latest_ten_scores_newest_block_first() -> None:
    hist = np.full((1, 10), np.nan)
    for epoch in range(4):  # three forecasters per block
        hist = append_score_history(
            hist, np.array([[epoch, epoch + 0.1, epoch + 0.2]]), np.ones((1, 3), bool)
        )
    # blocks 3, 2, 1 whole and the first stored score of block 0 (mechanism.md §5.4)
    np.testing.assert_allclose(hist[0], [3, 3.1, 3.2, 2, 2.1, 2.2, 1, 1.1, 1.2, 0])
    # a block with more than ten scores keeps its last ten
    many = np.arange(12.0)[None]
    np.testing.assert_allclose(
        append_score_history(hist, many, np.ones((1, 12), bool))[0], np.arange(2.0, 12.0)
    )


def test_worker_fractions_flat_when_window_has_no_spread() -> None:
    scores = np.array([[0.1, 0.5, -0.2]])
    hist = np.array([[0.1, 0.1, 0.1, np.nan]])
    frac = worker_reward_fractions(scores, np.ones((1, 3), bool), hist, 3.0, 0.75, 0.01)
    np.testing.assert_allclose(frac[0], [1 / 3] * 3)
    hist = np.array([[0.1, 0.5, -0.2, 0.3]])
    frac = worker_reward_fractions(scores, np.ones((1, 3), bool), hist, 3.0, 0.75, 0.01)
    sd = np.std(hist, ddof=1)
    m = np.log1p(np.exp(3 * (scores[0] / (sd + 0.01) - 0.75)))
    np.testing.assert_allclose(frac[0], m / m.sum(), rtol=1e-13)


def test_reputer_fractions_power_of_stake_times_score() -> None:
    stake = np.array([[1.0, 2.0, 0.0]])
    score = np.array([[3.0, 1.0, 5.0]])
    frac = reputer_reward_fractions(stake, score, np.ones((1, 3), bool), 3.0)
    np.testing.assert_allclose(frac[0], [27 / 35, 8 / 35, 0.0])


def test_entropy_uses_unnormalised_ema_for_n_eff() -> None:
    f = np.array([[0.5, 0.3, 0.2]])
    prev = np.array([[0.2, 0.2, np.nan]])  # third participant has no previous fraction
    ent, smooth, stored, ok = smoothed_fractions_and_entropy(
        f, np.ones((1, 3), bool), prev, 0.1, 0.25
    )
    e = np.array([0.1 * 0.5 + 0.9 * 0.2, 0.1 * 0.3 + 0.9 * 0.2, 0.2])
    fhat = e / e.sum()
    n_eff = 1 / (e**2).sum()
    assert ent[0] == pytest.approx(-(fhat * np.log(fhat)).sum() * (n_eff / 3) ** 0.25, rel=1e-14)
    np.testing.assert_allclose(smooth[0], fhat)
    assert stored[0] and ok[0]
    one = smoothed_fractions_and_entropy(
        np.array([[1.0]]), np.ones((1, 1), bool), np.full((1, 1), np.nan), 0.1, 0.25
    )
    assert one[0][0] == ENTROPY_SINGLE_PARTICIPANT
    # a zero smoothed fraction: the chain's Ln(0) fails after storing
    zero = smoothed_fractions_and_entropy(
        np.array([[1.0, 0.0]]), np.ones((1, 2), bool), np.full((1, 2), np.nan), 0.1, 0.25
    )
    assert zero[2][0] and not zero[3][0]


def test_chi_piecewise_and_gamma_keeps_u_plus_v() -> None:
    np.testing.assert_allclose(
        chi_from_ratio(np.array([-0.5, 0.0, 0.5, 1.0, 3.0])), [0.1, 0.1, 0.3, 0.5, 0.5]
    )
    f, g = np.array([1.2]), np.array([0.7])
    for chi in (0.1, 0.3, 0.5):
        gamma = normalization_factor(f, g, np.array([chi]))
        assert ((1 - chi) * gamma * f + chi * gamma * g)[0] == pytest.approx((f + g)[0])
    # m = 0 and T_F = 0: χ = 0.5, stored ratio reset to 0 (mechanism.md §14)
    chi, ratio = forecasting_utility(
        np.array([0.0]), np.array([[-1.0, -2.0]]), np.ones((1, 2), bool), np.array([0.7]), 0.1
    )
    assert chi[0] == 0.5 and ratio[0] == 0.0
    chi, ratio = forecasting_utility(
        np.array([-0.4]), np.array([[-1.0, -2.0]]), np.ones((1, 2), bool), np.array([0.7]), 0.1
    )
    assert ratio[0] == pytest.approx(0.1 * -1.0 + 0.9 * 0.7)


def test_delegator_cut_truncates_and_payouts_never_exceed_available() -> None:
    kept, cut = delegator_cut(
        np.array([[1000.0, 999.9]]), np.array([[300.0, 3.0]]), np.array([[100.0, 1.0]])
    )
    np.testing.assert_allclose(cut[0], [333.0, 333.0])
    np.testing.assert_allclose(kept[0], [667.0, 666.9])
    rewards = np.array([1e24 / 3] * 3)
    out = payouts_uallo(rewards, 10**24)
    assert sum(out) <= 10**24 and all(x >= 0 for x in out)
    assert payouts_uallo(np.array([2.7, 0.0, np.nan]), 10) == [2, 0, 0]
    # exact on either side of int64's range (numpy's conversion below 2^63, Python's above)
    assert payouts_uallo(np.array([9.2e18, 1.5]), 10**20) == [9_200_000_000_000_000_000, 1]
    assert payouts_uallo(np.array([1e19, 1.5]), 10**20) == [10_000_000_000_000_000_000, 1]
    mixed = np.array([[2.0**63 - 1024.0, 2.0**63, 3.7, 4.5e20, np.nan, 2.0**70 + 2.0**18]])
    got = payouts_uallo_rows(mixed, [10**24])[0]
    assert got == [2**63 - 1024, 2**63, 3, 450_000_000_000_000_000_000, 0, 2**70 + 2**18]
    assert all(type(x) is int for x in got)


def test_flat_bundle_round_trips_in_extract_values_order() -> None:
    rng = np.random.default_rng(3)
    b, m, n, k = 2, 3, 4, 2
    lead = (b, m)
    bundle = ValueBundle(
        combined=rng.normal(size=lead),
        naive=rng.normal(size=lead),
        inferer=rng.normal(size=(*lead, n)),
        forecaster=rng.normal(size=(*lead, k)),
        oneout_inferer=rng.normal(size=(*lead, n)),
        oneout_forecaster=rng.normal(size=(*lead, k)),
        onein_forecaster=rng.normal(size=(*lead, k)),
        oneout_inferer_forecaster=rng.normal(size=(*lead, k, n)),
    )
    flat = bundle.flat()
    assert flat.shape == (b, m, 2 + 2 * n + k * (n + 3))
    # ExtractValues order: combined, naive, inferers, forecasters, one-out inferer-forecaster,
    # one-out inferers, one-out forecasters, one-in forecasters.
    assert flat[0, 1, 2 + n + k] == bundle.oneout_inferer_forecaster[0, 1, 0, 0]
    assert flat[0, 1, -1] == bundle.onein_forecaster[0, 1, -1]
    back = ValueBundle.from_flat(flat, n, k)
    for name in ("combined", "naive", "inferer", "oneout_inferer_forecaster", "onein_forecaster"):
        np.testing.assert_array_equal(getattr(back, name), getattr(bundle, name))
    with pytest.raises(ValueError, match="4 inferers and 2 forecasters has 24 entries, got 23"):
        ValueBundle.from_flat(flat[..., :-1], n, k)


def test_consensus_scores_of_both_paths_match_their_definition() -> None:
    """``GetConsensusScore`` by its definition — consensus ``Σ_m Ŝ_m L_m / Σ Ŝ`` of complete
    reports, score ``1/(‖L_m − L̄‖/‖L̄‖ + ε)`` — against the Gram-matrix path and the general
    path (relative distances) the search evaluates them by."""
    rng = np.random.default_rng(7)
    b, m, e, eps = 3, 5, 40, 0.01
    losses = rng.normal(-2.0, 1.0, (b, m, e))
    adj = rng.uniform(0.1, 1.0, (b, m + 1, m))  # (B, C, M): C adjusted-stake vectors
    want = np.empty((b, m + 1, m))
    for t in range(b):
        for c in range(m + 1):
            cons = adj[t, c] @ losses[t] / adj[t, c].sum()
            dist = np.linalg.norm(losses[t] - cons, axis=1)
            want[t, c] = 1.0 / (dist / np.linalg.norm(cons) + eps)
    gram, q, rr = _gram(losses, np.ones((b, m), dtype=bool))
    got = _scores_gram(
        adj.transpose(1, 2, 0),
        gram.transpose(1, 2, 0),
        np.diagonal(gram, axis1=1, axis2=2).T,
        q.T,
        rr,
        eps,
        1e-7,
    )  # (C, M, B)
    np.testing.assert_allclose(got.transpose(2, 0, 1), want, rtol=1e-12)
    general = _scores_general(
        adj, losses, np.ones((b, m, e)), losses, np.zeros((b, 1, e)), eps, 1e-7
    )  # (B, M, C)
    np.testing.assert_allclose(general.transpose(0, 2, 1), want, rtol=1e-12)


def test_expand_and_take_last_equal_numpy() -> None:
    """The core's shortcuts for ``np.expand_dims`` and ``np.take_along_axis(…, axis=-1)``
    (cached row offsets, reused across calls of one shape)."""
    from allora_sim.core.maths import expand, take_last

    rng = np.random.default_rng(3)
    a = rng.normal(size=(2, 3, 4))
    for axis in (-1, -2, -3, -4, 0, 1, 2, 3):
        assert np.array_equal(expand(a, axis), np.expand_dims(a, axis))
    for _ in range(2):  # second round: offsets from the cache
        idx = rng.integers(0, 4, size=(2, 3, 5))
        assert np.array_equal(take_last(a, idx), np.take_along_axis(a, idx, axis=-1))
        assert np.array_equal(take_last(a[0], idx[0]), np.take_along_axis(a[0], idx[0], axis=-1))


def test_reward_fractions_of_scores_whose_phi_underflows_keep_their_ratios() -> None:
    """φ(x) = ln(1 + e^{p(x−c)}) underflows to 0 in float64 for very negative x, where the
    chain's decimals still hold e^{p(x−c)}: the fractions keep those ratios and sum to 1 (they
    were 0/0 = NaN, and a paid topic returned NaN rewards)."""
    from allora_sim.core.rewards import worker_reward_fractions

    score = np.array([[-200.0, -200.5, -199.0]])
    history = np.array([[-200.0, -200.5, -199.0, -201.0]])
    p, c, eps = 3.0, 0.75, 0.01
    frac = worker_reward_fractions(score, np.ones((1, 3), bool), history, p, c, eps)
    assert np.isfinite(frac).all() and frac.sum() == pytest.approx(1.0, rel=1e-15)
    sd = np.std(history, ddof=1)
    assert frac[0, 0] / frac[0, 1] == pytest.approx(np.exp(p * 0.5 / (sd + eps)), rel=1e-12)
    # scores in float64's range are untouched by the fallback
    normal = worker_reward_fractions(score / 100, np.ones((1, 3), bool), history / 100, p, c, eps)
    assert np.isfinite(normal).all() and normal.sum() == pytest.approx(1.0)
