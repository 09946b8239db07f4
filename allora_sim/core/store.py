"""Keeping a topic's stored state for participants outside this epoch's active set.

The chain keeps every stored value (regrets, listening coefficients, smoothed fractions,
inclusion counts …) in key-value stores, whether or not the participant is active this epoch;
:func:`allora_sim.core.run_topic_epoch` works on compact arrays of the active participants only.
A *store* is a :class:`~allora_sim.core.TopicState` aligned to every participant that has ever
been active in the topic (ids ascending, ``-1`` padding): :func:`gather` takes the active subset
out of it, :func:`scatter` writes an epoch's result back. Pairwise stores (one-out and one-in
regrets) are dense over the ever-active participants only, as the chain stores them only for
pairs that were active together.
"""

from __future__ import annotations

from dataclasses import fields, replace

import numpy as np

from allora_sim.core.epoch import TopicState, _gather_index
from allora_sim.core.maths import same
from allora_sim.core.synthesis import RegretStore

__all__ = ["gather", "scatter", "union_ids"]

_PER_INFERER = ("inferer_inclusions", "inferer_score_ema", "inferer_fraction_smooth")
_PER_FORECASTER = ("forecaster_inclusions", "forecaster_score_ema", "forecaster_fraction_smooth")
_PER_REPUTER = ("listening_coefficient", "reputer_score_ema", "reputer_fraction_smooth")
_PER_TOPIC = (
    "initial_regret",
    "network_loss",
    "inferer_score_quantile",
    "forecaster_score_quantile",
    "reputer_score_quantile",
    "inferer_score_history",
    "forecaster_score_history",
    "forecaster_score_ratio",
)
# regret store -> (row role, column role); single-axis stores have column role None
_REGRET_AXES = {
    "inferer": ("i", None),
    "forecaster": ("f", None),
    "naive_inferer": ("i", None),
    "oneout_inferer_inferer": ("i", "i"),
    "oneout_inferer_forecaster": ("i", "f"),
    "oneout_forecaster_inferer": ("f", "i"),
    "oneout_forecaster_forecaster": ("f", "f"),
    "onein_forecaster_inferer": ("f", "i"),
    "onein_forecaster_self": ("f", None),
}


def union_ids(old: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Per topic, the sorted union of two id lists (``-1`` = empty), padded with ``-1``."""
    rows = []
    for a, b in zip(old, new, strict=True):
        u = np.union1d(a[a >= 0], b[b >= 0])
        rows.append(u)
    width = max((len(r) for r in rows), default=0)
    out = np.full((len(rows), width), -1, dtype=np.int64)
    for t, r in enumerate(rows):
        out[t, : len(r)] = r
    return out


def gather(
    store: TopicState, inferer_ids: np.ndarray, forecaster_ids: np.ndarray, reputer_ids: np.ndarray
) -> tuple[TopicState, TopicState]:
    """The state of this epoch's participants, and the store extended to include them.

    Participants never seen before start empty (as on chain). Returns ``(part, store)``.
    """
    if (
        _known(store.inferer_ids, inferer_ids)
        and _known(store.forecaster_ids, forecaster_ids)
        and _known(store.reputer_ids, reputer_ids)
    ):
        return store.aligned(inferer_ids, forecaster_ids, reputer_ids), store
    grown = store.aligned(
        union_ids(store.inferer_ids, inferer_ids),
        union_ids(store.forecaster_ids, forecaster_ids),
        union_ids(store.reputer_ids, reputer_ids),
    )
    return grown.aligned(inferer_ids, forecaster_ids, reputer_ids), grown


def _known(store_ids: np.ndarray, ids: np.ndarray) -> bool:
    """Every id of ``ids`` is already in the store (the common case: no growth needed)."""
    if same(store_ids, ids):
        return True
    if ids.shape[1] == 0:
        return True
    return bool(((_gather_index(store_ids, ids) >= 0) | (ids < 0)).all())


def _put(target: np.ndarray, index: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``target[b, index[b, i]] = values[b, i]`` for ``index >= 0`` (last axis)."""
    out = target.copy()
    b, i = np.nonzero(index >= 0)
    out[b, index[b, i]] = values[b, i]
    return out


def _put2(target: np.ndarray, rows: np.ndarray, cols: np.ndarray, values: np.ndarray) -> np.ndarray:
    out = target.copy()
    ok = (rows >= 0)[:, :, None] & (cols >= 0)[:, None, :]
    b, i, j = np.nonzero(ok)
    out[b, rows[b, i], cols[b, j]] = values[b, i, j]
    return out


def scatter(store: TopicState, part: TopicState) -> TopicState:
    """Write ``part`` (the state after an epoch of some participants) back into ``store``.

    ``store`` must already hold every id of ``part`` (see :func:`gather`).
    """
    if (
        same(store.inferer_ids, part.inferer_ids)
        and same(store.forecaster_ids, part.forecaster_ids)
        and same(store.reputer_ids, part.reputer_ids)
    ):
        return part
    gi = _gather_index(store.inferer_ids, part.inferer_ids)
    gf = _gather_index(store.forecaster_ids, part.forecaster_ids)
    gr = _gather_index(store.reputer_ids, part.reputer_ids)
    for name, g, ids in (
        ("inferer", gi, part.inferer_ids),
        ("forecaster", gf, part.forecaster_ids),
        ("reputer", gr, part.reputer_ids),
    ):
        if ((ids >= 0) & (g < 0)).any():
            raise ValueError(f"scatter: some {name} ids of the part are not in the store")
    index = {"i": gi, "f": gf}
    reg = {}
    for f in fields(RegretStore):
        rows, cols = _REGRET_AXES[f.name]
        target, values = getattr(store.regrets, f.name), getattr(part.regrets, f.name)
        if cols is None:
            reg[f.name] = _put(target, index[rows], values)
        else:
            reg[f.name] = _put2(target, index[rows], index[cols], values)
    changes: dict[str, np.ndarray | RegretStore] = {"regrets": RegretStore(**reg)}
    for names, g in ((_PER_INFERER, gi), (_PER_FORECASTER, gf), (_PER_REPUTER, gr)):
        for name in names:
            changes[name] = _put(getattr(store, name), g, getattr(part, name))
    for name in _PER_TOPIC:
        changes[name] = getattr(part, name)
    return replace(store, **changes)  # type: ignore[arg-type]
