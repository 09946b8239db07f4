"""Scenario configuration: composition, validation and one-line errors (issue: Hydra scenarios)."""

from __future__ import annotations

import pytest

import allora_sim
from allora_sim.cli import main
from allora_sim.config import ConfigError


@pytest.mark.parametrize("name", ["default", "context", "large"])
def test_shipped_scenarios_compose_and_validate(name: str) -> None:
    sc = allora_sim.scenario(f"scenario={name}")
    assert sc.name == name
    counts = {g.name: g.count for g in sc.inferers}
    if name == "default":
        assert sum(counts.values()) == 5 and sc.epochs == 1000
        assert sum(g.count for g in sc.forecasters) == 3
        assert sum(g.count for g in sc.reputers) == 5
    if name == "large":
        assert sum(counts.values()) == 1000
        assert sum(g.count for g in sc.forecasters) == 100
        assert sum(g.count for g in sc.reputers) == 50


def test_embedded_default_needs_no_yaml(tmp_path) -> None:
    """Without configs/ the schema's defaults are the default scenario."""
    empty = tmp_path / "configs"
    empty.mkdir()
    sc = allora_sim.scenario("epochs=3", config_dir=str(empty))
    assert sc.name == "default" and sc.epochs == 3
    assert sum(g.count for g in sc.inferers) == 5


def test_overrides_reach_the_mechanism_and_population() -> None:
    sc = allora_sim.scenario("mechanism.p_norm=2", "population.inferers.0.count=7", "seed=4")
    assert sc.mechanism.topic.p_norm == 2.0  # outside the chain's range: allowed in sweeps
    assert sc.inferers[0].count == 7 and sc.seed == 4
    strict = ("mechanism.p_norm=2", "mechanism.chain_bounds=true")
    with pytest.raises(ConfigError, match=r"mechanism\.p_norm=2\.0 is invalid"):
        allora_sim.scenario(*strict)


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("sedd=1", "sedd"),  # unknown key
        # added with +, an unknown key is refused too (it used to be dropped without a word)
        ("+mechanism.p_nrom=2", "mechanism.p_nrom is not a configuration key: did you mean"),
        ("+foo=1", "foo is not a configuration key: the scenario has ['name', 'seed'"),
        ("+population.inferers.0.colour=3", "population.inferers.0.colour is not a config"),
        ("population.inferers.0.count=-1", "population.inferers.0.count=-1 is invalid"),
        ("population.forecasters.0.params.sensitivity=1.5", "must be in [0, 1]"),
        ("mechanism.merit_sortition_alpha=1.5", "merit_sortition_alpha=1.5 is invalid"),
        ("mechanism.initial_regret_quantile=-0.1", "initial_regret_quantile"),
        ("seed=abc", "seed=abc"),
        ("world.kind=moon", "expected one of"),
        ("population.reputers.0.behaviour=liar", "reputers behaviours are"),
        ("+population.inferers.0.params.skill=1", "allowed: bias, change_epoch"),
        ("epochs=0", "epochs=0 is invalid"),
        ("scenario=nope", "available: context, default, economy, large"),
        ("mint.team_percent_of_total_supply=0.2", "shares sum to 1"),
        ("+population.reputers.0.params.stake=1e-15", "required_minimum_stake"),
        ("economy.consumer_budget=-5", "economy.consumer_budget=-5.0 is invalid"),
        ("+population.consumers.0.params.amount=-1", "amount=-1 is invalid"),
        (
            "population.consumers=[{name: p, behaviour: fixed_payer, count: 1,"
            " params: {start_epoch: 5, stop_epoch: 2}}]",
            "stop_epoch=2 is invalid: must be after start_epoch (5)",
        ),
        ("world.csv_path=prices.csv", "is read only by the csv world (world.kind is gbm)"),
        ("name=a/b", "name='a/b' is invalid: must be a non-empty name"),
        ("name=..", "name='..' is invalid: must be a non-empty name"),
        ("name=''", "name='' is invalid: must be a non-empty name"),
        # settings under which nothing could happen are refused before the first epoch
        ("world.ground_truth_lag=36", "ground_truth_lag=36 is invalid: must let an epoch close"),
        ("world.ground_truth_lag=24", "ground_truth_lag=24 is invalid: must let an epoch close"),
        # a mistyped key names the nearest one; a group index past the list says how to add
        ("epoch=100", "Key 'epoch' not in 'SimConfig' (did you mean epochs?)"),
        ("mechanism.pnorm=3", "(did you mean mechanism.p_norm?)"),
        ("population.inferers.5.count=1", "population.inferers has no group 5: to add groups"),
        ("seed=0,1", "seed=0,1 is a sweep: run it with --multirun"),
        ("name=données", "quote a value holding spaces, brackets or non-ASCII characters"),
        ("~epochs", "~epochs: the scenario's keys cannot be deleted"),
        ("+population.reputers.0.params.topic=5", "topic=5 is invalid: must be < n_topics (1)"),
        (
            "population.inferers=[{name: s, behaviour: regime_specialist, count: 2,"
            " params: {regime: 7}}]",
            "regime=7 is invalid: must be < the world's number of contexts (5)",
        ),
        (
            "population.inferers=[{name: ar, behaviour: online_model, count: 2,"
            " params: {kind: ar1, alpha: 0.5}}]",
            "alpha=0.5 is invalid: must be below 0.5 with kind 'ar1'",
        ),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_2(
    override: str, needle: str, capsys, tmp_path
) -> None:
    code = main(["epochs=2", "output.progress=false", f"output.dir={tmp_path}", override])
    err = capsys.readouterr().err
    assert code == 2
    assert "to append" not in err or ".params." in err  # '+' only adds behaviour parameters
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert needle in lines[0], lines[0]
    assert "Traceback" not in err


def test_chain_emission_needs_months_that_end_with_epochs(capsys, tmp_path) -> None:
    """The mint's month start reads f_rep of the month's last block (§9.1): with the model's
    once-per-epoch rewards that needs BlocksPerMonth to be a multiple of the epoch length."""
    code = main(
        ["scenario=economy", "mechanism.blocks_per_month=435", "epochs=2", f"output.dir={tmp_path}"]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "mechanism.blocks_per_month=435 is invalid" in err and "432 or 444" in err
    # fixed emission has no mint schedule to keep in step
    allora_sim.scenario("mechanism.blocks_per_month=435")


def test_world_timing_reaches_the_topic_and_chain_bounds_check_it(capsys, tmp_path) -> None:
    sc = allora_sim.scenario("world.epoch_length=24", "world.ground_truth_lag=60")
    topic = sc.mechanism.topic
    assert (topic.epoch_length, topic.ground_truth_lag) == (24, 60)
    # the worker window closes within the epoch (a whole epoch's window closes nothing on chain)
    assert topic.worker_submission_window == 23
    for override, needle in (
        ("world.epoch_length=1", "world.epoch_length=1 is invalid: must be >= "),
        ("world.ground_truth_lag=5000", "ground_truth_lag=5000 is invalid: must be <= max_unf"),
        (
            "mechanism.max_unfulfilled_reputer_requests=2 world.ground_truth_lag=600",
            "must be <= max_unfulfilled_reputer_requests × epoch_length (24)",
        ),
    ):
        code = main(["mechanism.chain_bounds=true", *override.split(), f"output.dir={tmp_path}"])
        err = capsys.readouterr().err.strip()
        assert code == 2 and len(err.splitlines()) == 1 and needle in err, err
    allora_sim.scenario("world.epoch_length=1", "world.ground_truth_lag=5000", "epochs=6000")
