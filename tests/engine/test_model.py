"""AlloraModel: determinism, notebook-style stepping and the science it must show."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import allora_sim
from allora_sim.model import AlloraModel


def _run(*overrides: str) -> AlloraModel:
    model = AlloraModel(allora_sim.scenario(*overrides, "output.progress=false"))
    model.run()
    return model


def test_same_seed_same_tables_different_seed_differs() -> None:
    a = _run("epochs=40", "seed=3")
    b = _run("epochs=40", "seed=3")
    c = _run("epochs=40", "seed=4")
    pd.testing.assert_frame_equal(a.epochs_frame(), b.epochs_frame())
    pd.testing.assert_frame_equal(a.agents_frame(), b.agents_frame())
    assert not a.epochs_frame()["network_inference"].equals(c.epochs_frame()["network_inference"])


def test_buffered_epoch_rows_hold_only_their_own_values() -> None:
    """A buffered epoch row must not keep the epoch's whole value or loss bundles alive (its
    network-loss column would otherwise be a view into a topics × entries array)."""
    model = _run("epochs=12", "n_topics=3")
    rows = model.recorder._epochs
    assert len(rows) > 0
    for row in rows:
        for name, arr in row.items():
            # per-topic columns are own arrays; run and epoch are one scalar per chunk
            if name in ("run", "epoch"):
                assert np.isscalar(arr), name
                continue
            assert arr.base is None and arr.shape == (3,), name


def test_stepping_in_pieces_equals_one_run() -> None:
    whole = _run("epochs=30", "seed=1")
    parts = AlloraModel(allora_sim.scenario("epochs=30", "seed=1"))
    for _ in range(12):
        parts.step()
    mid = parts.epochs_frame()  # epoch s closes at the end of epoch s + 1 (lag of one epoch)
    assert len(mid) == 11 and mid["epoch"].tolist() == list(range(11))
    parts.run()  # the remaining epochs
    pd.testing.assert_frame_equal(whole.epochs_frame(), parts.epochs_frame())
    with pytest.raises(RuntimeError, match="world path has 30 epochs"):
        parts.step()


@pytest.mark.parametrize(
    "overrides",
    [
        ("n_topics=2",),
        ("scenario=context",),
        ("scenario=economy", "world.ground_truth_lag=24"),
    ],
)
def test_a_longer_run_extends_a_shorter_one(overrides: tuple[str, ...]) -> None:
    """Same config and seed with more epochs: the first epochs are the shorter run's, to the
    last bit (the world is drawn epoch by epoch and its scale does not depend on the length)."""
    short = _run(*overrides, "epochs=20", "seed=2")
    long = _run(*overrides, "epochs=32", "seed=2")
    n = len(short.epochs_frame())
    pd.testing.assert_frame_equal(long.epochs_frame().iloc[:n], short.epochs_frame())
    ag = long.agents_frame()
    pd.testing.assert_frame_equal(
        ag[ag["epoch"] < short.epochs_frame()["epoch"].max() + 1].reset_index(drop=True),
        short.agents_frame(),
    )
    pd.testing.assert_frame_equal(
        long.economy_frame().iloc[: len(short.economy_frame())], short.economy_frame()
    )


def test_tables_are_tidy_and_consistent() -> None:
    m = _run("epochs=25", "n_topics=2")
    ep, ag = m.epochs_frame(), m.agents_frame()
    assert set(ep["topic"]) == {0, 1} and len(ep) == 48  # the last epoch is not closed yet
    assert ep.groupby("topic")["epoch"].apply(list).tolist() == [list(range(24))] * 2
    # agents: every participant of both topics every epoch
    per_epoch = ag.groupby("epoch").size().unique()
    assert per_epoch.tolist() == [2 * (5 + 3 + 5)]
    paid = ep[ep["reward_error"] == 0]
    total = paid[["inferers_reward", "forecasters_reward", "reputers_reward"]].sum(axis=1)
    np.testing.assert_allclose(total, paid["topic_reward"], rtol=1e-9)
    rewards = ag.groupby(["topic", "epoch"])["reward"].sum()
    np.testing.assert_allclose(
        rewards.loc[list(zip(paid["topic"], paid["epoch"], strict=True))].to_numpy(),
        paid["topic_reward"].to_numpy(),
        rtol=1e-9,
    )
    # the first epoch of a topic is the chain's median mode and pays nothing
    assert (ep.loc[ep["epoch"] == 0, "reward_error"] != 0).all()
    # balances: the starting 1 ALLO, less registration and data-sending fees (uallo), plus
    # the cumulative rewards (epoch 23's row is recorded when it closes, at the end of the
    # 25th epoch: 25 payloads sent by then)
    inf = ag[(ag["role"] == "inferer") & (ag["topic"] == 0)]
    last = inf[inf["epoch"] == 23].set_index("agent")["balance"]
    earned = inf.groupby("agent")["reward"].sum().loc[last.index]
    fees = (200 + 10 * 25) / 1e18
    np.testing.assert_allclose(last - earned, 1.0 - fees, rtol=1e-12, atol=1e-9)
    # reputers re-stake what they keep
    rep = ag[(ag["role"] == "reputer") & (ag["topic"] == 0)].set_index(["agent", "epoch"])
    first = rep.xs(0, level="epoch")["stake"]
    end = rep.xs(23, level="epoch")["stake"]
    np.testing.assert_allclose(
        end - first,
        rep.groupby(level="agent")["reward"].sum().loc[end.index]
        - rep.xs(0, level="epoch")["reward"].fillna(0).loc[end.index],
        rtol=1e-9,
    )


@pytest.mark.parametrize("lag", [1, 2])
def test_epochs_close_and_are_admitted_on_the_chains_schedule(lag: int) -> None:
    """An epoch's reputer nonce closes GroundTruthLag + EpochLength after its worker nonce
    (UpdateReputerNonce): at the end of epoch s + lag. So the scores, EMAs and quantiles that
    admit round e's workers are those of the epochs closed by the end of e − 1 (up to
    e − 1 − lag), and the synthesis of epoch s — queried once its ground truth is revealed, an
    epoch before it closes — reads the regrets of the epochs up to s − 1."""
    m = AlloraModel(
        allora_sim.scenario(
            "epochs=12",
            "population.inferers.0.count=40",  # more than the 32 places: admission decides
            f"world.ground_truth_lag={12 * lag}",
            "output.progress=false",
        )
    )
    log: list[tuple[str, int, int]] = []
    admit, write, write_where = m.sets.admit, m.sets.write, m.sets.write_where
    m.sets.admit = lambda cls, *a: log.append(("admit", m.epoch, a[-1])) or admit(cls, *a)  # type: ignore[method-assign]
    m.sets.write = lambda cls, *a: log.append(("write", m.epoch, a[-1])) or write(cls, *a)  # type: ignore[method-assign]
    m.sets.write_where = (  # type: ignore[method-assign]
        lambda cls, *a: log.append(("write", m.epoch, a[-1])) or write_where(cls, *a)
    )
    synth = m._synthesize
    seen: dict[int, float] = {}

    def spy(part, inference, forecast):  # type: ignore[no-untyped-def]
        seen[len(seen)] = float(part.network_loss[0])
        return synth(part, inference, forecast)

    m._synthesize = spy  # type: ignore[method-assign]
    m.run()
    for kind, step, nonce in log:
        if kind == "write":  # scores of the epoch closing at this step's end, at its nonce
            assert nonce == m.nonce(step - lag), (step, nonce)
        else:  # worker rounds at this step's nonce, reputer rounds at the closing epoch's
            assert nonce in (m.nonce(step), m.nonce(step - lag)), (step, nonce)
    first_write = min(step for kind, step, _ in log if kind == "write")
    assert first_write == lag
    # every admission of round e precedes the write of step e: round e saw closes ≤ e − 1 − lag
    order = [(step, kind) for kind, step, nonce in log if nonce == m.nonce(step) or kind == "write"]
    assert order == sorted(order, key=lambda x: (x[0], x[1] == "write"))
    # epoch 0 has no network loss yet (median mode); epoch s ≥ 1 reads epoch s − 1's
    net = m.epochs_frame().set_index("epoch")["chain_network_loss"]
    assert np.isnan(seen[0])
    for s in range(1, len(net)):
        assert seen[s] == net[s - 1], s


def test_rows_with_a_lag_of_several_epochs_hold_their_own_epoch() -> None:
    """With ground truth three epochs late, epoch s is closed at the end of epoch s + 3 (its
    reputers report during epoch s + 3, as on chain): its epochs row still holds the fees paid
    in s, and the economy has a row for every epoch."""
    m = _run(
        "epochs=10",
        "world.ground_truth_lag=36",
        "population.consumers=[{name: payer, behaviour: fixed_payer, count: 1,"
        " params: {amount: 2.0, stop_epoch: 5}}]",
    )
    ep, eco = m.epochs_frame(), m.economy_frame()
    assert ep["epoch"].tolist() == list(range(7))
    assert ep["fees"].tolist() == [2.0] * 5 + [0.0] * 2
    assert eco["epoch"].tolist() == list(range(10))
    assert eco["fees"].tolist() == [2.0] * 5 + [0.0] * 5
    # the rewards of epoch s are distributed when it closes, in epoch s + 3
    rewarded = ep.loc[ep["reward_error"] == 0, "epoch"].to_numpy()
    paid = eco.set_index("epoch")["topic_reward"]
    assert (paid.loc[rewarded + 3] > 0).all() and (paid.loc[[0, 1, 2]] == 0).all()


def test_default_network_beats_median_inferer_and_naive_network() -> None:
    """Research target T4 in the fiducial topic: forecasting helps, the network beats its parts."""
    ep = _run("epochs=1000", "seed=0").epochs_frame()
    assert ep["network_loss"].mean() < ep["median_inferer_loss"].mean()
    assert ep["network_loss"].mean() < ep["naive_loss"].mean()


def test_context_forecasters_let_the_network_beat_every_inferer() -> None:
    with_fc = _run("scenario=context", "epochs=1000", "seed=0")
    without = _run("scenario=context", "population=no_forecasters", "epochs=1000", "seed=0")

    def best_inferer(m: AlloraModel) -> float:
        ag = m.agents_frame()
        return float(ag[ag["role"] == "inferer"].groupby("agent")["loss"].mean().min())

    net_with = with_fc.epochs_frame()["network_loss"].mean()
    net_without = without.epochs_frame()["network_loss"].mean()
    assert net_with < best_inferer(with_fc) - 0.5  # by more than half a decade
    assert net_without > best_inferer(without)  # without forecasters that edge is gone


def test_all_active_fast_paths_equal_the_general_index_work() -> None:
    """compact / take / spread shortcut the case where every registered slot is active in
    order; they must give what the general construction gives."""
    from allora_sim.slots import compact, is_all_slots, spread, take, take_forecasts

    rng = np.random.default_rng(0)
    everyone = np.ones((3, 5), dtype=bool)
    ids = compact(everyone)
    np.testing.assert_array_equal(ids, np.argsort(~everyone, axis=1, kind="stable"))
    some = everyone.copy()
    some[1, [0, 3]] = False
    np.testing.assert_array_equal(compact(some)[1], [1, 2, 4, -1, -1])
    # the all-active ids are one shared array, recognised by identity; it cannot be edited, and
    # an equal array made elsewhere is recognised by comparison
    assert compact(everyone) is ids and not ids.flags.writeable
    with pytest.raises(ValueError):
        ids[0, 0] = 1
    assert is_all_slots(ids, 5) and is_all_slots(ids.copy(), 5)
    assert not is_all_slots(compact(some), 5) and not is_all_slots(ids, 6)
    values = rng.normal(size=(3, 5))
    for dtype in (np.float64, np.float32, np.int64):
        v = values.astype(dtype)
        got = take(v, ids)
        want = np.where(ids >= 0, np.take_along_axis(v, np.maximum(ids, 0), axis=1), np.nan)
        assert got.dtype == want.dtype and not np.shares_memory(got, v)
        np.testing.assert_array_equal(got, want)
    spread_ = spread(values, ids, 5)
    np.testing.assert_array_equal(spread_, values)
    assert not np.shares_memory(spread_, values)
    forecast = rng.normal(size=(3, 4, 5))
    forecast[0, 1, 2] = np.nan
    fc_ids = compact(np.ones((3, 4), dtype=bool))
    got = take_forecasts(forecast, fc_ids, ids)
    np.testing.assert_array_equal(got, forecast)
    assert not np.shares_memory(got, forecast)
    part = take_forecasts(forecast, compact(some[:, :4]), compact(some))  # general path
    np.testing.assert_array_equal(part[1, :2, :3], forecast[1][[1, 2]][:, [1, 2, 4]])
    assert np.isnan(part[1, 2:]).all() and np.isnan(part[1, :, 3:]).all()


def test_one_group_in_slot_order_gives_the_same_tables_as_the_scatter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A single group of a role covering every slot in order (inferers, forecasters, reputers)
    uses its rows as the grid; forcing the general scatter must give identical tables."""
    from allora_sim import model as model_module

    fast = _run("n_topics=3", "epochs=12", "seed=5")
    for role, size in zip(("inferers", "forecasters", "reputers"), fast.sizes, strict=False):
        (group,) = fast.groups[role]
        assert model_module.in_slot_order(group, fast.n_topics, size), role
    assert all(fast._in_grid.values())
    monkeypatch.setattr(model_module, "in_slot_order", lambda *a: False)
    general = _run("n_topics=3", "epochs=12", "seed=5")
    pd.testing.assert_frame_equal(fast.epochs_frame(), general.epochs_frame())
    pd.testing.assert_frame_equal(fast.agents_frame(), general.agents_frame())


