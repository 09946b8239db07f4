"""Active-set selection (§8) and score EMAs (§5.3).

The streaming scenarios are worked by hand from the chain's ``Keeper.AppendInference`` logic
(admit below the cap; else compare with the cached lowest EMA; passive update of the loser with
the last stored quantile; ``UpdateLowestScoreFromInfererAddresses`` re-scanning the previous
members in address order with the newcomer appended last). Participant indices stand for
addresses in ascending order.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from allora_sim.core.params import ModuleParams, TopicParams
from allora_sim.core.sortition import (
    NO_PARTICIPANT,
    ActorClass,
    Admission,
    LowestScoreEma,
    PassiveQuantile,
    ScoreEmas,
    active_quantile,
    active_set_cap,
    admit_submissions,
    batch_sortition,
    calc_ema,
    find_top_n_by_score_desc,
    limit_forecast_elements,
    rank_desc,
    score_emas_after_scoring,
    top_n_by_score_desc,
    topic_quantile_of_instant_scores,
    update_active_score_emas,
)

A = Admission
NONE = NO_PARTICIPANT


def emas(values: list[float], block: int | list[int]) -> ScoreEmas:
    v = np.array(values, dtype=float)
    b = np.broadcast_to(np.asarray(block), v.shape).copy()
    b[np.isnan(v)] = 0
    return ScoreEmas(v, b.astype(np.int64))


# ---------------------------------------------------------------------------------------------
# Streaming admission


def go_append_inference_round():
    """The scenario of the chain's ``TestAppendInference`` restated with indices.

    Addresses sorted ascending: allo15lv… (w1), allo18d5… (w5), allo19n8… (w4), allo1dwx… (w2),
    allo1wha… (w3) → indices 0..4 with EMAs 95, 96, 91, 90, 99 stored at block 2. Cap 4, stored
    quantile 1000, nonce 10. w1, w2, w3, w4 fill the set; w5 (96) beats the lowest member w2 (90):
    w2 gets 0.1·1000 + 0.9·90 = 181 at block 10 and is evicted; w2 then resubmits and is refused
    because its EMA was already written at this nonce.
    """
    state = emas([95, 96, 91, 90, 99], 2)
    return admit_submissions(
        np.array([0, 3, 4, 2, 1, 3]), state, None, 1000.0, 0.1, cap=4, nonce=10
    )


def test_fill_up_admits_everyone_below_the_cap_and_touches_nothing() -> None:
    state = emas([0.1, 0.9, 0.5, 0.3, 0.2], 7)
    r = admit_submissions(np.array([4, 1, 3]), state, None, 0.4, 0.1, cap=3, nonce=12)
    assert r.active.tolist() == [False, True, False, True, True]
    assert r.admission.tolist() == [A.ADMITTED] * 3
    np.testing.assert_array_equal(r.emas.score, state.score)
    np.testing.assert_array_equal(r.emas.block, state.block)
    assert not r.updated.any()
    assert r.lowest is None  # never needed, never computed
    assert (r.passive == NONE).all() and (r.evicted == NONE).all()


def test_replacement_of_the_lowest_member_as_in_the_go_test() -> None:
    r = go_append_inference_round()
    assert r.admission.tolist() == [
        A.ADMITTED,
        A.ADMITTED,
        A.ADMITTED,
        A.ADMITTED,
        A.REPLACED_LOWEST,
        A.EMA_ALREADY_UPDATED,
    ]
    assert r.active.tolist() == [True, True, True, False, True]
    assert r.passive.tolist() == [NONE, NONE, NONE, NONE, 3, NONE]
    assert r.evicted.tolist() == [NONE, NONE, NONE, NONE, 3, NONE]
    assert r.emas.score[3] == pytest.approx(181.0, rel=1e-15)
    assert r.emas.block.tolist() == [2, 2, 2, 10, 2]
    # the admitted newcomer's EMA is not touched at submission time
    assert r.emas.score.tolist()[:3] == [95, 96, 91] and r.emas.score[4] == 99
    assert r.updated.tolist() == [False, False, False, True, False]
    # new lowest over {w1, w4, w3} then w5 appended: 95, 91, 99, 96 → w4
    assert r.lowest == LowestScoreEma(2, 91.0, 2)


def test_a_loser_gets_the_passive_update_with_the_stored_quantile() -> None:
    state = emas([0.5, 0.7, 0.2], 5)
    r = admit_submissions(np.array([0, 1, 2]), state, None, 0.4, 0.1, cap=2, nonce=9)
    assert r.admission.tolist() == [A.ADMITTED, A.ADMITTED, A.PASSIVE]
    assert r.active.tolist() == [True, True, False]
    # 0.1·0.4 + 0.9·0.2
    assert r.emas.score[2] == pytest.approx(0.22, rel=1e-15)
    assert r.emas.block.tolist() == [5, 5, 9]
    assert r.passive.tolist() == [NONE, NONE, 2] and (r.evicted == NONE).all()
    # the cache is written on the first comparison even without a replacement
    assert r.lowest == LowestScoreEma(0, 0.5, 5)


def test_first_time_passive_update_takes_the_quantile_outright() -> None:
    # 1 has no EMA: it reads as 0, loses against 0.5 and gets EMA = quantile (CalcEma first time)
    r = admit_submissions(np.array([0, 1]), emas([0.5, np.nan], 3), None, -0.4, 0.1, 1, 8)
    assert r.admission.tolist() == [A.ADMITTED, A.PASSIVE]
    assert r.emas.score[1] == -0.4 and r.emas.block[1] == 8
    # an evicted member without EMA gets the quantile too
    r = admit_submissions(np.array([0, 1]), emas([np.nan, 0.3], 3), None, 0.4, 0.1, 1, 8)
    assert r.admission.tolist() == [A.ADMITTED, A.REPLACED_LOWEST]
    assert r.evicted[1] == 0 and r.emas.score[0] == 0.4
    assert r.lowest == LowestScoreEma(1, 0.3, 3)


def test_duplicate_submission_of_an_active_participant_is_rejected() -> None:
    state = emas([0.1, 0.2, 0.3], 1)
    fast = admit_submissions(np.array([2, 2, 0]), state, None, 0.0, 0.1, cap=3, nonce=5)
    assert fast.admission.tolist() == [A.ADMITTED, A.ALREADY_ACTIVE, A.ADMITTED]
    assert fast.active.tolist() == [True, False, True]
    slow = admit_submissions(np.array([0, 1, 0, 2, 1]), state, None, 0.0, 0.1, cap=2, nonce=5)
    # the full set meets 2 (0.3 > lowest 0.1): 0 is evicted; 1 resubmits while active
    assert slow.admission.tolist() == [
        A.ADMITTED,
        A.ADMITTED,
        A.ALREADY_ACTIVE,
        A.REPLACED_LOWEST,
        A.ALREADY_ACTIVE,
    ]
    assert slow.active.tolist() == [False, True, True]


def test_ema_written_at_most_once_per_nonce() -> None:
    state = emas([0.5, 0.7, 0.2, 0.1], [5, 5, 5, 9])
    r = admit_submissions(np.array([0, 1, 2, 2, 3]), state, None, 0.4, 0.1, cap=2, nonce=9)
    # 2 loses and is updated; its resubmission and 3 (EMA already at block 9) are refused
    assert r.admission.tolist() == [
        A.ADMITTED,
        A.ADMITTED,
        A.PASSIVE,
        A.EMA_ALREADY_UPDATED,
        A.EMA_ALREADY_UPDATED,
    ]
    assert r.emas.score[2] == pytest.approx(0.22, rel=1e-15)
    assert r.emas.score[3] == 0.1 and r.updated.tolist() == [False, False, True, False]


def test_ties_for_the_lowest_go_to_the_first_member_in_address_order() -> None:
    # members 3 and 1 both at 0.5 (3 arrived first); the scan is in address order → 1 is lowest
    state = emas([0.6, 0.5, 0.0, 0.5], 1)
    r = admit_submissions(np.array([3, 1, 0]), state, None, 0.0, 0.1, cap=2, nonce=4)
    assert r.evicted[2] == 1 and r.active.tolist() == [True, False, False, True]
    # re-scan: previous member 3 (0.5), then the newcomer 0 (0.6) → 3
    assert r.lowest == LowestScoreEma(3, 0.5, 1)


def test_an_equal_score_does_not_displace_the_lowest() -> None:
    r = admit_submissions(np.array([0, 1]), emas([0.5, 0.5], 1), None, 0.9, 0.1, 1, 4)
    assert r.admission.tolist() == [A.ADMITTED, A.PASSIVE]
    assert r.emas.score[1] == pytest.approx(0.1 * 0.9 + 0.9 * 0.5, rel=1e-15)


def test_newcomer_is_scanned_last_when_the_lowest_is_recomputed() -> None:
    # members {4: 0.5, 5: 0.3}; 0 (0.5) evicts 5; re-scan [4] then 0 → tie → 4 stays lowest
    # although 0 has the smaller address; 6 (0.7) then evicts 4, not 0.
    state = emas([0.5, 0, 0, 0, 0.5, 0.3, 0.7], 1)
    r = admit_submissions(np.array([5, 4, 0, 6]), state, None, 0.0, 0.1, cap=2, nonce=3)
    assert r.evicted.tolist() == [NONE, NONE, 5, 4]
    assert r.active.tolist() == [True, False, False, False, False, False, True]
    assert r.lowest == LowestScoreEma(0, 0.5, 1)


def test_the_stale_cache_of_a_previous_round_is_used_and_can_overfill_the_set() -> None:
    first = go_append_inference_round()
    assert first.lowest == LowestScoreEma(2, 91.0, 2)
    # scoring of round 10 updated the active members' EMAs; w4 (index 2) now 200 at block 10
    score = first.emas.score.copy()
    block = first.emas.block.copy()
    score[2], block[2] = 200.0, 10
    # round 20: 0, 1, 4, 3 fill the set; 2 arrives and is compared with the *cached* 91
    r = admit_submissions(
        np.array([0, 1, 4, 3, 2]), ScoreEmas(score, block), first.lowest, 1000.0, 0.1, 4, 20
    )
    assert r.admission[-1] == A.REPLACED_LOWEST
    # the cached record (2, 91) gets the passive update from the cached value: 100 + 0.9·91
    assert r.passive[-1] == 2 and r.evicted[-1] == NONE  # it was not a member: nobody leaves
    assert r.emas.score[2] == pytest.approx(181.9, rel=1e-15) and r.emas.block[2] == 20
    assert r.active.sum() == 5  # cap + 1
    # re-scan [0, 1, 3, 4] then 2: 95, 96, 181, 99, 181.9 → 0
    assert r.lowest == LowestScoreEma(0, 95.0, 2)


def test_a_stale_cached_participant_passively_updated_earlier_in_the_round() -> None:
    """The stale cache names 2, whose EMA fell below the cached 0.5: its own submission is a
    passive update; the later replacement then updates the *cached* record over it (the
    chain writes both, in this order), and nobody leaves the set."""
    state = emas([0.2, 0.9, 0.1, 0.3], 1)
    stale = LowestScoreEma(2, 0.5, 1)
    r = admit_submissions(np.array([0, 2, 1]), state, stale, 1.0, 0.1, cap=1, nonce=10)
    assert r.admission.tolist() == [A.ADMITTED, A.PASSIVE, A.REPLACED_LOWEST]
    assert r.passive.tolist() == [NONE, 2, 2] and r.evicted.tolist() == [NONE] * 3
    assert r.emas.score[2] == 0.1 * 1.0 + 0.9 * 0.5 and r.emas.block[2] == 10
    assert r.active.tolist() == [True, True, False, False]


def test_a_stale_cached_participant_who_does_not_submit() -> None:
    """The stale cache names 3, who does not submit this round: the first replacement updates
    its record and evicts nobody; later submitters are compared with the new lowest member."""
    state = emas([0.2, 0.9, 0.95, 0.1], 1)
    stale = LowestScoreEma(3, 0.5, 1)
    r = admit_submissions(np.array([0, 1, 2]), state, stale, 1.0, 0.1, cap=1, nonce=10)
    assert r.admission.tolist() == [A.ADMITTED, A.REPLACED_LOWEST, A.REPLACED_LOWEST]
    assert r.passive.tolist() == [NONE, 3, 0] and r.evicted.tolist() == [NONE, NONE, 0]
    assert r.active.tolist() == [False, True, True, False]
    assert r.emas.block.tolist() == [10, 1, 1, 10]


def test_cap_zero_without_a_cached_lowest_rejects_everything() -> None:
    r = admit_submissions(np.array([0, 1]), emas([0.5, 0.6], 1), None, 0.0, 0.1, cap=0, nonce=3)
    assert r.admission.tolist() == [A.NO_LOWEST, A.NO_LOWEST]
    assert not r.active.any() and not r.updated.any() and r.lowest is None


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"arrivals": np.array([0, 5])}, "arrivals"),
        ({"arrivals": np.array([0.0, 1.0])}, "arrivals"),
        ({"cap": -1}, "cap"),
        ({"nonce": 0}, "nonce"),
        ({"last_quantile": float("nan")}, "last_quantile"),
        ({"alpha": 1.5}, "alpha"),
        ({"lowest": LowestScoreEma(9, 0.1, 1)}, "lowest.participant"),
    ],
)
def test_admission_rejects_bad_input(kwargs: dict, match: str) -> None:
    args = {
        "arrivals": np.array([0, 1]),
        "emas": emas([0.1, 0.2], 1),
        "lowest": None,
        "last_quantile": 0.0,
        "alpha": 0.1,
        "cap": 1,
        "nonce": 3,
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        admit_submissions(**args)


def test_score_emas_reject_bad_state() -> None:
    with pytest.raises(ValueError, match=r"ScoreEmas\.score"):
        ScoreEmas(np.array([np.inf]), np.array([1]))
    with pytest.raises(ValueError, match=r"ScoreEmas\.block"):
        ScoreEmas(np.array([0.1, 0.2]), np.array([1]))
    with pytest.raises(ValueError, match=r"ScoreEmas\.block"):
        ScoreEmas(np.array([np.nan]), np.array([3]))


def test_params_lookups() -> None:
    mod, top = ModuleParams(), TopicParams(active_forecaster_quantile=0.3)
    assert active_set_cap(mod, ActorClass.INFERER) == 32
    assert active_set_cap(mod, ActorClass.FORECASTER) == 6
    assert active_set_cap(mod, ActorClass.REPUTER) == 6
    assert active_quantile(top, ActorClass.FORECASTER) == 0.3


ema_values = st.one_of(st.floats(-5, 5, allow_nan=False), st.just(float("nan")))


@st.composite
def rounds(draw):  # type: ignore[no-untyped-def]
    n = draw(st.integers(1, 9))
    values = draw(st.lists(ema_values, min_size=n, max_size=n))
    blocks = draw(st.lists(st.integers(0, 9), min_size=n, max_size=n))
    arrivals = draw(st.lists(st.integers(0, n - 1), max_size=3 * n))
    cap = draw(st.integers(1, n))
    q = draw(st.floats(-5, 5))
    return emas(values, blocks), np.array(arrivals, dtype=np.intp), cap, q


@settings(max_examples=300, deadline=None)
@given(rounds())
def test_streaming_invariants_without_a_stale_cache(case) -> None:  # type: ignore[no-untyped-def]
    state, arrivals, cap, q = case
    r = admit_submissions(arrivals, state, None, q, 0.1, cap, nonce=10)
    assert r.active.sum() <= cap
    # every participant passively updated at most once in the round
    touched = r.passive[r.passive != NONE]
    assert len(touched) == len(set(touched.tolist()))
    assert set(np.flatnonzero(r.updated).tolist()) == set(touched.tolist())
    assert (r.emas.block[r.updated] == 10).all()
    # nobody who is active was updated, members never lose their place except by eviction
    assert not (r.active & r.updated).any()
    assert set(np.flatnonzero(r.active)) <= set(arrivals.tolist())


@settings(max_examples=300, deadline=None)
@given(rounds())
def test_everyone_submitting_once_leaves_the_best_emas_in_the_set(case) -> None:  # type: ignore[no-untyped-def]
    state, arrivals, cap, q = case
    once = np.array(list(dict.fromkeys(arrivals.tolist())), dtype=np.intp)
    r = admit_submissions(once, state, None, q, 0.1, cap, nonce=10)
    value = state.value
    best = np.sort(value[once])[::-1][:cap]
    np.testing.assert_array_equal(np.sort(value[r.active])[::-1], best)
    # the batch form draws a set with the same EMA values
    submitted = np.zeros(len(value), dtype=bool)
    submitted[once] = True
    top, _ = find_top_n_by_score_desc(state.score, submitted, cap)
    np.testing.assert_array_equal(np.sort(value[top]), np.sort(value[r.active]))


def _one_by_one(arrivals, state, lowest, q, alpha, cap, nonce):  # type: ignore[no-untyped-def]
    """Independent oracle: the chain's ``Append*`` loop restated submission by submission."""
    value, block = state.value.copy(), state.block.copy()
    member = np.zeros(len(value), dtype=bool)
    codes, passive, evicted, size = [], [], [], 0
    for p in arrivals.tolist():
        passive.append(NONE)
        evicted.append(NONE)
        if member[p]:
            codes.append(A.ALREADY_ACTIVE)
            continue
        if size < cap:
            member[p], size = True, size + 1
            codes.append(A.ADMITTED)
            continue
        if block[p] >= nonce:
            codes.append(A.EMA_ALREADY_UPDATED)
            continue
        if lowest is None:
            idx = np.flatnonzero(member)
            if idx.size == 0:
                codes.append(A.NO_LOWEST)
                continue
            j = int(idx[np.argmin(value[idx])])
            lowest = LowestScoreEma(j, float(value[j]), int(block[j]))
        if value[p] > lowest.score:
            loser = lowest.participant
            first = lowest.block == 0 and lowest.score == 0.0
            value[loser] = q if first or q == lowest.score else 0.1 * q + 0.9 * lowest.score
            block[loser] = nonce
            passive[-1] = loser
            if member[loser]:
                member[loser], size = False, size - 1
                evicted[-1] = loser
            idx = np.flatnonzero(member)
            member[p], size = True, size + 1
            j = int(idx[np.argmin(value[idx])]) if idx.size else p
            if idx.size and not value[p] < value[j]:
                pass
            else:
                j = p
            lowest = LowestScoreEma(j, float(value[j]), int(block[j]))
            codes.append(A.REPLACED_LOWEST)
        else:
            first = block[p] == 0 and value[p] == 0.0
            value[p] = q if first or q == value[p] else 0.1 * q + 0.9 * value[p]
            block[p] = nonce
            passive[-1] = p
            codes.append(A.PASSIVE)
    return member, value, block, codes, lowest, passive, evicted


