"""Exact integer amounts of uallo as arrays: two int64 limbs per amount.

The chain's token amounts are ``cosmossdk.io/math.Int``: exact integers, and beyond int64 (the
MaxSupply is 10^27 uallo; one reward of 10 ALLO is already 10^19 uallo). :class:`Uallo` holds
non-negative amounts as ``hi·10^18 + lo`` with ``0 ≤ lo < 10^18`` — whole ALLO and the uallo
below one ALLO — so exact sums, comparisons and conversions run on whole arrays instead of one
Python ``int`` at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np

__all__ = ["BASE", "Uallo"]

BASE = 10**18  # uallo per ALLO: the low limb's range
_FIVE18 = 5**18  # BASE = 5^18 · 2^18
_LOW18 = 2**18 - 1
_MAX_TERMS = 2**21  # terms per sum below which Σ(lo >> 18) < 2^21 · 5^18 fits int64
_TWO63 = 2.0**63
_TWO90 = 2.0**90  # ≈ 1.24·10^27 uallo, above MaxSupply
_INT64_END = 2**63
_HI_INT64 = 8  # whole ALLO up to which hi·10^18 + lo < 9·10^18 < 2^63 (int64 arithmetic exact)


@dataclass(frozen=True)
class Uallo:
    """Non-negative integer uallo amounts ``hi·10^18 + lo`` (two int64 arrays of one shape)."""

    hi: np.ndarray
    lo: np.ndarray

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.hi.shape)

    def __getitem__(self, key: Any) -> Uallo:
        return Uallo(self.hi[key], self.lo[key])

    @classmethod
    def of_int64(cls, a: np.ndarray) -> Uallo:
        """Amounts held in an int64 array (≥ 0)."""
        if a.size == 0 or a.max() < BASE:  # below one ALLO each (e.g. fees): no division
            return cls(np.zeros_like(a), a)
        hi, lo = np.divmod(a, BASE)
        return cls(hi, lo)

    @classmethod
    def of_ints(cls, values: Sequence[int]) -> Uallo:
        """Python ``int`` amounts (≥ 0), a flat sequence."""
        values = [int(x) for x in values]
        if not values or max(values) < _INT64_END:
            return cls.of_int64(np.array(values, dtype=np.int64))
        parts = [divmod(x, BASE) for x in values]  # some amount is ≥ 2^63
        if max(h for h, _ in parts) >= _INT64_END:
            raise ValueError(f"uallo amount {max(values)} is beyond 2^63 ALLO")
        return cls(
            np.array([h for h, _ in parts], dtype=np.int64),
            np.array([lo for _, lo in parts], dtype=np.int64),
        )

    @classmethod
    def of_integral(cls, v: np.ndarray) -> Uallo:
        """Integral float64 amounts (finite, ≥ 0), converted exactly.

        Below 2^63 numpy's cast is exact. Up to 2^90 (above MaxSupply), ``v = m·2^e`` (53-bit
        ``m``); the whole ALLO ``h ≈ v/10^18`` from float division is off by at most one, and
        ``v − h·10^18`` — whose true value lies within ±2·10^18 — is computed exactly modulo
        2^64 (uint64 arithmetic wraps), then ``h`` is corrected by the sign and size of that
        remainder. Larger amounts go through Python's ints.
        """
        v = np.asarray(v, dtype=np.float64)
        if v.size == 0:
            return cls(np.zeros(v.shape, dtype=np.int64), np.zeros(v.shape, dtype=np.int64))
        top = v.max()
        if not (v.min() >= 0.0 and np.isfinite(top)):  # NaN fails too
            raise ValueError(f"uallo amounts must be finite and >= 0, got {v.min()}..{top}")
        if top >= _TWO90:  # beyond the supply: Python's ints (hi must still fit int64)
            flat = cls.of_ints([int(x) for x in v.ravel().tolist()])
            return cls(flat.hi.reshape(v.shape), flat.lo.reshape(v.shape))
        small = v < _TWO63
        if small.all():
            return cls.of_int64(v.astype(np.int64))
        hi, lo = np.divmod(np.where(small, v, 0.0).astype(np.int64), BASE)
        big = np.flatnonzero(~small)
        vb = v.reshape(-1)[big]
        frac, exp = np.frexp(vb)
        mant = (frac * 2.0**53).astype(np.uint64)
        v_mod = np.left_shift(mant, (exp - 53).astype(np.uint64))  # v mod 2^64
        h = np.floor(vb / BASE).astype(np.int64)
        r = (v_mod - h.astype(np.uint64) * np.uint64(BASE)).view(np.int64)
        under = r < 0
        r += under * BASE
        h -= under
        over = r >= BASE
        r -= over * BASE
        h += over
        hi.reshape(-1)[big] = h
        lo.reshape(-1)[big] = r
        return cls(hi, lo)

    def ints(self) -> list[Any]:
        """The amounts as (nested) lists of Python ``int``."""
        if self.hi.ndim == 1 and self.hi.size <= 32:  # a few: Python ints beat the arrays
            return [h * BASE + lo for h, lo in zip(self.hi.tolist(), self.lo.tolist(), strict=True)]
        if self.hi.size == 0 or self.hi.max() <= _HI_INT64:  # every amount fits int64
            return list((self.hi * BASE + self.lo).tolist())
        out = self.hi.astype(object)
        out *= BASE
        out += self.lo.astype(object)
        return list(out.tolist())

    def sum_runs(self, starts: np.ndarray) -> Uallo:
        """Exact sums of the runs of a flat array beginning at ``starts`` (``np.add.reduceat``),
        carries included.

        The low limb is split by bits, ``lo = a·2^18 + b`` (``a < 5^18``, ``b < 2^18``), so no
        partial sum of up to 2^21 terms overflows int64 (longer arrays are summed as Python
        ints) and only the run totals are divided:
        ``Σa·2^18 = (Σa div 5^18)·10^18 + (Σa mod 5^18)·2^18``.
        """
        if self.hi.size > _MAX_TERMS:  # partial sums could overflow: exact Python ints
            ints = self.ints()
            bounds = [*np.asarray(starts).tolist(), len(ints)]
            return Uallo.of_ints([sum(ints[a:b]) for a, b in pairwise(bounds)])
        s_hi = np.add.reduceat(self.hi, starts)
        s_a = np.add.reduceat(self.lo >> 18, starts)
        s_b = np.add.reduceat(self.lo & _LOW18, starts)
        carry, s_a = np.divmod(s_a, _FIVE18)
        carry2, lo = np.divmod((s_a << 18) + s_b, BASE)
        return Uallo(s_hi + carry + carry2, lo)

    def total(self) -> int:
        """The exact sum of all amounts."""
        if self.hi.size <= 128:  # up to ~a hundred amounts Python ints beat the limb sums
            return sum(self.hi.ravel().tolist()) * BASE + sum(self.lo.ravel().tolist())
        s = Uallo(self.hi.ravel(), self.lo.ravel()).sum_runs(np.zeros(1, dtype=np.intp))
        return int(s.hi[0]) * BASE + int(s.lo[0])

    def below(self, other: Uallo) -> np.ndarray:
        """Elementwise ``self < other`` (broadcasting)."""
        return (self.hi < other.hi) | ((self.hi == other.hi) & (self.lo < other.lo))

    def minus(self, other: Uallo) -> Uallo:
        """Elementwise ``self − other`` (the caller ensures it is not negative)."""
        lo = self.lo - other.lo
        borrow = lo < 0
        lo += borrow * BASE
        return Uallo(self.hi - other.hi - borrow, lo)

    def plus(self, other: Uallo) -> Uallo:
        """Elementwise ``self + other``."""
        lo = self.lo + other.lo
        carry = lo >= BASE
        lo -= carry * BASE
        return Uallo(self.hi + other.hi + carry, lo)
