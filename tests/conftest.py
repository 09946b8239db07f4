"""Shared fixtures: the golden data directory (never copied into the project)."""

from __future__ import annotations

from pathlib import Path

import pytest

from allora_sim.conformance.golden import ENV_VAR, find_golden_dir


@pytest.fixture(scope="session")
def golden_dir() -> Path:
    d = find_golden_dir()
    if d is None:
        pytest.skip(
            f"golden data not found: set {ENV_VAR} or place it at ../shared/golden "
            "(it is never copied into the project)"
        )
    return d
