"""One topic-epoch, composed: ``(inputs, previous state, params) → (outcome, next state)``.

``run_topic_epoch`` strings the mechanism together in the chain's order (`mechanism.md` §1, §6.2):

1. inference synthesis (§2) from this epoch's inferences and forecasts, the regrets and the
   latest network loss carried in the state (the query ``GetNetworkInferences``);
2. reputer bundles accepted at nonce close and the stake-weighted network losses (§3.1);
3. regret updates and the topic initial regret (§3.2–§3.3);
4. reputer consensus scores and listening coefficients (§4);
5. inferer and forecaster scores, score EMAs, topic quantiles, score history (§5);
6. reward fractions, entropies, χ and γ, class totals, per-actor rewards and the delegator cut
   (§6.2–§6.6), inclusion counts of paid workers.

As on chain, a failure part-way leaves the updates made before it in place: a topic whose
combined/naive loss has no stake gets no network-loss bundle (nothing changes); a topic whose
reward distribution fails (e.g. no inferer scores in the median-mode epoch) keeps the reputer
updates made before the failure and pays nothing (``outcome.reward_error``).

Everything is batched over topics (leading axis ``B``) and padded: participant slots hold ids
(``-1`` = empty slot). Inputs without the batch axis are accepted and outputs are then returned
without it. Ids must be strictly increasing within a topic (the chain iterates participants in
ascending address order); state is re-aligned to the inputs' ids automatically.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar

import numpy as np

from allora_sim.core import consensus, losses, regrets, rewards, scores, synthesis
from allora_sim.core.bundle import ValueBundle
from allora_sim.core.maths import Array, Mask, ema, quantile_of_decs, same, take_last
from allora_sim.core.params import MechanismParams
from allora_sim.core.synthesis import NetworkInferences, RegretStore

__all__ = [
    "EpochInputs",
    "EpochOutcome",
    "RewardError",
    "TopicState",
    "run_topic_epoch",
]

IntArray = np.ndarray


class RewardError:
    """Why a topic's reward distribution failed (``EpochOutcome.reward_error`` codes)."""

    NONE = 0
    NO_NETWORK_LOSS = 1  # zero stake behind the combined or naive loss: nonce not closed
    NO_REPUTERS = 2  # no accepted reputer bundle
    NO_INFERER_SCORES = 3  # empty inferer set (e.g. median mode: no one-out losses)
    FORECASTER_PAIRING = 4  # one-in forecaster without a one-out partner (chain index error)
    ENTROPY = 5  # entropy undefined (zero fraction in a class, zero Σẽ²)
    NORMALIZATION = 6  # γ undefined
    NO_INFERENCES = 7  # no inference this epoch: the query fails, the nonce is never closed
    CONSENSUS = 8  # consensus undefined: an entry's reporters all have listening coefficient 0
    NAMES: ClassVar[dict[int, str]] = {
        0: "none",
        1: "no network loss",
        2: "no reputers",
        3: "no inferer scores",
        4: "forecaster pairing",
        5: "entropy undefined",
        6: "normalization undefined",
        7: "no inferences",
        8: "consensus undefined",
    }


@dataclass(frozen=True)
class EpochInputs:
    """What arrives in one epoch of one or more topics.

    Attributes:
        inferer_ids: ``(B, N)`` int ids of inferer slots, strictly increasing, ``-1`` = empty.
        inference: ``(B, N)`` inferences I_j (finite where the slot is filled).
        forecaster_ids: ``(B, K)`` forecaster ids.
        forecast: ``(B, K, N)`` forecasted losses f_kj; NaN = no forecast element for inferer j.
        reputer_ids: ``(B, M)`` reputer ids.
        stake: ``(B, M)`` stake reputer authority (own + delegated), token units (uallo on chain).
        reputer_losses: :class:`ValueBundle` with fields shaped ``(B, M, ...)``: the losses each
            reputer reports for the network inferences of this epoch (NaN = not reported).
        topic_reward: ``(B,)`` the topic's reward for the epoch E_t (§6.1), same unit as payouts.
        delegated_stake: ``(B, M)`` the part of ``stake`` delegated to the reputer (for the cut).
    """

    inferer_ids: IntArray
    inference: Array
    forecaster_ids: IntArray
    forecast: Array
    reputer_ids: IntArray
    stake: Array
    reputer_losses: ValueBundle
    topic_reward: Array
    delegated_stake: Array | None = None


def _nan(*shape: int) -> Array:
    return np.full(shape, np.nan)


