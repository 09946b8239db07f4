"""Replay of ``sortition_epochs.csv`` through the sortition core (`mechanism.md` §8, §11.2).

Every row is one round of :func:`allora_sim.core.sortition.batch_sortition` (the golden
simulator's batch top-N form, passive EMAs towards the *same-round* quantile). Inputs read from
row E: the candidate flags ``*_prev_participated``, the exogenous ``*_quality_metric`` (given
only for drawn participants), ``n_participants_max`` (the size of the drawn set),
``percentile`` and ``alpha_quality``. The previous EMAs are the core's own ``quality_ema`` of
row E−1; only the first row's ``*_prev_quality_ema`` is read from the file (the initial state).

Computed: ``n_participants_drawn``, ``quality_cutoff``, ``quality_percentile`` and per
participant ``prev_quality_ema``, both sort positions, ``active`` and ``quality_ema``, in the
file's encoding (flags 1.0 or NaN, positions only where the file has them).

The core draws by previous EMA alone, so the file's metrics are a check: a participant the core
draws but the file has no metric for makes that round's quantile and EMAs (and every later row)
undeterminable; those cells are registered as :class:`Undetermined`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from allora_sim.conformance.golden import Replay, Undetermined
from allora_sim.core.sortition import PassiveQuantile, batch_sortition

__all__ = ["replay_sortition"]

GLOBAL_INPUTS = ("n_participants", "n_participants_max", "percentile", "alpha_quality")
PARTICIPANT_INPUTS = ("prev_participated", "quality_metric")
PARTICIPANT_OUTPUTS = (
    "prev_quality_ema",
    "sort_position_previous_quality_ema",
    "sort_position_quality_metrics",
    "active",
    "quality_ema",
)
GLOBAL_OUTPUTS = ("n_participants_drawn", "quality_cutoff", "quality_percentile")


def _participants(golden: pd.DataFrame) -> int:
    n = 0
    while f"{n}_prev_quality_ema" in golden.columns:
        n += 1
    if n == 0:
        raise ValueError("golden frame has no '<n>_prev_quality_ema' columns: not sortition data")
    return n


def _column(s: pd.Series) -> np.ndarray:
    """One column in the file's encoding as numbers: ``true`` → 1, empty → NaN, whatever dtype
    the loader produced for it."""
    if s.dtype.kind in "biuf":
        return s.to_numpy(dtype=np.float64)

    def cell(v: object) -> float:
        if isinstance(v, str):
            t = v.strip().lower()
            if t in ("true", "false"):
                return 1.0 if t == "true" else 0.0
            return float(t) if t else np.nan
        if v is None or pd.isna(v):
            return np.nan
        return float(v)  # type: ignore[arg-type]

    return np.array([cell(v) for v in s], dtype=np.float64)


def _as_float(frame: pd.DataFrame) -> np.ndarray:
    return np.stack([_column(frame[c]) for c in frame.columns], axis=-1)


def replay_sortition(golden: pd.DataFrame) -> Replay:
    """Replay every row of the sortition golden data; see the module docstring."""
    n = _participants(golden)

    def cols(name: str) -> list[str]:
        return [f"{i}_{name}" for i in range(n)]

    inputs = set(GLOBAL_INPUTS) | {c for name in PARTICIPANT_INPUTS for c in cols(name)}
    g = {name: _as_float(golden[list(GLOBAL_INPUTS)])[:, k] for k, name in enumerate(GLOBAL_INPUTS)}
    candidates = _as_float(golden[cols("prev_participated")]) == 1.0
    metric = _as_float(golden[cols("quality_metric")])
    has_metric = ~np.isnan(metric)

    rows = len(golden)
    out = {name: np.full(rows, np.nan) for name in GLOBAL_OUTPUTS}
    per = {name: np.full((rows, n), np.nan) for name in PARTICIPANT_OUTPUTS}
    undetermined = Undetermined(
        reason="the core's draw differs from the file's (the round's active flags are a miss): "
        "it draws a participant the file gives no quality metric for, so this round's quantile "
        "and EMAs (and every later round's) cannot be computed"
    )

    state = _as_float(golden[cols("prev_quality_ema")])[0]
    for r in range(rows):
        per["prev_quality_ema"][r] = state
        cap = int(g["n_participants_max"][r])
        res = batch_sortition(
            state,
            candidates[r],
            np.where(has_metric[r], metric[r], 0.0),
            cap,
            g["percentile"][r] / 100.0,
            float(g["alpha_quality"][r]),
            PassiveQuantile.SAME_ROUND,
        )
        per["sort_position_previous_quality_ema"][r] = np.where(
            res.ema_rank >= 0, res.ema_rank, np.nan
        )
        per["active"][r] = np.where(res.active, 1.0, np.nan)
        out["n_participants_drawn"][r] = res.active.sum()
        out["quality_cutoff"][r] = res.quality_cutoff
        if (res.active & ~has_metric[r]).any():
            epoch_cols = [*GLOBAL_OUTPUTS[2:], *cols("quality_ema")]
            epoch_cols += cols("sort_position_quality_metrics")
            later = [
                *cols("prev_quality_ema"),
                *cols("sort_position_previous_quality_ema"),
                *cols("active"),
                *GLOBAL_OUTPUTS,
            ]
            undetermined.add(golden.index[r], epoch_cols)
            for e in golden.index[r + 1 :]:
                undetermined.add(e, [*later, *epoch_cols])
            break
        per["sort_position_quality_metrics"][r] = np.where(
            res.metric_rank >= 0, res.metric_rank, np.nan
        )
        out["quality_percentile"][r] = res.quality_quantile
        per["quality_ema"][r] = res.score_ema
        state = res.score_ema

    columns: dict[str, pd.Series | np.ndarray] = {}
    for c in golden.columns:
        if c in inputs:
            columns[c] = golden[c]
        elif c in out:
            columns[c] = out[c]
        else:
            i, name = c.split("_", 1)
            columns[c] = per[name][:, int(i)]
    frame = pd.DataFrame(columns, index=golden.index)[list(golden.columns)]
    return Replay(frame=frame, inputs=inputs, undetermined=[u for u in (undetermined,) if u.cells])
