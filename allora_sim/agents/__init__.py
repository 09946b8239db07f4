"""Participants of the Allora network as Mesa agents, and their behaviours.

The agent objects are identities and behaviour handles; their bulk state (submissions, stakes,
balances) lives in the model's arrays, and behaviours act on whole groups at once
(:mod:`allora_sim.agents.behaviours`).
"""

from __future__ import annotations

from typing import Any

import mesa

from allora_sim.agents.behaviours import BEHAVIOURS, Behaviour, EpochContext, Revealed

__all__ = [
    "BEHAVIOURS",
    "Behaviour",
    "Consumer",
    "Delegator",
    "EpochContext",
    "Forecaster",
    "Inferer",
    "Participant",
    "Reputer",
    "Revealed",
]


class Participant(mesa.Agent):
    """A network participant in one topic: ``slot`` indexes its role's per-topic arrays."""

    role = "participant"

    def __init__(self, model: Any, topic: int, slot: int, group: str, behaviour: str) -> None:
        super().__init__(model)
        self.topic = topic
        self.slot = slot
        self.group = group
        self.behaviour = behaviour

    @property
    def balance(self) -> float:
        """Tokens received so far (ALLO)."""
        return float(self.model.balance_of(self))


class Inferer(Participant):
    """Submits an inference of the topic's target each epoch."""

    role = "inferer"


class Forecaster(Participant):
    """Forecasts each inferer's loss each epoch (its forecast-implied inference enters the
    network inference)."""

    role = "forecaster"


class Reputer(Participant):
    """Stakes on the topic and reports the losses of every network-inference entry."""

    role = "reputer"

    @property
    def stake(self) -> float:
        """Current stake (ALLO), including re-staked rewards."""
        return float(self.model.stake_of(self))


class Consumer(Participant):
    """Pays what it wants for the topic's inferences."""

    role = "consumer"


class Delegator(Participant):
    """Delegates stake to a reputer of its topic and receives part of its reward."""

    role = "delegator"
