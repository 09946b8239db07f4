"""Behaviours of the mechanism that no other test pinned down (found by mutation testing).

Each test names the `mechanism.md` section it checks; expected values come from the spec's
formulas worked by hand (or by plain numpy on the formula), never from the implementation.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from allora_sim.core import (
    MechanismParams,
    RegretStore,
    RewardError,
    TopicState,
    ValueBundle,
    run_topic_epoch,
    synthesize,
)
from allora_sim.core.consensus import adjusted_stakes, reputer_consensus
from allora_sim.core.losses import accepted_reports, network_losses
from allora_sim.core.regrets import update_regrets
from allora_sim.core.rewards import delegator_cut, worker_reward_fractions
from allora_sim.core.scores import forecaster_scores
from allora_sim.core.synthesis import (
    ERROR_BAR_PERCENTILES,
    forecast_implied_inferences,
    regret_weights,
    weighted_percentiles,
)
from allora_sim.synthetic import random_epoch_inputs

P = MechanismParams()
EPS, PN, CN = 0.01, 3.0, 0.75  # topic ε, PNorm, CNorm


def _bundle(lead: tuple[int, ...], n: int, k: int, **values: object) -> ValueBundle:
    """A bundle of leading shape ``lead`` with the given fields set, every other entry absent."""
    base = ValueBundle.absent(lead, n, k)
    fields = {f: getattr(base, f) for f in base.__dataclass_fields__}
    for name, v in values.items():
        fields[name] = np.asarray(v, dtype=float).reshape(fields[name].shape)
    return ValueBundle(**fields)


def _new(n: int, k: int, m: int) -> TopicState:
    return TopicState.new(np.arange(n)[None], np.arange(k)[None], np.arange(m)[None])


def _drop_inferer_loss(inp, j: int):
    """The same epoch with no reputer reporting inferer ``j``'s own loss."""
    rl = inp.reputer_losses
    inferer = rl.inferer.copy()
    inferer[0, :, j] = np.nan
    return replace(inp, reputer_losses=replace(rl, inferer=inferer))


def _consensus(losses, reported, coefficient, **kw):
    """``reputer_consensus`` with equal stakes and the module defaults, one iteration unless
    ``kw`` says otherwise."""
    losses = np.asarray(losses, dtype=float)
    b, m, _ = losses.shape
    args = {
        "learning_rate": 0.05,
        "max_iters": 1,
        "max_gradient_threshold": 0.001,
        "min_stake_fraction": 0.5,
        "epsilon_reputer": 0.01,
        "epsilon_safe_div": 1e-7,
    }
    args.update(kw)
    return reputer_consensus(
        losses,
        np.asarray(reported, dtype=bool),
        np.ones((b, m), bool),
        np.ones((b, m)),
        np.asarray(coefficient, dtype=float),
        **args,
    )


# --- §3.2–§3.3 regrets and the initial regret ---------------------------------------------------


def test_missing_previous_regret_reads_as_initial_regret() -> None:
    """§3.2: a regret not stored yet enters the EMA as the topic's InitialRegret."""
    losses = _bundle((1,), 2, 0, combined=-1.0, naive=-1.0, inferer=[-1.2, np.nan])
    new = update_regrets(
        RegretStore.empty(1, 2, 0), losses, 0.1, np.array([-1.5]), np.zeros((1, 0), bool)
    )
    # α(L − L_j) + (1 − α)·InitialRegret = 0.1·0.2 + 0.9·(−1.5)
    assert new.inferer[0, 0] == pytest.approx(-1.33, rel=1e-14)
    assert np.isnan(new.inferer[0, 1])  # no loss for inferer 1: not visited


