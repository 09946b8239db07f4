"""allora_sim: an agent-based simulation of the Allora Network with a chain-faithful reward core.

Quick use::

    import allora_sim
    sc = allora_sim.scenario("scenario=context", "epochs=200")   # Hydra overrides
    model = allora_sim.AlloraModel(sc)
    model.run()
    model.epochs_frame()
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from allora_sim.allocator import tune_allocator
from allora_sim.blas import limit_blas_threads

__version__ = "0.1.0"

tune_allocator()  # large temporaries stay on the heap (allocator.py; ALLORA_SIM_MALLOC_TUNING=0)
limit_blas_threads()  # one BLAS thread (blas.py; ALLORA_SIM_BLAS_THREADS=0 leaves it alone)

if TYPE_CHECKING:
    from allora_sim.config import Scenario
    from allora_sim.model import AlloraModel

__all__ = ["AlloraModel", "__version__", "scenario"]


def scenario(*overrides: str, config_dir: str | None = None) -> Scenario:
    """Compose and validate a scenario from Hydra overrides (raises ``ConfigError``)."""
    from allora_sim.cli import compose_scenario
    from allora_sim.config import load_scenario

    return load_scenario(compose_scenario(list(overrides), config_dir))


def __getattr__(name: str) -> Any:
    if name == "AlloraModel":
        from allora_sim.model import AlloraModel

        return AlloraModel
    raise AttributeError(name)
