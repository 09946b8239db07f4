"""Exact uallo limbs (``allora_sim.core.uallo``) against Python's own integers, and the payouts
built on them against a plain-``int`` oracle of ``payoutRewards``' truncation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from allora_sim.core.rewards import payouts_uallo_rows
from allora_sim.core.uallo import BASE, Uallo

amounts = st.lists(st.integers(0, 10**27), min_size=1, max_size=30)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(0.0, 2.0**100), min_size=1, max_size=40))
def test_integral_floats_convert_exactly(xs) -> None:
    v = np.trunc(np.array(xs))
    got = Uallo.of_integral(v)
    assert got.ints() == [int(x) for x in v.tolist()]
    assert ((got.lo >= 0) & (got.lo < BASE)).all()


def test_huge_floats_convert_exactly_and_bad_ones_are_refused() -> None:
    v = np.array([[2.0**90, 3.0], [1e30, 2.0**63]])
    assert Uallo.of_integral(v).ints() == [[int(x) for x in row] for row in v.tolist()]
    for bad in ([-1.0], [np.nan], [np.inf]):
        with pytest.raises(ValueError, match="finite and >= 0"):
            Uallo.of_integral(np.array(bad))
    with pytest.raises(ValueError, match="beyond 2"):
        Uallo.of_integral(np.array([1e40]))


def test_integral_floats_at_the_limb_edges() -> None:
    # multiples of 10^18 and their float neighbours, where the first guess of hi is off by one
    edges = [float(k * BASE) for k in (9, 10, 123, 10**6, 999_999_999)]
    v = np.array(
        edges + [np.nextafter(e, 0) for e in edges] + [np.nextafter(e, 2e30) for e in edges]
    )
    v = np.trunc(v)
    assert Uallo.of_integral(v).ints() == [int(x) for x in v.tolist()]


@settings(max_examples=200, deadline=None)
@given(amounts, st.data())
def test_sums_comparisons_and_differences_are_exact(xs, data) -> None:
    ys = data.draw(st.lists(st.integers(0, 10**27), min_size=len(xs), max_size=len(xs)))
    a, b = Uallo.of_ints(xs), Uallo.of_ints(ys)
    assert a.total() == sum(xs)
    assert a.below(b).tolist() == [x < y for x, y in zip(xs, ys, strict=True)]
    assert a.plus(b).ints() == [x + y for x, y in zip(xs, ys, strict=True)]
    big, small = (
        [max(x, y) for x, y in zip(xs, ys, strict=True)],
        [min(x, y) for x, y in zip(xs, ys, strict=True)],
    )
    assert Uallo.of_ints(big).minus(Uallo.of_ints(small)).ints() == [
        x - y for x, y in zip(big, small, strict=True)
    ]
    cuts = sorted(set(data.draw(st.lists(st.integers(1, len(xs)), max_size=5))) | {0})
    cuts = [c for c in cuts if c < len(xs)]
    want = [sum(xs[c:d]) for c, d in zip(cuts, [*cuts[1:], len(xs)], strict=True)]
    assert a.sum_runs(np.array(cuts)).ints() == want


def _oracle(rewards: np.ndarray, available: list[int]) -> list[list[int]]:
    """payoutRewards' truncation with Python ints: trunc each payout, then take any excess over
    the topic reward back from the largest payouts first."""
    rows = []
    for r, avail in zip(rewards, available, strict=True):
        out = [int(x) if np.isfinite(x) and x > 0 else 0 for x in np.trunc(r).tolist()]
        excess = sum(out) - avail
        for i in np.argsort(-r, kind="stable").tolist():
            take = min(max(excess, 0), out[i])
            out[i] -= take
            excess -= take
        rows.append(out)
    return rows


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 5),
    st.integers(1, 40),
    st.floats(0.0, 27.0),
    st.floats(0.3, 1.0),
    st.integers(0, 2**32 - 1),
)
def test_payouts_equal_the_int_oracle(t, p, digits, cap, seed) -> None:
    """Excess over the topic reward (float rounding, or a smaller reward than the fractions
    imply) is taken from the largest payouts, exactly as with Python ints."""
    rng = np.random.default_rng(seed)
    frac = rng.dirichlet(np.ones(p), size=t)
    frac[rng.random(frac.shape) < 0.2] = np.nan
    reward = 10.0**digits * rng.uniform(0.5, 1.0, t)
    rewards = frac * reward[:, None]
    available = [int(x * cap) for x in reward.tolist()]
    assert payouts_uallo_rows(rewards, available) == _oracle(rewards, available)


def test_long_sums_fall_back_to_python_ints(monkeypatch) -> None:
    """Beyond the terms whose partial sums fit int64, sums are exact through Python ints."""
    from allora_sim.core import uallo

    xs = [10**27 - 1, BASE - 1, 5, 3 * BASE + 7, BASE - 1, 0, 12 * 10**24 + 1]
    cuts = np.array([0, 2, 5])
    want = [sum(xs[0:2]), sum(xs[2:5]), sum(xs[5:])]
    assert Uallo.of_ints(xs).sum_runs(cuts).ints() == want
    monkeypatch.setattr(uallo, "_MAX_TERMS", 4)
    assert Uallo.of_ints(xs).sum_runs(cuts).ints() == want
    assert Uallo.of_ints(xs).total() == sum(xs)


@pytest.mark.parametrize("n", [1, 32, 33, 128, 129, 1000])
def test_totals_and_ints_on_either_side_of_their_shortcuts(n: int) -> None:
    """``total`` sums up to 128 amounts as Python ints and more on the limbs; ``ints`` turns
    up to 32 amounts into Python ints one by one, and reads more that are all below 9 ALLO
    through int64: exact either way."""
    rng = np.random.default_rng(n)
    big = [
        int(x) * 10**9 + int(y)
        for x, y in zip(rng.integers(0, 10**18, n), rng.integers(0, 10**9, n), strict=True)
    ]
    small = [int(x) for x in rng.integers(0, BASE, n)]
    # whole ALLO up to 8 fit int64 with their uallo; from 9 on (≥ 9·10^18) some do not
    mid = [int(h) * BASE + int(x) for h, x in zip(rng.integers(0, 9, n), small, strict=True)]
    edge = [9 * BASE + x for x in small]
    for xs in (big, small, mid, edge):
        u = Uallo.of_ints(xs)
        assert u.total() == sum(xs)
        assert u.ints() == xs
    assert not Uallo.of_ints(small).hi.any()
