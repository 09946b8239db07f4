"""``allora-sim-verify``: passes on the golden data, fails on a doctored cell, explains itself."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from allora_sim.conformance.cli import main


def test_verify_passes_on_the_golden_data(golden_dir: Path, capsys) -> None:
    assert main(["--golden-dir", str(golden_dir)]) == 0
    out = capsys.readouterr().out
    assert "allora-sim-verify: PASS" in out
    for name in ("inference_synthesis_epochs.csv", "tokenomics_months.csv", "sortition_epochs.csv"):
        assert name in out
    assert "undetermined" in out and "row 300 needs" in out
    assert "open (spec §15): validator_rewards_*" in out


def test_verify_fails_on_a_doctored_cell(golden_dir: Path, tmp_path: Path, capsys) -> None:
    src = golden_dir / "inference_synthesis_epochs.csv"
    df = pd.read_csv(src)
    df.loc[3, "network_inference"] *= 1 + 1e-6
    df.to_csv(tmp_path / src.name, index=False, float_format="%.17g")
    assert main(["--golden-dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "network_inference" in out and "MISS" in out and "FAIL" in out


def test_verify_without_data_is_a_clear_error(tmp_path: Path, capsys) -> None:
    assert main(["--golden-dir", str(tmp_path / "missing")]) == 2
    assert "no golden data directory" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["--golden-dir", str(empty)]) == 2  # a directory without the files
