"""The reward core: Allora's per-epoch mechanism as pure numpy functions.

No Mesa, no Hydra, no I/O, no randomness. Every function cites the chain function and the
section of ``mechanism.md`` it mirrors.
"""

from allora_sim.core.params import MechanismParams, MintParams, ModuleParams, TopicParams, golden

__all__ = ["MechanismParams", "MintParams", "ModuleParams", "TopicParams", "golden"]
