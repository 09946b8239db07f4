"""Mechanism parameters with the chain's defaults, validated on construction.

Three frozen dataclasses mirror the three places the chain keeps its parameters
(`mechanism.md` §10):

* :class:`ModuleParams` – the emissions module's ``DefaultParams()``
  (``x/emissions/types/params.go``, §10.1), validated like ``Params.Validate``;
* :class:`TopicParams` – what a topic is created with (``CreateNewTopicRequest``,
  §10.2), validated like ``CreateNewTopicRequest.Validate``;
* :class:`MintParams` – the mint module's ``DefaultParams()`` (``x/mint/types/params.go``,
  §10.3) plus the two emission inputs the mint reads from elsewhere.

:func:`golden` returns the overrides the golden reference data was generated with (§10.4).

Every invalid value raises ``ValueError`` naming the parameter, the value and the allowed
range. ``TopicParams(chain_bounds=False)`` keeps only the mathematical requirements, for
research sweeps outside the ranges the chain accepts (e.g. ``p_norm`` below 2.5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Any

__all__ = ["MechanismParams", "MintParams", "ModuleParams", "TopicParams", "golden"]


def _check(cls_name: str, name: str, value: Any, ok: bool, allowed: str) -> None:
    if not ok:
        raise ValueError(f"{cls_name}.{name} = {value!r} is invalid: must be {allowed}")


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class _Validated:
    """Mixin: run the class's ``_rules()`` after construction."""

    def _rules(self) -> list[tuple[str, bool, str]]:  # pragma: no cover - overridden
        return []

    def __post_init__(self) -> None:
        name = type(self).__name__
        for f in fields(self):  # type: ignore[arg-type]
            v = getattr(self, f.name)
            if f.type in ("float", float) and not _finite(v):
                _check(name, f.name, v, False, "a finite number")
            if f.type in ("int", int) and not _is_int(v):
                _check(name, f.name, v, False, "an integer")
        for fname, ok, allowed in self._rules():
            _check(name, fname, getattr(self, fname), ok, allowed)

    def replace(self, **changes: Any) -> Any:
        """A copy with ``changes`` applied (and validated). Unknown names raise ``ValueError``."""
        known = {f.name for f in fields(self)}  # type: ignore[arg-type]
        for key in changes:
            if key not in known:
                raise ValueError(
                    f"{type(self).__name__} has no parameter {key!r}; "
                    f"known parameters: {', '.join(sorted(known))}"
                )
        return replace(self, **changes)  # type: ignore[type-var]