@pytest.mark.parametrize("all_losses", [True, False])
def test_a_fully_stored_store_blends_what_is_visited_and_keeps_the_rest(all_losses: bool) -> None:
    """§3.2 with every regret already stored: visited keys are blended, the others keep their
    value; the store given is not modified."""
    n, k = 2, 1
    full = {
        "combined": -1.0,
        "naive": -0.9,
        "inferer": [-1.2, -0.8],
        "forecaster": [-1.1],
        "oneout_inferer": [-0.95, -1.05],
        "oneout_forecaster": [-1.0],
        "onein_forecaster": [-1.15],
        "oneout_inferer_forecaster": [[-1.0, -0.9]],
    }
    if not all_losses:
        full["inferer"] = [-1.2, np.nan]
    losses = _bundle((1,), n, k, **full)
    empty = RegretStore.empty(1, n, k)
    store = RegretStore(*(np.full(getattr(empty, f).shape, 0.5) for f in vars(empty)))
    new = update_regrets(store, losses, 0.1, np.array([0.2]), np.ones((1, k), bool))
    assert all((getattr(store, f) == 0.5).all() for f in vars(store))  # untouched
    assert new.inferer[0, 0] == pytest.approx(0.1 * (-1.0 + 1.2) + 0.9 * 0.5, rel=1e-14)
    assert new.naive_inferer[0, 0] == pytest.approx(0.1 * (-0.9 + 1.2) + 0.9 * 0.5, rel=1e-14)
    if all_losses:
        assert new.inferer[0, 1] == pytest.approx(0.1 * (-1.0 + 0.8) + 0.9 * 0.5, rel=1e-14)
    else:  # inferer 1 has no loss: its keys are not visited
        assert new.inferer[0, 1] == 0.5 and new.naive_inferer[0, 1] == 0.5
        assert (new.oneout_inferer_inferer[0, :, 1] == 0.5).all()
        assert new.oneout_inferer_inferer[0, 0, 0] != 0.5


def test_initial_regret_stays_zero_without_experienced_workers() -> None:
    """§3.3: InitialRegret changes only when some worker is experienced (inclusions ≥ 1/α = 10):
    a new topic keeps exactly 0 for its first epochs."""
    rng = np.random.default_rng(11)
    st = _new(3, 2, 3)
    for _ in range(3):
        out, st = run_topic_epoch(random_epoch_inputs(rng, st, P), st, P)
        assert out.settled[0]
        assert (st.inferer_inclusions < 10).all() and (st.forecaster_inclusions < 10).all()
        assert st.initial_regret[0] == 0.0


def test_experienced_worker_without_a_loss_is_not_in_the_initial_regret_pool() -> None:
    """§3.3: X = the *new* network regrets of the experienced workers; a worker with no loss this
    epoch gets no new regret and stays out of X."""
    rng = np.random.default_rng(12)
    st = _new(3, 2, 3)
    for _ in range(3):
        _, st = run_topic_epoch(random_epoch_inputs(rng, st, P), st, P)
    st = replace(
        st,
        inferer_inclusions=np.full_like(st.inferer_inclusions, 10),
        forecaster_inclusions=np.full_like(st.forecaster_inclusions, 10),
    )
    inp = _drop_inferer_loss(random_epoch_inputs(rng, st, P), 2)
    out, nxt = run_topic_epoch(inp, st, P)
    assert out.settled[0] and np.isnan(out.network_losses.inferer[0, 2])
    assert nxt.regrets.inferer[0, 2] == st.regrets.inferer[0, 2]  # not updated
    fc_ok = np.isfinite(out.network_losses.forecaster[0])
    x = np.concatenate([nxt.regrets.inferer[0, :2], nxt.regrets.forecaster[0, fc_ok]])
    offset = P.module.c_norm - P.module.p_norm_safe_div / P.topic.p_norm
    want = np.percentile(x, 25) + offset * (np.std(x, ddof=1) + P.topic.epsilon)
    assert nxt.initial_regret[0] == pytest.approx(want, rel=1e-12)


# --- §4 reputer consensus ----------------------------------------------------------------------

R_MAJ = [-1.0, -2.0, -1.5]
R_OUT = [-3.0, -1.0, -2.5]