@dataclass(frozen=True)
class TopicState:
    """Everything the chain stores for a topic between epochs (per participant: NaN = absent).

    Attributes:
        inferer_ids, forecaster_ids, reputer_ids: slot ids the arrays are aligned to.
        regrets: the nine regret stores (§3.2).
        initial_regret: ``(B,)`` topic InitialRegret (0 at creation = "all inferers new").
        network_loss: ``(B,)`` combined loss of the latest network-loss bundle (NaN = none yet).
        inferer_inclusions, forecaster_inclusions: paid-reward counts (§3.3).
        listening_coefficient: ``(B, M)`` reputer listening coefficients (NaN = never set → 1).
        inferer_score_ema, forecaster_score_ema, reputer_score_ema: quality EMAs (§5.3).
        inferer_score_quantile, forecaster_score_quantile, reputer_score_quantile: ``(B,)`` the
            stored topic quantile of the last round's instant scores (passive EMA updates, §8).
        inferer_score_history, forecaster_score_history: ``(B, W)`` latest W scores (§5.4).
        inferer_fraction_smooth, forecaster_fraction_smooth, reputer_fraction_smooth:
            previous (normalised, smoothed) reward fractions (§6.4).
        forecaster_score_ratio: ``(B,)`` EMA'd forecaster score ratio (§6.5).
    """

    inferer_ids: IntArray
    forecaster_ids: IntArray
    reputer_ids: IntArray
    regrets: RegretStore
    initial_regret: Array
    network_loss: Array
    inferer_inclusions: IntArray
    forecaster_inclusions: IntArray
    listening_coefficient: Array
    inferer_score_ema: Array
    forecaster_score_ema: Array
    reputer_score_ema: Array
    inferer_score_quantile: Array
    forecaster_score_quantile: Array
    reputer_score_quantile: Array
    inferer_score_history: Array
    forecaster_score_history: Array
    inferer_fraction_smooth: Array
    forecaster_fraction_smooth: Array
    reputer_fraction_smooth: Array
    forecaster_score_ratio: Array

    @staticmethod
    def new(
        inferer_ids: IntArray,
        forecaster_ids: IntArray,
        reputer_ids: IntArray,
        window: int = 10,
    ) -> TopicState:
        """State of freshly created topics: nothing stored, InitialRegret 0 (§10.2)."""
        inf = np.atleast_2d(np.asarray(inferer_ids, dtype=np.int64))
        fc = np.atleast_2d(np.asarray(forecaster_ids, dtype=np.int64))
        rep = np.atleast_2d(np.asarray(reputer_ids, dtype=np.int64))
        if fc.shape[-1] == 0:
            fc = fc.reshape(inf.shape[0], 0)
        b, n = inf.shape
        k, m = fc.shape[1], rep.shape[1]
        return TopicState(
            inferer_ids=inf,
            forecaster_ids=fc,
            reputer_ids=rep,
            regrets=RegretStore.empty(b, n, k),
            initial_regret=np.zeros(b),
            network_loss=_nan(b),
            inferer_inclusions=np.zeros((b, n), dtype=np.int64),
            forecaster_inclusions=np.zeros((b, k), dtype=np.int64),
            listening_coefficient=_nan(b, m),
            inferer_score_ema=_nan(b, n),
            forecaster_score_ema=_nan(b, k),
            reputer_score_ema=_nan(b, m),
            inferer_score_quantile=np.zeros(b),
            forecaster_score_quantile=np.zeros(b),
            reputer_score_quantile=np.zeros(b),
            inferer_score_history=_nan(b, window),
            forecaster_score_history=_nan(b, window),
            inferer_fraction_smooth=_nan(b, n),
            forecaster_fraction_smooth=_nan(b, k),
            reputer_fraction_smooth=_nan(b, m),
            forecaster_score_ratio=np.zeros(b),
        )

    def aligned(
        self, inferer_ids: IntArray, forecaster_ids: IntArray, reputer_ids: IntArray
    ) -> TopicState:
        """This state re-indexed to new slot ids: participants absent before start empty;
        participants absent now are dropped (keep a registry outside the core to retain them)."""
        if (
            same(inferer_ids, self.inferer_ids)
            and same(forecaster_ids, self.forecaster_ids)
            and same(reputer_ids, self.reputer_ids)
        ):
            return self
        gi = _gather_index(self.inferer_ids, inferer_ids)
        gf = _gather_index(self.forecaster_ids, forecaster_ids)
        gr = _gather_index(self.reputer_ids, reputer_ids)
        r = self.regrets
        reg = RegretStore(
            inferer=_take(r.inferer, gi, np.nan),
            forecaster=_take(r.forecaster, gf, np.nan),
            naive_inferer=_take(r.naive_inferer, gi, np.nan),
            oneout_inferer_inferer=_take2(r.oneout_inferer_inferer, gi, gi),
            oneout_inferer_forecaster=_take2(r.oneout_inferer_forecaster, gi, gf),
            oneout_forecaster_inferer=_take2(r.oneout_forecaster_inferer, gf, gi),
            oneout_forecaster_forecaster=_take2(r.oneout_forecaster_forecaster, gf, gf),
            onein_forecaster_inferer=_take2(r.onein_forecaster_inferer, gf, gi),
            onein_forecaster_self=_take(r.onein_forecaster_self, gf, np.nan),
        )
        return replace(
            self,
            inferer_ids=inferer_ids,
            forecaster_ids=forecaster_ids,
            reputer_ids=reputer_ids,
            regrets=reg,
            inferer_inclusions=_take(self.inferer_inclusions, gi, 0),
            forecaster_inclusions=_take(self.forecaster_inclusions, gf, 0),
            listening_coefficient=_take(self.listening_coefficient, gr, np.nan),
            inferer_score_ema=_take(self.inferer_score_ema, gi, np.nan),
            forecaster_score_ema=_take(self.forecaster_score_ema, gf, np.nan),
            reputer_score_ema=_take(self.reputer_score_ema, gr, np.nan),
            inferer_fraction_smooth=_take(self.inferer_fraction_smooth, gi, np.nan),
            forecaster_fraction_smooth=_take(self.forecaster_fraction_smooth, gf, np.nan),
            reputer_fraction_smooth=_take(self.reputer_fraction_smooth, gr, np.nan),
        )


