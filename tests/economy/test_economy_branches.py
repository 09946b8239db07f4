"""Targeted tests for behaviours a mutation audit found untested: the engine's emission
(§9.1), the ledger's batched debits, the delegators' cut (§6.6), vesting, uallo limbs, the
topic-state store, topic skimming and rewards (§6.1, §7), and the stake book."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from allora_sim.core import TopicState, emission, topics
from allora_sim.core.params import MechanismParams, MintParams, ModuleParams
from allora_sim.core.store import gather, scatter
from allora_sim.core.uallo import BASE, Uallo
from allora_sim.economy.ledger import Ledger
from allora_sim.economy.network import UALLO, Economy
from allora_sim.economy.stake import StakeBook

# ---------------------------------------------------------------------------------------------
# §9.1: the engine's emission (Economy.emit / _recalculate)

BPM = 10  # blocks per month: three months stay far below the 12-month vesting cliff
COSMOS = 10**26  # cosmos validators' bonded stake (1e8 ALLO): keeps ê below the cap
F_V, F_REP = 0.25, 0.3  # ValidatorsVsAlloraPercentReward, genesis PreviousPercentage…Reputers


def _emitting_economy() -> Economy:
    eco = Economy(MintParams(), 2, {"reputers": 2}, np.zeros(0, dtype=np.int64))
    t, s = np.repeat(np.arange(2), 2), np.tile(np.arange(2), 2)
    eco.fund("reputers", t, s, np.full(4, 20_000.0))
    eco.stake_own(t, s, np.full(4, 10_000.0))
    eco.init_emission(BPM, F_V, COSMOS)
    return eco


def _spec_emission(eco: Economy, previous: float | None) -> tuple[float, float]:
    """ê and the smoothed e of §9.1 from the ledger's state, by the spec's formulas."""
    led, mint = eco.ledger, eco.mint
    staked = COSMOS + eco.stake.total()  # N_staked = cosmos bonded + Allora reputer stake
    eco_locked = led.balance("ecosystem") + led.unminted
    circulating = mint.max_supply - sum(led.locked.values()) - eco_locked
    target = mint.f_emission * (eco_locked / staked) * (circulating / mint.max_supply)
    cap = mint.maximum_monthly_percentage_yield / (F_V + (1 - F_V) * F_REP)
    hat = min(target, cap)
    return hat, hat if previous is None else 0.1 * hat + 0.9 * previous


def test_emission_is_recalculated_smoothed_at_each_months_first_block() -> None:
    """§9.1: at height % BlocksPerMonth == 1 (only) the mint sets e = 0.1·ê + 0.9·e_prev
    (e = ê in the first month) with N_staked = cosmos bonded + reputer stake, and the block
    emission trunc(e·N_staked) // BlocksPerMonth; the other blocks of the month reuse it."""
    eco = _emitting_economy()
    staked = COSMOS + eco.stake.total()
    previous = None
    for month in range(3):
        first = month * BPM + 1
        hat, want = _spec_emission(eco, previous)
        assert hat < 0.0095 / (F_V + (1 - F_V) * F_REP)  # below the cap: the target moves
        eco.emit(first, 1)
        assert eco.emission_per_token == pytest.approx(want, rel=1e-12, abs=0)
        if previous is not None:  # smoothing makes a difference here
            assert eco.emission_per_token != pytest.approx(hat, rel=1e-6)
        e = eco.emission_per_token
        assert eco.block_emission == emission.monthly_emission(e, staked) // BPM
        block = eco.block_emission
        eco.emit(first + 1, BPM - 1)  # up to height % BPM == 0: no recalculation
        assert eco.emission_per_token == e
        assert eco.block_emission == block
        assert eco.emitted_last == (BPM - 1) * block
        eco.check()
        previous = e


# ---------------------------------------------------------------------------------------------
# the ledger: a batch whose sorted sources repeat


def test_batched_transfer_from_sorted_repeated_sources_debits_every_amount() -> None:
    """Sources [a, a, b, b, …] (ascending, with repeats) in a batch of more than 8 amounts:
    each source falls by the sum of its amounts and the supply is conserved."""
    led = Ledger(10**27)
    names = ["a", "b", "c", "d", "e", "sink"]
    led.open_many(names, [1000] * 5 + [0])
    led.set_genesis_pools(unminted=10**27 - 5000, locked={})
    src = np.repeat(np.arange(5), 2)  # 0, 0, 1, 1, …, 4, 4
    amounts = list(range(1, 11))
    led.transfer_many(src, np.full(10, led.index["sink"]), amounts)
    assert [led.balance(n) for n in names[:5]] == [997, 993, 989, 985, 981]  # 1+2, 3+4, …
    assert led.balance("sink") == 55
    led.check()


