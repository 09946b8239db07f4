"""The network economy: token ledger, emission, fees, stake, topics and active sets."""
