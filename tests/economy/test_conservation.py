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
    # the recorded role totals (summed over account ranges) are the agents' balances
    roles = list(eco.accounts)
    balances = eco.ledger.balances
    assert eco.role_balances(roles) == [int(balances[eco.accounts[r]].sum()) for r in roles]
    for r in roles:  # read as a slice of the accounts: the same as through their indices
        assert np.array_equal(m.balances(r), eco.ledger.allo(eco.accounts[r]))
    last = m.economy_frame().iloc[-1]
    for r in roles:
        assert last[f"balance_{r}"] == int(balances[eco.accounts[r]].sum()) / 1e18
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


def test_only_the_workers_who_cannot_pay_lose_their_payload() -> None:
    """Every worker sends, some cannot cover the data-sending fee: exactly those are dropped
    (the collection over every worker's account must not drop the others)."""
    m = AlloraModel(
        allora_sim.scenario("epochs=4", "economy.worker_balance=0", "output.progress=false")
    )
    eco = m.economy
    funded = [0, 2, 3]  # inferer slots of topic 0 that can pay for every epoch
    for slot in funded:
        eco.ledger.transfer(
            eco.alloc["participants"], int(eco.accounts["inferers"][0, slot]), 10**18
        )
    eco.ledger.transfer(eco.alloc["participants"], int(eco.accounts["forecasters"][0, 1]), 10**18)
    m.run()
    ag = m.agents_frame()
    active = ag[ag["active"]]
    assert sorted(set(active.loc[active["role"] == "inferer", "agent"])) == sorted(
        int(a) for a in m.recorder._static["inferers"]["agent"][funded]
    )
    assert set(active.loc[active["role"] == "forecaster", "agent"]) == {
        int(m.recorder._static["forecasters"]["agent"][1])
    }


def test_only_the_reputers_who_cannot_pay_lose_their_report() -> None:
    """Reputers hold only their stake (no balance for the data-sending fee) but two: only
    those two report, every epoch (the collection over every reputer's account must not
    drop the others)."""
    m = AlloraModel(
        allora_sim.scenario("epochs=6", "economy.worker_balance=0", "output.progress=false")
    )
    eco = m.economy
    part = eco.alloc["participants"]
    for role in ("inferers", "forecasters"):
        for a in eco.accounts[role].ravel().tolist():
            eco.ledger.transfer(part, int(a), 10**18)
    funded = [1, 3]
    for slot in funded:
        eco.ledger.transfer(part, int(eco.accounts["reputers"][0, slot]), 10**18)
    m.run()
    ag = m.agents_frame()
    rep = ag[(ag["role"] == "reputer") & ag["active"]]
    assert len(set(rep["epoch"])) > 1
    assert set(rep["agent"]) == {int(a) for a in m.recorder._static["reputers"]["agent"][funded]}


def test_fixed_emission_funds_exactly_the_topic_rewards() -> None:
    """``emission=fixed`` (the default): each epoch the rewards account receives exactly the
    rewarded topics' ``topic_reward`` (from the treasury, minting the shortfall) — no more — so
    it never holds more than was funded, and the unminted allowance falls by no more than that.
    (A double conversion to uallo once moved the whole allowance into it on the first epoch.)"""
    m = AlloraModel(allora_sim.scenario("epochs=40", "n_topics=2", "output.progress=false"))
    eco, led = m.economy, m.economy.ledger
    funded = minted = 0
    unminted0 = led.unminted
    for _ in range(m.scenario.epochs):
        rewards_before = led.balance("rewards")
        unminted_before = led.unminted
        m.step()
        given = sum(int(x) for x in m.topic_reward.tolist())  # E_t of this epoch's topics, uallo
        assert eco.emitted_last == given
        # the recorded mint is what left the allowance: the treasury's shortfall only
        assert eco.minted_last == unminted_before - led.unminted
        minted += eco.minted_last
        funded += given
        assert led.balance("rewards") - rewards_before <= given  # paid out, or kept if failed
    settled = m.epochs_frame()["epoch"].nunique()
    assert funded == settled * 2 * 1000 * 10**18  # both topics, 1,000 ALLO each
    assert 0 <= led.balance("rewards") <= funded
    assert unminted0 - led.unminted == minted < funded  # the fees paid for part of it


def test_delegators_earn_their_share_of_the_reputers_rewards() -> None:
    """§6.6: of reputer m's reward W_m its delegators get trunc(W_m·D_m/S_m) and the reputer
    re-stakes the rest, so what a reputer's delegators receive over what it re-stakes plus that
    is D_m/S_m, up to the uallo truncations. Loyal delegators (they never move) fix D_m."""
    m = AlloraModel(
        allora_sim.scenario(
            "epochs=12",
            "population.delegators=[{name: loyal, behaviour: yield_seeker, count: 6,"
            " params: {amount: 2000.0, switch_probability: 0.0}}]",
            "output.progress=false",
        )
    )
    eco = m.economy
    book = eco.stake
    accounts = eco.accounts["delegators"].ravel()
    m.step()  # the delegators delegate in the first epoch
    assert (book.delegations > 0).all()
    m.step()  # the first epoch closes and pays nobody (no inferer scores yet)
    received = np.zeros(book.own.shape, dtype=object)
    for _ in range(m.scenario.epochs - 2):
        own, delegated = book.own.copy(), book.delegated.copy()
        authority = own + delegated
        balances = np.array([eco.ledger.balance(int(a)) for a in accounts], dtype=object)
        pending = eco.ledger.balance("pending_delegators")
        m.step()
        got = np.array([eco.ledger.balance(int(a)) for a in accounts], dtype=object) - balances
        cut = np.zeros(own.shape, dtype=object)
        np.add.at(cut, (book.topic_of, book.target), got)
        kept = book.own - own
        # the pro-rata split leaves at most one uallo per delegator in the pending account
        dust = eco.ledger.balance("pending_delegators") - pending
        assert 0 <= dust <= len(accounts)
        assert sum(got) + dust > 0
        for t, r in zip(*np.nonzero(delegated > 0), strict=True):
            reward = kept[t, r] + cut[t, r]
            expected = reward * delegated[t, r] // authority[t, r]
            # the core's amounts are float64 images of the chain's decimals (≈ 1e-16 relative)
            slack = len(accounts) + 1 + expected // 10**14
            assert expected - slack <= cut[t, r] <= expected + slack
        received += cut
    assert (received[delegated > 0] > 0).all()
