"""The ledger's invariants: exact integer conservation, no negative balance, atomic failures."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from allora_sim.economy.ledger import Ledger, LedgerError

MAX = 10**27


def _ledger() -> Ledger:
    led = Ledger(MAX)
    led.open_many(["a", "b", "c"], [10**24, 5, 0])
    led.set_genesis_pools(unminted=MAX - 10**24 - 5 - 10**20, locked={"team": 10**20})
    return led


def test_genesis_accounts_for_every_token() -> None:
    led = _ledger()
    led.check()
    assert led.total() == MAX
    with pytest.raises(LedgerError, match="genesis pools"):
        Ledger(MAX).set_genesis_pools(unminted=1, locked={})


def test_transfers_mint_unlock_keep_the_supply() -> None:
    led = _ledger()
    led.transfer(0, 2, 3 * 10**23)
    led.transfer_many(np.array([0, 1]), np.array([2, 2]), [7, 5])
    led.mint(1, 10**21)
    led.unlock("team", 2, 10**19)
    led.check()
    assert led.balance("c") == 3 * 10**23 + 12 + 10**19
    assert led.balance("b") == 10**21
    assert led.minted_total == 10**21


def test_failures_change_nothing() -> None:
    led = _ledger()
    before = led.balances.copy()
    with pytest.raises(LedgerError, match="'b' would go negative"):
        led.transfer_many(np.array([0, 1]), np.array([2, 2]), [1, 6])
    np.testing.assert_array_equal(led.balances, before)
    with pytest.raises(LedgerError, match="exceeds the unminted allowance"):
        led.mint(0, led.unminted + 1)
    with pytest.raises(LedgerError, match="exceeds its locked"):
        led.unlock("team", 0, 10**20 + 1)
    with pytest.raises(LedgerError, match="integer amount"):
        led.transfer(0, 1, 0.5)
    with pytest.raises(LedgerError, match=">= 0"):
        led.transfer(0, 1, -1)
    led.check()
    # an account that does not exist (numpy would wrap −1 to the last one): nothing moves
    n = len(before)
    unminted, locked = led.unminted, dict(led.locked)
    for bad in (n, -1):
        with pytest.raises(LedgerError, match=f"no account {bad}"):
            led.transfer(0, bad, 1)
        with pytest.raises(LedgerError, match=f"no account {bad}"):
            led.transfer_many(np.full(9, 0), np.array([1] * 8 + [bad]), [1] * 9)
        with pytest.raises(LedgerError, match=f"no account {bad}"):
            led.transfer_many(np.array([0] * 8 + [bad]), np.full(9, 1), [1] * 9)
        with pytest.raises(LedgerError, match=f"no account {bad}"):
            led.pay_from(0, np.array([1] * 8 + [bad]), [1] * 9)
        with pytest.raises(LedgerError, match=f"no account {bad}"):
            led.pay_from(bad, np.full(9, 1), [1] * 9)
        with pytest.raises(LedgerError, match=f"no account {bad}"):
            led.collect(np.array([0, 1]), 5, bad)
        with pytest.raises(LedgerError, match=f"no account {bad}"):  # ascending payers
            led.collect(np.array(sorted([0, 1, bad])), 5, 2)
        for amounts in (5, [5, 7], 2 * 10**18):  # the fee, per-payer and whole-ALLO paths
            with pytest.raises(LedgerError, match=f"no account {bad}"):
                led.collect(np.array([1, bad]), amounts, 0)
        with pytest.raises(LedgerError, match=f"no account {bad}"):
            led.mint(bad, 1)
        with pytest.raises(LedgerError, match=f"no account {bad}"):
            led.unlock("team", bad, 1)
    with pytest.raises(LedgerError, match="'b' would go negative"):
        led.pay_from(1, np.full(9, 2), [1] * 9)  # b holds nothing
    np.testing.assert_array_equal(led.balances, before)
    assert (led.unminted, led.locked) == (unminted, locked)
    led.check()


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 10**25)), max_size=40)
)
def test_random_transfers_conserve_exactly(moves) -> None:
    led = Ledger(MAX)
    led.open_many(["w", "x", "y", "z"], [10**25, 10**24, 0, 3])
    led.set_genesis_pools(unminted=MAX - 10**25 - 10**24 - 3, locked={})
    for src, dst, amount in moves:
        try:
            led.transfer(src, dst, amount)
        except LedgerError:
            pass
        assert (led.balances >= 0).all()
    led.check()


@pytest.mark.parametrize("n", [40, 300])
def test_range_totals_of_few_and_many_accounts(n: int) -> None:
    """Spans of up to 128 accounts are summed as Python ints, longer ones on the limbs:
    the same exact totals, carries across the low limb included."""
    rng = np.random.default_rng(n)
    balances = [
        int(h) * 10**18 + int(x)
        for h, x in zip(rng.integers(0, 10**6, n), rng.integers(10**17, 10**18, n), strict=True)
    ]
    led = Ledger(MAX)
    led.open_many([f"a{i}" for i in range(n)], balances)
    led.set_genesis_pools(unminted=MAX - sum(balances), locked={})
    cuts = sorted(rng.choice(np.arange(1, n), 4, replace=False).tolist())
    ranges = [(0, cuts[0]), (cuts[1], cuts[2]), (cuts[2], cuts[2]), (cuts[3], n)]
    assert led.range_totals(ranges) == [sum(balances[a:b]) for a, b in ranges]


def test_range_totals_refuses_overlaps_and_ranges_beyond_the_accounts() -> None:
    led = Ledger(MAX)
    led.open_many(["a", "b", "c"], [1, 2, 3])
    with pytest.raises(LedgerError, match="overlap"):
        led.range_totals([(0, 2), (1, 3)])
    with pytest.raises(LedgerError, match=r"not within accounts 0\.\.3"):
        led.range_totals([(0, 4)])
    with pytest.raises(LedgerError, match="not within"):
        led.range_totals([(2, 1)])
    assert led.range_totals([]) == [] and led.range_totals([(1, 1)]) == [0]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 4), st.integers(0, 4), st.integers(0, 10**22)),
        min_size=1,
        max_size=12,
    )
)
def test_batched_transfers_equal_summed_debits_and_credits(moves) -> None:
    """``transfer_many`` with repeated, ascending or unordered accounts: all or nothing, each
    account debited its summed amounts against its balance before any credit arrives."""
    led = Ledger(MAX)
    led.open_many(["v", "w", "x", "y", "z"], [10**22, 10**21, 3 * 10**22, 0, 5])
    led.set_genesis_pools(unminted=MAX - 4 * 10**22 - 10**21 - 5, locked={})
    before = led.balances.tolist()
    src = np.array([m[0] for m in moves])
    dst = np.array([m[1] for m in moves])
    amounts = [m[2] for m in moves]
    debit: dict[int, int] = {}
    for s, a in zip(src.tolist(), amounts, strict=True):
        debit[s] = debit.get(s, 0) + a
    if any(before[s] < d for s, d in debit.items()):
        with pytest.raises(LedgerError, match="would go negative"):
            led.transfer_many(src, dst, amounts)
        assert led.balances.tolist() == before
        return
    led.transfer_many(src, dst, amounts)
    want = list(before)
    for s, d, a in moves:
        want[s] -= a
        want[d] += a
    assert led.balances.tolist() == want
    led.check()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 10**25), min_size=1, max_size=12))
def test_readers_agree_with_python_ints(balances) -> None:
    """range_totals / allo read the limbs as the exact integers they stand for."""
    led = Ledger(MAX)
    led.open("before", 7)  # ranges need not start at account 0
    names = [f"a{i}" for i in range(len(balances))]
    acct = led.open_many(names, balances)
    led.open("after", 5)
    led.set_genesis_pools(unminted=MAX - sum(balances) - 12, locked={})
    a0, end = int(acct[0]), int(acct[-1]) + 1
    assert led.range_totals([(a0, end)]) == [sum(balances)]
    cut = len(balances) // 2  # ranges of any size and order, an empty one included, with gaps
    third = len(balances) // 3
    assert led.range_totals(
        [(a0 + cut, end), (a0, a0), (a0, a0 + third), (0, 1), (end, end + 1)]
    ) == [sum(balances[cut:]), 0, sum(balances[:third]), 7, 5]
    exact = np.array([b / 10**18 for b in balances])  # correctly rounded
    np.testing.assert_allclose(led.allo(acct), exact, rtol=2.3e-16, atol=0)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.integers(0, 10**25), min_size=2, max_size=12),
    st.data(),
)
def test_collect_pays_each_affordable_fee(balances, data) -> None:
    """``collect`` against Python ints: each payer that holds its amount (one for all, or one
    each) pays it to the collector; payers named twice and a collector that pays too included
    (checked against the same fees one payer at a time, all or nothing per repeated payer)."""
    led = Ledger(MAX)
    acct = led.open_many([f"a{i}" for i in range(len(balances))], balances)
    led.set_genesis_pools(unminted=MAX - sum(balances), locked={})
    n = len(balances)
    src = data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=10))
    each = data.draw(st.booleans())
    amounts = (
        data.draw(st.lists(st.integers(0, 10**25), min_size=len(src), max_size=len(src)))
        if each
        else data.draw(st.integers(0, 10**25))
    )
    dst = data.draw(st.integers(0, n - 1))
    need = amounts if each else [amounts] * len(src)
    can = [balances[s] >= a for s, a in zip(src, need, strict=True)]
    debit: dict[int, int] = {}
    for s, a, c in zip(src, need, can, strict=True):
        if c:
            debit[s] = debit.get(s, 0) + a
    if any(balances[s] < d for s, d in debit.items()):
        with pytest.raises(LedgerError, match="would go negative"):
            led.collect(acct[src], amounts, int(acct[dst]))
        assert led.balances.tolist() == balances
        return
    got = led.collect(acct[src], amounts, int(acct[dst]))
    assert got.tolist() == can
    want = list(balances)
    for s, d in debit.items():
        want[s] -= d
    want[dst] += sum(debit.values())
    assert led.balances.tolist() == want
    led.check()


def test_collect_refuses_amounts_that_do_not_match_the_payers() -> None:
    led = _ledger()
    before = led.balances.tolist()
    with pytest.raises(LedgerError, match="one amount, or one per payer"):
        led.collect(np.array([0, 1]), [1, 2, 3], 2)
    assert led.balances.tolist() == before


BASE = 10**18


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.integers(0, 50),  # below the fee or just above
            st.integers(BASE - 50, BASE + 50),  # around one ALLO: the borrow
            st.integers(0, 10**25),
        ),
        min_size=1,
        max_size=12,
    ),
    st.data(),
)
def test_collecting_a_fee_from_distinct_ascending_payers(balances, data) -> None:
    """The fee path of ``collect`` (one amount below one ALLO, payers distinct and ascending:
    the data-sending fees of every epoch) against Python ints, the collector possibly a payer."""
    led = Ledger(MAX)
    acct = led.open_many([f"a{i}" for i in range(len(balances))], balances)
    led.set_genesis_pools(unminted=MAX - sum(balances), locked={})
    n = len(balances)
    start = data.draw(st.integers(0, n - 1))
    src = data.draw(
        st.one_of(  # any ascending payers, or a range of accounts (read as a slice)
            st.sets(st.integers(0, n - 1), min_size=1).map(sorted),
            st.integers(start + 1, n).map(lambda stop: list(range(start, stop))),
        )
    )
    fee = data.draw(st.one_of(st.integers(1, 50), st.integers(1, BASE - 1)))
    dst = data.draw(st.integers(0, n - 1))
    got = led.collect(acct[src], fee, int(acct[dst]))
    can = [balances[s] >= fee for s in src]
    assert got.tolist() == can
    want = list(balances)
    for s, c in zip(src, can, strict=True):
        want[s] -= fee if c else 0
    want[dst] += fee * sum(can)
    assert led.balances.tolist() == want
    led.check()


def test_collecting_a_fee_from_a_grid_of_payers_charges_each_naming() -> None:
    """Payers given as a 2-D grid, one account named twice: it pays twice (the fee path for
    distinct ascending payers must not take a grid whose rows merely ascend)."""
    led = Ledger(MAX)
    acct = led.open_many(["a", "b", "c", "d"], [100, 100, 100, 0])
    led.set_genesis_pools(unminted=MAX - 300, locked={})
    paid = led.collect(acct[np.array([[0, 1], [1, 2]])], 10, int(acct[3]))
    assert paid.tolist() == [[True, True], [True, True]]
    assert led.balances.tolist() == [90, 80, 90, 40]
    led.check()


@pytest.mark.parametrize("count", [3, 40])
def test_paying_from_one_account_equals_the_batched_transfer(count: int) -> None:
    """``pay_from`` (one source, its total debited at once) leaves every balance as
    ``transfer_many`` with that source repeated, the source among the destinations included."""
    rng = np.random.default_rng(count)
    dst = rng.integers(0, 3, count)
    dst[0] = 0  # the source pays itself too
    amounts = [
        int(x) * 10**15 + int(y)
        for x, y in zip(rng.integers(0, 10**6, count), rng.integers(0, 10**15, count), strict=True)
    ]
    a, b = _ledger(), _ledger()
    a.pay_from(0, dst, amounts)
    b.transfer_many(np.zeros(count, dtype=int), dst, amounts)
    np.testing.assert_array_equal(a.balances, b.balances)
    a.check()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 10**25), min_size=12, max_size=30),
    st.data(),
)
def test_paying_distinct_ascending_destinations_credits_each(balances, data) -> None:
    """``pay_from`` to distinct ascending accounts — a whole range of them (credited on
    slices of the limbs) or any ascending set — against Python ints, carries across the low
    limb and the source among the destinations included."""
    n = len(balances)
    src = data.draw(st.integers(0, n - 1))
    if data.draw(st.booleans()):
        balances[src] += 10**22  # a source that can pay (else nothing may move)
    led = Ledger(MAX)
    acct = led.open_many([f"a{i}" for i in range(n)], balances)
    led.set_genesis_pools(unminted=MAX - sum(balances), locked={})
    start = data.draw(st.integers(0, n - 9))
    dst = data.draw(
        st.one_of(  # more than the few amounts moved as Python ints
            st.integers(start + 9, n).map(lambda stop: list(range(start, stop))),
            st.sets(st.integers(0, n - 1), min_size=9).map(sorted),
        )
    )
    amounts = data.draw(
        st.lists(
            st.one_of(st.integers(0, 10**20), st.integers(BASE - 3, BASE + 3)),
            min_size=len(dst),
            max_size=len(dst),
        )
    )
    if sum(amounts) > balances[src]:
        with pytest.raises(LedgerError, match="would go negative"):
            led.pay_from(int(acct[src]), acct[dst], amounts)
        assert led.balances.tolist() == balances  # nothing moved
        return
    led.pay_from(int(acct[src]), acct[dst], amounts)
    want = list(balances)
    want[src] -= sum(amounts)
    for d, x in zip(dst, amounts, strict=True):
        want[d] += x
    assert led.balances.tolist() == want
    led.check()