@dataclass(frozen=True)
class ModuleParams(_Validated):
    """Emissions-module parameters (``x/emissions/types/params.go`` ``DefaultParams``, §10.1).

    Monetary amounts are integers in uallo. Names are the chain's, in snake_case.
    """

    min_topic_weight: float = 100.0
    required_minimum_stake: int = 10_000
    remove_stake_delay_window: int = 604_800
    min_epoch_length: int = 12
    beta_entropy: float = 0.25
    learning_rate: float = 0.05
    gradient_descent_max_iters: int = 10
    max_gradient_threshold: float = 0.001
    min_stake_fraction: float = 0.5
    epsilon_reputer: float = 0.01
    epsilon_safe_div: float = 1e-7
    max_unfulfilled_worker_requests: int = 100
    max_unfulfilled_reputer_requests: int = 100
    topic_reward_stake_importance: float = 0.5
    topic_reward_fee_revenue_importance: float = 0.5
    topic_reward_alpha: float = 0.5
    task_reward_alpha: float = 0.1
    validators_vs_allora_percent_reward: float = 0.25
    max_samples_to_scale_scores: int = 10
    max_top_inferers_to_reward: int = 32
    max_top_forecasters_to_reward: int = 6
    max_top_reputers_to_reward: int = 6
    create_topic_fee: int = 75_000
    registration_fee: int = 200
    min_epoch_length_record_limit: int = 3
    blocks_per_month: int = 864_000
    p_reward_inference: float = 1.0
    p_reward_forecast: float = 3.0
    p_reward_reputer: float = 3.0
    c_reward_inference: float = 0.75
    c_reward_forecast: float = 0.75
    c_norm: float = 0.75
    half_max_process_stake_removals_end_block: int = 40
    data_sending_fee: int = 10
    max_elements_per_forecast: int = 12
    max_active_topics_per_block: int = 1
    initial_regret_quantile: float = 0.25
    p_norm_safe_div: float = 8.25

    def _rules(self) -> list[tuple[str, bool, str]]:
        open01 = "in the open interval (0, 1)"
        closed01 = "in the closed interval [0, 1]"
        return [
            ("min_topic_weight", self.min_topic_weight >= 0, ">= 0"),
            ("required_minimum_stake", self.required_minimum_stake >= 0, ">= 0 (uallo)"),
            ("remove_stake_delay_window", self.remove_stake_delay_window >= 0, ">= 0 blocks"),
            ("min_epoch_length", self.min_epoch_length >= 1, ">= 1 block"),
            ("beta_entropy", 0 <= self.beta_entropy <= 1, closed01),
            ("learning_rate", 0 < self.learning_rate < 1, open01),
            ("gradient_descent_max_iters", self.gradient_descent_max_iters >= 1, ">= 1"),
            ("max_gradient_threshold", 0 < self.max_gradient_threshold < 1, open01),
            ("min_stake_fraction", 0 <= self.min_stake_fraction <= 1, closed01),
            ("epsilon_reputer", self.epsilon_reputer > 0, "> 0"),
            ("epsilon_safe_div", self.epsilon_safe_div > 0, "> 0"),
            ("max_unfulfilled_worker_requests", self.max_unfulfilled_worker_requests >= 0, ">= 0"),
            (
                "max_unfulfilled_reputer_requests",
                self.max_unfulfilled_reputer_requests >= 0,
                ">= 0",
            ),
            (
                "topic_reward_stake_importance",
                0 <= self.topic_reward_stake_importance <= 1,
                closed01,
            ),
            (
                "topic_reward_fee_revenue_importance",
                0 <= self.topic_reward_fee_revenue_importance <= 1,
                closed01,
            ),
            ("topic_reward_alpha", 0 < self.topic_reward_alpha < 1, open01),
            ("task_reward_alpha", 0 < self.task_reward_alpha < 1, open01),
            (
                "validators_vs_allora_percent_reward",
                0 <= self.validators_vs_allora_percent_reward <= 1,
                closed01,
            ),
            ("max_samples_to_scale_scores", self.max_samples_to_scale_scores >= 1, ">= 1"),
            ("max_top_inferers_to_reward", self.max_top_inferers_to_reward >= 1, ">= 1"),
            ("max_top_forecasters_to_reward", self.max_top_forecasters_to_reward >= 0, ">= 0"),
            ("max_top_reputers_to_reward", self.max_top_reputers_to_reward >= 1, ">= 1"),
            ("create_topic_fee", self.create_topic_fee >= 0, ">= 0 (uallo)"),
            ("registration_fee", self.registration_fee >= 0, ">= 0 (uallo)"),
            ("min_epoch_length_record_limit", self.min_epoch_length_record_limit >= 0, ">= 0"),
            ("blocks_per_month", self.blocks_per_month >= 1, ">= 1"),
            ("p_reward_inference", self.p_reward_inference > 0, "> 0"),
            ("p_reward_forecast", self.p_reward_forecast > 0, "> 0"),
            ("p_reward_reputer", self.p_reward_reputer > 0, "> 0"),
            ("c_reward_inference", self.c_reward_inference > 0, "> 0"),
            ("c_reward_forecast", self.c_reward_forecast > 0, "> 0"),
            ("c_norm", self.c_norm > 0, "> 0"),
            (
                "half_max_process_stake_removals_end_block",
                self.half_max_process_stake_removals_end_block >= 0,
                ">= 0",
            ),
            ("data_sending_fee", self.data_sending_fee >= 0, ">= 0 (uallo)"),
            ("max_elements_per_forecast", self.max_elements_per_forecast >= 1, ">= 1"),
            ("max_active_topics_per_block", self.max_active_topics_per_block >= 1, ">= 1"),
            ("initial_regret_quantile", 0 <= self.initial_regret_quantile <= 1, closed01),
            ("p_norm_safe_div", self.p_norm_safe_div > 0, "> 0"),
        ]