def test_consensus_entry_paths_agree_on_the_member_reputers() -> None:
    """§4: the search gives the same scores and coefficients whether every slot is a member that
    reported everything (no masks), a non-member slot pads the topic (masked, still the Gram
    path), or one member misses an entry it then gets the most distant value for (general path,
    checked against the same reports with that value filled in)."""
    rng = np.random.default_rng(21)
    b, m, e = 4, 5, 30
    losses = rng.normal(-2.0, 0.7, (b, m, e))
    stake = rng.uniform(1.0, 3.0, (b, m))
    coefficient = rng.uniform(0.3, 1.0, (b, m))
    args = (0.05, 6, 0.001, 0.5, 0.01, 1e-7)  # lr, iterations, threshold, min fraction, ε, ε_safe
    full = np.ones((b, m, e), bool)
    plain = reputer_consensus(losses, full, np.ones((b, m), bool), stake, coefficient, *args)
    # a padding slot with garbage reports and stake: not a member, so no part of the search
    pad = lambda x, v: np.concatenate([x, np.full(x[:, :1].shape, v)], axis=1)  # noqa: E731
    padded = reputer_consensus(
        pad(losses, 9.0),
        pad(full, True),
        pad(np.ones((b, m), bool), False),
        pad(stake, 5.0),
        pad(coefficient, 0.2),
        *args,
    )
    np.testing.assert_allclose(padded.score[:, :m], plain.score, rtol=1e-12)
    np.testing.assert_allclose(padded.coefficient[:, :m], plain.coefficient, rtol=1e-12)
    assert np.isnan(padded.score[:, m]).all() and np.isnan(padded.coefficient[:, m]).all()
    # reputer 1 of topic 2 misses entry 4: the entry's consensus averages the others, and its
    # distance reads the most distant reported value there (the smallest)
    missing = full.copy()
    missing[2, 1, 4] = False
    one = (0.05, 1, *args[2:])  # scores at the starting coefficients
    got = reputer_consensus(losses, missing, np.ones((b, m), bool), stake, coefficient, *one)
    adj = adjusted_stakes(coefficient, stake, np.ones((b, m), bool))[2]
    w = np.where(missing[2], adj[:, None], 0.0)
    cons = (w * losses[2]).sum(axis=0) / w.sum(axis=0)
    filled = losses[2].copy()
    filled[1, 4] = np.delete(losses[2, :, 4], 1).min()
    dist = np.linalg.norm(filled - cons, axis=1)
    np.testing.assert_allclose(got.score[2], 1 / (dist / np.linalg.norm(cons) + 0.01), rtol=1e-12)
    assert (plain.iterations == 6).all()


def test_min_stake_fraction_rescale_lands_exactly_on_the_minimum() -> None:
    """§4 step 7: if f_new < f_min the step is rescaled by (f_min − f_old)/(f_new − f_old), so
    the new coefficients listen to exactly f_min of the stake.

    Equal stakes, a = [1, 1, 0.71]: reputers 0 and 1 have adjusted stake capped at 1, so their
    nudges change nothing (gradient 0, they stay at 1); the outlier's gradient is negative, so
    f_new < 0.9 = f_min < f_old = 2.71/3, and Σa/3 = 0.9 gives a₂ = 0.7."""
    cons = _consensus(
        [[R_MAJ, R_MAJ, R_OUT]], np.ones((1, 3, 3)), [[1.0, 1.0, 0.71]], min_stake_fraction=0.9
    )
    np.testing.assert_allclose(cons.coefficient[0], [1.0, 1.0, 0.7], rtol=1e-12)
    assert cons.coefficient[0].sum() / 3 == pytest.approx(0.9, rel=1e-12)


def test_min_stake_fraction_stuck_keeps_the_coefficients() -> None:
    """§4 step 7: f_new < f_min with f_new == f_old stops the search, coefficients unchanged.

    a = [1, 0, 0]: reputer 0's adjusted stake is capped (its nudge changes nothing); raising a
    zero coefficient pulls the consensus off reputer 0, whose score 1/ε collapses, so those
    gradients are negative and clip to 0: f_new = f_old = 1/3 < 0.5."""
    cons = _consensus([[R_MAJ, R_OUT, R_OUT]], np.ones((1, 3, 3)), [[1.0, 0.0, 0.0]], max_iters=10)
    assert np.isfinite(cons.coefficient).all()
    np.testing.assert_array_equal(cons.coefficient[0], [1.0, 0.0, 0.0])
    assert cons.iterations[0] == 1


