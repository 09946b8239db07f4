"""``allora-sim-verify``: passes on the golden data, fails on a doctored cell, explains itself."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from allora_sim.conformance.cli import main


def test_verify_passes_on_the_golden_data(golden_dir: Path, capsys) -> None:
    assert main(["--golden-dir", str(golden_dir)]) == 0
    out = capsys.readouterr().out
    assert "allora-sim-verify: PASS" in out
    for name in ("inference_synthesis_epochs.csv", "tokenomics_months.csv", "sortition_epochs.csv"):
        assert name in out
    assert "undetermined" in out and "row 300 needs" in out
    assert "open (spec §15, bound 0.025): validator_rewards_*" in out


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
    with pytest.raises(SystemExit) as exit_info:
        main(["--tolerance", "-1"])
    assert exit_info.value.code == 2
    assert "--tolerance=-1.0 is invalid: must be > 0" in capsys.readouterr().err
    from allora_sim.conformance import replay

    (tmp_path / "good.csv").write_text("epoch,x\n1,2\n")
    with pytest.raises(ValueError, match=r"unrecognised golden file 'good\.csv': expected one of"):
        replay(tmp_path / "good.csv")


def _doctor(golden_dir: Path, tmp_path: Path, name: str, change) -> None:  # type: ignore[no-untyped-def]
    df = pd.read_csv(golden_dir / name, dtype=str, keep_default_na=False)
    change(df)
    df.to_csv(tmp_path / name, index=False)


def _first(df: pd.DataFrame, column_suffix: str, value: str) -> tuple[int, str]:
    for c in df.columns:
        if c.endswith(column_suffix):
            rows = df.index[df[c] == value]
            if len(rows):
                return int(rows[0]), c
    raise AssertionError(f"no {column_suffix} cell equal to {value!r}")


def _set(suffix: str, old: str, new: str):  # type: ignore[no-untyped-def]
    def change(df: pd.DataFrame) -> None:
        row, col = _first(df, suffix, old)
        df.loc[row, col] = new

    return change


@pytest.mark.parametrize(
    ("name", "change", "family"),
    [
        # a participant the chain did not draw, marked drawn: the core's NaN must not pass
        ("sortition_epochs.csv", _set("_active", "", "true"), "*_active"),
        # a drawn participant, blanked: the core's value where the file has none is a miss
        ("sortition_epochs.csv", _set("_active", "true", ""), "*_active"),
        # a blanked output cell is not simply skipped
        (
            "inference_synthesis_epochs.csv",
            lambda df: df.__setitem__(
                "network_inference", df["network_inference"].where(df.index != 4, "")
            ),
            "network_inference",
        ),
        # the known-open family is bounded (2.5 %), not exempt
        (
            "tokenomics_months.csv",
            lambda df: df.__setitem__(
                "validator_rewards_0",
                df["validator_rewards_0"].where(
                    df.index != 1, str(2 * float(df.loc[1, "validator_rewards_0"]))
                ),
            ),
            "validator_rewards_*",
        ),
    ],
)
def test_verify_fails_where_a_value_goes_missing_or_appears(
    golden_dir: Path, tmp_path: Path, capsys, name: str, change, family: str
) -> None:
    _doctor(golden_dir, tmp_path, name, change)
    assert main(["--golden-dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.strip().startswith(family + " "))
    assert line.rstrip().endswith("MISS"), line
    assert "not verified" in out  # the other two files are not in tmp_path, and it says so


def test_replay_lists_every_undetermined_cell(golden_dir: Path) -> None:
    from allora_sim.conformance import replay, replay_file

    path = golden_dir / "inference_synthesis_epochs.csv"
    frame = replay(path)
    listed = sum(len(cells) for cells in frame.attrs["undetermined"].values())
    assert listed == sum(len(u.cells) for u in replay_file(path).undetermined) > 0
