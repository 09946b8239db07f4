"""Study: does the network beat its parts, and what do forecasters add?

Runs the fiducial topic (``scenario=default``) and the regime-switching ``context`` scenario with
and without its forecasters (same seed), and draws the README figure: mean log10 loss of the
network, the naive (inferers-only) network, and the best and median single inferer.

Run:  python experiments/forecasting_value.py [--epochs 1000] [--seed 0] [--out docs/figures]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import allora_sim
from allora_sim.model import AlloraModel

CASES = {
    "default": ("scenario=default",),
    "context": ("scenario=context",),
    "context, no forecasters": ("scenario=context", "population=no_forecasters"),
}


def measure(overrides: tuple[str, ...], epochs: int, seed: int) -> dict[str, float]:
    m = AlloraModel(allora_sim.scenario(*overrides, f"epochs={epochs}", f"seed={seed}"))
    m.run()
    ep, ag = m.epochs_frame(), m.agents_frame()
    per_inferer = ag[ag["role"] == "inferer"].groupby("agent", observed=True)["loss"].mean()
    return {
        "network": float(ep["network_loss"].mean()),
        "naive network": float(ep["naive_loss"].mean()),
        "best inferer": float(per_inferer.min()),
        "median inferer": float(per_inferer.median()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="docs/figures")
    args = ap.parse_args()
    results = {name: measure(ov, args.epochs, args.seed) for name, ov in CASES.items()}
    fig, ax = plt.subplots(figsize=(9, 4))
    bars = list(next(iter(results.values())))
    width = 0.8 / len(bars)
    x = np.arange(len(results))
    for i, bar in enumerate(bars):
        vals = [results[c][bar] for c in results]
        ax.bar(x + (i - (len(bars) - 1) / 2) * width, vals, width, label=bar)
    ax.set_xticks(x, list(results))
    ax.set_ylabel("mean log10 loss (lower is better)")
    ax.set_title(f"Network vs its parts ({args.epochs} epochs, seed {args.seed})")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    lo = min(min(r.values()) for r in results.values())
    hi = max(max(r.values()) for r in results.values())
    ax.set_ylim(lo - 0.3, hi + 0.3)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "network_vs_parts.png", dpi=110, bbox_inches="tight")
    for name, r in results.items():
        print(name, {k: round(v, 3) for k, v in r.items()})


if __name__ == "__main__":
    main()