def test_missing_report_is_filled_with_the_smallest_reported_value() -> None:
    """§4 steps 5–6: a reputer's missing entry is replaced by the most distant value, the
    smallest reported one (−3 here, not −1), when its distance to the consensus is taken."""
    losses = np.array(
        [[[-1.0, -2.0, -1.5], [-1.0, -2.2, -1.4], [-3.0, -1.8, -1.6], [0.0, -2.1, -1.5]]]
    )
    reported = np.ones((1, 4, 3), bool)
    reported[0, 3, 0] = False  # reputer 3 omits entry 0 (others: −1, −1, −3)
    cons = _consensus(losses, reported, np.full((1, 4), np.nan))
    # default coefficients 1, equal stakes: adjusted stakes all 1, consensus = reporters' mean
    mean = np.array([-5.0 / 3.0, losses[0, :, 1].mean(), losses[0, :, 2].mean()])
    filled = losses[0].copy()
    filled[3, 0] = -3.0
    dist = np.linalg.norm(filled - mean, axis=1)
    want = 1.0 / (dist / np.linalg.norm(mean) + 0.01)
    np.testing.assert_allclose(cons.score[0], want, rtol=1e-12)


def test_zero_consensus_norm_uses_epsilon_safe_div() -> None:
    """§4 step 6: ‖L̄‖ = 0 is replaced by EpsilonSafeDiv; all losses 0 → distance 0 → 1/ε_rep."""
    cons = _consensus(np.zeros((1, 3, 4)), np.ones((1, 3, 4)), np.ones((1, 3)))
    np.testing.assert_allclose(cons.score[0], [100.0] * 3, rtol=1e-15)


# --- §2.3–§2.4 synthesis ------------------------------------------------------------------------


def test_single_element_forecast_keeps_weight_one_when_its_inferer_is_withheld() -> None:
    """§2.3: |E_k| = 1 → weight 1 (checked before the withheld-inferer rule), so the
    forecast-implied inference is that element's inference in every context."""
    got = forecast_implied_inferences(
        np.array([[1.0, 3.0]]),
        np.array([[[-0.5, np.nan]]]),
        np.array([[[True, False]]]),
        np.array([-1.0]),
        np.array([False]),
        EPS,
        PN,
        CN,
    )
    # rows: full list, inferer 0 withheld, inferer 1 withheld
    np.testing.assert_array_equal(got[0, :, 0], [1.0, 1.0, 1.0])


def test_forecast_implied_inferences_follow_each_forecasts_own_element_list() -> None:
    """§2.3–§2.4 forecast by forecast: elements scattered among the inferers (any count,
    none included), each inferer withheld in turn; the batched computation on compacted
    element lists gives what the definition gives on each list."""
    rng = np.random.default_rng(4)
    b, k, n = 3, 4, 9
    inference = rng.normal(size=(b, n))
    forecast = rng.normal(-1.0, 0.3, size=(b, k, n))
    element = rng.random((b, k, n)) < 0.5
    element[0, 0] = False  # no element
    element[0, 1] = False
    element[0, 1, 5] = True  # a single element, not the first inferer
    element[1, 2] = True  # every inferer
    loss = np.array([-1.0, -0.7, -1.3])
    got = forecast_implied_inferences(
        inference,
        np.where(element, forecast, np.nan),
        element,
        loss,
        np.zeros(b, bool),
        EPS,
        PN,
        CN,
    )

    def implied(bi: int, ki: int, members: list[int]) -> float:
        if not members:
            return np.nan
        w = regret_weights(
            (loss[bi] - forecast[bi, ki, members])[None],
            np.ones((1, len(members)), bool),
            EPS,
            PN,
            CN,
        )[0]
        return float(np.sum(w * inference[bi, members]) / np.sum(w)) if w.sum() else np.nan

    for bi in range(b):
        for ki in range(k):
            elems = [j for j in range(n) if element[bi, ki, j]]
            full = implied(bi, ki, elems) if len(elems) != 1 else inference[bi, elems[0]]
            np.testing.assert_allclose(got[bi, 0, ki], full, rtol=1e-13)
            for out in range(n):
                kept = [j for j in elems if j != out]
                want = inference[bi, elems[0]] if len(elems) == 1 else implied(bi, ki, kept)
                np.testing.assert_allclose(got[bi, 1 + out, ki], want, rtol=1e-13)