def _gather_index(old_ids: IntArray, new_ids: IntArray) -> IntArray:
    """Index of each new id in ``old_ids`` (per topic), ``-1`` where absent."""
    if old_ids.shape[-1] == 0 or new_ids.shape[-1] == 0:
        return np.full(new_ids.shape, -1, dtype=np.intp)
    match = (new_ids[:, :, None] == old_ids[:, None, :]) & (new_ids[:, :, None] >= 0)
    found = match.any(axis=-1)
    return np.where(found, match.argmax(axis=-1), -1)


def _take(a: np.ndarray, idx: IntArray, fill: float) -> np.ndarray:
    if a.shape[-1] == 0:
        return np.full(idx.shape, fill, dtype=a.dtype)
    got = take_last(a, np.maximum(idx, 0))
    return np.where(idx >= 0, got, np.asarray(fill, dtype=a.dtype))


def _take2(a: Array, rows: IntArray, cols: IntArray) -> Array:
    b = a.shape[0]
    out = np.full((b, rows.shape[1], cols.shape[1]), np.nan)
    if a.shape[1] == 0 or a.shape[2] == 0:
        return out
    bi = np.arange(b)[:, None, None]
    got = a[bi, np.maximum(rows, 0)[:, :, None], np.maximum(cols, 0)[:, None, :]]
    ok = (rows >= 0)[:, :, None] & (cols >= 0)[:, None, :]
    return np.where(ok, got, np.nan)


@dataclass(frozen=True)
class EpochOutcome:
    """Everything one topic-epoch produced (per participant: NaN = not applicable).

    Attributes:
        network: the network inferences the query returned (§2), with weights and error bars.
        network_losses: stake-weighted network losses (§3.1); ``settled`` marks topics where the
            bundle exists (the nonce closed).
        inferer_score, forecaster_score, reputer_score: instant scores (§4, §5).
        forecaster_task_score: ``(B,)`` T_F = L⁻ − L.
        listening_coefficient, adjusted_stake: reputer consensus outputs (§4).
        inferer_fraction, forecaster_fraction, reputer_fraction: instant reward fractions (§6.3).
        inferers_entropy, forecasters_entropy, reputers_entropy: F, G, H (§6.4).
        forecaster_score_ratio, chi, gamma: §6.5.
        inferers_reward, forecasters_reward, reputers_reward: class totals U, V, W (§6.6).
        inferer_reward, forecaster_reward, reputer_reward: per-actor rewards (before truncation).
        reputer_reward_kept, delegator_reward: the reputer's part (re-staked) and the delegators'.
        reward_error: ``(B,)`` :class:`RewardError` code (0 = rewards distributed).
    """

    network: NetworkInferences
    network_losses: ValueBundle
    settled: Mask
    inferer_score: Array
    forecaster_score: Array
    reputer_score: Array
    forecaster_task_score: Array
    listening_coefficient: Array
    adjusted_stake: Array
    inferer_fraction: Array
    forecaster_fraction: Array
    reputer_fraction: Array
    inferers_entropy: Array
    forecasters_entropy: Array
    reputers_entropy: Array
    forecaster_score_ratio: Array
    chi: Array
    gamma: Array
    inferers_reward: Array
    forecasters_reward: Array
    reputers_reward: Array
    inferer_reward: Array
    forecaster_reward: Array
    reputer_reward: Array
    reputer_reward_kept: Array
    delegator_reward: Array
    reward_error: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


