"""Golden conformance of the sortition core on ``sortition_epochs.csv`` (§8, §11.2)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allora_sim.conformance import replay, replay_file
from allora_sim.conformance.golden import RELATIVE_TOLERANCE, compare, load_golden
from allora_sim.conformance.sortition import replay_sortition
from allora_sim.core.sortition import find_top_n_by_score_desc, topic_quantile_of_instant_scores

FILE = "sortition_epochs.csv"
N = 8


def numbers(frame: pd.DataFrame, name: str) -> np.ndarray:
    """Per-participant columns ``0_name .. 7_name`` as floats (``true`` → 1, empty → NaN)."""
    cols = frame[[f"{i}_{name}" for i in range(N)]]
    return np.array(
        [[np.nan if pd.isna(v) else float(v) for v in row] for row in cols.itertuples(index=False)]
    )


@pytest.fixture(scope="module")
def gold(golden_dir: Path) -> pd.DataFrame:
    return load_golden(golden_dir / FILE)


@pytest.fixture(scope="module")
def replayed(golden_dir: Path):
    return replay_file(golden_dir / FILE)


def test_every_family_within_tolerance(gold, replayed) -> None:
    report = compare(gold, replayed.frame, replayed.inputs, undetermined=replayed.undetermined)
    assert report["ok"].all(), report.to_string()
    assert (report["worst_rel_error"] <= RELATIVE_TOLERANCE).all()
    assert (report["undetermined"] == 0).all()
    assert set(report["family"]) == {
        "n_participants_drawn",
        "quality_cutoff",
        "quality_percentile",
        "*_prev_quality_ema",
        "*_sort_position_previous_quality_ema",
        "*_sort_position_quality_metrics",
        "*_active",
        "*_quality_ema",
    }


def test_all_rows_reproduced_with_the_files_encoding(gold, replayed) -> None:
    """Every computed cell equals the file: NaN exactly where the file is empty (flags and the
    metric sort positions of undrawn participants), numbers within 1e-9 elsewhere."""
    frame = replayed.frame
    assert len(frame) == 101
    for c in gold.columns:
        if c in replayed.inputs:
            continue
        g = np.array([np.nan if pd.isna(v) else float(v) for v in gold[c]])
        v = frame[c].to_numpy(dtype=float)
        np.testing.assert_array_equal(np.isnan(v), np.isnan(g), err_msg=c)
        np.testing.assert_allclose(v[~np.isnan(g)], g[~np.isnan(g)], rtol=1e-9, atol=0, err_msg=c)
    assert not any(u.cells for u in replayed.undetermined)


def test_state_is_carried_by_the_core_not_read_from_the_file(gold, replayed) -> None:
    f = replayed.frame
    prev, new = numbers(f, "prev_quality_ema"), numbers(f, "quality_ema")
    np.testing.assert_array_equal(prev[1:], new[:-1])
    # a changed previous EMA in the file after the first row must not change the replay
    tampered = gold.copy()
    tampered.loc[350, "3_prev_quality_ema"] = 99.0
    again = replay_sortition(tampered).frame
    pd.testing.assert_series_equal(again["3_quality_ema"], f["3_quality_ema"])
    # ... while the first row is the initial state
    tampered = gold.copy()
    tampered.loc[300, "3_prev_quality_ema"] = 99.0
    assert replay_sortition(tampered).frame.loc[300, "3_quality_ema"] != f.loc[300, "3_quality_ema"]


def test_frame_keeps_the_golden_columns_index_and_inputs(golden_dir: Path, gold) -> None:
    frame = replay(golden_dir / FILE)
    assert list(frame.columns) == list(gold.columns)
    assert list(frame.index) == list(gold.index)
    assert set(frame.attrs["inputs"]) == {
        "n_participants",
        "n_participants_max",
        "percentile",
        "alpha_quality",
        *(f"{i}_prev_participated" for i in range(N)),
        *(f"{i}_quality_metric" for i in range(N)),
    }
    for c in frame.attrs["inputs"]:
        pd.testing.assert_series_equal(frame[c], gold[c], check_names=False)


def test_core_draws_exactly_the_participants_the_file_has_metrics_for(replayed) -> None:
    f = replayed.frame
    assert ((numbers(f, "active") == 1.0) == ~np.isnan(numbers(f, "quality_metric"))).all()


def test_a_metric_missing_for_a_drawn_participant_is_undetermined(gold, replayed) -> None:
    tampered = gold.copy()
    drawn = int(np.flatnonzero(numbers(gold.loc[[398]], "active")[0] == 1.0)[0])
    tampered.loc[398, f"{drawn}_quality_metric"] = np.nan
    r = replay_sortition(tampered)
    cells = {cell for u in r.undetermined for cell in u.cells}
    assert (398, "quality_percentile") in cells and (400, "0_prev_quality_ema") in cells
    assert all(u.reason for u in r.undetermined if u.cells)
    nan_cells = {
        (e, c)
        for e in tampered.index
        for c in tampered.columns
        if c not in r.inputs and np.isnan(float(r.frame.loc[e, c])) and not pd.isna(gold.loc[e, c])
    }
    assert nan_cells <= cells and nan_cells
    pd.testing.assert_frame_equal(r.frame.loc[:397], replayed.frame.loc[:397])


def test_go_get_quantile_of_scores_csv(gold) -> None:
    """``math/utils_test.go`` ``TestGetQuantileOfScoresCsv``: epochs 301..399, active metrics
    placed at their ``sort_position_quality_metrics``, quantile at ``percentile/100``
    = ``quality_percentile`` (InEpsilon 1e-5; we also hold it to 1e-12)."""
    active = numbers(gold, "active") == 1.0
    metric = numbers(gold, "quality_metric")
    pos = numbers(gold, "sort_position_quality_metrics")
    for r, epoch in enumerate(gold.index):
        if not 301 <= epoch <= 399:
            continue
        drawn = int(gold.loc[epoch, "n_participants_drawn"])
        placed = np.full(drawn, np.nan)
        placed[pos[r, active[r]].astype(int)] = metric[r, active[r]]
        assert not np.isnan(placed).any()
        got = topic_quantile_of_instant_scores(
            placed, np.ones(drawn, bool), gold.loc[epoch, "percentile"] / 100
        )
        want = gold.loc[epoch, "quality_percentile"]
        assert got == pytest.approx(want, rel=1e-5)
        assert got == pytest.approx(want, rel=1e-12)


def test_go_find_top_n_by_score_desc_csv(gold) -> None:
    """``actorutils/sort_test.go`` ``TestFindTopNByScoreDescCsv``: epochs 301..399, top
    ``n_participants_drawn`` by ``prev_quality_ema`` is exactly the ``active`` set."""
    prev = numbers(gold, "prev_quality_ema")
    active = numbers(gold, "active") == 1.0
    for r, epoch in enumerate(gold.index):
        if not 301 <= epoch <= 399:
            continue
        n = int(gold.loc[epoch, "n_participants"])
        top, _ = find_top_n_by_score_desc(
            prev[r, :n], np.ones(n, bool), int(gold.loc[epoch, "n_participants_drawn"])
        )
        np.testing.assert_array_equal(top, active[r, :n], err_msg=str(epoch))
