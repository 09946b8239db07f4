"""Property tests over random economies: conservation at every epoch, exact payouts."""

from __future__ import annotations

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

import allora_sim
from allora_sim.core.rewards import payouts_uallo_rows
from allora_sim.model import AlloraModel


@settings(max_examples=6, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    n_topics=st.integers(1, 3),
    inferers=st.integers(1, 8),
    reputers=st.integers(1, 4),
    amount=st.floats(0.0, 50.0),
    emission=st.sampled_from(["fixed", "chain"]),
)
# one topic takes the whole pool: E_t's float image rounded above the rewards account's balance
@example(seed=0, n_topics=1, inferers=1, reputers=1, amount=0.0, emission="chain")
def test_random_economies_conserve_every_token(
    seed: int, n_topics: int, inferers: int, reputers: int, amount: float, emission: str
) -> None:
    m = AlloraModel(
        allora_sim.scenario(
            f"seed={seed}",
            f"n_topics={n_topics}",
            "epochs=10",
            f"population.inferers.0.count={inferers}",
            f"population.reputers.0.count={reputers}",
            f"+population.consumers.0.params.amount={amount}",
            f"economy.emission={emission}",
            "mechanism.blocks_per_month=60",
            "output.progress=false",
        )
    )
    led = m.economy.ledger
    for _ in range(10):
        m.step()
        m.economy.check()
        assert led.total() == led.max_supply
        assert all(b >= 0 for b in led.balances.tolist())


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 40),
    st.integers(10**6, 10**24),
    st.integers(0, 2**32 - 1),
)
def test_payouts_never_exceed_the_topic_reward_and_lose_under_one_uallo_each(
    n: int, available: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    share = rng.dirichlet(np.ones(n))
    rewards = share * float(available)
    rewards[rng.random(n) < 0.2] = np.nan  # empty slots
    (paid,) = payouts_uallo_rows(rewards[None], [available])
    assert all(isinstance(p, int) and p >= 0 for p in paid)
    assert sum(paid) <= available
    # truncation loses less than one uallo per recipient (plus float64's own rounding of the
    # fractions, at most a few ulps of the reward)
    expected = float(np.nansum(rewards))
    assert sum(paid) >= expected - n - 8 * np.spacing(float(available)) * n


@settings(max_examples=5, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    n_topics=st.integers(13, 16),
    amount=st.floats(0.0, 50.0),
    emission=st.sampled_from(["fixed", "chain"]),
)
def test_topics_beyond_the_places_keep_the_books(
    seed: int, n_topics: int, amount: float, emission: str
) -> None:
    """More topics than the 12 places (1 per block × 12-block epochs): never more than 12
    active, only active topics get inferences, the weight sum stays the active topics' previous
    weights, and every token is accounted for."""
    m = AlloraModel(
        allora_sim.scenario(
            f"seed={seed}",
            f"n_topics={n_topics}",
            "epochs=12",
            f"+population.consumers.0.params.amount={amount}",
            f"economy.emission={emission}",
            "mechanism.blocks_per_month=60",
            "output.progress=false",
        )
    )
    eco = m.economy
    for _ in range(12):
        m.step()
        eco.check()
        assert eco.active.sum() <= 12
        expected = float(np.nansum(eco.prev_weight[eco.active]))
        assert abs(eco.weight_sum - expected) <= 1e-9 * max(abs(expected), 1.0)
    ep = m.epochs_frame()
    assert (ep.groupby("epoch")["network_inference"].count() <= 12).all()