@dataclass(frozen=True)
class TopicParams(_Validated):
    """Per-topic parameters (``CreateNewTopicRequest``, §10.2).

    Defaults are the fiducial research topic (research target T26): epoch 12 blocks, lag 12,
    p = 3, α_regret = 0.1, ε = 0.01, sortition α 0.1, quantiles 0.25.
    """

    epoch_length: int = 12
    ground_truth_lag: int = 12
    worker_submission_window: int = 12
    p_norm: float = 3.0
    alpha_regret: float = 0.1
    epsilon: float = 0.01
    merit_sortition_alpha: float = 0.1
    active_inferer_quantile: float = 0.25
    active_forecaster_quantile: float = 0.25
    active_reputer_quantile: float = 0.25
    allow_negative: bool = False
    chain_bounds: bool = field(default=True, compare=False)

    def _rules(self) -> list[tuple[str, bool, str]]:
        half_open = "in [0, 1)"
        rules = [
            ("epoch_length", self.epoch_length >= 1, ">= 1 block"),
            ("worker_submission_window", self.worker_submission_window >= 1, ">= 1 block"),
            (
                "worker_submission_window",
                self.worker_submission_window <= self.epoch_length,
                f"<= epoch_length ({self.epoch_length})",
            ),
            (
                "ground_truth_lag",
                self.ground_truth_lag >= self.epoch_length,
                f">= epoch_length ({self.epoch_length})",
            ),
            ("alpha_regret", 0 < self.alpha_regret <= 1, "in (0, 1]"),
            ("epsilon", self.epsilon > 0, "> 0"),
            ("merit_sortition_alpha", 0 <= self.merit_sortition_alpha < 1, half_open),
            ("active_inferer_quantile", 0 <= self.active_inferer_quantile < 1, half_open),
            ("active_forecaster_quantile", 0 <= self.active_forecaster_quantile < 1, half_open),
            ("active_reputer_quantile", 0 <= self.active_reputer_quantile < 1, half_open),
        ]
        if self.chain_bounds:
            rules.append(
                (
                    "p_norm",
                    2.5 <= self.p_norm <= 4.5,
                    "in [2.5, 4.5] (the chain's bound; pass chain_bounds=False to sweep outside)",
                )
            )

        else:
            rules.append(("p_norm", self.p_norm > 0, "> 0"))
        return rules


