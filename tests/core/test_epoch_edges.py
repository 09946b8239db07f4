"""Edge cases of ``run_topic_epoch``: the chain's dispatch modes, its failure semantics, state
alignment and input validation (mechanism.md §1, §2 dispatch, §3.1, §6.2, §14)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from allora_sim.core import (
    EpochInputs,
    MechanismParams,
    RewardError,
    TopicState,
    ValueBundle,
    run_topic_epoch,
)
from allora_sim.synthetic import random_epoch_inputs

P = MechanismParams()


def _new(n: int, k: int, m: int) -> TopicState:
    return TopicState.new(np.arange(n)[None], np.arange(k)[None], np.arange(m)[None])


def test_first_epoch_is_median_mode_and_pays_nothing() -> None:
    rng = np.random.default_rng(1)
    st = _new(4, 2, 3)
    inp = random_epoch_inputs(rng, st, P)
    out, nxt = run_topic_epoch(inp, st, P)
    assert out.network.mode[0] == 2  # no network-loss bundle yet
    vals = inp.inference[0]
    assert out.network.values.combined[0] == np.median(vals)
    assert out.network.values.naive[0] == 0.0
    assert np.isnan(out.network.values.oneout_inferer).all()
    # the nonce closes (network loss stored, regrets updated), reputers are scored, but the
    # chain's reward distribution fails on the empty inferer score set
    assert out.settled[0]
    assert out.reward_error[0] == RewardError.NO_INFERER_SCORES
    assert np.isfinite(nxt.network_loss[0])
    assert np.isfinite(nxt.regrets.inferer).all()
    assert np.isfinite(nxt.listening_coefficient).all()
    assert np.isfinite(nxt.reputer_fraction_smooth).all()  # stored before the failure
    assert np.isnan(nxt.inferer_fraction_smooth).all()  # never reached
    assert nxt.inferer_score_quantile[0] == 0.0  # quantile of no scores is stored as 0
    assert np.isnan(out.inferer_reward).all() and (nxt.inferer_inclusions == 0).all()


def test_all_new_topic_averages_plainly_until_workers_are_experienced() -> None:
    rng = np.random.default_rng(2)
    st = _new(5, 2, 3)
    for epoch in range(12):
        inp = random_epoch_inputs(rng, st, P)
        out, st_next = run_topic_epoch(inp, st, P)
        if epoch >= 1 and st.initial_regret[0] == 0.0:
            # InitialRegret 0 ⇒ "all inferers new": mean of the inferences (§2.2)
            assert out.network.values.combined[0] == pytest.approx(inp.inference[0].mean())
            assert out.reward_error[0] == RewardError.NONE
        st = st_next
    # after 1/α_regret = 10 paid epochs workers are experienced and InitialRegret moves (§3.3)
    assert (st.inferer_inclusions >= 10).all()
    assert st.initial_regret[0] != 0.0


def test_single_inferer() -> None:
    rng = np.random.default_rng(3)
    st = _new(1, 0, 2)
    for _ in range(3):
        inp = random_epoch_inputs(rng, st, P)
        out, st = run_topic_epoch(inp, st, P)
        assert out.network.mode[0] == 1
        assert out.network.values.combined[0] == inp.inference[0, 0]
        assert out.network.values.naive[0] == inp.inference[0, 0]
        assert out.inferer_score[0, 0] == 0.0
    assert np.isnan(st.inferer_score_ema).all()  # no EMA for a lone inferer (§5.1)
    assert out.reward_error[0] == RewardError.NONE
    assert out.inferer_fraction[0, 0] == 1.0


def test_under_staked_reputers_are_ignored() -> None:
    rng = np.random.default_rng(4)
    st = _new(3, 1, 3)
    inp = random_epoch_inputs(rng, st, P)
    stake = inp.stake.copy()
    stake[0, 1] = P.module.required_minimum_stake - 1
    out, _ = run_topic_epoch(replace(inp, stake=stake, delegated_stake=None), st, P)
    assert np.isnan(out.reputer_score[0, 1]) and np.isfinite(out.reputer_score[0, [0, 2]]).all()
    rl = inp.reputer_losses
    w = stake[0, [0, 2]]
    want = (w * rl.combined[0, [0, 2]]).sum() / w.sum()
    assert out.network_losses.combined[0] == pytest.approx(want, rel=1e-14)


def test_no_stake_behind_the_combined_loss_closes_nothing() -> None:
    rng = np.random.default_rng(5)
    st = _new(3, 1, 2)
    inp = random_epoch_inputs(rng, st, P)
    _, st = run_topic_epoch(inp, st, P)
    inp = random_epoch_inputs(rng, st, P)
    zero = replace(inp, stake=np.zeros_like(inp.stake), delegated_stake=None)
    out, nxt = run_topic_epoch(zero, st, P)
    assert not out.settled[0] and out.reward_error[0] == RewardError.NO_NETWORK_LOSS
    assert nxt.network_loss[0] == st.network_loss[0]
    np.testing.assert_array_equal(nxt.regrets.inferer, st.regrets.inferer)
    np.testing.assert_array_equal(nxt.listening_coefficient, st.listening_coefficient)


def test_state_realigns_to_new_participants() -> None:
    rng = np.random.default_rng(6)
    st = TopicState.new(np.array([[10, 20, 30]]), np.array([[5]]), np.array([[1, 2]]))
    for _ in range(3):
        _, st = run_topic_epoch(random_epoch_inputs(rng, st, P), st, P)
    moved = TopicState.new(np.array([[20, 25, 30]]), np.array([[5]]), np.array([[2, 3]]))
    aligned = st.aligned(moved.inferer_ids, moved.forecaster_ids, moved.reputer_ids)
    assert aligned.regrets.inferer[0, 0] == st.regrets.inferer[0, 1]  # id 20 kept
    assert np.isnan(aligned.regrets.inferer[0, 1])  # id 25 is new
    assert (
        aligned.regrets.oneout_inferer_inferer[0, 2, 0]
        == (st.regrets.oneout_inferer_inferer[0, 2, 1])
    )
    assert aligned.listening_coefficient[0, 0] == st.listening_coefficient[0, 1]
    assert np.isnan(aligned.listening_coefficient[0, 1])
    out, _ = run_topic_epoch(random_epoch_inputs(rng, moved, P), st, P)
    assert np.isfinite(out.network.values.combined).all()


def _good() -> tuple[EpochInputs, TopicState]:
    st = _new(3, 2, 2)
    return random_epoch_inputs(np.random.default_rng(7), st, P), st


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (lambda i: replace(i, inference=i.inference[:, :2]), "inference has shape"),
        (lambda i: replace(i, forecast=i.forecast[:, :1]), "forecast has shape"),
        (
            lambda i: replace(i, inference=np.where(np.arange(3) == 1, np.nan, i.inference)),
            "inference must be finite",
        ),
        (lambda i: replace(i, stake=-i.stake, delegated_stake=None), "stake must be finite"),
        (lambda i: replace(i, topic_reward=np.array([np.inf])), "topic_reward"),
        (lambda i: replace(i, inferer_ids=np.array([[0, 2, 1]])), "strictly increasing"),
        (lambda i: replace(i, delegated_stake=i.stake * 2), "delegated_stake"),
        (lambda i: replace(i, delegated_stake=i.stake * np.nan), "delegated_stake must be in"),
        (lambda i: replace(i, inferer_ids=np.array([[0.0, np.nan, 2.0]])), "whole-number ids"),
        (lambda i: replace(i, inferer_ids=np.array([[0.5, 1.5, 2.5]])), "whole-number ids"),
        (lambda i: replace(i, reputer_losses=None), "reputer_losses must be a ValueBundle"),
        (
            lambda i: replace(
                i,
                reputer_losses=replace(
                    i.reputer_losses, inferer=np.full_like(i.reputer_losses.inferer, np.inf)
                ),
            ),
            "reputer_losses.inferer contains inf",
        ),
        (
            lambda i: replace(
                i, reputer_losses=replace(i.reputer_losses, naive=i.reputer_losses.naive[:, :1])
            ),
            "reputer_losses.naive has shape",
        ),
    ],
)
def test_malformed_inputs_raise_clear_errors(change, needle: str) -> None:
    inp, st = _good()
    with pytest.raises(ValueError, match=needle):
        run_topic_epoch(change(inp), st, P)


def test_a_topic_without_inferences_closes_nothing() -> None:
    """The chain's query fails without inferences: no nonce closes, no state changes."""
    inp, st = _good()
    _, st = run_topic_epoch(inp, st, P)
    inp = random_epoch_inputs(np.random.default_rng(8), st, P)
    empty = replace(inp, inferer_ids=np.full((1, 3), -1), inference=np.full((1, 3), np.nan))
    out, nxt = run_topic_epoch(empty, st, P)
    assert out.reward_error[0] == RewardError.NO_INFERENCES and not out.settled[0]
    # (the returned state is aligned to this epoch's participants: keep absent ones in a
    # store, allora_sim.core.store)
    np.testing.assert_array_equal(nxt.listening_coefficient, st.listening_coefficient)
    np.testing.assert_array_equal(nxt.reputer_fraction_smooth, st.reputer_fraction_smooth)
    assert nxt.network_loss[0] == st.network_loss[0]


