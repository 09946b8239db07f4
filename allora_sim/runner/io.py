"""Atomic output: a file appears under its final name only once it is complete.

Everything is written to ``<name>.<pid>.partial`` in the same directory and renamed with
``os.replace`` (atomic on POSIX). An interrupted run leaves ``.partial`` files, never a
truncated table under a final name; the process id keeps two writers of one name apart.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["ParquetStream", "clear", "fresh_dir", "write_json", "write_text"]


def _partial(path: Path) -> Path:
    return path.with_name(f"{path.name}.{os.getpid()}.partial")


def make_dir(path: Path) -> None:
    """Create ``path`` (and its parents); a file in the way is one clear error."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise NotADirectoryError(
            f"output.dir={path} is invalid: {path} or a folder above it is a file, not a directory"
        ) from None


def fresh_dir(base: Path) -> Path:
    """Create and return a new, empty directory ``base`` (or ``base_2``, ``base_3``, … if taken):
    two runs started in the same second never share a directory."""
    base.parent.mkdir(parents=True, exist_ok=True)
    for i in range(1, 10_000):
        path = base if i == 1 else base.with_name(f"{base.name}_{i}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"no free directory name next to {base}")


def clear(directory: Path, names: tuple[str, ...]) -> None:
    """Remove ``names`` and the ``.partial`` leftovers of finished processes from ``directory``,
    so that a run into a directory that held an earlier one never leaves the old files looking
    current. A partial file of a process still running is refused: two runs would write one
    directory."""
    for name in names:
        (directory / name).unlink(missing_ok=True)
        for leftover in directory.glob(f"{name}.*.partial"):
            pid = leftover.name[len(name) + 1 : -len(".partial")]
            if pid.isdigit() and int(pid) != os.getpid() and _alive(int(pid)):
                raise FileExistsError(
                    f"{directory} is being written by another run (process {pid}); "
                    "choose another output.dir"
                )
            leftover.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    tmp = _partial(path)
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON atomically."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_jsonable) + "\n")


def _jsonable(x: Any) -> Any:
    if hasattr(x, "item"):
        return x.item()
    if hasattr(x, "tolist"):
        return x.tolist()
    return str(x)


class ParquetStream:
    """A Parquet table written in row groups, published atomically by :meth:`close`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._tmp = _partial(path)
        self._writer: pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None
        self.rows = 0

    def write(self, frame: pd.DataFrame) -> None:
        """Append ``frame`` as a row group. Empty frames are skipped: the file's schema comes
        from the first rows (an empty frame's column types may be placeholders)."""
        if frame.empty:
            return
        table = pa.Table.from_pandas(frame, preserve_index=False, schema=self._schema)
        if self._writer is None:
            self._schema = table.schema
            self._writer = pq.ParquetWriter(self._tmp, table.schema, compression="zstd")
        self._writer.write_table(table)
        self.rows += len(frame)

    def close(self, empty: pd.DataFrame | None = None) -> None:
        """Finish the file and move it to its final name; with no rows written, the file holds
        ``empty`` (the table's typed empty frame)."""
        if self._writer is None:
            frame = empty if empty is not None else pd.DataFrame()
            self._writer = pq.ParquetWriter(
                self._tmp, pa.Table.from_pandas(frame, preserve_index=False).schema
            )
        self._writer.close()
        os.replace(self._tmp, self.path)
