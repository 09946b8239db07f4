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
