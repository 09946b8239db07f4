"""Forecaster track records: EWMAs of revealed losses, overall and per regime; the reputers'
Gaussian noise."""

from __future__ import annotations

import numpy as np
from scipy import stats

from allora_sim.agents.behaviours import (
    ContextAware,
    ContextParams,
    EpochContext,
    HistoryParams,
    HonestParams,
    HonestReputer,
    NaiveHistory,
    Revealed,
    ValuePayer,
    ValuePayerParams,
    standard_normal32,
)
from allora_sim.core import ValueBundle


def _ctx(
    epoch: int, context: list[int], revealed: Revealed | None, n_contexts: int = 2, n: int = 3
) -> EpochContext:
    t = len(context)
    return EpochContext(
        epoch=epoch,
        truth=np.zeros(t),
        context=np.array(context),
        n_contexts=n_contexts,
        scale=np.ones(t),
        n_inferers=n,
        revealed=revealed,
        loss=None,
    )


def _revealed(epoch: int, context: list[int], loss: np.ndarray) -> Revealed:
    t = loss.shape[0]
    return Revealed(
        epoch=epoch,
        truth=np.zeros(t),
        context=np.array(context),
        inference=np.zeros_like(loss),
        inferer_loss=loss,
        network_loss=np.zeros(t),
    )


# members: two in topic 1, one in topic 0 (the group spans topics in any order)
TOPICS = np.array([1, 0, 1])
SLOTS = np.array([0, 0, 1])
L1 = np.array([[-1.0, -2.0, np.nan], [-3.0, -1.5, -2.5]])  # revealed in regime (0, 1)
L2 = np.array([[-2.0, -1.0, -4.0], [-1.0, np.nan, -0.5]])  # revealed in regime (0, 0)


def test_naive_history_forecasts_each_topics_ewma_of_revealed_losses() -> None:
    a = 0.25
    g = NaiveHistory(HistoryParams(alpha=a), TOPICS, SLOTS, np.random.default_rng(0))
    g.forecast(_ctx(0, [0, 0], None))
    g.forecast(_ctx(1, [0, 1], _revealed(0, [0, 1], L1)))
    got = g.forecast(_ctx(2, [0, 0], _revealed(1, [0, 0], L2)))
    # first loss starts the EWMA; a missing loss keeps it; NaN until a loss is seen
    want = np.where(np.isnan(L1), L2, np.where(np.isnan(L2), L1, a * L2 + (1 - a) * L1))
    np.testing.assert_array_equal(got, want[TOPICS])


def test_context_aware_forecast_mixes_the_current_regimes_record_and_the_overall_one() -> None:
    a = 0.5
    g = ContextAware(
        ContextParams(alpha=a, sensitivity=1.0), TOPICS, SLOTS, np.random.default_rng(0)
    )
    g.forecast(_ctx(0, [0, 0], None))
    g.forecast(_ctx(1, [0, 1], _revealed(0, [0, 1], L1)))
    g.forecast(_ctx(2, [0, 0], _revealed(1, [0, 0], L2)))
    # topic 0 saw regime 0 twice; topic 1 saw regime 1 then regime 0
    overall = np.where(np.isnan(L1), L2, np.where(np.isnan(L2), L1, a * L2 + (1 - a) * L1))
    in_regime_1 = np.array([overall[0], L1[1]])  # topic 1's only regime-1 record is L1
    got = g.forecast(_ctx(3, [0, 1], None))
    np.testing.assert_array_equal(got, in_regime_1[TOPICS])
    # sensitivity 0: the overall record whatever the regime
    g0 = ContextAware(
        ContextParams(alpha=a, sensitivity=0.0), TOPICS, SLOTS, np.random.default_rng(0)
    )
    for e, (ctx, rev) in enumerate(
        [([0, 0], None), ([0, 1], (0, [0, 1], L1)), ([0, 0], (1, [0, 0], L2))]
    ):
        g0.forecast(_ctx(e, ctx, None if rev is None else _revealed(*rev)))
    np.testing.assert_array_equal(g0.forecast(_ctx(3, [0, 1], None)), overall[TOPICS])


def test_value_payer_keeps_its_record_through_an_epoch_without_a_network_loss() -> None:
    """Pays rate·max(baseline − EWMA of revealed network losses, 0); a topic that had no
    inferences (network loss NaN) neither resets nor moves the EWMA."""
    p = ValuePayerParams(rate=2.0, baseline=-4.0, alpha=0.5, cap=100.0)
    g = ValuePayer(p, np.array([0]), np.array([0]), np.random.default_rng(0))

    def pay(epoch: int, loss: float | None) -> float:
        rev = None
        if loss is not None:
            rev = Revealed(
                epoch - 1,
                np.zeros(1),
                np.zeros(1),
                np.zeros((1, 3)),
                np.zeros((1, 3)),
                np.array([loss]),
            )
        return float(g.pay(_ctx(epoch, [0], rev))[0])

    assert pay(0, None) == 0.0  # nothing revealed yet
    assert pay(1, -5.0) == 2.0 * 1.0
    assert pay(2, np.nan) == 2.0 * 1.0  # kept, not reset
    assert pay(3, -7.0) == 2.0 * (-4.0 - (0.5 * -7.0 + 0.5 * -5.0))


