"""Benchmark of the simulation engine: model epochs per second and the share of time outside
the reward core.

Cases: ``default`` (fiducial 5/3/5 topic), ``large`` (one topic, 1,000/100/50 registered),
``55 topics`` of the chain-default active set (32 inferers / 6 forecasters / 6 reputers each) and
``55 topics 5000 reg.``: 55 topics with 5,000 registered inferers each (and 6 forecasters,
6 reputers), admitted to the active 32/6/6 by the chain's streaming sortition. Both 55-topic
cases raise ``max_active_topics_per_block`` to 5: at the chain's default of 1 only 12 topics
(one per block of a 12-block epoch) are served at a time and 43 would wait. Memory is the
peak resident set of a fresh process running the case (``ru_maxrss``), and its growth over
the imported-but-idle interpreter (the model's own footprint). Each case steps
a model for a fixed number of epochs after a warm-up. "outside core" is the share of wall time
not spent inside ``allora_sim.core`` (every core function the engine calls: synthesis, the
epoch, active-set admission and forecast-element limits, topic weights and drip, emission,
payout truncation, the topic store). Methods of core classes the engine uses for its own
bookkeeping (the ledger's ``Uallo`` arithmetic, ``ValueBundle`` views) count as outside: they are
the engine's work. "outside ms" is that time per epoch, which does not move when the core gets
faster (the share does). "(entry pts)" counts only ``synthesize`` and ``run_topic_epoch`` as
core, the narrower figure reported before 2026-11-26.

"÷ baseline" divides the epoch time by ``bench_core``'s fixed numpy workload timed in the same
process just before and after the epochs: this machine's speed swings by ±15–30 % between
minutes, and the ratio lets runs from different minutes be compared.

Run:  python benchmarks/bench_model.py [--repeats 3] [--json out.json]

Targets (issue): ≥ 50 model epochs/s for the 55-topic case on one core, and < 25 % of the time
outside the core.
"""

from __future__ import annotations

import argparse
import inspect
import json
import multiprocessing as mp
import resource
import statistics
import sys
import time
from typing import Any

from bench_core import baseline_seconds  # the same machine-speed workload

import allora_sim
from allora_sim import model as model_module

# every one of 55 topics served (5 per block × 12-block epochs ≥ 55; the chain's 1 serves 12)
ALL_ACTIVE = "mechanism.max_active_topics_per_block=5"

CASES: dict[str, tuple[tuple[str, ...], int, int]] = {
    # name: (overrides, warm-up epochs, timed epochs)
    "default": ((), 20, 300),
    "large": (("scenario=large",), 3, 10),
    "55 topics 32/6/6": (
        (
            "n_topics=55",
            "population.inferers.0.count=32",
            "population.forecasters.0.count=6",
            "population.reputers.0.count=6",
            ALL_ACTIVE,
        ),
        15,
        60,
    ),
    "55 topics 5000 reg.": (
        (
            "n_topics=55",
            "population.inferers.0.count=5000",
            "population.forecasters.0.count=6",
            "population.reputers.0.count=6",
            ALL_ACTIVE,
        ),
        5,
        20,
    ),
}


