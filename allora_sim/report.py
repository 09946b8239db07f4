"""Figures (PNG) for a run or a sweep directory (``allora-sim-report``).

A run gets: losses over time (network, naive, best and median inferer), inferer weights and
cumulative rewards over time, and the distribution of rewards by class. A sweep gets each summary
metric against each swept parameter, averaged over the other swept keys (typically ``seed``) with
95 % confidence intervals.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from allora_sim.results import Results, load

__all__ = ["make_report"]

SWEEP_METRICS = (
    "network_loss",
    "naive_loss",
    "best_inferer_loss",
    "median_inferer_loss",
    "reward_share.inferers",
    "reward_share.forecasters",
    "reward_share.reputers",
    "reward_gini.all",
)


def _save(fig, path: Path) -> Path:  # type: ignore[no-untyped-def]
    tmp = path.with_name(path.name + ".partial.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    os.replace(tmp, path)
    return path


def _rolling(s: pd.Series, n: int) -> pd.Series:
    return s.rolling(max(1, n), min_periods=1).mean()


def _run_figures(res: Results, out: Path) -> list[Path]:
    import matplotlib.pyplot as plt

    ep = res.epochs
    files = []
    window = max(1, ep["epoch"].nunique() // 50)
    by_epoch = ep.groupby("epoch")[
        ["network_loss", "naive_loss", "best_inferer_loss", "median_inferer_loss"]
    ].mean()
    fig, ax = plt.subplots(figsize=(8, 4))
    for col, label in (
        ("network_loss", "network"),
        ("naive_loss", "naive network"),
        ("best_inferer_loss", "best inferer (per epoch)"),
        ("median_inferer_loss", "median inferer"),
    ):
        ax.plot(by_epoch.index, _rolling(by_epoch[col], window), label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"log10 loss (rolling mean, {window} epochs)")
    ax.set_title("Losses over time")
    ax.legend()
    files.append(_save(fig, out / "losses.png"))
    plt.close(fig)

    ag = res.agents
    inf = ag[ag["role"] == "inferer"]
    if len(inf):
        topic0 = inf[inf["topic"] == inf["topic"].min()]
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4))
        for agent, g in topic0.groupby("agent", observed=True):
            label = f"{g['group'].iloc[0]} #{agent}"
            a1.plot(g["epoch"], _rolling(g["weight"], window), label=label)
            a2.plot(g["epoch"], g["reward"].fillna(0.0).cumsum(), label=label)
        a1.set_title("Inferer regret-informed weight")
        a1.set_xlabel("epoch")
        a2.set_title("Inferer cumulative reward (ALLO)")
        a2.set_xlabel("epoch")
        if topic0["agent"].nunique() <= 12:
            a2.legend(fontsize=7)
        files.append(_save(fig, out / "inferers.png"))
        plt.close(fig)

    files += _economy_figures(res, out, window)
    totals = ag.groupby(["role", "agent"], observed=True)["reward"].sum(min_count=1).dropna()
    if len(totals):
        roles = [
            r
            for r in ("inferer", "forecaster", "reputer")
            if r in totals.index.get_level_values("role")
        ]
        fig, axes = plt.subplots(1, len(roles), figsize=(4 * len(roles), 3.5), squeeze=False)
        for ax, role in zip(axes[0], roles, strict=True):
            vals = np.sort(totals.xs(role, level="role").to_numpy())[::-1]
            ax.bar(np.arange(len(vals)), vals)
            ax.set_title(f"{role}s: total reward (ALLO)")
            ax.set_xlabel("rank")
        files.append(_save(fig, out / "reward_distribution.png"))
        plt.close(fig)
    return files


def _economy_figures(res: Results, out: Path, window: int) -> list[Path]:
    """Per topic: fee revenue, weight, reward and activity; the supply and balances by role."""
    import matplotlib.pyplot as plt

    ec = res.economy
    if ec.empty:
        return []
    fig, axes = plt.subplots(2, 2, figsize=(12, 7))
    for topic, g in ec.groupby("topic"):
        g = g.sort_values("epoch")
        axes[0, 0].plot(g["epoch"], g["fee_revenue"], label=f"topic {topic}")
        axes[0, 1].plot(g["epoch"], g["weight"].where(g["weight"] > 0), label=f"topic {topic}")
        axes[1, 0].plot(g["epoch"], _rolling(g["topic_reward"], window), label=f"topic {topic}")
        axes[1, 1].plot(
            g["epoch"], g["active"].astype(float) + 0.02 * topic, label=f"topic {topic}"
        )
    axes[0, 0].set_title("fee revenue C_t (ALLO)")
    axes[0, 1].set_title("topic weight (gaps: weight 0)")
    axes[0, 1].set_yscale("log")
    axes[1, 0].set_title("topic reward per epoch (ALLO, rolling mean)")
    axes[1, 1].set_title("active (1) / inactive (0)")
    for ax in axes.ravel():
        ax.set_xlabel("epoch")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    files = [_save(fig, out / "topics.png")]
    plt.close(fig)
    first = ec[ec["topic"] == ec["topic"].min()].sort_values("epoch")
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4))
    for col in ("circulating", "staked", "ecosystem", "locked_vesting"):
        a1.plot(first["epoch"], first[col], label=col)
    a1.set_title("supply (ALLO)")
    a1.legend(fontsize=8)
    for role in ("inferers", "forecasters", "reputers", "consumers", "delegators"):
        a2.plot(first["epoch"], first[f"balance_{role}"], label=role)
    a2.set_title("balances by role (ALLO)")
    a2.set_yscale("log")
    a2.legend(fontsize=8)
    fig.tight_layout()
    files.append(_save(fig, out / "supply.png"))
    plt.close(fig)
    return files


def _sweep_figures(res: Results, out: Path) -> list[Path]:
    import matplotlib.pyplot as plt

    s = res.summaries
    files = []
    params = [p for p in res.swept if p != "seed"] or list(res.swept)
    metrics = [m for m in SWEEP_METRICS if m in s.columns]
    for p in params:
        fig, axes = plt.subplots(
            2, (len(metrics) + 1) // 2, figsize=(4 * ((len(metrics) + 1) // 2), 6.5), squeeze=False
        )
        # one line per combination of the other swept parameters: a point's interval is over
        # the runs that differ only in their seed
        others = [q for q in params if q != p]
        numeric = pd.api.types.is_numeric_dtype(s[p])
        levels = sorted(s[p].unique(), key=str) if not numeric else None
        for ax, m in zip(axes.ravel(), metrics, strict=False):
            n_max = 0
            for key, sub in s.groupby(others) if others else [((), s)]:
                g = sub.groupby(p)[m]
                mean, sem, n = g.mean(), g.sem(), g.count()
                n_max = max(n_max, int(n.max()))
                # Student-t half-width: the number of seeds per point is usually small
                ci = sem.fillna(0.0) * stats.t.ppf(0.975, np.maximum(n - 1, 1))
                if levels is None:
                    x = mean.index.to_numpy()
                else:  # categories: positions, not joined by lines
                    x = np.array([levels.index(v) for v in mean.index])
                keys = key if isinstance(key, tuple) else (key,)
                label = ", ".join(f"{q}={v}" for q, v in zip(others, keys, strict=True))
                ax.errorbar(
                    x,
                    mean.to_numpy(),
                    yerr=ci.to_numpy(),
                    marker="o",
                    capsize=3,
                    linestyle="-" if levels is None else "none",
                    label=label or None,
                )
            if levels is not None:
                ax.set_xticks(range(len(levels)), [str(v) for v in levels])
            if others:
                ax.legend(fontsize=6)
            ax.set_xlabel(p)
            title = f" (n={n_max} seeds per point)" if n_max > 1 else ""
            ax.set_title(m + title, fontsize=9)
        for ax in axes.ravel()[len(metrics) :]:
            ax.set_visible(False)
        fig.tight_layout()
        files.append(_save(fig, out / f"sweep_{p.replace('/', '_')}.png"))
        plt.close(fig)
    return files


def make_report(path: Path, out: Path | None = None) -> list[Path]:
    """Write the figures for ``path`` (a run or a sweep) into ``out`` (default ``path``)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    res = load(path)
    out = out or path
    out.mkdir(parents=True, exist_ok=True)
    if res.swept:
        return _sweep_figures(res, out)
    if res.summaries.shape[0] > 1:
        raise ValueError(f"{path} is a sweep whose runs all have the same overrides")
    return _run_figures(res, out)