def test_wrong_params_and_batch_mismatch() -> None:
    inp, st = _good()
    with pytest.raises(ValueError, match="MechanismParams"):
        run_topic_epoch(inp, st, P.module)  # type: ignore[arg-type]
    two = TopicState.new(
        np.tile(np.arange(3), (2, 1)), np.tile(np.arange(2), (2, 1)), np.tile(np.arange(2), (2, 1))
    )
    with pytest.raises(ValueError, match="state holds 2 topics"):
        run_topic_epoch(inp, two, P)
    short = TopicState.new(np.arange(3)[None], np.arange(2)[None], np.arange(2)[None], window=3)
    with pytest.raises(ValueError, match="score window of 3 but max_samples_to_scale_scores is 10"):
        run_topic_epoch(inp, short, P)  # the parameter would otherwise be ignored


def test_unbatched_inputs_return_unbatched_outcome() -> None:
    inp, st = _good()
    rl = inp.reputer_losses
    single = EpochInputs(
        inferer_ids=inp.inferer_ids[0],
        inference=inp.inference[0],
        forecaster_ids=inp.forecaster_ids[0],
        forecast=inp.forecast[0],
        reputer_ids=inp.reputer_ids[0],
        stake=inp.stake[0],
        reputer_losses=ValueBundle(**{f: getattr(rl, f)[0] for f in rl.__dataclass_fields__}),
        topic_reward=inp.topic_reward[0],
    )
    out1, _ = run_topic_epoch(single, st, P)
    out2, _ = run_topic_epoch(replace(inp, delegated_stake=None), st, P)
    assert np.ndim(out1.network.values.combined) == 0
    assert out1.network.values.combined == out2.network.values.combined[0]
    np.testing.assert_array_equal(out1.reputer_score, out2.reputer_score[0])