# ---------------------------------------------------------------------------------------------
# Input handling


def _batch(x: Any, ndim: int, name: str, dtype: Any = np.float64) -> np.ndarray:
    if x is None:
        raise ValueError(f"EpochInputs.{name} is missing")
    if dtype is np.int64:  # ids: whole numbers only (a NaN or 0.5 is not silently cast)
        raw = np.asarray(x)
        if raw.dtype.kind not in "iub" and raw.size:
            f = raw.astype(np.float64)
            if not (np.isfinite(f).all() and (f == np.round(f)).all()):
                raise ValueError(f"EpochInputs.{name} must hold whole-number ids, got {raw!r}")
    a = np.asarray(x, dtype=dtype)
    if a.ndim == ndim - 1:
        a = a[None]
    if a.ndim != ndim:
        raise ValueError(
            f"EpochInputs.{name} must have {ndim - 1} (single topic) or {ndim} (batch) "
            f"dimensions, got shape {a.shape}"
        )
    return a


def _prepare(inputs: EpochInputs) -> tuple[EpochInputs, bool]:
    """Validate shapes and values; return batched inputs and whether the caller batched."""
    batched = np.asarray(inputs.inference).ndim == 2
    inf_ids = _batch(inputs.inferer_ids, 2, "inferer_ids", np.int64)
    b, n = inf_ids.shape
    fc_ids = np.asarray(inputs.forecaster_ids, dtype=np.int64)
    if fc_ids.size == 0:
        fc_ids = np.zeros((b, 0), dtype=np.int64)
    fc_ids = _batch(fc_ids, 2, "forecaster_ids", np.int64)
    rep_ids = _batch(inputs.reputer_ids, 2, "reputer_ids", np.int64)
    k, m = fc_ids.shape[1], rep_ids.shape[1]
    inference = _batch(inputs.inference, 2, "inference")
    forecast = np.asarray(inputs.forecast, dtype=np.float64)
    if forecast.size == 0:
        forecast = np.zeros((b, k, n))
    forecast = _batch(forecast, 3, "forecast")
    stake = _batch(inputs.stake, 2, "stake")
    delegated = (
        np.zeros_like(stake)
        if inputs.delegated_stake is None
        else _batch(inputs.delegated_stake, 2, "delegated_stake")
    )
    topic_reward = np.atleast_1d(np.asarray(inputs.topic_reward, dtype=np.float64))
    expect = {
        "inference": (inference.shape, (b, n)),
        "forecaster_ids": (fc_ids.shape, (b, k)),
        "reputer_ids": (rep_ids.shape, (b, m)),
        "forecast": (forecast.shape, (b, k, n)),
        "stake": (stake.shape, (b, m)),
        "delegated_stake": (delegated.shape, (b, m)),
        "topic_reward": (topic_reward.shape, (b,)),
    }
    for name, (got, want) in expect.items():
        if got != want:
            raise ValueError(f"EpochInputs.{name} has shape {got}, expected {want}")
    for name, ids in (
        ("inferer_ids", inf_ids),
        ("forecaster_ids", fc_ids),
        ("reputer_ids", rep_ids),
    ):
        filled = ids >= 0
        if ids.shape[-1] > 1:
            a, c = ids[:, :-1], ids[:, 1:]
            bad = filled[:, 1:] & (~filled[:, :-1] | (c <= a))
            if bad.any():
                t = int(np.argwhere(bad)[0][0])
                raise ValueError(
                    f"EpochInputs.{name}[{t}] = {ids[t].tolist()}: ids must be strictly "
                    "increasing with empty slots (-1) only at the end"
                )
    inf_present = inf_ids >= 0
    if not np.isfinite(inference[inf_present]).all():
        raise ValueError("EpochInputs.inference must be finite for every filled inferer slot")
    fc_present = fc_ids >= 0
    if np.isinf(forecast).any():
        raise ValueError("EpochInputs.forecast must not contain inf (NaN means 'no element')")
    rep_present = rep_ids >= 0
    if not np.isfinite(stake[rep_present]).all() or (stake[rep_present] < 0).any():
        raise ValueError("EpochInputs.stake must be finite and >= 0 for every reputer")
    if not ((delegated >= 0) & (delegated <= stake)).all():  # NaN fails too
        raise ValueError("EpochInputs.delegated_stake must be in [0, stake]")
    if not np.isfinite(topic_reward).all() or (topic_reward < 0).any():
        raise ValueError("EpochInputs.topic_reward must be finite and >= 0")
    rl = inputs.reputer_losses
    if not isinstance(rl, ValueBundle):
        raise ValueError(
            f"EpochInputs.reputer_losses must be a ValueBundle, got {type(rl).__name__}"
        )
    want_rl = {
        "combined": (b, m),
        "naive": (b, m),
        "inferer": (b, m, n),
        "forecaster": (b, m, k),
        "oneout_inferer": (b, m, n),
        "oneout_forecaster": (b, m, k),
        "onein_forecaster": (b, m, k),
        "oneout_inferer_forecaster": (b, m, k, n),
    }
    fixed = {}
    for name, want in want_rl.items():
        arr = np.asarray(getattr(rl, name), dtype=np.float64)
        if not batched and arr.ndim == len(want) - 1:
            arr = arr[None]
        if arr.shape != want:
            raise ValueError(
                f"EpochInputs.reputer_losses.{name} has shape {arr.shape}, expected {want}"
            )
        fixed[name] = arr
    # one flat (B, M, E) matrix from here on (free for a bundle made by ValueBundle.from_flat)
    if any(fixed[name] is not getattr(rl, name) for name in fixed):
        rl = ValueBundle(**fixed)
    flat = rl.flat()
    if np.isinf(flat).any():
        name = next(name for name, arr in fixed.items() if np.isinf(arr).any())
        raise ValueError(
            f"EpochInputs.reputer_losses.{name} contains inf: the chain rejects such "
            "payloads (NaN means 'not reported')"
        )
    del fc_present
    return (
        EpochInputs(
            inferer_ids=inf_ids,
            inference=np.where(inf_present, inference, np.nan),
            forecaster_ids=fc_ids,
            forecast=forecast,
            reputer_ids=rep_ids,
            stake=np.where(rep_present, stake, 0.0),
            reputer_losses=ValueBundle.from_flat(flat, n, k),
            topic_reward=topic_reward,
            delegated_stake=np.where(rep_present, delegated, 0.0),
        ),
        batched,
    )


