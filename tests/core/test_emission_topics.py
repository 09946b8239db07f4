"""x/mint emission functions and topic weights/drip/rewards against the Go tests (§11.3)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from allora_sim.conformance.golden import load_golden
from allora_sim.core import emission, topics
from allora_sim.core.params import MintParams, golden

ALLO = 10**18


@pytest.fixture(scope="module")
def tok(golden_dir: Path):
    return load_golden(golden_dir / "tokenomics_months.csv")


def _u(x: float) -> int:
    return int(x * ALLO)


def test_ehat_max_at_genesis(tok) -> None:
    _, mint = golden()
    got = emission.max_emission_per_staked_token(
        mint.maximum_monthly_percentage_yield,
        mint.previous_percentage_reward_to_staked_reputers,
        0.25,
    )
    assert got == pytest.approx(tok.loc[0, "ehat_max_i"], rel=1e-15)
    assert got == pytest.approx(((1.12) ** (1 / 12) - 1) / (0.25 + 0.75 / 3), rel=1e-12)


def test_ehat_target_e_and_emission_month_61(tok) -> None:
    m60, m61 = tok.loc[60], tok.loc[61]
    target = emission.target_emission_per_staked_token(
        0.025,
        _u(m60["ecosystem_tokens_total"]),
        _u(m60["network_tokens_staked"]),
        _u(m60["network_tokens_circulating"]),
        _u(m60["network_tokens_total"]),
    )
    assert target == pytest.approx(m61["ehat_target_i"], rel=1e-12)
    capped = emission.capped_target(target, m61["ehat_max_i"])
    assert capped == pytest.approx(m61["ehat_i"], rel=1e-12)
    e = emission.smoothed_emission(m61["ehat_target_i"], 0.1, m60["e_i"])
    assert e == pytest.approx(m61["e_i"], rel=1e-12)
    monthly = emission.monthly_emission(m61["e_i"], _u(m60["network_tokens_staked"]))
    assert monthly / ALLO == pytest.approx(m61["ecosystem_tokens_emission"], rel=1e-12)


def test_first_month_smoothing_uses_the_target_itself() -> None:
    assert emission.smoothed_emission(0.02, 0.1, None) == pytest.approx(0.02)


def test_locked_vesting_schedule(tok) -> None:
    _, mint = golden()
    bpm = 525_960
    for m in range(96):
        lock = emission.locked_vesting(bpm, bpm * m, mint)
        for group, attr in (
            ("investors_preseed", "investors_preseed"),
            ("investors_seed", "investors"),
            ("team", "team"),
        ):
            released = tok.loc[:m, f"{group}_tokens_emission"].sum()
            total = tok.loc[0, f"{group}_tokens_total"]
            want = total - released
            want = 0.0 if want < 1 else want
            got = getattr(lock, attr) / ALLO
            assert got == pytest.approx(want, rel=1e-5, abs=1e-6), (m, group)


def test_block_split_mints_only_the_shortfall() -> None:
    s = emission.block_split(1000, ecosystem_balance=300, unminted=10_000, validators_percent=0.25)
    assert (s.minted, s.validators, s.rewards) == (700, 250, 750)
    s = emission.block_split(1000, ecosystem_balance=0, unminted=400, validators_percent=0.25)
    assert s.minted == 400  # capped by the allowance
    s = emission.block_split(1000, ecosystem_balance=5000, unminted=0, validators_percent=0.25)
    assert s.minted == 0


def test_circulating_supply_never_negative() -> None:
    """§9.1: N_circ = MaxSupply − locked − ecosystemLocked; negative (even −1 uallo) → error."""
    assert emission.circulating_supply(100, 20, 30, 10) == 40
    assert emission.circulating_supply(10, 6, 2, 2) == 0
    for locked in (80, 61):  # 100 − 61 − 30 − 10 = −1
        with pytest.raises(ValueError, match="negative circulating"):
            emission.circulating_supply(100, locked, 30, 10)


def test_topic_weight_target_ema_and_zero_revenue() -> None:
    w = topics.topic_weight(
        np.array([100.0, 4.0, 9.0]),
        np.array([12.0, 0.0, 48.0]),
        12,
        np.array([np.nan, 5.0, 1.0]),
        0.5,
        0.5,
        0.5,
    )
    assert w[0] == pytest.approx(np.sqrt(100 * 1))  # no previous weight: the target
    assert w[1] == 0.0  # no fee revenue
    assert w[2] == pytest.approx(0.5 * np.sqrt(9 * 4) + 0.5 * 1.0)


def test_golden_topic_weights_follow_the_monthly_ema(tok) -> None:
    """§9.2: topic_weights = 0.9375·sqrt(stake·revenue) + 0.0625·previous (4 epochs of α 0.5)."""
    for m in range(2, 96):
        for i in range(3):
            row, prev = tok.loc[m], tok.loc[m - 1]
            if row[f"topic_id_{i}"] != prev[f"topic_id_{i}"] or row[f"topic_id_{i}"] == 0:
                continue
            target = topics.target_weight(
                row[f"topic_total_stake_{i}"], row[f"topic_total_fee_revenue_{i}"], 1, 0.5, 0.5
            )
            w = float(target)
            for _ in range(4):  # four epochs of alpha 0.5 at a constant target
                w = (
                    0.5 * float(target) + 0.5 * w
                    if _
                    else 0.5 * float(target) + 0.5 * prev[f"topic_weights_{i}"]
                )
            assert w == pytest.approx(row[f"topic_weights_{i}"], rel=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10**27), st.integers(1, 10**7), st.integers(1, 1000))
def test_drip_decays_and_never_goes_negative(revenue: int, bpm: int, ell: int) -> None:
    out = int(topics.drip(np.array([revenue], dtype=object), bpm, ell)[0])
    assert 0 <= out <= revenue


def _drip_by_decimals(revenue: int, bpm: int, ell: int) -> int:
    """``DripTopicFeeRevenue`` in the chain's own terms: 34-digit decimals rounded down."""
    from decimal import ROUND_DOWN, Decimal, localcontext

    if ell <= 0:
        return revenue
    with localcontext() as dec:
        dec.prec = 34
        dec.rounding = ROUND_DOWN
        epw = Decimal(bpm) / Decimal("4.345") / Decimal(ell)
        if epw == 0:
            return revenue
        return max(0, int(Decimal(revenue) - Decimal(revenue) / epw))


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.integers(0, 10**27),
        st.integers(-(10**6), 10**6),  # negative: no revenue is, but the arithmetic holds
        st.builds(lambda e, x: 10**e + x, st.integers(0, 40), st.integers(0, 10**6)),
    ),
    st.one_of(st.integers(-(10**6), 10**7), st.sampled_from([525_960, 864_000])),
    st.one_of(st.integers(-2, 1000), st.integers(1, 10**30)),
)
def test_drip_equals_the_decimal_arithmetic(revenue: int, bpm: int, ell: int) -> None:
    """The integer implementation gives the decimal one's result exactly, including revenue
    beyond 10^34 (where it falls back to decimals), tiny, zero and negative N_epw, negative
    revenue, and ℓ ≤ 0."""
    out = topics.drip(np.array([revenue, revenue], dtype=object), bpm, np.array([ell, 1]))
    assert int(out[0]) == _drip_by_decimals(revenue, bpm, ell)
    assert int(out[1]) == _drip_by_decimals(revenue, bpm, 1)
    assert int(topics.drip([revenue], bpm, ell)[0]) == int(out[0])  # scalar ℓ path


