"""Property tests of ``run_topic_epoch`` over random topics (hypothesis).

Random topics: 1–64 inferers, 0–12 forecasters, 1–12 reputers, missing forecast elements and
reputer reports, wide value ranges, under-staked reputers; several epochs so that the topic
passes through the median, all-new and regret-weighted modes.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from allora_sim.core import MechanismParams, RewardError, TopicState, run_topic_epoch
from allora_sim.synthetic import random_epoch_inputs

PARAMS = MechanismParams()


@st.composite
def topics(draw):
    n = draw(st.integers(1, 64))
    k = draw(st.integers(0, 12))
    m = draw(st.integers(1, 12))
    seed = draw(st.integers(0, 2**32 - 1))
    scale = draw(st.sampled_from([1e-6, 1.0, 1e3, 1e8]))
    missing = draw(st.sampled_from([0.0, 0.1, 0.5]))
    under = draw(st.sampled_from([0.0, 0.3]))
    epochs = draw(st.integers(1, 14))
    return n, k, m, seed, scale, missing, under, epochs


def _check(outcome, state, inputs) -> None:
    net = outcome.network
    present = inputs.inferer_ids[0] >= 0
    # network values: finite where defined, weights non-negative
    assert np.isfinite(net.values.combined).all()
    assert np.isfinite(net.values.naive).all()
    for w in (net.inferer_weight, net.forecaster_weight):
        defined = w[np.isfinite(w)]
        assert (defined >= 0).all()
    assert not np.isinf(net.values.oneout_inferer).any()
    # listening coefficients stay within the chain's clip bounds [0, 1]
    lc = outcome.listening_coefficient[np.isfinite(outcome.listening_coefficient)]
    assert ((lc >= -1e-12) & (lc <= 1 + 1e-12)).all(), lc
    scores = outcome.reputer_score[np.isfinite(outcome.reputer_score)]
    assert (scores > 0).all()
    if outcome.reward_error[0] == RewardError.NONE:
        rewards = np.concatenate(
            [outcome.inferer_reward[0], outcome.forecaster_reward[0], outcome.reputer_reward[0]]
        )
        paid = rewards[np.isfinite(rewards)]
        assert (paid >= 0).all()
        np.testing.assert_allclose(paid.sum(), inputs.topic_reward[0], rtol=1e-9)
        for x in (outcome.inferers_entropy, outcome.reputers_entropy, outcome.chi, outcome.gamma):
            assert np.isfinite(x).all()
        assert np.isfinite(
            outcome.inferer_fraction[0][present & np.isfinite(outcome.inferer_score[0])]
        ).all()
        kept = outcome.reputer_reward_kept[np.isfinite(outcome.reputer_reward_kept)]
        cut = outcome.delegator_reward[np.isfinite(outcome.delegator_reward)]
        assert (kept >= 0).all() and (cut >= 0).all()
    # carried state is finite where stored
    for name in ("initial_regret", "forecaster_score_ratio", "inferer_score_quantile"):
        assert np.isfinite(getattr(state, name)).all(), name
    r = state.regrets.oneout_inferer_inferer
    assert not np.isinf(r).any()


@settings(
    max_examples=int(__import__("os").environ.get("ALLORA_SIM_PROPERTY_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(topics())
def test_random_topics_keep_the_invariants(topic) -> None:
    n, k, m, seed, scale, missing, under, epochs = topic
    rng = np.random.default_rng(seed)
    state = TopicState.new(np.arange(n)[None], np.arange(k)[None], np.arange(m)[None])
    for _ in range(epochs):
        inputs = random_epoch_inputs(
            rng, state, PARAMS, scale=scale, missing=missing, under_staked=under
        )
        outcome, state = run_topic_epoch(inputs, state, PARAMS)
        _check(outcome, state, inputs)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1))
def test_batched_equals_one_topic_at_a_time(seed: int) -> None:
    """A batch of topics of different sizes (padded) gives each topic's own result."""
    rng = np.random.default_rng(seed)
    shapes = [(3, 0, 2), (7, 2, 3), (5, 3, 5)]
    n_max, k_max, m_max = (max(s[i] for s in shapes) for i in range(3))

    def padded(count: int, width: int) -> np.ndarray:
        return np.where(np.arange(width) < count, np.arange(width), -1)

    batch = TopicState.new(
        np.stack([padded(s[0], n_max) for s in shapes]),
        np.stack([padded(s[1], k_max) for s in shapes]),
        np.stack([padded(s[2], m_max) for s in shapes]),
    )
    singles = [
        TopicState.new(np.arange(n)[None], np.arange(k)[None], np.arange(m)[None])
        for n, k, m in shapes
    ]
    for _ in range(4):
        inputs = random_epoch_inputs(rng, batch, PARAMS, missing=0.1)
        out, batch = run_topic_epoch(inputs, batch, PARAMS)
        for t, (n, k, m) in enumerate(shapes):
            one = _slice(inputs, t, n, k, m)
            o1, singles[t] = run_topic_epoch(one, singles[t], PARAMS)
            np.testing.assert_allclose(
                out.network.values.combined[t], o1.network.values.combined[0], rtol=1e-12
            )
            np.testing.assert_allclose(
                out.inferer_reward[t, :n], o1.inferer_reward[0], rtol=1e-9, equal_nan=True
            )
            np.testing.assert_allclose(
                out.reputer_score[t, :m], o1.reputer_score[0], rtol=1e-9, equal_nan=True
            )
            assert out.reward_error[t] == o1.reward_error[0]


def _slice(inputs, t: int, n: int, k: int, m: int):
    from allora_sim.core import EpochInputs, ValueBundle

    rl = inputs.reputer_losses
    return EpochInputs(
        inferer_ids=inputs.inferer_ids[t : t + 1, :n],
        inference=inputs.inference[t : t + 1, :n],
        forecaster_ids=inputs.forecaster_ids[t : t + 1, :k],
        forecast=inputs.forecast[t : t + 1, :k, :n],
        reputer_ids=inputs.reputer_ids[t : t + 1, :m],
        stake=inputs.stake[t : t + 1, :m],
        reputer_losses=ValueBundle(
            combined=rl.combined[t : t + 1, :m],
            naive=rl.naive[t : t + 1, :m],
            inferer=rl.inferer[t : t + 1, :m, :n],
            forecaster=rl.forecaster[t : t + 1, :m, :k],
            oneout_inferer=rl.oneout_inferer[t : t + 1, :m, :n],
            oneout_forecaster=rl.oneout_forecaster[t : t + 1, :m, :k],
            onein_forecaster=rl.onein_forecaster[t : t + 1, :m, :k],
            oneout_inferer_forecaster=rl.oneout_inferer_forecaster[t : t + 1, :m, :k, :n],
        ),
        topic_reward=inputs.topic_reward[t : t + 1],
        delegated_stake=inputs.delegated_stake[t : t + 1, :m],
    )
