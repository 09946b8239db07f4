"""Golden conformance of the emission schedule on ``tokenomics_months.csv`` (§9.2, §11.3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from allora_sim.conformance import replay_file
from allora_sim.conformance.cli import KNOWN_OPEN
from allora_sim.conformance.golden import RELATIVE_TOLERANCE, compare, load_golden
from allora_sim.conformance.tokenomics import BLOCKS_PER_MONTH, state_from_row
from allora_sim.core.params import golden
from allora_sim.economy.tokenomics import GROUPS, advance_month

FILE = "tokenomics_months.csv"


@pytest.fixture(scope="module")
def replayed(golden_dir: Path):
    return load_golden(golden_dir / FILE), replay_file(golden_dir / FILE)


def test_every_determinable_family_within_tolerance(replayed) -> None:
    gold, result = replayed
    report = compare(gold, result.frame, result.inputs, undetermined=result.undetermined).set_index(
        "family"
    )
    open_fams = set(KNOWN_OPEN[FILE])
    closed = report.drop(index=list(open_fams))
    assert closed["ok"].all(), closed[~closed["ok"]].to_string()
    for fam in (
        "ehat_target_i",
        "ehat_max_i",
        "ehat_i",
        "e_i",
        "ecosystem_tokens_emission",
        "validator_rewards",
        "topics_rewards",
        "topic_weights_*",
        "topic_rewards_*",
    ):
        assert report.loc[fam, "worst_rel_error"] <= RELATIVE_TOLERANCE
        assert report.loc[fam, "checked"] >= 96 * (3 if "*" in fam else 1) - 8
    # the open family stays close (mechanism.md §15)
    assert report.loc["validator_rewards_*", "worst_rel_error"] < 0.03


def test_undetermined_cells_are_only_unlisted_previous_topic_weights(replayed) -> None:
    _, result = replayed
    cells = [c for u in result.undetermined for c in u.cells]
    assert cells and all(c.startswith(("topic_weights_", "topic_rewards_")) for _, c in cells)


@pytest.mark.parametrize("month", [1, 11, 12, 13, 36, 37, 60, 95])
def test_the_model_carries_the_state_the_file_records(golden_dir: Path, month: int) -> None:
    gold = load_golden(golden_dir / FILE)
    _, mint = golden()
    carried, _ = advance_month(
        state_from_row(gold, month - 1),
        mint,
        BLOCKS_PER_MONTH,
        0.25,
        mint.previous_percentage_reward_to_staked_reputers,
    )
    recorded = state_from_row(gold, month)
    for g in GROUPS:
        assert carried.total[g] == pytest.approx(recorded.total[g], rel=1e-12)
        assert carried.staked[g] == pytest.approx(recorded.staked[g], rel=1e-12)
    assert carried.ecosystem == pytest.approx(recorded.ecosystem, rel=1e-12)
    assert carried.e == pytest.approx(recorded.e, rel=1e-12)


def test_spot_values_of_research_targets_t14_t15(replayed) -> None:
    _, result = replayed
    f = result.frame
    assert (f.loc[1:11, "e_i"] == f.loc[1, "ehat_max_i"]).all()  # T14: capped for months 1–11
    assert f.loc[0, "network_tokens_circulating"] == pytest.approx(155_000_000)
    assert f.loc[0, "network_tokens_staked"] == pytest.approx(47_000_000)
    assert f.loc[12, "network_tokens_circulating"] == pytest.approx(330_211_483.5, rel=1e-9)
    assert f.loc[12, "ehat_i"] == pytest.approx(0.01659953228547101, rel=1e-12)
    assert f.loc[12, "e_i"] == pytest.approx(0.018739780510796583, rel=1e-12)
    assert f.loc[95, "e_i"] == pytest.approx(0.002396203593042386, rel=1e-12)
    assert f.loc[95, "ecosystem_tokens_total"] == pytest.approx(39_443_332.6, rel=1e-9)


def test_a_topic_that_changed_slot_reads_its_previous_weight_from_the_old_slot(replayed) -> None:
    """Month 36 lists topics 2 and 4 in other slots than month 35: their previous weights are
    in the file and the month's weights follow; only topics live but unlisted the month before
    (months 20 and 36, one slot each) are undeterminable."""
    _, result = replayed
    cells = sorted(
        (row, col)
        for u in result.undetermined
        for row, col in u.cells
        if col.startswith("topic_weights_")
    )
    assert [row for row, _ in cells] == [20, 36]
