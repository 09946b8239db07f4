"""The reward core: Allora's per-epoch mechanism as pure numpy functions.

No Mesa, no Hydra, no I/O, no randomness. Every function cites the chain function and the
section of ``mechanism.md`` it mirrors. The entry point is :func:`run_topic_epoch`.
"""

from allora_sim.core.bundle import ValueBundle
from allora_sim.core.epoch import (
    EpochInputs,
    EpochOutcome,
    RewardError,
    TopicState,
    run_topic_epoch,
)
from allora_sim.core.params import MechanismParams, MintParams, ModuleParams, TopicParams, golden
from allora_sim.core.synthesis import NetworkInferences, RegretStore, synthesize

__all__ = [
    "EpochInputs",
    "EpochOutcome",
    "MechanismParams",
    "MintParams",
    "ModuleParams",
    "NetworkInferences",
    "RegretStore",
    "RewardError",
    "TopicParams",
    "TopicState",
    "ValueBundle",
    "golden",
    "run_topic_epoch",
    "synthesize",
]