# ---------------------------------------------------------------------------------------------
# §6.6: the delegators' cut


def test_delegators_cut_splits_by_delegation_over_the_delegated_total() -> None:
    """§6.6: the cut c of a reputer goes to its delegators as c·D_d // D (D = Σ delegations):
    delegations 1 and 3 uallo, cut 100 → 25 and 75."""
    eco = Economy(MintParams(), 1, {"reputers": 1, "delegators": 2}, np.array([0, 0]))
    accts = eco.accounts["delegators"][0]
    eco.fund("delegators", np.zeros(2, dtype=int), np.arange(2), np.array([1.0, 1.0]))
    eco.ledger.transfer_many(accts, np.full(2, eco.module["staking"]), [1, 3])
    eco.stake.delegate(0, 0, 1)
    eco.stake.delegate(1, 0, 3)
    eco.fund_fixed(100)  # 100 uallo into the rewards account
    before = [eco.ledger.balance(int(a)) for a in accts]
    paid = eco.delegator_rewards(np.array([0]), np.array([0]), [100], accts)
    assert paid.tolist() == [25, 75]
    assert [eco.ledger.balance(int(a)) - b for a, b in zip(accts, before, strict=True)] == [25, 75]
    eco.check()


# ---------------------------------------------------------------------------------------------
# §9.1: locked vesting


def test_locked_vesting_fraction_is_rounded_half_up_at_18_decimals() -> None:
    """§9.1 / §0 (LegacyDec): at month 12 the locked fraction 24/36 = 0.666… is held with 18
    decimals, rounded half up to 0.666666666666666667, then × the preseed's 5 % of MaxSupply,
    truncated."""
    bpm = 525_960
    lock = emission.locked_vesting(bpm, 12 * bpm, MintParams())
    preseed = 5 * 10**25  # 5 % of 1e27
    assert lock.investors_preseed == preseed * 666_666_666_666_666_667 // 10**18
    assert lock.investors_preseed == 33_333_333_333_333_333_350_000_000


# ---------------------------------------------------------------------------------------------
# uallo limbs: 0 ≤ lo < 10^18


def test_plus_carries_when_the_low_limbs_reach_exactly_one_allo() -> None:
    """6·10^17 + 4·10^17 uallo = 1 ALLO: (hi, lo) = (1, 0)."""
    one = Uallo(np.array([0]), np.array([6 * 10**17])).plus(
        Uallo(np.array([0]), np.array([4 * 10**17]))
    )
    assert (one.hi.tolist(), one.lo.tolist()) == ([1], [0])


def test_of_int64_splits_exactly_one_allo_into_limbs() -> None:
    """10^18 uallo held in int64 is (hi, lo) = (1, 0)."""
    one = Uallo.of_int64(np.array([BASE], dtype=np.int64))
    assert (one.hi.tolist(), one.lo.tolist()) == ([1], [0])


# ---------------------------------------------------------------------------------------------
# the topic-state store


def test_scatter_ignores_padded_ids_in_pair_stores() -> None:
    """A part whose inferer ids are padded with −1 writes only its real pairs: the store's
    last column (inferer 1, not in the part) keeps its value."""
    store = TopicState.new(np.array([[0, 1]]), np.array([[0]]), np.array([[0]]))
    store.regrets.oneout_inferer_inferer[0] = [[1.0, 5.0], [6.0, 7.0]]
    part, store = gather(store, np.array([[0, -1]]), np.array([[0]]), np.array([[0]]))
    part.regrets.oneout_inferer_inferer[0] = [[2.0, 9.0], [9.0, 9.0]]
    out = scatter(store, part)
    np.testing.assert_array_equal(out.regrets.oneout_inferer_inferer[0], [[2.0, 5.0], [6.0, 7.0]])