def test_undefined_consensus_writes_nothing_and_pays_nothing() -> None:
    """GetStakeWeightedLossMatrix divides by the adjusted stake of an entry's reporters: when
    they all have listening coefficient 0 the chain errors in GenerateReputerScores, before it
    writes coefficients, EMAs, quantiles or worker scores, and pays nothing. The nonce was
    closed all the same (network loss and regrets are stored before the rewards)."""
    rng = np.random.default_rng(5)
    st = TopicState.new(np.array([[1, 2, 3]]), np.array([[10, 11]]), np.array([[20, 21]]))
    for _ in range(2):
        out, st = run_topic_epoch(random_epoch_inputs(rng, st, P), st, P)
    st = replace(st, listening_coefficient=np.array([[0.0, 1.0]]))
    inp = random_epoch_inputs(rng, st, P)
    inferer = inp.reputer_losses.inferer.copy()
    inferer[0, 1, 2] = np.nan  # only reputer 20 (coefficient 0) reports inferer 3's loss
    inp = replace(inp, reputer_losses=replace(inp.reputer_losses, inferer=inferer))
    out, nxt = run_topic_epoch(inp, st, P)
    assert out.reward_error[0] == RewardError.CONSENSUS
    assert RewardError.NAMES[RewardError.CONSENSUS] == "consensus undefined"
    assert out.settled[0] and nxt.network_loss[0] != st.network_loss[0]
    assert np.isnan(out.inferer_reward).all() and np.isnan(out.reputer_reward).all()
    for name in (
        "listening_coefficient",
        "reputer_score_ema",
        "reputer_score_quantile",
        "inferer_score_ema",
        "inferer_score_quantile",
        "inferer_score_history",
        "forecaster_score_ema",
    ):
        np.testing.assert_array_equal(getattr(nxt, name), getattr(st, name), err_msg=name)


