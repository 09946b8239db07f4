"""Load results of a run or a sweep as tidy DataFrames.

``load(path)`` accepts a run directory (``epochs.parquet`` …) or a sweep directory
(``sweep.json`` + one directory per job) and returns the tables of all runs in one frame each,
keyed by ``run``; for a sweep, each swept override becomes a column (``mechanism.p_norm`` …),
named ``config.<key>`` when the key is also a column or summary name (``config.topic_reward``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["Results", "load"]


@dataclass
class Results:
    """Tables of one run or of every run of a sweep."""

    epochs: pd.DataFrame
    agents: pd.DataFrame
    economy: pd.DataFrame
    summaries: pd.DataFrame  # one row per run: swept values and summary numbers
    swept: list[str]  # names of the swept keys (empty for a single run)


def _value(text: str) -> Any:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def _flat(summary: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in summary.items():
        if isinstance(v, dict):
            out |= _flat(v, f"{prefix}{k}.")
        else:
            out[f"{prefix}{k}"] = v
    return out


def load(path: str | Path) -> Results:
    """Load a run or a sweep directory (see module docstring)."""
    path = Path(path)
    if (path / "sweep.json").is_file():
        jobs = json.loads((path / "sweep.json").read_text())["jobs"]
        epochs, agents, economy, rows = [], [], [], []
        swept: list[str] = []
        for job in jobs:
            run_dir = path / str(job["run"])
            ep = pd.read_parquet(run_dir / "epochs.parquet")
            ag = pd.read_parquet(run_dir / "agents.parquet")
            ec = pd.read_parquet(run_dir / "economy.parquet")
            # a swept key named like a column or a summary number (topic_reward, epochs …)
            # becomes config.<key>, never overwriting the data
            taken = {"run", *ep.columns, *ag.columns, *ec.columns, *_flat(job["summary"])}
            params = {}
            for ov in job["overrides"]:
                key, _, val = ov.partition("=")
                key = key.lstrip("+~")
                key = f"config.{key}" if key in taken else key
                params[key] = _value(val)
                if key not in swept:
                    swept.append(key)
            for k, v in params.items():
                ep[k] = v
                ag[k] = v
                ec[k] = v
            epochs.append(ep)
            agents.append(ag)
            economy.append(ec)
            rows.append({"run": job["run"], **params, **_flat(job["summary"])})
        varying = [k for k in swept if len({r.get(k) for r in rows}) > 1]
        agents_all = pd.concat(agents, ignore_index=True)
        for c in ("role", "behaviour", "group"):  # concat drops differing categories
            if c in agents_all:
                agents_all[c] = agents_all[c].astype("category")
        return Results(
            epochs=pd.concat(epochs, ignore_index=True),
            agents=agents_all,
            economy=pd.concat(economy, ignore_index=True),
            summaries=pd.DataFrame(rows),
            swept=varying,
        )
    if not (path / "epochs.parquet").is_file():
        raise FileNotFoundError(
            f"{path} is neither a run directory (epochs.parquet) nor a sweep (sweep.json)"
        )
    summary = json.loads((path / "summary.json").read_text())
    manifest = path / "manifest.json"
    run = json.loads(manifest.read_text()).get("run", 0) if manifest.is_file() else 0
    return Results(
        epochs=pd.read_parquet(path / "epochs.parquet"),
        agents=pd.read_parquet(path / "agents.parquet"),
        economy=pd.read_parquet(path / "economy.parquet"),
        summaries=pd.DataFrame([{"run": run, **_flat(summary)}]),
        swept=[],
    )
