"""A user's own ground-truth series: a CSV file with a time and a value column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["SeriesError", "load_series", "show"]


class SeriesError(ValueError):
    """A series file that cannot be used; the message is one line naming the problem."""


def show(x: object) -> str:
    """A cell as it reads in the file (numpy scalars as plain Python values)."""
    return repr(x.item() if isinstance(x, np.generic) else x)


def _times(col: pd.Series, name: str, path: Path) -> np.ndarray:
    """Numbers as they are, or dates (one format for the whole column) as nanoseconds; a mix or
    an unparseable entry is an error naming the first entry unlike the column's majority."""
    numeric = pd.to_numeric(col, errors="coerce")
    if numeric.notna().all():
        return numeric.to_numpy(dtype=float)
    mostly_dates = numeric.notna().sum() * 2 < len(col)
    if mostly_dates:
        # ISO 8601 (any precision), else the format inferred from the first date for every row
        # (no per-row guess, which reads 01/02 and 25/01 in different orders)
        stamps = pd.to_datetime(col, errors="coerce", utc=True, format="ISO8601")
        if stamps.isna().any():
            try:
                stamps = pd.to_datetime(col, errors="coerce", utc=True)
            except ValueError:
                stamps = pd.Series(pd.NaT, index=col.index)
        if stamps.notna().all() and numeric.isna().all():
            return stamps.astype("int64").to_numpy(dtype=float)
        bad_mask = stamps.isna() | numeric.notna()
    else:
        bad_mask = numeric.isna()
    bad = int(np.flatnonzero(bad_mask.to_numpy())[0])
    raise SeriesError(
        f"{path}: column {name!r} row {bad + 2} is {show(col.iloc[bad])}: times must be all "
        "numbers or all dates in one format (ISO 8601, e.g. 2024-01-31, is unambiguous)"
    )


def load_series(
    path: str | Path, time_column: str = "time", value_column: str = "value"
) -> np.ndarray:
    """The values of a CSV series in time order, validated.

    The file needs a header with ``time_column`` (numbers or dates, strictly increasing) and
    ``value_column`` (finite numbers) and at least two rows. Anything else raises
    :class:`SeriesError` naming the file, the column and the first offending row (rows are
    counted as in a spreadsheet: the header is row 1).
    """
    path = Path(path)
    if not path.is_file():
        raise SeriesError(f"{path}: no such file")
    try:
        frame = pd.read_csv(path, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SeriesError(f"{path}: not a readable CSV file ({first})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in (time_column, value_column) if c not in frame.columns]
    if missing:
        raise SeriesError(
            f"{path}: missing column(s) {missing}; the file has {list(frame.columns)} "
            "(choose others with world.time_column / world.value_column)"
        )
    if len(frame) < 2:
        raise SeriesError(f"{path}: has {len(frame)} data row(s); a series needs at least 2")
    raw = frame[value_column]
    if raw.dtype == bool:
        raise SeriesError(
            f"{path}: column {value_column!r} row 2 is {show(raw.iloc[0])}: values must be "
            "finite numbers, not true/false"
        )
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        i = int(bad[0])
        raise SeriesError(
            f"{path}: column {value_column!r} row {i + 2} is {show(raw.iloc[i])}: "
            "values must be finite numbers"
        )
    times = _times(frame[time_column], time_column, path)
    step = np.diff(times)
    bad = np.flatnonzero(~(step > 0))
    if bad.size:
        i = int(bad[0]) + 1
        raise SeriesError(
            f"{path}: column {time_column!r} is not strictly increasing at row {i + 2} "
            f"({show(frame[time_column].iloc[i])} after {show(frame[time_column].iloc[i - 1])})"
        )
    return values