@settings(max_examples=400, deadline=None)
@given(rounds(), st.booleans(), st.integers(0, 8))
def test_stretches_of_passive_updates_match_the_one_by_one_loop(case, stale, who) -> None:  # type: ignore[no-untyped-def]
    """The vectorised passive stretches give exactly the chain's submission-by-submission
    outcome: active set, EMAs, blocks, per-submission codes and the carried cache — with
    repeats, EMAs already written at the nonce and a stale cache from an earlier round."""
    state, arrivals, cap, q = case
    n = len(state.value)
    long = np.concatenate([arrivals, np.random.default_rng(who).integers(0, n, 200)])
    _check_against_one_by_one(long, state, cap, q, stale, who)


def _check_against_one_by_one(arrivals, state, cap, q, stale, who) -> None:  # type: ignore[no-untyped-def]
    n = len(state.value)
    lowest = LowestScoreEma(who % n, float(state.value[who % n]) - 0.05, 3) if stale else None
    r = admit_submissions(arrivals, state, lowest, q, 0.1, cap, nonce=10)
    member, value, block, codes, last, passive, evicted = _one_by_one(
        arrivals, state, lowest, q, 0.1, cap, 10
    )
    np.testing.assert_array_equal(r.active, member)
    np.testing.assert_array_equal(r.passive, passive)
    np.testing.assert_array_equal(r.evicted, evicted)
    np.testing.assert_array_equal(r.emas.value, value)
    np.testing.assert_array_equal(r.emas.block, block)
    np.testing.assert_array_equal(r.admission, np.array(codes, dtype=np.int8))
    assert r.lowest == last


