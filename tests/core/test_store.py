"""State kept for participants outside the active set (``allora_sim.core.store``)."""

from __future__ import annotations

from dataclasses import fields

import numpy as np

from allora_sim.core import MechanismParams, RegretStore, TopicState, run_topic_epoch
from allora_sim.core.store import gather, scatter, union_ids
from allora_sim.synthetic import random_epoch_inputs

P = MechanismParams()


def _assert_state_equal(a: TopicState, b: TopicState) -> None:
    for f in fields(RegretStore):
        np.testing.assert_array_equal(getattr(a.regrets, f.name), getattr(b.regrets, f.name))
    for f in fields(TopicState):
        if f.name != "regrets":
            np.testing.assert_array_equal(getattr(a, f.name), getattr(b, f.name), f.name)


def test_union_ids_sorted_and_padded() -> None:
    u = union_ids(np.array([[3, 7, -1], [1, -1, -1]]), np.array([[5, 7], [-1, -1]]))
    np.testing.assert_array_equal(u, [[3, 5, 7], [1, -1, -1]])


def test_store_round_trip_equals_running_on_the_whole_set() -> None:
    rng = np.random.default_rng(0)
    ids = (np.arange(6)[None], np.arange(2)[None], np.arange(3)[None])
    direct = TopicState.new(*ids)
    store = TopicState.new(*(np.zeros((1, 0), dtype=np.int64) for _ in range(3)))
    for _ in range(5):
        inputs = random_epoch_inputs(rng, direct, P)
        _, direct = run_topic_epoch(inputs, direct, P)
        part, store = gather(store, *ids)
        _, part = run_topic_epoch(inputs, part, P)
        store = scatter(store, part)
    _assert_state_equal(store, direct)


def test_a_participant_that_leaves_keeps_its_stored_state() -> None:
    rng = np.random.default_rng(1)
    all_ids = (np.arange(5)[None], np.arange(2)[None], np.arange(3)[None])
    store = TopicState.new(*all_ids)
    for _ in range(3):  # everyone active
        part, store = gather(store, *all_ids)
        _, part = run_topic_epoch(random_epoch_inputs(rng, part, P), part, P)
        store = scatter(store, part)
    before = store.regrets.inferer[0, 4], store.regrets.oneout_inferer_inferer[0, 4, 1]
    few = (np.array([[0, 1, 2, 3]]), all_ids[1], all_ids[2])  # inferer 4 sits out
    for _ in range(2):
        part, store = gather(store, *few)
        _, part = run_topic_epoch(random_epoch_inputs(rng, part, P), part, P)
        store = scatter(store, part)
    assert (store.regrets.inferer[0, 4], store.regrets.oneout_inferer_inferer[0, 4, 1]) == before
    assert store.regrets.inferer[0, 0] != before[0]
    back, _ = gather(store, *all_ids)  # it returns with its old regrets
    assert back.regrets.inferer[0, 4] == before[0]


def test_newcomers_extend_the_store_empty() -> None:
    store = TopicState.new(np.array([[2, 4]]), np.array([[0]]), np.array([[1]]))
    part, grown = gather(store, np.array([[4, 9]]), np.array([[0]]), np.array([[1]]))
    np.testing.assert_array_equal(grown.inferer_ids, [[2, 4, 9]])
    assert np.isnan(part.regrets.inferer).all() and part.inferer_inclusions.sum() == 0