def test_drip_when_the_quotient_is_just_above_an_integer() -> None:
    """Revenues whose quotient C/N_epw lies just above an integer — by less than the digits the
    decimal keeps, or by more — the cases where ⌈q⌉ depends on the 34-digit truncation."""
    from decimal import Decimal

    hits = {True: 0, False: 0}
    for bpm, ell in ((10**7, 1), (864_000, 12), (10**9, 3)):
        n, d = (Decimal(bpm) / Decimal("4.345") / Decimal(ell)).as_integer_ratio()
        for digits in range(20, 34):
            for j in range(40):
                fl = 10**digits // max(1, n // d) + j
                c = -(-fl * n // d)  # the smallest revenue with ⌊C/N_epw⌋ = fl: tiny fraction
                if c >= 10**34:
                    continue
                kept = 34 - len(str(c * d // n))
                hits[(c * d - fl * n) * 10**kept < n] += 1
                assert int(topics.drip([c], bpm, ell)[0]) == _drip_by_decimals(c, bpm, ell)
    assert hits[True] and hits[False]  # both sides of the truncation were exercised


def test_drip_is_about_one_over_epochs_per_week() -> None:
    epw = (864_000 / 4.345) / 12
    out = int(topics.drip(np.array([10**24], dtype=object), 864_000, 12)[0])
    assert out == pytest.approx(10**24 * (1 - 1 / epw), rel=1e-12)


def test_skim_ties_break_by_topic_id() -> None:
    keep = topics.skim_top_topics(
        np.array([5.0, 7.0, 7.0, 1.0]), np.array([True, True, True, True]), 2
    )
    assert keep.tolist() == [False, True, True, False]
    keep = topics.skim_top_topics(
        np.array([5.0, 7.0, 7.0, 1.0]), np.array([True, False, True, True]), 2
    )
    assert keep.tolist() == [True, False, True, False]


def test_topic_rewards_and_treasury_cap() -> None:
    w = np.array([1.0, 3.0])
    r = topics.topic_rewards(w, 8.0, 100.0, 12, treasury=10_000.0)
    np.testing.assert_allclose(r, [150.0, 450.0])
    r = topics.topic_rewards(w, 8.0, 100.0, 12, treasury=300.0)
    np.testing.assert_allclose(r, [75.0, 225.0])  # treasury · wℓ / Σ wℓ
    r = topics.topic_rewards(np.array([3.0]), 8.0, 100.0, 12, treasury=300.0)
    np.testing.assert_allclose(r, [300.0])
    with pytest.raises(ValueError, match="sum of topic weights"):
        topics.topic_rewards(w, 0.0, 100.0, 12, treasury=1.0)


def test_mint_params_default() -> None:
    assert MintParams().maximum_monthly_percentage_yield == 0.0095


def test_activation_takes_a_free_place_or_replaces_the_lightest() -> None:
    """§7.3: candidates in id order; a free place is taken; when the places are full a candidate
    replaces the first of the lightest active topics if its weight is at least that one's."""
    active = np.array([True, True, False, False, False])
    weights = np.array([5.0, 3.0, 4.0, 2.0, 3.0])
    candidates = np.array([False, False, True, True, True])
    after, replaced = topics.activate_within_places(active, weights, candidates, 3)
    # topic 2 takes the free place; 3 (2 < 3) stays out; 4 (3 ≥ 3) replaces topic 1
    assert after.tolist() == [True, False, True, False, True]
    assert replaced.tolist() == [False, True, False, False, False]
    assert active.tolist() == [True, True, False, False, False]  # inputs untouched
    # a candidate replaced later in the same round loses its place again
    after, replaced = topics.activate_within_places(
        np.array([True, False, False]), np.array([1.0, 2.0, 3.0]), np.array([False, True, True]), 1
    )
    assert after.tolist() == [False, False, True]
    assert replaced.tolist() == [True, True, False]
