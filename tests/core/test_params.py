from __future__ import annotations

import pytest

from allora_sim.core.params import MintParams, ModuleParams, TopicParams, golden


def test_defaults_are_the_chains() -> None:
    m = ModuleParams()
    # x/emissions/types/params.go DefaultParams (mechanism.md §10.1)
    assert m.min_topic_weight == 100
    assert m.required_minimum_stake == 10_000
    assert (m.max_top_inferers_to_reward, m.max_top_forecasters_to_reward) == (32, 6)
    assert m.max_top_reputers_to_reward == 6
    assert (m.p_reward_inference, m.p_reward_forecast, m.p_reward_reputer) == (1, 3, 3)
    assert m.epsilon_safe_div == 1e-7
    assert m.p_norm_safe_div == 8.25
    assert MintParams().max_supply == 10**27


@pytest.mark.parametrize(
    ("cls", "kwargs", "needle"),
    [
        (ModuleParams, {"learning_rate": 1.0}, "learning_rate"),
        (ModuleParams, {"beta_entropy": -0.1}, "beta_entropy"),
        (ModuleParams, {"gradient_descent_max_iters": 0}, "gradient_descent_max_iters"),
        (ModuleParams, {"epsilon_reputer": float("nan")}, "epsilon_reputer"),
        (ModuleParams, {"max_samples_to_scale_scores": 2.5}, "max_samples_to_scale_scores"),
        (TopicParams, {"p_norm": 2.0}, "p_norm"),
        (TopicParams, {"alpha_regret": 0.0}, "alpha_regret"),
        (TopicParams, {"ground_truth_lag": 5}, "ground_truth_lag"),
        (TopicParams, {"active_inferer_quantile": 1.0}, "active_inferer_quantile"),
        (MintParams, {"team_percent_of_total_supply": 0.2}, "sum to 1"),
    ],
)
def test_invalid_values_name_the_parameter(cls: type, kwargs: dict, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        cls(**kwargs)


def test_chain_bounds_can_be_lifted_for_sweeps() -> None:
    assert TopicParams(p_norm=2.0, chain_bounds=False).p_norm == 2.0
    with pytest.raises(ValueError, match="p_norm"):
        TopicParams(p_norm=0.0, chain_bounds=False)


def test_replace_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match="no parameter 'pnorm'"):
        TopicParams().replace(pnorm=3)
    assert TopicParams().replace(p_norm=4.0).p_norm == 4.0


def test_golden_preset() -> None:
    mech, mint = golden()
    assert mech.module.p_reward_inference == 3.0
    assert mech.module.p_reward_reputer == 1.0
    assert mech.topic.epsilon == 0.01
    assert mint.maximum_monthly_percentage_yield == 0.009488792934583046