def test_regrets_not_stored_read_as_the_initial_regret() -> None:
    """§2.1: a regret the store does not hold yet (NaN) is the topic's initial regret: the
    synthesis equals the one with those regrets stored explicitly, and with every regret
    stored nothing is replaced."""
    rng = np.random.default_rng(8)
    b, n, k = 2, 5, 3
    full = RegretStore(
        *(
            rng.normal(size=(b, *shape))
            for shape in ((n,), (k,), (n,), (n, n), (n, k), (k, n), (k, k), (k, n), (k,))
        )
    )
    unset = [rng.random(a.shape) < 0.4 for a in vars(full).values()]
    initial = np.array([0.3, -0.2])
    partial = RegretStore(
        *(np.where(u, np.nan, a) for u, a in zip(unset, vars(full).values(), strict=True))
    )
    filled = RegretStore(
        *(
            np.where(u, initial.reshape(-1, *[1] * (a.ndim - 1)), a)
            for u, a in zip(unset, vars(full).values(), strict=True)
        )
    )
    args = (
        rng.normal(size=(b, n)),
        np.ones((b, n), bool),
        rng.normal(-1, 0.2, (b, k, n)),
        np.ones((b, k, n), bool),
    )

    def values(store: RegretStore) -> np.ndarray:
        return synthesize(
            *args, store, initial, np.array([-1.1, -0.9]), EPS, PN, CN, 1e-7
        ).values.flat()

    assert np.array_equal(values(partial), values(filled))
    assert not np.array_equal(values(partial), values(full))


def test_all_new_forecast_implied_inference_is_the_median_of_its_elements() -> None:
    """§2.3: allNew → I_k = median{I_j : j ∈ E_k} (forecasts ignored; equal forecasts would
    give the mean 13/3 by weights)."""
    got = forecast_implied_inferences(
        np.array([[1.0, 2.0, 10.0]]),
        np.full((1, 1, 3), -1.0),
        np.ones((1, 1, 3), bool),
        np.array([-1.0]),
        np.array([True]),
        EPS,
        PN,
        CN,
    )
    assert got[0, 0, 0] == 2.0


def test_all_new_forecaster_without_elements_gets_no_value() -> None:
    """§2.3: a forecaster with no element has no forecast-implied inference, also in the allNew
    (median) mode where the median of nothing would read as 0."""
    element = np.array([[[True, True], [False, False]]])
    got = forecast_implied_inferences(
        np.array([[1.0, 2.0]]),
        np.where(element, -1.0, np.nan),
        element,
        np.array([-1.0]),
        np.array([True]),
        EPS,
        PN,
        CN,
    )
    assert np.isfinite(got[0, 0, 0])
    assert np.isnan(got[0, :, 1]).all()


def test_one_forecaster_has_no_one_out_or_one_in_values() -> None:
    """§2.4: one-out forecaster and one-in values exist only if |K| ≥ 2."""
    net = synthesize(
        np.array([[1.0, 2.0, 4.0]]),
        np.ones((1, 3), bool),
        np.array([[[-1.0, -2.0, -1.5]]]),
        np.ones((1, 1, 3), bool),
        RegretStore.empty(1, 3, 1),
        np.array([-0.1]),
        np.array([-1.2]),
        EPS,
        PN,
        CN,
        1e-7,
    )
    assert net.mode[0] == 3  # full synthesis
    assert np.isfinite(net.values.forecaster[0, 0])
    assert np.isnan(net.values.oneout_forecaster[0, 0])
    assert np.isnan(net.values.onein_forecaster[0, 0])