def test_scatter_copies_the_forecaster_score_ratio() -> None:
    """§6.5: the stored forecaster score ratio is per topic: scatter takes the part's."""
    store = TopicState.new(np.array([[0, 1]]), np.array([[0]]), np.array([[0]]))
    part, store = gather(store, np.array([[0]]), np.array([[0]]), np.array([[0]]))
    part = replace(part, forecaster_score_ratio=np.array([0.7]))
    assert scatter(store, part).forecaster_score_ratio.tolist() == [0.7]


# ---------------------------------------------------------------------------------------------
# §6.1 / §7.3 / §14: topic skimming and rewards


def test_skim_breaks_weight_ties_by_lower_topic_id() -> None:
    """§14: skimming sorts weight descending, id ascending: equal weights keep the lower ids."""
    keep = topics.skim_top_topics(np.array([7.0, 7.0, 7.0]), np.ones(3, dtype=bool), 2)
    assert keep.tolist() == [True, True, False]


def test_capped_topic_rewards_share_the_treasury_by_weight_times_epoch_length() -> None:
    """§6.1: Σ E_t > B → E_t = B·w_t·ℓ_t / Σ w·ℓ: weights 1, 1, ℓ 1, 3, B = 100 → 25, 75."""
    got = topics.topic_rewards(np.array([1.0, 1.0]), 2.0, 1000.0, np.array([1, 3]), 100.0)
    np.testing.assert_allclose(got, [25.0, 75.0], rtol=1e-15)


# ---------------------------------------------------------------------------------------------
# §7.2 / §7.3: the engine's topic lifecycle

MIN_WEIGHT = 6e18  # sqrt(S·C/ℓ) with S = 4 ALLO, C = 9 ALLO, ℓ = 1: 2e9 · 3e9, exact in float


def _topic_economy(fees: list[int]) -> Economy:
    n = len(fees)
    eco = Economy(MintParams(), n, {"reputers": 1, "consumers": 1}, np.zeros(0, dtype=np.int64))
    t, s = np.arange(n), np.zeros(n, dtype=int)
    eco.fund("reputers", t, s, np.full(n, 4.0))
    eco.stake_own(t, s, np.full(n, 4.0))
    eco.fund("consumers", t, s, np.full(n, 10.0))
    eco.init_topics(MechanismParams(module=ModuleParams(min_topic_weight=MIN_WEIGHT)), 1)
    eco.pay_fees("consumers", t, s, fees)
    eco.activate_if_heavy()
    return eco


def test_a_topic_at_exactly_min_topic_weight_stays_active() -> None:
    """§7.3: a topic is inactivated at its epoch end only if its weight < MinTopicWeight."""
    eco = _topic_economy([9 * UALLO])
    assert eco.active.tolist() == [True]
    assert eco.current_weight().tolist() == [MIN_WEIGHT]  # sqrt(4e18 · 9e18 / 1)
    eco.close_epoch()
    assert eco.active.tolist() == [True]
    assert eco.weight.tolist() == [MIN_WEIGHT]


def test_only_active_topics_drip_their_fee_revenue() -> None:
    """§7.2: the drip happens when a topic is processed at its epoch end — active topics only;
    an inactive topic's revenue is left as it is."""
    eco = _topic_economy([9 * UALLO, 1])  # topic 1: weight 2e9 · 1 < MinTopicWeight
    assert eco.active.tolist() == [True, False]
    eco.close_epoch()
    bpm = eco.params.module.blocks_per_month
    assert eco.revenue[0] == topics.drip([9 * UALLO], bpm, 1)[0] < 9 * UALLO
    assert eco.revenue[1] == 1


# ---------------------------------------------------------------------------------------------
# the stake book


def test_delegating_to_a_second_reputer_while_delegated_raises() -> None:
    """A delegator delegates to one reputer at a time: it must remove that stake first."""
    book = StakeBook(1, 2, 1, np.array([0]))
    book.delegate(0, 0, 5)
    book.delegate(0, 0, 5)  # more on the same reputer is fine
    with pytest.raises(ValueError, match="already delegates"):
        book.delegate(0, 1, 5)
    assert book.delegated.tolist() == [[10, 0]]


def test_a_second_removal_request_in_the_window_returns_zero() -> None:
    """While a removal waits for its delay window, another request removes nothing."""
    book = StakeBook(1, 1, 1, np.array([0]))
    book.delegate(0, 0, 5)
    assert book.request_removal(0, due_epoch=3) == 5
    assert book.request_removal(0, due_epoch=4) == 0
    assert len(book.pending) == 1
