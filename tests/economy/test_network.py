"""Genesis allocation, fees, stake and delegation through the ledger (exact conservation)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from allora_sim.core.params import MintParams
from allora_sim.economy.network import UALLO, Economy, uallo, uallo_limbs


def _economy(n_topics: int = 2) -> Economy:
    reg = {"inferers": 3, "forecasters": 1, "reputers": 2, "consumers": 1, "delegators": 2}
    eco = Economy(MintParams(), n_topics, reg, np.array([0, 1]))
    t = np.repeat(np.arange(n_topics), 2)
    s = np.tile(np.arange(2), n_topics)
    eco.fund("reputers", t, s, np.full(len(t), 20_000.0))
    eco.stake_own(t, s, np.full(len(t), 10_000.0))
    eco.fund("consumers", np.arange(n_topics), np.zeros(n_topics, int), np.full(n_topics, 50.0))
    return eco


def test_genesis_shares_are_exact_decimal_amounts() -> None:
    eco = _economy()
    led = eco.ledger
    supply = 10**27
    assert led.balance("foundation") == supply // 10  # 10 %, exactly
    assert led.locked == {
        "investors_preseed": supply // 20,
        "investors": 2605 * 10**23,
        "team": 175 * 10**24,
    }
    assert eco.ecosystem_allowance == 3595 * 10**23
    assert led.unminted == eco.ecosystem_allowance
    eco.check()


def test_fees_go_to_the_ecosystem_and_count_as_revenue() -> None:
    eco = _economy()
    before = eco.ledger.balance("ecosystem")
    paid = eco.pay_fees("consumers", np.array([0, 1]), np.array([0, 0]), uallo([5.0, 500.0]))
    assert paid.tolist() == [True, False]  # the second cannot afford 500 ALLO
    assert eco.ledger.balance("ecosystem") - before == 5 * UALLO
    assert eco.revenue.tolist() == [5 * UALLO, 0]
    eco.check()


def test_one_fee_for_all_is_the_same_as_a_list_of_equal_fees() -> None:
    fee = 20 * UALLO  # each consumer holds 50 ALLO (topic 2's 60): two fees (three), then none
    one, many = _economy(3), _economy(3)
    t, s = np.arange(3), np.zeros(3, dtype=int)
    for eco in (one, many):
        eco.fund("consumers", np.array([2]), np.array([0]), np.array([10.0]))
    seen = []
    for _ in range(4):
        got = one.pay_fees("consumers", t, s, fee)
        want = many.pay_fees("consumers", t, s, [fee] * 3)
        assert got.tolist() == want.tolist()
        seen.append(got.tolist())
    assert seen == [[True] * 3, [True] * 3, [False, False, True], [False] * 3]
    assert one.revenue.tolist() == many.revenue.tolist() == [2 * fee, 2 * fee, 3 * fee]
    assert one.ledger.balances.tolist() == many.ledger.balances.tolist()
    one.check()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from([np.nan, np.inf, -np.inf]),
            st.floats(-1e12, 1e12),  # beyond the supply of 10^9 ALLO
            st.floats(0.0, 20.0),  # around 2^63 uallo = 9.22 ALLO
            st.floats(0.0, 1e-15),  # below one uallo and a few
            st.floats(0.0, 1e9),
        ),
        max_size=20,
    )
)
def test_uallo_limbs_are_the_truncated_uallo_integers(allo: list[float]) -> None:
    limbs = uallo_limbs(np.array(allo, dtype=np.float64))
    assert limbs.ints() == uallo(np.array(allo, dtype=np.float64))


@pytest.mark.parametrize("topics", [[0, 1, 2], [2, 0, 2], [1, 1, 1]])
def test_fees_given_as_limbs_or_ints_book_the_same(topics: list[int]) -> None:
    """Per-payer fees as Uallo limbs (the consumers' payments) or as Python ints: the same
    payments, balances and per-topic revenue, topics distinct or repeated."""
    t = np.array(topics)
    amounts = np.array([12.5, 0.0, 0.5])  # one pays nothing, one less than 1 ALLO
    limbs, ints = _economy(3), _economy(3)
    payers = limbs.accounts["consumers"][:, 0]  # distinct payers, for any topics
    expected = [0, 0, 0]
    start = limbs.revenue.tolist()
    for _ in range(6):  # until some cannot afford theirs (50 ALLO each)
        got = limbs.collect_fees(payers, t, uallo_limbs(amounts))
        want = ints.collect_fees(payers, t, uallo(amounts))
        assert got.tolist() == want.tolist()
        for topic, ok, amount in zip(topics, got.tolist(), uallo(amounts), strict=True):
            expected[topic] += amount if ok else 0
    assert not got.all()
    assert [r - r0 for r, r0 in zip(limbs.revenue.tolist(), start, strict=True)] == expected
    assert limbs.revenue.tolist() == ints.revenue.tolist()
    assert limbs.fees_total.tolist() == ints.fees_total.tolist()
    assert limbs.ledger.balances.tolist() == ints.ledger.balances.tolist()
    limbs.check()


@pytest.mark.parametrize("everyone", [True, False])
def test_fees_where_sent_charge_exactly_the_senders_who_can_pay(everyone: bool) -> None:
    """``pay_fees_where``: every agent whose cell is set pays the fee once, if it can; the
    masks returned say who paid; revenue grows by the fees paid per topic — the same whether
    everyone sent (the fixed payer list) or not."""
    eco = _economy(2)
    fee = 7 * 10**17
    eco.fund("inferers", np.array([0, 0, 1]), np.array([0, 2, 1]), np.array([1.0, 1.0, 1.0]))
    eco.fund("forecasters", np.array([1]), np.array([0]), np.array([5.0]))
    sent = {"inferers": np.ones((2, 3), bool), "forecasters": np.ones((2, 1), bool)}
    if not everyone:
        sent["inferers"][0, 2] = False  # funded but not sending: not charged
        sent["forecasters"][1, 0] = False
    before = eco.ledger.balances.copy()
    rev0 = eco.revenue.copy()
    paid = eco.pay_fees_where(sent, fee)
    funded_inf = np.zeros((2, 3), bool)
    funded_inf[[0, 0, 1], [0, 2, 1]] = True
    funded_fc = np.array([[False], [True]])
    assert np.array_equal(paid["inferers"], sent["inferers"] & funded_inf)
    assert np.array_equal(paid["forecasters"], sent["forecasters"] & funded_fc)
    after = eco.ledger.balances
    for role in ("inferers", "forecasters"):
        for (t, slot), did in np.ndenumerate(paid[role]):
            acct = eco.accounts[role][t, slot]
            assert after[acct] == before[acct] - (fee if did else 0)
    per_topic = [sum(int(paid[r][t].sum()) for r in paid) * fee for t in range(2)]
    assert (eco.revenue - rev0).tolist() == per_topic
    eco.check()


def test_stake_delegation_and_delayed_removal() -> None:
    eco = _economy()
    book = eco.stake
    eco.fund("delegators", np.array([0, 1]), np.array([0, 1]), np.array([300.0, 300.0]))
    src = eco.accounts["delegators"][[0, 1], [0, 1]]
    eco.ledger.transfer_many(src, np.full(2, eco.module["staking"]), uallo([100.0, 100.0]))
    book.delegate(0, 1, 100 * UALLO)
    book.delegate(1, 0, 100 * UALLO)
    eco.check()
    assert book.authority()[0, 1] == pytest.approx(10_100 * 1e18)
    assert book.request_removal(0, due_epoch=5) == 100 * UALLO
    assert book.authority()[0, 1] == pytest.approx(10_100 * 1e18)  # counts until it is due
    assert book.complete_removals(4) == []
    done = book.complete_removals(5)
    assert [p.amount for p in done] == [100 * UALLO]
    eco.ledger.transfer(eco.module["staking"], src[0], done[0].amount)
    assert book.authority()[0, 1] == pytest.approx(10_000 * 1e18)
    eco.check()


def test_delegators_get_their_cut_pro_rata() -> None:
    eco = _economy(1)
    book = eco.stake
    eco.fund("delegators", np.array([0, 0]), np.array([0, 1]), np.array([300.0, 300.0]))
    accts = eco.accounts["delegators"][0]
    eco.ledger.transfer_many(accts, np.full(2, eco.module["staking"]), [UALLO, 3 * UALLO])
    book.topic_of = np.array([0, 0])
    book.delegate(0, 1, UALLO)
    book.delegate(1, 1, 3 * UALLO)
    eco.ledger.mint(eco.module["rewards"], 10**6)
    paid = eco.delegator_rewards(np.array([0]), np.array([1]), [1001], accts)
    assert paid.tolist() == [250, 750]  # 1001·1/4 and 1001·3/4, truncated; 1 uallo stays
    assert eco.ledger.balance("pending_delegators") == 1
    eco.check()


def test_stake_images_follow_every_change_of_the_book() -> None:
    """The float images are cached between changes: each change must show in the next read."""
    book = _economy().stake
    before = book.authority().copy(), book.topic_stake().copy()
    book.add_own_many(np.array([0, 0]), np.array([1, 1]), [3 * UALLO, 4 * UALLO])
    assert book.authority()[0, 1] == before[0][0, 1] + 7 * UALLO
    assert book.topic_stake()[0] == before[1][0] + 7 * UALLO
    book.add_own(1, 0, 5 * UALLO)
    assert book.authority()[1, 0] == before[0][1, 0] + 5 * UALLO
    own = book.own.copy()
    book.add_own_many(np.array([0, 1]), np.array([0, 1]), [11, 13 * UALLO])  # distinct slots
    assert book.own[0, 0] == own[0, 0] + 11 and book.own[1, 1] == own[1, 1] + 13 * UALLO
    assert book.own[0, 1] == own[0, 1] and book.own[1, 0] == own[1, 0]
    book.add_own_many(np.array([0, 1]), np.array([0, 1]), [-11, -13 * UALLO])  # and back
    assert (book.own == own).all()
    for t, r in (([0], [book.own.shape[1]]), ([0], [-1]), ([-1], [0]), ([[0, 0]], [[0, -1]])):
        with pytest.raises(IndexError):  # beyond the book or negative: an error, not another slot
            book.add_own_many(np.array(t), np.array(r), [5] * np.size(r))
    assert (book.own == own).all()
    assert book.topic_stake()[1] == before[1][1] + 5 * UALLO
    book.topic_of = np.array([0, 1])
    assert book.delegated_stake()[1, 1] == 0.0
    book.delegate(1, 1, 2 * UALLO)
    assert book.delegated_stake()[1, 1] == 2 * UALLO
    assert book.authority()[1, 1] == before[0][1, 1] + 2 * UALLO
    with pytest.raises(ValueError):
        book.delegated_stake()[1, 1] = 0.0
    with pytest.raises(ValueError):
        book.authority()[0, 0] = 0.0  # read-only: a caller cannot corrupt the cache
    # own stake changing beside a delegation: the delegated image stays, the totals count both
    book.add_own(1, 1, 3)
    assert book.delegated_stake()[1, 1] == 2 * UALLO
    assert book.authority()[1, 1] == float(book.own[1, 1] + 2 * UALLO)
    assert book.topic_stake()[1] == float(book.own[1].sum() + 2 * UALLO)
    assert book.total() == book.own.sum() + 2 * UALLO
    # the delegation removed: nothing delegated counts any more
    book.request_removal(1, due_epoch=0)
    book.complete_removals(0)
    book.add_own(1, 1, 1)
    assert book.delegated_stake()[1, 1] == 0.0
    assert book.authority()[1, 1] == float(book.own[1, 1])
    assert book.topic_stake()[1] == float(book.own[1].sum())
