"""Run summaries: losses of the network against its parts, reward shares and concentration."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from allora_sim.core import RewardError

__all__ = ["gini", "summarize"]


def gini(values: np.ndarray) -> float:
    """Gini coefficient of non-negative amounts (0 = equal, → 1 = concentrated)."""
    x = np.sort(np.asarray(values, dtype=float))
    x = x[np.isfinite(x)]
    if x.size == 0 or x.sum() <= 0:
        return 0.0
    n = x.size
    cum = np.cumsum(x)
    return float((n + 1 - 2 * (cum / cum[-1]).sum()) / n)


def summarize(epochs: pd.DataFrame, agents: pd.DataFrame) -> dict[str, Any]:
    """Headline numbers of a run (averages over topics and settled epochs, log10 losses).

    ``epochs`` are the run's epoch rows, ``agents`` its per-participant totals
    (:meth:`~allora_sim.recorder.Recorder.agent_totals`).

    * ``network_loss``, ``naive_loss``: mean loss of the network and the naive (no-forecaster)
      network inference;
    * ``best_inferer_loss``, ``median_inferer_loss``: over inferers, of each inferer's mean loss,
      among the inferers active in at least half of their topic's epochs (where admission
      rotates many inferers through few places, one that was active in a single lucky epoch is
      no "best single inferer"); the most active ones where none is;
    * ``rewarded_epochs`` of ``topic_epochs``, and ``unrewarded``: why the others paid nothing
      (count per :class:`~allora_sim.core.RewardError` reason, e.g. "no inferences" for topics
      that were not active);
    * ``reward_share``: share of all rewards paid to each class;
    * ``reward_gini``: Gini of the participants' total rewards (all classes), and per class;
      participants are those active in at least one epoch (registered agents that never took
      part, e.g. reputers staked on another topic, are left out).
    """
    out: dict[str, Any] = {
        "settled_epochs": int(epochs["epoch"].nunique()) if len(epochs) else 0,
        "topics": int(epochs["topic"].nunique()) if len(epochs) else 0,
        "network_loss": float(epochs["network_loss"].mean()),
        "naive_loss": float(epochs["naive_loss"].mean()),
        "rewarded_epochs": int((epochs["reward_error"] == 0).sum()),
        "topic_epochs": len(epochs),
    }
    errors = epochs["reward_error"].to_numpy()
    codes, counts = np.unique(errors[errors != 0], return_counts=True)
    out["unrewarded"] = {
        RewardError.NAMES.get(int(c), f"error {int(c)}"): int(n)
        for c, n in zip(codes, counts, strict=True)
    }
    totals = {
        c: float(epochs[f"{c}_reward"].sum(skipna=True))
        for c in ("inferers", "forecasters", "reputers")
    }
    grand = sum(totals.values())
    out["reward_share"] = {c: (v / grand if grand > 0 else 0.0) for c, v in totals.items()}
    inf = agents[agents["role"] == "inferer"].dropna(subset=["loss"])
    epochs_of = epochs.groupby("topic").size()
    need = np.minimum(
        0.5 * inf["topic"].map(epochs_of).fillna(0).to_numpy(),
        inf.groupby("topic")["active"].transform("max").to_numpy(),
    )
    per_topic = inf[inf["active"].to_numpy() >= need].groupby("topic")
    out["best_inferer_loss"] = float(per_topic["loss"].min().mean())
    out["median_inferer_loss"] = float(per_topic["loss"].median().mean())
    part = agents[agents["active"] > 0]
    out["reward_gini"] = {"all": gini(part["reward"].to_numpy())}
    for role in ("inferer", "forecaster", "reputer"):
        rewards = part.loc[part["role"] == role, "reward"]
        if len(rewards):
            out["reward_gini"][role] = gini(rewards.to_numpy())
    return out
