"""Stake on reputers: their own stake, delegations, and removals after the delay window.

Mirrors the emissions module's stake bookkeeping (``x/emissions/keeper``: ``AddReputerStake``,
``AddDelegateStake``, ``RemoveReputerStake`` / ``RemoveDelegateStake`` queued for
``RemoveStakeDelayWindow`` blocks, ``GetStakeReputerAuthority`` = own + delegated stake). Amounts
are exact integers (uallo, Python ``int`` in object arrays: the book is small); tokens move
through the ledger's staking account, so ``Σ stakes = staking account balance`` at all times.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["PendingRemoval", "StakeBook"]


@dataclass(frozen=True)
class PendingRemoval:
    """A stake removal waiting for its delay window (``StakeRemovalInfo``)."""

    due_epoch: int
    topic: int
    reputer: int
    delegator: int  # -1 for the reputer's own stake
    amount: int


class StakeBook:
    """Own and delegated stake of every reputer slot of every topic.

    ``own[t, r]`` and ``delegated[t, r]`` are integer uallo; ``delegations[d]`` is the amount
    delegator ``d`` (an index into the delegator arrays) has on its reputer ``target[d]`` of
    topic ``topic_of[d]``.
    """

    def __init__(
        self, n_topics: int, n_reputers: int, n_delegators: int, delegator_topics: np.ndarray
    ) -> None:
        self.own = np.zeros((n_topics, n_reputers), dtype=object)
        self.delegated = np.zeros((n_topics, n_reputers), dtype=object)
        self.delegations = np.zeros(n_delegators, dtype=object)
        self.target = np.full(n_delegators, -1, dtype=np.int64)
        self.topic_of = np.asarray(delegator_topics, dtype=np.int64)
        self.pending: list[PendingRemoval] = []
        # float images for the core, cached until the next change of the book
        self._authority: np.ndarray | None = None
        self._delegated: np.ndarray | None = None
        self._topic_stake: np.ndarray | None = None
        self._topic_exact: list[int] | None = None
        self._any_delegated = False

    def _changed(self) -> None:
        """A delegation changed (and with it possibly everything)."""
        self._delegated = None
        self._any_delegated = bool(self.delegated.any())
        self._own_changed()

    def _own_changed(self) -> None:
        """Only own stake changed (re-staked rewards): the delegated image stays valid."""
        self._authority = self._topic_stake = self._topic_exact = None

    def _per_topic(self) -> list[int]:
        """Exact total stake per topic (Python ints; cached until the next change)."""
        if self._topic_exact is None:
            per_topic = self.own.sum(axis=1)
            if self._any_delegated:
                per_topic += self.delegated.sum(axis=1)
            self._topic_exact = per_topic.tolist()
        return self._topic_exact

    # ---------------------------------------------------------------------------------------

    def authority(self) -> np.ndarray:
        """Stake reputer authority (own + delegated), float uallo ``(T, R)`` for the core
        (computed once per change of the book; read-only)."""
        if self._authority is None:
            total = self.own + self.delegated if self._any_delegated else self.own
            self._authority = total.astype(np.float64)
            self._authority.flags.writeable = False
        return self._authority

    def delegated_stake(self) -> np.ndarray:
        """Stake delegated to each reputer (``GetDelegateStakeUponReputer``), float uallo
        ``(T, R)`` for the core's delegator cut (cached like :meth:`authority`)."""
        if self._delegated is None:
            self._delegated = self.delegated.astype(np.float64)
            self._delegated.flags.writeable = False
        return self._delegated

    def total(self) -> int:
        """Σ of all stake (stake being removed still counts until its window has passed)."""
        return int(sum(self._per_topic()))

    def topic_stake(self) -> np.ndarray:
        """Total stake per topic ``(T,)`` (float, for topic weights)."""
        if self._topic_stake is None:
            self._topic_stake = np.array(self._per_topic(), dtype=object).astype(np.float64)
            self._topic_stake.flags.writeable = False
        return self._topic_stake

    def add_own(self, topic: int, reputer: int, amount: int) -> None:
        self.own[topic, reputer] += int(amount)
        self._own_changed()

    def add_own_many(
        self, topics: np.ndarray, reputers: np.ndarray, amounts: Sequence[int] | np.ndarray
    ) -> None:
        """Add to several reputers' own stake (e.g. re-staked rewards)."""
        add = np.array(amounts, dtype=object)
        t, r = np.asarray(topics), np.asarray(reputers)
        n_t, width = self.own.shape
        if (t.size and not 0 <= t.min() <= t.max() < n_t) or (
            r.size and not 0 <= r.min() <= r.max() < width
        ):  # numpy would wrap a negative index to another slot
            raise IndexError(
                f"stake slots must lie in topics 0..{n_t - 1} and reputers 0..{width - 1}"
            )
        if t.ndim == r.ndim == 1 and t.size:
            flat = t * width + r
            if flat.size < 2 or (flat[1:] > flat[:-1]).all():  # distinct slots: no repeats
                self.own.reshape(-1)[flat] += add
                self._own_changed()
                return
        np.add.at(self.own, (topics, reputers), add)
        self._own_changed()

    def delegate(self, delegator: int, reputer: int, amount: int) -> None:
        t = int(self.topic_of[delegator])
        if self.target[delegator] not in (-1, reputer) and self.delegations[delegator] > 0:
            raise ValueError(
                f"delegator {delegator} already delegates to reputer "
                f"{self.target[delegator]}; remove that stake first"
            )
        self.target[delegator] = reputer
        self.delegations[delegator] += int(amount)
        self.delegated[t, reputer] += int(amount)
        self._changed()

    def removing(self, delegator: int) -> bool:
        """Whether the delegator has a removal in its delay window."""
        return any(p.delegator == delegator for p in self.pending)

    def request_removal(self, delegator: int, due_epoch: int) -> int:
        """Queue the removal of a delegator's whole delegation (``RemoveDelegateStake``): the
        stake keeps counting for its reputer until the window has passed. Returns the amount."""
        amount = int(self.delegations[delegator])
        if amount == 0 or self.removing(delegator):
            return 0
        t, r = int(self.topic_of[delegator]), int(self.target[delegator])
        self.pending.append(PendingRemoval(due_epoch, t, r, delegator, amount))
        return amount

    def complete_removals(self, epoch: int) -> list[PendingRemoval]:
        """Execute the removals whose window has passed; the caller returns the tokens."""
        ready = [p for p in self.pending if p.due_epoch <= epoch]
        self.pending = [p for p in self.pending if p.due_epoch > epoch]
        for p in ready:
            self.delegations[p.delegator] -= p.amount
            self.delegated[p.topic, p.reputer] -= p.amount
            self._changed()
            if self.delegations[p.delegator] == 0:
                self.target[p.delegator] = -1
        return ready