# ---------------------------------------------------------------------------------------------
# The epoch


def _keep(cond: Mask, new: np.ndarray, old: np.ndarray) -> np.ndarray:
    """``new`` where the per-topic ``cond`` holds, else ``old``."""
    if cond.all():
        return new
    c = cond.reshape(cond.shape + (1,) * (new.ndim - 1))
    return np.where(c, new, old)


def run_topic_epoch(
    inputs: EpochInputs,
    state: TopicState,
    params: MechanismParams,
    network: NetworkInferences | None = None,
) -> tuple[EpochOutcome, TopicState]:
    """Run one epoch of one or more topics through the chain's mechanism (module docstring).

    Args:
        inputs: this epoch's submissions (:class:`EpochInputs`).
        state: the topics' state after the previous epoch (:meth:`TopicState.new` for new
            topics); re-aligned to the inputs' ids if they differ.
        params: module and topic parameters.
        network: the network inferences of this epoch if already computed — by
            :func:`~allora_sim.core.synthesize` when the epoch was open, from the state stored
            then. A simulation whose ground truth arrives one or more epochs later passes them
            here (the chain's reputers score the values the query returned at the time);
            omitted, they are synthesised from ``state`` (the golden data's convention).

    Returns:
        ``(outcome, next_state)``.
    """
    if not isinstance(params, MechanismParams):
        raise ValueError(f"params must be a MechanismParams, got {type(params).__name__}")
    inp, batched = _prepare(inputs)
    if state.inferer_ids.shape[0] != inp.inferer_ids.shape[0]:
        raise ValueError(
            f"state holds {state.inferer_ids.shape[0]} topics but inputs hold "
            f"{inp.inferer_ids.shape[0]}"
        )
    window = state.inferer_score_history.shape[-1]
    if window != params.module.max_samples_to_scale_scores:
        raise ValueError(
            f"state keeps a score window of {window} but max_samples_to_scale_scores is "
            f"{params.module.max_samples_to_scale_scores}: build the state with "
            "TopicState.new(..., window=params.module.max_samples_to_scale_scores)"
        )
    st = state.aligned(inp.inferer_ids, inp.forecaster_ids, inp.reputer_ids)
    mp, tp = params.module, params.topic
    inf_present = inp.inferer_ids >= 0
    fc_present = inp.forecaster_ids >= 0
    rep_present = inp.reputer_ids >= 0
    element = fc_present[:, :, None] & inf_present[:, None, :] & np.isfinite(inp.forecast)

    # 1. Synthesis (query time, §2), unless the caller kept the values the query returned.
    if network is None:
        net = synthesis.synthesize(
            inp.inference,
            inf_present,
            inp.forecast,
            element,
            st.regrets,
            st.initial_regret,
            st.network_loss,
            tp.epsilon,
            tp.p_norm,
            mp.c_norm,
            mp.epsilon_safe_div,
        )
    else:
        net = network
        if np.shape(net.values.inferer) != inp.inference.shape:
            raise ValueError(
                f"network inferences have shape {np.shape(net.values.inferer)} but the inputs "
                f"hold {inp.inference.shape} inferer slots"
            )

    # 2. Nonce close: accepted bundles and network losses (§3.1).
    rl = inp.reputer_losses
    submitted = np.isfinite(rl.combined) & np.isfinite(rl.naive)  # a payload carries both
    has_inferences: np.ndarray = np.asarray(inf_present.any(axis=-1))
    accepted = (
        rep_present & submitted & (inp.stake >= mp.required_minimum_stake) & has_inferences[:, None]
    )
    fc_submitted = element.any(axis=-1)
    reports, reported = losses.accepted_reports(
        inp.reputer_losses, accepted, inf_present, fc_submitted
    )
    n_slots, k_slots = inf_present.shape[-1], fc_present.shape[-1]
    net_losses, settled, ooif_listed = losses.network_losses(
        reports, reported, inp.stake, n_slots, k_slots
    )

    # 3. Regrets and the topic initial regret (§3.2–§3.3).
    had_inf = np.isfinite(st.regrets.inferer)
    had_fc = np.isfinite(st.regrets.forecaster)
    new_regrets = regrets.update_regrets(
        st.regrets, net_losses, tp.alpha_regret, st.initial_regret, ooif_listed
    )
    exp_inf = regrets.experienced(had_inf, st.inferer_inclusions, tp.alpha_regret)
    exp_inf &= np.isfinite(net_losses.inferer)
    exp_fc = regrets.experienced(had_fc, st.forecaster_inclusions, tp.alpha_regret)
    exp_fc &= np.isfinite(net_losses.forecaster)
    pool = np.concatenate([new_regrets.inferer, new_regrets.forecaster], axis=-1)
    pool_member = np.concatenate([exp_inf, exp_fc], axis=-1)
    new_initial = regrets.topic_initial_regret(
        pool,
        pool_member,
        tp.epsilon,
        tp.p_norm,
        mp.c_norm,
        mp.initial_regret_quantile,
        mp.p_norm_safe_div,
    )
    initial = np.where(settled & pool_member.any(axis=-1), new_initial, st.initial_regret)
    regret_store = RegretStore(
        **{
            f.name: _keep(settled, getattr(new_regrets, f.name), getattr(st.regrets, f.name))
            for f in fields(RegretStore)
        }
    )
    network_loss = np.where(settled, net_losses.combined, st.network_loss)

    # 4. Reputer consensus (§4) over the stored bundles.
    members = accepted & settled[:, None]
    has_reputers = members.any(axis=-1)
    cons = consensus.reputer_consensus(
        reports,
        reported,
        members,
        inp.stake,
        st.listening_coefficient,
        mp.learning_rate,
        mp.gradient_descent_max_iters,
        mp.max_gradient_threshold,
        mp.min_stake_fraction,
        mp.epsilon_reputer,
        mp.epsilon_safe_div,
    )
    # GetStakeWeightedLossMatrix divides by the reporters' adjusted stake: zero when all who
    # reported an entry have coefficient 0, an error before GenerateReputerScores writes anything
    consensus_ok = ~(members & ~np.isfinite(cons.score)).any(axis=-1)
    rep_ok = settled & has_reputers & consensus_ok
    rep_first = np.isnan(st.reputer_score_ema)
    rep_ema = ema(tp.merit_sortition_alpha, cons.score, st.reputer_score_ema, rep_first)
    rep_q = quantile_of_decs(cons.score, members, tp.active_reputer_quantile)
    listening = np.where(members, cons.coefficient, st.listening_coefficient)

    # 5. Worker scores, EMAs, quantiles, score history (§5).
    inf_score, inf_scored, inf_single = scores.inferer_scores(net_losses)
    fc_score, fc_scored, fc_single, fc_mismatch = scores.forecaster_scores(net_losses)
    task_score = scores.forecasting_task_score(net_losses)
    alpha_m = tp.merit_sortition_alpha
    inf_ema = ema(alpha_m, inf_score, st.inferer_score_ema, np.isnan(st.inferer_score_ema))
    inf_ema = np.where(inf_scored & ~inf_single[:, None], inf_ema, st.inferer_score_ema)
    fc_ema = ema(alpha_m, fc_score, st.forecaster_score_ema, np.isnan(st.forecaster_score_ema))
    fc_ema = np.where(fc_scored & ~fc_single[:, None], fc_ema, st.forecaster_score_ema)
    inf_q = np.where(
        inf_single,
        st.inferer_score_quantile,
        quantile_of_decs(inf_score, inf_scored, tp.active_inferer_quantile),
    )
    fc_q = np.where(
        fc_single,
        st.forecaster_score_quantile,
        quantile_of_decs(fc_score, fc_scored, tp.active_forecaster_quantile),
    )
    inf_hist = scores.append_score_history(st.inferer_score_history, inf_score, inf_scored)
    fc_hist = scores.append_score_history(st.forecaster_score_history, fc_score, fc_scored)

    # 6. Rewards (§6.2 order). Each stage runs only where every earlier stage succeeded.
    rep_frac = rewards.reputer_reward_fractions(inp.stake, cons.score, members, mp.p_reward_reputer)
    h_rep, rep_smooth, rep_stored, rep_ok_h = rewards.smoothed_fractions_and_entropy(
        rep_frac, members, st.reputer_fraction_smooth, mp.task_reward_alpha, mp.beta_entropy
    )
    inf_frac = rewards.worker_reward_fractions(
        inf_score, inf_scored, inf_hist, mp.p_reward_inference, mp.c_reward_inference, tp.epsilon
    )
    f_inf, inf_smooth, inf_stored, inf_ok_h = rewards.smoothed_fractions_and_entropy(
        inf_frac, inf_scored, st.inferer_fraction_smooth, mp.task_reward_alpha, mp.beta_entropy
    )
    fc_frac = rewards.worker_reward_fractions(
        fc_score, fc_scored, fc_hist, mp.p_reward_forecast, mp.c_reward_forecast, tp.epsilon
    )
    g_fc, fc_smooth, fc_stored, fc_ok_h = rewards.smoothed_fractions_and_entropy(
        fc_frac, fc_scored, st.forecaster_fraction_smooth, mp.task_reward_alpha, mp.beta_entropy
    )
    has_fc_entropy = fc_scored.any(axis=-1) & (inf_scored.sum(axis=-1) > 1)
    g_fc = np.where(has_fc_entropy, g_fc, 0.0)
    chi, ratio = rewards.forecasting_utility(
        task_score, inf_score, inf_scored, st.forecaster_score_ratio, mp.task_reward_alpha
    )
    gamma = rewards.normalization_factor(f_inf, g_fc, chi)
    total_u, total_v, total_w = rewards.class_rewards(
        f_inf, g_fc, h_rep, inp.topic_reward, chi, gamma
    )

    # Failure points in the chain's order; each stage's writes persist only if reached.
    stage_rep = rep_ok  # GenerateReputerScores wrote scores, coefficients, EMAs, quantile
    reach_rep_entropy = stage_rep & ~fc_mismatch
    ok_rep_entropy = reach_rep_entropy & rep_ok_h
    has_inf_scores = inf_scored.any(axis=-1)
    reach_inf_entropy = ok_rep_entropy & has_inf_scores
    ok_inf_entropy = reach_inf_entropy & inf_ok_h
    reach_fc_entropy = ok_inf_entropy & has_fc_entropy
    ok_fc_entropy = ok_inf_entropy & (fc_ok_h | ~has_fc_entropy)
    ok_gamma = ok_fc_entropy & np.isfinite(gamma)
    paid = ok_gamma
    # the first failure in that order (np.select, written as the wheres it performs)
    error = np.full(has_inferences.shape, int(RewardError.NONE))
    for failed, code in (
        (~ok_gamma, RewardError.NORMALIZATION),
        (~ok_fc_entropy, RewardError.ENTROPY),
        (~ok_inf_entropy, RewardError.ENTROPY),
        (~has_inf_scores, RewardError.NO_INFERER_SCORES),
        (~ok_rep_entropy, RewardError.ENTROPY),
        (fc_mismatch, RewardError.FORECASTER_PAIRING),
        (~consensus_ok, RewardError.CONSENSUS),
        (~has_reputers, RewardError.NO_REPUTERS),
        (~settled, RewardError.NO_NETWORK_LOSS),
        (~has_inferences, RewardError.NO_INFERENCES),
    ):
        error = np.where(failed, int(code), error)

    inf_reward = np.where(paid[:, None] & inf_scored, inf_frac * total_u[:, None], np.nan)
    fc_reward = np.where(paid[:, None] & fc_scored, fc_frac * total_v[:, None], np.nan)
    rep_reward = np.where(paid[:, None] & members, rep_frac * total_w[:, None], np.nan)
    assert inp.delegated_stake is not None
    kept, cut = rewards.delegator_cut(rep_reward, inp.stake, inp.delegated_stake)
    # a payout truncates to ≥ 1 uallo (trunc(x) > 0 ⇔ x ≥ 1, NaN and −∞ excluded)
    inf_paid = paid[:, None] & (inf_reward >= 1.0)
    fc_paid = paid[:, None] & (fc_reward >= 1.0)

    # Score-stage writes happen after the reputer stage succeeded (GenerateReputerScores first).
    scores_written = stage_rep
    next_state = replace(
        st,
        regrets=regret_store,
        initial_regret=initial,
        network_loss=network_loss,
        inferer_inclusions=st.inferer_inclusions + inf_paid,
        forecaster_inclusions=st.forecaster_inclusions + fc_paid,
        listening_coefficient=_keep(stage_rep, listening, st.listening_coefficient),
        reputer_score_ema=_keep(
            stage_rep, np.where(members, rep_ema, st.reputer_score_ema), st.reputer_score_ema
        ),
        reputer_score_quantile=np.where(stage_rep, rep_q, st.reputer_score_quantile),
        inferer_score_ema=_keep(scores_written, inf_ema, st.inferer_score_ema),
        forecaster_score_ema=_keep(scores_written, fc_ema, st.forecaster_score_ema),
        inferer_score_quantile=np.where(scores_written, inf_q, st.inferer_score_quantile),
        # GenerateForecastScores panics on a pairing failure before it sets the quantile
        forecaster_score_quantile=np.where(
            scores_written & ~fc_mismatch, fc_q, st.forecaster_score_quantile
        ),
        inferer_score_history=_keep(scores_written, inf_hist, st.inferer_score_history),
        forecaster_score_history=_keep(scores_written, fc_hist, st.forecaster_score_history),
        reputer_fraction_smooth=_keep(
            reach_rep_entropy & rep_stored,
            np.where(members, rep_smooth, st.reputer_fraction_smooth),
            st.reputer_fraction_smooth,
        ),
        inferer_fraction_smooth=_keep(
            reach_inf_entropy & inf_stored,
            np.where(inf_scored, inf_smooth, st.inferer_fraction_smooth),
            st.inferer_fraction_smooth,
        ),
        forecaster_fraction_smooth=_keep(
            reach_fc_entropy & fc_stored,
            np.where(fc_scored, fc_smooth, st.forecaster_fraction_smooth),
            st.forecaster_fraction_smooth,
        ),
        forecaster_score_ratio=np.where(ok_gamma, ratio, st.forecaster_score_ratio),
    )

    def show(x: Array, ok: Mask) -> Array:
        return x if ok.all() else _keep(ok, x, np.full_like(x, np.nan))

    outcome = EpochOutcome(
        network=net,
        network_losses=net_losses,
        settled=settled,
        inferer_score=show(inf_score, scores_written),
        forecaster_score=show(fc_score, scores_written),
        reputer_score=show(cons.score, stage_rep),
        forecaster_task_score=np.where(settled, task_score, np.nan),
        listening_coefficient=show(cons.coefficient, stage_rep),
        adjusted_stake=show(cons.adjusted_stake, stage_rep),
        inferer_fraction=show(inf_frac, reach_inf_entropy),
        forecaster_fraction=show(fc_frac, ok_inf_entropy),
        reputer_fraction=show(rep_frac, stage_rep),
        inferers_entropy=np.where(reach_inf_entropy, f_inf, np.nan),
        forecasters_entropy=np.where(ok_fc_entropy, g_fc, np.nan),
        reputers_entropy=np.where(ok_rep_entropy, h_rep, np.nan),
        forecaster_score_ratio=np.where(ok_gamma, ratio, np.nan),
        chi=np.where(ok_fc_entropy, chi, np.nan),
        gamma=np.where(ok_gamma, gamma, np.nan),
        inferers_reward=np.where(paid, total_u, np.nan),
        forecasters_reward=np.where(paid, total_v, np.nan),
        reputers_reward=np.where(paid, total_w, np.nan),
        inferer_reward=inf_reward,
        forecaster_reward=fc_reward,
        reputer_reward=rep_reward,
        reputer_reward_kept=kept,
        delegator_reward=np.where(paid[:, None] & members, cut, np.nan),
        reward_error=error.astype(np.int64),
    )
    if not batched:
        outcome = _unbatch(outcome)
    return outcome, next_state


def _unbatch(obj: Any) -> Any:
    """Drop the leading batch axis of every array in a (nested) dataclass."""
    if isinstance(obj, np.ndarray):
        return obj[0]
    if hasattr(obj, "__dataclass_fields__"):
        return type(obj)(**{f.name: _unbatch(getattr(obj, f.name)) for f in fields(obj) if f.init})
    return obj
