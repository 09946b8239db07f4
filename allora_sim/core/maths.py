"""Array versions of the chain's numeric helpers (``math/utils.go``; `mechanism.md` §0).

Every function works on the last axis and broadcasts over any leading (batch) axes.
Membership of an element in a set is given by a boolean ``mask`` of the same shape;
masked-out elements never influence the result.
"""

from __future__ import annotations

import contextlib

import numpy as np

# Aliases documenting intent: float64 values, boolean membership masks (batch axes first).
Array = np.ndarray
Mask = np.ndarray

__all__ = [
    "Array",
    "Mask",
    "ema",
    "expand",
    "masked_median",
    "masked_std",
    "nan_to_zero",
    "phi",
    "phi_prime",
    "quantile_of_decs",
    "same",
    "take_last",
]


_ROW_STARTS: dict[tuple[int, ...], np.ndarray] = {}


def nan_to_zero(x: Array) -> Array:
    """``np.nan_to_num(x, nan=0.0)`` for values that are finite or NaN (scores, losses,
    stakes): NaN reads as 0. A fraction of ``nan_to_num``'s cost, which also maps ±inf."""
    return np.where(np.isnan(x), 0.0, x)


def same(a: np.ndarray, b: np.ndarray) -> bool:
    """``np.array_equal`` for two arrays, without its argument handling. Integer and boolean
    arrays of one dtype (ids, masks) compare as bytes: equal bytes are equal values there
    (not for floats: NaN, ±0)."""
    if a.shape != b.shape:
        return False
    if a.dtype == b.dtype and a.dtype.kind in "iub":
        return a is b or a.tobytes() == b.tobytes()
    return bool((a == b).all())