def test_with_params_is_the_scenario_with_that_override() -> None:
    from allora_sim.config import ConfigError

    base = AlloraModel(allora_sim.scenario("epochs=15", "seed=4", "output.progress=false"))
    steep = base.with_params(p_norm=4.5)
    assert steep.params.topic.p_norm == 4.5 and steep.scenario.raw["mechanism"]["p_norm"] == 4.5
    steep.run()
    direct = _run("epochs=15", "seed=4", "mechanism.p_norm=4.5")
    pd.testing.assert_frame_equal(steep.epochs_frame(), direct.epochs_frame())
    for change, needle in (
        ({"ground_truth_lag": 48}, "world.ground_truth_lag"),
        ({"p_nrom": 1.0}, "p_nrom is not a mechanism parameter"),
        ({"required_minimum_stake": 10**30}, "required_minimum_stake"),
        ({"p_norm": -1.0}, "p_norm"),
        ({"p_norm": "abc"}, "mechanism.p_norm='abc': Value 'abc' of type 'str' could not be"),
        ({"p_norm": None}, "mechanism.p_norm=None: field 'mechanism.p_norm' is not Optional"),
    ):
        with pytest.raises(ConfigError, match=needle):
            base.with_params(**change)


@pytest.mark.parametrize("gaps", [False, True])
def test_payouts_split_by_kind_in_topic_then_slot_order(gaps: bool) -> None:
    """The booking splits one payout row per paid topic — column blocks of inferers,
    forecasters, reputers, delegation — into each kind's (topic, slot, amount) in topic-then-slot
    order, leaving out empty slots (id −1): the same as reading the valid cells row by row."""
    from allora_sim.core.uallo import Uallo
    from allora_sim.model import _payouts_by_kind

    rng = np.random.default_rng(4)
    widths = [5, 3, 2, 2]
    paid = np.array([0, 2, 3])
    ids = np.concatenate([np.tile(rng.permutation(8)[:w], (3, 1)) for w in widths], axis=1)
    if gaps:
        ids[rng.random(ids.shape) < 0.3] = -1
    amounts = Uallo(rng.integers(0, 50, ids.shape), rng.integers(0, 10**18, ids.shape))
    got = _payouts_by_kind(paid, ids, amounts, widths)
    start = 0
    for (topics, slots, pay), w in zip(got, widths, strict=True):
        want = [
            (
                int(paid[row]),
                int(ids[row, c]),
                int(amounts.hi[row, c]) * 10**18 + int(amounts.lo[row, c]),
            )
            for row in range(3)
            for c in range(start, start + w)
            if ids[row, c] >= 0
        ]
        assert list(zip(topics.tolist(), slots.tolist(), pay.ints(), strict=True)) == want
        start += w