@dataclass(frozen=True)
class MintParams(_Validated):
    """Mint-module parameters (``x/mint/types/params.go`` ``DefaultParams``, §10.3).

    ``max_supply`` is in uallo (1e27 uallo = 1e9 ALLO).
    ``previous_percentage_reward_to_staked_reputers`` is the genesis value of the stored ratio
    f_rep the emission cap uses (§9.1).
    """

    max_supply: int = 10**27
    f_emission: float = 0.025
    one_month_smoothing_degree: float = 0.1
    ecosystem_treasury_percent_of_total_supply: float = 0.3595
    foundation_treasury_percent_of_total_supply: float = 0.1
    participants_percent_of_total_supply: float = 0.055
    investors_percent_of_total_supply: float = 0.2605
    investors_preseed_percent_of_total_supply: float = 0.05
    team_percent_of_total_supply: float = 0.175
    maximum_monthly_percentage_yield: float = 0.0095
    previous_percentage_reward_to_staked_reputers: float = 0.3

    def _rules(self) -> list[tuple[str, bool, str]]:
        closed01 = "in the closed interval [0, 1]"
        shares = (
            self.ecosystem_treasury_percent_of_total_supply
            + self.foundation_treasury_percent_of_total_supply
            + self.participants_percent_of_total_supply
            + self.investors_percent_of_total_supply
            + self.investors_preseed_percent_of_total_supply
            + self.team_percent_of_total_supply
        )
        return [
            ("max_supply", self.max_supply > 0, "> 0 (uallo)"),
            ("f_emission", 0 <= self.f_emission <= 1, closed01),
            ("one_month_smoothing_degree", 0 <= self.one_month_smoothing_degree <= 1, closed01),
            (
                "ecosystem_treasury_percent_of_total_supply",
                0 <= self.ecosystem_treasury_percent_of_total_supply <= 1,
                closed01,
            ),
            (
                "foundation_treasury_percent_of_total_supply",
                0 <= self.foundation_treasury_percent_of_total_supply <= 1,
                closed01,
            ),
            (
                "participants_percent_of_total_supply",
                0 <= self.participants_percent_of_total_supply <= 1,
                closed01,
            ),
            (
                "investors_percent_of_total_supply",
                0 <= self.investors_percent_of_total_supply <= 1,
                closed01,
            ),
            (
                "investors_preseed_percent_of_total_supply",
                0 <= self.investors_preseed_percent_of_total_supply <= 1,
                closed01,
            ),
            ("team_percent_of_total_supply", 0 <= self.team_percent_of_total_supply <= 1, closed01),
            (
                "team_percent_of_total_supply",
                abs(shares - 1.0) < 1e-12,
                f"such that the six allocation shares sum to 1 (they sum to {shares!r})",
            ),
            (
                "maximum_monthly_percentage_yield",
                0 <= self.maximum_monthly_percentage_yield <= 1,
                closed01,
            ),
            (
                "previous_percentage_reward_to_staked_reputers",
                0 <= self.previous_percentage_reward_to_staked_reputers <= 1,
                closed01,
            ),
        ]


@dataclass(frozen=True)
class MechanismParams:
    """All parameters one topic-epoch needs: module-wide and per-topic."""

    module: ModuleParams = field(default_factory=ModuleParams)
    topic: TopicParams = field(default_factory=TopicParams)

    def __post_init__(self) -> None:
        if not isinstance(self.module, ModuleParams):
            raise ValueError(f"MechanismParams.module must be a ModuleParams, got {self.module!r}")
        if not isinstance(self.topic, TopicParams):
            raise ValueError(f"MechanismParams.topic must be a TopicParams, got {self.topic!r}")
        m, t = self.module, self.topic
        if t.chain_bounds:  # the topic-creation rules that read module parameters (§10.2)
            if t.epoch_length < m.min_epoch_length:
                raise ValueError(
                    f"TopicParams.epoch_length = {t.epoch_length} is invalid: must be >= "
                    f"min_epoch_length ({m.min_epoch_length}) with chain_bounds"
                )
            most = m.max_unfulfilled_reputer_requests * t.epoch_length
            if t.ground_truth_lag > most:
                raise ValueError(
                    f"TopicParams.ground_truth_lag = {t.ground_truth_lag} is invalid: must be "
                    f"<= max_unfulfilled_reputer_requests × epoch_length ({most}) with chain_bounds"
                )


def golden() -> tuple[MechanismParams, MintParams]:
    """The parameters the golden reference data was generated with (§10.4).

    Inference synthesis: p = 3, c = 0.75, ε = 0.01, α_regret = 0.1; reward mapping p = 3,
    c = 0.75 for inferers *and* forecasters; reputer fraction exponent 1; α_task 0.1, β 0.25;
    gradient descent at the defaults. Tokenomics: f_e 0.025, α_e 0.1, f_v 0.25, f_rep 1/3,
    MPY 0.009488792934583046 (12 % a year).
    """
    module = ModuleParams(p_reward_inference=3.0, c_reward_inference=0.75, p_reward_reputer=1.0)
    topic = TopicParams(p_norm=3.0, alpha_regret=0.1, epsilon=0.01, merit_sortition_alpha=0.1)
    mint = MintParams(
        maximum_monthly_percentage_yield=0.009488792934583046,
        previous_percentage_reward_to_staked_reputers=1.0 / 3.0,
    )
    return MechanismParams(module=module, topic=topic), mint
