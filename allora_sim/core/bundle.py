"""The chain's ``ValueBundle``: one value per network-inference entry (`mechanism.md` §2.4, §3.1).

The same shape carries three things: the network inferences the query returns (§2.4), the losses
each reputer reports for them (§3.1, with a reputer axis), and the stake-weighted network losses
(§3.1). Every field has the same leading shape ``lead`` — ``(B,)`` for network values, ``(B, M)``
for reputer reports — followed by the participant axes. NaN means "entry absent" (not in the
bundle / not reported).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from allora_sim.core.maths import Array

__all__ = ["ValueBundle"]


@dataclass(frozen=True)
class ValueBundle:
    """Values (or losses) of every network-inference entry.

    Attributes (``...`` = leading shape):
        combined: ``(...)`` the network (combined) inference I_i.
        naive: ``(...)`` the naive network inference I⁻_i (inferers only).
        inferer: ``(..., N)`` each inferer's inference I_ij.
        forecaster: ``(..., K)`` each forecaster's forecast-implied inference I_ik.
        oneout_inferer: ``(..., N)`` network inference with inferer j withheld.
        oneout_forecaster: ``(..., K)`` network inference with forecaster k withheld.
        onein_forecaster: ``(..., K)`` naive inference plus forecaster k only.
        oneout_inferer_forecaster: ``(..., K, N)`` forecaster k's forecast-implied inference
            recomputed with inferer j withheld.
    """

    combined: Array
    naive: Array
    inferer: Array
    forecaster: Array
    oneout_inferer: Array
    oneout_forecaster: Array
    onein_forecaster: Array
    oneout_inferer_forecaster: Array

    @staticmethod
    def absent(lead: tuple[int, ...], n: int, k: int) -> ValueBundle:
        """A bundle with every entry absent (NaN)."""

        def nan(*shape: int) -> Array:
            return np.full(lead + shape, np.nan)

        return ValueBundle(
            combined=nan(),
            naive=nan(),
            inferer=nan(n),
            forecaster=nan(k),
            oneout_inferer=nan(n),
            oneout_forecaster=nan(k),
            onein_forecaster=nan(k),
            oneout_inferer_forecaster=nan(k, n),
        )

    def flat(self) -> Array:
        """All entries along one last axis, in the chain's ``ExtractValues`` order (§4 step 2):
        combined, naive, inferers, forecasters, one-out inferer-forecaster (by forecaster, then
        withheld inferer), one-out inferers, one-out forecasters, one-in forecasters.

        A bundle made by :meth:`from_flat` returns the array it views (no copy): treat the
        result as read-only."""
        cached: Array | None = self.__dict__.get("_flat")
        if cached is not None:
            return cached
        lead = self.combined.shape
        parts = [
            self.combined[..., None],
            self.naive[..., None],
            self.inferer,
            self.forecaster,
            self.oneout_inferer_forecaster.reshape(
                *lead, int(np.prod(self.oneout_inferer_forecaster.shape[len(lead) :]))
            ),
            self.oneout_inferer,
            self.oneout_forecaster,
            self.onein_forecaster,
        ]
        return np.concatenate(parts, axis=-1)

    @staticmethod
    def from_flat(flat: Array, n: int, k: int) -> ValueBundle:
        """The inverse of :meth:`flat`: fields as views of ``flat (..., 2 + 2N + K(N+3))``."""
        e = 2 + 2 * n + k * (n + 3)
        if flat.shape[-1] != e:
            raise ValueError(
                f"a flat bundle of {n} inferers and {k} forecasters has {e} entries, "
                f"got {flat.shape[-1]}"
            )
        a = 2 + n + k  # start of the one-out inferer-forecaster block
        b = a + k * n
        out = ValueBundle(
            combined=flat[..., 0],
            naive=flat[..., 1],
            inferer=flat[..., 2 : 2 + n],
            forecaster=flat[..., 2 + n : a],
            oneout_inferer_forecaster=flat[..., a:b].reshape(*flat.shape[:-1], k, n),
            oneout_inferer=flat[..., b : b + n],
            oneout_forecaster=flat[..., b + n : b + n + k],
            onein_forecaster=flat[..., b + n + k :],
        )
        # not a dataclass field: the bundle's fields are views of it (see :meth:`flat`)
        object.__setattr__(out, "_flat", flat)
        return out

    def map(self, fn: object) -> ValueBundle:
        """Apply ``fn(field_array)`` to every field."""
        return ValueBundle(
            **{f.name: fn(getattr(self, f.name)) for f in fields(self)}  # type: ignore[operator]
        )
