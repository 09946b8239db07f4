"""``AlloraModel``: the Mesa model of one or more topics advancing in discrete epochs.

Each :meth:`AlloraModel.step` is one epoch of every topic, in the chain's order:

1. the world's target of the epoch and its context (regime) are drawn (the whole path is
   simulated at construction from the world's own generator, so results do not depend on how
   the model is stepped);
2. behaviours submit inferences and forecasts (and consumers pay);
3. the network inferences are synthesised from the state the topic has stored so far
   (:func:`allora_sim.core.synthesize`, the chain's query);
4. once an epoch's ground-truth lag has passed, reputers report the losses of its network
   inferences, and :func:`allora_sim.core.run_topic_epoch` closes it: network losses, regrets,
   scores, rewards;
5. payouts are booked (workers' balances; reputers' kept reward is re-staked, as on chain) and
   the epoch is recorded.

All topics go through the core together (batch axis = topics). Results are available at any
time as DataFrames (:meth:`epochs_frame`, :meth:`agents_frame`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import mesa
import numpy as np
import pandas as pd

from allora_sim.agents import Consumer, Forecaster, Inferer, Participant, Reputer
from allora_sim.agents.behaviours import Behaviour, EpochContext, Revealed, build_behaviour
from allora_sim.config import Scenario
from allora_sim.core import EpochInputs, TopicState, ValueBundle, run_topic_epoch, synthesize
from allora_sim.core.sortition import limit_forecast_elements
from allora_sim.recorder import Recorder
from allora_sim.world_bridge import WorldPaths, simulate_world

__all__ = ["UALLO_PER_ALLO", "AlloraModel"]

UALLO_PER_ALLO = 1e18
_ROLE_AGENT = {
    "inferers": Inferer,
    "forecasters": Forecaster,
    "reputers": Reputer,
    "consumers": Consumer,
}


@dataclass
class _Pending:
    """An epoch whose ground truth is not yet revealed."""

    epoch: int
    inference: np.ndarray
    forecast: np.ndarray
    network: Any


class AlloraModel(mesa.Model):
    """Topics, participants and epochs of the Allora network.

    Args:
        scenario: a validated :class:`~allora_sim.config.Scenario`.
        rng: the root seed (defaults to ``scenario.seed``); child generators for the world and
            every behaviour group are spawned from it with ``numpy.random.SeedSequence``.
    """

    def __init__(self, scenario: Scenario, rng: int | None = None) -> None:
        seed = scenario.seed if rng is None else int(rng)
        super().__init__(rng=seed)
        self.scenario = scenario
        self.seed = seed
        self.params = scenario.mechanism
        self.epoch = 0
        self.n_topics = scenario.n_topics
        root = np.random.SeedSequence(seed)
        world_seq, behaviour_seq = root.spawn(2)
        self.world: WorldPaths = simulate_world(
            scenario.world, scenario.n_topics, scenario.epochs, np.random.default_rng(world_seq)
        )
        self.lag = scenario.lag_epochs
        self._build_population(behaviour_seq)
        n, k, m = self.sizes[:3]

        def ids(count: int) -> np.ndarray:
            return np.tile(np.arange(count), (self.n_topics, 1))

        self.state = TopicState.new(
            ids(n), ids(k), ids(m), window=self.params.module.max_samples_to_scale_scores
        )
        self.stake = np.zeros((self.n_topics, m))
        for g in self.groups["reputers"]:
            self.stake[g.topics, g.slots] = g.stake * UALLO_PER_ALLO  # type: ignore[attr-defined]
        self.balance = {
            role: np.zeros((self.n_topics, size))
            for role, size in zip(_ROLE_AGENT, self.sizes, strict=True)
        }
        self.fees = np.zeros(self.n_topics)
        self.topic_reward = np.full(self.n_topics, scenario.topic_reward * UALLO_PER_ALLO)
        self._pending: list[_Pending] = []
        self._revealed: Revealed | None = None
        self.recorder = Recorder(self)

    # -----------------------------------------------------------------------------------------
    # construction

    def _build_population(self, seq: np.random.SeedSequence) -> None:
        sc = self.scenario
        self.groups: dict[str, list[Behaviour]] = {r: [] for r in _ROLE_AGENT}
        sizes = []
        role_groups = {
            "inferers": sc.inferers,
            "forecasters": sc.forecasters,
            "reputers": sc.reputers,
            "consumers": sc.consumers,
        }
        children = iter(seq.spawn(sum(len(g) for g in role_groups.values())))
        for role, groups in role_groups.items():
            slot = 0
            for g in groups:
                slots = np.arange(slot, slot + g.count)
                topics = np.repeat(np.arange(self.n_topics), g.count)
                members = np.tile(slots, self.n_topics)
                beh = build_behaviour(
                    role,
                    g.behaviour,
                    g.params,
                    topics,
                    members,
                    np.random.default_rng(next(children)),
                )
                beh.group_name = g.name  # type: ignore[attr-defined]
                self.groups[role].append(beh)
                for t, s in zip(topics, members, strict=True):
                    _ROLE_AGENT[role](self, int(t), int(s), g.name, g.behaviour)
                slot += g.count
            sizes.append(slot)
        self.sizes = tuple(sizes)

    # -----------------------------------------------------------------------------------------
    # accessors used by agents

    def balance_of(self, agent: Participant) -> float:
        role = agent.role + "s"
        return float(self.balance[role][agent.topic, agent.slot]) / UALLO_PER_ALLO

    def stake_of(self, agent: Reputer) -> float:
        return float(self.stake[agent.topic, agent.slot]) / UALLO_PER_ALLO

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
        n, k, _ = self.sizes[:3]
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
        inference = np.full((self.n_topics, n), np.nan)
        for g in self.groups["inferers"]:
            inference[g.topics, g.slots] = g.infer(ctx)  # type: ignore[attr-defined]
        forecast = np.full((self.n_topics, k, n), np.nan)
        for g in self.groups["forecasters"]:
            forecast[g.topics, g.slots] = g.forecast(ctx)  # type: ignore[attr-defined]
        forecast = self._limit_elements(forecast)
        paid = np.zeros((self.n_topics, self.sizes[3]))
        for g in self.groups["consumers"]:
            paid[g.topics, g.slots] = g.pay(ctx)  # type: ignore[attr-defined]
        self.fees_paid = paid.sum(axis=1)
        network = self._synthesize(inference, forecast)
        self._pending.append(_Pending(e, inference, forecast, network))
        self._revealed = None
        while self._pending and self._pending[0].epoch <= e - self.lag + 1:
            self._settle(self._pending.pop(0), ctx)
        self.epoch += 1

    def _limit_elements(self, forecast: np.ndarray) -> np.ndarray:
        """Keep each forecast's elements for the top ``MaxElementsPerForecast`` inferers by
        score EMA, as the chain does when it accepts a worker payload (§8)."""
        n = forecast.shape[-1]
        limit = self.params.module.max_elements_per_forecast
        if n <= limit:
            return forecast
        keep = limit_forecast_elements(
            np.broadcast_to(np.arange(n), forecast.shape),
            np.isfinite(forecast),
            self.state.inferer_score_ema[:, None, :],
            limit,
        )
        return np.where(keep, forecast, np.nan)

    def _synthesize(self, inference: np.ndarray, forecast: np.ndarray) -> Any:
        st, mp, tp = self.state, self.params.module, self.params.topic
        present = st.inferer_ids >= 0
        element = (st.forecaster_ids >= 0)[:, :, None] & present[:, None, :] & np.isfinite(forecast)
        return synthesize(
            inference,
            present,
            forecast,
            element,
            st.regrets,
            st.initial_regret,
            st.network_loss,
            tp.epsilon,
            tp.p_norm,
            mp.c_norm,
            mp.epsilon_safe_div,
        )

    def _settle(self, pend: _Pending, ctx: EpochContext) -> None:
        """Close an epoch whose ground truth is revealed: reports, core, payouts, records."""
        s = pend.epoch
        truth = self.world.truth[:, s]
        loss = self.world.loss

        def exact(values: np.ndarray) -> np.ndarray:
            t = truth.reshape((-1,) + (1,) * (values.ndim - 1))
            return np.where(np.isfinite(values), loss(values, t), np.nan)

        exact_losses = pend.network.values.map(exact)
        m = self.sizes[2]
        reports = ValueBundle.absent((self.n_topics, m), self.sizes[0], self.sizes[1])
        report_arrays = {f: getattr(reports, f) for f in reports.__dataclass_fields__}
        for g in self.groups["reputers"]:
            mine = g.report(ctx, exact_losses)  # type: ignore[attr-defined]
            for f, arr in report_arrays.items():
                arr[g.topics, g.slots] = getattr(mine, f)
        inputs = EpochInputs(
            inferer_ids=self.state.inferer_ids,
            inference=pend.inference,
            forecaster_ids=self.state.forecaster_ids,
            forecast=pend.forecast,
            reputer_ids=self.state.reputer_ids,
            stake=self.stake,
            reputer_losses=ValueBundle(**report_arrays),
            topic_reward=self.topic_reward,
        )
        outcome, self.state = run_topic_epoch(inputs, self.state, self.params, pend.network)
        inferer_loss = exact_losses.inferer
        self._book(outcome)
        self.recorder.record(
            s,
            truth,
            self.world.context[:, s],
            pend,
            outcome,
            exact_losses,
            inputs.reputer_losses,
            self.fees_paid,
        )
        self._revealed = Revealed(
            epoch=s,
            truth=truth,
            context=self.world.context[:, s],
            inference=pend.inference,
            inferer_loss=inferer_loss,
        )

    def _book(self, outcome: Any) -> None:
        """Pay rewards: workers' balances; reputers keep and re-stake their part (§6.6)."""
        self.balance["inferers"] += np.nan_to_num(outcome.inferer_reward)
        self.balance["forecasters"] += np.nan_to_num(outcome.forecaster_reward)
        kept = np.nan_to_num(outcome.reputer_reward_kept)
        self.balance["reputers"] += kept
        self.stake = self.stake + kept

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
        """One row per agent and settled epoch."""
        return self.recorder.agents_frame()

    def with_params(self, **changes: Any) -> AlloraModel:
        """A fresh model of the same scenario with mechanism parameters changed."""
        topic = {k: v for k, v in changes.items() if hasattr(self.params.topic, k)}
        module = {k: v for k, v in changes.items() if k not in topic}
        mech = replace(
            self.params,
            module=self.params.module.replace(**module),
            topic=self.params.topic.replace(**topic),
        )
        return AlloraModel(replace(self.scenario, mechanism=mech), rng=self.seed)
