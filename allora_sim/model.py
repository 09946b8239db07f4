"""``AlloraModel``: the Mesa model of one or more topics advancing in discrete epochs.

Each :meth:`AlloraModel.step` is one epoch of every topic, in the chain's order:

1. the world's target of the epoch and its context (regime) are drawn (the whole path is
   simulated at construction from the world's own generator, so results do not depend on how
   the model is stepped);
2. every registered worker's behaviour submits (inferences, forecasts) and consumers pay; the
   chain's merit sortition admits at most ``MaxTopInferersToReward`` inferers and
   ``MaxTopForecastersToReward`` forecasters per topic (:mod:`allora_sim.active_sets`), and
   forecast elements are limited to the top ``MaxElementsPerForecast`` inferers by score EMA;
3. at the epoch's end, the epoch whose reputer nonce is due closes — ``GroundTruthLag +
   EpochLength`` blocks after its worker nonce, i.e. ``lag`` epochs back, as the chain's
   ``UpdateReputerNonce`` does: its reputers report the losses of its network inferences (at
   most ``MaxTopReputersToReward`` admitted), the topics' epoch end sets weights and rewards,
   and :func:`allora_sim.core.run_topic_epoch` closes it: network losses, regrets, scores,
   rewards; payouts are booked (workers' balances; reputers' kept reward is re-staked, as on
   chain) and the epoch is recorded;
4. then the ground truth of the epoch ``lag − 1`` back is revealed: its network inferences are
   synthesised from the state stored so far — the regrets of the epochs up to the one before
   it (:func:`allora_sim.core.synthesize`, the query its reputers make) — and the participants
   see its losses from the next epoch on.

All topics go through the core together (batch axis = topics); the core sees only the active
participants, in ascending order of their registration slot (the chain's address order), and the
topic's stored state for everyone else is kept in a store (:mod:`allora_sim.core.store`).
Results are available at any time as DataFrames (:meth:`epochs_frame`, :meth:`agents_frame`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import mesa
import numpy as np
import pandas as pd

from allora_sim.active_sets import ActiveSets
from allora_sim.agents import Consumer, Delegator, Forecaster, Inferer, Participant, Reputer
from allora_sim.agents.behaviours import (
    Behaviour,
    DelegatorBehaviour,
    EpochContext,
    Revealed,
    build_behaviour,
)
from allora_sim.config import ConfigError, Scenario
from allora_sim.core import EpochInputs, TopicState, ValueBundle, run_topic_epoch, synthesize
from allora_sim.core import topics as core_topics
from allora_sim.core.maths import nan_to_zero, same
from allora_sim.core.rewards import payouts_uallo_amounts, take_back
from allora_sim.core.sortition import limit_forecast_grid
from allora_sim.core.store import gather, scatter
from allora_sim.core.uallo import Uallo
from allora_sim.economy.ledger import LedgerError
from allora_sim.economy.network import Economy, uallo, uallo_limbs
from allora_sim.recorder import Recorder
from allora_sim.slots import compact, in_slot_order, is_all_slots, spread, take, take_forecasts
from allora_sim.world import WorldPaths, simulate_world

__all__ = ["UALLO_PER_ALLO", "AlloraModel", "compact"]

UALLO_PER_ALLO = 1e18
ROLES = ("inferers", "forecasters", "reputers", "consumers", "delegators")
_ROLE_AGENT = {
    "inferers": Inferer,
    "forecasters": Forecaster,
    "reputers": Reputer,
    "consumers": Consumer,
    "delegators": Delegator,
}


@dataclass
class _Pending:
    """An epoch whose reputer nonce is not yet closed. ``network`` (the network inferences)
    and ``exact`` (their exact losses) are set when its ground truth is revealed."""

    epoch: int
    nonce: int
    inferer_ids: np.ndarray
    forecaster_ids: np.ndarray
    inference: np.ndarray
    forecast: np.ndarray
    fees: np.ndarray  # consumers' fees paid in the epoch (ALLO per topic)
    network: Any = None
    exact: ValueBundle | None = None


def _payouts_by_kind(
    paid: np.ndarray, ids: np.ndarray, amounts: Uallo, widths: list[int]
) -> list[tuple[np.ndarray, np.ndarray, Uallo]]:
    """Split the payouts of the paid topics' rows ``ids``/``amounts`` — column blocks of the
    given ``widths``, one per kind — into ``(topics, slots, amounts)`` per kind, topic-then-slot
    order, skipping slots without a participant (id −1)."""
    valid = ids >= 0
    everyone = bool(valid.all())
    out = []
    a = 0
    for w in widths:
        block, pay = ids[:, a : a + w], amounts[:, a : a + w]
        if everyone:  # each row's slots in order: no search for the valid ones
            out.append((np.repeat(paid, w), block.ravel(), Uallo(pay.hi.ravel(), pay.lo.ravel())))
        else:
            r, c = np.nonzero(valid[:, a : a + w])
            out.append((paid[r], block[r, c], pay[r, c]))
        a += w
    return out


class AlloraModel(mesa.Model):
    """Topics, participants and epochs of the Allora network.

    Args:
        scenario: a validated :class:`~allora_sim.config.Scenario`.
        rng: the root seed (defaults to ``scenario.seed``); child generators for the world, every
            behaviour group and the arrival order of submissions are spawned from it with
            ``numpy.random.SeedSequence``.
    """

    def __init__(self, scenario: Scenario, rng: int | None = None) -> None:
        seed = scenario.seed if rng is None else int(rng)
        super().__init__(rng=seed)
        self.scenario = scenario
        self.seed = seed
        self.params = scenario.mechanism
        self.epoch = 0
        self.n_topics = scenario.n_topics
        world_seq, behaviour_seq, arrival_seq = np.random.SeedSequence(seed).spawn(3)
        self.world: WorldPaths = simulate_world(
            scenario.world, scenario.n_topics, scenario.epochs, np.random.default_rng(world_seq)
        )
        self.lag = scenario.lag_epochs
        self.epoch_length = scenario.world.epoch_length
        self._build_population(behaviour_seq)
        # one group of every slot of a role in topic and slot order: its rows are the grid
        self._in_grid = {
            role: len(self.groups[role]) == 1
            and in_slot_order(self.groups[role][0], self.n_topics, size)
            for role, size in zip(ROLES[:3], self.sizes[:3], strict=True)
        }
        mp = self.params.module
        n, k, m = self.sizes[:3]
        self.sets = ActiveSets(
            self.n_topics,
            {"inferers": n, "forecasters": k, "reputers": m},
            {
                "inferers": mp.max_top_inferers_to_reward,
                "forecasters": mp.max_top_forecasters_to_reward,
                "reputers": mp.max_top_reputers_to_reward,
            },
            self.params.topic.merit_sortition_alpha,
            np.random.default_rng(arrival_seq),
        )
        empty = np.zeros((self.n_topics, 0), dtype=np.int64)
        self.store = TopicState.new(empty, empty, empty, window=mp.max_samples_to_scale_scores)
        self.topic_reward = np.zeros(self.n_topics)  # E_t distributed in the last step (uallo)
        self.topic_offer = np.zeros(self.n_topics)  # E_t of every active topic, paid or not
        self.reward_pool = 0.0  # the rewards account's balance distributed at the last epoch
        self.fees_paid = np.zeros(self.n_topics)
        self._genesis()
        self._pending: list[_Pending] = []
        self._revealed: Revealed | None = None
        self.recorder = Recorder(self)

    # -----------------------------------------------------------------------------------------
    # construction

    def _build_population(self, seq: np.random.SeedSequence) -> None:
        sc = self.scenario
        self.groups: dict[str, list[Behaviour]] = {r: [] for r in ROLES}
        role_groups = dict(
            zip(
                ROLES,
                (sc.inferers, sc.forecasters, sc.reputers, sc.consumers, sc.delegators),
                strict=True,
            )
        )
        children = iter(seq.spawn(sum(len(g) for g in role_groups.values())))
        sizes = []
        for role, groups in role_groups.items():
            slot = 0
            for g in groups:
                slots = np.arange(slot, slot + g.count)
                topics = np.repeat(np.arange(self.n_topics), g.count)
                members = np.tile(slots, self.n_topics)
                rng = np.random.default_rng(next(children))
                beh = build_behaviour(role, g.behaviour, g.params, topics, members, rng)
                beh.group_name = g.name  # type: ignore[attr-defined]
                self.groups[role].append(beh)
                agent_cls = _ROLE_AGENT[role]
                for t, s in zip(topics.tolist(), members.tolist(), strict=True):
                    agent_cls(self, t, s, g.name, g.behaviour)
                slot += g.count
            sizes.append(slot)
        self.sizes = tuple(sizes)

    def _genesis(self) -> None:
        """Ledger genesis and the participants' starting tokens, registration and topic fees."""
        sc, mp = self.scenario, self.params.module
        eco_cfg = sc.economy
        m, d = self.sizes[2], self.sizes[4]
        # the stake book indexes delegators by their flat (topic, slot) account position
        delegator_topics = np.repeat(np.arange(self.n_topics), d)
        self.economy = Economy(
            self.scenario.mint,
            self.n_topics,
            dict(zip(ROLES, self.sizes, strict=True)),
            delegator_topics,
        )
        eco = self.economy
        available = eco.ledger.balance(eco.alloc["participants"]) / UALLO_PER_ALLO
        try:
            for role in ("inferers", "forecasters"):
                for g in self.groups[role]:
                    eco.fund(role, g.topics, g.slots, np.full(g.size, eco_cfg.worker_balance))
            for g in self.groups["reputers"]:
                stake = g.stake  # type: ignore[attr-defined]
                eco.fund("reputers", g.topics, g.slots, stake + eco_cfg.worker_balance)
                eco.stake_own(g.topics, g.slots, stake)
            for g in self.groups["consumers"]:
                budget = np.full(g.size, eco_cfg.consumer_budget)
                eco.fund("consumers", g.topics, g.slots, budget)
            for g in self.groups["delegators"]:
                eco.fund("delegators", g.topics, g.slots, g.amount)  # type: ignore[attr-defined]
        except LedgerError:
            raise ConfigError(
                f"the participants' starting tokens exceed their genesis allocation "
                f"({available:,.0f} ALLO for {self.n_topics} topic(s)): lower "
                f"economy.consumer_budget ({eco_cfg.consumer_budget:g} ALLO per consumer), "
                "economy.worker_balance, the reputers' or delegators' amounts, or n_topics"
            ) from None
        # topic creation (paid from the participants' allocation) and worker/reputer
        # registration fees count as topic revenue (§7.2)
        create = np.full(self.n_topics, mp.create_topic_fee, dtype=object)
        part = eco.alloc["participants"]
        eco.ledger.transfer_many(
            np.full(self.n_topics, part),
            np.full(self.n_topics, eco.module["ecosystem"]),
            list(create),
        )
        eco.revenue += create
        for role in ("inferers", "forecasters", "reputers"):
            for g in self.groups[role]:
                eco.pay_fees(role, g.topics, g.slots, mp.registration_fee)
        self.delegation_yield = np.zeros((self.n_topics, m))
        self.reward_ewma = np.full(self.n_topics, np.inf)  # optimistic until rewards flow
        eco.init_topics(self.params, self.epoch_length)
        eco.init_emission(
            mp.blocks_per_month,
            mp.validators_vs_allora_percent_reward,
            uallo(eco_cfg.cosmos_validator_stake)[0],
        )
        eco.activate_if_heavy()  # registration fees count as revenue (§7.2)
        eco.check()

    # -----------------------------------------------------------------------------------------
    # accessors used by agents

    @property
    def stake(self) -> np.ndarray:
        """Stake reputer authority (own + delegated) per topic and reputer slot (uallo)."""
        return self.economy.stake.authority()

    def balance_of(self, agent: Participant) -> float:
        acct = self.economy.accounts[agent.role + "s"][agent.topic, agent.slot]
        return self.economy.ledger.balance(int(acct)) / UALLO_PER_ALLO

    def balances(self, role: str) -> np.ndarray:
        """Token balances of a role's agents ``(T, R)`` (ALLO, float)."""
        eco = self.economy
        a, b = eco.account_range[role]  # the role's accounts, in (topic, slot) order
        return eco.ledger.allo(slice(a, b)).reshape(eco.accounts[role].shape)

    def stake_of(self, agent: Reputer) -> float:
        return float(self.stake[agent.topic, agent.slot]) / UALLO_PER_ALLO

    def nonce(self, epoch: int) -> int:
        """Block height at which the worker nonce of ``epoch`` opens."""
        return (epoch + 1) * self.epoch_length

    # -----------------------------------------------------------------------------------------
    # the epoch

    def step(self) -> None:
        """Advance every topic by one epoch."""
        if self.epoch >= self.world.truth.shape[1]:
            raise RuntimeError(
                f"the world path has {self.world.truth.shape[1]} epochs; build the model with a "
                "larger scenario.epochs to step further"
            )
        e = self.epoch
        n = self.sizes[0]
        ctx = EpochContext(
            epoch=e,
            truth=self.world.truth[:, e],
            context=self.world.context[:, e],
            n_contexts=self.world.n_contexts,
            scale=self.world.scale,
            n_inferers=n,
            revealed=self._revealed,
            loss=self.world.loss,
        )
        # the model's own arrays (edited in place below)
        inference = self._grid("inferers", (), lambda g: g.infer(ctx))
        forecast = self._grid("forecasters", (n,), lambda g: g.forecast(ctx))
        self._move_delegations(ctx)
        self.fees_paid = np.zeros(self.n_topics)
        for g in self.groups["consumers"]:
            amounts = g.pay(ctx)  # type: ignore[attr-defined]
            ok = self.economy.pay_fees("consumers", g.topics, g.slots, uallo_limbs(amounts))
            np.add.at(self.fees_paid, g.topics, np.where(ok, amounts, 0.0))
        self.economy.activate_if_heavy()
        # only active topics open a worker nonce (§7.3); participants skip topics whose recent
        # reward is below what they require
        closed = ~self.economy.active | (self.reward_ewma < self.scenario.economy.min_topic_reward)
        inference[closed] = np.nan
        forecast[closed] = np.nan
        inference, forecast = self._data_fees(inference, forecast)

        nonce = self.nonce(e)
        forecast = limit_forecast_grid(
            forecast, self.sets.ema("inferers"), self.params.module.max_elements_per_forecast
        )
        st = self.store
        inf_active = self.sets.admit(
            "inferers", np.isfinite(inference), st.inferer_score_quantile, nonce
        )
        fc_active = self.sets.admit(
            "forecasters",
            np.asarray(np.isfinite(forecast).any(axis=2)),
            st.forecaster_score_quantile,
            nonce,
        )
        inf_ids, fc_ids = compact(inf_active), compact(fc_active)
        inf_c = take(inference, inf_ids)
        fc_c = take_forecasts(forecast, fc_ids, inf_ids)
        self._pending.append(_Pending(e, nonce, inf_ids, fc_ids, inf_c, fc_c, self.fees_paid))
        self._epoch_end(e, ctx)
        self.recorder.record_economy(e, self.fees_paid)
        self.epoch += 1

    def _grid(self, role: str, shape: tuple[int, ...], submit: Any, own: bool = True) -> np.ndarray:
        """Every group's ``submit(group)`` (one row per member) on the ``(T, slots, *shape)``
        grid of the role's registered slots, NaN where nobody submitted. A single group covering
        every slot in order is the grid already (its rows reshaped): copied when the model needs
        an array of its own (``own``, to edit), else possibly the behaviour's array (read only)."""
        groups = self.groups[role]
        full = (self.n_topics, self.sizes[ROLES.index(role)], *shape)
        if self._in_grid[role]:
            rows = submit(groups[0])
            return (np.array(rows, dtype=np.float64) if own else np.asarray(rows)).reshape(full)
        out = np.full(full, np.nan)
        for g in groups:
            out[g.topics, g.slots] = submit(g)
        return out

    def _epoch_end(self, e: int, ctx: EpochContext) -> None:
        """The end of epoch ``e`` (block n_{e+1}): the reputer nonce whose window has passed
        closes — GroundTruthLag + EpochLength after its worker nonce, i.e. that of epoch
        ``e − lag`` — with the topics' epoch end (weights, emission, rewards); then the ground
        truth of epoch ``e − lag + 1`` is revealed and its reputers query the network
        inferences."""
        to_reputers = 0.0
        if self._pending[0].epoch <= e - self.lag:
            to_reputers = self._settle(self._pending.pop(0), ctx)
        else:
            self._topic_rewards(e, closing=np.zeros(self.n_topics, dtype=bool))
        self._refresh_reputer_share(to_reputers, e)
        # participants judge a topic by what it offers (its share of the emission), paid or not
        seen = np.isfinite(self.reward_ewma)
        offered = self.topic_offer / UALLO_PER_ALLO
        self.reward_ewma = np.where(
            seen,
            0.1 * offered + 0.9 * self.reward_ewma,
            np.where(offered > 0, offered, np.inf),
        )
        self._revealed = None
        for pend in self._pending:
            if pend.network is None and pend.epoch <= e - self.lag + 1:
                self._reveal(pend)

    def _synthesize(self, part: TopicState, inference: np.ndarray, forecast: np.ndarray) -> Any:
        mp, tp = self.params.module, self.params.topic
        present = part.inferer_ids >= 0
        element = (
            (part.forecaster_ids >= 0)[:, :, None] & present[:, None, :] & np.isfinite(forecast)
        )
        return synthesize(
            inference,
            present,
            forecast,
            element,
            part.regrets,
            part.initial_regret,
            part.network_loss,
            tp.epsilon,
            tp.p_norm,
            mp.c_norm,
            mp.epsilon_safe_div,
        )

    def _reveal(self, pend: _Pending) -> None:
        """The ground truth of ``pend``'s epoch is revealed: the network inferences reputers
        query now (synthesised from the regrets of the epochs closed so far — up to the previous
        epoch, as on chain) and their exact losses; the participants see the revealed losses
        from the next epoch on."""
        s = pend.epoch
        # synthesis reads no reputer state: keep the store's reputers as they are
        part, self.store = gather(
            self.store, pend.inferer_ids, pend.forecaster_ids, self.store.reputer_ids
        )
        pend.network = self._synthesize(part, pend.inference, pend.forecast)
        truth = self.world.truth[:, s]
        # every entry's exact loss at once, on the flat bundle (the loss is elementwise)
        values = pend.network.values.flat()
        # absent entries are NaN, and every loss keeps NaN (network values are never ±inf)
        exact_flat = self.world.loss(values, truth[:, None])
        n_a, k_a = pend.inferer_ids.shape[1], pend.forecaster_ids.shape[1]
        pend.exact = exact = ValueBundle.from_flat(exact_flat, n_a, k_a)
        self._revealed = Revealed(
            epoch=s,
            truth=truth,
            context=self.world.context[:, s],
            inference=spread(pend.inference, pend.inferer_ids, self.sizes[0]),
            inferer_loss=spread(exact.inferer, pend.inferer_ids, self.sizes[0]),
            network_loss=exact.combined,
        )

    def _settle(self, pend: _Pending, ctx: EpochContext) -> float:
        """Close an epoch's reputer nonce at the current epoch's end: reports, the topics' epoch
        end and rewards, core, payouts, records. Returns the reputers' total reward (uallo)."""
        s = pend.epoch
        truth = self.world.truth[:, s]
        m = self.sizes[2]
        n_a, k_a = pend.inferer_ids.shape[1], pend.forecaster_ids.shape[1]
        exact_losses = pend.exact
        assert exact_losses is not None  # revealed an epoch earlier (lag ≥ 1)
        entries = 2 + 2 * n_a + k_a * (n_a + 3)
        reports = self._grid(
            "reputers", (entries,), lambda g: g.report(ctx, exact_losses).flat(), own=False
        )
        # reputer payloads below the minimum stake are rejected before admission; each payload
        # pays the data-sending fee
        eligible = self.stake >= self.params.module.required_minimum_stake
        # nothing to report for a topic without inferences (no reputer nonce opened)
        has_inferences = np.asarray((pend.inferer_ids >= 0).any(axis=1))
        eligible &= has_inferences[:, None]
        eligible = self.economy.pay_fees_where(
            {"reputers": eligible}, self.params.module.data_sending_fee
        )["reputers"]
        rep_active = self.sets.admit(
            "reputers", eligible, self.store.reputer_score_quantile, pend.nonce
        )
        rep_ids = compact(rep_active)
        self._topic_rewards(ctx.epoch, closing=has_inferences)
        # a topic inactivated at this epoch end is neither rewarded nor scored: the chain closes
        # no reputer nonce for it (GetAndUpdateActiveTopicWeights skips it), so no reports count
        if not self.economy.active.all():
            reports = np.where(self.economy.active[:, None, None], reports, np.nan)

        if not is_all_slots(rep_ids, m):
            got = np.take_along_axis(reports, np.maximum(rep_ids, 0)[:, :, None], axis=1)
            reports = np.where((rep_ids >= 0)[:, :, None], got, np.nan)
        rep_reports = ValueBundle.from_flat(reports, n_a, k_a)
        stake_c = take(self.stake, rep_ids, fill=0.0)
        delegated_c = take(self.economy.stake.delegated_stake(), rep_ids, fill=0.0)
        part, self.store = gather(self.store, pend.inferer_ids, pend.forecaster_ids, rep_ids)
        part = self._with_registry_emas(part, pend.inferer_ids, pend.forecaster_ids, rep_ids)
        inputs = EpochInputs(
            inferer_ids=pend.inferer_ids,
            inference=pend.inference,
            forecaster_ids=pend.forecaster_ids,
            forecast=pend.forecast,
            reputer_ids=rep_ids,
            stake=stake_c,
            delegated_stake=delegated_c,
            reputer_losses=rep_reports,
            topic_reward=self.topic_reward,
        )
        outcome, part = run_topic_epoch(inputs, part, self.params, pend.network)
        self.store = scatter(self.store, part)
        self._write_emas(outcome, pend, rep_ids)
        self._book(outcome, pend, rep_ids)
        self.recorder.record(
            s,
            truth,
            self.world.context[:, s],
            pend,
            outcome,
            exact_losses,
            rep_reports,
            rep_ids,
            pend.fees,
        )
        return float(nan_to_zero(outcome.reputers_reward).sum())

    def _with_registry_emas(
        self, part: TopicState, inf_ids: np.ndarray, fc_ids: np.ndarray, rep_ids: np.ndarray
    ) -> TopicState:
        """The admission EMAs (with passive updates) are the stored EMAs the core reads
        (``part`` is aligned to the ids given)."""
        return replace(
            part,
            inferer_score_ema=take(self.sets.ema("inferers"), inf_ids),
            forecaster_score_ema=take(self.sets.ema("forecasters"), fc_ids),
            reputer_score_ema=take(self.sets.ema("reputers"), rep_ids),
        )

    def _write_emas(self, outcome: Any, pend: _Pending, rep_ids: np.ndarray) -> None:
        st = self.store
        for cls, ids, score, ema_ids, ema in (
            (
                "inferers",
                pend.inferer_ids,
                outcome.inferer_score,
                st.inferer_ids,
                st.inferer_score_ema,
            ),
            (
                "forecasters",
                pend.forecaster_ids,
                outcome.forecaster_score,
                st.forecaster_ids,
                st.forecaster_score_ema,
            ),
            ("reputers", rep_ids, outcome.reputer_score, st.reputer_ids, st.reputer_score_ema),
        ):
            if is_all_slots(ids, self.sets.score[cls].shape[1]) and is_all_slots(
                ema_ids, ids.shape[1]
            ):  # every registered slot active, the store aligned to them: whole-array writes
                self.sets.write_where(cls, np.isfinite(score), ema, pend.nonce)
                continue
            t, i = np.nonzero((ids >= 0) & np.isfinite(score))
            if t.size == 0:
                continue
            slots = ids[t, i]
            # the store is aligned to the ever-active ids: find each slot's column (the same
            # column when the store holds exactly this epoch's participants)
            if same(ema_ids, ids):
                col = i
            else:
                col = np.argmax(ema_ids[t] == slots[:, None], axis=1)
            self.sets.write(cls, t, slots, ema[t, col], pend.nonce)

    def _book(self, outcome: Any, pend: _Pending, rep_ids: np.ndarray) -> None:
        """Pay the epoch's rewards through the ledger (§6.6): workers get their truncated
        rewards; a reputer's kept part is re-staked and its delegators' cut goes to them.
        All topics are booked together: one ledger transfer per kind of payment."""
        eco = self.economy
        paid = np.flatnonzero(outcome.reward_error == 0)
        if paid.size == 0:
            return
        parts = [
            ("inferers", pend.inferer_ids, outcome.inferer_reward),
            ("forecasters", pend.forecaster_ids, outcome.forecaster_reward),
            ("reputers", rep_ids, outcome.reputer_reward_kept),
            ("delegation", rep_ids, outcome.delegator_reward),
        ]
        ids = np.concatenate([i[paid] for _, i, _ in parts], axis=1)
        values = np.concatenate([v[paid] for _, _, v in parts], axis=1)
        # E_t is a float image of the chain's decimal: at large pools it can round above the
        # rewards account's balance, so the topics' integer rewards are capped at that balance
        # (any excess taken from the largest, as payouts_uallo does within a topic)
        available = [int(x) for x in self.topic_reward[paid].tolist()]
        pool = eco.ledger.balance(eco.module["rewards"])
        take_back(available, sum(available) - pool, self.topic_reward[paid])
        amounts = payouts_uallo_amounts(np.where(ids >= 0, values, np.nan), available)
        # every payout at once, then split by kind (each kind keeps topic-then-slot order)
        widths = [i.shape[1] for _, i, _ in parts]
        inf, fc, rep, dlg = _payouts_by_kind(paid, ids, amounts, widths)
        n, k = self.sizes[0], self.sizes[1]
        every_worker = (
            paid.size == self.n_topics
            and is_all_slots(pend.inferer_ids, n)
            and is_all_slots(pend.forecaster_ids, k)
        )
        eco.payout(
            # every worker of every topic paid: their accounts in this order are known
            eco.every_agent(("inferers", "forecasters"))[0]
            if every_worker
            else [("inferers", inf[0], inf[1]), ("forecasters", fc[0], fc[1])],
            Uallo(np.concatenate([inf[2].hi, fc[2].hi]), np.concatenate([inf[2].lo, fc[2].lo])),
        )
        eco.restake(*rep)
        topics, slots = dlg[0], dlg[1]
        cut = dlg[2].ints()
        if not any(cut) and not self.delegation_yield[topics, slots].any():
            return  # nothing delegated earns, and every yield is already 0
        eco.delegator_rewards(topics, slots, cut, eco.accounts["delegators"].ravel())
        staked = eco.stake.delegated[topics, slots].astype(np.float64)
        y = np.divide(
            np.array(cut, dtype=np.float64), staked, out=np.zeros(len(cut)), where=staked > 0
        )
        self.delegation_yield[topics, slots] = 0.9 * self.delegation_yield[topics, slots] + 0.1 * y

    def _refresh_reputer_share(self, to_reputers: float, epoch: int) -> None:
        """``PreviousPercentageRewardToStakedReputers`` (§9.1), what the mint's cap ê_max reads:
        the chain sets it at a block whose height is a multiple of ``BlocksPerMonth`` to the
        reputers' total reward of that block ÷ the rewards account's balance distributed in it.
        A model epoch stands for ``epoch_length`` blocks and pays its rewards once, so it sets
        the share when a multiple of ``BlocksPerMonth`` falls within its blocks."""
        eco = self.economy
        # EmitRewards returns early without a rewardable (active) topic or an empty treasury;
        # otherwise it sets the share, 0 when no topic's reputer nonce closed
        if (
            self.scenario.economy.emission.value != "chain"
            or self.reward_pool <= 0
            or not eco.active.any()
        ):
            return
        first = epoch * self.epoch_length + 1
        last = first + self.epoch_length - 1
        if last // eco.blocks_per_month == (first - 1) // eco.blocks_per_month:
            return
        eco.reputers_percent = to_reputers / self.reward_pool

    def _topic_rewards(self, epoch: int, closing: np.ndarray) -> None:
        """The epoch end of the active topics and their rewards (§6.1, §7.1–§7.2): weights,
        drip, inactivation, then this epoch's emission funds the rewards account and is split by
        weight (``emission=chain``), or every rewarded topic gets ``topic_reward``
        (``emission=fixed``). Only topics with a reputer nonce closing now (``closing``: the
        closed epoch had inferences) are rewarded; EmitRewards skips the others, and their
        share stays in the rewards account. Sets E_t per topic (uallo, float): ``topic_reward``
        (0 when not rewarded), and ``topic_offer`` — every active topic's, rewarded or not."""
        eco = self.economy
        weights = eco.close_epoch()
        offering = eco.active & (weights > 0)
        rewarded = offering & closing
        if self.scenario.economy.emission.value == "chain":
            per_block = eco.emit(epoch * self.epoch_length + 1, self.epoch_length)
            self.reward_pool = float(eco.ledger.balance(eco.module["rewards"]))

            # CalcTopicRewards over every rewardable topic, rewarded now or not
            offer = np.zeros(self.n_topics)
            if offering.any() and eco.weight_sum > 0:
                offer[offering] = core_topics.topic_rewards(
                    weights[offering],
                    eco.weight_sum,
                    float(per_block),
                    self.epoch_length,
                    self.reward_pool,
                )
            self.topic_offer = np.floor(offer)
            self.topic_reward = np.where(rewarded, self.topic_offer, 0.0)
            return
        amount = self.scenario.topic_reward * UALLO_PER_ALLO
        self.topic_offer = np.floor(np.where(offering, amount, 0.0))
        self.topic_reward = np.where(rewarded, self.topic_offer, 0.0)  # E_t in uallo
        eco.fund_fixed(sum(int(x) for x in self.topic_reward[rewarded].tolist()))

    def _data_fees(
        self, inference: np.ndarray, forecast: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each worker payload pays ``DataSendingFee`` (§7.2); unpaid payloads are not sent
        (set to NaN in the arrays given, which are the model's own)."""
        sent_i, sent_k = np.isfinite(inference), np.isfinite(forecast).any(axis=2)
        paid = self.economy.pay_fees_where(
            {"inferers": sent_i, "forecasters": sent_k}, self.params.module.data_sending_fee
        )
        if not (paid["inferers"].all() and paid["forecasters"].all()):
            # unpaid payloads are not sent (the arrays are the model's own)
            inference[sent_i & ~paid["inferers"]] = np.nan
            forecast[sent_k & ~paid["forecasters"]] = np.nan
        return inference, forecast

    def _move_delegations(self, ctx: EpochContext) -> None:
        """Completed stake removals return; delegators (re)choose whom to back (§7, stake)."""
        eco = self.economy
        book = eco.stake
        for p in book.complete_removals(self.epoch):
            eco.ledger.transfer(
                eco.module["staking"],
                int(eco.accounts["delegators"].ravel()[p.delegator]),
                p.amount,
            )
        if not self.groups["delegators"]:
            return
        eligible = self.stake >= self.params.module.required_minimum_stake
        window = self.params.module.remove_stake_delay_window
        delay = max(1, -(-window // self.epoch_length))
        accounts = eco.accounts["delegators"].ravel()
        width = self.sizes[4]
        for g in self.groups["delegators"]:
            assert isinstance(g, DelegatorBehaviour)
            flat = g.topics * width + g.slots  # the stake book's delegator index
            want = g.choose(ctx, self.delegation_yield, book.target[flat], eligible)
            for d, w in zip(flat.tolist(), want.tolist(), strict=True):
                cur = int(book.target[d])
                if w < 0 or w == cur or book.removing(d):
                    continue
                if cur < 0:
                    amount = eco.ledger.balance(int(accounts[d]))
                    if amount > 0:
                        eco.ledger.transfer(int(accounts[d]), eco.module["staking"], amount)
                        book.delegate(d, w, amount)
                else:
                    book.request_removal(d, self.epoch + delay)

    # -----------------------------------------------------------------------------------------
    # results

    def run(self, epochs: int | None = None, progress: Any = None) -> None:
        """Step ``epochs`` times (default: the scenario's remaining epochs)."""
        todo = self.scenario.epochs - self.epoch if epochs is None else epochs
        for _ in range(todo):
            self.step()
            if progress is not None:
                progress(self.epoch)

    def epochs_frame(self) -> pd.DataFrame:
        """One row per topic and settled epoch (see :class:`~allora_sim.recorder.Recorder`)."""
        return self.recorder.epochs_frame()

    def agents_frame(self) -> pd.DataFrame:
        """One row per registered inferer, forecaster and reputer and closed epoch."""
        return self.recorder.agents_frame()

    def economy_frame(self) -> pd.DataFrame:
        """One row per topic and settled epoch: supply, stake, fees, weights, rewards."""
        return self.recorder.economy_frame()

    def summary(self) -> dict[str, Any]:
        """The run summary of the epochs settled so far (the numbers ``allora-sim`` prints
        besides epochs and wall time): network, naive, best and median single inferer loss,
        rewarded topic-epochs, reward shares and Gini."""
        from allora_sim.runner.summary import summarize

        return summarize(self.epochs_frame(), self.recorder.agent_totals())

    def with_params(self, **changes: Any) -> AlloraModel:
        """A fresh model of the same scenario and seed with ``mechanism.<name>`` parameters
        changed, validated as the command line validates them (a clear ``ConfigError``)."""
        from omegaconf import OmegaConf

        from allora_sim.config import WORLD_OWNED, SimConfig, load_scenario, one_line

        cfg = OmegaConf.merge(OmegaConf.structured(SimConfig), self.scenario.raw)
        for name, value in changes.items():
            if name in WORLD_OWNED:
                raise ConfigError(
                    f"{name} is the world's (world.{name}): build the scenario with "
                    f"allora_sim.scenario(..., 'world.{name}={value}')"
                )
            if name not in cfg.mechanism:
                raise ConfigError(f"{name} is not a mechanism parameter (mechanism.{name})")
            try:
                cfg.mechanism[name] = value
            except Exception as exc:  # OmegaConf's type validation
                raise ConfigError(f"mechanism.{name}={value!r}: {one_line(exc)}") from None
        return AlloraModel(load_scenario(cfg), rng=self.seed)
