"""Golden conformance of the reward core on ``inference_synthesis_epochs.csv`` (§11.1, §12)."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allora_sim.conformance import replay, replay_file
from allora_sim.conformance.golden import RELATIVE_TOLERANCE, compare, load_golden
from allora_sim.conformance.inference_synthesis import _inputs, _Layout, state_from_rows
from allora_sim.core import run_topic_epoch
from allora_sim.core.params import golden
from allora_sim.core.synthesis import RegretStore

FILE = "inference_synthesis_epochs.csv"


@pytest.fixture(scope="module")
def replayed(golden_dir: Path):
    return load_golden(golden_dir / FILE), replay_file(golden_dir / FILE)


def test_every_family_within_tolerance(replayed) -> None:
    gold, result = replayed
    report = compare(gold, result.frame, result.inputs, undetermined=result.undetermined)
    bad = report[~report["ok"]]
    assert bad.empty, bad.to_string()
    assert (report["worst_rel_error"] <= RELATIVE_TOLERANCE).all()
    # 42 computed families, all checked somewhere
    assert len(report) == 42 and (report["checked"] > 0).all()


def test_frame_keeps_the_golden_columns_and_index(golden_dir: Path) -> None:
    frame = replay(golden_dir / FILE)
    gold = load_golden(golden_dir / FILE)
    assert list(frame.columns) == list(gold.columns)
    assert list(frame.index) == list(gold.index)
    assert frame.attrs["undetermined"]
    # inputs carried through unchanged
    for c in frame.attrs["inputs"]:
        pd.testing.assert_series_equal(frame[c], gold[c], check_names=False)


def test_only_cells_needing_older_state_are_undetermined(replayed) -> None:
    gold, result = replayed
    computed = [c for c in gold.columns if c not in result.inputs]
    nan_cells = {(e, c) for e in gold.index for c in computed if np.isnan(result.frame.loc[e, c])}
    listed = {cell for u in result.undetermined for cell in u.cells}
    assert nan_cells == listed
    # rows 301.. are complete except the forecaster reward fractions of 301 and 302, whose
    # window of the latest 10 scores reaches epochs 298–299 (§5.4, §12)
    late = {(e, c) for e, c in nan_cells if e > 300}
    assert late == {(e, f"forecaster_reward_fraction_{k}") for e in (301, 302) for k in range(3)}
    assert all(u.reason for u in result.undetermined)


def test_spot_values_of_research_target_t3(replayed) -> None:
    _, result = replayed
    f = result.frame
    assert f.loc[304, "network_loss"] == pytest.approx(-6.273522134855024, rel=1e-14)
    assert f.loc[304, "network_naive_loss"] == pytest.approx(-5.469778340470696, rel=1e-14)
    shares = f.loc[
        305, ["inferers_reward_fraction", "forecasters_reward_fraction", "reputers_reward_fraction"]
    ].to_numpy(float)
    np.testing.assert_allclose(
        shares, [0.3670710729355742, 0.2641226208577255, 0.3688063062067003], rtol=1e-12
    )
    rewards = [
        c
        for c in f.columns
        if c.split("_")[-1].isdigit() and "_reward_" in c and "fraction" not in c
    ]
    assert f.loc[305, rewards].sum() == pytest.approx(7681.699798905109, rel=1e-12)


@pytest.mark.parametrize("epoch", [301, 302, 303, 304])
def test_core_carries_the_state_the_file_records(golden_dir: Path, epoch: int) -> None:
    """Running epoch E from the state built from rows < E yields the state built from rows ≤ E."""
    gold = load_golden(golden_dir / FILE)
    mech, _ = golden()
    state, _ = state_from_rows(gold, epoch - 1)
    _, carried = run_topic_epoch(_inputs(gold.loc[epoch], _Layout.of(gold)), state, mech)
    recorded, _ = state_from_rows(gold, epoch)
    for f in fields(RegretStore):
        np.testing.assert_allclose(
            getattr(carried.regrets, f.name),
            getattr(recorded.regrets, f.name),
            rtol=1e-12,
            err_msg=f.name,
        )
    for name in (
        "network_loss",
        "listening_coefficient",
        "inferer_fraction_smooth",
        "reputer_fraction_smooth",
        "forecaster_score_ratio",
        "inferer_score_history",
    ):
        np.testing.assert_allclose(
            getattr(carried, name), getattr(recorded, name), rtol=1e-11, err_msg=name
        )
    if epoch >= 303:  # the smoothed forecaster fractions need the forecaster window (§5.4)
        np.testing.assert_allclose(
            carried.forecaster_fraction_smooth, recorded.forecaster_fraction_smooth, rtol=1e-12
        )
    hist = carried.forecaster_score_history[0]
    np.testing.assert_allclose(hist[:3], recorded.forecaster_score_history[0, :3], rtol=1e-12)