@settings(max_examples=300, deadline=None)
@given(rounds(), st.booleans(), st.integers(0, 8), st.booleans())
def test_a_round_without_repeats_matches_the_one_by_one_loop(case, stale, who, some) -> None:  # type: ignore[no-untyped-def]
    """Every participant submitting once (the model's rounds, where repeats need no search), or
    only some of them — the stale cache may then name one who does not submit."""
    state, _, cap, q = case
    rng = np.random.default_rng(who)
    n = len(state.value)
    order = rng.permutation(n)[: rng.integers(1, n + 1) if some else n].astype(np.intp)
    _check_against_one_by_one(order, state, cap, q, stale, who)


@pytest.mark.parametrize("seed", range(6))
def test_large_rounds_without_repeats_match_the_one_by_one_loop(seed: int) -> None:
    """Thousands of submitters for a few places (the model's many-registered topics): the
    search for the next replacement runs over several growing windows between replacements,
    and the deferred passive updates are written around the replacements."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(300, 3000))
    score = rng.normal(0.0, 1.0, n)
    score[rng.random(n) < 0.2] = np.nan  # no EMA yet
    block = np.where(np.isnan(score), 0, rng.integers(1, 12, n))
    state = ScoreEmas(score, block)
    some = rng.permutation(n)[: int(rng.integers(n // 2, n + 1))].astype(np.intp)
    _check_against_one_by_one(some, state, int(rng.integers(1, 40)), 0.3, seed % 2 == 1, seed)


# ---------------------------------------------------------------------------------------------
# Batch top-N


def test_batch_round_worked_by_hand() -> None:
    prev = np.array([0.3, 0.1, 0.5, 0.2])
    metric = np.array([2.0, np.nan, 1.0, np.nan])
    r = batch_sortition(prev, np.ones(4, bool), metric, 2, 0.2, 0.1, PassiveQuantile.SAME_ROUND)
    assert r.active.tolist() == [True, False, True, False]
    assert r.ema_rank.tolist() == [1, 3, 0, 2]
    assert r.metric_rank.tolist() == [0, -1, 1, -1]
    assert r.quality_cutoff == 0.3
    # metrics descending [2, 1]; position 0.8·1 → 2 + 0.8·(1 − 2)
    assert r.quality_quantile == pytest.approx(1.2, rel=1e-15)
    want = [0.1 * 2 + 0.9 * 0.3, 0.1 * 1.2 + 0.9 * 0.1, 0.1 * 1 + 0.9 * 0.5, 0.1 * 1.2 + 0.9 * 0.2]
    np.testing.assert_allclose(r.score_ema, want, rtol=1e-15)
    chain = batch_sortition(
        prev, np.ones(4, bool), metric, 2, 0.2, 0.1, PassiveQuantile.LAST_STORED, 0.5
    )
    np.testing.assert_allclose(chain.score_ema[[1, 3]], [0.14, 0.23], rtol=1e-15)
    np.testing.assert_array_equal(chain.score_ema[[0, 2]], r.score_ema[[0, 2]])


def test_batch_non_candidates_are_neither_drawn_nor_updated() -> None:
    prev = np.array([0.9, 0.1, 0.5, np.nan])
    cand = np.array([False, True, True, True])
    r = batch_sortition(
        prev, cand, np.array([0, 3.0, 1.0, 0]), 2, 0.5, 0.1, PassiveQuantile.SAME_ROUND
    )
    assert r.active.tolist() == [False, True, True, False]  # NaN reads as 0 < 0.1
    assert r.score_ema[0] == 0.9 and r.ema_rank[0] == -1
    assert r.score_ema[3] == r.quality_quantile == 2.0  # first time: the quantile outright


def test_batch_ties_go_to_the_lower_index_and_batches_broadcast() -> None:
    top, rank = find_top_n_by_score_desc(np.array([0.2, 0.2, 0.2]), np.ones(3, bool), 2)
    assert top.tolist() == [True, True, False] and rank.tolist() == [0, 1, 2]
    prev = np.array([[0.3, 0.1, 0.5, 0.2], [0.0, 0.4, -0.1, 0.2]])
    metric = np.array([[2.0, 0, 1.0, 0], [0.5, 0.7, 0, 0.2]])
    both = batch_sortition(
        prev, np.ones((2, 4), bool), metric, 2, 0.2, 0.1, PassiveQuantile.SAME_ROUND
    )
    for b in range(2):
        one = batch_sortition(
            prev[b], np.ones(4, bool), metric[b], 2, 0.2, 0.1, PassiveQuantile.SAME_ROUND
        )
        np.testing.assert_array_equal(both.score_ema[b], one.score_ema)
        np.testing.assert_array_equal(both.active[b], one.active)
        assert both.quality_quantile[b] == one.quality_quantile


def test_batch_rejects_missing_metric_of_a_drawn_participant() -> None:
    with pytest.raises(ValueError, match="metric"):
        batch_sortition(
            np.array([0.3, 0.1]),
            np.ones(2, bool),
            np.array([np.nan, 1.0]),
            1,
            0.2,
            0.1,
            PassiveQuantile.SAME_ROUND,
        )
    with pytest.raises(ValueError, match="last_quantile"):
        batch_sortition(
            np.array([0.3, 0.1]),
            np.ones(2, bool),
            np.array([1.0, 1.0]),
            1,
            0.2,
            0.1,
            PassiveQuantile.LAST_STORED,
        )


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(-3, 3), min_size=1, max_size=10),
    st.data(),
)
def test_batch_draw_invariants(values, data) -> None:  # type: ignore[no-untyped-def]
    prev = np.array(values)
    cand = np.array(data.draw(st.lists(st.booleans(), min_size=len(values), max_size=len(values))))
    n = data.draw(st.integers(0, len(values)))
    r = batch_sortition(prev, cand, np.ones_like(prev), n, 0.2, 0.1, PassiveQuantile.SAME_ROUND)
    assert r.active.sum() == min(n, cand.sum())
    if r.active.any() and (cand & ~r.active).any():
        assert prev[r.active].min() >= prev[cand & ~r.active].max()
    assert sorted(r.ema_rank[cand].tolist()) == list(range(cand.sum()))


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_rank_desc_sorts_absent_entries_last_with_any_values(data) -> None:  # type: ignore[no-untyped-def]
    """The stable one-key sort rank_desc uses when every present value is finite agrees with
    sorting by presence first; values of ±inf (the other path) still rank absent ones last."""
    n = data.draw(st.integers(1, 9))
    value = st.one_of(st.sampled_from([0.0, 1.0, -1.0, np.inf, -np.inf]), st.floats(-5, 5))
    values = np.array(data.draw(st.lists(value, min_size=n, max_size=n)))
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    rank = rank_desc(values, mask)
    # reference: present values by descending value, ties to the lower index
    present = [i for i in range(n) if mask[i]]
    order = sorted(present, key=lambda i: (-values[i], i))
    want = np.full(n, -1)
    want[order] = np.arange(len(order))
    np.testing.assert_array_equal(rank, want)


# ---------------------------------------------------------------------------------------------
# Forecast elements


def test_forecast_elements_limited_to_top_inferers_duplicates_use_up_places() -> None:
    ema = np.array([0.9, 0.5, 0.1, 0.7])
    inferer = np.array([3, 1, 3, 0, 2])
    # entries by EMA: el3 (0.9), el0 (0.7), el2 (0.7), el1 (0.5), el4 (0.1); top 3 → {0, 3}
    keep = limit_forecast_elements(inferer, np.ones(5, bool), ema, 3)
    assert keep.tolist() == [True, False, False, True, False]
    keep = limit_forecast_elements(inferer, np.ones(5, bool), ema, 12)
    assert keep.tolist() == [True, True, False, True, True]


def test_forecast_elements_absent_ema_reads_zero_and_padding_is_ignored() -> None:
    ema = np.array([np.nan, -0.1, 0.3])
    inferer = np.array([[1, 0, 2, 2], [2, 1, 0, 0]])
    present = np.array([[True, True, True, False], [True, True, False, False]])
    keep = limit_forecast_elements(inferer, present, ema, 2)
    assert keep.tolist() == [[False, True, True, False], [True, True, False, False]]


def test_forecast_with_an_unregistered_inferer_is_dropped_entirely() -> None:
    registered = np.array([True, True, False])
    keep = limit_forecast_elements(
        np.array([0, 2]), np.array([True, True]), np.array([0.5, 0.4, 0.3]), 1, registered
    )
    assert not keep.any()


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_top_n_by_partition_equals_the_ranked_top_n(data) -> None:  # type: ignore[no-untyped-def]
    """The partition form selects exactly the ranked form's top n: ties at the n-th score to
    the lower index, NaN read as 0, absent entries never, everyone when n exceeds the row."""
    rows, length = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 12))
    value = st.one_of(st.just(np.nan), st.sampled_from([0.0, 1.0, -1.0]), st.floats(-3, 3))
    scores = np.array(data.draw(st.lists(value, min_size=rows * length, max_size=rows * length)))
    scores = scores.reshape(rows, length)
    flags = data.draw(st.lists(st.booleans(), min_size=rows * length, max_size=rows * length))
    present = np.array(flags).reshape(rows, length)
    n = data.draw(st.integers(0, 14))
    want, _ = find_top_n_by_score_desc(scores, present, n)
    np.testing.assert_array_equal(top_n_by_score_desc(scores, present, n), want)


@pytest.mark.parametrize("seed", range(8))
def test_top_n_of_sparse_rows_equals_the_ranked_top_n(seed: int) -> None:
    """Rows where a few percent of the entries are present (forecasts naming some of
    thousands of registered inferers) take the sorted-list form: the same selection, ties
    (many EMAs equal, NaN read as 0, −0 = 0) to the lower index."""
    rng = np.random.default_rng(seed)
    rows, length = int(rng.integers(1, 40)), int(rng.integers(200, 3000))
    if seed % 2:
        scores = rng.choice([0.0, -0.0, 1.0, -1.0, np.nan], size=(rows, length))
    else:
        scores = rng.normal(size=(rows, length))
    present = rng.random((rows, length)) < rng.choice([0.005, 0.02, 0.05])
    n = int(rng.integers(1, 20))
    want, _ = find_top_n_by_score_desc(scores, present, n)
    got = top_n_by_score_desc(scores, present, n)
    np.testing.assert_array_equal(got, want)
    assert (got.sum(axis=-1) == np.minimum(present.sum(axis=-1), n)).all()


def test_top_n_by_partition_rejects_a_bad_n() -> None:
    with pytest.raises(ValueError, match="n = -1 is invalid"):
        top_n_by_score_desc(np.zeros(3), np.ones(3, bool), -1)
    with pytest.raises(ValueError, match=r"n = 2\.0 is invalid"):
        top_n_by_score_desc(np.zeros(3), np.ones(3, bool), 2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="scores = "):
        top_n_by_score_desc(np.array([0.0, np.inf]), np.ones(2, bool), 1)


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_forecast_elements_one_per_inferer_are_the_top_n(data) -> None:  # type: ignore[no-untyped-def]
    """Element j naming inferer j (the model's forecasts): the kept elements are exactly the top
    ``cap`` present ones by EMA, what the model asks of find_top_n_by_score_desc."""
    t, k, n = (
        data.draw(st.integers(1, 3)),
        data.draw(st.integers(1, 3)),
        data.draw(st.integers(1, 8)),
    )
    ema_val = st.one_of(st.just(np.nan), st.sampled_from([0.0, 0.5]), st.floats(-2, 2))
    ema = np.array(data.draw(st.lists(ema_val, min_size=t * n, max_size=t * n))).reshape(t, 1, n)
    flags = data.draw(st.lists(st.booleans(), min_size=t * k * n, max_size=t * k * n))
    present = np.array(flags).reshape(t, k, n)
    cap = data.draw(st.integers(1, 6))
    want = limit_forecast_elements(np.broadcast_to(np.arange(n), present.shape), present, ema, cap)
    got, _ = find_top_n_by_score_desc(np.broadcast_to(ema, present.shape), present, cap)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(
        top_n_by_score_desc(np.broadcast_to(ema, present.shape), present, cap), want
    )


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_forecast_element_invariants(data) -> None:  # type: ignore[no-untyped-def]
    n = data.draw(st.integers(1, 6))
    ema = np.array(data.draw(st.lists(st.floats(-2, 2), min_size=n, max_size=n)))
    inferer = np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=10)))
    cap = data.draw(st.integers(1, 5))
    keep = limit_forecast_elements(inferer, np.ones(inferer.size, bool), ema, cap)
    kept = inferer[keep]
    assert len(kept) == len(set(kept.tolist())) <= cap
    dropped = set(inferer.tolist()) - set(kept.tolist())
    if kept.size and dropped:
        assert ema[kept].min() >= max(ema[list(dropped)])


# ---------------------------------------------------------------------------------------------
# Score EMAs after scoring (§5.3)


def test_calc_ema_returns_current_when_equal_to_previous() -> None:
    assert 0.1 * 0.3 + 0.9 * 0.3 != 0.3  # the blend would round
    assert calc_ema(0.1, np.array(0.3), np.array(0.3), False) == 0.3


def test_active_set_ema_update_first_time_takes_the_score() -> None:
    prev = np.array([np.nan, 0.5, 0.3])
    got = update_active_score_emas(
        prev, np.array([0.2, 1.0, 9.0]), np.array([True, True, False]), 0.1
    )
    np.testing.assert_allclose(got, [0.2, 0.55, 0.3], rtol=1e-15)
    assert got[0] == 0.2 and got[2] == 0.3


def test_topic_quantile_of_instant_scores() -> None:
    s = np.array([3.0, 1.0, 5.0, 2.0, 4.0])
    every = np.ones(5, bool)
    # descending 5 4 3 2 1: q 0.25 → position 3 → 2; q 0.2 → 3.2 → 2 + 0.2·(1 − 2)
    assert topic_quantile_of_instant_scores(s, every, 0.25) == 2.0
    assert topic_quantile_of_instant_scores(s, every, 0.2) == pytest.approx(1.8, rel=1e-14)
    assert topic_quantile_of_instant_scores(s, np.zeros(5, bool), 0.2) == 0.0


def test_single_worker_scored_updates_nothing_but_a_single_reputer_does() -> None:
    prev = np.array([0.5, np.nan])
    scored = np.array([True, False])
    inst = np.array([0.0, 0.0])
    for actor in (ActorClass.INFERER, ActorClass.FORECASTER):
        e, q = score_emas_after_scoring(prev, inst, scored, 0.1, 0.25, 7.0, actor)
        np.testing.assert_array_equal(e, prev)
        assert q == 7.0
    e, q = score_emas_after_scoring(
        prev, np.array([1.0, 0]), scored, 0.1, 0.25, 7.0, ActorClass.REPUTER
    )
    assert e[0] == pytest.approx(0.55, rel=1e-15) and np.isnan(e[1]) and q == 1.0
    e, q = score_emas_after_scoring(
        prev, np.array([1.0, 3.0]), np.ones(2, bool), 0.1, 0.5, 7.0, ActorClass.INFERER
    )
    assert e[1] == 3.0 and q == 2.0