def take_last(a: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``np.take_along_axis(a, idx, axis=-1)``; when ``idx`` has ``a``'s leading shape, as one
    flat take (a fraction of ``take_along_axis``'s per-call cost on the small arrays here)."""
    if a.shape[:-1] != idx.shape[:-1] or a.shape[-1] == 0:
        return np.take_along_axis(a, idx, axis=-1)
    start = _ROW_STARTS.get(a.shape)
    if start is None:  # the flat offset of each row, kept per shape (a handful of shapes)
        start = np.arange(0, a.size, a.shape[-1]).reshape(*a.shape[:-1], 1)
        start.flags.writeable = False
        if len(_ROW_STARTS) < 256:
            _ROW_STARTS[a.shape] = start
    return a.reshape(-1)[start + idx]


def expand(a: np.ndarray, axis: int) -> np.ndarray:
    """``np.expand_dims(a, axis)`` for one axis, without its argument handling."""
    if axis == -1:
        return a[..., None]
    if axis < 0:
        axis += a.ndim + 1
    return a.reshape((*a.shape[:axis], 1, *a.shape[axis:]))


def masked_std(x: Array, mask: Mask, axis: int = -1, finite: bool = False) -> Array:
    """Sample standard deviation with Bessel's correction over the masked elements.

    Mirrors ``alloraMath.StdDev`` (§0): ``sqrt(Σ(x−mean)²/(n−1))``, and 0 when n ≤ 1.
    Masked-out elements may hold anything (NaN included) — unless ``finite``: the caller
    guarantees every element is finite, and masking is a multiplication (a third of the cost of
    a select; the same sums, as ``x·0`` adds nothing). ``axis`` is the list axis (reduced);
    a leading list axis turns the sums into additions of whole rows, much faster for short lists.
    """
    add = np.add.reduce
    n = add(mask, axis=axis)
    xm = np.multiply(x, mask, order="C") if finite else np.where(mask, x, 0.0)
    mean = add(xm, axis=axis) / np.maximum(n, 1)
    xm -= expand(mean, axis)
    xm *= mask
    if axis == -1:
        ss = np.einsum("...i,...i->...", xm, xm)
    else:
        xm *= xm
        ss = add(xm, axis=axis)
    out: Array = np.sqrt(ss / np.maximum(n - 1, 1))
    out[n <= 1] = 0.0
    return out


def quantile_of_decs(x: Array, mask: Mask, q: float | Array) -> Array:
    """Quantile of the masked elements as the chain computes it (``GetQuantileOfDecs``, §0).

    Sort descending, position ``(1−q)(n−1)``, interpolate linearly between the values at the
    floor and ceil positions. Empty input gives 0.
    """
    n = mask.sum(axis=-1)
    if x.shape[-1] == 0:
        return np.zeros(x.shape[:-1])
    desc = -np.sort(np.where(mask, -x, np.inf), axis=-1)
    pos = (1.0 - np.asarray(q, dtype=np.float64)) * np.maximum(n - 1, 0)
    lo = np.floor(pos)
    hi = np.ceil(pos)
    lo_i = lo.astype(np.intp)[..., None]
    hi_i = hi.astype(np.intp)[..., None]
    v_lo = take_last(desc, lo_i)[..., 0]
    v_hi = take_last(desc, hi_i)[..., 0]
    with np.errstate(invalid="ignore"):
        out = v_lo + (pos - lo) * (v_hi - v_lo)
        out = np.where(lo == hi, v_lo, out)
    return np.where(n > 0, out, 0.0)


def masked_median(x: Array, mask: Mask) -> Array:
    """Median of the masked elements (``alloraMath.Median``): the mean of the two middle values
    for an even count, 0 for an empty set."""
    n = mask.sum(axis=-1)
    if x.shape[-1] == 0:
        return np.zeros(x.shape[:-1])
    asc = np.sort(np.where(mask, x, np.inf), axis=-1)
    lo = np.maximum((n - 1) // 2, 0)[..., None]
    hi = np.maximum(n // 2, 0)[..., None]
    v_lo = take_last(asc, lo)[..., 0]
    v_hi = take_last(asc, hi)[..., 0]
    with np.errstate(invalid="ignore"):
        out = np.where(n % 2 == 1, v_hi, (v_lo + v_hi) / 2.0)
    return np.where(n > 0, out, 0.0)


def ema(
    alpha: float | Array,
    current: Array | float,
    previous: Array | float,
    first_time: Mask | bool,
    finite: bool = False,
    overwrite: bool = False,
) -> Array:
    """``alloraMath.CalcEma``: ``α·current + (1−α)·previous``; ``current`` the first time and
    (the chain's shortcut) when ``current == previous``.

    ``finite=True``: the caller guarantees no ±inf reaches the blend (NaN may), so no
    error-state context is entered — on the small arrays of a hot loop it costs as much as the
    arithmetic. ``overwrite=True``: ``previous`` is the caller's own float array of the
    result's shape, reused for the result (the same numbers: float addition commutes)."""
    with contextlib.nullcontext() if finite else np.errstate(invalid="ignore"):
        if overwrite:
            assert isinstance(previous, np.ndarray)
            shortcut = first_time | (current == previous)
            previous *= 1.0 - alpha
            previous += alpha * current
            np.copyto(previous, current, where=shortcut)
            return previous
        smoothed = alpha * current + (1.0 - alpha) * previous
    return np.where(first_time | (current == previous), current, smoothed)


def phi_prime(p: float, c: float, x: Array) -> Array:
    """``alloraMath.Gradient``: φ'_{p,c}(x) = p / (1 + exp(p·(c − x))) (§0)."""
    with np.errstate(over="ignore"):
        return p / (1.0 + np.exp(p * (c - x)))


def phi(p: float, c: float, x: Array) -> Array:
    """``alloraMath.Phi``: φ_{p,c}(x) = ln(1 + exp(p·(x − c))) (§0), overflow-safe."""
    z = p * (x - c)
    # ln(1 + e^z) = max(z, 0) + ln(1 + e^{-|z|}); identical to the direct form where it is finite.
    direct = np.log1p(np.exp(np.minimum(z, 700.0)))
    return np.where(z > 30.0, np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z))), direct)