def test_error_bars_and_forecasted_regrets_hold_after_the_inputs_change() -> None:
    """§2.3, §2.5: the query's error bars (weighted percentiles of the combined inference's
    values at its weights) and forecasted regrets ``L_prev − f_kj``, which are computed on first
    access, describe the epoch's inputs even when the caller has reused its arrays since."""
    inference = np.array([[1.0, 2.0, 4.0], [0.5, -1.0, 3.0]])
    forecast = np.array([[[-1.0, -2.0, -1.5], [-1.2, -1.1, -1.9]]] * 2)
    present, elements = np.ones((2, 3), bool), np.ones((2, 2, 3), bool)
    loss = np.array([-1.2, np.nan])  # topic 1 has no network loss yet: median mode
    args = (RegretStore.empty(2, 3, 2), np.array([-0.1, -0.1]), loss, EPS, PN, CN, 1e-7)
    net = synthesize(inference.copy(), present, forecast.copy(), elements, *args)
    mine_inf, mine_fc = inference.copy(), forecast.copy()
    net_reused = synthesize(mine_inf, present, mine_fc, elements, *args)
    mine_inf[...], mine_fc[...] = 9.0, 9.0  # the caller reuses its buffers
    values = np.concatenate([inference, net.values.forecaster], axis=-1)[:1]
    weights = np.concatenate([net.inferer_weight, net.forecaster_weight], axis=-1)[:1]
    want = weighted_percentiles(values, weights, np.ones_like(values, bool), ERROR_BAR_PERCENTILES)
    for got in (net, net_reused):
        assert np.array_equal(got.error_bars[:1], want)
        assert np.isnan(got.error_bars[1]).all()  # no synthesis, no error bars
        assert np.array_equal(got.forecasted_regret[0], -1.2 - forecast[0])
        assert np.isnan(got.forecasted_regret[1]).all()
    assert want[0, 0] < want[0, 2] < want[0, -1]  # spread around the median


def test_weights_below_z_are_zero_even_just_below() -> None:
    """§2.1: w = 0 when the (shifted) normalised regret is below Z = c − 17.25/p = −5, also when
    it is within 1/3 of Z."""
    regret = np.array([[-1.0] * 9 + [-2.0]])
    d = np.std(regret, ddof=1) + EPS
    assert (regret / d).max() < CN - 8.25 / PN  # the best is shifted to A0 = −2
    shifted = regret / d - (regret / d).max() + (CN - 8.25 / PN)
    assert -5.0 - 1.0 / 3.0 < shifted[0, -1] < -5.0
    w = regret_weights(regret, np.ones((1, 10), bool), EPS, PN, CN)
    assert w[0, -1] == 0.0
    np.testing.assert_allclose(w[0, :9], PN / (1.0 + np.exp(PN * (CN + 2.0))), rtol=1e-12)


# --- §3.1 network losses and the regrets they reach ---------------------------------------------


def test_one_out_inferer_values_dropped_from_a_bundle_with_one_inferer() -> None:
    """§3.1: a reputer's one-out inferer values are dropped when its bundle has ≤ 1 inferer."""
    reports = _bundle(
        (1, 2),
        2,
        0,
        combined=[-1.0, -1.0],
        naive=[-1.0, -1.0],
        inferer=[[-1.0, np.nan], [-1.0, -2.0]],
        oneout_inferer=[[-1.5, -1.5], [-1.5, -1.5]],
    )
    _, reported = accepted_reports(
        reports, np.ones((1, 2), bool), np.ones((1, 2), bool), np.zeros((1, 0), bool)
    )
    kept = ValueBundle.from_flat(reported.astype(float), 2, 0)
    np.testing.assert_array_equal(kept.oneout_inferer[0], [[0.0, 0.0], [1.0, 1.0]])


def _one_reputer_losses(reports: ValueBundle, n: int, k: int):
    losses, reported = accepted_reports(
        reports, np.ones((1, 1), bool), np.ones((1, n), bool), np.ones((1, k), bool)
    )
    return network_losses(losses, reported, np.ones((1, 1)), n, k)


def test_forecaster_without_one_out_values_keeps_its_one_out_regrets() -> None:
    """§3.1–§3.2: a forecaster with a loss but no one-out inferer-forecaster value is not listed
    in OneOutInfererForecasterValues, so regrets (j′, k) are not visited."""
    reports = _bundle(
        (1, 1),
        2,
        1,
        combined=-1.0,
        naive=-0.8,
        inferer=[-1.1, -1.3],
        forecaster=[-1.2],
        oneout_inferer=[-0.9, -1.05],
    )
    out, ok, listed = _one_reputer_losses(reports, 2, 1)
    assert ok[0] and np.isfinite(out.forecaster[0, 0]) and not listed[0, 0]
    store = replace(
        RegretStore.empty(1, 2, 1), oneout_inferer_forecaster=np.array([[[0.4], [0.5]]])
    )
    new = update_regrets(store, out, 0.1, np.array([0.2]), listed)
    np.testing.assert_array_equal(new.oneout_inferer_forecaster, [[[0.4], [0.5]]])