def test_forecaster_pairing_failure_keeps_the_forecaster_quantile() -> None:
    """GenerateForecastScores panics on a one-in forecaster without a one-out partner before it
    sets the forecaster score quantile."""
    rng = np.random.default_rng(3)
    st = TopicState.new(np.array([[1, 2]]), np.array([[10, 11]]), np.array([[20, 21]]))
    seen = 0
    for _ in range(40):
        prev = st
        out, st = run_topic_epoch(random_epoch_inputs(rng, st, P, missing=0.2), st, P)
        if out.reward_error[0] == RewardError.FORECASTER_PAIRING:
            seen += 1
            np.testing.assert_array_equal(
                st.forecaster_score_quantile, prev.forecaster_score_quantile
            )
    assert seen > 0


def test_a_forecaster_with_only_filtered_one_out_entries_is_still_listed() -> None:
    """CalcNetworkLosses lists forecaster k in OneOutInfererForecasterValues when any reputer
    reported any one-out value for it, even if every one of them is then filtered out (their
    withheld inferer has no loss of its own); GetCalcSetNetworkRegrets then updates regret
    (j', k) of every withheld inferer j' with a one-out loss, reading the missing loss as 0."""
    rng = np.random.default_rng(4)
    st = _new(3, 3, 3)
    for _ in range(3):
        _, st = run_topic_epoch(random_epoch_inputs(rng, st, P), st, P)
    inp = random_epoch_inputs(rng, st, P)
    rl = inp.reputer_losses
    inferer = rl.inferer.copy()
    inferer[0, :, 2] = np.nan  # nobody reports inferer 2's own loss
    ooif = rl.oneout_inferer_forecaster.copy()
    ooif[0, :, 0, :2] = np.nan  # forecaster 0: only the entry with inferer 2 withheld
    inp = replace(inp, reputer_losses=replace(rl, inferer=inferer, oneout_inferer_forecaster=ooif))
    out, nxt = run_topic_epoch(inp, st, P)
    assert out.settled[0]
    losses = out.network_losses
    assert np.isnan(losses.oneout_inferer_forecaster[0, 0]).all()  # filtered away
    alpha = P.topic.alpha_regret
    for j in (0, 1):  # withheld inferers with a one-out loss
        prev = st.regrets.oneout_inferer_forecaster[0, j, 0]
        prev = st.initial_regret[0] if np.isnan(prev) else prev
        current = losses.oneout_inferer[0, j] - 0.0  # the missing loss reads as 0
        want = alpha * current + (1 - alpha) * prev
        assert nxt.regrets.oneout_inferer_forecaster[0, j, 0] == pytest.approx(want, rel=1e-15)
    # inferer 2 has no one-out loss of its own: its row is not visited
    np.testing.assert_array_equal(
        nxt.regrets.oneout_inferer_forecaster[0, 2], st.regrets.oneout_inferer_forecaster[0, 2]
    )
