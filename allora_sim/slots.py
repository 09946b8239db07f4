"""Registered slots and the epoch's active participants: the index work between the model's
per-slot arrays ``(T, registered)`` and the core's per-active-participant arrays ``(T, A)``.

Active participants are given per topic by their slot ids, ascending and padded with ``-1``
(:func:`compact`). When every registered slot is active — the common case — the ids are one
shared read-only array per shape (:func:`all_slots`), which :func:`is_all_slots` recognises
without comparing, and :func:`take` / :func:`spread` reduce to copies.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "all_slots",
    "compact",
    "in_slot_order",
    "is_all_slots",
    "spread",
    "take",
    "take_forecasts",
]

_ALL_SLOTS: dict[tuple[int, ...], np.ndarray] = {}


def all_slots(shape: tuple[int, ...]) -> np.ndarray:
    """The ids ``(T, A)`` of every registered slot: every row 0, 1, …, A − 1. One read-only
    array per shape, so that :func:`is_all_slots` recognises it without comparing."""
    ids = _ALL_SLOTS.get(shape)
    if ids is None:
        ids = np.tile(np.arange(shape[1]), (shape[0], 1))
        ids.flags.writeable = False
        _ALL_SLOTS[shape] = ids
    return ids


def compact(active: np.ndarray) -> np.ndarray:
    """Slots of the active participants per topic, ascending, padded with ``-1``: ``(T, A)``."""
    if active.all():  # everyone active (the common case): every row is 0, 1, 2, ...
        return all_slots(active.shape)
    counts = active.sum(axis=1)
    width = int(counts.max()) if counts.size else 0
    order = np.argsort(~active, axis=1, kind="stable")[:, :width]
    return np.where(np.arange(width)[None, :] < counts[:, None], order, -1)


def in_slot_order(group: Any, n_topics: int, width: int) -> bool:
    """Whether a behaviour group's members are every slot of every topic, in order."""
    return (
        group.size == n_topics * width
        and bool((group.topics == np.repeat(np.arange(n_topics), width)).all())
        and bool((group.slots == np.tile(np.arange(width), n_topics)).all())
    )


def is_all_slots(ids: np.ndarray, width: int) -> bool:
    """Whether every row of ``ids`` is ``0, 1, …, width − 1`` (all registered slots active)."""
    if ids.shape[1] != width:
        return False
    if ids is _ALL_SLOTS.get(ids.shape):
        return True
    return bool((ids == all_slots((1, width))[0]).all())


def take(values: np.ndarray, ids: np.ndarray, fill: float = np.nan) -> np.ndarray:
    """``values[t, ids[t, i]]`` (``fill`` where ``ids`` is −1)."""
    if is_all_slots(ids, values.shape[1]):
        return values.astype(np.result_type(values.dtype, np.nan))  # np.where's dtype below
    got = np.take_along_axis(values, np.maximum(ids, 0), axis=1)
    return np.where(ids >= 0, got, fill)


def take_forecasts(forecast: np.ndarray, fc_ids: np.ndarray, inf_ids: np.ndarray) -> np.ndarray:
    """``forecast[t, fc_ids[t, a], inf_ids[t, b]]``: the active forecasters' forecasts of the
    active inferers (NaN where either id is −1)."""
    if is_all_slots(fc_ids, forecast.shape[1]) and is_all_slots(inf_ids, forecast.shape[2]):
        return forecast.copy()
    rows = np.take_along_axis(forecast, np.maximum(fc_ids, 0)[:, :, None], axis=1)
    got = np.take_along_axis(rows, np.maximum(inf_ids, 0)[:, None, :], axis=2)
    return np.where((fc_ids >= 0)[:, :, None] & (inf_ids >= 0)[:, None, :], got, np.nan)


def spread(values: np.ndarray, ids: np.ndarray, width: int) -> np.ndarray:
    """Inverse of :func:`take`: ``(T, A)`` values onto ``(T, width)`` registered slots."""
    if is_all_slots(ids, width):
        return values.astype(np.float64)
    out = np.full((values.shape[0], width), np.nan)
    t, i = np.nonzero(ids >= 0)
    out[t, ids[t, i]] = values[t, i]
    return out