def test_one_in_loss_without_forecaster_loss_is_dropped() -> None:
    """§3.1: the one-in family keeps only forecasters that have a forecaster loss (read back by
    that map's keys), so no one-in loss and no one-in regret update without it."""
    reports = _bundle(
        (1, 1),
        2,
        2,
        combined=-1.0,
        naive=-0.8,
        inferer=[-1.1, -1.3],
        forecaster=[np.nan, -1.2],
        onein_forecaster=[-0.7, -0.75],
    )
    out, ok, listed = _one_reputer_losses(reports, 2, 2)
    assert ok[0] and np.isnan(out.onein_forecaster[0, 0])
    assert out.onein_forecaster[0, 1] == -0.75
    store = replace(
        RegretStore.empty(1, 2, 2),
        onein_forecaster_inferer=np.full((1, 2, 2), 0.3),
        onein_forecaster_self=np.array([[0.6, 0.6]]),
    )
    new = update_regrets(store, out, 0.1, np.array([0.2]), listed)
    np.testing.assert_array_equal(new.onein_forecaster_inferer[0, 0], [0.3, 0.3])
    assert new.onein_forecaster_self[0, 0] == 0.6
    assert new.onein_forecaster_self[0, 1] == pytest.approx(0.1 * (-0.75 + 1.2) + 0.9 * 0.6)


def test_one_in_self_regret_without_one_in_loss_keeps_its_value() -> None:
    """§3.2: the one-in self regret (k, k) is visited only for forecasters with a one-in loss."""
    losses = _bundle((1,), 1, 1, combined=-1.0, naive=-1.0, inferer=[-1.1], forecaster=[-1.2])
    store = replace(RegretStore.empty(1, 1, 1), onein_forecaster_self=np.array([[0.3]]))
    new = update_regrets(store, losses, 0.1, np.array([0.2]), np.zeros((1, 1), bool))
    assert new.onein_forecaster_self[0, 0] == 0.3
    assert new.forecaster[0, 0] == pytest.approx(0.1 * 0.2 + 0.9 * 0.2)  # (L − L_k) visited


# --- §5 scores ----------------------------------------------------------------------------------


def test_single_forecaster_scores_zero() -> None:
    """§5.2: exactly one forecaster loss → that forecaster scores 0 (not the f⁺ = 1 blend)."""
    b = _bundle(
        (1,),
        2,
        2,
        combined=-2.0,
        naive=-1.0,
        forecaster=[-1.0, np.nan],
        oneout_forecaster=[-1.9, np.nan],
        onein_forecaster=[-1.5, np.nan],
    )
    score, scored, single, _ = forecaster_scores(b)
    assert single[0] and score[0, 0] == 0.0 and not scored[0, 1]


def test_single_inferer_leaves_the_inferer_quantile_alone() -> None:
    """§5.1: one inferer → score 0 and no EMA / quantile update."""
    rng = np.random.default_rng(13)
    st = replace(_new(1, 0, 2), inferer_score_quantile=np.array([0.37]))
    out, nxt = run_topic_epoch(random_epoch_inputs(rng, st, P), st, P)
    assert out.inferer_score[0, 0] == 0.0
    assert nxt.inferer_score_quantile[0] == 0.37


# --- §3.1 / §6 epoch gating ---------------------------------------------------------------------


def test_reputer_with_exactly_the_minimum_stake_counts() -> None:
    """§3.1: reputers with stake ≥ RequiredMinimumStake report: stakes [min, 2·min] weight the
    losses 1:2."""
    rng = np.random.default_rng(14)
    st = _new(3, 1, 2)
    inp = random_epoch_inputs(rng, st, P)
    s = float(P.module.required_minimum_stake)
    inp = replace(inp, stake=np.array([[s, 2 * s]]), delegated_stake=None)
    out, _ = run_topic_epoch(inp, st, P)
    rl = inp.reputer_losses.combined[0]  # (the losses are unchanged by the stake)
    assert out.network_losses.combined[0] == pytest.approx((rl[0] + 2 * rl[1]) / 3, rel=1e-14)


