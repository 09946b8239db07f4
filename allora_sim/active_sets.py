"""Merit sortition in the model: who of the registered participants is active each epoch.

For every topic and class (inferers, forecasters, reputers) this keeps what the chain stores for
admission — each registered participant's score EMA and the block it was written at, the cached
lowest EMA of the active set — and runs the chain's streaming admission
(:func:`allora_sim.core.sortition.admit_submissions`) over each round's submissions, in a random
arrival order. When no more participants submit than the cap, everyone is admitted (the chain's
outcome then does not depend on the order).
"""

from __future__ import annotations

import numpy as np

from allora_sim.core.sortition import LowestScoreEma, ScoreEmas, admit_submissions

__all__ = ["ActiveSets"]


class ActiveSets:
    """Score EMAs and admission of the registered participants of every topic.

    Args:
        n_topics: number of topics.
        registered: per class, the number of registered participants per topic.
        caps: per class, ``MaxTop*ToReward``.
        alpha: topic ``MeritSortitionAlpha``.
        rng: generator for the arrival order of submissions.
    """

    def __init__(
        self,
        n_topics: int,
        registered: dict[str, int],
        caps: dict[str, int],
        alpha: float,
        rng: np.random.Generator,
    ) -> None:
        self.n_topics = n_topics
        self.caps = caps
        self.alpha = alpha
        self.rng = rng
        self.score = {c: np.full((n_topics, r), np.nan) for c, r in registered.items()}
        self.block = {c: np.zeros((n_topics, r), dtype=np.int64) for c, r in registered.items()}
        self.lowest: dict[str, list[LowestScoreEma | None]] = {
            c: [None] * n_topics for c in registered
        }

    def admit(
        self, cls: str, submitted: np.ndarray, last_quantile: np.ndarray, nonce: int
    ) -> np.ndarray:
        """Admit this round's submitters of class ``cls``; returns the active mask ``(T, R)``.

        Passive EMA updates of those who lose are written as on chain (§8).
        """
        cap = self.caps[cls]
        if not submitted.any():
            return submitted.copy()
        if int(submitted.sum(axis=1).max()) <= cap:
            return submitted.copy()
        active = np.zeros_like(submitted)
        for t in range(self.n_topics):
            who = np.flatnonzero(submitted[t])
            if who.size <= cap:
                active[t, who] = True
                continue
            arrivals = self.rng.permutation(who)
            emas = ScoreEmas(self.score[cls][t], self.block[cls][t])
            rnd = admit_submissions(
                arrivals, emas, self.lowest[cls][t], float(last_quantile[t]), self.alpha, cap, nonce
            )
            active[t] = rnd.active
            self.score[cls][t] = rnd.emas.score
            self.block[cls][t] = rnd.emas.block
            self.lowest[cls][t] = rnd.lowest
        return active

    def ema(self, cls: str) -> np.ndarray:
        """Stored score EMAs ``(T, R)`` (NaN = none stored)."""
        return self.score[cls]

    def write(
        self, cls: str, topics: np.ndarray, slots: np.ndarray, values: np.ndarray, nonce: int
    ) -> None:
        """Store EMAs updated by scoring (``CalcAndSave*ScoreEmaForActiveSet``) at ``nonce``."""
        ok = np.isfinite(values)
        self.score[cls][topics[ok], slots[ok]] = values[ok]
        self.block[cls][topics[ok], slots[ok]] = nonce

    def write_where(self, cls: str, scored: np.ndarray, values: np.ndarray, nonce: int) -> None:
        """:meth:`write` for every registered slot at once, ``values`` ``(T, R)`` in slot order,
        where ``scored`` (and the value is finite)."""
        ok = scored & np.isfinite(values)
        np.copyto(self.score[cls], values, where=ok)
        self.block[cls][ok] = nonce
