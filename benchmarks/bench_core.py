"""Benchmark of the reward core: topic-epochs per second of ``run_topic_epoch``.

Shapes (inferers/forecasters/reputers): the golden topic 5/3/5, the chain-default active set
32/6/6 and a wide topic 128/12/24; each run single (one topic per call) and batched (55 topics
per call, the testnet's topic count). Every epoch is complete: all one-out/one-in variants and
the full listening-coefficient search (10 iterations at the defaults).

Run:  python benchmarks/bench_core.py [--repeats 7] [--json out.json]

Timings on shared machines are noisy: each figure is the median of ``--repeats`` runs, and a
fixed numpy workload measured in the same run is reported as a machine-speed baseline so that
figures from different runs can be compared as ratios.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import numpy as np

from allora_sim.core import MechanismParams, TopicState, run_topic_epoch
from allora_sim.synthetic import random_epoch_inputs

SHAPES = {"golden 5/3/5": (5, 3, 5), "default 32/6/6": (32, 6, 6), "wide 128/12/24": (128, 12, 24)}
TARGETS_US = {"default 32/6/6": {"single": 1000.0, "batched": 100.0}}


def _warm_state(n: int, k: int, m: int, batch: int, params: MechanismParams, seed: int):
    """A topic state after 15 epochs (past median and all-new modes, regrets stored)."""
    rng = np.random.default_rng(seed)
    ids = (np.tile(np.arange(x), (batch, 1)) for x in (n, k, m))
    state = TopicState.new(*ids)
    for _ in range(15):
        inputs = random_epoch_inputs(rng, state, params)
        _, state = run_topic_epoch(inputs, state, params)
    return state, random_epoch_inputs(rng, state, params)


def _time(fn, min_seconds: float = 0.2) -> float:
    """Seconds per call of ``fn``, looping until ``min_seconds`` elapsed."""
    fn()
    calls, start = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return elapsed / calls


def baseline_seconds() -> float:
    """A fixed numpy workload (exp + reductions on 2^16 floats, and many small-array calls)."""
    x = np.linspace(-3.0, 3.0, 1 << 16)
    small = np.ones((1, 38))

    def work() -> None:
        np.exp(x).sum()
        for _ in range(200):
            np.where(small > 0.5, small, 0.0).sum(axis=-1)

    return _time(work)


def run(repeats: int) -> dict[str, dict[str, float]]:
    params = MechanismParams()
    results: dict[str, dict[str, float]] = {}
    base = statistics.median(baseline_seconds() for _ in range(repeats))
    results["baseline"] = {"seconds": base}
    for name, (n, k, m) in SHAPES.items():
        row: dict[str, float] = {}
        for mode, batch in (("single", 1), ("batched", 55)):
            state, inputs = _warm_state(n, k, m, batch, params, seed=1)
            secs = statistics.median(
                _time(lambda i=inputs, s=state: run_topic_epoch(i, s, params))
                for _ in range(repeats)
            )
            per_topic = secs / batch
            row[f"{mode}_us_per_topic_epoch"] = per_topic * 1e6
            row[f"{mode}_topic_epochs_per_s"] = 1.0 / per_topic
            row[f"{mode}_per_baseline"] = per_topic / base
        results[name] = row
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--json", default=None, help="also write the figures to this JSON file")
    args = ap.parse_args(argv)
    res = run(args.repeats)
    print(f"machine baseline: {res['baseline']['seconds'] * 1e3:.2f} ms (median of {args.repeats})")
    print(
        f"{'shape':<16} {'mode':<8} {'µs/topic-epoch':>15} {'topic-epochs/s':>15} "
        f"{'÷ baseline':>11}  target"
    )
    for name in SHAPES:
        for mode in ("single", "batched"):
            us = res[name][f"{mode}_us_per_topic_epoch"]
            target = TARGETS_US.get(name, {}).get(mode)
            verdict = (
                ""
                if target is None
                else (f"≤ {target:.0f} µs " + ("met" if us <= target else "MISSED"))
            )
            print(
                f"{name:<16} {mode:<8} {us:>15.1f} "
                f"{res[name][f'{mode}_topic_epochs_per_s']:>15.0f} "
                f"{res[name][f'{mode}_per_baseline']:>11.4f}  {verdict}"
            )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
