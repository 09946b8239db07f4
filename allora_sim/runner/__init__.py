"""Run scenarios end to end and write their results (nothing here knows the mechanism).

A run directory holds ``epochs.parquet``, ``agents.parquet``, ``economy.parquet`` (tidy, long
form), ``summary.json``,
``config.yaml`` (the resolved configuration) and ``manifest.json`` (seed, package versions, wall
time). A sweep directory holds one run directory per job and ``sweep.json`` listing the jobs and
their overrides. Every file is written atomically (:mod:`allora_sim.runner.io`).
"""

from __future__ import annotations

import importlib.metadata
import multiprocessing
import platform
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from allora_sim.config import Scenario
from allora_sim.runner.io import ParquetStream, clear, make_dir, write_json, write_text
from allora_sim.runner.summary import summarize

__all__ = ["Job", "Progress", "run_jobs", "run_scenario"]

RUN_FILES = (
    "epochs.parquet",
    "agents.parquet",
    "economy.parquet",
    "summary.json",
    "config.yaml",
    "manifest.json",
)
_PACKAGES = ("allora_sim", "numpy", "pandas", "scipy", "mesa", "hydra-core", "pyarrow")


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in _PACKAGES:
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = "unknown"
    return out


class Progress:
    """A one-line progress bar on stderr for long runs (silent on short ones or when off)."""

    def __init__(self, total: int, label: str, enabled: bool = True, min_seconds: float = 1.0):
        self.total, self.label, self.enabled = total, label, enabled
        self.start = time.perf_counter()
        self.min_seconds = min_seconds
        self.shown = False
        self._last = 0.0

    def __call__(self, done: int) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        elapsed = now - self.start
        if (elapsed < self.min_seconds or now - self._last < 0.2) and done < self.total:
            return
        if not self.shown and done >= self.total and elapsed < self.min_seconds:
            return
        self._last = now
        self.shown = True
        frac = done / max(self.total, 1)
        bar = "#" * int(30 * frac)
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - done) / rate if rate > 0 else 0.0
        sys.stderr.write(
            f"\r{self.label} [{bar:<30}] {done}/{self.total} epochs {rate:,.0f}/s eta {eta:,.0f}s"
        )
        if done >= self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def run_scenario(
    scenario: Scenario,
    out_dir: Path,
    run: int = 0,
    progress: bool = True,
    overrides: Sequence[str] = (),
) -> dict[str, Any]:
    """Build the model, run every epoch, stream the tables, write summary, config and manifest.

    Returns the summary dictionary.
    """
    from omegaconf import OmegaConf

    from allora_sim.model import AlloraModel

    make_dir(out_dir)
    # an earlier run's (or sweep's) files must not pass for this one's
    clear(out_dir, (*RUN_FILES, "sweep.json"))
    started = time.time()
    t0 = time.perf_counter()
    model = AlloraModel(scenario)
    model.recorder.run = run
    model.recorder.record_agents = scenario.output.record_agents
    epochs_out = ParquetStream(out_dir / "epochs.parquet")
    agents_out = ParquetStream(out_dir / "agents.parquet")
    economy_out = ParquetStream(out_dir / "economy.parquet")
    bar = Progress(scenario.epochs, scenario.name, enabled=progress and scenario.output.progress)
    summaries_e = []
    flush = scenario.output.flush_every
    while model.epoch < scenario.epochs:
        model.step()
        bar(model.epoch)
        if model.epoch % flush == 0 or model.epoch == scenario.epochs:
            ep, ag, ec = model.recorder.drain()
            epochs_out.write(ep)
            economy_out.write(ec)
            if scenario.output.record_agents:
                agents_out.write(ag)
            summaries_e.append(ep)
    wall = time.perf_counter() - t0
    import pandas as pd

    epochs_all = pd.concat(summaries_e, ignore_index=True)
    empty = model.recorder.agents_frame()
    epochs_out.close(empty=model.recorder.epochs_frame())
    agents_out.close(empty=empty)
    economy_out.close(empty=model.recorder.economy_frame())
    summary = {"epochs": scenario.epochs, **summarize(epochs_all, model.recorder.agent_totals())}
    summary["wall_seconds"] = wall
    write_json(out_dir / "summary.json", summary)
    write_text(out_dir / "config.yaml", OmegaConf.to_yaml(OmegaConf.create(dict(scenario.raw))))
    write_json(
        out_dir / "manifest.json",
        {
            "seed": scenario.seed,
            "run": run,
            "scenario": scenario.name,
            "overrides": list(overrides),
            "epochs": scenario.epochs,
            "topics": scenario.n_topics,
            "started_unix": started,
            "wall_seconds": wall,
            "epochs_per_second": scenario.epochs / wall if wall > 0 else None,
            "versions": _versions(),
            "command": sys.argv,
        },
    )
    return summary


@dataclass(frozen=True)
class Job:
    """One run of a sweep: its index, overrides and validated scenario."""

    index: int
    overrides: tuple[str, ...]
    scenario: Scenario


def _ignore_interrupts() -> None:
    """Sweep workers leave Ctrl-C to the parent, which ends them (and the pending jobs)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run_job(job: Job, root: Path, progress: bool) -> dict[str, Any]:
    summary = run_scenario(
        job.scenario,
        root / str(job.index),
        run=job.index,
        progress=progress,
        overrides=job.overrides,
    )
    return {"run": job.index, "overrides": list(job.overrides), "summary": summary}


def run_jobs(
    jobs: Sequence[Job],
    root: Path,
    processes: int = 1,
    on_done: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Run a sweep serially or over a process pool; results do not depend on the backend
    (each job has its own seed and writes its own directory). Writes ``sweep.json``."""
    make_dir(root)
    clear(root, (*RUN_FILES, "sweep.json"))
    results: list[dict[str, Any]] = []
    if processes <= 1:
        for job in jobs:
            res = _run_job(job, root, progress=True)
            results.append(res)
            if on_done:
                on_done(res)
    else:
        # The workers ignore Ctrl-C from their start (a spawned interpreter inherits the
        # ignored signal: Mesa sets the "spawn" start method), and on an exception, Ctrl-C
        # included, leaving the block terminates them: no pending job starts and the running
        # ones stop, leaving only their partial files.
        main_thread = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main_thread else None
        try:
            pool = multiprocessing.get_context().Pool(processes, _ignore_interrupts)
        finally:
            if main_thread:
                signal.signal(signal.SIGINT, previous or signal.default_int_handler)
        with pool:
            for res in pool.imap(partial(_run_job, root=root, progress=False), jobs):
                results.append(res)
                if on_done:
                    on_done(res)
    results.sort(key=lambda r: r["run"])
    write_json(root / "sweep.json", {"jobs": results})
    return results
