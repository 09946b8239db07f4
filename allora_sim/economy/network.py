"""The network's token flows in the model: genesis, fees, stake, delegation, rewards.

Accounts (all integer uallo in one :class:`~allora_sim.economy.ledger.Ledger`):

* module accounts — ``ecosystem`` (the mint module's treasury account: fees arrive here, the mint
  tops it up), ``rewards`` (Allora rewards account), ``fee_collector`` (validators),
  ``staking`` (all reputer and delegated stake), ``pending_delegators`` (delegators' cut);
* allocations (x/mint genesis shares) — ``foundation``, ``participants`` (funds the simulated
  participants' starting balances), ``investors_preseed``, ``investors``, ``team`` (vesting:
  locked until unlocked by the schedule); the ecosystem share starts unminted;
* one account per agent.

Token movements follow the chain: every fee (pay-what-you-want payments, registration, the
per-payload data-sending fee, topic creation) goes to ``ecosystem`` and counts as the topic's
fee revenue (§7.2); rewards are paid out of ``rewards`` with the chain's integer truncation;
a reputer's kept reward is re-staked and the delegators' cut goes through
``pending_delegators`` to the delegators (§6.6); removed stake returns after the delay window.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np

from allora_sim.core.params import MintParams
from allora_sim.economy.ledger import Ledger
from allora_sim.economy.stake import StakeBook

__all__ = ["MODULE_ACCOUNTS", "Economy"]

UALLO = 10**18
MODULE_ACCOUNTS = ("ecosystem", "rewards", "fee_collector", "staking", "pending_delegators")
VESTING = ("investors_preseed", "investors", "team")


def uallo(allo: np.ndarray | float) -> list[int]:
    """ALLO amounts as integer uallo, truncated (a float has ~16 significant digits)."""
    arr = np.atleast_1d(np.asarray(allo, dtype=np.float64))
    return [int(x * 1e18) if np.isfinite(x) and x > 0 else 0 for x in arr.ravel()]


class Economy:
    """Ledger, accounts and stake book of a model (see the module docstring).

    Args:
        mint: mint-module parameters (supply and allocation shares).
        roles: per role, ``(n_topics, registered)`` — one account per agent slot.
        delegator_topics: the topic of each delegator.
    """

    def __init__(
        self,
        mint: MintParams,
        n_topics: int,
        registered: dict[str, int],
        delegator_topics: np.ndarray,
    ) -> None:
        self.mint = mint
        self.n_topics = n_topics
        self.ledger = Ledger(mint.max_supply)
        led = self.ledger
        supply = mint.max_supply
        share = {
            "foundation": mint.foundation_treasury_percent_of_total_supply,
            "participants": mint.participants_percent_of_total_supply,
            "investors_preseed": mint.investors_preseed_percent_of_total_supply,
            "investors": mint.investors_percent_of_total_supply,
            "team": mint.team_percent_of_total_supply,
        }
        # LegacyDec × Int, truncated: exact decimal arithmetic, not float
        amounts = {k: int(Decimal(repr(v)) * supply) for k, v in share.items()}
        self.module = {name: led.open(name) for name in MODULE_ACCOUNTS}
        self.alloc = {
            k: led.open(k, amounts[k] if k in ("foundation", "participants") else 0) for k in share
        }
        locked = {k: amounts[k] for k in VESTING}
        # the ecosystem treasury share (and any rounding remainder) is the mint's allowance
        unminted = supply - sum(amounts.values())
        self.ecosystem_allowance = int(
            Decimal(repr(mint.ecosystem_treasury_percent_of_total_supply)) * supply
        )
        self.accounts: dict[str, np.ndarray] = {}
        for role, size in registered.items():
            names = [f"{role}/{t}/{s}" for t in range(n_topics) for s in range(size)]
            self.accounts[role] = led.open_many(names).reshape(n_topics, size)
        led.set_genesis_pools(unminted=unminted, locked=locked)
        self.stake = StakeBook(
            n_topics, registered.get("reputers", 0), len(delegator_topics), delegator_topics
        )
        self.revenue = np.zeros(n_topics, dtype=object)  # topic fee revenue C_t (uallo)
        self.fees_total = np.zeros(n_topics, dtype=object)  # cumulative fees paid
        led.check()

    # ---------------------------------------------------------------------------------------
    # genesis funding

    def fund(self, role: str, topics: np.ndarray, slots: np.ndarray, allo: np.ndarray) -> None:
        """Give agents their starting tokens from the participants' allocation."""
        dst = self.accounts[role][topics, slots]
        amounts = uallo(allo)
        src = np.full(len(dst), self.alloc["participants"])
        self.ledger.transfer_many(src, dst, amounts)

    def stake_own(self, topics: np.ndarray, slots: np.ndarray, allo: np.ndarray) -> None:
        """Reputers stake from their own balance (``AddStake``)."""
        amounts = uallo(allo)
        src = self.accounts["reputers"][topics, slots]
        self.ledger.transfer_many(src, np.full(len(src), self.module["staking"]), amounts)
        self.stake.add_own_many(topics, slots, amounts)

    # ---------------------------------------------------------------------------------------
    # fees (§7.2): to the ecosystem account, counted as the topic's revenue

    def pay_fees(
        self, role: str, topics: np.ndarray, slots: np.ndarray, amounts: list[int]
    ) -> np.ndarray:
        """Agents pay fees for their topics; those who cannot afford theirs pay nothing.

        Returns the mask of agents who paid."""
        src = self.accounts[role][topics, slots]
        amt = np.array(amounts, dtype=object)
        can = self.ledger.balances[src] >= amt
        paid = can & (amt > 0)
        if paid.any():
            self.ledger.transfer_many(
                src[paid], np.full(int(paid.sum()), self.module["ecosystem"]), list(amt[paid])
            )
            np.add.at(self.revenue, topics[paid], amt[paid])
            np.add.at(self.fees_total, topics[paid], amt[paid])
        return np.asarray(can, dtype=bool)

    # ---------------------------------------------------------------------------------------
    # rewards (§6.6)

    def payout(self, role: str, topics: np.ndarray, slots: np.ndarray, rewards: list[int]) -> None:
        """Pay workers from the rewards account (truncated amounts)."""
        dst = self.accounts[role][topics, slots]
        self.ledger.transfer_many(np.full(len(dst), self.module["rewards"]), dst, rewards)

    def restake(self, topics: np.ndarray, slots: np.ndarray, kept: list[int]) -> None:
        """A reputer's kept reward goes from the rewards account onto its stake."""
        self.ledger.transfer_many(
            np.full(len(kept), self.module["rewards"]),
            np.full(len(kept), self.module["staking"]),
            kept,
        )
        self.stake.add_own_many(topics, slots, kept)

    def delegator_rewards(
        self,
        topics: np.ndarray,
        reputers: np.ndarray,
        cut: list[int],
        delegator_accounts: np.ndarray,
    ) -> np.ndarray:
        """The delegators' cut of each reputer's reward, through the pending account, to its
        delegators pro rata to their delegation (reward per share); returns per-delegator
        amounts paid (uallo). Truncation remainders stay in the pending account."""
        led, book = self.ledger, self.stake
        total = sum(cut)
        if total == 0:
            return np.zeros(len(book.delegations), dtype=object)
        led.transfer(self.module["rewards"], self.module["pending_delegators"], total)
        paid = np.zeros(len(book.delegations), dtype=object)
        for t, r, c in zip(topics.tolist(), reputers.tolist(), cut, strict=True):
            if c == 0:
                continue
            backers = np.flatnonzero(
                (book.topic_of == t) & (book.target == r) & (book.delegations > 0)
            )
            stake = int(book.delegated[t, r])
            if stake == 0 or backers.size == 0:
                continue
            for d in backers.tolist():
                paid[d] += c * int(book.delegations[d]) // stake
        if any(p > 0 for p in paid):
            idx = np.flatnonzero(paid > 0)
            led.transfer_many(
                np.full(idx.size, self.module["pending_delegators"]),
                delegator_accounts[idx],
                list(paid[idx]),
            )
        return paid

    # ---------------------------------------------------------------------------------------

    def supply(self) -> dict[str, Any]:
        """Supply figures (uallo ints): minted, unminted, locked, staked, ecosystem, circulating
        as the mint computes it (§9.1)."""
        led = self.ledger
        ecosystem_locked = led.balance(self.module["ecosystem"]) + led.unminted
        locked = sum(led.locked.values())
        return {
            "max_supply": led.max_supply,
            "minted": led.minted_total,
            "unminted": led.unminted,
            "locked_vesting": locked,
            "ecosystem_locked": ecosystem_locked,
            "circulating": led.max_supply - locked - ecosystem_locked,
            "staked": self.stake.total(),
        }

    def check(self) -> None:
        """Conservation and bookkeeping invariants (raise on violation)."""
        self.ledger.check()
        if self.stake.total() != self.ledger.balance(self.module["staking"]):
            raise AssertionError(
                f"stake book {self.stake.total()} != staking account "
                f"{self.ledger.balance(self.module['staking'])}"
            )
