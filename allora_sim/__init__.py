"""allora_sim: an agent-based simulation of the Allora Network with a chain-faithful reward core."""

__version__ = "0.1.0"
