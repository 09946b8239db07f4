"""Token conservation in running models: every epoch, every token accounted for exactly."""

from __future__ import annotations

import numpy as np
import pytest

import allora_sim
from allora_sim.model import AlloraModel

SCENARIOS = {
    "default": ("epochs=40",),
    "economy": ("scenario=economy", "epochs=120"),
    "delegators": (
        "epochs=80",
        "n_topics=2",
        "mechanism.remove_stake_delay_window=36",
        "population.delegators=[{name: seekers, behaviour: yield_seeker, count: 4,"
        " params: {amount: 500.0, switch_probability: 0.3, threshold: 0.0}}]",
        "population.consumers=[{name: payer, behaviour: fixed_payer, count: 1},"
        "{name: whale, behaviour: whale, count: 1, params: {amount: 50.0, topic: 1}},"
        "{name: rider, behaviour: free_rider, count: 1}]",
    ),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_supply_is_conserved_every_epoch(name: str) -> None:
    m = AlloraModel(allora_sim.scenario(*SCENARIOS[name], "output.progress=false"))
    eco = m.economy
    supply0 = eco.ledger.max_supply
    for _ in range(m.scenario.epochs):
        before = eco.ledger.balance("rewards")
        m.step()
        eco.check()  # Σ balances + locked + unminted = MaxSupply, stake book = staking account
        assert eco.ledger.total() == supply0
        assert (eco.ledger.balances >= 0).all()
        # a topic never pays out more than the rewards it was given
        assert eco.ledger.balance("rewards") >= 0 and before >= 0
    ep = m.epochs_frame()
    assert (ep["fees"] >= 0).all()
    if name == "delegators":
        book = eco.stake
        assert (book.delegations > 0).any()
        moved = m.agents_frame()
        assert eco.ledger.balance("pending_delegators") < 10**12  # only truncation dust
        assert moved is not None
        # the whale's fees went only to topic 1
        assert ep.loc[ep["topic"] == 1, "fees"].mean() > ep.loc[ep["topic"] == 0, "fees"].mean()


def test_uncovered_fees_reject_the_payload() -> None:
    """A worker that cannot pay the data-sending fee does not get its payload in."""
    m = AlloraModel(
        allora_sim.scenario("epochs=3", "economy.worker_balance=0", "output.progress=false")
    )
    m.run()
    ag = m.agents_frame()
    inf = ag[ag["role"] == "inferer"]
    assert not inf["active"].any()
    assert np.isnan(m.epochs_frame()["network_inference"]).all()


def test_fixed_emission_funds_exactly_the_topic_rewards() -> None:
    """``emission=fixed`` (the default): each epoch the rewards account receives exactly the
    rewarded topics' ``topic_reward`` (from the treasury, minting the shortfall) — no more — so
    it never holds more than was funded, and the unminted allowance falls by no more than that.
    (A double conversion to uallo once moved the whole allowance into it on the first epoch.)"""
    m = AlloraModel(allora_sim.scenario("epochs=40", "n_topics=2", "output.progress=false"))
    eco, led = m.economy, m.economy.ledger
    funded = 0
    unminted0 = led.unminted
    for _ in range(m.scenario.epochs):
        rewards_before = led.balance("rewards")
        m.step()
        given = sum(int(x) for x in m.topic_reward.tolist())  # E_t of this epoch's topics, uallo
        assert eco.emitted_last == given
        funded += given
        assert led.balance("rewards") - rewards_before <= given  # paid out, or kept if failed
    settled = m.epochs_frame()["epoch"].nunique()
    assert funded == settled * 2 * 1000 * 10**18  # both topics, 1,000 ALLO each
    assert 0 <= led.balance("rewards") <= funded
    assert unminted0 - led.unminted <= funded