def test_reward_below_one_uallo_is_not_an_inclusion() -> None:
    """§6.6: payouts truncate to integers and zero payouts are skipped, so a reward below
    1 uallo pays nothing and does not count as an inclusion (§3.3)."""
    rng = np.random.default_rng(15)
    st = _new(3, 2, 3)
    _, st = run_topic_epoch(random_epoch_inputs(rng, st, P), st, P)  # median mode, no pay
    inp = replace(random_epoch_inputs(rng, st, P), topic_reward=np.array([0.9]))
    out, nxt = run_topic_epoch(inp, st, P)
    assert out.reward_error[0] == RewardError.NONE
    assert ((out.inferer_reward > 0) & (out.inferer_reward < 1)).all()
    np.testing.assert_array_equal(nxt.inferer_inclusions, st.inferer_inclusions)
    np.testing.assert_array_equal(nxt.forecaster_inclusions, st.forecaster_inclusions)


def test_forecaster_entropy_is_zero_with_one_scored_inferer() -> None:
    """§6.2: the forecaster entropy is computed only with ≥ 1 forecaster and ≥ 2 inferers
    scored; else G = 0 (and V = 0)."""
    rng = np.random.default_rng(16)
    st = _new(2, 2, 3)
    _, st = run_topic_epoch(random_epoch_inputs(rng, st, P), st, P)
    inp = _drop_inferer_loss(random_epoch_inputs(rng, st, P), 1)
    out, _ = run_topic_epoch(inp, st, P)
    assert out.reward_error[0] == RewardError.NONE
    assert np.isfinite(out.inferer_score[0]).sum() == 1
    assert np.isfinite(out.forecaster_score[0]).any()
    assert out.forecasters_entropy[0] == 0.0
    assert out.forecasters_reward[0] == 0.0


# --- §6.3 / §6.6 reward fractions and the delegator cut -----------------------------------------


def test_fractions_keep_softmax_ratios_when_phi_underflows_for_everyone() -> None:
    """§6.3: u_j = M_j / Σ M with M_j = φ(x_j) = ln(1 + e^{p(x_j − c)}) ≈ e^{p(x_j − c)} for very
    negative x_j: the fractions are the softmax of p·x_j even where every φ underflows."""
    score = np.array([[-400.0, -400.5, -399.0]])
    history = np.array([[-400.0, -400.5, -399.0, -401.0]])
    p, c, eps = 3.0, 0.75, 0.01
    frac = worker_reward_fractions(score, np.ones((1, 3), bool), history, p, c, eps)
    z = p * (score[0] / (np.std(history, ddof=1) + eps) - c)
    assert np.exp(z).max() == 0.0  # φ underflows for all three
    want = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    np.testing.assert_allclose(frac[0], want, rtol=1e-12)


def test_window_spread_equal_to_epsilon_uses_the_phi_mapping() -> None:
    """§6.3: the flat mapping is for σ < ε only; σ = ε exactly maps by φ(T/(σ + ε))."""
    eps = 0.25
    history = np.array([[-0.25, 0.0, 0.25]])  # sample σ = 0.25 exactly
    score = np.array([[0.5, 1.0, 2.0]])
    frac = worker_reward_fractions(score, np.ones((1, 3), bool), history, 1.0, 0.75, eps)
    m = np.log1p(np.exp(score[0] / 0.5 - 0.75))
    np.testing.assert_allclose(frac[0], m / m.sum(), rtol=1e-13)


def test_delegator_cut_truncates() -> None:
    """§6.6: d_m = trunc(W_m·D_m/S_m): 10·2/3 = 6.67 → 6 to the delegators, 4 kept."""
    kept, cut = delegator_cut(np.array([10.0]), np.array([3.0]), np.array([2.0]))
    assert cut[0] == 6.0 and kept[0] == 4.0