def test_context_aware_keeps_a_record_for_every_context_of_the_world() -> None:
    """Twenty contexts, inferer c good only in context c: the forecast in each context ranks
    that context's specialist first (no contexts share a record)."""
    n = 20
    g = ContextAware(
        ContextParams(alpha=0.5, sensitivity=1.0),
        np.array([0]),
        np.array([0]),
        np.random.default_rng(0),
    )
    g.forecast(_ctx(0, [0], None, n_contexts=n, n=n))
    for c in range(n):
        loss = np.full((1, n), -2.0)
        loss[0, c] = -6.0
        g.forecast(_ctx(c + 1, [0], _revealed(c, [c], loss), n_contexts=n, n=n))
    for c in range(n):
        got = g.forecast(_ctx(n + 1, [c], None, n_contexts=n, n=n))
        assert int(np.argmin(got[0])) == c


def test_box_muller_draws_are_independent_standard_normals() -> None:
    rng = np.random.default_rng(7)
    x = standard_normal32(rng, (3, 200_001))  # an odd count: the last pair is cut
    assert x.shape == (3, 200_001) and x.dtype == np.float32
    flat = x.ravel().astype(np.float64)
    # N(0, 1): moments and the whole distribution (Kolmogorov–Smirnov), at 600,003 draws
    assert abs(flat.mean()) < 5 / np.sqrt(flat.size)
    assert abs(flat.var() - 1.0) < 5 * np.sqrt(2 / flat.size)
    assert stats.kstest(flat, "norm").pvalue > 1e-3
    # each Box–Muller pair shares a radius: its two halves must still be uncorrelated, in
    # value and in magnitude
    h = (flat.size + 1) // 2
    a, b = flat[: flat.size - h], flat[h:]
    assert abs(np.corrcoef(a, b)[0, 1]) < 5 / np.sqrt(a.size)
    assert abs(np.corrcoef(np.abs(a), np.abs(b))[0, 1]) < 5 / np.sqrt(a.size)
    # tails: P(|z| > 3) = 0.0027
    assert abs(np.mean(np.abs(flat) > 3.0) - 0.0027) < 5 * np.sqrt(0.0027 / flat.size)
    # reproducible from the generator's state
    assert np.array_equal(standard_normal32(np.random.default_rng(7), (3, 200_001)), x)
    # the uniforms are the generator's own float32 draws, taken from its raw output
    rng = np.random.default_rng(11)
    u = rng.random(2 * 5, dtype=np.float32)
    radius = np.sqrt(np.float32(-2.0) * np.log(np.float32(1.0) - u[:5]))
    angle = u[5:] * np.float32(2.0 * np.pi)
    want = np.concatenate([np.cos(angle) * radius, np.sin(angle) * radius])[:9]
    gen = np.random.default_rng(11)
    got = standard_normal32(gen, (9,))
    assert np.array_equal(got, want)
    assert gen.random() == rng.random()  # and it leaves the generator where they do


def test_honest_reports_are_the_exact_losses_plus_bias_and_noise_in_any_group_layout() -> None:
    """A reputer group spanning whole topics in order (each member's exact losses found by
    broadcasting its topic's row) reports what a group in any other layout does: for every
    member, its topic's exact losses + its bias + its noise × its own Gaussian draws."""
    n, k = 3, 2
    exact = ValueBundle.from_flat(
        np.random.default_rng(0).normal(size=(4, 2 + 2 * n + k * (n + 3))), n, k
    )
    ctx = _ctx(0, [0, 0, 0, 0], None, n=n)
    grid_topics = np.repeat(np.arange(4), 3)
    layouts = {
        "grid": (grid_topics, np.tile(np.arange(3), 4)),
        "shuffled": (np.array([2, 0, 3, 1, 1, 0]), np.array([0, 1, 2, 0, 1, 2])),
        "missing topic 0": (np.repeat(np.arange(1, 4), 2), np.tile(np.arange(2), 3)),
    }
    for name, (topics, slots) in layouts.items():
        rep = HonestReputer(HonestParams(), topics, slots, np.random.default_rng(5))
        assert (rep._bias_grid is not None) == (name == "grid")
        got = rep.report(ctx, exact).flat()
        # the same draws replayed from a twin's generator, added as the definition says
        twin = HonestReputer(HonestParams(), topics, slots, np.random.default_rng(5))
        want = exact.flat()[topics] + twin.bias[:, None]
        draws = standard_normal32(twin.rng, want.shape)
        draws *= twin.noise32[:, None]
        want += draws
        assert np.array_equal(got, want), name
