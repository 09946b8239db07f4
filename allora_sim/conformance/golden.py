"""Golden reference data: locating, loading and comparing (`mechanism.md` §11–§12).

The golden CSV files live beside the project (``../shared/golden``) or wherever
``ALLORA_SIM_GOLDEN_DIR`` points; they are never copied into the project.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "ENV_VAR",
    "FILE_NAMES",
    "RELATIVE_TOLERANCE",
    "Replay",
    "Undetermined",
    "compare",
    "family_of",
    "find_golden_dir",
    "load_golden",
]

ENV_VAR = "ALLORA_SIM_GOLDEN_DIR"
RELATIVE_TOLERANCE = 1e-9
FILE_NAMES = (
    "inference_synthesis_epochs.csv",
    "tokenomics_months.csv",
    "sortition_epochs.csv",
)


def find_golden_dir(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The golden directory: ``explicit``, else ``$ALLORA_SIM_GOLDEN_DIR``, else
    ``../shared/golden`` relative to the working directory or to the project checkout.
    ``None`` if none exists."""
    candidates: list[Path] = []
    if explicit is not None:
        candidates.append(Path(explicit))
    elif os.environ.get(ENV_VAR):
        candidates.append(Path(os.environ[ENV_VAR]))
    else:
        project_root = Path(__file__).resolve().parents[2]
        candidates += [
            Path.cwd() / ".." / "shared" / "golden",
            project_root.parent / "shared" / "golden",
        ]
    for c in candidates:
        if c.is_dir():
            return c.resolve()
    return None


def load_golden(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a golden CSV indexed by its ``epoch`` column, with the file's own column names.

    Sortition flags follow the Go loader: empty → NaN (absent / false), ``true`` → 1.0.
    """
    path = Path(path)
    df = pd.read_csv(path, index_col="epoch", keep_default_na=True)
    for col in df.columns:
        if col == "time":
            continue
        s = df[col]
        if s.dtype == bool:
            df[col] = s.astype(float)
        elif s.dtype == object:
            vals = s.dropna().map(lambda v: str(v).strip().lower())
            if len(vals) and vals.isin(["true", "false"]).all():
                df[col] = s.map(
                    lambda v: np.nan if pd.isna(v) else float(str(v).strip().lower() == "true")
                )
    return df


def family_of(column: str) -> str:
    """Column family: the name with every participant index replaced by ``*``."""
    return re.sub(r"\d+", "*", column)


@dataclass
class Undetermined:
    """Cells a replay cannot determine from the file, with the reason."""

    reason: str
    cells: list[tuple[object, str]] = field(default_factory=list)

    def add(self, row: object, columns: Iterable[str]) -> None:
        self.cells.extend((row, c) for c in columns)


@dataclass
class Replay:
    """What a replay produces: the frame (golden columns and index), which columns are inputs,
    and the cells it could not determine."""

    frame: pd.DataFrame
    inputs: set[str]
    undetermined: list[Undetermined]


def compare(
    golden: pd.DataFrame,
    replayed: pd.DataFrame,
    inputs: set[str],
    tolerance: float = RELATIVE_TOLERANCE,
    undetermined: Iterable[Undetermined] = (),
) -> pd.DataFrame:
    """Per column family: cells checked, worst relative error and whether the family passes.

    Relative error is ``|v − g| / |g|``; where the golden value is 0 the replayed value must be
    exactly 0 (the Go tests' ``InEpsilon`` rule). A cell the replay left NaN passes only if the
    replay lists it as undetermined (with its reason); a value where the file has none (an empty
    cell: e.g. a participant the chain did not draw) is a miss. Input columns are not compared.
    """
    listed = {(row, col) for u in undetermined for row, col in u.cells}
    rows = []
    cols = [c for c in golden.columns if c not in inputs and c != "time"]
    fams: dict[str, list[str]] = {}
    for c in cols:
        fams.setdefault(family_of(c), []).append(c)
    index = list(golden.index)
    for fam, members in fams.items():
        g = golden[members].to_numpy(dtype=float)
        v = replayed[members].to_numpy(dtype=float)
        gold_known, value_known = ~np.isnan(g), ~np.isnan(v)
        checked = gold_known & value_known
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(g == 0, np.where(v == 0, 0.0, np.inf), np.abs(v - g) / np.abs(g))
        rel = np.where(checked, rel, 0.0)
        worst = float(rel.max()) if checked.any() else float("nan")
        missing = [
            (index[i], members[j])
            for i, j in zip(*np.nonzero(gold_known & ~value_known), strict=True)
        ]
        unexplained = sum((cell not in listed) for cell in missing)
        extra = int((~gold_known & value_known).sum())
        in_tolerance = bool(checked.any() and worst <= tolerance) or not gold_known.any()
        rows.append(
            {
                "family": fam,
                "columns": len(members),
                "checked": int(checked.sum()),
                "undetermined": len(missing) - unexplained,
                "unexplained": unexplained,
                "extra": extra,
                "worst_rel_error": worst,
                "tolerance": tolerance,
                "ok": in_tolerance and unexplained == 0 and extra == 0,
            }
        )
    return pd.DataFrame(rows)
