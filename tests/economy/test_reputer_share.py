"""The reputers' share of rewards that caps emission (f_rep, §9.1) is refreshed at month ends."""

from __future__ import annotations

import numpy as np
import pytest

import allora_sim
from allora_sim.model import AlloraModel


def test_reputer_share_is_set_at_each_month_boundary_from_that_epochs_rewards() -> None:
    m = AlloraModel(allora_sim.scenario("scenario=economy", "epochs=120", "output.progress=false"))
    bpm, length = m.economy.blocks_per_month, m.epoch_length
    genesis = m.economy.reputers_percent
    shares, expected = [], []
    for step in range(120):
        m.step()
        shares.append(m.economy.reputers_percent)
        frame = m.epochs_frame()
        if frame.empty:
            expected.append(None)
            continue
        settled = int(frame["epoch"].max())  # the epoch whose rewards were paid in this step
        assert settled == step - m.lag
        first, last = step * length + 1, (step + 1) * length  # the blocks of this step
        if last // bpm != (first - 1) // bpm:  # a multiple of BlocksPerMonth in its blocks
            paid = frame.loc[frame["epoch"] == settled, "reputers_reward"].sum()
            expected.append(paid * 1e18 / m.reward_pool)
        else:
            expected.append(None)
    boundaries = [i for i, x in enumerate(expected) if x is not None]
    assert len(boundaries) >= 2  # 120 epochs of 12 blocks span three 432-block months
    assert shares[boundaries[0] - 1] == genesis  # untouched before the first month ends
    for i in boundaries:
        assert shares[i] == pytest.approx(expected[i], rel=1e-9)
        assert 0.0 < shares[i] < 1.0
    # constant between boundaries
    for a, b in zip(boundaries, [*boundaries[1:], len(shares)], strict=True):
        assert len(set(shares[a:b])) == 1
    eco = m.economy_frame()
    assert np.isfinite(eco["reputer_share"]).all()


def test_a_month_ending_before_any_epoch_closes_sets_the_share_to_zero() -> None:
    """EmitRewards sets f_rep at every month end with a funded treasury and an active topic,
    to 0 when no topic's reputer nonce closed (the first epoch, before any ground truth)."""
    m = AlloraModel(
        allora_sim.scenario(
            "scenario=economy", "mechanism.blocks_per_month=12", "epochs=4", "output.progress=false"
        )
    )
    assert m.economy.reputers_percent == 0.3  # the genesis value
    m.step()  # month 1 ends with epoch 0; nothing closes yet
    assert m.epochs_frame().empty and m.reward_pool > 0
    assert m.economy.reputers_percent == 0.0
    m.step()  # epoch 0 closes, paying nobody (no inferer scores yet)
    assert m.economy.reputers_percent == 0.0
    m.step()  # epoch 1 closes and pays its reputers
    paid = m.epochs_frame().query("epoch == 1")["reputers_reward"].sum()
    assert paid > 0
    assert m.economy.reputers_percent == pytest.approx(paid * 1e18 / m.reward_pool, rel=1e-9)
