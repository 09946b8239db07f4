"""Conformance: replay the chain's golden reference data through the reward core.

``replay(path)`` recognises the golden file by its name and recomputes every epoch (month)
after the first from that row's inputs and the state the core carried forward from earlier rows.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from allora_sim.conformance.golden import (
    FILE_NAMES,
    Replay,
    compare,
    find_golden_dir,
    load_golden,
)

__all__ = ["FILE_NAMES", "compare", "find_golden_dir", "load_golden", "replay", "replay_file"]


def replay_file(path: str | os.PathLike[str]) -> Replay:
    """Replay one golden file; returns the frame plus input columns and undetermined cells."""
    path = Path(path)
    if path.name not in FILE_NAMES:
        raise ValueError(
            f"unrecognised golden file {path.name!r}: expected one of {', '.join(FILE_NAMES)}"
        )
    golden = load_golden(path)
    if path.name == "inference_synthesis_epochs.csv":
        from allora_sim.conformance.inference_synthesis import replay_inference_synthesis

        return replay_inference_synthesis(golden)
    if path.name == "tokenomics_months.csv":
        from allora_sim.conformance.tokenomics import replay_tokenomics

        return replay_tokenomics(golden)
    if path.name == "sortition_epochs.csv":
        from allora_sim.conformance.sortition import replay_sortition

        return replay_sortition(golden)
    raise ValueError(
        f"unrecognised golden file {path.name!r}: expected one of {', '.join(FILE_NAMES)}"
    )


def replay(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Replay a golden file through the core.

    Returns a DataFrame with the golden file's own column names and index. Input columns are
    carried through; computed columns are the core's values, NaN only where the file does not
    hold the inputs (``frame.attrs["undetermined"]`` maps each reason to the cells it covers;
    ``frame.attrs["inputs"]`` lists the input columns).
    """
    r = replay_file(path)
    frame = r.frame
    frame.attrs["inputs"] = sorted(r.inputs)
    undetermined: dict[str, list[tuple[object, str]]] = {}
    for u in r.undetermined:  # a reason may come from several rows: keep every cell
        undetermined.setdefault(u.reason, []).extend(u.cells)
    frame.attrs["undetermined"] = undetermined
    return frame
