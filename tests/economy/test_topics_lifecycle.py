"""Pay what you want: a topic whose consumers stop paying is inactivated, and comes back."""

from __future__ import annotations

import numpy as np
import pytest

import allora_sim
from allora_sim.model import AlloraModel


@pytest.fixture(scope="module")
def history():
    m = AlloraModel(allora_sim.scenario("scenario=stop_paying", "output.progress=false"))
    active, reward, revenue, inflow = [], [], [], []
    for _ in range(m.scenario.epochs):
        m.step()
        active.append(m.economy.active.copy())
        reward.append(m.topic_reward / 1e18)
        revenue.append(m.economy.revenue.astype(float))
        # what the epoch's emission put into the rewards account (after the validators' share)
        inflow.append((m.economy.emitted_last - m.economy.validators_last) / 1e18)
    m.inflow = np.array(inflow)
    return m, np.array(active), np.array(reward), np.array(revenue)


def test_a_topic_without_payments_is_inactivated_and_its_share_moves(history) -> None:
    m, active, reward, revenue = history
    stop, resume = 100, 700
    out = np.flatnonzero(~active[:, 2])
    assert out.size > 0 and out.min() > stop and out.max() < resume
    # its fee revenue dripped to zero first, so its weight fell below MinTopicWeight
    assert revenue[out.min() - 1, 2] == 0 or revenue[out.min(), 2] == 0
    # while it is out it gets nothing, and the others share its part of the emission
    assert (reward[out, 2] == 0).all()
    before = reward[50:stop, :2].sum(axis=1).mean()
    during = reward[out, :2].sum(axis=1).mean()
    assert during > before
    # the emission is not lost: the remaining topics' rewards are the epoch's emission to topics
    # (the emission itself moves month to month with stake and the reputers' share f_rep)
    assert reward[out].sum(axis=1).mean() == pytest.approx(m.inflow[out].mean(), rel=0.05)


def test_it_reactivates_when_payments_resume(history) -> None:
    _, active, reward, _ = history
    assert active[705:, 2].all()
    assert reward[720:, 2].mean() > 0.5 * reward[50:100, 2].mean()
    assert active[:, :2].all()  # the paying topics never left


def test_weight_sum_updates_add_in_topic_order_like_the_chain_loop(history) -> None:
    """The vectorised weight-sum update rounds exactly as adding topic by topic does, and the
    sum stays the total of the active topics' previous weights."""
    m = history[0]
    eco = m.economy
    changes = np.random.default_rng(3).normal(0.0, 1.0, 200) * 10.0 ** np.arange(-100, 100)
    start = eco.weight_sum
    expected = start
    for c in changes.tolist():
        expected += c
    eco._add_to_weight_sum(changes)
    assert eco.weight_sum == expected
    assert sum(changes.tolist(), start) == expected  # Python's left-to-right sum agrees
    eco.weight_sum = start
    assert eco.weight_sum == pytest.approx(np.nansum(eco.prev_weight[eco.active]), rel=1e-9)


def test_topics_beyond_the_room_take_turns() -> None:
    """At the chain's MaxActiveTopicsPerBlock = 1 and 12-block epochs there are 12 places: with
    15 paying topics never more than 12 are active, only those get worker nonces (inferences)
    and rewards, the rest fail with "no inferences"; a waiting topic whose weight reaches the
    lightest active one's takes its place (§7.3), and an epoch is rewarded only if its topic
    is still active when the epoch closes."""
    from allora_sim.core import RewardError

    m = AlloraModel(allora_sim.scenario("n_topics=15", "epochs=60", "output.progress=false"))
    eco = m.economy
    active = []
    for _ in range(m.scenario.epochs):
        m.step()
        active.append(eco.active.copy())
        assert eco.active.sum() <= 12
        # the weight sum stays the total of the active topics' previous weights
        assert eco.weight_sum == pytest.approx(np.nansum(eco.prev_weight[eco.active]), rel=1e-9)
    ep = m.epochs_frame()
    served = ep["network_inference"].notna()
    assert (served.groupby(ep["epoch"]).sum() == 12).all()
    assert (ep.loc[~served, "reward_error"] == RewardError.NO_INFERENCES).all()
    assert (ep.loc[~served, "topic_reward"] == 0).all()
    # every topic is served at some point; an epoch is rewarded only if its topic is still
    # active when the epoch closes, one epoch later (UpdateNoncesOfActiveTopics)
    active_at_close = np.array(active)[ep["epoch"] + 1, ep["topic"]]
    assert np.array(active).any(axis=0).all()
    assert (ep.loc[~active_at_close, "topic_reward"] == 0).all()
    assert (ep.loc[served & active_at_close & (ep["epoch"] > 0), "topic_reward"] > 0).all()


def test_a_topic_inactivated_at_its_epoch_end_is_not_scored() -> None:
    """GetAndUpdateActiveTopicWeights skips a topic whose weight fell below MinTopicWeight: no
    reward, no reputer nonce closed, so no network loss, regrets or score EMAs move."""
    m = AlloraModel(
        allora_sim.scenario(
            "epochs=50",
            "mechanism.min_topic_weight=1e19",
            "mechanism.blocks_per_month=432",  # the revenue drips on this run's time scale
            "population.consumers=[{name: payer, behaviour: fixed_payer, count: 1,"
            " params: {amount: 1.0, stop_epoch: 3}}]",
            "output.progress=false",
        )
    )
    off = None
    for e in range(m.scenario.epochs):
        before = m.store
        m.step()
        if not m.economy.active[0]:
            off = e
            break
        # every epoch closed while active is scored and rewarded (epoch e − 1 closes in e)
        if e > 0:
            assert m.epochs_frame()["reward_error"].iloc[-1] == (3 if e == 1 else 0)
    assert off is not None and off > 10  # inactivated once the fees had dripped away
    row = m.epochs_frame().iloc[-1]
    assert row["epoch"] == off - 1 and row["topic_reward"] == 0.0
    assert row["reward_error"] == 1  # no network loss: no reputer nonce was closed
    after = m.store
    np.testing.assert_array_equal(after.network_loss, before.network_loss)
    np.testing.assert_array_equal(after.regrets.inferer, before.regrets.inferer)
    np.testing.assert_array_equal(after.inferer_score_ema, before.inferer_score_ema)