class _CoreClock:
    """Accumulates the wall time the engine spends inside ``allora_sim.core``.

    Every core function the engine calls is wrapped where the engine reaches it: names it
    imported from a core module (``run_topic_epoch``, ``synthesize``, ``admit_submissions``,
    ``gather``, ...) and the functions of core modules it uses as modules (``topics``,
    ``emission``). Nested core calls are counted once. ``entry_points`` restricts the clock to
    the two epoch entry points (``run_topic_epoch`` and ``synthesize``), the narrower figure
    reported before 2026-11-26.
    """

    def __init__(self, entry_points: bool = False) -> None:
        self.seconds = 0.0
        self.entry_points = entry_points
        self._depth = 0
        self._patches: list[tuple[Any, str, Any]] = []

    def _wrap(self, fn: Any) -> Any:
        def timed(*a: Any, **k: Any) -> Any:
            if self._depth:
                return fn(*a, **k)
            self._depth += 1
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                self.seconds += time.perf_counter() - t
                self._depth -= 1

        return timed

    def _targets(self) -> list[tuple[Any, str]]:
        if self.entry_points:
            return [(model_module, "run_topic_epoch"), (model_module, "synthesize")]
        out = []
        for name, mod in list(sys.modules.items()):
            if not name.startswith("allora_sim.") or name.startswith("allora_sim.core"):
                continue
            for attr, obj in list(vars(mod).items()):
                if inspect.isfunction(obj) and obj.__module__.startswith("allora_sim.core"):
                    out.append((mod, attr))
                elif inspect.ismodule(obj) and obj.__name__.startswith("allora_sim.core."):
                    out.extend(
                        (obj, a)
                        for a, f in vars(obj).items()
                        if inspect.isfunction(f)
                        and f.__module__ == obj.__name__
                        and not a.startswith("_")
                    )
        return out

    def __enter__(self) -> _CoreClock:
        for mod, attr in self._targets():
            fn = getattr(mod, attr)
            self._patches.append((mod, attr, fn))
            setattr(mod, attr, self._wrap(fn))
        return self

    def __exit__(self, *exc: object) -> None:
        for mod, attr, fn in reversed(self._patches):
            setattr(mod, attr, fn)
        self._patches.clear()


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def measure(overrides: tuple[str, ...], warm: int, timed: int) -> dict[str, float]:
    base = _rss_mib()
    sc = allora_sim.scenario(*overrides, f"epochs={warm + timed}", "output.progress=false")
    m = model_module.AlloraModel(sc)
    for _ in range(warm):
        m.step()
    before = baseline_seconds()
    with _CoreClock() as clock, _CoreClock(entry_points=True) as entry:
        t0 = time.perf_counter()
        for _ in range(timed):
            m.step()
        wall = time.perf_counter() - t0
    machine = (before + baseline_seconds()) / 2  # the machine's speed around the timed epochs
    return {
        "epoch_per_baseline": wall / timed / machine,
        "epochs_per_second": timed / wall,
        "seconds_per_epoch": wall / timed,
        "share_outside_core": 1.0 - clock.seconds / wall,
        "ms_outside_core": 1e3 * (wall - clock.seconds) / timed,
        "share_outside_entry_points": 1.0 - entry.seconds / wall,
        "peak_rss_mib": _rss_mib(),
        "model_rss_mib": _rss_mib() - base,
    }


def measure_fresh(overrides: tuple[str, ...], warm: int, timed: int) -> dict[str, float]:
    """:func:`measure` in a fresh process, so that each case's memory is its own."""
    with mp.get_context("spawn").Pool(1) as pool:
        return pool.apply(measure, (overrides, warm, timed))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", default=None)
    ap.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    args = ap.parse_args(argv)
    results: dict[str, dict[str, float]] = {}
    print(
        f"{'case':<20} {'epochs/s':>10} {'ms/epoch':>10} {'÷ baseline':>11} {'outside core':>13} "
        f"{'outside ms':>11} {'(entry pts)':>12} {'peak RSS MiB':>13} {'model MiB':>10}"
    )
    for name in args.cases:
        overrides, warm, timed = CASES[name]
        runs = [measure_fresh(overrides, warm, timed) for _ in range(args.repeats)]
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        results[name] = med
        print(
            f"{name:<20} {med['epochs_per_second']:>10.1f} "
            f"{1e3 * med['seconds_per_epoch']:>10.2f} {med['epoch_per_baseline']:>11.2f} "
            f"{100 * med['share_outside_core']:>12.1f}% "
            f"{med['ms_outside_core']:>11.2f} "
            f"{100 * med['share_outside_entry_points']:>11.1f}% "
            f"{med['peak_rss_mib']:>13.0f} {med['model_rss_mib']:>10.0f}"
        )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
