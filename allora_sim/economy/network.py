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

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import numpy as np

from allora_sim.core import emission, topics
from allora_sim.core.params import MintParams
from allora_sim.core.uallo import Uallo
from allora_sim.economy.ledger import Ledger
from allora_sim.economy.stake import StakeBook

__all__ = ["MODULE_ACCOUNTS", "Economy"]

UALLO = 10**18
MODULE_ACCOUNTS = ("ecosystem", "rewards", "fee_collector", "staking", "pending_delegators")
VESTING = ("investors_preseed", "investors", "team")


def _scaled(allo: np.ndarray | float) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(allo, dtype=np.float64)).ravel()
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(arr) & (arr > 0), arr * 1e18, 0.0)


def uallo(allo: np.ndarray | float) -> list[int]:
    """ALLO amounts as integer uallo, truncated (a float has ~16 significant digits); NaN,
    ±inf and amounts ≤ 0 give 0."""
    return [int(x) for x in _scaled(allo).tolist()]


def uallo_limbs(allo: np.ndarray) -> Uallo:
    """:func:`uallo` as :class:`Uallo` limbs (the same integers, without Python ints)."""
    return Uallo.of_integral(np.trunc(_scaled(allo)))


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
        self.account_range: dict[str, tuple[int, int]] = {}  # each role's accounts: a range
        for role, size in registered.items():
            names = [f"{role}/{t}/{s}" for t in range(n_topics) for s in range(size)]
            ids = led.open_many(names)
            self.accounts[role] = ids.reshape(n_topics, size)
            self.account_range[role] = (len(led.names) - ids.size, len(led.names))
        led.set_genesis_pools(unminted=unminted, locked=locked)
        self.stake = StakeBook(
            n_topics, registered.get("reputers", 0), len(delegator_topics), delegator_topics
        )
        self._every: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]] = {}
        self.revenue = np.zeros(n_topics, dtype=object)  # topic fee revenue C_t (uallo)
        self.fees_total = np.zeros(n_topics, dtype=object)  # cumulative fees paid
        led.check()

    # ---------------------------------------------------------------------------------------
    # genesis funding

    def fund(self, role: str, topics: np.ndarray, slots: np.ndarray, allo: np.ndarray) -> None:
        """Give agents their starting tokens from the participants' allocation."""
        dst = self.accounts[role][topics, slots]
        amounts = uallo(allo)
        self.ledger.pay_from(self.alloc["participants"], dst, amounts)

    def stake_own(self, topics: np.ndarray, slots: np.ndarray, allo: np.ndarray) -> None:
        """Reputers stake from their own balance (``AddStake``)."""
        amounts = uallo(allo)
        src = self.accounts["reputers"][topics, slots]
        self.ledger.transfer_many(src, np.full(len(src), self.module["staking"]), amounts)
        self.stake.add_own_many(topics, slots, amounts)

    # ---------------------------------------------------------------------------------------
    # fees (§7.2): to the ecosystem account, counted as the topic's revenue

    def pay_fees(
        self,
        role: str,
        topics: np.ndarray,
        slots: np.ndarray,
        amounts: int | Sequence[int] | np.ndarray | Uallo,
    ) -> np.ndarray:
        """Agents pay fees for their topics (one amount each, or the same ``int`` for all);
        those who cannot afford theirs pay nothing.

        Returns the mask of agents who paid."""
        return self.collect_fees(self.accounts[role][topics, slots], topics, amounts)

    def every_agent(self, roles: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        """The ledger accounts of every agent of ``roles`` and each one's topic, role after
        role, topic then slot within each (computed once per tuple of roles)."""
        if roles not in self._every:
            self._every[roles] = (
                np.concatenate([self.accounts[r].ravel() for r in roles]),
                np.concatenate(
                    [np.repeat(np.arange(self.n_topics), self.accounts[r].shape[1]) for r in roles]
                ),
            )
        return self._every[roles]

    def pay_fees_where(self, sent: dict[str, np.ndarray], amount: int) -> dict[str, np.ndarray]:
        """One fee ``amount`` from every agent whose cell of its role's ``(topics, slots)`` mask
        in ``sent`` is set (the data-sending fee of each payload, §7.2), in one collection:
        roles in the order given, topic then slot within each. Returns per role the mask of
        the agents who paid (False where nothing was sent)."""
        if all(bool(m.all()) for m in sent.values()):  # everyone sent: the fixed payer list
            can = self.collect_fees(*self.every_agent(tuple(sent)), amount)
            out, a = {}, 0
            for role, mask in sent.items():
                out[role] = can[a : a + mask.size].reshape(mask.shape)
                a += mask.size
            return out
        cells = {role: np.nonzero(mask) for role, mask in sent.items()}
        can = self.collect_fees(
            np.concatenate([self.accounts[role][t, s] for role, (t, s) in cells.items()]),
            np.concatenate([t for t, _ in cells.values()]),
            amount,
        )
        out, a = {}, 0
        for role, (t, s) in cells.items():
            out[role] = np.zeros(sent[role].shape, dtype=bool)
            out[role][t, s] = can[a : a + t.size]
            a += t.size
        return out

    def collect_fees(
        self,
        payers: np.ndarray,
        topics: np.ndarray,
        amounts: int | Sequence[int] | np.ndarray | Uallo,
    ) -> np.ndarray:
        """:meth:`pay_fees` from accounts of any roles at once: ``payers`` are ledger accounts,
        each paying for its topic in ``topics``. Returns the mask of those who paid."""
        can = self.ledger.collect(payers, amounts, self.module["ecosystem"])
        if isinstance(amounts, int | np.integer):
            if amounts > 0 and can.any():
                per_topic = np.bincount(topics[can], minlength=len(self.revenue)).astype(object)
                per_topic *= int(amounts)
                self.revenue += per_topic
                self.fees_total += per_topic
            return can
        if isinstance(amounts, Uallo):
            paid = can & ((amounts.hi > 0) | (amounts.lo > 0))
            if not paid.any():
                return can
            amt = np.empty(int(paid.sum()), dtype=object)
            amt[:] = amounts[paid].ints()
        else:
            every = np.array(amounts, dtype=object)
            paid = can & (every > 0)
            if not paid.any():
                return can
            amt = every[paid]
        where = topics[paid]
        if where.size < 2 or bool((where[1:] > where[:-1]).all()):  # distinct topics
            self.revenue[where] += amt
            self.fees_total[where] += amt
        else:
            np.add.at(self.revenue, where, amt)
            np.add.at(self.fees_total, where, amt)
        return can

    # ---------------------------------------------------------------------------------------
    # rewards (§6.6)

    def payout(
        self,
        recipients: Sequence[tuple[str, np.ndarray, np.ndarray]] | np.ndarray,
        rewards: Sequence[int] | np.ndarray | Uallo,
    ) -> None:
        """Pay workers from the rewards account (truncated amounts), in one transfer:
        ``recipients`` are ``(role, topics, slots)`` in the order of ``rewards``, or already
        their ledger accounts."""
        if isinstance(recipients, np.ndarray):
            dst = recipients
        else:
            dst = np.concatenate([self.accounts[role][t, s] for role, t, s in recipients])
        self.ledger.pay_from(self.module["rewards"], dst, rewards)

    def restake(
        self, topics: np.ndarray, slots: np.ndarray, kept: Sequence[int] | np.ndarray | Uallo
    ) -> None:
        """A reputer's kept reward goes from the rewards account onto its stake: one transfer
        of their total to the staking account, and each reputer's stake grows by its own."""
        amounts = kept.ints() if isinstance(kept, Uallo) else [int(x) for x in kept]
        self.ledger.transfer(self.module["rewards"], self.module["staking"], sum(amounts))
        self.stake.add_own_many(topics, slots, amounts)

    def delegator_rewards(
        self,
        topics: np.ndarray,
        reputers: np.ndarray,
        cut: Sequence[int] | np.ndarray,
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
            led.pay_from(
                self.module["pending_delegators"], delegator_accounts[idx], list(paid[idx])
            )
        return paid

    # ---------------------------------------------------------------------------------------

    # ---------------------------------------------------------------------------------------
    # topics (§7.1–§7.3)

    def init_topics(self, params: Any, epoch_length: int) -> None:
        """Topic weights and activation state; topics are created inactive (§7.3)."""
        self.params = params
        self.epoch_length = epoch_length
        self.active = np.zeros(self.n_topics, dtype=bool)
        self.prev_weight = np.full(self.n_topics, np.nan)  # NaN: no previous weight stored
        self.weight_sum = 0.0  # the chain's total of previous weights of active topics
        self.weight = np.zeros(self.n_topics)

    def current_weight(self) -> np.ndarray:
        """``GetCurrentTopicWeight`` of every topic from its stake and current fee revenue."""
        mp = self.params.module
        return topics.topic_weight(
            self.stake.topic_stake(),
            self.revenue.astype(np.float64),
            self.epoch_length,
            self.prev_weight,
            mp.topic_reward_alpha,
            mp.topic_reward_stake_importance,
            mp.topic_reward_fee_revenue_importance,
        )

    def activate_if_heavy(self) -> np.ndarray:
        """After fee payments: inactive topics whose current weight reaches ``MinTopicWeight``
        are activated (``activateTopicIfWeightAtLeastGlobalMin``) within the places for
        ``MaxActiveTopicsPerBlock`` topics in each block of an epoch
        (:func:`~allora_sim.core.topics.activate_within_places`); the previous weights of the
        topics that lost their place leave the weight sum, those of the newly active rejoin it.
        Returns the topics activated."""
        if self.active.all():  # nothing to activate
            return np.zeros(self.n_topics, dtype=bool)
        mp = self.params.module
        w = self.current_weight()
        before = self.active.copy()
        after, _ = topics.activate_within_places(
            before, w, w >= mp.min_topic_weight, mp.max_active_topics_per_block * self.epoch_length
        )
        self._deactivate(before & ~after)
        newly = after & ~before
        for t in np.flatnonzero(newly).tolist():
            self.active[t] = True
            if np.isfinite(self.prev_weight[t]) and self.prev_weight[t] != 0:
                self.weight_sum += float(self.prev_weight[t])
        return newly

    def close_epoch(self) -> np.ndarray:
        """Epoch end of the active topics (``GetAndUpdateActiveTopicWeights``): weight from the
        revenue before the drip, stored as previous weight (updating the weight sum), drip,
        inactivation below ``MinTopicWeight``. Returns this epoch's weights (0 if inactive)."""
        mp = self.params.module
        w = np.where(self.active, self.current_weight(), 0.0)
        act = np.flatnonzero(self.active)
        old = self.prev_weight[act]
        self._add_to_weight_sum(w[act] - np.where(np.isfinite(old), old, 0.0))
        self.prev_weight[act] = w[act]
        self.revenue = np.where(
            self.active,
            topics.drip(self.revenue, mp.blocks_per_month, self.epoch_length),
            self.revenue,
        )
        self._deactivate(self.active & (w < mp.min_topic_weight))
        # at most MaxActiveTopicsPerBlock topics end an epoch in any block: per model epoch
        # that is MaxActiveTopicsPerBlock × EpochLength; the lightest beyond lose their place
        room = mp.max_active_topics_per_block * self.epoch_length
        keep = topics.skim_top_topics(w, self.active, room)
        self._deactivate(self.active & ~keep)
        self.weight = np.where(self.active, w, 0.0)
        return self.weight

    def _add_to_weight_sum(self, changes: np.ndarray) -> None:
        """Add ``changes`` to the weight sum one after another, in topic order, as the chain's
        loop does (the same rounding)."""
        total = self.weight_sum
        for change in changes.tolist():
            total += change
        self.weight_sum = float(total)

    def _deactivate(self, topics_off: np.ndarray) -> None:
        """Inactivate the topics of the mask; their previous weights (if stored) leave the weight
        sum."""
        off = np.flatnonzero(topics_off)
        if off.size == 0:
            return
        self.active[off] = False
        prev = self.prev_weight[off]
        self._add_to_weight_sum(-np.where(np.isnan(prev), 0.0, prev))

    # ---------------------------------------------------------------------------------------
    # emission (§9.1)

    def init_emission(
        self, blocks_per_month: int, validators_percent: float, cosmos_stake: int
    ) -> None:
        """State of x/mint: the stored emission per staked token, block emission and f_rep."""
        self.blocks_per_month = blocks_per_month
        self.validators_percent = validators_percent
        self.cosmos_stake = cosmos_stake  # bonded tokens of cosmos validators (uallo)
        self.emission_per_token: float | None = None
        self.block_emission = 0
        self.reputers_percent = self.mint.previous_percentage_reward_to_staked_reputers
        self.minted_last = 0
        self.emitted_last = 0
        self.validators_last = 0

    def network_staked(self) -> int:
        """``GetNumStakedTokens``: cosmos validators' bonded stake + all reputer stake."""
        return self.cosmos_stake + self.stake.total()

    def _recalculate(self, height: int) -> None:
        """``RecalculateTargetEmission`` at the first block of a month; vesting unlocks."""
        led, mint = self.ledger, self.mint
        lock = emission.locked_vesting(self.blocks_per_month, height, mint)
        for group, now in (
            ("investors_preseed", lock.investors_preseed),
            ("investors", lock.investors),
            ("team", lock.team),
        ):
            release = led.locked.get(group, 0) - now
            if release > 0:
                led.unlock(group, self.alloc[group], release)
        eco_locked = led.balance(self.module["ecosystem"]) + led.unminted
        circulating = emission.circulating_supply(
            mint.max_supply,
            sum(led.locked.values()),
            led.balance(self.module["ecosystem"]),
            led.unminted,
        )
        staked = self.network_staked()
        target = emission.target_emission_per_staked_token(
            mint.f_emission, eco_locked, staked, circulating, mint.max_supply
        )
        cap = emission.max_emission_per_staked_token(
            mint.maximum_monthly_percentage_yield, self.reputers_percent, self.validators_percent
        )
        capped = emission.capped_target(target, cap)
        prev = None if height < self.blocks_per_month else self.emission_per_token
        self.emission_per_token = emission.smoothed_emission(
            capped, mint.one_month_smoothing_degree, prev
        )
        monthly = emission.monthly_emission(self.emission_per_token, staked)
        self.block_emission = monthly // self.blocks_per_month

    def emit(self, first_block: int, n_blocks: int) -> int:
        """The mint's ``BeginBlocker`` for ``n_blocks`` blocks from ``first_block``: recalculate
        at month starts, mint the ecosystem account's shortfall, pay validators and the Allora
        rewards account. Returns the last block's ``RewardCurrentBlockEmission`` (uallo)."""
        led = self.ledger
        eco, rewards, fees = (self.module[k] for k in ("ecosystem", "rewards", "fee_collector"))
        reward_per_block = 0
        self.minted_last = self.emitted_last = self.validators_last = 0
        for h in range(first_block, first_block + n_blocks):
            if h % self.blocks_per_month == 1 or (self.emission_per_token is None):
                self._recalculate(h)
            split = emission.block_split(
                self.block_emission, led.balance(eco), led.unminted, self.validators_percent
            )
            if split.minted:
                led.mint(eco, split.minted)
            pay = min(self.block_emission, led.balance(eco))
            validators = min(split.validators, pay)
            led.transfer(eco, fees, validators)
            led.transfer(eco, rewards, pay - validators)
            reward_per_block = pay - validators
            self.minted_last += split.minted
            self.emitted_last += pay
            self.validators_last += validators
        return reward_per_block

    def fund_fixed(self, amount: int) -> None:
        """Fixed-reward mode: move ``amount`` from the treasury to the rewards account, minting
        any shortfall within the allowance (as the mint does)."""
        led = self.ledger
        eco = self.module["ecosystem"]
        minted = min(max(amount - led.balance(eco), 0), led.unminted)
        if minted:
            led.mint(eco, minted)
        pay = min(amount, led.balance(eco))
        led.transfer(eco, self.module["rewards"], pay)
        self.minted_last, self.emitted_last = minted, pay
        self.validators_last = 0

    def role_balances(self, roles: Sequence[str]) -> list[int]:
        """Total balance of each role's agents (uallo ints)."""
        return self.ledger.range_totals([self.account_range[r] for r in roles])

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
